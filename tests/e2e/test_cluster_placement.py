"""Two real ``tasksql serve`` nodes on a private PostgreSQL catalog: where tasks run, and what any
node's API says about the whole cluster.

* ``NODE = 'n2'`` runs a task on n2 only; ALTER TASK ... SET NODE = 'n1' moves it, and no run of it
  starts on n2 after the ALTER committed;
* ``--warehouses``: a task of a warehouse only n2 serves runs on n2, one of a warehouse no node serves
  waits, as does a task pinned to a node that never joined; SHOW TASKS (through the API) names the
  node of each task and why the others wait;
* ``GET /api/v1/cluster``, ``/tasks`` and ``/runs`` answer alike on both nodes (catalog reads);
  ``GET /api/v1/queries`` on n1 lists a query running on n2, and n1 cancels it;
* a node stopped with SIGTERM is ``left`` in ``system.cluster``, and the task only it served waits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from pgserver import PgDatabase

T = TypeVar("T")
TASKSQL = [sys.executable, "-m", "tasksql"]
BODY = "INSERT INTO hits SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME')"
SLOW = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b"


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Node:
    """``tasksql serve --node-id ID --warehouses W --port 0`` with its own data directory."""

    def __init__(self, node_id: str, warehouses: str, data: Path, env: dict[str, str]) -> None:
        self.node_id = node_id
        self.data = data
        self.log = data.parent / f"{node_id}.log"
        with self.log.open("w") as out:
            args = ["serve", "--node-id", node_id, "--warehouses", warehouses, "--port", "0"]
            self.proc = subprocess.Popen(
                [*TASKSQL, "--data", str(data), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def url(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"node {self.node_id} exited: {self.log.read_text()}")
        try:
            info = json.loads((self.data / "server.json").read_text())
        except (OSError, ValueError):
            return None
        return str(info["url"]) if info.get("pid") == self.proc.pid else None

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        url = self.url()
        assert url is not None
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{url}/api/v1{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def get(self, path: str) -> dict[str, Any]:
        status, body = self.api("GET", path)
        assert status == 200, body
        return body

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.kill()


def cli_sql(env: dict[str, str], data: Path, text: str) -> str:
    """Run ``tasksql sql TEXT``; its notices (standard error)."""
    done = subprocess.run(
        [*TASKSQL, "--data", str(data), "sql", text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_pins_and_warehouses_place_tasks_and_any_node_answers_for_the_cluster(
    tmp_path: Path, pg_database: PgDatabase, nodes: list[Node]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSQL_")}
    env.update(TASKSQL_CATALOG=pg_database.url, TASKSQL_CATALOG_SCHEMA="tasksql", TASKSQL_LOG_LEVEL="INFO")
    db = psycopg.connect(pg_database.dsn, autocommit=True)
    db.execute("CREATE TABLE hits (task text, at timestamptz DEFAULT clock_timestamp())")
    admin = tmp_path / "admin"
    cli_sql(
        env,
        admin,
        "".join(
            f"CREATE WAREHOUSE {w} TYPE = postgres URL = '{pg_database.url}';" for w in ("wh", "wh2", "wh3")
        ),
    )
    n1 = Node("n1", "wh", tmp_path / "n1", env)
    nodes.append(n1)
    n2 = Node("n2", "wh,wh2", tmp_path / "n2", env)
    nodes.append(n2)
    urls = {n.node_id: wait_for(n.url, timeout=40, what=f"{n.node_id} to serve") for n in nodes}

    def live() -> dict[str, dict[str, Any]] | None:
        members = {m["node_id"]: m for m in n1.get("/cluster")["nodes"]}
        return members if all(members.get(n, {}).get("node_state") == "live" for n in urls) else None

    members = wait_for(live, timeout=60, what="two live nodes")
    assert {n: (m["address"], m["warehouses"]) for n, m in members.items()} == {
        "n1": (urls["n1"], "wh"),
        "n2": (urls["n2"], "wh,wh2"),
    }

    tasks = {"a": "wh NODE = 'n2'", "b": "wh2", "c": "wh NODE = 'n3'", "d": "wh3"}
    notices = cli_sql(
        env,
        admin,
        "".join(
            f"CREATE TASK {t} WAREHOUSE = {spec} SCHEDULE = '1 SECOND' AS {BODY}; ALTER TASK {t} RESUME;"
            for t, spec in tasks.items()
        ),
    )
    assert "no node 'n3' has joined the cluster yet" in notices

    def where() -> dict[str, tuple[str | None, str | None]]:
        return {t["name"]: (t["node"], t["wait_reason"]) for t in n1.get("/tasks")["tasks"]}

    def ran_on() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for name, node in db.execute("SELECT name, node_id FROM tasksql.runs WHERE state = 'SUCCEEDED'"):
            out.setdefault(name, set()).add(node)
        return out

    wait_for(lambda: {"a", "b"} <= set(ran_on()), timeout=60, what="runs of a and b")
    assert ran_on() == {"a": {"n2"}, "b": {"n2"}}
    assert where() == {
        "a": ("n2", None),
        "b": ("n2", None),
        "c": (None, "pinned to node n3, which has not joined"),
        "d": (None, "no live node serves warehouse wh3"),
    }
    # tasks, runs and the cluster are catalog reads: both nodes answer alike (the next instant of a
    # task no node runs is worked out from the time of the read, so two reads a second apart may
    # differ there: the two are read again until they fall in the same second)
    wait_for(
        lambda: n2.get("/tasks")["tasks"] == n1.get("/tasks")["tasks"],
        timeout=30,
        what="both nodes to list the same tasks",
    )
    assert [m["node_id"] for m in n2.get("/cluster")["nodes"]] == ["n1", "n2"]
    runs = n2.get("/runs?limit=10000")["runs"]
    assert runs and {(r["name"], r["node_id"]) for r in runs if r["state"] == "SUCCEEDED"} <= {
        ("a", "n2"),
        ("b", "n2"),
    }

    # the pin moves: from the ALTER's commit on, no run of a starts on n2
    cli_sql(env, admin, "ALTER TASK a SET NODE = 'n1'")
    altered = datetime.now(UTC)
    wait_for(lambda: "n1" in ran_on().get("a", set()), timeout=60, what="a to run on n1")
    late = db.execute(
        "SELECT count(*) FROM tasksql.runs WHERE name = 'a' AND node_id = 'n2' AND query_start_time > %s",
        (altered,),
    ).fetchone()
    assert late == (0,)
    assert where()["a"] == ("n1", None)

    # a query running on n2, listed and cancelled through n1
    answer: dict[str, Any] = {}

    def slow() -> None:
        answer["status"], answer["body"] = n2.api("POST", "/sql", {"sql": SLOW, "query_id": "slow-on-n2"})

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        listed = wait_for(
            lambda: [q for q in n1.get("/queries")["queries"] if q["query_id"] == "slow-on-n2"],
            timeout=60,
            what="n1 to list the query running on n2",
        )
        assert listed[0]["node_id"] == "n2"
        status, body = n1.api("POST", "/queries/slow-on-n2/cancel")
        assert (status, body["node_id"]) == (200, "n2"), body
    finally:
        thread.join(timeout=30)
    assert answer["status"] != 200 and "cancel" in json.dumps(answer["body"]).lower()
    status, body = n1.api("POST", "/queries/no-such-query/cancel")
    assert (status, body["error"]["code"]) == (404, "QUERY_NOT_FOUND")

    # n2 stops: it is shown left, and b (only n2 served wh2) waits
    n2.proc.send_signal(signal.SIGTERM)
    assert n2.proc.wait(timeout=30) == 0
    states = {m["node_id"]: m["node_state"] for m in n1.get("/cluster")["nodes"]}
    assert states == {"n1": "live", "n2": "left"}
    assert where()["b"] == (None, "no live node serves warehouse wh2")
    db.close()
