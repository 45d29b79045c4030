"""The open warehouses of one engine, by name.

:class:`WarehouseRegistry` turns a :class:`~tasksql.model.WarehouseDef` into an open
:class:`~.base.Warehouse`, lazily, and keeps it while the definition stays the same. A changed
definition (ALTER WAREHOUSE) gets a new warehouse at once; the old one is *retired*: it takes no new
calls from the registry, finishes what it runs, then closes. Backends are picked through
:data:`_FACTORIES`, one entry per :class:`~tasksql.model.WarehouseType`; adding a backend means one
module and one entry.

:meth:`WarehouseRegistry.check` refuses, before a definition is stored, what no run could use: a type
without a backend, a missing or malformed URL, a driver that is not installed (with the command that
installs it into the Python tasksql runs in).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

from tasksql.display import mask_url
from tasksql.errors import NotSupportedError, WarehouseError
from tasksql.model import WarehouseDef, WarehouseType
from tasksql.warehouses import credentials, role_mapping
from tasksql.warehouses._files import file_path, url_options
from tasksql.warehouses.base import Warehouse, redact_url
from tasksql.warehouses.duckdb import DUCKDB_FILE, DuckDBDatabase

#: Seconds between two looks at a retired warehouse that still has calls running.
RETIRE_POLL = 0.1
#: What the ``postgres`` extra installs (pyproject.toml): the driver of TYPE = postgres.
POSTGRES_REQUIREMENT = "psycopg[binary,pool]>=3.2"
#: What the ``mysql`` extra installs (pyproject.toml): the driver of TYPE = mysql.
MYSQL_REQUIREMENT = "PyMySQL>=1.1"
#: What the ``clickhouse`` extra installs (pyproject.toml): the driver of TYPE = clickhouse.
CLICKHOUSE_REQUIREMENT = "clickhouse-driver>=0.2.6"
#: What the ``chdb`` extra installs (pyproject.toml): embedded ClickHouse for TYPE = chdb (about
#: 550 MB installed).
CHDB_REQUIREMENT = "chdb>=4.4"


class WarehouseRegistry:
    """Opens, caches and closes the warehouses of the data directory ``data_dir``.

    The default DuckDB database (``data_dir / warehouse.duckdb``) is shared by every DuckDB warehouse
    without a URL (compute pools); relative file URLs are taken from ``data_dir``. ``duckdb_config``
    (DuckDB options) applies to every DuckDB database the registry opens.
    """

    def __init__(self, data_dir: Path, duckdb_config: Mapping[str, str | int] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._duckdb_config = dict(duckdb_config or {})
        self._default_db = DuckDBDatabase(self.data_dir / DUCKDB_FILE, self._duckdb_config)
        self._databases: dict[Path, DuckDBDatabase] = {}
        self._open: dict[str, tuple[WarehouseDef, Warehouse]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._retired: set[Warehouse] = set()
        self._closed = False

    @property
    def duckdb(self) -> DuckDBDatabase:
        """The shared embedded DuckDB database (opened by the first DuckDB warehouse)."""
        return self._default_db

    async def get(self, definition: WarehouseDef) -> Warehouse:
        """The open warehouse for ``definition``: cached by name, re-created when it changed.

        :raises NotSupportedError: the type has no backend, or its driver is missing.
        :raises WarehouseError: the warehouse cannot be opened (bad URL, server unreachable); nothing
            is cached, so the next call tries again.
        """
        if self._closed:
            raise WarehouseError("the warehouses are closed", code="WAREHOUSE_CLOSED")
        found = self._open.get(definition.name)
        if found is not None and found[0] == definition:
            return found[1]
        lock = self._locks.setdefault(definition.name, asyncio.Lock())
        async with lock:
            found = self._open.get(definition.name)
            if found is not None and found[0] == definition:
                return found[1]
            warehouse = self._create(definition)
            await warehouse.open()
            if found is not None:
                self._retire(found[1])
            self._open[definition.name] = (definition, warehouse)
            return warehouse

    def definition(self, name: str) -> WarehouseDef | None:
        """The definition the open warehouse ``name`` was opened with; None when it is not open."""
        found = self._open.get(name)
        return found[0] if found is not None else None

    def check(self, d: WarehouseDef) -> None:
        """Refuse a definition that no run could use; opens nothing and connects to nothing.

        :raises NotSupportedError: the type has no backend yet (code ``NOT_SUPPORTED``), or its
            driver cannot be imported in this Python (code ``DRIVER_MISSING``; the message names
            the command that installs it).
        :raises WarehouseError: the type needs a URL and has none, or the URL is not one the type
            reads (code ``INVALID_URL``).
        :raises NotSupportedError: a ROLE_MAPPING on a type that cannot apply one (code
            ``ROLE_MAPPING_UNSUPPORTED``; :mod:`.role_mapping`).
        """
        if d.type not in _FACTORIES:
            raise _unsupported(d.type)
        role_mapping.check(d)
        if d.type in (WarehouseType.DUCKDB, WarehouseType.SQLITE):
            _no_reference(d)
        if d.type is WarehouseType.DUCKDB and d.url is not None:
            url_options(d.url, {})
            file_path(d.url, "duckdb", self.data_dir)
        elif d.type is WarehouseType.SQLITE:
            from tasksql.warehouses.sqlite import SQLITE_URL_OPTIONS

            if not d.url:
                raise _needs_url(d, "sqlite:///path/file.db")
            url_options(d.url, SQLITE_URL_OPTIONS)
            file_path(d.url, "sqlite", self.data_dir)
        elif d.type is WarehouseType.POSTGRES:
            if not d.url:
                raise _needs_url(d, "postgresql://user@host/db")
            _postgres_module(d)
            from tasksql.warehouses import postgres_url

            url = _checked_reference(d)
            postgres_url.check_url(url, f"{shown_url(d.url)} (warehouse {d.name})")
        elif d.type is WarehouseType.MYSQL:
            from tasksql.warehouses import mysql_sql

            if not d.url:
                raise _needs_url(d, "mysql://user@host:3306/db")
            mysql_sql.parse_url(_checked_reference(d), f"{shown_url(d.url)} (warehouse {d.name})")
            _mysql_module(d)
        elif d.type is WarehouseType.CLICKHOUSE:
            from tasksql.warehouses import clickhouse_sql

            if not d.url:
                raise _needs_url(d, "clickhouse://user@host:9000/db")
            clickhouse_sql.parse_url(_checked_reference(d), f"{shown_url(d.url)} (warehouse {d.name})")
            _clickhouse_module(d)
        elif d.type is WarehouseType.CHDB:
            _no_reference(d)
            if not d.url:
                raise _needs_url(d, "PATH = 'ch-data', relative to the data directory")
            _chdb_path(reg=self, d=d)
            _chdb_module(d)

    async def discard(self, name: str) -> None:
        """Forget the warehouse ``name`` (DROP WAREHOUSE): it finishes what it runs, then closes."""
        found = self._open.pop(name, None)
        if found is not None:
            self._retire(found[1])

    async def close_all(self) -> None:
        """Close every warehouse (interrupting what still runs), then the DuckDB databases."""
        self._closed = True
        warehouses = [w for _, w in self._open.values()] + list(self._retired)
        self._open.clear()
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*(w.close() for w in warehouses), return_exceptions=True)
        for db in [self._default_db, *self._databases.values()]:
            await db.close()

    # --- internals -------------------------------------------------------------------------------

    def _create(self, d: WarehouseDef) -> Warehouse:
        factory = _FACTORIES.get(d.type)
        if factory is None:
            raise _unsupported(d.type)
        return factory(self, d)

    def _duckdb_for(self, d: WarehouseDef) -> DuckDBDatabase:
        if d.url is None:
            return self._default_db
        url_options(d.url, {})  # none yet: a typo must not be ignored
        path = file_path(d.url, "duckdb", self.data_dir).resolve()
        if path == self._default_db.path or path == (self.data_dir / DUCKDB_FILE).resolve():
            return self._default_db
        return self._databases.setdefault(path, DuckDBDatabase(path, self._duckdb_config))

    def _retire(self, warehouse: Warehouse) -> None:
        self._retired.add(warehouse)
        task = asyncio.get_running_loop().create_task(self._close_when_idle(warehouse))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _close_when_idle(self, warehouse: Warehouse) -> None:
        while warehouse.running > 0:
            await asyncio.sleep(RETIRE_POLL)
        self._retired.discard(warehouse)
        await warehouse.close()


def _duckdb(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    return reg._duckdb_for(d).pool(d.name, d.max_concurrency)


def _unsupported(kind: WarehouseType) -> NotSupportedError:
    supported = ", ".join(t.value for t in _FACTORIES)
    return NotSupportedError(
        f"warehouse type {kind.value} is not supported yet; supported types: {supported}"
    )


def _needs_url(d: WarehouseDef, example: str) -> WarehouseError:
    return WarehouseError(
        f"warehouse {d.name}: TYPE = {d.type.value} needs a URL ({example})", code="INVALID_URL"
    )


def _checked_reference(d: WarehouseDef) -> str:
    """``d``'s URL without its ``password_env`` / ``password_file`` option, that option checked."""
    assert d.url is not None
    credentials.check(d.url, f"warehouse {d.name}")
    return credentials.without_reference(d.url)


