"""Run states and the transitions between them: every state change goes through :func:`check`."""

from __future__ import annotations

from tasksql.errors import TasksqlError
from tasksql.model import RunState

S = RunState

#: state -> the states it may move to. Terminal states move nowhere.
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    S.SCHEDULED: frozenset({S.EXECUTING, S.SKIPPED, S.CANCELLED, S.FAILED}),
    S.EXECUTING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.SKIPPED, S.FAILED_AND_AUTO_SUSPENDED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
    S.FAILED_AND_AUTO_SUSPENDED: frozenset(),
}


class InvalidTransition(TasksqlError):
    default_code = "INVALID_TRANSITION"
    http_status = 500


def check(old: RunState, new: RunState) -> None:
    """Raise :class:`InvalidTransition` unless a run may move from ``old`` to ``new``."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"a run cannot move from {old.value} to {new.value}")


FAILED_STATES = frozenset({S.FAILED, S.FAILED_AND_AUTO_SUSPENDED})
