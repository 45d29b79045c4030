"""DuckDB's own CPU per statement of a marked body, below tasksql (not a test: run it by hand).

    python -m bench.duckdb_statements [-n 2000]

On one cursor of a DuckDB file opened as the benchmarks open it (``threads = 1``, ``fsync_mode =
none``), each sequence of statements is run ``n`` times, the sequences taking turns, and the
calling thread's CPU time of each ``execute`` is averaged per statement. The sequences: a one-row
INSERT body alone (autocommit); the same in BEGIN ... COMMIT; with the completion marker's INSERT
as tasksql writes it (:func:`tasksql.warehouses.duckdb._marker_insert`'s form); with the marker
and the COMMIT sent in one call; with the optimizer off; with a second INSERT into the body's own
table instead of the marker (what any second statement costs); and with ``SELECT 1`` instead of
it (a statement's fixed cost). Prints one line per sequence: the total and each statement's share.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

BODY = "INSERT INTO t VALUES (1, 'x')"
STAMP = "2026-12-07 22:00:00.123456"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="runs of each sequence")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"), config={"threads": 1, "fsync_mode": "NONE"})
        con.execute("CREATE TABLE t (i INTEGER, s VARCHAR(10))")
        con.execute("CREATE SCHEMA tasksql_markers")
        con.execute(
            "CREATE TABLE tasksql_markers.run_markers (scope VARCHAR NOT NULL, run_id BIGINT NOT NULL,"
            " committed_at TIMESTAMP NOT NULL)"
        )
        cur = con.cursor()
        no_opt = con.cursor()
        no_opt.execute("SET enable_optimizer = false")
        ids = iter(range(1, 1 << 62))

        def marker() -> str:
            return f"INSERT INTO w.tasksql_markers.run_markers VALUES ('bench', {next(ids)}, '{STAMP}')"

        sequences: dict[str, tuple[duckdb.DuckDBPyConnection, list[Callable[[], str]]]] = {
            "body alone (autocommit)": (cur, [lambda: BODY]),
            "BEGIN, body, COMMIT": (cur, [lambda: "BEGIN TRANSACTION", lambda: BODY, lambda: "COMMIT"]),
            "BEGIN, body, marker, COMMIT": (
                cur,
                [lambda: "BEGIN TRANSACTION", lambda: BODY, marker, lambda: "COMMIT"],
            ),
            "BEGIN, body, marker+COMMIT": (
                cur,
                [lambda: "BEGIN TRANSACTION", lambda: BODY, lambda: marker() + ";\nCOMMIT"],
            ),
            "as above, optimizer off": (
                no_opt,
                [lambda: "BEGIN TRANSACTION", lambda: BODY, marker, lambda: "COMMIT"],
            ),
            "BEGIN, body, body, COMMIT": (
                cur,
                [lambda: "BEGIN TRANSACTION", lambda: BODY, lambda: BODY, lambda: "COMMIT"],
            ),
            "BEGIN, body, SELECT 1, COMMIT": (
                cur,
                [lambda: "BEGIN TRANSACTION", lambda: BODY, lambda: "SELECT 1", lambda: "COMMIT"],
            ),
        }
        spent = {name: [0] * len(steps) for name, (_, steps) in sequences.items()}
        for _ in range(args.n):
            for name, (c, steps) in sequences.items():
                for i, step in enumerate(steps):
                    sql = step()
                    t0 = time.thread_time_ns()
                    c.execute(sql)
                    spent[name][i] += time.thread_time_ns() - t0
        con.close()
    for name, parts in spent.items():
        us = [p / args.n / 1000 for p in parts]
        print(f"{name:<32} {sum(us):6.0f} us CPU: " + " + ".join(f"{u:.0f}" for u in us))


if __name__ == "__main__":
    main()
