"""Turning a task body into the statements a warehouse runs.

- SQL (with Timeplus's ``table(<stream>)`` read as the stream's table): one statement, or a
  ``BEGIN ... END`` script whose statements run in one transaction (also
  as the script of ``EXECUTE IMMEDIATE $$ ... $$``, Snowflake's and Databend's spelling), unless the
  script begins and ends transactions itself (``BEGIN; ...; COMMIT;`` inside the block, as
  Databend's task tests write): then its statements run as written;
- VoltDB ``PROCEDURE p WITH (args)``: a call in the warehouse's dialect (DuckDB: a table macro
  ``SELECT * FROM p(args)``; PostgreSQL and MySQL: ``CALL p(args)``; SQLite has no procedures);
- Ocient maintenance types: the warehouse's own maintenance commands (see
  :mod:`tasksql.scheduler.maintenance`); ``rebuild`` has none: it lists what to rebuild as it goes
  (:mod:`tasksql.scheduler.rebuild`), and check_disk does so too when it has a catalog to keep
  results in.

Which bodies may commit with their run's completion marker (``markable``): SQL bodies and DuckDB
procedure calls (a table macro: a query, with INTO an insert); the warehouse still leaves out
statements that cannot run in a transaction. Not a PostgreSQL ``CALL`` (a procedure may commit
by itself, which a transaction around it forbids) nor maintenance commands (they mostly cannot run
in a transaction, and running one twice does no harm).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasksql.errors import NotSupportedError
from tasksql.model import ClassBody, MaintenanceBody, MaintenanceKind, ProcedureBody, SqlBody, TaskDef
from tasksql.scheduler import maintenance
from tasksql.sql import split
from tasksql.sql.bodies import body_statements, immediate_script
from tasksql.sql.merge_star import blank_update_star
from tasksql.sql.table_of_stream import unwrap_table_of_stream


@dataclass(frozen=True, slots=True)
class PreparedBody:
    statements: tuple[str, ...]
    transactional: bool
    #: The body's kind allows a completion marker in its transaction (see the module's docstring).
    markable: bool = True


_SCRIPT = re.compile(r"^\s*BEGIN\b(?P<inner>.*)\bEND\s*;?\s*$", re.S | re.I)


def script_statements(text: str) -> list[str]:
    """The statements inside ``BEGIN ... END``, or of the text itself when it is no such block."""
    m = _SCRIPT.match(text)
    inner = m.group("inner") if m else text
    return [piece.text for piece in split(inner)]


_TRANSACTION_WORDS = frozenset({"TRANSACTION", "WORK"})


def own_transactions(statements: list[str]) -> bool:
    """Whether a script's statements begin or end transactions of their own: ``BEGIN``, ``BEGIN
    TRANSACTION``, ``START TRANSACTION``, ``COMMIT``, ``ROLLBACK``, ``ABORT``, ``END [TRANSACTION]``
    (a nested ``BEGIN ... END`` block is none of these)."""
    for text in statements:
        words = text.upper().split(None, 2)
        if not words:
            continue
        head, nxt = words[0].rstrip(";"), words[1] if len(words) > 1 else None
        if head in ("COMMIT", "ROLLBACK", "ABORT") or (head == "START" and nxt == "TRANSACTION"):
            return True
        if head in ("BEGIN", "END") and (nxt is None or nxt in _TRANSACTION_WORDS):
            return True
    return False


#: The dialects whose warehouses run a ``PROCEDURE`` body (DuckDB as a table macro).
PROCEDURE_DIALECTS = frozenset({"duckdb", "postgres", "mysql"})


def procedure_refusal(body: ProcedureBody, dialect: str) -> NotSupportedError:
    """The error of a ``PROCEDURE`` body on a warehouse of ``dialect``, which has no stored
    procedures (one of those not in :data:`PROCEDURE_DIALECTS`)."""
    name = {"sqlite": "SQLite", "clickhouse": "ClickHouse"}.get(dialect, dialect)
    return NotSupportedError(
        f"PROCEDURE {body.procedure} calls a stored procedure, and {name} has no stored procedures:"
        " write the statements as the task's body instead (AS ... or BEGIN ... END)"
    )


def prepare_computed(task: TaskDef, script: str, dialect: str) -> PreparedBody:
    """The statements of ``script``, the value of the expression of a body ``EXECUTE IMMEDIATE
    <expression>`` computed for this run (:func:`tasksql.sql.bodies.computed_script`), prepared as
    the script of ``EXECUTE IMMEDIATE $$ ... $$`` is (a block or statements, run as a script).

    :raises TasksqlSyntaxError: when the script cannot be read (a string or block left open).
    """
    tag = "$script$"
    while tag in script:
        tag = "$" + tag.strip("$") + "_$"
    return prepare(task.with_changes(body=SqlBody(f"EXECUTE IMMEDIATE {tag}{script}{tag}")), dialect)


def prepare(task: TaskDef, dialect: str) -> PreparedBody:
    body = task.body
    if isinstance(body, SqlBody):
        immediate = immediate_script(body.text) is not None
        if immediate:  # EXECUTE IMMEDIATE $$ <script> $$: the script's statements, as a script
            statements = [text for text, _ in body_statements(body.text)]
        else:
            statements = script_statements(body.text) if body.is_script else [body.text]
        # Timeplus's table(<stream>): the stream is a table here; Databend's MERGE ... UPDATE * is
        # DuckDB's UPDATE (see the modules they come from)
        statements = [blank_update_star(unwrap_table_of_stream(text), dialect) for text in statements]
        if (body.is_script or immediate) and own_transactions(statements):
            # its own BEGIN / COMMIT (Databend's task tests write them in a script block): the
            # statements run as written, each transaction the script's, none around them
            return PreparedBody(tuple(statements), False, markable=False)
        transactional = body.is_script or immediate or task.into is not None or len(statements) > 1
        return PreparedBody(tuple(statements), transactional)
    if isinstance(body, ProcedureBody):
        args = ", ".join(body.args)
        if dialect == "duckdb":
            return PreparedBody((f"SELECT * FROM {body.procedure}({args})",), task.into is not None)
        if dialect in ("postgres", "mysql"):
            return PreparedBody((f"CALL {body.procedure}({args})",), False, markable=False)
        raise procedure_refusal(body, dialect)
    if isinstance(body, MaintenanceBody):
        statements_m = maintenance.statements(body, dialect)
        if body.kind is MaintenanceKind.REBUILD:
            raise NotSupportedError("TYPE rebuild has no fixed statements: it finds what to rebuild")
        if statements_m is None:
            raise NotSupportedError(f"TYPE {body.kind.value} is not supported on {dialect} warehouses")
        return PreparedBody(statements_m, False, markable=False)
    if isinstance(body, ClassBody):
        raise NotSupportedError("FROM CLASS action generators run through the Python action API")
    raise NotSupportedError(f"unknown body {type(body).__name__}")
