"""A fast lexical scanner: where a script's statements end, and the words that matter for that.

:func:`~tasksql.sql.tokenizer.tokenize` builds a :class:`~tasksql.sql.tokens.Token` for every
token, through sqlglot's tokenizer, which is written in Python: a script of one megabyte takes
seconds. Splitting needs much less: where strings, quoted identifiers, dollar-quoted bodies and
comments begin and end (a ``;`` inside them does not split), the ``;`` themselves, the leading
words of each statement (is it tasksql's own, or the warehouse's?) and, inside a task statement,
its words (a ``BEGIN ... END`` body holds semicolons). This module finds those with regular
expressions, which skip everything else in runs at C speed, so the cost is linear in the text and
small: one match per run of plain text, string, comment or ``;``.

It reads the text as the tokenizer does (sqlglot's DuckDB dialect): ``'...'`` with ``''``,
``E'...'`` with ``\\'`` too, ``"..."`` with ``""``, back-quoted identifiers with two back quotes,
``$$...$$`` and ``$tag$...$tag$`` (a ``$`` inside
a word is part of the word: ``SYSTEM$X``), ``--`` to the end of the line, nested ``/* */``. A word
is a run of characters that are neither white space nor punctuation, not starting with a digit.
A dollar-quote tag is an identifier, as in DuckDB and PostgreSQL (sqlglot also takes ``$1"x"$``
for one; where the two differ, the scanner follows the database).
:class:`ScanError` reports text it cannot read (an unterminated string or comment); the caller
asks the tokenizer for the exact error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: How many leading words :func:`head_words` reads.
HEAD_LIMIT = 8

# Punctuation that ends a word (sqlglot's single-character tokens); "$" may continue a word.
_PUNCT = r"!-/:-@\[-^`{-~"
_PUNCT_NOT_DOLLAR = r"!-#%-/:-@\[-^`{-~"
_WORD = rf"[^\s{_PUNCT}0-9][^\s{_PUNCT_NOT_DOLLAR}]*"
_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
# Punctuation that starts nothing special (not ; ' " ` $ - /).
_PLAIN_PUNCT = r"[!#%&()*+,.:<=>?@\[\\\]^{|}~]"

# Strings, whole (an unterminated one does not match: ScanError).
_STRING = r"'[^']*(?:''[^']*)*'"
_E_STRING = r"[eE]'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'"
_IDENT = r'"[^"]*(?:""[^"]*)*"|`[^`]*(?:``[^`]*)*`'
_DOLLAR_TAG = r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$"

# One lexeme: a word, a ;, a whole string, a comment, an opening quote never closed, or another
# character (a number whole).
_LEX = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<word>(?![eE]'){_WORD})
  | (?P<semi>;)
  | (?P<string>{_E_STRING}|{_STRING}|{_IDENT})
  | (?P<comment>--[^\n]*)
  | (?P<block>/\*)
  | (?P<dollar>{_DOLLAR_TAG})
  | (?P<open>[eE]?['"`])
  | (?P<other>{_NUMBER}|.)
    """,
    re.VERBOSE | re.DOTALL,
)

_COMMENT_MARK = re.compile(r"/\*|\*/")
# Plain text in bulk: everything up to a ; ' " ` $ -- or /* (what statement_end looks at).
_BULK = re.compile(r"(?:[^;'\"`$/\-]+|-(?!-)|/(?!\*))+")
_STRING_RE = re.compile(_STRING)
_E_STRING_RE = re.compile(_E_STRING)
_IDENT_RE = re.compile(_IDENT)
_DOLLAR_TAG_RE = re.compile(_DOLLAR_TAG)
_PUNCT_CHAR = re.compile(f"[{_PUNCT}]")
_GAP = re.compile(r"(?:\s+|--[^\n]*)*")

