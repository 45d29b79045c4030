"""Statements back to SQL.

:func:`render_task` prints a task definition as the canonical ``CREATE TASK`` (what
``SHOW CREATE TASK`` shows): Snowflake-style ``KEY = value`` properties, one per line, in the fixed
order of the property table, only those that are set; then VoltDB's ON ERROR / RUN ON / AS USER,
Timeplus' INTO, AFTER, WHEN, and the body last.

:func:`render` prints any statement so that ``parse_one(render(s)) == s``. For ``CREATE TASK`` that
includes the spelling the statement was written in, so a few clauses are printed the way that
spelling writes them (a Snowflake cron schedule stays ``'USING CRON ...'``, a Timeplus schedule
stays ``SCHEDULE 5s``); the definition is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from tasksql.model import (
    CronSchedule,
    CustomSchedule,
    DayNumbering,
    DelaySchedule,
    IntervalSchedule,
    QualifiedName,
    ScheduleSpec,
    Spelling,
    TaskDef,
    Webhook,
    quote_ident,
)
from tasksql.sql import statements as st
from tasksql.sql.names import name_from_string, quote_string, render_name, render_simple
from tasksql.sql.properties import CANONICAL, PROPERTIES
from tasksql.sql.render_secret import SECRET_RENDERERS
from tasksql.sql.render_security import SECURITY_RENDERERS
from tasksql.sql.render_values import (
    render_body,
    render_class,
    render_compact_interval,
    render_databend_interval,
    render_interval,
    render_json,
    render_schedule,
)

__all__ = ["render", "render_body", "render_interval", "render_task"]

_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TaskDef)}
_CLAUSE_FIELDS = tuple(p.field for p in PROPERTIES if p.canonical and p.equals == "none")


def _key(key: str) -> str:
    """A dotted key (tag, contact) as SQL."""
    return ".".join(quote_ident(p) for p in key.split("."))


def _pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    return "(" + ", ".join(f"{_key(k)} = {v}" for k, v in pairs) + ")"


def _schedule_clause(spec: ScheduleSpec, spelling: Spelling | None) -> str:
    """The schedule as the given spelling writes it (None: canonical)."""
    unix_cron = isinstance(spec, CronSchedule) and spec.day_numbering is DayNumbering.UNIX
    if spelling is Spelling.SNOWFLAKE:
        if isinstance(spec, CronSchedule) and unix_cron:
            return "SCHEDULE = " + quote_string(f"USING CRON {spec.expr} {spec.timezone}")
        if isinstance(spec, IntervalSchedule):
            return "SCHEDULE = " + quote_string(render_interval(spec.every_ms))
    if spelling is Spelling.DATABEND and isinstance(spec, IntervalSchedule):
        return "SCHEDULE = " + render_databend_interval(spec.every_ms)
    if spelling is Spelling.TIMEPLUS:
        if isinstance(spec, IntervalSchedule):
            return "SCHEDULE " + render_compact_interval(spec.every_ms)
        return "SCHEDULE " + render_schedule(spec)
    if spelling is Spelling.VOLTDB:
        if isinstance(spec, CronSchedule) and not unix_cron:
            return "ON SCHEDULE " + render_schedule(spec)  # a Databend cron: its own form
        return "ON SCHEDULE " + _voltdb_schedule(spec)
    return "SCHEDULE = " + render_schedule(spec)


def _voltdb_schedule(spec: ScheduleSpec) -> str:
    if isinstance(spec, IntervalSchedule):
        return "EVERY " + render_interval(spec.every_ms)
    if isinstance(spec, DelaySchedule):
        return "DELAY " + render_interval(spec.delay_ms)
    if isinstance(spec, CronSchedule):
        zone = "" if spec.timezone == "UTC" else " " + quote_string(spec.timezone)
        return f"CRON {quote_string(spec.expr)}{zone}"
    assert isinstance(spec, CustomSchedule)
    return "FROM CLASS " + render_class(spec.class_path, spec.args)


def task_clauses(task: TaskDef, spelling: Spelling | None = None, enabled: bool | None = None) -> list[str]:
    """The clauses of a task after its name, one per line, in canonical order."""
    lines: list[str] = []
    if task.tags:
        lines.append("WITH TAG " + _pairs(task.tags))
    if task.contacts:
        lines.append("WITH CONTACT " + _pairs(task.contacts))
    for prop in PROPERTIES:
        value = getattr(task, prop.field)
        if not prop.canonical or prop.equals == "none" or value == _DEFAULTS[prop.field]:
            continue
        if prop.field == "schedule":
            lines.append(_schedule_clause(value, spelling))
        elif prop.field == "timeout_ms" and spelling is Spelling.TIMEPLUS:
            lines.append("TIMEOUT " + render_compact_interval(value))
        elif prop.field == "warehouse" and spelling is Spelling.DATABEND:
            lines.append("WAREHOUSE = " + quote_string(value))  # Databend writes it as a string
        else:
            lines.append(prop.clause(value))
    lines.extend(f"{key.upper()} = {literal}" for key, literal in task.session_params)
    for field in _CLAUSE_FIELDS:
        value = getattr(task, field)
        if field == "into_create" and task.into is None:
            continue  # left by ALTER TASK ... UNSET INTO: it qualifies the INTO name only
        if value == _DEFAULTS[field]:
            continue
        if field == "run_as_user" and not _voltdb_as_user(task, spelling):
            lines.append("EXECUTE AS USER " + CANONICAL[field].render(value))
        else:
            lines.append(CANONICAL[field].clause(value))
    if enabled is not None:
        lines.append("ENABLE" if enabled else "DISABLE")
    if task.after:
        lines.append("AFTER " + ", ".join(_predecessor(n, spelling) for n in task.after))
    if task.when is not None:
        lines.append("WHEN " + task.when)
    lines.append(render_body(task.body))
    return lines


def _predecessor(name: QualifiedName, spelling: Spelling | None) -> str:
    """A name of ``AFTER``: a string in a statement written the Databend way (Databend's grammar
    names predecessors by strings, and the strings mark the statement as Databend's) when the
    string reads back as the same name (not a quoted name with capitals or dots); else as any name."""
    text = ".".join(part for part in (name.database, name.schema, name.name) if part is not None)
    if spelling is Spelling.DATABEND and name_from_string(text) == name:
        return quote_string(text)
    return render_name(name)


def _voltdb_as_user(task: TaskDef, spelling: Spelling | None) -> bool:
    """Whether the user a task runs as is printed VoltDB's way, ``AS USER`` (which marks the
    statement as VoltDB's), rather than Snowflake's ``EXECUTE AS USER``: for a statement written
    the VoltDB way, and in the canonical form when the task is VoltDB's anyway (its ON ERROR)."""
    if spelling is not None:
        return spelling is Spelling.VOLTDB
    return task.on_error is not None


def render_task(task: TaskDef) -> str:
    """The canonical ``CREATE TASK`` for a definition (``SHOW CREATE TASK``); it parses back to an
    equal definition."""
    if not task.name.name:
        return _layout("CREATE TASK", task_clauses(task), anonymous=True)
    return _layout("CREATE TASK " + render_name(task.name), task_clauses(task))


def _layout(head: str, clauses: list[str], *, anonymous: bool = False) -> str:
    """The head and every clause on its own line, indented; the body (last) unindented. A task
    without a name (Ocient ``CREATE TASK TYPE ...``) has its body right after ``CREATE TASK``."""
    *rest, body = clauses
    if anonymous:
        return "\n".join([f"{head} {body}", *("  " + c for c in rest)])
    return "\n".join([head, *("  " + c for c in rest), body])


def _create_head(kind: str, or_replace: bool, if_not_exists: bool, or_alter: bool = False) -> str:
    head = "CREATE"
    if or_replace:
        head += " OR REPLACE"
    if or_alter:
        head += " OR ALTER"
    head += f" {kind}"
    if if_not_exists:
        head += " IF NOT EXISTS"
    return head


def _create_task(s: st.CreateTask) -> str:
    head = _create_head("TASK", s.or_replace, s.if_not_exists, s.or_alter)
    clauses = task_clauses(s.definition, s.spelling, s.enabled)
    if not s.name_given:
        return _layout(head, clauses, anonymous=True)
    return _layout(f"{head} {render_name(s.definition.name)}", clauses)


def _clone_task(s: st.CloneTask) -> str:
    head = _create_head("TASK", s.or_replace, s.if_not_exists)
    return f"{head} {render_name(s.name)} CLONE {render_name(s.source)}"


def _set_clause(field: str, value: Any) -> str:
    if field == "run_as_user":  # only Snowflake's spelling may be SET
        return "EXECUTE AS USER " + CANONICAL[field].render(value)
    return CANONICAL[field].clause(value)


def _alter_action(a: st.AlterAction) -> str:
    if isinstance(a, st.Resume | st.Suspend):
        return a.spelling
    if isinstance(a, st.SetProperties):
        items = [_set_clause(f, v) for f, v in a.assignments]
        items += [f"{k.upper()} = {v}" for k, v in a.session_params]
        if a.tags:
            items.append("TAG " + _pairs(a.tags))
        if a.contacts:
            items.append("CONTACT " + _pairs(a.contacts))
        return "SET " + ", ".join(items)
    if isinstance(a, st.UnsetProperties):
        items = ["EXECUTE AS USER" if f == "run_as_user" else CANONICAL[f].key for f in a.fields]
        items += list(a.session_params)
        if a.tags:
            items.append("TAG (" + ", ".join(_key(t) for t in a.tags) + ")")
        if a.contacts:
            items.append("CONTACT (" + ", ".join(_key(c) for c in a.contacts) + ")")
        return "UNSET " + ", ".join(items)
    if isinstance(a, st.AddAfter | st.RemoveAfter):
        verb = "ADD" if isinstance(a, st.AddAfter) else "REMOVE"
        return f"{verb} AFTER " + ", ".join(render_name(n) for n in a.names)
    if isinstance(a, st.ModifyAs):
        return "MODIFY " + render_body(a.body)
    if isinstance(a, st.ModifyWhen):
        return "MODIFY WHEN " + a.condition
    if isinstance(a, st.RemoveWhen):
        return "REMOVE WHEN"
    if isinstance(a, st.SetFinalize):
        return "SET FINALIZE = " + render_name(a.root)
    if isinstance(a, st.UnsetFinalize):
        return "UNSET FINALIZE"
    return "ALTER ON ERROR " + a.policy.value


def _alter_task(s: st.AlterTask) -> str:
    action = s.action
    if isinstance(action, st.Resume | st.Suspend) and action.spelling.startswith("SYSTEM "):
        return f"{action.spelling} {render_name(s.name)}"
    exists = " IF EXISTS" if s.if_exists else ""
    return f"ALTER TASK{exists} {render_name(s.name)} {_alter_action(action)}"


def _show_tasks(s: st.ShowTasks) -> str:
    parts = ["SHOW TERSE TASKS" if s.terse else "SHOW TASKS"]
    if s.like is not None:
        parts.append("LIKE " + quote_string(s.like))
    if s.in_scope is not None:
        kind, scope = s.in_scope
        parts.append(f"IN {kind}" + (" " + render_name(scope) if scope is not None else ""))
    if s.starts_with is not None:
        parts.append("STARTS WITH " + quote_string(s.starts_with))
    if s.root_only:
        parts.append("ROOT ONLY")
    if s.limit is not None:
        parts.append(f"LIMIT {s.limit}")
        if s.from_name is not None:
            parts.append("FROM " + quote_string(s.from_name))
    if s.where is not None:
        parts.append("WHERE " + s.where)
    return " ".join(parts)


def _execute_task(s: st.ExecuteTask) -> str:
    text = f"EXECUTE TASK {render_name(s.name)}"
    if s.using_config is not None:
        text += " USING CONFIG = " + render_json(s.using_config)
    if s.retry_last:
        text += " RETRY LAST"
    elif s.retry_group is not None:
        text += " RETRY GRAPH RUN GROUP " + quote_string(s.retry_group)
    return text


def _webhook(w: Webhook) -> str:
    items = [f"url = {quote_string(w.url)}", f"method = {quote_string(w.method)}"]
    if w.authorization_header is not None:
        items.append(f"authorization_header = {quote_string(w.authorization_header)}")
    if w.signing_secret is not None:
        items.append(f"signing_secret = {quote_string(w.signing_secret)}")
    return "(" + ", ".join(items) + ")"


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Webhook):
        return _webhook(value)
    if isinstance(value, QualifiedName):  # WEBHOOK_SECRET
        return render_name(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "value"):  # WarehouseType
        return str(value.value)
    return quote_string(str(value))


