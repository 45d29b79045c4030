"""Keyword lists for completion and highlighting (the shell reads every public collection here;
collections whose name mentions FUNCTION hold function names, the others keywords).

The property names come from the property table, so a new property is completed without
touching this module.
"""

from __future__ import annotations

from tasksql.sql.properties import PROPERTIES
from tasksql.sql.values import UNITS

#: Words a statement can begin with (task statements and common SQL).
STATEMENT_STARTERS: tuple[str, ...] = (
    "ALTER", "BEGIN", "CALL", "CANCEL", "COMMIT", "CREATE", "DELETE", "DESC", "DESCRIBE", "DROP",
    "EXECUTE", "EXPLAIN", "INSERT", "MERGE", "ROLLBACK", "SELECT", "SHOW", "SYSTEM", "UPDATE",
    "USE", "WITH",
)  # fmt: skip

#: Object kinds and the words of the task grammar's clauses.
CLAUSE_KEYWORDS: tuple[str, ...] = (
    "ACCOUNT", "ADD", "AFTER", "ALTER", "AS", "BEGIN", "CHECK_DISK", "CLASS", "CLONE", "CLUSTER",
    "CONFIG", "CONTACT", "COPY", "CREATE", "CRON", "DATABASE", "DECLARE", "DELAY", "DISABLE", "ENABLE",
    "END", "ERROR", "EVERY", "EXISTS", "FROM", "GRANTS", "GRAPH", "GROUP", "HOSTS", "IF", "IGNORE",
    "IN", "INTEGRATION", "INTEGRATIONS", "INTO", "LAST", "LIKE", "LIMIT", "LOCATION", "LOG", "MODIFY",
    "NODE", "NOT", "NOTIFICATION", "ON", "ONLY", "OPTIONS", "OR", "PARTITIONS", "PAUSE", "PROCEDURE",
    "REBALANCE", "REBUILD", "REMOVE", "REPLACE", "RESUME", "RETRY", "ROOT", "RUN", "SCHEDULE", "SCHEMA",
    "SECRET", "SECRETS", "SET", "STARTS", "STOP", "STREAM", "SUSPEND", "SYSTEM", "TABLE", "TAG", "TASK",
    "TASKS", "TERSE",
    "TIMEOUT", "TYPE", "UNSET", "USER", "USING", "WAREHOUSE", "WAREHOUSES", "WEBHOOK", "WHEN", "WITH",
)  # fmt: skip

#: Every property keyword (``KEY = value``) of CREATE/ALTER TASK, from the property table.
PROPERTY_NAMES: tuple[str, ...] = tuple(sorted({p.key for p in PROPERTIES if p.equals != "none"}))

#: Options of notification integrations, warehouses and secrets.
OBJECT_OPTIONS: tuple[str, ...] = (
    "AUTHORIZATION_HEADER", "COMMENT", "ENABLED", "GENERIC_STRING", "MAX_CONCURRENCY", "METHOD",
    "SECRET_STRING", "SIGNING_SECRET", "TYPE", "URL", "WEBHOOK", "WEBHOOK_SECRET",
)  # fmt: skip

#: Values of enumerated properties.
PROPERTY_VALUES: tuple[str, ...] = (
    "ALL", "ALLOW_ALL_OVERLAP", "ALLOW_CHILD_OVERLAP", "CLICKHOUSE", "DUCKDB", "FALSE", "IGNORE",
    "LATEST", "MYSQL", "NONE", "NO_OVERLAP", "POSTGRES", "SNOWFLAKE", "SQLITE", "STANDARD", "TRUE",
)  # fmt: skip

#: Time units of intervals.
TIME_UNITS: tuple[str, ...] = tuple(sorted(u for u in UNITS if len(u) > 3))

#: Table functions and system functions of the task language (documented spelling).
TASK_FUNCTIONS: tuple[str, ...] = (
    "complete_task_graphs", "current_task_graphs", "next_runs", "task_dependents", "task_history",
    "SYSTEM$CURRENT_USER_TASK_NAME", "SYSTEM$GET_PREDECESSOR_RETURN_VALUE", "SYSTEM$GET_TASK_GRAPH_CONFIG",
    "SYSTEM$SET_RETURN_VALUE", "SYSTEM$STREAM_HAS_DATA", "SYSTEM$TASK_DEPENDENTS_ENABLE",
    "SYSTEM$TASK_RUNTIME_INFO", "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS", "SYSTEM$WAIT", "STREAM_STATUS",
)  # fmt: skip
