"""``GET /api/v1/events``: a server-sent event stream of run and task changes.

Events (``data`` is one line of JSON):

* ``run``: a run was inserted or changed state: ``run_id``, ``task`` (``database.schema.name``),
  ``state``, ``scheduled_time``, ``query_start_time``, ``completed_time``, ``node_id``,
  ``error_code``, ``error_message``, ``graph_run_group_id``, ``attempt_number``, ``warehouse``;
* ``task``: a task was created, altered, dropped, suspended or resumed: ``name``
  (``database.schema.name``), ``state`` (``started``, ``suspended`` or ``dropped``), ``change``;
* ``reset``: sent first on a resumed stream whose ``Last-Event-ID`` is older than the replay window
  (:data:`REPLAY_WINDOW`): events may have been missed, reload the lists.

A comment line ``: keepalive`` is sent every :data:`KEEPALIVE_S` seconds. Every event has an ``id``
(microseconds since the epoch; increasing): a client that reconnects with ``Last-Event-ID`` first
gets the run events since then again, from the run history (each run in its current state, at most
:data:`REPLAY_MAX`, within :data:`REPLAY_WINDOW`), then the live stream. Delivery is at least once:
a resumed stream may repeat an event, so a client applies a run's latest state. ``?task=`` keeps
the events of one task (``t`` or ``db.schema.t``, a part in double quotes when it holds dots).

Where events come from: this node's run bookkeeping as its catalog commits it
(:class:`~tasksql.server.runfeed.RunFeed`, no polling: the event leaves as the commit returns);
task changes from the catalog's change sequence (this process's changes wake it at once, other
processes' within the catalog's poll interval), each event the task as found when a change woke the
watcher (quick successive changes may come as one), every change after the stream's answer began
reported; on a shared (PostgreSQL) catalog, the runs of the
other nodes by a poll of the catalog every :data:`CLUSTER_POLL_S` seconds while a client listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tasksql.client import encode_value
from tasksql.engine import Engine
from tasksql.model import QualifiedName, TaskRecord, TaskState
from tasksql.model.run import RunRecord
from tasksql.server.http_errors import RequestError
from tasksql.server.params import Query
from tasksql.server.runfeed import RunFeed
from tasksql.server.shapes import name_parts

log = logging.getLogger("tasksql.server")

KEEPALIVE_S = 15.0
REPLAY_WINDOW = timedelta(hours=1)
REPLAY_MAX = 1000
CLUSTER_POLL_S = 1.0
#: Events a slow client may lag behind before its stream is closed (it reconnects and resumes).
QUEUE_MAX = 10_000
_SKEW = timedelta(seconds=2)  # replay a little before the id: the nodes' clocks differ slightly
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def qualified(database: str, schema: str, name: str) -> str:
    return f"{database}.{schema}.{name}"


def run_payload(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "task": qualified(run.database_name, run.schema_name, run.name),
        "state": run.state.value,
        "scheduled_time": encode_value(run.scheduled_time),
        "query_start_time": encode_value(run.query_start_time),
        "completed_time": encode_value(run.completed_time),
        "node_id": run.node_id,
        "error_code": run.error_code,
        "error_message": run.error_message,
        "graph_run_group_id": run.graph_run_group_id,
        "attempt_number": run.attempt_number,
        "warehouse": run.warehouse,
    }


def _changed_at(run: RunRecord) -> datetime:
    return run.completed_time or run.query_start_time or run.scheduled_time


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    id: int
    data: dict[str, Any]
    task: str  #: the qualified task name the event is about (for ``?task=``)

    def encode(self) -> bytes:
        body = json.dumps(self.data, default=encode_value, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


class Subscription:
    """One client's stream: its filter and its queue (None in the queue ends the stream)."""

    def __init__(self, task: str | None) -> None:
        self.task = None if task is None else task.lower()
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def offer(self, event: Event | None) -> bool:
        """Queue ``event`` if the filter keeps it; False when the client lags too far behind."""
        if event is not None and self.task is not None and event.task.lower() != self.task:
            return True
        if self.queue.qsize() >= QUEUE_MAX:
            return False
        self.queue.put_nowait(event)
        return True


