"""Statement class -> handler. One table, so adding a statement means one handler and one line here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tasksql.engine import (
    adhoc,
    execute_task,
    objects,
    passthrough,
    secrets,
    security_ddl,
    show,
    streams,
    tasks_ddl,
)
from tasksql.engine.results import Result
from tasksql.sql import statements as st
from tasksql.sql import statements_security as ss

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
    st.CreateSecret: secrets.create_secret,
    st.AlterSecret: secrets.alter_secret,
    st.DropSecret: secrets.drop_secret,
    st.DescribeSecret: secrets.describe_secret,
    st.ShowSecrets: secrets.show_secrets,
    st.CreateStream: streams.create_stream,
    st.DropStream: streams.drop_stream,
    st.ShowStreams: streams.show_streams,
    st.DescribeStream: streams.describe_stream,
    st.Passthrough: passthrough.passthrough,
    ss.CreateUser: security_ddl.create_user,
    ss.AlterUser: security_ddl.alter_user,
    ss.DropUser: security_ddl.drop_user,
    ss.CreateRole: security_ddl.create_role,
    ss.DropRole: security_ddl.drop_role,
    ss.GrantRole: security_ddl.grant_role,
    ss.GrantPrivilege: security_ddl.grant_privilege,
    ss.GrantOwnership: security_ddl.grant_ownership,
    ss.UseRole: security_ddl.use_role,
    ss.ShowRoles: security_ddl.show_roles,
    ss.ShowGrants: security_ddl.show_grants,
}
