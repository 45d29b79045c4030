"""What a warehouse statement is, from its leading words, and the status line it prints.

A statement that returns no result set (DDL, DML without RETURNING, SET, BEGIN, ...) prints a
*command tag*, as psql does: ``CREATE TABLE``, ``INSERT 0 3``, ``UPDATE 2``, ``DELETE 0``, and
``SELECT 5`` for ``CREATE TABLE ... AS`` (the rows it stored).
"""

from __future__ import annotations

import re

# Blanks and comments, then up to eight words (the words that name a statement come first).
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*")
_WORD = re.compile(r"[A-Za-z_]+")

# Words between CREATE/DROP/ALTER and the kind of object (CREATE OR REPLACE TEMP TABLE, ...).
_MODIFIERS = frozenset(
    {
        "OR",
        "REPLACE",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
        "MATERIALIZED",
        "PERSISTENT",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
    }
)
_DDL = frozenset({"CREATE", "DROP", "ALTER"})


def leading_words(text: str, limit: int = 8) -> list[str]:
    """The first words of ``text`` in upper case, after blanks and comments."""
    pos = _LEADING.match(text).end()  # type: ignore[union-attr]  # matches the empty string at least
    words: list[str] = []
    for m in _WORD.finditer(text, pos):
        if len(words) >= limit:
            break
        # stop at the first thing that is not a word separated by blanks (a name, a parenthesis)
        gap = text[pos : m.start()]
        if gap.strip():
            break
        words.append(m.group(0).upper())
        pos = m.end()
    return words


def statement_kind(text: str) -> str:
    """``CREATE TABLE``, ``DROP VIEW``, ``INSERT``, ``SELECT``, ... ("" for an empty text)."""
    words = leading_words(text)
    if not words:
        return ""
    head = words[0]
    if head in _DDL:
        rest = [w for w in words[1:] if w not in _MODIFIERS]
        return f"{head} {rest[0]}" if rest else head
    if head == "MERGE":
        return "MERGE"
    return head


def command_tag(kind: str, rowcount: int | None) -> str:
    """The status line of a statement of ``kind`` that returned no result set (see module doc)."""
    if rowcount is None:
        return kind
    if kind == "INSERT":
        return f"INSERT 0 {rowcount}"
    if kind == "CREATE TABLE":  # CREATE TABLE ... AS: psql reports the rows stored
        return f"SELECT {rowcount}"
    return f"{kind} {rowcount}" if kind else str(rowcount)  # UPDATE 2, DELETE 0, COPY 10, ...
