"""A task after tasks of several graphs, Databend's way (``AFTER 'task1', 'task2'``): it runs once
each predecessor has succeeded since its last run, each predecessor's graph run unaffected; written
the Snowflake way the same graph is refused. Driven by a fake clock (offsets are seconds from the
harness's START); runs on either catalog (``--catalog=postgres``)."""

from __future__ import annotations

import pytest
from sched_harness import Harness

from tasksql.errors import GraphError

ROOTS = """
CREATE TABLE log (task VARCHAR);
CREATE TABLE flags (ok BOOLEAN);
INSERT INTO flags VALUES (TRUE);
CREATE TASK r1 WAREHOUSE = 'default' SCHEDULE = 10 SECOND AS INSERT INTO log VALUES ('r1');
CREATE TASK r2 WAREHOUSE = 'default' SCHEDULE = 15 SECOND
  AS INSERT INTO log SELECT CASE WHEN ok THEN 'r2' ELSE error('r2 failed') END FROM flags;
"""
# Databend's docs (docs.databend.com/sql/sql-commands/ddl/task/ddl-create_task, "AFTER: lists
# tasks that must be completed before this task starts"; example MyTask1 AFTER 'task2', 'task3')
JOIN = """
CREATE TASK j WAREHOUSE = 'default' AFTER 'r1', 'r2' AS INSERT INTO log VALUES ('j');
ALTER TASK j RESUME;
ALTER TASK r1 RESUME;
ALTER TASK r2 RESUME;
"""


async def step(h: Harness, advance: float) -> None:
    """Move the clock, tick, and wait for the reads of tasks due soon (on the PostgreSQL catalog
    such a read can outlast several ticks: the clock must not pass an instant before the task is
    warm), the checks, the runs and their bookkeeping."""
    h.clock.advance(advance)
    await h.scheduler.tick()
    await h.scheduler.warmed()
    await h.scheduler.triggers.idle()
    await h.scheduler.bookkeeping_written()
    await h.scheduler.drain()


async def started(h: Harness, n: int) -> None:
    """The catalog shows ``n`` started tasks; the scheduler reloads from it before its next tick."""
    [(count,)] = await h.rows("SELECT count(*) FROM system.tasks WHERE state = 'started'")
    assert count == n
    h.scheduler.notify_change()


async def run_until(h: Harness, seconds: int) -> None:
    for _ in range(seconds):
        await step(h, 1)


async def test_runs_once_each_predecessor_succeeded_since_its_last_run(harness: Harness) -> None:
    h = harness
    await h.engine.execute(ROOTS)
    await h.engine.execute(JOIN)
    await started(h, 3)
    await run_until(h, 14)
    assert await h.history("r1") == [(10.0, "SUCCEEDED", None, "SCHEDULE")]
    assert await h.history("j") == []  # r2 has not run yet
    await run_until(h, 2)
    # r2 succeeded at 15: j runs, its instant the latest of its predecessors' completions
    assert await h.history("j") == [(15.0, "SUCCEEDED", None, "TRIGGER")]
    await run_until(h, 14)  # 30: r1 ran at 20 and 30, r2 at 30
    await run_until(h, 1)
    assert [x[0] for x in await h.history("j")] == [15.0, 30.0]
    # 44: r1 ran at 40, r2 not since 30: j waits for r2 (whether j's check at 45 sees r2's run at 45
    # in that tick or the next one is a race between the two, so nothing is asserted at 45)
    await run_until(h, 13)
    assert [x[0] for x in await h.history("r1")] == [10.0, 20.0, 30.0, 40.0]
    assert [x[0] for x in await h.history("j")] == [15.0, 30.0]
    await run_until(h, 2)  # 46: r2 succeeded at 45
    assert [x[0] for x in await h.history("j")] == [15.0, 30.0, 45.0]
    # each predecessor's graph run is its own: j is in none of them, it is the root of its own runs
    rows = await h.rows(
        "SELECT name, count(*), count(graph_run_group_id) FROM system.task_history "
        "WHERE state <> 'SCHEDULED' GROUP BY name ORDER BY name"
    )
    assert rows == [("j", 3, 0), ("r1", 4, 0), ("r2", 3, 0)]


async def test_waits_while_a_predecessors_latest_run_failed(harness: Harness) -> None:
    h = harness
    await h.engine.execute(ROOTS)
    await h.engine.execute(JOIN)
    await h.sql("UPDATE flags SET ok = FALSE")
    await started(h, 3)
    await run_until(h, 16)
    assert [x[1] for x in await h.history("r2")] == ["FAILED"]
    await run_until(h, 15)  # r1 succeeded at 10, 20, 30; r2 failed at 15 and 30
    assert await h.history("j") == []
    await h.sql("UPDATE flags SET ok = TRUE")
    await run_until(h, 15)  # r2 succeeds at 45, r1's latest (40) succeeded: j runs
    assert await h.history("j") == [(45.0, "SUCCEEDED", None, "TRIGGER")]


