"""The pages' Jinja2 environment: templates shipped in the package, autoescape always on.

Every value a template prints is escaped unless a template marks it safe, and none does: names,
comments, SQL text and errors reach the page as text. Filters format times (UTC), durations and
states the same way on every page.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jinja2

from tasksql.server.web import highlight
from tasksql.server.web.data import key_of
from tasksql.server.web.timeline import seconds_text


def _time(value: Any) -> str:
    """``2026-05-01 12:00:03`` (UTC) from a datetime or ISO text; empty for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else "" if value is None else str(value)


def _duration(start: Any, end: Any) -> str:
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return ""
    return seconds_text(max((end - start).total_seconds(), 0.0))


def _state_class(state: Any) -> str:
    """A CSS class for a run or task state (letters and underscores only)."""
    text = "".join(c for c in str(state or "none").lower() if c.isalnum() or c == "_")
    return f"st-{text or 'none'}"


def _query(params: dict[str, Any], **changes: Any) -> str:
    """A query string: ``params`` with ``changes`` (None or empty values dropped)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "", False)})


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment (templates are compiled once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tasksql.server.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        time=_time, iso=_iso, state_class=_state_class, seconds=seconds_text, duration=_duration
    )
    env.globals.update(sql_pieces=highlight.pieces, query=_query, key_of=key_of)
    return env


def page(template: str, **context: Any) -> str:
    """The HTML of ``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)
