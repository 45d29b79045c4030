"""CREATE TASK: property mapping, leniency, spelling detection, names, WHEN/AS boundaries, bodies."""

from __future__ import annotations

import pytest

from tasksql.errors import ScheduleError, TasksqlError, ValidationError
from tasksql.model import (
    CatchUp,
    ClassBody,
    CronSchedule,
    CustomSchedule,
    DayNumbering,
    DelaySchedule,
    DstPolicy,
    IntervalSchedule,
    LocationKind,
    MaintenanceBody,
    MaintenanceKind,
    OnError,
    OverlapPolicy,
    ProcedureBody,
    QualifiedName,
    RunOn,
    Spelling,
    SqlBody,
    TaskDef,
)
from tasksql.sql import parse, parse_one
from tasksql.sql.statements import CloneTask, CreateTask


def create(text: str) -> CreateTask:
    stmt = parse_one(text)
    assert isinstance(stmt, CreateTask)
    return stmt


def task(text: str) -> TaskDef:
    return create(text).definition


# --- properties ------------------------------------------------------------------------------------


def test_every_snowflake_property_maps_onto_its_field() -> None:
    t = task(
        """CREATE TASK t
        WAREHOUSE = "MyWH"
        SCHEDULE = '5 MINUTES'
        CONFIG = $${"a": 1}$$
        OVERLAP_POLICY = ALLOW_ALL_OVERLAP
        USER_TASK_TIMEOUT_MS = 1500
        SUSPEND_TASK_AFTER_NUM_FAILURES = 3
        TASK_AUTO_RETRY_ATTEMPTS = 2
        ERROR_INTEGRATION = 'Err_Hook'
        SUCCESS_INTEGRATION = ok_hook
        LOG_LEVEL = debug
        COMMENT = 'it''s'
        USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS = 15
        AS SELECT 1"""
    )
    assert t == TaskDef(
        name=QualifiedName("t"),
        body=SqlBody("SELECT 1"),
        warehouse="mywh",
        schedule=IntervalSchedule(300_000),
        config='{"a": 1}',
        overlap_policy=OverlapPolicy.ALLOW_ALL_OVERLAP,
        timeout_ms=1500,
        suspend_after_failures=3,
        auto_retry_attempts=2,
        error_integration="err_hook",
        success_integration="ok_hook",
        log_level="DEBUG",
        comment="it's",
        min_trigger_interval_s=15,
    )


def test_extension_properties() -> None:
    t = task(
        """CREATE TASK t SCHEDULE = 'USING CRON 0 9 * * * UTC' DST_POLICY = 'SNOWFLAKE' CATCH_UP = ALL
        CATCH_UP_WINDOW = '2 hours' HISTORY_RETENTION = '7 days' MAX_CONCURRENT_RUNS = 3
        TASK_AUTO_RETRY_DELAY = '30s' TASK_AUTO_RETRY_BACKOFF = 1.5 TASK_AUTO_RETRY_MAX_DELAY = '10 MINUTES'
        TASK_AUTO_RETRY_ON = ('57014', 'xx%') AS SELECT 1"""
    )
    assert t.dst_policy is DstPolicy.SNOWFLAKE
    assert t.catch_up is CatchUp.ALL
    assert (t.catch_up_window_ms, t.history_retention_ms) == (7_200_000, 604_800_000)
    assert t.max_concurrent_runs == 3
    assert (t.retry_delay_ms, t.retry_backoff, t.retry_max_delay_ms) == (30_000, 1.5, 600_000)
    assert t.retry_on == ("57014", "XX%")


@pytest.mark.parametrize(("value", "policy"), [("TRUE", "ALLOW_CHILD_OVERLAP"), ("FALSE", "NO_OVERLAP")])
def test_allow_overlapping_execution_maps_to_overlap_policy(value: str, policy: str) -> None:
    t = task(f"CREATE TASK t ALLOW_OVERLAPPING_EXECUTION = {value} AS SELECT 1")
    assert t.overlap_policy is OverlapPolicy(policy)


