"""Custom schedules: a Python class decides when the next run is (VoltDB ``ON SCHEDULE FROM CLASS``).

``class_path`` names the class as ``package.module.Class`` or ``package.module:Class``. The class
is constructed with the ``WITH (...)`` arguments, converted from SQL literals
(:mod:`~tasksql.schedules.literals`), and must follow :class:`CustomScheduleProtocol`. Like
VoltDB's ``IntervalGenerator``, it may see how the previous run ended: if its ``next_fire``
accepts a ``last_result`` keyword, it receives a :class:`~tasksql.schedules.base.PreviousRun`.

:func:`check_custom` validates the spelling only (no import: parsing SQL has no side effects);
:class:`PythonSchedule` imports and constructs the class when the schedule is built. A class that
cannot be loaded yet (no such module or class, or its module fails to import: a Java class name
pasted from VoltDB, a package not installed yet) raises :class:`ClassNotLoaded`; the engine keeps
such a task and the scheduler tries again (:mod:`tasksql.scheduler.triggers`), and
:func:`class_problem` says why for SHOW TASKS.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from tasksql.clock import utc
from tasksql.errors import ScheduleError, TasksqlError
from tasksql.model import CustomSchedule
from tasksql.schedules.base import PreviousRun, Schedule
from tasksql.schedules.literals import Literal, parse_literals

_NAME = r"[A-Za-z_]\w*"
_CLASS_PATH = re.compile(rf"{_NAME}(\.{_NAME})*(:{_NAME}(\.{_NAME})*|\.{_NAME})")


@runtime_checkable
class CustomScheduleProtocol(Protocol):
    """What a custom schedule class provides.

    ``next_fire`` gets aware UTC datetimes and returns the first run instant strictly after
    ``after`` as an aware datetime (any zone), or None for "no more runs". It may also declare
    ``last_result: PreviousRun | None`` to see how the previous run ended, and a ``describe()``
    method returning a short phrase for ``SHOW TASKS``. An instance lives as long as the task's
    built schedule (it is rebuilt when the task changes or the server restarts).
    """

    def next_fire(self, after: datetime, *, last_end: datetime | None) -> datetime | None: ...


def check_custom(spec: CustomSchedule) -> None:
    """Validate the class path and the argument literals without importing anything.

    :raises ScheduleError: code ``INVALID_SCHEDULE``.
    """
    if not _CLASS_PATH.fullmatch(spec.class_path):
        raise ScheduleError(
            f"custom schedule class {spec.class_path!r} must name a module and a class, "
            "such as 'mypackage.schedules.Backoff' or 'mypackage.schedules:Backoff'",
            code="INVALID_SCHEDULE",
        )
    parse_literals(spec.args)


class ClassNotLoaded(ScheduleError):
    """The class a task names cannot be loaded now (code ``INVALID_SCHEDULE``); it may be later."""


def class_problem(class_path: str) -> str | None:
    """Why the class ``class_path`` cannot be loaded now (the import's message), or None when it
    can. Imports the module (once loaded it stays in ``sys.modules``)."""
    try:
        load_class(class_path)
    except ClassNotLoaded as exc:
        return exc.message
    return None


def load_class(class_path: str) -> type[Any]:
    """Import the class named by ``class_path``.

    :raises ClassNotLoaded: code ``INVALID_SCHEDULE`` when the module cannot be imported or has no
        such class.
    """
    if ":" in class_path:
        module_name, _, attribute = class_path.partition(":")
    else:
        module_name, _, attribute = class_path.rpartition(".")
    if module_name not in sys.modules:
        importlib.invalidate_caches()  # a module written since the last try is found
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # any failure in the user's module code is a schedule problem
        raise ClassNotLoaded(
            f"cannot import module {module_name!r} for custom schedule {class_path!r}: {exc}",
            code="INVALID_SCHEDULE",
        ) from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ClassNotLoaded(
                f"module {module_name!r} has no class {attribute!r}", code="INVALID_SCHEDULE"
            )
        target = getattr(target, part)
    if not isinstance(target, type):
        raise ClassNotLoaded(f"{class_path!r} is not a class", code="INVALID_SCHEDULE")
    return target


class PythonSchedule(Schedule):
    """A :class:`CustomScheduleProtocol` instance, checked and wrapped.

    :raises ScheduleError: code ``INVALID_SCHEDULE`` from the constructor (bad path, import or
        construction failure, no usable ``next_fire``) and from :meth:`next_fire` (the class
        raised, or returned something other than an aware datetime after ``after``, or None).
    """

    kind: ClassVar[str] = "custom"

    def __init__(self, class_path: str, args: tuple[str, ...] = ()) -> None:
        check_custom(CustomSchedule(class_path, args))
        self.class_path = class_path
        self.args = args
        values: tuple[Literal, ...] = parse_literals(args)
        cls = load_class(class_path)
        try:
            self.instance: Any = cls(*values)
        except Exception as exc:
            shown = ", ".join(args)
            raise ScheduleError(
                f"custom schedule {class_path}({shown}) could not be created: {type(exc).__name__}: {exc}",
                code="INVALID_SCHEDULE",
            ) from exc
        self._next, self._wants_result = _next_fire_method(self.instance, class_path)

    @classmethod
    def from_spec(cls, spec: CustomSchedule) -> PythonSchedule:
        return cls(spec.class_path, spec.args)

    def next_fire(
        self,
        after: datetime,
        *,
        last_end: datetime | None = None,
        last_result: PreviousRun | None = None,
    ) -> datetime | None:
        after = utc(after)
        kwargs: dict[str, Any] = {"last_end": None if last_end is None else utc(last_end)}
        if self._wants_result:
            kwargs["last_result"] = last_result
        try:
            result = self._next(after, **kwargs)
        except TasksqlError:
            raise
        except Exception as exc:
            raise ScheduleError(
                f"custom schedule {self.class_path} failed: {type(exc).__name__}: {exc}",
                code="INVALID_SCHEDULE",
            ) from exc
        return self._checked(result, after)

    def _checked(self, result: object, after: datetime) -> datetime | None:
        if result is None:
            return None
        if not isinstance(result, datetime):
            raise ScheduleError(
                f"custom schedule {self.class_path} returned {result!r}, not a datetime or None",
                code="INVALID_SCHEDULE",
            )
        if result.tzinfo is None or result.utcoffset() is None:
            raise ScheduleError(
                f"custom schedule {self.class_path} returned the naive datetime {result.isoformat()}; "
                "return an aware one (for example in UTC)",
                code="INVALID_SCHEDULE",
            )
        when = result.astimezone(UTC)
        if when <= after:
            raise ScheduleError(
                f"custom schedule {self.class_path} returned {when.isoformat()}, "
                f"which is not after {after.isoformat()}",
                code="INVALID_SCHEDULE",
            )
        return when

    def describe(self) -> str:
        describe = getattr(self.instance, "describe", None)
        if callable(describe):
            try:
                text = describe()
            except Exception:  # a description is optional: fall back to the class path
                text = None
            if isinstance(text, str) and text:
                return text
        shown = f"({', '.join(self.args)})" if self.args else ""
        return f"custom schedule {self.class_path}{shown}"


def _next_fire_method(instance: object, class_path: str) -> tuple[Callable[..., object], bool]:
    """The instance's ``next_fire`` and whether it accepts ``last_result``."""
    method = getattr(instance, "next_fire", None)
    if not callable(method):
        raise ScheduleError(
            f"custom schedule class {class_path} has no next_fire(after, *, last_end) method",
            code="INVALID_SCHEDULE",
        )
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature: call them as documented
        return method, False
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if "last_end" not in parameters and not open_kwargs:
        raise ScheduleError(
            f"{class_path}.next_fire must accept the keyword argument last_end", code="INVALID_SCHEDULE"
        )
    return method, open_kwargs or "last_result" in parameters