class EventHub:
    """The events of one server, handed to every subscribed stream (see the module)."""

    def __init__(self, engine: Engine, feed: RunFeed) -> None:
        self._engine = engine
        self._subs: set[Subscription] = set()
        self._last_id = 0
        self._watchers: list[asyncio.Task[None]] = []
        # set once the task watcher has read the tasks it compares later changes with
        self._baseline = asyncio.Event()
        self.keepalive_s = KEEPALIVE_S
        feed.subscribe(self._run)

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- publishing ------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._last_id = max(self._last_id + 1, _micros(self._engine.now()))
        return self._last_id

    def publish(self, kind: str, data: dict[str, Any], task: str) -> None:
        if not self._subs:
            return
        event = Event(kind, self._next_id(), data, task)
        for sub in tuple(self._subs):
            if not sub.offer(event):
                log.warning("an event stream lags %d events behind; closing it", QUEUE_MAX)
                self._subs.discard(sub)
                sub.queue.put_nowait(None)

    def _run(self, run: RunRecord, before: RunRecord | None) -> None:
        if before is not None and before.state is run.state:
            return
        payload = run_payload(run)
        self.publish("run", payload, payload["task"])

    # --- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, task: str | None) -> Subscription:
        sub = Subscription(task)
        if not self._subs:
            self._start_watchers()
        self._subs.add(sub)
        return sub

    async def watching(self) -> None:
        """Return once the task watcher started by :meth:`subscribe` has read the tasks it compares
        later changes with: every task change committed after this is reported (or the watcher
        stopped on an error, which it logged). A stream answers only after this, so a client that saw
        its answer may count on the task events of the changes it makes then."""
        await self._baseline.wait()

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        if not self._subs:
            self._stop_watchers()

    async def stop(self) -> None:
        """End every stream (the server stops)."""
        for sub in tuple(self._subs):
            sub.queue.put_nowait(None)
        self._subs.clear()
        watchers = self._stop_watchers()
        if watchers:
            await asyncio.gather(*watchers, return_exceptions=True)

    def _start_watchers(self) -> None:
        loop = asyncio.get_running_loop()
        self._baseline = asyncio.Event()
        self._watchers = [loop.create_task(self._watch_tasks(self._baseline))]
        if self._engine.settings.shared_catalog:
            self._watchers.append(loop.create_task(self._poll_cluster()))

    def _stop_watchers(self) -> list[asyncio.Task[None]]:
        watchers, self._watchers = self._watchers, []
        self._baseline.set()  # a watcher cancelled before it began never sets it
        for task in watchers:
            task.cancel()
        return watchers

    # --- replay ----------------------------------------------------------------------------------

    async def replay(self, last_event_id: str, task: str | None) -> list[Event]:
        """The run events since ``last_event_id`` (see the module), oldest change first."""
        try:
            since = _EPOCH + timedelta(microseconds=int(last_event_id.strip()))
        except (ValueError, OverflowError):
            return []  # not one of our ids: nothing to resume
        now = self._engine.now()
        events: list[Event] = []
        if since < now - REPLAY_WINDOW:
            events.append(Event("reset", self._next_id(), {"reason": "Last-Event-ID is too old"}, ""))
        start = max(since, now - REPLAY_WINDOW) - _SKEW
        # a run scheduled before the window that changed within it is still open or just ended:
        # the history is read from a little before (bounded by REPLAY_WINDOW on both sides)
        runs = await self._engine.catalog.list_runs(start=start - REPLAY_WINDOW)
        changed = sorted((r for r in runs if _changed_at(r) >= start), key=_changed_at)[-REPLAY_MAX:]
        for run in changed:
            payload = run_payload(run)
            if task is None or payload["task"].lower() == task.lower():
                events.append(Event("run", _micros(_changed_at(run)), payload, payload["task"]))
        return events

    # --- task changes ----------------------------------------------------------------------------

    async def _watch_tasks(self, baseline: asyncio.Event) -> None:
        catalog = self._engine.catalog
        try:
            seq = await catalog.change_seq()
            known = {r.id: r for r in await catalog.list_tasks()}
            baseline.set()
            while True:
                now_seq = await catalog.wait_for_change(seq, 30.0)
                if now_seq == seq:
                    continue
                seq = now_seq
                known = await self._task_changes(known)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the task event watcher stopped")
        finally:
            baseline.set()  # a stream waiting for it answers anyway (without task events then)

    async def _task_changes(self, known: dict[int, TaskRecord]) -> dict[int, TaskRecord]:
        catalog = self._engine.catalog
        stubs = {s.id: s for s in await catalog.list_task_stubs()}
        moved = [
            i
            for i, s in stubs.items()
            if i not in known or (known[i].version, known[i].state) != (s.version, s.state)
        ]
        fresh = {r.id: r for r in await catalog.get_tasks_by_ids(moved)} if moved else {}
        for task_id, rec in known.items():
            if task_id not in stubs:
                self._task_event(rec, "dropped", "dropped")
        for task_id, rec in fresh.items():
            old = known.get(task_id)
            if old is None:
                change = "created"
            elif old.state is not rec.state:
                change = "resumed" if rec.state is TaskState.STARTED else "suspended"
            else:
                change = "altered"
            self._task_event(rec, rec.state.value, change)
        kept = {i: r for i, r in known.items() if i in stubs}
        kept.update(fresh)
        return kept

    def _task_event(self, rec: TaskRecord, state: str, change: str) -> None:
        name = rec.definition.name
        full = qualified(name.database or "", name.schema or "", name.name)
        self.publish("task", {"name": full, "state": state, "change": change}, full)

    # --- other nodes' runs (shared catalog) ------------------------------------------------------

    async def _poll_cluster(self) -> None:
        """Every CLUSTER_POLL_S: the runs of the other nodes that changed state since the last look
        (their open runs, and the runs scheduled lately), each published once per state."""
        catalog, engine = self._engine.catalog, self._engine
        me = engine.settings.effective_node_id
        seen: dict[int, str] = {}
        first = True
        try:
            while True:
                now = engine.now()
                nodes = [
                    n.node_id
                    for n in await catalog.list_nodes(now)
                    if n.stopped_at is None and n.node_id != me
                ]
                current = {r.run_id: r for r in await catalog.open_runs(*nodes)} if nodes else {}
                for run in await catalog.list_runs(start=now - timedelta(seconds=60)):
                    current.setdefault(run.run_id, run)
                for run_id in [
                    i for i, state in seen.items() if i not in current and state in ("SCHEDULED", "EXECUTING")
                ]:
                    ended = await catalog.get_run(run_id)
                    if ended is not None:
                        current[run_id] = ended
                for run in current.values():
                    if run.node_id == me or seen.get(run.run_id) == run.state.value:
                        continue
                    seen[run.run_id] = run.state.value
                    if not first:
                        self._run(run, None)
                seen = {i: s for i, s in seen.items() if i in current}
                first = False
                await asyncio.sleep(CLUSTER_POLL_S)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the cluster event poll stopped")


