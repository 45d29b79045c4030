"""Streams: Timeplus append-only streams and Snowflake/Databend change-tracking streams.

::

    CREATE [OR REPLACE] STREAM [IF NOT EXISTS] <name> ( <column> <type> [, ...] )          -- Timeplus
    CREATE [OR REPLACE] STREAM [IF NOT EXISTS] <name> [COPY GRANTS] ON TABLE <table>
        [APPEND_ONLY = TRUE | FALSE] [SHOW_INITIAL_ROWS = TRUE | FALSE] [COMMENT = '..']
        [WAREHOUSE = <warehouse>]
    DROP STREAM [IF EXISTS] <name> [IN WAREHOUSE <warehouse>]
    DESC[RIBE] STREAM <name> [IN WAREHOUSE <warehouse>]
    SHOW STREAMS [LIKE '<pattern>'] [IN WAREHOUSE <warehouse>]

A change-tracking stream's name is one identifier (it lives in the warehouse of its table, next to
it); ``WAREHOUSE`` / ``IN WAREHOUSE`` name that warehouse when it is not the default one.
"""

from __future__ import annotations

from tasksql.errors import Span, ValidationError
from tasksql.sql.common import CreatePrefix, expect_end, parse_if_exists, parse_if_not_exists, reject_or_alter
from tasksql.sql.cursor import Cursor, describe, duplicate
from tasksql.sql.names import parse_name, parse_simple_name
from tasksql.sql.properties import suggest
from tasksql.sql.statements import CreateStream, DescribeStream, DropStream, ShowStreams, Statement
from tasksql.sql.tokens import TokenKind
from tasksql.sql.values import parse_bool, parse_string

_OPTIONS = ("APPEND_ONLY", "SHOW_INITIAL_ROWS", "COMMENT", "WAREHOUSE")


def parse_create_stream(cur: Cursor, prefix: CreatePrefix) -> Statement:
    """After ``CREATE [OR REPLACE] STREAM``."""
    reject_or_alter(cur, prefix, "streams")
    if_not_exists = parse_if_not_exists(cur, prefix)
    name, span = parse_name(cur, "stream name")
    spans: dict[str, Span] = {"name": span}
    cur.accept("COPY", "GRANTS")
    if cur.accept("ON", "TABLE"):
        if len(name.parts) > 1:
            raise cur.error(
                "the name of a stream on a table is one identifier (the stream lives next to its table)",
                at=span,
                expected=["<stream name>"],
                code="INVALID_NAME",
                cls=ValidationError,
            )
        on_table, spans["on_table"] = parse_name(cur, "table name")
        options = _options(cur, spans)
        comment = options.get("COMMENT")
        warehouse = options.get("WAREHOUSE")
        return CreateStream(
            span=cur.statement_span,
            text=cur.statement_text,
            spans=spans,
            name=name,
            on_table=on_table,
            or_replace=prefix.or_replace is not None,
            if_not_exists=if_not_exists,
            append_only=bool(options.get("APPEND_ONLY", False)),
            show_initial_rows=bool(options.get("SHOW_INITIAL_ROWS", False)),
            comment=comment if isinstance(comment, str) else None,
            warehouse=warehouse if isinstance(warehouse, str) else None,
        )
    if cur.at("("):
        columns = _columns(cur)
        expect_end(cur)
        return CreateStream(
            span=cur.statement_span,
            text=cur.statement_text,
            spans=spans,
            name=name,
            columns=columns,
            or_replace=prefix.or_replace is not None,
            if_not_exists=if_not_exists,
        )
    raise cur.unexpected(["( <column> <type>, ... )", "ON TABLE <table>"], "in CREATE STREAM")


