"""Readers for tests/fixtures/statements.sql and tests/fixtures/errors.sql."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEPARATOR = "-- next"


def _entries(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of every entry; a file header before the first entry is skipped
    when it holds only comments."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() == SEPARATOR:
            out.append((start, "\n".join(current)))
            current, start = [], number + 1
        else:
            current.append(line)
    out.append((start, "\n".join(current)))
    return [(n, text) for n, text in out if _has_sql(text)]


def _has_sql(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


def statement_entries() -> list[tuple[int, str]]:
    """The entries of statements.sql as (line in the file, statement text)."""
    return _entries(FIXTURES / "statements.sql")


@dataclass(frozen=True)
class ErrorCase:
    """One entry of errors.sql: the statement and the error it must raise."""

    file_line: int
    text: str
    error_class: str
    code: str
    line: int
    column: int


_HEADER = re.compile(r"--\s*error:\s*(?P<cls>\w+)\s+(?P<code>[A-Z_]+)\s+(?P<line>\d+):(?P<column>\d+)\s*$")


def error_cases() -> list[ErrorCase]:
    """The entries of errors.sql. Each starts with ``-- error: <Class> <CODE> <line>:<column>``;
    line and column count from the first line after that header."""
    out: list[ErrorCase] = []
    for entry_line, text in _entries(FIXTURES / "errors.sql"):
        lines = text.splitlines()
        file_line = entry_line
        while lines and not _HEADER.match(lines[0].strip()):
            lines.pop(0)  # comments before the header
            file_line += 1
        if not lines:
            raise AssertionError(f"errors.sql entry at line {entry_line} has no '-- error:' header")
        m = _HEADER.match(lines[0].strip())
        assert m is not None
        out.append(
            ErrorCase(
                file_line=file_line,
                text="\n".join(lines[1:]),
                error_class=m["cls"],
                code=m["code"],
                line=int(m["line"]),
                column=int(m["column"]),
            )
        )
    return out
