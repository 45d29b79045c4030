"""A cluster member without a lease writes no next instant of a task (on the SQLite catalog, which
has the same coordination protocol as PostgreSQL's): the instants it computes after the lease is
gone are dropped, not written unfenced over the next instant of a task another node holds.

The member loses its lease in the middle of a tick (its own deadline passes while the tick's start
of its claimed run is on its way, and it cannot join again at once), and the start then fails: the
tick gives the claim back and moves the entry's next instant back to the claimed one, which a
flush would write with no fence left. The node that takes the task over builds its entry from the
task's row and runs every instant once; the member's later reload (or stop) must not move the
row's next instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from member_withheld_support import two_members, unreachable
from sched_harness import Harness, make_harness
from test_member_release_fenced import runs, same_node_id, task_id, tick

from tasksql.errors import CatalogError, TasksqlError
from tasksql.model import RunState


async def next_fire_at(h: Harness) -> datetime | None:
    [record] = await h.engine.catalog.list_tasks()
    return record.next_fire_at


@pytest.mark.parametrize("flushes_at", ["reload", "stop"])
async def test_a_member_without_a_lease_writes_no_next_instant_of_a_task_another_node_holds(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, flushes_at: str
) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    catalog = h.engine.catalog
    async with two_members(h) as m:
        own_clock, a, other, b = m.own_clock, m.a, m.other, m.b

        async def losing_the_lease(*args: Any, **kwargs: Any) -> list[int]:
            # test-node's own deadline passes while the tick's start is on its way: its next round
            # forgets its placements and cannot join again; then the start itself fails
            monkeypatch.setattr(catalog, "join", unreachable)
            own_clock.now += 60
            with pytest.raises(TasksqlError):
                await a.beat()
            assert h.scheduler.fence.withheld and a.placed == set()
            raise CatalogError("the start of the claimed runs failed", code="CATALOG_UNAVAILABLE")

        monkeypatch.setattr(catalog, "start_claims", losing_the_lease)
        assert await tick(h, h.scheduler, 1) == 0
        # the claim was given back (released under the fence the tick fired with, which the
        # catalog still held) and the entry moved back to the claimed instant
        assert 2.0 not in await runs(h)
        monkeypatch.undo()

        # the catalog takes the lease (another process joined under the node's id, as after a
        # pause); n2 takes the task over and runs the instant given back and the next once each
        await catalog.join(same_node_id(h))
        await b.beat()
        assert b.placed == {await task_id(h)}
        assert [await tick(h, other, 1) for _ in range(2)] == [1, 1]
        await other.flush_next_fires()
        held = await next_fire_at(h)
        assert held is not None

        # test-node, still without a lease, reloads (or stops): it writes no next instant
        if flushes_at == "reload":
            await h.scheduler.reload()
        else:
            m.stopped = True
            await h.scheduler.stop()
        assert h.scheduler.fence.current is None
        assert await next_fire_at(h) == held

        assert [await tick(h, other, 1) for _ in range(2)] == [1, 1]
        history = await runs(h)
        assert sorted(history) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        assert history[1.0] == [(RunState.SUCCEEDED, "test-node")]
        # the instant given back is n2's (skipped as missed: it came due with the next one)
        assert [node for _, node in history[2.0]] == ["n2"]
        assert [history[at] for at in (3.0, 4.0, 5.0, 6.0)] == [[(RunState.SUCCEEDED, "n2")]] * 4
        assert history[7.0] == [(RunState.SCHEDULED, "n2")]  # claimed by n2's last tick
