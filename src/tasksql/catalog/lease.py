"""Lease renewals on a line of their own (:class:`LeaseLine`).

A node's lease must be renewed on time whatever else the node writes: a renewal that waits behind
a burst of run bookkeeping in the catalog's writer (one queue, one connection) can arrive after the
lease ran out, and the node loses its tasks for nothing. A lease line is a connection of its own,
used by one thread, that does nothing but renew: its renewals wait for no other write of the node
(at most for the transaction that holds the node's row at that moment, see the fencing in
``docs/architecture.md``, "Cluster coordination").

The renewal is the same statement as :meth:`~tasksql.catalog.cluster.ClusterCoordination.renew_lease`,
with the same promise. Only catalogs that several nodes share have lines (PostgreSQL); on a SQLite
file every write takes the one write lock, so a second connection would gain nothing, and
:func:`open_lease_line` returns None (renewals go through the catalog).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from tasksql.model.cluster import Fence


class LeaseLine(ABC):
    """A connection for lease renewals only. Its methods block: call them from one thread of your
    own, never from an event loop. The connection is made at the first renewal, and made again
    after it was lost."""

    @abstractmethod
    def renew(self, fence: Fence, *, running: int) -> bool:
        """As :meth:`~tasksql.catalog.cluster.ClusterCoordination.renew_lease`: extend the lease of
        ``fence`` and record ``running``, in one transaction; False, changing nothing, when the
        lease is not held any more.

        :raises CatalogError: the catalog could not be reached (code ``CATALOG_UNAVAILABLE``) or
            refused the statement; the next call connects again.
        """

    @abstractmethod
    def close(self) -> None:
        """Close the connection (a later :meth:`renew` opens it again)."""


def open_lease_line(url_or_path: str, *, schema: str | None = None) -> LeaseLine | None:
    """The lease line of the catalog ``url_or_path`` names (as :func:`tasksql.catalog.open_catalog`
    takes it), not connected yet; None for a catalog without lines (SQLite: see the module).

    :raises ConfigError: a PostgreSQL URL that does not parse, or a schema that is not an identifier.
    """
    scheme, sep, _ = url_or_path.strip().partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        return None
    from tasksql.catalog.postgres.lease import PgLeaseLine

    return PgLeaseLine(url_or_path.strip(), schema)
