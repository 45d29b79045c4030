"""Every entry of tests/fixtures/schedule_runs.txt: the runs next_runs lists for a schedule drawn
from a system's docs or tests, with real zone data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tasksql.model import CronSchedule, DayNumbering, DstPolicy
from tasksql.schedules.nextruns import next_runs

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "schedule_runs.txt"


@dataclass(frozen=True)
class Entry:
    line: int
    source: str
    expr: str
    zone: str
    policy: DstPolicy
    after: datetime
    runs: tuple[datetime, ...]
    day_numbering: DayNumbering = DayNumbering.UNIX


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))


def entries() -> list[Entry]:
    out: list[Entry] = []
    source = ""
    for number, line in enumerate(FIXTURE.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("# source:"):
            source = line.removeprefix("# source:").strip()
        if not line.strip() or line.startswith("#"):
            continue
        expr, zone, policy, after, runs, *numbering = (part.strip() for part in line.split("|"))
        expected = () if runs == "-" else tuple(_instant(r) for r in runs.split(","))
        days = DayNumbering(numbering[0]) if numbering else DayNumbering.UNIX
        out.append(Entry(number, source, expr, zone, DstPolicy(policy), _instant(after), expected, days))
    return out


ENTRIES = entries()


def test_every_entry_cites_its_source() -> None:
    assert ENTRIES and all(e.source for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"schedule_runs.txt:{e.line}" for e in ENTRIES])
def test_next_runs_match_the_fixture(entry: Entry) -> None:
    spec = CronSchedule(entry.expr, entry.zone, entry.day_numbering)
    # An entry without runs asks for one, which must not exist.
    wanted = len(entry.runs) or 1
    got = next_runs(spec, wanted, after=entry.after, dst_policy=entry.policy)
    assert tuple(r.utc for r in got) == entry.runs, entry.source
