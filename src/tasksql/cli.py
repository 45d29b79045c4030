"""The ``tasksql`` command line.

``tasksql sql`` and ``tasksql shell`` run statements against a data directory: through the running
server when ``tasksql serve`` owns it, embedded otherwise. ``tasksql serve`` runs the scheduler and
the HTTP API (and web UI) in one process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tasksql import __version__
from tasksql.errors import TasksqlError
from tasksql.output import FORMATS, write_results
from tasksql.settings import Settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Ctx:
    def __init__(self, data: str | None, fmt: str) -> None:
        self.data = data
        self.fmt = fmt

    def settings(self, **overrides: Any) -> Settings:
        return Settings.load(data_dir=self.data, **overrides)


def _fail(err: TasksqlError, source: str | None = None) -> None:
    click.echo(err.render(source), err=True)
    sys.exit(1)


@click.group(context_settings=CONTEXT)
@click.option(
    "--data",
    "data",
    metavar="DIR",
    default=None,
    help="Data directory (catalog, embedded DuckDB). Default: $TASKSQL_DATA or ./tasksql-data.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format: aligned tables, CSV, or one JSON array of row objects per result set per line.",
)
@click.version_option(__version__, prog_name="tasksql")
@click.pass_context
def main(ctx: click.Context, data: str | None, fmt: str) -> None:
    """tasksql: CREATE TASK for ordinary databases.

    Write tasks in the SQL of Snowflake, Databend, Timeplus, VoltDB or Ocient; tasksql runs them on
    an embedded DuckDB (or PostgreSQL, SQLite, ...) and records every run.
    """
    ctx.obj = Ctx(data, fmt)


@main.command(context_settings=CONTEXT)
@click.argument("text", required=False)
@click.option(
    "-f", "--file", "file", type=click.Path(exists=True, dir_okay=False), help="Run the statements in FILE."
)
@click.pass_obj
def sql(obj: Ctx, text: str | None, file: str | None) -> None:
    """Run SQL statements (TEXT, or -f FILE, or standard input) and print their results.

    \b
    Examples:
      tasksql sql "SHOW TASKS"
      tasksql sql -f setup.sql
      tasksql --format json sql "SELECT * FROM task_history()"
    """
    if text is not None and file is not None:
        raise click.UsageError("give either TEXT or --file, not both")
    if file is not None:
        source = Path(file).read_text()
    elif text is not None:
        source = text
    elif not sys.stdin.isatty():
        source = sys.stdin.read()
    else:
        raise click.UsageError("no SQL given: pass TEXT, --file FILE, or pipe statements on standard input")
    from tasksql.connection import Connection

    try:
        with Connection(obj.settings()) as conn:
            results = conn.sql_all(source)
    except TasksqlError as err:
        _fail(err, source)
        return
    write_results(results, obj.fmt, sys.stdout)


@main.command(context_settings=CONTEXT)
@click.pass_obj
def shell(obj: Ctx) -> None:
    """Interactive SQL shell: multi-line input ending with ';', history, completion, highlighting."""
    from tasksql.shell import run_shell

    try:
        run_shell(obj.settings(), obj.fmt)
    except TasksqlError as err:
        _fail(err)


@main.command(context_settings=CONTEXT)
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option(
    "--port", type=int, default=None, help="Port of the HTTP API and web UI (default 8765; 0 = any)."
)
@click.option("--node-id", default=None, help="This node's id (default: host-pid).")
@click.option("--demo", is_flag=True, help="Create a small demo task (if missing) so something visibly runs.")
@click.pass_obj
def serve(obj: Ctx, host: str | None, port: int | None, node_id: str | None, demo: bool) -> None:
    """Run the scheduler and the HTTP API / web UI until Ctrl-C or SIGTERM.

    In-flight runs get the grace period to finish at shutdown; the rest are cancelled and recorded as
    CANCELLED. While the server runs, `tasksql sql` and `tasksql shell` on the same data directory
    send their statements to it.
    """
    from tasksql.server.main import serve_forever

    try:
        code = serve_forever(obj.settings(host=host, port=port, node_id=node_id), demo=demo)
    except TasksqlError as err:
        _fail(err)
        return
    sys.exit(code)


@main.command(context_settings=CONTEXT)
@click.pass_obj
def settings(obj: Ctx) -> None:
    """Print every setting with its value and where it comes from."""
    s = obj.settings()
    from tasksql.engine.results import Result

    write_results([Result.table(("setting", "value", "help"), s.as_rows())], obj.fmt, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    main()
