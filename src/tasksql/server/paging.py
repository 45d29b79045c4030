"""Cursor pagination of the API's lists: opaque cursors and keyset reads.

A page is the list's payload plus ``next_cursor``: an opaque string to pass as ``?cursor=`` for the
next page, or ``null`` on the last page. A cursor names a *position* in the list's order (the key
of the last item seen), never an offset, so rows inserted or deleted meanwhile neither repeat nor
hide the rows after it:

* runs: newest first by ``(scheduled_time, run_id)``; the next page holds the runs strictly after
  the position in that order;
* tasks: by qualified name ``(database, schema, name)``;
* graph runs: newest first by ``(scheduled_time, graph_run_group_id)``;
* delivery attempts: newest first by ``(sent_at, message_id, attempt)``.

A page may hold fewer than ``limit`` items and still have a ``next_cursor`` (a filter the catalog
cannot apply, such as a run state, is applied to at most :data:`SCAN_BOUND` rows per request);
only ``next_cursor: null`` means the end. A cursor is base64url of a small JSON array that starts
with the list's kind: a cursor of another list, or a damaged one, is a 400 (``INVALID_PARAMETER``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tasksql.catalog.base import Catalog
from tasksql.model.run import RunRecord
from tasksql.server.http_errors import RequestError

T = TypeVar("T")

#: Rows of the catalog read at most per request to fill a page a filter thins out.
SCAN_BOUND = 5000
_CHUNK = 500
_TICK = timedelta(microseconds=1)  # the catalog's precision: the instant just after another


def encode_cursor(kind: str, *key: Any) -> str:
    """The opaque cursor of position ``key`` in the list ``kind``."""
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, kind: str, shape: Sequence[type]) -> list[Any] | None:
    """The key a cursor of list ``kind`` holds (its items of the types in ``shape``); None without one.

    :raises RequestError: 400 ``INVALID_PARAMETER`` when it is not a cursor of that list.
    """
    if text is None:
        return None
    try:
        padded = text.strip() + "=" * (-len(text.strip()) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        value = None
    if (
        not isinstance(value, list)
        or len(value) != len(shape) + 1
        or value[0] != kind
        or not all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(value[1:], shape, strict=True)
        )
    ):
        raise RequestError(
            400,
            f"query parameter cursor is not a cursor of this list ({text[:40]!r}); pass the next_cursor "
            "of the previous page, or no cursor for the first page",
            code="INVALID_PARAMETER",
        )
    return value[1:]


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RequestError(
            400, "query parameter cursor is damaged; start again without it", code="INVALID_PARAMETER"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RunPosition:
    """A position in a run list: after the run ``run_id`` scheduled at ``scheduled_time``."""

    scheduled_time: datetime
    run_id: int

    def cursor(self) -> str:
        return encode_cursor("runs", self.scheduled_time.isoformat(), self.run_id)

    @staticmethod
    def parse(text: str | None) -> RunPosition | None:
        key = decode_cursor(text, "runs", (str, int))
        return None if key is None else RunPosition(_instant(key[0]), key[1])

    @staticmethod
    def of(run: RunRecord) -> RunPosition:
        return RunPosition(run.scheduled_time, run.run_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilter:
    """What a run list is restricted to: the catalog applies all but ``keep`` (a state)."""

    task_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    error_only: bool = False
    keep: Callable[[RunRecord], bool] | None = None


async def runs_page(
    catalog: Catalog, where: RunFilter, limit: int, after: RunPosition | None
) -> tuple[list[RunRecord], RunPosition | None]:
    """The runs after ``after`` (newest first by scheduled time, then run id) that pass ``where``,
    at most ``limit``, and the position of the next page (None at the end).

    Keyset reads of the catalog, a chunk at a time: the runs scheduled up to the position's instant
    (its microsecond included), less those at or before the position in the order; one read per
    chunk, however many runs share an instant."""
    found: list[RunRecord] = []
    pos, scanned = after, 0
    extra = 1  # rows of a chunk at or before the position (the position's own run, ties)
    while True:
        end = where.until
        if pos is not None:
            bound = pos.scheduled_time + _TICK
            end = bound if end is None else min(end, bound)
        want = limit + 1 - len(found)
        asked = (max(want, _CHUNK) if where.keep is not None else want) + extra
        chunk = await catalog.list_runs(
            task_id=where.task_id, start=where.since, end=end, error_only=where.error_only, limit=asked
        )
        rows = chunk if pos is None else [r for r in chunk if _before(r, pos)]
        if not rows and len(chunk) == asked:  # more runs share the position's instant: read more
            extra *= 2
            continue
        for run in rows:
            scanned += 1
            if where.keep is None or where.keep(run):
                found.append(run)
                if len(found) > limit:
                    return found[:limit], RunPosition.of(found[limit - 1])
            pos = RunPosition.of(run)
        if len(chunk) < asked:
            return found, None
        if scanned >= SCAN_BOUND:
            return found, pos


def _before(run: RunRecord, pos: RunPosition) -> bool:
    """Whether ``run`` comes after the position in the list (older, or as old with a lower id)."""
    return (run.scheduled_time, run.run_id) < (pos.scheduled_time, pos.run_id)


def keyset_page(
    items: Sequence[T], key: Callable[[T], tuple[Any, ...]], after: Sequence[Any] | None, limit: int | None
) -> tuple[list[T], tuple[Any, ...] | None]:
    """A page of ``items`` in the order of ``key`` (ascending): those whose key is greater than
    ``after``, at most ``limit`` (None: all), and the key of the page's last item when more follow.
    For lists held whole in memory (tasks, graph runs, delivery attempts)."""
    start = None if after is None else tuple(after)
    rest = sorted((item for item in items if start is None or key(item) > start), key=key)
    if limit is None or len(rest) <= limit:
        return rest, None
    return rest[:limit], key(rest[limit - 1])


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def newest_first(value: datetime | None) -> int:
    """A sort key (whole microseconds) that grows as ``value`` goes back in time; None sorts last."""
    if value is None:
        return 2**62
    return -((value - _EPOCH) // _TICK)
