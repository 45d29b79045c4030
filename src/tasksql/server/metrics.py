"""``GET /metrics``: the server's metrics in Prometheus' text format (prometheus_client).

This is the one module that imports prometheus_client. Each app has a registry of its own (two
servers in one process, as in tests, never mix). Counters and histograms are fed as things happen,
through :class:`~tasksql.server.runfeed.RunFeed` (runs) and the catalog's observers (write latency,
deliveries); gauges are computed when scraped.

Metrics (names and units per Prometheus' conventions; docs/operations.md lists them with alerts):

=================================================== ========= =====================================
``tasksql_runs_total{task,state}``                  counter   runs settled (and instants SKIPPED)
``tasksql_run_start_lag_seconds{warehouse}``        histogram scheduled instant -> start
``tasksql_run_duration_seconds{warehouse}``         histogram start -> end of settled runs
``tasksql_runs_queued{warehouse}``                  gauge     runs due on this node, not started
``tasksql_runs_executing{warehouse}``               gauge     runs executing on this node
``tasksql_run_oldest_executing_seconds``            gauge     age of the oldest of them (0: none)
``tasksql_catalog_write_seconds``                   histogram asked -> committed, per write
``tasksql_notification_deliveries_total{integration}`` counter messages delivered
``tasksql_notification_failures_total{integration,outcome}`` counter failed attempts
                                                              (``retry``, ``give_up``)
``tasksql_tasks{state}``                            gauge     tasks: ``started``, ``suspended``,
                                                              ``auto_suspended``
``tasksql_nodes{state}``                            gauge     cluster members by ``system.cluster``
                                                              state
=================================================== ========= =====================================

Cardinality is bounded: no run ids; ``warehouse``, ``integration`` and ``state`` are bounded by the
objects and states that exist; ``task`` takes at most :data:`MAX_TASK_LABELS` distinct values per
process, the rest are counted under ``task="other"`` (a qualified task name always has dots, so it
never collides).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as PromCounter

from tasksql.engine import Engine
from tasksql.model import DEFAULT_WAREHOUSE, RunState, SuspendReason, TaskState
from tasksql.model.run import RunRecord
from tasksql.server.runfeed import RunFeed

#: Distinct ``task`` label values per process; later tasks are counted as ``other``.
MAX_TASK_LABELS = 1000
OTHER_TASK = "other"

_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
_WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


def qualified(run: RunRecord) -> str:
    """A run's task as ``database.schema.name``."""
    return f"{run.database_name}.{run.schema_name}.{run.name}"


