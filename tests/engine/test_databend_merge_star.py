"""Databend's MERGE ... WHEN MATCHED THEN UPDATE * in a task body runs on DuckDB (DuckDB's UPDATE
without SET, positional as Databend's), as written in databendlabs/databend
src/query/ast/tests/it/parser.rs (merge_task) and tests/sqllogictests/suites/task/
task_ddl_transaction_test.test. Real catalog, the default DuckDB warehouse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.errors import TasksqlSyntaxError
from tasksql.settings import Settings
from tasksql.sql.merge_star import blank_update_star


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute("CREATE TABLE t (c INTEGER, v VARCHAR)")
        await eng.execute("CREATE TABLE s (c INTEGER, v VARCHAR)")
        await eng.execute("INSERT INTO t VALUES (1, 'old'), (3, 'kept')")
        await eng.execute("INSERT INTO s VALUES (1, 'new'), (2, 'added')")
        yield eng


async def _rows(engine: Engine) -> list[tuple[object, ...]]:
    return [tuple(r) for r in (await engine.execute("SELECT c, v FROM t ORDER BY c"))[-1].rows]


async def test_the_parser_test_merge_task_runs(engine: Engine) -> None:
    await engine.execute(
        """CREATE TASK IF NOT EXISTS merge_task WAREHOUSE = 'default' SCHEDULE = 1 SECOND
            AS BEGIN
            MERGE INTO t USING s ON t.c = s.c
                WHEN MATCHED THEN
                UPDATE
                    *
                    WHEN NOT MATCHED THEN
                INSERT
                    *;
            END"""
    )
    await engine.execute("EXECUTE TASK merge_task")
    assert await _rows(engine) == [(1, "new"), (2, "added"), (3, "kept")]


async def test_in_a_script_with_its_own_transaction(engine: Engine) -> None:
    await engine.execute(
        """CREATE TASK transactionTask SCHEDULE = USING CRON '0 0 0 1 1 ? 2100'
  AS BEGIN
    BEGIN;
    delete from t where v = ';';
    merge into t using s on t.c = s.c when matched then update *;
    COMMIT;
  END;"""
    )
    await engine.execute("EXECUTE TASK transactionTask")
    assert await _rows(engine) == [(1, "new"), (3, "kept")]


async def test_an_error_after_it_is_still_where_the_user_wrote_it(engine: Engine) -> None:
    with pytest.raises(TasksqlSyntaxError) as err:
        await engine.execute(
            "CREATE TASK m SCHEDULE = 1 MINUTE AS MERGE INTO t USING s ON t.c = s.c WHEN MATCHED THEN UPDATE * WHEN"
        )
    assert (err.value.code, err.value.line, err.value.column) == ("BODY_SYNTAX_ERROR", 1, 99)  # the last WHEN


def test_only_merge_on_duckdb_changes() -> None:
    merge = "MERGE INTO t USING s ON t.c = s.c WHEN MATCHED THEN UPDATE * WHEN NOT MATCHED THEN INSERT *"
    assert blank_update_star(merge, "duckdb") == merge.replace("UPDATE *", "UPDATE  ")
    assert blank_update_star(merge, "postgres") == merge
    assert blank_update_star("SELECT 'THEN UPDATE *' AS merge", "duckdb") == "SELECT 'THEN UPDATE *' AS merge"
