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
            rows = [{c: encode_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
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
    message = result.message
    if message is not None:
        out.write(message + "\n")
        return
    console = Console(file=out, width=_width(out), highlight=False, soft_wrap=False)
    table = Table(show_lines=False, header_style="bold", expand=False)
    for col in result.columns:
        table.add_column(col, overflow="fold")
    for row in result.rows:
        table.add_row(*[_escape(_cell(v)) for v in row])
    console.print(table)
    n = len(result.rows)
    out.write(f"({n} row{'s' if n != 1 else ''})\n")


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