def _create_integration(s: st.CreateIntegration) -> str:
    d = s.definition
    parts = [_create_head("NOTIFICATION INTEGRATION", s.or_replace, s.if_not_exists), render_simple(d.name)]
    parts += [f"TYPE = {d.type}", f"ENABLED = {_option_value(d.enabled)}"]
    if d.webhook is not None:
        parts.append("WEBHOOK = " + _webhook(d.webhook))
        if d.webhook.body_template is not None:
            parts.append("WEBHOOK_BODY_TEMPLATE = " + quote_string(d.webhook.body_template))
    if d.webhook_secret is not None:
        parts.append("WEBHOOK_SECRET = " + render_name(d.webhook_secret))
    if d.comment is not None:
        parts.append("COMMENT = " + quote_string(d.comment))
    return " ".join(parts)


def _alter_integration(s: st.AlterIntegration) -> str:
    exists = " IF EXISTS" if s.if_exists else ""
    head = f"ALTER NOTIFICATION INTEGRATION{exists} {render_simple(s.name)}"
    if s.assignments:
        return f"{head} SET " + " ".join(f"{k.upper()} = {_option_value(v)}" for k, v in s.assignments)
    return f"{head} UNSET " + ", ".join(k.upper() for k in s.unset)


def _create_warehouse(s: st.CreateWarehouse) -> str:
    d = s.definition
    parts = [_create_head("WAREHOUSE", s.or_replace, s.if_not_exists), render_simple(d.name)]
    parts.append(f"TYPE = {d.type.value}")
    if d.url is not None:
        parts.append("URL = " + quote_string(d.url))
    if d.max_concurrency is not None:
        parts.append(f"MAX_CONCURRENCY = {d.max_concurrency}")
    if d.comment is not None:
        parts.append("COMMENT = " + quote_string(d.comment))
    if d.role_mapping:
        parts.append("ROLE_MAPPING = " + _role_mapping(d.role_mapping))
    return " ".join(parts)


