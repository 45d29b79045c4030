"""Statement objects: what the parser returns and the engine executes.

Each statement is a frozen, keyword-only dataclass with the :class:`~tasksql.errors.Span` of its
whole text. Names are as written (normalised case, database/schema possibly missing); the engine
resolves them. ``spans`` maps a field (``"schedule"``, ``"warehouse"``, ``"after.0"``, ...) to
where it was written, so that checks needing the catalog can still point at the right character.

Anything that is not a task-language statement is a :class:`Passthrough`: verbatim SQL for the
default warehouse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from tasksql.errors import Span
from tasksql.model import (
    Body,
    IntegrationDef,
    OnError,
    QualifiedName,
    Spelling,
    TaskDef,
    WarehouseDef,
)
from tasksql.model.secret import SecretString

if TYPE_CHECKING:
    from tasksql.sql.parse_window import BackfillWindow

_NO_SPANS: Mapping[str, Span] = {}


@dataclass(frozen=True, kw_only=True)
class Statement:
    """Base of every statement. ``text`` is the statement's own source text."""

    span: Span = field(compare=False)
    text: str = field(compare=False, default="")
    spans: Mapping[str, Span] = field(compare=False, default_factory=lambda: _NO_SPANS)


# --- tasks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateTask(Statement):
    """``CREATE [OR REPLACE | OR ALTER] TASK [IF NOT EXISTS] name ...`` in any of the five spellings.

    ``definition`` holds every clause; ``enabled`` is VoltDB's ENABLE (True) / DISABLE (False), or
    None when not written; ``name_given`` is False for Ocient's anonymous ``CREATE TASK TYPE ...``
    (the engine picks a name).
    """

    definition: TaskDef
    spelling: Spelling
    or_replace: bool = False
    or_alter: bool = False
    if_not_exists: bool = False
    enabled: bool | None = None
    name_given: bool = True


@dataclass(frozen=True, kw_only=True)
class CloneTask(Statement):
    """``CREATE [OR REPLACE] TASK [IF NOT EXISTS] name CLONE source [COPY GRANTS]``."""

    name: QualifiedName
    source: QualifiedName
    or_replace: bool = False
    if_not_exists: bool = False


# ALTER TASK actions -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Resume:
    """ALTER TASK ... RESUME, ENABLE (VoltDB) or SYSTEM RESUME TASK (Timeplus)."""

    spelling: str = "RESUME"


@dataclass(frozen=True, kw_only=True)
class Suspend:
    """ALTER TASK ... SUSPEND, DISABLE (VoltDB) or SYSTEM PAUSE TASK (Timeplus)."""

    spelling: str = "SUSPEND"


@dataclass(frozen=True, kw_only=True)
class SetProperties:
    """ALTER TASK ... SET: ``assignments`` are (TaskDef field, new value) pairs, already typed.

    ``session_params`` and ``tags`` are merged into the existing ones (a key given again replaces
    its value).
    """

    assignments: tuple[tuple[str, Any], ...] = ()
    session_params: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    contacts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class UnsetProperties:
    """ALTER TASK ... UNSET: TaskDef fields reset to "not given", and keys removed."""

    fields: tuple[str, ...] = ()
    session_params: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: Snowflake's ``UNSET CONTACT <purpose> [, ...]``: the purposes whose contact is removed.
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AddAfter:
    names: tuple[QualifiedName, ...]


@dataclass(frozen=True, kw_only=True)
class RemoveAfter:
    names: tuple[QualifiedName, ...]


@dataclass(frozen=True, kw_only=True)
class ModifyAs:
    body: Body


@dataclass(frozen=True, kw_only=True)
class ModifyWhen:
    condition: str


@dataclass(frozen=True, kw_only=True)
class RemoveWhen:
    pass


@dataclass(frozen=True, kw_only=True)
class SetFinalize:
    root: QualifiedName


@dataclass(frozen=True, kw_only=True)
class UnsetFinalize:
    pass


@dataclass(frozen=True, kw_only=True)
class AlterOnError:
    policy: OnError


AlterAction: TypeAlias = (
    Resume
    | Suspend
    | SetProperties
    | UnsetProperties
    | AddAfter
    | RemoveAfter
    | ModifyAs
    | ModifyWhen
    | RemoveWhen
    | SetFinalize
    | UnsetFinalize
    | AlterOnError
)


@dataclass(frozen=True, kw_only=True)
class AlterTask(Statement):
    name: QualifiedName
    action: AlterAction
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DropTask(Statement):
    name: QualifiedName
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class ShowTasks(Statement):
    """``SHOW [TERSE] TASKS [LIKE 'p'] [IN ACCOUNT | DATABASE [d] | SCHEMA [s]] [STARTS WITH 's']
    [ROOT ONLY] [LIMIT n [FROM 's']] [WHERE <condition>]``. ``in_scope`` is ("ACCOUNT" | "DATABASE" |
    "SCHEMA", name)."""

    terse: bool = False
    like: str | None = None
    in_scope: tuple[str, QualifiedName | None] | None = None
    starts_with: str | None = None
    root_only: bool = False
    limit: int | None = None
    from_name: str | None = None
    #: Databend's ``SHOW TASKS WHERE <condition>`` on the SHOW TASKS columns, verbatim (it comes last).
    where: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShowCreateTask(Statement):
    name: QualifiedName