def _no_reference(d: WarehouseDef) -> None:
    """Embedded types have no password to read."""
    found = credentials.reference(d.url)
    if found is not None:
        raise WarehouseError(
            f"warehouse {d.name}: TYPE = {d.type.value} has no password ({found[0]} is for postgres, mysql"
            " and clickhouse warehouses)",
            code="INVALID_URL",
        )


def _password_resolved(reg: WarehouseRegistry, d: WarehouseDef, url: str) -> str:
    """``url`` with the password its ``password_env`` / ``password_file`` names (read now)."""
    return credentials.resolve(url, f"warehouse {d.name} ({shown_url(url)})", reg.data_dir)


#: Options of warehouse URLs whose values are settings, not secrets: shown as written.
PUBLIC_URL_OPTIONS = frozenset(
    {
        "synchronous",
        "sslmode",
        "connect_timeout",
        "application_name",
        "target_session_attrs",
        "charset",
        "unix_socket",
        "ssl_ca",
        "compression",
        # where a password is read from (a variable's name, a file's path), not the password
        *credentials.OPTIONS,
    }
)


def shown_url(url: str) -> str:
    """A warehouse URL as SHOW WAREHOUSES and ``system.warehouses`` show it: the password (of the user
    info or a ``password=`` option) and the value of every query option that is not a plain setting
    (:data:`PUBLIC_URL_OPTIONS`) become ``***``; file paths stay as written."""
    return mask_url(redact_url(url), public_options=PUBLIC_URL_OPTIONS, path_tokens=False)


