"""Talking to a running ``tasksql serve``: finding it, and sending SQL over the HTTP API.

A server records where it listens in ``<data dir>/server.json`` while it runs. :func:`find_server`
reads that file and returns a client only when the recorded process is alive and the server at the
recorded URL answers as the recorded node, so a stale file left by a crash is ignored. Whether a
server owns the directory at all is decided by the directory's lock (:mod:`tasksql.datadir`), not
by this file: see :class:`tasksql.connection.Connection`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from tasksql.display import mask_url
from tasksql.engine.results import Result
from tasksql.errors import NotSupportedError, ServerError, TasksqlError, error_from_dict
from tasksql.procs import pid_alive
from tasksql.sql.parser import masked_secrets

SERVER_FILE = "server.json"
API_PREFIX = "/api/v1"
#: The environment variable holding the API token that tasksql's client sends (Authorization: Bearer).
TOKEN_ENV = "TASKSQL_TOKEN"


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NON_FINITE_TEXT = frozenset(_NON_FINITE.values())


#: The deepest nesting of arrays, structs and maps a result value may have to be sent or printed:
#: Python's JSON encoder and decoder (and ``repr``) recurse once per level, and a warehouse can
#: return values nested close to a thousand levels deep (DuckDB: ``SELECT [[[...]]]``).
MAX_VALUE_DEPTH = 256


def check_value_depth(value: Any) -> None:
    """Refuse a result value that nests lists, tuples and dicts deeper than :data:`MAX_VALUE_DEPTH`.
    Linear and without recursion.

    :raises NotSupportedError: VALUE_TOO_DEEP, naming the bound and the way around it.
    """
    if not isinstance(value, list | tuple | dict):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, list | tuple | dict):
                if depth >= MAX_VALUE_DEPTH:
                    raise NotSupportedError(
                        f"a result value nests arrays, structs or maps deeper than {MAX_VALUE_DEPTH}"
                        " levels, more than can be shown; select it as text instead"
                        " (CAST(value AS VARCHAR)) or select its parts",
                        code="VALUE_TOO_DEEP",
                    )
                stack.append((child, depth + 1))


def encode_value(value: Any) -> Any:
    """A JSON-safe form of a result value (timestamps as ISO-8601 text).

    :raises NotSupportedError: VALUE_TOO_DEEP for a value nested deeper than
        :data:`MAX_VALUE_DEPTH` (:func:`check_value_depth`).
    """
    check_value_depth(value)
    return _encode(value)


def _encode(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[str(value)]  # JSON has no NaN or Infinity: text, restored by decode_result
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]  # bounded recursion: the depth was checked
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return str(value)


def _type_of(values: list[Any]) -> str:
    for v in values:
        if v is None:
            continue
        if isinstance(v, datetime):
            return "timestamp"
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "double"
        return "text"
    return "text"


_DECLARED = {
    **dict.fromkeys(
        ("tinyint", "smallint", "integer", "bigint", "hugeint", "int", "int2", "int4", "int8"), "integer"
    ),
    **dict.fromkeys(("utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"), "integer"),
    **dict.fromkeys(("double", "float", "real", "double precision", "float4", "float8"), "double"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
}


def api_type(declared: str) -> str | None:
    """The API type of a column the warehouse declares as ``declared``; None when its values decide
    (text, decimals, dates, nested types: their values are sent as text or JSON)."""
    name = declared.strip().lower()
    if name.startswith("timestamp"):  # TIMESTAMP, TIMESTAMP WITH TIME ZONE, TIMESTAMP_NS, timestamptz
        return "timestamp"
    return _DECLARED.get(name)


def _column_type(result: Result, i: int) -> str:
    declared = api_type(result.types[i]) if i < len(result.types) else None
    return declared or _type_of([row[i] for row in result.rows])


def encode_result(result: Result) -> dict[str, Any]:
    """The JSON form of a Result used by the HTTP API (``types`` lets clients restore timestamps;
    ``notices`` are the statement's notices, one string each).

    A column's type is the warehouse's declared type when it maps to one of the API's types (so a
    result without rows is typed too), else it is read from the values (``text`` when all are NULL).
    """
    columns = list(result.columns)
    types = [_column_type(result, i) for i in range(len(columns))]
    return {
        "statement": result.statement,
        "columns": columns,
        "types": types,
        "rows": [[encode_value(v) for v in row] for row in result.rows],
        "rowcount": result.rowcount,
        "table_columns": list(result.table_columns),
        "notices": list(result.notices),
    }


def decode_result(data: dict[str, Any]) -> Result:
    types = data.get("types") or []
    rows: list[tuple[Any, ...]] = []
    for raw in data.get("rows", []):
        row = list(raw)
        for i, t in enumerate(types):
            if t == "timestamp" and isinstance(row[i], str):
                row[i] = datetime.fromisoformat(row[i])
            elif t == "double" and row[i] in _NON_FINITE_TEXT:
                row[i] = float(row[i])
        rows.append(tuple(row))
    return Result(
        tuple(data.get("columns", [])),
        rows,
        data.get("statement", ""),
        data.get("rowcount"),
        tuple(data.get("table_columns") or ()),
        tuple(str(n) for n in data.get("notices") or ()),
    )


def _loads_answer(body: bytes) -> Any:
    """A server's JSON answer; an answer nested too deeply for Python's decoder is a ServerError
    (the server bounds result values at :data:`MAX_VALUE_DEPTH`, well within it)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ServerError("the server's answer nests too deeply to be decoded") from None


@dataclass(slots=True)
class SessionState:
    """A client's session in a server (:mod:`tasksql.engine.sessions`): the id it sends with its
    statements, and whether the server's last answer said a transaction (BEGIN) is open in it."""

    session_id: str
    in_transaction: bool = False


