"""Keeps the cluster benchmarks (``python -m bench cluster``) working: their smallest profile, and
the report's arithmetic.

The smoke run goes through the command line as a user would (profile ``smoke``: one kill, 20
one-second tasks on one node and on two, two changes; about a minute and a half) and checks that
each measurement gave figures of the right shape and that the report renders them, and writes its
section into a copy of a page without touching the rest. It asserts no speed: figures from a
shared CI machine mean nothing; the measured ones are in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import cluster_report  # noqa: E402

from pgserver import find_bindir  # noqa: E402  (tests/ is on sys.path: see conftest.py)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    out = tmp_path_factory.mktemp("bench") / "cluster.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "cluster", "--profile", "smoke", "--out", str(out), "--no-docs"],
        cwd=REPO, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.mark.realtime
@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_smoke_run_measures_failover_capacity_and_propagation(smoke: dict[str, Any]) -> None:
    assert smoke["profile"] == "smoke"
    assert smoke["catalog"].startswith("PostgreSQL")
    failover = smoke["failover"]
    assert "error" not in failover, failover
    assert failover["probe"]["n"] == failover["kills"] == 1
    assert 0 < failover["probe"]["p50_s"] <= failover["all_tasks"]["max_s"] < 60
    capacity = smoke["capacity"]
    assert [part["nodes"] for part in capacity] == [1, 2], capacity
    for part in capacity:
        step = part["steps"][0]
        assert step["rate"] == 20 and step["expected"] == 40
        assert 0 < step["ran"] <= step["expected"]
        assert step["instants_run_twice"] == 0
        # the catalog worked for the runs: transactions, statements and CPU of its server
        assert step["xacts_per_run"] > 0 and step["statements_per_run"] > 0
        assert step["catalog_cpu_ms_per_run"] > 0
        assert part["idle"]["xacts_per_s"] > 0, "an idle node still renews its lease"
    propagation = smoke["propagation"]
    assert "error" not in propagation, propagation
    assert propagation["create_to_placed"]["n"] == propagation["resume_to_first_run"]["n"] == 2
    # a first run comes no earlier than the schedule's first interval after the RESUME was sent
    assert propagation["resume_to_first_run"]["p50_ms"] >= propagation["interval_ms"]
    assert propagation["suspend_to_holder_stopped"]["n"] == 2
    assert propagation["suspend_to_holder_stopped"]["max_ms"] >= propagation["interval_ms"]


@pytest.mark.realtime
@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_smoke_results_render_and_replace_only_their_section(smoke: dict[str, Any], tmp_path: Path) -> None:
    text = cluster_report.render(smoke)
    assert "| the task |" in text
    assert "| 1 | " in text and "| 2 | " in text
    assert "not measured here" in text and "Quartz" in text and "Airflow" in text
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n<!-- notes:begin -->\nhand-written\n<!-- notes:end -->\n\n## Tables\n")
    cluster_report.write_section(smoke, page)
    first = page.read_text()
    assert first.index(cluster_report.BEGIN) < first.index("<!-- notes:end -->") < first.index("## Tables")
    cluster_report.write_section(smoke, page)  # a second run replaces the block, once
    assert page.read_text() == first
    assert first.count(cluster_report.BEGIN) == 1 and "hand-written" in first


def _step(rate: int, share: float, xacts: float) -> dict[str, Any]:
    return {
        "rate": rate, "ran_share": share, "lag_p99_ms": 5.0, "xacts_per_run": xacts,
        "marginal_xacts_per_run": xacts - 1, "statements_per_run": 2 * xacts,
        "marginal_statements_per_run": 2 * xacts - 1, "catalog_exec_ms_per_run": 0.1,
        "catalog_cpu_ms_per_run": 0.2, "catalog_cpu_share": 0.3, "nodes_cpu_ms_per_run": 1.0,
    }  # fmt: skip


def test_report_judges_the_aims_and_shows_the_sustained_step() -> None:
    results = {
        "failover": {
            "kills": 20, "tasks": 12, "probe": {"n": 20, "p50_s": 3.0, "p99_s": 5.2, "max_s": 5.2},
            "all_tasks": {"n": 20, "p50_s": 3.1, "p99_s": 5.3, "max_s": 5.3},
        },
        "capacity": [
            {"nodes": 1, "idle": {"xacts_per_s": 8.0}, "sustained": 500, "first_rate": 100,
             "steps": [_step(100, 1.0, 3.0), _step(500, 0.995, 2.5), _step(750, 0.9, 2.4)]},
            {"nodes": 2, "idle": {"xacts_per_s": 16.0}, "sustained": 0, "first_rate": 100,
             "steps": [_step(100, 0.5, 4.0)]},
        ],
        "propagation": {
            "samples": 3, "interval_ms": 50,
            "create_to_placed": {"n": 3, "p50_ms": 60.0, "p99_ms": 90.0, "max_ms": 90.0},
            "resume_to_first_run": {"n": 0, "p50_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan},
            "suspend_to_holder_stopped": {"n": 3, "p50_ms": 80.0, "p99_ms": 150.0, "max_ms": 150.0},
        },
    }  # fmt: skip
    text = cluster_report.render(results)
    assert "{" not in text, "a placeholder was not filled in"
    assert "| the task | 3.00 s | 5.20 s | 5.20 s | p99 under 5 s: **not met** |" in text
    assert "| 1 | 500 | 2.50 (1.50) |" in text  # the costs of the last sustained step
    assert "| 2 | below 100 (first step) | 4.00 (3.00) |" in text
    assert "| 1 | 750 | 90.00% |" in text  # every step is listed
    rows = [line for line in text.splitlines() if line.startswith(("| CREATE", "| ALTER"))]
    assert rows[0].endswith("100 ms: met |") and rows[1].endswith("100 ms: n/a |")
    assert rows[2].endswith("100 ms: **not met** |")
    # every step with at most 1% missed, of every node count: 2.5 and 3.0 transactions per run
    assert (
        "| tasksql cluster (this run) | 2.50 to 3.00 transactions and 5.0 to 6.0 statements per run" in text
    )
    broken = cluster_report.render({"failover": {"error": "RuntimeError: no node"}})
    assert "Failover: not measured (RuntimeError: no node)." in broken


def test_only_known_parts_run_and_docs_need_every_part(tmp_path: Path) -> None:
    from bench import cluster_cli

    # refused before any server starts
    assert cluster_cli.main("smoke", tmp_path / "r.json", tmp_path, None, ("propagaton",)) == 2
    assert cluster_cli.main("smoke", tmp_path / "r.json", tmp_path, tmp_path / "b.md", ("capacity",)) == 2
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "b.md").exists()
