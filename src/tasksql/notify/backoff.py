"""When a failed delivery is tried again, and when it is given up (pure arithmetic on instants).

The delay after failed attempt *n* is ``BASE_DELAY_S * 2 ** (n - 1)`` seconds, capped at
``MAX_DELAY_S``: 1 s, 2 s, 4 s, ... 256 s, then 300 s (5 min) between attempts. A receiver's
``Retry-After`` (in seconds) lengthens the delay, within the same cap. A message is given up
(state FAILED) when the failure is not retryable (a 4xx other than 408/429, a redirect, an invalid
URL), after ``MAX_ATTEMPTS`` attempts, or when the next attempt would come more than ``MAX_AGE_S``
after the message was created. With the defaults the 20 attempts span about an hour, so a
receiver that is down for up to an hour still gets every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tasksql.errors import ConfigError

#: Delay after the first failed attempt; each further failure doubles it.
BASE_DELAY_S = 1.0
#: The longest delay between two attempts.
MAX_DELAY_S = 300.0
#: Attempts (the first included) before a message is given up.
MAX_ATTEMPTS = 20
#: A message is not tried later than this many seconds after it was created.
MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The retry schedule of a dispatcher (defaults: the module's constants)."""

    base_delay_s: float = BASE_DELAY_S
    max_delay_s: float = MAX_DELAY_S
    max_attempts: int = MAX_ATTEMPTS
    max_age_s: float = MAX_AGE_S

    def __post_init__(self) -> None:
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError("retry delays must be positive, and the cap at least the first delay")
        if self.max_attempts < 1 or self.max_age_s <= 0:
            raise ConfigError("a retry policy allows at least one attempt and a positive age")

    def delay(self, attempt: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        # Cap the exponent first: 2 ** 1000 is fine for ints but overflows a float multiplication.
        seconds = min(self.base_delay_s * 2.0 ** min(max(attempt - 1, 0), 62), self.max_delay_s)
        if retry_after is not None:
            seconds = min(max(seconds, retry_after), self.max_delay_s)
        return timedelta(seconds=seconds)

    def next_attempt(
        self,
        *,
        attempt: int,
        created_at: datetime,
        now: datetime,
        retryable: bool,
        retry_after: float | None = None,
    ) -> datetime | None:
        """When to make the next attempt after failed attempt number ``attempt`` ended at ``now``,
        or ``None`` to give the message up."""
        if not retryable or attempt >= self.max_attempts:
            return None
        when = now + self.delay(attempt, retry_after)
        if (when - created_at).total_seconds() > self.max_age_s:
            return None
        return when
