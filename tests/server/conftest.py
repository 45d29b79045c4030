"""The API in-process: an aiohttp test server (real HTTP on 127.0.0.1) on a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Client

from tasksql.engine import Engine
from tasksql.server.api import create_app
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as engine:
        await engine.start_scheduler()
        yield engine


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(engine))) as c:
        yield c
