"""Exactly once through kill -9: a ``tasksql serve`` process whose task consumes a stream is killed
at random moments (often in the middle of the body's transaction) while another program inserts
rows; after restarts the target holds every inserted row exactly once."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_support import ServerProcess, sql, wait_for

pytestmark = pytest.mark.realtime

ROWS = 400
#: A body that inserts the stream's rows, then spends a while before its transaction commits, so
#: that kills land between the two.
BODY = (
    "BEGIN INSERT INTO dst SELECT id, METADATA$ACTION FROM sc;"
    " SELECT count(*) FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000)"
    " SELECT i FROM r); END"
)


def _insert(db: Path, stop: threading.Event) -> None:
    con = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        for i in range(1, ROWS + 1):
            con.execute("INSERT INTO src VALUES (?)", (i,))
            time.sleep(random.uniform(0, 0.02))
            if stop.is_set():
                return
    finally:
        con.close()


def test_kill_9_while_a_task_consumes_a_stream(tmp_path: Path, spawn: Callable[..., ServerProcess]) -> None:
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    data = tmp_path / "data"
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE src (id INTEGER)")
        con.execute("CREATE TABLE dst (id INTEGER, action TEXT)")
    sql(
        data,
        f"CREATE WAREHOUSE shop TYPE = sqlite URL = '{db}';"
        " CREATE STREAM sc ON TABLE src WAREHOUSE = shop;"
        " CREATE TASK mover WAREHOUSE = shop SCHEDULE = '1 SECONDS'"
        f" WHEN SYSTEM$STREAM_HAS_DATA('sc') AS {BODY};"
        " ALTER TASK mover RESUME",
    )
    stop = threading.Event()
    inserter = threading.Thread(target=_insert, args=(db, stop), daemon=True)
    inserter.start()
    kills = 0
    try:
        while inserter.is_alive() or kills < 3:
            server = spawn(data)
            time.sleep(rnd.uniform(0.5, 2.5))  # a random moment of the server's life
            server.kill()
            kills += 1
    finally:
        stop.set()
        inserter.join(timeout=60)
    server = spawn(data)

    def drained() -> list[tuple[int, str]] | None:
        with sqlite3.connect(db, timeout=30) as con:
            got = con.execute("SELECT id, action FROM dst ORDER BY id").fetchall()
            pending = con.execute("SELECT count(*) FROM src").fetchone()[0]
        return got if len(got) >= pending else None

    got = wait_for(drained, timeout=120, what=f"the stream to be consumed (seed {seed})")
    assert server.stop() == 0
    with sqlite3.connect(db) as con:
        source = [r[0] for r in con.execute("SELECT id FROM src ORDER BY id")]
    ids = [i for i, _ in got]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    missing = sorted(set(source) - set(ids))
    assert not duplicates and not missing, (
        f"seed {seed}: duplicates {duplicates[:20]}, missing {missing[:20]}"
    )
    assert ids == source and {a for _, a in got} == {"INSERT"} and kills >= 3
    [runs] = sql(data, "SELECT state, count(*) AS n FROM task_history() GROUP BY state")
    states = {r["state"]: r["n"] for r in runs}
    assert states.get("SUCCEEDED", 0) >= 2, states  # consumed over several runs and servers