async def test_a_child_of_the_joining_task_runs_in_its_graph_run(harness: Harness) -> None:
    h = harness
    await h.engine.execute(ROOTS)
    await h.engine.execute(JOIN)
    await h.engine.execute("CREATE TASK k AFTER j AS INSERT INTO log VALUES ('k'); ALTER TASK k RESUME")
    await started(h, 4)
    await run_until(h, 16)
    rows = await h.rows(
        "SELECT h.name, t.name FROM system.task_history h JOIN system.tasks t ON t.id = h.root_task_id "
        "ORDER BY h.run_id"
    )
    assert rows[-2:] == [("j", "j"), ("k", "j")]  # a graph run rooted at j, as Snowflake runs k
    [graph] = (await h.sql("SELECT * FROM complete_task_graphs(root_task_name => 'j')")).as_dicts()
    assert (graph["state"], graph["scheduled_from"]) == ("SUCCEEDED", "TRIGGER")
    await h.sql("EXECUTE TASK j")  # a root of its own: it may be executed
    await h.scheduler.drain()
    assert [r[0] for r in await h.rows("SELECT scheduled_from FROM task_history(task_name => 'j')")] == [
        "EXECUTE TASK",
        "TRIGGER",
    ]


async def test_task_dependents_and_show_create(harness: Harness) -> None:
    h = harness
    await h.engine.execute(ROOTS)
    await h.engine.execute(JOIN)
    rows = await h.rows(
        "SELECT name, predecessors FROM task_dependents(task_name => 'r1', recursive => true)"
    )
    assert [r[0] for r in rows] == ["r1", "j"]
    rows = await h.rows("SELECT name FROM task_dependents(task_name => 'j')")
    assert [r[0] for r in rows] == ["r1", "r2", "j"]
    [(_, text)] = await h.rows("SHOW CREATE TASK j")
    assert "AFTER_ANY_GRAPH = TRUE" in text and "AFTER r1, r2" in text
    await h.sql("DROP TASK j")
    await h.engine.execute(text)  # what SHOW CREATE printed creates the same task
    [(_, again)] = await h.rows("SHOW CREATE TASK j")
    assert again == text


async def test_written_the_snowflake_way_it_is_refused(harness: Harness) -> None:
    h = harness
    await h.engine.execute(ROOTS)
    with pytest.raises(GraphError) as err:
        await h.sql("CREATE TASK c AFTER r1, r2 AS SELECT 1")
    assert err.value.code == "GRAPH_MULTIPLE_ROOTS"
    assert "AFTER_ANY_GRAPH = TRUE" in str(err.value)
    assert await h.rows("SHOW TASKS LIKE 'c'") == []
    # the explicit property allows it in any spelling
    await h.sql("CREATE TASK c AFTER r1, r2 AFTER_ANY_GRAPH = TRUE AS SELECT 1")
    # and taking it away again is refused while the predecessors are in two graphs
    with pytest.raises(GraphError):
        await h.sql("ALTER TASK c SET AFTER_ANY_GRAPH = FALSE")


async def test_in_one_graph_the_databend_task_is_also_run_on_its_own(harness: Harness) -> None:
    """Databend has no graph runs: a task after two tasks of one graph runs after both succeeded too."""
    h = harness
    await h.sql("CREATE TABLE log (task VARCHAR)")
    await h.sql(
        "CREATE TASK root WAREHOUSE = 'default' SCHEDULE = 10 SECOND AS INSERT INTO log VALUES ('root')"
    )
    await h.sql("CREATE TASK a WAREHOUSE = 'default' AFTER 'root' AS INSERT INTO log VALUES ('a')")
    await h.sql("CREATE TASK b WAREHOUSE = 'default' AFTER 'root' AS INSERT INTO log VALUES ('b')")
    await h.sql("CREATE TASK c WAREHOUSE = 'default' AFTER 'a', 'b' AS INSERT INTO log VALUES ('c')")
    await h.engine.execute(
        "ALTER TASK c RESUME; ALTER TASK b RESUME; ALTER TASK a RESUME; ALTER TASK root RESUME"
    )
    await run_until(h, 11)
    rows = await h.rows("SELECT task FROM log")
    assert sorted(r[0] for r in rows) == ["a", "b", "c", "root"]
    [(group_a, group_c)] = await h.rows(
        "SELECT max(CASE WHEN name = 'a' THEN graph_run_group_id END), "
        "max(CASE WHEN name = 'c' THEN coalesce(graph_run_group_id, 'none') END) FROM system.task_history"
    )
    assert group_a is not None and group_c == "none"


async def test_predecessors_written_as_strings_are_the_databend_way(harness: Harness) -> None:
    # databendlabs/databend tests/task/test-private-task.sh: no WAREHOUSE, the predecessors as
    # strings (Databend's grammar: AFTER <string>, ...), each in a graph of its own
    h = harness
    await h.engine.execute(ROOTS)
    await h.engine.execute(
        "CREATE TASK my_task_3 AFTER 'r1', 'r2' AS INSERT INTO log VALUES ('my_task_3');"
        " ALTER TASK my_task_3 RESUME; ALTER TASK r1 RESUME; ALTER TASK r2 RESUME"
    )
    await started(h, 3)
    await run_until(h, 16)
    assert await h.history("my_task_3") == [(15.0, "SUCCEEDED", None, "TRIGGER")]
