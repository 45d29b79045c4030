"""Statement class -> handler. One table, so adding a statement means one handler and one line here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tasksql.engine import adhoc, execute_task, objects, passthrough, show, streams, tasks_ddl
from tasksql.engine.results import Result
from tasksql.sql import statements as st

HANDLERS: dict[type[st.Statement], Callable[[Any, Any], Awaitable[Result]]] = {
    st.CreateTask: tasks_ddl.create_task,
    st.CloneTask: tasks_ddl.clone_task,
    st.AlterTask: tasks_ddl.alter_task,
    st.DropTask: tasks_ddl.drop_task,
    st.ShowTasks: show.show_tasks,
    st.ShowCreateTask: show.show_create_task,
    st.DescribeTask: show.describe_task,
    st.ExecuteTask: execute_task.execute_task,
    st.CancelTask: execute_task.cancel_task,
    st.ShowQueries: adhoc.show_queries,
    st.CancelQuery: adhoc.cancel_query,
    st.CreateIntegration: objects.create_integration,
    st.AlterIntegration: objects.alter_integration,
    st.DropIntegration: objects.drop_integration,
    st.DescribeIntegration: objects.describe_integration,
    st.ShowIntegrations: objects.show_integrations,
    st.CreateWarehouse: objects.create_warehouse,
    st.AlterWarehouse: objects.alter_warehouse,
    st.DropWarehouse: objects.drop_warehouse,
    st.ShowWarehouses: objects.show_warehouses,
    st.CreateStream: streams.create_stream,
    st.DropStream: streams.drop_stream,
    st.ShowStreams: streams.show_streams,
    st.DescribeStream: streams.describe_stream,
    st.Passthrough: passthrough.passthrough,
}