@dataclass(frozen=True, slots=True)
class RemoteServer:
    """A client of one running server."""

    url: str
    pid: int
    node_id: str
    #: The server's catalog as :func:`catalog_identity` names it ("" when it uses its data
    #: directory's own catalog file).
    catalog: str = ""

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        timeout: float | None = 600,
        session: SessionState | None = None,
    ) -> Any:
        """Send one request; the JSON answer. ``timeout`` None waits as long as the server works.
        ``session``: updated from the answer's ``in_transaction`` (an error's too).

        :raises TasksqlError: the error the server answered with (same class and code), carrying
            the results that an answer with ``results`` held (a script that failed half-way).
        :raises ServerError: the server cannot be reached or answered something else than JSON.
        """
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        token = os.environ.get(TOKEN_ENV, "").strip()
        if token:  # a server bound beyond loopback needs its API token (docs/api.md, Tokens)
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer = _loads_answer(resp.read() or b"null")
                if session is not None and isinstance(answer, dict):
                    session.in_transaction = bool(answer.get("in_transaction"))
                return answer
        except urllib.error.HTTPError as exc:
            try:
                payload = _loads_answer(exc.read())
            except ValueError:
                raise ServerError(f"server answered {exc.code} {exc.reason}") from None
            if session is not None and isinstance(payload, dict):
                session.in_transaction = bool(payload.get("in_transaction"))
            err = error_from_dict(payload.get("error", {}))
            if isinstance(payload.get("results"), list):
                err.partial_results = [decode_result(r) for r in payload["results"]]
            raise err from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"cannot reach the tasksql server at {self.url}: {exc}") from None

    def sql(
        self,
        text: str,
        *,
        query_id: str | None = None,
        single_transaction: bool = False,
        wait_for_runs: bool = False,
        session: SessionState | None = None,
    ) -> list[Result]:
        """``POST /api/v1/sql``: run ``text`` in the server; one Result per statement.

        ``query_id`` names the query in the server (for :meth:`cancel_query`). ``session``: the
        statements belong to that session (a transaction begun with BEGIN stays open for its next
        call); its ``in_transaction`` is updated from the answer. No client-side timeout: a long
        statement is stopped by cancelling it, not by giving up on the answer.
        """
        body: dict[str, Any] = {"sql": text}
        if query_id is not None:
            body["query_id"] = query_id
        if session is not None:
            body["session"] = session.session_id
        if single_transaction:
            body["single_transaction"] = True
        if wait_for_runs:
            body["wait_for_runs"] = True
        try:
            payload = self.request("POST", f"{API_PREFIX}/sql", body, timeout=None, session=session)
        except TasksqlError as err:
            err.source = masked_secrets(text)  # as the engine's errors: no literal SECRET_STRING
            raise
        return [decode_result(r) for r in payload["results"]]

    def cancel_query(self, query_id: str) -> None:
        """``POST /api/v1/queries/{id}/cancel``. :raises QueryNotFound: no such query runs there."""
        self.request(
            "POST", f"{API_PREFIX}/queries/{urllib.parse.quote(query_id, safe='')}/cancel", {}, timeout=10
        )

    def queries(self) -> list[dict[str, Any]]:
        """``GET /api/v1/queries``: the queries running in the server."""
        payload = self.request("GET", f"{API_PREFIX}/queries", timeout=10)
        return list(payload["queries"])

    def answers_as(self, node_id: str) -> bool:
        """Whether the server at :attr:`url` is healthy and is the node ``node_id`` (when not empty)."""
        try:
            health = self.request("GET", f"{API_PREFIX}/health", timeout=2)
        except TasksqlError:
            return False
        if not isinstance(health, dict) or not health.get("ok"):
            return False
        return not node_id or health.get("node_id") == node_id


def find_server(data_dir: str | Path, *, pid: int | None = None) -> RemoteServer | None:
    """The server running on ``data_dir``, or None when there is none (or only a stale file).

    ``server.json`` counts only when it names this directory, its process is alive (and is ``pid``
    when given: the holder of the directory's lock), and the server at its URL answers with the
    node id the file records; so a file left by a crash, or copied with the directory, is ignored.
    """
    path = Path(data_dir) / SERVER_FILE
    try:
        info = json.loads(path.read_text())
        server = RemoteServer(
            str(info["url"]).rstrip("/"),
            int(info["pid"]),
            str(info.get("node_id", "")),
            str(info.get("catalog", "")),
        )
        recorded_dir = info.get("data_dir")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid is not None and server.pid != pid:
        return None
    if recorded_dir is not None and not _same_dir(str(recorded_dir), Path(data_dir)):
        return None
    if server.pid != os.getpid() and not pid_alive(server.pid):
        return None
    return server if server.answers_as(server.node_id) else None


def catalog_identity(catalog_url: str | None, schema: str) -> str:
    """How ``server.json`` names a server's catalog, so that a client can tell it is the one it
    was asked for: the URL without its password (and option values), plus the schema; "" for the
    data directory's own catalog file."""
    if not catalog_url:
        return ""
    if "://" not in catalog_url:
        return catalog_url
    return f"{mask_url(catalog_url, path_tokens=False)} schema={schema}"


def _same_dir(recorded: str, data_dir: Path) -> bool:
    try:
        return Path(recorded).samefile(data_dir)
    except OSError:
        return False


def remove_stale_server_file(data_dir: Path) -> None:
    """Delete ``server.json``. Only for the holder of the directory's lock: no server can be running."""
    with contextlib.suppress(OSError):
        (data_dir / SERVER_FILE).unlink()