class Metrics:
    """The metrics of one server (see the module); a listener of its catalog's observers."""

    def __init__(self, engine: Engine, feed: RunFeed) -> None:
        self._engine = engine
        self._feed = feed
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = PromCounter(
            "tasksql_runs",
            "Runs settled (and instants skipped), by task and state",
            ["task", "state"],
            registry=r,
        )
        self.start_lag = Histogram(
            "tasksql_run_start_lag_seconds",
            "Seconds from a run's scheduled instant to its start",
            ["warehouse"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "tasksql_run_duration_seconds",
            "Seconds from a run's start to its end",
            ["warehouse"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.queued = Gauge(
            "tasksql_runs_queued",
            "Runs of this node whose instant came that have not started",
            ["warehouse"],
            registry=r,
        )
        self.executing = Gauge(
            "tasksql_runs_executing", "Runs executing on this node", ["warehouse"], registry=r
        )
        self.oldest = Gauge(
            "tasksql_run_oldest_executing_seconds",
            "Seconds since the oldest run executing on this node started (0: none)",
            registry=r,
        )
        self.writes = Histogram(
            "tasksql_catalog_write_seconds",
            "Seconds from asking for a catalog write to its commit",
            buckets=_WRITE_BUCKETS,
            registry=r,
        )
        self.deliveries = PromCounter(
            "tasksql_notification_deliveries", "Notification messages delivered", ["integration"], registry=r
        )
        self.failures = PromCounter(
            "tasksql_notification_failures",
            "Failed notification delivery attempts (retry: tried again later; give_up: failed for good)",
            ["integration", "outcome"],
            registry=r,
        )
        self.tasks = Gauge("tasksql_tasks", "Tasks by state", ["state"], registry=r)
        self.nodes = Gauge(
            "tasksql_nodes", "Cluster members by state (system.cluster)", ["state"], registry=r
        )
        self._task_labels: set[str] = set()
        self._lag_seen: set[int] = set()
        feed.subscribe(self._run)

    # --- fed as things happen --------------------------------------------------------------------

    def _task_label(self, run: RunRecord) -> str:
        name = qualified(run)
        if name in self._task_labels:
            return name
        if len(self._task_labels) < MAX_TASK_LABELS:
            self._task_labels.add(name)
            return name
        return OTHER_TASK

    def _run(self, run: RunRecord, before: RunRecord | None) -> None:
        warehouse = run.warehouse or DEFAULT_WAREHOUSE
        if run.query_start_time is not None and run.run_id not in self._lag_seen:
            # once per run: at its start, or at its end when its start was never written alone
            if len(self._lag_seen) > 100_000:  # runs whose end was never reported (a lost node's)
                self._lag_seen.clear()
            self._lag_seen.add(run.run_id)
            lag = (run.query_start_time - run.scheduled_time).total_seconds()
            self.start_lag.labels(warehouse).observe(max(0.0, lag))
        if not run.state.terminal:
            return
        self._lag_seen.discard(run.run_id)
        self.runs.labels(self._task_label(run), run.state.value).inc()
        if run.query_start_time is not None and run.completed_time is not None:
            took = (run.completed_time - run.query_start_time).total_seconds()
            self.duration.labels(warehouse).observe(max(0.0, took))

    def runs_inserted(self, runs: object) -> None:
        pass

    def run_changed(self, outcome: object) -> None:
        pass

    def catalog_write(self, seconds: float) -> None:
        self.writes.observe(seconds)

    def delivery(self, integration: str, result: str) -> None:
        if result == "DELIVERED":
            self.deliveries.labels(integration).inc()
        else:
            self.failures.labels(integration, "retry" if result == "RETRY" else "give_up").inc()

    # --- computed when scraped -------------------------------------------------------------------

    async def refresh(self) -> None:
        """Set the gauges from this node's open runs, the catalog's tasks and system.cluster."""
        now = self._engine.now()
        self._open_runs(now)
        stubs = await self._engine.catalog.list_task_stubs()
        states: Counter[str] = Counter({"started": 0, "suspended": 0, "auto_suspended": 0})
        for stub in stubs:
            if stub.state is TaskState.STARTED:
                states["started"] += 1
            elif stub.suspend_reason is SuspendReason.AUTO_SUSPENDED:
                states["auto_suspended"] += 1
            else:
                states["suspended"] += 1
        for state, count in states.items():
            self.tasks.labels(state).set(count)
        result = (
            await self._engine.execute("SELECT node_state, count(*) FROM system.cluster GROUP BY node_state")
        )[-1]
        self.nodes.clear()
        for state, count in result.rows:
            self.nodes.labels(str(state)).set(int(count))

    def _open_runs(self, now: datetime) -> None:
        queued: Counter[str] = Counter()
        executing: Counter[str] = Counter()
        oldest = 0.0
        for run in self._feed.open_runs():
            warehouse = run.warehouse or DEFAULT_WAREHOUSE
            if run.state is RunState.EXECUTING:
                executing[warehouse] += 1
                if run.query_start_time is not None:
                    oldest = max(oldest, (now - run.query_start_time).total_seconds())
            elif run.state is RunState.SCHEDULED and run.scheduled_time <= now:
                queued[warehouse] += 1
        for gauge, counts in ((self.queued, queued), (self.executing, executing)):
            gauge.clear()
            gauge.labels(DEFAULT_WAREHOUSE).set(0)
            for warehouse, count in counts.items():
                gauge.labels(warehouse).set(count)
        self.oldest.set(oldest)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text exposition."""
    metrics = request.app[METRICS_KEY]
    await metrics.refresh()
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
