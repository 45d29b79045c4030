"""``CREATE TASK`` in all five spellings, and ``CREATE TASK ... CLONE``.

One union grammar (clauses in any order where that is unambiguous)::

    CREATE [OR REPLACE | OR ALTER] TASK [IF NOT EXISTS] [<name>]
        { <property> [=] <value>          -- see properties.py; SCHEDULE, TIMEOUT, INTO, ON ERROR, ...
        | <session parameter> = <literal>
        | [WITH] TAG ( ... ) | WITH CONTACT ( ... )
        | ON SCHEDULE <schedule> | ENABLE | DISABLE
        | AFTER <task> [, ...]
        | FROM CLASS <class> [WITH (...)]            -- VoltDB action scheduler: the whole body
        | PROCEDURE { <proc> | FROM CLASS <class> } [WITH (...)]
        | TYPE <kind> [LOCATION ...] [OPTIONS ...]    -- Ocient
        } ...
        [ WHEN <condition> ]                         -- verbatim up to the top-level AS
        [ AS <sql> ]                                 -- verbatim to the end of the statement

The spelling (:class:`~tasksql.model.Spelling`) is decided by what was written; see
:func:`spelling_of`.
"""

from __future__ import annotations

from tasksql.errors import Span, ValidationError
from tasksql.model import (
    MAX_PREDECESSORS,
    Body,
    ClassBody,
    OnError,
    QualifiedName,
    Spelling,
    TaskDef,
)
from tasksql.sql.assignments import Assignments
from tasksql.sql.bodies import (
    missing_body,
    parse_class_scheduler,
    parse_maintenance,
    parse_procedure,
    parse_sql_body,
)
from tasksql.sql.common import CreatePrefix, expect_end, parse_if_not_exists
from tasksql.sql.cursor import Cursor, conflicting, describe, duplicate
from tasksql.sql.names import parse_name, parse_name_list
from tasksql.sql.properties import match_property
from tasksql.sql.schedule_values import check_schedule
from tasksql.sql.statements import CloneTask, CreateTask, Statement
from tasksql.sql.tokens import Token, TokenKind

#: What may follow a task name (for syntax errors).
CLAUSES_EXPECTED = ("AS", "AFTER", "WHEN", "<property> = <value>")


def spelling_of(flags: set[str]) -> Spelling:
    """The spelling implied by the clauses written, strongest evidence first.

    VOLTDB: ON SCHEDULE, PROCEDURE, top-level FROM CLASS, ENABLE/DISABLE, ON ERROR, RUN ON, AS USER;
    OCIENT: TYPE; TIMEPLUS: SCHEDULE without ``=``, TIMEOUT, INTO; DATABEND: an unquoted interval
    or unquoted USING CRON after SCHEDULE, a warehouse or predecessors (``AFTER 'a', 'b'``) written
    as strings; otherwise SNOWFLAKE.
    """
    for flag, spelling in (
        ("voltdb", Spelling.VOLTDB),
        ("ocient", Spelling.OCIENT),
        ("timeplus", Spelling.TIMEPLUS),
        ("databend", Spelling.DATABEND),
    ):
        if flag in flags:
            return spelling
    return Spelling.SNOWFLAKE