# Leading words separated by white space only (the common case). ASCII: tasksql's statements begin
# with keywords, and a word with any other character ends the head (head_words checks the end).
_HEAD = re.compile(rf"(?:[A-Za-z_][A-Za-z0-9_]*\s*){{1,{HEAD_LIMIT}}}")

# The end of a task statement hangs on a few words only (BEGIN, END, ...; split.py): the lexemes
# between them are skipped in one match, exactly as _LEX reads them one by one. A lexeme is a whole
# ASCII word that is none of the given keywords, a whole string or quoted identifier, a number or a
# symbol other than ; $ and the comment openers; a word with other characters, a $, a /* comment, a
# keyword or text that cannot be read stops the run (the caller reads it with lexemes()). The run
# ends after its last lexeme, before the white space and comments that follow. Atomic groups and
# possessive repetition: nothing is tried twice, so one match is linear in what it skips.
_WORD_GOES_ON = rf"(?![^\s{_PUNCT_NOT_DOLLAR}])"
_ASCII_WORD = rf"[A-Za-z_][A-Za-z0-9_$]*{_WORD_GOES_ON}"


def _quiet_run(keywords: tuple[str, ...], *, semicolon: bool) -> re.Pattern[str]:
    keyword = "|".join(keywords)
    lexeme = (
        rf"(?>(?![eE]')(?!(?i:{keyword}){_WORD_GOES_ON}){_ASCII_WORD}"
        rf"|{_E_STRING}|{_STRING}|{_IDENT}|{_NUMBER}|{_PLAIN_PUNCT}|-(?!-)|/(?!\*)"
        + ("|;" if semicolon else "")
        + ")"
    )
    return re.compile(rf"(?:(?>(?:\s+|--[^\n]*)*){lexeme})*+", re.DOTALL)


#: Outside a BEGIN ... END block of a task body: AS (a body may begin with a block), the words that
#: open one, CASE (after END CASE) and ; matter.
_QUIET_OUTSIDE = _quiet_run(("AS", "BEGIN", "DECLARE", "CASE"), semicolon=False)
#: Inside a block: only the words that open and close blocks matter (a ; splits nothing there).
_QUIET_INSIDE = _quiet_run(("BEGIN", "CASE", "END"), semicolon=True)

WORD = "word"
SEMI = ";"
QUOTED = "quoted"  # a string, quoted identifier or dollar-quoted string
OTHER = "other"


