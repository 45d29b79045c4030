"""tasksql's values: frozen data with no I/O, shared by every layer above.

* :mod:`.task`: the one task model (:class:`TaskDef`, the five spellings' common form, and
  :class:`TaskRecord`), names, schedules, bodies and the versioned JSON of stored definitions;
* :mod:`.objects`: warehouses and notification integrations;
* :mod:`.run`: runs (:class:`RunState` and the one table of its transitions, run records and
  outcomes, graph runs, nodes);
* :mod:`.outbox`: notification messages and their delivery attempts.

The task model, the objects and the run states are also importable from ``tasksql.model`` itself;
run records and outbox values are imported from their modules.
"""

from __future__ import annotations

from tasksql.model.objects import (
    IntegrationDef,
    WarehouseDef,
    WarehouseType,
    Webhook,
)
from tasksql.model.run import (
    RunState,
    ScheduledFrom,
)
from tasksql.model.task import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    DEFAULT_DATABASE,
    DEFAULT_MAX_CONCURRENT_RUNS,
    DEFAULT_SCHEMA,
    DEFAULT_SUSPEND_AFTER_FAILURES,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_WAREHOUSE,
    MAX_CHILDREN,
    MAX_GRAPH_TASKS,
    MAX_PREDECESSORS,
    MAX_RETURN_VALUE_BYTES,
    RESERVED_WORDS,
    TASK_FORMAT_VERSION,
    Body,
    CatchUp,
    ClassBody,
    CronSchedule,
    CustomSchedule,
    DelaySchedule,
    DstPolicy,
    IntervalSchedule,
    LocationKind,
    MaintenanceBody,
    MaintenanceKind,
    OnError,
    OverlapPolicy,
    ProcedureBody,
    QualifiedName,
    RunOn,
    ScheduleSpec,
    Spelling,
    SqlBody,
    SuspendReason,
    TaskDef,
    TaskRecord,
    TaskState,
    effective_overlap,
    effective_suspend_after,
    effective_timeout_ms,
    effective_warehouse,
    pinned_node,
    quote_ident,
    task_from_json,
    task_to_json,
)

__all__ = [
    "DEFAULT_CATCH_UP_WINDOW_MS",
    "DEFAULT_DATABASE",
    "DEFAULT_MAX_CONCURRENT_RUNS",
    "DEFAULT_SCHEMA",
    "DEFAULT_SUSPEND_AFTER_FAILURES",
    "DEFAULT_TIMEOUT_MS",
    "DEFAULT_WAREHOUSE",
    "MAX_CHILDREN",
    "MAX_GRAPH_TASKS",
    "MAX_PREDECESSORS",
    "MAX_RETURN_VALUE_BYTES",
    "RESERVED_WORDS",
    "TASK_FORMAT_VERSION",
    "Body",
    "CatchUp",
    "ClassBody",
    "CronSchedule",
    "CustomSchedule",
    "DelaySchedule",
    "DstPolicy",
    "IntegrationDef",
    "IntervalSchedule",
    "LocationKind",
    "MaintenanceBody",
    "MaintenanceKind",
    "OnError",
    "OverlapPolicy",
    "ProcedureBody",
    "QualifiedName",
    "RunOn",
    "RunState",
    "ScheduleSpec",
    "ScheduledFrom",
    "Spelling",
    "SqlBody",
    "SuspendReason",
    "TaskDef",
    "TaskRecord",
    "TaskState",
    "WarehouseDef",
    "WarehouseType",
    "Webhook",
    "effective_overlap",
    "effective_suspend_after",
    "effective_timeout_ms",
    "effective_warehouse",
    "pinned_node",
    "quote_ident",
    "task_from_json",
    "task_to_json",
]
