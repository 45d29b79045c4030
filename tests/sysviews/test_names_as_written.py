"""Warehouse errors about a statement that reads tasksql's virtual relations speak of what the user
wrote (``system.task_versions``), never of the internal stand-in relation the warehouse ran."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tasksql
from tasksql.errors import QueryFailed
from tasksql.sysviews.rewrite import find_refs, restore_names


@pytest.fixture
def db(tmp_path: Path) -> tasksql.Connection:
    con = tasksql.connect(tmp_path / "data")
    yield con
    con.close()


def _error(db: tasksql.Connection, text: str) -> QueryFailed:
    with pytest.raises(QueryFailed) as info:
        db.sql(text)
    return info.value


def test_unknown_column_of_a_system_table(db: tasksql.Connection) -> None:
    err = _error(db, "SELECT * FROM system.task_versions WHERE nosuchcol = 1")
    assert "__tasksql" not in err.message
    lines = err.message.split("\n")
    assert "LINE 1: SELECT * FROM system.task_versions WHERE nosuchcol = 1" in lines
    excerpt = lines.index("LINE 1: SELECT * FROM system.task_versions WHERE nosuchcol = 1")
    carets = lines[excerpt + 1]
    assert carets.index("^") == lines[excerpt].index("nosuchcol")  # still under the column
    assert carets.strip() == "^" * len("nosuchcol")


def test_table_function_and_two_relations(db: tasksql.Connection) -> None:
    err = _error(db, "SELECT nosuch FROM task_history(result_limit => 5)")
    assert "__tasksql" not in err.message
    assert "LINE 1: SELECT nosuch FROM task_history(result_limit => 5)" in err.message
    err = _error(db, "SELECT cluster_id FROM system.cluster, system.cluster AS c2, system.tasks")
    assert "__tasksql" not in str(err)


def test_caret_moves_past_a_longer_name() -> None:
    message = (
        "Binder Error: x\n\nLINE 1: SELECT __tasksql_tasks_1.b, q FROM __tasksql_tasks_1\n               "
        + "^" * 19
    )
    out = restore_names(message, {"__tasksql_tasks_1": "system.tasks"})
    assert out.split("\n")[-2:] == [
        "LINE 1: SELECT system.tasks.b, q FROM system.tasks",
        "               ^^^^^^^^^^^^^^",
    ]
    # a name the statement did not use (DuckDB suggests relations of other statements)
    assert restore_names('Did you mean "__tasksql_next_runs_77"?', {}) == 'Did you mean "next_runs(...)"?'
    assert restore_names("no names here", {}) == "no names here"


def test_multi_line_reference_keeps_line_numbers() -> None:
    rewritten = find_refs("SELECT *\nFROM task_history(\n  result_limit => 5)\nWHERE x")
    (ref,) = rewritten.refs
    text = rewritten.render({ref.key: "__tasksql_task_history_1"})
    assert text.split("\n")[3] == "WHERE x"


def test_a_failed_run_records_the_names_as_written(db: tasksql.Connection) -> None:
    db.sql("CREATE TASK t SCHEDULE = '1 minute' AS SELECT nosuch FROM system.tasks")
    with pytest.raises(tasksql.TasksqlError):
        db.sql("EXECUTE TASK t")
    (message,) = db.sql("SELECT error_message FROM system.task_history WHERE name = 't'").rows[0]
    assert "system.tasks" in message
    assert "__tasksql" not in message


def test_long_text_is_searched_for_references_outside_strings_only() -> None:
    from tasksql.sysviews.rewrite import might_reference

    rows = ",".join(f"({i}, 'operating system {i}')" for i in range(2000))
    assert not might_reference(f"INSERT INTO t VALUES {rows} -- system.tasks")
    assert might_reference(f"INSERT INTO t VALUES {rows}; SELECT * FROM system.tasks")
    assert might_reference("SELECT 'system'")  # short texts: the tokenizer decides


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT * FROM next_runs('t', 'db.t')", "next_runs: n must be a whole number, not 'db.t'"),
        ("SELECT * FROM next_runs('t', 1e99999)", "next_runs: n must be a whole number, not inf"),
        ("SELECT * FROM task_history(result_limit => 'x')", "result_limit must be a whole number"),
        ("SELECT * FROM task_history(root_task_id => 1.5)", "root_task_id must be a whole number"),
        ("SELECT * FROM complete_task_graphs(result_limit => NULL)", "result_limit must be a whole number"),
    ],
)
def test_function_arguments_of_the_wrong_kind(db: tasksql.Connection, text: str, message: str) -> None:
    db.sql("CREATE TASK t SCHEDULE = '1 minute' AS SELECT 1")
    with pytest.raises(tasksql.TasksqlError, match=re.escape(message)):
        db.sql(text)
