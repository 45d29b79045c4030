"""The ``tasksql`` command line.

``tasksql sql`` and ``tasksql shell`` run statements against a data directory: through the running
server when ``tasksql serve`` owns it, embedded otherwise. ``tasksql serve`` runs the scheduler and
the HTTP API in one process.

The global options ``--data``, ``--catalog`` and ``--format`` may also follow the command
(``tasksql sql --data d "..."``); given in both places, the command's value wins. A failure the
user can fix (a bad path, a busy directory, a port in use, an unreadable file) is printed as one
line naming the cause and the fix, with exit status 1, never as a traceback; click's own usage
errors exit with 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tasksql import __version__, datadir, logs
from tasksql.errors import ConfigError, TasksqlError
from tasksql.output import FORMATS, ResultWriter, write_results
from tasksql.settings import Settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])

DATA_HELP = "Data directory (catalog, embedded DuckDB). Default: $TASKSQL_DATA or ./tasksql-data."
CATALOG_HELP = (
    "Catalog: a SQLite file or postgresql://user@host/db. Default: $TASKSQL_CATALOG or catalog.db in the"
    " data directory."
)
FORMAT_HELP = "Output format: aligned tables, CSV, or one JSON array of row objects per result set per line."


class Ctx:
    """The global options, as given before the command and possibly replaced after it."""

    def __init__(
        self, data: str | None, fmt: str, catalog: str | None = None, user: str | None = None
    ) -> None:
        self.data = data
        self.fmt = fmt
        self.catalog = catalog
        self.user = user

    def settings(self, **overrides: Any) -> Settings:
        if self.user is not None:  # --user: who an embedded CLI or shell acts as (docs/security.md)
            overrides.setdefault("owner", self.user)
        return Settings.load(data_dir=self.data, catalog_url=self.catalog, **overrides)


def _fail(err: TasksqlError, source: str | None = None) -> None:
    """Print ``err`` as one error (with ``source``'s line and a caret) and exit with status 1.
    The line shown has the literal SECRET_STRING values of secret statements masked."""
    if source is not None:
        from tasksql.sql.parser import masked_secrets

        source = masked_secrets(source)
    click.echo(err.render(source), err=True)
    sys.exit(1)


def read_script(path: str) -> str:
    """The text of the SQL file ``path`` (``-f``).

    :raises ConfigError: one line naming the cause and the fix (missing, a directory, no read
        permission, not UTF-8).
    """
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise ConfigError(f"cannot read {path}: no such file; check the path given to -f") from None
    except IsADirectoryError:
        raise ConfigError(
            f"cannot read {path}: it is a directory; -f takes a file of SQL statements"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"cannot read {path}: permission denied; give this user read permission on it (chmod)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read {path}: not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; check the path given to -f") from None


class _Main(click.Group):
    """The ``tasksql`` group: a user-caused failure anywhere is one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TasksqlError as err:
            _fail(err)
        except BrokenPipeError:
            # the reader went away (``tasksql sql ... | head``): nothing more to say, to anyone
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except UnicodeDecodeError as exc:
            _fail(
                ConfigError(
                    f"the input is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8"
                )
            )
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(ConfigError(f"{exc.strerror or exc}{where}", code="OS_ERROR"))
        return None


def global_options(*, fmt: bool = True) -> Callable[[F], F]:
    """Accept ``--data``, ``--catalog`` (and ``--format``) after the command too; given there, they win."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            obj = click.get_current_context().find_object(Ctx)
            assert obj is not None
            data, form = kwargs.pop("late_data", None), kwargs.pop("late_fmt", None)
            if data is not None:
                obj.data = data
            if form is not None:
                obj.fmt = form
            catalog = kwargs.pop("late_catalog", None)
            if catalog is not None:
                obj.catalog = catalog
            return command(*args, **kwargs)

        decorated: Callable[..., Any] = click.option(
            "--data", "late_data", metavar="DIR", default=None, help=DATA_HELP
        )(run)
        decorated = click.option("--catalog", "late_catalog", metavar="URL", default=None, help=CATALOG_HELP)(
            decorated
        )
        if fmt:
            decorated = click.option(
                "--format", "late_fmt", type=click.Choice(FORMATS), default=None, help=FORMAT_HELP
            )(decorated)
        return decorated  # type: ignore[return-value]

    return decorate


@click.group(cls=_Main, context_settings=CONTEXT)
@click.option("--data", "data", metavar="DIR", default=None, help=DATA_HELP)
@click.option("--catalog", "catalog", metavar="URL", default=None, help=CATALOG_HELP)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help=FORMAT_HELP
)
@click.option(
    "--user",
    "user",
    metavar="NAME",
    default=None,
    help="The tasksql user an embedded CLI or shell acts as (default: $TASKSQL_USER; with security on,"
    " else the OS user).",
)
@click.version_option(__version__, prog_name="tasksql")
@click.pass_context
def main(ctx: click.Context, data: str | None, catalog: str | None, fmt: str, user: str | None) -> None:
    """tasksql: CREATE TASK for ordinary databases.

    Write tasks in the SQL of Snowflake, Databend, Timeplus, VoltDB or Ocient; tasksql runs them on
    an embedded DuckDB (or PostgreSQL, SQLite, ...) and records every run.
    """
    ctx.obj = Ctx(data, fmt, catalog, user)
    if ctx.invoked_subcommand != "serve":  # serve logs with times, at its log_level setting
        logs.configure("WARNING", terminal=True)  # one line per record, control characters escaped
    # the data directory's lock file names its owner: say what this process is
    if ctx.invoked_subcommand == "shell" and sys.stdin.isatty():
        datadir.set_embedded_kind("shell", on_wait=_waiting)
    elif ctx.invoked_subcommand in ("sql", "shell"):
        datadir.set_embedded_kind("sql", on_wait=_waiting)


def _waiting(message: str) -> None:
    click.echo(f"{message} (Ctrl-C gives up)", err=True)


@main.command(context_settings=CONTEXT)
@click.argument("text", required=False)
@click.option("-f", "--file", "file", metavar="FILE", help="Run the statements in FILE.")
@click.option(
    "-1",
    "--single-transaction",
    "single",
    is_flag=True,
    help="All or nothing: the warehouse statements run in one transaction, rolled back if any fails.",
)
@global_options()
@click.pass_obj
def sql(obj: Ctx, text: str | None, file: str | None, single: bool) -> None:
    """Run SQL statements (TEXT, or -f FILE, or standard input) and print their results.

    Each statement's result is printed as soon as it completes. When a statement fails, the
    error names it (statement number and line) and the rest do not run; what the statements
    before it did stays done, unless --single-transaction (-1) was given. EXECUTE TASK waits
    for its run and fails when the run fails. Ctrl-C cancels the statement that runs.

    \b
    Examples:
      tasksql sql "SHOW TASKS"
      tasksql sql -1 -f setup.sql
      tasksql --format json sql "SELECT * FROM task_history()"
    """
    if text is not None and file is not None:
        raise click.UsageError("give either TEXT or --file, not both")
    if file is not None:
        source = read_script(file)
    elif text is not None:
        source = text
    elif not sys.stdin.isatty():
        source = sys.stdin.read()
    else:
        raise click.UsageError("no SQL given: pass TEXT, --file FILE, or pipe statements on standard input")
    from tasksql.connection import Connection

    writer = ResultWriter(obj.fmt, sys.stdout, notices=sys.stderr)  # notices: never mixed into CSV/JSON
    try:
        with Connection(obj.settings()) as conn:
            # results are printed as they come; a failure prints its error after those before it
            conn.sql_all(
                source,
                single_transaction=single,
                on_result=writer.write,
                wait_for_runs=True,
                in_session=False,
            )
    except TasksqlError as err:
        _fail(err, source)
    except KeyboardInterrupt:
        click.echo("error [CANCELLED]: cancelled (Ctrl-C): the running statement was stopped", err=True)
        sys.exit(130)


@main.command(context_settings=CONTEXT)
@global_options()
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
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the HTTP API (default 8765; 0 = any free port).",
)
@click.option("--node-id", default=None, help="This node's id (default: host-pid).")
@click.option(
    "--warehouses",
    default=None,
    metavar="NAMES",
    help="Cluster node: the warehouses it runs tasks of, comma-separated (default: every warehouse).",
)
@click.option("--demo", is_flag=True, help="Create a small demo task (if missing) so something visibly runs.")
@global_options(fmt=False)
@click.pass_obj
def serve(
    obj: Ctx, host: str | None, port: int | None, node_id: str | None, warehouses: str | None, demo: bool
) -> None:
    """Run the scheduler and the HTTP API until Ctrl-C or SIGTERM.

    The server owns the data directory while it runs: it refuses to start when another process
    uses the directory (naming it), and `tasksql sql`, `tasksql shell` and `tasksql.connect()` on the
    same directory send their statements to it. In-flight runs get the grace period to finish at
    shutdown; the rest are cancelled and recorded as CANCELLED.
    """
    from tasksql.server.main import serve_forever
    from tasksql.settings import parse_names

    served = None if warehouses is None else parse_names(warehouses)
    try:
        settings = obj.settings(host=host, port=port, node_id=node_id, node_warehouses=served)
        code = serve_forever(settings, demo=demo)
    except TasksqlError as err:
        _fail(err)
        return
    sys.exit(code)


@main.command(context_settings=CONTEXT)
@global_options()
@click.pass_obj
def settings(obj: Ctx) -> None:
    """Print every setting with its value and where it comes from.

    The source is `default`, the environment variable that set it (`TASKSQL_...`), or the
    command-line option (`--data`, `--catalog`). A password in the catalog URL shows as ***.
    """
    from tasksql.engine.results import Result

    values, sources = Settings.load_with_sources(data_dir=obj.data, catalog_url=obj.catalog)
    options = {"data_dir": "--data", "catalog_url": "--catalog"}
    shown = {name: options[name] if origin == "override" else origin for name, origin in sources.items()}
    rows = [(name, value, shown[name], what) for name, value, what in values.as_rows()]
    write_results([Result.table(("setting", "value", "source", "help"), rows)], obj.fmt, sys.stdout)


@main.group(context_settings=CONTEXT)
def catalog() -> None:
    """The catalog as a whole: where tasksql keeps tasks, their versions, run history and settings."""


@catalog.command("copy", context_settings=CONTEXT)
@click.option(
    "--to",
    "to",
    metavar="URL",
    required=True,
    help="Catalog to copy into: postgresql://..., a SQLite file (or sqlite:///path), or a data directory.",
)
@click.option(
    "--from",
    "from_",
    metavar="URL",
    default=None,
    help="Catalog to copy from. Default: the current one (--catalog, or catalog.db in the data directory).",
)
@click.option(
    "--to-schema",
    metavar="NAME",
    default=None,
    help="PostgreSQL schema of the target. Default: the setting catalog_schema.",
)
@click.option("--force", is_flag=True, help="Replace everything a target that is not empty holds.")
@global_options()
@click.pass_obj
def catalog_copy(obj: Ctx, to: str, from_: str | None, to_schema: str | None, force: bool) -> None:
    """Copy a whole catalog into another: tasks with every version, graph versions, run and graph
    run history, integrations, warehouses, settings and notifications, ids kept.

    Every server using either catalog must be stopped. The target is written in one transaction:
    all or nothing. A target that holds anything is refused unless --force, which replaces its
    content (never merges). Prints the rows copied per kind.

    \b
    Examples:
      tasksql catalog copy --to postgresql://tasks@db.internal:5432/ops
      tasksql --catalog postgresql://tasks@db.internal/ops catalog copy --to ./tasksql-data/catalog.db
    """
    from tasksql.catalog.copy_run import run_copy
    from tasksql.engine.results import Result

    settings = obj.settings()
    report, summary = run_copy(settings, source=from_, target=to, target_schema=to_schema, force=force)
    click.echo(summary, err=True)
    write_results([Result.table(("copied", "rows"), report.rows())], obj.fmt, sys.stdout)


@main.group(context_settings=CONTEXT)
def token() -> None:
    """The API token a server needs when it listens beyond loopback (docs/api.md, Tokens)."""


@token.command("new", context_settings=CONTEXT)
@global_options()
@click.pass_obj
def token_new(obj: Ctx) -> None:
    """Make a new API token for the data directory's server and print it, once.

    The directory keeps only its SHA-256, so the token cannot be shown again: this replaces it. A
    running server takes the new token at once and refuses the old one.
    """
    from tasksql.server.auth import new_token

    data_dir = Path(obj.settings().data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        made = new_token(data_dir)
    except OSError as exc:
        raise ConfigError(f"cannot write the token into {data_dir}: {exc.strerror or exc}") from None
    click.echo(made)
    click.echo("the old token no longer works; this one is not shown again", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