class ScanError(Exception):
    """The text cannot be read at ``offset`` (an unterminated string, identifier or comment)."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Lexeme:
    """A word (``text`` upper-cased), a ``;``, a quoted string or identifier, or anything else (a
    number, a symbol)."""

    kind: str
    start: int
    end: int
    text: str = ""


def _after_block_comment(text: str, start: int) -> int:
    """The offset just past the nested ``/* ... */`` that opens at ``start``."""
    depth = 0
    for m in _COMMENT_MARK.finditer(text, start):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    raise ScanError(start)


def _after_dollar(text: str, m: re.Match[str]) -> int:
    """The offset just past the dollar-quoted string whose opening tag ``m`` matched."""
    close = text.find(m.group(), m.end())
    if close == -1:
        raise ScanError(m.start())
    return close + len(m.group())


def lexemes(text: str, pos: int = 0) -> Iterator[Lexeme]:
    """The words, semicolons and other lexemes of ``text`` from ``pos`` (comments and white space
    skipped), one at a time.

    :raises ScanError: at an unterminated string, quoted identifier, dollar-quoted string or comment.
    """
    size = len(text)
    match = _LEX.match
    while pos < size:
        m = match(text, pos)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup
        end = m.end()
        if kind == "word":
            yield Lexeme(WORD, pos, end, m.group().upper())
        elif kind == "semi":
            yield Lexeme(SEMI, pos, end)
        elif kind == "string":
            yield Lexeme(QUOTED, pos, end)
        elif kind == "other":
            yield Lexeme(OTHER, pos, end)
        elif kind == "block":
            end = _after_block_comment(text, pos)
        elif kind == "dollar":
            end = _after_dollar(text, m)
            yield Lexeme(QUOTED, pos, end)
        elif kind == "open":
            raise ScanError(pos)
        pos = end


def dollar_tag_at(text: str, pos: int) -> str | None:
    """The dollar-quote tag (``$$``, ``$tag$``) that opens at ``pos``, if one does."""
    m = _DOLLAR_TAG_RE.match(text, pos)
    return m.group() if m is not None else None


def skip_gap(text: str, pos: int) -> int:
    """The offset of the first token at or after ``pos`` (white space and comments skipped), or
    ``len(text)``.

    :raises ScanError: at an unterminated ``/*`` comment.
    """
    while True:
        m = _GAP.match(text, pos)
        pos = m.end() if m is not None else pos
        if not text.startswith("/*", pos):
            return pos
        pos = _after_block_comment(text, pos)


def head_words(text: str, pos: int) -> tuple[str, ...]:
    """The leading words (upper-cased, at most :data:`HEAD_LIMIT`) of the statement whose first
    token starts at ``pos``: the words before anything that is not a word. A word holding other
    characters than ASCII letters, digits and "_" (``a$b``, ``é``) ends the head, since no
    statement of tasksql's begins with one."""
    m = _HEAD.match(text, pos)
    if m is None:
        return ()
    words = m.group().upper().split()
    end = m.end()
    if end < len(text):
        if len(words) < HEAD_LIMIT and text.startswith(("--", "/*"), end):
            # a comment between the words: read on, one by one
            words = []
            for lex in lexemes(text, pos):
                if lex.kind != WORD or len(words) == HEAD_LIMIT:
                    break
                words.append(lex.text)
        elif not text[end - 1].isspace() and (_word_char(text[end]) or text[end] == "'"):
            words.pop()  # the last word goes on with other characters (or is E'...'): no keyword
    return tuple(words)


def statement_end(text: str, pos: int) -> tuple[int, int]:
    """Where the statement that starts at ``pos`` ends: (the offset of the first ``;`` outside
    strings and comments, or ``len(text)``; the offset just past its last token, white space and
    comments left out). One match per run of plain text, string or comment.

    :raises ScanError: at an unterminated string, quoted identifier, dollar-quoted string or comment.
    """
    size = len(text)
    bulk = _BULK.match
    last = start_of_statement = pos
    quoted_end = -1  # where the last string, quoted identifier or "$" run ended: a token starts there
    while pos < size:
        m = bulk(text, pos)
        if m is not None:
            stop, end = pos, m.end()
            while end > stop and text[end - 1].isspace():  # trailing white space is not a token
                end -= 1
            if end > stop:
                last = end
            pos = m.end()
            if pos >= size:
                break
        ch = text[pos]
        if ch == ";":
            return pos, last
        if ch in "'\"`":
            e_string = ch == "'" and _opens_e_string(text, pos)
            start = pos - 1 if e_string else pos
            found = (_E_STRING_RE if e_string else _STRING_RE if ch == "'" else _IDENT_RE).match(text, start)
            if found is None:
                raise ScanError(start)
            pos = last = quoted_end = found.end()
        elif ch == "$":
            pos, _ = _after_dollar_run(text, pos, max(quoted_end, start_of_statement))
            last = quoted_end = pos
        elif text.startswith("--", pos):
            pos = text.find("\n", pos)
            pos = size if pos == -1 else pos
        else:  # "/*": the bulk match stops at no other "/" or "-"
            pos = _after_block_comment(text, pos)
    return size, last


def quiet_end(text: str, pos: int, *, inside_block: bool) -> int:
    """The end of the run of lexemes from ``pos`` that cannot end a task statement or open or close
    a ``BEGIN ... END`` block of its body (``pos`` itself when the first lexeme may): outside a
    block, anything but ``;`` and the words AS, BEGIN, DECLARE and CASE; inside one, anything but
    BEGIN, CASE and END. The run stops early, at a lexeme boundary, at what it does not read in
    bulk (a ``$``, a ``/*`` comment, a word with characters other than ASCII letters, digits, "_"
    and "$", text that cannot be read): :func:`lexemes` reads on from there. One match, linear in
    the text it skips."""
    pattern = _QUIET_INSIDE if inside_block else _QUIET_OUTSIDE
    m = pattern.match(text, pos)
    return m.end() if m is not None else pos


def code_runs(text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) offsets of the runs of ``text`` outside strings, quoted identifiers and
    comments, in order (``;`` included): where a name written in SQL can be.

    :raises ScanError: at an unterminated string, quoted identifier, dollar-quoted string or comment.
    """
    size = len(text)
    pos = 0
    while pos < size:
        semicolon, _ = statement_end(text, pos)
        yield from _code_runs_of_statement(text, pos, semicolon)
        if semicolon < size:
            yield semicolon, semicolon + 1
        pos = semicolon + 1


def _code_runs_of_statement(text: str, pos: int, stop: int) -> Iterator[tuple[int, int]]:
    bulk = _BULK.match
    quoted_end = -1
    floor = pos
    while pos < stop:
        m = bulk(text, pos)
        if m is not None:
            yield pos, m.end()
            pos = m.end()
            if pos >= stop:
                return
        ch = text[pos]
        if ch in "'\"`":
            e_string = ch == "'" and _opens_e_string(text, pos)
            found = (_E_STRING_RE if e_string else _STRING_RE if ch == "'" else _IDENT_RE).match(
                text, pos - 1 if e_string else pos
            )
            pos = quoted_end = found.end() if found is not None else stop
        elif ch == "$":
            pos, code = _after_dollar_run(text, pos, max(quoted_end, floor))
            quoted_end = pos
            yield from code
        elif text.startswith("--", pos):
            pos = text.find("\n", pos)
            pos = stop if pos == -1 else pos
        else:
            pos = _after_block_comment(text, pos)


def _word_char(ch: str) -> bool:
    """Whether ``ch`` may continue a word (letters, digits, "_", "$", any other non-ASCII)."""
    return not ch.isspace() and (ch == "$" or not _PUNCT_CHAR.match(ch))


def _opens_e_string(text: str, quote: int) -> bool:
    """Whether the quote at ``quote`` is that of ``E'...'``: an E that begins a token before it."""
    return quote >= 1 and text[quote - 1] in "eE" and (quote < 2 or not _word_char(text[quote - 2]))


def _after_dollar_run(text: str, dollar: int, floor: int) -> tuple[int, list[tuple[int, int]]]:
    """Read the ``$`` at ``dollar`` (outside strings) with the run of word characters around it,
    as the tokenizer does: inside a word it is part of the word (``SYSTEM$X``, ``a1$$b$$``), at the
    start of a token it may open a dollar-quoted string (``$$``, ``$tag$``, also after a number:
    ``1$$x$$``) or stand alone (``$1``). Returns where scanning goes on (past the run, or past a
    string that opens in it) and the (start, end) of the run's parts that are code, not strings.
    ``floor`` is where a token surely starts (the statement's start, the end of a string): the
    run is not looked for before it. Each run is read once, so the cost stays linear.

    :raises ScanError: at a dollar-quoted string that is never closed.
    """
    start = dollar
    while start > floor and _word_char(text[start - 1]):
        start -= 1
    size = len(text)
    run_end = dollar + 1
    while run_end < size and _word_char(text[run_end]):
        run_end += 1
    end = dollar + 1
    code: list[tuple[int, int]] = []
    for lex in lexemes(text, start):
        if lex.start >= run_end:
            break
        end = lex.end
        if lex.kind != QUOTED:
            code.append((lex.start, lex.end))
    return end, code
