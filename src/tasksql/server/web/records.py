"""Every task's record for the pages, decoded once per catalog change rather than per request.

Reading and decoding every task definition costs time in proportion to the tasks (seconds for
10,000 on a busy machine), and the tasks list and a task's graph need them all to filter, sort
and count. :class:`TaskRecords` keeps the list and reads it again only when the catalog's change
sequence moved: a definition, state, owner or drop of a task, by any process. Run bookkeeping
(next instant, failure count) does not move it, so the rows a page *shows* are read again fresh
(:meth:`TaskRecords.fresh`); filtering by state stays exact, since a state change moves the
sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tasksql.catalog.base import Catalog
from tasksql.model import TaskRecord


class TaskRecords:
    """The catalog's task records as of its latest change sequence (see the module)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._seq: int | None = None
        self._records: list[TaskRecord] = []
        self._hay: dict[int, str] = {}
        self._lock = asyncio.Lock()

    async def all(self) -> list[TaskRecord]:
        """Every live task, sorted by name (database, schema, name), as of a change sequence at
        least as new as at the call."""
        seq = await self._catalog.change_seq()
        if seq != self._seq:
            async with self._lock:
                if seq != self._seq:
                    # the sequence is read before the records: a change between the two reads
                    # leaves newer records under an older sequence, read again next time
                    records = sorted(await self._catalog.list_tasks(), key=lambda r: r.name.parts)
                    self._hay = {r.id: _hay(r) for r in records}
                    self._records, self._seq = records, seq
        return self._records

    def hay(self, rec: TaskRecord) -> str:
        """What the tasks list's search looks in, lower case: the name as people read it, the
        comment, the warehouse and the owner (one line each)."""
        found = self._hay.get(rec.id)
        return found if found is not None else _hay(rec)

    async def fresh(self, records: Sequence[TaskRecord]) -> list[TaskRecord]:
        """``records`` read again, in the same order (those dropped meanwhile left out)."""
        if not records:
            return []
        by_id = {r.id: r for r in await self._catalog.get_tasks_by_ids([r.id for r in records])}
        return [by_id[r.id] for r in records if r.id in by_id]


def _hay(rec: TaskRecord) -> str:
    task = rec.definition
    return "\n".join((".".join(rec.name.parts), task.comment or "", task.warehouse or "", rec.owner)).lower()
