"""The one task model.

Snowflake, Databend, Timeplus, VoltDB and Ocient spell ``CREATE TASK`` five ways; they all parse
into a :class:`TaskDef`. A ``TaskDef`` is the *definition* of a task: what it runs, when, where and
under which policies. It is a frozen value: two definitions are equal when they would behave the
same, whatever spelling produced them. Runtime facts (state, version, owner, timestamps) live in
:class:`TaskRecord` beside it.

Every field has a default that means "not given"; :func:`effective_*` helpers turn those into the
values the engine applies (for example a timeout of ``None`` means the default of one hour), so that
``SHOW CREATE TASK`` can print only what the user chose while ``DESCRIBE TASK`` shows everything.

Serialisation (:func:`task_to_json` / :func:`task_from_json`) is versioned: stored definitions carry
``"v"`` and a reader refuses a newer version with a message that says what to upgrade.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from tasksql.errors import SchemaVersionError

# --- names ---------------------------------------------------------------------------------------

DEFAULT_DATABASE = "tasksql"
DEFAULT_SCHEMA = "public"
DEFAULT_WAREHOUSE = "default"


@dataclass(frozen=True, slots=True, order=True)
class QualifiedName:
    """``[database.][schema.]name``, each part already normalised.

    Unquoted identifiers are case-insensitive and stored in lower case; quoted identifiers are kept
    exactly. ``database`` and ``schema`` are ``None`` when the text did not give them; the engine
    resolves them (:meth:`resolved`) before a name reaches the catalog.
    """

    name: str
    schema: str | None = None
    database: str | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in (self.database, self.schema, self.name) if p is not None)

    def resolved(self, database: str = DEFAULT_DATABASE, schema: str = DEFAULT_SCHEMA) -> QualifiedName:
        """This name with missing parts filled from the given defaults."""
        return QualifiedName(self.name, self.schema or schema, self.database or database)

    def relative_to(self, database: str = DEFAULT_DATABASE, schema: str = DEFAULT_SCHEMA) -> QualifiedName:
        """The shortest name that resolves back to this one from ``database.schema``."""
        if self.database in (None, database):
            if self.schema in (None, schema):
                return QualifiedName(self.name)
            return QualifiedName(self.name, self.schema)
        return self

    @property
    def key(self) -> str:
        """The catalog key of a resolved name: parts joined by dots (parts may contain dots)."""
        return "\x1f".join(self.parts)

    @staticmethod
    def from_key(key: str) -> QualifiedName:
        parts = key.split("\x1f")
        return QualifiedName.of(*parts)

    @staticmethod
    def of(*parts: str) -> QualifiedName:
        """Build from 1 to 3 already-normalised parts, outermost first."""
        if not 1 <= len(parts) <= 3:
            raise ValueError(f"a name has 1 to 3 parts, not {len(parts)}")
        padded = (None,) * (3 - len(parts)) + tuple(parts)
        return QualifiedName(padded[2] or "", padded[1], padded[0])

    def __str__(self) -> str:
        return ".".join(quote_ident(p) for p in self.parts)


_BARE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_$")


#: Words that cannot be a bare name part in tasksql's grammar: SQL reserved words plus the task
#: grammar's clause keywords. A name equal to one of them is printed double-quoted.
RESERVED_WORDS = frozenset(
    """
    add after all alter and as asc begin between by call cancel case cast check clone column comment
    create cross cron current default delay delete desc describe disable distinct drop else enable end
    every except execute exists false finalize for from full group having if in inner insert intersect
    into is join left like limit modify natural not null of on or order outer procedure remove replace
    resume right schedule select set show suspend system table tag task tasks then timeout to true type
    union unset update using values warehouse when where with
    """.split()
)


def quote_ident(part: str) -> str:
    """Print one name part: bare if it reads back the same, double-quoted otherwise."""
    if part and (part[0].isalpha() or part[0] == "_") and set(part) <= _BARE and part not in RESERVED_WORDS:
        return part
    return '"' + part.replace('"', '""') + '"'


# --- enums ---------------------------------------------------------------------------------------


class Spelling(StrEnum):
    """Which system's ``CREATE TASK`` spelling a statement used; it decides creation defaults.

    SNOWFLAKE and DATABEND tasks are created suspended; TIMEPLUS tasks are created started; VOLTDB
    tasks are started unless ``DISABLE`` and default to ``ON ERROR STOP``; OCIENT maintenance tasks
    are started and run once at creation.
    """

    SNOWFLAKE = "snowflake"
    DATABEND = "databend"
    TIMEPLUS = "timeplus"
    VOLTDB = "voltdb"
    OCIENT = "ocient"


class DayNumbering(StrEnum):
    """How a cron expression numbers the days of the week.

    UNIX: 0-7, 0 and 7 are Sunday, 1 is Monday (Vixie/Debian cron, Snowflake, VoltDB, Timeplus).
    DATABEND: 1-7, 1 is Sunday, 2 is Monday (the Rust ``cron`` crate Databend schedules with, and
    Quartz). Day names (``MON``) mean the same day in both.
    """

    UNIX = "unix"
    DATABEND = "databend"


class TaskState(StrEnum):
    """Whether a task's schedule is live."""

    STARTED = "started"
    SUSPENDED = "suspended"


