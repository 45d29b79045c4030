"""A graph step whose catalog write fails (an error other than an outage, which the catalog waits
out) must not leave the member's outcome unwritten and its graph run active on the node: the root
would be skipped as overlapping at each of its next instants until the node lost its lease."""

from __future__ import annotations

from typing import Any

import pytest
from sched_harness import Harness

from tasksql.errors import CatalogError


async def history(h: Harness) -> list[tuple[str, str, str | None]]:
    rows = await h.rows("SELECT name, state, error_code FROM system.task_history ORDER BY run_id")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_a_failed_graph_step_settles_the_member_and_gives_the_graph_run_up(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    await h.sql("CREATE TASK r SCHEDULE = '10 SECONDS' AS SELECT 1")
    await h.sql("CREATE TASK a AFTER r AS SELECT 2")
    await h.sql("CREATE TASK b AFTER a AS SELECT 3")
    for name in ("b", "a", "r"):
        await h.sql(f"ALTER TASK {name} RESUME")
    catalog = h.engine.catalog
    real = catalog.settle_graph_step
    calls = 0

    async def settle_graph_step(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # a's outcome (the first step is r's)
            raise CatalogError("a constraint was violated", code="CONSTRAINT")
        return await real(*args, **kwargs)

    monkeypatch.setattr(catalog, "settle_graph_step", settle_graph_step)
    await h.tick(advance=10)
    assert await history(h) == [("r", "SUCCEEDED", None), ("a", "SUCCEEDED", None)]
    graph_runs = await h.rows(
        "SELECT state, first_error_code FROM complete_task_graphs() ORDER BY scheduled_time"
    )
    assert [tuple(r) for r in graph_runs] == [("FAILED", "GRAPH_NOT_RECORDED")]  # visibly given up
    await h.tick(advance=10)  # the next graph run is not skipped as overlapping
    assert await history(h) == [
        ("r", "SUCCEEDED", None),
        ("a", "SUCCEEDED", None),
        ("r", "SUCCEEDED", None),
        ("a", "SUCCEEDED", None),
        ("b", "SUCCEEDED", None),
    ]
