"""The renderer: the canonical CREATE TASK, values, and spelling-preserving statements."""

from __future__ import annotations

import pytest

from tasksql.model import (
    ClassBody,
    CronSchedule,
    DelaySchedule,
    IntervalSchedule,
    MaintenanceBody,
    MaintenanceKind,
    OnError,
    OverlapPolicy,
    ProcedureBody,
    QualifiedName,
    SqlBody,
    TaskDef,
)
from tasksql.sql import parse_one, render, render_task
from tasksql.sql.render import render_body, render_interval
from tasksql.sql.statements import CreateTask


def test_canonical_create_task_layout() -> None:
    task = TaskDef(
        name=QualifiedName("refresh", "s", "db"),
        body=SqlBody("INSERT INTO t SELECT * FROM s"),
        schedule=CronSchedule("0 9 * * MON-FRI", "America/Los_Angeles"),
        warehouse="wh",
        overlap_policy=OverlapPolicy.ALLOW_CHILD_OVERLAP,
        timeout_ms=60_000,
        comment="it's",
        tags=(("team", "'etl'"),),
        session_params=(("timezone", "'UTC'"),),
        when="SYSTEM$STREAM_HAS_DATA('s')",
        retry_delay_ms=90_000,
    )
    assert render_task(task) == (
        "CREATE TASK db.s.refresh\n"
        "  WITH TAG (team = 'etl')\n"
        "  WAREHOUSE = wh\n"
        "  SCHEDULE = USING CRON '0 9 * * MON-FRI' 'America/Los_Angeles'\n"
        "  OVERLAP_POLICY = ALLOW_CHILD_OVERLAP\n"
        "  USER_TASK_TIMEOUT_MS = 60000\n"
        "  TASK_AUTO_RETRY_DELAY = '90 SECONDS'\n"
        "  COMMENT = 'it''s'\n"
        "  TIMEZONE = 'UTC'\n"
        "  WHEN SYSTEM$STREAM_HAS_DATA('s')\n"
        "AS INSERT INTO t SELECT * FROM s"
    )


def test_canonical_voltdb_task_keeps_its_clauses() -> None:
    task = TaskDef(
        name=QualifiedName("nightly"),
        body=ProcedureBody(procedure=QualifiedName("resetdailystats"), args=("1", "'x'")),
        schedule=DelaySchedule(5000),
        on_error=OnError.STOP,
        run_as_user="Ops",
    )
    assert render_task(task) == (
        "CREATE TASK nightly\n"
        "  SCHEDULE = DELAY '5 SECONDS'\n"
        "  ON ERROR STOP\n"
        '  AS USER "Ops"\n'
        "PROCEDURE resetdailystats WITH (1, 'x')"
    )
    assert parse_one(render_task(task)).definition == task  # type: ignore[attr-defined]


