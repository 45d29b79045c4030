#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it: lint, types, tests.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the PostgreSQL, MariaDB and ClickHouse server binaries (the suite starts its own private
# servers; the packages' own services are not used).
need=()
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then need+=(postgresql); fi
if ! command -v mariadb-install-db >/dev/null 2>&1 || ! [ -x /usr/sbin/mariadbd ]; then need+=(mariadb-server); fi
if ! command -v clickhouse-server >/dev/null 2>&1 && ! [ -x /usr/sbin/clickhouse-server ]; then need+=(clickhouse-server); fi
# Chromium for the web UI's browser tests (Playwright drives Debian's build, not a downloaded one).
if ! [ -x /usr/bin/chromium ]; then need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python packages, in a virtual environment next to the checkout.
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache

# Tests on as many workers as there are cores, at most two (pytest-xdist; TASKSQL_TEST_WORKERS sets
# another number): most tests wait on processes and servers rather than compute, and each worker
# starts its own private PostgreSQL, MariaDB and ClickHouse servers. A file's tests stay together on
# one worker (--dist loadfile): its module fixtures (a browser, a server of its own) start once.
# pytest's exit code is the script's: a failure, or no test collected (5), fails the command.
workers="${TASKSQL_TEST_WORKERS:-$(nproc)}"
if [ "$workers" -gt 2 ] && [ -z "${TASKSQL_TEST_WORKERS:-}" ]; then workers=2; fi
.venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --dist loadfile "$@"

# The engine-level suites again with the catalog on PostgreSQL (a fresh schema per test on the suite's
# private server): every statement, the scheduler, history, graphs, retries, notifications and the
# HTTP API must behave the same on both catalogs. The chaos test (real time, kill -9) runs once above.
.venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --dist loadfile --catalog=postgres \
  -m "not chaos" tests/engine tests/scheduler tests/notify tests/server tests/sysviews
