"""Secret objects, as Snowflake writes them (:mod:`tasksql.model.secret`).

::

    CREATE [OR REPLACE] SECRET [IF NOT EXISTS] <name> TYPE = GENERIC_STRING
        SECRET_STRING = { '<value>' | ENV '<variable>' | FILE '<path>' } [COMMENT = '..']
    ALTER SECRET [IF EXISTS] <name> SET { SECRET_STRING = ... | COMMENT = '..' } ... | UNSET COMMENT
    DROP SECRET [IF EXISTS] <name>
    DESC[RIBE] SECRET <name>
    SHOW SECRETS [LIKE '<pattern>']

Names are ``[database.][schema.]name``. DuckDB's own ``CREATE SECRET [name] ( TYPE s3, ... )``
(a parenthesised option list, or ``IN <storage>``) and ``DROP SECRET name FROM <storage>`` are the
warehouse's statements and pass through.

A literal ``SECRET_STRING`` never reaches an error message: the messages name the clause, not its
value, and an error in a statement that holds one shows that statement with the literal masked
(:func:`masked_source`), in the same columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tasksql.errors import NotSupportedError, Span, TasksqlError, ValidationError
from tasksql.model.secret import GENERIC_STRING, SecretSource, SecretString
from tasksql.sql.common import CreatePrefix, expect_end, parse_if_exists, parse_if_not_exists, reject_or_alter
from tasksql.sql.cursor import Cursor, describe, duplicate
from tasksql.sql.names import parse_name
from tasksql.sql.properties import suggest
from tasksql.sql.statements import (
    AlterSecret,
    CreateSecret,
    DescribeSecret,
    DropSecret,
    ShowSecrets,
    Statement,
)
from tasksql.sql.tokens import Token, TokenKind
from tasksql.sql.values import parse_string, parse_word_or_string

_CREATE_KEYS = ("TYPE", "SECRET_STRING", "COMMENT")
_ALTER_KEYS = ("SECRET_STRING", "COMMENT")
_WHAT = "secret name"


def masked_source(source: str, spans: list[Span]) -> str:
    """``source`` with the characters inside each span's quotes replaced by ``*`` (same length, so
    every line and column stays where it was)."""
    chars = list(source)
    for span in spans:
        for i in range(span.start + 1, max(span.start + 1, span.end - 1)):
            if chars[i] not in "\r\n":
                chars[i] = "*"
    return "".join(chars)


def masked_unsplit(source: str) -> str:
    """``source`` that cannot be split into statements (a quote left open): everything after the
    opening quote of the first secret option's value is masked, line breaks kept, since where the
    value ends cannot be told."""
    m = _SECRET_QUOTE.search(source)
    if m is None:
        return source
    return source[: m.end()] + re.sub(r"[^\r\n]", "*", source[m.end() :])


#: Options whose literal is a secret in a secret statement (Snowflake's other types' too: a
#: refused ``TYPE = PASSWORD`` statement must not show its password either).
SECRET_KEYS = ("SECRET_STRING", "PASSWORD", "OAUTH_REFRESH_TOKEN")
_SECRET_QUOTE = re.compile(r"(?i)\b(?:" + "|".join(SECRET_KEYS) + r")\s*=\s*'")


def literal_spans(tokens: Sequence[Token]) -> list[Span]:
    """The spans of the literals written after ``SECRET_STRING =`` (or another of
    :data:`SECRET_KEYS`) in ``tokens``, the tokens of a secret statement."""
    return [
        tokens[i + 2].span
        for i in range(len(tokens) - 2)
        if tokens[i].kind is TokenKind.WORD
        and tokens[i].upper in SECRET_KEYS
        and tokens[i + 1].kind is TokenKind.EQ
        and tokens[i + 2].kind is TokenKind.STRING
    ]


def _masking(cur: Cursor, parse: Callable[[], Statement]) -> Statement:
    """Run ``parse``; an error it raises shows the source with the statement's literal secrets
    masked (those read and those not read yet)."""
    try:
        return parse()
    except TasksqlError as err:
        spans = literal_spans(cur.tokens)
        if spans and err.source == cur.source:
            err.source = masked_source(cur.source, spans)
        raise


def _secret_string(cur: Cursor) -> SecretString:
    """``'<value>'``, ``ENV '<variable>'`` or ``FILE '<path>'``."""
    source_tok = cur.accept_word("ENV", "FILE")
    tok = cur.peek()
    if tok is None or tok.kind is not TokenKind.STRING:
        expected = ["'<value>'", "ENV '<variable>'", "FILE '<path>'"]
        raise cur.error(
            f"SECRET_STRING takes a string, ENV '<variable>' or FILE '<path>'; found {describe(tok)}",
            at=tok,
            expected=expected[1:] if source_tok is not None else expected,
        )
    cur.pos += 1
    if source_tok is None:
        if not tok.text:
            raise cur.error(
                "SECRET_STRING must not be empty", at=tok, code="INVALID_VALUE", cls=ValidationError
            )
        return SecretString(SecretSource.STRING, tok.text)
    kind = SecretSource(source_tok.upper)
    if not tok.text.strip():
        raise cur.error(
            f"SECRET_STRING = {kind.value} names no {'variable' if kind is SecretSource.ENV else 'file'}",
            at=tok,
            code="INVALID_VALUE",
            cls=ValidationError,
        )
    return SecretString(kind, tok.text.strip())


def _type(cur: Cursor) -> str:
    tok = cur.peek()
    kind = parse_word_or_string(cur, "a secret type").text.upper()
    if kind != GENERIC_STRING:
        raise cur.error(
            f"secrets of TYPE = {kind} are not supported; tasksql keeps TYPE = GENERIC_STRING secrets"
            " (SECRET_STRING = '...'), the type a webhook's WEBHOOK_SECRET uses",
            at=tok,
            expected=[GENERIC_STRING],
            code="NOT_SUPPORTED",
            cls=NotSupportedError,
        )
    return kind


def _options(cur: Cursor, keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Span]]:
    """``KEY = value`` pairs up to the end of the statement; keys in lower case."""
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    while not cur.done:
        if cur.accept(","):
            continue
        tok = cur.peek()
        assert tok is not None
        if tok.kind is not TokenKind.WORD:
            raise cur.unexpected([f"{k} = <value>" for k in keys], "in SECRET")
        key = tok.upper
        if key not in keys:
            near = suggest(tok.text, keys)
            hint = f"; did you mean {near}?" if near else f"; expected one of {', '.join(keys)}"
            raise cur.error(
                f"unknown SECRET option {key}{hint}",
                at=tok,
                expected=[near] if near else keys,
                code="UNKNOWN_PROPERTY",
                cls=ValidationError,
            )
        if key.lower() in values:
            raise duplicate(cur, key, tok)
        cur.pos += 1
        cur.expect("=")
        first = cur.peek()
        if key == "TYPE":
            values["type"] = _type(cur)
        elif key == "SECRET_STRING":
            values["secret_string"] = _secret_string(cur)
        else:
            values["comment"] = parse_string(cur, "a comment")
        if first is not None:
            spans[key.lower()] = cur.span_since(first)
    return values, spans


def _duckdb(cur: Cursor) -> bool:
    """Whether DuckDB's ``CREATE SECRET [IF NOT EXISTS] [name] [IN <storage>] ( ... )`` follows: an
    option list in parentheses, or ``IN``, where tasksql's statement has ``TYPE =``."""
    k = 3 if cur.at("IF", "NOT", "EXISTS") else 0
    tok = cur.peek(k)
    if (
        tok is not None
        and tok.kind in (TokenKind.WORD, TokenKind.IDENT, TokenKind.STRING)
        and tok.upper != "IN"
    ):
        k += 1
        while (dot := cur.peek(k)) is not None and dot.kind is TokenKind.DOT:
            k += 2
    nxt: Token | None = cur.peek(k)
    return nxt is not None and (
        nxt.kind is TokenKind.LPAREN or (nxt.kind is TokenKind.WORD and nxt.upper == "IN")
    )


