"""pg_cron (Debian's ``postgresql-15-cron``) in a private PostgreSQL cluster.

What pg_cron 1.4 can express: cron schedules with minute granularity (sub-minute
``'[1-59] seconds'`` schedules arrived in pg_cron 1.5; Debian 12 ships 1.4.2). So:

* steady (tasks due every second, spread phases): cannot be expressed;
* burst: N jobs ``'* * * * *'`` all due at the same minute boundary, one boundary per N;
* ramp (runs per second): cannot be expressed as a per-second rate; the burst figures bound what
  it runs per minute;
* scale: N jobs created with ``cron.schedule`` in one transaction, launcher memory and load time;
* timeout: pg_cron has none; a job would set PostgreSQL's ``statement_timeout`` (measured in
  :mod:`bench.timeouts`).

Each job runs ``INSERT INTO bench_log VALUES (<id>, now())`` in the ``postgres`` database (the
metadata database); ``now()`` is the start of the job's transaction. The scheduled instant is the
minute boundary the jobs were created for, so lag = ``now()`` - boundary.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import install, procinfo
from bench.measure import ms, summarize
from bench.peers import unsupported
from bench.servers import PgServer, pgcron_settings

PACKAGE = "postgresql-15-cron"
#: pg_cron marks a run failed when its connection or worker has not started within 10 s.
STARTUP_TIMEOUT = 10.0


class PgCron:
    """pg_cron in a private cluster, started on first use; :meth:`close` removes it."""

    name = "pg_cron"

    def __init__(self, *, background_workers: bool = False, max_running_jobs: int = 200) -> None:
        self.background_workers = background_workers
        self.max_running_jobs = max_running_jobs
        self.server: PgServer | None = None

    # --- life cycle ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Install the package when missing and start the cluster with pg_cron preloaded."""
        install.ensure_apt(PACKAGE)
        server = PgServer()
        server.settings.update(
            pgcron_settings(
                background_workers=self.background_workers,
                max_running_jobs=self.max_running_jobs,
                base=str(server.base),
            )
        )
        self.server = server.start()
        with self._connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            conn.execute("CREATE TABLE bench_log (task_id integer, started timestamptz)")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def describe(self) -> dict[str, Any]:
        server = self._server()
        with self._connect() as conn:
            pg = conn.execute("SHOW server_version").fetchone()
            ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'").fetchone()
        settings = dict(server.settings)
        settings["cron.host"] = "the cluster's Unix socket directory"
        return {
            "version": f"pg_cron {ext[0] if ext else '?'} (Debian {install.package_version(PACKAGE)}), "
            f"PostgreSQL {pg[0] if pg else '?'}",
            "settings": settings,
        }

    def _server(self) -> PgServer:
        if self.server is None:
            self.open()
        assert self.server is not None
        return self.server

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._server().dsn, autocommit=True)

    # --- workloads -----------------------------------------------------------------------------------

    def steady(self, n: int, seconds: float) -> dict[str, Any]:
        return unsupported(
            "pg_cron 1.4.2 (Debian 12) schedules with minute granularity: no job can be due every "
            "second ('[1-59] seconds' schedules need pg_cron 1.5)"
        )

    def ramp(self, rates: list[int], seconds: float) -> dict[str, Any]:
        return unsupported(
            "minute granularity: no per-second rate can be expressed; see the burst table for how many "
            "runs one minute boundary completes"
        )

    def burst(self, n: int, seconds: float) -> dict[str, Any]:
        """N jobs all due at the next minute boundary; one instant (``seconds`` is not used)."""
        self._server()
        with self._connect() as conn:
            conn.execute("TRUNCATE bench_log")
            boundary = _next_boundary(margin=5.0)
            with conn.transaction():
                for i in range(n):
                    conn.execute(
                        "SELECT cron.schedule(%s, '* * * * *', %s)",
                        (f"b{i}", f"INSERT INTO bench_log VALUES ({i}, now())"),
                    )
            if datetime.now(UTC) >= boundary:
                conn.execute("DELETE FROM cron.job")
                raise RuntimeError("creating the jobs took past the minute boundary")
            _wait_for_runs(conn, boundary, n)
            conn.execute("DELETE FROM cron.job")
            time.sleep(1.0)  # let runs already started finish their INSERT
            rows = conn.execute(
                "SELECT task_id, min(started) FROM bench_log "
                "WHERE started >= %s AND started < %s GROUP BY task_id",
                (boundary, boundary + timedelta(seconds=60)),
            ).fetchall()
        lags = [ms(started - boundary) for _, started in rows]
        out = summarize(
            tasks=n,
            seconds=60,
            expected=n,
            lags_ms=lags,
            last_start_by_instant={boundary: max(lags, default=0.0)},
        )
        out["instants"] = 1
        return out

    def scale(self, n: int) -> dict[str, Any]:
        """Create N yearly jobs; the launcher's memory growth and CPU time to load them after a restart."""
        server = self._server()
        base_pid = _launcher_pid(server)
        base_cpu = procinfo.wait_idle(base_pid)
        base_mem = procinfo.private_mb(base_pid)
        with self._connect() as conn:
            t0 = time.perf_counter()
            with conn.transaction():
                for i in range(n):
                    conn.execute(
                        "SELECT cron.schedule(%s, '0 0 1 1 *', %s)",
                        (f"s{i}", f"INSERT INTO bench_log VALUES ({i}, now())"),
                    )
            register_s = time.perf_counter() - t0
        restart_s = server.restart()
        pid = _launcher_pid(server)
        cpu = procinfo.wait_idle(pid)
        out = {
            "tasks": n,
            "register_s": register_s,
            "load_s": max(0.0, cpu - base_cpu),
            "restart_s": restart_s,
            "rss_mb": procinfo.rss(pid),
            "private_mb": procinfo.private_mb(pid),
            "rss_growth_mb": procinfo.private_mb(pid) - base_mem,
            "note": "load = CPU time of the pg_cron launcher after a restart; "
            "memory = growth of the launcher's private memory",
        }
        with self._connect() as conn:
            conn.execute("DELETE FROM cron.job")
        return out


def _next_boundary(margin: float) -> datetime:
    """The next minute boundary at least ``margin`` seconds away (sleeping past a closer one)."""
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (boundary - now).total_seconds() < margin:
        # Too close to create the jobs before it: let it pass; jobs created now fire at the next one.
        time.sleep((boundary - now).total_seconds() + 0.2)
        boundary += timedelta(minutes=1)
    return boundary


def _wait_for_runs(conn: Any, boundary: datetime, n: int) -> None:
    """Return when all N ran, when none has started for longer than the start-up timeout, or 50 s on."""
    time.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds()))
    last_count, last_change = -1, time.monotonic()
    end = boundary + timedelta(seconds=50)
    while datetime.now(UTC) < end:
        time.sleep(0.5)
        row = conn.execute(
            "SELECT count(DISTINCT task_id) FROM bench_log WHERE started >= %s", (boundary,)
        ).fetchone()
        count = int(row[0]) if row else 0
        if count >= n:
            return
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > STARTUP_TIMEOUT + 2:
            return


def _launcher_pid(server: PgServer) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = server.backend_pids("pg_cron launcher")
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise RuntimeError("the pg_cron launcher did not start")
