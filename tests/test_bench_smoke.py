"""Keeps the benchmark harness (``bench/``) working: a few seconds of tasksql's part, and its arithmetic.

The smoke run goes through the command line (``python -m bench ... --profile smoke --peers tasksql``)
exactly as a user would: steady with 10 tasks for 3 seconds, a burst of 10, 100 registered tasks;
it checks that the result file is well formed and the report tables render. It asserts no speed: figures from a shared CI machine
mean nothing; the full comparison is ``python -m bench all``.
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

from bench.measure import grid_count, quantiles, summarize  # noqa: E402
from bench.peers.mariadb import attribute  # noqa: E402
from bench.report import render_tables  # noqa: E402
from bench.tables import ratio_cell  # noqa: E402


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