HUB_KEY: web.AppKey[EventHub] = web.AppKey("events", EventHub)


async def events_handler(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/events``: the stream (see the module)."""
    query = Query(request, ("task",))
    hub = request.app[HUB_KEY]
    task = _task_filter(request, query.values.get("task"))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a proxy must not buffer the stream
        }
    )
    # subscribed before the answer starts (a client that saw it may count on its events) and
    # before the replay (nothing falls between the two)
    sub = hub.subscribe(task)
    try:
        await hub.watching()
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        last = request.headers.get("Last-Event-ID")
        if last:
            for old in await hub.replay(last, task):
                await response.write(old.encode())
        while True:
            try:
                event: Event | None = await asyncio.wait_for(sub.queue.get(), hub.keepalive_s)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if event is None:
                break
            await response.write(event.encode())
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away
    finally:
        hub.unsubscribe(sub)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


def _task_filter(request: web.Request, text: str | None) -> str | None:
    """``?task=`` as a qualified name (``t`` resolved as SQL resolves it)."""
    if text is None:
        return None
    parts = name_parts(text.strip())
    if parts is None:
        raise RequestError(
            400,
            "query parameter task must be a task name (t or db.schema.t; a part with dots or quotes "
            f'in double quotes: public."a.b"), not {text[:60]!r}',
            code="INVALID_PARAMETER",
        )
    resolved = request.app[HUB_KEY].engine.resolve(QualifiedName.of(*parts))
    return qualified(resolved.database or "", resolved.schema or "", resolved.name)
