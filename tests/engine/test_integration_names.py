"""Integration names with a dot (tests/fixtures/integration_names.sql): a dot inside quotes is part
of one name, a dot outside them qualifies the name, in every statement and property that names an
integration; and through the engine, which integration each spelling reaches when both ``ops.hook``
and ``hook`` exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixture_entries import entries as fixture_entries
from tasksql.engine import Engine
from tasksql.errors import CatalogError
from tasksql.settings import Settings
from tasksql.sql import parse_one, render
from tasksql.sql import statements as st

_FIELDS = ("error_integration", "success_integration")


@dataclass(frozen=True)
class Entry:
    file_line: int
    source: str
    names: tuple[str, ...]
    text: str


def entries() -> list[Entry]:
    out: list[Entry] = []
    for first, lines in fixture_entries("integration_names.sql"):
        heads = [line for line in lines if line.startswith("--")]
        sql = "\n".join(line for line in lines if not line.startswith("--"))
        source = " ".join(h.removeprefix("-- source:").strip() for h in heads if h.startswith("-- source:"))
        names = tuple(h.removeprefix("-- name:").strip() for h in heads if h.startswith("-- name:"))
        out.append(Entry(first, source, names, sql))
    return out


ENTRIES = entries()


def integration_names(stmt: st.Statement) -> tuple[str, ...]:
    """The integration names ``stmt`` holds, in the order written."""
    if isinstance(stmt, st.CreateIntegration):
        return (stmt.definition.name,)
    if isinstance(stmt, st.AlterIntegration | st.DropIntegration | st.DescribeIntegration):
        return (stmt.name,)
    if isinstance(stmt, st.CreateTask):
        return tuple(n for n in (getattr(stmt.definition, f) for f in _FIELDS) if n is not None)
    if isinstance(stmt, st.AlterTask) and isinstance(stmt.action, st.SetProperties):
        return tuple(value for key, value in stmt.action.assignments if key in _FIELDS)
    return ()


def test_every_entry_cites_its_source_and_some_name_a_dotted_integration() -> None:
    assert all(e.source for e in ENTRIES)
    assert any("." in name for e in ENTRIES for name in e.names)


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"integration_names.sql:{e.file_line}" for e in ENTRIES])
def test_the_names_parsed_and_read_back(entry: Entry) -> None:
    stmt = parse_one(entry.text)
    assert integration_names(stmt) == entry.names
    shown = render(stmt)
    assert integration_names(parse_one(shown)) == entry.names, shown


async def test_the_entries_run_in_order(tmp_path: Path) -> None:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as engine:
        for entry in ENTRIES:
            await engine.execute(entry.text)
        assert (await engine.execute("SHOW NOTIFICATION INTEGRATIONS"))[-1].rows == []


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        for name, url in (
            ('"ops.hook"', "https://hooks.example/quoted"),
            ("hook", "https://hooks.example/bare"),
        ):
            await eng.execute(
                f"CREATE NOTIFICATION INTEGRATION {name} TYPE = WEBHOOK WEBHOOK = (url = '{url}')"
            )
        yield eng


async def shown_task(engine: Engine, name: str) -> str:
    [(_, text)] = (await engine.execute(f"SHOW CREATE TASK {name}"))[-1].rows
    return str(text)


async def test_a_quoted_dot_reaches_the_dotted_integration_and_a_bare_dot_the_last_part(
    engine: Engine,
) -> None:
    names = sorted(row[0] for row in (await engine.execute("SHOW NOTIFICATION INTEGRATIONS"))[-1].rows)
    assert names == ["hook", "ops.hook"]
    await engine.execute(
        "CREATE TASK t SCHEDULE = '1 MINUTE' ERROR_INTEGRATION = mydb.\"ops.hook\""
        " SUCCESS_INTEGRATION = ops.hook AS SELECT 1"
    )
    text = await shown_task(engine, "t")
    assert "ERROR_INTEGRATION = 'ops.hook'" in text and "SUCCESS_INTEGRATION = hook" in text
    # what SHOW CREATE TASK prints makes the same task again
    await engine.execute("DROP TASK t")
    await engine.execute(text)
    assert await shown_task(engine, "t") == text
    # each integration is in use by t under its own name
    for spelling in ('"ops.hook"', "`ops.hook`", "mydb.public.hook", "hook"):
        with pytest.raises(CatalogError, match="used by task"):
            await engine.execute(f"DROP NOTIFICATION INTEGRATION {spelling}")
    [(_, url)] = [
        r
        for r in (await engine.execute("DESCRIBE NOTIFICATION INTEGRATION `ops.hook`"))[-1].rows
        if r[0] == "url"
    ]
    assert url == "https://hooks.example/quoted"


async def test_alter_task_set_reaches_the_integration_each_spelling_names(engine: Engine) -> None:
    await engine.execute("CREATE TASK t SCHEDULE = '1 MINUTE' AS SELECT 1")
    await engine.execute(
        'ALTER TASK t SET ERROR_INTEGRATION = "MYDB"."PUBLIC"."ops.hook", SUCCESS_INTEGRATION = ops.hook'
    )
    text = await shown_task(engine, "t")
    assert "ERROR_INTEGRATION = 'ops.hook'" in text and "SUCCESS_INTEGRATION = hook" in text
    await engine.execute("ALTER TASK t SET ERROR_INTEGRATION = 'ops.hook', SUCCESS_INTEGRATION = `ops.hook`")
    text = await shown_task(engine, "t")
    assert "ERROR_INTEGRATION = 'ops.hook'" in text and "SUCCESS_INTEGRATION = 'ops.hook'" in text
