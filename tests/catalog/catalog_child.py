"""A child process for the catalog tests: ``python catalog_child.py <mode> <catalog file> ...``.

Modes:

* ``create-and-hang PATH NAME``: create task NAME (durable), then move its next fire instant (an
  ordinary, non-durable write), print ``done <id>`` and sleep until killed;
* ``create PATH NAME``: create task NAME and exit;
* ``writer PATH TAG TASKS INCREMENTS SHARED GO_FILE``: open, make sure task ``counter`` exists, print
  ``ready``, wait for GO_FILE, then concurrently create TASKS tasks ``TAG_i``, try to create SHARED
  tasks ``shared_i`` (which the other writer also tries), and INCREMENTS times add one to the
  counter task's comment with optimistic concurrency; print a JSON summary. Any other error than
  ObjectExists (shared tasks) and ConcurrentModification (counter) ends the process with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

from catalog_support import NOW, create, later, qname

from tasksql.catalog import SQLiteCatalog, TaskUpdate
from tasksql.errors import ConcurrentModification, ObjectExists


async def create_and_hang(path: str, name: str) -> None:
    catalog = SQLiteCatalog(path)
    await catalog.open()
    record = await create(catalog, name)
    await catalog.update_tasks(
        [TaskUpdate(task_id=record.id, expected_version=1, next_fire_at=later(3600))], now=NOW
    )
    print(f"done {record.id}", flush=True)
    await asyncio.sleep(600)


async def create_once(path: str, name: str) -> None:
    async with SQLiteCatalog(path) as catalog:
        await create(catalog, name)


async def writer(path: str, tag: str, *, tasks: int, increments: int, shared: int, go_file: str) -> None:
    async with SQLiteCatalog(path) as catalog:
        with contextlib.suppress(ObjectExists):  # the other writer may have created it first
            await create(catalog, "counter", comment="0")
        print("ready", flush=True)
        while not Path(go_file).exists():
            time.sleep(0.005)  # a plain barrier; nothing else runs in this process yet
        stats: Counter[str] = Counter()

        async def own() -> None:
            for i in range(tasks):
                await create(catalog, f"{tag}_{i}")
                stats["created"] += 1

        async def contended() -> None:
            for i in range(shared):
                try:
                    await create(catalog, f"shared_{i}", actor=tag)
                    stats["shared_created"] += 1
                except ObjectExists:
                    stats["shared_exists"] += 1

        async def count() -> None:
            for _ in range(increments):
                while True:
                    record = await catalog.get_task(qname("counter"))
                    assert record is not None
                    value = int(record.definition.comment or "0")
                    new = record.definition.with_changes(comment=str(value + 1))
                    await asyncio.sleep(0.002)  # widen the read-modify-write window
                    update = TaskUpdate(task_id=record.id, expected_version=record.version, definition=new)
                    try:
                        await catalog.update_tasks([update], now=NOW, actor=tag)
                    except ConcurrentModification:
                        stats["conflicts"] += 1
                        continue
                    stats["increments"] += 1
                    break

        await asyncio.gather(own(), contended(), count())
        print(json.dumps(dict(stats)), flush=True)


def main(argv: list[str]) -> None:
    mode, path, *rest = argv
    if mode == "create-and-hang":
        asyncio.run(create_and_hang(path, rest[0]))
    elif mode == "create":
        asyncio.run(create_once(path, rest[0]))
    elif mode == "writer":
        tag, tasks, increments, shared, go_file = rest
        asyncio.run(
            writer(
                path, tag, tasks=int(tasks), increments=int(increments), shared=int(shared), go_file=go_file
            )
        )
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
