"""Cheaper construction and copying of frozen, slotted dataclasses made once or more per run.

``@dataclass(frozen=True, slots=True)`` generates an ``__init__`` that stores every field with
``object.__setattr__(self, name, value)``: a generic attribute write that looks the name up in the
class each time, about four times the cost of storing through the slot's own descriptor (measured
on CPython 3.11: a copy of a :class:`~tasksql.model.run.RunRecord`, 26 fields, took 9 µs through its
``__init__`` and 2 µs through the descriptors). The scheduler builds a few such values per run on the
event loop (a claimed run's record, its start, its outcome, the claim of the next instant), so that
cost is paid for every run. attrs does the same for its frozen slotted classes.

:func:`fast_init` replaces the generated ``__init__`` by one with the same signature (positional or
keyword-only fields, defaults, default factories) that stores through the slots' descriptors; the
class stays frozen (its ``__setattr__`` still refuses), and equality, hashing, ``repr``, pickling and
``dataclasses.replace`` are unchanged. :func:`copier` makes a function that copies an instance with
some fields replaced, without going through ``__init__`` at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Stands for "not given" where a field has a default factory (as dataclasses' own ``_HAS_DEFAULT_FACTORY``).
_FACTORY = object()


def _setters(cls: type) -> tuple[list[dataclasses.Field[Any]], dict[str, Any]]:
    """The fields of the frozen slotted dataclass ``cls`` and a namespace with each slot's setter
    (``_s<i>``) and the class (``_cls``); refuses classes the generated code would not cover."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: __post_init__ is not supported")
    fields = list(dataclasses.fields(cls))
    namespace: dict[str, Any] = {"_cls": cls, "_new": object.__new__, "_FACTORY": _FACTORY}
    for i, f in enumerate(fields):
        if not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: fields with init=False are not supported")
        namespace[f"_s{i}"] = cls.__dict__[f.name].__set__
    return fields, namespace


def _function(namespace: dict[str, Any], name: str, source: str) -> Callable[..., Any]:
    exec(source, namespace)  # generated from the class's own field names, as dataclasses does
    fn: Callable[..., Any] = namespace[name]
    return fn


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that stores through its slots'
    descriptors (see the module's docstring). Apply it above ``@dataclass``."""
    fields, namespace = _setters(cls)
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for i, f in enumerate(fields):
        value = f.name
        if f.default is not dataclasses.MISSING:
            namespace[f"_d{i}"] = f.default
            param = f"{f.name}=_d{i}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_f{i}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            value = f"_f{i}() if {f.name} is _FACTORY else {f.name}"
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    _s{i}(self, {value})")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    init = _function(namespace, "__init__", f"def __init__({', '.join(params)}):\n" + "\n".join(body) + "\n")
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def copier(cls: type[T], changed: tuple[str, ...]) -> Callable[..., T]:
    """A function ``(instance, *values) -> copy`` of the frozen, slotted dataclass ``cls``: every
    field copied from ``instance`` except those named in ``changed``, which take ``values`` in that
    order. No ``__init__`` runs (the copy is of an instance that was valid already)."""
    fields, namespace = _setters(cls)
    names = {f.name for f in fields}
    unknown = [c for c in changed if c not in names]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    args = [f"_v_{c}" for c in changed]
    body = [
        f"    _s{i}(new, {'_v_' + f.name if f.name in changed else 'old.' + f.name})"
        for i, f in enumerate(fields)
    ]
    source = (
        f"def copy(old, {', '.join(args)}):\n    new = _new(_cls)\n" + "\n".join(body) + "\n    return new\n"
    )
    return _function(namespace, "copy", source)
