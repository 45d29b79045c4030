"""CREATE, CLONE, ALTER and DROP TASK: pure catalog changes, validated against the catalog.

Every handler reads what it needs, builds the new definitions and states, checks them (graph rules,
referenced warehouses and integrations), and writes everything in one catalog call, so a statement
either changes the catalog completely or not at all.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tasksql import schedules
from tasksql.catalog.base import TaskUpdate
from tasksql.engine.body_check import check_body_syntax, check_procedure_body, check_system_functions
from tasksql.engine.core import Engine
from tasksql.engine.into_target import check_into
from tasksql.engine.pins import check_pin, pin_notices
from tasksql.engine.privileges import new_task_owner
from tasksql.engine.results import Result
from tasksql.engine.session_check import check_session_params, check_unset_names
from tasksql.errors import (
    GraphError,
    IntegrationNotFound,
    ObjectExists,
    Span,
    TaskNotFound,
    TasksqlError,
    ValidationError,
    WarehouseNotFound,
)
from tasksql.model import (
    ClassBody,
    CustomSchedule,
    MaintenanceBody,
    OnError,
    QualifiedName,
    Spelling,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_warehouse,
)
from tasksql.model.joins import is_graph_child, joins_graphs
from tasksql.model.trigger import triggered
from tasksql.schedules.custom import ClassNotLoaded, class_problem
from tasksql.sql import statements as st
from tasksql.sysviews.liveness import no_scheduler_notice, scheduler_live
from tasksql.taskgraph import validate_change

_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TaskDef)}


# --- helpers -------------------------------------------------------------------------------------


def next_fire_at(task: TaskDef, *, anchor: datetime, now: datetime) -> datetime | None:
    """When a started task with this definition first fires after ``now``; None when it has no schedule
    of its own (no SCHEDULE, or a child or finalizer of a graph). A triggered task (no SCHEDULE, a
    WHEN on its stream) has its streams checked first at ``now``, and so has a task whose custom
    schedule class cannot be loaded yet (the scheduler tries it again, see scheduler/triggers.py)."""
    if triggered(task) or joins_graphs(task):
        return now  # its streams (or its predecessors' runs) are checked first at once
    if task.schedule is None or task.after or task.finalize is not None:
        return None
    try:
        return schedules.build(task.schedule, anchor=anchor, dst_policy=task.dst_policy).next_fire(now)
    except ClassNotLoaded:
        return now


def class_notices(task: TaskDef, shown: str) -> tuple[str, ...]:
    """A notice when the class a task names (custom schedule, action generator) cannot be loaded
    now: the task is kept (VoltDB users paste statements naming their Java classes)."""
    spec, body = task.schedule, task.body
    if isinstance(spec, CustomSchedule):
        problem = class_problem(spec.class_path)
        if problem is not None:
            return (
                f"task {shown} cannot be scheduled yet: {problem}. It is kept, and scheduled once a Python "
                f"class {spec.class_path} can be imported (tried every 10 seconds and at each change)",
            )
    if isinstance(body, ClassBody):
        problem = class_problem(body.class_path)
        if problem is not None:
            return (f"task {shown} names a class that cannot be loaded: {problem}. It is kept",)
    return ()


def initial_state(spelling: Spelling, enabled: bool | None) -> tuple[TaskState, SuspendReason | None]:
    """Creation defaults by spelling: Snowflake/Databend suspended; Timeplus, VoltDB (unless DISABLE)
    and Ocient started."""
    if enabled is False:
        return TaskState.SUSPENDED, SuspendReason.USER
    if enabled is True or spelling in (Spelling.TIMEPLUS, Spelling.VOLTDB, Spelling.OCIENT):
        return TaskState.STARTED, None
    return TaskState.SUSPENDED, SuspendReason.CREATED


def resolve_definition(engine: Engine, task: TaskDef) -> TaskDef:
    """Fill in database and schema of the task's own name; predecessors and finalizer roots resolve
    relative to the task's namespace (a graph lives in one schema)."""
    name = engine.resolve(task.name)
    db, schema = name.database or "", name.schema or ""
    return task.with_changes(
        name=name,
        after=tuple(p.resolved(db, schema) for p in task.after),
        finalize=task.finalize.resolved(db, schema) if task.finalize else None,
    )


def _span(stmt: st.Statement, key: str) -> Span | None:
    return stmt.spans.get(key) or stmt.span


