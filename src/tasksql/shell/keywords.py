"""The words the shell completes and highlights.

The SQL front end owns the keyword lists (``tasksql.sql.keywords``: statement starters, clause
keywords, property names, function names). :func:`shell_words` reads every collection of strings
that module exports, so the shell follows the task grammar without naming its lists one by one.
The task grammar does not list the words of ordinary queries (``WHERE``, ``JOIN``, ``ORDER BY``,
...), which pass through to the warehouse; the shell adds those from :data:`SQL_WORDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

#: Words of ordinary SQL queries, completed and highlighted as keywords.
SQL_WORDS = tuple(
    """
    ALL AND ANY ASC BETWEEN BY CASE CAST CROSS DEFAULT DISTINCT ELSE EXCEPT FALSE FULL GROUP HAVING
    INNER INTERSECT INTERVAL IS JOIN LEFT NATURAL NULL NULLS OFFSET ORDER OUTER OVER PARTITION RIGHT
    THEN TO TRUE UNION VALUES WHERE WINDOW
    """.split()
)

KEYWORDS_MODULE = "tasksql.sql.keywords"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellWords:
    """Upper-case keywords and function names (functions keep their documented spelling).

    Build with :meth:`of`, which also fills ``function_keys`` (the function names upper-cased, for
    case-insensitive lookups).
    """

    keywords: frozenset[str]
    functions: frozenset[str]
    function_keys: frozenset[str] = frozenset()

    @staticmethod
    def of(keywords: Iterable[str], functions: Iterable[str]) -> ShellWords:
        funcs = frozenset(functions)
        return ShellWords(
            keywords=frozenset(k.upper() for k in keywords),
            functions=funcs,
            function_keys=frozenset(f.upper() for f in funcs),
        )

    def all(self) -> list[str]:
        """Every word, sorted case-insensitively, functions in their documented spelling."""
        return sorted(self.keywords | self.functions, key=str.upper)

    def is_keyword(self, word: str) -> bool:
        return word.upper() in self.keywords

    def is_function(self, word: str) -> bool:
        return word.upper() in self.function_keys


def _strings(value: object) -> list[str] | None:
    """The strings of ``value`` when it is a tuple, list or set of strings only, else None.

    Mappings are not read: a module's tables (units, properties) map more than keywords.
    """
    if not isinstance(value, frozenset | set | tuple | list) or not value:
        return None
    words = [v for v in value if isinstance(v, str)]
    return words if len(words) == len(value) else None


def _is_word(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and text.replace("$", "_").isidentifier()


def words_from_module(module: ModuleType) -> ShellWords:
    """The words of every public collection of strings in ``module`` (only the names in its
    ``__all__`` when it has one); collections whose name mentions FUNCTION hold function names,
    the others keywords. Strings of several words give each word; other text is ignored."""
    keywords: set[str] = set()
    functions: set[str] = set()
    public = getattr(module, "__all__", None)
    for name, value in vars(module).items():
        if name.startswith("_") or (public is not None and name not in public):
            continue
        found = _strings(value)
        if found is None:
            continue
        is_function = "FUNCTION" in name.upper()
        for part in (p for word in found for p in word.split()):
            if not _is_word(part):
                continue
            if is_function:
                functions.add(part)
            else:
                keywords.add(part.upper())
    return ShellWords.of(keywords, functions)


def shell_words(module_name: str = KEYWORDS_MODULE) -> ShellWords:
    """The words of ``module_name`` (the SQL front end's keyword lists) and :data:`SQL_WORDS`.

    When the module cannot be imported, :data:`SQL_WORDS` alone are used: completion degrades, the
    shell still works.
    """
    try:
        found = words_from_module(importlib.import_module(module_name))
    except ImportError:
        found = ShellWords.of((), ())
    function_keys = found.function_keys
    keywords = {w for w in (*found.keywords, *SQL_WORDS) if w.upper() not in function_keys}
    return ShellWords.of(keywords, found.functions)