class SuspendReason(StrEnum):
    """Why a task is suspended (shown by SHOW TASKS)."""

    CREATED = "CREATED"  #: created suspended (Snowflake/Databend spelling); resume it to start
    USER = "USER"  #: ALTER TASK ... SUSPEND, SYSTEM PAUSE TASK, DISABLE
    AUTO_SUSPENDED = "AUTO_SUSPENDED"  #: SUSPEND_TASK_AFTER_NUM_FAILURES consecutive failures
    ON_ERROR_STOP = "ON_ERROR_STOP"  #: a run failed under ON ERROR STOP
    PREDECESSOR_DROPPED = "PREDECESSOR_DROPPED"  #: became a root when its predecessor was dropped
    OWNER_DROPPED = "OWNER_DROPPED"  #: its owner was dropped; resumed only by the new owner


class OverlapPolicy(StrEnum):
    """Whether runs of a task (or graph runs of a root) may overlap (Snowflake OVERLAP_POLICY)."""

    NO_OVERLAP = "NO_OVERLAP"
    ALLOW_CHILD_OVERLAP = "ALLOW_CHILD_OVERLAP"
    ALLOW_ALL_OVERLAP = "ALLOW_ALL_OVERLAP"


class OnError(StrEnum):
    """VoltDB's error policy: STOP suspends at the first error, LOG records and goes on, IGNORE goes on."""

    STOP = "STOP"
    LOG = "LOG"
    IGNORE = "IGNORE"


class RunOn(StrEnum):
    """VoltDB RUN ON: HOSTS runs each instant on every live cluster node (scheduler/hosts.py);
    DATABASE (default) and PARTITIONS run it once in the cluster (tasksql has no partitions)."""

    DATABASE = "DATABASE"
    PARTITIONS = "PARTITIONS"
    HOSTS = "HOSTS"


class DstPolicy(StrEnum):
    """What a cron schedule does at daylight-saving transitions in its time zone.

    STANDARD (default, like Debian cron): a fixed time inside the skipped hour runs once at the end
    of the gap; a fixed time inside the repeated hour runs once (the first occurrence). Wildcard and
    stepped fields run in both copies of a repeated hour.
    SNOWFLAKE (Snowflake's documented behaviour): a time inside the skipped hour does not run; a
    time inside the repeated hour runs twice.
    """

    STANDARD = "STANDARD"
    SNOWFLAKE = "SNOWFLAKE"


class CatchUp(StrEnum):
    """What happens to instants missed while the server was down or the task suspended.

    NONE (default): missed instants are recorded as SKIPPED and not run; LATEST: the most recent
    missed instant within the grace window runs once; ALL: every missed instant within the grace
    window runs, in order.
    """

    NONE = "NONE"
    LATEST = "LATEST"
    ALL = "ALL"


class MaintenanceKind(StrEnum):
    """Ocient's built-in task types, mapped onto the warehouse's own maintenance commands."""

    REBUILD = "rebuild"
    CHECK_DISK = "check_disk"
    REBALANCE = "rebalance"


class LocationKind(StrEnum):
    SYSTEM = "SYSTEM"
    CLUSTER = "CLUSTER"
    NODE = "NODE"


# --- schedules -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """Fixed rate: a run every ``every_ms`` milliseconds, start to start, anchored at resume."""

    every_ms: int


