"""Task bodies: ``AS <sql>``, VoltDB ``PROCEDURE ...`` / ``FROM CLASS ...``, Ocient ``TYPE ...``."""

from __future__ import annotations

import re

from tasksql.errors import NotSupportedError, Span, TasksqlError, ValidationError
from tasksql.model import ClassBody, LocationKind, MaintenanceBody, MaintenanceKind, ProcedureBody, SqlBody
from tasksql.sql.cursor import Cursor, describe, duplicate
from tasksql.sql.names import parse_name
from tasksql.sql.schedule_values import parse_class_path
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_literal, parse_literal_list

_MAINTENANCE = tuple(k.value for k in MaintenanceKind)


def missing_body(cur: Cursor, at: Token | Span | None = None) -> TasksqlError:
    return cur.error(
        "the task has no body: expected AS <sql statement>",
        at=at,
        expected=["AS <sql>", "PROCEDURE <procedure>"],
        code="MISSING_BODY",
    )


def parse_sql_body(cur: Cursor, as_tok: Token) -> tuple[SqlBody, Span]:
    """The rest of the statement after ``AS``, verbatim (a lone ``$$...$$`` string is unwrapped).

    :raises TasksqlSyntaxError: MISSING_BODY when nothing (or only an empty string) follows.
    """
    if cur.done:
        raise missing_body(cur, cur.end_span())
    first, last = cur.take_rest()
    lone_dollar_string = first is last and first.dollar_quoted
    text = (first.text if lone_dollar_string else cur.text_of(first, last)).strip()
    if not text:
        raise missing_body(cur, first)
    _check_blocks(cur, first, last)
    return SqlBody(text), cur.span_of(first, last)


_BLOCK = re.compile(r"\s*BEGIN\b(?P<inner>.*)\bEND\s*;?\s*$", re.S | re.I)
_NOTHING = re.compile(r"(?:\s|;|--[^\n]*|/\*.*?\*/)*", re.S)
_IMMEDIATE = re.compile(
    r"\s*EXECUTE\s+IMMEDIATE\s+(\$(?:[A-Za-z_]\w*)?\$)(?P<script>.*)\1\s*;?\s*$", re.S | re.I
)
#: ``EXECUTE IMMEDIATE '<script>'``: one string literal, quotes inside doubled (Databend's own task
#: tests write the script so; Snowflake takes either form).
_IMMEDIATE_QUOTED = re.compile(r"\s*EXECUTE\s+IMMEDIATE\s+'(?P<script>(?:[^']|'')*)'\s*;?\s*$", re.S | re.I)


#: ``EXECUTE IMMEDIATE <expression>``: what follows IMMEDIATE, when it is no lone literal script.
_IMMEDIATE_COMPUTED = re.compile(r"\s*EXECUTE\s+IMMEDIATE\s+(?P<expr>\S.*?)\s*;?\s*$", re.S | re.I)


#: A ``BEGIN`` that opens a block (not ``BEGIN TRANSACTION``, ``BEGIN WORK`` or ``BEGIN;``).
_OPENS_BLOCK = re.compile(
    r"(?:\s|--[^\n]*|/\*.*?\*/)*BEGIN\b(?!\s+(?:TRANSACTION|WORK)\b)(?!\s*;)", re.S | re.I
)


def immediate_script(text: str) -> tuple[str, int] | None:
    """The script of ``EXECUTE IMMEDIATE $$ <script> $$`` (any dollar tag) or of ``EXECUTE
    IMMEDIATE '<script>'`` (a string literal: its value) and its offset in ``text``; None when
    ``text`` is not such a statement (a script computed by an expression is left to the run)."""
    m = _IMMEDIATE.match(text)
    if m is not None:
        return m.group("script"), m.start("script")
    q = _IMMEDIATE_QUOTED.match(text)
    return None if q is None else (q.group("script").replace("''", "'"), q.start("script"))


def computed_script(text: str) -> tuple[str, int] | None:
    """The expression of a body ``EXECUTE IMMEDIATE <expression>`` whose script is computed, as
    Databend allows (``EXECUTE IMMEDIATE 'SELECT ' || 'x'``: "scripts that are not a string literal
    are left to runtime"), and its offset in ``text``; None when ``text`` is no such statement: a
    literal script (:func:`immediate_script`), a variable (``:v``, ``$v``: Snowflake Scripting's)
    or a statement with binds (``USING (...)``)."""
    if immediate_script(text) is not None:
        return None
    m = _IMMEDIATE_COMPUTED.match(text)
    if m is None:
        return None
    expr = m.group("expr")
    if expr.startswith((":", "$")) or re.search(r"\bUSING\s*\(", expr, re.I):
        return None
    return expr, m.start("expr")