def _options(cur: Cursor, spans: dict[str, Span]) -> dict[str, bool | str]:
    out: dict[str, bool | str] = {}
    while not cur.done:
        cur.accept(",")
        tok = cur.peek()
        if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.unexpected([f"{k} = <value>" for k in _OPTIONS] + ["the end of the statement"])
        key = tok.text.upper()
        if key not in _OPTIONS:
            near = suggest(tok.text, _OPTIONS)
            hint = f"; did you mean {near}?" if near else f"; expected one of {', '.join(_OPTIONS)}"
            raise cur.error(
                f"unknown stream option {key}{hint}",
                at=tok,
                expected=[near] if near else list(_OPTIONS),
                code="UNKNOWN_PROPERTY",
                cls=ValidationError,
            )
        if key in out:
            raise duplicate(cur, key, tok)
        cur.pos += 1
        cur.expect("=")
        first = cur.peek()
        if key == "COMMENT":
            out[key] = parse_string(cur, "a string for COMMENT")
        elif key == "WAREHOUSE":
            out[key] = parse_simple_name(cur, "warehouse name")[0]
        else:
            out[key] = parse_bool(cur, f"TRUE or FALSE for {key}")
        if first is not None:
            spans[key.lower()] = cur.span_since(first)
    return out


def _in_warehouse(cur: Cursor) -> str | None:
    if cur.accept("IN", "WAREHOUSE"):
        return parse_simple_name(cur, "warehouse name")[0]
    return None


def parse_drop_stream(cur: Cursor) -> Statement:
    if_exists = parse_if_exists(cur)
    name, span = parse_simple_name(cur, "stream name")
    warehouse = _in_warehouse(cur)
    expect_end(cur, [] if warehouse else ["IN WAREHOUSE"])
    return DropStream(
        span=cur.statement_span,
        text=cur.statement_text,
        spans={"name": span},
        name=name,
        if_exists=if_exists,
        warehouse=warehouse,
    )


def parse_describe_stream(cur: Cursor) -> Statement:
    name, span = parse_simple_name(cur, "stream name")
    warehouse = _in_warehouse(cur)
    expect_end(cur, [] if warehouse else ["IN WAREHOUSE"])
    return DescribeStream(
        span=cur.statement_span, text=cur.statement_text, spans={"name": span}, name=name, warehouse=warehouse
    )


def parse_show_streams(cur: Cursor) -> Statement:
    like = parse_string(cur, "a LIKE pattern") if cur.accept_word("LIKE") else None
    warehouse = _in_warehouse(cur)
    expected = [] if warehouse else (["IN WAREHOUSE"] if like else ["LIKE", "IN WAREHOUSE"])
    expect_end(cur, expected)
    return ShowStreams(span=cur.statement_span, text=cur.statement_text, like=like, warehouse=warehouse)


def _columns(cur: Cursor) -> tuple[tuple[str, str], ...]:
    cur.expect("(")
    out: list[tuple[str, str]] = []
    names: set[str] = set()
    while True:
        tok = cur.peek()
        if tok is None or tok.kind not in (TokenKind.WORD, TokenKind.IDENT):
            raise cur.error(f"expected a column name, found {describe(tok)}", at=tok, expected=["<column>"])
        cur.pos += 1
        column = tok.text if tok.kind is TokenKind.IDENT else tok.text.lower()
        if column in names:
            raise duplicate(cur, f"column {column}", tok)
        names.add(column)
        out.append((column, _column_type(cur, column)))
        if cur.accept(")"):
            return tuple(out)
        cur.expect(",", what="',' or ')'")


def _column_type(cur: Cursor, column: str) -> str:
    """The type text (and anything after it) up to the next top-level ``,`` or ``)``."""
    first = cur.peek()
    depth = 0
    while (tok := cur.peek()) is not None:
        if tok.kind in (TokenKind.LPAREN, TokenKind.LBRACKET):
            depth += 1
        elif tok.kind in (TokenKind.RPAREN, TokenKind.RBRACKET):
            if depth == 0:
                break
            depth -= 1
        elif tok.kind is TokenKind.COMMA and depth == 0:
            break
        cur.pos += 1
    if first is None or cur.peek() is first:
        raise cur.error(f"expected a type for column {column}", at=cur.peek(), expected=["<type>"])
    if cur.done:
        raise cur.error("expected ')' closing the column list", expected=["')'"])
    return cur.text_of(first, cur.previous())
