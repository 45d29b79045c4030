"""Names: ``[db.][schema.]name`` for tasks, plain names for warehouses, integrations and users.

Folding rules (one place for all of them):

* an unquoted identifier is folded to lower case; a double-quoted one is kept exactly;
* a name written as a string literal (``AFTER 'task_root'``, ``CANCEL TASK 'db.t'``) is read as a
  dotted name with every part folded to lower case;
* warehouse and integration names are folded to lower case however they are written.
"""

from __future__ import annotations

from tasksql.errors import Span
from tasksql.model import RESERVED_WORDS, QualifiedName, quote_ident
from tasksql.sql.cursor import Cursor, describe
from tasksql.sql.tokens import Token, TokenKind


def _missing(cur: Cursor, what: str, tok: Token | None) -> Exception:
    found = describe(tok)
    hint = ""
    if tok is not None and tok.kind is TokenKind.WORD and tok.text.lower() in RESERVED_WORDS:
        hint = f' ({found} is a keyword; write "{tok.text.lower()}" to use it as a name)'
    return cur.error(
        f"expected {what}, found {found}{hint}", at=tok, expected=[f"<{what}>"], code="MISSING_NAME"
    )


def is_name_start(tok: Token | None, *, reserved_ok: bool = False) -> bool:
    """Whether ``tok`` can begin a name (a keyword cannot, unless ``reserved_ok``)."""
    if tok is None:
        return False
    if tok.kind in (TokenKind.IDENT, TokenKind.STRING):
        return True
    if tok.kind is TokenKind.WORD:
        return reserved_ok or tok.text.lower() not in RESERVED_WORDS
    return False


def name_from_string(text: str) -> QualifiedName | None:
    """A name written as a string (``'db.Task'``, ``CANCEL TASK 'x'``, ``next_runs('t', 5)``): split
    at dots, each part folded to lower case; None when it is not ``[database.][schema.]name``."""
    parts = [p.strip().lower() for p in text.split(".")]
    if not 1 <= len(parts) <= 3 or not all(parts):
        return None
    return QualifiedName.of(*parts)


def _from_string(cur: Cursor, tok: Token, what: str) -> QualifiedName:
    name = name_from_string(tok.text)
    if name is None:
        raise cur.error(
            f"{tok.raw} is not a valid {what}: expected [database.][schema.]name",
            at=tok,
            code="INVALID_NAME",
        )
    return name


def parse_name(
    cur: Cursor, what: str = "task name", *, reserved_ok: bool = False
) -> tuple[QualifiedName, Span]:
    """A qualified name, its parts normalised, and its span.

    :raises TasksqlSyntaxError: MISSING_NAME when no name comes next (a keyword is not a name
        unless ``reserved_ok``); SYNTAX_ERROR for a trailing dot or more than three parts.
    """
    tok = cur.peek()
    if not (is_name_start(tok, reserved_ok=reserved_ok) or _keyword_qualifier(cur)):
        raise _missing(cur, what, tok)
    assert tok is not None
    if tok.kind is TokenKind.STRING:
        cur.pos += 1
        return _from_string(cur, tok, what), tok.span
    parts = [_part(cur.next())]
    while cur.at(".") and len(parts) < 4:
        cur.pos += 1
        part = cur.peek()
        if part is None or part.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.error(
                f"expected a name part after '.', found {describe(part)}", at=part, expected=["<identifier>"]
            )
        parts.append(_part(cur.next()))
    if len(parts) > 3:
        raise cur.error(f"a {what} has at most three parts (database.schema.name)", at=cur.span_since(tok))
    return QualifiedName.of(*parts), cur.span_since(tok)


def _keyword_qualifier(cur: Cursor) -> bool:
    """Whether a keyword comes next as the first part of a qualified name (``default.t``): a
    keyword glued to a dot and a further part cannot be meant as the keyword. Timeplus's and
    ClickHouse's own database is named ``default`` (``SHOW CREATE TASK default.t``)."""
    tok, dot, part = cur.peek(), cur.peek(1), cur.peek(2)
    return (
        tok is not None
        and tok.kind is TokenKind.WORD
        and dot is not None
        and dot.text == "."
        and dot.start == tok.end
        and part is not None
        and part.kind in (TokenKind.WORD, TokenKind.IDENT)
    )


def _part(tok: Token) -> str:
    return tok.text if tok.kind is TokenKind.IDENT else tok.text.lower()


def parse_simple_name(cur: Cursor, what: str, *, fold: bool = True) -> tuple[str, Span]:
    """A one-part name (warehouse, integration, user): word, quoted identifier or string.

    With ``fold`` (warehouses, integrations) the name is lower-cased however it is written;
    without it only unquoted words are.
    """
    tok = cur.peek()
    if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.IDENT, TokenKind.STRING):
        raise _missing(cur, what, tok)
    cur.pos += 1
    if fold or tok.kind is TokenKind.WORD:
        return tok.text.lower(), tok.span
    return tok.text, tok.span


def parse_integration_name(cur: Cursor, what: str = "integration name") -> tuple[str, Span]:
    """A notification integration's name, lower-cased as :func:`parse_simple_name` reads it. A
    qualified name (``db.s.my_hook``, ``"db"."s"."my_hook"``) names the integration of its last
    part: integrations are account-level objects in Snowflake and Databend, not schema objects, so
    a database and schema written before the name are accepted and not kept. A string is one name
    as written (Databend's ``ERROR_INTEGRATION = 'my_hook'``)."""
    name, span = parse_simple_name(cur, what)
    first = span
    while cur.at(".") and (nxt := cur.peek(1)) is not None and nxt.kind in (TokenKind.WORD, TokenKind.IDENT):
        cur.pos += 1
        name, span = parse_simple_name(cur, what)
    return name, Span(first.line, first.column, first.start, span.end)


def parse_name_list(cur: Cursor, what: str = "task name") -> list[tuple[QualifiedName, Span]]:
    """``name [, name ...]`` (each bare, quoted or a string)."""
    out = [parse_name(cur, what)]
    while cur.accept(","):
        out.append(parse_name(cur, what))
    return out


def render_name(name: QualifiedName) -> str:
    """A qualified name as canonical SQL (parts bare when they read back the same)."""
    return ".".join(quote_ident(p) for p in name.parts)


def render_simple(name: str) -> str:
    """A folded one-part name: bare when it reads back the same, else a string literal."""
    return name if quote_ident(name) == name else quote_string(name)


def render_exact(name: str) -> str:
    """A case-sensitive one-part name: bare when it reads back the same, else double-quoted."""
    return quote_ident(name)


def quote_string(text: str) -> str:
    """A SQL string literal for ``text`` (single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"
