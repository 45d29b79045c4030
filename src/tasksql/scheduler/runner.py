"""One attempt of one run: WHEN, body, timeout, cancellation; the outcome as data.

:func:`run_attempt` never raises for a failure of the task itself: a failed run is a
:class:`~tasksql.model.run.RunOutcome` with state FAILED and the error's code and message. Only
:class:`asyncio.CancelledError` propagates (after the outcome is recorded by the caller's
``finally``), so a shutdown can still cancel the coroutine.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import CoroutineType
from typing import Any, TypeVar

import pyarrow as pa

from tasksql.catalog.checks import StorageChecks
from tasksql.clock import Clock
from tasksql.display import decimal_text
from tasksql.errors import QueryCancelled, QueryTimeout, TasksqlError
from tasksql.model import (
    MAX_RETURN_VALUE_BYTES,
    MaintenanceBody,
    MaintenanceKind,
    RunState,
    SqlBody,
    TaskDef,
    effective_timeout_ms,
    effective_warehouse,
)
from tasksql.model.run import RunOutcome, RunRecord
from tasksql.model.security import RunAdmission
from tasksql.scheduler import maintenance
from tasksql.scheduler.body import PreparedBody, prepare, prepare_computed
from tasksql.scheduler.check_disk import Who, run_check_disk
from tasksql.scheduler.cross_into import local_name, run_into_other, target_of
from tasksql.scheduler.deps import IntrospectionFactory
from tasksql.scheduler.graph_facts import GraphFacts
from tasksql.scheduler.logical_time import LogicalTime, bind, mentions
from tasksql.scheduler.markers import MarkerBook
from tasksql.scheduler.rebuild import run_rebuild
from tasksql.scheduler.same_database import SameDatabase
from tasksql.scheduler.scripting import block_of, resolve
from tasksql.scheduler.system_wait import system_wait
from tasksql.sql.bodies import computed_script
from tasksql.sql.snowflake_params import applied
from tasksql.sysviews.rewrite import find_refs, restore_names, sql_literal
from tasksql.sysviews.tables import ScalarFn, materialize
from tasksql.warehouses import role_mapping
from tasksql.warehouses.base import CancelToken, Warehouse
from tasksql.warehouses.streams import bind_condition, bind_statements, may_bind

log = logging.getLogger("tasksql.runner")

#: A member of an enum read from its class costs several times a global's lookup on CPython 3.11 (its
#: metaclass defines ``__getattr__``, which slows every class attribute): once per run, a global.
_SUCCEEDED = RunState.SUCCEEDED

T = TypeVar("T")

#: Values :func:`_derived` keeps at most, about five per task version (a task version is one
#: definition object in the scheduler's cache while it is current).
_DERIVED_LIMIT = 32768
_derived_values: dict[tuple[int, str, str], tuple[TaskDef, object]] = {}


def _derived(task: TaskDef, what: str, variant: str, compute: Callable[..., T], *args: object) -> T:
    """``compute(*args)``, a pure function of the definition ``task`` (and ``variant``: a dialect or
    a warehouse type), computed once per definition object instead of at every run of it (``args``
    rather than a closure: nothing is built per run when the value is known).

    The scheduler hands every run of a task version the same :class:`TaskDef` object, so the body's
    preparation, its session parameters for the warehouse and its timeout are worked out once per
    version (and again after a change: a new version is a new object). The entry keeps the object
    it was computed for, so an id reused by another object is a miss, never a stale value.
    Exceptions are not kept: a definition that fails fails again at its next run, as before.
    """
    key = (id(task), what, variant)
    hit = _derived_values.get(key)
    if hit is not None and hit[0] is task:
        return hit[1]  # type: ignore[return-value]
    value = compute(*args)
    if len(_derived_values) >= _DERIVED_LIMIT:
        _derived_values.clear()
    _derived_values[key] = (task, value)
    return value


@dataclass(kw_only=True, slots=True)
class RunContext:
    """Everything one attempt needs. ``introspection`` builds the context for virtual relations
    (given the warehouse, for evaluating arguments); ``scalars`` are the body-only SYSTEM$ functions.
    With ``markers`` the body commits together with the run's completion marker where it can (see
    :mod:`tasksql.scheduler.markers`); with ``same_database`` as well, a body in the catalog's own
    database records its run's outcome in its transaction instead (``settled`` is then True; see
    :mod:`tasksql.scheduler.same_database`)."""

    run: RunRecord
    task: TaskDef
    warehouse: Warehouse
    clock: Clock
    token: CancelToken = field(default_factory=CancelToken)
    introspection: IntrospectionFactory | None = None
    predecessor_values: dict[str, str | None] = field(default_factory=dict)
    graph_config: str | None = None
    return_value: str | None = None
    started_at: datetime | None = None
    markers: MarkerBook | None = None
    same_database: SameDatabase | None = None
    #: The body's transaction recorded the run SUCCEEDED in the catalog: nothing to write again.
    settled: bool = False
    #: Opens a warehouse by name (:raises WarehouseNotFound:): for INTO another warehouse.
    warehouses: Callable[[str], Awaitable[Warehouse]] | None = None
    #: Computes the run's logical time (see :mod:`.logical_time`), asked only when the WHEN or the
    #: body names one of its variables; None: the variables stay as written.
    logical_time: Callable[[], Awaitable[LogicalTime]] | None = None
    _logical: LogicalTime | None = None
    #: Whether this run may start, asked before WHEN (security: the owner role's privileges);
    #: None: nothing to ask. A refusal makes the run SKIPPED (code PRIVILEGE_REVOKED) or FAILED
    #: (ROLE_NOT_MAPPED); an admission with a database role runs WHEN and body as that role.
    gate: Callable[[], Awaitable[RunAdmission | None]] | None = None
    #: Where a check_disk run keeps its results (and checks the catalog's own storage); None: the
    #: run checks with the warehouse's statements only (:mod:`.maintenance`).
    checks: StorageChecks | None = None
    #: The node running the attempt (a check_disk result names it).
    node_id: str = ""
    #: Computes the facts of the run's task graph SYSTEM$TASK_RUNTIME_INFO reports (its root, its
    #: last successful graph run; see :mod:`.graph_facts`), asked only when the body names one.
    graph_facts: Callable[[], Awaitable[GraphFacts]] | None = None
    _facts: GraphFacts | None = None
    #: When the attempt times out (the event loop's time), set as it starts.
    deadline: float | None = None
    #: The task is written in Databend's spelling: its script runs as Databend's does where the two
    #: differ (see :func:`tasksql.scheduler.scripting.resolve`).
    databend: bool = False

    async def facts(self) -> GraphFacts | None:
        """The run's graph facts, computed once; None when nothing computes them."""
        if self._facts is None and self.graph_facts is not None:
            self._facts = await self.graph_facts()
        return self._facts

    async def bind_time(self, text: str) -> str:
        """``text`` with the run's logical time variables replaced (see :mod:`.logical_time`)."""
        if self.logical_time is None or not mentions(text):
            return text
        if self._logical is None:
            self._logical = await self.logical_time()
        return bind(text, self.warehouse.dialect, self._logical)