def test_anonymous_ocient_task_renders_type_first() -> None:
    task = TaskDef(name=QualifiedName(""), body=MaintenanceBody(kind=MaintenanceKind.REBALANCE),
                   schedule=IntervalSchedule(3_600_000))  # fmt: skip
    assert render_task(task) == "CREATE TASK TYPE rebalance LOCATION SYSTEM\n  SCHEDULE = '1 HOUR'"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1, "1 MILLISECOND"),
        (500, "500 MILLISECONDS"),
        (1000, "1 SECOND"),
        (90_000, "90 SECONDS"),
        (120_000, "2 MINUTES"),
        (3_600_000, "1 HOUR"),
        (5_400_000, "90 MINUTES"),
        (86_400_000 * 2, "2 DAYS"),
    ],
)
def test_render_interval_uses_the_largest_exact_unit(ms: int, text: str) -> None:
    assert render_interval(ms) == text


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (SqlBody("SELECT 1"), "AS SELECT 1"),
        (SqlBody("SELECT 1; SELECT 2"), "AS $$SELECT 1; SELECT 2$$"),
        (SqlBody("SELECT '$$'; SELECT 2"), "AS $q1$SELECT '$$'; SELECT 2$q1$"),
        (SqlBody("BEGIN SELECT 1; SELECT 2; END"), "AS BEGIN SELECT 1; SELECT 2; END"),
        (SqlBody("$$x$$"), "AS $q1$$$x$$$q1$"),
        (SqlBody("SELECT 1 -- trailing comment"), "AS $$SELECT 1 -- trailing comment$$"),
        (ProcedureBody(procedure=QualifiedName("p", "app")), "PROCEDURE app.p"),
        (ClassBody("m.C", ("1",)), "PROCEDURE FROM CLASS 'm.C' WITH (1)"),
        (ClassBody("m.C", schedules=True), "FROM CLASS 'm.C'"),
        (
            MaintenanceBody(kind=MaintenanceKind.REBUILD, options=(("segment_groups", "[ 53 ]"),)),
            "TYPE rebuild LOCATION SYSTEM OPTIONS segment_groups = [ 53 ]",
        ),
    ],
)
def test_render_body(body: object, text: str) -> None:
    assert render_body(body) == text  # type: ignore[arg-type]
    task = TaskDef(name=QualifiedName("t"), body=body)  # type: ignore[arg-type]
    assert parse_one(render_task(task)).definition.body == body  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "schedule_line"),
    [
        (
            "CREATE TASK t SCHEDULE = 'USING CRON 0 9 * * * UTC' AS SELECT 1",
            "SCHEDULE = 'USING CRON 0 9 * * * UTC'",
        ),
        ("CREATE TASK t SCHEDULE = '120 seconds' AS SELECT 1", "SCHEDULE = '2 MINUTES'"),
        ("CREATE TASK t SCHEDULE = 2 MINUTE AS SELECT 1", "SCHEDULE = 2 MINUTE"),
        ("CREATE TASK t SCHEDULE = 90 SECONDS AS SELECT 1", "SCHEDULE = 90 SECOND"),
        ("CREATE TASK t SCHEDULE 5s AS SELECT 1", "SCHEDULE 5s"),
        ("CREATE TASK t ON SCHEDULE CRON 0 0 0 * * * PROCEDURE p", "ON SCHEDULE CRON '0 0 0 * * *'"),
        ("CREATE TASK t ON SCHEDULE EVERY 2 HOURS PROCEDURE p", "ON SCHEDULE EVERY 2 HOURS"),
    ],
)
def test_render_keeps_the_spelling(text: str, schedule_line: str) -> None:
    stmt = parse_one(text)
    assert isinstance(stmt, CreateTask)
    rendered = render(stmt)
    assert f"\n  {schedule_line}\n" in rendered
    again = parse_one(rendered)
    assert isinstance(again, CreateTask) and again.spelling is stmt.spelling


def test_timeplus_timeout_stays_a_clause() -> None:
    rendered = render(parse_one("CREATE TASK t SCHEDULE 5s TIMEOUT 2s INTO s AS SELECT 1"))
    assert rendered == "CREATE TASK t\n  SCHEDULE 5s\n  TIMEOUT 2s\n  INTO s\nAS SELECT 1"


def test_names_are_quoted_only_when_needed() -> None:
    stmt = parse_one('CREATE TASK "My Db"."select".plain AFTER "Up", low AS SELECT 1')
    assert render(stmt).splitlines()[0] == 'CREATE TASK "My Db"."select".plain'
    assert '  AFTER "Up", low' in render(stmt)


def test_other_statements_render_canonically() -> None:
    cases = {
        "alter task  t  set  comment='x' , suspend_task_after_num_failures=0": (
            "ALTER TASK t SET COMMENT = 'x', SUSPEND_TASK_AFTER_NUM_FAILURES = 0"
        ),
        "system pause task db.t": "SYSTEM PAUSE TASK db.t",
        "drop task t if exists": "DROP TASK IF EXISTS t",
        "show tasks like 'a%' in database d": "SHOW TASKS LIKE 'a%' IN DATABASE d",
        "execute task t using config = '{}'": "EXECUTE TASK t USING CONFIG = $${}$$",
        "cancel task 'T'": "CANCEL TASK t",
        "create warehouse w": "CREATE WAREHOUSE w TYPE = duckdb",
        "create notification integration h webhook = (url = 'u')": (
            "CREATE NOTIFICATION INTEGRATION h TYPE = WEBHOOK ENABLED = TRUE WEBHOOK = (url = 'u', method = 'POST')"
        ),
        "create stream s (A Int, b string)": "CREATE STREAM s (a Int, b string)",
        "select  1": "select  1",
    }
    for text, expected in cases.items():
        assert render(parse_one(text)) == expected
