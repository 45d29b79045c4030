"""DuckDB's error messages that tasksql shortens before showing them.

DuckDB answers an unknown time zone (``SET TimeZone = 'Mars/X'``, ``TIMESTAMPTZ '... Mars/X'``,
a task's ``TIMEZONE`` parameter) with several lines: the error, a blank line, and a list of
"candidate time zones" (and, for a query, its ``LINE 1:`` excerpt). :func:`time_zone_message` makes
that one line naming the cause and the fix.
"""

from __future__ import annotations

import re

_UNKNOWN_ZONE = re.compile(r"Unknown TimeZone '(?P<zone>[^']*)'", re.I)


def time_zone_message(message: str, *, where: str = "DuckDB") -> str | None:
    """One line for DuckDB's unknown time zone ``message`` (``where`` names who does not know the
    zone); None when ``message`` is about something else."""
    m = _UNKNOWN_ZONE.search(message)
    if m is None:
        return None
    close = re.findall(r'"([^"]+)"', message.partition("Candidate time zones:")[2])[:3]
    hint = f" (closest: {', '.join(close)})" if close else ""
    return (
        f"unknown time zone '{m.group('zone')}': {where} has no such time zone{hint}; write an IANA"
        " time zone name such as 'America/Los_Angeles' or 'UTC'"
    )