async def get_task_or_raise(engine: Engine, name: QualifiedName, stmt: st.Statement) -> TaskRecord:
    rec = await engine.catalog.get_task(engine.resolve(name))
    if rec is None:
        raise TaskNotFound(
            f"task {engine.display_name(engine.resolve(name))} does not exist",
            span=_span(stmt, "name"),
        )
    return rec


async def _live_definitions(engine: Engine) -> dict[QualifiedName, TaskDef]:
    return {rec.name: rec.definition for rec in await engine.catalog.list_tasks()}


async def check_references(
    engine: Engine, task: TaskDef, stmt: st.Statement, spelling: Spelling | None = None
) -> tuple[str, ...]:
    """Referenced warehouse and integrations must exist; the notices to return.

    A task written the Databend way names its ERROR_INTEGRATION by a string that Databend stores
    without looking it up (its task tests name ``'notification_2'``, which exists nowhere): there
    a missing integration is accepted with a notice, and no notification is queued for it until
    it is created. Its warehouse must exist, as Databend's own task service requires ("warehouse
    missing_wh not exists").
    """
    if task.warehouse is not None and await engine.catalog.get_warehouse(task.warehouse) is None:
        raise WarehouseNotFound(f"warehouse {task.warehouse} does not exist", span=_span(stmt, "warehouse"))
    notices: list[str] = []
    for key in ("error_integration", "success_integration"):
        name = getattr(task, key)
        if name is not None and await engine.catalog.get_integration(name) is None:
            if spelling is not Spelling.DATABEND:
                raise IntegrationNotFound(
                    f"notification integration {name} does not exist", span=_span(stmt, key)
                )
            notices.append(
                f"notification integration {name} does not exist yet: the task's notifications to it are"
                " not sent until it is created"
            )
    return tuple(notices)


def check_graph(
    engine: Engine, tasks: dict[QualifiedName, TaskDef], task: TaskDef, stmt: st.Statement
) -> None:
    """Graph rules for ``task`` within ``tasks`` (which already holds the change), with spans."""
    for i, pred in enumerate(task.after):
        if pred == task.name:
            raise ValidationError(
                f"task {engine.display_name(pred)} cannot run after itself",
                code="SELF_DEPENDENCY",
                span=_span(stmt, f"after.{i}"),
            )
        if pred not in tasks:
            raise TaskNotFound(
                f"predecessor task {engine.display_name(pred)} does not exist", span=_span(stmt, f"after.{i}")
            )
    if task.finalize is not None and task.finalize not in tasks:
        raise TaskNotFound(
            f"FINALIZE names task {engine.display_name(task.finalize)}, which does not exist",
            span=_span(stmt, "finalize"),
        )
    try:
        validate_change(tasks, task.name)
    except GraphError as err:
        key = "finalize" if err.code in ("FINALIZER_NOT_ROOT", "DUPLICATE_FINALIZER") else "after.0"
        err.span = err.span or _span(stmt, key)
        raise


def _status(text: str, kind: str) -> Result:
    return Result.status(text, kind)


def with_notices(result: Result, notices: tuple[str, ...]) -> Result:
    """``result`` carrying ``notices`` (warnings about a statement that succeeded)."""
    return dataclasses.replace(result, notices=result.notices + notices) if notices else result


async def _scheduler_notices(engine: Engine, shown: str) -> tuple[str, ...]:
    """A notice when task ``shown`` was left started but no scheduler is live to run it."""
    if await scheduler_live(engine.catalog, engine.now(), in_process=engine.scheduler is not None):
        return ()
    return (no_scheduler_notice(shown),)


# --- CREATE TASK ---------------------------------------------------------------------------------


async def _fresh_name(engine: Engine, task: TaskDef) -> QualifiedName:
    base = task.body.kind.value if isinstance(task.body, MaintenanceBody) else "task"
    taken = {rec.name.name for rec in await engine.catalog.list_tasks()}
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return QualifiedName(f"{base}_{n}")


