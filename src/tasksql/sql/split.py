"""Split a script into statements at top-level semicolons.

A semicolon splits unless it is inside a string, a quoted identifier, a dollar-quoted body or a
comment (the scanner, :mod:`tasksql.sql.scan`, skips those whole), or inside a ``BEGIN ... END``
block that is the body of a task: ``CREATE [OR REPLACE | OR ALTER] TASK ... AS BEGIN ... END;`` and
``ALTER TASK ... MODIFY AS BEGIN ... END;`` (also ``AS DECLARE ... BEGIN ... END;``, Snowflake
Scripting). Inside such a block, nested ``BEGIN``/``CASE`` ... ``END`` pairs are counted;
``END IF``, ``END LOOP``, ``END FOR``, ``END WHILE`` and ``END REPEAT`` close constructs that are
not counted, and ``BEGIN TRANSACTION`` / ``BEGIN WORK`` / ``BEGIN;`` open nothing.

A top-level ``BEGIN;`` or ``BEGIN TRANSACTION;`` is an ordinary statement.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tasksql.errors import Span
from tasksql.sql import scan
from tasksql.sql.scan import HEAD_LIMIT, ScanError
from tasksql.sql.tokenizer import LineIndex, tokenize, tokenize_range
from tasksql.sql.tokens import Token, TokenKind
from tasksql.storable import check_sql_text


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """One statement of a script.

    ``text`` runs from the statement's first token to its last (comments before the first token
    and the terminating semicolon are not part of it); ``start`` is its offset in the script and
    ``span`` its span there. ``terminated`` is True when a semicolon ended it (a shell uses this to
    know whether the input is complete); ``unclosed`` is the span of a task body's ``BEGIN`` that
    no ``END`` closed before the end of the script. ``head`` holds its leading words, upper-cased
    (up to :data:`HEAD_WORDS`; fewer when something else comes first): what tells tasksql's own
    statements from the warehouse's. ``tokens`` are the statement's tokens, with spans in the whole
    script, when the splitter had them (:func:`split_tokens`); :func:`split` leaves them empty,
    since most statements never need them: :func:`piece_tokens` gives them either way.
    """

    text: str
    start: int
    span: Span
    terminated: bool = False
    unclosed: Span | None = None
    head: tuple[str, ...] = ()
    tokens: tuple[Token, ...] = field(default=(), repr=False, compare=False)


#: How many leading words a piece's ``head`` keeps.
HEAD_WORDS = HEAD_LIMIT

_NOT_OPENERS_AFTER_BEGIN = ("TRANSACTION", "WORK", "TRAN")
_TAGGED_ENDS = ("IF", "LOOP", "FOR", "WHILE", "REPEAT")


def is_task_statement(head: Sequence[str]) -> bool:
    """Whether a statement with leading words ``head`` may have a ``BEGIN ... END`` task body."""
    if not head or head[0] not in ("CREATE", "ALTER"):
        return False
    words = list(head[:5])
    if words[:2] == ["ALTER", "TASK"]:
        return True
    if words[:1] != ["CREATE"]:
        return False
    rest = words[1:]
    if rest[:2] in (["OR", "REPLACE"], ["OR", "ALTER"]):
        rest = rest[2:]
    return rest[:1] == ["TASK"]


class _BlockTracker:
    """Tracks BEGIN/CASE ... END nesting inside the body of a task statement.

    Fed every token of the statement in order, as plain values: ``word`` (upper-cased, "" for a
    token that is not a word), the word after it, whether a ``;`` comes next, and the word before it.
    """

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.opener: tuple[int, int] | None = None  # offsets of the BEGIN/DECLARE that opened
        self._skip_next = False  # the CASE of END CASE

    @property
    def inside(self) -> bool:
        return bool(self.stack)

    def feed(
        self, word: str, after: str, next_is_semicolon: bool, previous: str, where: tuple[int, int]
    ) -> None:
        if not word:
            return
        if self._skip_next:
            self._skip_next = False
            return
        if not self.stack:
            if previous != "AS":
                return
            if word == "BEGIN" and after not in _NOT_OPENERS_AFTER_BEGIN and not next_is_semicolon:
                self.stack.append("BEGIN")
                self.opener = where
            elif word == "DECLARE":
                self.stack.append("DECLARE")
                self.opener = where
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
                self._skip_next = True
            self.stack.pop()


def _word(tok: Token | None) -> str:
    return tok.upper if tok is not None and tok.kind is TokenKind.WORD else ""


def _head_of(tokens: Sequence[Token]) -> tuple[str, ...]:
    head: list[str] = []
    for tok in tokens[:HEAD_WORDS]:
        if tok.kind is not TokenKind.WORD:
            break
        head.append(tok.upper)
    return tuple(head)


def split_tokens(text: str, tokens: Sequence[Token], index: LineIndex | None = None) -> list[Piece]:
    """:func:`split` for text that is already tokenized (``tokens`` from :func:`tokenize`); the
    pieces keep their tokens."""
    index = index or LineIndex(text)
    tokens = [t for t in tokens if t.kind is not TokenKind.COMMENT]
    pieces: list[Piece] = []
    current: list[Token] = []
    blocks = _BlockTracker()
    task = False

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
                    unclosed=index.span(*opener) if opener is not None else None,
                    head=_head_of(current),
                    tokens=tuple(current),
                )
            )
        current.clear()

    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.SEMICOLON and not blocks.inside:
            flush(True)
            blocks, task = _BlockTracker(), False
            continue
        current.append(tok)
        if len(current) == 1:
            task = is_task_statement(_head_of(tokens[i : i + HEAD_WORDS]))
        if task:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            previous = _word(current[-2]) if len(current) >= 2 else ""
            semicolon_next = nxt is not None and nxt.kind is TokenKind.SEMICOLON
            blocks.feed(_word(tok), _word(nxt), semicolon_next, previous, (tok.start, tok.end))
    flush(False)
    return pieces


def split(text: str, index: LineIndex | None = None) -> list[Piece]:
    """The statements of ``text``, in order; empty statements (``;;``, comments only) are dropped.

    Linear in the text, and fast: statements are found by :mod:`tasksql.sql.scan`, which reads
    only the leading words of a statement, and every word of a task statement (its body may be a
    ``BEGIN ... END`` block); the rest is skipped in runs. The pieces carry no tokens
    (:func:`piece_tokens` reads them when they are needed).

    :raises TasksqlSyntaxError: when the text cannot be tokenized (an unterminated string, quoted
        identifier, dollar-quoted body or comment), pointing at where it starts; INVALID_CHARACTER
        for a character that cannot be stored (:mod:`tasksql.storable`).
    """
    check_sql_text(text)
    index = index or LineIndex(text)
    try:
        return list(_split_scanned(text, index))
    except ScanError:
        # the tokenizer reports the exact error (or, should it read the text differently, splits it)
        return split_tokens(text, tokenize(text), index)


def leading_pieces(text: str, count: int) -> list[Piece]:
    """The first ``count`` statements of ``text`` (fewer when it holds fewer), as :func:`split`
    finds them; the text after them is not read (is ``text`` one statement? ask for two).

    :raises ScanError: at text the scanner cannot read before they end (:func:`split` would ask the
        tokenizer).
    :raises TasksqlSyntaxError: INVALID_CHARACTER, as :func:`split`.
    """
    check_sql_text(text)
    return list(itertools.islice(_split_scanned(text, LineIndex(text)), count))


def _split_scanned(text: str, index: LineIndex) -> Iterator[Piece]:
    size = len(text)
    spans = _Spans(text)
    pos = scan.skip_gap(text, 0)
    while pos < size:
        if text[pos] == ";":  # an empty statement
            pos = scan.skip_gap(text, pos + 1)
            continue
        head = scan.head_words(text, pos)
        unclosed: tuple[int, int] | None = None
        if is_task_statement(head):
            semicolon, last, unclosed = _task_statement_end(text, pos)
        else:
            semicolon, last = scan.statement_end(text, pos)
        yield Piece(
            text=text[pos:last],
            start=pos,
            span=spans.span(pos, last),
            terminated=semicolon < size,
            unclosed=index.span(*unclosed) if unclosed is not None else None,
            head=head,
        )
        pos = scan.skip_gap(text, semicolon + 1)


class _Spans:
    """Spans of increasing offsets, with line numbers counted on from the last one (cheaper than a
    lookup per statement in a script of many small statements)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def span(self, start: int, end: int) -> Span:
        newlines = self.text.count("\n", self.pos, start)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, start) + 1
        self.pos = start
        return Span(self.line, start - self.line_start + 1, start, end)