# The body-only SYSTEM$ functions: plain functions of the run's context and literal arguments.


def _set_return_value(ctx: RunContext, args: list[object]) -> object:
    value = "" if not args or args[0] is None else str(args[0])
    if len(value.encode()) > MAX_RETURN_VALUE_BYTES:
        raise TasksqlError(
            f"SYSTEM$SET_RETURN_VALUE: the value has {len(value.encode())} bytes; at most "
            f"{MAX_RETURN_VALUE_BYTES} are allowed",
            code="RETURN_VALUE_TOO_LARGE",
        )
    ctx.return_value = value
    return value


def _get_predecessor_return_value(ctx: RunContext, args: list[object]) -> object:
    if args:
        key = str(args[0]).lower()
        for name, value in ctx.predecessor_values.items():
            if name == key or name.rsplit(".", 1)[-1] == key:
                return value
        return None
    # Without a name: the value of the task's one predecessor (Snowflake: the argument is optional
    # when there is only one); the values of the graph run are keyed by qualified and bare name.
    if len(ctx.task.after) == 1:
        return ctx.predecessor_values.get(str(ctx.task.after[0]))
    if not ctx.task.after:
        return None
    raise TasksqlError(
        "SYSTEM$GET_PREDECESSOR_RETURN_VALUE needs the predecessor's name when there are several",
        code="INVALID_ARGUMENT",
    )