async def create_task(engine: Engine, stmt: st.CreateTask) -> Result:
    now = engine.now()
    task = stmt.definition
    if not stmt.name_given:
        task = task.with_changes(name=await _fresh_name(engine, task))
    task = resolve_definition(engine, task)
    shown = engine.display_name(task.name)
    plain = not (stmt.if_not_exists or stmt.or_replace or stmt.or_alter)
    # a plain CREATE needs no read first: the catalog refuses a taken name in the same transaction
    existing = None if plain else await engine.catalog.get_task(task.name)
    if existing is not None:
        if stmt.if_not_exists:
            return _status(f"{shown} already exists, statement succeeded.", "CREATE TASK")
        if not (stmt.or_replace or stmt.or_alter):
            raise ObjectExists(
                f"task {shown} already exists; use CREATE OR REPLACE TASK or CREATE TASK IF NOT EXISTS",
                code="TASK_EXISTS",
                span=_span(stmt, "name"),
            )
    referenced = await check_references(engine, task, stmt, stmt.spelling)
    await check_procedure_body(engine, task, stmt)
    check_system_functions(task, stmt)
    await check_body_syntax(engine, task, stmt)
    notices = await check_session_params(engine, task, stmt)
    check_pin(task, shown, _span(stmt, "node"))
    notices += await check_into(engine, task, stmt)
    notices += referenced + class_notices(task, shown)
    notices += await pin_notices(
        engine.catalog,
        task,
        existing.definition if existing else None,
        shown,
        cluster=engine.settings.shared_catalog,
    )
    if task.after or task.finalize is not None or existing is not None:
        # a new task with no predecessors and no finalizer root cannot break any graph rule
        tasks = await _live_definitions(engine)
        tasks[task.name] = task
        check_graph(engine, tasks, task, stmt)
    if existing is not None and stmt.or_alter:
        result = await _alter_definition(engine, existing, task, now, "CREATE TASK")
        return with_notices(result, notices)
    state, reason = initial_state(stmt.spelling, stmt.enabled)
    fire = next_fire_at(task, anchor=now, now=now) if state is TaskState.STARTED else None
    try:
        record = await engine.catalog.create_task(
            task,
            spelling=stmt.spelling,
            state=state,
            suspend_reason=reason,
            owner=await new_task_owner(engine),
            now=now,
            next_fire_at=fire,
            replace=existing is not None,
            actor=engine.user.name,
        )
    except ObjectExists as err:
        raise ObjectExists(
            f"task {shown} already exists; use CREATE OR REPLACE TASK or CREATE TASK IF NOT EXISTS",
            code="TASK_EXISTS",
            span=_span(stmt, "name"),
        ) from err
    if stmt.spelling is Spelling.OCIENT and state is TaskState.STARTED and task.schedule is None:
        await engine_run_now(engine, record)
    if state is TaskState.STARTED:
        notices += await _scheduler_notices(engine, shown)
    return with_notices(_status(f"Task {shown} successfully created.", "CREATE TASK"), notices)


async def engine_run_now(engine: Engine, record: TaskRecord) -> None:
    """Start one run of a task now (Ocient one-shot tasks), through the scheduler when there is one."""
    if engine.scheduler is not None:
        await engine.scheduler.execute_now(record)


async def clone_task(engine: Engine, stmt: st.CloneTask) -> Result:
    now = engine.now()
    source = await get_task_or_raise(engine, stmt.source, stmt)
    name = engine.resolve(stmt.name)
    task = source.definition.with_changes(name=name)
    shown = engine.display_name(name)
    existing = await engine.catalog.get_task(name)
    if existing is not None:
        if stmt.if_not_exists:
            return _status(f"{shown} already exists, statement succeeded.", "CREATE TASK")
        if not stmt.or_replace:
            raise ObjectExists(f"task {shown} already exists", code="TASK_EXISTS", span=_span(stmt, "name"))
    tasks = await _live_definitions(engine)
    tasks[name] = task
    check_graph(engine, tasks, task, stmt)
    await engine.catalog.create_task(
        task,
        spelling=source.spelling,
        state=TaskState.SUSPENDED,
        suspend_reason=SuspendReason.CREATED,
        owner=await new_task_owner(engine),
        now=now,
        next_fire_at=None,
        replace=existing is not None,
        actor=engine.user.name,
    )
    return _status(f"Task {shown} successfully created.", "CREATE TASK")


# --- ALTER TASK ----------------------------------------------------------------------------------