def body_statements(text: str) -> list[tuple[str, int]]:
    """The statements a SQL body runs, each with its offset in ``text``: the statements of a
    ``BEGIN ... END`` block, of the script of ``EXECUTE IMMEDIATE $$ ... $$`` (a block or
    statements), or ``text`` itself.

    :raises TasksqlSyntaxError: when a script cannot be tokenized (spans relative to its text).
    """
    from tasksql.sql.split import split

    immediate = immediate_script(text)
    if immediate is not None:
        script, at = immediate
        if not (_BLOCK.match(script) and _OPENS_BLOCK.match(script)):  # statements: each on its own
            return [(p.text, at + p.start) for p in split(script)]
        return [(piece, at + offset) for piece, offset in body_statements(script)]
    block = _BLOCK.match(text)
    if block is not None and _OPENS_BLOCK.match(text):
        inner, at = block.group("inner"), block.start("inner")
        return [(p.text, at + p.start) for p in split(inner)]
    start = len(text) - len(text.lstrip())
    return [(text.strip(), start)]


def _check_blocks(cur: Cursor, first: Token, last: Token) -> None:
    """Refuse, when the task is created (as Databend does) rather than at its first run, a
    ``BEGIN ... END`` block with no statement, written as the body or as the script of ``EXECUTE
    IMMEDIATE $$ ... $$``, and a script of ``EXECUTE IMMEDIATE`` that cannot be read: a string,
    quoted name or comment left open, or a ``BEGIN`` block never closed by ``END``."""
    script, at = cur.text_of(first, last), first.start
    immediate = immediate_script(script)
    if immediate is not None:
        script, at = immediate[0], at + immediate[1]
        _check_script(cur, script, at)
    m = _BLOCK.match(script)
    if m is not None and _NOTHING.fullmatch(m.group("inner")):
        begin = at + len(script) - len(script.lstrip())
        raise cur.error(
            "the BEGIN ... END block of the task body has no statement",
            at=cur.index.span(begin, begin + 5),
            expected=["<sql statement>;"],
            code="MISSING_BODY",
        )
    if m is not None and _OPENS_BLOCK.match(script) and not _code_before(m.group("inner")).endswith(";"):
        # Databend's and Snowflake Scripting's rule: every statement of a block ends with ';'
        end = at + m.end("inner")
        raise cur.error(
            "the last statement of the BEGIN ... END block of the task body does not end with ';':"
            " write ; before END",
            at=cur.index.span(end, end + 3),
            expected=[";"],
        )


def _in_quotes(text: str, start: int, at: int) -> bool:
    """Whether ``at`` is inside a string or quoted name opened after ``start`` on its line."""
    return bool(text.count("'", start, at) % 2 or text.count('"', start, at) % 2)


def _code_before(text: str) -> str:
    """The last character of ``text`` that is code: not white space, not in a comment at its end
    ("" when there is none). Only the end is read, by index (no copies): linear in what it skips."""
    end = len(text)
    while True:
        while end > 0 and text[end - 1].isspace():
            end -= 1
        if text.endswith("*/", 0, end) and (opened := text.rfind("/*", 0, end - 2)) >= 0:
            end = opened
            continue
        line_start = text.rfind("\n", 0, end) + 1
        comment = text.find("--", line_start, end)
        while comment >= 0 and _in_quotes(text, line_start, comment):
            comment = text.find("--", comment + 2, end)  # inside a string: look further along the line
        if comment >= 0:
            end = comment
            continue
        return text[end - 1] if end > 0 else ""


def _check_script(cur: Cursor, script: str, at: int) -> None:
    """The script of ``EXECUTE IMMEDIATE`` (at offset ``at`` of the source) reads as statements."""
    from tasksql.sql.split import split

    try:
        split(script)
    except TasksqlError as err:
        if err.span is None:
            raise
        raise cur.error(
            f"the script of EXECUTE IMMEDIATE cannot be read: {err.message}",
            at=cur.index.span(at + err.span.start, at + err.span.end),
            expected=err.expected,
            code=err.code,
        ) from None
    opened = _OPENS_BLOCK.match(script)
    if opened is not None and _BLOCK.match(script) is None:
        begin = at + opened.end() - len("BEGIN")
        raise cur.error(
            "the BEGIN block of the script of EXECUTE IMMEDIATE is never closed by END",
            at=cur.index.span(begin, begin + len("BEGIN")),
            expected=["END;"],
        )


