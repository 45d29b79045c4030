"""SHOW QUERIES and CANCEL QUERY: the ad-hoc statements (scripts) in progress in this engine."""

from __future__ import annotations

from typing import Any

from tasksql.engine.core import Engine
from tasksql.engine.queries import SHOWN_TEXT, QueryNotFound, RunningQuery
from tasksql.engine.results import Result
from tasksql.sql import statements as st

QUERY_COLUMNS = ("query_id", "user_name", "started_at", "elapsed_ms", "statement", "statements", "query_text")


def query_row(engine: Engine, query: RunningQuery) -> tuple[Any, ...]:
    """One row of SHOW QUERIES (and one object of ``GET /api/v1/queries``)."""
    elapsed = int((engine.now() - query.started_at).total_seconds() * 1000)
    text = " ".join(query.statement_text.split())
    if len(text) > SHOWN_TEXT:
        text = text[: SHOWN_TEXT - 3] + "..."
    return (
        query.query_id,
        query.user,
        query.started_at,
        max(0, elapsed),
        query.statement_number,
        query.statement_count,
        text,
    )


def running_queries(engine: Engine) -> Result:
    """The queries in progress, oldest first: id, user, start, elapsed milliseconds, the number of the
    statement running now and of all the script's statements, and the text of the one running now."""
    rows = [query_row(engine, q) for q in engine.queries.running()]
    return Result.table(QUERY_COLUMNS, rows, "SHOW QUERIES")


async def show_queries(engine: Engine, stmt: st.ShowQueries) -> Result:
    return running_queries(engine)


async def cancel_query(engine: Engine, stmt: st.CancelQuery) -> Result:
    """Cancel the query: its running warehouse statement is interrupted, its next ones do not start.

    :raises QueryNotFound: no query with that id is running.
    """
    try:
        engine.queries.cancel(stmt.query_id)
    except QueryNotFound as err:
        err.span = stmt.spans.get("query_id", stmt.span)
        raise
    return Result.status(f"Query {stmt.query_id} is cancelled.", "CANCEL QUERY")
