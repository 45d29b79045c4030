"""Users, roles and privileges through the HTTP API of a running server (real HTTP on 127.0.0.1,
a scheduler running): the privilege matrix with per-user tokens (403 for what a role lacks), the
server's token acting as ACCOUNTADMIN, a dropped user's token and a replaced token refused, the
task routes answering 403, revoking EXECUTE TASK stopping the later scheduled runs (SKIPPED with
the reason), and dropping the owner role re-possessing and suspending its task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Client, assert_error_shape

from security_matrix import BOOTSTRAP, variants
from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.server.auth import new_token
from tasksql.server.web import add_routes
from tasksql.settings import Settings

DEADLINE_S = 20.0


@dataclass
class Server:
    client: Client
    engine: Engine
    token: str  #: the server's own token


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    async with Engine(Settings.load(data_dir=data)) as engine:
        await engine.execute(BOOTSTRAP)
    settings = Settings.load(data_dir=data, security=True)
    async with Engine(settings) as engine:
        await engine.start_scheduler()
        token = new_token(settings.data_dir)
        app = create_app(engine)
        add_routes(app, engine)
        async with TestClient(TestServer(app)) as client:
            yield Server(client, engine, token)


async def sql(server: Server, token: str, text: str) -> tuple[int, dict[str, Any]]:
    resp = await server.client.post(
        "/api/v1/sql", json={"sql": text}, headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status, await resp.json()


async def admin(server: Server, text: str) -> list[dict[str, Any]]:
    status, body = await sql(server, server.token, text)
    assert status == 200, body
    return list(body["results"])


async def new_user(server: Server, name: str, role: str | None = None) -> str:
    """Create a user (holding ``role``) as ACCOUNTADMIN; its token."""
    default = f" DEFAULT_ROLE = {role}" if role else ""
    [created] = await admin(server, f"CREATE USER {name}{default}")
    assert created["columns"] == ["status", "token"]
    if role:
        await admin(server, f"GRANT ROLE {role} TO USER {name}")
    return str(created["rows"][0][1])


async def wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_every_statement_needs_each_of_its_privileges_over_http(server: Server) -> None:
    failures: list[str] = []
    for v in variants():
        await admin(server, ";\n".join(v.setup_sql[:-2]))  # the user is made below, for its token
        token = await new_user(server, v.user, v.role)
        status, body = await sql(server, token, v.sql)
        if v.allowed and status != 200:
            failures.append(f"{v.sql!r} with all grants: {status} {body['error']}")
        if not v.allowed:
            if status != 403:
                failures.append(f"{v.sql!r} with {list(v.grants)}: {status}")
            else:
                assert_error_shape(body, 403, "PERMISSION_DENIED")
    assert not failures, "\n".join(failures)


async def test_tokens_name_the_caller_and_a_dropped_users_token_is_refused(server: Server) -> None:
    await admin(server, 'CREATE ROLE low; GRANT USAGE ON WAREHOUSE "default" TO ROLE low')
    token = await new_user(server, "bob", "low")
    status, body = await sql(server, token, "SELECT 1 AS one; SHOW QUERIES")
    assert status == 200
    shown = body["results"][1]
    assert shown["rows"][0][shown["columns"].index("user_name")] == "bob"  # SHOW QUERIES: the caller
    # no token, a wrong one: 401 even on loopback
    resp = await server.client.post("/api/v1/sql", json={"sql": "SELECT 1"})
    assert resp.status == 401
    status, _ = await sql(server, "tsq_not-a-token", "SELECT 1")
    assert status == 401
    # a replaced token stops at once
    [reset] = await admin(server, "ALTER USER bob RESET TOKEN")
    fresh = str(reset["rows"][0][1])
    assert (await sql(server, token, "SELECT 1"))[0] == 401
    assert (await sql(server, fresh, "SELECT 1"))[0] == 200
    # a dropped user's token is no token
    await admin(server, "DROP USER bob")
    assert (await sql(server, fresh, "SELECT 1"))[0] == 401
    # a disabled user's neither
    again = await new_user(server, "bob", "low")
    await admin(server, "ALTER USER bob SET DISABLED = TRUE")
    assert (await sql(server, again, "SELECT 1"))[0] == 401


async def test_task_routes_answer_403_for_what_the_role_lacks(server: Server) -> None:
    await admin(server, "CREATE TASK t SCHEDULE = '60 minutes' AS SELECT 1; CREATE ROLE low")
    token = await new_user(server, "bob", "low")
    headers = {"Authorization": f"Bearer {token}"}
    for method, path in (
        ("POST", "/api/v1/tasks/t/execute"),
        ("POST", "/api/v1/tasks/t/resume"),
        ("POST", "/api/v1/tasks/t/suspend"),
        ("POST", "/api/v1/tasks/t/cancel"),
        ("GET", "/api/v1/tasks/t"),
        ("GET", "/api/v1/tasks/t/runs"),
    ):
        resp = await server.client.request(method, path, headers=headers)
        assert resp.status == 403, (method, path, resp.status)
        assert_error_shape(await resp.json(), 403, "PERMISSION_DENIED")
    resp = await server.client.get("/api/v1/tasks", headers=headers)
    assert resp.status == 200 and (await resp.json())["tasks"] == []
    # the same routes with the server's token (ACCOUNTADMIN)
    resp = await server.client.post(
        "/api/v1/tasks/t/suspend", headers={"Authorization": f"Bearer {server.token}"}
    )
    assert resp.status == 200


SETUP = """
USE ROLE accountadmin;
CREATE ROLE taskadmin; CREATE ROLE myrole;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE taskadmin;
GRANT ROLE taskadmin TO ROLE myrole;
GRANT USAGE ON WAREHOUSE "default" TO ROLE myrole;
GRANT USAGE ON DATABASE tasksql TO ROLE myrole; GRANT USAGE ON SCHEMA tasksql.public TO ROLE myrole;
GRANT CREATE TASK ON SCHEMA tasksql.public TO ROLE myrole;
"""


async def _runs(server: Server, name: str) -> list[tuple[Any, ...]]:
    results = await admin(
        server,
        f"SELECT state, error_code, error_message, run_id FROM task_history(task_name => '{name}') ORDER BY run_id",
    )
    return [tuple(r) for r in results[0]["rows"]]


async def test_revoking_execute_task_stops_later_runs(server: Server) -> None:
    await admin(server, SETUP)
    alice = await new_user(server, "alice", "myrole")
    status, body = await sql(
        server, alice, "CREATE TASK ticks SCHEDULE = '1 SECONDS' AS SELECT 1; ALTER TASK ticks RESUME"
    )
    assert status == 200, body

    async def succeeded() -> bool:
        return any(r[0] == "SUCCEEDED" for r in await _runs(server, "ticks"))

    await wait_for(succeeded, "a run of alice's task")
    await admin(server, "REVOKE ROLE taskadmin FROM ROLE myrole")

    async def skipped() -> list[tuple[Any, ...]]:
        return [r for r in await _runs(server, "ticks") if r[0] == "SKIPPED"]

    first = (await wait_for(skipped, "a run skipped for the revoked privilege"))[0]
    assert first[1] == "PRIVILEGE_REVOKED"
    assert "myrole lacks EXECUTE TASK" in first[2]
    # nothing succeeds after the first skipped run (a later run is read once none of them is
    # EXECUTING: a run is EXECUTING before its privilege check, which then records it SKIPPED)
    later = await wait_for(lambda: _settled_after(server, first[3]), "a second skipped run")
    assert all(r[0] == "SKIPPED" for r in later), later
    # resuming is refused while the owner lacks EXECUTE TASK
    status, body = await sql(server, alice, "ALTER TASK ticks SUSPEND; ALTER TASK ticks RESUME")
    assert status == 403 and "EXECUTE TASK" in body["error"]["message"]


async def _settled_after(server: Server, run_id: int) -> list[tuple[Any, ...]] | None:
    """The runs of ``ticks`` after ``run_id`` that have started, once there are some and none of
    them is still EXECUTING; else None."""
    later = [r for r in await _runs(server, "ticks") if r[3] > run_id and r[0] != "SCHEDULED"]
    return later if later and all(r[0] != "EXECUTING" for r in later) else None


async def test_dropping_the_owner_role_repossesses_and_suspends_its_tasks(server: Server) -> None:
    await admin(server, SETUP)
    alice = await new_user(server, "alice", "myrole")
    await sql(server, alice, "CREATE TASK ticks SCHEDULE = '1 SECONDS' AS SELECT 1; ALTER TASK ticks RESUME")

    async def succeeded() -> bool:
        return any(r[0] == "SUCCEEDED" for r in await _runs(server, "ticks"))

    await wait_for(succeeded, "a run of alice's task")
    [_, dropped] = await admin(server, "USE ROLE securityadmin; DROP ROLE myrole")
    assert "now belong to role securityadmin and were suspended" in dropped["rows"][0][0]
    [row] = (await admin(server, "SELECT owner, state, last_suspended_reason FROM system.tasks"))[0]["rows"]
    assert row == ["securityadmin", "suspended", "OWNER_DROPPED"]
    # alice lost the role: she no longer sees the task
    status, body = await sql(server, alice, "SHOW TASKS")
    assert status == 200 and body["results"][0]["rows"] == []
    # no run starts after the drop (a window of 2.5 s, more than two periods of the schedule)
    settled = len(await _runs(server, "ticks"))
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        runs = await _runs(server, "ticks")
        assert all(r[0] in ("SUCCEEDED", "SKIPPED", "CANCELLED", "FAILED") for r in runs[settled:]), runs
        assert len(runs) <= settled + 1  # at most the run that was in flight
        await asyncio.sleep(0.1)


async def test_only_the_caller_cancels_its_query(server: Server) -> None:
    await admin(server, 'CREATE ROLE q; GRANT USAGE ON WAREHOUSE "default" TO ROLE q')
    alice, bob = await new_user(server, "alice", "q"), await new_user(server, "bob", "q")
    long_query = server.client.post(
        "/api/v1/sql",
        json={
            "sql": "SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b",
            "query_id": "alices",
        },
        headers={"Authorization": f"Bearer {alice}"},
    )
    running = asyncio.ensure_future(long_query)

    async def listed() -> bool:
        [shown] = await admin(server, "SHOW QUERIES")
        return any(row[0] == "alices" for row in shown["rows"])

    await wait_for(listed, "alice's query to run")
    status, body = await sql(server, bob, "CANCEL QUERY 'alices'")
    assert status == 403, body
    assert_error_shape(body, 403, "PERMISSION_DENIED")
    assert not running.done()
    status, body = await sql(server, alice, "CANCEL QUERY 'alices'")
    assert status == 200, body
    resp = await running
    assert resp.status != 200 and "CANCELLED" in await resp.text()


async def test_a_run_in_flight_when_its_owner_role_is_dropped_completes(server: Server) -> None:
    await admin(server, SETUP)
    alice = await new_user(server, "alice", "myrole")
    body = "SELECT sum(a.range * b.range) FROM range(12000) a, range(12000) b"
    status, answer = await sql(server, alice, f"CREATE TASK slow AS {body}; EXECUTE TASK slow")
    assert status == 200, answer

    async def executing() -> bool:
        return any(r[0] == "EXECUTING" for r in await _runs(server, "slow"))

    await wait_for(executing, "alice's run to execute")
    await admin(server, "USE ROLE securityadmin; DROP ROLE myrole")

    async def ended() -> list[tuple[Any, ...]] | None:
        runs = await _runs(server, "slow")
        return runs if runs and runs[-1][0] != "EXECUTING" else None

    runs = await wait_for(ended, "the run to end")
    assert [r[0] for r in runs] == ["SUCCEEDED"], runs
    # it ended after the drop: it was in flight then
    [ended_at] = await admin(server, "SELECT max(completed_time) FROM task_history(task_name => 'slow')")
    [dropped_at] = await admin(
        server, "SELECT max(event_time) FROM system.audit_log WHERE statement LIKE 'DROP ROLE%'"
    )
    end, drop = (datetime.fromisoformat(str(r["rows"][0][0])) for r in (ended_at, dropped_at))
    assert end > drop, (end, drop)
