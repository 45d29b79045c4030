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

from tasksql.client import check_value_depth, encode_value
from tasksql.engine.results import Result
from tasksql.logs import escape_controls

FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    check_value_depth(value)  # str() of a list nested a thousand deep recurses out of the stack
    return str(value)


def write_results(
    results: Sequence[Result],
    fmt: str,
    out: TextIO,
    *,
    expanded: bool | None = None,
    width: int | None = None,
) -> None:
    """Write each result in ``fmt`` (see :class:`ResultWriter`)."""
    writer = ResultWriter(fmt, out, expanded=expanded, width=width)
    for result in results:
        writer.write(result)


def write_notices(result: Result, err: TextIO) -> None:
    """Each of ``result``'s notices as a line ``notice: ...`` (as psql prints a NOTICE), to ``err``
    (standard error: never mixed into CSV or JSON on standard output)."""
    if not result.notices:
        return
    for notice in result.notices:
        err.write(f"notice: {escape_controls(notice)}\n")  # it names what the user named: one line
    err.flush()


class ResultWriter:
    """Writes the results of a script one at a time, as its statements complete.

    table: an aligned table per result, or the status line of a statement without a result set
    (``Task t successfully created.``, ``CREATE TABLE``, ``INSERT 0 1``). csv: a header and the
    rows of each result set, result sets separated by a blank line; statements without a result
    set write nothing. json: one JSON array of row objects per statement, one per line (``[]`` for a
    statement without a result set). ``expanded`` and ``width`` apply to tables (see
    :func:`write_table`). Each result is flushed, so a long script shows its progress.
    ``notices``: where a result's notices go (:func:`write_notices`), right after the result;
    None: not written.
    """

    def __init__(
        self,
        fmt: str,
        out: TextIO,
        *,
        expanded: bool | None = None,
        width: int | None = None,
        notices: TextIO | None = None,
    ) -> None:
        self.fmt = fmt
        self.out = out
        self.notices = notices
        self.expanded = expanded
        self.width = width
        self.written = 0  # results written so far (csv separates result sets with a blank line)

    def write(self, result: Result) -> None:
        self._write(result)
        if self.notices is not None:
            write_notices(result, self.notices)

    def _write(self, result: Result) -> None:
        out = self.out
        if self.fmt == "json":
            rows = [
                {c: encode_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
            ]
            out.write(json.dumps(rows) + "\n")
        elif self.fmt == "csv":
            if not result.columns:
                return
            cells = [[("" if v is None else _cell(v)) for v in row] for row in result.rows]  # may refuse
            if self.written:
                out.write("\n")
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(result.columns)
            writer.writerows(cells)
        else:
            write_table(result, out, expanded=self.expanded, width=self.width)
        self.written += 1
        out.flush()


def write_table(
    result: Result, out: TextIO, *, expanded: bool | None = None, width: int | None = None
) -> None:
    """An aligned table, or one block per row with every column (like psql's ``\\x``).

    ``expanded``: True gives blocks; False a table of every column (or of every one of the
    result's :attr:`~Result.table_columns`), as wide as it needs; None (auto) a table that fits
    ``width``: of every column when they fit, else, for a result naming ``table_columns`` (in order
    of importance), of as many of those as fit, else blocks. ``width`` defaults to the terminal's
    when ``out`` is one, else 200.
    """
    message = result.message
    if message is not None:
        out.write(message + "\n")
        return
    width = width or _width(out)
    cells = [[_cell(v) for v in row] for row in result.rows]
    if expanded and result.rows:
        write_expanded(result.columns, cells, out)
        return
    # Each column's width in the table: its widest first line plus the border.
    widths = [
        max([len(c)] + [len(r[i].splitlines()[0]) if r[i] else 0 for r in cells]) + 3
        for i, c in enumerate(result.columns)
    ]
    index = {c: i for i, c in enumerate(result.columns)}
    shown = list(range(len(result.columns)))
    preferred = [index[c] for c in result.table_columns if c in index]
    if preferred and (expanded is False or sum(widths) + 1 > width):
        shown = preferred if expanded is False else _fitting(preferred, widths, width)
    natural = sum(widths[i] for i in shown) + 1
    if expanded is None and natural > width and result.rows:
        write_expanded(result.columns, cells, out)
        return
    console = Console(file=out, width=max(width, natural), highlight=False, soft_wrap=False)
    table = Table(show_lines=False, header_style="bold", expand=False)
    for i in shown:
        table.add_column(result.columns[i], overflow="fold")
    for row in cells:
        table.add_row(*[_escape(row[i]) for i in shown])
    console.print(table)
    n = len(result.rows)
    hidden = len(result.columns) - len(shown)
    more = (
        f"; {len(shown)} of {len(result.columns)} columns, expanded or JSON output shows all"
        if hidden
        else ""
    )
    out.write(f"({n} row{'s' if n != 1 else ''}{more})\n")


def _fitting(preferred: list[int], widths: list[int], width: int) -> list[int]:
    """The longest prefix of ``preferred`` whose columns fit ``width`` (at least the first)."""
    chosen: list[int] = []
    used = 1
    for i in preferred:
        if chosen and used + widths[i] > width:
            break
        chosen.append(i)
        used += widths[i]
    return chosen


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
