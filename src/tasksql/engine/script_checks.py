"""What a script body does wrong that its grammar allows, refused at CREATE and ALTER as Databend's
script compiler refuses it (databendlabs/databend src/query/script/src/compiler.rs; its cases in
src/query/script/tests/it/testdata/script-error.txt), instead of failing the first run:

* ``BREAK`` or ``CONTINUE`` (Snowflake's ``EXIT``, ``ITERATE`` too) with no loop around it:
  Databend's "not in a loop". Inside a loop of a Snowflake Scripting block the block's own parser
  judges them; here it is a body with no loop at all (``BEGIN BREAK; END;``), which is otherwise
  sent to the warehouse's parser and refused as its syntax.
* a variable used in a script that the script never declares: ``:name`` in a statement or an
  expression, or a bare name in an expression of the block's own (``LET x := y + 1``): Databend's
  "`y` is not defined". ``:scheduled_time`` and the other logical-time variables of tasksql, and
  ``SQLCODE``, ``SQLERRM``, ``SQLSTATE`` are always defined. A bare name is judged only in an
  expression with no query in it (in ``(SELECT a FROM t)`` a name may be a column) and not where
  it names a function, a type, an interval's unit, or a field (``r.a``).

Databend's ``SETTINGS ( ... ) <statement>`` in front of one statement of a script is refused too
(in front of the whole body it is the task's session parameters, see ``sql/parse_task.py``): a
run's settings are its session's, not one statement's.

All are ``BODY_SYNTAX_ERROR`` at the word, in the source of the statement.
"""

from __future__ import annotations

import re

from sqlglot.tokenizer_core import TokenType

from tasksql.errors import Span, TasksqlError, TasksqlSyntaxError
from tasksql.model import SqlBody, TaskDef
from tasksql.scheduler import logical_time
from tasksql.scheduler.scripting import Block, block_of
from tasksql.sql import statements as st
from tasksql.sql.bodies import body_statements
from tasksql.sql.scripting import BUILT_IN_VARIABLES, ScriptingError, Step, expressions, walk
from tasksql.sql.tokenizer import raw_tokens

_JUMP = re.compile(r"(?:\s|--[^\n]*\n|/\*.*?\*/)*(?P<word>BREAK|CONTINUE|EXIT|ITERATE)\b", re.S | re.I)
_SETTINGS = re.compile(r"(?:\s|--[^\n]*\n|/\*.*?\*/)*(?P<word>SETTINGS)\s*\(", re.S | re.I)
#: ``:name`` outside strings and quoted names (not ``::type`` nor ``x:field``, a path in a value).
_BIND = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$\$.*?\$\$|--[^\n]*|/\*.*?\*/"
    r"|(?<![:\w]):(?P<name>[A-Za-z_][\w$]*)",
    re.S,
)
#: A body that is a script: a ``BEGIN ... END`` block or ``EXECUTE IMMEDIATE``.
_SCRIPT = re.compile(r"\s*(?:BEGIN\b(?!\s+(?:TRANSACTION|WORK)\b)(?!\s*;)|EXECUTE\s+IMMEDIATE\b)", re.I)
_ALWAYS = frozenset({*BUILT_IN_VARIABLES, *logical_time.NAMES})
#: Token types after which a bare word is no variable: a type (``CAST(x AS INT)``, ``x::INT``),
#: a field (``r.a``), or an interval's unit (``INTERVAL 3 DAY``).
_NOT_AFTER = frozenset({TokenType.ALIAS, TokenType.DCOLON, TokenType.DOT, TokenType.NUMBER, TokenType.STRING})
_QUERY = frozenset({TokenType.SELECT, TokenType.FROM, TokenType.WITH, TokenType.VALUES})
_STATEMENT_WORDS = frozenset({"EXECUTE", "IMMEDIATE", "CALL", "TABLE", "USING", "CURSOR", "RESULTSET"})
#: Words SQL lets stand without parentheses as values (niladic functions): never variables.
_NILADIC = frozenset(
    {
        "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
        "sysdate", "systimestamp", "current_user", "session_user", "user", "current_role",
        "current_schema", "current_database", "current_catalog",
    }
)  # fmt: skip


def check_script_semantics(task: TaskDef, stmt: st.Statement) -> None:
    """Refuse a script body that jumps out of no loop or uses a variable it does not declare.

    :raises TasksqlSyntaxError: code ``BODY_SYNTAX_ERROR`` at the word.
    """
    body = task.body
    if not isinstance(body, SqlBody):
        return
    try:
        block = block_of(task)
    except ScriptingError:
        return  # malformed: the body's syntax check says where
    if block is None:
        _no_loop_jumps(body.text, stmt)
        if _SCRIPT.match(body.text):
            _unbound(body.text, stmt)
    else:
        _undeclared(block, body.text, stmt)


