"""Fixtures of the shell tests: a data directory, a connection to it, a shell writing to buffers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shell_support import Buffers

from catalog_choice import catalog_env
from tasksql.connection import Connection
from tasksql.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(env=catalog_env(), data_dir=tmp_path / "data")


@pytest.fixture
def conn(settings: Settings) -> Iterator[Connection]:
    with Connection(settings) as connection:
        yield connection


@pytest.fixture
def buffers(conn: Connection) -> Buffers:
    return Buffers(conn)
