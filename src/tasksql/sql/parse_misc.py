"""The smaller task statements: DROP, SHOW [TERSE] TASKS, SHOW CREATE TASK, DESC[RIBE] TASK,
EXECUTE TASK, SYSTEM PAUSE/RESUME TASK, CANCEL TASK; and SHOW QUERIES, CANCEL QUERY."""

from __future__ import annotations

from tasksql.errors import Span
from tasksql.model import QualifiedName
from tasksql.sql.common import expect_end, parse_if_exists
from tasksql.sql.cursor import Cursor, conflicting, duplicate
from tasksql.sql.names import is_name_start, parse_name
from tasksql.sql.parse_window import BackfillWindow, parse_for_window
from tasksql.sql.statements import (
    AlterTask,
    CancelQuery,
    CancelTask,
    DescribeTask,
    DropTask,
    ExecuteTask,
    Resume,
    ShowCreateTask,
    ShowQueries,
    ShowTasks,
    Statement,
    Suspend,
)
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_int, parse_json, parse_string


def parse_drop_task(cur: Cursor) -> Statement:
    """After ``DROP TASK``: ``[IF EXISTS] name`` or VoltDB's ``name IF EXISTS``."""
    before = cur.peek()
    if_exists = parse_if_exists(cur)
    name, span = parse_name(cur)
    after = cur.peek()
    if parse_if_exists(cur):
        if if_exists:
            raise duplicate(cur, "IF EXISTS", after or before or cur.end_span())
        if_exists = True
    expect_end(cur, [] if if_exists else ["IF EXISTS"])
    return DropTask(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name, if_exists=if_exists
    )


def _named(cur: Cursor) -> tuple[QualifiedName, dict[str, Span]]:
    name, span = parse_name(cur)
    expect_end(cur)
    return name, {"name": span}


def parse_show_create_task(cur: Cursor) -> Statement:
    name, spans = _named(cur)
    return ShowCreateTask(span=cur.statement_span, text=cur.statement_text, spans=spans, name=name)


def parse_describe_task(cur: Cursor) -> Statement:
    name, spans = _named(cur)
    return DescribeTask(span=cur.statement_span, text=cur.statement_text, spans=spans, name=name)


def parse_cancel_task(cur: Cursor) -> Statement:
    """After ``CANCEL TASK``: ``name``, ``'name'`` or Ocient's ``('name')``."""
    paren = cur.accept("(")
    name, span = parse_name(cur)
    if paren:
        cur.expect(")")
    expect_end(cur)
    return CancelTask(span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name)


def parse_show_queries(cur: Cursor) -> Statement:
    """After ``SHOW QUERIES``: nothing."""
    expect_end(cur)
    return ShowQueries(span=cur.statement_span, text=cur.statement_text)


def parse_cancel_query(cur: Cursor) -> Statement:
    """After ``CANCEL QUERY``: ``'<query id>'``."""
    tok = cur.peek()
    query_id = parse_string(cur, "a query id in quotes")
    expect_end(cur)
    spans = {"query_id": cur.span_of(tok)} if tok is not None else {}
    return CancelQuery(span=cur.statement_span, text=cur.statement_text, spans=spans, query_id=query_id)


def parse_system_task(cur: Cursor, verb: str) -> Statement:
    """After Timeplus' ``SYSTEM PAUSE TASK`` / ``SYSTEM RESUME TASK``: an ALTER TASK."""
    name, spans = _named(cur)
    spelling = f"SYSTEM {verb} TASK"
    action = Suspend(spelling=spelling) if verb == "PAUSE" else Resume(spelling=spelling)
    return AlterTask(span=cur.statement_span, text=cur.statement_text, spans=spans, name=name, action=action)


def parse_execute_task(cur: Cursor) -> Statement:
    """After ``EXECUTE TASK``: ``name [USING CONFIG = <json>] [RETRY LAST | RETRY GRAPH RUN GROUP 'id' |
    FOR WINDOW '<from>' TO '<to>' [STEP '<interval>'] [FORCE]]``."""
    name, span = parse_name(cur)
    using_config: str | None = None
    retry_last = False
    retry_group: str | None = None
    window: BackfillWindow | None = None
    seen: dict[str, Token] = {}
    while not cur.done:
        tok = cur.peek()
        assert tok is not None
        if cur.accept("USING", "CONFIG"):
            key = "USING CONFIG"
            cur.expect("=")
            using_config = parse_json(cur, "USING CONFIG")
        elif cur.accept("RETRY", "LAST"):
            key, retry_last = "RETRY", True
        elif cur.accept("RETRY", "GRAPH", "RUN", "GROUP"):
            key, retry_group = "RETRY", parse_string(cur, "a graph run group id")
        elif cur.accept("FOR", "WINDOW"):
            key, window = "FOR WINDOW", parse_for_window(cur)
        else:
            raise cur.unexpected(
                ["USING CONFIG", "RETRY LAST", "RETRY GRAPH RUN GROUP", "FOR WINDOW"], "in EXECUTE TASK"
            )
        if key in seen:
            raise duplicate(cur, key, tok)
        seen[key] = tok
    if window is not None and "RETRY" in seen:
        raise conflicting(cur, "FOR WINDOW runs new runs; it cannot RETRY", seen["RETRY"])
    return ExecuteTask(
        span=cur.statement_span,
        text=cur.statement_text,
        spans={"name": span},
        name=name,
        using_config=using_config,
        retry_last=retry_last,
        retry_group=retry_group,
        window=window,
    )


