"""A notification integration's WEBHOOK_SECRET at send time, against a real local receiver: the
secret's value replaces SNOWFLAKE_WEBHOOK_SECRET in the URL's path, the Authorization header and
the body template (read from the catalog, an environment variable or a file); a secret that cannot
be read fails the attempt with a message naming it, and the attempt is retried; the delivery
history never holds the value, even when the receiver echoes it back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from notify_support import NOW, item
from receiver import Receiver

from tasksql.catalog import Catalog
from tasksql.model import IntegrationDef, QualifiedName, Webhook
from tasksql.model.outbox import OutboxState
from tasksql.model.secret import SecretDef, SecretSource, SecretString
from tasksql.notify.dispatcher import NotificationDispatcher
from tasksql.testing import FakeClock

VALUE = "T0SECRET/B0SECRET/XXSECRETXX"
NAME = QualifiedName("slack", "s", "secrets_db")


@pytest.fixture
async def dispatcher(
    catalog: Catalog, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[NotificationDispatcher]:
    d = NotificationDispatcher(catalog, clock=clock, node_id="node-a", timeout_s=2.0, data_dir=tmp_path)
    try:
        yield d
    finally:
        await d.stop()


async def put_secret(catalog: Catalog, source: SecretSource, value: str) -> None:
    definition = SecretDef(name=NAME, secret_string=SecretString(source, value), owner="sysadmin")
    await catalog.put_secret(definition, replace=True, now=NOW)


async def put_hook(catalog: Catalog, receiver: Receiver) -> None:
    hook = IntegrationDef(
        name="hook",
        webhook=Webhook(
            url=f"http://127.0.0.1:{receiver.port}/services/SNOWFLAKE_WEBHOOK_SECRET",
            authorization_header="Bearer SNOWFLAKE_WEBHOOK_SECRET",
            body_template='{"routing_key": "SNOWFLAKE_WEBHOOK_SECRET", "text": "SNOWFLAKE_WEBHOOK_MESSAGE"}',
        ),
        webhook_secret=NAME,
    )
    await catalog.put_integration(hook, replace=True, now=NOW)


async def test_the_secret_replaces_the_placeholder_in_url_header_and_body(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher
) -> None:
    await put_secret(catalog, SecretSource.STRING, VALUE)
    await put_hook(catalog, receiver)
    queued = item()
    await catalog.enqueue_notifications([queued])
    assert await dispatcher.run_once() == 1
    [got] = receiver.requests
    assert got.path == f"/services/{VALUE}"
    assert got.headers["Authorization"] == f"Bearer {VALUE}"
    assert got.json() == {"routing_key": VALUE, "text": queued.payload}
    [attempt] = await catalog.notification_history()
    assert (attempt.status_code, attempt.error, attempt.state) == (200, None, OutboxState.DELIVERED)


@pytest.mark.parametrize("source", [SecretSource.ENV, SecretSource.FILE])
async def test_the_value_is_read_from_an_environment_variable_or_a_file(
    catalog: Catalog,
    receiver: Receiver,
    dispatcher: NotificationDispatcher,
    source: SecretSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if source is SecretSource.ENV:
        monkeypatch.setenv("TASKSQL_TEST_SLACK_SECRET", VALUE)
        await put_secret(catalog, source, "TASKSQL_TEST_SLACK_SECRET")
    else:
        (tmp_path / "slack.txt").write_text(VALUE + "\n", encoding="utf-8")  # relative: the data directory's
        await put_secret(catalog, source, "slack.txt")
    await put_hook(catalog, receiver)
    await catalog.enqueue_notifications([item()])
    assert await dispatcher.run_once() == 1
    [got] = receiver.requests
    assert got.path == f"/services/{VALUE}" and got.headers["Authorization"] == f"Bearer {VALUE}"


async def test_a_missing_secret_fails_the_attempt_clearly_and_is_retried(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_hook(catalog, receiver)  # the secret was dropped, or never made
    await catalog.enqueue_notifications([item()])
    assert await dispatcher.run_once() == 1
    assert receiver.requests == []
    [attempt] = await catalog.notification_history()
    assert attempt.state is OutboxState.PENDING and attempt.status_code is None
    assert attempt.error is not None
    assert (
        "notification integration hook: its WEBHOOK_SECRET secrets_db.s.slack does not exist" in attempt.error
    )
    assert "CREATE SECRET secrets_db.s.slack" in attempt.error

    await put_secret(catalog, SecretSource.ENV, "TASKSQL_TEST_UNSET_VARIABLE")
    clock.advance(1.0)
    assert await dispatcher.run_once() == 1
    latest = (await catalog.notification_history())[0]
    assert latest.error is not None and "environment variable TASKSQL_TEST_UNSET_VARIABLE" in latest.error

    await put_secret(catalog, SecretSource.STRING, VALUE)  # fixed in time: the retry delivers
    clock.advance(2.0)
    assert await dispatcher.run_once() == 1
    assert [r.path for r in receiver.requests] == [f"/services/{VALUE}"]
    assert (await catalog.list_notifications())[0].state is OutboxState.DELIVERED


async def test_an_answer_that_echoes_the_secret_is_recorded_masked(
    catalog: Catalog,
    receiver: Receiver,
    dispatcher: NotificationDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await put_secret(catalog, SecretSource.STRING, VALUE)
    await put_hook(catalog, receiver)
    receiver.echo = True
    receiver.script.append(500)
    await catalog.enqueue_notifications([item()])
    with caplog.at_level(logging.DEBUG, logger="tasksql"):
        assert await dispatcher.run_once() == 1
    [attempt] = await catalog.notification_history()
    assert attempt.error is not None and attempt.error.startswith("HTTP 500: answer 500: /services/")
    assert "********" in attempt.error and "SECRET" not in attempt.error
    assert all(VALUE not in record.getMessage() for record in caplog.records)
    assert any("attempt 1 of message" in record.getMessage() for record in caplog.records)