@dataclass(frozen=True, slots=True)
class DelaySchedule:
    """Fixed delay (VoltDB DELAY): the next run starts ``delay_ms`` after the previous one ended."""

    delay_ms: int


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A cron expression (5 fields, 6 with seconds first, 7 with a year last) in an IANA time zone.

    ``expr`` is stored with runs of white space collapsed to one space and macros (``@daily``)
    kept as written; ``timezone`` is the zone name as given (validated against the tz database);
    ``day_numbering`` is how the expression's day-of-week numbers are read (decided by the
    spelling it was written in, kept so that it reads the same wherever it is shown).
    """

    expr: str
    timezone: str = "UTC"
    day_numbering: DayNumbering = DayNumbering.UNIX


@dataclass(frozen=True, slots=True)
class CustomSchedule:
    """A Python class (``module.Class`` or ``module:Class``) that computes the next instant.

    ``args`` are SQL literal texts from ``WITH (...)``, passed to the class's constructor.
    """

    class_path: str
    args: tuple[str, ...] = ()


ScheduleSpec: TypeAlias = IntervalSchedule | DelaySchedule | CronSchedule | CustomSchedule


# --- bodies --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SqlBody:
    """SQL text run in the warehouse: one statement, or a ``BEGIN ... END`` script (one transaction).

    ``text`` is verbatim from the source, without the trailing semicolon.
    """

    text: str

    @property
    def is_script(self) -> bool:
        head = self.text.lstrip().upper()
        return head.startswith("BEGIN") and not head.startswith("BEGIN TRANSACTION")


@dataclass(frozen=True, slots=True)
class ProcedureBody:
    """VoltDB ``PROCEDURE name [WITH (args)]``: a procedure (or macro) called with literal args."""

    procedure: QualifiedName
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClassBody:
    """VoltDB ``PROCEDURE FROM CLASS c`` / ``FROM CLASS c``: a Python action generator class.

    ``schedules`` is True for the ``CREATE TASK name FROM CLASS c`` form, where the class also
    decides when to run (an action scheduler).
    """

    class_path: str
    args: tuple[str, ...] = ()
    schedules: bool = False


@dataclass(frozen=True, slots=True)
class MaintenanceBody:
    """Ocient ``TYPE rebuild|check_disk|rebalance [LOCATION ...] [OPTIONS k = v, ...]``.

    ``options`` keeps each value as SQL literal text, in the order written.
    """

    kind: MaintenanceKind
    location: LocationKind = LocationKind.SYSTEM
    location_name: str | None = None
    options: tuple[tuple[str, str], ...] = ()


Body: TypeAlias = SqlBody | ProcedureBody | ClassBody | MaintenanceBody


# --- the task definition -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDef:
    """The canonical definition of a task. ``None`` means "not given: use the default".

    Names in ``name``, ``after`` and ``finalize`` are resolved (database and schema filled in) by the
    engine before the definition is stored. ``session_params``, ``tags`` and ``contacts`` keep their
    values as SQL literal texts, in the order written; their keys are lower case.
    """

    name: QualifiedName
    body: Body
    schedule: ScheduleSpec | None = None
    after: tuple[QualifiedName, ...] = ()
    #: ``AFTER`` as Databend reads it (see :mod:`tasksql.model.joins`): with several predecessors
    #: the task runs on its own, once each of them has succeeded since its last run, whatever
    #: graphs they belong to. False: Snowflake's graph rule (one root, run inside its graph runs).
    after_any_graph: bool = False
    when: str | None = None
    finalize: QualifiedName | None = None
    into: QualifiedName | None = None
    #: ``INTO ... CREATE IF NOT EXISTS``: a run creates the INTO table (of another warehouse) from
    #: its query's columns when it does not exist.
    into_create: bool = False
    warehouse: str | None = None
    managed_warehouse_size: str | None = None
    timeout_ms: int | None = None
    config: str | None = None
    overlap_policy: OverlapPolicy | None = None
    max_concurrent_runs: int | None = None
    suspend_after_failures: int | None = None
    auto_retry_attempts: int | None = None
    retry_delay_ms: int | None = None
    retry_backoff: float | None = None
    retry_max_delay_ms: int | None = None
    retry_on: tuple[str, ...] = ()
    error_integration: str | None = None
    success_integration: str | None = None
    log_level: str | None = None
    comment: str | None = None
    min_trigger_interval_s: int | None = None
    dst_policy: DstPolicy | None = None
    catch_up: CatchUp | None = None
    catch_up_window_ms: int | None = None
    history_retention_ms: int | None = None
    on_error: OnError | None = None
    run_on: RunOn | None = None
    run_as_user: str | None = None
    #: ``NODE = 'n1'``: the cluster node the task runs on, and only there (see :func:`pinned_node`).
    node: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    contacts: tuple[tuple[str, str], ...] = ()
    session_params: tuple[tuple[str, str], ...] = ()

    def with_changes(self, **changes: Any) -> TaskDef:
        return replace(self, **changes)


# Defaults the engine applies when a field is None. Documented in docs/sql-reference.md.
DEFAULT_TIMEOUT_MS = 3_600_000
DEFAULT_SUSPEND_AFTER_FAILURES = 10
DEFAULT_MAX_CONCURRENT_RUNS = 8  #: bound on overlapping runs when overlap is allowed
DEFAULT_CATCH_UP_WINDOW_MS = 3_600_000
MAX_RETURN_VALUE_BYTES = 10_240
MAX_GRAPH_TASKS = 1000
MAX_PREDECESSORS = 100
MAX_CHILDREN = 100


#: The longest USER_TASK_TIMEOUT_MS Snowflake documents (7 days); 0 means this maximum.
MAX_TIMEOUT_MS = 604_800_000


def effective_timeout_ms(task: TaskDef) -> int:
    """The run timeout: USER_TASK_TIMEOUT_MS (0: the maximum, as in Snowflake), else the default;
    with Snowflake's session parameter STATEMENT_TIMEOUT_IN_SECONDS set (not 0), the lower of the
    two, as Snowflake's docs say of a task that sets both."""
    if task.timeout_ms == 0:
        timeout = MAX_TIMEOUT_MS
    else:
        timeout = task.timeout_ms if task.timeout_ms is not None else DEFAULT_TIMEOUT_MS
    literal = dict(task.session_params).get("statement_timeout_in_seconds", "").strip().strip("'")
    if literal.isdigit() and int(literal) > 0:
        return min(timeout, int(literal) * 1000)
    return timeout


