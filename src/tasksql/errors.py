"""The one exception hierarchy of tasksql.

Every exception that leaves a tasksql module derives from :class:`TasksqlError`. Driver exceptions
(duckdb, sqlite3, psycopg, aiohttp, ...) are translated at the boundary of the module that uses the
driver and never cross it.

An error carries data, not only text: a stable ``code`` (for tests, the HTTP API and scripts), a
human ``message``, and for errors in SQL text the :class:`Span` of the offending source and the
tokens that were ``expected`` there. :meth:`TasksqlError.render` prints the message with the
offending line and a caret under the span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tasksql.logs import escape_controls, escape_keeping_lines


@dataclass(frozen=True, slots=True)
class Span:
    """A region of source text.

    ``line`` and ``column`` are 1-based and locate ``start``; ``start`` and ``end`` are 0-based
    character offsets into the whole source text, ``end`` exclusive.
    """

    line: int
    column: int
    start: int
    end: int

    @staticmethod
    def at(text: str, start: int, end: int | None = None) -> Span:
        """The span of ``text[start:end]`` with its line and column computed from ``text``."""
        start = max(0, min(start, len(text)))
        stop = start if end is None else max(start, min(end, len(text)))
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        return Span(line, column, start, stop)

    def shifted(self, text: str, offset: int) -> Span:
        """This span, taken relative to a piece of ``text`` that starts at ``offset``, made absolute."""
        return Span.at(text, self.start + offset, self.end + offset)


class TasksqlError(Exception):
    """Root of every tasksql exception.

    :param message: what went wrong, as one sentence a user can act on.
    :param code: a stable identifier (UPPER_SNAKE); defaults to the class's ``default_code``.
    :param span: where in the SQL text the problem is, if it comes from SQL text.
    :param expected: for syntax errors, what would have been accepted at ``span``.
    :param source: the SQL text ``span`` refers to, kept so the error can render itself.
    """

    default_code: ClassVar[str] = "ERROR"
    http_status: ClassVar[int] = 400
    #: Whether the message's line breaks are its own layout (a warehouse's message, with its
    #: ``LINE 1:`` excerpt), kept by :meth:`render`; tasksql's own messages are one line.
    keeps_lines: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        span: Span | None = None,
        expected: Sequence[str] = (),
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.span = span
        self.expected = tuple(expected)
        self.source = source
        #: For an error raised while a script ran: the failing statement's number (1-based) and the
        #: line it starts on, the results of the statements before it (objects of
        #: ``tasksql.engine.Result``), and whether the script's work was rolled back (single
        #: transaction). Set by the engine; None / empty for errors outside a script.
        self.statement_number: int | None = None
        self.statement_line: int | None = None
        self.partial_results: list[Any] = []
        self.rolled_back = False
        #: What the failure undid besides (a transaction the script had begun and left open), or "".
        self.undone = ""

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def with_source(self, source: str, offset: int = 0) -> TasksqlError:
        """Attach the source text; ``offset`` moves a span taken relative to a slice of it."""
        if self.span is not None and offset:
            self.span = self.span.shifted(source, offset)
        self.source = source
        return self

    def in_statement(self, number: int, line: int, partial_results: Sequence[Any]) -> TasksqlError:
        """Record that statement ``number`` (starting on ``line``) of a script failed with this error,
        after ``partial_results`` were produced by the statements before it."""
        self.statement_number = number
        self.statement_line = line
        self.partial_results = list(partial_results)
        return self

    @property
    def context(self) -> str | None:
        """``statement 3 (line 1) failed`` (and what was undone) for an error of a script, else None."""
        if self.statement_number is None:
            return f"({self.undone})" if self.undone else None
        text = f"statement {self.statement_number} (line {self.statement_line}) failed"
        if self.rolled_back:
            text += " (the script was rolled back: none of it remains)"
        if self.undone:
            text += f" ({self.undone})"
        return text

    def __str__(self) -> str:
        if self.span is not None:
            return f"{self.message} (line {self.span.line}, column {self.span.column})"
        return self.message

    def render(self, source: str | None = None) -> str:
        """The message followed, when the span and source are known, by the line and a caret: the
        text a terminal shows. Control characters (from names, strings and statements the user
        wrote: a line break, an ANSI escape) are written as escapes (``\\n``, ``\\x1b``), so
        nothing quoted can start a line of its own or drive the terminal; the line breaks of a
        warehouse's message (:attr:`keeps_lines`) stay, its following lines indented. The error's
        own fields (``message``, :meth:`to_dict`) keep the exact text.
        """
        text = source if source is not None else self.source
        context = self.context
        head = f"error [{self.code}]: {context + ': ' if context else ''}{self}"
        head = escape_keeping_lines(head, "  ") if self.keeps_lines else escape_controls(head)
        if self.expected:
            head += "\n  expected: " + escape_controls(", ".join(self.expected))
        if self.span is None or text is None:
            return head
        lines = text.split("\n")
        if not 1 <= self.span.line <= len(lines):
            return head
        row = lines[self.span.line - 1].removesuffix("\r")  # a CRLF line ends with its CR
        first = self.span.column - 1
        width = max(1, min(self.span.end - self.span.start, len(row) - first))
        before, marked = _shown(row[:first]), _shown(row[first : first + width])
        gutter = f"{self.span.line:>4} | "
        caret = " " * (len(gutter) + len(before)) + "^" * max(1, len(marked))
        return f"{head}\n{gutter}{before}{marked}{_shown(row[first + width :])}\n{caret}"

    def to_dict(self) -> dict[str, Any]:
        """The structured form used by the HTTP API and ``--format json``."""
        out: dict[str, Any] = {"code": self.code, "message": self.message, "type": type(self).__name__}
        if self.span is not None:
            out.update(line=self.span.line, column=self.span.column, start=self.span.start, end=self.span.end)
        if self.expected:
            out["expected"] = list(self.expected)
        if self.statement_number is not None:
            out.update(statement=self.statement_number, statement_line=self.statement_line)
            out["rolled_back"] = self.rolled_back
        if self.undone:
            out["undone"] = self.undone
        return out


def _shown(text: str) -> str:
    """A piece of a source line as :meth:`TasksqlError.render` shows it: a tab as one space (the
    caret stays under its column), any other control character as an escape."""
    return escape_controls(text.replace("\t", " "))


# --- SQL front end -------------------------------------------------------------------------------


class SqlError(TasksqlError):
    """Something is wrong with the SQL text itself."""

    default_code = "SQL_ERROR"


class TasksqlSyntaxError(SqlError):
    """The text does not follow the grammar: ``span`` and ``expected`` say where and what."""

    default_code = "SYNTAX_ERROR"


class ValidationError(SqlError):
    """The text parses but asks for something invalid (a bad cron field, conflicting options, ...)."""

    default_code = "INVALID"


class ScheduleError(ValidationError):
    """A schedule (interval, cron expression, time zone, custom class) is invalid."""

    default_code = "INVALID_SCHEDULE"


class NotSupportedError(TasksqlError):
    """Valid in one of the seed systems, but not supported (yet) by tasksql."""

    default_code = "NOT_SUPPORTED"


# --- catalog -------------------------------------------------------------------------------------


class CatalogError(TasksqlError):
    """The catalog refused or failed an operation."""

    default_code = "CATALOG_ERROR"
    http_status = 409


class ObjectNotFound(CatalogError):
    """A named object (task, integration, warehouse, run) does not exist."""

    default_code = "NOT_FOUND"
    http_status = 404


class TaskNotFound(ObjectNotFound):
    default_code = "TASK_NOT_FOUND"


class IntegrationNotFound(ObjectNotFound):
    default_code = "INTEGRATION_NOT_FOUND"


class WarehouseNotFound(ObjectNotFound):
    default_code = "WAREHOUSE_NOT_FOUND"


class ObjectExists(CatalogError):
    """A CREATE names an object that exists, without OR REPLACE or IF NOT EXISTS."""

    default_code = "ALREADY_EXISTS"


class GraphError(CatalogError):
    """A change would break a task graph rule (cycle, too many tasks, predecessors, children)."""

    default_code = "GRAPH_ERROR"
    http_status = 400


class ConcurrentModification(CatalogError):
    """Another writer changed the object between read and write; the operation can be retried."""

    default_code = "CONCURRENT_MODIFICATION"


class SchemaVersionError(CatalogError):
    """The catalog was written by a newer tasksql; upgrade tasksql to open it."""

    default_code = "SCHEMA_VERSION"
    http_status = 500


# --- running -------------------------------------------------------------------------------------


class WarehouseError(TasksqlError):
    """A warehouse could not run a statement."""

    default_code = "WAREHOUSE_ERROR"
    http_status = 400
    keeps_lines = True


class QueryFailed(WarehouseError):
    """The warehouse rejected or failed the statement; ``sqlstate`` is set when the driver gives one."""

    default_code = "QUERY_FAILED"

    def __init__(self, message: str, *, sqlstate: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.sqlstate = sqlstate

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.sqlstate:
            out["sqlstate"] = self.sqlstate
        return out


class QueryTimeout(WarehouseError):
    """The statement ran past its deadline and was cancelled in the warehouse."""

    default_code = "TIMEOUT_EXCEEDED"


class QueryCancelled(WarehouseError):
    """The statement was cancelled on request (CANCEL TASK, shutdown)."""

    default_code = "CANCELLED"


class RunFailed(TasksqlError):
    """A run that the statement waited for (embedded EXECUTE TASK) ended FAILED or CANCELLED."""

    default_code = "RUN_FAILED"
    keeps_lines = True  # it quotes the warehouse's error


class NotificationError(TasksqlError):
    """A notification could not be delivered; ``retryable`` says whether trying again may help."""

    default_code = "NOTIFICATION_FAILED"

    def __init__(self, message: str, *, retryable: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retryable = retryable


class PermissionDenied(TasksqlError):
    """The acting user lacks a privilege the operation needs."""

    default_code = "PERMISSION_DENIED"
    http_status = 403


class ConfigError(TasksqlError):
    """A setting, data directory or command-line option is invalid."""

    default_code = "CONFIG_ERROR"


class ServerError(TasksqlError):
    """The tasksql server could not be reached, or answered with an unexpected response."""

    default_code = "SERVER_ERROR"
    http_status = 502


def error_from_dict(data: dict[str, Any], source: str | None = None) -> TasksqlError:
    """Rebuild an error sent over the API (see :meth:`TasksqlError.to_dict`) as the same class."""
    classes: dict[str, type[TasksqlError]] = {}
    stack: list[type[TasksqlError]] = [TasksqlError]
    while stack:
        cls = stack.pop()
        classes[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    cls = classes.get(str(data.get("type")), TasksqlError)
    span = None
    if data.get("line") is not None:
        span = Span(
            int(data["line"]), int(data["column"]), int(data.get("start", 0)), int(data.get("end", 0))
        )
    err = cls.__new__(cls)
    TasksqlError.__init__(
        err,
        str(data.get("message", "")),
        code=data.get("code"),
        span=span,
        expected=data.get("expected", ()),
        source=source,
    )
    if data.get("statement") is not None:
        err.statement_number = int(data["statement"])
        err.statement_line = int(data.get("statement_line") or 0)
        err.rolled_back = bool(data.get("rolled_back"))
    err.undone = str(data.get("undone") or "")
    if isinstance(err, QueryFailed):
        err.sqlstate = data.get("sqlstate")
    if isinstance(err, NotificationError):
        err.retryable = True
    return err
