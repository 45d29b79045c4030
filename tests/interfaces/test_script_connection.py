"""The Python API on scripts: results handed over in the caller's thread as statements complete, the
failing statement named, all or nothing, and cancelling a long DuckDB query (``cancel()`` from
another thread, Ctrl-C in the calling thread)."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tasksql
from tasksql.connection import Connection
from tasksql.engine import Result
from tasksql.errors import QueryCancelled, QueryFailed

SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    with tasksql.connect(tmp_path / "data") as c:
        yield c


def wait_until_running(conn: Connection, within: float = 60.0) -> None:
    end = time.monotonic() + within
    while not any(q.statement_text.startswith("SELECT sum") for q in conn.engine.queries.running()):
        assert time.monotonic() < end, "the slow query never started"
        time.sleep(0.02)


def test_results_arrive_in_the_calling_thread_in_order(conn: Connection) -> None:
    seen: list[tuple[str | None, str]] = []

    def arrived(result: Result) -> None:
        seen.append((result.message, threading.current_thread().name))

    results = conn.sql_all(
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); SELECT * FROM t", on_result=arrived
    )
    me = threading.current_thread().name
    assert seen == [("CREATE TABLE", me), ("INSERT 0 1", me), (None, me)]
    assert results[-1].rows == [(1,)]


def test_a_failure_names_the_statement_and_keeps_what_ran(conn: Connection) -> None:
    arrived: list[Result] = []
    with pytest.raises(QueryFailed) as caught:
        conn.sql_all(
            "CREATE TABLE zz (a INTEGER); INSERT INTO zz VALUES (1); SELECT * FROM nosuch",
            on_result=arrived.append,
        )
    assert caught.value.statement_number == 3
    assert [r.message for r in arrived] == [r.message for r in caught.value.partial_results]
    assert conn.sql("SELECT count(*) FROM zz").rows == [(1,)]
    with pytest.raises(QueryFailed) as rolled:
        conn.sql_all(
            "CREATE TABLE yy (a INTEGER); INSERT INTO yy VALUES (1); SELECT * FROM nosuch",
            single_transaction=True,
        )
    assert rolled.value.rolled_back
    with pytest.raises(QueryFailed):
        conn.sql("SELECT * FROM yy")


def test_cancel_from_another_thread_stops_the_query(conn: Connection) -> None:
    assert conn.cancel() is False  # nothing runs
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            conn.sql_all(SLOW)
            outcome.append(None)
        except BaseException as exc:  # the assertion below says what it was
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    wait_until_running(conn)
    started = time.monotonic()
    assert conn.cancel() is True
    worker.join(60)
    # SLOW runs for hours: a return within the bound (generous for a loaded machine) is the cancel
    assert not worker.is_alive() and time.monotonic() - started < 30
    assert isinstance(outcome[0], QueryCancelled)
    assert conn.engine.queries.running() == []
    assert conn.sql("SELECT 1 AS one").rows == [(1,)]  # the connection goes on


def test_ctrl_c_cancels_the_query_before_propagating(conn: Connection) -> None:
    def press_ctrl_c() -> None:
        wait_until_running(conn)
        _thread.interrupt_main()

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        conn.sql_all(SLOW)
    presser.join()
    assert time.monotonic() - started < 15
    # the query was stopped in the warehouse, not left running behind the interrupted call
    assert conn.engine.queries.running() == []
    assert conn.sql("SELECT 2 AS two").rows == [(2,)]
