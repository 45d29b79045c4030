"""Installing what the benchmarks need, through the ordinary package clients.

* Debian packages (``postgresql-15-cron``, ``mariadb-server``) with ``apt-get install`` when
  ``dpkg-query`` says they are missing. Installing a server package must not start the system's
  service (the benchmarks start private servers only): when no ``/usr/sbin/policy-rc.d`` exists,
  a temporary one that forbids service starts is put in place for the duration of the install
  (the mechanism Debian documents for exactly this) and removed afterwards.
* Python packages (``APScheduler>=3.10,<4``, ``matplotlib``) with ``pip install`` into the running
  interpreter's environment when they cannot be imported.

Failures are reported as :class:`InstallError` with the tool's output, so the caller can skip the
peer that needed the package and say why.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class InstallError(RuntimeError):
    """A package could not be installed; the message says which and why."""


def apt_installed(package: str) -> bool:
    """Whether the Debian package is installed (``dpkg-query`` status ``install ok installed``)."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and done.stdout.strip().endswith("installed")


def ensure_apt(*packages: str) -> list[str]:
    """Install the missing ones of ``packages`` with apt-get; return those it installed.

    :raises InstallError: not root, or apt-get failed (also after ``apt-get update``).
    """
    missing = [p for p in packages if not apt_installed(p)]
    if not missing:
        return []
    if os.geteuid() != 0:
        raise InstallError(f"Debian packages {', '.join(missing)} are missing and installing needs root")
    print(f"[bench] apt-get install {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    with _NoServiceStarts():
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            # Package lists may be missing or stale on a fresh machine: refresh once, then retry.
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise InstallError(f"apt-get install {' '.join(missing)} failed: {done.stderr.strip()[-1500:]}")
    return missing


class _NoServiceStarts:
    """A temporary policy-rc.d that denies service starts, unless the machine already has one."""

    def __init__(self) -> None:
        self._created = False

    def __enter__(self) -> None:
        if not POLICY_RC_D.exists():
            POLICY_RC_D.write_text(
                "#!/bin/sh\n# temporary: installed packages must not start services\nexit 101\n"
            )
            POLICY_RC_D.chmod(0o755)
            self._created = True

    def __exit__(self, *exc: object) -> None:
        if self._created:
            POLICY_RC_D.unlink(missing_ok=True)


def ensure_pip(requirement: str, module: str) -> bool:
    """Install ``requirement`` into this interpreter's environment unless ``module`` imports.

    Returns True when it installed something.

    :raises InstallError: pip failed.
    """
    if importlib.util.find_spec(module) is not None:
        return False
    print(f"[bench] pip install {requirement}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", requirement],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise InstallError(f"pip install {requirement} failed: {done.stderr.strip()[-1500:]}")
    importlib.invalidate_caches()
    return True


def package_version(package: str) -> str:
    """The installed version of a Debian package, or ``unknown``."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"