def parse_create_secret(cur: Cursor, prefix: CreatePrefix) -> Statement | None:
    """After ``CREATE [OR REPLACE] SECRET``; None for DuckDB's own CREATE SECRET."""
    if _duckdb(cur):
        return None

    def parse() -> Statement:
        reject_or_alter(cur, prefix, "secrets")
        if_not_exists = parse_if_not_exists(cur, prefix)
        name, span = parse_name(cur, _WHAT)
        values, spans = _options(cur, _CREATE_KEYS)
        for key, example in (
            ("type", "TYPE = GENERIC_STRING"),
            ("secret_string", "SECRET_STRING = '<value>'"),
        ):
            if key not in values:
                raise cur.error(
                    f"CREATE SECRET needs {example}",
                    at=cur.end_span(),
                    expected=[example],
                    code="INVALID_VALUE",
                    cls=ValidationError,
                )
        return CreateSecret(
            span=cur.statement_span,
            text=cur.statement_text,
            spans={"name": span, **spans},
            name=name,
            secret_string=values["secret_string"],
            comment=values.get("comment"),
            or_replace=prefix.or_replace is not None,
            if_not_exists=if_not_exists,
        )

    return _masking(cur, parse)


def parse_alter_secret(cur: Cursor) -> Statement:
    """After ``ALTER SECRET``."""

    def parse() -> Statement:
        if_exists = parse_if_exists(cur)
        name, span = parse_name(cur, _WHAT)
        unset: list[str] = []
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {"name": span}
        if cur.accept_word("SET"):
            values, more = _options(cur, _ALTER_KEYS)
            spans.update(more)
            if not values:
                raise cur.error(
                    "expected an option to SET",
                    at=cur.peek(),
                    expected=[f"{k} = <value>" for k in _ALTER_KEYS],
                )
        elif cur.accept_word("UNSET"):
            tok = cur.peek()
            if tok is None or tok.kind is not TokenKind.WORD or tok.upper != "COMMENT":
                raise cur.error(
                    f"expected COMMENT to UNSET, found {describe(tok)}", at=tok, expected=["COMMENT"]
                )
            cur.pos += 1
            unset.append("comment")
        else:
            raise cur.unexpected(["SET", "UNSET"], "in ALTER SECRET")
        expect_end(cur)
        return AlterSecret(
            span=cur.statement_span,
            text=cur.statement_text,
            spans=spans,
            name=name,
            assignments=tuple(values.items()),
            unset=tuple(unset),
            if_exists=if_exists,
        )

    return _masking(cur, parse)


