"""Split a script into statements at top-level semicolons.

A semicolon splits unless it is inside a string, a quoted identifier, a dollar-quoted body or a
comment (the tokenizer already hides those), or inside a ``BEGIN ... END`` block that is the body
of a task: ``CREATE [OR REPLACE | OR ALTER] TASK ... AS BEGIN ... END;`` and
``ALTER TASK ... MODIFY AS BEGIN ... END;`` (also ``AS DECLARE ... BEGIN ... END;``, Snowflake
Scripting). Inside such a block, nested ``BEGIN``/``CASE`` ... ``END`` pairs are counted;
``END IF``, ``END LOOP``, ``END FOR``, ``END WHILE`` and ``END REPEAT`` close constructs that are
not counted, and ``BEGIN TRANSACTION`` / ``BEGIN WORK`` / ``BEGIN;`` open nothing.

A top-level ``BEGIN;`` or ``BEGIN TRANSACTION;`` is an ordinary statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tasksql.errors import Span
from tasksql.sql.tokenizer import LineIndex, tokenize
from tasksql.sql.tokens import Token, TokenKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """One statement of a script.

    ``text`` runs from the statement's first token to its last (comments before the first token
    and the terminating semicolon are not part of it); ``start`` is its offset in the script and
    ``span`` its span there. ``terminated`` is True when a semicolon ended it (a shell uses this to
    know whether the input is complete); ``unclosed`` is the span of a task body's ``BEGIN`` that
    no ``END`` closed before the end of the script. ``tokens`` are the statement's tokens, with
    spans in the whole script.
    """

    text: str
    start: int
    span: Span
    terminated: bool = False
    unclosed: Span | None = None
    tokens: tuple[Token, ...] = field(default=(), repr=False, compare=False)


_NOT_OPENERS_AFTER_BEGIN = ("TRANSACTION", "WORK", "TRAN")
_TAGGED_ENDS = ("IF", "LOOP", "FOR", "WHILE", "REPEAT")


def _word_at(tokens: Sequence[Token], i: int) -> str:
    if 0 <= i < len(tokens) and tokens[i].kind is TokenKind.WORD:
        return tokens[i].upper
    return ""


def _is_task_statement(words: Sequence[Token]) -> bool:
    """Whether the statement begun by ``words`` may have a ``BEGIN ... END`` task body."""
    heads = [t.upper for t in words[:6] if t.kind is TokenKind.WORD]
    if heads[:2] == ["ALTER", "TASK"]:
        return True
    if heads[:1] != ["CREATE"]:
        return False
    rest = heads[1:]
    if rest[:2] in (["OR", "REPLACE"], ["OR", "ALTER"]):
        rest = rest[2:]
    return rest[:1] == ["TASK"]


class _BlockTracker:
    """Tracks BEGIN/CASE ... END nesting inside a task body block."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.opener: Token | None = None
        self._skip: int = -1

    @property
    def inside(self) -> bool:
        return bool(self.stack)

    def feed(self, tokens: Sequence[Token], i: int, current: Sequence[Token]) -> None:
        """Account for ``tokens[i]`` (already appended to ``current``, the statement so far)."""
        word = _word_at(tokens, i)
        if not word or i == self._skip:
            return
        after = _word_at(tokens, i + 1)
        next_is_semicolon = i + 1 < len(tokens) and tokens[i + 1].kind is TokenKind.SEMICOLON
        if not self.stack:
            previous = current[-2].upper if len(current) >= 2 and current[-2].kind is TokenKind.WORD else ""
            if previous != "AS" or not _is_task_statement(current):
                return
            if word == "BEGIN" and after not in _NOT_OPENERS_AFTER_BEGIN and not next_is_semicolon:
                self.stack.append("BEGIN")
                self.opener = tokens[i]
            elif word == "DECLARE":
                self.stack.append("DECLARE")
                self.opener = tokens[i]
            return
        if word == "BEGIN":
            if after in _NOT_OPENERS_AFTER_BEGIN or next_is_semicolon:
                return
            if self.stack[-1] == "DECLARE":
                self.stack[-1] = "DECLARE BEGIN"
            else:
                self.stack.append("BEGIN")
        elif word == "CASE":
            self.stack.append("CASE")
        elif word == "END" and after not in _TAGGED_ENDS:
            if after == "CASE":
                self._skip = i + 1
            self.stack.pop()


def split_tokens(text: str, tokens: Sequence[Token], index: LineIndex | None = None) -> list[Piece]:
    """:func:`split` for text that is already tokenized (``tokens`` from :func:`tokenize`)."""
    index = index or LineIndex(text)
    tokens = [t for t in tokens if t.kind is not TokenKind.COMMENT]
    pieces: list[Piece] = []
    current: list[Token] = []
    blocks = _BlockTracker()

    def flush(terminated: bool) -> None:
        if current:
            start, end = current[0].start, current[-1].end
            opener = blocks.opener if blocks.inside else None
            pieces.append(
                Piece(
                    text=text[start:end],
                    start=start,
                    span=index.span(start, end),
                    terminated=terminated,
                    unclosed=opener.span if opener is not None else None,
                    tokens=tuple(current),
                )
            )
        current.clear()

    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.SEMICOLON and not blocks.inside:
            flush(True)
            continue
        current.append(tok)
        blocks.feed(tokens, i, current)
    flush(False)
    return pieces


def split(text: str) -> list[Piece]:
    """The statements of ``text``, in order; empty statements (``;;``, comments only) are dropped.

    :raises TasksqlSyntaxError: when the text cannot be tokenized (an unterminated string, quoted
        identifier, dollar-quoted body or comment), pointing at where it starts.
    """
    index = LineIndex(text)
    return split_tokens(text, tokenize(text), index)
