"""Small statistics helpers shared by every benchmark."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lag:
    """A lag distribution in milliseconds."""

    n: int
    p50: float
    p99: float
    max: float

    @staticmethod
    def of(values_ms: Sequence[float]) -> Lag:
        if not values_ms:
            return Lag(0, math.nan, math.nan, math.nan)
        ordered = sorted(values_ms)
        return Lag(len(ordered), percentile(ordered, 50), percentile(ordered, 99), ordered[-1])

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "p50_ms": self.p50, "p99_ms": self.p99, "max_ms": self.max}


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    path = f"/proc/{pid or os.getpid()}/status"
    with open(path) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    kernel = subprocess.run(["uname", "-r"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {kernel}",
        "python": platform.python_version(),
    }
