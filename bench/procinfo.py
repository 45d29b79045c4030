"""What /proc says about a process: CPU time and resident memory (Linux only)."""

from __future__ import annotations

import os
import time

from stats import rss_mb

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may contain spaces: count fields after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def wait_idle(pid: int, *, quiet: float = 1.0, limit: float = 120.0) -> float:
    """Wait until the process has used no CPU for ``quiet`` seconds; return its CPU seconds then."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_seconds(pid)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            break
    return last


def rss(pid: int) -> float:
    """Resident memory in MB."""
    return rss_mb(pid)


def private_mb(pid: int) -> float:
    """Memory only this process uses (private clean + dirty pages, ``smaps_rollup``), in MB.

    For a PostgreSQL backend this leaves out the shared buffers it happens to have touched, which
    RSS counts and which say nothing about what the process itself holds.
    """
    total_kb = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total_kb += int(line.split()[1])
    return total_kb / 1024
