"""A cursor over one statement's tokens, for the recursive-descent parsers.

Keywords are matched on their text, case-insensitively. A pattern item is either a word (``"TASK"``)
or one of the symbols ``= ( ) [ ] , . ;``. Errors made through :meth:`Cursor.error` carry the
whole script as ``source`` and absolute spans, so ``err.render()`` shows the right line.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasksql.errors import Span, TasksqlError, TasksqlSyntaxError, ValidationError
from tasksql.sql.tokenizer import LineIndex
from tasksql.sql.tokens import Token, TokenKind

_SYMBOLS = {
    "=": TokenKind.EQ,
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    ",": TokenKind.COMMA,
    ".": TokenKind.DOT,
    ";": TokenKind.SEMICOLON,
}


def matches(tok: Token | None, item: str) -> bool:
    """Whether ``tok`` is the word or symbol ``item`` (words compare case-insensitively)."""
    if tok is None:
        return False
    kind = _SYMBOLS.get(item)
    if kind is not None:
        return tok.kind is kind
    return tok.kind is TokenKind.WORD and tok.text.upper() == item


class Cursor:
    """Position in the token list of one statement.

    ``flags`` collects facts the parsers note on the way (for example which system's spelling a
    clause belongs to); the statement parser reads them at the end.

    A cursor may stand for a statement whose tail is not tokenized (:mod:`tasksql.sql.lazy_body`):
    its last token, at index ``watch``, is a :attr:`TokenKind.REST` token holding the rest of the
    text. ``watched`` tells whether the parsers looked at it (through :meth:`peek`, which every
    look goes through), ``rest_taken`` whether :meth:`take_rest` consumed it as the end of a run
    of verbatim text that began at a real token; the result of a parse that did neither is that of
    the full token list.
    """

    def __init__(
        self,
        source: str,
        tokens: Sequence[Token],
        index: LineIndex | None = None,
        *,
        watch: int | None = None,
    ) -> None:
        self.source = source
        self.tokens = list(tokens)
        self.index = index or LineIndex(source)
        self.pos = 0
        self.flags: set[str] = set()
        self.watch = watch
        self.watched = False
        self.rest_taken = False

    # --- looking ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self, k: int = 0) -> Token | None:
        i = self.pos + k
        if self.watch is not None and i >= self.watch:
            self.watched = True
        return self.tokens[i] if 0 <= i < len(self.tokens) else None

    def at(self, *items: str) -> bool:
        """Whether the next tokens are ``items``, in order."""
        return all(matches(self.peek(k), item) for k, item in enumerate(items))

    def at_word(self, *words: str) -> bool:
        """Whether the next token is one of ``words``."""
        tok = self.peek()
        return tok is not None and tok.kind is TokenKind.WORD and tok.text.upper() in words

    def at_kind(self, *kinds: TokenKind) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in kinds

    # --- consuming -------------------------------------------------------------------------------

    def next(self, what: str = "more input") -> Token:
        """Consume and return the next token; at the end, a syntax error expecting ``what``."""
        tok = self.peek()
        if tok is None:
            raise self.error(f"expected {what}, found the end of the statement", expected=[what])
        self.pos += 1
        return tok

    def accept(self, *items: str) -> Token | None:
        """Consume ``items`` if they come next; return the first of their tokens, else None."""
        if not self.at(*items):
            return None
        tok = self.tokens[self.pos]
        self.pos += len(items)
        return tok

    def accept_word(self, *words: str) -> Token | None:
        """Consume the next token if it is one of ``words``."""
        if not self.at_word(*words):
            return None
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def take_rest(self) -> tuple[Token, Token]:
        """Consume the rest of the statement (at least one token must remain): its first and last
        token, whose offsets delimit it in the source (:meth:`text_of`)."""
        first, last = self.tokens[self.pos], self.tokens[-1]
        if self.watch is not None:
            if self.pos < self.watch and not self.watched:
                self.rest_taken = True
            else:
                self.watched = True
        self.pos = len(self.tokens)
        return first, last

    def expect(self, *items: str, what: str | None = None) -> Token:
        """Consume ``items`` or raise a syntax error expecting them (or ``what``)."""
        tok = self.accept(*items)
        if tok is None:
            label = what or " ".join(items)
            found = self.peek()
            for k, item in enumerate(items):  # point at the first token that differs
                if not matches(self.peek(k), item):
                    found = self.peek(k)
                    break
            raise self.error(f"expected {label}, found {describe(found)}", at=found, expected=[label])
        return tok

    def expect_kind(self, kind: TokenKind, what: str) -> Token:
        tok = self.peek()
        if tok is None or tok.kind is not kind:
            raise self.error(f"expected {what}, found {describe(tok)}", at=tok, expected=[what])
        self.pos += 1
        return tok

    # --- positions and text ----------------------------------------------------------------------

    @property
    def statement_span(self) -> Span:
        """The span of the whole statement (first to last token)."""
        if not self.tokens:
            return self.index.span(0, 0)
        return self.index.span(self.tokens[0].start, self.tokens[-1].end)

    @property
    def statement_text(self) -> str:
        span = self.statement_span
        return self.source[span.start : span.end]

    @property
    def end_offset(self) -> int:
        """Offset just past the statement's last token."""
        return self.tokens[-1].end if self.tokens else 0

    def end_span(self) -> Span:
        """An empty span just past the statement's last token."""
        return self.index.span(self.end_offset, self.end_offset)

    def span_of(self, first: Token, last: Token | None = None) -> Span:
        """The span from ``first`` to ``last`` (inclusive; ``first`` alone when None)."""
        last = last or first
        return self.index.span(first.start, max(first.end, last.end))

    def span_since(self, first: Token) -> Span:
        """The span from ``first`` to the last consumed token."""
        last = self.tokens[self.pos - 1] if self.pos > 0 else first
        return self.span_of(first, last)

    def text_of(self, first: Token, last: Token) -> str:
        """The verbatim source from ``first`` to ``last`` inclusive."""
        return self.source[first.start : last.end]

    def previous(self) -> Token:
        return self.tokens[self.pos - 1]

    # --- errors ----------------------------------------------------------------------------------

    def error(
        self,
        message: str,
        *,
        at: Token | Span | None = None,
        expected: Sequence[str] = (),
        code: str = "SYNTAX_ERROR",
        cls: type[TasksqlError] = TasksqlSyntaxError,
    ) -> TasksqlError:
        """An error located at ``at`` (a token or span; the end of the statement when None)."""
        if isinstance(at, Token):
            span = at.span
        elif isinstance(at, Span):
            span = at
        else:
            span = self.end_span()
        return cls(message, code=code, span=span, expected=expected, source=self.source)

    def unexpected(self, expected: Sequence[str], context: str = "") -> TasksqlError:
        """A syntax error at the next token, listing what would have been accepted there."""
        tok = self.peek()
        where = f" {context}" if context else ""
        found = "end of the statement" if tok is None else describe(tok)
        listed = ", ".join(expected)
        return self.error(f"unexpected {found}{where}; expected {listed}", at=tok, expected=expected)


def describe(tok: Token | None) -> str:
    """A token as error messages name it."""
    if tok is None:
        return "the end of the statement"
    if tok.kind is TokenKind.WORD:
        return tok.text.upper() if tok.text.isascii() else repr(tok.text)
    if tok.kind is TokenKind.STRING:
        return "a string"
    if tok.kind is TokenKind.NUMBER:
        return f"number {tok.raw}"
    if tok.kind is TokenKind.IDENT:
        return f"identifier {tok.raw}"
    return f"'{tok.raw}'"


def duplicate(cur: Cursor, what: str, at: Token | Span) -> ValidationError:
    err = cur.error(f"{what} is given more than once", at=at, code="DUPLICATE_CLAUSE", cls=ValidationError)
    assert isinstance(err, ValidationError)
    return err


def conflicting(cur: Cursor, message: str, at: Token | Span) -> ValidationError:
    err = cur.error(message, at=at, code="CONFLICTING_OPTIONS", cls=ValidationError)
    assert isinstance(err, ValidationError)
    return err
