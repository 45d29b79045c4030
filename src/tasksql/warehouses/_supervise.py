"""Running a blocking job in a worker thread under a deadline, a cancel token and asyncio cancellation.

The event loop side (:func:`supervise`) submits the job to the warehouse's executor (whose worker
threads are the warehouse's in_flight: the job waits in its queue while all are busy) and waits for
whichever comes first: the job's end, the deadline, the token, or the
cancellation of the awaiting task. To stop a job it *fires* the job's :class:`Interrupter`, which
calls the driver's interrupt on the job's own connection or cursor; it fires again with growing
pauses (a statement that was just starting can miss the first interrupt) for up to
:data:`~tasksql.warehouses.base.INTERRUPT_GRACE` seconds, then gives up and abandons the job. An
abandoned job keeps its worker thread (its concurrency slot) until its driver call returns; a job
stopped while still queued is cancelled there and never runs.

The worker side attaches its connection's interrupt to the :class:`Interrupter` and calls
:meth:`Interrupter.check` between statements and before COMMIT, so a stop request that arrives
between two statements is honoured too.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from tasksql import threadcalls
from tasksql.display import decimal_text
from tasksql.errors import QueryCancelled, QueryFailed, QueryTimeout, TasksqlError, WarehouseError
from tasksql.warehouses._sqltext import SQLSTATE_CANCELED
from tasksql.warehouses._workers import Executor, Job
from tasksql.warehouses.base import INTERRUPT_GRACE, CancelToken

T = TypeVar("T")

#: The first pause between two interrupts of the same job; it doubles each time.
REFIRE_FIRST = 0.05


class StopReason(StrEnum):
    TIMEOUT = "timeout"
    CANCEL = "cancel"
    CLOSE = "close"
    SHUTDOWN = "shutdown"


class Stopped(QueryFailed):
    """Raised inside a job that was asked to stop; the supervisor turns it into the right error."""

    def __init__(self) -> None:
        super().__init__("the statement was interrupted", code="INTERRUPTED", sqlstate=SQLSTATE_CANCELED)


class Interrupter:
    """The link between a job running in a worker thread and whoever may stop it.

    Thread-safe. The lock makes :meth:`fire` and :meth:`detach` exclusive, so an interrupt is never
    delivered to a connection after its job has let go of it.
    """

    __slots__ = ("_done", "_lock", "_orphaned", "_reason", "_target")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Callable[[], Callable[[], None] | None] | None = None
        self._reason: StopReason | None = None
        self._done = False
        self._orphaned = False

    @property
    def reason(self) -> StopReason | None:
        return self._reason

    def attach(self, target: Callable[[], Callable[[], None] | None]) -> None:
        """Worker: route interrupts to ``target`` from now on. :raises Stopped: already asked to stop.

        ``target`` is called under this object's lock; what it returns (if anything) is called
        after the lock is released (a grouped body not started yet is answered there: ending its
        job calls :meth:`job_done`, which takes the lock)."""
        with self._lock:
            if self._reason is not None:
                raise Stopped()
            self._target = target

    def check(self) -> None:
        """Worker: :raises Stopped: when a stop was requested."""
        if self._reason is not None:
            raise Stopped()

    def detach(self) -> bool:
        """Worker: stop routing interrupts; True when a stop was requested (the connection was hit)."""
        with self._lock:
            self._target = None
            return self._reason is not None

    def fire(self, reason: StopReason) -> None:
        """Any thread: request a stop (the first reason sticks) and interrupt the attached target."""
        then: Callable[[], None] | None = None
        with self._lock:
            if self._reason is None:
                self._reason = reason
            if self._target is not None:
                # An interrupt that fails changes nothing: the grace period decides.
                with contextlib.suppress(Exception):
                    then = self._target()
        if then is not None:
            then()

    # The job's concurrency slot is freed by the waiter when it sees the job's end, or, when the
    # waiter gave up first (abandoned, cancelled), by the worker as it ends: exactly one of the two.

    def job_done(self) -> bool:
        """Worker: the job returned. True when the waiter gave up: the worker frees the slot."""
        with self._lock:
            self._done = True
            return self._orphaned

    def orphan(self) -> bool:
        """Waiter: stop waiting. True when the job had already returned: the waiter frees the slot."""
        with self._lock:
            self._orphaned = True
            return self._done


#: As asyncio's: a deadline this close to the loop's time is due.
_RESOLUTION = time.get_clock_info("monotonic").resolution


class Deadlines:
    """The deadlines of one warehouse's calls in progress on one event loop, behind one asyncio
    timer armed for the earliest.

    A timer per call (``loop.call_later``) is a ``TimerHandle`` built in Python, pushed into the
    loop's heap and later cancelled out of it, each step comparing handles by a Python ``__lt__``;
    at a thousand calls a second that was a noticeable share of the loop's time. Here a deadline is
    a tuple in a heap of this object's (compared in C), an ended call's entry is dropped lazily
    (when it reaches the top, or when dropped ones outnumber the live ones), and the one timer is
    re-armed only when a deadline earlier than the armed one comes. A call's stop function is
    called with :attr:`StopReason.TIMEOUT` when the loop reaches its deadline, as its own timer
    would have. Loop thread only.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._heap: list[tuple[float, int, Callable[[str], None]]] = []
        self._live: set[int] = set()
        self._keys = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed = math.inf

    def add(self, when: float, stop: Callable[[str], None]) -> int:
        """Call ``stop(StopReason.TIMEOUT)`` at the loop's time ``when`` unless :meth:`remove`
        is called first with the key returned."""
        key = next(self._keys)
        heapq.heappush(self._heap, (when, key, stop))
        self._live.add(key)
        if when < self._armed:
            self._arm(when)
        elif len(self._heap) > 2 * len(self._live) + 64:
            live = self._live
            self._heap = [item for item in self._heap if item[1] in live]
            heapq.heapify(self._heap)
        return key

    def remove(self, key: int) -> None:
        """The call ended: its deadline no longer matters."""
        self._live.discard(key)

    def close(self) -> None:
        """Forget every deadline (the warehouse closed: its calls are being stopped anyway)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = math.inf
        self._heap.clear()
        self._live.clear()

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._armed = math.inf
        end = self.loop.time() + _RESOLUTION
        heap, live = self._heap, self._live
        due: list[Callable[[str], None]] = []
        while heap and (heap[0][1] not in live or heap[0][0] < end):
            _, key, stop = heapq.heappop(heap)
            if key in live:
                live.discard(key)
                due.append(stop)
        if heap:
            self._arm(heap[0][0])
        for stop in due:
            stop(StopReason.TIMEOUT)


class InFlight:
    """A warehouse's calls in progress: the jobs submitted and not yet released (``jobs``, queued or
    executing), and a function per call that stops it with a reason (``calls``, used when the
    warehouse closes).

    The concurrency itself is the executor's: it has as many worker threads as the warehouse has
    in_flight, and a job submitted while all of them are busy waits in the executor's queue. A worker
    that finishes a job takes the next one at once, without a round trip through the event loop (a
    burst of a thousand calls on four slots costs no hand-over on the loop at all), and a job
    abandoned after a stop keeps its thread, hence its slot, until its driver call returns.

    Loop thread only.
    """

    def __init__(self) -> None:
        self.jobs: dict[Interrupter, Job[Any]] = {}
        self.calls: set[Callable[[StopReason], None]] = set()
        #: Set when the warehouse closes: new calls are refused.
        self.closed = False
        #: The calls' deadlines, on the loop that made the latest call (see :class:`Deadlines`).
        self.deadlines: Deadlines | None = None

    def close(self) -> list[asyncio.Future[None]]:
        """Refuse new calls, stop every call in progress; returns the futures of the running jobs."""
        self.closed = True
        if self.deadlines is not None:
            self.deadlines.close()  # no timer left on the loop for calls that are over
        # Mark every job stopped first, synchronously: a worker freed by the interrupt of a running
        # job takes the next queued job at once, before any waiter resumes on the loop, and the
        # job's own check then refuses to start it (otherwise it would run after the close).
        for stop in list(self.jobs):
            stop.fire(StopReason.CLOSE)
        for stop_call in list(self.calls):
            stop_call(StopReason.CLOSE)
        return [_awaitable(cf) for cf in self.jobs.values()]

    @property
    def executing(self) -> int:
        """How many of the jobs a worker is executing (an abandoned one until its driver returns)."""
        return sum(1 for job in self.jobs.values() if job.running())


_background: set[asyncio.Task[None]] = set()
#: What the race of a call resolves to when the job ended (instead of a StopReason).
_DONE = "done"


async def supervise(
    job: Callable[[Interrupter], T],
    *,
    in_flight: InFlight,
    executor: Executor,
    timeout: float | None,
    token: CancelToken | None,
    what: str,
    grace: float = INTERRUPT_GRACE,
) -> T:
    """Run ``job(interrupter)`` in ``executor`` (queued there until a worker is free), under
    ``timeout`` and ``token``; the time spent queued counts against ``timeout``.

    ``what`` names the work in error messages (``"statement in warehouse w"``).

    One future per call, the *race*, is resolved by whichever comes first: the job's end (one
    call from the worker, batched by :mod:`tasksql.threadcalls`), the deadline, the token or the
    warehouse closing. This keeps the common path (the job ends in time) to one thread hop back
    to the loop. A job stopped while still queued is taken out of the queue and never runs.

    :raises QueryTimeout, QueryCancelled: the deadline passed / the token was cancelled; the job
        was interrupted (and abandoned if it did not return within ``grace``).
    :raises WarehouseError: the warehouse was closed while the job waited or ran.
    :raises TasksqlError: whatever the job raised.
    """
    loop = asyncio.get_running_loop()
    if token is not None and token.cancelled:
        raise _error(StopReason.CANCEL, what, timeout, token, abandoned=False)
    if in_flight.closed:
        raise WarehouseError(f"{what}: the warehouse is closed", code="WAREHOUSE_CLOSED")
    race: asyncio.Future[str] = loop.create_future()

    def pull(reason: str) -> None:
        if not race.done():
            race.set_result(reason)

    deadlines = in_flight.deadlines
    if deadlines is None or deadlines.loop is not loop:
        deadlines = in_flight.deadlines = Deadlines(loop)
    timer = deadlines.add(loop.time() + timeout, pull) if timeout is not None else None
    unhook = token.on_cancel(lambda: _call_soon(loop, pull, StopReason.CANCEL)) if token is not None else None
    in_flight.calls.add(pull)
    try:
        stop = Interrupter()
        cf = _submit(loop, executor, in_flight, job, stop, pull, what=what)
        try:
            outcome = await race
            if outcome != _DONE and not cf.done():
                if cf.cancel():  # still queued: it never runs
                    _release(in_flight, stop)
                    raise _error(StopReason(outcome), what, timeout, token, abandoned=False, waiting=True)
                await _stop(loop, stop, _awaitable(cf), StopReason(outcome), grace)
        except asyncio.CancelledError:
            if cf.cancel():
                _release(in_flight, stop)
            else:
                _give_up(in_flight, stop)
                _stop_in_background(loop, stop, _awaitable(cf), grace)
            raise
        if cf.done():
            _release(in_flight, stop)  # now, so that `jobs` is exact when the caller resumes
        else:
            _give_up(in_flight, stop)
        return _outcome(cf, stop, what, timeout, token)
    finally:
        in_flight.calls.discard(pull)
        if timer is not None:
            deadlines.remove(timer)
        if unhook is not None:
            unhook()


def _submit(
    loop: asyncio.AbstractEventLoop,
    executor: Executor,
    in_flight: InFlight,
    job: Callable[[Interrupter], T],
    stop: Interrupter,
    pull: Callable[[str], None],
    *,
    what: str,
) -> Job[T]:
    try:
        cf = executor.submit(job, stop)
    except RuntimeError:  # the executor was shut down: the warehouse is closed
        raise WarehouseError(f"{what}: the warehouse is closed", code="WAREHOUSE_CLOSED") from None
    in_flight.jobs[stop] = cf

    def finished(_: object) -> None:
        # Worker thread, as the job ends (or is taken out of the queue): tell the waiter (one hop),
        # or, when nobody waits for the job any more, forget it.
        if stop.job_done():
            _call_soon(loop, _release, in_flight, stop)
        else:
            _call_soon(loop, pull, _DONE)

    cf.add_done_callback(finished)
    return cf


def _awaitable(cf: Job[T]) -> asyncio.Future[None]:
    """An asyncio future done when the job is (only on the slow paths: stopping, closing)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def done(_: object) -> None:
        _call_soon(loop, lambda: None if fut.done() else fut.set_result(None))

    cf.add_done_callback(done)
    return fut


