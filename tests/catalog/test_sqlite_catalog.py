"""What the SQLite catalog adds to the contract: its file, its writer thread, its durability."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from catalog_support import NOW, create, fire_run, later, qname, task_def

from tasksql.catalog import CATALOG_FILE, SQLiteCatalog, TaskUpdate, open_catalog
from tasksql.catalog.base import LostRuns, UnstartedRun
from tasksql.catalog.sqlite.writer import WriterStats
from tasksql.errors import CatalogError, ConfigError, NotSupportedError, ObjectExists, TasksqlError
from tasksql.model import IntegrationDef, RunState, TaskState, WarehouseDef, WarehouseType, Webhook
from tasksql.model.run import NewRun, RunOutcome, RunRecord
from tasksql.testing import FakeClock

# --- open_catalog --------------------------------------------------------------------------------


def test_open_catalog_takes_paths_urls_and_data_directories(tmp_path: Path) -> None:
    file = tmp_path / "x.db"

    by_path = open_catalog(str(file))
    by_url = open_catalog(f"sqlite://{file}")
    by_dir = open_catalog(str(tmp_path))

    assert isinstance(by_path, SQLiteCatalog) and by_path.path == str(file)
    assert isinstance(by_url, SQLiteCatalog) and by_url.path == str(file)
    assert isinstance(by_dir, SQLiteCatalog) and by_dir.path == str(tmp_path / CATALOG_FILE)


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "postgresq://u:p@localhost/tasksql"])
def test_open_catalog_refuses_other_databases(url: str) -> None:
    with pytest.raises(NotSupportedError) as info:
        open_catalog(url)
    assert "p@" not in str(info.value)
    assert "postgresql://" in str(info.value)  # the schemes it does take


@pytest.mark.parametrize("path", ["", "  ", ":memory:", "sqlite://:memory:", "sqlite://"])
def test_open_catalog_refuses_non_files(path: str) -> None:
    with pytest.raises(ConfigError):
        open_catalog(path)


# --- opening -------------------------------------------------------------------------------------


async def test_a_missing_folder_is_a_catalog_error(tmp_path: Path) -> None:
    catalog = SQLiteCatalog(tmp_path / "no" / "such" / "catalog.db", busy_retries=0)

    with pytest.raises(CatalogError) as info:
        await catalog.open()

    assert not isinstance(info.value.__cause__, sqlite3.Error)
    assert "catalog.db" in str(info.value)


async def test_a_foreign_sqlite_file_is_not_a_catalog(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()

    with pytest.raises(CatalogError) as info:
        await SQLiteCatalog(path).open()

    assert info.value.code == "NOT_A_CATALOG"
    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    conn.close()
    assert tables == ["customers"]


async def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path):
        pass

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_open_twice_is_harmless_and_reopen_after_close_works(tmp_path: Path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    await catalog.open()
    await catalog.open()
    await create(catalog, "t")
    await catalog.close()

    await catalog.open()
    try:
        assert await catalog.get_task(qname("t")) is not None
    finally:
        await catalog.close()


# --- durability ----------------------------------------------------------------------------------


async def test_everything_is_there_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    hook = IntegrationDef(
        name="ops", webhook=Webhook(url="https://h.example.com", authorization_header="Bearer x")
    )
    warehouse = WarehouseDef(name="pg", type=WarehouseType.POSTGRES, url="postgresql://u:pw@h/db")
    async with SQLiteCatalog(path, clock=FakeClock(NOW)) as catalog:
        record = await create(catalog, "t", state=TaskState.STARTED)
        [record] = await catalog.update_tasks(
            [TaskUpdate(task_id=record.id, expected_version=1, definition=task_def("t", comment="2"))],
            now=later(1),
        )
        dropped = await create(catalog, "gone")
        await catalog.update_tasks(
            [TaskUpdate(task_id=dropped.id, expected_version=1, drop=True)], now=later(2)
        )
        await catalog.put_integration(hook, replace=False, now=NOW)
        await catalog.put_warehouse(warehouse, replace=False, now=NOW)
        await catalog.set_setting("retention", "7")
        tasks = await catalog.list_tasks()
        versions = await catalog.task_versions(record.id)
        integrations = await catalog.list_integrations()
        warehouses = await catalog.list_warehouses()
        seq = await catalog.change_seq()

    async with SQLiteCatalog(path, clock=FakeClock(later(999))) as reopened:
        assert await reopened.list_tasks() == tasks == [record]
        assert await reopened.task_versions(record.id) == versions
        assert len(await reopened.task_versions(dropped.id)) == 1
        assert await reopened.list_integrations() == integrations
        assert await reopened.list_warehouses() == warehouses  # the seed does not overwrite 'default'
        assert await reopened.get_setting("retention") == "7"
        assert await reopened.change_seq() == seq
        # ids are never reused, even after a drop
        assert (await create(reopened, "new")).id > dropped.id


async def test_a_task_survives_kill_9_right_after_create_returns(
    tmp_path: Path, child_command: list[str], child_env: dict[str, str]
) -> None:
    path = tmp_path / "catalog.db"
    child = await asyncio.create_subprocess_exec(
        *child_command,
        "create-and-hang",
        str(path),
        "survivor",
        stdout=asyncio.subprocess.PIPE,
        env=child_env,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        assert line.startswith(b"done "), line
    finally:
        child.kill()  # SIGKILL: no close(), no atexit, no flush
        await child.wait()
    assert child.returncode == -9

    async with SQLiteCatalog(path) as catalog:
        record = await catalog.get_task(qname("survivor"))
        assert record is not None
        assert record.id == int(line.split()[1])
        assert record.next_fire_at == later(3600)  # the ordinary (non-durable) write survived too

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


# --- group commit --------------------------------------------------------------------------------


@asynccontextmanager
async def _writer_busy(catalog: SQLiteCatalog) -> AsyncIterator[None]:
    """The writer thread is inside a job until the block exits (writes asked for meanwhile queue)."""
    entered, release = threading.Event(), threading.Event()

    def block(conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(60)

    blocker = asyncio.ensure_future(catalog._write(block))
    assert await asyncio.to_thread(entered.wait, 60)
    try:
        yield
    finally:
        release.set()
        await blocker


async def _queued(catalog: SQLiteCatalog, count: int) -> None:
    while catalog.writer_stats().queued < count:
        await asyncio.sleep(0.001)


async def _queued_behind_a_blocker(
    catalog: SQLiteCatalog, names: list[str]
) -> tuple[WriterStats, list[object]]:
    """Create tasks ``names`` while the writer is busy, so that they form one group."""
    async with _writer_busy(catalog):
        before = catalog.writer_stats()
        jobs = [asyncio.ensure_future(create(catalog, name)) for name in names]
        await _queued(catalog, len(jobs))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    return before, results


async def test_jobs_waiting_together_commit_in_one_transaction(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        before, results = await _queued_behind_a_blocker(catalog, ["a", "b", "c"])
        after = catalog.writer_stats()
        assert after.groups == before.groups + 1
        assert after.jobs == before.jobs + 3
        assert after.regroups == before.regroups
        assert [await catalog.get_task(qname(n)) for n in "abc"] == results


async def test_a_failing_job_fails_alone_and_the_rest_of_its_group_commits(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        await create(catalog, "taken")
        before, (a, taken, c) = await _queued_behind_a_blocker(catalog, ["a", "taken", "c"])

        after = catalog.writer_stats()
        assert after.regroups == before.regroups + 1  # undone, then one transaction per job
        assert after.jobs == before.jobs + 3
        assert after.failed_jobs == before.failed_jobs + 1
        assert isinstance(taken, ObjectExists)
        assert await catalog.get_task(qname("a")) == a
        assert await catalog.get_task(qname("c")) == c
        assert len(await catalog.list_tasks()) == 3


async def test_many_concurrent_writes_all_complete(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        records = await asyncio.gather(*(create(catalog, f"t{i:03}") for i in range(300)))
        updates = await asyncio.gather(
            *(
                catalog.update_tasks(
                    [TaskUpdate(task_id=r.id, expected_version=1, next_fire_at=later(i))], now=later(1)
                )
                for i, r in enumerate(records)
            )
        )

        stored = await catalog.list_tasks()
        assert [r.name.name for r in stored] == [f"t{i:03}" for i in range(300)]
        assert len({r.id for r in stored}) == 300
        assert [u[0] for u in updates] == stored
        assert catalog.writer_stats().jobs >= 600


async def test_a_driver_error_in_a_job_is_a_catalog_error_and_rolls_back_only_that_job(
    tmp_path: Path,
) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO settings (key, value) VALUES ('half', 'done')")
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(CatalogError) as info:
            await catalog._write(broken)

        assert not isinstance(info.value, sqlite3.Error)
        assert "no_such_table" in str(info.value)
        assert await catalog.get_setting("half") is None
        await create(catalog, "after")  # the writer goes on
        assert await catalog.get_task(qname("after")) is not None


async def test_a_job_error_keeps_its_class(tmp_path: Path) -> None:
    class Boom(TasksqlError):
        pass

    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:

        def boom(conn: sqlite3.Connection) -> None:
            raise Boom("no")

        with pytest.raises(Boom):
            await catalog._write(boom)


# --- change signals ------------------------------------------------------------------------------


async def test_an_in_process_change_wakes_a_waiter_without_polling(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", poll_interval=3600) as catalog:
        seq = await catalog.change_seq()
        waiter = asyncio.ensure_future(catalog.wait_for_change(seq, timeout=3600))
        await asyncio.sleep(0.01)
        assert not waiter.done()

        await create(catalog, "t")

        assert await asyncio.wait_for(waiter, 30) > seq


async def test_a_change_from_another_process_is_noticed(
    tmp_path: Path, child_command: list[str], child_env: dict[str, str]
) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path, poll_interval=0.05) as catalog:
        seq = await catalog.change_seq()
        waiter = asyncio.ensure_future(catalog.wait_for_change(seq, timeout=3600))

        child = await asyncio.create_subprocess_exec(
            *child_command, "create", str(path), "remote", env=child_env
        )
        assert await child.wait() == 0

        assert await asyncio.wait_for(waiter, 30) > seq
        assert await catalog.get_task(qname("remote")) is not None


async def test_two_catalog_objects_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path, poll_interval=0.05) as one, SQLiteCatalog(path, poll_interval=0.05) as two:
        seq = await two.change_seq()
        record = await create(one, "t")

        assert await asyncio.wait_for(two.wait_for_change(seq, timeout=3600), 30) > seq
        assert await two.get_task(qname("t")) == record
        with pytest.raises(ObjectExists):
            await create(two, "t")


# --- locks held by other processes, and durability modes -----------------------------------------


async def test_a_write_lock_held_elsewhere_is_retried_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    async with SQLiteCatalog(path, busy_timeout=0.05, busy_retries=2) as catalog:
        await create(catalog, "before")
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process takes the write lock and keeps it
            retries = catalog.writer_stats().busy_retries

            with pytest.raises(CatalogError) as info:
                await create(catalog, "blocked")

            assert info.value.code == "CATALOG_BUSY"
            assert catalog.writer_stats().busy_retries == retries + 2
            assert await catalog.get_task(qname("before")) is not None  # reads go on meanwhile
        finally:
            other.execute("ROLLBACK")
            other.close()

        await create(catalog, "after")
        assert {r.name.name for r in await catalog.list_tasks()} == {"before", "after"}


async def test_durable_groups_commit_with_synchronous_full(tmp_path: Path) -> None:
    def synchronous(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA synchronous").fetchone()[0])

    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        assert await catalog._write(synchronous, durable=True) == 2  # FULL
        assert await catalog._write(synchronous) == 1  # NORMAL
        assert await catalog._write(synchronous, durable=True) == 2


async def test_a_cancelled_write_that_has_not_started_is_skipped(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        async with _writer_busy(catalog):
            queued = asyncio.ensure_future(create(catalog, "never"))
            await _queued(catalog, 1)
            queued.cancel()

        with pytest.raises(asyncio.CancelledError):
            await queued
        await create(catalog, "later")  # a barrier: the cancelled job's turn has passed
        assert await catalog.get_task(qname("never")) is None


# --- lazy jobs (a run's final outcome waits briefly for company) ----------------------------------


def _record(log: list[str], name: str) -> Callable[[sqlite3.Connection], str]:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("SELECT 1")
        log.append(name)
        return name

    return job


async def test_a_lazy_job_waits_for_the_next_write_and_shares_its_transaction(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        ran: list[str] = []
        before = catalog.writer_stats()
        lazy = asyncio.ensure_future(catalog._write(_record(ran, "lazy"), lazy=True))
        await asyncio.sleep(0.2)
        assert not lazy.done() and ran == []  # held: nothing else was written
        assert await catalog._write(_record(ran, "urgent")) == "urgent"
        assert await lazy == "lazy"
        assert ran == ["lazy", "urgent"]  # submission order
        after = catalog.writer_stats()
        assert (after.groups, after.jobs) == (before.groups + 1, before.jobs + 2)


async def test_the_writer_holds_only_its_newest_lazy_job_until_it_is_sent(tmp_path: Path) -> None:
    # holds() is what lets a settle join a held job: it must say False once the job may run
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=0.2) as catalog:
        writer = catalog._writer
        assert writer is not None
        ran: list[str] = []
        first = writer.submit(_record(ran, "first"), lazy=True)
        assert writer.holds(first)
        second = writer.submit(_record(ran, "second"), lazy=True)
        assert writer.holds(second) and not writer.holds(first)
        urgent = writer.submit(_record(ran, "urgent"))  # takes the held jobs along
        assert not writer.holds(second) and not writer.holds(urgent)
        assert [await first, await second, await urgent] == ["first", "second", "urgent"]
        alone = writer.submit(_record(ran, "alone"), lazy=True)
        assert writer.holds(alone)
        assert await alone == "alone"  # sent when the linger ran out
        assert not writer.holds(alone)


async def test_a_lazy_job_alone_is_committed_when_the_linger_runs_out(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=0.05) as catalog:
        ran: list[str] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await catalog._write(_record(ran, "alone"), lazy=True) == "alone"
        assert loop.time() - start >= 0.045
        assert ran == ["alone"]


async def test_durable_and_changing_jobs_are_never_held(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        ran: list[str] = []
        await asyncio.wait_for(catalog._write(_record(ran, "durable"), durable=True, lazy=True), 10)
        await asyncio.wait_for(catalog._write(_record(ran, "changes"), changes=True, lazy=True), 10)
        assert ran == ["durable", "changes"]


async def test_held_jobs_are_committed_when_the_catalog_closes(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    catalog = SQLiteCatalog(path, settle_linger=60.0)
    await catalog.open()

    def put(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('held', 'yes')")

    pending = asyncio.ensure_future(catalog._write(put, lazy=True))
    await asyncio.sleep(0.05)
    assert not pending.done()
    await catalog.close()
    await pending
    async with SQLiteCatalog(path) as again:
        assert await again.get_setting("held") == "yes"


async def _scheduled_run(catalog: SQLiteCatalog, name: str) -> RunRecord:
    record = await create(catalog, name)
    [run] = await catalog.fire(
        [
            NewRun(
                task_id=record.id,
                task_version=record.version,
                name=name,
                database_name="tasksql",
                schema_name="public",
                scheduled_time=NOW,
                state=RunState.SCHEDULED,
            )
        ],
        [],
    )
    assert run is not None
    return run


async def test_only_a_final_run_outcome_is_lazy(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        run = await _scheduled_run(catalog, "t")
        record = await catalog.get_task(qname("t"))
        assert record is not None
        # SCHEDULED -> EXECUTING: something is about to start on it, so it is written at once
        start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))
        assert await asyncio.wait_for(catalog.finish_run(start, None), 10)
        done = RunOutcome(
            run_id=run.run_id, state=RunState.SUCCEEDED, query_start_time=later(1), completed_time=later(2)
        )
        settled = asyncio.ensure_future(catalog.finish_run(done, None))
        await asyncio.sleep(0.2)
        assert not settled.done()
        await create(catalog, "other")  # the next write takes it along
        assert await settled
        [stored] = await catalog.list_runs(task_id=record.id)
        assert stored.state is RunState.SUCCEEDED


async def test_settle_later_is_queued_at_the_call_and_committed_with_the_next_write(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        run = await _scheduled_run(catalog, "t")
        done = RunOutcome(
            run_id=run.run_id, state=RunState.SUCCEEDED, query_start_time=later(1), completed_time=later(2)
        )
        settled = catalog.settle_later(done)  # not a coroutine: queued now
        again = catalog.settle_later(replace(done, state=RunState.FAILED))
        await asyncio.sleep(0.2)
        assert not settled.done()
        await create(catalog, "other")  # the next write takes both along, in call order
        assert await settled is True
        assert await again is False  # a settled run is final
        [stored] = await catalog.list_runs(task_id=run.task_id)
        assert stored.state is RunState.SUCCEEDED


async def test_an_outcome_takes_the_place_of_its_runs_start_while_that_is_held(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        run = await _scheduled_run(catalog, "t")
        jobs = catalog.writer_stats().jobs
        start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))
        batch = catalog.record_fires("node-a", [start], [], [])  # lazy: held back
        done = RunOutcome(
            run_id=run.run_id, state=RunState.SUCCEEDED, query_start_time=later(1), completed_time=later(2)
        )
        settled = catalog.settle_later(done)
        assert catalog.settle_later(replace(done, state=RunState.FAILED)) is not settled
        await create(catalog, "other")  # sends the held jobs
        assert await settled is True
        await batch
        [stored] = await catalog.list_runs(task_id=run.task_id)
        assert stored.state is RunState.SUCCEEDED and stored.completed_time == later(2)
        # the start and the outcome were one job; the second outcome came too late (final is final)
        assert catalog.writer_stats().jobs == jobs + 3  # record_fires, second settle, create


async def test_an_outcome_after_its_start_was_sent_is_written_on_its_own(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db", settle_linger=60.0) as catalog:
        run = await _scheduled_run(catalog, "t")
        start = RunOutcome(run_id=run.run_id, state=RunState.EXECUTING, query_start_time=later(1))
        for urgent in (False, True):
            batch = catalog.record_fires("node-a", [start], [], [], urgent=urgent)
            if not urgent:
                await create(catalog, "other")  # the held start leaves before the outcome comes
            await batch
        [stored] = await catalog.list_runs(task_id=run.task_id)
        assert stored.state is RunState.EXECUTING
        done = RunOutcome(
            run_id=run.run_id, state=RunState.FAILED, query_start_time=later(1), completed_time=later(2)
        )
        settled = catalog.settle_later(done)
        await create(catalog, "another")
        assert await settled is True
        [stored] = await catalog.list_runs(task_id=run.task_id)
        assert stored.state is RunState.FAILED


async def test_settle_later_on_a_closed_catalog_raises_at_the_call(tmp_path: Path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    await catalog.open()
    run = await _scheduled_run(catalog, "t")
    await catalog.close()
    with pytest.raises(CatalogError) as info:
        catalog.settle_later(RunOutcome(run_id=run.run_id, state=RunState.SUCCEEDED, completed_time=NOW))
    assert info.value.code == "CATALOG_CLOSED"


# --- lost nodes ----------------------------------------------------------------------------------


async def test_settling_a_lost_nodes_runs_fails_only_those_that_started(tmp_path: Path) -> None:
    async with SQLiteCatalog(tmp_path / "catalog.db") as catalog:
        record = await create(catalog, "t", state=TaskState.STARTED)  # next instant: later(60)
        executing = await fire_run(catalog, record, NOW, node="lost")
        unstarted = {
            at: await fire_run(catalog, record, later(at), node="lost", state=RunState.SCHEDULED)
            for at in (10, 20, 30, 40, 120)
        }
        elsewhere = await fire_run(catalog, record, later(50), node="alive", state=RunState.SCHEDULED)
        missed = RunOutcome(
            run_id=unstarted[10].run_id,
            state=RunState.SKIPPED,
            completed_time=later(45),
            error_code="MISSED",
            error_message="instant missed",
        )
        decisions = [
            UnstartedRun(run_id=unstarted[10].run_id, skipped=missed),
            UnstartedRun(run_id=unstarted[20].run_id, rewind=True),
            UnstartedRun(run_id=unstarted[30].run_id),
            UnstartedRun(run_id=elsewhere.run_id),  # not a run of a lost node: left alone
        ]

        settled = await catalog.settle_lost_runs(["lost"], later(45), "node stopped during run", decisions)

        # 40 s had no decision (SKIPPED, NODE_LOST); 120 s is still to come (released)
        assert settled == {"lost": LostRuns(failed=1, skipped=2, replanned=1, released=2)}

        async def state(run: RunRecord) -> tuple[object, ...] | None:
            got = await catalog.get_run(run.run_id)
            return None if got is None else (got.state, got.error_code, got.error_message)

        assert await state(executing) == (RunState.FAILED, "NODE_LOST", "node stopped during run")
        assert await state(unstarted[10]) == (RunState.SKIPPED, "MISSED", "instant missed")
        assert await state(unstarted[20]) is None and await state(unstarted[30]) is None
        assert await state(unstarted[40]) == (
            RunState.SKIPPED,
            "NODE_LOST",
            "node lost was lost before the run started",
        )
        assert await state(unstarted[120]) is None
        assert await state(elsewhere) == (RunState.SCHEDULED, None, None)
        task = await catalog.get_task_by_id(record.id)
        assert task is not None
        assert (task.next_fire_at, task.consecutive_failures) == (later(20), 0)  # rewound, not counted
        assert await catalog.settle_lost_runs(["lost"], later(46), "node stopped during run") == {}
