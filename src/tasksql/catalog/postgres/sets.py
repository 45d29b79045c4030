"""Set-based forms of the run bookkeeping statements: a batch of rows as ONE statement.

The jobs of :mod:`tasksql.catalog.jobs.runs` write a batch of runs as one statement per row
(:meth:`~tasksql.catalog.dialect.CatalogDialect.each_first`, ``each``, ``many``). psycopg pipelines
such a batch (one round trip), but the server still parses, binds, plans and executes every row as
a statement of its own, and a fenced statement checks (and share-locks) the fence's node row once
per row: measured with ``bench/cpu_per_run.py --catalog pg``, the server's CPU per run was larger
than the scheduler's. The PostgreSQL dialect runs such a batch instead as one statement over arrays
(``unnest(...) WITH ORDINALITY``), each element one row's parameter, returning each row's ordinal.

A set form does exactly what the statements one by one would do only when no row of the batch can
see another's effect: each row of a batch names a different run (or task), and the parameters that
are not per row (the fence, the time) are the same for all of them. Inserts are made in the batch's
order (``ORDER BY`` the ordinal: run ids follow it, and of two rows that the same fence refuses to
hold both, the first is kept, as one by one), and each inserted row is matched to its ordinal by its
key, which must differ between the rows of the batch. :meth:`SetForm.fits` checks
that; a batch that does not fit (and a batch of one row) runs one statement per row, as before.
The checks a statement makes of the fence's lease (``clock_timestamp()``) are made once for the
batch instead of once per row: the batch is one statement, as a one-row batch always was.

Each array goes as an :class:`ArrayLiteral`, PostgreSQL's text form of the array built by a join
(:func:`array_literal`), which the statement's cast (``%(x)s::bigint[]``) reads: psycopg's own
dumper of a list checks and quotes element by element in Python, 6-13 times slower (measured on
arrays of 25 names, times and statements), and was the writer thread's largest cost per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.adapt import Dumper

from tasksql.catalog.dialect import Params


class ArrayLiteral:
    """An array parameter already in PostgreSQL's text form (``{1,2}``, ``{"a",NULL}``), sent as
    a value of unknown type for the statement's cast to read (:class:`ArrayLiteralDumper`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class ArrayLiteralDumper(Dumper):
    """Sends an :class:`ArrayLiteral` as it is."""

    oid = 0  # unknown: the type is the cast's in the statement

    def dump(self, obj: Any) -> bytes:
        text: str = obj.text
        return text.encode()


# for every connection of the process (the type is this module's own: nothing else changes)
psycopg.adapters.register_dumper(ArrayLiteral, ArrayLiteralDumper)


_NONE = type(None)


def array_literal(values: list[Any]) -> ArrayLiteral | list[Any]:
    """``values`` as an :class:`ArrayLiteral` when they are all integers (not booleans), or all
    text, with NULLs; else ``values`` as they are (psycopg dumps them)."""
    types = set(map(type, values)) - {_NONE}
    if types <= {int}:
        return ArrayLiteral("{" + ",".join("NULL" if v is None else str(v) for v in values) + "}")
    if all(issubclass(t, str) for t in types):
        # an element in double quotes, its backslashes and double quotes escaped
        quoted = (
            "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values
        )
        return ArrayLiteral("{" + ",".join(quoted) + "}")
    return values


@dataclass(frozen=True, slots=True)
class SetForm:
    """How one named per-row query runs as a set: the set query's name, the per-row parameters
    (passed as arrays of the given PostgreSQL type), the parameters shared by every row (passed
    once), and the per-row parameters that must differ between rows (the row each one changes)."""

    query: str
    columns: tuple[tuple[str, str], ...]
    shared: tuple[str, ...]
    key: tuple[str, ...]

    def fits(self, batch: Sequence[Params]) -> bool:
        """True when the set statement does what the batch's statements one by one would do (see
        the module): more than one row, distinct keys, the same shared parameters."""
        if len(batch) < 2:
            return False
        first = batch[0]
        shared = [first[name] for name in self.shared]
        keys = set()
        for row in batch:
            if [row[name] for name in self.shared] != shared:
                return False
            keys.add(tuple(row[name] for name in self.key))
        return len(keys) == len(batch)

    def params(self, batch: Sequence[Params]) -> dict[str, Any]:
        """The set query's parameters: one list per per-row parameter, the shared ones as they are."""
        out: dict[str, Any] = {name: array_literal([row[name] for row in batch]) for name, _ in self.columns}
        out.update({name: batch[0][name] for name in self.shared})
        return out


_OUTCOME = (
    ("run_id", "bigint"),
    ("state", "text"),
    ("query_start_time", "timestamptz"),
    ("completed_time", "timestamptz"),
    ("error_code", "text"),
    ("error_message", "text"),
    ("rows_produced", "bigint"),
    ("rows_inserted", "bigint"),
    ("return_value", "text"),
    ("query_id", "text"),
)

_RUNTIME = (
    ("task_id", "bigint"),
    ("next_fire_at", "timestamptz"),
    ("clear_next_fire", "int"),
    ("consecutive_failures", "int"),
    ("resumed_on", "timestamptz"),
    ("state", "text"),
    ("suspend_reason", "text"),
    ("guarded", "int"),
    ("guard_version", "int"),
    ("guard_anchor", "timestamptz"),
)

_NEW_RUN = (
    ("task_id", "bigint"),
    ("task_version", "int"),
    ("name", "text"),
    ("database_name", "text"),
    ("schema_name", "text"),
    ("scheduled_time", "timestamptz"),
    ("state", "text"),
    ("scheduled_from", "text"),
    ("attempt_number", "int"),
    ("query_start_time", "timestamptz"),
    ("completed_time", "timestamptz"),
    ("error_code", "text"),
    ("error_message", "text"),
    ("query_text", "text"),
    ("condition_text", "text"),
    ("warehouse", "text"),
    ("node_id", "text"),
    ("graph_run_group_id", "text"),
    ("root_task_id", "bigint"),
    ("graph_version", "int"),
    ("config", "text"),
)

#: What tells the runs of one insert apart (the set form finds each inserted row's ordinal by it).
_RUN_KEY = ("task_id", "scheduled_time", "scheduled_from", "attempt_number", "graph_run_group_id", "node_id")

_FENCE = ("fence_node", "fence_epoch")

#: The per-row query -> its set form.
SET_FORMS: dict[str, SetForm] = {
    "run_settle": SetForm("run_settle_set", _OUTCOME, (), ("run_id",)),
    "run_settle_fenced": SetForm("run_settle_fenced_set", _OUTCOME, _FENCE, ("run_id",)),
    "run_insert": SetForm("run_insert_set", _NEW_RUN, (), _RUN_KEY),
    "run_insert_fenced": SetForm("run_insert_fenced_set", _NEW_RUN, _FENCE, _RUN_KEY),
    "task_runtime": SetForm("task_runtime_set", _RUNTIME, ("now",), ("task_id",)),
    "task_runtime_fenced": SetForm("task_runtime_fenced_set", _RUNTIME, ("now", *_FENCE), ("task_id",)),
}
