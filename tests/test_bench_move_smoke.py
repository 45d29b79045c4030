"""Keeps ``python -m bench move`` working: DuckDB -> chdb with 3,000 rows, through the command line,
each way in its own child process. It asserts that every way moved the rows and the report renders,
no speed (figures from a shared machine mean nothing; the million-row run is the bench's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(180)
def test_bench_move_runs_every_way(tmp_path: Path) -> None:
    pytest.importorskip("chdb", reason="chdb is not installed (pip install 'tasksql[chdb]')")
    out = tmp_path / "move.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "move", "--rows", "3000", "--out", str(out), "duckdb->chdb"],
        cwd=REPO, capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert [(f["way"], f["rows"]) for f in figures] == [("tasksql", 3000), ("obvious", 3000), ("best", 3000)]
    assert all(f["rows_per_s"] > 0 and f["peak_growth_mb"] >= 0 for f in figures)
    assert "| duckdb -> chdb | tasksql | 3,000 |" in done.stdout