class _TaskClauses:
    """The clauses of one CREATE TASK, read one at a time."""

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.props = Assignments(cur)
        self.after: list[tuple[QualifiedName, Span]] = []
        self.after_tok: Token | None = None
        self.when: str | None = None
        self.when_tok: Token | None = None
        self.when_span: Span | None = None
        self.body: Body | None = None
        self.body_tok: Token | None = None
        self.body_span: Span | None = None
        self.enabled: bool | None = None
        self.enabled_tok: Token | None = None

    def read_one(self) -> None:
        cur = self.cur
        tok = cur.peek()
        assert tok is not None
        if tok.kind is TokenKind.COMMA:  # Snowflake separates session parameters with commas
            cur.pos += 1
        elif tok.is_word("AS") and not cur.at("AS", "USER"):
            self._sql_body()
        elif tok.is_word("WHEN"):
            self._when()
        elif tok.is_word("AFTER"):
            self._after()
        elif tok.is_word("PROCEDURE"):
            cur.flags.add("voltdb")
            cur.pos += 1
            self._set_body(parse_procedure(cur), tok)
        elif cur.at("FROM", "CLASS"):
            cur.flags.add("voltdb")
            cur.pos += 2
            self._set_body(parse_class_scheduler(cur), tok)
        elif tok.is_word("TYPE") and not cur.at("TYPE", "="):
            cur.flags.add("ocient")
            cur.pos += 1
            self._set_body(parse_maintenance(cur, tok), tok)
        elif tok.is_word("ENABLE", "DISABLE"):
            self._enable(tok)
        elif cur.at("WITH", "TAG") or cur.at("TAG", "("):
            cur.pos += 2 if tok.is_word("WITH") else 1
            self.props.read_tags(tok)
        elif cur.at("WITH", "CONTACT"):
            cur.pos += 2
            self.props.read_contacts(tok)
        else:
            self._property(tok)

    def definition(self, name: QualifiedName, spelling: Spelling) -> TaskDef:
        """The TaskDef the clauses describe (VoltDB spelling defaults to ON ERROR STOP)."""
        assert self.body is not None
        values = dict(self.props.values)
        if values.get("into_create") and values.get("into") is None:
            raise self.cur.error(
                "CREATE IF NOT EXISTS creates the INTO table: write it after INTO <warehouse>.<table>",
                at=self.props.keys["CREATE_IF_NOT_EXISTS"],
                code="INTO_CREATE_WITHOUT_INTO",
                cls=ValidationError,
            )
        if spelling is Spelling.VOLTDB:
            values.setdefault("on_error", OnError.STOP)
        if spelling is Spelling.DATABEND and len(self.after) > 1:
            values.setdefault("after_any_graph", True)  # Databend's AFTER (see model/joins.py)
        return TaskDef(
            name=name,
            body=self.body,
            after=tuple(n for n, _ in self.after),
            when=self.when,
            session_params=tuple(self.props.session_params.items()),
            tags=tuple((self.props.tags or {}).items()),
            contacts=tuple((self.props.contacts or {}).items()),
            **values,
        )

    def spans(self) -> dict[str, Span]:
        """Where each field was written: properties by field name, ``after.<i>``, ``when``, ``body``."""
        spans = dict(self.props.spans)
        spans.update({f"after.{i}": span for i, (_, span) in enumerate(self.after)})
        if self.body_span is not None:
            spans["body"] = self.body_span
        if self.when_span is not None:
            spans["when"] = self.when_span
        return spans

    def _property(self, tok: Token) -> None:
        cur = self.cur
        prop = match_property(cur)
        if prop is not None and prop.in_create:
            self.props.read(prop)
        elif tok.kind is TokenKind.WORD and cur.at_kind(TokenKind.WORD) and matches_eq(cur.peek(1)):
            self.props.read_session_param()
        else:
            raise cur.unexpected(CLAUSES_EXPECTED)

    def _sql_body(self) -> None:
        as_tok = self.cur.next()
        if self.cur.at("SETTINGS", "("):
            self._statement_settings()
        body, span = parse_sql_body(self.cur, as_tok)
        self._set_body(body, as_tok)
        self.body_span = span

    def _statement_settings(self) -> None:
        """Databend's ``SETTINGS ( <setting> = <value> [, ...] ) <statement>`` in front of the body
        (docs.databend.com SETTINGS Clause; databend src/query/ast/src/parser/statement.rs
        ``query_setting``): the settings of the statement, which is the whole body here, so they
        are the task's session parameters, read and checked as those are (an empty list sets
        nothing, as in Databend)."""
        cur = self.cur
        cur.pos += 1  # SETTINGS
        cur.flags.add("databend")
        cur.expect("(")
        while not cur.accept(")"):
            tok = cur.peek()
            if tok is None or tok.kind is not TokenKind.WORD or not matches_eq(cur.peek(1)):
                raise cur.error(
                    f"expected <setting> = <value> in SETTINGS ( ... ), found {describe(tok)}",
                    at=tok,
                    expected=["<setting> = <value>", ")"],
                )
            self.props.read_session_param()
            if not cur.accept(","):
                cur.expect(")")
                break
        if cur.done:
            raise cur.error(
                "expected the statement the SETTINGS apply to, found the end of the statement",
                at=cur.end_span(),
                expected=["<statement>"],
            )

    def _set_body(self, body: Body, tok: Token) -> None:
        cur = self.cur
        if self.body is not None and self.body_tok is not None:
            written = {self.body_tok.upper, tok.upper}
            if written == {"FROM", "PROCEDURE"}:
                raise conflicting(
                    cur,
                    "FROM CLASS (a class that schedules and acts) cannot be used together with PROCEDURE",
                    tok,
                )
            raise duplicate(cur, "the task body", tok)
        self.body, self.body_tok = body, tok
        self.body_span = cur.span_since(tok)

    def _when(self) -> None:
        cur = self.cur
        when_tok = cur.next()
        if self.when_tok is not None:
            raise duplicate(cur, "WHEN", when_tok)
        k = depth = 0
        while (t := cur.peek(k)) is not None:
            if t.kind in (TokenKind.LPAREN, TokenKind.LBRACKET):
                depth += 1
            elif t.kind in (TokenKind.RPAREN, TokenKind.RBRACKET):
                depth = max(0, depth - 1)
            elif depth == 0 and t.is_word("AS"):
                break
            k += 1
        if k == 0:
            raise cur.error("expected a condition after WHEN", at=cur.peek(), expected=["<condition>"])
        if t is None:
            raise missing_body(cur)
        first, last = cur.tokens[cur.pos], cur.tokens[cur.pos + k - 1]
        self.when = cur.text_of(first, last).strip()
        self.when_span = cur.span_of(first, last)
        self.when_tok = when_tok
        cur.pos += k

    def _after(self) -> None:
        cur = self.cur
        tok = cur.next()
        if self.after_tok is not None:
            raise duplicate(cur, "AFTER", tok)
        self.after_tok = tok
        first = cur.peek()
        if first is not None and first.kind is TokenKind.STRING:
            cur.flags.add("databend")  # Databend names predecessors by strings, Snowflake by names
        seen: set[QualifiedName] = set()
        for name, span in parse_name_list(cur, "predecessor task name"):
            if name in seen:
                raise duplicate(cur, f"predecessor {name}", span)
            seen.add(name)
            self.after.append((name, span))

    def _enable(self, tok: Token) -> None:
        cur = self.cur
        cur.flags.add("voltdb")
        cur.pos += 1
        if self.enabled_tok is not None:
            raise duplicate(cur, "ENABLE/DISABLE", tok)
        self.enabled, self.enabled_tok = tok.is_word("ENABLE"), tok