def _give_up(in_flight: InFlight, stop: Interrupter) -> None:
    if stop.orphan():
        _release(in_flight, stop)


def _release(in_flight: InFlight, stop: Interrupter) -> None:
    """Forget the job, once: whichever of the waiter and the worker's callback comes first."""
    in_flight.jobs.pop(stop, None)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> None:
    threadcalls.call_soon(loop, fn, *args)  # a closed loop drops it: nobody is waiting any more


async def _stop(
    loop: asyncio.AbstractEventLoop,
    stop: Interrupter,
    fut: asyncio.Future[None],
    reason: StopReason,
    grace: float,
) -> None:
    """Fire, and fire again with doubling pauses, until the job returns or ``grace`` runs out."""
    stop.fire(reason)
    end = loop.time() + grace
    pause = REFIRE_FIRST
    while not fut.done():
        left = end - loop.time()
        if left <= 0:
            return
        await asyncio.wait((fut,), timeout=min(pause, left))
        if not fut.done():
            stop.fire(reason)
            pause *= 2


def _stop_in_background(
    loop: asyncio.AbstractEventLoop, stop: Interrupter, fut: asyncio.Future[None], grace: float
) -> None:
    """The awaiting task was cancelled: interrupt now, and keep at it without holding the caller."""
    stop.fire(StopReason.SHUTDOWN)
    if fut.done():
        return
    task = loop.create_task(_stop(loop, stop, fut, StopReason.SHUTDOWN, grace))
    _background.add(task)
    task.add_done_callback(_background.discard)


