"""ALTER TASK actions, the smaller task statements, integrations, warehouses, streams, passthrough."""

from __future__ import annotations

from typing import Any

import pytest

from tasksql.errors import TasksqlError, ValidationError
from tasksql.model import (
    CronSchedule,
    IntegrationDef,
    OnError,
    OverlapPolicy,
    QualifiedName,
    RunOn,
    SqlBody,
    WarehouseDef,
    WarehouseType,
    Webhook,
)
from tasksql.sql import parse, parse_one
from tasksql.sql import statements as st


def action(text: str) -> Any:
    stmt = parse_one(text)
    assert isinstance(stmt, st.AlterTask)
    return stmt.action


# --- ALTER TASK ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ALTER TASK t RESUME", st.Resume()),
        ("ALTER TASK t SUSPEND", st.Suspend()),
        ("ALTER TASK t ENABLE", st.Resume(spelling="ENABLE")),
        ("ALTER TASK t DISABLE", st.Suspend(spelling="DISABLE")),
        ("SYSTEM PAUSE TASK t", st.Suspend(spelling="SYSTEM PAUSE TASK")),
        ("SYSTEM RESUME TASK t", st.Resume(spelling="SYSTEM RESUME TASK")),
        ("ALTER TASK t REMOVE WHEN", st.RemoveWhen()),
        ("ALTER TASK t UNSET FINALIZE", st.UnsetFinalize()),
        ("ALTER TASK t SET FINALIZE = db.root", st.SetFinalize(root=QualifiedName("root", "db"))),
        ("ALTER TASK t ALTER ON ERROR ignore", st.AlterOnError(policy=OnError.IGNORE)),
        ("ALTER TASK t MODIFY WHEN x > (1)", st.ModifyWhen(condition="x > (1)")),
        ("ALTER TASK t MODIFY AS $$SELECT 2$$", st.ModifyAs(body=SqlBody("SELECT 2"))),
        ("ALTER TASK t ADD AFTER a, 'B'", st.AddAfter(names=(QualifiedName("a"), QualifiedName("b")))),
        ("ALTER TASK t REMOVE AFTER a", st.RemoveAfter(names=(QualifiedName("a"),))),
    ],
)
def test_alter_actions(text: str, expected: object) -> None:
    assert action(text) == expected


def test_alter_if_exists_and_name() -> None:
    stmt = parse_one("ALTER TASK IF EXISTS db.s.t RESUME")
    assert isinstance(stmt, st.AlterTask)
    assert stmt.if_exists and stmt.name == QualifiedName("t", "s", "db")


def test_set_goes_through_the_property_table() -> None:
    a = action(
        "ALTER TASK t SET WAREHOUSE = 'WH', SCHEDULE = 'USING CRON 0 9 * * * Asia/Tokyo' "
        "ALLOW_OVERLAPPING_EXECUTION = TRUE TIMEOUT 5s RUN ON HOSTS INTO db.target "
        "timezone = 'UTC' TAG (a = 'x') CONTACT (steward = me)"
    )
    assert a == st.SetProperties(
        assignments=(
            ("warehouse", "wh"),
            ("schedule", CronSchedule("0 9 * * *", "Asia/Tokyo")),
            ("overlap_policy", OverlapPolicy.ALLOW_CHILD_OVERLAP),
            ("timeout_ms", 5000),
            ("run_on", RunOn.HOSTS),
            ("into", QualifiedName("target", "db")),
        ),
        session_params=(("timezone", "'UTC'"),),
        tags=(("a", "'x'"),),
        contacts=(("steward", "me"),),
    )


def test_set_validates_like_create() -> None:
    with pytest.raises(ValidationError) as info:
        parse("ALTER TASK t SET SCHEDULE = '0 seconds'")
    assert info.value.code == "INVALID_INTERVAL"
    with pytest.raises(ValidationError) as info:
        parse("ALTER TASK t SET WAREHOUSE = a, USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL'")
    assert info.value.code == "CONFLICTING_OPTIONS"
    with pytest.raises(TasksqlError) as info:
        parse("ALTER TASK t SET")
    assert info.value.code == "SYNTAX_ERROR"


def test_set_tag_without_parentheses() -> None:
    assert action("ALTER TASK t SET TAG a = 'x', b.c = 'y'") == st.SetProperties(
        tags=(("a", "'x'"), ("b.c", "'y'"))
    )


