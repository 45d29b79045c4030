"""Task statements written inside a task body, as Databend's task tests write them (a script block
that runs ``ALTER TASK <other> MODIFY AS ...`` or ``CREATE TASK ...``;
databendlabs/databend tests/sqllogictests/suites/task/task_nested_ddl.test).

No warehouse grammar describes them, so CREATE's syntax check reads them with tasksql's own parser
instead: a statement that is not a valid task statement is a syntax error at its position in the
body, and the body a nested ``CREATE TASK`` or ``ALTER TASK ... MODIFY AS`` carries is checked
statement by statement like any body. What a run does with them is the warehouse's affair: tasksql
sends a body's statements to its warehouse and does not run task statements of its own from a
body (docs/sql-reference.md says so).
"""

from __future__ import annotations

import re

from tasksql.errors import TasksqlSyntaxError
from tasksql.sql import parse_one
from tasksql.sql.bodies import body_statements

#: The statements of tasksql's task DDL that a body may hold: CREATE [OR REPLACE] TASK, ALTER TASK,
#: DROP TASK, EXECUTE TASK.
_TASK_STATEMENT = re.compile(
    r"\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?TASK|ALTER\s+TASK|DROP\s+TASK|EXECUTE\s+TASK)\s", re.I
)


class NestedSyntaxError(Exception):
    """A nested task statement tasksql's parser refuses: ``error`` as the parser raised it, at
    ``offset`` in the text the statements were taken from."""

    def __init__(self, error: TasksqlSyntaxError, offset: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.offset = offset


def expand(statements: list[tuple[str, int]], procedural: re.Pattern[str]) -> list[tuple[str, int]]:
    """``statements`` (text, offset in the body) with each task statement replaced by the
    statements of the body it carries (none for ``DROP TASK``, ``ALTER TASK ... SUSPEND`` and the
    like, nor for a body that ``procedural`` matches: scripting no warehouse grammar describes),
    recursively, offsets still in the outer body; the other statements as they are.

    :raises NestedSyntaxError: a task statement tasksql's parser refuses.
    """
    out: list[tuple[str, int]] = []
    for text, offset in statements:
        if not _TASK_STATEMENT.match(text):
            out.append((text, offset))
            continue
        try:
            nested = parse_one(text)
        except TasksqlSyntaxError as err:
            raise NestedSyntaxError(err, offset + (err.span.start if err.span else 0)) from None
        span = nested.spans.get("body")
        if span is None:
            continue
        inner = text[span.start : span.end]
        if procedural.search(inner):
            continue
        try:
            inner_statements = body_statements(inner)
        except TasksqlSyntaxError as err:
            at = offset + span.start + (err.span.start if err.span else 0)
            raise NestedSyntaxError(err, at) from None
        out.extend(expand([(t, offset + span.start + o) for t, o in inner_statements], procedural))
    return out
