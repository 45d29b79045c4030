"""Helpers shared by the warehouse tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

#: A statement per backend that would run for hours (or forever) unless interrupted.
SLOW = {
    "duckdb": "SELECT sum(hash(i)) FROM range(1000000000000) t(i)",
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT sum(i) FROM r",
    "postgres": "SELECT pg_sleep(3600)",
}


async def until(predicate: Callable[[], bool], within: float = 30.0) -> bool:
    """Poll ``predicate`` on the event loop until it holds; False if it did not within ``within`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.01)
    return True
