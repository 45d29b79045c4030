"""Pieces shared by the statement parsers: the ``CREATE [OR REPLACE | OR ALTER]`` prefix,
``IF [NOT] EXISTS``, and the end of a statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tasksql.sql.cursor import Cursor, conflicting
from tasksql.sql.tokens import Token


@dataclass(frozen=True, slots=True)
class CreatePrefix:
    """``CREATE [OR REPLACE | OR ALTER]``: the tokens of ``OR`` (None when not written)."""

    or_replace: Token | None = None
    or_alter: Token | None = None


def parse_create_prefix(cur: Cursor) -> CreatePrefix:
    """After ``CREATE``: any ``OR REPLACE`` / ``OR ALTER``.

    :raises ValidationError: CONFLICTING_OPTIONS when both are written (at the second).
    """
    or_replace: Token | None = None
    or_alter: Token | None = None
    while cur.at("OR", "REPLACE") or cur.at("OR", "ALTER"):
        tok = cur.next()
        word = cur.next().upper
        if (or_alter if word == "REPLACE" else or_replace) is not None:
            raise conflicting(
                cur, "OR REPLACE and OR ALTER cannot be used together", cur.span_of(tok, cur.previous())
            )
        if word == "REPLACE":
            or_replace = tok
        else:
            or_alter = tok
    return CreatePrefix(or_replace, or_alter)


def parse_if_not_exists(cur: Cursor, prefix: CreatePrefix) -> bool:
    """``IF NOT EXISTS``; it cannot go with ``OR REPLACE`` (CONFLICTING_OPTIONS)."""
    tok = cur.accept("IF", "NOT", "EXISTS")
    if tok is None:
        return False
    if prefix.or_replace is not None:
        raise conflicting(cur, "OR REPLACE and IF NOT EXISTS cannot be used together", cur.span_since(tok))
    return True


def reject_or_alter(cur: Cursor, prefix: CreatePrefix, what: str) -> None:
    if prefix.or_alter is not None:
        raise cur.error(
            f"CREATE OR ALTER is not supported for {what}; use CREATE OR REPLACE",
            at=prefix.or_alter,
            expected=["OR REPLACE"],
        )


def parse_if_exists(cur: Cursor) -> bool:
    return cur.accept("IF", "EXISTS") is not None


def expect_end(cur: Cursor, expected: Sequence[str] = ()) -> None:
    """The statement must end here."""
    if not cur.done:
        raise cur.unexpected(
            [*expected, "the end of the statement"] if expected else ["the end of the statement"]
        )
