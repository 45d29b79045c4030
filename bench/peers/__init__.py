"""The systems measured side by side: one module per peer.

Every peer class has a ``name``, ``describe()`` (version and settings for the report) and one
method per workload it can express; a workload it cannot express answers
:func:`unsupported` with the reason, which the report prints in place of figures.
"""

from __future__ import annotations

from typing import Any


def unsupported(reason: str) -> dict[str, Any]:
    """The result of a workload a peer cannot express."""
    return {"unsupported": reason}


def failed(reason: str) -> dict[str, Any]:
    """The result of a measurement that broke (server did not start, child crashed, ...)."""
    return {"error": reason}
