"""``SYSTEM$WAIT(<amount> [, '<time_unit>'])``: Snowflake's wait, in a task body or any statement.

docs.snowflake.com/en/sql-reference/functions/system_wait: the unit is one of DAYS, HOURS, MINUTES,
SECONDS (the default), MILLISECONDS, MICROSECONDS, NANOSECONDS; the value is ``waited <amount>
<unit>``; the wait checks for cancellation as it goes. Task graphs in Snowflake's docs and
examples use it to stand for work that takes time (``AS SELECT SYSTEM$WAIT(20)``).

The wait is real time, like a query that takes that long, whatever clock schedules the task. It
ends early, with the error the run would get from its warehouse, when the run is cancelled
(CANCEL TASK, a shutdown) or reaches its timeout. Like every SYSTEM$ function, it is evaluated
before the statement that names it is sent to the warehouse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from tasksql.errors import QueryCancelled, QueryTimeout, ValidationError

_UNITS: dict[str, Decimal] = {
    "DAYS": Decimal(86_400),
    "HOURS": Decimal(3_600),
    "MINUTES": Decimal(60),
    "SECONDS": Decimal(1),
    "MILLISECONDS": Decimal("1e-3"),
    "MICROSECONDS": Decimal("1e-6"),
    "NANOSECONDS": Decimal("1e-9"),
}
#: The units SYSTEM$WAIT takes (a singular, SECOND, is taken too), for the check at CREATE.
TIME_UNITS = frozenset(_UNITS)
#: How often a wait looks at its cancellation and deadline.
_STEP = 0.05


def wait_of(args: list[object]) -> tuple[float, str]:
    """The seconds to wait and the value to return, from the function's arguments.

    :raises ValidationError: INVALID_ARGUMENT for anything but a non-negative number and a unit.
    """
    if not 1 <= len(args) <= 2:
        raise ValidationError(
            "SYSTEM$WAIT(<amount> [, '<time_unit>']) takes an amount and at most a unit",
            code="INVALID_ARGUMENT",
        )
    amount = args[0]
    try:
        number = Decimal(str(amount)) if not isinstance(amount, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise ValidationError(
            f"SYSTEM$WAIT: the amount must be a number of at least 0, not {amount!r}", code="INVALID_ARGUMENT"
        )
    unit = "SECONDS" if len(args) == 1 else str(args[1]).strip().upper()
    if unit in {u[:-1] for u in _UNITS}:
        unit += "S"  # SECOND for SECONDS
    factor = _UNITS.get(unit)
    if factor is None:
        raise ValidationError(
            f"SYSTEM$WAIT: unknown time unit {args[1]!r}; one of {', '.join(_UNITS)}", code="INVALID_ARGUMENT"
        )
    return float(number * factor), f"waited {args[0]} {unit.lower()}"


async def system_wait(
    args: list[object],
    *,
    cancelled: Callable[[], str | None] = lambda: None,
    remaining: Callable[[], float] | None = None,
) -> str:
    """Wait as ``SYSTEM$WAIT(args)`` says; return Snowflake's value (``waited 10 seconds``).

    :param cancelled: the reason the caller was cancelled, or None (looked at as the wait goes).
    :param remaining: the seconds left before the caller's timeout (None: no timeout).
    :raises QueryCancelled: when ``cancelled`` gives a reason before the wait ends.
    :raises QueryTimeout: when ``remaining`` reaches 0 before the wait ends.
    """
    seconds, value = wait_of(args)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        reason = cancelled()
        if reason is not None:
            raise QueryCancelled(f"SYSTEM$WAIT stopped: {reason}")
        if remaining is not None and remaining() <= 0.001:
            raise QueryTimeout("SYSTEM$WAIT did not end before the timeout")
        step = min(left, _STEP)
        if remaining is not None:
            step = min(step, max(remaining(), 0.001))
        await asyncio.sleep(step)
    return value
