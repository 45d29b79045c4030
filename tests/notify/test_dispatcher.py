"""The dispatcher against a real local receiver: delivery, retries with backoff on the injected
clock, de-duplication ids, outages, disabled integrations, two dispatchers, the background loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from notify_support import NOW, item, later, put_integration
from receiver import HANG, Receiver

from tasksql.catalog import Catalog
from tasksql.model.outbox import OutboxState
from tasksql.notify.backoff import RetryPolicy
from tasksql.notify.dispatcher import NotificationDispatcher
from tasksql.testing import FakeClock


@pytest.fixture
async def dispatcher(catalog: Catalog, clock: FakeClock) -> AsyncIterator[NotificationDispatcher]:
    d = NotificationDispatcher(catalog, clock=clock, node_id="node-a", timeout_s=0.5)
    try:
        yield d
    finally:
        await d.stop()


async def states(catalog: Catalog) -> Counter[OutboxState]:
    return Counter(m.state for m in await catalog.list_notifications())


async def test_queued_messages_are_delivered_and_recorded(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher
) -> None:
    await put_integration(catalog, "hook", receiver.url, authorization_header="Bearer abc")
    queued = [item(n=i) for i in range(3)]
    await catalog.enqueue_notifications(queued)

    assert await dispatcher.run_once() == 3
    assert await dispatcher.run_once() == 0

    assert receiver.delivered_ids() == Counter({i.message_id: 1 for i in queued})
    assert {r.body.decode() for r in receiver.requests} == {i.payload for i in queued}
    assert await states(catalog) == Counter({OutboxState.DELIVERED: 3})
    history = await catalog.notification_history()
    assert (
        sorted((h.attempt, h.status_code, h.error, h.state) for h in history)
        == [(1, 200, None, OutboxState.DELIVERED)] * 3
    )
    assert all(h.sent_at == NOW for h in history)


async def test_a_500_is_retried_with_backoff_and_the_same_message_id(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    queued = item()
    await catalog.enqueue_notifications([queued])
    receiver.script.extend([500, 500])

    assert await dispatcher.run_once() == 1  # attempt 1: 500, retry in 1 s
    assert await dispatcher.run_once() == 0  # not due yet
    clock.advance(0.999)
    assert await dispatcher.run_once() == 0
    clock.advance(0.001)
    assert await dispatcher.run_once() == 1  # attempt 2: 500, retry in 2 s
    clock.advance(1.5)
    assert await dispatcher.run_once() == 0
    clock.advance(0.5)
    assert await dispatcher.run_once() == 1  # attempt 3: 200

    assert [r.answer for r in receiver.requests] == [500, 500, 200]
    assert {r.message_id for r in receiver.requests} == {queued.message_id}
    assert {r.json()["messageId"] for r in receiver.requests} == {queued.message_id}
    history = await catalog.notification_history(message_id=queued.message_id)
    assert [(h.attempt, h.status_code, h.error) for h in reversed(history)] == [
        (1, 500, "HTTP 500: answer 500"),
        (2, 500, "HTTP 500: answer 500"),
        (3, 200, None),
    ]
    assert [h.sent_at for h in reversed(history)] == [NOW, later(1), later(3)]
    assert await states(catalog) == Counter({OutboxState.DELIVERED: 1})


async def test_a_hanging_receiver_times_out_and_the_message_is_retried(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    queued = item()
    await catalog.enqueue_notifications([queued])
    receiver.script.append(HANG)

    assert await dispatcher.run_once() == 1
    [message] = await catalog.list_notifications()
    assert (message.state, message.attempts, message.last_error) == (
        OutboxState.PENDING,
        1,
        "no answer within 0.5 s",
    )
    clock.advance(1)
    assert await dispatcher.run_once() == 1

    assert receiver.delivered_ids() == Counter({queued.message_id: 1})
    assert [r.message_id for r in receiver.requests] == [queued.message_id] * 2
    [last, first] = await catalog.notification_history()
    assert (first.status_code, first.error, last.status_code) == (None, "no answer within 0.5 s", 200)


async def test_a_receiver_that_is_down_for_a_while_gets_every_message_once_back(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    await receiver.stop()
    queued = [item(n=i) for i in range(5)]
    await catalog.enqueue_notifications(queued)

    # ten minutes of outage: every attempt is refused and rescheduled
    for _ in range(60):
        await dispatcher.run_once()
        clock.advance(10)
    pending = await catalog.list_notifications()
    assert {m.state for m in pending} == {OutboxState.PENDING}
    assert min(m.attempts for m in pending) >= 8

    await receiver.start()
    for _ in range(31):
        await dispatcher.run_once()
        clock.advance(10)

    assert receiver.delivered_ids() == Counter({i.message_id: 1 for i in queued})
    assert await states(catalog) == Counter({OutboxState.DELIVERED: 5})
    refused = [h for h in await catalog.notification_history() if h.status_code is None]
    assert refused and all(h.error and h.error.startswith("connection failed") for h in refused)


async def test_client_errors_are_given_up_at_once(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    await catalog.enqueue_notifications([item()])
    receiver.status = 404

    await dispatcher.run_once()
    clock.advance(3600)
    assert await dispatcher.run_once() == 0

    [message] = await catalog.list_notifications()
    assert (message.state, message.attempts, message.last_error) == (
        OutboxState.FAILED,
        1,
        "HTTP 404: answer 404",
    )
    assert len(receiver.requests) == 1


async def test_messages_are_given_up_after_the_last_attempt(
    catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    await catalog.enqueue_notifications([item()])
    receiver.status = 503
    d = NotificationDispatcher(catalog, clock=clock, node_id="n", policy=RetryPolicy(max_attempts=3))
    try:
        for _ in range(10):
            await d.run_once()
            clock.advance(60)
    finally:
        await d.stop()
    [message] = await catalog.list_notifications()
    assert (message.state, message.attempts) == (OutboxState.FAILED, 3)
    assert len(receiver.requests) == 3


async def test_a_dropped_integration_gives_its_messages_up(
    catalog: Catalog, dispatcher: NotificationDispatcher
) -> None:
    await catalog.enqueue_notifications([item("gone")])
    await dispatcher.run_once()
    [message] = await catalog.list_notifications()
    assert message.state is OutboxState.FAILED
    assert message.last_error == "notification integration gone no longer exists"


async def test_a_disabled_integration_keeps_its_messages_until_enabled(
    catalog: Catalog, receiver: Receiver, dispatcher: NotificationDispatcher, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    await catalog.enqueue_notifications([item()])
    await put_integration(catalog, "hook", receiver.url, enabled=False)

    for _ in range(3):
        assert await dispatcher.run_once() == 0
        clock.advance(600)
    assert receiver.requests == []

    await put_integration(catalog, "hook", receiver.url, enabled=True)
    assert await dispatcher.run_once() == 1
    assert len(receiver.delivered) == 1


async def test_two_dispatchers_on_one_catalog_deliver_each_message_once(
    new_catalog: Callable[[], Catalog], catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    queued = [item(n=i) for i in range(40)]
    await catalog.enqueue_notifications(queued)
    # a second catalog object on the same storage: what a second process would have
    async with new_catalog() as other:
        first = NotificationDispatcher(catalog, clock=clock, node_id="node-a", concurrency=4)
        second = NotificationDispatcher(other, clock=clock, node_id="node-b", concurrency=4)
        try:
            claimed = Counter[str]()
            while sum(claimed.values()) < len(queued):
                a, b = await asyncio.gather(first.run_once(), second.run_once())
                claimed.update({"a": a, "b": b})
                assert a + b > 0
        finally:
            await first.stop()
            await second.stop()

    assert receiver.delivered_ids() == Counter({i.message_id: 1 for i in queued})
    assert len(receiver.requests) == len(queued)
    assert claimed["a"] > 0 and claimed["b"] > 0


async def test_the_background_loop_wakes_when_messages_are_queued(
    catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    # a poll interval far beyond the test's timeout: only the in-process signal can wake it
    d = NotificationDispatcher(catalog, clock=clock, node_id="n", poll_s=3600)
    await d.start()
    try:
        await asyncio.sleep(0.05)  # the loop is idle, waiting
        queued = item()
        await catalog.enqueue_notifications([queued])
        await receiver.wait_for(1)
        second = item()
        await catalog.enqueue_notifications([second])
        await receiver.wait_for(2)
    finally:
        await d.stop()
    assert [r.message_id for r in receiver.requests] == [queued.message_id, second.message_id]


async def test_the_background_loop_retries_when_due(
    catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    receiver.script.append(500)
    d = NotificationDispatcher(catalog, clock=clock, node_id="n", poll_s=0.05)
    await d.start()
    try:
        await catalog.enqueue_notifications([item()])
        await receiver.wait_for(1)
        clock.advance(1)  # the retry is due: the next poll finds it
        await receiver.wait_for(2)
    finally:
        await d.stop()
    assert [r.answer for r in receiver.requests] == [500, 200]


async def test_stop_does_not_wait_for_a_hanging_receiver_and_the_message_is_sent_later(
    catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    receiver.script.append(HANG)
    queued = item()
    d = NotificationDispatcher(catalog, clock=clock, node_id="node-a", timeout_s=60)
    await d.start()
    await catalog.enqueue_notifications([queued])
    await receiver.wait_for(1)
    assert d.in_flight == 1

    await d.stop(grace=0.1)

    assert d.in_flight == 0
    [held] = await catalog.list_notifications()
    assert (held.state, held.attempts, held.leased_by) == (OutboxState.PENDING, 0, "node-a")
    # once the lease has run out another dispatcher sends it, with the same message id
    clock.advance(120)
    other = NotificationDispatcher(catalog, clock=clock, node_id="node-b")
    try:
        assert await other.run_once() == 1
    finally:
        await other.stop()
    assert [r.message_id for r in receiver.requests] == [queued.message_id] * 2
    assert receiver.delivered_ids() == Counter({queued.message_id: 1})


async def test_the_loop_prunes_old_settled_messages(
    catalog: Catalog, receiver: Receiver, clock: FakeClock
) -> None:
    await put_integration(catalog, "hook", receiver.url)
    await catalog.enqueue_notifications([item()])
    d = NotificationDispatcher(catalog, clock=clock, node_id="n")
    await d.run_once()
    clock.advance(8 * 86_400)  # beyond the default retention of 7 days
    await d.start()
    try:
        for _ in range(200):
            if not await catalog.list_notifications():
                break
            await asyncio.sleep(0.02)
    finally:
        await d.stop()
    assert await catalog.list_notifications() == []
    assert await catalog.notification_history() == []
