"""GET /metrics over real HTTP: Prometheus' text format, parsed with prometheus_client's own parser,
with values that follow the runs, notifications and nodes of a real engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from api_support import Client
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tasksql.engine import Engine
from tasksql.errors import RunFailed
from tasksql.server import metrics as metrics_module


async def scrape(client: Client) -> dict[str, list[Sample]]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(families: dict[str, list[Sample]], sample: str, **labels: str) -> float:
    family = next(f for name, f in families.items() if sample.startswith(name))
    found = [
        s.value for s in family if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found)


async def wait_for(client: Client, check: object, timeout: float = 60.0) -> dict[str, list[Sample]]:
    deadline = time.monotonic() + timeout
    while True:
        families = await scrape(client)
        if check(families):  # type: ignore[operator]
            return families
        assert time.monotonic() < deadline, "metrics never reached the expected values"
        await asyncio.sleep(0.05)


async def test_runs_lag_duration_and_state_metrics(client: Client, engine: Engine) -> None:
    families = await scrape(client)
    for name in (
        "tasksql_runs",
        "tasksql_run_start_lag_seconds",
        "tasksql_run_duration_seconds",
        "tasksql_runs_queued",
        "tasksql_runs_executing",
        "tasksql_catalog_write_seconds",
        "tasksql_notification_deliveries",
        "tasksql_notification_failures",
        "tasksql_tasks",
        "tasksql_nodes",
    ):
        assert name in families, name
    assert value(families, "tasksql_nodes") == 1  # this node: "running" on SQLite, by its lease on PostgreSQL
    assert value(families, "tasksql_runs_queued", warehouse="default") == 0

    await engine.execute(
        "CREATE TASK ok SCHEDULE 1 HOUR AS SELECT 1;"
        " CREATE TASK bad SCHEDULE 1 HOUR SUSPEND_TASK_AFTER_NUM_FAILURES = 2 AS SELECT * FROM missing_table"
    )
    for _ in range(3):
        await engine.execute("EXECUTE TASK ok", wait_for_runs=True)
    for _ in range(2):
        with pytest.raises(RunFailed):
            await engine.execute("EXECUTE TASK bad", wait_for_runs=True)

    families = await wait_for(
        client,
        lambda f: (
            value(f, "tasksql_runs_total", task="tasksql.public.ok", state="SUCCEEDED") == 3
            and value(f, "tasksql_tasks", state="auto_suspended") == 1
        ),
    )
    assert value(families, "tasksql_runs_total", task="tasksql.public.bad", state="FAILED") == 1
    assert (
        value(families, "tasksql_runs_total", task="tasksql.public.bad", state="FAILED_AND_AUTO_SUSPENDED")
        == 1
    )
    assert value(families, "tasksql_tasks", state="started") == 1
    assert value(families, "tasksql_run_duration_seconds_count", warehouse="default") == 5
    assert value(families, "tasksql_run_start_lag_seconds_count", warehouse="default") == 5
    assert value(families, "tasksql_run_start_lag_seconds_bucket", warehouse="default", le="+Inf") == 5
    assert value(families, "tasksql_catalog_write_seconds_count") > 0
    # no run ids anywhere: every label is bounded
    for samples in families.values():
        for sample in samples:
            assert set(sample.labels) <= {"task", "state", "warehouse", "integration", "outcome", "le"}


async def test_the_task_label_is_capped(
    client: Client, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "MAX_TASK_LABELS", 2)
    await engine.execute("; ".join(f"CREATE TASK t{i} SCHEDULE 1 HOUR AS SELECT {i}" for i in range(4)))
    for i in range(4):
        await engine.execute(f"EXECUTE TASK t{i}", wait_for_runs=True)
    families = await wait_for(client, lambda f: value(f, "tasksql_runs_total", state="SUCCEEDED") == 4)
    tasks = {s.labels["task"] for s in families["tasksql_runs"] if s.name == "tasksql_runs_total"}
    assert len(tasks) == 3 and "other" in tasks
    assert value(families, "tasksql_runs_total", task="other") == 2


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[int]]]:
    """A webhook receiver on 127.0.0.1 that accepts the first message and refuses the rest (500)."""
    got: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        got.append(1)
        return web.Response(status=200 if len(got) == 1 else 500)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", got
    await runner.cleanup()


async def test_notification_deliveries_and_failures(
    client: Client, engine: Engine, receiver: tuple[str, list[int]]
) -> None:
    url, got = receiver
    await engine.execute(
        f"CREATE NOTIFICATION INTEGRATION hooks TYPE = WEBHOOK ENABLED = TRUE WEBHOOK = (url = '{url}');"
        " CREATE TASK t SCHEDULE 1 HOUR ERROR_INTEGRATION = hooks AS SELECT * FROM missing_table"
    )
    for _ in range(2):
        with pytest.raises(RunFailed):
            await engine.execute("EXECUTE TASK t", wait_for_runs=True)
    families = await wait_for(
        client,
        lambda f: (
            value(f, "tasksql_notification_deliveries_total", integration="hooks") == 1
            and value(f, "tasksql_notification_failures_total", integration="hooks") >= 1
        ),
        timeout=20,
    )
    assert value(families, "tasksql_notification_failures_total", integration="hooks", outcome="retry") >= 1
    assert len(got) >= 2
