"""Cursor pagination of the API's lists over real HTTP and a real catalog: pages follow one another
without repeating or skipping a row while rows are inserted between them, ties of one scheduled
instant included; old parameters keep working; bad cursors are a 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import Client, assert_error_shape

from tasksql.engine import Engine
from tasksql.model import QualifiedName, RunState
from tasksql.model.run import NewRun, RunOutcome, ScheduledFrom

# within the history's retention (older runs are pruned by the scheduler's housekeeping)
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


async def _insert_runs(engine: Engine, task: str, instants: list[datetime], state: RunState) -> list[int]:
    """Run rows of ``task`` at ``instants`` (manual runs: several may share an instant)."""
    rec = await engine.catalog.get_task(engine.resolve(QualifiedName.of(task)))
    assert rec is not None
    rows = [
        NewRun(
            task_id=rec.id,
            task_version=rec.version,
            name=rec.definition.name.name,
            database_name=rec.definition.name.database or "",
            schema_name=rec.definition.name.schema or "",
            scheduled_time=at,
            state=RunState.EXECUTING,
            scheduled_from=ScheduledFrom.EXECUTE_TASK,
            query_start_time=at,
        )
        for at in instants
    ]
    stored = [r for r in await engine.catalog.fire(rows, []) if r is not None]
    for r in stored:
        done = RunOutcome(
            run_id=r.run_id, state=state, completed_time=r.scheduled_time + timedelta(milliseconds=5)
        )
        assert await engine.catalog.finish_run(done, None)
    return [r.run_id for r in stored]


async def _pages(
    client: Client, path: str, key: str, limit: int, between: Any = None
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        resp = await client.get(path, params=params)
        body = await resp.json()
        assert resp.status == 200, body
        pages.append(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100
        if between is not None:
            await between(len(pages))


async def test_runs_pages_are_stable_under_inserts(client: Client, engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK a SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK b SCHEDULE 1 HOUR AS SELECT 1"
    )
    # 3 runs share each instant (ties are ordered by run id), 8 instants, 2 tasks: 48 runs
    instants = [BASE + timedelta(minutes=i) for i in range(8) for _ in range(3)]
    original = set(await _insert_runs(engine, "a", instants, RunState.SUCCEEDED))
    original |= set(await _insert_runs(engine, "b", instants, RunState.FAILED))

    added: list[int] = []

    async def insert_newer_and_older(page: int) -> None:
        # newer runs (before the cursor) and runs at the cursor's instants with higher ids
        added.extend(
            await _insert_runs(engine, "a", [BASE + timedelta(hours=1, minutes=page)], RunState.SUCCEEDED)
        )
        added.extend(await _insert_runs(engine, "b", [BASE + timedelta(minutes=7)], RunState.SUCCEEDED))

    pages = await _pages(client, "/api/v1/runs", "runs", 7, insert_newer_and_older)
    seen = [r["run_id"] for page in pages for r in page]
    assert len(seen) == len(set(seen)), "a run was repeated"
    assert original <= set(seen), "a run that existed before the first page was skipped"
    assert set(seen) - original <= set(added)
    assert all(len(p) == 7 for p in pages[:-1])
    # newest first by (scheduled_time, run_id), on every page and across pages
    keys = [(r["scheduled_time"], r["run_id"]) for page in pages for r in page]
    assert keys == sorted(keys, reverse=True)


async def test_task_runs_and_filters_page_by_cursor(client: Client, engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK a SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK b SCHEDULE 1 HOUR AS SELECT 1"
    )
    ok_ids = await _insert_runs(
        engine, "a", [BASE + timedelta(seconds=i) for i in range(12)], RunState.SUCCEEDED
    )
    failed = await _insert_runs(
        engine, "a", [BASE + timedelta(seconds=i, milliseconds=1) for i in range(5)], RunState.FAILED
    )
    await _insert_runs(engine, "b", [BASE + timedelta(seconds=i) for i in range(9)], RunState.FAILED)

    pages = await _pages(client, "/api/v1/tasks/a/runs", "runs", 5)
    assert sorted(r["run_id"] for p in pages for r in p) == sorted(ok_ids + failed)
    assert {r["name"] for p in pages for r in p} == {"a"}

    pages = await _pages(client, "/api/v1/tasks/a/runs?error_only=true", "runs", 2)
    assert sorted(r["run_id"] for p in pages for r in p) == sorted(failed)

    # a state filter the catalog cannot apply: pages may be thin, never wrong
    pages = await _pages(client, "/api/v1/runs?state=succeeded", "runs", 4)
    assert sorted(r["run_id"] for p in pages for r in p) == sorted(ok_ids)

    since = (BASE + timedelta(seconds=3)).isoformat()
    until = (BASE + timedelta(seconds=6)).isoformat()
    resp = await client.get("/api/v1/tasks/a/runs", params={"since": since, "until": until, "limit": "2"})
    body = await resp.json()
    first = body["runs"]
    resp = await client.get(
        "/api/v1/tasks/a/runs",
        params={"since": since, "until": until, "limit": "10", "cursor": body["next_cursor"]},
    )
    rest = (await resp.json())["runs"]
    times = [r["scheduled_time"] for r in first + rest]
    assert len(times) == 5 and all(since <= t < until for t in times)  # 3 s, 4 s, 5 s and two failed

    # the old parameters alone: the newest 100, and a null cursor when they are all
    body = await (await client.get("/api/v1/tasks/a/runs")).json()
    assert len(body["runs"]) == 17 and body["next_cursor"] is None


async def test_tasks_page_by_name_while_tasks_are_created(client: Client, engine: Engine) -> None:
    names = ["t03", "t01", "t05", "t02", "t04", "t06", "t07"]
    await engine.execute("; ".join(f"CREATE TASK {n} SCHEDULE 1 HOUR AS SELECT 1" for n in names))

    async def create_some(page: int) -> None:
        await engine.execute(f"CREATE TASK t00_{page} SCHEDULE 1 HOUR AS SELECT 1")  # before the cursor
        await engine.execute(f"CREATE TASK t99_{page} SCHEDULE 1 HOUR AS SELECT 1")  # after it

    pages = await _pages(client, "/api/v1/tasks", "tasks", 3, create_some)
    seen = [t["name"] for p in pages for t in p]
    assert len(seen) == len(set(seen))
    assert seen[:7] == sorted(names)
    assert seen == sorted(seen)
    assert all(n.startswith("t99_") for n in seen[7:])

    body = await (await client.get("/api/v1/tasks")).json()  # without limit: every task, as before
    assert len(body["tasks"]) == 7 + 2 * (len(pages) - 1) and body["next_cursor"] is None


async def test_bad_cursors_are_refused(client: Client, engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK a SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK b SCHEDULE 1 HOUR AS SELECT 1"
    )
    tasks_cursor = (await (await client.get("/api/v1/tasks?limit=1")).json())["next_cursor"]
    assert tasks_cursor
    for path, cursor in [
        ("/api/v1/runs", "not-a-cursor"),
        ("/api/v1/runs", tasks_cursor),  # a cursor of another list
        ("/api/v1/tasks", "%%%"),
        ("/api/v1/graph_runs", tasks_cursor),
        ("/api/v1/notifications", tasks_cursor),
    ]:
        resp = await client.get(path, params={"cursor": cursor})
        body = await resp.json()
        assert resp.status == 400, (path, body)
        assert_error_shape(body, 400, "INVALID_PARAMETER")
        assert "cursor" in body["error"]["message"]


async def test_graph_runs_and_notifications_lists(client: Client, engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK root SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK child AFTER root AS SELECT 2;"
        " ALTER TASK child RESUME; ALTER TASK root RESUME"
    )
    for _ in range(3):
        await engine.execute("EXECUTE TASK root", wait_for_runs=True)
    pages = await _pages(client, "/api/v1/graph_runs?task=root", "graph_runs", 2)
    runs = [g for p in pages for g in p]
    assert len(runs) == 3 and len({g["graph_run_group_id"] for g in runs}) == 3
    assert all(g["root_task_name"] == "root" for g in runs)
    missing = await client.get("/api/v1/graph_runs?task=nope")
    assert_error_shape(await missing.json(), 404)

    body = await (await client.get("/api/v1/notifications")).json()
    assert body["ok"] is True and body["deliveries"] == [] and body["next_cursor"] is None
    assert body["integrations"] == []