_SHOW_CLAUSES = ("LIKE", "IN", "STARTS WITH", "ROOT ONLY", "LIMIT", "WHERE")


def parse_show_tasks(cur: Cursor, *, terse: bool) -> Statement:
    """After ``SHOW [TERSE] TASKS``: LIKE, IN, STARTS WITH, ROOT ONLY, LIMIT [FROM], in any order,
    then Databend's ``WHERE <condition>`` (the rest of the statement, kept verbatim)."""
    values: dict[str, object] = {}
    seen: dict[str, Token] = {}
    while not cur.done:
        tok = cur.peek()
        assert tok is not None
        if cur.accept_word("LIKE"):
            key, values["like"] = "LIKE", parse_string(cur, "a LIKE pattern")
        elif cur.accept_word("IN"):
            key, values["in_scope"] = "IN", _scope(cur)
        elif cur.accept_word("FROM"):  # Timeplus: SHOW TASKS FROM <database>, as IN <database>
            key, values["in_scope"] = "IN", ("DATABASE", _database(cur))
        elif cur.accept("STARTS", "WITH"):
            key, values["starts_with"] = "STARTS WITH", parse_string(cur, "a name prefix")
        elif cur.accept("ROOT", "ONLY"):
            key, values["root_only"] = "ROOT ONLY", True
        elif cur.accept_word("WHERE"):
            if cur.done:
                raise cur.error("expected a condition after WHERE", at=cur.end_span, expected=["<condition>"])
            first, last = cur.take_rest()
            key, values["where"] = "WHERE", cur.text_of(first, last)
        elif cur.accept_word("LIMIT"):
            key, values["limit"] = "LIMIT", parse_int(cur, "LIMIT", minimum=0)
            if cur.accept_word("FROM"):
                values["from_name"] = parse_string(cur, "a name to start from")
        else:
            raise cur.unexpected(_SHOW_CLAUSES, "in SHOW TASKS")
        if key in seen:
            raise duplicate(cur, key, tok)
        seen[key] = tok
    return ShowTasks(span=cur.statement_span, text=cur.statement_text, terse=terse, **values)  # type: ignore[arg-type]


#: Words that begin the next clause of SHOW TASKS, not a database named after IN or FROM.
_SHOW_WORDS = frozenset({"LIKE", "IN", "STARTS", "ROOT", "LIMIT", "WHERE", "FROM"})


def _database(cur: Cursor) -> QualifiedName:
    """A database name after Timeplus's ``SHOW TASKS FROM`` (or a bare ``IN``): a word that begins
    no clause is a name, keywords included (Timeplus's own database is named ``default``)."""
    tok, nxt = cur.peek(), cur.peek(1)
    dotted = nxt is not None and nxt.text == "."
    if tok is not None and tok.kind is TokenKind.WORD and tok.upper not in _SHOW_WORDS and not dotted:
        cur.pos += 1
        return QualifiedName.of(tok.text.lower())
    name, _ = parse_name(cur, "database name")
    if len(name.parts) > 1:
        raise cur.error("too many name parts for a database", at=cur.previous(), code="INVALID_NAME")
    return name


def _scope(cur: Cursor) -> tuple[str, QualifiedName | None]:
    if cur.accept_word("ACCOUNT"):
        return "ACCOUNT", None
    kind_tok = cur.accept_word("DATABASE", "SCHEMA")
    kind = kind_tok.upper if kind_tok else "DATABASE"
    nxt = cur.peek()
    if (
        kind_tok is not None
        and kind == "DATABASE"
        and nxt is not None
        and nxt.kind is TokenKind.WORD
        and nxt.upper not in _SHOW_WORDS
    ):
        return "DATABASE", _database(cur)  # a keyword too: IN DATABASE default
    if kind_tok is not None and (not is_name_start(cur.peek()) or cur.at_word("STARTS", "ROOT", "LIMIT")):
        return kind, None
    after = cur.peek(1)
    if kind_tok is None and not (after is not None and after.text == "."):
        return "DATABASE", _database(cur)
    name, _ = parse_name(cur, f"{kind.lower()} name" if kind_tok else "database or schema name")
    if kind_tok is None and len(name.parts) == 2:
        kind = "SCHEMA"  # Snowflake's IN <db>.<schema>: a bare name of two parts names a schema
    if len(name.parts) > (1 if kind == "DATABASE" else 2):
        raise cur.error(f"too many name parts for a {kind.lower()}", at=cur.previous(), code="INVALID_NAME")
    return kind, name
