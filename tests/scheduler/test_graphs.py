"""Task graphs driven by a fake clock: AFTER, WHEN, finalizers, return values, config, overlap,
edits during a graph run, RETRY LAST, and the graph relations."""

from __future__ import annotations

import asyncio

import pytest
from sched_harness import Harness

from tasksql.errors import GraphError, TasksqlError, ValidationError

LONG_QUERY = "SELECT sum(hash(i)) FROM range(100000000000) t(i)"


async def graph_history(h: Harness) -> list[tuple[str, str, str | None]]:
    """(task, state, error_code) of every run, in run order."""
    rows = await h.rows("SELECT name, state, error_code FROM system.task_history ORDER BY run_id")
    return [(r[0], r[1], r[2]) for r in rows]


async def make_chain(h: Harness) -> None:
    await h.sql("CREATE TABLE log (task VARCHAR, ts TIMESTAMPTZ)")
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS INSERT INTO log VALUES ('r', now())")
    await h.sql("CREATE TASK a AFTER r AS INSERT INTO log VALUES ('a', now())")
    await h.sql("CREATE TASK b AFTER a AS INSERT INTO log VALUES ('b', now())")
    await h.sql("ALTER TASK b RESUME")
    await h.sql("ALTER TASK a RESUME")
    await h.sql("ALTER TASK r RESUME")


async def test_a_chain_runs_in_order_in_one_graph_run(harness: Harness) -> None:
    await make_chain(harness)
    await harness.tick(advance=10)
    assert await graph_history(harness) == [
        ("r", "SUCCEEDED", None),
        ("a", "SUCCEEDED", None),
        ("b", "SUCCEEDED", None),
    ]
    rows = await harness.rows(
        "SELECT count(DISTINCT graph_run_group_id), count(DISTINCT root_task_id), min(graph_version) "
        "FROM system.task_history"
    )
    assert rows == [(1, 1, 1)]
    [graph] = (await harness.sql("SELECT * FROM complete_task_graphs()")).as_dicts()
    assert (graph["root_task_name"], graph["state"], graph["scheduled_from"]) == (
        "r",
        "SUCCEEDED",
        "SCHEDULE",
    )
    assert graph["first_error_task_name"] is None


async def test_join_failure_propagation_and_finalizer(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
    await h.sql("CREATE TASK ok AFTER r AS SELECT 1")
    await h.sql("CREATE TASK bad AFTER r AS SELECT * FROM missing_table")
    await h.sql("CREATE TASK join_task AFTER ok, bad AS SELECT 1")
    await h.sql("CREATE TASK cleanup FINALIZE = r AS SELECT 1")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10)
    history = await graph_history(h)
    assert history[0] == ("r", "SUCCEEDED", None)
    assert set(history[1:3]) == {("ok", "SUCCEEDED", None), ("bad", "FAILED", "42P01")}
    assert ("join_task", "SKIPPED", "PREDECESSOR_FAILED") in history
    assert history[-1] == ("cleanup", "SUCCEEDED", None)  # the finalizer runs last, whatever happened
    [graph] = (await h.sql("SELECT * FROM complete_task_graphs(root_task_name => 'r')")).as_dicts()
    assert (graph["state"], graph["first_error_task_name"], graph["first_error_code"]) == (
        "FAILED",
        "tasksql.public.bad",
        "42P01",
    )
    [(msg,)] = await h.rows("SELECT error_message FROM system.task_history WHERE name = 'join_task'")
    assert "bad did not succeed" in msg


async def test_when_skip_counts_as_done_and_return_values_flow(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE seen (v VARCHAR)")
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT SYSTEM$SET_RETURN_VALUE('go')")
    await h.sql("CREATE TASK gate AFTER r WHEN SYSTEM$GET_PREDECESSOR_RETURN_VALUE('r') = 'stop' AS SELECT 1")
    await h.sql(
        "CREATE TASK child AFTER gate AS INSERT INTO seen SELECT SYSTEM$GET_PREDECESSOR_RETURN_VALUE('r')"
    )
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10)
    assert await graph_history(h) == [
        ("r", "SUCCEEDED", None),
        ("gate", "SKIPPED", "CONDITION_FALSE"),
        ("child", "SUCCEEDED", None),
    ]
    assert await h.rows("SELECT v FROM seen") == [("go",)]
    assert await h.rows("SELECT return_value FROM system.task_history WHERE name = 'r'") == [("go",)]