def test_agreeing_overlap_spellings_are_accepted() -> None:
    text = "CREATE TASK t ALLOW_OVERLAPPING_EXECUTION = TRUE OVERLAP_POLICY = ALLOW_CHILD_OVERLAP AS SELECT 1"
    assert task(text).overlap_policy is OverlapPolicy.ALLOW_CHILD_OVERLAP


def test_timeout_and_user_task_timeout_ms_set_the_same_field() -> None:
    assert task("CREATE TASK t TIMEOUT 2s AS SELECT 1").timeout_ms == 2000
    assert task("CREATE TASK t TIMEOUT = '1 minute' AS SELECT 1").timeout_ms == 60_000
    assert task("CREATE TASK t USER_TASK_TIMEOUT_MS = 2000 AS SELECT 1").timeout_ms == 2000


def test_unknown_keys_are_session_parameters_kept_as_literal_text() -> None:
    t = task(
        "CREATE TASK t TIMEZONE = 'Asia/Tokyo', Query_Tag = 'x' AUTOCOMMIT = true LOCK_TIMEOUT = -1 AS SELECT 1"
    )
    assert t.session_params == (
        ("timezone", "'Asia/Tokyo'"),
        ("query_tag", "'x'"),
        ("autocommit", "true"),
        ("lock_timeout", "-1"),
    )


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("SCHEDUEL", "SCHEDULE"),
        ("COMENT", "COMMENT"),
        ("wharehouse", "WAREHOUSE"),
        ("LOG_LEVLE", "LOG_LEVEL"),
    ],
)
def test_near_misses_of_known_properties_are_errors_with_a_suggestion(key: str, suggestion: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse(f"CREATE TASK t {key} = 'x' AS SELECT 1")
    assert info.value.code == "UNKNOWN_PROPERTY"
    assert info.value.expected == (suggestion,)
    assert f"did you mean {suggestion}?" in info.value.message


def test_tags_and_contacts() -> None:
    t = task(
        "CREATE TASK t TAG (Cost_Center = 'a', db.s.Owner = 'b') WITH CONTACT (steward = team) AS SELECT 1"
    )
    assert t.tags == (("cost_center", "'a'"), ("db.s.owner", "'b'"))
    assert t.contacts == (("steward", "team"),)


def test_config_must_be_json() -> None:
    with pytest.raises(ValidationError) as info:
        parse("CREATE TASK t CONFIG = '{oops' AS SELECT 1")
    # the error points inside the string, at what the JSON decoder could not read (after "{")
    assert (info.value.code, info.value.column) == ("INVALID_VALUE", 26)


# --- schedules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "SCHEDULE = '5 MINUTE'",
        "SCHEDULE = '5 minutes'",
        "SCHEDULE = '5m'",
        "SCHEDULE = 5 MINUTE",
        "SCHEDULE = 5 MINUTES",
        "SCHEDULE 5m",
        "SCHEDULE '5 min'",
        "SCHEDULE = 300 SECOND",
        "SCHEDULE = 300000ms",
        "ON SCHEDULE EVERY 5 MINUTES",
        "ON SCHEDULE EVERY '5 minutes'",
        "SCHEDULE = EVERY 5 MINUTES",
    ],
)
def test_fixed_rate_spellings(schedule: str) -> None:
    body = "PROCEDURE p" if schedule.startswith("ON") else "AS SELECT 1"
    assert task(f"CREATE TASK t {schedule} {body}").schedule == IntervalSchedule(300_000)


def test_fractional_and_large_units() -> None:
    assert task("CREATE TASK t SCHEDULE = '1.5 hours' AS SELECT 1").schedule == IntervalSchedule(5_400_000)
    assert task("CREATE TASK t SCHEDULE 1d AS SELECT 1").schedule == IntervalSchedule(86_400_000)
    assert task("CREATE TASK t SCHEDULE 500ms AS SELECT 1").schedule == IntervalSchedule(500)


