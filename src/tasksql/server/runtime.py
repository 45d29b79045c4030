"""Interpreter settings for a tasksql server process (``tasksql serve``), never for a host program.

A server runs its event loop in one thread and database drivers in others. Drivers give up
Python's interpreter lock (the GIL) around every call into the database and must take it back
several times per statement (DuckDB about ten). With Python's default switch interval a thread
that wants the lock back waits up to 5 ms for a busy event loop to let go, each time: under load,
statements queue behind the loop and start lags grow to seconds. A short interval (200 µs)
bounds that wait; the cost is a few more thread switches when both are busy.

The garbage collector's full collections walk every object, including the thousands of task
definitions, parsers and modules loaded at start-up that will never be garbage: each such pause
delays every run that is due. :func:`freeze_startup_heap` moves what exists after start-up out of
the collector's sight (``gc.freeze``), and :func:`tune_interpreter` collects young objects less
often (a run allocates a few hundred).

Both are process-wide, so only the server applies them (settings ``switch_interval_us`` and
``gc_tuning``); ``tasksql.connect()`` inside another program changes nothing.
"""

from __future__ import annotations

import gc
import sys

from tasksql.settings import Settings

#: Generation thresholds when ``gc_tuning`` is on (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 100)


def tune_interpreter(settings: Settings) -> None:
    """Apply ``switch_interval_us`` and, with ``gc_tuning``, the collector thresholds."""
    if settings.switch_interval_us > 0:
        sys.setswitchinterval(settings.switch_interval_us / 1_000_000)
    if settings.gc_tuning:
        gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup_heap(settings: Settings) -> None:
    """With ``gc_tuning``: collect once, then freeze every object that survives (after start-up)."""
    if settings.gc_tuning:
        gc.collect()
        gc.freeze()


def unfreeze() -> None:
    """Give frozen objects back to the collector (at shutdown, so that they are finalized)."""
    gc.unfreeze()
