"""The shell in a real terminal: ``tasksql shell`` runs in a pseudo-terminal and is driven by keys,
as a user drives it (Enter, Ctrl-C, Ctrl-D)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shell_support import clean_env

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty (its stdin), so that
    Ctrl-C typed there interrupts it as a terminal would."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A process on a pseudo-terminal of 30 rows and 120 columns: :meth:`send` keys, :meth:`expect` text."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.fd, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        # only a child between fork and exec can take the pty as its controlling terminal
        self.proc = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=_controlling_terminal,  # noqa: PLW1509
        )
        os.close(slave)
        self.seen = ""

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 65536).decode(errors="replace")
        except OSError:  # the process ended and closed the terminal
            return ""
        self.seen += _ANSI.sub("", data)
        return data

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait until ``text`` appears after what earlier expects consumed; return what came before it."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            ended = self.proc.poll() is not None
            if time.monotonic() > deadline or (not self.read(0.1) and ended):
                pytest.fail(f"the terminal never showed {text!r}; it shows:\n{self.seen[-2000:]}")
        before, _, self.seen = self.seen.partition(text)
        return before

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    # no cursor position requests: this terminal does not answer them
    env = clean_env(TERM="xterm", PAGER="", HOME=str(tmp_path), PROMPT_TOOLKIT_NO_CPR="1")
    term = Terminal([sys.executable, "-m", "tasksql", "--data", str(tmp_path / "data"), "shell"], env)
    try:
        yield term
    finally:
        term.close()


PROMPT = "tasksql>"  # the space after it is drawn as a cursor move


def test_keys_in_a_real_terminal(terminal: Terminal) -> None:
    terminal.expect("Type \\? for help")
    terminal.expect(PROMPT)
    # a comment after the last semicolon does not keep the input open
    terminal.send("SELECT 2 AS y; -- c\r")
    terminal.expect("(1 row)")
    terminal.expect(PROMPT)
    # Ctrl-C at the prompt clears the input
    terminal.send("SELECT 'dropped' AS gone")
    terminal.send("\x03")
    terminal.send("SELECT 3 AS z;\r")
    shown = terminal.expect("(1 row)")
    assert "┃ z ┃" in shown and "┃ gone ┃" not in shown
    terminal.expect(PROMPT)
    # a dot command runs on Enter and does not take the next line with it
    terminal.send(".tables\r")
    terminal.expect("(0 rows)")
    terminal.expect(PROMPT)
    # Ctrl-C while a statement runs stops it
    terminal.send("SELECT sum(i) AS endless FROM range(1000000000000) t(i);\r")
    started = time.monotonic()
    terminal.expect("endless FROM range(1000000000000) t(i);\n")  # the prompt has taken the input
    # A Ctrl-C in the instant the prompt hands over to the statement is taken by the prompt's own
    # handler: press again while the shell has not answered.
    deadline = time.monotonic() + 30
    while "cancelled" not in terminal.seen and time.monotonic() < deadline:
        terminal.send("\x03")
        answer_by = time.monotonic() + 2
        while "cancelled" not in terminal.seen and time.monotonic() < answer_by:
            terminal.read(0.1)
    terminal.expect("cancelled: the running statement was stopped")
    terminal.expect(PROMPT)
    assert time.monotonic() - started < 30
    # the statement is gone from the warehouse (the list shows only the listing statement itself)
    terminal.send("SHOW QUERIES;\r")
    terminal.expect("SHOW QUERIES;")
    listed = terminal.expect(" row")
    assert "range(1000000000000)" not in listed
    terminal.expect(PROMPT)
    # Ctrl-D on an empty line quits
    terminal.send("\x04")
    assert terminal.proc.wait(timeout=60) == 0