def _outcome(
    fut: Job[T], stop: Interrupter, what: str, timeout: float | None, token: CancelToken | None
) -> T:
    reason = stop.reason
    if not fut.done():
        assert reason is not None
        raise _error(reason, what, timeout, token, abandoned=True)
    if fut.cancelled():  # never started: the executor was shut down with the warehouse
        raise WarehouseError(f"{what}: the warehouse is closed", code="WAREHOUSE_CLOSED")
    exc = fut.exception()
    if exc is None:
        # It finished, possibly just as the stop was requested: what it did stands, so report it.
        return fut.result()
    if reason is not None:
        raise _error(reason, what, timeout, token, abandoned=False) from exc
    if isinstance(exc, TasksqlError):
        raise exc
    raise WarehouseError(f"{what}: internal error: {exc!r}") from exc


def _error(
    reason: StopReason,
    what: str,
    timeout: float | None,
    token: CancelToken | None,
    *,
    abandoned: bool,
    waiting: bool = False,
) -> TasksqlError:
    tail = ""
    if abandoned:
        tail = " (the driver had not returned from the interrupt yet; the statement was abandoned)"
    elif waiting:
        tail = " while waiting for a free slot"
    if reason is StopReason.TIMEOUT:
        shown = decimal_text(timeout) if timeout is not None else "?"
        return QueryTimeout(f"{what} exceeded its timeout of {shown} s and was cancelled{tail}")
    if reason is StopReason.CANCEL:
        why = token.reason if token is not None and token.reason else "cancelled"
        return QueryCancelled(f"{what} was cancelled: {why}{tail}")
    if reason is StopReason.CLOSE:
        return WarehouseError(f"{what} was stopped: the warehouse was closed{tail}", code="WAREHOUSE_CLOSED")
    return QueryCancelled(f"{what} was cancelled at shutdown{tail}")
