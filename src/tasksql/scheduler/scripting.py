"""Running a task body written in Snowflake Scripting (what :mod:`tasksql.sql.scripting` describes):
its expressions and conditions are evaluated as ``SELECT <expr>`` on the task's warehouse, in
order, each with the variables set before it bound as literals; its SQL statements get their
``:<name>`` variables bound the same way; ``RETURN <expr>`` ends the block and is the run's return
value; of an ``IF`` or ``CASE``, the first branch that matches runs; a loop repeats its steps until
its condition says otherwise or a ``BREAK`` (or ``RETURN``) leaves it.

Two ways to run the SQL statements (:attr:`Block.immediate`):

- deferred (a block with no ``EXCEPTION`` section and no ``RAISE`` whose expressions do not read
  after a statement): the expressions are evaluated first, the statements collected, and then
  run together in one transaction, as a ``BEGIN ... END`` body's do;
- immediate (a block with an ``EXCEPTION`` section or a ``RAISE``, an ``EXECUTE IMMEDIATE`` of a
  literal script, or an expression holding a query after a SQL statement, as a WHILE reading a
  table its loop writes): each statement runs when it is reached, in a transaction of its own,
  as Snowflake's statements commit one by one, so a handler can catch its failure and a later
  expression sees what it wrote.

Every run is bounded: the loops of one run make at most :data:`MAX_ITERATIONS` iterations, and
each iteration checks the run's cancellation and timeout (:func:`resolve`'s ``guard``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, NoReturn

from tasksql.errors import QueryCancelled, QueryTimeout, TasksqlError
from tasksql.model import SqlBody, TaskDef
from tasksql.sql.bodies import immediate_script
from tasksql.sql.scripting import (
    BUILT_IN_VARIABLES,
    EXECUTE_IMMEDIATE,
    LOOPS,
    ROW_COUNT_VARIABLES,
    Handler,
    Nested,
    ScriptingError,
    Step,
    expressions,
    is_scripting,
    string_literal,
    substitute,
    walk,
)
from tasksql.sql.scripting_parse import is_script, parse_block, parse_script
from tasksql.sysviews.rewrite import sql_literal

_QUERY = re.compile(r"\bSELECT\b", re.I)

#: A query's columns and rows.
Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]
#: Runs a query on the task's warehouse: its columns and rows.
Query = Callable[[str], Awaitable[Rows]]

#: The iterations all the loops of one run may make together; one more fails the run
#: (LOOP_LIMIT_EXCEEDED), as a loop whose condition never ends it would otherwise run until the
#: task's timeout.
MAX_ITERATIONS = 100_000


@dataclass(frozen=True, slots=True)
class Block:
    """A body's block: its steps, the offset of its script in the body's text, the script, and
    whether its statements run as they are reached (see the module's docstring). Of the script of
    an ``EXECUTE IMMEDIATE`` literal in a block (:meth:`nested`), ``outer`` is that block and
    ``place`` the literal; positions are found in the body's text through them (:meth:`at`)."""

    steps: tuple[Step, ...]
    offset: int
    script: str = ""
    immediate: bool = False
    outer: Block | None = None
    place: Nested | None = None

    def at(self, offset: int) -> int:
        """The offset in the body's text of the character at ``offset`` of :attr:`script`."""
        if self.place is not None:
            offset = self.place.at(offset)
        return self.offset + offset if self.outer is None else self.outer.at(offset)

    def nested(self, script: Nested) -> Block:
        """The block of the script of an ``EXECUTE IMMEDIATE`` literal of this block."""
        return Block(script.steps, 0, script.text, self.immediate, self, script)


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
    # of EXECUTE IMMEDIATE '<script>', each quote of the script is a doubled one of the body's text
    quoted = at > 0 and body.text[at - 1] == "'"
    place = Nested(script, (), at, tuple(i for i, c in enumerate(script) if c == "'")) if quoted else None
    try:
        steps = parse_block(script)
    except ScriptingError as err:
        raise ScriptingError(err.message, place.at(err.offset) if place else at + err.offset) from None
    one_by_one = (
        _reads_after_sql(steps, False)[0]
        or _has_handlers(steps)
        or _reads_cursors(steps)
        or ROW_COUNT_VARIABLES.search(script) is not None
        or any(step.script is not None for step in walk(steps))  # a literal's script: one by one
    )
    return Block(steps, 0, script, one_by_one, place=place) if place else Block(steps, at, script, one_by_one)


def checked_texts(block: Block) -> list[tuple[str, int]]:
    """What the warehouse's parser checks of ``block`` at CREATE, each with its offset in the
    body: its SQL statements and queries (of cursors, result sets, RETURN TABLE), and its
    expressions and conditions as the ``SELECT <expr>`` they are evaluated with (the offset
    placed so that a position in the expression falls where it is written). Each variable
    stands in as ``0``, padded to the length of its name, so positions hold; a query with ``?``
    (bound by OPEN ... USING) is left to the run."""
    steps = list(walk(block.steps))
    named = {n for s in steps if s.name and s.kind not in ("break", "continue") for n in s.name.split(",")}
    named |= BUILT_IN_VARIABLES
    colon = {name: "0".ljust(len(name) + 1) for name in named}
    bare = {name: "0".ljust(len(name)) for name in named}

    def zeroed(text: str) -> str:
        return substitute(substitute(text, colon, bare=False), bare, bare=True)

    found: list[tuple[str, int]] = []
    for step in steps:
        at = block.at(step.offset)
        if step.script is not None:  # a script of its own: its statements, at their places
            found.extend(checked_texts(block.nested(step.script)))
            continue
        if step.kind == "sql":
            found.append((substitute(step.text, colon, bare=False), at))
            continue
        queries = [step.text] if step.kind in ("cursor", "resultset") else []
        queries += [step.end] if step.kind == "return" and step.end else []
        queries += [step.text] if step.kind == "each" and " " in step.text.strip() else []
        for query in queries:
            where = block.script.find(query, step.offset)
            if (
                where >= 0
                and "?" not in query
                and not EXECUTE_IMMEDIATE.match(query)
                and " " in query.strip()
            ):
                found.append((substitute(query, colon, bare=False), block.at(where)))
        if step.kind in ("cursor", "resultset"):
            continue
        for expr in expressions(step):
            if step.kind == "execute" and (content := string_literal(expr.strip())) is not None:
                literal_text = expr.strip()
                where = block.script.find(literal_text, step.offset)
                lead = literal_text.index("$", 1) + 1 if literal_text[0] == "$" else 1
                if (
                    where >= 0 and ";" not in content and "''" not in literal_text
                ):  # one statement, as written
                    found.append((content, block.at(where + lead)))
                continue
            where = block.script.find(expr, step.offset)
            if where >= 0 and expr:
                found.append(("SELECT " + zeroed(expr), block.at(where) - len("SELECT ")))
    return found


def _has_handlers(steps: tuple[Step, ...]) -> bool:
    """Whether a step is an EXCEPTION section's block or a RAISE (the statements before an
    uncaught exception are kept, as Snowflake's are)."""
    return any(step.kind == "raise" or (step.kind == "block" and step.handlers) for step in walk(steps))


def _reads_cursors(steps: tuple[Step, ...]) -> bool:
    """Whether a cursor's query (run when it is opened or looped over) and a SQL statement are in
    the block: the query may read what the statement writes."""
    kinds = {step.kind for step in walk(steps)}
    return "sql" in kinds and bool(kinds & {"open", "each"})


def _reads_after_sql(steps: tuple[Step, ...], seen_sql: bool) -> tuple[bool, bool]:
    """Whether an expression of ``steps`` holding a query is evaluated after a SQL statement (an
    earlier one, or one of the same loop's); and whether a SQL statement was seen by the end."""
    for step in steps:
        own = any(_QUERY.search(e) for e in expressions(step))
        inner_sql = any(s.kind == "sql" for s in _all(step))
        if own and (seen_sql or (step.kind in LOOPS and inner_sql)):
            return True, True
        for _, branch in step.branches:
            if _reads_after_sql(branch, seen_sql)[0]:
                return True, True
        if step.body and _reads_after_sql(step.body, seen_sql or (step.kind in LOOPS and inner_sql))[0]:
            return True, True
        for handler in step.handlers:
            if _reads_after_sql(handler.steps, True)[0]:
                return True, True
        seen_sql = seen_sql or step.kind == "sql" or inner_sql
    return False, seen_sql


def _all(step: Step) -> list[Step]:
    return list(walk((step,)))[1:]


def literal(value: object) -> str:
    """A SQL literal for a value an expression gave (a negative number in parentheses: bound
    after a minus, ``1-:x``, it must not make a comment)."""
    if isinstance(value, Decimal):
        return f"({value})" if value < 0 else str(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return f"({sql_literal(value)})"
    if isinstance(value, datetime | date | time):
        return sql_literal(value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat())
    return sql_literal(value)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The statements to run (variables bound; none when they ran as they were reached) and the
    value of RETURN (``has_return``: a RETURN ran)."""

    statements: tuple[str, ...]
    returned: object | None
    has_return: bool


class Raised(Exception):
    """A Snowflake Scripting exception on its way to a handler: ``name`` is the declared
    exception's (lower-case) or ``statement_error`` / ``expression_error``; ``cause`` the
    warehouse's error for those two."""

    def __init__(
        self, name: str, number: int, message: str, state: str, offset: int, cause: TasksqlError | None = None
    ) -> None:
        super().__init__(message)
        self.name, self.number, self.message, self.state = name, number, message, state
        self.offset, self.cause = offset, cause


class _Jump(Exception):
    def __init__(self, kind: str, label: str | None) -> None:
        super().__init__(kind)
        self.kind, self.label = kind, label


class _Return(Exception):
    def __init__(self, value: object, *, table: bool = False) -> None:
        super().__init__("return")
        self.value, self.table = value, table


#: The values of SQLCODE and SQLSTATE for a failed statement or expression whose warehouse gave no
#: SQLSTATE (tasksql has no Snowflake error numbers).
FAILED_SQLCODE = -1
FAILED_SQLSTATE = "XX000"
_PASSED = (QueryTimeout, QueryCancelled)


async def resolve(
    steps: tuple[Step, ...],
    evaluate: Callable[[str], Awaitable[object]],
    *,
    execute: Callable[[str], Awaitable[object]] | None = None,
    query: Query | None = None,
    guard: Callable[[], None] = lambda: None,
    script: str = "",
    databend: bool = False,
) -> Resolved:
    """Run ``steps``: expressions with ``evaluate`` (runs ``SELECT <expr>``, returns its value),
    SQL statements with ``execute`` when given (immediate), else collected (deferred); the
    queries of cursors and result sets with ``query`` (their columns and rows). ``guard``
    raises when the run must stop (cancelled, timed out); ``script`` is the block's text (an
    uncaught exception's line and position). With ``databend`` (a task written in Databend's
    spelling), a FOR loop whose start is past its end is an error, as Databend's is (its
    15_0001_execute_immediate.test: ``FOR x IN 1 TO -1`` fails; Snowflake runs no iteration).

    :raises TasksqlError: a statement's or expression's error no handler caught, an uncaught
        declared exception (code its number), ``LOOP_LIMIT_EXCEEDED``.
    """
    run = _Interpreter(evaluate, execute, guard)
    run.query = query
    run.databend = databend
    try:
        await run.steps(steps)
    except _Return as done:
        # RETURN; RETURN NULL and RETURN TABLE(...) leave the run's return value unset (NULL)
        return Resolved(tuple(run.statements), done.value, not done.table and done.value is not None)
    except Raised as exc:
        raise _uncaught(exc, script) from None
    return Resolved(tuple(run.statements), None, False)


def _uncaught(exc: Raised, script: str) -> TasksqlError:
    """The run's error for ``exc``, which no handler of the script ``script`` caught."""
    if exc.cause is not None:
        return exc.cause
    line = script.count("\n", 0, exc.offset) + 1
    position = exc.offset - (script.rfind("\n", 0, exc.offset) + 1)
    tail = f" : {exc.message}" if exc.message else ""
    return TasksqlError(
        f"{exc.number} ({exc.state}): Uncaught exception of type '{exc.name.upper()}' on line {line}"
        f" at position {position}{tail}",
        code=str(exc.number),
    )


class _Interpreter:
    def __init__(
        self,
        evaluate: Callable[[str], Awaitable[object]],
        execute: Callable[[str], Awaitable[object]] | None,
        guard: Callable[[], None],
    ) -> None:
        self._evaluate, self._execute, self._guard = evaluate, execute, guard
        # before any statement ran, SQLROWCOUNT, SQLFOUND and SQLNOTFOUND are NULL
        self.values: dict[str, str] = dict.fromkeys(("sqlrowcount", "sqlfound", "sqlnotfound"), "NULL")
        self.statements: list[str] = []
        self.iterations = 0
        self.handling: list[Raised] = []
        self.blocks: list[tuple[Handler, ...]] = []  # the handlers of the blocks running, outermost first
        self.query: Query | None = None
        self.cursors: dict[str, str] = {}  # name -> its query, or the RESULTSET it is for
        self.results: dict[str, Rows] = {}  # RESULTSET name -> its rows
        self.opened: dict[str, tuple[Rows, list[int]]] = {}  # cursor -> rows, next row's index
        self.databend = False  # FOR <i> IN <start> TO <end> with start > end: an error

    async def value(self, expr: str, offset: int) -> object:
        try:
            return await self._evaluate(f"SELECT {substitute(expr, self.values, bare=True)}")
        except _PASSED:
            raise
        except TasksqlError as err:
            state = getattr(err, "sqlstate", None) or FAILED_SQLSTATE
            raise Raised("expression_error", FAILED_SQLCODE, err.message, state, offset, err) from None

    async def holds(self, cond: str, offset: int) -> bool:
        return bool(await self.value(cond, offset))

    async def tick(self) -> None:
        """One more iteration: within the bound, the run neither cancelled nor timed out; every
        256th gives the event loop a turn (a loop of statements only collected never waits)."""
        self.iterations += 1
        if self.iterations % 256 == 0:
            await asyncio.sleep(0)
        if self.iterations > MAX_ITERATIONS:
            raise TasksqlError(
                f"the block's loops made {MAX_ITERATIONS} iterations, the most one run may make:"
                " a loop's condition or BREAK never ended it",
                code="LOOP_LIMIT_EXCEEDED",
            )
        self._guard()

    async def steps(self, steps: tuple[Step, ...]) -> None:
        """Run ``steps``; an exception a CONTINUE handler catches is handled where it is raised,
        and the next step runs (one in a condition of an IF, CASE or loop: after that statement)."""
        for step in steps:
            try:
                await self.step(step)
            except Raised as exc:
                found = self.handler_for(exc)
                if found is None or not found[1].resume:
                    raise
                await self.handle(exc, found[0], found[1])

    def handler_for(self, exc: Raised) -> tuple[int, Handler] | None:
        """The first WHEN naming ``exc`` of the innermost running block that has one, and that
        block's depth."""
        for depth in range(len(self.blocks) - 1, -1, -1):
            for handler in self.blocks[depth]:
                if exc.name in handler.names or "other" in handler.names:
                    return depth, handler
        return None

    async def handle(self, exc: Raised, depth: int, handler: Handler) -> None:
        """Run ``handler`` for ``exc`` with SQLCODE, SQLERRM and SQLSTATE set; an exception it
        raises goes to the blocks around the one at ``depth``."""
        saved = {k: self.values.get(k) for k in ("sqlcode", "sqlerrm", "sqlstate")}
        self.values.update(
            sqlcode=str(exc.number), sqlerrm=sql_literal(exc.message), sqlstate=sql_literal(exc.state)
        )
        self.handling.append(exc)
        blocks, self.blocks = self.blocks, self.blocks[:depth]
        try:
            await self.steps(handler.steps)
        finally:
            self.blocks = blocks
            self.handling.pop()
            for k, v in saved.items():
                if v is None:
                    self.values.pop(k, None)
                else:
                    self.values[k] = v

    async def step(self, step: Step) -> None:
        kind = step.kind
        if kind in ("sql", "execute"):
            if step.script is not None:
                await self.nested(step.script.steps, step.script.text, step.offset)
                return
            if kind == "sql":
                text = substitute(step.text, self.values, bare=False)
            else:
                text = await self.dynamic(step.text, step.end, step.offset)
                if not step.end and is_script(text):  # a script computed by the expression
                    await self.nested(_read_script(text, step.offset), text, step.offset)
                    return
            if self._execute is None:
                self.statements.append(text)
                return
            try:
                result = await self._execute(text)
            except _PASSED:
                raise
            except TasksqlError as err:
                state = getattr(err, "sqlstate", None) or FAILED_SQLSTATE
                raise Raised(
                    "statement_error", FAILED_SQLCODE, err.message, state, step.offset, err
                ) from None
            self.row_count(result)
        elif kind == "set":
            assert step.name is not None
            self.values[step.name] = literal(await self.value(step.text, step.offset))
        elif kind == "return":
            if step.end:  # RETURN TABLE(...): its query runs (its errors are the block's); no value
                if step.end not in self.results:
                    await self.rows_of(substitute(step.end, self.values, bare=False), step.offset)
                raise _Return(None, table=True)
            raise _Return(await self.value(step.text, step.offset) if step.text else None)
        elif kind == "if":
            for cond, inner in step.branches:
                if cond is None or await self.holds(cond, step.offset):
                    await self.steps(inner)
                    return
        elif kind == "case":
            for cond, inner in step.branches:
                test = f"({step.text}) = ({cond})" if step.text and cond is not None else cond
                if test is None or await self.holds(test, step.offset):
                    await self.steps(inner)
                    return
        elif kind in LOOPS:
            await self.loop(step)
        elif kind in ("break", "continue"):
            raise _Jump(kind, step.name)
        elif kind == "raise":
            if step.error is None:
                raise self.handling[-1]
            e = step.error
            raise Raised(e.name, e.number, e.message, "P0001", step.offset)
        elif kind == "block":
            await self.block(step)
        elif kind in ("cursor", "resultset", "open", "fetch", "close"):
            await self.cursor(step)
        elif kind == "into":  # SELECT ... INTO :a, :b: the first row's columns, NULL for no row
            assert step.name is not None
            _, rows = await self.rows_of(substitute(step.text, self.values, bare=False), step.offset)
            row = rows[0] if rows else ()
            for i, var in enumerate(step.name.split(",")):
                self.values[var] = literal(row[i]) if i < len(row) else "NULL"

    async def block(self, step: Step) -> None:
        """A block with an EXCEPTION section: an exception its first matching WHEN (EXIT) catches
        ends the block after the handler runs."""
        depth = len(self.blocks)
        own = step.name.split(",") if step.name else []
        outer = {name: self.values.get(name) for name in own}
        self.blocks.append(step.handlers)
        try:
            await self.steps(step.body)
        except Raised as exc:
            caught = [h for h in step.handlers if exc.name in h.names or "other" in h.names]
            if not caught:
                raise
            self.blocks.pop()
            await self.handle(exc, depth, caught[0])
        else:
            self.blocks.pop()
        finally:  # the block's own variables end with it
            for name, value in outer.items():
                if value is None:
                    self.values.pop(name, None)
                else:
                    self.values[name] = value

    async def nested(self, steps: tuple[Step, ...], script: str, offset: int) -> None:
        """Run the script of an ``EXECUTE IMMEDIATE`` (at ``offset``) as one of its own: no
        variable, cursor or handler of the block around it is its, nor theirs after it; its RETURN
        ends it; an exception it does not catch is the EXECUTE IMMEDIATE statement's error
        (STATEMENT_ERROR). Its loops count toward the run's bound."""
        saved = (self.values, self.blocks, self.handling, self.cursors, self.results, self.opened)
        self.values = dict.fromkeys(("sqlrowcount", "sqlfound", "sqlnotfound"), "NULL")
        self.blocks, self.handling, self.cursors, self.results, self.opened = [], [], {}, {}, {}
        try:
            await self.steps(steps)
        except _Return:
            pass
        except Raised as exc:
            err = _uncaught(exc, script)
            state = getattr(err, "sqlstate", None) or exc.state
            raise Raised("statement_error", FAILED_SQLCODE, err.message, state, offset, err) from None
        finally:
            self.values, self.blocks, self.handling, self.cursors, self.results, self.opened = saved

    def row_count(self, result: object) -> None:
        """SQLROWCOUNT, SQLFOUND and SQLNOTFOUND after a statement ran: its affected rows when it
        is DML, NULL otherwise."""
        last = getattr(result, "last", None)
        count = getattr(last, "rowcount", None)
        if not isinstance(count, int) or count < 0:
            self.values.update(sqlrowcount="NULL", sqlfound="NULL", sqlnotfound="NULL")
            return
        found = "TRUE" if count > 0 else "FALSE"
        self.values.update(sqlrowcount=str(count), sqlfound=found, sqlnotfound="FALSE" if count else "TRUE")

    async def dynamic(self, expr: str, using: str, offset: int) -> str:
        """The SQL text of ``EXECUTE IMMEDIATE <expr> [USING (<using>)]``: a string literal's
        value, or the expression's value on the warehouse; ``?`` bound to the variables."""
        literal_text = string_literal(expr.strip())
        text = literal_text if literal_text is not None else await self.value(expr, offset)
        if not isinstance(text, str) or not text.strip():
            message = f"EXECUTE IMMEDIATE needs a SQL statement as a string, not {text!r}"
            cause = TasksqlError(message, code="INVALID_VALUE")
            raise Raised("expression_error", FAILED_SQLCODE, message, "22023", offset, cause)
        marks = [
            self.values.get(v.strip().lstrip(":").lower(), "NULL") for v in using.split(",") if v.strip()
        ]
        return _bind_marks(text.strip().rstrip(";"), marks) if marks else text.strip().rstrip(";")

    async def rows_of(self, sql: str, offset: int) -> Rows:
        assert self.query is not None, "a block with cursors is run with a query function"
        try:
            return await self.query(sql)
        except _PASSED:
            raise
        except TasksqlError as err:
            state = getattr(err, "sqlstate", None) or FAILED_SQLSTATE
            raise Raised("statement_error", FAILED_SQLCODE, err.message, state, offset, err) from None

    async def source(self, name: str, offset: int, using: str = "") -> Rows:
        """The rows of the cursor or RESULTSET ``name``, its query run now (``?`` bound to the
        values of the ``using`` variables, in order)."""
        if name in self.results:
            return self.results[name]
        query = self.cursors.get(name, name)  # not a cursor's name: a query (FOR <row> IN SELECT ...)
        if query.lower() in self.results:
            return self.results[query.lower()]
        marks = [
            self.values.get(v.strip().lstrip(":").lower(), "NULL") for v in using.split(",") if v.strip()
        ]
        return await self.rows_of(_bind_marks(substitute(query, self.values, bare=False), marks), offset)

    async def cursor(self, step: Step) -> None:
        """A cursor's or RESULTSET's declaration, OPEN, FETCH and CLOSE."""
        assert step.name is not None
        name = step.name
        if step.kind == "cursor":
            self.cursors[name] = step.text
        elif step.kind == "resultset":
            if (ex := EXECUTE_IMMEDIATE.match(step.text)) is not None:
                query = await self.dynamic(ex.group("expr"), ex.group("using") or "", step.offset)
                self.results[name] = await self.rows_of(query, step.offset)
            elif step.text:
                self.results[name] = await self.rows_of(
                    substitute(step.text, self.values, bare=False), step.offset
                )
        elif step.kind == "open":
            self.opened[name] = (await self.source(name, step.offset, step.text), [0])
        elif step.kind == "close":
            self.opened.pop(name, None)
        else:  # FETCH: the next row's columns into the variables, NULL past the last row
            if name not in self.opened:
                cause = TasksqlError(
                    f"cursor {name} is not open: OPEN it before FETCH", code="CURSOR_NOT_OPEN"
                )
                raise Raised("statement_error", FAILED_SQLCODE, cause.message, "24000", step.offset, cause)
            (_, rows), at = self.opened[name]
            row = rows[at[0]] if at[0] < len(rows) else ()
            at[0] += 1
            for i, var in enumerate(step.text.split(",")):
                self.values[var] = literal(row[i]) if i < len(row) else "NULL"

    async def each(self, step: Step) -> None:
        """``FOR <row> IN <cursor or RESULTSET>``: the body once per row, ``<row>.<column>`` bound."""
        assert step.name is not None
        columns, rows = await self.source(step.text, step.offset)
        fields = [f"{step.name}.{c.lower()}" for c in columns]
        try:
            for row in rows:
                self.values.update(zip(fields, (literal(v) for v in row), strict=False))
                await self.tick()
                try:
                    await self.steps(step.body)
                except _Jump as jump:
                    if jump.label is not None and jump.label != step.label:
                        raise
                    if jump.kind == "break":
                        return
        finally:
            for f in fields:
                self.values.pop(f, None)

    async def loop(self, step: Step) -> None:
        """Run a loop; a BREAK or CONTINUE naming no label or this loop's ends here."""
        if step.kind == "each":
            await self.each(step)
            return
        counter: range | None = None
        if step.kind == "for":  # end < start: no iteration, REVERSE or not
            start = _integer(await self.value(step.text, step.offset), step)
            end = _integer(await self.value(step.end, step.offset), step)
            if self.databend and start > end:
                _empty_range(step, start, end)
            counter = range(end, start - 1, -1) if step.reverse else range(start, end + 1)
        saved = self.values.get(step.name) if step.name is not None else None
        try:
            index = 0
            while True:
                if counter is not None:
                    if index >= len(counter):
                        return
                    assert step.name is not None
                    self.values[step.name] = literal(counter[index])
                    index += 1
                elif step.kind == "while" and not await self.holds(step.text, step.offset):
                    return
                await self.tick()
                try:
                    await self.steps(step.body)
                except _Jump as jump:
                    if jump.label is not None and jump.label != step.label:
                        raise
                    if jump.kind == "break":
                        return
                if step.kind == "repeat" and await self.holds(step.text, step.offset):
                    return
        finally:
            if step.name is not None:  # the counter is the loop's own: an outer variable is back
                if saved is None:
                    self.values.pop(step.name, None)
                else:
                    self.values[step.name] = saved


def _read_script(text: str, offset: int) -> tuple[Step, ...]:
    """The steps of the script an ``EXECUTE IMMEDIATE`` expression gave (at ``offset``)."""
    try:
        return parse_script(text)
    except ScriptingError as err:
        message = f"the script EXECUTE IMMEDIATE was given cannot run: {err.message} (at offset {err.offset})"
        cause = TasksqlError(message, code="BODY_SYNTAX_ERROR")
        raise Raised("statement_error", FAILED_SQLCODE, message, "42601", offset, cause) from None


def _empty_range(step: Step, start: int, end: int) -> NoReturn:
    """Databend's error for ``FOR <i> IN [REVERSE] <start> TO <end>`` with ``start`` past ``end``
    (its loop is ``generate_series(start, end, 1)``, reversed ``(end, start, -1)``)."""
    if step.reverse:
        wrong = "start must be greater than or equal to end when step is negative"
    else:
        wrong = "start must be less than or equal to end when step is positive"
    message = f"{wrong} (FOR ... IN {'REVERSE ' if step.reverse else ''}{start} TO {end})"
    cause = TasksqlError(message, code="INVALID_VALUE")
    raise Raised("expression_error", FAILED_SQLCODE, message, "22023", step.offset, cause)


def _bind_marks(query: str, literals: list[str]) -> str:
    """``query`` with its ``?`` (outside quotes) replaced by ``literals``, in order."""
    values = iter(literals)
    return re.sub(
        r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?",
        lambda m: next(values, "NULL") if m.group(0) == "?" else m.group(0),
        query,
    )


def _integer(value: object, step: Step) -> int:
    try:
        number = Decimal(str(value))
        if value is not None and not isinstance(value, bool) and number == number.to_integral_value():
            return int(number)
    except ArithmeticError:
        pass
    message = f"a FOR loop's start and end must be integers, not {value!r}"
    cause = TasksqlError(message, code="INVALID_VALUE")
    raise Raised("expression_error", FAILED_SQLCODE, message, "22023", step.offset, cause)
