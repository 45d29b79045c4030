"""``NODE = 'n1'`` and Ocient's ``LOCATION NODE``: written, shown, changed, refused when they name two
nodes, and noted on a catalog no cluster shares (SQLite). Real catalog and DuckDB files; the cluster
side is in ``tests/catalog/test_catalog_contract_pins.py`` and ``tests/e2e/test_cluster_placement.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine, Result
from tasksql.errors import ValidationError
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    data = tmp_path / "data"  # a SQLite catalog whatever the test run chose: no cluster shares it
    async with Engine(Settings.load(data_dir=data, catalog_url=str(data / "catalog.db"))) as eng:
        yield eng


async def one(engine: Engine, sql: str) -> Result:
    return (await engine.execute(sql))[-1]


async def described(engine: Engine, task: str) -> tuple[object, bool]:
    rows = (await one(engine, f"DESCRIBE TASK {task}")).rows
    [(value, is_default)] = [(r[1], r[2]) for r in rows if r[0] == "NODE"]
    return value, is_default


async def test_node_is_written_shown_altered_and_noted_without_a_cluster(engine: Engine) -> None:
    created = await one(engine, "CREATE TASK t NODE = 'N1' SCHEDULE = '1 MINUTE' AS SELECT 1")
    assert created.notices == (
        "task t is pinned to node 'N1', which has no effect on this catalog: only a cluster of servers "
        "sharing a PostgreSQL catalog places tasks on nodes",
    )
    [(_, ddl)] = (await one(engine, "SHOW CREATE TASK t")).rows
    assert "NODE = 'N1'" in ddl  # node ids keep their case
    assert await described(engine, "t") == ("N1", False)

    assert (await one(engine, "ALTER TASK t SET NODE = n2")).notices != ()
    assert await described(engine, "t") == ("n2", False)
    assert (await one(engine, "ALTER TASK t SET COMMENT = 'x'")).notices == ()  # the pin did not move
    await one(engine, "ALTER TASK t UNSET NODE")
    assert await described(engine, "t") == (None, True)
    # off a cluster, the scheduler that runs is the one node and nothing waits for a node
    shown = await one(engine, "SELECT node, wait_reason FROM system.tasks WHERE name = 't'")
    assert shown.rows == [(None, None)]


async def test_location_node_pins_and_two_nodes_are_refused(engine: Engine) -> None:
    await one(engine, "CREATE TASK c TYPE check_disk LOCATION NODE 'n1' SCHEDULE = '1 HOUR'")
    assert await described(engine, "c") == ("n1", True)  # the effective pin, from LOCATION
    await one(engine, "ALTER TASK c SET NODE = 'n1'")  # the same node: allowed

    with pytest.raises(ValidationError) as refused:
        await one(engine, "ALTER TASK c SET NODE = 'n2'")
    assert refused.value.code == "CONFLICTING_NODES"
    assert "NODE = 'n2' and LOCATION NODE 'n1'" in refused.value.message
    assert await described(engine, "c") == ("n1", False)  # nothing changed

    with pytest.raises(ValidationError) as empty:
        await one(engine, "CREATE TASK e NODE = '' SCHEDULE = '1 HOUR' AS SELECT 1")
    assert empty.value.code == "INVALID_VALUE"
    assert (await one(engine, "SHOW TASKS LIKE 'e'")).rows == []


async def test_run_on_partitions_is_accepted_with_a_notice_of_what_it_does(engine: Engine) -> None:
    created = await one(engine, "CREATE TASK p SCHEDULE = '1 MINUTE' RUN ON PARTITIONS AS SELECT 1")
    partitions = [n for n in created.notices if "PARTITIONS" in n]
    assert partitions == [
        "task p is RUN ON PARTITIONS: tasksql has no partitions, so each instant runs once in the cluster,"
        " as with RUN ON DATABASE (RUN ON HOSTS runs it once on every node)"
    ]
    assert "RUN ON PARTITIONS" in (await one(engine, "SHOW CREATE TASK p")).rows[0][1]  # kept as written
    for other in ("DATABASE", "HOSTS"):
        made = await one(engine, f"CREATE TASK {other} SCHEDULE = '1 MINUTE' RUN ON {other} AS SELECT 1")
        assert not [n for n in made.notices if "PARTITIONS" in n]