def matches_eq(tok: Token | None) -> bool:
    return tok is not None and tok.kind is TokenKind.EQ


def _validate(cur: Cursor, name: QualifiedName, c: _TaskClauses) -> None:
    """Rules between clauses (the ones that need no catalog)."""
    values, tokens = c.props.values, c.props.field_tokens
    schedule_tok = tokens.get("schedule")
    if isinstance(c.body, ClassBody) and c.body.schedules and schedule_tok is not None:
        raise conflicting(
            cur,
            "FROM CLASS (a class that schedules and acts) cannot be used together with a SCHEDULE",
            schedule_tok,
        )
    if c.after and schedule_tok is not None:
        raise cur.error(
            "a task with AFTER runs when its predecessors finish and cannot also have a SCHEDULE",
            at=schedule_tok,
            code="CHILD_WITH_SCHEDULE",
            cls=ValidationError,
        )
    finalize_tok = tokens.get("finalize")
    if finalize_tok is not None and (schedule_tok is not None or c.after):
        raise cur.error(
            "a finalizer task (FINALIZE) runs after its root's graph and cannot have a SCHEDULE or AFTER",
            at=finalize_tok,
            code="FINALIZER_WITH_SCHEDULE",
            cls=ValidationError,
        )
    for pred, span in c.after:
        if name.name and pred == name:
            raise cur.error(
                f"task {name} cannot run after itself", at=span, code="SELF_DEPENDENCY", cls=ValidationError
            )
    if name.name and values.get("finalize") == name:
        raise cur.error(
            f"task {name} cannot be its own finalizer",
            at=c.props.spans["finalize"],
            code="SELF_DEPENDENCY",
            cls=ValidationError,
        )
    if len(c.after) > MAX_PREDECESSORS:
        raise cur.error(
            f"a task can have at most {MAX_PREDECESSORS} predecessors, this one lists {len(c.after)}",
            at=c.after[MAX_PREDECESSORS][1],
            code="TOO_MANY_PREDECESSORS",
            cls=ValidationError,
        )
    if c.props.schedule is not None:
        check_schedule(cur, c.props.schedule, values.get("dst_policy"))


def parse_create_task(cur: Cursor, prefix: CreatePrefix) -> Statement:
    """After ``CREATE [OR REPLACE | OR ALTER] TASK``."""
    if_not_exists = parse_if_not_exists(cur, prefix)
    spans: dict[str, Span] = {}
    if cur.at_word("TYPE") and not cur.at("TYPE", "="):
        name, name_given = QualifiedName(""), False
    else:
        name_tok = cur.peek()
        name, spans["name"] = parse_name(cur)
        name_given = True
        if cur.at("="):  # "CREATE TASK SCHEDULE_X = ...": a property where the name should be
            raise cur.error(
                "expected a task name before the properties",
                at=name_tok,
                expected=["<task name>"],
                code="MISSING_NAME",
            )
    if cur.accept_word("CLONE"):
        return _clone(cur, prefix, name, spans, if_not_exists)
    clauses = _TaskClauses(cur)
    while not cur.done:
        clauses.read_one()
    if clauses.body is None:
        raise missing_body(cur)
    _validate(cur, name, clauses)
    spelling = spelling_of(cur.flags)
    spans.update(clauses.spans())
    return CreateTask(
        span=cur.statement_span,
        text=cur.statement_text,
        spans=spans,
        definition=clauses.definition(name, spelling),
        spelling=spelling,
        or_replace=prefix.or_replace is not None,
        or_alter=prefix.or_alter is not None,
        if_not_exists=if_not_exists,
        enabled=clauses.enabled,
        name_given=name_given,
    )


def _clone(
    cur: Cursor, prefix: CreatePrefix, name: QualifiedName, spans: dict[str, Span], if_not_exists: bool
) -> Statement:
    if prefix.or_alter is not None:
        raise conflicting(cur, "CREATE OR ALTER TASK cannot CLONE; use CREATE OR REPLACE", prefix.or_alter)
    source, spans["source"] = parse_name(cur, "source task name")
    cur.accept("COPY", "GRANTS")
    expect_end(cur, ["COPY GRANTS"])
    return CloneTask(
        span=cur.statement_span,
        text=cur.statement_text,
        spans=spans,
        name=name,
        source=source,
        or_replace=prefix.or_replace is not None,
        if_not_exists=if_not_exists,
    )
