"""Copying a whole catalog into another (``tasksql catalog copy``): a SQLite file into PostgreSQL,
PostgreSQL back into a file, or any backend into any other.

What is copied is every table of :data:`~tasksql.catalog.tables.TABLES`: tasks with every version
(ids and version numbers kept), graph versions, run history and graph runs (run ids kept),
integrations, warehouses, settings, the notification outbox with its delivery history, and the
nodes that ran on the source. The target gets its own schema version and change sequence.

The copy is meant for catalogs nothing runs on: it refuses when a node that has not stopped still
beats on either catalog (:func:`running_nodes`), and reads the source page by page. The target is
written in ONE transaction (:meth:`~tasksql.catalog.base.Catalog.load_rows`): when anything fails,
the target is left as it was. A target with content is refused unless ``replace``, which replaces
its whole content (never a merge: ids of two catalogs would collide). Afterwards the target hands
out ids above every copied one (and above ids the source handed out for rows since pruned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tasksql.catalog.base import Catalog
from tasksql.catalog.tables import TABLES, describe_counts
from tasksql.errors import CatalogError
from tasksql.model.run import NodeRecord
from tasksql.procs import node_state

#: Rows read from the source and written to the target at a time.
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy wrote: rows per table name (every table of ``TABLES``, zeros included)."""

    counts: dict[str, int]

    def rows(self) -> list[tuple[str, int]]:
        """(kind, rows) for every table, in copy order: ``("tasks", 3)``, ``("task versions", 5)``..."""
        return [(spec.kind, self.counts.get(spec.name, 0)) for spec in TABLES]

    def describe(self) -> str:
        """``"tasks: 3, task versions: 5, ..."`` (non-zero counts only), or ``"nothing"``."""
        return describe_counts(self.counts) or "nothing"


async def running_nodes(catalog: Catalog, now: datetime) -> list[NodeRecord]:
    """The nodes of ``catalog`` that have not stopped and still count as running: their heartbeat
    is fresh and, on this host, their process exists (:func:`tasksql.procs.node_state`)."""
    return [node for node in await catalog.list_nodes(now) if node_state(node, now) == "running"]


async def refuse_if_running(catalog: Catalog, now: datetime, which: str) -> None:
    """:raises CatalogError: (code ``CATALOG_IN_USE``) a node still runs on ``catalog``; the message
    names it (id, pid and host) and says what to do. ``which`` names the catalog in the message."""
    nodes = await running_nodes(catalog, now)
    if nodes:
        node = nodes[0]
        more = f" (and {len(nodes) - 1} more)" if len(nodes) > 1 else ""
        raise CatalogError(
            f"node {node.node_id} (pid {node.pid} on {node.host}) is running on {which}{more}; stop it"
            " first (a copy needs every server of both catalogs stopped; a node that died counts as"
            " stopped once it has been silent for 30 s)",
            code="CATALOG_IN_USE",
        )


async def copy_catalog(
    source: Catalog,
    target: Catalog,
    *,
    replace: bool,
    now: datetime,
    source_name: str = "the source catalog",
    target_name: str = "the target catalog",
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> CopyReport:
    """Copy everything ``source`` holds into ``target`` (both open), in one transaction on the target
    (whose content is checked, and refused unless ``replace``, before anything is read).

    ``source_name`` and ``target_name`` name the catalogs in messages (without passwords).

    :raises CatalogError: ``CATALOG_IN_USE``: a node runs on either catalog; ``CATALOG_NOT_EMPTY``:
        the target has content and not ``replace``; or what either catalog reports (the target is
        then unchanged).
    """
    await refuse_if_running(source, now, source_name)
    await refuse_if_running(target, now, target_name)
    counts = {spec.name: 0 for spec in TABLES}
    async with target.load_rows(replace=replace) as loader:
        for spec in TABLES:
            async for page in source.export_rows(spec.name, batch_size=batch_size):
                await loader.insert(spec.name, page)
                counts[spec.name] += len(page)
        await loader.continue_ids(await source.id_counters())
    return CopyReport(counts)
