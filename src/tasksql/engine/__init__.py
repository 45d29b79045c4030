"""The engine: ``Engine.execute(sql)`` is the one entry point for every interface."""

from tasksql.engine.core import Engine, Session
from tasksql.engine.results import Result

__all__ = ["Engine", "Result", "Session"]
