"""Completion by context: task names where the grammar wants a task, the actions and properties
valid at that point of the task grammar, relations after FROM, columns after SELECT and WHERE (read
from the warehouse, refreshed after DDL)."""

from __future__ import annotations

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from shell_support import SCHEDULED, Buffers

from tasksql.connection import Connection
from tasksql.shell.completion import (
    Names,
    SqlCompleter,
    candidates,
    complete,
    in_literal_or_comment,
    word_before,
)
from tasksql.shell.context import suggest
from tasksql.shell.keywords import ShellWords, shell_words
from tasksql.shell.schema import WarehouseSchema
from tasksql.sql.parse_alter import ALTER_ACTIONS
from tasksql.sql.properties import PROPERTIES

WORDS = ShellWords.of(["SELECT", "SET", "SHOW", "SCHEDULE", "TASK", "TASKS", "WAREHOUSE"], ["task_history"])

# --- pure: candidates and words ------------------------------------------------------------------


def test_candidates_follow_the_case_of_the_prefix() -> None:
    assert candidates("sel", WORDS) == ["select"]
    assert candidates("SEL", WORDS) == ["SELECT"]
    assert candidates("Sel", WORDS) == ["SELECT"]
    assert candidates("s", WORDS) == ["schedule", "select", "set", "show"]
    assert candidates("zzz", WORDS) == []


def test_candidates_offer_names_first_as_sql_reads_them() -> None:
    names = ["tally", '"My Task"', "task_nightly"]
    assert candidates("ta", WORDS, names) == ["tally", "task_nightly", "task", "tasks", "task_history"]
    assert candidates("TASK_N", WORDS, names) == ["task_nightly"]
    assert candidates("my", WORDS, names) == ['"My Task"']
    assert candidates("add", ShellWords.of((), ()), grammar=["ADD AFTER"]) == ["add after"]


def test_candidates_skip_a_word_already_complete() -> None:
    assert candidates("task", WORDS) == ["tasks", "task_history"]
    assert candidates("", WORDS)[:2] == ["SCHEDULE", "SELECT"]


def test_word_before_cursor() -> None:
    assert word_before("SELECT * FROM task_hi") == "task_hi"
    assert word_before("SELECT SYSTEM$TASK_DEP") == "SYSTEM$TASK_DEP"
    assert word_before("SHOW TASKS IN db.sch") == "sch"
    assert word_before("SCHEDULE 5s") == ""
    assert word_before("SELECT ") == ""


def test_no_completion_inside_strings_and_comments() -> None:
    assert in_literal_or_comment("SELECT 'ta")
    assert in_literal_or_comment("SELECT 1 -- ta")
    assert in_literal_or_comment("SELECT 1 /* ta")
    assert not in_literal_or_comment("SELECT 'a' || ta")
    assert not in_literal_or_comment("SELECT 1 /* x */ ta")


# --- pure: what the grammar wants at the cursor ----------------------------------------------------


def _suggest(text: str, after: str = "") -> tuple[tuple[str, ...], bool]:
    found = suggest(text, word_before(text), after)
    return found.words, found.tasks


def test_task_names_where_the_grammar_wants_a_task() -> None:
    for text in (
        "ALTER TASK ",
        "alter task ni",
        "EXECUTE TASK ",
        "DROP TASK ",
        "DESCRIBE TASK ",
        "DESC TASK ",
    ):
        assert _suggest(text) == ((), True), text
    assert _suggest("CREATE TASK t AFTER ")[1]
    assert _suggest("ALTER TASK t ADD AFTER a, ")[1]
    assert _suggest("CREATE TASK ") == ((), False)  # a new name: nothing to offer


def test_actions_after_alter_task_name() -> None:
    words, tasks = _suggest("ALTER TASK nightly ")
    assert words == ALTER_ACTIONS  # straight from the parser's own list
    assert not tasks
    assert _suggest("ALTER TASK nightly SU")[0] == ALTER_ACTIONS  # filtered by the prefix later
    assert _suggest("ALTER TASK nightly MODIFY ")[0] == ("AS", "WHEN")
    assert _suggest("ALTER TASK nightly REMOVE ")[0] == ("AFTER", "WHEN")
    assert _suggest("ALTER TASK nightly RESUME ")[0] == ()


def test_properties_after_set_and_unset_come_from_the_property_table() -> None:
    settable = {" ".join(p.words) for p in PROPERTIES if p.in_set}
    unsettable = {" ".join(p.words) for p in PROPERTIES if p.in_unset}
    words = set(_suggest("ALTER TASK t SET ")[0])
    assert settable <= words
    assert "ON ERROR" not in words  # a clause of CREATE TASK, not settable
    assert "SCHEDULE" not in set(_suggest("ALTER TASK t SET SCHEDULE = '5 MINUTES', ")[0])
    assert unsettable <= set(_suggest("ALTER TASK t UNSET ")[0])


def test_clauses_and_properties_after_create_task_name() -> None:
    words = set(_suggest("CREATE TASK t ")[0])
    assert {"AS", "AFTER", "WHEN", "SCHEDULE", "WAREHOUSE", "USER_TASK_TIMEOUT_MS", "ON ERROR"} <= words
    assert {"RESUME", "MODIFY AS"}.isdisjoint(words)
    words = set(_suggest(f"CREATE OR REPLACE TASK t {SCHEDULED} ")[0])
    assert "SCHEDULE" not in words  # already written
    assert "AS" in words
    assert set(_suggest("CREATE TASK t SCHEDULE = ")[0]) >= {"USING CRON", "EVERY"}