def reads_back_as_body(text: str) -> bool:
    """Whether ``AS <text>`` parses back to exactly ``text`` as one task body.

    Linear and cheap for a body of a megabyte: the scanner finds where the statement ends (and
    stops at a second one) and only the body's first token is looked at (a body that is one
    dollar-quoted string would be unwrapped). Text the scanner cannot read is dollar-quoted.
    """
    from tasksql.sql import scan
    from tasksql.sql.lazy_body import dollar_string_value
    from tasksql.sql.split import leading_pieces, piece_tokens

    prefix = "ALTER TASK t MODIFY AS "
    source = prefix + text
    try:
        pieces = leading_pieces(source, 2)
        if len(pieces) != 1 or pieces[0].start != 0 or pieces[0].unclosed is not None:
            return False  # split apart, or a lone BEGIN that would open a block
        if not text or pieces[0].text[len(prefix) :] != text:
            return False  # white space or comments around it, or nothing
        first = scan.skip_gap(source, len(prefix))
        if source[first] != "$" or scan.dollar_tag_at(source, first) is not None:
            return dollar_string_value(source, first, len(source)) is None
        # a $ that opens no identifier-tagged string: the tokenizer decides what it opens
        body = [t for t in piece_tokens(source, pieces[0]) if t.start >= len(prefix)]
    except (TasksqlError, scan.ScanError):
        return False
    return not (len(body) == 1 and body[0].dollar_quoted)


def parse_procedure(cur: Cursor) -> ProcedureBody | ClassBody | SqlBody:
    """After ``PROCEDURE``: ``name [WITH (args)]``, ``FROM CLASS c [WITH (args)]``, or VoltDB's
    system procedure ``@AdHoc WITH ('<sql>')``."""
    if cur.accept("FROM", "CLASS"):
        path = parse_class_path(cur)
        return ClassBody(path, _with_args(cur))
    at, word = cur.peek(), cur.peek(1)
    if at is not None and at.text == "@" and word is not None and word.start == at.end:
        return _system_procedure(cur)
    name, _ = parse_name(cur, "procedure name", reserved_ok=True)
    return ProcedureBody(procedure=name, args=_with_args(cur))


def _system_procedure(cur: Cursor) -> SqlBody:
    """VoltDB's ``PROCEDURE @AdHoc WITH ('<sql>')``: the task runs that SQL, as if written ``AS
    <sql>`` (several statements, as VoltDB runs them: one transaction, a ``BEGIN ... END`` script).
    Other system procedures (``@Statistics``, ``@SnapshotSave``, ...) have no counterpart."""
    at = cur.next()
    word = cur.next()
    if word.kind is not TokenKind.WORD or word.upper != "ADHOC":
        raise cur.error(
            f"@{word.text} is a VoltDB system procedure tasksql does not have: a task may run"
            " @AdHoc WITH ('<sql>'), a procedure of its warehouse, or AS <sql>",
            at=cur.span_of(at, word),
            code="NOT_SUPPORTED",
            cls=NotSupportedError,
        )
    if not cur.accept("WITH", "("):
        raise cur.unexpected(["WITH ('<sql>')"], "after PROCEDURE @AdHoc")
    sql = cur.peek()
    if sql is None or sql.kind is not TokenKind.STRING:
        raise cur.unexpected(["'<sql>'"], "in PROCEDURE @AdHoc WITH (...)")
    cur.pos += 1
    if not cur.accept(")"):
        raise cur.unexpected(["')'"], "after the SQL of @AdHoc (tasksql binds no parameters to it)")
    from tasksql.sql.split import split

    try:
        statements = [p.text for p in split(sql.text)]
    except TasksqlError as err:
        raise cur.error(f"the SQL of @AdHoc cannot be read: {err.message}", at=sql, code=err.code) from None
    if not statements:
        raise missing_body(cur, sql)
    if len(statements) == 1:
        return SqlBody(statements[0])
    return SqlBody("BEGIN\n" + "".join(f"  {text};\n" for text in statements) + "END")


def parse_class_scheduler(cur: Cursor) -> ClassBody:
    """After a top-level ``FROM CLASS``: ``c [WITH (args)]`` (the class schedules and acts)."""
    path = parse_class_path(cur)
    return ClassBody(path, _with_args(cur), schedules=True)


def _with_args(cur: Cursor) -> tuple[str, ...]:
    if cur.at("WITH", "("):
        cur.pos += 1
        return parse_literal_list(cur)
    return ()


def parse_maintenance(cur: Cursor, type_tok: Token) -> MaintenanceBody:
    """After Ocient's ``TYPE``: ``kind [LOCATION SYSTEM | CLUSTER c | NODE n] [OPTIONS k = v, ...]``."""
    tok = cur.peek()
    if (
        tok is None
        or tok.kind not in (TokenKind.WORD, TokenKind.STRING)
        or tok.text.lower() not in _MAINTENANCE
    ):
        raise cur.error(
            f"expected a task type ({', '.join(_MAINTENANCE)}), found {describe(tok)}",
            at=tok,
            expected=list(_MAINTENANCE),
        )
    cur.pos += 1
    kind = MaintenanceKind(tok.text.lower())
    location, location_name = LocationKind.SYSTEM, None
    options: tuple[tuple[str, str], ...] = ()
    seen: dict[str, Token] = {}
    while cur.at_word("LOCATION", "OPTIONS"):
        clause = cur.next()
        if clause.upper in seen:
            raise duplicate(cur, clause.upper, clause)
        seen[clause.upper] = clause
        if clause.upper == "LOCATION":
            location, location_name = _location(cur, kind)
        else:
            options = _options(cur, kind)
    return MaintenanceBody(kind=kind, location=location, location_name=location_name, options=options)