async def test_root_when_false_skips_the_whole_graph_run(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' WHEN 1 = 2 AS SELECT 1")
    await h.sql("CREATE TASK a AFTER r AS SELECT 1")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10)
    assert await graph_history(h) == [("r", "SKIPPED", "CONDITION_FALSE")]
    assert await h.rows("SELECT count(*) FROM complete_task_graphs()") == [(0,)]


async def test_graph_config_and_execute_task_using_config(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE envs (env VARCHAR)")
    await h.sql('CREATE TASK r SCHEDULE = \'1 HOURS\' CONFIG = $${"env": "prod", "n": 1}$$ AS SELECT 1')
    await h.sql("CREATE TASK a AFTER r AS INSERT INTO envs SELECT SYSTEM$GET_TASK_GRAPH_CONFIG('env')")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.sql("EXECUTE TASK r")
    await h.scheduler.drain()
    h.clock.advance(1)
    await h.sql("""EXECUTE TASK r USING CONFIG = '{"env": "test"}'""")
    await h.scheduler.drain()
    assert await h.rows("SELECT env FROM envs") == [("prod",), ("test",)]
    configs = await h.rows("SELECT config FROM complete_task_graphs() ORDER BY scheduled_time")
    assert [c[0] for c in configs] == ['{"env": "prod", "n": 1}', '{"env": "test", "n": 1}']


async def test_execute_task_on_a_child_is_an_error(harness: Harness) -> None:
    await make_chain(harness)
    with pytest.raises(ValidationError) as err:
        await harness.sql("EXECUTE TASK a")
    assert err.value.code == "NOT_A_ROOT"


async def test_no_overlap_skips_the_root_while_the_graph_run_executes(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
    await h.sql(f"CREATE TASK slow AFTER r AS {LONG_QUERY}")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10, drain=False)
    await asyncio.sleep(0.3)  # r finished, slow is executing
    await h.tick(advance=10, drain=False)
    history = await graph_history(h)
    assert history == [("r", "SUCCEEDED", None), ("slow", "EXECUTING", None), ("r", "SKIPPED", "OVERLAP")]
    await h.sql("CANCEL TASK slow")
    await h.scheduler.drain()


async def test_allow_child_overlap_starts_a_new_graph_run_while_children_run(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' OVERLAP_POLICY = ALLOW_CHILD_OVERLAP AS SELECT 1")
    await h.sql(f"CREATE TASK slow AFTER r AS {LONG_QUERY}")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10, drain=False)
    await asyncio.sleep(0.3)
    await h.tick(advance=10, drain=False)
    await asyncio.sleep(0.3)
    states = [(t, s) for t, s, _ in await graph_history(h)]
    assert states.count(("r", "SUCCEEDED")) == 2
    assert states.count(("slow", "EXECUTING")) == 2
    await h.sql("ALTER TASK r SUSPEND")
    await h.sql("CANCEL TASK slow")
    await h.scheduler.drain()


async def test_graph_edits_apply_from_the_next_graph_run(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE out (v VARCHAR)")
    await h.sql(f"CREATE TASK r SCHEDULE = '10 SECONDS' AS {LONG_QUERY}")
    await h.sql("CREATE TASK a AFTER r AS INSERT INTO out VALUES ('old')")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.tick(advance=10, drain=False)
    await asyncio.sleep(0.2)
    # edit the graph while its run executes, without suspending the root
    await h.sql("ALTER TASK a MODIFY AS INSERT INTO out VALUES ('new')")
    await h.sql("ALTER TASK r MODIFY AS SELECT 1")
    await h.sql("CANCEL TASK r")  # the running root (old version) ends
    await h.scheduler.drain()
    assert await h.rows("SELECT v FROM out") == []  # cancelled root: a did not run
    await h.tick(advance=10)
    assert await h.rows("SELECT v FROM out") == [("new",)]
    versions = await h.rows("SELECT DISTINCT graph_version FROM system.task_history ORDER BY 1")
    assert versions == [(1,), (2,)]


async def test_retry_last_reruns_only_the_failed_part(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE counts (task VARCHAR)")
    await h.sql("CREATE TASK r SCHEDULE = '1 HOURS' AS INSERT INTO counts VALUES ('r')")
    await h.sql("CREATE TASK a AFTER r AS INSERT INTO counts SELECT 'a' FROM needed")
    await h.sql("CREATE TASK b AFTER a AS INSERT INTO counts VALUES ('b')")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.sql("EXECUTE TASK r")
    await h.scheduler.drain()
    assert [s for _, s, _ in await graph_history(h)] == ["SUCCEEDED", "FAILED", "SKIPPED"]
    await h.sql("CREATE TABLE needed AS SELECT 1 AS x")  # fix the data, not the graph
    await h.sql("EXECUTE TASK r RETRY LAST")
    await h.scheduler.drain()
    assert await h.rows("SELECT task, count(*) FROM counts GROUP BY task ORDER BY task") == [
        ("a", 1),
        ("b", 1),
        ("r", 1),
    ]
    [graph] = (await h.sql("SELECT state, attempt_number FROM complete_task_graphs()")).rows
    assert graph == ("SUCCEEDED", 2)
    retried = await h.rows(
        "SELECT name, attempt_number, scheduled_from FROM system.task_history WHERE attempt_number = 2"
    )
    assert sorted(retried) == [("a", 2, "RETRY"), ("b", 2, "RETRY")]
    with pytest.raises(TasksqlError) as err:
        await h.sql("EXECUTE TASK r RETRY LAST")
    assert err.value.code == "NOTHING_TO_RETRY"


async def test_retry_last_refuses_a_changed_graph(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '1 HOURS' AS SELECT 1")
    await h.sql("CREATE TASK a AFTER r AS SELECT * FROM missing")
    await h.sql("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    await h.sql("EXECUTE TASK r")
    await h.scheduler.drain()
    await h.sql("ALTER TASK a MODIFY AS SELECT 2")
    with pytest.raises(TasksqlError) as err:
        await h.sql("EXECUTE TASK r RETRY LAST")
    assert err.value.code == "GRAPH_CHANGED"


async def test_task_dependents_and_dependents_enable(harness: Harness) -> None:
    h = harness
    await make_chain(h)
    rows = await h.rows("SELECT name FROM task_dependents(task_name => 'r', recursive => TRUE)")
    assert [r[0] for r in rows] == ["r", "a", "b"]
    rows = await h.rows("SELECT name FROM task_dependents(task_name => 'r', recursive => FALSE)")
    assert [r[0] for r in rows] == ["r", "a"]
    await h.sql("ALTER TASK r SUSPEND")
    await h.sql("ALTER TASK b SUSPEND")
    [(status,)] = await h.rows("SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('r')")
    assert "3 tasks" in status
    assert await h.rows("SELECT name, state FROM system.tasks ORDER BY name") == [
        ("a", "started"),
        ("b", "started"),
        ("r", "started"),
    ]


async def test_dropping_a_predecessor_makes_children_suspended_roots(harness: Harness) -> None:
    await make_chain(harness)
    message = (await harness.sql("DROP TASK a")).message or ""
    assert "b became root task(s) and were suspended" in message
    assert await harness.rows(
        "SELECT name, state, last_suspended_reason FROM system.tasks ORDER BY name"
    ) == [
        ("b", "suspended", "PREDECESSOR_DROPPED"),
        ("r", "started", None),
    ]


async def test_graph_rules_are_enforced(harness: Harness) -> None:
    h = harness
    await make_chain(h)
    with pytest.raises(GraphError) as cycle:
        await h.sql("ALTER TASK r ADD AFTER b")
    assert cycle.value.code == "CHILD_WITH_SCHEDULE"
    await h.sql("ALTER TASK r UNSET SCHEDULE")
    with pytest.raises(GraphError) as cycle:
        await h.sql("ALTER TASK r ADD AFTER b")
    assert cycle.value.code == "GRAPH_CYCLE"
    with pytest.raises(TasksqlError) as child:
        await h.sql("ALTER TASK a SET SCHEDULE = '5 MINUTES'")
    assert child.value.code == "CHILD_WITH_SCHEDULE"
    await h.sql("CREATE TASK other SCHEDULE = '1 HOURS' AS SELECT 1")
    with pytest.raises(GraphError) as roots:
        await h.sql("ALTER TASK b ADD AFTER other")
    assert roots.value.code == "GRAPH_MULTIPLE_ROOTS"
