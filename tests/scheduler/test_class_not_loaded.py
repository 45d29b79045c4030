"""A VoltDB task naming a class that cannot be loaded yet (VoltDB's docs: ``CREATE TASK
DailyNoHolidays ON SCHEDULE FROM CLASS mytasks.NoHolidays PROCEDURE ResetDailyStats``, the class in
a JAR loaded with LOAD CLASSES) is kept, shows why it does not run, and is scheduled once a Python
class of that name can be imported. Driven by a fake clock."""

from __future__ import annotations

import itertools
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sched_harness import Harness

from tasksql.scheduler.trigger_checks import (
    CHECK_EVERY,
    CLASS_CHECKS,
    CLASS_RECHECK,
    JOIN_CHECKS,
    TRIGGER_CHECKS,
)

MODULE = """
    from datetime import timedelta

    class NoHolidays:
        def __init__(self, *args):
            self.args = args

        def next_fire(self, after, *, last_end=None):
            return after + timedelta(seconds=5)
"""


async def step(h: Harness, advance: float) -> None:
    h.clock.advance(advance)
    await h.scheduler.tick()
    await h.scheduler.triggers.idle()
    await h.scheduler.bookkeeping_written()
    await h.scheduler.drain()


async def test_kept_shown_and_scheduled_once_the_class_loads(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    package = "voltdb_tasks_later"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, package, raising=False)
    await h.sql("CREATE MACRO resetdailystats() AS TABLE SELECT 1 AS n")
    result = await h.sql(
        f"CREATE TASK DailyNoHolidays ON SCHEDULE FROM CLASS {package}.NoHolidays PROCEDURE ResetDailyStats"
    )
    assert any("cannot be scheduled yet" in n and f"No module named '{package}'" in n for n in result.notices)
    [(reason,)] = await h.rows("SELECT wait_reason FROM system.tasks WHERE name = 'dailynoholidays'")
    assert reason.startswith("not scheduled until its schedule's class can be loaded: cannot import module")
    [(shown,)] = await h.rows("SELECT schedule FROM system.tasks")
    assert shown == f"FROM CLASS {package}.NoHolidays"
    for _ in range(12):
        await step(h, 1)
    assert await h.history("dailynoholidays") == []  # nothing runs, nothing fails
    (tmp_path / f"{package}.py").write_text(textwrap.dedent(MODULE))
    for _ in range(10):  # tried again at most 10 s later, then every 5 s (the class's schedule)
        await step(h, 1)
    runs = await h.history("dailynoholidays")
    assert runs, "the class loaded but the task was not scheduled"
    assert {r[1] for r in runs} == {"SUCCEEDED"}
    for _ in range(16):
        await step(h, 1)
    later = await h.history("dailynoholidays")
    assert len(later) - len(runs) >= 2
    gaps = {b[0] - a[0] for a, b in itertools.pairwise(later)}
    assert gaps == {5.0}
    [(reason,)] = await h.rows("SELECT wait_reason FROM system.tasks WHERE name = 'dailynoholidays'")
    assert reason is None


async def test_action_generator_class_is_kept_with_its_reason(harness: Harness) -> None:
    h = harness
    result = await h.sql(
        "CREATE TASK t ON SCHEDULE EVERY 5 SECONDS PROCEDURE FROM CLASS com.example.tasks.MyActions WITH (1)"
    )
    assert any("names a class that cannot be loaded" in n for n in result.notices)
    [(reason,)] = await h.rows("SELECT wait_reason FROM system.tasks WHERE name = 't'")
    assert "cannot import module 'com.example.tasks'" in reason


def test_each_kind_of_check_comes_its_own_interval_later() -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert TRIGGER_CHECKS.next_fire(at) == at + CHECK_EVERY == JOIN_CHECKS.next_fire(at)
    assert CLASS_CHECKS.next_fire(at) == at + CLASS_RECHECK != at + CHECK_EVERY