def effective_overlap(task: TaskDef) -> OverlapPolicy:
    return task.overlap_policy or OverlapPolicy.NO_OVERLAP


def effective_suspend_after(task: TaskDef) -> int:
    """Consecutive failures before auto-suspend; 0 = never. ON ERROR LOG/IGNORE turn it off by default."""
    if task.suspend_after_failures is not None:
        return task.suspend_after_failures
    if task.on_error in (OnError.LOG, OnError.IGNORE):
        return 0
    return DEFAULT_SUSPEND_AFTER_FAILURES


def effective_warehouse(task: TaskDef) -> str:
    return task.warehouse or DEFAULT_WAREHOUSE


def pinned_node(task: TaskDef) -> str | None:
    """The node a task is pinned to: ``NODE = 'n1'``, else the node of an Ocient maintenance body's
    ``LOCATION NODE n1``; None when it may run on any node. The catalog derives the same value from
    the stored definition (``catalog/sql/*/queries.sql``), keep the two in step."""
    if task.node is not None:
        return task.node
    body = task.body
    if isinstance(body, MaintenanceBody) and body.location is LocationKind.NODE:
        return body.location_name
    return None


# --- runtime records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    """A stored task: its current definition plus the facts the catalog keeps about it.

    ``next_fire_at`` is the next scheduled instant (UTC) when the task is started and scheduled.
    """

    id: int
    definition: TaskDef
    version: int
    state: TaskState
    spelling: Spelling
    owner: str
    created_on: datetime
    last_committed_on: datetime
    suspend_reason: SuspendReason | None = None
    last_suspended_on: datetime | None = None
    resumed_on: datetime | None = None
    next_fire_at: datetime | None = None
    consecutive_failures: int = 0

    @property
    def name(self) -> QualifiedName:
        return self.definition.name


# --- serialisation -------------------------------------------------------------------------------

TASK_FORMAT_VERSION = 1

_SCHEDULE_KINDS: dict[str, type[Any]] = {
    "interval": IntervalSchedule,
    "delay": DelaySchedule,
    "cron": CronSchedule,
    "custom": CustomSchedule,
}
_BODY_KINDS: dict[str, type[Any]] = {
    "sql": SqlBody,
    "procedure": ProcedureBody,
    "class": ClassBody,
    "maintenance": MaintenanceBody,
}


def _name_to_json(n: QualifiedName) -> list[str | None]:
    return [n.database, n.schema, n.name]


def _name_from_json(v: list[str | None]) -> QualifiedName:
    # Database and schema names repeat across thousands of tasks: one shared string each.
    schema, database = v[1], v[0]
    return QualifiedName(
        str(v[2]),
        None if schema is None else sys.intern(schema),
        None if database is None else sys.intern(database),
    )


def _kind_of(obj: object, kinds: dict[str, type[Any]]) -> str:
    for k, cls in kinds.items():
        if isinstance(obj, cls):
            return k
    raise TypeError(f"unknown kind {type(obj).__name__}")


def _value_to_json(v: Any) -> Any:
    if isinstance(v, QualifiedName):
        return {"$name": _name_to_json(v)}
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, tuple):
        return [_value_to_json(x) for x in v]
    return v


def task_to_json(task: TaskDef) -> str:
    """Serialise a definition to JSON (stable key order; fields left at their default omitted)."""
    out: dict[str, Any] = {"v": TASK_FORMAT_VERSION}
    for name, default, _ in _fields_of(TaskDef):
        value = getattr(task, name)
        if name == "body":
            out["body"] = _part_to_json(value, _BODY_KINDS)
        elif name == "schedule":
            if value is not None:
                out["schedule"] = _part_to_json(value, _SCHEDULE_KINDS)
        elif value != default:
            out[name] = _value_to_json(value)
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


#: Part fields added after format 1: written only when not at their default, so that a definition
#: written before they existed serialises to the same text as it did.
_LATER_PART_FIELDS = frozenset({"day_numbering"})


def _part_to_json(value: Any, kinds: dict[str, type[Any]]) -> dict[str, Any]:
    part = {"$kind": _kind_of(value, kinds)}
    for name, default, _ in _fields_of(type(value)):
        field_value = getattr(value, name)
        if name not in _LATER_PART_FIELDS or field_value != default:
            part[name] = _value_to_json(field_value)
    return part


def _value_from_json(v: Any) -> Any:
    if isinstance(v, dict) and "$name" in v:
        return _name_from_json(v["$name"])
    if isinstance(v, list):
        return tuple(_value_from_json(x) if not isinstance(x, list) else tuple(x) for x in v)
    return v


_ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "overlap_policy": OverlapPolicy,
    "dst_policy": DstPolicy,
    "catch_up": CatchUp,
    "on_error": OnError,
    "run_on": RunOn,
    "kind": MaintenanceKind,
    "location": LocationKind,
    "day_numbering": DayNumbering,
}


_FIELDS: dict[type[Any], tuple[tuple[str, Any, type[StrEnum] | None], ...]] = {}


def _fields_of(cls: type[Any]) -> tuple[tuple[str, Any, type[StrEnum] | None], ...]:
    """(name, default, enum class or None) per field of ``cls``: ``fields()`` is read once per class
    (it is slow, and every definition written or read walks these)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple((f.name, f.default, _ENUM_FIELDS.get(f.name)) for f in fields(cls))
    return found


