"""The catalog's tables as plain rows: what a whole-catalog copy reads from one backend and writes
into another (:meth:`~tasksql.catalog.base.Catalog.export_rows`,
:meth:`~tasksql.catalog.base.Catalog.load_rows`).

A *row* here is a dict keyed by column name whose values are backend-neutral: instants are aware
UTC datetimes, booleans are ``bool``, every other value is ``int``, ``float``, ``str`` or ``None``.
Column names and meanings are those of ``sql/<dialect>/schema.sql``, the same on every backend.
PostgreSQL's ``graph_runs.seq`` (an insertion counter that orders graph runs of one instant) is not
a column of the row: graph runs are read and written in the order they were inserted, which gives
the target the same order.

:data:`TABLES` lists every table that holds state, in an order that satisfies the foreign keys when
rows are inserted (tasks before their versions). ``schema_version`` and ``catalog_meta`` are not
copied: each catalog keeps its own. A test checks that this list matches both backends' schemas.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: One row of a catalog table, with backend-neutral values (see the module documentation).
TableRow = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSpec:
    """One table that a copy carries.

    ``key``: the primary key; rows are read in key order, unless ``insertion_ordered`` (then in the
    order they were inserted). ``instants`` and ``booleans`` name the columns whose stored form
    differs between backends. ``identity``: the column whose values the backend hands out; after a
    copy the target hands out values above every copied one. ``content``: rows of this table make a
    catalog non-empty (node rows only say who ran there), except those that match ``not_content``
    (an SQL condition: what every catalog gets without anyone asking). ``kind``: the plural noun
    for counts.
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    instants: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    identity: str | None = None
    insertion_ordered: bool = False
    content: bool = True
    not_content: str | None = None


