"""What a warehouse says about the settings a run's connection can be given (session parameters).

A task's session parameters are applied on the run's connection before its body: ``SET SESSION``
on DuckDB and MySQL, ``SET`` (``SET LOCAL``) on PostgreSQL, ``SET`` on ClickHouse and chDB, ``PRAGMA``
on SQLite. :func:`list_settings` asks the warehouse, in its own SQL, which names that statement
would really apply, and which names it has that a task cannot set, with why; the engine checks a
task's parameters against it at CREATE and ALTER (:mod:`tasksql.engine.session_check`).

==========  ========================================================================================
type        what is asked; what is accepted
==========  ========================================================================================
duckdb      ``duckdb_settings()``, its loaded extensions' settings too: a name it lists, whose
            ``SET SESSION <name> = <value>`` succeeds on a new cursor of the database, thrown
            away after (:func:`try_listed`): a global-only option (``threads``, ``memory_limit``:
            "cannot be set locally") or a value DuckDB refuses fails every run, so it is refused
postgres    ``pg_settings``: a name whose ``context`` is ``user`` or ``superuser``; the others
            (server start, configuration file, connection start, read-only) are refused; a name
            with a dot (``myapp.tenant``) is a custom setting and accepted
sqlite      ``pragma_pragma_list``: the PRAGMAs that set something on the connection
            (:data:`SQLITE_SETTINGS`, as far as the library lists them); PRAGMAs that report or act
            (``table_info``, ``integrity_check``, ``optimize``), that cannot change a file already
            made (``encoding``, ``page_size``) or that set a limit for the whole process
            (``soft_heap_limit``, ``hard_heap_limit``, ``temp_store_directory``) are refused
            (SQLite itself ignores a PRAGMA it does not know)
mysql       MariaDB: ``information_schema.SYSTEM_VARIABLES``: a variable of session scope that is
            not read-only; global-only and read-only ones are refused. MySQL: the first that
            answers of ``performance_schema.variables_metadata`` (global-only ones refused),
            ``performance_schema.variables_by_thread`` of the connection (its session variables),
            ``SHOW SESSION VARIABLES`` (every name)
clickhouse  ``system.settings``; where it has the ``readonly`` column, a setting a constraint makes
chdb        read-only for the login is refused. A name it does not list is tried as ``SELECT 1
            SETTINGS <name> = <value>`` (a custom setting of the server's
            ``custom_settings_prefixes`` is accepted that way), which changes nothing
==========  ========================================================================================

User variables (MySQL's ``@name``) are not session parameters: a parameter's name is a setting's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tasksql.errors import QueryFailed
from tasksql.model import WarehouseType
from tasksql.warehouses._sqltext import check_session_params
from tasksql.warehouses.base import Warehouse

#: SQLite's PRAGMAs that set something on the connection or its database (sqlite.org/pragma.html:
#: those written ``PRAGMA name = value``), among them the deprecated ones SQLite still applies and
#: the tracing ones of debug builds. A PRAGMA is accepted only when the library lists it too.
SQLITE_SETTINGS = frozenset(
    {
        "analysis_limit", "application_id", "auto_vacuum", "automatic_index", "busy_timeout",
        "cache_size", "cache_spill", "case_sensitive_like", "cell_size_check",
        "checkpoint_fullfsync", "count_changes", "default_cache_size", "defer_foreign_keys",
        "empty_result_callbacks", "foreign_keys", "full_column_names", "fullfsync",
        "ignore_check_constraints", "journal_mode", "journal_size_limit", "legacy_alter_table",
        "legacy_file_format", "locking_mode", "max_page_count", "mmap_size", "parser_trace",
        "query_only", "read_uncommitted", "recursive_triggers", "reverse_unordered_selects",
        "schema_version", "secure_delete", "short_column_names", "synchronous", "temp_store",
        "threads", "trusted_schema", "user_version", "vdbe_addoptrace", "vdbe_debug",
        "vdbe_listing", "vdbe_trace", "wal_autocheckpoint", "writable_schema",
    }
)  # fmt: skip
#: SQLite PRAGMAs that are settings, but not of one run's connection: why a task cannot set them.
_SQLITE_NOT_FOR_A_RUN = {
    "encoding": "fixed once the database file exists",
    "page_size": "applied only to a new database file or by a VACUUM outside WAL mode, and the"
    " warehouse keeps its file in WAL mode",
    "hard_heap_limit": "a limit for the whole tasksql process, not for one connection",
    "soft_heap_limit": "a limit for the whole tasksql process, not for one connection",
    "temp_store_directory": "a directory for the whole tasksql process, not for one connection",
}
_SQLITE_ACTS = "a PRAGMA that reports or acts, not a setting (PRAGMA {name} = ... sets nothing)"

#: PostgreSQL ``pg_settings.context`` values a SET of the run's connection can change.
_PG_SETTABLE = frozenset({"user", "superuser"})
_PG_WHY = {
    "internal": "read-only (fixed when PostgreSQL was built or its cluster initialised)",
    "postmaster": "set only when the server starts",
    "sighup": "set only in the server's configuration file (postgresql.conf)",
    "backend": "set only when a connection starts",
    "superuser-backend": "set only when a connection starts",
}
_CH_READONLY = "read-only for the warehouse's login (a settings constraint or a readonly profile)"
_GLOBAL_ONLY = "a global variable (SET SESSION cannot change it, and a task does not change the server's)"


@dataclass(frozen=True)
class SettingsList:
    """What a warehouse said about its settings. Names are lower case (the warehouses compare
    them without regard to case; ClickHouse's are all lower case)."""

    #: The database that answered, for messages: ``DuckDB``, ``MariaDB``, ``chDB``, ...
    system: str
    #: Names a task may set.
    settable: frozenset[str]
    #: Names the warehouse has that a task cannot set -> why (a phrase: "set only when ...").
    refused: Mapping[str, str] = field(default_factory=dict)
    #: A name with a dot is a custom setting (PostgreSQL's ``myapp.tenant``).
    dotted_custom: bool = False
    #: A name not listed is tried with :func:`try_unlisted` (ClickHouse's custom settings).
    probe_unlisted: bool = False
    #: A listed name is tried with :func:`try_listed` before it is accepted (DuckDB).
    probe_listed: bool = False

    def allows(self, key: str) -> bool:
        """Whether the lower-case ``key`` names a setting a task may set."""
        return key in self.settable or (self.dotted_custom and "." in key)


Reader = Callable[[Sequence[tuple[object, ...]]], SettingsList]


def _names(rows: Sequence[tuple[object, ...]]) -> frozenset[str]:
    return frozenset(str(row[0]).lower() for row in rows)


def _duckdb(rows: Sequence[tuple[object, ...]]) -> SettingsList:
    return SettingsList("DuckDB", _names(rows), probe_listed=True)


def _postgres(rows: Sequence[tuple[object, ...]]) -> SettingsList:
    settable = frozenset(str(n).lower() for n, ctx, *_ in rows if ctx in _PG_SETTABLE)
    refused = {
        str(n).lower(): _PG_WHY.get(str(ctx), f"of context {ctx}")
        for n, ctx, *_ in rows
        if ctx not in _PG_SETTABLE
    }
    return SettingsList("PostgreSQL", settable, refused, dotted_custom=True)


def _sqlite(rows: Sequence[tuple[object, ...]]) -> SettingsList:
    listed = _names(rows)
    settable = (listed & SQLITE_SETTINGS) - _SQLITE_NOT_FOR_A_RUN.keys()
    refused = {n: _SQLITE_NOT_FOR_A_RUN.get(n) or _SQLITE_ACTS.format(name=n) for n in listed - settable}
    return SettingsList("SQLite", settable, refused)


def _scoped(system: str) -> Reader:
    """Rows of (name, scope[, read_only]): MariaDB's SYSTEM_VARIABLES, MySQL's variables_metadata."""

    def read(rows: Sequence[tuple[object, ...]]) -> SettingsList:
        settable: set[str] = set()
        refused: dict[str, str] = {}
        for name, scope, *rest in rows:
            key = str(name).lower()
            if str(scope).upper() == "GLOBAL":
                refused[key] = _GLOBAL_ONLY
            elif rest and str(rest[0]).upper() == "YES":
                refused[key] = "read-only"
            else:
                settable.add(key)
        return SettingsList(system, frozenset(settable), refused)

    return read


def _mysql(rows: Sequence[tuple[object, ...]]) -> SettingsList:
    return SettingsList("MySQL", _names(rows))


def _clickhouse(system: str, *, readonly: bool) -> Reader:
    def read(rows: Sequence[tuple[object, ...]]) -> SettingsList:
        if not readonly:
            return SettingsList(system, _names(rows), probe_unlisted=True)
        # readonly is 0 or 1 (a string over some transports)
        refused = {str(n).lower(): _CH_READONLY for n, ro in rows if str(ro) not in ("0", "False")}
        settable = _names(rows) - refused.keys()
        return SettingsList(system, settable, refused, probe_unlisted=True)

    return read


#: Per warehouse type, the queries to ask, in order: the first that runs and returns rows answers.
SOURCES: dict[WarehouseType, tuple[tuple[str, Reader], ...]] = {
    WarehouseType.DUCKDB: (("SELECT name FROM duckdb_settings()", _duckdb),),
    WarehouseType.POSTGRES: (("SELECT name, context FROM pg_settings", _postgres),),
    WarehouseType.SQLITE: (("SELECT name FROM pragma_pragma_list", _sqlite),),
    WarehouseType.MYSQL: (
        (
            "SELECT variable_name, variable_scope, read_only FROM information_schema.system_variables",
            _scoped("MariaDB"),
        ),
        ("SELECT variable_name, variable_scope FROM performance_schema.variables_metadata", _scoped("MySQL")),
        (
            "SELECT variable_name FROM performance_schema.variables_by_thread"
            " WHERE thread_id = PS_CURRENT_THREAD_ID()",
            _mysql,
        ),
        ("SHOW SESSION VARIABLES", _mysql),
    ),
    WarehouseType.CLICKHOUSE: (
        ("SELECT name, readonly FROM system.settings", _clickhouse("ClickHouse", readonly=True)),
        ("SELECT name FROM system.settings", _clickhouse("ClickHouse", readonly=False)),
    ),
    WarehouseType.CHDB: (
        ("SELECT name, readonly FROM system.settings", _clickhouse("chDB", readonly=True)),
        ("SELECT name FROM system.settings", _clickhouse("chDB", readonly=False)),
    ),
}


async def list_settings(wh: Warehouse) -> SettingsList | None:
    """What ``wh`` says about its settings; None when none of its queries answers (a server too old
    or too restricted to list them): then the warehouse cannot tell.

    :raises WarehouseError: the warehouse cannot be reached (a failed query is not raised: the
        next query is tried).
    """
    for sql, read in SOURCES.get(wh.type, ()):
        try:
            rows = (await wh.execute(sql)).rows
        except QueryFailed:
            continue  # not this server's table (MariaDB's on MySQL, a column of a later version)
        if rows:
            return read(rows)
    return None


async def try_unlisted(wh: Warehouse, key: str, literal: str) -> bool:
    """Whether ClickHouse takes ``key = literal``, a name ``system.settings`` does not list, for one
    query (``SELECT 1 SETTINGS ...``: nothing stays set).

    :raises WarehouseError: the warehouse cannot be reached (a refused setting is False).
    """
    try:
        ((name, value),) = check_session_params([(key, literal)])
        await wh.execute(f"SELECT 1 SETTINGS {name} = {value}")
    except QueryFailed:
        return False
    return True


async def try_listed(wh: Warehouse, key: str, literal: str) -> str | None:
    """Why a run of DuckDB warehouse ``wh`` could not set ``key = literal`` (DuckDB's message), or
    None when it can: ``SET SESSION`` on a new cursor of the database, closed after, so that
    nothing stays set. Other warehouses: None (nothing is tried).

    :raises WarehouseError: the database is closed.
    """
    from tasksql.warehouses.duckdb import DuckDBWarehouse  # (its driver loads only for DuckDB)

    if not isinstance(wh, DuckDBWarehouse):
        return None
    ((name, value),) = check_session_params([(key, literal)])
    return await asyncio.to_thread(wh.database.try_session_setting, name, value)