_PLAIN = (str, int, bool, float, type(None))
#: Text fields whose values repeat across many tasks: decoded into one shared string each.
_SHARED_TEXT_FIELDS = frozenset({"warehouse", "error_integration", "success_integration", "timezone"})


def _build(cls: type[Any], data: dict[str, Any], **extra: Any) -> Any:
    kwargs: dict[str, Any] = extra
    for name, _, enum in _fields_of(cls):
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, _PLAIN):
            value = _value_from_json(value)
        elif name in _SHARED_TEXT_FIELDS and isinstance(value, str):
            value = sys.intern(value)
        if enum is not None and value is not None:
            value = enum(value)
        kwargs[name] = value
    return cls(**kwargs)


def task_from_json(text: str) -> TaskDef:
    """Inverse of :func:`task_to_json`. Raises :class:`SchemaVersionError` for a newer format."""
    data = json.loads(text)
    version = int(data.pop("v", 1))
    if version > TASK_FORMAT_VERSION:
        raise SchemaVersionError(
            f"this task definition was written in format {version}; this tasksql reads up to format "
            f"{TASK_FORMAT_VERSION}: upgrade tasksql"
        )
    body_data = dict(data.pop("body"))
    body = _build(_BODY_KINDS[body_data.pop("$kind")], body_data)
    schedule = None
    if "schedule" in data:
        sched_data = dict(data.pop("schedule"))
        schedule = _build(_SCHEDULE_KINDS[sched_data.pop("$kind")], sched_data)
    return _build(TaskDef, data, body=body, schedule=schedule)  # type: ignore[no-any-return]
