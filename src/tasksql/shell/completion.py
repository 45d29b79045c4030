"""Completion of keywords, function names and task names for the shell.

:func:`word_before` and :func:`candidates` are pure; :class:`SqlCompleter` adapts them to
prompt_toolkit. Matching is case-insensitive on the word before the cursor. Keywords are offered
in lower case when the typed prefix is lower case and in upper case otherwise; function names keep
their documented spelling; task names are offered as SQL names (quoted when they need it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from tasksql.errors import TasksqlSyntaxError
from tasksql.model import quote_ident
from tasksql.shell.keywords import ShellWords
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind

# A word does not start right after a digit: in ``5s`` there is no word to complete.
_WORD_BEFORE = re.compile(r"(?<![0-9])[A-Za-z_][A-Za-z0-9_$]*$")


def word_before(text_before_cursor: str) -> str:
    """The identifier-like word that ends at the cursor ('' when there is none)."""
    match = _WORD_BEFORE.search(text_before_cursor)
    return match.group() if match else ""


def in_literal_or_comment(text_before_cursor: str) -> bool:
    """True when the cursor is inside a string, quoted identifier or comment (no completion there)."""
    try:
        tokens = tokenize(text_before_cursor, comments=True)
    except TasksqlSyntaxError:
        return True  # an unterminated string or comment runs up to the cursor
    if not tokens:
        return False
    last = tokens[-1]
    return (
        last.kind is TokenKind.COMMENT and last.raw.startswith("--") and last.end == len(text_before_cursor)
    )


def candidates(prefix: str, words: ShellWords, names: Iterable[str] = ()) -> list[str]:
    """The completions of ``prefix``: matching task names first, then keywords and functions.

    An empty prefix matches everything. Each completion appears once (case-insensitively); a word
    equal to the prefix (ignoring case) is not offered, since completing it changes nothing but case.
    """
    key = prefix.upper()
    lower = prefix != "" and prefix == prefix.lower()
    out: list[str] = []
    seen: set[str] = set()

    def offer(word: str, insert: str | None = None) -> None:
        up = word.upper()
        if up.startswith(key) and up != key and up not in seen:
            seen.add(up)
            out.append(word if insert is None else insert)

    for name in sorted(names, key=str.upper):
        offer(name, quote_ident(name))  # matched on the name, inserted as SQL reads it
    for word in words.all():
        if words.is_function(word):
            offer(word)
        else:
            offer(word.lower() if lower else word.upper())
    return out


class SqlCompleter(Completer):
    """Completes the word before the cursor from ``words`` and the task names ``names()`` returns.

    Nothing is offered inside strings and comments, nor for an empty word unless completion was
    asked for explicitly (Tab).
    """

    def __init__(self, words: ShellWords, names: Callable[[], Sequence[str]]) -> None:
        self.words = words
        self.names = names

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        prefix = word_before(before)
        if not prefix and not complete_event.completion_requested:
            return
        if in_literal_or_comment(before):
            return
        for word in candidates(prefix, self.words, self.names()):
            yield Completion(word, start_position=-len(prefix))
