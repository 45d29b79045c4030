"""What may be written at the cursor: the context that completion offers words for.

:func:`suggest` is pure. For the task language it asks the SQL front end itself: the statement up
to the cursor is parsed, and the parser's syntax error lists what it expected there (the actions
after ``ALTER TASK t``, a task name after ``EXECUTE TASK``, a property after ``SET``); property
names come from the property table (:mod:`tasksql.sql.properties`), so completion follows the
grammar without its own copy of it. For ordinary SQL, which passes through to the warehouse, the
keyword before the cursor decides: relations after FROM/JOIN/INTO/UPDATE, columns of the statement's
relations after SELECT/WHERE/ON/BY and operators, ``alias.`` or ``schema.`` before the word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tasksql.errors import TasksqlError
from tasksql.sql import parse
from tasksql.sql.keywords import STATEMENT_STARTERS
from tasksql.sql.parse_task import CLAUSES_EXPECTED
from tasksql.sql.parser import CREATE_STATEMENTS, STATEMENTS
from tasksql.sql.properties import PROPERTIES
from tasksql.sql.split import split_tokens
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import Token, TokenKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    """What to offer for the word before the cursor.

    ``words``: keywords and phrases of the grammar valid here, offered as written. ``keywords``:
    the shell's general keyword and function list. ``tasks``: task names. ``tables``: relations and
    table functions. ``columns``: columns of the relations in ``scope`` (all known columns when
    ``scope`` is empty). ``qualifier``: the name before a dot (``t.``, ``system.``): the columns of
    that relation or alias, or the relations of that schema. ``scope`` pairs each name a relation
    is known by in the statement (alias or name) with the relation.
    """

    words: tuple[str, ...] = ()
    keywords: bool = False
    tasks: bool = False
    tables: bool = False
    columns: bool = False
    qualifier: str | None = None
    scope: tuple[tuple[str, str], ...] = ()


NOTHING = Suggestion()

#: After these words a relation is named.
RELATION_WORDS = frozenset({"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "DESCRIBE", "DESC", "SUMMARIZE"})
#: After these words (and operators, ``(`` and ``=``) an expression, often a column, follows.
EXPRESSION_WORDS = frozenset(
    {"SELECT", "WHERE", "AND", "OR", "ON", "BY", "HAVING", "SET", "DISTINCT", "WHEN", "THEN", "ELSE",
     "NOT", "CASE", "USING", "RETURNING"}
)  # fmt: skip
# Words that may follow a relation name and so are not its alias.
_NOT_ALIAS = frozenset(
    {"WHERE", "JOIN", "ON", "USING", "GROUP", "ORDER", "LIMIT", "LEFT", "RIGHT", "INNER", "OUTER", "FULL",
     "CROSS", "NATURAL", "UNION", "EXCEPT", "INTERSECT", "HAVING", "WINDOW", "QUALIFY", "SET", "VALUES",
     "SELECT", "AS", "OFFSET", "FETCH", "RETURNING", "DEFAULT", "BY"}
)  # fmt: skip

# Clauses of CREATE TASK besides its properties (parse_task.py reads them): offered after the name.
_CREATE_TASK_CLAUSES = ("WITH TAG", "WITH CONTACT", "ENABLE", "DISABLE", "PROCEDURE", "FROM CLASS")

_QUALIFIER = re.compile(r'(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_$]*))\.$')
_PLACEHOLDER_TASK = "task name>"  # <task name>, <predecessor task name>
# Appended to the statement before parsing it: a token no rule of the task grammar accepts.
_PROBE = " #"
_PLACEHOLDER_SETTABLE = "<property> = <value>"
_PLACEHOLDER_UNSETTABLE = "<property>"


def _code_tokens(text: str) -> list[Token] | None:
    try:
        return [t for t in tokenize(text, comments=True) if t.kind is not TokenKind.COMMENT]
    except TasksqlError:
        return None


def _current_statement(text: str, tokens: list[Token]) -> tuple[int, list[Token]]:
    """The offset where the statement at the end of ``text`` starts, and its tokens."""
    pieces = split_tokens(text, tokens)
    if not pieces or pieces[-1].terminated:
        return len(text), []
    last = pieces[-1]
    return last.start, list(last.tokens)


def _words(tokens: Sequence[Token], n: int) -> list[str]:
    return [t.upper if t.kind is TokenKind.WORD else "" for t in tokens[:n]]


def _task_statement(tokens: Sequence[Token]) -> str | None:
    """``CREATE`` or the leading words of a task-language statement, else None (ordinary SQL)."""
    heads = _words(tokens, 8)
    if heads[:1] == ["CREATE"]:
        rest = heads[1:]
        while rest[:2] in (["OR", "REPLACE"], ["OR", "ALTER"]):
            rest = rest[2:]
        for words in CREATE_STATEMENTS:
            if rest[: len(words)] == list(words):
                return "CREATE " + " ".join(words)
        return None
    for words in sorted(STATEMENTS, key=len, reverse=True):
        if heads[: len(words)] == list(words):
            return " ".join(words)
    return None


def _body_start(tokens: Sequence[Token], kind: str) -> int | None:
    """Index of the first token of the SQL body (or WHEN condition) of a task statement, if begun."""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if kind == "CREATE TASK" and tok.is_word("AS") and not (nxt is not None and nxt.is_word("USER")):
            return i + 1
        if kind == "CREATE TASK" and tok.is_word("WHEN"):
            return i + 1
        if kind == "ALTER TASK" and tok.is_word("MODIFY") and nxt is not None and nxt.is_word("AS", "WHEN"):
            return i + 2
    return None


def _property_keys(kind: str, tokens: Sequence[Token], *, unset: bool = False) -> list[str]:
    """Property keywords that may be written in ``kind`` and are not written yet."""
    written = {t.upper for t in tokens if t.kind is TokenKind.WORD}
    out: list[str] = []
    for prop in PROPERTIES:
        allowed = prop.in_create if kind == "CREATE TASK" else prop.in_unset if unset else prop.in_set
        phrase = " ".join(prop.words)
        if not allowed or (len(prop.words) == 1 and phrase in written) or phrase in out:
            continue
        out.append(phrase)
    return out


def _offered(item: str) -> str | None:
    """The words to offer for an item of a syntax error's ``expected`` list, or None.

    ``ADD AFTER`` -> ``ADD AFTER``; ``AS <sql>`` -> ``AS``; ``URL = '<url>'`` -> ``URL``;
    placeholders and values -> None.
    """
    words: list[str] = []
    for part in item.split():
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", part):
            break
        words.append(part)
    return " ".join(words) or None


def _grammar(kind: str, text: str, start: int, tokens: list[Token]) -> Suggestion:
    """What the task grammar expects at the end of ``text``, whose last statement starts at
    ``start`` and has ``tokens``.

    The statement is parsed with a probe token appended that no rule accepts; the syntax error
    then says what the parser expected, either at the probe (nothing typed yet) or at words typed
    before it that begin a longer phrase (``MODIFY`` of ``MODIFY AS``).
    """
    try:
        parse(text[start:] + _PROBE)
    except TasksqlError as err:
        error = err
    else:  # never expected: the probe is no valid token
        return Suggestion(keywords=True)
    expected = list(error.expected or ())
    if kind == "CREATE TASK" and set(CLAUSES_EXPECTED) <= set(expected):
        expected += _CREATE_TASK_CLAUSES  # the clauses the parser does not list in its error
    at = start + (error.span.start if error.span is not None else len(text) - start)
    typed = [t for t in tokens if t.start >= at]
    if any(t.kind is not TokenKind.WORD for t in typed):
        return NOTHING
    typed_words = [t.upper for t in typed]
    just_written = " ".join(t.upper for t in tokens[-3:] if t.kind is TokenKind.WORD and t.start < at)
    words: list[str] = []
    tasks = False
    for item in expected:
        if item.endswith(_PLACEHOLDER_TASK):
            previous = tokens[-1] if tokens else None
            new_name = kind.startswith("CREATE") and bool(previous and previous.is_word("TASK", "EXISTS"))
            tasks = tasks or (not typed_words and not new_name)
            continue
        if item in (_PLACEHOLDER_SETTABLE, _PLACEHOLDER_UNSETTABLE):
            phrases = _property_keys(kind, tokens, unset=item == _PLACEHOLDER_UNSETTABLE)
        else:
            offered = _offered(item)
            # parse_choice names the property whose value it wants: that is no word to write
            phrases = [offered] if offered and not just_written.endswith(offered) else []
        for phrase in phrases:
            parts = phrase.upper().split()
            if len(parts) > len(typed_words) and parts[: len(typed_words)] == typed_words:
                rest = " ".join(phrase.split()[len(typed_words) :])
                if rest not in words:
                    words.append(rest)
    return Suggestion(words=tuple(words), tasks=tasks)


def _relation_name(tokens: Sequence[Token], i: int) -> tuple[str, int]:
    """The dotted name starting at ``tokens[i]`` and the index after it."""
    parts = [tokens[i].text]
    j = i + 1
    while (
        j + 1 < len(tokens)
        and tokens[j].kind is TokenKind.DOT
        and tokens[j + 1].kind
        in (
            TokenKind.WORD,
            TokenKind.IDENT,
        )
    ):
        parts.append(tokens[j + 1].text)
        j += 2
    return ".".join(parts), j


def scope_of(tokens: Sequence[Token]) -> tuple[tuple[str, str], ...]:
    """(alias or name, relation) for each relation after FROM, JOIN, UPDATE or INTO in ``tokens``."""
    out: list[tuple[str, str]] = []
    for i, tok in enumerate(tokens):
        if not tok.is_word("FROM", "JOIN", "UPDATE", "INTO") or i + 1 >= len(tokens):
            continue
        j = i + 1
        while j < len(tokens):
            if tokens[j].kind not in (TokenKind.WORD, TokenKind.IDENT) or tokens[j].upper in _NOT_ALIAS:
                break
            name, j = _relation_name(tokens, j)
            out.append((name, name))
            if j < len(tokens) and tokens[j].is_word("AS"):
                j += 1
            is_name = j < len(tokens) and tokens[j].kind in (TokenKind.WORD, TokenKind.IDENT)
            if is_name and tokens[j].upper not in _NOT_ALIAS:
                out.append((tokens[j].text, name))
                j += 1
            if j < len(tokens) and tokens[j].kind is TokenKind.COMMA:
                j += 1
                continue
            break
    return tuple(out)


def _clause_before(tokens: Sequence[Token]) -> Token | None:
    """The nearest keyword of RELATION_WORDS or EXPRESSION_WORDS before the end, at the same depth."""
    depth = 0
    for tok in reversed(tokens):
        if tok.kind is TokenKind.RPAREN:
            depth += 1
        elif tok.kind is TokenKind.LPAREN:
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0 and tok.kind is TokenKind.WORD and tok.upper in RELATION_WORDS | EXPRESSION_WORDS:
            return tok
    return None


def _sql(tokens: list[Token], scope: tuple[tuple[str, str], ...]) -> Suggestion:
    """What ordinary SQL expects after ``tokens``."""
    if not tokens:
        return Suggestion(keywords=True)
    last = tokens[-1]
    if last.kind is TokenKind.COMMA:
        clause = _clause_before(tokens[:-1])
        last = clause if clause is not None else last
    if last.kind is TokenKind.WORD and last.upper in RELATION_WORDS:
        return Suggestion(tables=True, keywords=last.upper in ("DESCRIBE", "DESC"))
    if (last.kind is TokenKind.WORD and last.upper in EXPRESSION_WORDS) or last.kind in (
        TokenKind.LPAREN,
        TokenKind.EQ,
        TokenKind.OPERATOR,
        TokenKind.COMMA,
    ):
        return Suggestion(columns=True, keywords=True, scope=scope)
    return Suggestion(keywords=True)


def suggest(text_before_cursor: str, prefix: str, text_after_cursor: str = "") -> Suggestion:
    """What to offer for ``prefix``, the word that ends ``text_before_cursor``.

    ``text_after_cursor`` is read only to find the relations of the statement (``SELECT | FROM t``).
    Never raises; text that does not tokenize gives :data:`NOTHING`.
    """
    before = text_before_cursor[: len(text_before_cursor) - len(prefix)]
    qualifier = _QUALIFIER.search(before)
    if qualifier is not None:
        before = before[: qualifier.start()]
    tokens = _code_tokens(before)
    if tokens is None:
        return NOTHING
    start, statement = _current_statement(before, tokens)
    after = _code_tokens(text_after_cursor.split(";", 1)[0]) or []
    scope = scope_of([*statement, *after])
    if qualifier is not None:
        return Suggestion(qualifier=qualifier.group(1) or qualifier.group(2), scope=scope)
    if not statement:
        return Suggestion(words=STATEMENT_STARTERS)
    kind = _task_statement(statement)
    if kind is not None:
        body = _body_start(statement, kind)
        if body is None:
            return _grammar(kind, before, start, statement)
        statement = statement[body:]
    return _sql(statement, scope)
