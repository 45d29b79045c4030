"""Snowflake's session parameters on a task: what each one means on the task's warehouse.

Snowflake's docs say a task supports every session parameter (docs.snowflake.com/en/sql-reference/
parameters, the ones of type Session; ALTER SESSION lists them), and Snowflake's own CREATE TASK
examples set them (``TIMESTAMP_INPUT_FORMAT = 'YYYY-MM-DD HH24'``). tasksql runs the body in
another database, so each name is one of:

* **applied**: the warehouse has an equivalent, and the run's connection is given it
  (:func:`applied`): ``TIMEZONE`` is the session time zone, ``LOCK_TIMEOUT`` the lock wait;
  ``QUERY_TAG`` is recorded with each run; ``STATEMENT_TIMEOUT_IN_SECONDS`` bounds the run as
  ``USER_TASK_TIMEOUT_MS`` does (the lower of the two, :func:`tasksql.model.effective_timeout_ms`).
* **kept**: the parameter changes only what Snowflake itself does (its input and output formats,
  its client drivers, its result cache): it is validated, stored, shown by SHOW CREATE TASK,
  DESCRIBE TASK and the ``session_params`` columns, and has no effect; CREATE and ALTER say so in a
  notice (:func:`no_effect`).

A name that is no Snowflake session parameter is the warehouse's own setting, checked against the
warehouse (``tasksql.engine.session_check``), except one of Databend's own settings
(:mod:`tasksql.sql.databend_settings`, ``enable_query_result_cache = 1`` in Databend's ALTER TASK
example), kept with no effect where the warehouse type does not share Databend's settings.
Values are checked as Snowflake checks them (:func:`value_error`). Keys are lower case; values are
SQL literals as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tasksql.model import WarehouseType
from tasksql.sql.databend_settings import DATABEND_SETTINGS

Literal = str
#: (setting, literal) given to the warehouse, or None: nothing to set on this warehouse type.
Mapper = Callable[[Literal], tuple[str, Literal] | None]

_WH = WarehouseType
_NAMES = {
    _WH.DUCKDB: "DuckDB",
    _WH.POSTGRES: "PostgreSQL",
    _WH.SQLITE: "SQLite",
    _WH.MYSQL: "MySQL",
    _WH.CLICKHOUSE: "ClickHouse",
    _WH.CHDB: "chDB",
}


def text_of(literal: Literal) -> str:
    """The value of a literal as text: a quoted string unquoted, anything else as written."""
    s = literal.strip()
    if len(s) >= 2 and s[0] == s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if s.startswith("$$") and s.endswith("$$") and len(s) >= 4:
        return s[2:-2]
    return s


def _quote(text: str) -> Literal:
    return "'" + text.replace("'", "''") + "'"


def _int(literal: Literal) -> int | None:
    s = text_of(literal)
    return int(s) if re.fullmatch(r"[+-]?\d+", s) else None


# --- value checks: None when the value is one Snowflake takes, else what it takes ----------------

Check = Callable[[Literal], str | None]


def _any(_: Literal) -> str | None:
    return None


def _boolean(literal: Literal) -> str | None:
    ok = text_of(literal).upper() in {"TRUE", "FALSE"}
    return None if ok else "TRUE or FALSE"


def _between(lo: int, hi: int | None) -> Check:
    def check(literal: Literal) -> str | None:
        n = _int(literal)
        if n is not None and n >= lo and (hi is None or n <= hi):
            return None
        return f"an integer from {lo} to {hi}" if hi is not None else f"an integer of at least {lo}"

    return check


def _one_of(*values: str) -> Check:
    def check(literal: Literal) -> str | None:
        ok = text_of(literal).upper() in values
        return None if ok else "one of " + ", ".join(values)

    return check


# --- what an applied parameter is on each warehouse type -----------------------------------------


def _same(setting: str) -> Mapper:
    return lambda literal: (setting, literal)


def _lock_timeout(scale: int, setting: str, least: int = 0) -> Mapper:
    """Snowflake's seconds as ``setting`` in its unit; a value that is no integer is the
    warehouse's own setting of the same name (PostgreSQL's ``lock_timeout = '5s'``)."""

    def to(literal: Literal) -> tuple[str, Literal] | None:
        n = _int(literal)
        if n is None:
            return ("lock_timeout", literal)
        return (setting, str(max(least, n * scale)))

    return to


def _search_path(public: str) -> Mapper:
    """``'$current, $public, db.s'``: ``$public`` is the warehouse's public schema; ``$current``
    is the current schema, which the warehouse searches first anyway; nothing left: not set."""

    def to(literal: Literal) -> tuple[str, Literal] | None:
        parts = [p.strip() for p in text_of(literal).split(",") if p.strip()]
        kept = [public if p.lower() == "$public" else p for p in parts if p.lower() != "$current"]
        return ("search_path", _quote(",".join(kept))) if kept else None

    return to


def _mysql_zone(literal: Literal) -> tuple[str, Literal] | None:
    """MySQL's time_zone; UTC as the offset, which needs no time zone tables in the server."""
    utc = text_of(literal).upper() in {"UTC", "GMT", "ETC/UTC", "Z", "ZULU"}
    return ("time_zone", "'+00:00'" if utc else literal)


