"""tasksql: CREATE TASK for ordinary databases.

>>> import tasksql
>>> with tasksql.connect("data-dir") as db:
...     db.sql("SHOW TASKS").rows

The public names are imported lazily, so ``import tasksql.model`` (or any other submodule) does
not load the whole engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tasksql.connection import Connection, connect
    from tasksql.engine import Engine, Result
    from tasksql.errors import TasksqlError
    from tasksql.settings import Settings

_LAZY = {
    "Connection": "tasksql.connection",
    "connect": "tasksql.connection",
    "Engine": "tasksql.engine",
    "Result": "tasksql.engine",
    "TasksqlError": "tasksql.errors",
    "Settings": "tasksql.settings",
}

__all__ = ["Connection", "Engine", "Result", "Settings", "TasksqlError", "__version__", "connect"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tasksql' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
