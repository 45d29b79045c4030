"""What the scheduler is given by whoever builds it (the engine), as small interfaces.

The scheduler sits below the engine: it never imports it. It is built from a catalog, a clock, a
node id, the settings and the two interfaces below, so that a test, a benchmark or another
front end can build one the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeAlias

from tasksql.sysviews.tables import Introspection, ScalarFn
from tasksql.warehouses.base import Warehouse

#: Builds the context a task body reads tasksql's virtual relations through (``system.tasks``,
#: ``task_history()``...), given the run's warehouse and the body-only ``SYSTEM$`` functions.
IntrospectionFactory: TypeAlias = Callable[[Warehouse, Mapping[str, ScalarFn]], Introspection]


class WarehouseProvider(Protocol):
    """The opened warehouses, by name."""

    async def get(self, name: str | None) -> Warehouse:
        """The opened warehouse called ``name`` (None: the default one); cheap after the first call.

        :raises WarehouseNotFound: no warehouse has that name.
        """
        ...

    def invalidate(self) -> None:
        """Forget what was looked up: warehouse definitions may have changed in the catalog."""
        ...
