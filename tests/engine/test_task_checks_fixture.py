"""tests/fixtures/task_checks.sql through the engine: each entry is refused at its line and column
with its class and code, changing nothing, or accepted. The default warehouse is DuckDB; ``lite``
is SQLite, ``my`` a MySQL URL nobody answers; ``pg``, ``maria`` and ``ch`` are made for the entries
that name them, on the suite's private PostgreSQL, MariaDB and ClickHouse servers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clickhouseserver import ClickHouseDatabase
from fixture_entries import entries
from mariadbserver import MariaDBDatabase
from pgserver import PgDatabase
from tasksql.engine import Engine
from tasksql.errors import TasksqlError
from tasksql.settings import Settings

#: Warehouses on the suite's servers: name -> (fixture of a fresh database, warehouse type).
SERVERS = {
    "pg": ("pg_database", "postgres"),
    "maria": ("mariadb_database", "mysql"),
    "ch": ("ch_native_database", "clickhouse"),
}
_HEADER = re.compile(r"--\s*error:\s*(?P<cls>\w+)\s+(?P<code>[A-Z_]+)\s+(?P<line>\d+):(?P<column>\d+)\s*$")


@dataclass(frozen=True)
class Case:
    file_line: int
    source: str
    before: str | None
    text: str
    error: tuple[str, str, int, int] | None


def cases() -> list[Case]:
    out: list[Case] = []
    for first, lines in entries("task_checks.sql"):
        start = first
        source, before, error, ok = "", None, None, False
        while lines and lines[0].startswith("--"):
            head = lines.pop(0)
            start += 1
            if head.startswith("-- source:"):
                source = head.removeprefix("-- source:").strip()
            elif head.startswith("-- before:"):
                before = head.removeprefix("-- before:").strip()
            elif (m := _HEADER.match(head.strip())) is not None:
                error = (m["cls"], m["code"], int(m["line"]), int(m["column"]))
            elif head.strip() == "-- ok":
                ok = True
        assert error is not None or ok, f"task_checks.sql:{start} has no '-- error:' or '-- ok' header"
        out.append(Case(start, source, before, "\n".join(lines), error))
    return out


CASES = cases()


def test_every_entry_cites_its_source() -> None:
    assert CASES and all(case.source for case in CASES)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute(f"CREATE WAREHOUSE lite TYPE = sqlite URL = '{tmp_path / 'lite.db'}'")
        await eng.execute("CREATE WAREHOUSE my TYPE = mysql URL = 'mysql://nobody@127.0.0.1:1/db'")
        yield eng


@pytest.mark.parametrize("case", CASES, ids=[f"task_checks.sql:{c.file_line}" for c in CASES])
async def test_task_check(engine: Engine, case: Case, request: pytest.FixtureRequest) -> None:
    for name in set(re.findall(r"WAREHOUSE = (\w+)", case.text)) & SERVERS.keys():
        fixture, kind = SERVERS[name]  # only the entries that name it need the server
        database: PgDatabase | MariaDBDatabase | ClickHouseDatabase = request.getfixturevalue(fixture)
        await engine.execute(f"CREATE WAREHOUSE {name} TYPE = {kind} URL = '{database.url}'")
    if case.before is not None:
        await engine.execute(case.before)
    shown_before = (await engine.execute("SHOW CREATE TASK t"))[-1].rows if case.before else []
    if case.error is None:
        await engine.execute(case.text)
        assert (await engine.execute("SHOW TASKS"))[-1].rows, case.text
        return
    with pytest.raises(TasksqlError) as info:
        await engine.execute(case.text)
    err = info.value
    assert (type(err).__name__, err.code, err.line, err.column) == case.error, err.render()
    # refused: nothing changed
    if case.before is None:
        assert (await engine.execute("SHOW TASKS"))[-1].rows == []
    else:
        assert (await engine.execute("SHOW CREATE TASK t"))[-1].rows == shown_before