def _null_order(literal: Literal) -> tuple[str, Literal] | None:
    return ("default_null_order", _quote(f"nulls_{text_of(literal).lower()}"))


@dataclass(frozen=True)
class SnowflakeParam:
    """One Snowflake session parameter: the values it takes, and what it is on each warehouse
    type (a type missing from ``applied`` keeps it with no effect, for ``why``)."""

    check: Check = _any
    applied: Mapping[WarehouseType, Mapper] = field(default_factory=dict)
    #: Why the parameter does nothing where it is not applied (a phrase after "it").
    why: str = ""
    #: Applied by tasksql itself on every warehouse (the run timeout), not by a setting.
    by_tasksql: bool = False


_FORMAT = (
    "sets a format of Snowflake's own conversions and output; the warehouse reads and prints values"
    " its own way"
)
_CLIENT = "configures Snowflake's client drivers; a task's run has no client"
_SERVICE = "configures a Snowflake service that tasksql does not have"
_DATABEND_WHY = "is a setting of Databend's own, which the warehouse does not have"

_CLICKHOUSES = (_WH.CLICKHOUSE, _WH.CHDB)

SNOWFLAKE_PARAMS: dict[str, SnowflakeParam] = {
    "timezone": SnowflakeParam(
        applied={
            _WH.DUCKDB: _same("timezone"),
            _WH.POSTGRES: _same("timezone"),
            _WH.MYSQL: _mysql_zone,
            **dict.fromkeys(_CLICKHOUSES, _same("session_timezone")),
        },
        why="has no equivalent: SQLite's date and time functions work in UTC",
    ),
    "statement_timeout_in_seconds": SnowflakeParam(
        check=_between(0, 604800),
        by_tasksql=True,
        why="bounds each run, with USER_TASK_TIMEOUT_MS: the lower of the two non-zero values",
    ),
    "lock_timeout": SnowflakeParam(
        applied={
            _WH.POSTGRES: _lock_timeout(1000, "lock_timeout"),
            _WH.MYSQL: _lock_timeout(1, "innodb_lock_wait_timeout", least=1),
            _WH.SQLITE: _lock_timeout(1000, "busy_timeout"),
        },
        why="has no equivalent: the warehouse does not wait for row locks (DuckDB: a conflicting"
        " write fails at once; ClickHouse: no transactions)",
    ),
    "query_tag": SnowflakeParam(
        check=lambda lit: None if len(text_of(lit)) <= 2000 else "a string of at most 2000 characters",
        why="is recorded with each run (the query_tag column of task_history); the warehouse has"
        " no query tag",
    ),
    "search_path": SnowflakeParam(
        applied={_WH.POSTGRES: _search_path("public"), _WH.DUCKDB: _search_path("main")},
        why="has no equivalent: the warehouse has no schema search path",
    ),
    "transaction_default_isolation_level": SnowflakeParam(
        check=_one_of("READ COMMITTED"),
        applied={_WH.POSTGRES: lambda _: ("default_transaction_isolation", "'read committed'")},
        why="has no equivalent: the warehouse's transactions have its own isolation",
    ),
    "default_null_ordering": SnowflakeParam(
        check=_one_of("FIRST", "LAST"),
        applied={_WH.DUCKDB: _null_order},
        why="has no equivalent: the warehouse orders NULLs its own way",
    ),
    "autocommit": SnowflakeParam(
        check=_boolean, by_tasksql=True, why="TRUE is how a task's statements run anyway"
    ),
    **dict.fromkeys(
        (
            "binary_input_format",
            "binary_output_format",
            "date_input_format",
            "date_output_format",
            "time_input_format",
            "time_output_format",
            "timestamp_input_format",
            "timestamp_output_format",
            "timestamp_ltz_output_format",
            "timestamp_ntz_output_format",
            "timestamp_tz_output_format",
            "csv_timestamp_format",
            "timestamp_type_mapping",
            "geography_output_format",
            "geometry_output_format",
        ),
        SnowflakeParam(why=_FORMAT),
    ),
    "json_indent": SnowflakeParam(check=_between(0, 16), why=_FORMAT),
    "strict_json_output": SnowflakeParam(check=_boolean, why=_FORMAT),
    "two_digit_century_start": SnowflakeParam(check=_between(1900, 2100), why=_FORMAT),
    "timestamp_day_is_always_24h": SnowflakeParam(check=_boolean, why=_FORMAT),
    "week_start": SnowflakeParam(check=_between(0, 7), why=_FORMAT),
    "week_of_year_policy": SnowflakeParam(check=_between(0, 1), why=_FORMAT),
    "quoted_identifiers_ignore_case": SnowflakeParam(
        check=_boolean, why="changes Snowflake's name resolution; the warehouse resolves names its own way"
    ),
    "error_on_nondeterministic_merge": SnowflakeParam(check=_boolean, why=_SERVICE),
    "error_on_nondeterministic_update": SnowflakeParam(check=_boolean, why=_SERVICE),
    "noorder_sequence_as_default": SnowflakeParam(check=_boolean, why=_SERVICE),
    "unsupported_ddl_action": SnowflakeParam(why=_SERVICE),
    "use_cached_result": SnowflakeParam(
        check=_boolean, why="switches Snowflake's result cache; tasksql has none"
    ),
    "abort_detached_query": SnowflakeParam(check=_boolean, why=_CLIENT),
    "rows_per_resultset": SnowflakeParam(check=_between(0, None), why=_CLIENT),
    "multi_statement_count": SnowflakeParam(check=_between(0, None), why=_CLIENT),
    **dict.fromkeys(
        (
            "client_enable_log_info_statement_parameters",
            "client_memory_limit",
            "client_metadata_request_use_connection_ctx",
            "client_metadata_use_session_database",
            "client_prefetch_threads",
            "client_result_chunk_size",
            "client_result_column_case_insensitive",
            "client_session_keep_alive",
            "client_session_keep_alive_heartbeat_frequency",
            "client_timestamp_type_mapping",
            "jdbc_treat_decimal_as_int",
            "jdbc_treat_timestamp_ntz_as_utc",
            "jdbc_use_session_timezone",
            "js_treat_integer_as_bigint",
            "odbc_treat_decimal_as_int",
        ),
        SnowflakeParam(why=_CLIENT),
    ),
    "active_python_profiler": SnowflakeParam(check=_one_of("LINE", "MEMORY", "DISABLED"), why=_SERVICE),
    **dict.fromkeys(
        (
            "python_profiler_modules",
            "python_profiler_target_stage",
            "s3_stage_vpce_dns_name",
            "simulated_data_sharing_consumer",
            "enable_unload_physical_type_optimization",
            "hybrid_table_lock_timeout",
            "statement_queued_timeout_in_seconds",
            "transaction_abort_on_error",
            "trace_level",
            "metric_level",
            "target_completion_interval",
            "serverless_task_min_statement_size",
            "serverless_task_max_statement_size",
        ),
        SnowflakeParam(why=_SERVICE),
    ),
}