def test_other_task_statements_follow_the_parser() -> None:
    assert set(_suggest("SHOW TASKS ")[0]) == {"LIKE", "IN", "STARTS WITH", "ROOT ONLY", "LIMIT", "WHERE"}
    assert "USING CONFIG" in _suggest("EXECUTE TASK t ")[0]
    assert "CREATE" in _suggest("")[0]
    assert "SELECT" in _suggest("SELECT 1; ")[0]


def test_sql_contexts() -> None:
    assert suggest("SELECT * FROM ", "").tables
    assert suggest("SELECT * FROM a JOIN ", "").tables
    assert suggest("INSERT INTO ", "").tables
    assert suggest("SELECT a FROM t1, ", "").tables
    found = suggest("SELECT * FROM events e WHERE ", "")
    assert found.columns and not found.tables
    assert ("e", "events") in found.scope
    found = suggest("SELECT ", "", " FROM events")  # the relation is after the cursor
    assert found.columns and found.scope == (("events", "events"),)
    found = suggest("SELECT e.", "", " FROM events e")
    assert found.qualifier == "e"
    assert suggest("CREATE TASK t AS INSERT INTO ", "").tables  # the body is ordinary SQL
    assert suggest("ALTER TASK t MODIFY AS SELECT * FROM ", "").tables


# --- against a real warehouse --------------------------------------------------------------------


def _completions(
    completer: SqlCompleter, text: str, *, requested: bool = False, after: str = ""
) -> list[str]:
    event = CompleteEvent(completion_requested=requested)
    document = Document(text + after, cursor_position=len(text))
    return [c.text for c in completer.get_completions(document, event)]


@pytest.fixture
def warehouse(conn: Connection) -> Buffers:
    """A shell whose warehouse has two tables and a view, and which has two tasks."""
    buffers = Buffers(conn)
    buffers.shell.run_sql(
        "CREATE TABLE events (event_id INTEGER, kind VARCHAR, happened_at TIMESTAMP);"
        "CREATE SCHEMA staging; CREATE TABLE staging.raw_events (payload VARCHAR);"
        "CREATE VIEW recent AS SELECT event_id FROM events;"
        f"CREATE TASK nightly_load {SCHEDULED} AS INSERT INTO events SELECT 1, 'x', now();"
        f'CREATE TASK "Weekly Report" {SCHEDULED} AS SELECT 1;'
    )
    assert buffers.take()[1] == ""
    return buffers


def test_completion_reads_the_warehouse_and_the_tasks(warehouse: Buffers) -> None:
    shell = warehouse.shell
    completer = SqlCompleter(shell_words(), shell.names)
    assert _completions(completer, "ALTER TASK ", requested=True) == ['"Weekly Report"', "nightly_load"]
    assert _completions(completer, "execute task ni") == ["nightly_load"]
    assert _completions(completer, "ALTER TASK nightly_load su") == ["suspend"]
    assert _completions(completer, "ALTER TASK nightly_load ADD AFTER we") == ['"Weekly Report"']
    from_ = _completions(completer, "SELECT * FROM ", requested=True)
    assert {"events", "recent", "staging.raw_events", "system.tasks", "task_history"} <= set(from_)
    assert "SELECT" not in from_  # only relations after FROM
    assert _completions(completer, "SELECT * FROM ev") == ["events"]
    assert _completions(completer, "SELECT * FROM staging.", requested=True) == ["raw_events"]
    assert sorted(_completions(completer, "SELECT * FROM system.ta")) == [
        "task_history",
        "task_versions",
        "tasks",
    ]
    assert _completions(completer, "SELECT * FROM events WHERE ki") == ["kind"]
    assert _completions(completer, "SELECT hap", after=" FROM events") == ["happened_at"]
    columns = _completions(completer, "SELECT e.", requested=True, after=" FROM events e")
    assert columns == ["event_id", "happened_at", "kind"]
    assert "state" in _completions(completer, "SELECT name, st", after=" FROM system.tasks")
    assert _completions(completer, "SELECT * FROM events WHERE 'ki") == []


def test_names_are_refreshed_after_ddl(warehouse: Buffers) -> None:
    shell = warehouse.shell
    completer = SqlCompleter(shell_words(), shell.names)
    assert _completions(completer, "SELECT * FROM aud") == []
    assert shell.execute("CREATE TABLE audit_log (who VARCHAR);")
    assert _completions(completer, "SELECT * FROM aud") == ["audit_log"]
    assert shell.execute(f"CREATE TASK audit_task {SCHEDULED} AS SELECT 1;")
    assert _completions(completer, "DROP TASK aud") == ["audit_task"]
    assert shell.execute("DROP TABLE audit_log;")
    assert _completions(completer, "SELECT * FROM aud") == []


def test_complete_without_a_warehouse_schema() -> None:
    names = Names(tasks=["nightly_load"])
    assert complete("DROP TASK n", "", WORDS, names, requested=False) == ["nightly_load"]
    assert complete("SELECT * FROM ", "", WORDS, names, requested=True) == list(names.extra_relations)
    assert WarehouseSchema(lambda text: (_ for _ in ()).throw(ValueError())).refresh() is False
