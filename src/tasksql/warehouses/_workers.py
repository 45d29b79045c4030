"""A small pool of worker threads for blocking drivers, lighter than ``ThreadPoolExecutor``.

A task scheduler sends thousands of tiny statements per second through its warehouses; with
``concurrent.futures`` every call pays for a ``Future`` built on a ``Condition`` (about ten lock
operations per call) and the executor's own semaphore. Here a job is a slotted object whose state is
set once by its worker, the queue is ``queue.SimpleQueue`` (implemented in C), and completion runs
the job's callbacks in the worker thread, exactly once. The interface is the part of
``concurrent.futures.Future`` that :mod:`tasksql.warehouses._supervise` uses.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

_PENDING, _RUNNING, _FINISHED, _CANCELLED = range(4)
_STOP = object()


class Job(Generic[T]):
    """One unit of work and its outcome. ``add_done_callback`` callbacks run in the thread that
    completes the job (or at once, in the caller's thread, when it is already complete)."""

    __slots__ = ("_args", "_callbacks", "_exc", "_fn", "_lock", "_result", "_state")

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._fn = fn
        self._args = args
        self._state = _PENDING
        self._result: T | None = None
        self._exc: BaseException | None = None
        self._callbacks: list[Callable[[Job[T]], object]] = []
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._state >= _FINISHED

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def running(self) -> bool:
        """True from the moment a worker starts the job until it returns."""
        return self._state == _RUNNING

    def result(self) -> T:
        if self._exc is not None:
            raise self._exc
        return self._result  # type: ignore[return-value]

    def exception(self) -> BaseException | None:
        return self._exc

    def add_done_callback(self, fn: Callable[[Job[T]], object]) -> None:
        with self._lock:
            if self._state < _FINISHED:
                self._callbacks.append(fn)
                return
        fn(self)

    def _run(self) -> None:
        with self._lock:
            if self._state != _PENDING:
                return
            self._state = _RUNNING
        try:
            self._result = self._fn(*self._args)
        except BaseException as exc:  # the outcome belongs to the job's owner, whatever it is
            self._exc = exc
        self._finish(_FINISHED)

    def cancel(self) -> bool:
        """Take a job that has not started out of the queue: True when it is (now) cancelled, False
        when it has started or finished. Its callbacks run at once, in the caller's thread."""
        with self._lock:
            if self._state != _PENDING:
                return self._state == _CANCELLED
            self._state = _CANCELLED
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)
        return True

    def claim(self) -> bool:
        """Take a job that has not started for another thread to run on its behalf (a group
        commit runs several queued bodies at once): True when it is now running and must be ended
        by :meth:`complete`, False when it has started, finished or been cancelled."""
        with self._lock:
            if self._state != _PENDING:
                return False
            self._state = _RUNNING
            return True

    def complete(self, result: T | None = None, exc: BaseException | None = None) -> None:
        """End a job taken by :meth:`claim` with its result or its exception; its callbacks run at
        once, in the caller's thread."""
        self._result = result
        self._exc = exc
        self._finish(_FINISHED)

    def _finish(self, state: int) -> None:
        with self._lock:
            self._state = state
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)


class Executor(Protocol):
    """Where :func:`~._supervise.supervise` submits a call: a :class:`WorkerPool`, or a queue whose
    jobs other jobs of the pool run (:class:`~._group_commit.GroupCommit`)."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Job[T]:
        """Queue ``fn(*args)``. :raises RuntimeError: no more jobs are accepted (shut down)."""
        ...


class WorkerPool:
    """Up to ``size`` daemon threads named ``<name>_<n>``, started as jobs arrive."""

    def __init__(self, size: int, name: str) -> None:
        self._size = max(1, size)
        self._name = name
        self._queue: queue.SimpleQueue[Job[Any] | object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        #: Jobs queued and not yet taken by a worker, and workers waiting for one: a thread is
        #: started when the queued jobs outnumber the waiting workers (and the pool is not full).
        #: Jobs queue up behind busy workers, so neither count can be inferred from the other.
        #: Counted under the lock only until every thread is started (``_full``): after that the
        #: counts decide nothing, and the lock, shared by the event loop's submit and each worker's
        #: two updates per job, was a point where the loop could wait on a worker preempted holding
        #: it. The diagnostics :attr:`queued` and :attr:`waiting` stay valid either way.
        self._queued = 0
        self._waiting = 0
        self._full = False
        #: One mark per worker blocked in the queue once the pool is full (appending and popping a
        #: list are each one step under the interpreter lock: no lock of our own is needed).
        self._parked: list[None] = []
        self._shutdown = False
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Jobs queued and not yet taken by a worker (a diagnostic: it may lag by a job)."""
        return self._queue.qsize() if self._full else self._queued

    @property
    def waiting(self) -> int:
        """Workers waiting for a job (a diagnostic: it may lag by a job)."""
        return len(self._parked) if self._full else self._waiting

    def submit(self, fn: Callable[..., T], *args: Any) -> Job[T]:
        """Queue ``fn(*args)``. :raises RuntimeError: the pool was shut down."""
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        job: Job[T] = Job(fn, args)
        if not self._full:
            with self._lock:
                self._queued += 1
                if self._queued > self._waiting and len(self._threads) < self._size:
                    thread = threading.Thread(
                        target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
                    # set last, under the lock: a worker that sees it counts nothing from then on
                    self._full = len(self._threads) >= self._size
        self._queue.put(job)
        return job

    def _work(self) -> None:
        parked = self._parked
        while True:
            if self._full:  # every thread started: nothing to count for the decision
                parked.append(None)
                item = self._queue.get()
                parked.pop()
            else:
                with self._lock:
                    self._waiting += 1
                item = self._queue.get()
                with self._lock:
                    self._waiting -= 1
                    if item is not _STOP:
                        self._queued -= 1
            if item is _STOP:
                return
            assert isinstance(item, Job)
            if self._shutdown:
                item.cancel()
            else:
                item._run()

    def shutdown(self, *, wait: bool = False, cancel_futures: bool = True) -> None:
        """Refuse new jobs; queued ones are cancelled (``cancel_futures``); threads end when idle."""
        self._shutdown = True
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Job):
                    item.cancel()
        for _ in self._threads:
            self._queue.put(_STOP)
        if wait:
            for thread in self._threads:
                thread.join()
