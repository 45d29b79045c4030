"""The lease line of the PostgreSQL catalog (see :mod:`tasksql.catalog.lease`): one connection of
its own, configured like the catalog's others, on which each renewal is one short transaction
(committed without waiting for the WAL flush: a renewal lost to a crash of the server only makes
the next one count)."""

from __future__ import annotations

import psycopg

from tasksql.catalog.lease import LeaseLine
from tasksql.catalog.postgres import cluster as cluster_jobs
from tasksql.catalog.postgres.connect import (
    DEFAULT_SCHEMA,
    Conn,
    carry_label,
    fence_label,
    open_connection,
    parse_target,
    translate,
)
from tasksql.model.cluster import Fence


class PgLeaseLine(LeaseLine):
    """See :class:`~tasksql.catalog.lease.LeaseLine`."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self._target = parse_target(url, schema or DEFAULT_SCHEMA)
        self._conn: Conn | None = None

    def renew(self, fence: Fence, *, running: int) -> bool:
        try:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                self.close()
                conn = self._conn = open_connection(self._target)
            carry_label(conn, fence_label(self._target.schema, fence.node_id, fence.epoch))
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET LOCAL synchronous_commit = off")
                return cluster_jobs.lease_update(cur, "lease_renew", fence, running=max(0, running))
        except psycopg.Error as exc:
            self.close()
            raise translate(exc, self._target, "renewing the lease") from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
