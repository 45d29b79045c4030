"""``tasksql shell``: the interactive SQL shell.

One concept per module: :mod:`~tasksql.shell.input` (when the input is complete),
:mod:`~tasksql.shell.lexer` (highlighting), :mod:`~tasksql.shell.keywords` (the words it knows),
:mod:`~tasksql.shell.completion` (Tab completion), :mod:`~tasksql.shell.loop` (the session).
:func:`run_shell` is the entry point of the ``tasksql shell`` command.
"""

from __future__ import annotations

from tasksql.shell.loop import run_shell

__all__ = ["run_shell"]
