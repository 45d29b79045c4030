"""Who owns a data directory: one process at a time, under an exclusive OS file lock.

A data directory holds files that one process must own: the embedded DuckDB warehouse, and the
scheduler's right to run the directory's tasks. The owner holds an exclusive ``flock`` on
``<data dir>/lock`` for as long as it uses the directory, and writes into that file who it is (pid,
command line, kind), so that a process refused the lock can name the owner. The kernel drops the lock
when the owner exits, even after ``kill -9``: a lock is never stale, only the text in the file can
be, and that text is read only while someone holds the lock.

Owners are of two kinds: a ``tasksql serve`` process (``server``), and an embedded engine in a
``tasksql sql``, ``tasksql shell`` or ``tasksql.connect()`` process (``sql``, ``shell``,
``python``). Other clients talk to a server over HTTP (see :mod:`tasksql.client`); an embedded owner
shares the directory with nobody. Inside one process, embedded connections to the same directory
share one lock (counted), so a script may open two connections; a server shares it with nobody.
Who waits for whom, and who is refused at once, is :class:`Attempt`'s policy.

The lock file is never deleted or replaced: a process waiting on the old file would lock an inode
that no one else sees.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from tasksql.errors import ConfigError

T = TypeVar("T")

LOCK_FILE = "lock"

#: Kinds of owner. A server serves other processes; the others are embedded engines.
SERVER = "server"
EMBEDDED_KINDS = ("sql", "shell", "python")

#: Seconds to wait for an embedded holder that is neither a command nor a shell (a script).
BUSY_WAIT_S = 10.0
#: Seconds of waiting for a ``tasksql sql`` command before the user is told.
NOTICE_AFTER_S = 1.0
#: Seconds to wait for a server that holds the lock to answer (starting) or let go (stopping).
SERVER_WAIT_S = 30.0
#: Seconds to wait for a holder that has not written who it is (it writes just after locking).
UNKNOWN_WAIT_S = 1.0
POLL_S = 0.05

#: Longest command line written into the lock file (the SQL text of ``tasksql sql`` can be long).
COMMAND_MAX = 120

#: Fix suggested in every error about the location of the data directory.
CHOOSE_ANOTHER = "choose another with --data DIR or TASKSQL_DATA"


class DataDirError(ConfigError):
    """The data directory cannot be used: missing, not a directory, not writable."""

    default_code = "DATA_DIR_INVALID"


class DataDirBusy(ConfigError):
    """Another process owns the data directory."""

    default_code = "DATA_DIR_BUSY"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a data directory's lock, as written in the lock file (all None when unknown)."""

    pid: int | None = None
    kind: str | None = None
    command: str | None = None

    @property
    def known(self) -> bool:
        return self.pid is not None

    @property
    def is_server(self) -> bool:
        return self.kind == SERVER

    def describe(self) -> str:
        """``pid 123 (tasksql shell)``, or ``another process`` when the file said nothing yet."""
        if self.pid is None:
            return "another process"
        return f"pid {self.pid} ({_printable(self.command or self.kind or 'unknown command')})"


class DirectoryLock:
    """The lock on one data directory, held by this process until :meth:`release`."""

    def __init__(self, data_dir: Path, key: tuple[int, int], kind: str) -> None:
        self.data_dir = data_dir
        self.kind = kind
        self._key = key
        self._released = False

    def release(self) -> None:
        """Give the lock up (idempotent); the last holder in this process unlocks the file."""
        if self._released:
            return
        self._released = True
        with _registry_lock:
            held = _HELD[self._key]
            held.count -= 1
            if held.count > 0:
                return
            del _HELD[self._key]
        try:
            os.ftruncate(held.fd, 0)  # the file must not name a process that has let go
        finally:
            fcntl.flock(held.fd, fcntl.LOCK_UN)
            os.close(held.fd)

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(slots=True)
class _Held:
    fd: int
    kind: str
    count: int


_registry_lock = threading.Lock()
#: Locks this process holds, by (device, inode) of the lock file.
_HELD: dict[tuple[int, int], _Held] = {}