def install_command(requirement: str) -> str:
    """The shell command that installs ``requirement`` into the Python running tasksql (this
    interpreter, named by its path: from a clone, ``pip install 'tasksql[...]'`` would fetch tasksql
    from PyPI instead)."""
    python = shlex.quote(sys.executable)
    package = shlex.quote(requirement)
    if importlib.util.find_spec("pip") is not None:
        return f"{python} -m pip install {package}"
    if shutil.which("uv") is not None:
        return f"uv pip install --python {python} {package}"
    return f"{python} -m ensurepip && {python} -m pip install {package}"


def _sqlite(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    from tasksql.warehouses.sqlite import SQLITE_URL_OPTIONS, SQLiteWarehouse

    if not d.url:
        raise _needs_url(d, "sqlite:///path/file.db")
    options = url_options(d.url, SQLITE_URL_OPTIONS)
    return SQLiteWarehouse(
        d.name,
        file_path(d.url, "sqlite", reg.data_dir),
        max_concurrency=d.max_concurrency,
        synchronous=options.get("synchronous"),
    )


def _postgres_module(d: WarehouseDef) -> ModuleType:
    """The PostgreSQL backend module.

    :raises NotSupportedError: its driver cannot be imported (code ``DRIVER_MISSING``).
    """
    try:
        from tasksql.warehouses import postgres
    except ImportError as err:
        where = f" ({shown_url(d.url)})" if d.url else ""
        raise NotSupportedError(
            f"warehouse {d.name}{where}: TYPE = postgres needs the PostgreSQL driver psycopg, which this"
            f" Python cannot import ({err}); install it with: {install_command(POSTGRES_REQUIREMENT)}",
            code="DRIVER_MISSING",
        ) from None
    return postgres


def _postgres(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    if not d.url:
        raise _needs_url(d, "postgresql://user@host/db")
    backend = _postgres_module(d)
    url = _password_resolved(reg, d, d.url)
    warehouse: Warehouse = backend.PostgresWarehouse(d.name, url, max_concurrency=d.max_concurrency)
    return warehouse


def _mysql_module(d: WarehouseDef) -> ModuleType:
    """The MySQL/MariaDB backend module.

    :raises NotSupportedError: its driver cannot be imported (code ``DRIVER_MISSING``).
    """
    try:
        from tasksql.warehouses import mysql
    except ImportError as err:
        where = f" ({shown_url(d.url)})" if d.url else ""
        raise NotSupportedError(
            f"warehouse {d.name}{where}: TYPE = mysql needs the MySQL driver PyMySQL, which this"
            f" Python cannot import ({err}); install it with: {install_command(MYSQL_REQUIREMENT)}",
            code="DRIVER_MISSING",
        ) from None
    return mysql


def _mysql(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    if not d.url:
        raise _needs_url(d, "mysql://user@host:3306/db")
    backend = _mysql_module(d)
    url = _password_resolved(reg, d, d.url)
    warehouse: Warehouse = backend.MySQLWarehouse(d.name, url, max_concurrency=d.max_concurrency)
    return warehouse


def _clickhouse_module(d: WarehouseDef) -> ModuleType:
    """The ClickHouse backend module.

    :raises NotSupportedError: its driver cannot be imported (code ``DRIVER_MISSING``).
    """
    try:
        from tasksql.warehouses import clickhouse
    except ImportError as err:
        where = f" ({shown_url(d.url)})" if d.url else ""
        raise NotSupportedError(
            f"warehouse {d.name}{where}: TYPE = clickhouse needs the ClickHouse driver clickhouse-driver,"
            f" which this Python cannot import ({err});"
            f" install it with: {install_command(CLICKHOUSE_REQUIREMENT)}",
            code="DRIVER_MISSING",
        ) from None
    return clickhouse


def _clickhouse(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    if not d.url:
        raise _needs_url(d, "clickhouse://user@host:9000/db")
    backend = _clickhouse_module(d)
    url = _password_resolved(reg, d, d.url)
    warehouse: Warehouse = backend.ClickHouseWarehouse(d.name, url, max_concurrency=d.max_concurrency)
    return warehouse


def _chdb_path(*, reg: WarehouseRegistry, d: WarehouseDef) -> Path:
    """The data directory of a chdb warehouse: its PATH (or a ``chdb://`` / ``file:`` URL) relative
    to tasksql's data directory."""
    assert d.url is not None
    text = d.url
    for prefix in ("chdb://", "file://", "chdb:", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if not text.strip() or "?" in text:
        raise WarehouseError(
            f"warehouse {d.name}: PATH {d.url!r} is not a directory path (PATH = 'ch-data')",
            code="INVALID_URL",
        )
    path = Path(text).expanduser()
    return path if path.is_absolute() else reg.data_dir / path


def _chdb_module(d: WarehouseDef) -> ModuleType:
    """The chdb backend module.

    :raises NotSupportedError: chdb cannot be imported (code ``DRIVER_MISSING``).
    """
    try:
        from tasksql.warehouses import chdb_local
    except ImportError as err:
        raise NotSupportedError(
            f"warehouse {d.name}: TYPE = chdb needs chdb (embedded ClickHouse, about 550 MB), which this"
            f" Python cannot import ({err}); install it with: {install_command(CHDB_REQUIREMENT)}",
            code="DRIVER_MISSING",
        ) from None
    return chdb_local


def _chdb(reg: WarehouseRegistry, d: WarehouseDef) -> Warehouse:
    if not d.url:
        raise _needs_url(d, "PATH = 'ch-data', relative to the data directory")
    path = _chdb_path(reg=reg, d=d)
    warehouse: Warehouse = _chdb_module(d).ChdbWarehouse(d.name, path)
    return warehouse


_FACTORIES: dict[WarehouseType, Callable[[WarehouseRegistry, WarehouseDef], Warehouse]] = {
    WarehouseType.DUCKDB: _duckdb,
    WarehouseType.SQLITE: _sqlite,
    WarehouseType.POSTGRES: _postgres,
    WarehouseType.MYSQL: _mysql,
    WarehouseType.CLICKHOUSE: _clickhouse,
    WarehouseType.CHDB: _chdb,
}

__all__ = [
    "CHDB_REQUIREMENT",
    "CLICKHOUSE_REQUIREMENT",
    "MYSQL_REQUIREMENT",
    "POSTGRES_REQUIREMENT",
    "WarehouseRegistry",
    "install_command",
    "shown_url",
]
