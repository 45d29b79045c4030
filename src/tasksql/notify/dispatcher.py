"""The notification dispatcher: delivers the catalog's outbox to webhooks, with retries.

Run outcomes queue their messages in the catalog's outbox in the outcome's own transaction; the
dispatcher delivers them later, in its own asyncio task with its own HTTP session, at most
``concurrency`` requests at a time. The scheduler never waits for it, so a dead or hanging
endpoint cannot delay any task's start.

Delivery is *at least once*:

* a message is claimed with a lease in the catalog (``LEASE_S`` seconds, longer than the request
  timeout), so two dispatchers on one catalog, in one process or many, never hold the same message
  at once;
* every attempt, successful or not, is recorded with the message's new state in one transaction
  (``system.notification_history``);
* a failed attempt is retried with exponential backoff (:mod:`tasksql.notify.backoff`), and given
  up after a bounded number of attempts or age;
* a dispatcher that dies mid-attempt leaves the lease to expire and the message is sent again, so
  a receiver may see a message twice: it de-duplicates by ``messageId``, which never changes.

Ordering is not guaranteed: messages are claimed earliest due first and sent concurrently, and a
retried message comes after newer ones.

The dispatcher wakes at once when this process queues messages (the catalog's in-process signal,
:meth:`~tasksql.catalog.base.Catalog.wait_for_notifications`) and otherwise polls the catalog
every ``POLL_S`` seconds, with a read, for messages queued by other processes and for retries
falling due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiohttp

from tasksql.catalog.base import Catalog
from tasksql.clock import SYSTEM_CLOCK, Clock, monotonic
from tasksql.display import round_ms
from tasksql.errors import CatalogError, TasksqlError
from tasksql.model import IntegrationDef
from tasksql.model.outbox import AttemptResult, DeliveryAttempt, OutboxMessage
from tasksql.model.secret import redacted, substituted
from tasksql.notify import webhook
from tasksql.notify.backoff import RetryPolicy
from tasksql.notify.secrets import secret_value
from tasksql.settings import Settings

log = logging.getLogger("tasksql.notify")

#: Requests in flight at once, over all integrations.
DEFAULT_CONCURRENCY = 8
#: Seconds between two looks at the catalog when nothing wakes the dispatcher.
POLL_S = 1.0
#: Seconds a claimed message is held; must exceed the request timeout (it does, 6 times over).
LEASE_S = 60.0
#: Seconds between two prunings of settled messages.
PRUNE_EVERY_S = 600.0
#: Settled messages (and their attempts) older than this are pruned.
DEFAULT_RETENTION = timedelta(days=7)
#: Seconds in-flight requests get to finish when the dispatcher stops.
STOP_GRACE_S = 5.0


class NotificationDispatcher:
    """Delivers due outbox messages of ``catalog``; see the module documentation.

    :param node_id: the lease holder's name; unique per dispatcher (the node id of the process).
    :param timeout_s: seconds one request may take.
    :param retention: settled messages older than this are pruned (``None``: never).
    :param data_dir: the data directory, where a secret's relative ``FILE`` path starts.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock = SYSTEM_CLOCK,
        node_id: str,
        policy: RetryPolicy | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout_s: float = webhook.DEFAULT_TIMEOUT_S,
        lease_s: float = LEASE_S,
        poll_s: float = POLL_S,
        retention: timedelta | None = DEFAULT_RETENTION,
        data_dir: Path | None = None,
    ) -> None:
        if concurrency < 1:
            raise TasksqlError("a dispatcher needs a concurrency of at least 1", code="CONFIG_ERROR")
        self.catalog = catalog
        self.clock = clock
        self.node_id = node_id
        self.policy = policy or RetryPolicy()
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        # A lease shorter than a request would let a second dispatcher send the message meanwhile.
        self.lease_s = max(lease_s, 2 * timeout_s)
        self.poll_s = poll_s
        self.retention = retention
        self.data_dir = data_dir  # where a secret's relative FILE path starts
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_prune = -math.inf

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering in the background (idempotent). Returns at once."""
        if self._loop_task is None or self._loop_task.done():
            self._stopping = False
            self._wake = asyncio.Event()
            self._loop_task = asyncio.create_task(self._loop(), name="tasksql-notify")

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop the loop; in-flight requests get ``grace`` seconds, then are cancelled (their
        messages are sent again after the lease expires). Closes the HTTP session. Idempotent."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Requests being made now."""
        return len(self._inflight)

    # --- one round -------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim the due messages that fit in the free slots, deliver them concurrently, wait for
        them, and return how many were claimed. Catalog errors propagate."""
        tasks = await self._claim_and_spawn()
        if tasks:
            await asyncio.wait(tasks)
        return len(tasks)

    async def _claim_and_spawn(self) -> list[asyncio.Task[None]]:
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return []
        messages = await self.catalog.claim_notifications(
            self.node_id, now=self.clock.now(), lease_seconds=self.lease_s, limit=free
        )
        if not messages:
            return []
        integrations = await self._integrations(messages)
        tasks = []
        for message in messages:
            task = asyncio.create_task(self._deliver(message, integrations.get(message.integration)))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            tasks.append(task)
        return tasks

    async def _integrations(self, messages: Sequence[OutboxMessage]) -> dict[str, IntegrationDef | None]:
        return {name: await self.catalog.get_integration(name) for name in {m.integration for m in messages}}

    # --- one message -----------------------------------------------------------------------------

    async def _deliver(self, message: OutboxMessage, integration: IntegrationDef | None) -> None:
        """Make one attempt and record it; never raises (a failure to record is logged, and the
        message is tried again when its lease expires)."""
        if integration is not None and not integration.enabled:
            return  # disabled since the claim: the lease runs out and the message waits
        attempt = message.attempts + 1
        sent_at = self.clock.now()
        started = monotonic()
        status: int | None = None
        error: str | None = None
        retry_at: datetime | None = None
        if integration is None or integration.webhook is None:
            result = AttemptResult.GIVE_UP
            error = f"notification integration {message.integration} " + (
                "no longer exists" if integration is None else "has no webhook"
            )
        else:
            value: str | None = None
            try:
                value = await secret_value(self.catalog, integration, self.data_dir)
                hook = integration.webhook if value is None else substituted(integration.webhook, value)
                answer = await webhook.send(
                    self._http(),
                    hook,
                    message_id=message.message_id,
                    event_type=message.event_type,
                    payload=message.payload,
                    now=sent_at,
                    timeout_s=self.timeout_s,
                    secret=value,
                )
                result, status = AttemptResult.DELIVERED, answer.status_code
            except webhook.WebhookFailed as err:
                # a receiver's answer may echo what it was sent: the secret's value is masked
                status, error = err.status_code, redacted(err.message, value)
                retry_at = self.policy.next_attempt(
                    attempt=attempt,
                    created_at=message.created_at,
                    now=self.clock.now(),
                    retryable=err.retryable,
                    retry_after=err.retry_after,
                )
                result = AttemptResult.GIVE_UP if retry_at is None else AttemptResult.RETRY
            except Exception as err:  # a bug must cost one attempt, never the dispatcher
                if value is None:
                    log.exception("delivery attempt of message %s failed unexpectedly", message.message_id)
                else:  # the exception's text may hold the URL, with the secret in it
                    log.error(
                        "delivery attempt of message %s failed unexpectedly (%s)",
                        message.message_id,
                        type(err).__name__,
                    )
                error = f"unexpected error: {type(err).__name__}"
                retry_at = self.policy.next_attempt(
                    attempt=attempt, created_at=message.created_at, now=self.clock.now(), retryable=True
                )
                result = AttemptResult.GIVE_UP if retry_at is None else AttemptResult.RETRY
        record = DeliveryAttempt(
            message_id=message.message_id,
            node_id=self.node_id,
            attempt=attempt,
            result=result,
            sent_at=sent_at,
            duration_ms=round_ms((monotonic() - started) * 1000.0),
            status_code=status,
            error=error,
            retry_at=retry_at,
        )
        self._log(message, record)
        self.catalog.observers.delivery(message.integration, result.value)
        try:
            await self.catalog.record_notification_attempt(record)
        except TasksqlError:
            log.exception("could not record delivery attempt %d of message %s", attempt, message.message_id)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency))
        return self._session

    @staticmethod
    def _log(message: OutboxMessage, record: DeliveryAttempt) -> None:
        # Integration name and message id only: URLs and headers may hold secrets.
        extra = {"action": "notify", "integration": message.integration, "message_id": message.message_id}
        if record.result is AttemptResult.GIVE_UP:
            log.warning(
                "gave up %s message %s for %s after attempt %d: %s",
                message.event_type,
                message.message_id,
                message.integration,
                record.attempt,
                record.error,
                extra=extra,
            )
        elif record.result is AttemptResult.RETRY:
            log.info(
                "attempt %d of message %s for %s failed (%s); retrying at %s",
                record.attempt,
                message.message_id,
                message.integration,
                record.error,
                record.retry_at.isoformat() if record.retry_at else "?",
                extra=extra,
            )

    # --- the loop --------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            wait_s = self.poll_s
            try:
                wait_s = await self._step()
                await self._maybe_prune()
            except Exception as exc:  # the catalog may fail for a while; the loop must outlive it
                if isinstance(exc, CatalogError) and exc.code == "CATALOG_UNAVAILABLE":
                    # an outage: the catalog logs it once; wait for its end rather than poll it
                    log.debug("notification dispatcher round failed: %s", exc)
                    await self.catalog.wait_reachable(self.poll_s)
                else:
                    log.exception("notification dispatcher round failed; retrying")
            await self._sleep(wait_s)

    async def _step(self) -> float:
        """Claim and start what is due; return how long to wait before looking again.

        Idle, this is one read per poll (no write): the claim runs only when a message is due.
        """
        if len(self._inflight) >= self.concurrency:
            return self.poll_s  # a finishing request wakes the loop
        due = await self.catalog.next_notification_due()
        now = self.clock.now()
        if due is None:
            return self.poll_s
        if due <= now:
            await self._claim_and_spawn()
            return self.poll_s
        return min(self.poll_s, (due - now).total_seconds())

    async def _sleep(self, seconds: float) -> None:
        """Until ``seconds`` pass, messages are queued in this process, :meth:`wake`, or a request
        ends (a slot frees up)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        if self._wake.is_set():
            self._wake.clear()
            return
        waiters = {
            asyncio.ensure_future(self.catalog.wait_for_notifications(seconds)),
            asyncio.ensure_future(self._wake.wait()),
        }
        try:
            await asyncio.wait(
                waiters | set(self._inflight), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wake.clear()

    async def _maybe_prune(self) -> None:
        if self.retention is None or monotonic() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = monotonic()
        pruned = await self.catalog.prune_notifications(self.clock.now() - self.retention)
        if pruned:
            log.info("pruned %d settled notification message(s)", pruned)


class _EngineLike(Protocol):
    """What :func:`start_dispatcher` needs of an engine (an :class:`~tasksql.engine.Engine`)."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def settings(self) -> Settings: ...


async def start_dispatcher(
    engine: _EngineLike,
    *,
    policy: RetryPolicy | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout_s: float = webhook.DEFAULT_TIMEOUT_S,
) -> NotificationDispatcher:
    """Start a dispatcher for an engine's catalog, with the engine's clock, node id and history
    retention (``history_retention_days``). Stop it with ``await dispatcher.stop()`` before the
    engine closes its catalog (the engine's scheduler start and stop are the places)."""
    settings = engine.settings
    dispatcher = NotificationDispatcher(
        engine.catalog,
        clock=engine.clock,
        node_id=settings.effective_node_id,
        policy=policy,
        concurrency=concurrency,
        timeout_s=timeout_s,
        retention=timedelta(days=settings.history_retention_days),
        data_dir=settings.data_dir,
    )
    await dispatcher.start()
    return dispatcher