def prepare(data_dir: Path) -> Path:
    """Create ``data_dir`` when missing and check that it is a writable directory.

    :raises DataDirError: one line naming the cause and the fix.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"the data directory {data_dir} is a file, not a directory; {CHOOSE_ANOTHER}")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a parent is a file
        raise DataDirError(
            f"cannot create the data directory {data_dir}: a part of its path is a file; {CHOOSE_ANOTHER}"
        ) from None
    except OSError as exc:
        raise DataDirError(
            f"cannot create the data directory {data_dir}: {_reason(exc)}; {CHOOSE_ANOTHER}"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DataDirError(
            f"the data directory {data_dir} is not writable by this user; "
            f"give it write permission or {CHOOSE_ANOTHER}"
        )
    # the catalog, the DuckDB file and SQLite's side files are all written to (a read-only one
    # would fail later, in the middle of a statement or a run)
    for entry in sorted(data_dir.iterdir()):
        if entry.is_file() and not os.access(entry, os.R_OK | os.W_OK):
            raise DataDirError(
                f"{entry} is not readable and writable by this user; give it read and write"
                f" permission (every file in the data directory needs both) or {CHOOSE_ANOTHER}"
            )
    return data_dir


def try_lock(data_dir: Path, kind: str) -> DirectoryLock | Holder:
    """Take the lock on ``data_dir`` without waiting: the lock, or who holds it.

    ``data_dir`` must exist (see :func:`prepare`). Embedded kinds share a lock this process already
    holds as embedded; a server shares it with nobody.
    """
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise DataDirError(f"cannot open {path}: {_reason(exc)}; {CHOOSE_ANOTHER}") from None
    info = os.fstat(fd)
    key = (info.st_dev, info.st_ino)
    with _registry_lock:
        held = _HELD.get(key)
        if held is not None:
            os.close(fd)  # another descriptor: closing it leaves this process's flock alone
            if SERVER not in (kind, held.kind):  # embedded connections share
                held.count += 1
                return DirectoryLock(data_dir, key, held.kind)
            return Holder(os.getpid(), held.kind, _command())
        if not _flock(fd):
            os.close(fd)
            return read_holder(data_dir)
        _HELD[key] = _Held(fd, kind, 1)
    _write_holder(fd, kind)
    return DirectoryLock(data_dir, key, kind)


class Attempt(Generic[T]):
    """One attempt to own ``data_dir`` as ``kind``: the waiting policy, apart from the waiting.

    :meth:`step` tries once: it returns the lock, or a client of the server that holds it
    (``client_of(holder)``, asked only when given), or None when the caller should wait
    :data:`POLL_S` and step again; it raises :class:`DataDirBusy` when waiting is pointless.

    - A ``tasksql sql`` command (and a piped shell) finishes on its own: it is waited for as long
      as it runs, and ``on_wait`` is told once, so that the wait is not silent.
    - An interactive shell is refused at once: it ends when its user quits.
    - Another embedded owner (a script, a notebook) is waited for up to ``busy_wait`` seconds.
    - A server is the owner to talk to: with ``client_of``, it is asked for up to ``server_wait``
      seconds (it may be starting, or stopping and about to let go); without, it is refused.
    """

    def __init__(
        self,
        data_dir: Path,
        kind: str,
        *,
        client_of: Callable[[Holder], T | None] | None = None,
        on_wait: Callable[[str], None] | None = None,
        busy_wait: float = BUSY_WAIT_S,
        server_wait: float = SERVER_WAIT_S,
    ) -> None:
        self.data_dir = data_dir
        self.kind = kind
        self.client_of = client_of
        self.on_wait = on_wait if on_wait is not None else _PROCESS.on_wait
        self.busy_wait = busy_wait
        self.server_wait = server_wait
        self._start = time.monotonic()
        self._told = False
        #: Since when the lock's holder has been one that has not written who it is (None: known).
        self._unknown_since: float | None = None

    def step(self) -> DirectoryLock | T | None:
        got = try_lock(self.data_dir, self.kind)
        if isinstance(got, DirectoryLock):
            return got
        holder = got
        now = time.monotonic()
        waited = now - self._start
        # The grace for an unknown holder runs from when one was first seen, not from the start of
        # the wait: after a long wait for a known holder, the next one to lock the directory must
        # still get its moment to write who it is.
        if holder.known:
            self._unknown_since = None
        elif self._unknown_since is None:
            self._unknown_since = now
        if holder.is_server:
            if self.client_of is None:
                raise DataDirBusy(
                    f"a tasksql server already serves {self.data_dir}: {holder.describe()}; stop it"
                    " first, or use `tasksql sql` and `tasksql shell`, which talk to it"
                )
            client = self.client_of(holder)
            if client is not None:
                return client
            if waited >= self.server_wait:
                raise DataDirBusy(
                    f"the tasksql server {holder.describe()} owns {self.data_dir} but does not answer"
                    " (it is starting or stopping); try again in a moment"
                )
            return None
        if holder.kind == "sql":
            if not self._told and waited >= NOTICE_AFTER_S and self.on_wait is not None:
                self._told = True
                self.on_wait(
                    f"waiting for {holder.describe()} to finish with the data directory {self.data_dir}"
                )
            return None
        unknown_for = now - self._unknown_since if self._unknown_since is not None else 0.0
        if holder.kind == "shell" or (
            waited >= self.busy_wait if holder.known else unknown_for >= UNKNOWN_WAIT_S
        ):
            raise DataDirBusy(_busy_message(self.data_dir, holder, self.kind))
        return None


def acquire(
    data_dir: Path,
    kind: str,
    *,
    client_of: Callable[[Holder], T | None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    busy_wait: float = BUSY_WAIT_S,
    server_wait: float = SERVER_WAIT_S,
) -> DirectoryLock | T:
    """Own ``data_dir`` as ``kind``, or get a client of the server that owns it, waiting as
    :class:`Attempt` says (blocking the calling thread).

    :raises DataDirBusy: one line naming the holder (pid and command) and what to do.
    """
    attempt = Attempt(
        data_dir, kind, client_of=client_of, on_wait=on_wait, busy_wait=busy_wait, server_wait=server_wait
    )
    while (got := attempt.step()) is None:
        time.sleep(POLL_S)
    return got


async def acquire_async(
    data_dir: Path, kind: str, *, on_wait: Callable[[str], None] | None = None
) -> DirectoryLock:
    """:func:`acquire` for an event loop (a server): the wait can be cancelled."""
    attempt: Attempt[DirectoryLock] = Attempt(data_dir, kind, on_wait=on_wait)
    while (got := attempt.step()) is None:
        await asyncio.sleep(POLL_S)
    return got


def _busy_message(data_dir: Path, holder: Holder, kind: str) -> str:
    head = f"the data directory {data_dir} is in use by {holder.describe()}"
    if kind == SERVER:
        return (
            f"{head}; quit it first, then start the server (while a server runs, shells, `tasksql sql`"
            " and scripts on this directory talk to it)"
        )
    return (
        f"{head}; quit it first, or share the directory: start `tasksql serve` while no one uses it,"
        " and every shell, `tasksql sql` and script talks to the server"
    )


def _flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def read_holder(data_dir: Path) -> Holder:
    """What the lock file says about its holder (an unknown :class:`Holder` when it says nothing).

    Meaningful only while the lock is held: the holder writes the file just after taking the lock,
    so a reader may briefly find it empty.
    """
    try:
        raw = json.loads((data_dir / LOCK_FILE).read_text())
        return Holder(int(raw["pid"]), str(raw["kind"]), str(raw.get("command") or "") or None)
    except (OSError, ValueError, KeyError, TypeError):
        return Holder()


def _write_holder(fd: int, kind: str) -> None:
    text = json.dumps(
        {
            "pid": os.getpid(),
            "kind": kind,
            "command": _command(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    os.ftruncate(fd, 0)
    os.pwrite(fd, (text + "\n").encode(), 0)


def _command() -> str:
    """This process's command line, shortened (it names the owner in other processes' errors)."""
    args = list(getattr(sys, "orig_argv", None) or sys.argv)
    if len(args) >= 3 and args[1] == "-m" and args[2] == "tasksql":
        args = ["tasksql", *args[3:]]  # python -m tasksql ... reads as the command it is
    elif args and Path(args[0]).name == "tasksql":
        args[0] = "tasksql"
    elif len(args) >= 2 and Path(args[1]).name == "tasksql":
        args = ["tasksql", *args[2:]]  # python .venv/bin/tasksql ...
    text = _printable(" ".join(args))
    return text if len(text) <= COMMAND_MAX else text[: COMMAND_MAX - 3] + "..."


def _printable(text: str) -> str:
    """``text`` on one line: control characters (a newline in ``tasksql sql`` text) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(slots=True)
class _Process:
    embedded_kind: str = "python"
    on_wait: Callable[[str], None] | None = None


#: What this process is, as its embedded connections write it into lock files.
_PROCESS = _Process()


def set_embedded_kind(kind: str, *, on_wait: Callable[[str], None] | None = None) -> None:
    """What this process's embedded connections are (``sql``, ``shell``), and how to tell the user
    that they wait for the directory (default: nothing is said). The CLI says so at start."""
    if kind not in EMBEDDED_KINDS:
        raise ValueError(f"not an embedded kind: {kind!r}")
    _PROCESS.embedded_kind = kind
    _PROCESS.on_wait = on_wait


def embedded_kind() -> str:
    """The kind written into the lock file by this process's embedded connections."""
    return _PROCESS.embedded_kind