@pytest.mark.parametrize(
    ("schedule", "spec"),
    [
        (
            "SCHEDULE = 'USING CRON 0 9 * * * America/Los_Angeles'",
            CronSchedule("0 9 * * *", "America/Los_Angeles"),
        ),
        ("SCHEDULE = 'USING CRON  0   9 * * MON-FRI  UTC'", CronSchedule("0 9 * * MON-FRI", "UTC")),
        ("SCHEDULE = 'USING CRON 0 0 9 * * *'", CronSchedule("0 0 9 * * *", "UTC")),
        (
            "SCHEDULE = USING CRON '0 0 0 * * *' 'Asia/Tokyo'",
            CronSchedule("0 0 0 * * *", "Asia/Tokyo", DayNumbering.DATABEND),
        ),
        ("SCHEDULE = USING CRON '0 5 * * *'", CronSchedule("0 5 * * *", "UTC")),
        ("SCHEDULE '*/5 * * * *'", CronSchedule("*/5 * * * *", "UTC")),
        ("SCHEDULE = '@daily'", CronSchedule("@daily", "UTC")),
        ("SCHEDULE = 'USING CRON @hourly Etc/GMT+5'", CronSchedule("@hourly", "Etc/GMT+5")),
        ("ON SCHEDULE CRON 0 */5 9-17 ? * MON-FRI", CronSchedule("0 */5 9-17 ? * MON-FRI", "UTC")),
        ("ON SCHEDULE CRON 0 0 12 L * *", CronSchedule("0 0 12 L * *", "UTC")),
        ("ON SCHEDULE CRON 0 0 12 ? * 5#2", CronSchedule("0 0 12 ? * 5#2", "UTC")),
        ("ON SCHEDULE CRON '0 0 9 * * *' 'Europe/Berlin'", CronSchedule("0 0 9 * * *", "Europe/Berlin")),
    ],
)
def test_cron_spellings(schedule: str, spec: CronSchedule) -> None:
    body = "PROCEDURE p" if schedule.startswith("ON") else "AS SELECT 1"
    assert task(f"CREATE TASK t {schedule} {body}").schedule == spec


def test_unquoted_voltdb_cron_stops_at_the_next_clause() -> None:
    t = task("CREATE TASK t ON SCHEDULE CRON 0 0 0 * * * PROCEDURE p ON ERROR LOG")
    assert t.schedule == CronSchedule("0 0 0 * * *", "UTC")
    assert t.on_error is OnError.LOG


def test_delay_and_custom_schedules() -> None:
    assert task("CREATE TASK t SCHEDULE = DELAY '30 seconds' AS SELECT 1").schedule == DelaySchedule(30_000)
    assert task("CREATE TASK t ON SCHEDULE DELAY 2 MINUTES PROCEDURE p").schedule == DelaySchedule(120_000)
    t = task("CREATE TASK t ON SCHEDULE FROM CLASS mytasks.NoHolidays WITH (1, 'x') PROCEDURE p")
    assert t.schedule == CustomSchedule("mytasks.NoHolidays", ("1", "'x'"))


def test_cron_error_points_at_the_field_inside_the_string() -> None:
    with pytest.raises(ScheduleError) as info:
        parse("CREATE TASK t\n  SCHEDULE = 'USING CRON 0 9 32 * * UTC'\nAS SELECT 1")
    err = info.value
    assert (err.code, err.line, err.column) == ("INVALID_CRON", 2, 30)
    assert err.span is not None and err.source is not None
    assert err.source[err.span.start : err.span.end] == "32"


def test_cron_error_points_at_the_field_in_unquoted_voltdb_cron() -> None:
    text = "CREATE TASK t ON SCHEDULE CRON 0   0  99 * * * PROCEDURE p"
    with pytest.raises(ScheduleError) as info:
        parse(text)
    span = info.value.span
    assert span is not None and text[span.start : span.end] == "99"