async def _alter_definition(
    engine: Engine, rec: TaskRecord, new: TaskDef, now: datetime, kind: str
) -> Result:
    """Store a new definition version; a started task's next instant is recomputed when its schedule
    (or its place in a graph) changed."""
    fire = rec.next_fire_at
    if rec.state is TaskState.STARTED and (
        new.schedule != rec.definition.schedule
        or new.after != rec.definition.after
        or new.finalize != rec.definition.finalize
        or new.dst_policy != rec.definition.dst_policy
    ):
        fire = next_fire_at(new, anchor=now, now=now)
    update = TaskUpdate(task_id=rec.id, expected_version=rec.version, definition=new, next_fire_at=fire)
    await engine.catalog.update_tasks([update], now=now, actor=engine.user.name)
    verb = "altered" if kind == "ALTER TASK" else "created"
    return _status(f"Task {engine.display_name(rec.name)} successfully {verb}.", kind)


def _apply_pairs(
    old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    merged = dict(old)
    merged.update(new)
    return tuple(merged.items())


def _apply_action(
    task: TaskDef, action: st.AlterAction, engine: Engine, spelling: Spelling | None = None
) -> TaskDef:
    """The definition after a definition-changing ALTER action (not RESUME/SUSPEND). ``spelling``
    is the task's: ADD AFTER on a Databend task giving it several predecessors reads them the
    Databend way (see :mod:`tasksql.model.joins`)."""
    db, schema = task.name.database or "", task.name.schema or ""
    if isinstance(action, st.SetProperties):
        changes = dict(action.assignments)
        return task.with_changes(
            **changes,
            session_params=_apply_pairs(task.session_params, action.session_params),
            tags=_apply_pairs(task.tags, action.tags),
            contacts=_apply_pairs(task.contacts, action.contacts),
        )
    if isinstance(action, st.UnsetProperties):
        changes = {name: _FIELD_DEFAULTS[name] for name in action.fields}
        drop_params = set(action.session_params)
        drop_tags = set(action.tags)
        drop_contacts = set(action.contacts)
        return task.with_changes(
            **changes,
            session_params=tuple(p for p in task.session_params if p[0] not in drop_params),
            tags=tuple(t for t in task.tags if t[0] not in drop_tags),
            contacts=tuple(c for c in task.contacts if c[0] not in drop_contacts),
        )
    if isinstance(action, st.AddAfter):
        added = tuple(n.resolved(db, schema) for n in action.names)
        after = task.after + tuple(n for n in added if n not in task.after)
        if spelling is Spelling.DATABEND and len(after) > 1:
            return task.with_changes(after=after, after_any_graph=True)  # Databend's AFTER
        return task.with_changes(after=after)
    if isinstance(action, st.RemoveAfter):
        removed = {n.resolved(db, schema) for n in action.names}
        return task.with_changes(after=tuple(n for n in task.after if n not in removed))
    if isinstance(action, st.ModifyAs):
        return task.with_changes(body=action.body)
    if isinstance(action, st.ModifyWhen):
        return task.with_changes(when=action.condition)
    if isinstance(action, st.RemoveWhen):
        return task.with_changes(when=None)
    if isinstance(action, st.SetFinalize):
        return task.with_changes(finalize=action.root.resolved(db, schema))
    if isinstance(action, st.UnsetFinalize):
        return task.with_changes(finalize=None)
    if isinstance(action, st.AlterOnError):
        return task.with_changes(on_error=action.policy)
    raise TasksqlError(f"unhandled ALTER TASK action {type(action).__name__}")


async def alter_task(engine: Engine, stmt: st.AlterTask) -> Result:
    now = engine.now()
    rec = await engine.catalog.get_task(engine.resolve(stmt.name))
    if rec is None:
        if stmt.if_exists:
            return _status("Statement executed successfully.", "ALTER TASK")
        await get_task_or_raise(engine, stmt.name, stmt)
        raise AssertionError("unreachable")
    shown = engine.display_name(rec.name)
    action = stmt.action
    if isinstance(action, st.Resume):
        return await resume_task(engine, rec, now)
    if isinstance(action, st.Suspend):
        if rec.state is not TaskState.SUSPENDED or rec.suspend_reason is not SuspendReason.USER:
            update = TaskUpdate(
                task_id=rec.id,
                expected_version=rec.version,
                state=TaskState.SUSPENDED,
                suspend_reason=SuspendReason.USER,
                next_fire_at=None,
            )
            await engine.catalog.update_tasks([update], now=now, actor=engine.user.name)
        return _status(f"Task {shown} is suspended.", "ALTER TASK")
    if isinstance(action, st.UnsetProperties):
        check_unset_names(rec.definition, action.session_params, stmt, shown)
    new = _apply_action(rec.definition, action, engine, rec.spelling)
    if isinstance(action, st.AddAfter) and new.schedule is not None:
        raise GraphError(
            f"task {shown} has a SCHEDULE; unset it before adding predecessors (a child task runs after "
            "its predecessors, not on a schedule)",
            code="CHILD_WITH_SCHEDULE",
            span=stmt.span,
        )
    if new == rec.definition:
        return _status("Statement executed successfully.", "ALTER TASK")
    notices: tuple[str, ...] = ()
    if isinstance(action, st.SetProperties | st.UnsetProperties | st.AddAfter | st.SetFinalize):
        notices = await check_references(engine, new, stmt, rec.spelling)
        tasks = await _live_definitions(engine)
        tasks[new.name] = new
        check_graph(engine, tasks, new, stmt)
        old = rec.definition
        if new.into != old.into or effective_warehouse(new) != effective_warehouse(old):
            notices += await check_into(engine, new, stmt)
    if new.schedule is not None:
        schedules.check(new.schedule, new.dst_policy)
    if new.body != rec.definition.body or effective_warehouse(new) != effective_warehouse(rec.definition):
        await check_procedure_body(engine, new, stmt)
        await check_body_syntax(engine, new, stmt)
    if new.body != rec.definition.body or new.when != rec.definition.when:
        check_system_functions(new, stmt)
    if new.session_params != rec.definition.session_params or effective_warehouse(new) != effective_warehouse(
        rec.definition
    ):
        notices += await check_session_params(engine, new, stmt)
    check_pin(new, shown, _span(stmt, "node"))
    notices += await pin_notices(
        engine.catalog, new, rec.definition, shown, cluster=engine.settings.shared_catalog
    )
    return with_notices(await _alter_definition(engine, rec, new, now, "ALTER TASK"), notices)


async def resume_task(engine: Engine, rec: TaskRecord, now: datetime) -> Result:
    """Start a task's schedule, anchored at ``now`` (Snowflake: the interval base resets on resume)."""
    shown = engine.display_name(rec.name)
    if rec.state is TaskState.STARTED:
        return _status(f"Task {shown} is already started.", "ALTER TASK")
    update = TaskUpdate(
        task_id=rec.id,
        expected_version=rec.version,
        state=TaskState.STARTED,
        suspend_reason=None,
        resumed_on=now,
        next_fire_at=next_fire_at(rec.definition, anchor=now, now=now),
    )
    await engine.catalog.update_tasks([update], now=now, actor=engine.user.name)
    return with_notices(
        _status(f"Task {shown} is started.", "ALTER TASK"), await _scheduler_notices(engine, shown)
    )


# --- DROP TASK -----------------------------------------------------------------------------------


async def drop_task(engine: Engine, stmt: st.DropTask) -> Result:
    now = engine.now()
    rec = await engine.catalog.get_task(engine.resolve(stmt.name))
    if rec is None:
        if stmt.if_exists:
            return _status("Statement executed successfully.", "DROP TASK")
        await get_task_or_raise(engine, stmt.name, stmt)
        raise AssertionError("unreachable")
    updates = [TaskUpdate(task_id=rec.id, expected_version=rec.version, drop=True)]
    orphans: list[str] = []
    for other in await engine.catalog.list_tasks():
        task = other.definition
        if other.id == rec.id or (rec.name not in task.after and task.finalize != rec.name):
            continue
        new = task.with_changes(
            after=tuple(p for p in task.after if p != rec.name),
            finalize=None if task.finalize == rec.name else task.finalize,
        )
        became_root = is_graph_child(task) and not is_graph_child(new)
        if became_root:
            orphans.append(engine.display_name(other.name))
        updates.append(
            TaskUpdate(
                task_id=other.id,
                expected_version=other.version,
                definition=new,
                state=TaskState.SUSPENDED if became_root else other.state,
                suspend_reason=SuspendReason.PREDECESSOR_DROPPED if became_root else other.suspend_reason,
                next_fire_at=None if became_root else other.next_fire_at,
            )
        )
    await engine.catalog.update_tasks(updates, now=now, actor=engine.user.name)
    if engine.scheduler is not None:
        engine.scheduler.notify_change()
    text = f"{engine.display_name(rec.name)} successfully dropped."
    if orphans:
        text += f" {', '.join(orphans)} became root task(s) and were suspended."
    return _status(text, "DROP TASK")


_ = OnError  # re-exported for type users of _apply_action
