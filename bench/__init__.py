"""Benchmarks of tasksql side by side with pg_cron, the MariaDB event scheduler and APScheduler.

Run from the repository root with the project's virtual environment::

    .venv/bin/python -m bench all                  # every workload, every peer (about 29 minutes)
    .venv/bin/python -m bench steady --quick       # one workload, short windows
    .venv/bin/python -m bench all --quick --peers tasksql,mariadb

See ``docs/benchmarks.md`` for what each workload measures and the latest results.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The directory of this package; ``tasksql_bench`` and ``stats`` import each other as top-level
#: modules (they are also run as plain scripts), so it must be on ``sys.path``.
BENCH_DIR = Path(__file__).resolve().parent
#: The repository root (``tests/pgserver.py`` is reused from there).
REPO_DIR = BENCH_DIR.parent

if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