def snowflake_param(key: str) -> SnowflakeParam | None:
    """The Snowflake session parameter called ``key`` (any case), or None."""
    return SNOWFLAKE_PARAMS.get(key.lower())


def value_error(key: str, literal: Literal) -> str | None:
    """What Snowflake's ``key`` takes when ``literal`` is not one of its values; None when it is
    (or ``key`` is no Snowflake parameter). ``LOCK_TIMEOUT`` is not checked here: a value that is
    no number of seconds is the warehouse's own ``lock_timeout``."""
    param = snowflake_param(key)
    if param is None:
        return None
    expected = param.check(literal)
    return None if expected is None else f"{key.upper()} must be {expected}, got {literal}"


def databend_kept(key: str, wh_type: WarehouseType) -> bool:
    """Whether ``key`` is a setting of Databend's own, kept with no effect on a ``wh_type``
    warehouse (on ClickHouse and chDB it is the warehouse's setting of the same name)."""
    return key.lower() in DATABEND_SETTINGS and wh_type not in _CLICKHOUSES


def applied(params: tuple[tuple[str, str], ...], wh_type: WarehouseType) -> list[tuple[str, str]]:
    """The settings a run's connection on a ``wh_type`` warehouse is given for a task's session
    parameters: a Snowflake parameter as its equivalent there (left out where it has none), a
    Databend setting the warehouse type does not share left out, any other name as written."""
    out: list[tuple[str, str]] = []
    for key, literal in params:
        param = snowflake_param(key)
        if param is None:
            if not databend_kept(key, wh_type):
                out.append((key, literal))
            continue
        mapper = param.applied.get(wh_type)
        setting = mapper(literal) if mapper is not None else None
        if setting is not None:
            out.append(setting)
    return out


def no_effect(key: str, wh_type: WarehouseType) -> str | None:
    """Why Snowflake's ``key`` does nothing on a ``wh_type`` warehouse (a phrase after "it"), or
    None when it has an effect there (applied, or by tasksql) or is no Snowflake parameter."""
    param = snowflake_param(key)
    if param is None:
        return _DATABEND_WHY if databend_kept(key, wh_type) else None
    if param.by_tasksql or wh_type in param.applied:
        return None
    return param.why


def warehouse_name(wh_type: WarehouseType) -> str:
    return _NAMES.get(wh_type, str(wh_type))
