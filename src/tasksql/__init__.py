"""tasksql: CREATE TASK for ordinary databases.

>>> import tasksql
>>> with tasksql.connect("data-dir") as db:
...     db.sql("SHOW TASKS").rows
"""

from __future__ import annotations

__version__ = "0.1.0"

from tasksql.connection import Connection, connect  # noqa: E402
from tasksql.engine import Engine, Result  # noqa: E402
from tasksql.errors import TasksqlError  # noqa: E402
from tasksql.settings import Settings  # noqa: E402

__all__ = ["Connection", "Engine", "Result", "Settings", "TasksqlError", "__version__", "connect"]
