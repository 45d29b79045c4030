"""The docs say what the code does: README examples run, every setting and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasksql.cli import main
from tasksql.engine import Engine
from tasksql.settings import SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[2]


def sql_blocks(path: Path) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", path.read_text(), re.S)


async def test_every_sql_example_of_the_readme_runs(tmp_path: Path) -> None:
    blocks = sql_blocks(ROOT / "README.md")
    assert len(blocks) >= 6
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as engine:
        for block in blocks:
            await engine.execute(block)
        names = [r[0] for r in (await engine.execute("SELECT name FROM system.tasks ORDER BY name"))[0].rows]
    assert {"t", "mytask", "refresh_node_states", "nightly", "poll", "nightly_rebuild"} <= set(names)


def test_the_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert "tasksql serve --demo" in commands[0]
    assert "bash scripts/test.sh" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: object) -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    assert f"| {setting.name} | `{setting.env}` |" in text  # type: ignore[attr-defined]


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for name in main.commands:
        assert f"tasksql {name}" in text, f"docs/cli.md does not describe `tasksql {name}`"


def test_every_doc_link_resolves() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
