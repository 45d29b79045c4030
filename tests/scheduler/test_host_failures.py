"""VoltDB ``RUN ON HOSTS`` on a node that does not hold the task: each node applies the failure
policy to its own runs, and its count and the suspension it decides are written under its lease,
whichever node holds the task (a node that only runs its share is not the holder). On the SQLite
catalog, which has the same protocol."""

from __future__ import annotations

from pathlib import Path

from sched_harness import Harness, make_harness
from test_membership import Monotonic

from tasksql.scheduler.hosts import HostRuns


async def task_row(h: Harness, name: str) -> tuple[object, ...]:
    """(state, consecutive failures) of task ``name`` as the catalog has them."""
    [record] = [r for r in await h.engine.catalog.list_tasks() if r.definition.name.name == name]
    return record.state.value, record.consecutive_failures


async def host_runs(h: Harness) -> HostRuns:
    """The node's RUN ON HOSTS runner, with the tasks of the catalog read."""
    hosts = HostRuns(
        h.engine.catalog,
        h.scheduler.runs,
        node_id=h.scheduler.node_id,
        clock=h.clock,
        fence=h.scheduler.fence,
        may_fire=lambda: True,
        serves=lambda _: True,
    )
    await hosts.refresh()
    return hosts


async def fire(h: Harness, hosts: HostRuns) -> None:
    h.clock.advance(1)
    member = h.scheduler.member
    assert member is not None
    await member.beat()  # the lease (2.5 s by the catalog's clock) is renewed, or taken again
    assert await hosts.fire_due(h.clock.now()) == 1
    await h.scheduler.drain()
    await h.scheduler.bookkeeping_written()


async def test_a_node_that_does_not_hold_a_run_on_hosts_task_counts_its_failures_and_suspends_it(
    tmp_path: Path,
) -> None:
    h = await make_harness(tmp_path, claim_ahead_s=0)
    try:
        await h.sql(
            "CREATE TASK counted SCHEDULE = '1 SECOND' SUSPEND_TASK_AFTER_NUM_FAILURES = 2 ON ERROR LOG RUN ON HOSTS"
            " AS SELECT * FROM missing; ALTER TASK counted RESUME"
        )
        await h.sql(
            "CREATE TASK stopped SCHEDULE = '1 SECOND' ON ERROR STOP RUN ON HOSTS AS SELECT * FROM missing;"
            " ALTER TASK stopped RESUME"
        )
        await h.scheduler.join_cluster(monotonic=Monotonic())
        ids = {
            name: (await h.rows(f"SELECT id FROM system.tasks WHERE name = '{name}'"))[0][0]
            for name in ("counted", "stopped")
        }
        # another node holds both: this one runs its share only
        await h.engine.catalog.pin_tasks(dict.fromkeys(ids.values(), "elsewhere"))
        assert not {p.task_id for p in await h.engine.catalog.list_placements(node_id="test-node")} & set(
            ids.values()
        )
        hosts = await host_runs(h)
        hosts.entries = {ids["counted"]: hosts.entries[ids["counted"]]}

        await fire(h, hosts)
        assert await task_row(h, "counted") == ("started", 1)
        await fire(h, hosts)
        assert await task_row(h, "counted") == ("suspended", 2)
        [last] = await h.rows(
            "SELECT state FROM system.task_history WHERE name = 'counted' ORDER BY run_id DESC LIMIT 1"
        )
        assert last == ("FAILED_AND_AUTO_SUSPENDED",)

        hosts = await host_runs(h)  # ON ERROR STOP: the first failure on this node suspends it
        assert set(hosts.entries) == {ids["stopped"]}
        await fire(h, hosts)
        assert (await task_row(h, "stopped"))[0] == "suspended"
    finally:
        await h.scheduler.stop()
        await h.engine.close()
