"""The scheduler while its catalog is unreachable: it pauses firing, and resumes where it was.

The catalog is the truth, and a run starts only once its row is committed (an EXECUTING row, or the
SCHEDULED row of a claim, see :mod:`tasksql.scheduler.claims`). While the catalog cannot be written
(:meth:`Catalog.outage`: a PostgreSQL server restarting or stopped), no row can be committed, so
the scheduler fires nothing, claimed instants included: a claimed run that started during an
outage and whose node then died would read as never started, and could run twice. What goes on:

* runs already executing finish; their outcomes (and the starts, claims and next instants written
  with them) are held by the catalog and committed, each once, when it is back;
* heartbeats, reaping and pruning wait (see :mod:`tasksql.scheduler.housekeeping`); the reaper waits
  a node lease more after the outage, so that other nodes, silent for the same reason, have
  written their heartbeats again before anyone is judged lost;
* statements (EXECUTE TASK, CANCEL TASK, DDL, reads) fail at once with ``CATALOG_UNAVAILABLE``.

When the catalog is back the scheduler fires what is due, as after any stall: an instant that came
at most the misfire grace ago runs (late); older ones are missed and follow the task's CATCH_UP
policy (recorded SKIPPED with ``MISSED``, or run); a claim whose instant passed becomes that
instant's run or its SKIPPED row. Each instant still has at most one row (the UNIQUE fences), so
none runs twice.

The pause and the resumption are logged once each (the catalog logs the outage and its cause).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tasksql.catalog.base import Catalog
from tasksql.clock import monotonic
from tasksql.errors import TasksqlError

log = logging.getLogger("tasksql.scheduler")

#: How often a paused scheduler checks that it is not stopping (seconds).
CHECK_EVERY_S = 1.0


async def wait_out(catalog: Catalog, stopping: Callable[[], bool]) -> None:
    """Until ``catalog`` is reachable again or ``stopping()`` (nothing to do when it is up)."""
    error = catalog.outage()
    if error is None:
        return
    started = monotonic()
    log.warning("the scheduler pauses: no instant fires while the catalog is unreachable")
    while not stopping() and not await catalog.wait_reachable(CHECK_EVERY_S):
        pass
    if not stopping():
        log.warning(
            "the scheduler resumes after %.1f s without its catalog; instants that passed meanwhile "
            "follow each task's CATCH_UP policy",
            monotonic() - started,
        )


def unavailable(exc: TasksqlError) -> bool:
    """True for the error of an unreachable catalog (logged once by the catalog, not per call)."""
    return exc.code == "CATALOG_UNAVAILABLE"
