"""Databend's ``MERGE ... WHEN MATCHED THEN UPDATE *`` in a task body, on a DuckDB warehouse.

Databend writes "update every column of the target from the source's columns, in order" as
``UPDATE *`` (databendlabs/databend src/query/ast/tests/it/parser.rs, the ``merge_task`` tasks;
tests/sqllogictests/suites/task/task_ddl_transaction_test.test). DuckDB's ``MERGE`` says the same
with an ``UPDATE`` that has no ``SET`` (positional, as ``UPDATE SET *``) and refuses ``UPDATE *``,
so on DuckDB the ``*`` is blanked. No DuckDB statement was valid with it, so the rewrite cannot
change the meaning of one that was; ``INSERT *`` is DuckDB's own spelling too and stays.

The replacement keeps every offset (the ``*`` becomes one blank), so an error DuckDB's parser
reports points at the line and column the user wrote. Other warehouses get the text unchanged:
PostgreSQL's ``MERGE`` has neither form, and its parser reports that.
"""

from __future__ import annotations

from tasksql.errors import TasksqlError
from tasksql.sql.tokenizer import tokenize
from tasksql.sql.tokens import TokenKind


def blank_update_star(text: str, dialect: str) -> str:
    """``text`` with the ``*`` of each ``THEN UPDATE *`` of a ``MERGE`` blanked when ``dialect`` is
    DuckDB's; ``text`` itself otherwise, or when it cannot be tokenized."""
    if dialect != "duckdb" or "*" not in text or "merge" not in text.lower():
        return text
    try:
        tokens = tokenize(text)
    except TasksqlError:
        return text
    if not tokens or not tokens[0].is_word("MERGE"):
        return text
    out = list(text)
    changed = False
    for i in range(len(tokens) - 2):
        star = tokens[i + 2]
        if (
            tokens[i].is_word("THEN")
            and tokens[i + 1].is_word("UPDATE")
            and star.kind is TokenKind.OPERATOR
            and star.text == "*"
        ):
            out[star.start] = " "
            changed = True
    return "".join(out) if changed else text