def test_time_zone_error_points_at_the_zone() -> None:
    text = "CREATE TASK t SCHEDULE = USING CRON '0 9 * * *' 'Europe/Berlim' AS SELECT 1"
    with pytest.raises(ScheduleError) as info:
        parse(text)
    span = info.value.span
    assert info.value.code == "UNKNOWN_TIMEZONE"
    assert span is not None and text[span.start : span.end] == "'Europe/Berlim'"


# --- spelling detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("CREATE TASK t SCHEDULE = '1 MINUTE' AS SELECT 1", Spelling.SNOWFLAKE),
        ("CREATE TASK t SCHEDULE = 'USING CRON 0 9 * * * UTC' AS SELECT 1", Spelling.SNOWFLAKE),
        ("CREATE TASK t AFTER a AS SELECT 1", Spelling.SNOWFLAKE),
        ("CREATE TASK t SCHEDULE = 2 MINUTE AS SELECT 1", Spelling.DATABEND),
        ("CREATE TASK t SCHEDULE = USING CRON '0 0 0 * * *' 'UTC' AS SELECT 1", Spelling.DATABEND),
        ("CREATE TASK t SCHEDULE 5s AS SELECT 1", Spelling.TIMEPLUS),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' TIMEOUT 2s AS SELECT 1", Spelling.TIMEPLUS),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' INTO s AS SELECT 1", Spelling.TIMEPLUS),
        ("CREATE TASK t SCHEDULE USING CRON '0 9 * * *' AS SELECT 1", Spelling.TIMEPLUS),
        ("CREATE TASK t ON SCHEDULE EVERY 5 SECONDS PROCEDURE p", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' PROCEDURE p", Spelling.VOLTDB),
        ("CREATE TASK t FROM CLASS a.B", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' AS SELECT 1 ", Spelling.SNOWFLAKE),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' ON ERROR LOG AS SELECT 1", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' RUN ON HOSTS AS SELECT 1", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' AS USER u AS SELECT 1", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE = '5 SECONDS' DISABLE AS SELECT 1", Spelling.VOLTDB),
        ("CREATE TASK t SCHEDULE 5s ENABLE AS SELECT 1", Spelling.VOLTDB),
        ("CREATE TASK TYPE rebalance", Spelling.OCIENT),
        ("CREATE TASK t TYPE rebalance SCHEDULE 1h", Spelling.OCIENT),
        ("CREATE TASK t TYPE rebalance SCHEDULE = 1 MINUTE", Spelling.OCIENT),
    ],
)
def test_spelling_detection(text: str, spelling: Spelling) -> None:
    assert create(text).spelling is spelling


def test_voltdb_tasks_default_to_on_error_stop_others_do_not() -> None:
    assert task("CREATE TASK t ON SCHEDULE EVERY 1 SECONDS PROCEDURE p").on_error is OnError.STOP
    assert (
        task("CREATE TASK t ON SCHEDULE EVERY 1 SECONDS PROCEDURE p ON ERROR IGNORE").on_error
        is OnError.IGNORE
    )
    assert task("CREATE TASK t SCHEDULE = '1 SECONDS' AS SELECT 1").on_error is None


def test_voltdb_clauses() -> None:
    stmt = create(
        "CREATE TASK t ON SCHEDULE EVERY 5 SECONDS PROCEDURE app.Cleanup WITH (1, 'a', -2.5, NULL) "
        'ON ERROR LOG RUN ON PARTITIONS AS USER "Admin" DISABLE'
    )
    t = stmt.definition
    assert t.body == ProcedureBody(
        procedure=QualifiedName("cleanup", "app"), args=("1", "'a'", "-2.5", "NULL")
    )
    assert (t.on_error, t.run_on, t.run_as_user) == (OnError.LOG, RunOn.PARTITIONS, "Admin")
    assert stmt.enabled is False
    assert create("CREATE TASK t FROM CLASS x.Y ENABLE").enabled is True
    assert create("CREATE TASK t ON SCHEDULE EVERY 5 SECONDS PROCEDURE p").enabled is None


