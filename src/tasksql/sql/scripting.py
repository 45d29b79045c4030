"""The subset of Snowflake Scripting a task body may be written in, read into steps.

A block ``[DECLARE <declarations>] BEGIN <statements> END`` (the body itself, or the script of
``EXECUTE IMMEDIATE $$ ... $$``) is Snowflake Scripting when it has a ``DECLARE`` section or a
statement of its own: ``LET``, ``<name> := <expr>`` or ``RETURN``. Its steps, in order:

- a declaration ``<name> [<type>] [DEFAULT | := <expr>];``, ``LET <name> [<type>] {DEFAULT | :=}
  <expr>;`` and an assignment ``<name> := <expr>;``: a variable set to the value of ``<expr>``;
- ``RETURN [<expr>];``: the block's value; it ends the block;
- ``IF (<cond>) THEN ...; [ELSEIF (<cond>) THEN ...;] [ELSE ...;] END IF;``: the steps of the
  first branch whose condition holds (:attr:`Step.branches`);
- any other statement: SQL the warehouse runs, ``:<name>`` standing for a variable's value.

``CASE``, loops, cursors, result sets, exception handlers and nested blocks are refused
(:class:`ScriptingError`), naming what is supported. The type of a variable is read and not
enforced: a value is what its expression gives on the warehouse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tasksql.errors import TasksqlError
from tasksql.sql.split import split

SUPPORTED = (
    "a task's Snowflake Scripting block may hold DECLARE (<name> [<type>] [DEFAULT | := <expr>];),"
    " LET <name> [<type>] := <expr>;, <name> := <expr>;, RETURN <expr>;,"
    " IF (<cond>) THEN ...; [ELSEIF (<cond>) THEN ...;] [ELSE ...;] END IF; and SQL statements"
    " (a variable written :<name>)"
)


class ScriptingError(Exception):
    """A block that is not of the supported subset; ``offset`` is where, in the block's text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a block: ``set`` (``name`` := the value of ``text``), ``sql`` (a statement)
    or ``return`` (``text`` the expression, empty for none). ``offset``: where it starts."""

    kind: Literal["set", "sql", "return", "if"]
    text: str
    offset: int
    name: str | None = None
    #: Of an ``if``: each branch's condition (None: ``ELSE``) and steps, in order.
    branches: tuple[tuple[str | None, tuple[Step, ...]], ...] = ()


def walk(steps: tuple[Step, ...]) -> Iterator[Step]:
    """``steps`` and the steps of their branches, in the order they are written."""
    for step in steps:
        yield step
        for _, inner in step.branches:
            yield from walk(inner)


_BLOCK = re.compile(
    r"^(?P<lead>\s*)(?:DECLARE\b(?P<decl>.*?))?\bBEGIN\b(?P<inner>.*)\bEND\s*;?\s*$", re.S | re.I
)
_NAME = r"[A-Za-z_][\w$]*"
_ASSIGN = re.compile(rf"^(?P<name>{_NAME})\s*:=\s*(?P<expr>.+)$", re.S)
_DECL = re.compile(rf"^(?P<name>{_NAME})(?P<type>.*?)(?:(?::=|\bDEFAULT\b)(?P<expr>.+))?$", re.S | re.I)
_LET = re.compile(rf"^LET\s+(?P<name>{_NAME})(?P<type>.*?)(?::=|\bDEFAULT\b)(?P<expr>.+)$", re.S | re.I)
_RETURN = re.compile(r"^RETURN\b(?P<expr>.*)$", re.S | re.I)
#: A block of Snowflake Scripting: a DECLARE section, or a statement no SQL dialect begins so.
_OWN = re.compile(
    rf"^\s*(?:DECLARE\b|BEGIN\b(?:.*?;)?\s*(?:LET\s|RETURN\b|{_NAME}\s*:=|"
    r"(?:IF|FOR|WHILE|LOOP|REPEAT|CASE)\b|EXCEPTION\s+WHEN\b))",
    re.S | re.I,
)
#: Words opening Snowflake Scripting that tasksql does not run.
_REFUSED = frozenset(
    {
        "CASE", "FOR", "WHILE", "LOOP", "REPEAT", "BREAK", "CONTINUE",
        "EXCEPTION", "RAISE", "OPEN", "FETCH", "CLOSE", "AWAIT", "CANCEL", "DECLARE", "BEGIN",
        "END", "EXIT", "ITERATE", "LEAVE",
    }
)  # fmt: skip
_OTHER_KINDS = re.compile(r"\b(?:CURSOR|RESULTSET|EXCEPTION)\b", re.I)


def is_scripting(script: str) -> bool:
    """Whether ``script`` is a Snowflake Scripting block (see the module's docstring)."""
    return _OWN.match(script) is not None


def parse_block(script: str) -> tuple[Step, ...]:
    """The steps of the block ``script``.

    :raises ScriptingError: the block is not well formed, or uses what tasksql does not run.
    """
    m = _BLOCK.match(script)
    if m is None:
        raise ScriptingError("the block has no BEGIN ... END: write [DECLARE ...] BEGIN ... END", 0)
    steps: list[Step] = []
    names: set[str] = set()
    if m.group("decl") is not None:
        at = m.start("decl")
        for piece in _pieces(m.group("decl"), at):
            text, offset = piece
            d = _DECL.match(text)
            if d is None:
                raise ScriptingError(
                    f"expected a declaration <name> [<type>] [DEFAULT <expr>], not {text!r}", offset
                )
            if (kind := _OTHER_KINDS.search(d.group("type"))) is not None:
                raise ScriptingError(
                    f"a {kind.group(0).upper()} declaration is not supported: {SUPPORTED}", offset
                )
            name = d.group("name").lower()
            names.add(name)
            expr = d.group("expr")
            steps.append(Step("set", expr.strip() if expr else "NULL", offset, name))
    inner_at = m.start("inner")
    pieces = _pieces(m.group("inner"), inner_at)
    if not pieces:
        raise ScriptingError("the BEGIN ... END block has no statement", inner_at)
    return (*steps, *_statements(pieces, names, None))


_THEN = re.compile(r"^(?:ELSE)?IF\b(?P<cond>.*?)\bTHEN\b\s*(?P<rest>.*)$", re.S | re.I)
_ELSE = re.compile(r"^ELSE\b\s*(?P<rest>.*)$", re.S | re.I)
_END_IF = re.compile(r"^END\s+IF$", re.I)


def _head(text: str) -> str:
    return text.split(None, 1)[0].upper().rstrip(";(")


def _statements(pieces: list[tuple[str, int]], names: set[str], opened: int | None) -> tuple[Step, ...]:
    """The steps of ``pieces`` (consumed) up to the end, or, inside an IF opened at ``opened``, up
    to its next ELSEIF, ELSE or END IF (left in ``pieces``)."""
    steps: list[Step] = []
    while pieces:
        text, offset = pieces[0]
        head = _head(text)
        if opened is not None and (head in ("ELSEIF", "ELSE") or _END_IF.match(text)):
            return tuple(steps)
        pieces.pop(0)
        if head in ("ELSEIF", "ELSE") or _END_IF.match(text):
            raise ScriptingError(f"{text.split(None, 1)[0].upper()} without IF", offset)
        if head == "IF":
            steps.append(_if(text, offset, pieces, names))
            continue
        if (a := _ASSIGN.match(text)) is not None:
            name = a.group("name").lower()
            if name not in names:
                raise ScriptingError(
                    f"variable {a.group('name')} is not declared: declare it in DECLARE, or write LET", offset
                )
            steps.append(Step("set", a.group("expr").strip(), offset, name))
        elif head == "LET":
            let = _LET.match(text)
            if let is None:
                raise ScriptingError("expected LET <name> [<type>] := <expr>", offset)
            names.add(let.group("name").lower())
            steps.append(Step("set", let.group("expr").strip(), offset, let.group("name").lower()))
        elif (r := _RETURN.match(text)) is not None:
            steps.append(Step("return", r.group("expr").strip(), offset))
        elif head in _REFUSED:
            raise ScriptingError(f"{head} is not supported: {SUPPORTED}", offset)
        else:
            steps.append(Step("sql", text, offset))
    if opened is not None:
        raise ScriptingError("the IF is never closed by END IF", opened)
    return tuple(steps)


def _if(text: str, offset: int, pieces: list[tuple[str, int]], names: set[str]) -> Step:
    """The IF statement whose first piece is ``text`` (the rest of it in ``pieces``)."""
    branches: list[tuple[str | None, tuple[Step, ...]]] = []
    opened = offset
    m = _THEN.match(text)
    while True:
        if m is None:
            raise ScriptingError("expected IF (<condition>) THEN <statement>; ...", offset)
        cond = m.group("cond").strip() if m.re is _THEN else None
        if cond == "":
            raise ScriptingError("the IF has no condition: write IF (<condition>) THEN", offset)
        if m.group("rest").strip():
            pieces.insert(0, (m.group("rest").strip(), offset + m.start("rest")))
        branches.append((cond, _statements(pieces, names, opened)))
        text, offset = pieces.pop(0)
        if _END_IF.match(text):
            return Step("if", "", opened, branches=tuple(branches))
        if cond is None:
            raise ScriptingError(f"{_head(text)} after ELSE: ELSE is the last branch of an IF", offset)
        m = _THEN.match(text) if _head(text) == "ELSEIF" else _ELSE.match(text)


def _pieces(text: str, at: int) -> list[tuple[str, int]]:
    try:
        found = split(text)
    except TasksqlError as err:
        raise ScriptingError(err.message, at + (err.span.start if err.span else 0)) from None
    return [
        (p.text.strip(), at + p.start + len(p.text) - len(p.text.lstrip())) for p in found if p.text.strip()
    ]


_TOKEN = re.compile(rf"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?P<colon>::?)?(?P<name>{_NAME})")


def substitute(text: str, values: dict[str, str], *, bare: bool) -> str:
    """``text`` with each variable of ``values`` (lower-case name -> SQL literal) replaced:
    written ``:<name>``, and with ``bare`` also ``<name>`` (an expression's). Quoted text, a
    qualified name's part, a function's name and a cast's type are left alone."""

    def one(m: re.Match[str]) -> str:
        name, colon = m.group("name"), m.group("colon")
        if name is None or colon == "::" or name.lower() not in values:
            return m.group(0)
        before = text[m.start() - 1] if m.start() > 0 else ""
        if before == "." or before.isalnum() or before == "_":
            return m.group(0)
        if colon is None and (not bare or text[m.end() :].lstrip().startswith("(")):
            return m.group(0)
        return values[name.lower()]

    return _TOKEN.sub(one, text)
