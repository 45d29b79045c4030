"""Scripts of several statements: results as each completes, the failing statement named with the
results before it, all-or-nothing mode, command tags of warehouse statements, EXECUTE TASK that
waits for a failing run. Real catalog and DuckDB file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine, Result
from tasksql.engine.tags import command_tag, statement_kind
from tasksql.errors import QueryFailed, RunFailed, TaskNotFound, ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def count(engine: Engine, table: str) -> int:
    return int((await engine.execute(f"SELECT count(*) FROM {table}"))[0].rows[0][0])


async def test_each_result_is_handed_over_as_its_statement_completes(engine: Engine) -> None:
    seen: list[tuple[str, int]] = []

    def arrived(result: Result) -> None:
        # the statement before has completed: its table is there when the next result arrives
        seen.append((result.message or "rows", len(engine.queries.running())))

    results = await engine.execute(
        "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2); SELECT x FROM t ORDER BY x",
        on_result=arrived,
    )
    assert seen == [("CREATE TABLE", 1), ("INSERT 0 2", 1), ("rows", 1)]
    assert [r.rows for r in results] == [[], [], [(1,), (2,)]]
    assert engine.queries.running() == []


async def test_a_failing_statement_is_named_with_the_results_before_it(engine: Engine) -> None:
    script = "CREATE TABLE zz (a INTEGER);\nINSERT INTO zz VALUES (1);\n\n  SELECT * FROM nosuch;\nSELECT 2"
    arrived: list[Result] = []
    with pytest.raises(QueryFailed) as caught:
        await engine.execute(script, on_result=arrived.append)
    err = caught.value
    assert (err.statement_number, err.statement_line) == (3, 4)
    assert [r.message for r in err.partial_results] == ["CREATE TABLE", "INSERT 0 1"]
    assert [r.message for r in arrived] == ["CREATE TABLE", "INSERT 0 1"]
    assert err.render().startswith("error [QUERY_FAILED]: statement 3 (line 4) failed: ")
    assert err.to_dict()["statement"] == 3 and err.to_dict()["statement_line"] == 4
    assert not err.rolled_back
    # what ran stays done, and nothing after the failure ran
    assert await count(engine, "zz") == 1


async def test_a_single_statement_is_not_numbered(engine: Engine) -> None:
    with pytest.raises(TaskNotFound) as caught:
        await engine.execute("DROP TASK nothing_here")
    assert caught.value.statement_number is None
    assert "statement 1" not in caught.value.render()


async def test_single_transaction_rolls_back_the_whole_script(engine: Engine) -> None:
    await engine.execute("CREATE TABLE kept (a INTEGER)")
    arrived: list[Result] = []
    with pytest.raises(QueryFailed) as caught:
        await engine.execute(
            "INSERT INTO kept VALUES (1); CREATE TABLE gone (b INTEGER); SHOW TASKS; SELECT * FROM nosuch",
            single_transaction=True,
            on_result=arrived.append,
        )
    err = caught.value
    assert err.rolled_back and err.statement_number == 4
    assert "rolled back" in err.render()
    assert [r.statement for r in arrived] == ["INSERT", "CREATE TABLE", "SHOW TASKS"]
    assert await count(engine, "kept") == 0
    with pytest.raises(QueryFailed):
        await engine.execute("SELECT * FROM gone")


async def test_single_transaction_commits_at_the_end(engine: Engine) -> None:
    results = await engine.execute(
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); SELECT count(*) AS n FROM t",
        single_transaction=True,
    )
    assert results[-1].rows == [(1,)]
    assert await count(engine, "t") == 1


@pytest.mark.parametrize(
    ("script", "number", "why"),
    [
        ("CREATE TABLE t (a INTEGER); CREATE TASK x SCHEDULE 1 HOUR AS SELECT 1", 2, "CREATE TASK"),
        ("CREATE TABLE t (a INTEGER);\nBEGIN; INSERT INTO t VALUES (1); COMMIT", 2, "BEGIN"),
        ("EXECUTE TASK x", 1, "EXECUTE TASK"),
    ],
)
async def test_single_transaction_refuses_what_it_cannot_undo(
    engine: Engine, script: str, number: int, why: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await engine.execute(script, single_transaction=True)
    err = caught.value
    assert err.code == "NOT_IN_TRANSACTION"
    assert f"statement {number} cannot run in a single transaction" in err.message and why in err.message
    assert err.span is not None
    # refused before anything ran: the CREATE TABLE before it did not run
    with pytest.raises(QueryFailed):
        await engine.execute("SELECT * FROM t")


async def test_warehouse_statements_print_their_command_tag(engine: Engine) -> None:
    results = await engine.execute(
        """
        CREATE OR REPLACE TABLE t (a INTEGER);
        INSERT INTO t VALUES (1), (2), (3);
        UPDATE t SET a = a + 1 WHERE a > 1;
        DELETE FROM t WHERE a = 1;
        CREATE TABLE c AS SELECT * FROM t;
        -- a comment before the statement
        DROP TABLE c;
        CREATE VIEW v AS SELECT 1 AS one;
        SELECT * FROM t WHERE a < 0
        """
    )
    assert [r.message for r in results] == [
        "CREATE TABLE",
        "INSERT 0 3",
        "UPDATE 2",
        "DELETE 1",
        "SELECT 2",
        "DROP TABLE",
        "CREATE VIEW",
        None,  # a query that returned no rows is still a result set
    ]
    assert results[-1].columns == ("a",)


def test_statement_kinds_and_tags() -> None:
    assert statement_kind("/* c */ create or replace temp table x (a int)") == "CREATE TABLE"
    assert statement_kind("  -- c\n drop view if exists v") == "DROP VIEW"
    assert statement_kind("") == ""
    assert command_tag("INSERT", 0) == "INSERT 0 0"
    assert command_tag("COPY", 10) == "COPY 10"
    assert command_tag("SET", None) == "SET"


async def test_execute_task_fails_with_the_runs_error(engine: Engine) -> None:
    await engine.execute("CREATE TASK bad SCHEDULE 1 HOUR AS SELECT * FROM nosuch")
    with pytest.raises(RunFailed) as caught:
        await engine.execute("EXECUTE TASK bad")
    err = caught.value
    assert err.code == "RUN_FAILED"
    assert "task bad ran: FAILED" in err.message and "nosuch" in err.message and "42P01" in err.message
    await engine.execute("CREATE TASK good SCHEDULE 1 HOUR AS SELECT 1")
    result = (await engine.execute("EXECUTE TASK good"))[0]
    assert result.as_dicts()[0]["state"] == "SUCCEEDED"


async def test_execute_task_in_a_graph_fails_when_a_child_fails(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK root SCHEDULE 1 HOUR AS SELECT 1;"
        "CREATE TASK child AFTER root AS SELECT * FROM nosuch;"
        "ALTER TASK child RESUME"
    )
    with pytest.raises(RunFailed) as caught:
        await engine.execute("EXECUTE TASK root")
    assert "child" in caught.value.message and "nosuch" in caught.value.message
    with pytest.raises(RunFailed) as again:
        await engine.execute("EXECUTE TASK root RETRY LAST")
    assert "attempt 2" in again.value.message and "nosuch" in again.value.message
    await engine.execute("CREATE TABLE nosuch AS SELECT 1 AS x")
    [retried] = await engine.execute("EXECUTE TASK root RETRY LAST")
    assert retried.message is None and "SUCCEEDED" in str(retried.rows[0][0])
