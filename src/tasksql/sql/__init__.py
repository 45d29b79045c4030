"""The SQL front end: tokenizer, script splitter, parser, renderer.

``parse(text)`` turns a script into statement objects (:mod:`tasksql.sql.statements`) with source
spans; ``render(stmt)`` prints any statement back as canonical SQL, and ``render_task(task)`` prints
a task definition as the ``CREATE TASK`` that ``SHOW CREATE TASK`` shows.
"""

from __future__ import annotations

from tasksql.sql.parser import parse, parse_one
from tasksql.sql.render import render, render_task
from tasksql.sql.split import Piece, split
from tasksql.sql.tokenizer import tokenize

__all__ = ["Piece", "parse", "parse_one", "render", "render_task", "split", "tokenize"]
