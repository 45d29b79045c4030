"""ClickHouse's HTTP interface, as the transport of ``http://`` and ``https://`` ClickHouse URLs.

:class:`HttpClient` offers the part of clickhouse-driver's ``Client`` that :mod:`.clickhouse` uses
(``execute``, ``execute_iter``, ``disconnect``, ``connection.ping`` ...), so that one warehouse
class serves both transports. It speaks plain HTTP/1.1 (the standard library's ``http.client``, one
keep-alive connection per client), which every ClickHouse server answers, Debian's 18.16 included.

* Every statement is one ``POST`` whose body is the SQL; the login travels in the
  ``X-ClickHouse-User`` / ``X-ClickHouse-Key`` headers (never in the URL), the database, the query
  id and per-query settings (``max_execution_time`` ...) as URL parameters.
* A client has a ``session_id`` of its own, so ``SET`` and TEMPORARY tables last from one statement
  to the next, as on a native connection (the server forgets an idle session after its
  ``default_session_timeout``, 60 s).
* Results are read as ``TabSeparatedWithNamesAndTypes`` and converted by column type (integers,
  floats, decimals, strings, dates, times, UUIDs, NULL; other types stay text). Statements whose
  result is not streamed are sent with ``wait_end_of_query=1``, so that an error after the first
  rows still comes back as an HTTP error (code and message), never as a cut-off result.
* Rows sent with a statement (``INSERT INTO t (cols) VALUES`` and columns) are sent as
  ``FORMAT TabSeparated`` in the request body.

Errors are :class:`HttpError`: ``code`` is the server's error code, and ``server`` says whether the
server answered (the connection stays usable) or the connection failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import http.client
import re
import ssl
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from tasksql.warehouses.clickhouse_sql import ClickHouseTarget

#: Results are read in this format (names, types, then one line per row).
_FORMAT = "TabSeparatedWithNamesAndTypes"
_ERROR = re.compile(r"^Code:\s*(\d+)")


class HttpError(Exception):
    """A statement failed: the server's ``code`` and ``message`` (``server`` True), or the
    connection failed (``server`` False, ``code`` 0 or 210)."""

    def __init__(self, message: str, code: int = 0, *, server: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.server = server


# --- values ------------------------------------------------------------------------------------

_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "\\": "\\", "'": "'", "b": "\b", "f": "\f"}
_ESCAPED = re.compile(r"\\(.)", re.S)


def unescape(field: str) -> str:
    """A TabSeparated field as text (``\\t``, ``\\n``, ``\\\\`` ... read back)."""
    if "\\" not in field:
        return field
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), field)


def escape(text: str) -> str:
    """``text`` as a TabSeparated field."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _inner(ch_type: str) -> tuple[str, bool]:
    if ch_type.startswith("Nullable(") and ch_type.endswith(")"):
        return ch_type[9:-1], True
    if ch_type.startswith("LowCardinality(") and ch_type.endswith(")"):
        return _inner(ch_type[15:-1])
    return ch_type, False


def converter(ch_type: str) -> Callable[[str], Any]:
    """The function that turns a TabSeparated field of a column of ``ch_type`` into its value
    (as clickhouse-driver gives it for the common types; other types as their text)."""
    inner, nullable = _inner(ch_type)
    base: Callable[[str], Any]
    if inner == "Nothing":
        return lambda _f: None
    if re.fullmatch(r"U?Int\d+", inner):
        base = int
    elif inner.startswith("Float"):
        base = float
    elif inner.startswith("Decimal"):
        base = decimal.Decimal
    elif inner == "Date":
        base = dt.date.fromisoformat
    elif inner.startswith("DateTime"):
        base = _datetime
    elif inner == "UUID":
        base = uuid.UUID
    else:
        base = unescape

    if not nullable:
        return base
    return lambda f: None if f == "\\N" else base(f)