def _no_loop_jumps(text: str, stmt: st.Statement) -> None:
    try:
        statements = body_statements(text)
    except TasksqlError:
        return
    for piece, offset in statements:
        settings = _SETTINGS.match(piece)
        if settings is not None and _SCRIPT.match(text):
            raise TasksqlSyntaxError(
                "SETTINGS ( ... ) in front of one statement of a script: tasksql gives settings to the"
                " whole run; write them as the task's session parameters (<setting> = <value> before AS)",
                code="BODY_SYNTAX_ERROR",
                span=_span(stmt, text, offset + settings.start("word"), len("SETTINGS")),
            )
        m = _JUMP.match(piece)
        if m is not None and piece[m.end() :].strip(" \t\r\n;") == "":
            word = m.group("word").upper()
            raise TasksqlSyntaxError(
                f"{word} is not in a loop: BREAK and CONTINUE end or continue the LOOP, FOR, WHILE or"
                " REPEAT of a script around them, and this body has none",
                code="BODY_SYNTAX_ERROR",
                span=_span(stmt, text, offset + m.start("word"), len(word)),
            )


def _unbound(text: str, stmt: st.Statement) -> None:
    """A ``:name`` in a script that declares nothing (``BEGIN INSERT INTO t SELECT :n; END;``)."""
    try:
        statements = body_statements(text)
    except TasksqlError:
        return
    for piece, offset in statements:
        found = _first_unknown(piece, set(_ALWAYS), bare=False)
        if found is not None:
            name, where = found
            raise TasksqlSyntaxError(
                f"variable {name} is not defined in the script: declare it (DECLARE, or LET {name} := ...)"
                " before it is used",
                code="BODY_SYNTAX_ERROR",
                span=_span(stmt, text, offset + where, len(name)),
            )


def _undeclared(block: Block, text: str, stmt: st.Statement) -> None:
    """A variable a block uses and never declares; the script of an ``EXECUTE IMMEDIATE`` literal
    in it is judged on its own (it sees none of the block's variables, as it does not when it runs)."""
    steps = list(walk(block.steps))
    known = {s.name.lower() for s in steps if s.name is not None} | _ALWAYS
    for step in steps:
        if step.script is not None:
            _undeclared(block.nested(step.script), text, stmt)
            continue
        for part in _parts(step):
            at = block.script.find(part, step.offset)
            if at < 0:
                continue
            found = _first_unknown(part, known, bare=step.kind != "sql")
            if found is None:
                continue
            name, where = found
            raise TasksqlSyntaxError(
                f"variable {name} is not defined in the script: declare it (DECLARE, or LET {name} := ...)"
                " before it is used",
                code="BODY_SYNTAX_ERROR",
                span=_span(stmt, text, block.at(at + where), len(name)),
            )


def _parts(step: Step) -> list[str]:
    if step.kind == "sql":
        return [step.text]
    return [e for e in expressions(step) if e]


def _first_unknown(part: str, known: set[str], *, bare: bool) -> tuple[str, int] | None:
    """The first name ``part`` uses that is not in ``known``, with its offset in ``part``."""
    for m in _BIND.finditer(part):
        name = m.group("name")
        if name is not None and name.lower() not in known and name.split(".")[0].lower() not in known:
            return name, m.start("name")
    if not bare:
        return None
    try:
        tokens = raw_tokens(part)
    except Exception:
        return None
    if any(t.token_type in _QUERY or t.text.upper() in _STATEMENT_WORDS for t in tokens):
        return None  # a query or a statement in the expression: its names may be columns
    for i, tok in enumerate(tokens):
        if tok.token_type is not TokenType.VAR:
            continue
        before = tokens[i - 1] if i > 0 else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before is not None and (before.token_type in _NOT_AFTER or before.token_type is TokenType.COLON):
            continue  # a type, a field, a unit (or :name, judged above)
        if after is not None and after.token_type in (TokenType.L_PAREN, TokenType.DOT):
            continue  # a function, or a qualified name
        if tok.text.lower() not in known and tok.text.lower() not in _NILADIC:
            return tok.text, tok.start
    return None


def _span(stmt: st.Statement, body_text: str, at: int, length: int) -> Span | None:
    """The span of ``length`` characters at offset ``at`` of the body, in ``stmt``'s source."""
    body_span = stmt.spans.get("body")
    if body_span is None or not stmt.text:
        return body_span or stmt.span
    rel = body_span.start - stmt.span.start
    found = stmt.text.find(body_text, max(0, rel))
    if found < 0:
        return body_span
    inside = Span.at(stmt.text, found + at, found + at + length)
    line = stmt.span.line + inside.line - 1
    column = inside.column if inside.line > 1 else stmt.span.column + inside.column - 1
    return Span(line, column, stmt.span.start + inside.start, stmt.span.start + inside.end)
