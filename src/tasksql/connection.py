"""The Python API for scripts and notebooks: ``tasksql.connect(path)``.

The core of tasksql is async. A :class:`Connection` runs it on an event loop in a background thread
of its own, so the same API works in a plain script, in a notebook (which already has a loop
running) and next to a running scheduler::

    with tasksql.connect("data-dir") as db:
        db.sql("CREATE TASK t SCHEDULE 1s AS INSERT INTO log SELECT now()")
        db.start()            # the scheduler runs in the background (a server already does)
        ...
        db.stop()             # in-flight runs get the grace period, then are cancelled

When a ``tasksql serve`` process owns the data directory, the connection sends statements to it
over the HTTP API instead (the server owns the DuckDB file; the results are the same), and
``start()`` / ``stop()`` do nothing: the server schedules. Otherwise the connection owns the
directory until it is closed (see :mod:`tasksql.datadir`): another process cannot serve or open it
embedded meanwhile, and is told which process holds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tasksql import datadir
from tasksql.client import (
    API_PREFIX,
    RemoteServer,
    SessionState,
    catalog_identity,
    find_server,
    remove_stale_server_file,
)
from tasksql.datadir import DirectoryLock
from tasksql.engine import Engine, Result
from tasksql.engine.queries import QueryNotFound, new_query_id
from tasksql.errors import ConfigError, TasksqlError
from tasksql.settings import Settings
from tasksql.storable import check_sql_text
from tasksql.warehouses.base import INTERRUPT_GRACE, CancelToken

T = TypeVar("T")


class _LoopThread:
    """An asyncio event loop running in a daemon thread; :meth:`call` runs a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tasksql-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()


#: Seconds cancel() keeps asking a server that does not know the query yet (its request is on its way).
CANCEL_RETRY_S = 2.0


@dataclass(frozen=True, slots=True)
class _Call:
    """One sql_all call in progress: the id the engine (or server) knows it by, and its cancel token."""

    query_id: str
    token: CancelToken = field(default_factory=CancelToken)


def _next(arrived: queue.SimpleQueue[Result | None]) -> Result | None:
    """The next item of ``arrived``, waiting as long as it takes.

    The wait wakes up now and then so that a Ctrl-C is seen even where it does not interrupt a
    blocked wait (a signal delivered to another thread, ``_thread.interrupt_main()``). It is a
    function of its own on purpose: a KeyboardInterrupt raised at a ``continue`` inside an
    ``except`` clause escapes the enclosing ``try`` in CPython 3.11.
    """
    while True:
        try:
            return arrived.get(timeout=0.25)
        except queue.Empty:
            pass


