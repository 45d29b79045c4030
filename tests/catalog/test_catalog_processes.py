"""Two processes writing one SQLite catalog at the same time.

Both start on a file that does not exist yet (so they also race to create the schema), then
concurrently create their own tasks, race to create the same names, and increment one counter
task with optimistic concurrency. Every write must either be applied or be answered with
ObjectExists / ConcurrentModification; nothing may be lost and the file must stay sound.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from catalog_support import qname

from tasksql.catalog import SQLiteCatalog

TASKS = 60
INCREMENTS = 25
SHARED = 40


async def test_two_processes_write_without_lost_updates(
    tmp_path: Path, child_command: list[str], child_env: dict[str, str]
) -> None:
    path = tmp_path / "catalog.db"
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [*child_command, "writer", str(path), tag, str(TASKS), str(INCREMENTS), str(SHARED), str(go)],
            stdout=subprocess.PIPE,
            env=child_env,
            text=True,
        )
        for tag in ("p1", "p2")
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [child.communicate(timeout=100)[0] for child in children]
    finally:
        for child in children:
            child.kill()
    assert [child.returncode for child in children] == [0, 0]
    stats = [json.loads(out.strip().splitlines()[-1]) for out in outputs]

    # every process applied all of its own writes and all of its increments
    assert [s["created"] for s in stats] == [TASKS, TASKS]
    assert [s["increments"] for s in stats] == [INCREMENTS, INCREMENTS]
    # each contended name was created exactly once; the loser was told ObjectExists
    assert sum(s.get("shared_created", 0) for s in stats) == SHARED
    assert sum(s.get("shared_exists", 0) for s in stats) == SHARED

    async with SQLiteCatalog(path) as catalog:
        names = {record.name.name for record in await catalog.list_tasks()}
        expected = {f"{tag}_{i}" for tag in ("p1", "p2") for i in range(TASKS)}
        expected |= {f"shared_{i}" for i in range(SHARED)} | {"counter"}
        assert names == expected

        counter = await catalog.get_task(qname("counter"))
        assert counter is not None
        assert counter.definition.comment == str(2 * INCREMENTS)  # no lost update
        assert counter.version == 1 + 2 * INCREMENTS
        versions = await catalog.task_versions(counter.id)
        assert [v.version for v in versions] == list(range(1, 2 * INCREMENTS + 2))
        assert [v.definition.comment for v in versions] == [str(i) for i in range(2 * INCREMENTS + 1)]
        assert sorted({v.actor for v in versions[1:]}) == ["p1", "p2"]

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] >= 1
    finally:
        conn.close()
