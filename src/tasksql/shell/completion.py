"""Tab completion: the words valid at the cursor (see :mod:`tasksql.shell.context`), from the names
the shell knows (tasks, the warehouse's tables and columns) and the words of the grammar.

:func:`word_before` and :func:`candidates` are pure; :class:`SqlCompleter` adapts them to
prompt_toolkit. Matching is case-insensitive on the word before the cursor. Keywords are offered in
lower case when the typed prefix is lower case and in upper case otherwise; function names keep
their documented spelling; names are offered as SQL reads them (quoted when they need it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from tasksql.errors import TasksqlSyntaxError
from tasksql.model import quote_ident
from tasksql.shell.context import Suggestion, suggest
from tasksql.shell.keywords import ShellWords
from tasksql.shell.schema import SYSTEM_SCHEMA, WarehouseSchema, table_functions
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind

# A word does not start right after a digit: in ``5s`` there is no word to complete.
_WORD_BEFORE = re.compile(r"(?<![0-9])[A-Za-z_][A-Za-z0-9_$]*$")

_BARE = re.compile(r"[a-z_][a-z0-9_$]*")

# Schemas whose tables are named without their schema.
_DEFAULT_SCHEMAS = ("main", "public")


def sql_name(name: str) -> str:
    """A warehouse name as SQL reads it: bare when it is a lower-case identifier (``system``,
    ``events``), double-quoted otherwise (``"Events"``, ``"my table"``)."""
    return name if _BARE.fullmatch(name) else '"' + name.replace('"', '""') + '"'


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Names:
    """The names completion draws on: ``tasks``; ``relations`` as offered after FROM (unqualified in
    the default schema, ``schema.name`` otherwise, table functions); ``columns`` by relation name."""

    tasks: Sequence[str] = ()
    schema: WarehouseSchema | None = None
    extra_relations: Sequence[str] = field(default_factory=table_functions)

    def relations(self, in_schema: str | None = None) -> list[str]:
        out: list[str] = []
        for rel in self.schema.all_relations() if self.schema is not None else ():
            if in_schema is not None:
                if rel.schema.lower() == in_schema.lower():
                    out.append(sql_name(rel.name))
            elif rel.schema.lower() in _DEFAULT_SCHEMAS:
                out.append(sql_name(rel.name))
            else:
                out.append(f"{sql_name(rel.schema)}.{sql_name(rel.name)}")
        if in_schema is None:
            out += list(self.extra_relations)
        return out

    def columns(self, suggestion: Suggestion) -> list[str]:
        if self.schema is None:
            return []
        if not suggestion.scope:
            return self.schema.all_columns()
        return self.schema.columns_of(rel for _, rel in suggestion.scope)

    def qualified(self, qualifier: str, suggestion: Suggestion) -> list[str]:
        """After ``qualifier.``: the relations of that schema, or the columns of that relation or alias."""
        if self.schema is None:
            return []
        low = qualifier.lower()
        for alias, rel in suggestion.scope:
            if alias.lower() == low:
                return [sql_name(c) for c in self.schema.columns_of([rel])]
        relation = self.schema.find(qualifier)
        if relation is not None:
            return [sql_name(c.name) for c in relation.columns]
        if low in self.schema.schemas() or low == SYSTEM_SCHEMA:
            return self.relations(in_schema=qualifier)
        return []


def candidates(
    prefix: str, words: ShellWords, names: Iterable[str] = (), grammar: Iterable[str] = ()
) -> list[str]:
    """The completions of ``prefix``: matching ``names`` first (inserted as given), then the
    ``grammar`` words and the keywords and functions of ``words``.

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
        offer(name.replace('"', ""), name)  # matched on the name, inserted as SQL reads it
    for phrase in grammar:
        offer(phrase.lower() if lower else phrase)
    for word in words.all():
        if words.is_function(word):
            offer(word)
        else:
            offer(word.lower() if lower else word.upper())
    return out


def complete(before: str, after: str, words: ShellWords, names: Names, *, requested: bool) -> list[str]:
    """The completions at a cursor with ``before`` before it and ``after`` after it."""
    prefix = word_before(before)
    if not prefix and not requested:
        return []
    if in_literal_or_comment(before):
        return []
    found = suggest(before, prefix, after)
    if found.qualifier is not None:
        return candidates(prefix, ShellWords.of((), ()), names.qualified(found.qualifier, found))
    offered: list[str] = []
    if found.tasks:
        offered += [quote_ident(n) for n in names.tasks]
    if found.tables:
        offered += names.relations()
    if found.columns:
        offered += [sql_name(c) for c in names.columns(found)]
    general = words if found.keywords else ShellWords.of((), ())
    return candidates(prefix, general, offered, found.words)


class SqlCompleter(Completer):
    """Completes the word before the cursor with what is valid there (see :func:`complete`).

    ``names()`` gives the current :class:`Names` (the shell refreshes them after DDL). Nothing is
    offered inside strings and comments, nor for an empty word unless completion was asked for
    explicitly (Tab).
    """

    def __init__(self, words: ShellWords, names: Callable[[], Names]) -> None:
        self.words = words
        self.names = names

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        found = complete(
            before,
            document.text_after_cursor,
            self.words,
            self.names(),
            requested=complete_event.completion_requested,
        )
        prefix = word_before(before)
        for word in found:
            yield Completion(word, start_position=-len(prefix))