TABLES: tuple[TableSpec, ...] = (
    # catalog_id: the scope of completion markers, written when a scheduler first starts
    TableSpec(
        name="settings",
        kind="settings",
        columns=("key", "value"),
        key=("key",),
        not_content="key = 'catalog_id'",
    ),
    TableSpec(
        name="warehouses",
        kind="warehouses",
        columns=(
            "name",
            "type",
            "url",
            "max_concurrency",
            "comment",
            "created_on",
            "last_altered_on",
            "role_mapping",
        ),
        key=("name",),
        instants=frozenset({"created_on", "last_altered_on"}),
        not_content="name = 'default'",  # seeded when a catalog opens, never dropped
    ),
    TableSpec(
        name="integrations",
        kind="integrations",
        columns=(
            "name",
            "type",
            "enabled",
            "webhook_url",
            "webhook_method",
            "webhook_authorization_header",
            "webhook_signing_secret",
            "comment",
            "created_on",
            "last_altered_on",
            "webhook_body_template",
            "webhook_secret",
        ),
        key=("name",),
        instants=frozenset({"created_on", "last_altered_on"}),
        booleans=frozenset({"enabled"}),
    ),
    TableSpec(
        name="secrets",
        kind="secrets",
        columns=("name", "type", "source", "value", "owner", "comment", "created_on", "last_altered_on"),
        key=("name",),
        instants=frozenset({"created_on", "last_altered_on"}),
    ),
    TableSpec(
        name="tasks",
        kind="tasks",
        columns=(
            "id",
            "database_name",
            "schema_name",
            "name",
            "version",
            "definition",
            "canonical_sql",
            "spelling",
            "state",
            "suspend_reason",
            "owner",
            "created_on",
            "last_committed_on",
            "last_suspended_on",
            "resumed_on",
            "next_fire_at",
            "consecutive_failures",
            "dropped_on",
        ),
        key=("id",),
        instants=frozenset(
            {
                "created_on",
                "last_committed_on",
                "last_suspended_on",
                "resumed_on",
                "next_fire_at",
                "dropped_on",
            }
        ),
        identity="id",
    ),
    TableSpec(
        name="task_versions",
        kind="task versions",
        columns=("task_id", "version", "definition", "canonical_sql", "created_on", "actor"),
        key=("task_id", "version"),
        instants=frozenset({"created_on"}),
    ),
    TableSpec(
        name="graph_versions",
        kind="graph versions",
        columns=("root_task_id", "graph_version", "members", "created_on"),
        key=("root_task_id", "graph_version"),
        instants=frozenset({"created_on"}),
    ),
    TableSpec(
        name="nodes",
        kind="nodes",
        columns=(
            "node_id",
            "host",
            "pid",
            "role",
            "version",
            "started_at",
            "heartbeat_at",
            "stopped_at",
            "epoch",
            "lease_state",
            "lease_ms",
            "lease_until",
            "capacity",
            "running",
            "warehouses",
            "address",
            "cluster_id",
        ),
        key=("node_id",),
        instants=frozenset({"started_at", "heartbeat_at", "stopped_at", "lease_until"}),
        content=False,
    ),
    # pins are the user's; holders are orphans in the copy (no node holds a lease there)
    TableSpec(
        name="placements",
        kind="placements",
        columns=("task_id", "node_id", "epoch", "pinned_node", "placed_at"),
        key=("task_id",),
        instants=frozenset({"placed_at"}),
        content=False,
    ),
    TableSpec(
        name="runs",
        kind="runs",
        columns=(
            "run_id",
            "task_id",
            "task_version",
            "name",
            "database_name",
            "schema_name",
            "scheduled_time",
            "state",
            "scheduled_from",
            "attempt_number",
            "query_start_time",
            "completed_time",
            "error_code",
            "error_message",
            "query_text",
            "condition_text",
            "warehouse",
            "node_id",
            "graph_run_group_id",
            "root_task_id",
            "graph_version",
            "config",
            "rows_produced",
            "rows_inserted",
            "return_value",
            "query_id",
            "host_node",
        ),
        key=("run_id",),
        instants=frozenset({"scheduled_time", "query_start_time", "completed_time"}),
        identity="run_id",
    ),
    TableSpec(
        name="graph_runs",
        kind="graph runs",
        columns=(
            "graph_run_group_id",
            "root_task_id",
            "root_task_name",
            "database_name",
            "schema_name",
            "graph_version",
            "state",
            "scheduled_from",
            "scheduled_time",
            "query_start_time",
            "completed_time",
            "attempt_number",
            "root_run_id",
            "first_error_task_name",
            "first_error_code",
            "first_error_message",
            "config",
            "node_id",
        ),
        key=("graph_run_group_id",),
        instants=frozenset({"scheduled_time", "query_start_time", "completed_time"}),
        insertion_ordered=True,
    ),
    TableSpec(
        name="notification_outbox",
        kind="notifications",
        columns=(
            "message_id",
            "integration",
            "event_type",
            "payload",
            "created_at",
            "state",
            "attempts",
            "next_attempt_at",
            "leased_by",
            "lease_until",
            "last_error",
            "delivered_at",
        ),
        key=("message_id",),
        instants=frozenset({"created_at", "next_attempt_at", "lease_until", "delivered_at"}),
    ),
    TableSpec(
        name="notification_history",
        kind="delivery attempts",
        columns=(
            "id",
            "message_id",
            "integration",
            "attempt",
            "status_code",
            "error",
            "sent_at",
            "duration_ms",
        ),
        key=("id",),
        instants=frozenset({"sent_at"}),
        identity="id",
    ),
    # sub-tasks of fanned-out runs: history, like runs
    TableSpec(
        name="subtasks",
        kind="sub-tasks",
        columns=(
            "subtask_id",
            "run_id",
            "task_id",
            "task_name",
            "node_id",
            "task_type",
            "location",
            "state",
            "items_done",
            "items_total",
            "detail",
            "created_at",
            "started_at",
            "completed_time",
            "error_code",
            "error_message",
        ),
        key=("subtask_id",),
        instants=frozenset({"created_at", "started_at", "completed_time"}),
        identity="subtask_id",
    ),
    # what check_disk runs checked: history, like runs
    TableSpec(
        name="storage_checks",
        kind="storage checks",
        columns=(
            "check_id",
            "run_id",
            "task_id",
            "task_name",
            "node_id",
            "object_kind",
            "storage_id",
            "check_name",
            "result",
            "detail",
            "checked_at",
        ),
        key=("check_id",),
        instants=frozenset({"checked_at"}),
        identity="check_id",
    ),  # users, roles and grants (docs/security.md), and the audit log
    TableSpec(
        name="security_users",
        kind="users",
        columns=("name", "default_role", "disabled", "comment", "token_sha256", "created_by", "created_on"),
        key=("name",),
        instants=frozenset({"created_on"}),
        booleans=frozenset({"disabled"}),
    ),
    TableSpec(
        name="security_roles",
        kind="roles",
        columns=("name", "owner", "comment", "created_on"),
        key=("name",),
        instants=frozenset({"created_on"}),
    ),
    TableSpec(
        name="security_role_grants",
        kind="role grants",
        columns=("role", "grantee_kind", "grantee", "granted_by", "created_on"),
        key=("role", "grantee_kind", "grantee"),
        instants=frozenset({"created_on"}),
    ),
    TableSpec(
        name="security_privileges",
        kind="privilege grants",
        columns=("privilege", "object_kind", "object_name", "role", "granted_by", "created_on"),
        key=("privilege", "object_kind", "object_name", "role"),
        instants=frozenset({"created_on"}),
    ),
    TableSpec(
        name="audit_log",
        kind="audit entries",
        columns=(
            "id",
            "at",
            "user_name",
            "role_name",
            "statement",
            "outcome",
            "error_code",
            "error_message",
        ),
        key=("id",),
        instants=frozenset({"at"}),
        identity="id",
    ),
)

