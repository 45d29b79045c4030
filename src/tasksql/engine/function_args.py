"""The arguments of tasksql's ``SYSTEM$`` functions in a task body or WHEN, checked at CREATE and
ALTER where they can be told from the text: how many there are, the type of a literal one, and the
property or unit a literal names. What only a run can tell (an expression's value, a predecessor
that does not exist yet) is left to the run.

Signatures as Snowflake documents them (docs.snowflake.com/en/sql-reference/functions/...):

==========================================  =====================================================
function                                    arguments
==========================================  =====================================================
SYSTEM$SET_RETURN_VALUE                     ``'<string>'``
SYSTEM$GET_PREDECESSOR_RETURN_VALUE         ``[ '<task name>' ]``
SYSTEM$GET_TASK_GRAPH_CONFIG                ``[ '<key>' ]``
SYSTEM$CURRENT_USER_TASK_NAME               none
SYSTEM$TASK_RUNTIME_INFO                    ``'<property>'``, one of the properties it has
SYSTEM$WAIT                                 ``<amount> [, '<time unit>' ]``, amount >= 0
SYSTEM$STREAM_HAS_DATA                      ``'<stream name>'``
SYSTEM$TASK_DEPENDENTS_ENABLE               ``'<task name>'`` (Databend: TASK_DEPENDENTS_ENABLE)
SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS  ``'<task name>'``
==========================================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from tasksql.scheduler.runner import RUNTIME_INFO_PROPERTIES
from tasksql.scheduler.system_wait import TIME_UNITS
from tasksql.sysviews.rewrite import Arg, VirtualRef


@dataclass(frozen=True)
class Signature:
    """``least`` to ``most`` arguments; ``kinds`` the kind of each (``str``, ``number``)."""

    least: int
    most: int
    kinds: tuple[str, ...] = ()
    usage: str = ""


SIGNATURES: dict[str, Signature] = {
    "system$set_return_value": Signature(1, 1, ("any",), "SYSTEM$SET_RETURN_VALUE('<string>')"),
    "system$get_predecessor_return_value": Signature(
        0, 1, ("str",), "SYSTEM$GET_PREDECESSOR_RETURN_VALUE(['<task name>'])"
    ),
    "system$get_task_graph_config": Signature(0, 1, ("str",), "SYSTEM$GET_TASK_GRAPH_CONFIG(['<key>'])"),
    "system$current_user_task_name": Signature(0, 0, (), "SYSTEM$CURRENT_USER_TASK_NAME()"),
    "system$task_runtime_info": Signature(1, 1, ("str",), "SYSTEM$TASK_RUNTIME_INFO('<property>')"),
    "system$wait": Signature(1, 2, ("number", "str"), "SYSTEM$WAIT(<amount> [, '<time unit>'])"),
    "system$stream_has_data": Signature(1, 1, ("str",), "SYSTEM$STREAM_HAS_DATA('<stream name>')"),
    "system$task_dependents_enable": Signature(
        1, 1, ("str",), "SYSTEM$TASK_DEPENDENTS_ENABLE('<task name>')"
    ),
    "task_dependents_enable": Signature(1, 1, ("str",), "TASK_DEPENDENTS_ENABLE('<task name>')"),
    "system$user_task_cancel_ongoing_executions": Signature(
        1, 1, ("str",), "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS('<task name>')"
    ),
}


def _kind_error(arg: Arg, kind: str) -> str | None:
    if not arg.is_literal or arg.literal is None:
        return None  # an expression (or NULL): its value is the run's to judge
    value = arg.literal
    if kind == "str" and not isinstance(value, str):
        return f"a string literal ('...'), found {arg.text}"
    if kind == "number":
        number: object = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return f"a number, found {arg.text}"
        if isinstance(number, bool) or not isinstance(number, int | float):
            return f"a number, found {arg.text}"
        if number < 0:
            return f"a number of at least 0, found {arg.text}"
    return None


def argument_error(ref: VirtualRef) -> tuple[str, Arg | None] | None:
    """What is wrong with the arguments of ``ref`` (a call of one of :data:`SIGNATURES`), and the
    argument at fault (None: the call as a whole); None when nothing can be told before a run."""
    sig = SIGNATURES.get(ref.name)
    if sig is None:
        return None
    name = ref.name.upper()
    args = ref.args
    if not sig.least <= len(args) <= sig.most:
        takes = (
            f"{sig.least}" if sig.least == sig.most else f"{sig.least} to {sig.most}"
        ) + f" argument{'s' if sig.most != 1 else ''}"
        return f"{name} takes {takes}, got {len(args)}: {sig.usage}", (
            args[sig.most] if len(args) > sig.most else None
        )
    for arg, kind in zip(args, sig.kinds, strict=False):
        if arg.name is not None:
            return f"{name} takes no named arguments ({arg.name} =>): {sig.usage}", arg
        bad = _kind_error(arg, kind)
        if bad is not None:
            return f"{name}: expected {bad}: {sig.usage}", arg
    if ref.name == "system$task_runtime_info" and args[0].is_literal and isinstance(args[0].literal, str):
        prop = args[0].literal.strip().upper()
        if prop not in RUNTIME_INFO_PROPERTIES:
            known = ", ".join(sorted(RUNTIME_INFO_PROPERTIES))
            return f"SYSTEM$TASK_RUNTIME_INFO: unknown property {args[0].text}; one of {known}", args[0]
    if (
        ref.name == "system$wait"
        and len(args) == 2
        and args[1].is_literal
        and isinstance(args[1].literal, str)
    ):
        unit = args[1].literal.strip().upper()
        if unit not in TIME_UNITS and unit + "S" not in TIME_UNITS:
            units = ", ".join(sorted(TIME_UNITS))
            return f"SYSTEM$WAIT: unknown time unit {args[1].text}; one of {units}", args[1]
    return None