def test_voltdb_class_bodies() -> None:
    assert task(
        "CREATE TASK t ON SCHEDULE EVERY 1 MINUTES PROCEDURE FROM CLASS gen.Actions WITH (3)"
    ).body == (ClassBody("gen.Actions", ("3",), schedules=False))
    assert task("CREATE TASK t FROM CLASS 'gen.mod:Scheduler' WITH ('x')").body == (
        ClassBody("gen.mod:Scheduler", ("'x'",), schedules=True)
    )


# --- Ocient ----------------------------------------------------------------------------------------


def test_ocient_anonymous_task_has_an_empty_placeholder_name() -> None:
    stmt = create(
        "CREATE TASK TYPE check_disk LOCATION NODE 'my_node1' OPTIONS sample = true, storage_ids = [ 'a' ]"
    )
    assert stmt.name_given is False
    assert stmt.definition.name == QualifiedName("")
    assert stmt.definition.body == MaintenanceBody(
        kind=MaintenanceKind.CHECK_DISK,
        location=LocationKind.NODE,
        location_name="my_node1",
        options=(("sample", "true"), ("storage_ids", "[ 'a' ]")),
    )


def test_ocient_named_task_and_default_location() -> None:
    stmt = create("CREATE TASK my_rebuild TYPE REBUILD")
    assert stmt.name_given is True
    assert stmt.definition.body == MaintenanceBody(kind=MaintenanceKind.REBUILD)


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("MyTask", QualifiedName("mytask")),
        ('"MyTask"', QualifiedName("MyTask")),
        ("Db.Sch.T", QualifiedName("t", "sch", "db")),
        ('"Db".s."T"', QualifiedName("T", "s", "Db")),
        ("'Db.S.Name'", QualifiedName("name", "s", "db")),
        ('"select"', QualifiedName("select")),
    ],
)
def test_name_folding(written: str, name: QualifiedName) -> None:
    assert task(f"CREATE TASK {written} AS SELECT 1").name == name


def test_predecessor_names_bare_quoted_or_strings() -> None:
    stmt = create("CREATE TASK t AFTER Root, \"Mixed\", 'db.s.Other' AS SELECT 1")
    assert stmt.definition.after == (
        QualifiedName("root"),
        QualifiedName("Mixed"),
        QualifiedName("other", "s", "db"),
    )
    assert {k for k in stmt.spans if k.startswith("after.")} == {"after.0", "after.1", "after.2"}


def test_keywords_are_not_names() -> None:
    with pytest.raises(TasksqlError) as info:
        parse("CREATE TASK WHEN AS SELECT 1")
    assert info.value.code == "MISSING_NAME"


# --- WHEN and bodies -------------------------------------------------------------------------------


def test_when_runs_to_the_top_level_as() -> None:
    t = task("CREATE TASK t WHEN CAST(x AS INT) > 0 AND y IN (SELECT a AS b FROM q) AS SELECT 1 AS one")
    assert t.when == "CAST(x AS INT) > 0 AND y IN (SELECT a AS b FROM q)"
    assert t.body == SqlBody("SELECT 1 AS one")


def test_when_is_verbatim() -> None:
    t = task("CREATE TASK t WHEN   STREAM_STATUS('db.s')  =  TRUE\nAS SELECT 1")
    assert t.when == "STREAM_STATUS('db.s')  =  TRUE"


def test_body_is_verbatim_after_as() -> None:
    text = "CREATE TASK t AS\n  INSERT INTO t  -- keep this\n  SELECT 'a;b' /* x */ FROM s  ;  "
    (stmt,) = parse(text)
    assert isinstance(stmt, CreateTask)
    assert stmt.definition.body == SqlBody("INSERT INTO t  -- keep this\n  SELECT 'a;b' /* x */ FROM s")


