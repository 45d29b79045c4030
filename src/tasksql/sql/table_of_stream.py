"""Timeplus's ``table(<stream>)`` in a task body: the stream's stored rows, as a plain relation.

Timeplus reads a stream's historical data with ``SELECT ... FROM table(s)`` (a bounded scan instead
of an unbounded streaming query), and its scheduled tasks are written that way::

    CREATE TASK t SCHEDULE 5s TIMEOUT 2s INTO target AS SELECT count(*) FROM table(s)

On tasksql's warehouses a Timeplus stream is an ordinary table, whose rows are all there is, so
``table(s)`` means ``s``. No warehouse dialect accepts ``TABLE`` followed by ``(`` and a bare name
(``TABLE`` is reserved; Snowflake's ``TABLE(f(...))`` wraps a *call*, which is left alone), so the
rewrite cannot change the meaning of SQL that was valid before.

The replacement keeps every offset: ``table(`` and ``)`` become blanks of the same length, so an
error the warehouse's parser reports points at the same line and column of what the user wrote.
"""

from __future__ import annotations

from tasksql.errors import TasksqlError
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import Token, TokenKind

_NAME_KINDS = frozenset({TokenKind.WORD, TokenKind.IDENT})


def _name_end(tokens: list[Token], i: int) -> int | None:
    """The index of the ``)`` closing a bare (possibly qualified) name that starts at ``tokens[i]``,
    or None when what follows is no such name."""
    if i >= len(tokens) or tokens[i].kind not in _NAME_KINDS:
        return None
    i += 1
    while i + 1 < len(tokens) and tokens[i].kind is TokenKind.DOT and tokens[i + 1].kind in _NAME_KINDS:
        i += 2
    if i < len(tokens) and tokens[i].kind is TokenKind.RPAREN:
        return i
    return None


def unwrap_table_of_stream(text: str) -> str:
    """``text`` with each ``table(<name>)`` replaced by ``<name>`` padded with blanks (same length,
    same offsets); ``text`` itself when there is none or it cannot be tokenized (the warehouse's
    parser then reports what is wrong)."""
    if "table" not in text.lower():
        return text
    try:
        tokens = tokenize(text)
    except TasksqlError:
        return text
    out = list(text)
    changed = False
    for i, tok in enumerate(tokens):
        if not (tok.is_word("TABLE") and i + 1 < len(tokens) and tokens[i + 1].kind is TokenKind.LPAREN):
            continue
        close = _name_end(tokens, i + 2)
        if close is None:
            continue
        for pos in (*range(tok.start, tok.end), tokens[i + 1].start, tokens[close].start):
            out[pos] = " "
        changed = True
    return "".join(out) if changed else text
