"""The engine: ``Engine.execute(sql)`` is the one entry point for every interface."""

from tasksql.engine.core import Engine, UserContext
from tasksql.engine.results import Result

__all__ = ["Engine", "Result", "UserContext"]