def _get_task_graph_config(ctx: RunContext, args: list[object]) -> object:
    if ctx.graph_config is None:
        return None
    config = json.loads(ctx.graph_config)
    if not args:
        return ctx.graph_config
    value = config.get(str(args[0])) if isinstance(config, dict) else None
    return value if value is None or isinstance(value, str | int | float | bool) else json.dumps(value)


def _current_task_name(ctx: RunContext, args: list[object]) -> object:
    return ctx.run.name


#: SYSTEM$TASK_RUNTIME_INFO properties of the run itself; each computed only when asked for.
_RUNTIME_INFO: dict[str, Callable[[RunRecord], object]] = {
    "CURRENT_TASK_NAME": lambda run: run.name,
    "CURRENT_RUN_ID": lambda run: run.run_id,
    "CURRENT_ATTEMPT_NUMBER": lambda run: run.attempt_number,
    "CURRENT_TASK_SCHEDULED_TIME": lambda run: run.scheduled_time.isoformat(),
    "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": lambda run: run.scheduled_time.isoformat(),
    "CURRENT_TASK_GRAPH_RUN_GROUP_ID": lambda run: run.graph_run_group_id,
    "CURRENT_ROOT_TASK_ID": lambda run: run.root_task_id or run.task_id,
}
#: ... and of its task graph, read from the catalog (:mod:`.graph_facts`).
_GRAPH_INFO: dict[str, Callable[[GraphFacts], object]] = {
    "CURRENT_ROOT_TASK_NAME": lambda f: f.root_name,
    "CURRENT_ROOT_TASK_UUID": lambda f: str(f.root_id),
    "LAST_SUCCESSFUL_TASK_GRAPH_RUN_GROUP_ID": lambda f: f.last_success_group,
    "LAST_SUCCESSFUL_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": lambda f: (
        f.last_success_time.isoformat() if f.last_success_time is not None else None
    ),
}


#: Every property SYSTEM$TASK_RUNTIME_INFO knows (upper case), for the check at CREATE.
RUNTIME_INFO_PROPERTIES = frozenset([*_RUNTIME_INFO, *_GRAPH_INFO])


def _task_runtime_info(ctx: RunContext, args: list[object]) -> object:
    key = str(args[0]).upper() if args else ""
    prop = _RUNTIME_INFO.get(key)
    if prop is not None:
        return prop(ctx.run)  # the run's own: a plain value, no coroutine to create and await
    return _graph_runtime_info(ctx, key)


async def _graph_runtime_info(ctx: RunContext, key: str) -> object:
    graph_prop = _GRAPH_INFO.get(key)
    facts = await ctx.facts() if graph_prop is not None else None
    if graph_prop is None or facts is None:
        known = ", ".join(sorted([*_RUNTIME_INFO, *_GRAPH_INFO]))
        raise TasksqlError(
            f"SYSTEM$TASK_RUNTIME_INFO: unknown property {key!r}; known: {known}", code="INVALID_ARGUMENT"
        )
    return graph_prop(facts)


async def _system_wait(ctx: RunContext, args: list[object]) -> object:
    deadline = ctx.deadline
    return await system_wait(
        args,
        cancelled=lambda: (ctx.token.reason or "cancelled") if ctx.token.cancelled else None,
        remaining=None if deadline is None else lambda: _remaining(ctx, deadline),
    )