def test_unset_maps_keys_to_fields_and_keeps_session_parameters_and_tags_apart() -> None:
    a = action(
        "ALTER TASK t UNSET SCHEDULE, ALLOW_OVERLAPPING_EXECUTION, OVERLAP_POLICY, TIMEOUT, Query_Tag, TAG (x)"
    )
    assert a == st.UnsetProperties(
        fields=("schedule", "overlap_policy", "timeout_ms"),
        session_params=("query_tag",),
        tags=("x",),
    )


def test_unset_rejects_clauses_that_are_not_properties() -> None:
    with pytest.raises(TasksqlError) as info:
        parse("ALTER TASK t UNSET AFTER")
    assert info.value.code == "SYNTAX_ERROR"
    with pytest.raises(ValidationError) as info:
        parse("ALTER TASK t UNSET SCHEDULE, FINALIZE")
    assert info.value.code == "CONFLICTING_OPTIONS"


def test_alter_spans() -> None:
    text = "ALTER TASK t ADD AFTER a, b"
    stmt = parse_one(text)
    assert {k: text[v.start : v.end] for k, v in stmt.spans.items()} == {
        "name": "t",
        "after.0": "a",
        "after.1": "b",
    }
    text = "ALTER TASK t SET WAREHOUSE = wh"
    stmt = parse_one(text)
    assert text[stmt.spans["warehouse"].start : stmt.spans["warehouse"].end] == "wh"


# --- DROP / SHOW / DESCRIBE / EXECUTE / CANCEL -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "if_exists"),
    [("DROP TASK t", False), ("DROP TASK IF EXISTS t", True), ("DROP TASK t IF EXISTS", True)],
)
def test_drop_task(text: str, if_exists: bool) -> None:
    stmt = parse_one(text)
    assert isinstance(stmt, st.DropTask)
    assert (stmt.name, stmt.if_exists) == (QualifiedName("t"), if_exists)


def test_show_tasks_clauses_in_any_order() -> None:
    stmt = parse_one("SHOW TERSE TASKS LIMIT 5 FROM 'm' ROOT ONLY STARTS WITH 'ab' IN SCHEMA d.s LIKE '%x%'")
    assert stmt == st.ShowTasks(
        span=stmt.span,
        terse=True,
        like="%x%",
        in_scope=("SCHEMA", QualifiedName("s", "d")),
        starts_with="ab",
        root_only=True,
        limit=5,
        from_name="m",
    )


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("IN ACCOUNT", ("ACCOUNT", None)),
        ("IN DATABASE", ("DATABASE", None)),
        ("IN DATABASE Analytics", ("DATABASE", QualifiedName("analytics"))),
        ("IN SCHEMA", ("SCHEMA", None)),
        ("IN analytics", ("DATABASE", QualifiedName("analytics"))),
    ],
)
def test_show_tasks_scopes(scope: str, expected: object) -> None:
    stmt = parse_one(f"SHOW TASKS {scope}")
    assert isinstance(stmt, st.ShowTasks)
    assert stmt.in_scope == expected


def test_describe_show_create_execute_cancel() -> None:
    assert isinstance(parse_one("DESC TASK t"), st.DescribeTask)
    assert isinstance(parse_one("DESCRIBE TASK t"), st.DescribeTask)
    assert parse_one("SHOW CREATE TASK db.t") == st.ShowCreateTask(
        span=parse_one("x").span, name=QualifiedName("t", "db")
    )
    ex = parse_one("EXECUTE TASK t USING CONFIG = '{\"a\": 2}' RETRY GRAPH RUN GROUP 'g1'")
    assert isinstance(ex, st.ExecuteTask)
    assert (ex.using_config, ex.retry_group, ex.retry_last) == ('{"a": 2}', "g1", False)
    assert parse_one("EXECUTE TASK t RETRY LAST").retry_last is True  # type: ignore[attr-defined]
    for text in ("CANCEL TASK 'My_Task'", "CANCEL TASK my_task", "CANCEL TASK ('my_task')"):
        stmt = parse_one(text)
        assert isinstance(stmt, st.CancelTask) and stmt.name == QualifiedName("my_task")


# --- integrations, warehouses, streams ------------------------------------------------------------


def test_create_integration() -> None:
    stmt = parse_one(
        'CREATE OR REPLACE NOTIFICATION INTEGRATION "My_Hook" TYPE = webhook ENABLED = FALSE '
        "WEBHOOK = (url = 'https://x', method = 'put', authorization_header = 'Bearer t', signing_secret = 's') "
        "COMMENT = 'c'"
    )
    assert isinstance(stmt, st.CreateIntegration)
    assert stmt.or_replace
    assert stmt.definition == IntegrationDef(
        name="my_hook",
        type="WEBHOOK",
        enabled=False,
        webhook=Webhook(url="https://x", method="PUT", authorization_header="Bearer t", signing_secret="s"),
        comment="c",
    )


