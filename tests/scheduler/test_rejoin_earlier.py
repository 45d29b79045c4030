"""A cluster member that joined again under a new epoch (its lease was lost: a pause, a cut from the
catalog) settles what its earlier epoch left open and this process does not hold any more, since
nobody else will (its node id is live again): SUCCEEDED from the completion marker when the body
committed, FAILED with NODE_LOST when it did not. Runs it still holds go on and record their own
outcomes, and a member without a lease writes no outcome until it joined again.

On the SQLite catalog, which has the same coordination protocol.
"""

from __future__ import annotations

from pathlib import Path

from sched_harness import Harness, make_harness
from test_lost_markers import body_only, executing_run, logged, setup
from test_membership import LONG_QUERY, Monotonic, supersede


async def outcomes(h: Harness, task: str = "t") -> list[tuple[object, ...]]:
    return [(r[0], r[1], r[2]) for r in await h.history(task)]


async def test_runs_an_earlier_epoch_left_are_settled_by_the_marker_once_the_node_joined_again(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await setup(h)  # t, every 10 s, not resumed: nothing fires by itself
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        h.clock.advance(20)
        # two runs the node started under its first epoch and then forgot (their outcomes were
        # refused once its lease was lost): one body committed with its marker, one did not
        committed = await executing_run(h, "test-node", 10)
        await body_only(h, committed, h.scheduler)
        await executing_run(h, "test-node", 20)
        await h.tick()
        assert await outcomes(h) == [(10.0, "EXECUTING", None), (20.0, "EXECUTING", None)]

        await supersede(h)  # the lease is lost; the next round joins again
        await member.beat()
        assert member.joins == 2
        await h.tick()

        assert await outcomes(h) == [(10.0, "SUCCEEDED", None), (20.0, "FAILED", "NODE_LOST")]
        assert await logged(h) == [committed.run_id]  # nothing ran again
        assert member.earlier_runs == set()
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_run_still_executing_when_the_node_joined_again_records_its_own_outcome(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql(f"CREATE TASK t SCHEDULE = '1 SECOND' AS {LONG_QUERY}; ALTER TASK t RESUME")
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        await h.tick(advance=1, drain=False)
        await h.sql("ALTER TASK t SUSPEND")
        await h.scheduler.reload()
        await supersede(h)
        await member.beat()
        assert member.joins == 2 and len(member.earlier_runs) == 1
        # the run is this process's: the first tick after the join, which settles what the earlier
        # epoch left, leaves it alone
        [run_id] = member.earlier_runs
        await h.tick(drain=False)
        assert [r[1] for r in await h.history("t")] == ["EXECUTING"]
        assert member.earlier_runs == {run_id}
        await h.sql("CANCEL TASK t")
        await h.scheduler.drain(timeout=10)
        await h.scheduler.bookkeeping_written()
        assert [r[1] for r in await h.history("t")] == ["CANCELLED"]
    finally:
        await h.scheduler.stop()
        await h.engine.close()


async def test_a_member_joining_again_writes_no_outcome_without_a_fence_and_writes_it_after(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql(f"CREATE TASK t SCHEDULE = '1 SECOND' AS {LONG_QUERY}; ALTER TASK t RESUME")
        await h.scheduler.reload()
        member = await h.scheduler.join_cluster(monotonic=Monotonic())
        await h.tick(advance=1, drain=False)
        await h.sql("ALTER TASK t SUSPEND")
        await h.scheduler.reload()
        h.scheduler.fence.current = None  # the lease is lost and the node is joining again
        await h.sql("CANCEL TASK t")
        await h.scheduler.drain(timeout=10)
        await h.scheduler.bookkeeping_written()
        # nothing written without a fence (an unfenced write would pass any lease)
        assert [r[1] for r in await h.history("t")] == ["EXECUTING"]
        assert h.scheduler.runs.refused_mark == 1
        await member.beat()  # joins again: the outcome is written under the new epoch
        assert member.joins == 2
        assert [r[1] for r in await h.history("t")] == ["CANCELLED"]
        assert h.scheduler.runs.refused_mark == 0
    finally:
        await h.scheduler.stop()
        await h.engine.close()
