"""The web UI with security on, in Chromium against a real ``tasksql serve``: a user logs in with
the token CREATE USER gave them and sees only the tasks and runs their role may see; another task's
page is not shown to them; a user whose role sees nothing gets empty lists."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url

pytestmark = pytest.mark.browser

SETUP = """
CREATE USER admin DEFAULT_ROLE = accountadmin; GRANT ROLE accountadmin TO USER admin;
CREATE ROLE myrole; CREATE ROLE other;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE myrole;
GRANT USAGE ON WAREHOUSE "default" TO ROLE myrole; GRANT USAGE ON WAREHOUSE "default" TO ROLE other;
CREATE USER alice DEFAULT_ROLE = myrole; GRANT ROLE myrole TO USER alice;
CREATE USER bob DEFAULT_ROLE = other; GRANT ROLE other TO USER bob;
CREATE TASK alices_task SCHEDULE = '1 hour' AS SELECT 1;
CREATE TASK admins_task SCHEDULE = '1 hour' AS SELECT 2;
GRANT OWNERSHIP ON TASK alices_task TO ROLE myrole;
EXECUTE TASK alices_task;
EXECUTE TASK admins_task;
"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """The users' tokens, made with security off; then a server with security on."""
    data = tmp_path_factory.mktemp("ui-security") / "data"
    done = subprocess.run(
        [sys.executable, "-m", "tasksql", "--data", str(data), "--format", "json", "sql", SETUP],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    tokens: dict[str, str] = {}
    for line in done.stdout.splitlines():
        for row in json.loads(line):
            if "token" in row:
                name = row["status"].split()[1]
                tokens[name] = row["token"]
    assert set(tokens) == {"admin", "alice", "bob"}, done.stdout
    srv = Server(data, env={"TASKSQL_SECURITY": "on"})
    try:
        yield srv, tokens
    finally:
        srv.stop()


def _log_in(browser: Any, srv: Server, token: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(srv.url + "/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Tasks")
    return context, page


def test_a_user_sees_only_the_tasks_and_runs_of_their_role(
    browser: Any, secured: tuple[Server, dict[str, str]]
) -> None:
    srv, tokens = secured
    context, page = _log_in(browser, srv, tokens["alice"])
    try:
        expect(page.locator("main")).to_contain_text("alices_task")
        assert "admins_task" not in page.content()
        page.goto(srv.url + "/runs")
        expect(page.locator("h1")).to_have_text("Runs")
        expect(page.locator("main")).to_contain_text("alices_task")
        assert "admins_task" not in page.content()
        answer = page.goto(task_url(srv.url, "tasksql.public.admins_task"))
        assert answer is not None and answer.status in (403, 404)
        assert "SELECT 2" not in page.content()
        answer = page.goto(task_url(srv.url, "tasksql.public.alices_task"))
        assert answer is not None and answer.status == 200
        expect(page.locator("main")).to_contain_text("SELECT 1")
    finally:
        context.close()


def test_a_role_that_sees_nothing_gets_empty_lists(
    browser: Any, secured: tuple[Server, dict[str, str]]
) -> None:
    srv, tokens = secured
    context, page = _log_in(browser, srv, tokens["bob"])
    try:
        content = page.content()
        assert "alices_task" not in content and "admins_task" not in content
        page.goto(srv.url + "/runs")
        content = page.content()
        assert "alices_task" not in content and "admins_task" not in content
    finally:
        context.close()
    context, page = _log_in(browser, srv, tokens["admin"])
    try:
        expect(page.locator("main")).to_contain_text("admins_task")
        expect(page.locator("main")).to_contain_text("alices_task")
    finally:
        context.close()
