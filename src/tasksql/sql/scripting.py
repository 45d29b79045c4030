"""The Snowflake Scripting a task body may be written in: what a block's steps are, and how its
variables are bound in text. :func:`tasksql.sql.scripting_parse.parse_block` reads a block into
steps.

A block ``[DECLARE <declarations>] BEGIN <statements> [EXCEPTION <handlers>] END`` (the body
itself, or the script of ``EXECUTE IMMEDIATE $$ ... $$``) is Snowflake Scripting when it has a
``DECLARE`` section or a statement of its own (``LET``, ``<name> := <expr>``, ``RETURN``, ``IF``,
``CASE``, a loop, an ``EXCEPTION`` section). Its steps (:class:`Step`), in order:

- ``set``: a declaration ``<name> [<type>] [DEFAULT | := <expr>];``, ``LET <name> [<type>]
  {DEFAULT | :=} <expr>;`` or an assignment ``<name> := <expr>;``: ``name`` := the value of ``text``;
- ``return``: ``RETURN [<expr>];``, the block's value; it ends the block (``RETURN TABLE(<RESULTSET
  or query>)`` too, with no value);
- ``if``: ``IF (<cond>) THEN ...; [ELSEIF (<cond>) THEN ...;] [ELSE ...;] END IF;`` and ``case``:
  ``CASE [(<expr>)] WHEN <value or cond> THEN ...; [ELSE ...;] END [CASE];``: the steps of the first
  branch that matches (:attr:`Step.branches`; a ``case`` with an operand compares it to each value);
- ``for`` (``FOR <name> IN [REVERSE] <start> TO <end> {DO | LOOP} ... END {FOR | LOOP} [<label>];``),
  ``while`` (``WHILE (<cond>) {DO | LOOP} ... END {WHILE | LOOP} [<label>];``), ``repeat``
  (``REPEAT ... UNTIL (<cond>) END REPEAT [<label>];``) and ``loop`` (``LOOP ... END LOOP
  [<label>];``): :attr:`Step.body` repeated; ``break`` (``BREAK | EXIT [<label>]``) and
  ``continue`` (``CONTINUE | ITERATE [<label>]``) leave it or start its next iteration;
- ``block``: a block with an ``EXCEPTION`` section (:attr:`Step.handlers`), its steps in
  :attr:`Step.body`; ``raise``: ``RAISE [<name>];`` (:attr:`Step.error`, None: the exception being
  handled, again);
- ``into``: ``SELECT <expr>, ... INTO :<name>, ... [FROM ...]``: ``text`` the query without
  INTO, ``name`` the variables (comma-separated), set to its first row's columns;
- ``execute``: ``EXECUTE IMMEDIATE <string expression> [USING (<variable>, ...)]``, the SQL
  statement the expression's value is (``?`` bound to the variables' values), run as ``sql`` is;
  when the value is a script of its own (a ``[DECLARE ...] BEGIN ... END`` block, or several
  statements), it runs as a nested script (:class:`Nested`: of a string literal, read with the
  block; of an expression, read when it runs): with variables, handlers and loops of its own, so a
  ``BREAK`` or ``CONTINUE`` in it does not see a loop around the ``EXECUTE IMMEDIATE``;
- ``sql``: any other statement, SQL the warehouse runs, ``:<name>`` standing for a variable's value.

- ``cursor`` (``<name> CURSOR FOR <query or RESULTSET>``) and ``resultset`` (``<name> RESULTSET
  := (<query>)``): ``name`` and its query; ``open`` (``text``: the USING variables), ``fetch``
  (``text``: the variables, comma-separated), ``close``; ``each`` (``FOR <row> IN <cursor or
  RESULTSET> DO ... END FOR``): ``text`` the source, ``name`` the row variable, whose fields are
  ``<row>.<column>``.

What is not run (``RETURN TABLE(...)``, ``AWAIT``, a RESULTSET of ``EXECUTE IMMEDIATE``) is refused
(:class:`ScriptingError`), naming what is supported. The type of a variable is read and not
enforced: a value is what its expression gives on the warehouse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

SUPPORTED = (
    "a task's Snowflake Scripting block may hold DECLARE (<name> [<type>] [DEFAULT | := <expr>];,"
    " <name> EXCEPTION [(<number>, '<message>')];), LET <name> [<type>] := <expr>;, <name> := <expr>;,"
    " RETURN <expr>;, IF ... END IF;, CASE ... END CASE;, FOR <name> IN [REVERSE] <start> TO <end>"
    " DO ... END FOR;, WHILE (<cond>) DO ... END WHILE;, REPEAT ... UNTIL (<cond>) END REPEAT;,"
    " LOOP ... END LOOP;, BREAK;, CONTINUE;, RAISE [<name>];, nested BEGIN ... [EXCEPTION WHEN"
    " <name> | OTHER | STATEMENT_ERROR | EXPRESSION_ERROR THEN ...] END;, <name> CURSOR FOR <query>;,"
    " <name> RESULTSET := (<query>);, OPEN, FETCH ... INTO, CLOSE, FOR <row> IN <cursor> DO ... END FOR;,"
    " SELECT ... INTO :<name>, ..., EXECUTE IMMEDIATE <string> [USING (...)] and SQL statements"
    " (a variable written :<name>)"
)


@dataclass(frozen=True, slots=True)
class Nested:
    """The script of ``EXECUTE IMMEDIATE '<script>'`` (or ``$$<script>$$``) in a block: its
    ``text`` (the literal's value), its ``steps``, where the value starts in the block's text
    (``start``), and the offsets in ``text`` of the quotes that a doubled ``''`` of the literal
    wrote once (``quotes``), so a position in ``text`` is found in the block's text (:meth:`at`)."""

    text: str
    steps: tuple[Step, ...]
    start: int
    quotes: tuple[int, ...] = ()

    def at(self, offset: int) -> int:
        """The offset in the block's text of the character at ``offset`` of :attr:`text`."""
        return self.start + offset + sum(1 for q in self.quotes if q < offset)


def string_literal(expr: str) -> str | None:
    """The value of ``expr`` when it is one string literal (``'...'`` or ``$$...$$``)."""
    if (q := re.fullmatch(r"'((?:[^']|'')*)'", expr, re.S)) is not None:
        return q.group(1).replace("''", "'")
    if (d := re.fullmatch(r"\$(\w*)\$(.*)\$\1\$", expr, re.S)) is not None:
        return d.group(2)
    return None


def literal_place(expr: str) -> tuple[int, tuple[int, ...]]:
    """Of the string literal ``expr``: where its value starts in ``expr``, and the offsets in the
    value of the quotes written doubled (see :class:`Nested`)."""
    if expr.startswith("$"):
        return expr.index("$", 1) + 1, ()
    quotes: list[int] = []
    at, raw = 0, 1
    while raw < len(expr) - 1:
        if expr.startswith("''", raw):
            quotes.append(at)
            raw += 2
        else:
            raw += 1
        at += 1
    return 1, tuple(quotes)


#: The variables every block has: of the exception a handler handles (SQLCODE, SQLERRM,
#: SQLSTATE), and of the last DML statement (SQLROWCOUNT: its affected rows; SQLFOUND /
#: SQLNOTFOUND: whether it affected any).
BUILT_IN_VARIABLES = frozenset({"sqlcode", "sqlerrm", "sqlstate", "sqlrowcount", "sqlfound", "sqlnotfound"})
#: The variables of the last DML statement: a block naming one runs its statements as they come.
ROW_COUNT_VARIABLES = re.compile(r"\b(?:SQLROWCOUNT|SQLFOUND|SQLNOTFOUND)\b", re.I)

#: The exceptions every block knows, besides those it declares.
BUILT_IN_EXCEPTIONS = frozenset({"statement_error", "expression_error"})


class ScriptingError(Exception):
    """A block that is not of the supported subset; ``offset`` is where, in the block's text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Declared:
    """An exception a block declares: ``<name> EXCEPTION [(<number>, '<message>')]``."""

    name: str
    number: int = -20000
    message: str = ""


@dataclass(frozen=True, slots=True)
class Handler:
    """One ``WHEN <name> [OR <name> ...] [EXIT | CONTINUE] THEN ...`` of an EXCEPTION section:
    the exceptions it catches (lower-case; ``other`` for any), its steps, and whether the block
    goes on after the statement that raised (CONTINUE) instead of ending (EXIT, the default)."""

    names: tuple[str, ...]
    steps: tuple[Step, ...]
    resume: bool = False


StepKind = Literal[
    "set", "sql", "return", "if", "case", "for", "while", "repeat", "loop", "break", "continue",
    "block", "raise", "cursor", "resultset", "open", "fetch", "close", "each", "execute", "into",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a block (see the module's docstring for each ``kind``). ``text``: the
    expression, condition or statement (of a ``for``, its start; of a ``case``, its operand, empty
    for a searched CASE; of a ``repeat``, its UNTIL condition); ``offset``: where it starts."""

    kind: StepKind
    text: str
    offset: int
    #: The variable a ``set`` or ``for`` sets (of an ``into``, its variables, comma-separated);
    #: the label a ``break`` or ``continue`` names.
    name: str | None = None
    #: Of an ``if`` or ``case``: each branch's condition or value (None: ``ELSE``) and steps.
    branches: tuple[tuple[str | None, tuple[Step, ...]], ...] = ()
    #: Of a loop or ``block``: its steps.
    body: tuple[Step, ...] = ()
    #: Of a loop: its label (lower-case), if any.
    label: str | None = None
    #: Of a ``for``: its end expression and whether it counts down; of an ``execute``: the
    #: variables of its USING (comma-separated); of a ``return``: the RESULTSET or query of
    #: ``RETURN TABLE(...)``.
    end: str = ""
    reverse: bool = False
    #: Of a ``block``: its EXCEPTION section's WHEN clauses, in order.
    handlers: tuple[Handler, ...] = ()
    #: Of a ``raise``: the exception (None: the one being handled).
    error: Declared | None = None
    #: Of an ``execute`` of a literal script: that script (its steps are not :attr:`body`: they
    #: are a script of their own, with their own variables, offsets and loops).
    script: Nested | None = None


LOOPS = frozenset({"for", "while", "repeat", "loop", "each"})


def walk(steps: tuple[Step, ...]) -> Iterator[Step]:
    """``steps`` and the steps inside them (branches, loop bodies, handlers), in written order."""
    for step in steps:
        yield step
        for _, inner in step.branches:
            yield from walk(inner)
        yield from walk(step.body)
        for handler in step.handlers:
            yield from walk(handler.steps)


def expressions(step: Step) -> list[str]:
    """The expressions ``step`` evaluates itself (not those of the steps inside it)."""
    if step.kind in ("if", "case"):
        exprs = [cond for cond, _ in step.branches if cond is not None]
        return [step.text, *exprs] if step.kind == "case" and step.text else exprs
    if step.kind == "for":
        return [step.text, step.end]
    if step.kind == "resultset" and (ex := EXECUTE_IMMEDIATE.match(step.text)) is not None:
        return [ex.group("expr").strip()]  # the string's expression; the statement is its value
    if step.kind in ("set", "return", "while", "repeat", "cursor", "resultset", "execute", "into"):
        return [step.text] if step.text else []
    return []


_NAME = r"[A-Za-z_][\w$]*"
#: A block of Snowflake Scripting: a DECLARE section, or a statement no SQL dialect begins so.
_OWN = re.compile(
    rf"^\s*(?:DECLARE\b|BEGIN\b(?:.*?;)?\s*(?:LET\s|RETURN\b|{_NAME}\s*:=|"
    r"(?:IF|FOR|WHILE|LOOP|REPEAT|CASE|RAISE|ASYNC|AWAIT)\b|EXCEPTION\s+WHEN\b|EXECUTE\s+IMMEDIATE\b))",
    re.S | re.I,
)


def is_scripting(script: str) -> bool:
    """Whether ``script`` is a Snowflake Scripting block (see the module's docstring)."""
    return _OWN.match(script) is not None


#: ``EXECUTE IMMEDIATE <string expression> [USING (<variable>, ...)]`` in a block (a statement, or
#: the query of a RESULTSET).
EXECUTE_IMMEDIATE = re.compile(
    r"^EXECUTE\s+IMMEDIATE\b\s*(?P<expr>.+?)(?:\s+USING\s*\((?P<using>[^()]*)\))?\s*$", re.S | re.I
)

_TOKEN = re.compile(rf"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?P<colon>::?)?(?P<name>{_NAME}(?:\.{_NAME})?)")


_SUBQUERY = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\((?=\s*(?:SELECT|WITH)\b)", re.I)


def substitute(text: str, values: dict[str, str], *, bare: bool) -> str:
    """``text`` with its variables bound (see :func:`_substitute`); with ``bare``, a query in
    parentheses inside it (``(SELECT ... <name> ...)``) is SQL, where only ``:<name>`` is a
    variable (a column may have a variable's name)."""
    if not bare:
        return _substitute(text, values, bare=False)
    out: list[str] = []
    at = 0
    for m in _SUBQUERY.finditer(text):
        if m.group(0) != "(" or m.start() < at:
            continue
        end = _closing(text, m.start())
        out.append(_substitute(text[at : m.start()], values, bare=True))
        out.append(_substitute(text[m.start() : end], values, bare=False))
        at = end
    out.append(_substitute(text[at:], values, bare=True))
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The offset after the parenthesis closing the one at ``start`` (the end when none does)."""
    depth = 0
    for m in re.finditer(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[()]", text[start:]):
        if m.group(0) == "(":
            depth += 1
        elif m.group(0) == ")":
            depth -= 1
            if depth == 0:
                return start + m.end()
    return len(text)


def _substitute(text: str, values: dict[str, str], *, bare: bool) -> str:
    """``text`` with each variable of ``values`` (lower-case name -> SQL literal) replaced:
    written ``:<name>``, and with ``bare`` also ``<name>`` (an expression's); a row variable's
    field ``<row>.<column>`` is a name of its own (a qualified name whose first part is a name of
    ``values`` and is not in it stands for that name's value). Quoted text, a qualified name's
    part, a function's name and a cast's type are left alone."""

    def one(m: re.Match[str]) -> str:
        name, colon = m.group("name"), m.group("colon")
        if name is not None and "." in name and name.lower() not in values:
            name = name.split(".", 1)[0] if name.split(".", 1)[0].lower() in values else None
        if name is None or colon == "::" or name.lower() not in values:
            return m.group(0)
        before = text[m.start() - 1] if m.start() > 0 else ""
        if before == "." or before.isalnum() or before == "_":
            return m.group(0)
        if colon is None and (not bare or text[m.end() :].lstrip().startswith("(")):
            return m.group(0)
        return values[name.lower()]

    return _TOKEN.sub(one, text)
