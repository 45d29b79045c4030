"""What a statement returns: a result set with column names, possibly a status message."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasksql.engine.tags import command_tag


@dataclass(frozen=True, slots=True)
class Result:
    """The result of one statement.

    Task-language DDL returns one ``status`` column with one row, as Snowflake does (``Task T
    successfully created.``); queries return their rows. A warehouse statement without a result set
    (``CREATE TABLE``, ``INSERT``, ``SET``, ...) has no columns; its :attr:`message` is its command
    tag, as psql prints it (``CREATE TABLE``, ``INSERT 0 1``). ``statement`` names the kind of
    statement (``CREATE TASK``, ``SELECT``, ``INSERT``, ...). ``rowcount`` is set for DML passed
    through to the warehouse. ``table_columns`` names, most important first, the columns an
    aligned table shows when not all fit the terminal (empty: none preferred); CSV, JSON and
    expanded output show every column.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    statement: str = ""
    rowcount: int | None = None
    table_columns: tuple[str, ...] = ()
    #: Warnings about what the statement did (it succeeded), shown apart from the result (stderr).
    notices: tuple[str, ...] = ()
    #: Each column's type as the warehouse names it, when the rows came from one (else empty).
    types: tuple[str, ...] = field(default=(), compare=False)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        """All values of one column (case-insensitive name)."""
        low = [c.lower() for c in self.columns]
        idx = low.index(name.lower())
        return [row[idx] for row in self.rows]

    @property
    def message(self) -> str | None:
        """The status text of a DDL result or the command tag of a statement without a result set,
        else None (a result set to show as a table)."""
        if self.columns == ("status",) and len(self.rows) == 1:
            return str(self.rows[0][0])
        if not self.columns and self.statement:
            return command_tag(self.statement, self.rowcount)
        return None

    @staticmethod
    def status(text: str, statement: str = "") -> Result:
        return Result(("status",), [(text,)], statement)

    @staticmethod
    def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], statement: str = "") -> Result:
        return Result(tuple(columns), [tuple(r) for r in rows], statement)
