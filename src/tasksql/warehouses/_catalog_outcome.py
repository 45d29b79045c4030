"""A run's outcome written by its own body's transaction, in a PostgreSQL warehouse that holds the catalog.

When the warehouse's database is the catalog's (see :mod:`tasksql.scheduler.same_database`), the
body's transaction ends with one more statement before its COMMIT: the UPDATE below, which records
the run SUCCEEDED in the catalog's ``runs`` table. It is the catalog's own settling write
(``run_settle`` / ``run_settle_fenced`` of the PostgreSQL catalog), with the tables qualified by the
catalog's schema since a warehouse connection does not have it on its search path:

* it changes only a run that is not settled yet (SCHEDULED or EXECUTING);
* with a fence, only a run of the fence's node, and only while that (node, epoch) holds a live
  lease: ``FOR KEY SHARE`` on the node's row orders it with a revocation of the lease, exactly as the
  catalog's fenced writes are ordered (a revocation either comes after the body's COMMIT and sees
  the run settled, or before it, and the UPDATE then matches nothing).

When it matches no row the caller raises, so the body's transaction is rolled back: a node whose
lease was lost commits no effects either.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from tasksql.errors import QueryFailed
from tasksql.warehouses.base import BodyResult, CatalogSettle, Marker

#: The error code of a body rolled back because its run's outcome could not be recorded with it.
OUTCOME_REFUSED = "OUTCOME_REFUSED"

_SET = """UPDATE {schema}.runs SET
    state = 'SUCCEEDED',
    query_start_time = coalesce(%(query_start_time)s::timestamptz, query_start_time),
    completed_time = %(completed_time)s::timestamptz,
    error_code = NULL,
    error_message = NULL,
    rows_produced = %(rows_produced)s::bigint,
    rows_inserted = %(rows_inserted)s::bigint,
    return_value = coalesce(%(return_value)s::text, return_value)
WHERE run_id = %(run_id)s::bigint AND state IN ('SCHEDULED', 'EXECUTING')"""

_FENCE = """
  AND node_id = %(fence_node)s::text
  AND EXISTS (SELECT 1 FROM {schema}.nodes WHERE node_id = %(fence_node)s::text
                AND epoch = %(fence_epoch)s::bigint AND lease_state IN ('live', 'draining')
                AND lease_until > clock_timestamp() FOR KEY SHARE)"""


def settle_sql(settle: CatalogSettle) -> str:
    """The UPDATE that records the run SUCCEEDED (with the fence's condition when it has one)."""
    schema = _schema(settle.schema)
    sql = _SET.format(schema=schema)
    if settle.fence is not None:
        sql += _FENCE.format(schema=schema)
    return sql


def settle_params(marker: Marker, settle: CatalogSettle, result: BodyResult) -> dict[str, Any]:
    """The parameters of :func:`settle_sql` for ``marker``'s run ending with ``result``, stamped now
    (call it just before the UPDATE)."""
    params: dict[str, Any] = {
        "run_id": int(marker.run_id),
        "query_start_time": settle.query_start_time,
        "completed_time": marker.clock.now().astimezone(UTC),
        "rows_produced": result.rows_produced,
        "rows_inserted": result.rows_inserted,
        "return_value": settle.return_value,
    }
    if settle.fence is not None:
        params["fence_node"] = settle.fence.node_id
        params["fence_epoch"] = settle.fence.epoch
    return params


def refused(settle: CatalogSettle) -> QueryFailed:
    """The error of a body whose run's outcome matched no row: rolled back (code OUTCOME_REFUSED)."""
    why = (
        "the run is settled already, or this node no longer holds its lease"
        if settle.fence is not None
        else "the run is settled already"
    )
    return QueryFailed(
        f"the body was rolled back: its run's outcome could not be recorded in the same transaction ({why})",
        code=OUTCOME_REFUSED,
    )


def _schema(name: str) -> str:
    """The catalog's schema as a quoted identifier (it is a checked lower-case identifier; quoted all
    the same, so that nothing else can ever be spliced)."""
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise QueryFailed(f"invalid catalog schema {name!r}", code="INVALID")
    return f'"{name}"'