def field(value: Any) -> str:
    """A Python value as a TabSeparated field (``\\N`` for None)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return escape("[" + ",".join(_literal(v) for v in value) + "]")
    if isinstance(value, bytes):
        return escape(value.decode("utf-8", "replace"))
    return str(value)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str | dt.date | uuid.UUID):
        text = str(value) if not isinstance(value, dt.datetime) else field(value)
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return field(value)


# --- the client ----------------------------------------------------------------------------------


class _ServerInfo:
    #: The HTTP interface reports no protocol revision: written rows are not counted.
    revision = 0


class HttpClient:
    """One keep-alive HTTP connection and one server session on ``target`` (not thread-safe: one
    statement at a time, as a native connection)."""

    def __init__(
        self,
        target: ClickHouseTarget,
        *,
        connect_timeout: float | None = None,
        send_receive_timeout: float | None = None,
        session: bool = True,
    ) -> None:
        self._target = target
        self._connect_timeout = connect_timeout or target.connect_timeout
        self._io_timeout = send_receive_timeout
        self._session_id = uuid.uuid4().hex if session else None
        self._conn: http.client.HTTPConnection | None = None
        self.connection = self  # clickhouse-driver's ``client.connection`` (ping, server_info)
        self.server_info = _ServerInfo()
        self.last_query = None  # no progress counts over HTTP

    # clickhouse-driver's Connection -----------------------------------------------------------

    def force_connect(self) -> None:
        """Open the HTTP connection (no request)."""
        self._open()

    def ping(self) -> bool:
        """Whether the server answers ``SELECT 1``."""
        try:
            self.execute("SELECT 1")
        except HttpError:
            return False
        return True

    # clickhouse-driver's Client ---------------------------------------------------------------

    def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def execute(
        self,
        sql: str,
        data: Sequence[Any] | None = None,
        *,
        with_column_types: bool = False,
        query_id: str | None = None,
        settings: dict[str, Any] | None = None,
        columnar: bool = False,
    ) -> Any:
        """Run one statement. Without ``data``: its rows (and ``[(name, type), ...]`` with
        ``with_column_types``). With ``data`` (rows, or columns when ``columnar``): ``sql`` is an
        ``INSERT ... VALUES`` whose rows are sent in the body.

        :raises HttpError: the server refused the statement or the connection failed.
        """
        if data is not None:
            sent: Iterator[Any] = zip(*data, strict=True) if columnar else iter(data)
            head = re.sub(r"\s*VALUES\s*$", "", sql, flags=re.I)
            body = "".join("\t".join(field(v) for v in row) + "\n" for row in sent)
            resp = self._request(
                f"{head} FORMAT TabSeparated", body.encode(), query_id, settings, in_url=True
            )
            self._done(resp, _drain(resp))
            return None
        resp = self._request(sql, query_id=query_id, settings={**(settings or {}), "wait_end_of_query": 1})
        complete = False
        try:
            columns, rows_iter = _read(resp)
            rows = list(rows_iter)
            complete = _drain(resp)
        finally:
            self._done(resp, complete)
        return (rows, columns) if with_column_types else rows

    def execute_iter(
        self,
        sql: str,
        *,
        with_column_types: bool = False,
        query_id: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[Any]:
        """The columns (with ``with_column_types``), then the rows one by one as the server sends
        them. :raises HttpError: as :meth:`execute`, also mid-stream."""
        resp = self._request(sql, query_id=query_id, settings=settings)
        complete = False
        try:
            columns, rows = _read(resp)
            if with_column_types:
                yield columns
            yield from rows
            complete = _drain(resp)
        finally:
            self._done(resp, complete)

    def _done(self, resp: http.client.HTTPResponse, complete: bool) -> None:
        """Close ``resp``; a response not read to its end (an error, a consumer that stopped)
        leaves the connection unusable: it is closed too (the next statement connects again)."""
        resp.close()
        if not complete:
            self.disconnect()

    # HTTP ------------------------------------------------------------------------------------

    def _open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            t = self._target
            if t.secure:
                self._conn = http.client.HTTPSConnection(
                    t.host, t.port, timeout=self._connect_timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(t.host, t.port, timeout=self._connect_timeout)
        conn = self._conn
        if conn.sock is None:
            try:
                conn.connect()
            except OSError as exc:
                self.disconnect()
                raise HttpError(
                    f"cannot connect to {self._target.host}:{self._target.port}: {exc}", 210, server=False
                ) from None
            # Reading waits as long as the statement runs (timeouts stop it in the server).
            if conn.sock is not None:
                conn.sock.settimeout(self._io_timeout)
        return conn

    def _request(
        self,
        sql: str,
        body: bytes | None = None,
        query_id: str | None = None,
        settings: dict[str, Any] | None = None,
        *,
        in_url: bool = False,
    ) -> http.client.HTTPResponse:
        t = self._target
        # default_format: the format of results whose statement names none.
        params: dict[str, Any] = {"database": t.database, "default_format": _FORMAT}
        if self._session_id:
            params["session_id"] = self._session_id
        if query_id:
            params["query_id"] = query_id
        params.update(settings or {})
        if in_url:
            params["query"] = sql
        else:
            body = sql.encode()
        headers = {"X-ClickHouse-User": t.user or "default", "X-ClickHouse-Key": t.password or ""}
        path = "/?" + urlencode(params)
        for attempt in (1, 2):
            reused = self._conn is not None and self._conn.sock is not None
            conn = self._open()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.disconnect()
                # The server closes a keep-alive connection left idle past its keep_alive_timeout;
                # the statement then never reached it (no answer at all): send it again, once.
                idle_closed = isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError)
                if attempt == 1 and reused and idle_closed:
                    continue
                why = str(exc) or type(exc).__name__
                raise HttpError(f"connection to {t.host}:{t.port} failed: {why}", 210, server=False) from None
        if resp.status != 200:
            text = resp.read().decode("utf-8", "replace")
            resp.close()
            m = _ERROR.match(text)
            code = int(m.group(1)) if m else 0
            text = re.sub(r",?\s*e\.what\(\) = DB::Exception\s*$", "", text.strip())
            text = re.sub(r"^Code:\s*\d+,\s*e\.displayText\(\) = ", "", text)
            raise HttpError(text or f"HTTP status {resp.status}", code, server=True)
        return resp


def _line(resp: http.client.HTTPResponse) -> bytes:
    try:
        return resp.readline()
    except (OSError, http.client.HTTPException) as exc:
        raise HttpError(
            f"the connection failed mid-result: {exc or type(exc).__name__}", 210, server=False
        ) from None


def _drain(resp: http.client.HTTPResponse) -> bool:
    """Read the rest of ``resp`` (its last chunk), so the connection can carry the next request;
    whether that worked."""
    try:
        resp.read()
    except (OSError, http.client.HTTPException):
        return False
    return True


def _read(resp: http.client.HTTPResponse) -> tuple[list[tuple[str, str]], Iterator[tuple[Any, ...]]]:
    names_line = _line(resp)
    if not names_line:
        return [], iter(())
    names = [unescape(n) for n in names_line.decode().rstrip("\n").split("\t")]
    types = [unescape(n) for n in _line(resp).decode().rstrip("\n").split("\t")]
    columns = list(zip(names, types, strict=True))
    convert = [converter(t) for t in types]
    width = len(names)

    def rows() -> Iterator[tuple[Any, ...]]:
        while line := _line(resp):
            text = line.decode("utf-8", "replace").rstrip("\n")
            fields = text.split("\t")
            if len(fields) != width:
                m = _ERROR.match(text)  # an error after the first rows of a streamed result
                if m:
                    raise HttpError(text, int(m.group(1)), server=False)
                raise HttpError(f"malformed row from the server: {text[:200]!r}", 0, server=False)
            yield tuple(c(f) for c, f in zip(convert, fields, strict=True))

    return columns, rows()