def parse_drop_secret(cur: Cursor) -> Statement | None:
    """After ``DROP SECRET``; None for DuckDB's ``DROP SECRET name FROM <storage>``."""
    if_exists = parse_if_exists(cur)
    name, span = parse_name(cur, _WHAT)
    if cur.at_word("FROM"):
        return None
    expect_end(cur)
    return DropSecret(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name, if_exists=if_exists
    )


def parse_describe_secret(cur: Cursor) -> Statement:
    name, span = parse_name(cur, _WHAT)
    expect_end(cur)
    return DescribeSecret(span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name)


def parse_show_secrets(cur: Cursor) -> Statement:
    like = parse_string(cur, "a LIKE pattern") if cur.accept_word("LIKE") else None
    expect_end(cur, [] if like is not None else ["LIKE"])
    return ShowSecrets(span=cur.statement_span, text=cur.statement_text, like=like)


def masked_script(text: str, statements: list[Statement]) -> str:
    """``text`` (the script ``statements`` were parsed from) with every literal ``SECRET_STRING``
    of its secret statements masked, lines and columns unchanged: the source an error shows."""
    spans = [
        stmt.spans["secret_string"]
        for stmt in statements
        if isinstance(stmt, (CreateSecret, AlterSecret)) and "secret_string" in stmt.spans and _literal(stmt)
    ]
    return masked_source(text, spans) if spans else text


def _literal(stmt: CreateSecret | AlterSecret) -> bool:
    value = (
        stmt.secret_string if isinstance(stmt, CreateSecret) else dict(stmt.assignments).get("secret_string")
    )
    return isinstance(value, SecretString) and value.source is SecretSource.STRING
