"""A task's SQL body is checked against its warehouse's grammar at CREATE and ALTER, as Databend
checks task SQL when the task is created: a statement the warehouse cannot parse is a syntax error
at its line and column, not a failure at the first run.

Each statement the body runs (one statement, the statements of a ``BEGIN ... END`` block, or of the
script of ``EXECUTE IMMEDIATE $$ ... $$``) is given to the warehouse's own parser where tasksql has
it (:mod:`tasksql.warehouses.syntax` says which, and what each decides). Names are never looked up:
tables may be created after the task. What tasksql itself rewrites before a run is not judged by
the warehouse's grammar: a statement that names a tasksql view or function (``system.*``,
``SYSTEM$...``, a stream's metadata columns, ...) is left to the run, and logical-time variables
(``:scheduled_time``, ...) are bound to literals first. When the warehouse cannot be found, or its
type is one tasksql does not parse (ClickHouse, chdb), nothing is checked here; nor is a body in
Snowflake Scripting (``DECLARE``, ``IF ... END IF``, ``FOR ... END FOR``, ``LET``, ``:=``,
``RETURN``, a block nested in the block), which no warehouse grammar describes.

A ``PROCEDURE`` body on a warehouse without stored procedures (SQLite, ClickHouse, chdb) is refused
here too (:func:`check_procedure_body`), with the message its run would give; so is a ``SYSTEM$``
function the body or WHEN calls that tasksql does not have (:func:`check_system_functions`), on any
warehouse: it would fail every run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tasksql.engine.core import Engine
from tasksql.engine.function_args import argument_error
from tasksql.engine.function_names import CLOUD_ONLY_FUNCTIONS, STATEMENT_FUNCTIONS
from tasksql.engine.nested_tasks import NestedSyntaxError
from tasksql.engine.nested_tasks import expand as expand_nested
from tasksql.engine.script_checks import check_script_semantics
from tasksql.errors import Span, TasksqlError, TasksqlSyntaxError, ValidationError
from tasksql.model import ProcedureBody, SqlBody, TaskDef, WarehouseType, effective_warehouse
from tasksql.scheduler import logical_time
from tasksql.scheduler.body import PROCEDURE_DIALECTS, procedure_refusal
from tasksql.scheduler.runner import BODY_FUNCTIONS
from tasksql.scheduler.scripting import block_of, checked_texts
from tasksql.sql import statements as st
from tasksql.sql.bodies import body_statements, computed_script
from tasksql.sql.merge_star import blank_update_star
from tasksql.sql.scripting import ScriptingError
from tasksql.sql.table_of_stream import unwrap_table_of_stream
from tasksql.sysviews.rewrite import find_refs
from tasksql.warehouses.syntax import CHECKED_DIALECTS, find_syntax_error

#: Snowflake Scripting in a body (declarations, control flow, variables, a block inside the
#: block): tasksql does not parse it, and no warehouse grammar describes it, so such a body is not
#: checked here.
_PROCEDURAL = re.compile(
    r"^\s*DECLARE\b|\bEND\s+(?:IF|FOR|LOOP|WHILE|CASE|REPEAT)\b|\bLET\s+\w+\s*(?::=|:?\s*\w+\s*:=)"
    r"|:=|\bRETURN\b|\bEXCEPTION\s+WHEN\b|^\s*BEGIN\b.*;\s*BEGIN\b",
    re.I | re.S,
)
_SHOWN = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}
_SOME_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
_DUMMY_TIME = logical_time.LogicalTime(_SOME_INSTANT, _SOME_INSTANT, _SOME_INSTANT, _SOME_INSTANT)


async def check_procedure_body(engine: Engine, task: TaskDef, stmt: st.Statement) -> None:
    """Refuse a ``PROCEDURE`` body on a warehouse that has no stored procedures (SQLite,
    ClickHouse, chdb) with the error its run would give; nothing is checked when the warehouse
    cannot be found (the run tells).

    :raises NotSupportedError: the run's message, with the statement's span.
    """
    body = task.body
    if not isinstance(body, ProcedureBody):
        return
    warehouse = await engine.catalog.get_warehouse(effective_warehouse(task))
    if warehouse is None:
        return
    dialect = "clickhouse" if warehouse.type is WarehouseType.CHDB else warehouse.type.value
    if dialect not in PROCEDURE_DIALECTS:
        err = procedure_refusal(body, dialect)
        err.span = stmt.span
        raise err


async def check_body_syntax(engine: Engine, task: TaskDef, stmt: st.Statement) -> None:
    """Refuse ``task``'s SQL body when its warehouse's parser finds a syntax error in it.

    :raises TasksqlSyntaxError: code ``BODY_SYNTAX_ERROR``, naming the parser, with the span of the
        offending token in ``stmt`` (the body's span when the position is not known).
    """
    body = task.body
    if not isinstance(body, SqlBody):
        return
    try:
        block = block_of(task)
    except ScriptingError as err:  # malformed, or more of Snowflake Scripting than tasksql runs
        raise TasksqlSyntaxError(
            f"the task body's Snowflake Scripting block: {err.message}",
            code="BODY_SYNTAX_ERROR",
            span=_span_in_body(stmt, body.text, err.offset),
        ) from None
    check_script_semantics(task, stmt)  # a jump out of no loop, a variable never declared
    warehouse = await engine.catalog.get_warehouse(effective_warehouse(task))
    if warehouse is None or warehouse.type.value not in CHECKED_DIALECTS:
        return
    dialect = warehouse.type.value
    computed = computed_script(body.text)
    if computed is not None:  # Databend's EXECUTE IMMEDIATE <expression>: the run computes the
        # script; here the expression is checked, as the SELECT the run evaluates it with
        statements = [("SELECT " + computed[0], computed[1] - len("SELECT "))]
    elif block is not None:  # its statements, queries and expressions (as SELECT), variables as 0
        statements = checked_texts(block)
    elif _PROCEDURAL.search(body.text):
        return  # Snowflake Scripting tasksql does not read: not SQL of the warehouse's grammar
    else:
        try:
            statements = body_statements(body.text)
        except TasksqlError:
            return  # the parser of the task statement reports what cannot be read
    try:  # task statements in the body (Databend's nested task DDL): tasksql's grammar, not the warehouse's
        statements = expand_nested(statements, _PROCEDURAL)
    except NestedSyntaxError as err:
        raise TasksqlSyntaxError(
            f"a task statement in the task body: {err.error.message}",
            code="BODY_SYNTAX_ERROR",
            expected=err.error.expected,
            span=_span_in_body(stmt, body.text, err.offset),
        ) from None
    for raw, offset in statements:
        text = blank_update_star(unwrap_table_of_stream(raw), dialect)  # as the run reads it (same offsets)
        if not text or find_refs(text, dialect).refs:
            continue  # rewritten by tasksql before it runs: the run tells
        bound = text
        if logical_time.mentions(text):
            bound = logical_time.bind(text, dialect, _DUMMY_TIME)
        finding = find_syntax_error(dialect, bound)
        if finding is None:
            continue
        at = offset + (finding.offset if bound is text else 0)
        raise TasksqlSyntaxError(
            f"the task body is not valid {_SHOWN.get(dialect, dialect)} SQL for warehouse {warehouse.name}"
            f" ({finding.parser}'s parser): {finding.message}{_stage_hint(text)}",
            code="BODY_SYNTAX_ERROR",
            span=_span_in_body(stmt, body.text, at),
        )


#: Snowflake's and Databend's COPY INTO <table | @stage>: loading from and unloading to stages.
_COPY_INTO = re.compile(r"\s*COPY\s+INTO\b", re.I)


def _stage_hint(text: str) -> str:
    """What to write instead of a refused ``COPY INTO`` (Databend's and Snowflake's stage loading,
    which no tasksql warehouse has); "" for any other statement."""
    if not _COPY_INTO.match(text):
        return ""
    return (
        "; COPY INTO <table | @stage> loads from or unloads to stages, which tasksql's warehouses do"
        " not have: read and write files with the warehouse's own SQL (DuckDB: INSERT INTO t SELECT *"
        " FROM read_parquet('<path>'), COPY (<query>) TO '<path>' (FORMAT parquet))"
    )


#: The SYSTEM$ functions a body or WHEN may call (SYSTEM$STREAM_HAS_DATA is bound with the streams).
_KNOWN_FUNCTIONS = BODY_FUNCTIONS | STATEMENT_FUNCTIONS | {"system$stream_has_data"}


def check_system_functions(task: TaskDef, stmt: st.Statement) -> None:
    """Refuse a body or WHEN that calls a ``SYSTEM$`` function tasksql does not have (every run
    would fail), naming what to write instead for Snowflake's cloud-only ones, or calls one it has
    with arguments every run would refuse (:mod:`tasksql.engine.function_args`).

    :raises ValidationError: code ``UNKNOWN_FUNCTION`` at the function's name, or
        ``INVALID_ARGUMENT`` at the argument at fault (the function's name for too few).
    """
    texts = [("when", task.when)] if task.when is not None else []
    if isinstance(task.body, SqlBody):
        texts.append(("body", task.body.text))
    for key, text in texts:
        try:
            refs = find_refs(text).refs
        except ValidationError:
            continue  # system.<table> unknown here: the run judges it, with the warehouse's dialect
        for ref in refs:
            name = ref.name
            wrong = argument_error(ref) if ref.kind == "scalar" else None
            if wrong is not None:
                message, arg = wrong
                at = text.find(arg.text, text.find("(", ref.start)) if arg is not None else -1
                if at < 0:
                    at = max(text.find("$", ref.start) - len("system"), ref.start)
                raise ValidationError(
                    message, code="INVALID_ARGUMENT", span=_span_in_body(stmt, text, at, key)
                )
            if ref.kind != "scalar" or not name.startswith("system$") or name in _KNOWN_FUNCTIONS:
                continue
            advice = CLOUD_ONLY_FUNCTIONS.get(name)
            if advice is None:
                known = ", ".join(sorted(n.upper() for n in _KNOWN_FUNCTIONS if n.startswith("system$")))
                advice = f"the SYSTEM$ functions tasksql has are {known}"
            at = text.find("$", ref.start) - len("system")
            raise ValidationError(
                f"{name.upper()} is not a function tasksql has: {advice}",
                code="UNKNOWN_FUNCTION",
                span=_span_in_body(stmt, text, max(at, ref.start), key),
            )


def _span_in_body(stmt: st.Statement, body_text: str, at: int, key: str = "body") -> Span | None:
    """The span at offset ``at`` of the body's text (or of the part ``key``), in the source
    ``stmt`` came from."""
    body_span = stmt.spans.get(key)
    if body_span is None or not stmt.text:
        return body_span or stmt.span
    rel = body_span.start - stmt.span.start
    found = stmt.text.find(body_text, max(0, rel))
    if found < 0:
        return body_span
    inside = Span.at(stmt.text, found + at, found + at + 1)
    line = stmt.span.line + inside.line - 1
    column = inside.column if inside.line > 1 else stmt.span.column + inside.column - 1
    start = stmt.span.start + inside.start
    return Span(line, column, start, start + 1)
