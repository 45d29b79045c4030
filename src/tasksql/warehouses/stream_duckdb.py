"""The SQL of change-tracking streams on DuckDB (no triggers: a snapshot compared with the table).

:mod:`.stream_sql` hands the DuckDB reads here. The snapshot ``tasksql_snap_<id>`` holds, per
generation ``tasksql$pos``, the table's rows with their ``rowid`` (``tasksql$rid``) as of a claim.

**The append fast path.** Comparing two generations row by row (EXCEPT ALL both ways, then row ids
and a window over them) costs several hash tables of the whole table. Most windows only appended
rows, and DuckDB gives appended rows row ids above those of the rows before them, so a window is
checked first, in two linear scans: the old generation and the new one's rows with a row id up to
the old one's highest must have the same count and the same sum of ``hash(rowid, columns)``. When
they do, the changes are the new generation's rows above that row id, all INSERTs, and the set
operations below run on inputs the same check has emptied (DuckDB computes the check once and
filters the scans with it). When they do not (an update, a delete, row ids moved by a vacuum), the
full comparison runs. The check is a 64-bit checksum: two different generations pass it with a
chance of about 1 in 10^19.
"""

from __future__ import annotations

from tasksql.warehouses._sqltext import quote_ident as q
from tasksql.warehouses.stream_sql import POS, StreamDef

RID = "tasksql$rid"


def generations(s: StreamDef, *, claimed: bool, read_from: str, pos: str) -> tuple[str, str]:
    """(new, old): the relations ``tasksql$rid, columns`` of the two generations compared: claimed,
    the window's two snapshots; a peek, the table itself against the last snapshot. ``read_from``
    and ``pos`` are the texts that read those columns of the stream's registry row."""
    cols = ", ".join(q(c) for c in s.columns)
    snap = f"SELECT {q(RID)}, {cols} FROM {s.snapshot} WHERE {q(POS)} = "
    old = snap + (read_from if claimed else pos)
    if claimed:
        return snap + pos, old
    return f"SELECT rowid AS {q(RID)}, {cols} FROM {s.table}", old


def appended_only(s: StreamDef, new: str, old: str) -> tuple[str, str]:
    """(condition, highest old row id): whether ``new`` is ``old`` plus rows above its row ids."""
    r = q(RID)
    hashed = f"coalesce(sum(hash({r}, {', '.join(q(c) for c in s.columns)})), 0)"
    top = f"(SELECT coalesce(max({r}), -1) FROM ({old}) tasksql_o)"
    below = f"({new}) tasksql_n WHERE {r} <= {top}"
    cond = (
        f"((SELECT count(*) FROM ({old}) tasksql_o) = (SELECT count(*) FROM {below})"
        f" AND (SELECT {hashed} FROM ({old}) tasksql_o) = (SELECT {hashed} FROM {below}))"
    )
    return cond, top


def images(s: StreamDef, new: str, old: str, guard: str) -> tuple[str, str]:
    """(inserted, deleted) row images (columns only) of the full comparison, emptied by ``guard``
    when the fast path holds."""
    cols = ", ".join(q(c) for c in s.columns)
    return (
        f"SELECT {cols} FROM ({new}) tasksql_g WHERE NOT {guard}",
        f"SELECT {cols} FROM ({old}) tasksql_g WHERE NOT {guard}",
    )


def appended(s: StreamDef, new: str, guard: str, top: str, picked: str) -> str:
    """The fast path's rows: ``picked`` (over alias ``tasksql_n``) of the new rows above ``top``."""
    return f"SELECT {picked} FROM ({new}) tasksql_n WHERE {q(RID)} > {top} AND {guard}"


def has_data(s: StreamDef, pos: str) -> str:
    """Whether the table differs from its last snapshot (row ids moved count as a difference)."""
    new, old = generations(s, claimed=False, read_from=pos, pos=pos)
    guard, top = appended_only(s, new, old)
    return f"(NOT {guard} OR EXISTS (SELECT 1 FROM ({new}) tasksql_n WHERE {q(RID)} > {top}))"