def _role_mapping(pairs: tuple[tuple[str, str], ...]) -> str:
    return "(" + ", ".join(f"{quote_string(a)} = {quote_string(b)}" for a, b in pairs) + ")"


def _alter_warehouse(s: st.AlterWarehouse) -> str:
    exists = " IF EXISTS" if s.if_exists else ""
    items = ", ".join(
        f"{k.upper()} = {_role_mapping(v) if k == 'role_mapping' else _option_value(v)}"
        for k, v in s.assignments
    )
    return f"ALTER WAREHOUSE{exists} {render_simple(s.name)} SET {items}"


def _create_stream(s: st.CreateStream) -> str:
    head = f"{_create_head('STREAM', s.or_replace, s.if_not_exists)} {render_name(s.name)}"
    if s.on_table is not None:
        out = f"{head} ON TABLE {render_name(s.on_table)}"
        if s.append_only:
            out += " APPEND_ONLY = TRUE"
        if s.show_initial_rows:
            out += " SHOW_INITIAL_ROWS = TRUE"
        if s.comment is not None:
            out += f" COMMENT = {quote_string(s.comment)}"
        if s.warehouse is not None:
            out += f" WAREHOUSE = {render_simple(s.warehouse)}"
        return out
    return f"{head} (" + ", ".join(f"{quote_ident(c)} {t}" for c, t in s.columns) + ")"