TABLE_BY_NAME: Mapping[str, TableSpec] = {spec.name: spec for spec in TABLES}


def table(name: str) -> TableSpec:
    """The spec of table ``name``.

    :raises KeyError: not a table that a copy carries (a programming error, not user input).
    """
    return TABLE_BY_NAME[name]


#: Per table with content, how many of its rows are content (one row of counts, by table name;
#: plain SQL that every backend runs as it is). A catalog is empty when every count is 0.
CONTENT_COUNTS_SQL = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM {spec.name}"
    + (f" WHERE NOT ({spec.not_content})" if spec.not_content else "")
    + f") AS {spec.name}"
    for spec in TABLES
    if spec.content
)


def content_of(row: Any) -> dict[str, int]:
    """The non-zero counts of a :data:`CONTENT_COUNTS_SQL` row, by table name (empty: no content)."""
    return {spec.name: int(row[spec.name]) for spec in TABLES if spec.content and int(row[spec.name])}


def describe_counts(counts: Mapping[str, int]) -> str:
    """``"tasks: 3, runs: 12"``: the non-zero counts by kind, in table order."""
    return ", ".join(f"{spec.kind}: {counts[spec.name]}" for spec in TABLES if counts.get(spec.name))


def page_query(spec: TableSpec, order: tuple[str, ...], *, after: bool, param: str) -> str:
    """The statement that reads one page of ``spec``'s rows in ``order`` (column expressions, the
    backend's insertion counter for an insertion-ordered table): its columns, then the order
    values as ``_k0``, ``_k1``...; with ``after``, only rows whose order values come after the
    parameters (one ``param`` placeholder per order value, then one for the page size)."""
    keys = [f"{expr} AS _k{i}" for i, expr in enumerate(order)]
    sql = f"SELECT {', '.join((*spec.columns, *keys))} FROM {spec.name}"
    if after:
        sql += f" WHERE ({', '.join(order)}) > ({', '.join(param for _ in order)})"
    return sql + f" ORDER BY {', '.join(order)} LIMIT {param}"


def insert_query(spec: TableSpec, param: str) -> str:
    """``INSERT INTO <table> (<columns>) VALUES (<one param per column>)``."""
    values = ", ".join(param for _ in spec.columns)
    return f"INSERT INTO {spec.name} ({', '.join(spec.columns)}) VALUES ({values})"


class RowLoader(ABC):
    """Writes whole rows into a catalog, inside the one transaction of
    :meth:`~tasksql.catalog.base.Catalog.load_rows`."""

    @abstractmethod
    async def insert(self, table: str, rows: Sequence[TableRow]) -> None:
        """Insert ``rows`` into ``table`` as they are, identity values included (a task keeps its
        id, a run its run id). Tables are loaded in the order of :data:`TABLES`.

        :raises CatalogError: a row the target refuses (code ``CONSTRAINT_VIOLATION`` for a
            CHECK, UNIQUE or FOREIGN KEY constraint); the whole load is then rolled back.
        """

    @abstractmethod
    async def continue_ids(self, counters: Mapping[str, int]) -> None:
        """Make each table with an identity column hand out values above ``counters[table]`` and
        above every value stored in it (so a task created after a copy gets a fresh id, and run ids
        never collide with copied ones)."""
