"""Moving rows between warehouses (``python -m bench move``): one million narrow rows (id, amount,
timestamp, short text) with one task run ``INTO <warehouse>.<table>`` of another warehouse, beside
the obvious script a user would write without tasksql and the best single-tool path.

Pairs: PostgreSQL -> DuckDB, MySQL (MariaDB) -> DuckDB, DuckDB -> PostgreSQL, DuckDB -> chdb. Ways:

* ``tasksql``: ``CREATE TASK mv WAREHOUSE = <source> INTO <target>.<table> AS SELECT ...`` and one
  ``EXECUTE TASK mv`` (only the EXECUTE is timed);
* ``obvious``: the source driver's ``fetchmany(10000)`` and the target driver's ``executemany``
  (chdb: ``INSERT ... VALUES`` of each fetched slice, chdb having no useful executemany). Where
  that is very slow (into DuckDB, chdb) it moves :data:`SAMPLE_ROWS` rows and its rate is reported
  from those;
* ``best``: the whole result read at once into Arrow and bulk-loaded: DuckDB ``INSERT ... SELECT``
  from the Arrow table, chdb ``INSERT ... SELECT FROM Python(table)``, PostgreSQL ``COPY``. It holds
  the whole result in memory.

Every measurement runs in a child process of its own: its peak memory is the growth of its
resident set (``VmHWM`` after a reset through /proc/self/clear_refs, minus ``VmRSS`` before the
move), with the drivers imported and connected before. The servers are private (bench/servers.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = 1_000_000
#: Rows moved by the obvious way where its executemany is very slow (its rate is per row anyway).
SAMPLE_ROWS = 10_000
PAIRS = ("postgres->duckdb", "mysql->duckdb", "duckdb->postgres", "duckdb->chdb")
WAYS = ("tasksql", "obvious", "best")
COLUMNS = "id BIGINT, amount DOUBLE PRECISION, ts TIMESTAMP, note VARCHAR(32)"
QUERY = "SELECT id, amount, ts, note FROM src"
CH_TABLE = (
    "CREATE TABLE moved (id Int64, amount Float64, ts DateTime, note String) ENGINE = MergeTree ORDER BY id"
)


# --- the child: one way of one pair ----------------------------------------------------------------


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _target_duckdb(path: str) -> Any:
    import duckdb

    con = duckdb.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS moved (id BIGINT, amount DOUBLE, ts TIMESTAMP, note VARCHAR)")
    return con


def _source(spec: dict[str, Any]) -> Any:
    src = spec["pair"].split("->")[0]
    if src == "postgres":
        import psycopg

        return psycopg.connect(spec["pg"])
    if src == "mysql":
        import pymysql

        return pymysql.connect(**spec["mysql_kwargs"])
    import duckdb

    return duckdb.connect(spec["duckdb_src"], read_only=True)


def _rows_cursor(con: Any, kind: str, sql: str) -> Any:
    if kind == "postgres":
        cur = con.cursor(name="bench_move")
    elif kind == "mysql":
        import pymysql

        cur = pymysql.cursors.SSCursor(con)
    else:
        cur = con.cursor()
    cur.execute(sql)
    return cur


def _obvious(spec: dict[str, Any], limit: int) -> int:
    src, dst = spec["pair"].split("->")
    con = _source(spec)
    sql = f"{QUERY} ORDER BY id LIMIT {limit}"
    if dst == "duckdb":
        target = _target_duckdb(spec["duckdb_dst"])
        insert = "INSERT INTO moved VALUES (?, ?, ?, ?)"
    elif dst == "postgres":
        import psycopg

        target = psycopg.connect(spec["pg"])
        insert = "INSERT INTO moved VALUES (%s, %s, %s, %s)"
    else:
        import chdb

        target = chdb.connect(spec["chdb_path"])
        target.query(CH_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    spec["ready"]()
    cur = _rows_cursor(con, src, sql)
    moved = 0
    while rows := cur.fetchmany(10_000):
        if dst == "chdb":
            values = ", ".join(f"({r[0]}, {r[1]!r}, '{r[2]:%Y-%m-%d %H:%M:%S}', '{r[3]}')" for r in rows)
            target.query(f"INSERT INTO moved VALUES {values}")
        elif dst == "postgres":
            with target.cursor() as tc:
                tc.executemany(insert, rows)
        else:
            target.executemany(insert, rows)
        moved += len(rows)
    if dst == "postgres":
        target.commit()
    return moved


def _best(spec: dict[str, Any]) -> int:
    import pyarrow as pa

    src, dst = spec["pair"].split("->")
    con = _source(spec)
    if dst == "duckdb":
        target = _target_duckdb(spec["duckdb_dst"])
    elif dst == "postgres":
        import psycopg

        target = psycopg.connect(spec["pg"])
    else:
        import chdb

        target = chdb.connect(spec["chdb_path"])
        target.query(CH_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    spec["ready"]()
    if src == "duckdb":
        table = con.sql(QUERY).fetch_arrow_table()
    else:
        cur = con.cursor()
        cur.execute(QUERY)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        table = pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)})
        del rows
    if dst == "duckdb":
        target.register("arrow_rows", table)
        target.execute("INSERT INTO moved SELECT * FROM arrow_rows")
    elif dst == "postgres":
        with target.cursor() as tc, tc.copy("COPY moved FROM STDIN") as copy:
            for batch in table.to_batches(50_000):
                for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    copy.write_row(row)
        target.commit()
    else:
        arrow_rows = table  # noqa: F841 - read by name by chdb's Python() table function
        target.query("INSERT INTO moved SELECT * FROM Python(arrow_rows)")
    return table.num_rows


async def _tasksql(spec: dict[str, Any]) -> int:
    from tasksql.engine import Engine
    from tasksql.settings import Settings

    src, dst = spec["pair"].split("->")
    if dst == "duckdb":
        _target_duckdb(spec["duckdb_dst"]).close()
    async with Engine(Settings.load(data_dir=Path(spec["data_dir"]))) as engine:
        where = {
            "postgres": f"TYPE = postgres URL = '{spec['pg']}'",
            "mysql": f"TYPE = mysql URL = '{spec.get('mysql_url')}'",
        }
        if src == "duckdb":
            await engine.execute(f"CREATE WAREHOUSE srcw TYPE = duckdb URL = '{spec['duckdb_src']}'")
        else:
            await engine.execute(f"CREATE WAREHOUSE srcw {where[src]}")
        if dst == "duckdb":
            await engine.execute(f"CREATE WAREHOUSE dst TYPE = duckdb URL = '{spec['duckdb_dst']}'")
            into = "dst.main.moved"
        elif dst == "postgres":
            await engine.execute(f"CREATE WAREHOUSE dst {where['postgres']}")
            into = "dst.public.moved"
        else:
            await engine.execute(f"CREATE WAREHOUSE dst TYPE = chdb PATH = '{spec['chdb_path']}'")
            await engine.execute(f"CREATE TASK mk WAREHOUSE = dst AS {CH_TABLE}")
            await engine.execute("EXECUTE TASK mk")
            into = "dst.moved"
        await engine.execute(f"CREATE TASK mv WAREHOUSE = srcw INTO {into} AS {QUERY}")
        spec["ready"]()
        await engine.execute("EXECUTE TASK mv")
        [run] = [r for r in await engine.catalog.list_runs() if r.name == "mv"]
        return int(run.rows_produced or 0)


def child(spec: dict[str, Any]) -> None:
    """Run one way of one pair; print its JSON figures on stdout."""
    import asyncio

    marks: dict[str, float] = {}

    def ready() -> None:
        marks["before"] = _status_mb("VmRSS:")
        _reset_peak()
        marks["t0"] = time.perf_counter()

    spec["ready"] = ready
    way = spec["way"]
    if way == "tasksql":
        rows = asyncio.run(_tasksql(spec))
    elif way == "obvious":
        rows = _obvious(spec, spec["limit"])
    else:
        rows = _best(spec)
    seconds = time.perf_counter() - marks["t0"]
    peak = _status_mb("VmHWM:")
    print(
        json.dumps(
            {"rows": rows, "seconds": seconds, "peak_growth_mb": peak - marks["before"], "peak_mb": peak}
        )
    )


# --- the parent: servers, data, children, report ---------------------------------------------------


def _prepare(pg_url: str | None, mysql: Any, duck_src: str, rows: int) -> None:
    import duckdb

    gen = (
        "SELECT i AS id, (i % 100000) / 100.0 AS amount,"
        " TIMESTAMP '2026-01-01' + (i % 86400) * INTERVAL '1 second' AS ts, 'order ' || i AS note"
    )
    if pg_url is not None:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS src")
            conn.execute(f"CREATE TABLE src ({COLUMNS})")
            conn.execute(f"INSERT INTO src {gen} FROM generate_series(1, {rows}) g(i)")
            conn.execute("ANALYZE src")
    con = duckdb.connect(duck_src)
    duck_gen = gen.replace("(i % 86400) * INTERVAL '1 second'", "to_seconds(i % 86400)")
    con.execute(f"CREATE OR REPLACE TABLE src AS {duck_gen} FROM range(1, {rows + 1}) t(i)")
    con.close()
    if mysql is not None:
        with mysql.connect("bench") as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE src ({COLUMNS.replace('DOUBLE PRECISION', 'DOUBLE')})")
            cur.execute(
                "INSERT INTO src SELECT seq, (seq % 100000) / 100.0, TIMESTAMP '2026-01-01 00:00:00'"
                f" + INTERVAL (seq % 86400) SECOND, CONCAT('order ', seq) FROM seq_1_to_{rows}"
            )
            conn.commit()


def _reset_targets(spec: dict[str, Any]) -> None:
    import shutil

    if spec.get("pg"):
        import psycopg

        with psycopg.connect(spec["pg"], autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS moved")
            conn.execute(f"CREATE TABLE moved ({COLUMNS})")
    for p in (spec["duckdb_dst"], spec["duckdb_dst"] + ".wal"):
        Path(p).unlink(missing_ok=True)
    shutil.rmtree(spec["chdb_path"], ignore_errors=True)
    shutil.rmtree(spec["data_dir"], ignore_errors=True)


def run(pairs: tuple[str, ...] = PAIRS, rows: int = ROWS) -> list[dict[str, Any]]:
    """Start the servers the pairs need, fill the sources, measure every way of every pair."""
    from bench.servers import MariaDBServer, PgServer

    base = Path(tempfile.mkdtemp(prefix="tasksql-move-"))
    pg = PgServer().start() if any("postgres" in p for p in pairs) else None
    maria = MariaDBServer().start() if any("mysql" in p for p in pairs) else None
    results: list[dict[str, Any]] = []
    try:
        spec: dict[str, Any] = {
            "pg": str(pg.url) if pg is not None else None,
            "duckdb_src": str(base / "src.duckdb"),
            "duckdb_dst": str(base / "dst.duckdb"),
            "chdb_path": str(base / "ch"),
            "data_dir": str(base / "data"),
        }
        if maria is not None:
            with maria.connect() as conn, conn.cursor() as cur:
                cur.execute("CREATE DATABASE bench")
                cur.execute("CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'bench'")
                cur.execute("GRANT ALL ON bench.* TO 'bench'@'127.0.0.1'")
            spec["mysql_url"] = f"mysql://bench:bench@127.0.0.1:{maria.port}/bench"
            spec["mysql_kwargs"] = {"host": "127.0.0.1", "port": maria.port, "user": "bench",
                                    "password": "bench", "database": "bench"}  # fmt: skip
        _prepare(spec["pg"], maria, spec["duckdb_src"], rows)
        for pair in pairs:
            for way in WAYS:
                slow = way == "obvious" and pair.split("->")[1] in ("duckdb", "chdb")
                one = {**spec, "pair": pair, "way": way, "limit": min(SAMPLE_ROWS, rows) if slow else rows}
                _reset_targets(one)
                print(f"[move] {pair} {way} ...", file=sys.stderr, flush=True)
                done = subprocess.run(
                    [sys.executable, "-W", "ignore", "-m", "bench.move", "--child", json.dumps(one)],
                    capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"},
                )  # fmt: skip
                if done.returncode != 0:
                    raise RuntimeError(f"{pair} {way} failed: {done.stderr.strip()[-2000:]}")
                fig = json.loads(done.stdout.strip().splitlines()[-1])
                fig.update(pair=pair, way=way, rows_per_s=fig["rows"] / fig["seconds"])
                print(f"[move] {pair} {way}: {fig['rows']} rows, {fig['rows_per_s']:,.0f} rows/s,"
                      f" peak +{fig['peak_growth_mb']:.0f} MB", file=sys.stderr, flush=True)  # fmt: skip
                results.append(fig)
    finally:
        if maria is not None:
            maria.stop()
        if pg is not None:
            pg.stop()
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return results


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of the figures, with tasksql's ratios to the other two ways."""
    by = {(r["pair"], r["way"]): r for r in results}
    lines = [
        "| pair | way | rows moved | rows/s | peak memory growth | tasksql vs this way |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for pair in dict.fromkeys(r["pair"] for r in results):
        ours = by.get((pair, "tasksql"))
        for way in WAYS:
            r = by.get((pair, way))
            if r is None:
                continue
            ratio = "" if way == "tasksql" or ours is None else f"{ours['rows_per_s'] / r['rows_per_s']:.2f}x"
            lines.append(
                f"| {pair.replace('->', ' -> ')} | {way} | {r['rows']:,} | {r['rows_per_s']:,.0f} |"
                f" {r['peak_growth_mb']:.0f} MB | {ratio} |"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m bench move [--rows N] [--out FILE] [pair ...]``: print the figures as a Markdown
    table; the raw figures go to FILE (default bench/results/move-latest.json)."""
    rows = ROWS
    if "--rows" in argv:
        i = argv.index("--rows")
        rows = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    out = Path(__file__).parent / "results" / "move-latest.json"
    if "--out" in argv:
        i = argv.index("--out")
        out = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    pairs = tuple(argv) or PAIRS
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown:
        print(f"unknown pair {', '.join(unknown)}: choose from {', '.join(PAIRS)}", file=sys.stderr)
        return 2
    results = run(pairs, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(json.loads(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
