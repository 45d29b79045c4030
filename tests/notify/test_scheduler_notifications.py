"""The whole path in real time: a scheduled task fails, auto-suspends, is fixed and recovers; the
receiver gets TASK_FAILED, TASK_AUTO_SUSPENDED, TASK_SUCCEEDED and TASK_RECOVERED."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from receiver import Receiver

from tasksql.engine import Engine
from tasksql.settings import Settings

pytestmark = pytest.mark.realtime


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=1.0)) as e:
        yield e


async def test_failure_auto_suspend_and_recovery_reach_the_receiver(
    engine: Engine, receiver: Receiver
) -> None:
    await engine.execute(
        f"""
        CREATE NOTIFICATION INTEGRATION oncall TYPE = WEBHOOK ENABLED = TRUE
          WEBHOOK = (url = '{receiver.url}/hook', method = 'POST', authorization_header = 'Bearer t0ken');
        CREATE TABLE fixed (ok BOOLEAN);
        CREATE TASK flaky SCHEDULE = '1 SECONDS' SUSPEND_TASK_AFTER_NUM_FAILURES = 2
          ERROR_INTEGRATION = oncall SUCCESS_INTEGRATION = oncall
          AS SELECT CASE WHEN (SELECT count(*) FROM fixed) = 0 THEN error('not fixed yet') ELSE 1 END;
        """
    )
    await engine.start_scheduler()
    await engine.execute("ALTER TASK flaky RESUME")
    await receiver.wait_for(3, timeout=60)  # two failures and the auto-suspension
    types = sorted(r.json()["messageType"] for r in receiver.requests[:3])  # delivery order is not guaranteed
    assert types == ["TASK_AUTO_SUSPENDED", "TASK_FAILED", "TASK_FAILED"]
    failed = next(r.json() for r in receiver.requests if r.json()["messageType"] == "TASK_FAILED")
    assert failed["taskName"] == "tasksql.public.flaky" and failed["messages"][0]["errorMessage"].endswith(
        "not fixed yet"
    )
    assert receiver.requests[0].headers["Authorization"] == "Bearer t0ken"
    [(state, reason)] = (await engine.execute("SELECT state, last_suspended_reason FROM system.tasks"))[
        0
    ].rows
    assert (state, reason) == ("suspended", "AUTO_SUSPENDED")
    await engine.execute("INSERT INTO fixed VALUES (TRUE); ALTER TASK flaky RESUME")
    await receiver.wait_for(5, timeout=60)
    assert sorted(r.json()["messageType"] for r in receiver.requests[3:5]) == [
        "TASK_RECOVERED",
        "TASK_SUCCEEDED",
    ]
    await engine.execute("ALTER TASK flaky SUSPEND")
    history = (
        await engine.execute("SELECT count(*) FROM system.notification_history WHERE status_code = 200")
    )[0]
    assert history.rows[0][0] >= 5
