"""EXECUTE TASK without a scheduler in the process (an embedded ``tasksql sql``): the run executes in
this process and the statement returns when it is over, without starting a scheduler: nothing is
reaped, nothing else is loaded or fired. Real catalog and DuckDB file."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tasksql import __version__
from tasksql.engine import Engine
from tasksql.errors import RunFailed
from tasksql.model import RunState, ScheduledFrom
from tasksql.model.run import NodeRecord
from tasksql.scheduler.outcomes import new_run
from tasksql.settings import Settings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine(Settings.load(data_dir=tmp_path / "data")) as eng:
        await eng.execute("CREATE TABLE log (v VARCHAR)")
        yield eng


async def logged(engine: Engine) -> list[str]:
    return [r[0] for r in (await engine.execute("SELECT v FROM log ORDER BY v"))[0].rows]


async def test_a_run_executes_here_and_leaves_a_dead_nodes_runs_to_a_scheduler(engine: Engine) -> None:
    catalog = engine.catalog
    await engine.execute("CREATE TASK other SCHEDULE = '1 MINUTE' AS SELECT 1; ALTER TASK other RESUME")
    [other] = [t for t in await catalog.list_tasks() if t.name.name == "other"]
    long_ago = engine.now() - timedelta(hours=1)
    dead = NodeRecord(
        node_id="gone",
        host=socket.gethostname(),
        pid=os.getpid(),
        role="server",
        version=__version__,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    await catalog.register_node(dead)
    left = new_run(
        other,
        scheduled_time=long_ago,
        state=RunState.EXECUTING,
        scheduled_from=ScheduledFrom.SCHEDULE,
        node_id="gone",
        now=long_ago,
    )
    [orphan] = await catalog.fire([left], [])
    assert orphan is not None
    await engine.execute("CREATE TASK t AS INSERT INTO log VALUES ('t')")

    [result] = await engine.execute("EXECUTE TASK t")

    assert result.as_dicts()[0]["status"] == "Task t ran: SUCCEEDED."
    assert await logged(engine) == ["t"]
    runs = [r for r in await catalog.list_runs() if r.name == "t"]
    assert [(r.state, r.scheduled_from) for r in runs] == [(RunState.SUCCEEDED, ScheduledFrom.EXECUTE_TASK)]
    # the dead node's run is left to a scheduler's reaper; no instant of 'other' was fired here
    still = await catalog.get_run(orphan.run_id)
    assert still is not None and still.state is RunState.EXECUTING
    assert [r.run_id for r in await catalog.list_runs(task_id=other.id)] == [orphan.run_id]
    # the run's node was registered (a crash would leave it to the reaper) and is stopped now
    nodes = {n.node_id: n for n in await catalog.list_nodes(engine.now())}
    mine = nodes[runs[0].node_id or ""]
    assert (mine.role, mine.stopped_at is not None) == ("embedded", True)
    assert nodes["gone"].stopped_at is None


async def test_a_graph_runs_whole_and_a_failing_child_fails_the_statement(engine: Engine) -> None:
    await engine.execute(
        "CREATE TASK root AS INSERT INTO log VALUES ('root');"
        "CREATE TASK ok AFTER root AS INSERT INTO log VALUES ('ok');"
        "CREATE TASK skipped AFTER root WHEN 1 = 2 AS INSERT INTO log VALUES ('skipped');"
        "CREATE TASK bad AFTER ok USER_TASK_TIMEOUT_MS = 200 AS SELECT count(*) FROM range(100000000000);"
        "CREATE TASK fin FINALIZE = root AS INSERT INTO log VALUES ('fin');"
        "ALTER TASK ok RESUME; ALTER TASK skipped RESUME; ALTER TASK bad RESUME; ALTER TASK fin RESUME"
    )

    with pytest.raises(RunFailed, match=r"ran: FAILED \(task graph: .*bad FAILED\).*TIMEOUT_EXCEEDED"):
        await engine.execute("EXECUTE TASK root")

    assert await logged(engine) == ["fin", "ok", "root"]
    states = {r.name: (r.state, r.error_code) for r in await engine.catalog.list_runs()}
    assert states == {
        "root": (RunState.SUCCEEDED, None),
        "ok": (RunState.SUCCEEDED, None),
        "skipped": (RunState.SKIPPED, "CONDITION_FALSE"),
        "bad": (RunState.FAILED, "TIMEOUT_EXCEEDED"),
        "fin": (RunState.SUCCEEDED, None),
    }
