"""The catalog contract for the notification outbox: queued with the run outcome in one transaction,
leased claims, recorded attempts, history, pruning and the in-process wake-up.

Written against the :class:`~tasksql.catalog.Catalog` interface only; every backend runs it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from catalog_support import NOW, create, ended, fire_run, item, later, put_integration

from conftest import CatalogFactory
from tasksql.catalog import Catalog
from tasksql.errors import CatalogError, TasksqlError
from tasksql.model import RunState, TaskRecord, TaskState
from tasksql.model.outbox import AttemptResult, DeliveryAttempt, OutboxState
from tasksql.model.run import RunOutcome, RunRecord, TaskRuntime

URL = "http://127.0.0.1:9/hook"


async def create_task(catalog: Catalog, **changes: object) -> TaskRecord:
    return await create(catalog, "my_task", state=TaskState.STARTED, **changes)


def failed(run: RunRecord) -> RunOutcome:
    return ended(run, RunState.FAILED, error_code="22012", error_message="Division by zero!")


def attempt(
    message_id: str, result: AttemptResult, *, node: str = "node-a", n: int = 1, **kw: object
) -> DeliveryAttempt:
    return DeliveryAttempt(
        message_id=message_id,
        node_id=node,
        attempt=n,
        result=result,
        sent_at=kw.pop("sent_at", NOW),  # type: ignore[arg-type]
        duration_ms=12.5,
        **kw,  # type: ignore[arg-type]
    )


async def test_finish_run_queues_notifications_with_the_outcome(catalog: Catalog) -> None:
    await put_integration(catalog, "hook", URL)
    record = await create_task(catalog, error_integration="hook")
    run = await fire_run(catalog, record)
    queued = [item(), item()]

    settled = await catalog.finish_run(
        failed(run), TaskRuntime(task_id=record.id, consecutive_failures=1), queued
    )

    assert settled
    stored_run = await catalog.get_run(run.run_id)
    assert stored_run is not None and stored_run.state is RunState.FAILED
    messages = await catalog.list_notifications()
    assert sorted(m.message_id for m in messages) == sorted(i.message_id for i in queued)
    for m in messages:
        assert (m.state, m.attempts, m.next_attempt_at, m.leased_by) == (OutboxState.PENDING, 0, NOW, None)
        assert m.payload == next(i.payload for i in queued if i.message_id == m.message_id)


async def test_outcome_and_notifications_commit_together_or_not_at_all(catalog: Catalog) -> None:
    record = await create_task(catalog)
    run = await fire_run(catalog, record)
    broken = replace(item(), payload=None)  # violates NOT NULL inside the same transaction

    with pytest.raises(TasksqlError):
        await catalog.finish_run(failed(run), None, [item(), broken])

    stored = await catalog.get_run(run.run_id)
    assert stored is not None and stored.state is RunState.EXECUTING  # the outcome rolled back too
    assert await catalog.list_notifications() == []
    # and a later, valid settlement commits both
    assert await catalog.finish_run(failed(run), None, [item()])
    assert len(await catalog.list_notifications()) == 1


async def test_an_already_settled_run_queues_nothing_again(catalog: Catalog) -> None:
    record = await create_task(catalog)
    run = await fire_run(catalog, record)
    assert await catalog.finish_run(failed(run), None, [item()])

    assert not await catalog.finish_run(failed(run), None, [item()])

    assert len(await catalog.list_notifications()) == 1


async def test_finish_run_without_notifications_still_works(catalog: Catalog) -> None:
    record = await create_task(catalog)
    run = await fire_run(catalog, record)
    assert await catalog.finish_run(failed(run), None)
    assert await catalog.list_notifications() == []


async def test_enqueue_is_idempotent_by_message_id(catalog: Catalog) -> None:
    one = item()
    await catalog.enqueue_notifications([one])
    await catalog.enqueue_notifications([replace(one, payload='{"changed": true}')])
    [stored] = await catalog.list_notifications()
    assert stored.payload == one.payload


async def test_claim_leases_due_messages_to_one_node_until_the_lease_ends(catalog: Catalog) -> None:
    await put_integration(catalog, "hook", URL)
    early, late = item(created_at=NOW), item(created_at=later(10))
    await catalog.enqueue_notifications([late, early])

    claimed = await catalog.claim_notifications("node-a", now=later(1), lease_seconds=30, limit=10)
    assert [m.message_id for m in claimed] == [early.message_id]  # the other is not due yet
    assert claimed[0].leased_by == "node-a" and claimed[0].lease_until == later(31)

    # while the lease runs, nobody else gets it
    meanwhile = await catalog.claim_notifications("node-b", now=later(30), lease_seconds=30, limit=10)
    assert [m.message_id for m in meanwhile] == [late.message_id]
    # after it ends, another node may take it over (the first dispatcher is presumed dead)
    [taken] = await catalog.claim_notifications("node-b", now=later(31), lease_seconds=30, limit=10)
    assert (taken.message_id, taken.leased_by) == (early.message_id, "node-b")


async def test_claim_respects_the_limit_and_hands_out_earliest_due_first(catalog: Catalog) -> None:
    await put_integration(catalog, "hook", URL)
    items = [item(created_at=later(-i)) for i in range(5)]
    await catalog.enqueue_notifications(items)

    first = await catalog.claim_notifications("a", now=NOW, lease_seconds=60, limit=2)
    second = await catalog.claim_notifications("b", now=NOW, lease_seconds=60, limit=10)

    expected = [i.message_id for i in sorted(items, key=lambda i: i.created_at)]
    assert [m.message_id for m in first] == expected[:2]
    assert [m.message_id for m in second] == expected[2:]
    assert await catalog.claim_notifications("c", now=NOW, lease_seconds=60, limit=0) == []


async def test_messages_of_a_disabled_integration_wait_until_it_is_enabled(catalog: Catalog) -> None:
    await put_integration(catalog, "hook", URL, enabled=False)
    queued = item()
    await catalog.enqueue_notifications([queued])

    assert await catalog.claim_notifications("a", now=later(60), lease_seconds=60, limit=10) == []
    assert await catalog.next_notification_due() is None

    await put_integration(catalog, "hook", URL, enabled=True)
    [claimed] = await catalog.claim_notifications("a", now=later(60), lease_seconds=60, limit=10)
    assert claimed.message_id == queued.message_id


async def test_messages_of_a_dropped_integration_are_claimable_so_they_can_be_given_up(
    catalog: Catalog,
) -> None:
    queued = item("gone")
    await catalog.enqueue_notifications([queued])
    [claimed] = await catalog.claim_notifications("a", now=NOW, lease_seconds=60, limit=10)
    assert claimed.message_id == queued.message_id


async def test_record_attempts_retry_then_deliver_with_history(catalog: Catalog) -> None:
    await put_integration(catalog, "hook", URL)
    queued = item()
    await catalog.enqueue_notifications([queued])
    await catalog.claim_notifications("node-a", now=NOW, lease_seconds=60, limit=1)

    assert await catalog.record_notification_attempt(
        attempt(queued.message_id, AttemptResult.RETRY, status_code=500, error="HTTP 500", retry_at=later(1))
    )
    [pending] = await catalog.list_notifications()
    assert (pending.state, pending.attempts, pending.next_attempt_at) == (OutboxState.PENDING, 1, later(1))
    assert (pending.leased_by, pending.lease_until, pending.last_error) == (None, None, "HTTP 500")
    assert await catalog.next_notification_due() == later(1)
    assert await catalog.claim_notifications("node-a", now=NOW, lease_seconds=60, limit=1) == []

    [again] = await catalog.claim_notifications("node-a", now=later(1), lease_seconds=60, limit=1)
    assert again.attempts == 1
    assert await catalog.record_notification_attempt(
        attempt(queued.message_id, AttemptResult.DELIVERED, n=2, status_code=204, sent_at=later(1))
    )

    [done] = await catalog.list_notifications(state=OutboxState.DELIVERED)
    assert (done.attempts, done.delivered_at, done.last_error) == (2, later(1), None)
    assert await catalog.next_notification_due() is None
    history = await catalog.notification_history(message_id=queued.message_id)
    assert [(h.attempt, h.status_code, h.error, h.state, h.event_type) for h in history] == [
        (2, 204, None, OutboxState.DELIVERED, "TASK_FAILED"),
        (1, 500, "HTTP 500", OutboxState.DELIVERED, "TASK_FAILED"),
    ]
    assert history[0].integration == "hook" and history[0].duration_ms == 12.5


async def test_give_up_marks_the_message_failed(catalog: Catalog) -> None:
    queued = item()
    await catalog.enqueue_notifications([queued])
    await catalog.claim_notifications("node-a", now=NOW, lease_seconds=60, limit=1)

    await catalog.record_notification_attempt(
        attempt(queued.message_id, AttemptResult.GIVE_UP, status_code=404, error="HTTP 404")
    )

    [gone] = await catalog.list_notifications(state=OutboxState.FAILED)
    assert (gone.attempts, gone.last_error) == (1, "HTTP 404")
    assert await catalog.claim_notifications("node-a", now=later(3600), lease_seconds=60, limit=1) == []


async def test_a_lost_lease_records_history_but_leaves_the_message_to_its_new_holder(
    catalog: Catalog,
) -> None:
    queued = item()
    await catalog.enqueue_notifications([queued])
    await catalog.claim_notifications("node-a", now=NOW, lease_seconds=10, limit=1)
    await catalog.claim_notifications("node-b", now=later(10), lease_seconds=10, limit=1)

    late_retry = attempt(queued.message_id, AttemptResult.RETRY, error="timeout", retry_at=later(20))
    assert not await catalog.record_notification_attempt(late_retry)
    [held] = await catalog.list_notifications()
    assert (held.leased_by, held.attempts) == ("node-b", 0)

    # a delivery counts whoever made it: the message is never sent again
    assert await catalog.record_notification_attempt(attempt(queued.message_id, AttemptResult.DELIVERED))
    [done] = await catalog.list_notifications()
    assert done.state is OutboxState.DELIVERED
    assert not await catalog.record_notification_attempt(
        attempt(queued.message_id, AttemptResult.RETRY, node="node-b", error="x", retry_at=later(30))
    )
    assert (await catalog.list_notifications())[0].state is OutboxState.DELIVERED
    assert len(await catalog.notification_history()) == 3


async def test_history_filters_and_limit(catalog: Catalog) -> None:
    a, b = item("one"), item("two")
    await catalog.enqueue_notifications([a, b])
    await catalog.claim_notifications("n", now=NOW, lease_seconds=60, limit=2)
    for message, when in ((a, 1), (b, 2)):
        await catalog.record_notification_attempt(
            attempt(message.message_id, AttemptResult.DELIVERED, node="n", sent_at=later(when))
        )

    assert [h.message_id for h in await catalog.notification_history()] == [b.message_id, a.message_id]
    assert [h.message_id for h in await catalog.notification_history(integration="one")] == [a.message_id]
    assert len(await catalog.notification_history(limit=1)) == 1


async def test_prune_deletes_old_settled_messages_and_their_history_only(catalog: Catalog) -> None:
    old_done, old_pending, new_done = item(), item(), item(created_at=later(100))
    await catalog.enqueue_notifications([old_done, old_pending, new_done])
    await catalog.claim_notifications("n", now=later(100), lease_seconds=60, limit=3)
    for message in (old_done, new_done):
        await catalog.record_notification_attempt(
            attempt(message.message_id, AttemptResult.DELIVERED, node="n")
        )

    assert await catalog.prune_notifications(later(50)) == 1

    remaining = {m.message_id for m in await catalog.list_notifications()}
    assert remaining == {old_pending.message_id, new_done.message_id}
    assert {h.message_id for h in await catalog.notification_history()} == {new_done.message_id}


async def test_wait_for_notifications_wakes_when_messages_commit(catalog: Catalog) -> None:
    assert not await catalog.wait_for_notifications(0.05)

    waiter = asyncio.create_task(catalog.wait_for_notifications(30))
    await asyncio.sleep(0)
    record = await create_task(catalog)
    run = await fire_run(catalog, record)
    await catalog.finish_run(failed(run), None, [item()])
    assert await waiter

    # queued while nobody waited: the next wait returns at once, then the signal is consumed
    await catalog.enqueue_notifications([item()])
    assert await catalog.wait_for_notifications(30)
    assert not await catalog.wait_for_notifications(0.05)


async def test_outbox_survives_reopening_the_catalog(
    catalog: Catalog, catalog_factory: CatalogFactory
) -> None:
    queued = item()
    await catalog.enqueue_notifications([queued])
    await catalog.close()
    async with catalog_factory() as second:
        [stored] = await second.list_notifications()
    assert stored.message_id == queued.message_id and stored.payload == queued.payload


def test_attempt_values_are_checked() -> None:
    with pytest.raises(CatalogError) as info:
        attempt("m", AttemptResult.RETRY)
    assert info.value.code == "INVALID_ATTEMPT"
    with pytest.raises(CatalogError):
        attempt("m", AttemptResult.DELIVERED, n=0)
