"""The two-node cluster of the tests of a member that lost its lease mid-tick
(test_member_next_fire_withheld.py, test_member_release_withheld.py).

test-node (the harness's scheduler) and n2 both join the cluster on the SQLite catalog with one task
that fires every second; test-node holds it, has run its first instant and claimed the next (2 s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sched_harness import Harness
from test_member_release_fenced import Monotonic, runs, tick

from tasksql.errors import CatalogError
from tasksql.model import RunState
from tasksql.scheduler.membership import ClusterMember
from tasksql.scheduler.service import Scheduler

TASK = "CREATE TASK t SCHEDULE = '1 SECOND' AS SELECT 1; ALTER TASK t RESUME"


@dataclasses.dataclass
class TwoMembers:
    """test-node's member ``a`` (its lease timed by ``own_clock``) and n2's scheduler ``other``
    with its member ``b``. A test that stops test-node's scheduler itself sets ``stopped``."""

    own_clock: Monotonic
    a: ClusterMember
    other: Scheduler
    b: ClusterMember
    stopped: bool = False


@asynccontextmanager
async def two_members(h: Harness) -> AsyncIterator[TwoMembers]:
    """The two members, test-node holding the task with the 2 s instant claimed; on exit both
    schedulers stop (test-node's unless ``stopped``) and the engine closes."""
    other: Scheduler | None = None
    members: TwoMembers | None = None
    try:
        await h.sql(TASK)
        await h.scheduler.reload()
        own_clock = Monotonic()
        a = await h.scheduler.join_cluster(monotonic=own_clock)
        other = h.engine.new_scheduler(node_id="n2")
        await other.start(background=False)
        b = await other.join_cluster(monotonic=Monotonic())
        await tick(h, h.scheduler, 1)  # the first instant fires, the next (2 s) is claimed
        assert (await runs(h))[2.0] == [(RunState.SCHEDULED, "test-node")]
        members = TwoMembers(own_clock=own_clock, a=a, other=other, b=b)
        yield members
    finally:
        if other is not None:
            await other.stop()
        if members is None or not members.stopped:
            await h.scheduler.stop()
        await h.engine.close()


async def unreachable(*args: Any, **kwargs: Any) -> Any:
    """In place of a catalog call: the catalog cannot be reached."""
    raise CatalogError("the catalog cannot be reached", code="CATALOG_UNAVAILABLE")
