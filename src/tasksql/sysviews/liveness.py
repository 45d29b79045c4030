"""Whether a scheduler is live for this catalog: a started task runs only while one is.

A scheduler is live when this process runs one, or when the catalog lists a scheduling node
(``role = 'server'``: ``tasksql serve`` or a Python connection's ``start()``) whose state is
``running`` as ``system.cluster`` judges it (:func:`tasksql.procs.node_state`: not stopped, a
heartbeat within the last 30 s and, on this host, its process still there). SHOW TASKS and
``system.tasks`` show the answer in their ``scheduler`` column; CREATE TASK and ALTER TASK ...
RESUME add a notice when a started task has no scheduler.
"""

from __future__ import annotations

from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.procs import node_state

#: The ``scheduler`` column: a scheduler is live, started tasks run.
LIVE = "live"
#: The ``scheduler`` column: no scheduler is live, started tasks do not run.
NONE = "none"


async def scheduler_live(catalog: Catalog, now: datetime, *, in_process: bool) -> bool:
    """Whether any scheduler is live (``in_process``: this process runs one)."""
    if in_process:
        return True
    return any(
        node.role == "server" and node_state(node, now) == "running" for node in await catalog.list_nodes(now)
    )


async def scheduler_column(catalog: Catalog, now: datetime, *, in_process: bool) -> str:
    """The value of the ``scheduler`` column: :data:`LIVE` or :data:`NONE`."""
    return LIVE if await scheduler_live(catalog, now, in_process=in_process) else NONE


def no_scheduler_notice(shown: str) -> str:
    """The notice after a statement that left task ``shown`` started while no scheduler is live."""
    return (
        f"no scheduler is running for this data directory: task {shown} is started but will not run "
        "until one runs (tasksql serve, or tasksql.connect(...).start() in Python)"
    )
