"""Automatic retries of failed runs (TASK_AUTO_RETRY_ATTEMPTS and tasksql's backoff options).

A failed attempt (timeouts included) is retried while attempts remain: attempt ``k + 1`` starts
``delay(k)`` after attempt ``k`` failed, where ``delay(1) = TASK_AUTO_RETRY_DELAY`` (default 0: at
once) and each next delay is multiplied by ``TASK_AUTO_RETRY_BACKOFF`` (default 2 when a delay is
set) and capped by ``TASK_AUTO_RETRY_MAX_DELAY``. ``TASK_AUTO_RETRY_ON = ('<pattern>', ...)`` limits
retries to matching errors: a pattern with ``%`` or ``_`` is a case-insensitive LIKE on the error
message; a 2-character pattern is a SQLSTATE class (``'40'`` matches ``'40001'``); any other pattern
must equal the error code (``'57014'``, ``'TIMEOUT_EXCEEDED'``). Cancelled runs are never retried.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tasksql.model import RunState, TaskDef
from tasksql.model.run import RunOutcome

DEFAULT_BACKOFF = 2.0


@lru_cache(maxsize=1024)
def _like(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.I | re.S)


def matches(patterns: tuple[str, ...], code: str | None, message: str | None) -> bool:
    """Whether an error (code, message) matches any TASK_AUTO_RETRY_ON pattern (none: everything)."""
    if not patterns:
        return True
    for raw in patterns:
        pattern = raw.strip("'")
        if "%" in pattern or ("_" in pattern and not pattern.isupper()):
            if message is not None and _like(pattern).fullmatch(message):
                return True
        elif code is not None and (
            (len(pattern) == 2 and code.upper().startswith(pattern.upper()))
            or code.upper() == pattern.upper()
        ):
            return True
    return False


def retry_delay(task: TaskDef, attempt: int, outcome: RunOutcome) -> float | None:
    """Seconds until attempt ``attempt + 1`` should start, or None when the run is not retried."""
    if outcome.state is not RunState.FAILED:
        return None
    attempts = task.auto_retry_attempts or 0
    if attempt > attempts:  # attempt 1 is the first run; attempts counts the retries after it
        return None
    if not matches(task.retry_on, outcome.error_code, outcome.error_message):
        return None
    base = (task.retry_delay_ms or 0) / 1000.0
    if base <= 0:
        return 0.0
    backoff = task.retry_backoff if task.retry_backoff is not None else DEFAULT_BACKOFF
    delay = base * backoff ** (attempt - 1)
    if task.retry_max_delay_ms is not None:
        delay = min(delay, task.retry_max_delay_ms / 1000.0)
    return delay