def _location(cur: Cursor, kind: MaintenanceKind) -> tuple[LocationKind, str | None]:
    tok = cur.peek()
    if not cur.accept_word("SYSTEM", "CLUSTER", "NODE"):
        raise cur.unexpected(["SYSTEM", "CLUSTER <cluster>", "NODE <node>"], "after LOCATION")
    assert tok is not None
    location = LocationKind(tok.upper)
    if location is LocationKind.SYSTEM:
        return location, None
    if location is LocationKind.NODE and kind is MaintenanceKind.REBALANCE:
        # rebalance spreads work over nodes: it needs several (rebuild and check_disk act on one)
        raise cur.error(
            f"a {kind.value} task runs on the SYSTEM or a CLUSTER, not on a NODE",
            at=tok,
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    name = cur.peek()
    if name is None or name.kind not in (TokenKind.WORD, TokenKind.IDENT, TokenKind.STRING):
        raise cur.error(
            f"expected a {tok.text.lower()} name, found {describe(name)}",
            at=name,
            expected=[f"<{tok.text.lower()} name>"],
            code="MISSING_NAME",
        )
    cur.pos += 1
    return location, name.text


#: Options whose value names what the task acts on (an empty one is refused), and what they name.
_NAMING_OPTIONS = {"table_id": "table to rebuild", "storage_ids": "storage ids to check"}
#: The options of each task type, as Ocient documents them (``node`` and ``segment_groups`` are
#: accepted and do not limit anything in tasksql: see docs/sql-reference.md); a misspelt option
#: would act on everything instead of what it meant to limit, so an unknown one is refused.
_TYPE_OPTIONS: dict[MaintenanceKind, tuple[str, ...]] = {
    MaintenanceKind.REBUILD: ("node", "segment_groups", "table_id"),
    MaintenanceKind.CHECK_DISK: ("fix", "sample", "only_unhealthy", "storage_ids"),
    MaintenanceKind.REBALANCE: (),
}
#: Options whose value is a boolean (Ocient's ``true`` / ``false``).
_FLAGS = frozenset({"fix", "sample", "only_unhealthy"})
_FLAG_VALUES = frozenset({"true", "false", "1", "0", "yes", "no"})


def _options(cur: Cursor, kind: MaintenanceKind) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    keys: set[str] = set()
    while True:
        key_tok = cur.peek()
        if key_tok is None or key_tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.error(
                f"expected an option name, found {describe(key_tok)}",
                at=key_tok,
                expected=["<option> = <value>"],
            )
        cur.pos += 1
        key = key_tok.text.lower()
        known = _TYPE_OPTIONS[kind]
        if key not in known:
            takes = f"takes {', '.join(known)}" if known else "takes no options"
            raise cur.error(
                f"unknown option {key} for a {kind.value} task: it {takes}",
                at=key_tok,
                expected=list(known),
                code="UNKNOWN_OPTION",
                cls=ValidationError,
            )
        if key in keys:
            raise duplicate(cur, f"option {key}", key_tok)
        keys.add(key)
        cur.expect("=")
        value_tok = cur.peek()
        value = parse_literal(cur, "an option value")
        if key in _NAMING_OPTIONS and value.strip() == "''":
            # an empty name would limit nothing: the task would act on every table or object
            raise cur.error(
                f"option {key} names nothing: write the {_NAMING_OPTIONS[key]}, or leave the option out",
                at=value_tok,
                code="INVALID_VALUE",
                cls=ValidationError,
            )
        if key in _FLAGS and value.strip().strip("'").lower() not in _FLAG_VALUES:
            raise cur.error(
                f"option {key} is true or false, not {value.strip()}",
                at=value_tok,
                expected=["true", "false"],
                code="INVALID_VALUE",
                cls=ValidationError,
            )
        out.append((key, value))
        if not (cur.at(",") and _option_follows(cur)):
            return tuple(out)
        cur.pos += 1


def _option_follows(cur: Cursor) -> bool:
    """After a comma: another ``key = value`` follows."""
    key, eq = cur.peek(1), cur.peek(2)
    return (
        key is not None
        and key.kind in (TokenKind.WORD, TokenKind.IDENT)
        and eq is not None
        and (eq.kind is TokenKind.EQ)
    )