def _task_statement_end(text: str, start: int) -> tuple[int, int, tuple[int, int] | None]:
    """:func:`scan.statement_end` for a task statement, whose ``BEGIN ... END`` body holds
    semicolons; also the offsets of the ``BEGIN`` left open at the end of the text, if any.

    The block tracker is fed the words it acts on (``;``, AS, BEGIN, DECLARE, CASE, END); the
    lexemes between them are skipped in bulk by :func:`scan.quiet_end`, so a body of a megabyte
    costs a few regular-expression matches per block, not a Python step per lexeme. A word fed
    after skipped lexemes has no word before it (``previous`` is "").
    """
    blocks = _BlockTracker()
    size = len(text)
    pos = last = start
    previous = ""
    while True:
        end = scan.quiet_end(text, pos, inside_block=blocks.inside)
        if end > pos:
            last, previous = end, ""
        pos = scan.skip_gap(text, end)
        if pos >= size:
            break
        lex = next(scan.lexemes(text, pos))
        if lex.kind == scan.SEMI and not blocks.inside:
            return lex.start, last, None
        word = lex.text if lex.kind == scan.WORD else ""
        after, semicolon_next = "", False
        if word in ("BEGIN", "END"):  # the only words whose meaning hangs on the next lexeme
            nxt = next(scan.lexemes(text, lex.end), None)
            after = nxt.text if nxt is not None and nxt.kind == scan.WORD else ""
            semicolon_next = nxt is not None and nxt.kind == scan.SEMI
        blocks.feed(word, after, semicolon_next, previous, (lex.start, lex.end))
        previous, last, pos = word, lex.end, lex.end
    return size, last, blocks.opener if blocks.inside else None


def piece_tokens(source: str, piece: Piece, index: LineIndex | None = None) -> tuple[Token, ...]:
    """The tokens of ``piece`` (a statement of ``source``), spans in the whole ``source``."""
    if piece.tokens or not piece.text:
        return piece.tokens
    return tuple(tokenize_range(source, piece.start, piece.start + len(piece.text), index))
