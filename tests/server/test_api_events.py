"""The event stream (GET /api/v1/events) over real HTTP: run events of tasks that run, task events,
the ?task= filter, keepalives, and resuming with Last-Event-ID from the run history."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from api_support import Client, assert_error_shape

from tasksql.engine import Engine
from tasksql.server.events import HUB_KEY

RUN_FIELDS = {
    "run_id",
    "task",
    "state",
    "scheduled_time",
    "query_start_time",
    "completed_time",
    "node_id",
    "error_code",
    "error_message",
    "graph_run_group_id",
}


@dataclass
class Sse:
    kind: str
    id: str | None
    data: dict[str, Any]


class Stream:
    """Reads server-sent events off one response."""

    def __init__(self, resp: ClientResponse) -> None:
        self.resp = resp
        self.events: list[Sse] = []
        self.comments: list[str] = []
        self._fields: dict[str, str] = {}

    async def until(self, done: Callable[[list[Sse]], bool], timeout: float = 60.0) -> list[Sse]:
        """Read events until ``done`` holds. ``timeout`` bounds the wait for a condition that never
        comes (generous: a loaded machine delays a run by seconds); it is not the speed under test."""
        deadline = time.monotonic() + timeout
        while not done(self.events):
            failed = f"condition not met in {timeout:g} s; events so far: {self.events}"
            left = deadline - time.monotonic()
            assert left > 0, failed
            try:
                line = await asyncio.wait_for(self.resp.content.readline(), left)
            except TimeoutError:
                raise AssertionError(failed) from None
            assert line, "the stream ended"
            self._line(line.decode().rstrip("\n"))
        return self.events

    def _line(self, line: str) -> None:
        if line.startswith(":"):
            self.comments.append(line)
        elif line == "":
            if "data" in self._fields:
                self.events.append(
                    Sse(
                        self._fields.get("event", "message"),
                        self._fields.get("id"),
                        json.loads(self._fields["data"]),
                    )
                )
            self._fields = {}
        else:
            name, _, value = line.partition(": ")
            self._fields[name] = value


def changes_of(events: list[Sse], task: str) -> list[tuple[str, str]]:
    """(state, change) of each task event of ``task``."""
    return [
        (e.data["state"], e.data["change"]) for e in events if e.kind == "task" and e.data["name"] == task
    ]


def runs_of(events: list[Sse], task: str, state: str | None = None) -> list[Sse]:
    return [
        e
        for e in events
        if e.kind == "run" and e.data["task"] == task and (state is None or e.data["state"] == state)
    ]


async def _open(client: Client, path: str = "/api/v1/events", **headers: str) -> Stream:
    resp = await client.get(path, headers=headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    return Stream(resp)


async def test_run_and_task_events_of_a_task_that_runs(client: Client, engine: Engine) -> None:
    t, bad = "tasksql.public.t", "tasksql.public.bad"
    stream = await _open(client)
    await engine.execute("CREATE TASK t SCHEDULE 1 HOUR AS SELECT 1")
    await engine.execute("EXECUTE TASK t")
    # run events (the run feed) and task events (the task watcher) come by separate ways: wait for both
    events = await stream.until(lambda ev: bool(runs_of(ev, t, "SUCCEEDED")) and bool(changes_of(ev, t)))
    created = [e for e in events if e.kind == "task"]
    assert created[0].data == {"name": t, "state": "started", "change": "created"}
    done = runs_of(events, t, "SUCCEEDED")[0]
    assert set(done.data) >= RUN_FIELDS
    assert done.data["completed_time"] and done.data["query_start_time"]
    assert done.data["node_id"] == engine.settings.effective_node_id

    await engine.execute("CREATE TASK bad SCHEDULE 1 HOUR AS SELECT * FROM no_such_table")
    await engine.execute("EXECUTE TASK bad")
    events = await stream.until(lambda ev: bool(runs_of(ev, bad, "FAILED")) and bool(changes_of(ev, bad)))
    failed = runs_of(events, bad, "FAILED")[0].data
    assert failed["error_code"] and "no_such_table" in failed["error_message"]
    assert changes_of(events, bad) == [("started", "created")]

    # a task event says what the watcher finds when a change wakes it (two quick changes can come as
    # one), so each change is made once the event of the one before came
    await engine.execute("ALTER TASK t SUSPEND")
    await stream.until(lambda ev: ("suspended", "suspended") in changes_of(ev, t))
    await engine.execute("ALTER TASK t RESUME")
    await stream.until(lambda ev: ("started", "resumed") in changes_of(ev, t))
    await engine.execute("DROP TASK bad")
    events = await stream.until(lambda ev: ("dropped", "dropped") in changes_of(ev, bad))
    assert changes_of(events, t) == [
        ("started", "created"),
        ("suspended", "suspended"),
        ("started", "resumed"),
    ]
    assert changes_of(events, bad) == [("started", "created"), ("dropped", "dropped")]
    ids = [int(e.id or 0) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_the_task_filter_and_keepalives(client: Client, engine: Engine) -> None:
    client.server.app[HUB_KEY].keepalive_s = 0.2
    await engine.execute(
        "CREATE TASK a SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK b SCHEDULE 1 HOUR AS SELECT 2"
    )
    stream = await _open(client, "/api/v1/events?task=a")
    await engine.execute("EXECUTE TASK b")
    await engine.execute("EXECUTE TASK a")
    events = await stream.until(lambda ev: bool(runs_of(ev, "tasksql.public.a", "SUCCEEDED")))
    await stream.until(lambda _: bool(stream.comments))
    assert ": keepalive" in stream.comments
    assert {e.data.get("task") for e in events} == {"tasksql.public.a"}

    bad = await client.get("/api/v1/events?task=a..b")
    assert_error_shape(await bad.json(), 400, "INVALID_PARAMETER")


async def test_last_event_id_resumes_from_the_history(client: Client, engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE 1 HOUR AS SELECT 1")
    stream = await _open(client)
    await engine.execute("EXECUTE TASK t", wait_for_runs=True)
    events = await stream.until(lambda ev: bool(runs_of(ev, "tasksql.public.t", "SUCCEEDED")))
    last_id = events[-1].id
    assert last_id is not None
    stream.resp.close()

    # while nobody listens: two runs more
    first = (await engine.execute("EXECUTE TASK t", wait_for_runs=True))[-1]
    second = (await engine.execute("EXECUTE TASK t", wait_for_runs=True))[-1]
    missed = {first.rows[0][first.columns.index("run_id")], second.rows[0][second.columns.index("run_id")]}

    resumed = await _open(client, **{"Last-Event-ID": last_id})
    events = await resumed.until(
        lambda ev: missed <= {e.data["run_id"] for e in runs_of(ev, "tasksql.public.t", "SUCCEEDED")}
    )
    assert all(int(e.id or 0) > 0 for e in events)
    assert not [e for e in events if e.kind == "reset"]

    # an id older than the replay window: a reset first, then what the window holds
    stale = await _open(client, **{"Last-Event-ID": "1"})
    events = await stale.until(lambda ev: len(runs_of(ev, "tasksql.public.t", "SUCCEEDED")) >= 3)
    assert events[0].kind == "reset"