def test_a_lone_dollar_quoted_body_is_unwrapped() -> None:
    assert task("CREATE TASK t AS $$\n  SELECT 1; SELECT 2\n$$").body == SqlBody("SELECT 1; SELECT 2")
    assert task("CREATE TASK t AS $fn$ SELECT '$$' $fn$").body == SqlBody("SELECT '$$'")
    assert task("CREATE TASK t AS $$a$$ || 'b'").body == SqlBody("$$a$$ || 'b'")


def test_begin_end_body() -> None:
    t = task(
        "CREATE TASK t SCHEDULE = 1 MINUTE AS BEGIN\n  INSERT INTO a VALUES (1);\n  DELETE FROM b;\nEND;"
    )
    assert t.body == SqlBody("BEGIN\n  INSERT INTO a VALUES (1);\n  DELETE FROM b;\nEND")
    assert isinstance(t.body, SqlBody) and t.body.is_script


def test_spans_of_the_clauses_the_engine_checks() -> None:
    text = (
        "CREATE TASK db.t WAREHOUSE = wh ERROR_INTEGRATION = e SUCCESS_INTEGRATION = s AFTER a, b AS SELECT 1"
    )
    stmt = create(text)
    spans = stmt.spans
    assert {k: text[v.start : v.end] for k, v in spans.items()} == {
        "name": "db.t",
        "warehouse": "wh",
        "error_integration": "e",
        "success_integration": "s",
        "after.0": "a",
        "after.1": "b",
        "body": "SELECT 1",
    }
    fin = create("CREATE TASK f FINALIZE = root AS SELECT 1")
    assert fin.text[fin.spans["finalize"].start : fin.spans["finalize"].end] == "root"
    sched = create("CREATE TASK f SCHEDULE = '1 minute' AS SELECT 1")
    assert sched.text[sched.spans["schedule"].start : sched.spans["schedule"].end] == "'1 minute'"


def test_spans_are_absolute_in_a_script() -> None:
    text = "SELECT 1;\n\nCREATE TASK t WAREHOUSE = wh AS SELECT 2;"
    stmt = parse(text)[1]
    assert stmt.span.line == 3
    assert text[stmt.spans["warehouse"].start : stmt.spans["warehouse"].end] == "wh"
    assert stmt.spans["warehouse"].line == 3


def test_create_flags() -> None:
    assert create("CREATE OR REPLACE TASK t AS SELECT 1").or_replace
    assert create("CREATE OR ALTER TASK t AS SELECT 1").or_alter
    assert create("CREATE TASK IF NOT EXISTS t AS SELECT 1").if_not_exists


def test_clone() -> None:
    stmt = parse_one("CREATE OR REPLACE TASK a.b CLONE c COPY GRANTS")
    assert stmt == CloneTask(
        span=stmt.span, name=QualifiedName("b", "a"), source=QualifiedName("c"), or_replace=True
    )


def test_a_broken_create_task_is_an_error_not_a_passthrough() -> None:
    with pytest.raises(TasksqlError):
        parse("CREATE TASK t SCHEDULE = '5 minutes' AS")


def test_databend_after_several_tasks_joins_graphs() -> None:
    """Databend's docs: ``AFTER 'task2', 'task3'`` with ``WAREHOUSE = '<string>'`` is Databend's
    spelling, and a task after several tasks written so joins graphs; written the Snowflake way
    (no string warehouse) it keeps Snowflake's one-graph rule."""
    [databend] = parse("CREATE TASK t WAREHOUSE = 'MyWarehouse' AFTER 'task2', 'task3' AS SELECT 1")
    assert databend.spelling is Spelling.DATABEND
    assert databend.definition.after_any_graph
    [one] = parse("CREATE TASK t WAREHOUSE = 'wh' AFTER 'task2' AS SELECT 1")
    assert not one.definition.after_any_graph  # one predecessor: a child of its graph
    [snowflake] = parse("CREATE TASK t WAREHOUSE = wh AFTER task2, task3 AS SELECT 1")
    assert snowflake.spelling is Spelling.SNOWFLAKE
    assert not snowflake.definition.after_any_graph
