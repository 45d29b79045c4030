"""The data directory's owner: one process at a time, named to the others (``tasksql.datadir``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tasksql
from tasksql import datadir
from tasksql.datadir import DataDirBusy, DataDirError, DirectoryLock, Holder

# A process that owns DIR as an embedded shell would, says "ready", and keeps it until stdin closes.
HOLDER = """
import sys
from tasksql import datadir
import tasksql
datadir.set_embedded_kind(sys.argv[2])
with tasksql.connect(sys.argv[1]) as db:
    db.sql("SELECT 1")
    print("ready", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``tmp_path / "data"`` as an interactive shell."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "data"), "shell"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_a_lock_names_its_holder_and_is_given_back(tmp_path: Path) -> None:
    data = datadir.prepare(tmp_path / "data")
    lock = datadir.try_lock(data, datadir.SERVER)
    assert isinstance(lock, DirectoryLock)
    written = json.loads((data / datadir.LOCK_FILE).read_text())
    assert written["pid"] == os.getpid() and written["kind"] == "server"
    # a server shares the directory with nobody, not even in its own process
    again = datadir.try_lock(data, "python")
    assert isinstance(again, Holder) and again.pid == os.getpid() and again.is_server
    lock.release()
    lock.release()  # idempotent
    assert (data / datadir.LOCK_FILE).read_text() == ""  # names no one once let go
    with datadir.try_lock(data, "python") as embedded:
        assert isinstance(embedded, DirectoryLock)


def test_embedded_connections_of_one_process_share_the_directory(tmp_path: Path) -> None:
    with tasksql.connect(tmp_path / "data") as first, tasksql.connect(tmp_path / "data") as second:
        first.sql("CREATE TABLE t AS SELECT 1 AS x")
        assert second.sql("SELECT x FROM t").rows == [(1,)]
    # both closed: the lock is free again, for a server too
    lock = datadir.try_lock(tmp_path / "data", datadir.SERVER)
    assert isinstance(lock, DirectoryLock)
    lock.release()


def test_another_process_is_refused_and_told_who_holds_the_directory(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(DataDirBusy) as err:
        tasksql.connect(tmp_path / "data")
    assert time.monotonic() - started < 5  # a shell is not waited for
    message = str(err.value)
    assert f"pid {holder.pid}" in message and "shell" in message
    assert "\n" not in message
    with pytest.raises(DataDirBusy, match=f"pid {holder.pid}"):
        datadir.acquire(tmp_path / "data", datadir.SERVER)


def test_the_lock_dies_with_its_holder_even_on_kill_9(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    # the file still names the dead process, but the kernel has dropped its lock
    assert json.loads((tmp_path / "data" / datadir.LOCK_FILE).read_text())["pid"] == holder.pid
    with tasksql.connect(tmp_path / "data") as db:
        assert not db.remote
        assert db.sql("SELECT 2").rows == [(2,)]


def test_a_short_lived_holder_is_waited_for(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "data"), "sql"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.stdin.close()  # the holder finishes while we wait for it
        with tasksql.connect(tmp_path / "data") as db:
            assert db.sql("SELECT 3").rows == [(3,)]
    finally:
        proc.wait(timeout=30)


def test_a_holder_that_is_not_a_shell_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    data = datadir.prepare(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data), "python"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(DataDirBusy, match=f"pid {proc.pid}"):
            datadir.acquire(data, "python", busy_wait=0.3)
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_bad_places_for_a_data_directory_are_one_line_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("not a directory")
    cases = {
        plain: "is a file, not a directory",
        plain / "sub": "cannot create the data directory",
        Path("/proc/tasksql-nope"): "cannot create the data directory",
    }
    for path, expected in cases.items():
        with pytest.raises(DataDirError) as err:
            tasksql.connect(path)
        assert expected in str(err.value) and "--data" in str(err.value)
        assert "\n" not in str(err.value)
    assert plain.read_text() == "not a directory"  # changed nothing


# Locks DIR's lock file as a starting holder does before it has written who it is (the file empty),
# once it can (blocking), stays so for a moment, then exits.
SLOW_TO_SAY = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "/lock", os.O_RDWR | os.O_CREAT)
print("waiting", flush=True)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
time.sleep(0.5)
"""


def test_a_new_holder_gets_its_moment_to_say_who_it_is_after_a_long_wait(tmp_path: Path) -> None:
    """Three commands started together: the third waits for the first (longer than an unknown
    holder's grace), then finds the second, which has just locked the directory and not yet
    written who it is; it must wait for it too, not give up at once."""
    data = datadir.prepare(tmp_path / "data")
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data), "sql"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None and first.stdin is not None
    assert first.stdout.readline().strip() == "ready"
    second = subprocess.Popen(
        [sys.executable, "-c", SLOW_TO_SAY, str(data)], stdout=subprocess.PIPE, text=True
    )
    assert second.stdout is not None
    try:
        assert second.stdout.readline().strip() == "waiting"
        attempt: datadir.Attempt[DirectoryLock] = datadir.Attempt(data, "sql", on_wait=lambda _: None)
        deadline = time.monotonic() + datadir.UNKNOWN_WAIT_S + 0.5
        while time.monotonic() < deadline:  # the first holder, known, for longer than the grace
            assert attempt.step() is None
            time.sleep(datadir.POLL_S)
        first.stdin.close()  # it lets go; the second takes the lock, empty for half a second
        while (got := attempt.step()) is None:
            time.sleep(datadir.POLL_S)
        assert isinstance(got, DirectoryLock)
        got.release()
        assert second.wait(timeout=30) == 0
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