def _wait_ended(future: concurrent.futures.Future[Any], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for a cancelled call to end, so that the session it held is
    free for the next call (a call that follows too early is refused with SESSION_BUSY).

    A Ctrl-C pressed again while waiting does not cut the wait short: the call is being stopped
    already, and a user who presses twice wants the prompt back in a usable state, not sooner.
    The bound covers a warehouse that takes its whole interrupt grace to stop a statement on a
    loaded machine.
    """
    deadline = time.monotonic() + timeout
    while not future.done():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        with contextlib.suppress(KeyboardInterrupt):
            concurrent.futures.wait([future], timeout=min(left, 0.25))


class Connection:
    """A connection to one tasksql data directory. Not shared between threads without a lock."""

    def __init__(self, settings: Settings, *, kind: str | None = None) -> None:
        """Open ``settings.data_dir``: as a client of its server, or as its embedded owner.

        The directory's lock (:mod:`tasksql.datadir`) decides, so that the choice cannot race a
        server that is starting: when a ``tasksql serve`` holds it, statements go to that server
        (waiting for it to answer while it starts); otherwise this connection takes the lock and
        holds it until :meth:`close`. ``kind`` is what the lock file calls this process (default
        ``python``, or what the CLI set).

        :raises DataDirError: the directory cannot be created or written.
        :raises DataDirBusy: another process uses the directory without a server (it is named).
        """
        self.settings = settings
        self._remote: RemoteServer | None = None
        self._engine: Engine | None = None
        self._loop: _LoopThread | None = None
        self._lock: DirectoryLock | None = None
        self._calls_lock = threading.Lock()
        self._current: _Call | None = None  # the sql_all call running now, for cancel()
        #: This connection's session: a transaction begun with BEGIN stays open across its calls.
        self._session = SessionState(new_query_id())
        data_dir = datadir.prepare(Path(settings.data_dir))
        owner = datadir.acquire(
            data_dir,
            kind or datadir.embedded_kind(),
            client_of=lambda holder: find_server(data_dir, pid=holder.pid),
        )
        if isinstance(owner, RemoteServer):
            wanted = catalog_identity(settings.catalog_url, settings.catalog_schema)
            if settings.catalog_url and owner.catalog != wanted:
                raise ConfigError(
                    f"the tasksql server (pid {owner.pid}) on {data_dir} uses "
                    f"{owner.catalog or 'the catalog of its data directory'}, not {wanted}: "
                    "drop --catalog to use the server, or pick another --data directory"
                )
            self._remote = owner
            return
        self._lock = owner
        try:
            remove_stale_server_file(data_dir)  # we own the directory: no server runs on it
            self._loop = _LoopThread()
            engine = Engine(settings)
            self._loop.call(engine.open())
        except BaseException:
            if self._loop is not None:
                self._loop.stop()
                self._loop = None
            owner.release()
            self._lock = None
            raise
        self._engine = engine

    @property
    def remote(self) -> bool:
        """True when statements go to a running ``tasksql serve`` over HTTP."""
        return self._remote is not None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise ConfigError("this connection talks to a running server; it has no local engine")
        return self._engine

    def sql_all(
        self,
        text: str,
        *,
        single_transaction: bool = False,
        on_result: Callable[[Result], None] | None = None,
        wait_for_runs: bool = False,
        in_session: bool = True,
    ) -> list[Result]:
        """Run every statement in ``text``; one Result per statement.

        ``on_result`` is called, in this thread, with each statement's result as soon as the
        statement has completed (through a server: when the server has answered), including the
        results of the statements that completed before a failure.

        A failure raises :class:`~tasksql.errors.TasksqlError`; for a script of several statements
        it names the failing one (``statement_number``, ``statement_line``) and carries the results
        of those before it (``partial_results``). ``single_transaction``: all or nothing (see
        :meth:`Engine.execute <tasksql.engine.Engine.execute>`). ``wait_for_runs``: EXECUTE TASK
        waits for its run even when a scheduler runs it, and fails when the run failed.

        ``in_session``: a transaction begun with BEGIN and not ended stays open for the next call
        on this connection (see :attr:`in_transaction`; :meth:`close` rolls it back), as in psql.
        False: the call is a script on its own; a transaction it leaves open is rolled back and the
        call fails (``TRANSACTION_NOT_ENDED``), as ``tasksql sql`` does.

        Ctrl-C (``KeyboardInterrupt``) while the statements run cancels them, as :meth:`cancel`
        does, waits a moment for the warehouse to stop, and propagates.
        """
        call = _Call(new_query_id())
        with self._calls_lock:
            self._current = call
        try:
            session = self._session if in_session else None
            if self._remote is not None:
                # refused here with its line and column, as the engine would, not by the API's
                # body check, which can only say the request was not valid Unicode
                check_sql_text(text)
                return self._sql_remote(
                    self._remote, call, text, single_transaction, on_result, wait_for_runs, session
                )
            return self._sql_embedded(call, text, single_transaction, on_result, wait_for_runs, session)
        finally:
            with self._calls_lock:
                if self._current is call:
                    self._current = None

    def cancel(self) -> bool:
        """Cancel the statements running on this connection now (from any thread): the warehouse
        statement running is interrupted in the warehouse (through a server: in the server), the
        rest of the script does not start, and the running :meth:`sql_all` raises
        :class:`~tasksql.errors.QueryCancelled`. Returns False when nothing was running.
        """
        with self._calls_lock:
            call = self._current
        if call is None:
            return False
        call.token.cancel("cancelled by the client")
        remote = self._remote
        if remote is None:
            return True
        # The server may not have registered the query yet (the request is on its way): retry
        # for a moment while the call is still running.
        deadline = time.monotonic() + CANCEL_RETRY_S
        while True:
            try:
                remote.cancel_query(call.query_id)
                return True
            except QueryNotFound:
                with self._calls_lock:
                    running = self._current is call
                if not running or time.monotonic() > deadline:
                    return running
                time.sleep(0.05)
            except TasksqlError:
                return False

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction begun with BEGIN is open on this connection (until COMMIT or
        ROLLBACK); through a server, as its last answer said."""
        if self._remote is not None:
            return self._session.in_transaction
        return self._engine is not None and self.engine.sessions.in_transaction(self._session.session_id)

    def rollback_open_transaction(self) -> bool:
        """Roll back the transaction begun with BEGIN that is open on this connection, if any;
        whether there was one. Never raises (a server that cannot be reached rolls it back when its
        idle timeout passes)."""
        if not self.in_transaction:
            return False
        if self._remote is not None:
            body = {"sql": "ROLLBACK", "session": self._session.session_id}
            with contextlib.suppress(TasksqlError):
                self._remote.request("POST", f"{API_PREFIX}/sql", body, timeout=10)
            self._session.in_transaction = False
            return True
        assert self._loop is not None
        return self._loop.call(self.engine.sessions.end(self._session.session_id))

    def running_queries(self) -> list[dict[str, Any]]:
        """The queries running in the engine this connection uses (SHOW QUERIES as objects)."""
        return self.sql("SHOW QUERIES").as_dicts()

    def _sql_embedded(
        self,
        call: _Call,
        text: str,
        single_transaction: bool,
        on_result: Callable[[Result], None] | None,
        wait_for_runs: bool,
        session: SessionState | None,
    ) -> list[Result]:
        assert self._loop is not None
        arrived: queue.SimpleQueue[Result | None] = queue.SimpleQueue()
        future = asyncio.run_coroutine_threadsafe(
            self.engine.execute(
                text,
                single_transaction=single_transaction,
                on_result=arrived.put,
                query_id=call.query_id,
                wait_for_runs=wait_for_runs,
                token=call.token,
                session=session.session_id if session is not None else None,
            ),
            self._loop.loop,
        )
        future.add_done_callback(lambda _: arrived.put(None))
        try:
            # results are handed to on_result here, in the caller's thread, as they arrive
            while (result := _next(arrived)) is not None:
                if on_result is not None:
                    on_result(result)
        except BaseException:  # Ctrl-C, or on_result failed: stop the statements, then propagate
            call.token.cancel("cancelled by the client")
            _wait_ended(future, INTERRUPT_GRACE + 5)
            raise
        return future.result()

    def _sql_remote(
        self,
        remote: RemoteServer,
        call: _Call,
        text: str,
        single_transaction: bool,
        on_result: Callable[[Result], None] | None,
        wait_for_runs: bool,
        session: SessionState | None,
    ) -> list[Result]:
        try:
            results = remote.sql(
                text,
                query_id=call.query_id,
                single_transaction=single_transaction,
                wait_for_runs=wait_for_runs,
                session=session,
            )
        except TasksqlError as err:
            if on_result is not None:
                for result in err.partial_results:
                    on_result(result)
            raise
        except KeyboardInterrupt:
            self.cancel()  # the call is still the current one: this cancels it in the server
            raise
        if on_result is not None:
            for result in results:
                on_result(result)
        return results

    def sql(self, text: str) -> Result:
        """Run ``text`` (one or more statements) and return the last statement's Result."""
        results = self.sql_all(text)
        return results[-1] if results else Result(())

    def start(self) -> bool:
        """Start the scheduler in the background; False when it was already scheduling.

        On a connection to a running ``tasksql serve`` this does nothing and returns False: the
        server already schedules the directory's tasks. The embedded DuckDB warehouse is opened
        first, so a file that another program holds fails here, not in every run.
        """
        if self._remote is not None:
            return False
        assert self._loop is not None
        engine = self.engine
        if engine.scheduler is not None:
            return False
        self._loop.call(engine.warehouses.duckdb.open())
        self._loop.call(engine.start_scheduler())
        return True

    def stop(self, grace: float | None = None) -> None:
        """Stop the scheduler: no new runs; in-flight runs get ``grace`` seconds, then are cancelled.

        Does nothing when this connection did not start one (a running server keeps scheduling).
        """
        if self._engine is None or self._engine.scheduler is None:
            return
        assert self._loop is not None
        scheduler = self._engine.scheduler
        self._loop.call(scheduler.stop(grace=self.settings.grace_period_s if grace is None else grace))
        self._engine.scheduler = None
        dispatcher = self._engine.dispatcher
        if dispatcher is not None:
            self._loop.call(dispatcher.stop())
            self._engine.dispatcher = None

    def close(self) -> None:
        """Roll back a transaction left open (BEGIN without COMMIT), close the engine and give up
        the directory (idempotent)."""
        try:
            self.rollback_open_transaction()
            if self._engine is not None and self._loop is not None:
                try:
                    self._loop.call(self._engine.close())
                finally:
                    self._loop.stop()
                    self._engine = None
                    self._loop = None
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(data_dir: str | Path | None = None, **settings: Any) -> Connection:
    """Open the tasksql data directory ``data_dir`` (default ``./tasksql-data`` or ``$TASKSQL_DATA``).

    Keyword arguments override settings (see :mod:`tasksql.settings`). The directory is created
    when it does not exist.
    """
    return Connection(Settings.load(data_dir=data_dir, **settings))
