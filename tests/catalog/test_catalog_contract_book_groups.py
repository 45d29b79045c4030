"""The catalog contract for run bookkeeping jobs that meet in one writer group: each call gets what
it would get with the jobs one after the other, in call order.

The PostgreSQL catalog's writer runs the settles and the claims of consecutive bookkeeping jobs of
a group together, as one batch of settles and one of inserts per cut of jobs that name distinct
runs and keys (``catalog/settle_batch.py``, ``RunBook``); these tests hold on every backend. The
writer is kept inside a job while the calls are made, so that they queue and form one group.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from catalog_support import create, ended, fire_run, later, new_run, state_and_times

from tasksql.catalog import Catalog
from tasksql.catalog.writer import GroupWriter, Job, Part
from tasksql.model import RunState, TaskState
from tasksql.model.run import RunOutcome


@asynccontextmanager
async def writer_busy(catalog: Catalog) -> AsyncIterator[None]:
    """The catalog's writer thread is inside a job until the block exits: what is written meanwhile
    queues, and the writer takes it as one group."""
    entered, release = threading.Event(), threading.Event()

    def block(db: object) -> None:
        entered.set()
        release.wait(20)

    blocker = asyncio.ensure_future(catalog._write(block))  # type: ignore[attr-defined]
    assert await asyncio.to_thread(entered.wait, 20)
    try:
        yield
    finally:
        release.set()
        await blocker


async def test_bookkeeping_jobs_of_one_group_apply_in_call_order(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    other = await create(catalog, "u", state=TaskState.STARTED)
    x = await fire_run(catalog, record, later(1))
    y = await fire_run(catalog, other, later(1))
    [a] = await catalog.record_fires("node-a", [], [], [new_run(record, later(2), state=RunState.SCHEDULED)])
    assert a is not None
    claim = {s: new_run(record, later(s), state=RunState.SCHEDULED) for s in (10, 11, 12, 13, 14)}

    async with writer_busy(catalog):
        settle_x = catalog.settle_later(ended(x))
        # sent now (urgent), with the held settle before it
        start_a = RunOutcome(run_id=a.run_id, state=RunState.EXECUTING, query_start_time=later(2.001))
        fires_1 = catalog.record_fires("node-a", [start_a], [], [claim[10], claim[11]], urgent=True)
        # the outcome of the run started just before, in the same group: applied after its start
        settle_a = catalog.settle_later(ended(a, query_start_time=None, completed_time=later(2.5)))
        # an instant claimed twice in one group: the first insert holds it
        fires_2 = catalog.record_fires("node-a", [], [], [claim[10], claim[12]], urgent=True)
        # a release of a claim inserted earlier in the group deletes it
        release = catalog.record_fires("node-a", [], [(record.id, later(12))], [], urgent=True)
        settle_y = catalog.settle_later(ended(y, RunState.FAILED, error_code="E1", error_message="no"))
        fires_3 = catalog.record_fires("node-a", [], [], [claim[13]], urgent=True)
        settle_x_again = catalog.settle_later(ended(x, RunState.FAILED))
        fires_4 = catalog.record_fires("node-a", [], [], [claim[14]], urgent=True)

    assert await asyncio.wait_for(settle_x, 10) is True
    first = await asyncio.wait_for(fires_1, 10)
    assert await asyncio.wait_for(settle_a, 10) is True
    second = await asyncio.wait_for(fires_2, 10)
    assert await asyncio.wait_for(release, 10) == []
    assert await asyncio.wait_for(settle_y, 10) is True
    third = await asyncio.wait_for(fires_3, 10)
    assert await asyncio.wait_for(settle_x_again, 10) is False  # settled earlier in the group
    fourth = await asyncio.wait_for(fires_4, 10)

    assert [r is not None and r.scheduled_time for r in first] == [later(10), later(11)]
    assert second[0] is None and second[1] is not None and second[1].scheduled_time == later(12)
    assert third[0] is not None and third[0].scheduled_time == later(13)
    assert fourth[0] is not None and fourth[0].scheduled_time == later(14)
    assert len({r.run_id for r in [*first, second[1], third[0], fourth[0]] if r is not None}) == 5

    assert await state_and_times(catalog, x.run_id) == (RunState.SUCCEEDED, x.query_start_time, later(1.042))
    assert await state_and_times(catalog, a.run_id) == (RunState.SUCCEEDED, later(2.001), later(2.5))
    stored_y = await catalog.get_run(y.run_id)
    assert stored_y is not None and (stored_y.state, stored_y.error_code) == (RunState.FAILED, "E1")
    runs = {(r.scheduled_time, r.state) for r in await catalog.list_runs(task_id=record.id)}
    assert runs == {
        (later(1), RunState.SUCCEEDED),
        (later(2), RunState.SUCCEEDED),
        (later(10), RunState.SCHEDULED),
        (later(11), RunState.SCHEDULED),
        (later(13), RunState.SCHEDULED),
        (later(14), RunState.SCHEDULED),
    }  # the claim of 12 s was released


class _Book(Part[Any]):
    def __init__(self, name: str, kind: str, log: list[list[str]]) -> None:
        self.name, self._kind, self._log = name, kind, log

    def kind(self) -> str:
        return self._kind

    def run_together(self, db: Any, parts: Sequence[Part[Any]]) -> list[Any]:
        names = [p.name for p in parts if isinstance(p, _Book)]
        self._log.append(names)
        return [f"{name}!" for name in names]


def test_the_writer_runs_consecutive_parts_of_one_kind_together() -> None:
    log: list[list[str]] = []
    loop = asyncio.new_event_loop()
    try:

        def job(name: str, kind: str | None, *, changes: bool = False) -> Job[Any]:
            def alone(db: Any) -> str:
                log.append([name])
                return name

            part = None if kind is None else _Book(name, kind, log)
            return Job(alone, loop.create_future(), durable=False, changes=changes, hold=False, part=part)

        jobs = [
            job("a", "k"),
            job("b", "k"),
            job("c", "j"),
            job("d", None),
            job("e", "k"),
            job("f", "k"),
            job("g", "k"),
            job("h", "k", changes=True),  # a job that changes definitions is never a part
            job("i", "k"),
        ]
        bumps = iter(range(7, 100))
        results, seq = GroupWriter._run_jobs(None, jobs, lambda db: next(bumps))
    finally:
        loop.close()

    assert log == [["a", "b"], ["c"], ["d"], ["e", "f", "g"], ["h"], ["i"]]
    assert results == ["a!", "b!", "c", "d", "e!", "f!", "g!", "h", "i"]
    assert seq == 7


TRICKY = [
    'say "hi"',
    "back\\slash \\\\ two",
    "{braces}, commas",
    "NULL",
    "",
    "line\nbreak\ttab",
    "é ✓ 𝄞",
    " ",
]


async def test_text_of_every_kind_comes_back_from_a_batch(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    claims = [
        new_run(record, later(i), state=RunState.SCHEDULED, query_text=text, condition_text=None)
        for i, text in enumerate(TRICKY)
    ]
    inserted = await asyncio.wait_for(catalog.record_fires("node-a", [], [], claims, urgent=True), 10)
    assert all(r is not None for r in inserted)
    runs = [r for r in inserted if r is not None]
    futures = [
        catalog.settle_later(
            ended(run, RunState.FAILED, error_code=f"E{i}", error_message=text, rows_produced=i or None)
        )
        for i, (run, text) in enumerate(zip(runs, reversed(TRICKY), strict=True))
    ]
    assert [await asyncio.wait_for(f, 10) for f in futures] == [True] * len(TRICKY)

    for i, (run, text) in enumerate(zip(runs, TRICKY, strict=True)):
        stored = await catalog.get_run(run.run_id)
        assert stored is not None
        assert stored.query_text == text
        assert (stored.state, stored.error_code, stored.error_message) == (
            RunState.FAILED,
            f"E{i}",
            TRICKY[len(TRICKY) - 1 - i],
        )
        assert stored.rows_produced == (i or None)
        assert stored.scheduled_time == later(i)
