"""The names of the SYSTEM$ functions tasksql evaluates, for checks that must not import their
implementations (:mod:`tasksql.engine.functions` imports the task statements' module, which checks
bodies against these names)."""

from __future__ import annotations

#: Callable from any statement (:func:`tasksql.engine.functions.engine_scalars`), lower case.
STATEMENT_FUNCTIONS = frozenset(
    {
        "system$task_dependents_enable",
        "task_dependents_enable",
        "system$user_task_cancel_ongoing_executions",
        "system$wait",
    }
)

#: Functions of Snowflake's that a task body may call there but that need a cloud service tasksql
#: has no counterpart of, each with what to write instead.
CLOUD_ONLY_FUNCTIONS = {
    "system$send_email": (
        "tasksql sends no e-mail: name a webhook notification integration as the task's"
        " ERROR_INTEGRATION or SUCCESS_INTEGRATION"
    ),
    "system$send_snowflake_notification": (
        "tasksql sends notifications through webhook notification integrations only: name one as"
        " the task's ERROR_INTEGRATION or SUCCESS_INTEGRATION"
    ),
}
