"""The MariaDB event scheduler (Debian's ``mariadb-server``) in a private server.

Events are ``CREATE EVENT b<i> ON SCHEDULE EVERY 1 SECOND STARTS '<t0>' DO INSERT INTO bench_log
VALUES (<i>, NOW(6))``. MariaDB stores STARTS with whole-second precision (``mysql.event.starts``
is a DATETIME; sub-second offsets are truncated), and its smallest interval is 1 second, so:

* phases cannot be spread inside the second: every event of a run fires on the same whole second.
  The steady workload therefore has the burst workload's configuration for MariaDB; it is
  measured once, over the steady window, and reported in both tables;
* a ramp step of R runs per second is R events every second, all on the second boundary.

Lag. MariaDB gives an event no way to read its scheduled instant. Events only become due on whole
seconds (grid points of STARTS), so each run is attributed to the whole second it started in,
except that two runs of one event cannot share an instant: going through an event's runs from the
last one backwards, a run whose second is already taken by the next run is attributed to the
second before (see :func:`attribute`). This is exact while lags stay under one second, and while a
backlog of late runs lasts; a single run more than a second late whose successor was skipped is
attributed to the later second (its lag understated, the earlier instant counted as missed).
``reattributed`` counts the runs moved to an earlier second.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from bench import install, procinfo
from bench.measure import GRACE, grid_count, last_start_by_instant, ms, summarize
from bench.peers import unsupported
from bench.servers import MariaDBServer

PACKAGE = "mariadb-server"
DATABASE = "bench"

#: Server options. The event scheduler has no tuning knobs of its own; these make the body's
#: INSERT as cheap as MariaDB allows (no binary log, no fsync per commit).
SETTINGS = {
    "event-scheduler": "ON",
    "innodb-flush-log-at-trx-commit": "0",
    "innodb-buffer-pool-size": "256M",
    "max-connections": "1000",
    "performance-schema": "OFF",
}


class MariaDB:
    """The event scheduler of a private MariaDB server, started on first use."""

    name = "mariadb"

    def __init__(self) -> None:
        self.server: MariaDBServer | None = None
        self._steady: dict[int, dict[str, Any]] = {}

    def open(self) -> None:
        install.ensure_apt(PACKAGE)
        install.ensure_pip("PyMySQL>=1.1", "pymysql")
        self.server = MariaDBServer(SETTINGS).start()
        with self.server.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DATABASE}")
            cur.execute(f"CREATE TABLE {DATABASE}.bench_log (task_id INT, started DATETIME(6)) ENGINE=InnoDB")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _server(self) -> MariaDBServer:
        if self.server is None:
            self.open()
        assert self.server is not None
        return self.server

    def describe(self) -> dict[str, Any]:
        server = self._server()
        return {
            "version": f"MariaDB {server.version()} (Debian {install.package_version(PACKAGE)})",
            "settings": dict(SETTINGS, **{"table": "InnoDB"}),
        }

    # --- workloads -----------------------------------------------------------------------------------

    def steady(self, n: int, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
        """N events every second; phases cannot be spread (see the module docstring)."""
        out = self._periodic(n, seconds, warmup)
        out["note"] = "no sub-second STARTS: all events fire on the same whole second (= burst)"
        self._steady[n] = out
        return out

    def burst(self, n: int, seconds: float, warmup: float = 3.0) -> dict[str, Any]:
        """N events all due on the same second: the steady configuration (measured once)."""
        if n in self._steady:
            return dict(
                self._steady[n], note="same configuration as steady; measured once, over the steady window"
            )
        return self._periodic(n, seconds, warmup)

    def ramp(self, rates: list[int], seconds: float, warmup: float = 2.0) -> dict[str, Any]:
        """R events every second (all on the boundary) for each rate R until more than 1% are missed."""
        steps = []
        for rate in rates:
            step = self._periodic(rate, seconds, warmup)
            step["target_rate"] = rate
            step["achieved_rate"] = step["ran"] / seconds
            steps.append(step)
            if not step["ran_share"] >= 0.99:
                break
        return {"steps": steps}

    def timeout(self) -> dict[str, Any]:
        return unsupported("measured as MariaDB's max_statement_time in the timeout workload")

    def _periodic(self, n: int, seconds: float, warmup: float) -> dict[str, Any]:
        server = self._server()
        with server.connect(DATABASE) as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE bench_log")
            now = datetime.now()
            # The grid's anchor: a whole second after creating the events (about 1 ms each) is done.
            t0 = (now + timedelta(seconds=1.5 + n * 0.002)).replace(microsecond=0)
            _create_events(cur, n, f"EVERY 1 SECOND STARTS '{t0:%Y-%m-%d %H:%M:%S}'", "b")
            lo = t0 + timedelta(seconds=warmup)
            hi = lo + timedelta(seconds=seconds)
            time.sleep(max(0.0, (hi - datetime.now()).total_seconds() + 1.0))
            cur.execute("SET GLOBAL event_scheduler = OFF")
            time.sleep(0.5)
            _drop_events(cur, n, "b")
            cur.execute("SET GLOBAL event_scheduler = ON")
            cur.execute(
                "SELECT task_id, started FROM bench_log WHERE started >= %s AND started < %s",
                # From before the window, so that late runs of earlier instants are attributed right.
                (lo - timedelta(seconds=min(warmup, 5.0)), hi + timedelta(seconds=2)),
            )
            rows: list[tuple[int, datetime]] = list(cur.fetchall())
        runs = attribute(rows)
        inside = [
            (instant, ms(started - instant))
            for instant, started in runs
            if lo <= instant < hi and started <= hi + GRACE
        ]
        expected = n * grid_count(t0, timedelta(seconds=1), lo, hi)
        out = summarize(
            tasks=n,
            seconds=seconds,
            expected=expected,
            lags_ms=[lag for _, lag in inside],
            last_start_by_instant=last_start_by_instant(inside),
        )
        out["reattributed"] = sum(1 for instant, started in runs if started - instant >= timedelta(seconds=1))
        return out

    def scale(self, n: int) -> dict[str, Any]:
        """N events (every year, from next year): creation time, start-up time and memory with them loaded."""
        server = self._server()
        base_restart = server.restart()
        base_rss = procinfo.rss(server.pid)
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE bench_scale")
            cur.execute("USE bench_scale")
            cur.execute("CREATE TABLE bench_log (task_id INT, started DATETIME(6))")
            starts = datetime.now().replace(microsecond=0) + timedelta(days=365)
            t0 = time.perf_counter()
            _create_events(cur, n, f"EVERY 1 YEAR STARTS '{starts:%Y-%m-%d %H:%M:%S}'", "s")
            register_s = time.perf_counter() - t0
        restart_s = server.restart()
        rss = procinfo.rss(server.pid)
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute("DROP DATABASE bench_scale")  # drops its events too
        return {
            "tasks": n,
            "register_s": register_s,
            "load_s": max(0.0, restart_s - base_restart),
            "restart_s": restart_s,
            "rss_mb": rss,
            "rss_growth_mb": rss - base_rss,
            "note": "load = server start-up time with the events minus without; memory = mariadbd's RSS",
        }


def attribute(rows: list[tuple[int, datetime]]) -> list[tuple[datetime, datetime]]:
    """(scheduled instant, start) for each (event id, start) row: see the module docstring.

    Per event, from its last run backwards: instant = the whole second of the start, but at least
    one second before the instant of the event's next run.
    """
    by_task: dict[int, list[datetime]] = defaultdict(list)
    for task, started in rows:
        by_task[task].append(started)
    out: list[tuple[datetime, datetime]] = []
    for starts in by_task.values():
        following: datetime | None = None
        for started in sorted(starts, reverse=True):
            instant = started.replace(microsecond=0)
            if following is not None and instant >= following:
                instant = following - timedelta(seconds=1)
            out.append((instant, started))
            following = instant
    return out


def _create_events(cur: Any, n: int, schedule: str, prefix: str) -> None:
    for i in range(n):
        cur.execute(
            f"CREATE EVENT {prefix}{i} ON SCHEDULE {schedule} ON COMPLETION PRESERVE "
            f"DO INSERT INTO bench_log VALUES ({i}, NOW(6))"
        )


def _drop_events(cur: Any, n: int, prefix: str) -> None:
    for i in range(n):
        cur.execute(f"DROP EVENT IF EXISTS {prefix}{i}")
