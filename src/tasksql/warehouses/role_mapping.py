"""A warehouse's role mapping: the runs of a task execute with its owner role's database rights.

``CREATE WAREHOUSE pg TYPE = postgres URL = '...' ROLE_MAPPING = ('taskadmin' = 'taskadmin_db')``
pairs tasksql roles with roles of the database. With security on, a run of a task whose owner role
is mapped executes its WHEN condition and its body as that database role, so the database itself
refuses what the owner role may not reach:

* PostgreSQL: ``SET LOCAL role`` inside the run's transaction (``SET role`` ... ``RESET role``
  around a body that commits statement by statement); the role's rights replace the login's;
* MySQL / MariaDB: ``SET ROLE`` before the run, ``SET ROLE NONE`` after it; there a role's
  privileges ADD to the login's own, so the login should hold none of its own beyond tasksql's
  marker table.

A task whose owner role the mapping does not name does not run there (its runs fail with
``ROLE_NOT_MAPPED``): a mapping is a whitelist, never a fallback to the login's own rights.

The login of the warehouse's URL must be able to take every mapped role (PostgreSQL: a member;
MariaDB: granted the role). The role is a session setting: a body that changed it back would act
with the login's rights, so on a mapped warehouse a body statement that changes the role (``SET
ROLE``, ``RESET ROLE``, ``SET SESSION AUTHORIZATION``, ``RESET ALL``, ``DISCARD ALL``,
``set_config(...)``) is refused before anything runs (``ROLE_CHANGE_REFUSED``). SQL assembled by
concatenation inside a procedural block escapes any textual check: where that matters, give the
role a warehouse of its own whose login has only its rights (docs/security.md).

ClickHouse, DuckDB, SQLite and chDB warehouses refuse a mapping at CREATE and ALTER
(``ROLE_MAPPING_UNSUPPORTED``), saying what controls them instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tasksql.errors import NotSupportedError, QueryFailed
from tasksql.model import WarehouseDef, WarehouseType
from tasksql.warehouses._body import condition_sql, truth

if TYPE_CHECKING:
    import pyarrow

    from tasksql.warehouses.base import CancelToken, Warehouse

#: The warehouse types whose runs can execute as a mapped database role.
SUPPORTED: frozenset[WarehouseType] = frozenset({WarehouseType.POSTGRES, WarehouseType.MYSQL})

#: The session parameter that carries a MySQL run's role to its session (``SET ROLE``), a name no
#: task can give (a task's parameters are MySQL system variables).
MYSQL_ROLE_PARAM = "tasksql.role"

_INSTEAD = {
    WarehouseType.DUCKDB: "a DuckDB file has no users or rights",
    WarehouseType.SQLITE: "a SQLite file has no users or rights",
    WarehouseType.CHDB: "an embedded chDB directory has no users or rights",
    WarehouseType.CLICKHOUSE: "tasksql does not switch ClickHouse roles yet",
}

# Statements that change the session's role. SET ROLE is matched where a statement (or a string or
# a procedural block) starts, so that UPDATE t SET role = ... (a column named role) still runs.
_ROLE_CHANGE = re.compile(
    r"""(?ix)
    (?: (?:^|[;'"$(]|\b(?:begin|then|else|loop|execute|do|immediate)\b) \s*
        set \s+ (?:session\s+|local\s+)? (?:"?role"?\b|session\s+authorization\b)
    )
    | \breset \s+ (?:"?role"?\b|all\b|session\s+authorization\b)
    | \bdiscard \s+ all\b
    | \bset_config \s* \(
    """
)


def check(d: WarehouseDef) -> None:
    """Refuse a mapping on a warehouse type that cannot apply it.

    :raises NotSupportedError: code ``ROLE_MAPPING_UNSUPPORTED``, saying what controls it instead.
    """
    if not d.role_mapping or d.type in SUPPORTED:
        return
    why = _INSTEAD.get(d.type, f"tasksql does not switch {d.type.value} roles")
    raise NotSupportedError(
        f"warehouse {d.name}: ROLE_MAPPING is not supported on {d.type.value} warehouses ({why}); "
        "who may use the warehouse (GRANT USAGE ON WAREHOUSE) is the whole control there: give a team "
        "a warehouse of its own whose login has only that team's rights",
        code="ROLE_MAPPING_UNSUPPORTED",
    )


def database_role(mapping: Sequence[tuple[str, str]], role: str) -> str | None:
    """The database role ``mapping`` pairs with tasksql ``role`` (case-insensitive); None if none."""
    key = role.lower()
    for tasksql_role, db_role in mapping:
        if tasksql_role == key:
            return db_role
    return None


def role_params(dialect: str, db_role: str) -> list[tuple[str, str]]:
    """The session parameters that make a run's connection act as ``db_role``, given after the
    task's own session parameters (so it wins): PostgreSQL's ``role`` setting (``SET LOCAL role =
    '...'`` in the run's transaction, ``SET``/``RESET`` around a body without one); for MySQL
    :data:`MYSQL_ROLE_PARAM`, which its sessions apply with ``SET ROLE`` (:func:`split_role`).

    :raises NotSupportedError: the dialect has no roles to switch to.
    """
    literal = "'" + db_role.replace("'", "''") + "'"
    if dialect == "postgres":
        return [("role", literal)]
    if dialect == "mysql":
        return [(MYSQL_ROLE_PARAM, literal)]
    raise NotSupportedError(f"runs cannot switch roles in {dialect}", code="ROLE_MAPPING_UNSUPPORTED")


def split_role(params: Sequence[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """A MySQL session's parameters without :data:`MYSQL_ROLE_PARAM`, and that parameter's value
    (the role as a checked SQL string literal; None when there is none)."""
    role = None
    rest: list[tuple[str, str]] = []
    for name, value in params:
        if name == MYSQL_ROLE_PARAM:
            role = value
        else:
            rest.append((name, value))
    return role, rest


def refuse_role_changes(statements: Sequence[str], session_params: Sequence[tuple[str, str]]) -> None:
    """Refuse a body (or its session parameters) that would change the role it runs as.

    :raises QueryFailed: code ``ROLE_CHANGE_REFUSED``, naming the statement.
    """
    for name, _ in session_params:
        if name.lower() in ("role", "session_authorization", MYSQL_ROLE_PARAM):
            raise QueryFailed(
                f"the session parameter {name.upper()} would change the database role this task runs "
                "as; its warehouse maps the owner role to a database role",
                code="ROLE_CHANGE_REFUSED",
            )
    for sql in statements:
        m = _ROLE_CHANGE.search(sql)
        if m is not None:
            shown = " ".join(sql.split())[:80]
            raise QueryFailed(
                f"a task body may not change its database role on a warehouse with a ROLE_MAPPING: {shown}",
                code="ROLE_CHANGE_REFUSED",
            )


async def evaluate_as(
    warehouse: Warehouse,
    db_role: str,
    condition: str,
    *,
    tables: Mapping[str, pyarrow.Table],
    timeout: float | None,
    token: CancelToken | None,
) -> bool:
    """A WHEN condition evaluated as ``db_role`` (as :meth:`Warehouse.evaluate`, in a transaction
    that sets the role for itself only).

    :raises QueryFailed: as :meth:`Warehouse.evaluate` (``WHEN_NOT_BOOLEAN``), or refused above.
    """
    refuse_role_changes([condition], ())
    result = await warehouse.run_body(
        [condition_sql(condition)],
        transactional=True,
        session_params=role_params(warehouse.dialect, db_role),
        tables=tables,
        timeout=timeout,
        token=token,
    )
    rows = result.last.rows if result.last is not None else []
    return truth(rows[0][0] if rows else None, condition)


def shown(mapping: Sequence[tuple[str, str]]) -> str | None:
    """The mapping as SHOW WAREHOUSES and system.warehouses show it (``a=pg_a, b=pg_b``)."""
    return ", ".join(f"{a}={b}" for a, b in mapping) or None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
