"""The retry schedule: exponential delays with a cap, Retry-After, and giving up (injected clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasksql.errors import ConfigError
from tasksql.notify.backoff import MAX_ATTEMPTS, MAX_DELAY_S, RetryPolicy
from tasksql.testing import FakeClock

POLICY = RetryPolicy()


def test_delays_double_from_one_second_up_to_five_minutes() -> None:
    delays = [POLICY.delay(n).total_seconds() for n in range(1, 13)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert POLICY.delay(10_000) == timedelta(seconds=MAX_DELAY_S)


def test_retry_after_lengthens_the_delay_within_the_cap() -> None:
    assert POLICY.delay(1, retry_after=30).total_seconds() == 30
    assert POLICY.delay(9, retry_after=30).total_seconds() == 256  # backoff already longer
    assert POLICY.delay(1, retry_after=86_400).total_seconds() == MAX_DELAY_S


def test_next_attempts_walk_the_schedule_on_the_clock_and_stop_after_max_attempts() -> None:
    clock = FakeClock("2026-01-01T00:00:00+00:00")
    created = clock.now()
    instants = []
    attempt = 1
    while when := POLICY.next_attempt(attempt=attempt, created_at=created, now=clock.now(), retryable=True):
        instants.append(round((when - created).total_seconds()))
        clock.set(when)
        attempt += 1
    assert attempt == MAX_ATTEMPTS
    assert instants[:10] == [1, 3, 7, 15, 31, 63, 127, 255, 511, 811]
    assert len(instants) == MAX_ATTEMPTS - 1
    assert instants[-1] == 511 + 10 * 300  # about an hour of retries in all


def test_not_retryable_failures_are_given_up_at_once() -> None:
    clock = FakeClock()
    assert POLICY.next_attempt(attempt=1, created_at=clock.now(), now=clock.now(), retryable=False) is None


def test_messages_older_than_the_max_age_are_given_up() -> None:
    clock = FakeClock()
    created = clock.now()
    policy = RetryPolicy(max_age_s=60)
    assert (
        policy.next_attempt(attempt=1, created_at=created, now=clock.advance(58), retryable=True) is not None
    )
    assert policy.next_attempt(attempt=1, created_at=created, now=clock.advance(1.5), retryable=True) is None


def test_bad_policies_are_refused() -> None:
    for kw in ({"base_delay_s": 0}, {"max_delay_s": 0.5}, {"max_attempts": 0}, {"max_age_s": 0}):
        with pytest.raises(ConfigError):
            RetryPolicy(**kw)  # type: ignore[arg-type]
