"""Facts about local processes."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasksql.model.run import NodeRecord


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a process of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: How much later than a node's recorded start its process may have started and still be the same
#: (the kernel's boot time is whole seconds; a process registers its node after it starts).
_SAME_PROCESS_SLACK_S = 2.0


#: A node whose pid belongs to a younger process is gone once it has been silent this long (nodes
#: beat every 2 s).
REUSED_SILENT_S = 5.0


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` of this host started, or None when that cannot be told (no such
    process, or no Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        # the command name (field 2) may hold spaces and parentheses: the fields after it follow
        # the last ')'; the start time is field 22, in clock ticks since boot
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_gone(pid: int, started_at: datetime, *, silent_s: float) -> bool:
    """Whether the process of a node that registered at ``started_at`` with ``pid`` on this host, and
    whose last heartbeat is ``silent_s`` seconds old, is gone: no process has that id; or the one
    that has it started after the node did (the id was reused) and the node has missed its
    heartbeats for :data:`REUSED_SILENT_S` (so that a wall clock set back never makes a beating node
    gone). This process is never gone."""
    if pid == os.getpid():
        return False
    if not pid_alive(pid):
        return True
    if silent_s < REUSED_SILENT_S:
        return False
    began = process_started_at(pid)
    return began is not None and (began - started_at).total_seconds() > _SAME_PROCESS_SLACK_S


#: A node whose last heartbeat is older than this is lost, wherever it runs (nodes beat every 2 s).
NODE_LEASE_S = 30.0


def node_state(node: NodeRecord, now: datetime, *, host: str | None = None) -> str:
    """``stopped`` (it said so), ``lost`` (silent for longer than :data:`NODE_LEASE_S`, or on this
    host, ``host`` or this machine's name, its process is gone: known at once) or ``running``."""
    if node.stopped_at is not None:
        return "stopped"
    silent = (now - node.heartbeat_at).total_seconds()
    if silent > NODE_LEASE_S:
        return "lost"
    if node.host == (host or socket.gethostname()) and process_gone(
        node.pid, node.started_at, silent_s=silent
    ):
        return "lost"
    return "running"
