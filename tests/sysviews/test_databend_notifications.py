"""Databend's ``system.notifications``: the integrations with Databend's columns, ``webhook_options``
a JSON object (url, method, authorization_header, body_template once set), as the statements of
databendlabs/databend tests/sqllogictests/suites/task/task_notification*.test read it; the header
is masked, never printed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tasksql.engine import Engine
from tasksql.settings import Settings

QUERY = (
    "SELECT name, type, enabled, webhook_options, comment FROM system.notifications WHERE name = 'tpl_notify'"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        yield eng


async def _row(engine: Engine) -> tuple[object, ...]:
    [row] = (await engine.execute(QUERY))[-1].rows
    return tuple(row)


async def test_columns_follow_every_patch_and_hide_the_header(engine: Engine) -> None:
    await engine.execute(
        "CREATE NOTIFICATION INTEGRATION tpl_notify TYPE = WEBHOOK ENABLED = TRUE"
        " WEBHOOK = (URL = 'http://localhost:8080/notify', METHOD = 'POST', AUTHORIZATION_HEADER = 'Bearer abc')"
        " COMMENT = 'plain'"
    )
    name, kind, enabled, options, comment = await _row(engine)
    assert (name, kind, enabled, comment) == ("tpl_notify", "webhook", True, "plain")
    assert json.loads(str(options)) == {
        "url": "http://localhost:8080/notify",
        "method": "POST",
        "authorization_header": "********",
    }
    assert "Bearer abc" not in str(options)

    template = '{"text":"告警\uff1aDATABEND_WEBHOOK_MESSAGE","tags":["databend"]}'  # Databend's own text
    await engine.execute(
        f"ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK_BODY_TEMPLATE = '{template}'"
    )
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET ENABLED = FALSE")
    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify SET WEBHOOK = (METHOD = 'GET')")
    _, _, enabled, options, _ = await _row(engine)
    assert enabled is False
    assert "告警" in str(options)  # as written, not \u-escaped
    assert json.loads(str(options)) == {
        "url": "http://localhost:8080/notify",
        "method": "GET",
        "authorization_header": "********",
        "body_template": template,
    }

    await engine.execute("ALTER NOTIFICATION INTEGRATION tpl_notify UNSET WEBHOOK_BODY_TEMPLATE")
    _, _, _, options, _ = await _row(engine)
    assert "body_template" not in json.loads(str(options))


async def test_no_header_is_an_empty_string_and_a_dropped_integration_is_gone(engine: Engine) -> None:
    await engine.execute(
        "create notification integration tpl_notify type = webhook enabled = true"
        " webhook = ( url = 'http://localhost:8080/notify?token=s3cr3t' )"
    )
    _, _, _, options, comment = await _row(engine)
    shown = json.loads(str(options))
    assert shown["authorization_header"] == "" and comment is None
    assert "s3cr3t" not in shown["url"]  # tokens in URLs are masked as everywhere
    await engine.execute("DROP NOTIFICATION INTEGRATION tpl_notify")
    count = "SELECT count(*) FROM system.notifications WHERE name = 'tpl_notify'"
    assert (await engine.execute(count))[-1].rows == [(0,)]
