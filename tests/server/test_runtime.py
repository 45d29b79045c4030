"""runtime: the interpreter settings the server applies to its own process."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from tasksql.server import runtime
from tasksql.settings import Settings


@pytest.fixture
def restore() -> Iterator[None]:
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    yield
    gc.unfreeze()
    sys.setswitchinterval(interval)
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore")
def test_defaults_shorten_the_switch_interval_and_raise_the_collector_thresholds() -> None:
    runtime.tune_interpreter(Settings.load(env={}))
    assert sys.getswitchinterval() == pytest.approx(0.0002)
    assert gc.get_threshold() == runtime.GC_THRESHOLDS


@pytest.mark.usefixtures("restore")
def test_both_can_be_switched_off() -> None:
    before_interval, before_thresholds = sys.getswitchinterval(), gc.get_threshold()
    settings = Settings.load(env={"TASKSQL_SWITCH_INTERVAL_US": "0", "TASKSQL_GC_TUNING": "off"})
    runtime.tune_interpreter(settings)
    runtime.freeze_startup_heap(settings)
    assert sys.getswitchinterval() == before_interval
    assert gc.get_threshold() == before_thresholds
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restore")
def test_the_startup_heap_is_frozen_until_shutdown() -> None:
    runtime.freeze_startup_heap(Settings.load(env={}))
    assert gc.get_freeze_count() > 1000
    runtime.unfreeze()
    assert gc.get_freeze_count() == 0