#: A body function's value, or an awaitable of it (those that read the catalog or wait).
_BODY_FUNCTIONS: dict[str, Callable[[RunContext, list[object]], object]] = {
    "system$set_return_value": _set_return_value,
    "system$get_predecessor_return_value": _get_predecessor_return_value,
    "system$get_task_graph_config": _get_task_graph_config,
    "system$current_user_task_name": _current_task_name,
    "system$task_runtime_info": _task_runtime_info,
    "system$wait": _system_wait,
}


#: The names of the functions only a task body (or its WHEN) may call.
BODY_FUNCTIONS = frozenset(_BODY_FUNCTIONS)


def _scalars(ctx: RunContext) -> dict[str, ScalarFn]:
    """The body functions bound to ``ctx``, as the awaitable scalars virtual relations take."""

    def bind(fn: Callable[[RunContext, list[object]], object]) -> ScalarFn:
        async def call(args: list[object]) -> object:
            return await _value_of(fn(ctx, args))

        return call

    return {name: bind(fn) for name, fn in _BODY_FUNCTIONS.items()}


async def _value_of(value: object) -> object:
    return await value if inspect.isawaitable(value) else value


async def _with_virtual(
    ctx: RunContext, text: str, run: Callable[[str, dict[str, pa.Table]], Awaitable[object]]
) -> object:
    rewritten = find_refs(text, ctx.warehouse.dialect)
    if not rewritten.refs or ctx.introspection is None:
        return await run(text, {})
    if all(
        r.kind == "scalar" and r.name in _BODY_FUNCTIONS and all(a.is_literal for a in r.args)
        for r in rewritten.refs
    ):
        # Only body functions with literal arguments (SYSTEM$TASK_RUNTIME_INFO('...')): no relation
        # to build and nothing to evaluate in the warehouse, so skip the introspection context.
        repl = {}
        for ref in rewritten.refs:
            value = _BODY_FUNCTIONS[ref.name](ctx, [a.literal for a in ref.args])
            if isinstance(value, CoroutineType):  # most are plain values: no coroutine to wrap them
                value = await value
            repl[ref.key] = sql_literal(value)
        return await run(rewritten.render(repl), {})
    tables, repl = await materialize(ctx.introspection(ctx.warehouse, _scalars(ctx)), rewritten)
    return await run(rewritten.render(repl), tables)


async def _scalar(
    ctx: RunContext, text: str, session_params: Sequence[tuple[str, str]], deadline: float
) -> object:
    """The value of the query ``text`` (its first row's first column; NULL when no row) on the
    run's warehouse, with the task's session parameters (and role)."""
    _, rows = await _query(ctx, text, session_params, deadline)
    return rows[0][0] if rows and rows[0] else None


