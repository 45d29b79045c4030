"""Where and how the shell prints: output format, expanded rows, timing, ``\\o`` file, pager.

:class:`Display` holds the settings the meta-commands change and prints results with them. Output
taller (or wider) than the terminal goes through a pager when standard output is a terminal, as in
psql: ``$PAGER``, or ``less -SRFX`` (``-F``: less exits at once when the text fits one screen;
``-S``: long lines are cut, not wrapped, and scroll sideways).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from tasksql.engine.results import Result
from tasksql.errors import ConfigError
from tasksql.output import ResultWriter, write_notices

DEFAULT_PAGER = "less -SRFX"


def expanded_text(mode: bool | None) -> str:
    return "auto" if mode is None else "on" if mode else "off"


class Display:
    """The shell's output settings and the printing that uses them.

    ``fmt``: table, csv or json. ``expanded``: True (one block per row), False (tables only) or
    None (auto: blocks when a table is wider than the terminal). ``timing``: print each statement's
    elapsed time. ``pager``: page long output on a terminal. Results go to ``out`` or, after
    :meth:`open_file`, to that file; messages go to ``err``.
    """

    def __init__(self, fmt: str, out: TextIO, err: TextIO) -> None:
        self.fmt = fmt
        self.expanded: bool | None = None
        self.timing = False
        self.pager = True
        self.out = out
        self.err = err
        self.file: TextIO | None = None
        self.file_name: str | None = None
        self._writer: ResultWriter | None = None  # of the script running (CSV separates its results)

    @property
    def target(self) -> TextIO:
        return self.file if self.file is not None else self.out

    def _terminal(self) -> os.terminal_size | None:
        """The terminal's size when results go to a terminal, else None."""
        target = self.target
        isatty = getattr(target, "isatty", None)
        if isatty is None or not isatty():
            return None
        return shutil.get_terminal_size()

    def results(self, results: Sequence[Result]) -> None:
        """Print ``results`` in the current format, through the pager when they need it."""
        for result in results:
            self.result(result)

    def result(self, result: Result) -> None:
        """Print one statement's result (as it completes), then its notices (``notice: ...``, to
        ``err``); CSV result sets of one script are separated by a blank line (see
        :meth:`start_script`)."""
        size = self._terminal()
        buf = io.StringIO()
        if self._writer is None or self._writer.fmt != self.fmt:
            self._writer = ResultWriter(self.fmt, buf)
        self._writer.out = buf
        self._writer.expanded = self.expanded
        self._writer.width = size.columns if size is not None else None
        self._writer.write(result)
        self.write(buf.getvalue(), size)
        write_notices(result, self.err)

    def start_script(self) -> None:
        """The results that follow belong to a new script (a new input)."""
        self._writer = None

    def write(self, text: str, size: os.terminal_size | None = None) -> None:
        """Write ``text`` to the target, through the pager when it is a terminal and the text is
        taller or wider than it."""
        size = size if size is not None else self._terminal()
        if size is not None and self.pager and _needs_pager(text, size) and self._page(text):
            return
        self.target.write(text)
        self.target.flush()

    def elapsed(self, seconds: float) -> None:
        """``Time: 1.234 ms`` after a statement, when timing is on."""
        if self.timing:
            self.target.write(f"Time: {seconds * 1000:.3f} ms\n")
            self.target.flush()

    def message(self, text: str) -> None:
        """A line about the shell itself (settings changed), on the standard output as psql does."""
        self.out.write(text + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def open_file(self, name: str) -> None:
        """Send results to the file ``name`` (appended) until :meth:`close_file`.

        :raises ConfigError: code ``CANNOT_OPEN`` when the file cannot be opened for writing.
        """
        try:
            handle = Path(name).expanduser().open("a", encoding="utf-8")  # kept open until \o
        except OSError as err:
            raise ConfigError(f"cannot write to {name}: {err.strerror or err}", code="CANNOT_OPEN") from None
        self.close_file()
        self.file, self.file_name = handle, name

    def close_file(self) -> None:
        if self.file is not None:
            self.file.close()
        self.file, self.file_name = None, None

    def _page(self, text: str) -> bool:
        """Show ``text`` through the pager; False when no pager could be started."""
        command = os.environ.get("PAGER", DEFAULT_PAGER)
        if not command.strip():
            return False
        try:
            args = shlex.split(command)
        except ValueError:
            return False
        with _ignoring_interrupts():
            try:
                proc = subprocess.Popen(args, stdin=subprocess.PIPE, text=True, encoding="utf-8")
            except OSError:
                return False
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # the user quit the pager early
                proc.stdin.write(text)
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            proc.wait()
        return True


def _needs_pager(text: str, size: os.terminal_size) -> bool:
    lines = text.splitlines()
    return len(lines) >= size.lines or any(len(line) > size.columns for line in lines)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """Ctrl-C belongs to the pager while it runs (less uses it to stop a search)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
