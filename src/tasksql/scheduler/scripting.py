"""Running a task body written in Snowflake Scripting (the subset :mod:`tasksql.sql.scripting`
reads): its variables' expressions are evaluated as ``SELECT <expr>`` on the task's warehouse, in
order, each with the variables set before it bound as literals; its SQL statements get their
``:<name>`` variables bound the same way and then run as a ``BEGIN ... END`` body's do, in one
transaction; ``RETURN <expr>`` ends the block and is the run's return value; of an ``IF``, the first branch
whose condition (evaluated as an expression is) holds runs.

The expressions and conditions are evaluated before the statements run (the statements run together, in one
transaction), so an expression after a statement must not read what the statement writes:
:func:`block_of` refuses such a block at CREATE (an expression holding a query after a statement).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from tasksql.model import SqlBody, TaskDef
from tasksql.sql.bodies import immediate_script
from tasksql.sql.scripting import ScriptingError, Step, is_scripting, parse_block, substitute, walk
from tasksql.sysviews.rewrite import sql_literal

_QUERY = re.compile(r"\bSELECT\b", re.I)


@dataclass(frozen=True, slots=True)
class Block:
    """A body's block: its steps, and the offset of its script in the body's text."""

    steps: tuple[Step, ...]
    offset: int


def block_of(task: TaskDef) -> Block | None:
    """The Snowflake Scripting block of ``task``'s body; None when the body is no such block.

    :raises ScriptingError: the block is malformed or uses what tasksql does not run (offset in
        the body's text).
    """
    body = task.body
    if not isinstance(body, SqlBody):
        return None
    immediate = immediate_script(body.text)
    script, at = immediate if immediate is not None else (body.text, 0)
    if not is_scripting(script):
        return None
    try:
        steps = parse_block(script)
    except ScriptingError as err:
        raise ScriptingError(err.message, at + err.offset) from None
    seen_sql = False
    for step in walk(steps):
        exprs = [cond for cond, _ in step.branches if cond is not None] if step.kind == "if" else [step.text]
        if step.kind == "sql":
            seen_sql = True
        elif seen_sql and any(_QUERY.search(e) for e in exprs):
            raise ScriptingError(
                "an expression after a SQL statement of the block may not hold a query (tasksql"
                " evaluates expressions before the statements run): set the variable before the statements",
                at + step.offset,
            )
    return Block(steps, at)


def literal(value: object) -> str:
    """A SQL literal for a value an expression gave."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return sql_literal(value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat())
    return sql_literal(value)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The statements to run (variables bound) and the value of RETURN (None: no RETURN ran)."""

    statements: tuple[str, ...]
    returned: object | None
    has_return: bool


async def resolve(steps: tuple[Step, ...], evaluate: Callable[[str], Awaitable[object]]) -> Resolved:
    """Evaluate ``steps`` in order with ``evaluate`` (runs ``SELECT <expr>``, returns its value);
    of an IF, the steps of the first branch whose condition is true (not NULL, not 0)."""
    values: dict[str, str] = {}
    statements: list[str] = []

    async def run(steps: tuple[Step, ...]) -> Resolved | None:
        for step in steps:
            if step.kind == "sql":
                statements.append(substitute(step.text, values, bare=False))
                continue
            if step.kind == "if":
                for cond, inner in step.branches:
                    if cond is None or await evaluate(f"SELECT {substitute(cond, values, bare=True)}"):
                        if (done := await run(inner)) is not None:
                            return done
                        break
                continue
            value = (
                await evaluate(f"SELECT {substitute(step.text, values, bare=True)}") if step.text else None
            )
            if step.kind == "return":
                return Resolved(tuple(statements), value, True)
            assert step.name is not None
            values[step.name] = literal(value)
        return None

    return await run(steps) or Resolved(tuple(statements), None, False)
