"""Keeps the benchmark harness (``bench/``) working: a few seconds of tasksql's part, and its arithmetic.

The smoke run goes through the command line (``python -m bench ... --profile smoke --peers tasksql``)
exactly as a user would: steady with 10 tasks for 3 seconds, a burst of 10, 100 registered tasks;
it checks that the result file is well formed and the report tables render. A burst of 10 with the
catalog on the harness's private PostgreSQL server (about 8 s) keeps that variant working. It
asserts no speed: figures from a shared CI machine mean nothing; the full comparison is
``python -m bench all``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.aims import aims_lines, missed_lines, verdicts  # noqa: E402
from bench.compare import render  # noqa: E402
from bench.measure import grid_count, quantiles, summarize  # noqa: E402
from bench.peers.mariadb import attribute  # noqa: E402
from bench.report import render_tables  # noqa: E402
from bench.tables import ratio_cell  # noqa: E402

from pgserver import find_bindir  # noqa: E402  (tests/ is on sys.path: see conftest.py)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "steady", "burst", "scale", "--profile", "smoke", "--peers", "tasksql",
         "--out", str(out), "--no-docs"],
        cwd=REPO, capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.mark.realtime
def test_smoke_run_of_the_postgresql_catalog_variant(tmp_path: Path) -> None:
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "burst", "--profile", "smoke", "--peers", "tasksql-pg",
         "--out", str(out), "--no-docs"],
        cwd=REPO, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    peer = results["peers"]["tasksql-pg"]
    assert "catalog on PostgreSQL" in peer["version"], peer
    assert peer["settings"]["catalog"].startswith("PostgreSQL"), peer
    burst = results["workloads"]["burst"]["tasksql-pg"]["10"]
    _check_periodic(burst, 10)
    assert "| tasks | tasksql (DuckDB, PG catalog) | tasksql / best peer |" in render_tables(results)


def _check_periodic(result: dict[str, Any], tasks: int) -> None:
    assert "error" not in result, result
    assert result["tasks"] == tasks
    assert result["expected"] > 0
    assert 0 <= result["ran"] <= result["expected"]
    assert result["ran_share"] == pytest.approx(result["ran"] / result["expected"])
    assert result["n"] == result["ran"]
    assert result["ran"] > 0, "no run started at all"
    assert result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    q = result["quantiles_ms"]
    assert len(q) == 201
    assert q == sorted(q)
    assert q[0] <= result["p50_ms"] <= q[-1] == result["max_ms"]


@pytest.mark.realtime
def test_smoke_run_writes_well_formed_results(smoke: dict[str, Any]) -> None:
    assert smoke["profile"] == "smoke"
    assert set(smoke["machine"]) >= {"cpu", "cores", "memory", "os", "python"}
    assert smoke["peers"]["tasksql"]["version"].startswith("tasksql ")
    steady = smoke["workloads"]["steady"]["tasksql"]["10"]
    _check_periodic(steady, 10)
    assert steady["seconds"] == 3
    burst = smoke["workloads"]["burst"]["tasksql"]["10"]
    _check_periodic(burst, 10)
    last = burst["burst_last_start"]
    assert last["n"] >= 1
    # The last run of an instant started no earlier than the median run.
    assert last["max_ms"] >= burst["p50_ms"]
    scale = smoke["workloads"]["scale"]["tasksql"]["100"]
    assert scale["loaded"] == scale["tasks"] == 100
    assert scale["register_s"] > 0 and scale["load_s"] > 0


@pytest.mark.realtime
def test_smoke_results_render_as_tables(smoke: dict[str, Any]) -> None:
    text = render_tables(smoke)
    assert "### 1. Steady" in text
    assert "### 2. Burst" in text
    assert "| tasks | tasksql | tasksql / best peer |" in text
    row = next(line for line in text.splitlines() if line.startswith("| 10 |"))
    assert "ms, " in row


def test_grid_count_counts_instants_in_half_open_window() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    second = timedelta(seconds=1)
    # Instants t0+1s, t0+2s, ...; the window [t0+3s, t0+6s) holds 3, 4 and 5.
    assert grid_count(t0, second, t0 + 3 * second, t0 + 6 * second) == 3
    # A window starting between instants.
    assert grid_count(t0, second, t0 + timedelta(milliseconds=2500), t0 + 6 * second) == 3
    # Instant k = 0 (the anchor itself) never counts.
    assert grid_count(t0, second, t0 - second, t0 + timedelta(milliseconds=1500)) == 1
    assert grid_count(t0, second, t0 + 6 * second, t0 + 6 * second) == 0


def test_summarize_shares_and_quantiles() -> None:
    out = summarize(tasks=2, seconds=1, expected=4, lags_ms=[4.0, 1.0, 3.0], last_start_by_instant={"a": 4.0})
    assert out["ran"] == 3
    assert out["ran_share"] == 0.75
    assert (out["p50_ms"], out["max_ms"]) == (3.0, 4.0)
    assert out["burst_last_start"]["max_ms"] == 4.0
    assert quantiles([]) == []
    assert quantiles([2.0, 1.0], steps=2) == [1.0, 1.0, 2.0]
    empty = summarize(tasks=1, seconds=1, expected=0, lags_ms=[])
    assert math.isnan(empty["ran_share"])


def test_mariadb_attribution_moves_late_runs_to_their_own_second() -> None:
    s = datetime(2026, 1, 1, 12, 0, 0)
    rows = [
        (1, s + timedelta(milliseconds=300)),  # on time: second 0
        (1, s + timedelta(milliseconds=2200)),  # late run of second 1 (shares second 2 with the next)
        (1, s + timedelta(milliseconds=2400)),  # run of second 2
        (2, s + timedelta(milliseconds=1100)),  # another event, second 1
    ]
    got = sorted(attribute(rows))
    assert got == [
        (s, s + timedelta(milliseconds=300)),
        (s + timedelta(seconds=1), s + timedelta(milliseconds=1100)),
        (s + timedelta(seconds=1), s + timedelta(milliseconds=2200)),
        (s + timedelta(seconds=2), s + timedelta(milliseconds=2400)),
    ]


def test_ratio_picks_the_best_peer_and_says_behind() -> None:
    assert ratio_cell(2.0, {"mariadb": 4.0, "pg_cron": 8.0}, lower_is_better=True) == (
        "0.5x vs MariaDB events (ahead)"
    )
    assert ratio_cell(30.0, {"mariadb": 1.0}, lower_is_better=True) == "30x vs MariaDB events (**behind**)"
    assert ratio_cell(3000.0, {"mariadb": 1500.0}, lower_is_better=False) == "2x vs MariaDB events (ahead)"
    assert ratio_cell(1.0, {}, lower_is_better=True) == "n/a"


def _periodic_result(p99: float, ran_share: float, last_max: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"p50_ms": p99 / 2, "p99_ms": p99, "max_ms": p99, "ran_share": ran_share}
    if last_max is not None:
        out["burst_last_start"] = {"p50_ms": last_max / 2, "p99_ms": last_max, "max_ms": last_max}
    return out


def _ramp_result(*shares: tuple[int, float]) -> dict[str, Any]:
    return {"steps": [{"target_rate": rate, "ran_share": share, "p99_ms": 5.0} for rate, share in shares]}


def test_aims_of_the_postgresql_catalog_are_judged_per_variant() -> None:
    workloads = {
        "steady": {
            "tasksql-pg": {"1000": _periodic_result(10.0, 1.0)},  # at most 10 ms: met
            "tasksql-sqlite-pg": {"1000": _periodic_result(4.0, 0.995)},  # an instant missed: not met
        },
        "burst": {"tasksql-pg": {"1000": _periodic_result(150.0, 1.0, last_max=201.0)}},
        "ramp": {"tasksql-pg": {"ramp": _ramp_result((1000, 1.0), (2000, 0.995), (3000, 0.9))}},
    }
    rows = {(aim.text, peer): ok for aim, peer, _, ok in verdicts(workloads)}
    steady_aim = "PostgreSQL catalog: 1,000 one-second tasks, every instant run, p99 start lag at most 10 ms"
    assert rows[(steady_aim, "tasksql-pg")] is True
    assert rows[(steady_aim, "tasksql-sqlite-pg")] is False
    assert rows[("PostgreSQL catalog: a burst of 1,000 all started within 200 ms", "tasksql-pg")] is False
    rate_aim = "PostgreSQL catalog: at least 2,000 trivial runs per second with history recorded"
    assert rows[(rate_aim, "tasksql-pg")] is True
    # The SQLite-catalog aims are not judged on the PostgreSQL-catalog variants, nor absent figures.
    assert all(peer in ("tasksql-pg", "tasksql-sqlite-pg") for _, peer in rows)
    assert len(rows) == 4
    table = "\n".join(aims_lines(workloads))
    assert "| tasksql (DuckDB, PG catalog) | p99 10.0 ms, 100.00% ran | met |" in table
    missed = missed_lines(workloads)
    assert len(missed) == 2
    assert any("tasksql (SQLite wh, PG catalog)" in line and "99.50% ran" in line for line in missed)


def test_variant_columns_sit_beside_the_default_one() -> None:
    steady = {
        peer: {"1000": dict(_periodic_result(p99, 1.0), quantiles_ms=[])}
        for peer, p99 in (
            ("tasksql-at-least-once", 3.0),
            ("mariadb", 2.0),
            ("tasksql-pg", 5.0),
            ("tasksql", 4.0),
        )
    }
    header = render_tables({"workloads": {"steady": steady}}).splitlines()[2]
    assert header == (
        "| tasks | tasksql | tasksql (DuckDB, PG catalog) | tasksql (DuckDB, at least once) | MariaDB events "
        "| tasksql / best peer |"
    )
    # Only the default setup is divided by the best peer; the variants are never the best peer.
    row = render_tables({"workloads": {"steady": steady}}).splitlines()[4]
    assert row.endswith("| 2x vs MariaDB events (**behind**) |")


def test_compare_prints_each_round_and_the_ratio_of_medians() -> None:
    def steady(p99: float) -> dict[str, Any]:
        return _periodic_result(p99, 1.0)

    results = {
        "sides": ["v1 (abc)", "work tree (def)"],
        "peers": {},
        "workloads": {
            "steady": {
                "tasksql@before": {"1000": [steady(10.0), steady(14.0)]},
                "tasksql@after": {"1000": [steady(6.0), steady(6.0), {"error": "child crashed"}]},
            }
        },
    }
    text = render(results)
    assert "### steady, 1,000 tasks: tasksql" in text
    assert "| lag p99 (ms) | 10.0, 14.0 | 6.0, 6.0 | 0.50 |" in text
    assert "| share ran | 100.0%, 100.0% | 100.0%, 100.0% | 1.00 |" in text
    assert "after failed: child crashed" in text
