"""The words the shell completes and highlights.

The SQL front end owns the keyword lists (``tasksql.sql.keywords``: statement starters, clause
keywords, property names, function names). :func:`shell_words` reads every collection of strings
that module exports, so the shell follows the grammar without naming its lists one by one. The
built-in lists below are used in addition, so the shell still completes sensibly when that module
is not importable.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

_STARTERS = (
    "ALTER",
    "BEGIN",
    "CALL",
    "CANCEL",
    "COMMIT",
    "CREATE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DROP",
    "EXECUTE",
    "EXPLAIN",
    "INSERT",
    "MERGE",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHOW",
    "UNSET",
    "UPDATE",
    "USE",
    "WITH",
)

_CLAUSES = (
    "ACCOUNT",
    "ADD",
    "AFTER",
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BY",
    "CASE",
    "CLASS",
    "CLONE",
    "COPY",
    "CRON",
    "DATABASE",
    "DECLARE",
    "DELAY",
    "DESC",
    "DISABLE",
    "DISTINCT",
    "ELSE",
    "ENABLE",
    "END",
    "ERROR",
    "EVERY",
    "EXISTS",
    "FALSE",
    "FROM",
    "GRANTS",
    "GROUP",
    "HAVING",
    "IF",
    "IMMEDIATE",
    "IN",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCATION",
    "MINUTE",
    "MINUTES",
    "MODIFY",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OPTIONS",
    "OR",
    "ORDER",
    "PROCEDURE",
    "REMOVE",
    "REPLACE",
    "RESUME",
    "RUN",
    "SCHEDULE",
    "SCHEMA",
    "SECOND",
    "SECONDS",
    "STARTS",
    "SUSPEND",
    "TABLE",
    "TASK",
    "TASKS",
    "TERSE",
    "THEN",
    "TIMEOUT",
    "TO",
    "TRUE",
    "TYPE",
    "USER",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "HOURS",
    "HOUR",
)

_PROPERTIES = (
    "ALLOW_OVERLAPPING_EXECUTION",
    "COMMENT",
    "CONFIG",
    "ERROR_INTEGRATION",
    "FINALIZE",
    "LOG_LEVEL",
    "MAX_CONCURRENT_RUNS",
    "OVERLAP_POLICY",
    "SUCCESS_INTEGRATION",
    "SUSPEND_TASK_AFTER_NUM_FAILURES",
    "TAG",
    "TASK_AUTO_RETRY_ATTEMPTS",
    "TASK_AUTO_RETRY_BACKOFF",
    "TASK_AUTO_RETRY_DELAY",
    "TASK_AUTO_RETRY_MAX_DELAY",
    "TASK_AUTO_RETRY_ON",
    "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE",
    "USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS",
    "USER_TASK_TIMEOUT_MS",
    "WAREHOUSE",
)

_FUNCTIONS = (
    "complete_task_graphs",
    "current_task_graphs",
    "next_runs",
    "task_dependents",
    "task_history",
    "SYSTEM$CURRENT_USER_TASK_NAME",
    "SYSTEM$GET_PREDECESSOR_RETURN_VALUE",
    "SYSTEM$GET_TASK_GRAPH_CONFIG",
    "SYSTEM$SET_RETURN_VALUE",
    "SYSTEM$TASK_DEPENDENTS_ENABLE",
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
    """The strings of ``value`` when it is a collection of strings (keys for a mapping), else None."""
    if isinstance(value, str):
        return None
    items: Iterable[object]
    if isinstance(value, Mapping):
        items = value.keys()
    elif isinstance(value, frozenset | set | tuple | list):
        items = value
    else:
        return None
    words = [v for v in items if isinstance(v, str)]
    return words if words and len(words) == len(list(items)) else None


def _is_word(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and text.replace("$", "_").isidentifier()


def words_from_module(module: ModuleType) -> ShellWords:
    """Every public collection of strings in ``module``; collections whose name mentions FUNCTION
    are function names, the rest keywords. Strings that are not single words are ignored."""
    keywords: set[str] = set()
    functions: set[str] = set()
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        found = _strings(value)
        if found is None:
            continue
        target = functions if "FUNCTION" in name.upper() else None
        for word in found:
            for part in word.split():
                if not _is_word(part):
                    continue
                if target is not None:
                    target.add(part)
                else:
                    keywords.add(part.upper())
    return ShellWords.of(keywords, functions)


def shell_words(module_name: str = KEYWORDS_MODULE) -> ShellWords:
    """The built-in words merged with those of ``module_name`` (when it imports)."""
    keywords = {w.upper() for w in (*_STARTERS, *_CLAUSES, *_PROPERTIES)}
    functions = set(_FUNCTIONS)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    if module is not None:
        found = words_from_module(module)
        keywords |= found.keywords
        known = {f.upper() for f in functions}
        functions |= {f for f in found.functions if f.upper() not in known}
    keywords -= {f.upper() for f in functions}
    return ShellWords.of(keywords, functions)
