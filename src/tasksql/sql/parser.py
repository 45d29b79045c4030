"""The parser: split a script, then dispatch each statement on its leading words.

Statements that begin like a task-language statement (``CREATE TASK``, ``ALTER TASK``,
``SHOW TASKS``, ...) are parsed by the statement parsers, and a mistake in them is an error;
everything else is a :class:`~tasksql.sql.statements.Passthrough` for the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable

from tasksql.errors import TasksqlError, TasksqlSyntaxError
from tasksql.sql.common import CreatePrefix, parse_create_prefix
from tasksql.sql.cursor import Cursor, matches
from tasksql.sql.lazy_body import lazy_cursor, trusted
from tasksql.sql.parse_alter import parse_alter_task
from tasksql.sql.parse_misc import (
    parse_cancel_query,
    parse_cancel_task,
    parse_describe_task,
    parse_drop_task,
    parse_execute_task,
    parse_show_create_task,
    parse_show_queries,
    parse_show_tasks,
    parse_system_task,
)
from tasksql.sql.parse_objects import (
    parse_alter_integration,
    parse_alter_warehouse,
    parse_create_integration,
    parse_create_warehouse,
    parse_describe_integration,
    parse_drop_integration,
    parse_drop_warehouse,
    parse_show_integrations,
    parse_show_warehouses,
)
from tasksql.sql.parse_secret import (
    literal_spans,
    masked_source,
    masked_unsplit,
    parse_alter_secret,
    parse_create_secret,
    parse_describe_secret,
    parse_drop_secret,
    parse_show_secrets,
)
from tasksql.sql.parse_security import (
    parse_alter_user,
    parse_create_role,
    parse_create_user,
    parse_drop_role,
    parse_drop_user,
    parse_grant,
    parse_revoke,
    parse_show_grants,
    parse_show_roles,
    parse_use_role,
)
from tasksql.sql.parse_stream import (
    parse_create_stream,
    parse_describe_stream,
    parse_drop_stream,
    parse_show_streams,
)
from tasksql.sql.parse_task import parse_create_task
from tasksql.sql.split import HEAD_WORDS, Piece, is_task_statement, piece_tokens, split
from tasksql.sql.statements import Passthrough, Statement
from tasksql.sql.tokenizer import LineIndex
from tasksql.storable import check_sql_text

Handler = Callable[[Cursor], Statement | None]  # None: the warehouse's statement after all
CreateHandler = Callable[[Cursor, CreatePrefix], Statement | None]  # None: the warehouse's

#: Leading words -> parser (called with the cursor after those words).
STATEMENTS: dict[tuple[str, ...], Handler] = {
    ("ALTER", "TASK"): parse_alter_task,
    ("ALTER", "NOTIFICATION", "INTEGRATION"): parse_alter_integration,
    ("ALTER", "WAREHOUSE"): parse_alter_warehouse,
    ("DROP", "TASK"): parse_drop_task,
    ("DROP", "NOTIFICATION", "INTEGRATION"): parse_drop_integration,
    ("DROP", "WAREHOUSE"): parse_drop_warehouse,
    ("SHOW", "TASKS"): lambda cur: parse_show_tasks(cur, terse=False),
    ("SHOW", "TERSE", "TASKS"): lambda cur: parse_show_tasks(cur, terse=True),
    ("SHOW", "CREATE", "TASK"): parse_show_create_task,
    ("SHOW", "NOTIFICATION", "INTEGRATIONS"): parse_show_integrations,
    ("SHOW", "INTEGRATIONS"): parse_show_integrations,
    ("SHOW", "WAREHOUSES"): parse_show_warehouses,
    ("DESC", "TASK"): parse_describe_task,
    ("DESCRIBE", "TASK"): parse_describe_task,
    ("DESC", "NOTIFICATION", "INTEGRATION"): parse_describe_integration,
    ("DESCRIBE", "NOTIFICATION", "INTEGRATION"): parse_describe_integration,
    ("EXECUTE", "TASK"): parse_execute_task,
    ("SYSTEM", "PAUSE", "TASK"): lambda cur: parse_system_task(cur, "PAUSE"),
    ("SYSTEM", "RESUME", "TASK"): lambda cur: parse_system_task(cur, "RESUME"),
    ("CANCEL", "TASK"): parse_cancel_task,
    ("CANCEL", "QUERY"): parse_cancel_query,
    ("SHOW", "QUERIES"): parse_show_queries,
    ("DROP", "STREAM"): parse_drop_stream,
    ("SHOW", "STREAMS"): parse_show_streams,
    ("DESC", "STREAM"): parse_describe_stream,
    ("DESCRIBE", "STREAM"): parse_describe_stream,
    ("ALTER", "USER"): parse_alter_user,
    ("DROP", "USER"): parse_drop_user,
    ("DROP", "ROLE"): parse_drop_role,
    ("GRANT",): parse_grant,
    ("REVOKE",): parse_revoke,
    ("USE", "ROLE"): parse_use_role,
    ("SHOW", "ROLES"): parse_show_roles,
    ("SHOW", "GRANTS"): parse_show_grants,
    ("ALTER", "SECRET"): parse_alter_secret,
    ("DROP", "SECRET"): parse_drop_secret,
    ("DESC", "SECRET"): parse_describe_secret,
    ("DESCRIBE", "SECRET"): parse_describe_secret,
    ("SHOW", "SECRETS"): parse_show_secrets,
}

#: Object words after ``CREATE [OR REPLACE | OR ALTER]`` -> parser.
CREATE_STATEMENTS: dict[tuple[str, ...], CreateHandler] = {
    ("TASK",): parse_create_task,
    ("NOTIFICATION", "INTEGRATION"): parse_create_integration,
    ("WAREHOUSE",): parse_create_warehouse,
    ("STREAM",): parse_create_stream,
    ("USER",): parse_create_user,
    ("ROLE",): parse_create_role,
    ("SECRET",): parse_create_secret,
}


def _dispatch(cur: Cursor) -> Statement | None:
    """Parse with the handler the leading words select, or None for a passthrough statement."""
    if cur.at_word("CREATE"):
        k = 1  # past any OR REPLACE / OR ALTER (parse_create_prefix checks them)
        while matches(cur.peek(k), "OR") and (
            matches(cur.peek(k + 1), "REPLACE") or matches(cur.peek(k + 1), "ALTER")
        ):
            k += 2
        for words, create in _CREATE_ORDER:
            if all(matches(cur.peek(k + i), w) for i, w in enumerate(words)):
                cur.pos += 1
                prefix = parse_create_prefix(cur)
                cur.pos += len(words)
                return create(cur, prefix)
        return None
    for words, handler in _STATEMENT_ORDER:
        if cur.at(*words):
            cur.pos += len(words)
            return handler(cur)
    return None


_STATEMENT_ORDER = sorted(STATEMENTS.items(), key=lambda kv: -len(kv[0]))
_FIRST_WORDS = frozenset({"CREATE"} | {words[0] for words in STATEMENTS})
_CREATE_ORDER = sorted(CREATE_STATEMENTS.items(), key=lambda kv: -len(kv[0]))


def _may_be_ours(head: tuple[str, ...]) -> bool:
    """Whether a statement with leading words ``head`` may be one of tasksql's statements (False
    means it certainly goes to the warehouse, and is never tokenized here)."""
    if not head or head[0] not in _FIRST_WORDS:
        return False
    if len(head) >= HEAD_WORDS:
        return True  # more words than the piece kept: let the parser decide
    if head[0] == "CREATE":
        k = 1
        while head[k : k + 1] == ("OR",) and head[k + 1 : k + 2] in (("REPLACE",), ("ALTER",)):
            k += 2
        return any(head[k : k + len(words)] == words for words in CREATE_STATEMENTS)
    return any(head[: len(words)] == words for words in STATEMENTS)


def parse_piece(source: str, piece: Piece, index: LineIndex | None = None) -> Statement:
    """One statement of ``source`` (a piece from :func:`~tasksql.sql.split.split`).

    Only a statement whose leading words are those of a tasksql statement is tokenized: the text of
    any other is passed on as written (a megabyte of ``INSERT ... VALUES`` costs one scan).
    """
    if piece.unclosed is not None:
        raise Cursor(source, (), index).error(
            "this BEGIN block of the task body is never closed by END",
            at=piece.unclosed,
            expected=["END"],
        )
    if not _may_be_ours(piece.head):
        return Passthrough(span=piece.span, text=piece.text)
    stmt = _parse_lazily(source, piece, index) if is_task_statement(piece.head) else None
    if stmt is None:
        stmt = _dispatch(Cursor(source, piece_tokens(source, piece, index), index))
    return stmt if stmt is not None else Passthrough(span=piece.span, text=piece.text)


def _parse_lazily(source: str, piece: Piece, index: LineIndex | None) -> Statement | None:
    """A task statement parsed with its body untokenized (:mod:`tasksql.sql.lazy_body`): a
    megabyte of body costs a scan, not a tokenizer's pass. None when that parse may differ from
    the parse of the whole statement's tokens (its error is then left to that parse)."""
    cur = lazy_cursor(source, piece, index or LineIndex(source))
    if cur is None:
        return None
    try:
        stmt = _dispatch(cur)
    except Exception:
        if trusted(cur):
            raise
        return None
    return stmt if stmt is not None and trusted(cur) else None


