"""Settings: one table of every knob, with its default, environment variable and help.

A :class:`Settings` value is built from (in increasing priority) the defaults, ``TASKSQL_*``
environment variables and explicit keyword arguments (the CLI passes its flags that way).
``docs/operations.md`` lists the same table; a test keeps the two in step.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tasksql.display import mask_url
from tasksql.errors import ConfigError
from tasksql.storable import check_setting_text


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    env: str
    help: str
    parse: Callable[[str], Any] = str


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("expected an integer") from None


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


#: Values of ``duckdb_fsync`` (DuckDB's ``fsync_mode``).
DUCKDB_FSYNC_MODES = ("standard", "full", "none")


def _at_least(value: int, low: int) -> int:
    if value < low:
        raise ValueError(f"must be at least {low}")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0")
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("expected a port number from 0 to 65535 (0 = any free port)")
    return value


def parse_names(text: str) -> tuple[str, ...] | None:
    """A comma-separated list of warehouse names (lower-cased, as SQL folds them); ``*`` or
    nothing: None (every warehouse)."""
    names = tuple(sorted({n.strip().lower() for n in text.split(",") if n.strip()}))
    return None if not names or names == ("*",) else names


def _one_of(text: str, allowed: tuple[str, ...]) -> str:
    low = text.strip().lower()
    if low not in allowed:
        raise ValueError(f"expected one of {', '.join(allowed)}")
    return low


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir", "tasksql-data", "TASKSQL_DATA", "data directory (catalog, embedded DuckDB, server file)"
    ),
    Setting(
        "catalog_url", None, "TASKSQL_CATALOG", "catalog location; default: catalog.db in the data directory"
    ),
    Setting(
        "catalog_schema",
        "tasksql",
        "TASKSQL_CATALOG_SCHEMA",
        "PostgreSQL catalog: the schema that holds its tables (created on first use)",
    ),
    Setting("host", "127.0.0.1", "TASKSQL_HOST", "address the server binds to"),
    Setting(
        "port",
        8765,
        "TASKSQL_PORT",
        "port of the HTTP API (0 = any free port)",
        lambda text: _port(_int(text)),
    ),
    Setting(
        "require_token",
        False,
        "TASKSQL_REQUIRE_TOKEN",
        "server: every route needs the API token even when bound to loopback (off: only when bound to"
        " another address)",
        _bool,
    ),
    Setting(
        "node_id", None, "TASKSQL_NODE_ID", "this node's id in history and the cluster; default: host-pid"
    ),
    Setting("cluster_id", "local", "TASKSQL_CLUSTER_ID", "cluster id shown in system.cluster"),
    Setting(
        "node_warehouses",
        None,
        "TASKSQL_NODE_WAREHOUSES",
        "cluster node: the warehouses it runs tasks of, comma-separated (default: every warehouse)",
        parse_names,
    ),
    Setting(
        "node_address",
        None,
        "TASKSQL_NODE_ADDRESS",
        "cluster node: the URL the other nodes reach its HTTP API at; default: http://host:port as bound",
    ),
    Setting("owner", "tasksql", "TASKSQL_USER", "user recorded as owner of created objects"),
    Setting(
        "security",
        False,
        "TASKSQL_SECURITY",
        "enforce users, roles and privileges (off: every caller is ACCOUNTADMIN; see docs/security.md)",
        _bool,
    ),
    Setting(
        "grace_period_s",
        10.0,
        "TASKSQL_GRACE_PERIOD",
        "seconds in-flight runs get to finish at shutdown",
        _float,
    ),
    Setting(
        "history_retention_days",
        7.0,
        "TASKSQL_HISTORY_RETENTION_DAYS",
        "run history older than this is pruned (per-task HISTORY_RETENTION overrides)",
        _float,
    ),
    Setting(
        "default_max_concurrency",
        8,
        "TASKSQL_MAX_CONCURRENCY",
        "runs executing at once per warehouse when MAX_CONCURRENCY is not set",
        _int,
    ),
    Setting("log_level", "INFO", "TASKSQL_LOG_LEVEL", "logging level of the server"),
    Setting(
        "claim_ahead_s",
        60.0,
        "TASKSQL_CLAIM_AHEAD",
        "a task's next instant is claimed (a SCHEDULED run row) when it fires, if at most this many"
        " seconds ahead; 0 = never",
        _float,
    ),
    Setting(
        "cluster_claims",
        True,
        "TASKSQL_CLUSTER_CLAIMS",
        "cluster members claim instants ahead too (their starts committed first, fenced); off: a"
        " member writes each instant's row when the instant comes",
        _bool,
    ),
    Setting(
        "change_poll_s",
        0.5,
        "TASKSQL_CHANGE_POLL",
        "server: seconds between two looks at the catalog for definition changes made by other"
        " processes; on PostgreSQL a notification sent with each change wakes the node at once, and"
        " this is the fallback should one be lost",
        lambda text: _positive(_float(text)),
    ),
    Setting(
        "switch_interval_us",
        200,
        "TASKSQL_SWITCH_INTERVAL_US",
        "server: microseconds a thread may keep Python's interpreter lock while another waits for it",
        _int,
    ),
    Setting(
        "gc_tuning",
        True,
        "TASKSQL_GC_TUNING",
        "server: freeze what is loaded at start-up and collect young objects less often",
        _bool,
    ),
    Setting(
        "completion_markers",
        True,
        "TASKSQL_COMPLETION_MARKERS",
        "task bodies commit with their run's completion marker (a run whose node died after its body"
        " committed is recorded SUCCEEDED, never run again); off: one statement less per body, and"
        " such a body runs at least once",
        _bool,
    ),
    Setting(
        "duckdb_threads",
        0,
        "TASKSQL_DUCKDB_THREADS",
        "threads of each embedded DuckDB database (its `threads` option); 0 = DuckDB's default, one per core",
        lambda text: _at_least(_int(text), 0),
    ),
    Setting(
        "duckdb_fsync",
        "standard",
        "TASKSQL_DUCKDB_FSYNC",
        "how embedded DuckDB databases sync commits to disk (its `fsync_mode`): standard, full or none",
        lambda text: _one_of(text, DUCKDB_FSYNC_MODES),
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Resolved settings. Build with :meth:`load`; every field matches an entry of ``SETTINGS``."""

    data_dir: Path = Path("tasksql-data")
    catalog_url: str | None = None
    catalog_schema: str = "tasksql"
    host: str = "127.0.0.1"
    port: int = 8765
    require_token: bool = False
    node_id: str | None = None
    cluster_id: str = "local"
    node_warehouses: tuple[str, ...] | None = None
    node_address: str | None = None
    owner: str = "tasksql"
    security: bool = False
    grace_period_s: float = 10.0
    history_retention_days: float = 7.0
    default_max_concurrency: int = 8
    log_level: str = "INFO"
    claim_ahead_s: float = 60.0
    cluster_claims: bool = True
    change_poll_s: float = 0.5
    switch_interval_us: int = 200
    gc_tuning: bool = True
    completion_markers: bool = True
    duckdb_threads: int = 0
    duckdb_fsync: str = "standard"

    def __post_init__(self) -> None:
        # keyword overrides skip the parsers: check the values that have a closed set
        try:
            _at_least(self.duckdb_threads, 0)
            _one_of(self.duckdb_fsync, DUCKDB_FSYNC_MODES)
        except ValueError as exc:
            raise ConfigError(f"invalid DuckDB setting: {exc}") from None
        try:
            _port(self.port)
        except ValueError as exc:
            raise ConfigError(f"invalid port {self.port}: {exc}") from None
        for name in (
            "owner",
            "node_id",
            "cluster_id",
            "host",
            "node_address",
        ):  # text kept in the catalog and shown
            value = getattr(self, name)
            if isinstance(value, str):
                check_setting_text(name, value)

    @property
    def duckdb_config(self) -> dict[str, str | int]:
        """DuckDB configuration options for every embedded DuckDB database of the engine."""
        config: dict[str, str | int] = {"fsync_mode": self.duckdb_fsync.upper()}
        if self.duckdb_threads:
            config["threads"] = self.duckdb_threads
        return config

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``TASKSQL_*`` variables from ``env`` (default ``os.environ``), then overrides.

        Overrides that are ``None`` are ignored, so CLI options left unset do not mask the environment.
        Raises :class:`ConfigError` naming the variable when a value does not parse.
        """
        return cls.load_with_sources(env, **overrides)[0]

    @classmethod
    def load_with_sources(
        cls, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> tuple[Settings, dict[str, str]]:
        """:meth:`load`, and where each value came from: ``default``, the name of the environment
        variable that set it, or ``override`` (a keyword argument: a CLI option, a ``connect()``
        argument)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources = {s.name: "default" for s in SETTINGS}
        for s in SETTINGS:
            if s.env in env:
                try:
                    values[s.name] = s.parse(env[s.env])
                except ValueError as exc:
                    raise ConfigError(
                        f"environment variable {s.env}={env[s.env]!r}: {exc}; correct it or unset it"
                    ) from None
                sources[s.name] = s.env
        for key, value in overrides.items():
            if key not in _BY_NAME:
                raise ConfigError(f"unknown setting {key!r}")
            if value is not None:
                values[key] = value
                sources[key] = "override"
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return replace(cls(), **values), sources

    @property
    def effective_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def shared_catalog(self) -> bool:
        """True when the catalog is a PostgreSQL database, which several nodes may share: a server
        on it is a cluster member (see :mod:`tasksql.scheduler.membership`)."""
        url = self.catalog_url or ""
        return url.startswith(("postgresql://", "postgres://"))

    @property
    def effective_catalog_url(self) -> str:
        return self.catalog_url or str(self.data_dir / "catalog.db")

    def as_rows(self) -> list[tuple[str, str, str]]:
        """(name, value, help) for every setting, for ``tasksql settings`` and the docs test.

        A catalog URL is shown without its password (and without option values other than plain
        connection settings)."""
        rows = []
        for f in fields(self):
            raw = getattr(self, f.name)
            value = ",".join(raw) if isinstance(raw, tuple) else str(raw)
            if f.name == "catalog_url" and "://" in value:
                value = mask_url(value, public_options=_PUBLIC_CATALOG_OPTIONS, path_tokens=False)
            rows.append((f.name, value, _BY_NAME[f.name].help))
        return rows


#: Options of a catalog URL whose values are settings, not secrets: ``tasksql settings`` shows them.
_PUBLIC_CATALOG_OPTIONS = frozenset(
    {"sslmode", "connect_timeout", "application_name", "target_session_attrs"}
)
