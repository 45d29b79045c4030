"""What the catalog-outage tests share: the tasks they run, and how they read what happened.

The tasks (created by :data:`TASKS`): ``fast`` every 200 ms (CATCH_UP NONE), ``every_second``
every second (CATCH_UP ALL), a graph ``root`` -> ``middle`` -> ``leaf`` every second, all writing
into the DuckDB table ``hits`` of the node's data directory, and ``slow`` every 2 seconds whose
body takes a second on the warehouse ``side`` (a PostgreSQL server that stays up) and writes into
its table ``slow_hits``. Each body writes its run id and scheduled instant, so the bodies' own
writes prove which instants ran, and how often.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from psycopg import sql

BODY = (
    "SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME'), SYSTEM$TASK_RUNTIME_INFO('CURRENT_RUN_ID'), "
    "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_SCHEDULED_TIME')"
)

#: Names of the tasks whose bodies write ``hits`` (DuckDB) and ``slow_hits`` (the side server).
DUCK_TASKS = ("fast", "every_second", "root", "middle", "leaf")
ALL_TASKS = (*DUCK_TASKS, "slow")


def tasks_sql(side_url: str) -> str:
    """The statements that create the tables and the started tasks (see the module)."""
    return f"""
        CREATE TABLE hits (task VARCHAR, run_id BIGINT, scheduled VARCHAR);
        CREATE WAREHOUSE side TYPE = postgres URL = '{side_url}';
        CREATE TASK fast SCHEDULE = '200 MILLISECONDS' AS INSERT INTO hits {BODY};
        CREATE TASK every_second SCHEDULE = '1 SECOND' CATCH_UP = ALL AS INSERT INTO hits {BODY};
        CREATE TASK root SCHEDULE = '1 SECOND' AS INSERT INTO hits {BODY};
        CREATE TASK middle AFTER root AS INSERT INTO hits {BODY};
        CREATE TASK leaf AFTER middle AS INSERT INTO hits {BODY};
        CREATE TASK slow WAREHOUSE = side SCHEDULE = '2 SECONDS'
          AS INSERT INTO slow_hits {BODY} FROM pg_sleep(1);
        SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('root');
        ALTER TASK fast RESUME;
        ALTER TASK every_second RESUME;
        ALTER TASK slow RESUME;
    """


def prepare_side(side_dsn: str) -> None:
    """The table ``slow_hits`` on the side server (created outside tasksql, empty)."""
    with psycopg.connect(side_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS slow_hits")
        conn.execute("CREATE TABLE slow_hits (task TEXT, run_id BIGINT, scheduled TEXT)")


@dataclass(frozen=True)
class Run:
    name: str
    run_id: int
    state: str
    scheduled_time: datetime
    attempt_number: int
    error_code: str | None
    graph_run_group_id: str | None


def history(dsn: str, schema: str, *, timeout: float = 20) -> list[Run]:
    """Every run in the catalog (retried while the catalog's server is away)."""
    query = sql.SQL(
        "SELECT name, run_id, state, scheduled_time, attempt_number, error_code, graph_run_group_id "
        "FROM {}.runs ORDER BY scheduled_time, run_id"
    ).format(sql.Identifier(schema))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
                return [Run(*row) for row in conn.execute(query).fetchall()]
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_until(probe: Any, *, timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def succeeded_after(dsn: str, schema: str, since: datetime, names: tuple[str, ...] = ALL_TASKS) -> bool:
    """True when every task in ``names`` has a SUCCEEDED run scheduled after ``since``."""
    done = {r.name for r in history(dsn, schema) if r.state == "SUCCEEDED" and r.scheduled_time > since}
    return set(names) <= done


def executing(dsn: str, schema: str, name: str) -> bool:
    return any(r.name == name and r.state == "EXECUTING" for r in history(dsn, schema))


def now() -> datetime:
    return datetime.now(UTC)


def duck_hits(data: Path) -> list[tuple[str, int, str]]:
    """The rows the bodies wrote into the node's DuckDB warehouse (read once the node is closed)."""
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as conn:
        return [(str(t), int(r), str(s)) for t, r, s in conn.execute("SELECT * FROM hits").fetchall()]


def side_hits(side_dsn: str) -> list[tuple[str, int, str]]:
    with psycopg.connect(side_dsn, autocommit=True) as conn:
        return [(str(t), int(r), str(s)) for t, r, s in conn.execute("SELECT * FROM slow_hits").fetchall()]


def assert_sound(runs: list[Run], hits: list[tuple[str, int, str]]) -> None:
    """No instant ran twice, every run is settled, and every body that committed is SUCCEEDED.

    ``hits`` are the bodies' own writes: (qualified task name, run id, scheduled instant).
    """
    open_runs = [r for r in runs if r.state in ("SCHEDULED", "EXECUTING")]
    assert not open_runs, f"runs left unsettled: {open_runs}"
    per_instant = Counter((task.rsplit(".", 1)[-1], scheduled) for task, _, scheduled in hits)
    twice = {key: n for key, n in per_instant.items() if n > 1}
    assert not twice, f"instants whose body ran more than once: {twice}"
    hit_ids = Counter(run_id for _, run_id, _ in hits)
    assert all(n == 1 for n in hit_ids.values()), f"a run wrote twice: {hit_ids.most_common(3)}"
    succeeded = {r.run_id for r in runs if r.state == "SUCCEEDED"}
    assert set(hit_ids) == succeeded, (
        f"bodies that committed but are not SUCCEEDED: {sorted(set(hit_ids) - succeeded)}; "
        f"SUCCEEDED runs whose body wrote nothing: {sorted(succeeded - set(hit_ids))}"
    )
    scheduled = Counter(
        (r.name, r.scheduled_time, r.attempt_number) for r in runs if r.graph_run_group_id is None
    )
    assert max(scheduled.values()) == 1, "an instant has two rows"


def assert_every_instant(runs: list[Run], name: str, every: timedelta) -> list[Run]:
    """The task's runs cover every instant from its first to its last, once each; returns them."""
    mine = sorted((r for r in runs if r.name == name), key=lambda r: r.scheduled_time)
    gaps = [
        (a.scheduled_time, b.scheduled_time)
        for a, b in itertools.pairwise(mine)
        if b.scheduled_time - a.scheduled_time != every
    ]
    assert not gaps, f"{name}: instants without a row (or two rows) between {gaps[:3]}"
    return mine
