"""A body written ``EXECUTE IMMEDIATE $$ <script> $$`` (Snowflake's and Databend's spelling) runs
its script's statements as a ``BEGIN ... END`` body does: in order, in one transaction. Real
scheduler on a fake clock, real DuckDB warehouse and SQLite catalog."""

from __future__ import annotations

from sched_harness import Harness


async def test_the_script_of_execute_immediate_runs_as_a_script(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE log (step INTEGER)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS EXECUTE IMMEDIATE $$\n"
        "BEGIN\n  INSERT INTO log VALUES (1);\n  INSERT INTO log SELECT max(step) + 1 FROM log;\nEND;\n$$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    assert await h.rows("SELECT step FROM log ORDER BY step") == [(1,), (2,)]


async def test_a_failing_statement_of_the_script_undoes_the_ones_before(harness: Harness) -> None:
    h = harness
    await h.sql("CREATE TABLE log (step INTEGER)")
    await h.sql(
        "CREATE TASK t SCHEDULE = '10 SECONDS' AS EXECUTE IMMEDIATE $body$ "
        "BEGIN INSERT INTO log VALUES (1); SELECT * FROM no_such_table; END $body$"
    )
    await h.sql("ALTER TASK t RESUME")
    await h.tick(advance=10)
    [(state,)] = await h.rows("SELECT state FROM task_history(task_name => 't') WHERE state <> 'SCHEDULED'")
    assert state == "FAILED"
    assert await h.rows("SELECT count(*) FROM log") == [(0,)]
