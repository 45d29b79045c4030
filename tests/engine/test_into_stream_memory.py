"""INTO another warehouse moves rows in bounded memory: the process grows by a couple of batches, not
by the size of the result. Measured in a child process: its peak resident set size (``VmHWM`` of
/proc/self/status, reset through /proc/self/clear_refs after a warm-up, so the kernel's own
high-water mark covers every instant of the move, not samples) against its resident size before the
move, for a million narrow rows (id, amount, timestamp, short text) from DuckDB to SQLite, whose
page cache is bounded. The result read whole would be several hundred MB of Python tuples."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROWS = 1_000_000

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path

    from tasksql.scheduler.cross_into import run_into_other
    from tasksql.warehouses.base import CancelToken
    from tasksql.warehouses.duckdb import DuckDBDatabase
    from tasksql.warehouses.sqlite import SQLiteWarehouse

    def status_mb(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024

    BODY = ("SELECT i AS id, i * 0.5 AS amount, TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND AS ts,"
            " 'note ' || i AS note FROM range({n}) t(i)")

    async def move(src, dst, n):
        r = await run_into_other(src, dst, "moved", [BODY.format(n=n)], transactional=False,
                                 session_params=[], tables={}, remaining=lambda: 600.0, token=CancelToken())
        assert r.rows_produced == n, r

    async def main(d, n):
        db = DuckDBDatabase(d / "src.duckdb")
        src, dst = db.pool("src", 2), SQLiteWarehouse("dst", d / "dst.db", max_concurrency=2)
        await src.open(); await dst.open()
        await dst.execute("CREATE TABLE moved (id INTEGER, amount REAL, ts TEXT, note TEXT)")
        await move(src, dst, 60000)  # warm up: imports, pools, a batch's worth of allocations
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size
        before = status_mb("VmRSS:")
        await move(src, dst, n)
        peak = status_mb("VmHWM:")
        count = (await dst.execute("SELECT count(*) FROM moved")).rows[0][0]
        print(f"{peak - before:.1f} {count}")
        await src.close(); await dst.close(); await db.close()

    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
    """
)


@pytest.mark.timeout(300)
def test_a_million_rows_move_in_bounded_memory(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD, str(tmp_path), str(ROWS)],
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    growth, count = out.stdout.split()
    assert int(count) == 60000 + ROWS
    assert float(growth) < 100, f"the process grew by {growth} MB moving {ROWS} rows"
