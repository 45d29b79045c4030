"""Databend's ``SETTINGS ( ... ) <statement>`` in front of a task body (docs.databend.com
sql-commands/query-syntax/settings): the statement's settings are the run's session, on a real
DuckDB warehouse; SHOW CREATE TASK writes them as session parameters and reads back the same."""

from __future__ import annotations

from engine_runs import last_run, rows
from tasksql.engine import Engine


async def test_settings_of_the_body_apply_to_its_run_and_show_as_session_parameters(engine: Engine) -> None:
    await engine.execute("CREATE TABLE seen (tz VARCHAR)")
    await engine.execute(
        "CREATE TASK t WAREHOUSE = 'default' SCHEDULE = 1 MINUTE"
        " AS SETTINGS (timezone = 'Asia/Shanghai') INSERT INTO seen SELECT current_setting('TimeZone')"
    )
    await engine.execute("EXECUTE TASK t")
    assert (await last_run(engine, "t"))[0] == "SUCCEEDED"
    assert await rows(engine, "SELECT tz FROM seen") == [("Asia/Shanghai",)]
    [(_, shown)] = await rows(engine, "SHOW CREATE TASK t")
    assert "TIMEZONE = 'Asia/Shanghai'" in shown and "SETTINGS" not in shown
    await engine.execute(shown.replace("CREATE TASK t", "CREATE TASK t2", 1))
    [(_, again)] = await rows(engine, "SHOW CREATE TASK t2")
    assert again == shown.replace("CREATE TASK t", "CREATE TASK t2", 1)
