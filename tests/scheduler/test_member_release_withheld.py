"""A cluster member without a lease writes no release of its claims (on the SQLite catalog, which has
the same coordination protocol as PostgreSQL's): its reload and its stop only forget them, and the
node that takes its tasks over takes the claims over and runs each claimed instant once.

The member loses its lease in the middle of a tick (its own deadline passes while the tick's start
of its claimed runs is on its way, and it cannot join again at once), after which the tick hands it
the claim of the next instant, written under the fence it fired with. With no fence left, a release
would be written unfenced and delete a claim that is no longer the member's to delete.
"""

from __future__ import annotations

from typing import Any

import pytest
from member_withheld_support import two_members, unreachable
from sched_harness import make_harness
from test_member_release_fenced import runs, same_node_id, task_id, tick

from tasksql.errors import TasksqlError
from tasksql.model import RunState


@pytest.mark.parametrize("forgets_at", ["reload", "stop"])
async def test_a_member_without_a_lease_releases_no_claim_and_the_new_holder_runs_it_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, forgets_at: str
) -> None:
    h = await make_harness(tmp_path, cluster_claims=True)
    catalog = h.engine.catalog
    async with two_members(h) as m:
        own_clock, a, other, b = m.own_clock, m.a, m.other, m.b

        real_join, real_start = catalog.join, catalog.start_claims

        async def losing_the_lease(*args: Any, **kwargs: Any) -> list[int]:
            # test-node's own deadline passes while the tick's start is on its way: its next round
            # forgets its placements and cannot join again (the catalog is out of its reach)
            monkeypatch.setattr(catalog, "start_claims", real_start)
            monkeypatch.setattr(catalog, "join", unreachable)
            own_clock.now += 60
            with pytest.raises(TasksqlError):
                await a.beat()
            assert h.scheduler.fence.withheld and a.placed == set()
            return await real_start(*args, **kwargs)

        monkeypatch.setattr(catalog, "start_claims", losing_the_lease)
        await tick(h, h.scheduler, 1)
        # the start went through under the fence the tick fired with (the catalog's lease had not
        # run out), and the tick claimed the next instant under it too, after the lease was lost
        history = await runs(h)
        assert [node for _, node in history[2.0]] == ["test-node"]
        assert history[3.0] == [(RunState.SCHEDULED, "test-node")]

        # the catalog takes the lease (another process joined under the node's id, as after a pause)
        monkeypatch.setattr(catalog, "join", real_join)
        await catalog.join(same_node_id(h))
        if forgets_at == "reload":  # the task changes: the reload forgets the claim, writes nothing
            await h.sql("ALTER TASK t SET COMMENT = 'changed'")
            await h.scheduler.reload()
        else:  # the stop forgets it
            m.stopped = True
            await h.scheduler.stop()
        assert h.scheduler.fence.current is None
        assert (await runs(h))[3.0] == [(RunState.SCHEDULED, "test-node")]  # released nothing

        await b.beat()  # n2 takes the task over with the claim, and runs the instant once
        assert b.placed == {await task_id(h)}
        assert 3.0 not in await runs(h)
        assert [await tick(h, other, 1) for _ in range(2)] == [1, 1]
        history = await runs(h)
        assert [history[at] for at in (1.0, 3.0, 4.0)] == [
            [(RunState.SUCCEEDED, "test-node")],
            [(RunState.SUCCEEDED, "n2")],
            [(RunState.SUCCEEDED, "n2")],
        ]
        assert [node for _, node in history[2.0]] == ["test-node"]  # run once, where it started