def parse(text: str) -> list[Statement]:
    """Every statement of ``text``, in order; spans are absolute in ``text``.

    :raises TasksqlError: a :class:`~tasksql.errors.TasksqlSyntaxError`,
        :class:`~tasksql.errors.ValidationError` or :class:`~tasksql.errors.ScheduleError` with
        ``code``, ``span`` (line and column), ``expected`` and ``source`` set; nothing is returned
        for a script with an error anywhere.
    """
    check_sql_text(text)  # before anything reads it (the Python API passes anything)
    index = LineIndex(text)
    try:
        return [parse_piece(text, piece, index) for piece in split(text, index)]
    except TasksqlError as err:
        if err.source == text:
            err.source = masked_secrets(text, index)
        raise


def masked_secrets(text: str, index: LineIndex | None = None) -> str:
    """``text`` with the literal ``SECRET_STRING`` (and ``PASSWORD``) values of its secret
    statements masked, lines and columns unchanged (an error in any statement of the script must
    not show them, nor the shell's history file keep them); as it is when it holds none or cannot
    be split."""
    if "SECRET" not in text.upper():
        return text
    index = index or LineIndex(text)
    spans = []
    try:
        for piece in split(text, index):
            if "SECRET" in piece.head[:4]:
                spans += literal_spans(piece_tokens(text, piece, index))
    except TasksqlError:  # a quote left open: mask from the secret's opening quote on
        return masked_unsplit(text)
    return masked_source(text, spans)


def parse_one(text: str) -> Statement:
    """The one statement of ``text``.

    :raises TasksqlSyntaxError: SYNTAX_ERROR when the text holds no statement or more than one.
    """
    check_sql_text(text)
    index = LineIndex(text)
    pieces = split(text, index)
    if len(pieces) != 1:
        where = index.span(pieces[1].start, pieces[1].start + 1) if len(pieces) > 1 else index.span(0, 0)
        raise TasksqlSyntaxError(
            f"expected exactly one statement, found {len(pieces)}",
            span=where,
            expected=["one statement"],
            source=text,
        )
    return parse_piece(text, pieces[0], index)
