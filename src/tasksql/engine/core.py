"""The engine: the one entry point through which every interface runs SQL.

``Engine.execute(text)`` parses the whole text first (a syntax error anywhere means nothing runs),
then executes the statements in order. Task-language statements are handled here, against the
catalog; everything else passes through to the default warehouse, after tasksql's virtual relations
(``system.tasks``, ``task_history()``, ``next_runs()``, ...) are spliced in.

Each call is a *query* while it runs (:mod:`tasksql.engine.queries`): it can be listed (SHOW QUERIES)
and cancelled (CANCEL QUERY, ``Connection.cancel()``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasksql.catalog import open_catalog
from tasksql.catalog.base import Catalog
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.engine.identity import bound_caller, default_caller
from tasksql.engine.queries import CURRENT, QueryRegistry, RunningQuery, check_query_id, new_query_id
from tasksql.engine.results import Result
from tasksql.engine.sessions import BEGIN, END, SessionRegistry, SqlSession, chains, transaction_verb
from tasksql.engine.tags import leading_words, statement_kind
from tasksql.errors import QueryCancelled, TasksqlError, ValidationError, WarehouseNotFound
from tasksql.model import (
    DEFAULT_DATABASE,
    DEFAULT_SCHEMA,
    DEFAULT_WAREHOUSE,
    QualifiedName,
    WarehouseDef,
)
from tasksql.settings import Settings
from tasksql.sql import parse
from tasksql.sql import statements as st
from tasksql.sql.parse_secret import masked_script
from tasksql.sql.recorded import recorded_text
from tasksql.sysviews.tables import Introspection, ScalarFn
from tasksql.warehouses.base import CancelToken, Warehouse
from tasksql.warehouses.registry import WarehouseRegistry

if TYPE_CHECKING:
    from tasksql.notify.dispatcher import NotificationDispatcher
    from tasksql.scheduler.service import Scheduler

log = logging.getLogger("tasksql.engine")

Handler = Callable[["Engine", Any], Awaitable[Result]]

#: Statements that never change the catalog (no cache invalidation after them).
READ_ONLY = (
    st.Passthrough,
    st.ShowTasks,
    st.ShowCreateTask,
    st.DescribeTask,
    st.ShowIntegrations,
    st.DescribeIntegration,
    st.ShowWarehouses,
    st.ShowQueries,
    st.CancelQuery,
    st.ShowSecrets,
    st.DescribeSecret,
)

#: Leading words of warehouse statements that manage transactions themselves.
TRANSACTION_CONTROL = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"}
)

#: Called with each statement's result as soon as the statement has completed.
ResultCallback = Callable[[Result], None]


@dataclass(frozen=True, slots=True)
class UserContext:
    """Who is running statements and in which namespace unqualified names resolve."""

    name: str
    database: str = DEFAULT_DATABASE
    schema: str = DEFAULT_SCHEMA


class Engine:
    """Owns the catalog, the warehouses and (when started) the scheduler of one data directory.

    Use as ``async with Engine(settings) as engine: await engine.execute(sql)``. The scheduler is
    optional: :meth:`start_scheduler` starts it; without it, statements that need to run a task
    (EXECUTE TASK) run the task in the calling process and wait for it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = Path(settings.data_dir)
        self._catalog = catalog
        self.warehouses = WarehouseRegistry(self.data_dir, settings.duckdb_config)
        self.user = UserContext(name=settings.owner)
        #: Who statements run as when no caller is bound (an embedded connection; see engine.identity).
        self.caller = default_caller(settings)
        self.scheduler: Scheduler | None = None
        self.dispatcher: NotificationDispatcher | None = None
        self._warehouse_cache: dict[str, Warehouse] = {}
        #: Per-engine memo of values derived from configuration (never from catalog contents).
        self.cache: dict[str, Any] = {}
        #: The ad-hoc statements (calls of execute) in progress.
        self.queries = QueryRegistry()
        #: Sessions keeping a transaction open between calls (BEGIN ... COMMIT; see engine.sessions).
        self.sessions = SessionRegistry()
        self.started_at: datetime | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise TasksqlError("the engine is not open")
        return self._catalog

    async def open(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._catalog is None:
            self._catalog = open_catalog(
                self.settings.effective_catalog_url, clock=self.clock, schema=self.settings.catalog_schema
            )
        await self._catalog.open()
        if self.settings.security:
            from tasksql.engine.security_ddl import check_can_start

            await check_can_start(self)
        self.started_at = self.clock.now()

    async def close(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop(grace=self.settings.grace_period_s)
            self.scheduler = None
        if self.dispatcher is not None:
            await self.dispatcher.stop()
            self.dispatcher = None
        await self.sessions.close()
        await self.warehouses.close_all()
        if self._catalog is not None:
            await self._catalog.close()

    async def __aenter__(self) -> Engine:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start_scheduler(self) -> Scheduler:
        """Start scheduling tasks in this process, and delivering their notifications (idempotent).

        The notification dispatcher runs as its own asyncio task with its own HTTP session, so a
        slow or dead webhook endpoint never delays a run."""
        if self.scheduler is None:
            from tasksql.notify.dispatcher import start_dispatcher

            self.scheduler = self.new_scheduler()
            await self.scheduler.start()
            if self.dispatcher is None:
                self.dispatcher = await start_dispatcher(self)
        return self.scheduler

    def new_scheduler(self, *, node_id: str | None = None) -> Scheduler:
        """A scheduler (not started) of this engine's catalog, running tasks in its warehouses."""
        from tasksql.scheduler.service import Scheduler

        return Scheduler(
            self.catalog,
            _Warehouses(self),
            settings=self.settings,
            introspection=self.introspection_factory(),
            clock=self.clock,
            node_id=node_id,
        )

    # --- execution -------------------------------------------------------------------------------

    async def execute(
        self,
        text: str,
        *,
        single_transaction: bool = False,
        on_result: ResultCallback | None = None,
        query_id: str | None = None,
        wait_for_runs: bool = False,
        token: CancelToken | None = None,
        session: str | None = None,
        idle_timeout: float | None = None,
    ) -> list[Result]:
        """Parse ``text`` (one or more statements) and run each; return one Result per statement.

        A syntax or validation error found while parsing means no statement runs. Then the
        statements run in order; ``on_result`` (if given) is called with each statement's result as
        soon as it has completed. An error stops the script there and is raised with the source text
        attached (``err.render()`` shows the offending line); when the script has several
        statements it also carries ``statement_number``, ``statement_line`` and
        ``partial_results`` (the results of the statements that completed before it).

        ``single_transaction``: all or nothing. The script's warehouse statements run in one
        transaction of the default warehouse, committed at the end and rolled back when any
        statement fails (then the error's ``rolled_back`` is True). Task-language statements that
        change the catalog (CREATE TASK, ALTER ..., EXECUTE TASK, ...) and the warehouse's own
        transaction statements (BEGIN, COMMIT, ...) cannot be part of it: such a script is refused
        before anything runs (code ``NOT_IN_TRANSACTION``). Read-only task statements (SHOW, DESCRIBE)
        may appear.

        Explicit transactions (see :mod:`tasksql.engine.sessions`): a ``BEGIN`` holds a connection
        of the default warehouse for the statements up to ``COMMIT`` / ``ROLLBACK``. Without
        ``session`` this call is its own session: a transaction it leaves open is rolled back, and
        the script ends with :class:`~tasksql.errors.ValidationError` ``TRANSACTION_NOT_ENDED``
        (its ``partial_results`` hold every statement's result). With ``session`` (an id chosen by
        the client), the transaction stays open for the session's next call; ``idle_timeout``
        seconds idle inside it roll it back. Statements that change the catalog are refused
        (``NOT_IN_TRANSACTION``) while a transaction is open, before anything runs.

        ``query_id`` names this call for SHOW QUERIES and CANCEL QUERY (default: a fresh id);
        cancelling ``token`` (from any thread) cancels it as CANCEL QUERY does.
        ``wait_for_runs``: EXECUTE TASK waits for its run to end even when a scheduler runs in this
        process, and fails (:class:`~tasksql.errors.RunFailed`) when the run failed; without a
        scheduler it always waits.

        :raises QueryCancelled: the query was cancelled (CANCEL QUERY, ``Connection.cancel()``).
        """
        statements = parse(text)
        if single_transaction:
            _check_transactional(statements, text)
        sql_session = self.sessions.enter(session, idle_timeout) if session is not None else SqlSession(None)
        try:
            return await self._execute(
                text, statements, sql_session, single_transaction, on_result, query_id, wait_for_runs, token
            )
        finally:
            if session is None:
                await sql_session.rollback()  # (only after a failure: the end of a script checked it)
            self.sessions.leave(sql_session)

    async def _execute(
        self,
        text: str,
        statements: list[st.Statement],
        sql_session: SqlSession,
        single_transaction: bool,
        on_result: ResultCallback | None,
        query_id: str | None,
        wait_for_runs: bool,
        token: CancelToken | None,
    ) -> list[Result]:
        if single_transaction and sql_session.in_transaction:
            raise ValidationError(
                f"a transaction is open in this session (begun with {sql_session.begun_with}); "
                "COMMIT or ROLLBACK it before a single-transaction script",
                code="NOT_IN_TRANSACTION",
            )
        _check_explicit(statements, text, sql_session.in_transaction)
        query = RunningQuery(
            query_id=check_query_id(query_id) if query_id is not None else new_query_id(),
            text=text,
            user=(bound_caller() or self.caller).user,
            started_at=self.clock.now(),
            statement_count=len(statements),
            wait_for_runs=wait_for_runs,
            token=token if token is not None else CancelToken(),
            session=sql_session,
        )
        self.queries.start(query)
        bound = CURRENT.set(query)
        results: list[Result] = []
        try:
            if single_transaction and any(isinstance(s, st.Passthrough) for s in statements):
                warehouse = await self.warehouse()
                try:
                    async with warehouse.transaction() as txn:
                        query.transaction = txn
                        await self._run_script(query, statements, text, results, on_result)
                except TasksqlError as err:
                    err.rolled_back = True
                    if err.source is None:
                        err.with_source(masked_script(text, statements))
                    if err.statement_number is None:  # the COMMIT failed
                        err.partial_results = list(results)
                    raise
                finally:
                    query.transaction = None
            else:
                await self._run_script(query, statements, text, results, on_result)
                if sql_session.session_id is None and sql_session.in_transaction:
                    await self._unended(sql_session, statements, text, results)
        except TasksqlError as err:
            if sql_session.session_id is None and sql_session.in_transaction:
                await sql_session.rollback()
                err.undone = f"the transaction begun with {sql_session.begun_with} was rolled back"
            raise
        finally:
            CURRENT.reset(bound)
            self.queries.finish(query)
        return results

    async def _unended(
        self, session: SqlSession, statements: list[st.Statement], text: str, results: list[Result]
    ) -> None:
        """A script (its own session) ended inside a transaction: roll it back, and say so."""
        await session.rollback()
        number, begin = next(
            (
                (n, s)
                for n, s in reversed(list(enumerate(statements, 1)))
                if isinstance(s, st.Passthrough) and transaction_verb(s.text) == BEGIN
            ),
            (0, None),
        )
        where = f"statement {number} ({session.begun_with})" if begin else session.begun_with
        err = ValidationError(
            f"the script ended inside the transaction begun by {where}: it was rolled back, none of the "
            "statements after it remain; end it with COMMIT, or use -1 (--single-transaction)",
            code="TRANSACTION_NOT_ENDED",
            span=begin.span if begin is not None else None,
            source=text,
        )
        err.partial_results = list(results)
        raise err

    async def _run_script(
        self,
        query: RunningQuery,
        statements: list[st.Statement],
        text: str,
        results: list[Result],
        on_result: ResultCallback | None,
    ) -> None:
        # a script's definition changes share one flush to disk, at its end (see Catalog.one_sync)
        async with self.catalog.one_sync() if len(statements) > 1 else contextlib.nullcontext():
            for number, stmt in enumerate(statements, 1):
                query.statement_number = number
                query.statement_text = recorded_text(stmt)
                try:
                    if query.token.cancelled:
                        raise QueryCancelled(
                            f"the script was cancelled before this statement started: {query.token.reason}",
                            code="CANCELLED",
                        )
                    result = await self.execute_statement(stmt)
                except TasksqlError as err:
                    if err.source is None:
                        err.with_source(masked_script(text, statements))
                    if len(statements) > 1:
                        err.in_statement(number, stmt.span.line, results)
                    raise
                results.append(result)
                if on_result is not None:
                    on_result(result)

    async def execute_statement(self, stmt: st.Statement) -> Result:
        from tasksql.engine.dispatch import HANDLERS
        from tasksql.engine.guard import guarded

        handler = HANDLERS.get(type(stmt))
        if handler is None:
            raise TasksqlError(f"no handler for {type(stmt).__name__}")
        result = await guarded(self, stmt, handler)  # privileges checked, audited
        if not isinstance(stmt, READ_ONLY):
            self.changed()
        return result

    def changed(self) -> None:
        """The catalog may have changed: drop caches and wake the scheduler."""
        self.invalidate_warehouses()
        if self.scheduler is not None:
            self.scheduler.notify_change()

    # --- helpers for handlers --------------------------------------------------------------------

    def resolve(self, name: QualifiedName) -> QualifiedName:
        return name.resolved(self.user.database, self.user.schema)

    def display_name(self, name: QualifiedName) -> str:
        return str(name.relative_to(self.user.database, self.user.schema))

    async def warehouse(self, name: str | None = None) -> Warehouse:
        """The opened warehouse called ``name`` (default: the embedded default).

        Opened warehouses are cached by name (a run must not pay a catalog read); the cache is
        dropped by :meth:`invalidate_warehouses` when the catalog changes.
        """
        wh_name = (name or DEFAULT_WAREHOUSE).lower()
        cached = self._warehouse_cache.get(wh_name)
        if cached is not None:
            return cached
        definition = await self.catalog.get_warehouse(wh_name)
        if definition is None:
            if wh_name != DEFAULT_WAREHOUSE:
                raise WarehouseNotFound(f"warehouse {wh_name} does not exist", code="WAREHOUSE_NOT_FOUND")
            definition = WarehouseDef(name=DEFAULT_WAREHOUSE)
        if definition.max_concurrency is None:
            definition = replace(definition, max_concurrency=self.settings.default_max_concurrency)
        warehouse = await self.warehouses.get(definition)
        self._warehouse_cache[wh_name] = warehouse
        return warehouse

    def invalidate_warehouses(self) -> None:
        """Forget the name -> warehouse cache (definitions may have changed)."""
        self._warehouse_cache.clear()

    def introspection_factory(self) -> Callable[[Warehouse, Mapping[str, ScalarFn]], Introspection]:
        """Builds the context task bodies use to read virtual relations (system.*, task_history())."""
        from tasksql.engine.passthrough import introspection

        def make(warehouse: Warehouse, scalars: Mapping[str, ScalarFn]) -> Introspection:
            return introspection(self, warehouse, scalars)

        return make

    def now(self) -> datetime:
        return self.clock.now()


class _Warehouses:
    """The engine's opened warehouses, as its scheduler looks them up (a ``WarehouseProvider``).

    Its methods are the engine's own, bound: a run's lookup costs no extra coroutine."""

    __slots__ = ("gated", "get", "invalidate", "run_gate")

    def __init__(self, engine: Engine) -> None:
        from tasksql.engine.privileges import run_gate

        self.get = engine.warehouse
        self.invalidate = engine.invalidate_warehouses
        #: Why a run may not start (security: the owner role's privileges), asked at each run.
        self.run_gate = functools.partial(run_gate, engine)
        #: Whether :attr:`run_gate` has anything to ask now (security on): without, a run skips
        #: the gate's coroutine altogether.
        self.gated = lambda: engine.settings.security


def _check_transactional(statements: list[st.Statement], text: str) -> None:
    """Refuse a single-transaction script holding a statement that cannot be part of the transaction."""
    for number, stmt in enumerate(statements, 1):
        if isinstance(stmt, st.Passthrough):
            head = statement_kind(stmt.text)
            if head not in TRANSACTION_CONTROL:
                continue
            why = f"{head} manages transactions itself; a single-transaction script is already one"
        elif isinstance(stmt, READ_ONLY):
            continue
        else:
            why = (
                f"{_kind(stmt)} changes tasksql's catalog, which has no transaction spanning statements;"
                " run it without the single-transaction mode"
            )
        err = ValidationError(
            f"statement {number} cannot run in a single transaction: {why}",
            code="NOT_IN_TRANSACTION",
            span=stmt.span,
            source=text,
        )
        raise err


def _check_explicit(statements: list[st.Statement], text: str, open_before: bool) -> None:
    """Refuse, before anything runs, a statement that cannot run inside the transaction that is open
    at that point (one begun by an earlier call of the session, or by a BEGIN of the script)."""
    is_open = open_before
    for number, stmt in enumerate(statements, 1):
        if isinstance(stmt, st.Passthrough):
            verb = transaction_verb(stmt.text)
            if verb == END and chains(stmt.text):
                why = "AND CHAIN is not supported; end the transaction, then BEGIN the next one"
            elif verb == BEGIN:
                is_open = True
                continue
            elif verb == END:
                is_open = False
                continue
            else:
                continue
        elif isinstance(stmt, READ_ONLY) or not is_open:
            continue
        else:
            why = (
                f"{_kind(stmt)} changes tasksql's catalog, which is not part of the warehouse's open"
                " transaction (ROLLBACK could not undo it); COMMIT or ROLLBACK first"
            )
        raise ValidationError(
            f"statement {number} cannot run inside a transaction: {why}",
            code="NOT_IN_TRANSACTION",
            span=stmt.span,
            source=text,
        )


def _kind(stmt: st.Statement) -> str:
    words = leading_words(stmt.text, 2)
    return statement_kind(stmt.text) if words[:1] in (["CREATE"], ["ALTER"], ["DROP"]) else " ".join(words)