async def _query(
    ctx: RunContext, text: str, session_params: Sequence[tuple[str, str]], deadline: float
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The columns and rows of the query ``text`` on the run's warehouse, with the task's session
    parameters (and role)."""

    async def run(sql: str, tables: dict[str, pa.Table]) -> object:
        result = await ctx.warehouse.run_body(
            [sql],
            transactional=False,
            session_params=session_params,
            tables=tables,
            timeout=_remaining(ctx, deadline),
            token=ctx.token,
        )
        return (result.last.columns, result.last.rows) if result.last is not None else ((), [])

    found = await _with_virtual(ctx, await ctx.bind_time(text), run)
    assert isinstance(found, tuple)
    return found


async def _statement(
    ctx: RunContext, text: str, session_params: Sequence[tuple[str, str]], deadline: float, as_role: bool
) -> object:
    """Run one SQL statement of a Snowflake Scripting block on its own (its streams bound and
    consumed in its transaction), as a body's statements are."""
    statements: list[str] = []
    tables: dict[str, pa.Table] = {}

    async def collect(t: str, tb: dict[str, pa.Table]) -> object:
        statements.append(t)
        tables.update(tb)
        return None

    await _with_virtual(ctx, await ctx.bind_time(text), collect)
    bound, consumes = await bind_statements(ctx.warehouse, statements, into=False)
    if as_role:
        role_mapping.refuse_role_changes(bound, ctx.task.session_params)
    return await ctx.warehouse.run_body(
        bound,
        transactional=consumes,
        session_params=session_params,
        tables=tables,
        timeout=_remaining(ctx, deadline),
        token=ctx.token,
    )


class _Version:
    """What every run of one task version (one definition object) on one type of warehouse
    needs, behind one :func:`_derived` lookup per run instead of one per part. Each part is worked
    out when a run first needs it, at the point it did before (a failure is not kept: the next
    run fails again)."""

    __slots__ = ("_computed", "_no_block", "_session", "maintenance", "task", "timeout_s")

    def __init__(self, task: TaskDef) -> None:
        self.task = task
        self.timeout_s = effective_timeout_ms(task) / 1000.0
        self.maintenance = isinstance(task.body, MaintenanceBody)
        self._session: tuple[tuple[str, str], ...] | None = None
        self._no_block: bool | None = None
        self._computed: list[tuple[str, int] | None] = []  # [] until known

    def session(self, wh: Warehouse) -> tuple[tuple[str, str], ...]:
        """Snowflake's session parameters as their equivalents on ``wh`` (of this version's type)."""
        if self._session is None:
            self._session = tuple(applied(self.task.session_params, wh.type))
        return self._session

    def no_block(self) -> bool:
        """The body is no Snowflake Scripting block (most are not)."""
        if self._no_block is None:
            self._no_block = block_of(self.task) is None
        return self._no_block

    def computed(self) -> tuple[str, int] | None:
        """Databend's EXECUTE IMMEDIATE <expression> of an SQL body, if it is one."""
        if not self._computed:
            body = self.task.body
            assert isinstance(body, SqlBody)
            self._computed.append(computed_script(body.text))
        return self._computed[0]


def _prepare(task: TaskDef, dialect: str) -> tuple[PreparedBody, bool]:
    """The body of ``task`` prepared for ``dialect``, and whether a statement of it may name a
    logical time variable (most name none: nothing to bind, known once per definition)."""
    prepared = prepare(task, dialect)
    return prepared, any(mentions(text) for text in prepared.statements)


def _remaining(ctx: RunContext, deadline: float) -> float:
    return max(0.001, deadline - asyncio.get_running_loop().time())


async def run_attempt(ctx: RunContext) -> RunOutcome:
    """Run WHEN and the body of ``ctx.task`` in ``ctx.warehouse``; return the outcome."""
    task, wh = ctx.task, ctx.warehouse
    loop = asyncio.get_running_loop()
    version = _derived(task, "version", wh.type, _Version, task)  # (the type is a str)
    timeout_s = version.timeout_s
    deadline = loop.time() + timeout_s
    ctx.deadline = deadline
    ctx.started_at = ctx.clock.now()
    try:
        admission = await ctx.gate() if ctx.gate is not None else None
        if admission is not None and admission.refused is not None:
            return _outcome(ctx, RunState(admission.state), code=admission.code, message=admission.refused)
        db_role = admission.database_role if admission is not None else None
        # Snowflake's session parameters as their equivalents on this warehouse (snowflake_params)
        session_params = version.session(wh)
        if db_role is not None:
            # the owner role's database rights: set last, so that no parameter of the task overrides it
            session_params = (*session_params, *role_mapping.role_params(wh.dialect, db_role))
        if task.when:

            async def evaluate(text: str, tables: dict[str, pa.Table]) -> object:
                if db_role is not None:
                    return await role_mapping.evaluate_as(
                        wh, db_role, text, tables=tables, timeout=_remaining(ctx, deadline), token=ctx.token
                    )
                return await wh.evaluate(
                    text, tables=tables, timeout=_remaining(ctx, deadline), token=ctx.token
                )

            when = await ctx.bind_time(task.when)
            if not await _with_virtual(ctx, await bind_condition(wh, when), evaluate):
                return _outcome(
                    ctx,
                    RunState.SKIPPED,
                    code="CONDITION_FALSE",
                    message=f"skipped: WHEN condition was false: {task.when}",
                )
        if (
            version.maintenance
            and ctx.checks is not None
            and isinstance(task.body, MaintenanceBody)
            and task.body.kind is MaintenanceKind.CHECK_DISK
        ):  # object by object, each result kept in the catalog
            who = Who(
                run_id=ctx.run.run_id, task_id=ctx.run.task_id, task_name=ctx.run.name, node_id=ctx.node_id
            )
            checked = await run_check_disk(
                task.body,
                wh,
                effective_warehouse(task),
                ctx.checks,
                who=who,
                clock=ctx.clock,
                token=ctx.token,
                remaining=lambda: _remaining(ctx, deadline),
            )
            return _outcome(ctx, RunState.SUCCEEDED, rows_produced=len(checked))
        if (
            version.maintenance
            and isinstance(task.body, MaintenanceBody)
            and task.body.kind is MaintenanceKind.REBUILD
        ):
            # object by object (nothing kept in the catalog: a fanned-out run shows its progress)
            rebuilt = await run_rebuild(
                task.body,
                wh,
                effective_warehouse(task),
                token=ctx.token,
                remaining=lambda: _remaining(ctx, deadline),
            )
            return _outcome(ctx, RunState.SUCCEEDED, rows_produced=len(rebuilt))
        # most bodies are no block: that is kept per definition (a block is parsed at each run, as
        # its steps are resolved in place)
        block = None if version.no_block() else block_of(task)
        if block is not None:  # Snowflake Scripting: see scheduler/scripting.py

            async def scalar(text: str) -> object:
                return await _scalar(ctx, text, session_params, deadline)

            async def query(text: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
                return await _query(ctx, text, session_params, deadline)

            async def execute(text: str) -> object:  # one statement, in a transaction of its own
                return await _statement(ctx, text, session_params, deadline, db_role is not None)

            def guard() -> None:
                if ctx.token.cancelled:
                    raise QueryCancelled(ctx.token.reason or "cancelled")
                if loop.time() >= deadline:
                    raise QueryTimeout(f"the block ran past its timeout of {decimal_text(timeout_s)} s")

            resolved = await resolve(
                block.steps,
                scalar,
                execute=execute if block.immediate else None,
                query=query,
                guard=guard,
                script=block.script,
                databend=ctx.databend,
            )
            if resolved.has_return:
                _set_return_value(ctx, [resolved.returned])
            if not resolved.statements:
                return _outcome(ctx, RunState.SUCCEEDED)
            prepared, timed = PreparedBody(resolved.statements, True), True
        elif isinstance(task.body, SqlBody) and (computed := version.computed()) is not None:
            # Databend's EXECUTE IMMEDIATE <expression>: the script is the expression's value now
            script = await _scalar(ctx, "SELECT " + computed[0], session_params, deadline)
            if not isinstance(script, str) or not script.strip():
                return _outcome(
                    ctx,
                    RunState.FAILED,
                    code="EMPTY_SCRIPT",
                    message=f"EXECUTE IMMEDIATE {computed[0]}: the expression gave no script ({script!r})",
                )
            prepared, timed = prepare_computed(task, script, wh.dialect), True
        else:
            prepared, timed = _derived(task, "prepared", wh.dialect, _prepare, task, wh.dialect)
        statements: list[str] = []
        tables: dict[str, pa.Table] = {}

        async def collect(t: str, tb: dict[str, pa.Table]) -> object:
            statements.append(t)
            tables.update(tb)
            return None

        for text in prepared.statements:
            await _with_virtual(ctx, await ctx.bind_time(text) if timed else text, collect)
        other = await target_of(task.into, wh, ctx.warehouses) if task.into is not None else None
        into = local_name(task.into, wh) if task.into is not None and other is None else None
        # streams the body reads: bound, and claimed in its transaction when it consumes them
        # (most bodies read none: asked first without a coroutine)
        consumes = False
        if may_bind(wh, statements):
            statements, consumes = await bind_statements(wh, statements, into=task.into is not None)
        if db_role is not None:
            role_mapping.refuse_role_changes(statements, task.session_params)
        if other is not None:
            # INTO another warehouse: two commits in two databases, no marker (at least once)
            crossed = await run_into_other(
                wh,
                other[0],
                other[1],
                statements,
                transactional=prepared.transactional or consumes,
                session_params=session_params,
                tables=tables,
                remaining=lambda: _remaining(ctx, deadline),
                token=ctx.token,
                # the same for every attempt of the run: a retry replaces what an attempt left
                run_key=f"{ctx.run.task_id}@{ctx.run.scheduled_time.isoformat()}",
                create=task.into_create,
            )
            return _outcome(
                ctx,
                RunState.SUCCEEDED,
                rows_produced=crossed.rows_produced,
                rows_inserted=crossed.rows_inserted,
            )
        book = ctx.markers if prepared.markable else None
        marker = book.marker(ctx.run.run_id) if book is not None else None
        if marker is not None and ctx.same_database is not None and ctx.same_database.may_settle(wh):
            marker = await ctx.same_database.marker(
                wh, marker, started=ctx.started_at, return_value=ctx.return_value
            )
        result = await wh.run_body(
            statements,
            transactional=prepared.transactional or consumes,
            into=into,
            session_params=session_params,
            tables=tables,
            timeout=_remaining(ctx, deadline),
            token=ctx.token,
            marker=marker,
        )
        if result.marked and book is not None:
            book.wrote(wh)
        ctx.settled = result.settled
        if version.maintenance and isinstance(task.body, MaintenanceBody) and result.last is not None:
            found = maintenance.check_problems(task.body, wh.dialect, result.last.rows)
            if found is not None:  # check_disk found damage: the run says so
                return _outcome(ctx, RunState.FAILED, code="CHECK_DISK_FAILED", message=found)
        return _outcome(
            ctx, _SUCCEEDED, rows_produced=result.rows_produced, rows_inserted=result.rows_inserted
        )
    except QueryTimeout as err:
        return _outcome(
            ctx,
            RunState.FAILED,
            code="TIMEOUT_EXCEEDED",
            message=f"task execution timed out after {decimal_text(timeout_s)} s: {err.message}",
        )
    except QueryCancelled as err:
        return _outcome(ctx, RunState.CANCELLED, code="CANCELLED", message=err.message)
    except TasksqlError as err:
        code = getattr(err, "sqlstate", None) or err.code
        # history speaks of system.tasks, task_history(...), not of their stand-in relations
        return _outcome(ctx, RunState.FAILED, code=code, message=restore_names(err.message))
    except asyncio.CancelledError:
        raise
    except Exception as err:  # a bug in a custom class or driver: still data, never a crash
        log.exception("run %s of %s failed unexpectedly", ctx.run.run_id, ctx.run.name)
        return _outcome(ctx, RunState.FAILED, code="INTERNAL_ERROR", message=f"{type(err).__name__}: {err}")


def _outcome(
    ctx: RunContext,
    state: RunState,
    *,
    code: str | None = None,
    message: str | None = None,
    rows_produced: int | None = None,
    rows_inserted: int | None = None,
) -> RunOutcome:
    return RunOutcome(
        run_id=ctx.run.run_id,
        state=state,
        query_start_time=ctx.started_at,
        completed_time=ctx.clock.now(),
        error_code=code,
        error_message=message,
        rows_produced=rows_produced,
        rows_inserted=rows_inserted,
        return_value=ctx.return_value,
    )