@dataclass(frozen=True, kw_only=True)
class DescribeTask(Statement):
    name: QualifiedName


@dataclass(frozen=True, kw_only=True)
class ExecuteTask(Statement):
    """``EXECUTE TASK name [USING CONFIG = '<json>'] [RETRY LAST | RETRY GRAPH RUN GROUP '<id>' |
    FOR WINDOW '<from>' TO '<to>' [STEP '<interval>'] [FORCE]]``."""

    name: QualifiedName
    using_config: str | None = None
    retry_last: bool = False
    retry_group: str | None = None
    #: ``FOR WINDOW '<from>' TO '<to>' [STEP '<interval>'] [FORCE]``: a backfill.
    window: BackfillWindow | None = None


@dataclass(frozen=True, kw_only=True)
class CancelTask(Statement):
    """``CANCEL TASK name`` or ``CANCEL TASK 'name'`` (Ocient): cancel the task's in-flight runs."""

    name: QualifiedName


# --- ad-hoc statements in progress ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShowQueries(Statement):
    """``SHOW QUERIES``: the statements (scripts) in progress in this engine, with their ids."""


@dataclass(frozen=True, kw_only=True)
class CancelQuery(Statement):
    """``CANCEL QUERY '<id>'``: interrupt a statement in progress (SHOW QUERIES gives its id)."""

    query_id: str


# --- notification integrations -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateIntegration(Statement):
    definition: IntegrationDef
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class AlterIntegration(Statement):
    """``ALTER NOTIFICATION INTEGRATION [IF EXISTS] name SET ... | UNSET ...``.

    ``assignments`` use IntegrationDef field names, plus ``url``, ``method``,
    ``authorization_header`` and ``signing_secret`` for the webhook (``SET WEBHOOK = (...)`` becomes
    one assignment per field it names: a patch, as in Databend); ``unset`` lists names to clear.
    """

    name: str
    assignments: tuple[tuple[str, Any], ...] = ()
    unset: tuple[str, ...] = ()
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DropIntegration(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DescribeIntegration(Statement):
    name: str


@dataclass(frozen=True, kw_only=True)
class ShowIntegrations(Statement):
    like: str | None = None


# --- warehouses ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateWarehouse(Statement):
    definition: WarehouseDef
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class AlterWarehouse(Statement):
    """``ALTER WAREHOUSE [IF EXISTS] name SET MAX_CONCURRENCY = n | COMMENT = '...' | URL = '...'``."""

    name: str
    assignments: tuple[tuple[str, Any], ...] = ()
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DropWarehouse(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class ShowWarehouses(Statement):
    like: str | None = None


# --- secrets -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateSecret(Statement):
    """Snowflake's ``CREATE [OR REPLACE] SECRET [IF NOT EXISTS] name TYPE = GENERIC_STRING
    SECRET_STRING = '...' | ENV '...' | FILE '...' [COMMENT = '...']`` (:mod:`tasksql.model.secret`).
    ``name`` as written (the engine resolves it)."""

    name: QualifiedName
    secret_string: SecretString
    comment: str | None = None
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class AlterSecret(Statement):
    """``ALTER SECRET [IF EXISTS] name SET SECRET_STRING = ... [COMMENT = '...'] | UNSET COMMENT``;
    ``assignments`` hold ``secret_string`` (a :class:`SecretString`) and ``comment``."""

    name: QualifiedName
    assignments: tuple[tuple[str, Any], ...] = ()
    unset: tuple[str, ...] = ()
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DropSecret(Statement):
    name: QualifiedName
    if_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class DescribeSecret(Statement):
    name: QualifiedName


@dataclass(frozen=True, kw_only=True)
class ShowSecrets(Statement):
    like: str | None = None


# --- streams -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateStream(Statement):
    """Timeplus ``CREATE STREAM name (col type, ...)``: an append-only table in the default warehouse.

    ``columns`` keeps each type as written; ``on_table`` is set for the change-tracking form
    ``CREATE STREAM s ON TABLE t`` (Snowflake/Databend), with its options below
    (:mod:`tasksql.engine.streams`).
    """

    name: QualifiedName
    columns: tuple[tuple[str, str], ...] = ()
    on_table: QualifiedName | None = None
    or_replace: bool = False
    if_not_exists: bool = False
    append_only: bool = False
    show_initial_rows: bool = False
    comment: str | None = None
    #: The warehouse of the table (tasksql's ``WAREHOUSE = name``); None: the default warehouse.
    warehouse: str | None = None


@dataclass(frozen=True, kw_only=True)
class DropStream(Statement):
    name: str
    if_exists: bool = False
    warehouse: str | None = None


@dataclass(frozen=True, kw_only=True)
class DescribeStream(Statement):
    name: str
    warehouse: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShowStreams(Statement):
    like: str | None = None
    warehouse: str | None = None


# --- everything else -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Passthrough(Statement):
    """Any other statement: ``text`` goes verbatim to the default warehouse."""


TaskStatement: TypeAlias = CreateTask | CloneTask | AlterTask | DropTask | ExecuteTask | CancelTask