def test_integration_defaults() -> None:
    stmt = parse_one("CREATE NOTIFICATION INTEGRATION h WEBHOOK = (url = 'u')")
    assert isinstance(stmt, st.CreateIntegration)
    assert stmt.definition == IntegrationDef(name="h", webhook=Webhook(url="u"))


def test_alter_integration() -> None:
    stmt = parse_one(
        "ALTER NOTIFICATION INTEGRATION h SET ENABLED = TRUE WEBHOOK = (url = 'v') METHOD = 'get'"
    )
    assert isinstance(stmt, st.AlterIntegration)
    # WEBHOOK = (...) is a patch of the fields it names (Databend), one assignment per field
    assert stmt.assignments == (("enabled", True), ("url", "v"), ("method", "GET"))
    stmt = parse_one("ALTER NOTIFICATION INTEGRATION IF EXISTS h UNSET COMMENT, SIGNING_SECRET")
    assert isinstance(stmt, st.AlterIntegration)
    assert stmt.unset == ("comment", "signing_secret") and stmt.if_exists


def test_integration_small_statements() -> None:
    assert parse_one("DROP NOTIFICATION INTEGRATION IF EXISTS H") == st.DropIntegration(
        span=parse_one("x").span, name="h", if_exists=True
    )
    assert isinstance(parse_one("DESCRIBE NOTIFICATION INTEGRATION h"), st.DescribeIntegration)
    stmt = parse_one("SHOW NOTIFICATION INTEGRATIONS LIKE 'h%'")
    assert isinstance(stmt, st.ShowIntegrations) and stmt.like == "h%"


def test_warehouses() -> None:
    stmt = parse_one("CREATE WAREHOUSE 'PG' TYPE = PostgreSQL URL = 'postgresql://x/db' MAX_CONCURRENCY = 2")
    assert isinstance(stmt, st.CreateWarehouse)
    assert stmt.definition == WarehouseDef(
        name="pg", type=WarehouseType.POSTGRES, url="postgresql://x/db", max_concurrency=2
    )
    alter = parse_one("ALTER WAREHOUSE pg SET MAX_CONCURRENCY = 3, TYPE = sqlite COMMENT = 'x'")
    assert isinstance(alter, st.AlterWarehouse)
    assert alter.assignments == (("max_concurrency", 3), ("type", WarehouseType.SQLITE), ("comment", "x"))
    assert isinstance(parse_one("SHOW WAREHOUSES"), st.ShowWarehouses)
    assert isinstance(parse_one("DROP WAREHOUSE pg"), st.DropWarehouse)


def test_streams() -> None:
    stmt = parse_one(
        'CREATE STREAM db.s (ts datetime64(3), "Tags" array(string), v decimal(10, 2) DEFAULT 0)'
    )
    assert isinstance(stmt, st.CreateStream)
    assert stmt.name == QualifiedName("s", "db")
    assert stmt.columns == (
        ("ts", "datetime64(3)"),
        ("Tags", "array(string)"),
        ("v", "decimal(10, 2) DEFAULT 0"),
    )
    on = parse_one("CREATE STREAM s ON TABLE t APPEND_ONLY = TRUE")
    assert isinstance(on, st.CreateStream) and on.on_table == QualifiedName("t")


# --- passthrough -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM t",
        "CREATE TABLE task (id INT)",
        "DESCRIBE task_runs",
        "SHOW TABLES",
        "EXECUTE prepared_stmt",
        "BEGIN",
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        "SYSTEM FLUSH LOGS",
    ],
)
def test_everything_else_is_passed_through_verbatim(text: str) -> None:
    stmt = parse_one(text)
    assert isinstance(stmt, st.Passthrough)
    assert stmt.text == text


def test_parse_one_needs_exactly_one_statement() -> None:
    with pytest.raises(TasksqlError) as info:
        parse_one("SELECT 1; SELECT 2")
    assert (info.value.code, info.value.column) == ("SYNTAX_ERROR", 11)
    with pytest.raises(TasksqlError):
        parse_one("  -- nothing\n")


def test_an_error_anywhere_in_a_script_fails_the_whole_parse() -> None:
    with pytest.raises(TasksqlError) as info:
        parse("SELECT 1;\nCREATE TASK t SCHEDULE = 'x minutes' AS SELECT 1;\nSELECT 3")
    assert info.value.line == 2
