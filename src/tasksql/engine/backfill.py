"""``EXECUTE TASK t FOR WINDOW '<from>' TO '<to>' [STEP '<interval>'] [FORCE]``: a backfill.

The range is cut into windows (:func:`cut`): every STEP, or at the instants of the task's schedule
without one (a task without a schedule: one window). Each window is one EXECUTE TASK run, in order,
each waited for before the next starts; the run carries its window in its config
(:data:`~tasksql.scheduler.logical_time.WINDOW_KEY`), which its body reads as ``:window_start`` /
``:window_end`` / ``:scheduled_time`` and history shows in its ``config`` column. A window that
already succeeded (a backfill run with that window, or a scheduled run whose instant and previous
instant are the window's ends) is skipped, unless FORCE. The first window whose run fails stops the
backfill: the statement fails naming it, and the windows before it stay done (running the statement
again goes on from the failed window).
"""

from __future__ import annotations

import itertools
from datetime import datetime

from tasksql import schedules
from tasksql.engine.core import Engine
from tasksql.engine.execute_task import FAILED_STATES, wait_for_run
from tasksql.engine.queries import current_query
from tasksql.engine.results import Result
from tasksql.errors import RunFailed, ValidationError
from tasksql.model import RunState, ScheduledFrom, TaskRecord
from tasksql.model.run import RunRecord
from tasksql.scheduler.logical_time import previous_instant, window_of, with_window
from tasksql.schedules.base import Schedule
from tasksql.sql import statements as st
from tasksql.sql.parse_window import MAX_WINDOWS, BackfillWindow

COLUMNS = ("window_start", "window_end", "status", "run_id", "state", "error_code", "error_message")
#: Runs of the task read (newest first) to find the windows that already succeeded.
HISTORY_READ = 10_000

Window = tuple[datetime, datetime]


def _schedule(rec: TaskRecord) -> Schedule | None:
    task = rec.definition
    if task.schedule is None or task.after or task.finalize is not None:
        return None
    return schedules.build(task.schedule, anchor=rec.resumed_on or rec.created_on, dst_policy=task.dst_policy)


def cut(window: BackfillWindow, rec: TaskRecord, stmt: st.ExecuteTask) -> list[Window]:
    """The windows of a backfill, in order.

    :raises ValidationError: more than :data:`MAX_WINDOWS` windows (at the FOR WINDOW clause).
    """
    bounds = [window.start]
    schedule = _schedule(rec) if window.step is None else None
    while len(bounds) <= MAX_WINDOWS + 1:
        nxt = bounds[-1] + window.step if window.step is not None else None
        if schedule is not None:
            nxt = schedule.next_fire(bounds[-1])
        if nxt is None or nxt >= window.end:
            bounds.append(window.end)
            return list(itertools.pairwise(bounds))
        bounds.append(nxt)
    raise ValidationError(
        f"the task's schedule cuts the range into more than {MAX_WINDOWS} windows; give a longer STEP",
        code="INVALID_VALUE",
        span=window.span or stmt.span,
    )


async def succeeded(engine: Engine, rec: TaskRecord, windows: list[Window]) -> set[Window]:
    """The ``windows`` that a successful run of the task already covered."""
    wanted = set(windows)
    ends = {end: start for start, end in windows}
    schedule = _schedule(rec)
    found: set[Window] = set()
    for run in await engine.catalog.list_runs(task_id=rec.id, limit=HISTORY_READ):
        if run.state is not RunState.SUCCEEDED:
            continue
        window = window_of(run.config)
        if window is None and run.scheduled_from is ScheduledFrom.SCHEDULE and schedule is not None:
            start = ends.get(run.scheduled_time)
            if start is not None and previous_instant(schedule, run.scheduled_time) == start:
                window = (start, run.scheduled_time)
        if window is not None and window in wanted:
            found.add(window)
    return found


async def backfill(engine: Engine, stmt: st.ExecuteTask, rec: TaskRecord) -> Result:
    """Run the windows of ``stmt.window`` one after the other (see the module's docstring)."""
    window = stmt.window
    assert window is not None
    shown = engine.display_name(rec.name)
    windows = cut(window, rec, stmt)
    done = set() if window.force else await succeeded(engine, rec, windows)
    rows: list[tuple[object, ...]] = []
    query = current_query()
    token = query.token if query is not None else None
    scheduler = engine.scheduler
    local = None
    if scheduler is None:
        local = scheduler = engine.new_scheduler()
        await local.open_for(rec)
    try:
        for start, end in windows:
            if (start, end) in done:
                rows.append((start, end, "already succeeded", None, None, None, None))
                continue
            config = with_window(stmt.using_config or rec.definition.config, start, end)
            run: RunRecord | None = await scheduler.execute_now(rec, config=config)
            if run is None or run.state is not RunState.EXECUTING:
                raise RunFailed(
                    f"backfill of {shown} stopped at window [{start.isoformat()}, {end.isoformat()}):"
                    " the task's previous run is still executing; run the statement again when it ended"
                    " (the windows that succeeded are skipped)"
                )
            run = await wait_for_run(engine, scheduler, rec, run, token)
            assert run is not None
            state, code, message = run.state.value, run.error_code, run.error_message
            if run.graph_run_group_id is not None and state not in FAILED_STATES:
                group = await engine.catalog.get_graph_run(run.graph_run_group_id)
                if group is not None and group.state in FAILED_STATES:
                    state, code, message = group.state, group.first_error_code, group.first_error_message
            if state in FAILED_STATES:
                raise RunFailed(
                    f"backfill of {shown} stopped at window [{start.isoformat()}, {end.isoformat()}): run"
                    f" {run.run_id} {state}: [{code}] {message}; {len(rows)} window(s) before it are done,"
                    " and running the statement again goes on from this one"
                )
            rows.append((start, end, "ran", run.run_id, state, code, message))
    finally:
        if local is not None:
            grace = 0.0 if token is not None and token.cancelled else engine.settings.grace_period_s
            await local.stop(grace=grace)
    return Result.table(COLUMNS, rows, "EXECUTE TASK")