def _like(head: str, like: str | None) -> str:
    return head if like is None else f"{head} LIKE {quote_string(like)}"


def _in_warehouse(name: str | None) -> str:
    return "" if name is None else f" IN WAREHOUSE {render_simple(name)}"


def _exists(kind: str, name: str, if_exists: bool) -> str:
    return f"DROP {kind} IF EXISTS {name}" if if_exists else f"DROP {kind} {name}"


_RENDERERS: dict[type[st.Statement], Callable[[Any], str]] = {
    st.CreateTask: _create_task,
    st.CloneTask: _clone_task,
    st.AlterTask: _alter_task,
    st.DropTask: lambda s: _exists("TASK", render_name(s.name), s.if_exists),
    st.ShowTasks: _show_tasks,
    st.ShowCreateTask: lambda s: f"SHOW CREATE TASK {render_name(s.name)}",
    st.DescribeTask: lambda s: f"DESCRIBE TASK {render_name(s.name)}",
    st.ExecuteTask: _execute_task,
    st.CancelTask: lambda s: f"CANCEL TASK {render_name(s.name)}",
    st.ShowQueries: lambda s: "SHOW QUERIES",
    st.CancelQuery: lambda s: f"CANCEL QUERY {quote_string(s.query_id)}",
    st.CreateIntegration: _create_integration,
    st.AlterIntegration: _alter_integration,
    st.DropIntegration: lambda s: _exists("NOTIFICATION INTEGRATION", render_simple(s.name), s.if_exists),
    st.DescribeIntegration: lambda s: f"DESCRIBE NOTIFICATION INTEGRATION {render_simple(s.name)}",
    st.ShowIntegrations: lambda s: _like("SHOW NOTIFICATION INTEGRATIONS", s.like),
    st.CreateWarehouse: _create_warehouse,
    st.AlterWarehouse: _alter_warehouse,
    st.DropWarehouse: lambda s: _exists("WAREHOUSE", render_simple(s.name), s.if_exists),
    st.ShowWarehouses: lambda s: _like("SHOW WAREHOUSES", s.like),
    st.CreateStream: _create_stream,
    st.DropStream: lambda s: (
        _exists("STREAM", render_simple(s.name), s.if_exists) + _in_warehouse(s.warehouse)
    ),
    st.DescribeStream: lambda s: f"DESCRIBE STREAM {render_simple(s.name)}" + _in_warehouse(s.warehouse),
    st.ShowStreams: lambda s: _like("SHOW STREAMS", s.like) + _in_warehouse(s.warehouse),
    st.Passthrough: lambda s: s.text,
    **SECURITY_RENDERERS,
    **SECRET_RENDERERS,
}


def render(stmt: st.Statement) -> str:
    """Canonical SQL for any statement (without a trailing semicolon); ``parse_one`` reads it back
    to an equal statement.

    :raises TypeError: for an object that is not a statement.
    """
    renderer = _RENDERERS.get(type(stmt))
    if renderer is None:
        raise TypeError(f"cannot render {type(stmt).__name__}")
    return renderer(stmt)
