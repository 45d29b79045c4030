"""The entries of a fixture file of tests/fixtures/ written as ``-- next``-separated entries
(task_checks.sql, integration_names.sql)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def entries(name: str) -> list[tuple[int, list[str]]]:
    """(number of its first line in the file, its lines) of every entry of ``fixtures/<name>``;
    the file's header, before the first ``-- next`` line, is left out."""
    chunks: list[tuple[int, list[str]]] = [(1, [])]
    for number, line in enumerate((FIXTURES / name).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() == "-- next":
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    return chunks[1:]
