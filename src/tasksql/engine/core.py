"""The engine: the one entry point through which every interface runs SQL.

``Engine.execute(text)`` parses the whole text first (a syntax error anywhere means nothing runs),
then executes the statements in order. Task-language statements are handled here, against the
catalog; everything else passes through to the default warehouse, after tasksql's virtual relations
(``system.tasks``, ``task_history()``, ``next_runs()``, ...) are spliced in.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasksql.catalog import open_catalog
from tasksql.catalog.base import Catalog
from tasksql.clock import SYSTEM_CLOCK, Clock
from tasksql.engine.results import Result
from tasksql.errors import TasksqlError, WarehouseNotFound
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
from tasksql.sysviews.tables import Introspection, ScalarFn
from tasksql.warehouses.base import Warehouse
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
)


@dataclass(frozen=True, slots=True)
class Session:
    """Who is running statements and in which namespace unqualified names resolve."""

    user: str
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
        self.session = Session(user=settings.owner)
        self.scheduler: Scheduler | None = None
        self.dispatcher: NotificationDispatcher | None = None
        self._warehouse_cache: dict[str, Warehouse] = {}
        #: Per-engine memo of values derived from configuration (never from catalog contents).
        self.cache: dict[str, Any] = {}
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
            self._catalog = open_catalog(self.settings.effective_catalog_url, clock=self.clock)
        await self._catalog.open()
        self.started_at = self.clock.now()

    async def close(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop(grace=self.settings.grace_period_s)
            self.scheduler = None
        if self.dispatcher is not None:
            await self.dispatcher.stop()
            self.dispatcher = None
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
            from tasksql.scheduler.service import Scheduler

            self.scheduler = Scheduler(self)
            await self.scheduler.start()
            if self.dispatcher is None:
                self.dispatcher = await start_dispatcher(self)
        return self.scheduler

    # --- execution -------------------------------------------------------------------------------

    async def execute(self, text: str) -> list[Result]:
        """Parse ``text`` (one or more statements) and run each; return one Result per statement.

        A syntax or validation error found while parsing means no statement runs. An error while
        running a statement stops the script there (earlier statements stay done) and is raised with
        the source text attached, so ``err.render()`` shows the offending line.
        """
        statements = parse(text)
        results: list[Result] = []
        # a script's definition changes share one flush to disk, at its end (see Catalog.one_sync)
        async with self.catalog.one_sync() if len(statements) > 1 else contextlib.nullcontext():
            for stmt in statements:
                try:
                    results.append(await self.execute_statement(stmt))
                except TasksqlError as err:
                    if err.source is None:
                        err.with_source(text)
                    raise
        return results

    async def execute_statement(self, stmt: st.Statement) -> Result:
        from tasksql.engine.dispatch import HANDLERS

        handler = HANDLERS.get(type(stmt))
        if handler is None:
            raise TasksqlError(f"no handler for {type(stmt).__name__}")
        result = await handler(self, stmt)
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
        return name.resolved(self.session.database, self.session.schema)

    def display_name(self, name: QualifiedName) -> str:
        return str(name.relative_to(self.session.database, self.session.schema))

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
