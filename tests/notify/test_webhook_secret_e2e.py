"""End to end, in real time: Snowflake's documented Slack flow (CREATE SECRET, then a notification
integration with WEBHOOK_SECRET and SNOWFLAKE_WEBHOOK_SECRET in its URL, header and body) written
in SQL; a scheduled task fails and the failure reaches a real local HTTP receiver with the secret in
place; SHOW, DESCRIBE, the system tables, the HTTP API and the logs never show the value.

Sources: docs.snowflake.com/en/user-guide/notifications/webhook-notifications,
docs.snowflake.com/en/sql-reference/sql/create-notification-integration-webhooks,
docs.snowflake.com/en/sql-reference/sql/create-secret."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from receiver import Receiver

from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.settings import Settings

pytestmark = pytest.mark.realtime

VALUE = "T00000000/B00000000/XXXXE2ESECRETXXXX"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=1.0)) as e:
        yield e


async def test_a_task_failure_reaches_the_receiver_with_the_secret_in_place_and_nowhere_else(
    engine: Engine, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await engine.execute(
        f"""
        CREATE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret
          TYPE = GENERIC_STRING
          SECRET_STRING = '{VALUE}';
        CREATE OR REPLACE NOTIFICATION INTEGRATION my_slack_webhook_int
          TYPE=WEBHOOK
          ENABLED=TRUE
          WEBHOOK_URL='http://127.0.0.1:{receiver.port}/services/SNOWFLAKE_WEBHOOK_SECRET'
          WEBHOOK_SECRET=my_secrets_db.my_secrets_schema.my_slack_webhook_secret
          WEBHOOK_BODY_TEMPLATE='{{"text": "SNOWFLAKE_WEBHOOK_MESSAGE", "key": "SNOWFLAKE_WEBHOOK_SECRET"}}'
          WEBHOOK_HEADERS=('Content-Type'='application/json', 'Authorization'='Bearer SNOWFLAKE_WEBHOOK_SECRET');
        CREATE TASK failing SCHEDULE = '1 SECONDS' ERROR_INTEGRATION = my_slack_webhook_int
          AS SELECT error('it broke');
        """
    )
    await engine.start_scheduler()
    await engine.execute("ALTER TASK failing RESUME")
    await receiver.wait_for(1, timeout=60)
    await engine.execute("ALTER TASK failing SUSPEND")

    got = receiver.requests[0]
    assert got.path == f"/services/{VALUE}"
    assert got.headers["Authorization"] == f"Bearer {VALUE}"
    body = got.json()
    assert body["key"] == VALUE
    message = json.loads(body["text"])
    assert message["messageType"] == "TASK_FAILED" and message["taskName"] == "tasksql.public.failing"

    shown = []
    for text in (
        "SHOW SECRETS",
        "DESCRIBE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret",
        "SHOW NOTIFICATION INTEGRATIONS",
        "DESCRIBE NOTIFICATION INTEGRATION my_slack_webhook_int",
        "SELECT * FROM system.notification_integrations",
        "SELECT * FROM system.notification_history",
        "SELECT * FROM system.audit_log",
        "SELECT * FROM system.task_history",
        "SHOW QUERIES",
    ):
        shown.append(repr((await engine.execute(text))[-1].rows))
    async with TestClient(TestServer(create_app(engine))) as client:
        for sql in (
            "SHOW SECRETS",
            "DESCRIBE SECRET my_secrets_db.my_secrets_schema.my_slack_webhook_secret",
        ):
            resp = await client.post("/api/v1/sql", json={"sql": sql})
            assert resp.status == 200
            shown.append(await resp.text())
        resp = await client.get("/api/v1/notifications")
        assert resp.status == 200
        shown.append(await resp.text())
        # an error in a statement that holds the secret shows the statement masked
        resp = await client.post(
            "/api/v1/sql",
            json={"sql": f"CREATE SECRET other TYPE = GENERIC_STRING SECRET_STRING = '{VALUE}' COMENT = 'x'"},
        )
        assert resp.status == 400
        shown.append(await resp.text())
    everything = "\n".join(shown)
    assert "my_slack_webhook_secret" in everything and "my_slack_webhook_int" in everything
    assert VALUE not in everything and "E2ESECRET" not in everything
    assert all("E2ESECRET" not in record.getMessage() for record in caplog.records)
