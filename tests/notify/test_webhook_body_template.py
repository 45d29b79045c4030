"""WEBHOOK_BODY_TEMPLATE (Databend's and Snowflake's): the body sent is the template with its
placeholder replaced by the payload's text, through a real local HTTP receiver; the statements
that set, patch and clear it, through the engine and its catalog. Source of the expectations:
databendlabs/databend tests/sqllogictests/suites/task/task_notification_webhook_body_template.test
and docs.snowflake.com/en/sql-reference/sql/create-notification-integration-webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from notify_support import NOW
from receiver import Receiver

from tasksql.engine import Engine
from tasksql.errors import ValidationError
from tasksql.model import Webhook
from tasksql.model.webhook_template import render, template_error
from tasksql.notify import webhook
from tasksql.notify.webhook import verify_signature
from tasksql.settings import Settings

PAYLOAD = json.dumps({"version": "1.0", "messageType": "TASK_FAILED", "errorMessage": 'say "no"'})
FEISHU = '{"msg_type":"text","content":{"text":"DATABEND_WEBHOOK_MESSAGE"}}'
SECRET = "s3cr3t"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_the_body_is_the_template_with_the_message_in_it(
    session: aiohttp.ClientSession, receiver: Receiver
) -> None:
    hook = Webhook(url=receiver.url, body_template=FEISHU, signing_secret=SECRET)
    await webhook.send(
        session, hook, message_id="m-1", event_type="TASK_FAILED", payload=PAYLOAD, now=NOW, timeout_s=5.0
    )
    [got] = receiver.requests
    assert got.json() == {"msg_type": "text", "content": {"text": PAYLOAD}}
    assert json.loads(got.json()["content"]["text"])["errorMessage"] == 'say "no"'  # escaped, intact
    assert got.headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, got.headers["X-Tasksql-Signature"], got.body, now=int(NOW.timestamp()))


def test_placeholders_in_strings_are_replaced_and_nothing_else_changes() -> None:
    assert json.loads(render('{"text":"告警\uff1aDATABEND_WEBHOOK_MESSAGE","tags":["databend"]}', "m")) == {
        "text": "告警\uff1am",
        "tags": ["databend"],
    }
    assert json.loads(render('{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}', "x")) == {"text": "x"}  # Snowflake's
    assert json.loads(render('["DATABEND_WEBHOOK_MESSAGE", 42, null, true]', "x")) == ["x", 42, None, True]
    assert json.loads(render('{"no": "placeholder"}', "x")) == {"no": "placeholder"}


@pytest.mark.parametrize(
    "template",
    [
        "",
        "text",
        '{"text":DATABEND_WEBHOOK_MESSAGE}',
        '{"text":"DATABEND_WEBHOOK_MESSAGE",}',
        "{} {}",
        '{"DATABEND_WEBHOOK_MESSAGE":"x"}',
        '{"a":[1,{"DATABEND_WEBHOOK_MESSAGE":"x"}]}',
        "x" * 70_000,
    ],
)
def test_templates_databend_refuses_are_refused_without_repeating_them(template: str) -> None:
    why = template_error(template)
    assert why is not None and (len(template) < 8 or template not in why)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _template(engine: Engine, name: str) -> object:
    rows = dict((await engine.execute(f"DESCRIBE NOTIFICATION INTEGRATION {name}"))[-1].rows)
    return rows["webhook_body_template"], rows["method"], rows["comment"]


async def test_set_patch_and_unset_as_databend_does(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION tpl_notify TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (URL = 'http://localhost:8080/notify', METHOD = 'POST', AUTHORIZATION_HEADER = 'Bearer abc')"
        " COMMENT = 'plain'"
    )
    assert await _template(engine, "tpl_notify") == (None, "POST", "plain")
    await engine.execute(f"ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK_BODY_TEMPLATE = '{FEISHU}'")
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET COMMENT = 'patched'")
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK = (METHOD = 'GET')")
    assert await _template(engine, "tpl_notify") == (FEISHU, "GET", "patched")  # every patch keeps it
    for bad in ("''", "'text'", """'{"DATABEND_WEBHOOK_MESSAGE":"x"}'"""):
        with pytest.raises(ValidationError):
            await engine.execute(
                f"ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK_BODY_TEMPLATE = {bad}"
            )
    with pytest.raises(ValidationError):
        await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK = ()")
    assert await _template(engine, "tpl_notify") == (FEISHU, "GET", "patched")  # refusals change nothing
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify UNSET WEBHOOK_BODY_TEMPLATE")
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET COMMENT = 'after unset'")
    assert await _template(engine, "tpl_notify") == (None, "GET", "after unset")  # not resurrected


async def test_create_with_a_template_and_show_it_back(engine: Engine) -> None:
    with pytest.raises(ValidationError):
        await engine.execute(
            "CREATE NOTIFICATION INTEGRATION tpl TYPE = WEBHOOK ENABLED = TRUE"
            " WEBHOOK = (URL = 'http://localhost:8080/notify') WEBHOOK_BODY_TEMPLATE = '{\"DATABEND_WEBHOOK_MESSAGE\":1}'"
        )
    assert (await engine.execute("SHOW NOTIFICATION INTEGRATIONS"))[-1].rows == []
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION tpl TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (URL = 'http://localhost:8080/notify', METHOD = 'POST')"
        " WEBHOOK_BODY_TEMPLATE = '{\"text\":\"DATABEND_WEBHOOK_MESSAGE\"}' COMMENT = 'with template'"
    )
    assert await _template(engine, "tpl") == ('{"text":"DATABEND_WEBHOOK_MESSAGE"}', "POST", "with template")


async def test_snowflakes_spelling_gives_the_same_webhook(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION slack TYPE=WEBHOOK ENABLED=TRUE"
        " WEBHOOK_URL='https://hooks.example.com/services/T0/B0' WEBHOOK_BODY_TEMPLATE='{\"text\": \"SNOWFLAKE_WEBHOOK_MESSAGE\"}'"
        " WEBHOOK_HEADERS=('Content-Type'='application/json', 'Authorization'='Bearer t0k')"
    )
    hook = (await engine.catalog.get_integration("slack")).webhook  # type: ignore[union-attr]
    assert hook == Webhook(
        url="https://hooks.example.com/services/T0/B0",
        authorization_header="Bearer t0k",
        body_template='{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}',
    )
    await engine.execute(
        "ALTER NOTIFICATION INTEGRATION slack SET WEBHOOK_URL = 'https://hooks.example.com/v2'"
    )
    hook = (await engine.catalog.get_integration("slack")).webhook  # type: ignore[union-attr]
    assert (hook.url, hook.authorization_header) == ("https://hooks.example.com/v2", "Bearer t0k")
