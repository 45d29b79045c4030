"""Printing results for people (tables) and programs (CSV, JSON lines)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from tasksql.client import encode_value
from tasksql.engine.results import Result

FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_results(results: Sequence[Result], fmt: str, out: TextIO) -> None:
    """Write each result in ``fmt``: table (aligned, one table per result), csv (a header per
    result, results separated by a blank line), json (one JSON array of row objects per line)."""
    for i, result in enumerate(results):
        if fmt == "json":
            rows = [
                {c: encode_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
            ]
            out.write(json.dumps(rows) + "\n")
        elif fmt == "csv":
            if i:
                out.write("\n")
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(result.columns)
            writer.writerows([[("" if v is None else _cell(v)) for v in row] for row in result.rows])
        else:
            write_table(result, out)


def write_table(result: Result, out: TextIO) -> None:
    """An aligned table; when it would not fit the width, one block per row instead (like psql's
    expanded display), so wide results such as SHOW TASKS stay readable."""
    message = result.message
    if message is not None:
        out.write(message + "\n")
        return
    width = _width(out)
    cells = [[_cell(v) for v in row] for row in result.rows]
    natural = (
        sum(
            max([len(c)] + [len(line) for r in cells for line in r[i].splitlines()[:1]]) + 3
            for i, c in enumerate(result.columns)
        )
        + 1
    )
    if natural > width and result.rows:
        write_expanded(result.columns, cells, out)
        return
    console = Console(file=out, width=width, highlight=False, soft_wrap=False)
    table = Table(show_lines=False, header_style="bold", expand=False)
    for col in result.columns:
        table.add_column(col, overflow="fold")
    for row in result.rows:
        table.add_row(*[_escape(_cell(v)) for v in row])
    console.print(table)
    n = len(result.rows)
    out.write(f"({n} row{'s' if n != 1 else ''})\n")


def write_expanded(columns: Sequence[str], cells: list[list[str]], out: TextIO) -> None:
    pad = max(len(c) for c in columns)
    for n, row in enumerate(cells, 1):
        out.write(f"-[ row {n} ]" + "-" * max(0, pad - 6) + "\n")
        for col, value in zip(columns, row, strict=True):
            lines = value.splitlines() or [""]
            out.write(f"{col.ljust(pad)} | {lines[0]}\n")
            for more in lines[1:]:
                out.write(f"{' ' * pad} | {more}\n")
    out.write(f"({len(cells)} row{'s' if len(cells) != 1 else ''})\n")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _width(out: TextIO) -> int:
    import shutil

    isatty = getattr(out, "isatty", lambda: False)()
    return shutil.get_terminal_size((200, 40)).columns if isatty else 200


def render_to_string(results: Sequence[Result], fmt: str = "table") -> str:
    buf = io.StringIO()
    write_results(results, fmt, buf)
    return buf.getvalue()
