"""Run states change only as the transition table allows (``tasksql.model.run.TRANSITIONS``).

The table itself, and every backend's write paths: an illegal change raises
:class:`~tasksql.model.run.InvalidTransition` (an internal error) and writes nothing.
"""

from __future__ import annotations

import pytest
from catalog_support import NOW, create, ended, fire_run, later, new_run

from tasksql.catalog import Catalog
from tasksql.model import RunState, TaskState
from tasksql.model.run import OPEN_STATES, TRANSITIONS, InvalidTransition, RunOutcome, settling, transition

S = RunState
TERMINAL = [s for s in RunState if s.terminal]


def test_a_run_is_inserted_scheduled_executing_or_skipped() -> None:
    assert {s for s in RunState if s in TRANSITIONS[None]} == {S.SCHEDULED, S.EXECUTING, S.SKIPPED}
    assert transition(None, S.SCHEDULED) is S.SCHEDULED
    with pytest.raises(InvalidTransition) as caught:
        transition(None, S.SUCCEEDED)
    assert caught.value.code == "INVALID_TRANSITION"
    assert caught.value.message == "internal error: a new run cannot move to SUCCEEDED"


@pytest.mark.parametrize("settled", TERMINAL)
def test_a_settled_run_moves_nowhere(settled: RunState) -> None:
    for new in RunState:
        with pytest.raises(InvalidTransition, match=f"a run in state {settled.value} cannot move"):
            transition(settled, new)


def test_an_open_run_moves_forward_only() -> None:
    assert transition(S.SCHEDULED, S.EXECUTING) is S.EXECUTING
    for final in TERMINAL:  # a start never written (held, or a lost node's committed body)
        assert transition(S.SCHEDULED, final) is final
        assert transition(S.EXECUTING, final) is final
    for back in OPEN_STATES:
        with pytest.raises(InvalidTransition):
            transition(S.EXECUTING, back)
    with pytest.raises(InvalidTransition):
        transition(S.SCHEDULED, S.SCHEDULED)
    assert settling(S.EXECUTING) is S.EXECUTING
    with pytest.raises(InvalidTransition, match="an open run cannot move to SCHEDULED"):
        settling(S.SCHEDULED)


# --- every backend checks before it writes -------------------------------------------------------


async def test_fire_refuses_a_run_born_settled_and_inserts_nothing(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)

    with pytest.raises(InvalidTransition):
        await catalog.fire([new_run(record, later(1)), new_run(record, NOW, state=S.SUCCEEDED)], [])

    assert await catalog.list_runs(task_id=record.id) == []


async def test_an_outcome_cannot_send_a_run_back_to_scheduled(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record)
    back = RunOutcome(run_id=run.run_id, state=S.SCHEDULED)

    with pytest.raises(InvalidTransition):
        await catalog.finish_run(back, None)
    with pytest.raises(InvalidTransition):
        await catalog.settle_later(back)
    with pytest.raises(InvalidTransition):
        await catalog.record_fires("node-a", [back], [], [], urgent=True)

    assert await catalog.get_run(run.run_id) == run
    assert await catalog.finish_run(ended(run), None)
    stored = await catalog.get_run(run.run_id)
    assert stored is not None and stored.state is S.SUCCEEDED


async def test_a_lost_nodes_run_cannot_be_settled_back_to_scheduled(catalog: Catalog) -> None:
    record = await create(catalog, "t", state=TaskState.STARTED)
    run = await fire_run(catalog, record, node="gone")
    back = RunOutcome(run_id=run.run_id, state=S.SCHEDULED, completed_time=later(1))

    with pytest.raises(InvalidTransition):
        await catalog.settle_lost_runs(["gone"], later(60), "lost", committed=[back])

    assert await catalog.get_run(run.run_id) == run


async def test_outcomes_settled_one_after_another_each_get_their_own_answer(catalog: Catalog) -> None:
    """Consecutive settles share one batched job (catalog/settle_batch.py): each future still says
    whether its own run was settled, and a bad outcome fails alone."""
    record = await create(catalog, "t", state=TaskState.STARTED)
    runs = [await fire_run(catalog, record, at) for at in (later(1), later(2), later(3))]
    first = catalog.settle_later(ended(runs[0]))
    second = catalog.settle_later(ended(runs[1], RunState.FAILED))
    bad = catalog.settle_later(RunOutcome(run_id=runs[2].run_id, state=S.SCHEDULED))
    again = catalog.settle_later(ended(runs[0], RunState.FAILED))  # settled just before: not again
    third = catalog.settle_later(ended(runs[2]))

    assert (await first, await second, await again, await third) == (True, True, False, True)
    with pytest.raises(InvalidTransition):
        await bad
    states = [(await catalog.get_run(r.run_id)).state for r in runs]  # type: ignore[union-attr]
    assert states == [S.SUCCEEDED, S.FAILED, S.SUCCEEDED]
