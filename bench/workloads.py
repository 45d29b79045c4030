"""The six workloads, each run for every chosen peer that can express it.

Each function takes the :class:`~bench.runner.Suite` and records one result per (peer, size)
under ``results["workloads"][workload][peer][size]``; see ``docs/benchmarks.md`` for what each
figure means and how each peer is set up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import timeouts
from bench.peers import unsupported
from bench.peers.inproc import InProcessPeer
from bench.peers.mariadb import MariaDB
from bench.peers.pgcron import PgCron
from bench.runner import Suite, child_limit
from bench.servers import PgServer


def steady(suite: Suite) -> None:
    p = suite.profile
    for n, seconds in p.steady:
        for peer in suite.peers:
            if isinstance(peer, InProcessPeer):
                limit = child_limit(seconds, p.warmup, n)
                call: Callable[[], dict[str, Any]] = _child(
                    peer, "steady", limit, n=n, seconds=seconds, warmup=p.warmup
                )
            elif isinstance(peer, MariaDB):
                call = _bind(peer.steady, n, seconds, p.warmup)
            else:
                call = _bind(peer.steady, n, seconds)
            suite.measure("steady", peer, str(n), call)


def burst(suite: Suite) -> None:
    p = suite.profile
    for n, seconds in p.burst:
        for peer in suite.peers:
            if isinstance(peer, PgCron):
                continue
            if isinstance(peer, InProcessPeer):
                limit = child_limit(seconds, p.warmup, n)
                call: Callable[[], dict[str, Any]] = _child(
                    peer, "burst", limit, n=n, seconds=seconds, warmup=p.warmup
                )
            else:
                call = _bind(peer.burst, n, seconds, p.warmup)
            suite.measure("burst", peer, str(n), call)
    for peer in suite.peers:
        if isinstance(peer, PgCron):
            for n in p.pgcron_burst:
                suite.measure("burst", peer, str(n), _bind(peer.burst, n, 60.0))


def ramp(suite: Suite) -> None:
    p = suite.profile
    rates = list(p.ramp_rates)
    for peer in suite.peers:
        if isinstance(peer, InProcessPeer):
            limit = len(rates) * child_limit(p.ramp_seconds, 2.0, max(rates) // 10)
            call: Callable[[], dict[str, Any]] = _child(
                peer, "ramp", limit, rates=rates, seconds=p.ramp_seconds
            )
        else:
            call = _bind(peer.ramp, rates, p.ramp_seconds)
        suite.measure("ramp", peer, "ramp", call)


def scale(suite: Suite) -> None:
    p = suite.profile
    for n in p.scale:
        for peer in suite.peers:
            if peer.name == "apscheduler-asyncio":
                shared = (
                    "both APScheduler schedulers use one job store: measured once, with BackgroundScheduler"
                )
                suite.record("scale", peer.name, str(n), {"shared": shared})
                continue
            if isinstance(peer, InProcessPeer):
                call: Callable[[], dict[str, Any]] = _child(peer, "scale", 600 + n / 50, n=n)
            else:
                call = _bind(peer.scale, n)
            suite.measure("scale", peer, str(n), call)


def timeout(suite: Suite) -> None:
    """tasksql's warehouses; the peers' database statement timeouts on the same kind of server.

    The PostgreSQL server is pg_cron's cluster when pg_cron is measured (the same PostgreSQL 15),
    else a private plain cluster started for this workload.
    """
    samples = suite.profile.timeout_samples
    pgcron = next((p for p in suite.peers if isinstance(p, PgCron)), None)
    own: PgServer | None = None
    try:
        if pgcron is not None and suite.available(pgcron):
            pg = pgcron.server
        else:
            pg = own = PgServer().start()
        for peer in suite.peers:
            if isinstance(peer, InProcessPeer):
                url = pg.url if pg else None
                limit = 300 + samples * 20
                call: Callable[[], dict[str, Any]] = _child(
                    peer, "timeout", limit, samples=samples, pg_url=url
                )
            elif isinstance(peer, PgCron):
                call = _bind(_labelled, timeouts.pg_statement_timeout, pg.dsn if pg else "", samples)
            elif isinstance(peer, MariaDB):
                call = _bind(_mariadb_timeout, peer, samples)
            else:
                continue
            suite.measure("timeout", peer, "timeout", call)
    finally:
        if own is not None:
            own.stop()


def graphs(suite: Suite) -> None:
    for peer in suite.peers:
        if isinstance(peer, InProcessPeer) and peer.is_tasksql:
            repeats = suite.profile.graph_repeats
            suite.measure("graphs", peer, "graphs", _child(peer, "graphs", 900, repeats=repeats))
        else:
            suite.record("graphs", peer.name, "graphs", unsupported("no task graphs"))


WORKLOAD_FUNCTIONS: dict[str, Callable[[Suite], None]] = {
    "steady": steady,
    "burst": burst,
    "ramp": ramp,
    "scale": scale,
    "timeout": timeout,
    "graphs": graphs,
}


def _child(peer: InProcessPeer, workload: str, limit: float, **kwargs: Any) -> Callable[[], dict[str, Any]]:
    return lambda: peer.run(workload, limit, **kwargs)


def _bind(fn: Callable[..., dict[str, Any]], *args: Any) -> Callable[[], dict[str, Any]]:
    return lambda: fn(*args)


def _labelled(fn: Callable[[str, int], dict[str, Any]], dsn: str, samples: int) -> dict[str, Any]:
    return {"postgresql": dict(fn(dsn, samples), via="statement_timeout set in the job's session")}


def _mariadb_timeout(peer: MariaDB, samples: int) -> dict[str, Any]:
    server = peer.server
    assert server is not None
    return {
        "mariadb": dict(
            timeouts.mariadb_statement_time(server, samples), via="SET STATEMENT max_statement_time"
        )
    }
