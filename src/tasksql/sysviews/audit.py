"""``system.audit_log``: every DDL, grant, revoke and manual execution, newest first: when, who
(user and role), the statement, and how it ended (``SUCCEEDED`` / ``FAILED`` with the error).
Kept as long as run history (``history_retention_days``)."""

from __future__ import annotations

import pyarrow as pa

from tasksql.sysviews.tables import Introspection, table_from_rows

TS = pa.timestamp("us", tz="UTC")

AUDIT_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("event_time", TS),  # not "at": a keyword of DuckDB, unusable unquoted
        ("user_name", pa.string()),
        ("role_name", pa.string()),
        ("statement", pa.string()),
        ("outcome", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
    ]
)


async def audit_table(ctx: Introspection, named: dict[str, object], positional: list[object]) -> pa.Table:
    rows = [
        (e.id, e.at, e.user_name, e.role_name, e.statement, e.outcome, e.error_code, e.error_message)
        for e in await ctx.catalog.list_audit()
    ]
    return table_from_rows(AUDIT_SCHEMA, rows)
