"""Fixtures of the end-to-end tests: servers that are always stopped, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_support import ServerProcess


@pytest.fixture
def spawn() -> Iterator[Callable[..., ServerProcess]]:
    """``spawn(data_dir, **env)`` starts ``tasksql serve``; every server left running is killed."""
    started: list[ServerProcess] = []

    def start(data: Path, **env: str) -> ServerProcess:
        server = ServerProcess(data, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()
