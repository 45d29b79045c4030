"""A hanging webhook receiver never delays the scheduler: a real engine and scheduler on the real
clock keep running a 1 s task at every instant while the dispatcher keeps every slot busy with
requests that hang until they time out, and are retried."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from pathlib import Path

from notify_support import item
from receiver import Receiver

from tasksql.engine import Engine
from tasksql.notify import start_dispatcher
from tasksql.settings import Settings

RUNS = 4
CONCURRENCY = 4


async def completed_runs(engine: Engine) -> list[tuple[object, str, str | None]]:
    result = (
        await engine.execute(
            "SELECT scheduled_time, state, error_code FROM task_history(task_name => 'tick', result_limit => 1000) "
            "WHERE state NOT IN ('EXECUTING', 'SCHEDULED') ORDER BY scheduled_time"
        )
    )[-1]
    return [(r[0], r[1], r[2]) for r in result.rows]


async def test_the_scheduler_keeps_its_instants_while_the_receiver_hangs(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.hang = True
    engine = Engine(Settings.load(data_dir=tmp_path / "data", grace_period_s=2.0, node_id="node-t"))
    await engine.open()
    dispatcher = None
    try:
        await engine.execute(f"CREATE NOTIFICATION INTEGRATION hook WEBHOOK = (url = '{receiver.url}')")
        await engine.execute(
            "CREATE TASK tick SCHEDULE = '1 SECONDS' SUCCESS_INTEGRATION = 'hook' ERROR_INTEGRATION = 'hook' "
            "AS SELECT 1"
        )
        # far more messages than slots, to a receiver that never answers: every attempt hangs
        # until its timeout, then the next message is claimed (and the first ones retried)
        await engine.catalog.enqueue_notifications(
            [item("hook", created_at=engine.now(), n=i) for i in range(50)]
        )
        dispatcher = await start_dispatcher(engine, concurrency=CONCURRENCY, timeout_s=0.5)
        await receiver.wait_for(CONCURRENCY)

        await engine.start_scheduler()
        await engine.execute("ALTER TASK tick RESUME")
        for _ in range(300):  # until RUNS runs completed (the test's timeout bounds the wait)
            if len(await completed_runs(engine)) >= RUNS:
                break
            await asyncio.sleep(0.1)

        runs = (await completed_runs(engine))[:RUNS]
        assert [(state, code) for _, state, code in runs] == [("SUCCEEDED", None)] * RUNS
        instants = [when for when, _, _ in runs]
        # consecutive instants of the 1 s schedule: none skipped, none missed
        assert [b - a for a, b in itertools.pairwise(instants)] == [timedelta(seconds=1)] * (RUNS - 1)
        # meanwhile the dispatcher kept trying, and nothing got through
        assert len(receiver.requests) > 2 * CONCURRENCY
        assert receiver.delivered == []
        history = await engine.catalog.notification_history()
        assert history and {h.error for h in history} == {"no answer within 0.5 s"}
    finally:
        if dispatcher is not None:
            await dispatcher.stop(grace=0.1)
        await engine.close()
