"""Observers: what the lower layers report as it happens, for the layers above to listen to.

The catalog reports the run bookkeeping it committed (runs inserted, runs whose state changed) and
how long its writes took; the notification dispatcher reports each delivery attempt. The server
registers listeners (its metrics and its event stream, :mod:`tasksql.server.metrics` and
:mod:`tasksql.server.events`) without the catalog or the scheduler importing it: imports still go
down only.

Contract of a listener: it is called on the event loop, right after the fact (a run's write is
committed before its listeners hear of it), must return quickly and must not raise; an exception is
logged and the listener is kept. Nothing is reported while no listener is registered, and reporting
never changes what the reporter does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tasksql.model.run import RunOutcome, RunRecord

log = logging.getLogger("tasksql.observe")


class Listener(Protocol):
    """What a listener implements (every method; a listener ignores what it does not need)."""

    def runs_inserted(self, runs: Sequence[RunRecord]) -> None:
        """Run rows were committed as given (SCHEDULED claims, EXECUTING starts, SKIPPED instants)."""

    def run_changed(self, outcome: RunOutcome) -> None:
        """A run's state change was committed: it started (EXECUTING) or it was settled."""

    def catalog_write(self, seconds: float) -> None:
        """A write of the catalog was committed ``seconds`` after it was asked for."""

    def delivery(self, integration: str, result: str) -> None:
        """A notification delivery attempt for ``integration`` ended: ``DELIVERED``, ``RETRY`` or
        ``GIVE_UP`` (the names of :class:`tasksql.model.outbox.AttemptResult`)."""


class Observers:
    """The listeners of one reporter (a catalog object); reports go to each, in registration order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        """Register ``listener`` (once; adding it again does nothing)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        """Stop reporting to ``listener`` (no-op when it is not registered)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def active(self) -> bool:
        """Whether anybody listens (reporters skip preparing a report otherwise)."""
        return bool(self._listeners)

    def runs_inserted(self, runs: Sequence[RunRecord]) -> None:
        if runs:
            for listener in tuple(self._listeners):
                _call(listener.runs_inserted, runs)

    def run_changed(self, outcome: RunOutcome) -> None:
        for listener in tuple(self._listeners):
            _call(listener.run_changed, outcome)

    def catalog_write(self, seconds: float) -> None:
        for listener in tuple(self._listeners):
            _call(listener.catalog_write, seconds)

    def delivery(self, integration: str, result: str) -> None:
        for listener in tuple(self._listeners):
            _call(listener.delivery, integration, result)


def _call(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:  # a listener's bug must never fail the catalog's write or the dispatcher
        log.exception("an observer failed")
