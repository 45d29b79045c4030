"""A cluster member's lease renewals in a thread of their own (:class:`RenewalThread`).

The renewals must reach the catalog on time whatever the node is doing: a burst of runs keeps the
event loop busy and fills the catalog's write queue, and a renewal behind them arrives after the
lease ran out (the node then loses its tasks, and joins again under a new epoch, for nothing). So
a server's renewals do not go through either: a thread renews on a
:class:`~tasksql.catalog.lease.LeaseLine` (a connection of its own) every ``every`` seconds, and
reports each result to the member (:class:`~tasksql.scheduler.membership.ClusterMember`), which
moves its own deadline at once and deals with a lost lease on its event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tasksql.catalog.lease import LeaseLine
from tasksql.clock import monotonic
from tasksql.errors import TasksqlError
from tasksql.model.cluster import Fence

log = logging.getLogger("tasksql.scheduler")

#: What to renew now: (the fence, the runs executing, the member's refused-outcome mark), or None
#: when the node holds no lease (it is joining).
Request = Callable[[], tuple[Fence, int, int] | None]
#: Told (fence, when the renewal was sent by the member's clock, the mark, whether the lease was held).
Report = Callable[[Fence, float, int, bool], None]

#: Longest :meth:`RenewalThread.stop` waits for a renewal under way.
STOP_WAIT_S = 2.0


class RenewalThread:
    """Renews a lease on ``line`` every ``every`` seconds, in a daemon thread (see the module).

    :param request: asked before each renewal (see :data:`Request`); called in the thread.
    :param report: told after each renewal that reached the catalog; called in the thread.
    :param sent_clock: the member's clock of its own deadline (the time a renewal was sent).
    """

    def __init__(
        self,
        line: LeaseLine,
        *,
        request: Request,
        report: Report,
        every: float,
        node_id: str,
        sent_clock: Callable[[], float],
    ) -> None:
        self._line = line
        self._request = request
        self._report = report
        self._every = every
        self._node_id = node_id
        self._sent_clock = sent_clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._main, name="tasksql-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """No renewal after this returns (one under way is waited for, briefly); closes the line."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT_S)

    def _main(self) -> None:
        failing = False
        next_at = monotonic()
        try:
            while not self._stopped.wait(max(0.0, next_at - monotonic())):
                next_at = monotonic() + self._every
                request = self._request()
                if request is None:
                    continue
                fence, running, mark = request
                sent = self._sent_clock()
                try:
                    held = self._line.renew(fence, running=running)
                except TasksqlError as exc:
                    # the member's deadline runs on; the first failure of a row is worth a warning
                    (log.debug if failing else log.warning)(
                        "node %s could not renew its lease: %s", self._node_id, exc
                    )
                    failing = True
                    continue
                failing = False
                if not self._stopped.is_set():
                    self._report(fence, sent, mark, held)
        finally:
            self._line.close()
