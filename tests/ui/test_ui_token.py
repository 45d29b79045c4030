"""A server that needs its API token (``require_token``, as when bound beyond loopback): a page
asks for the token, a wrong token is refused, the right one opens the pages, and the pages' live
updates and buttons work through the login cookie."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data = tmp_path_factory.mktemp("ui-token") / "data"
    srv = Server(data, env={"TASKSQL_REQUIRE_TOKEN": "1"})
    try:
        token = subprocess.run(
            [sys.executable, "-m", "tasksql", "--data", str(data), "token", "new"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()  # fmt: skip
        yield srv, token
    finally:
        srv.stop()


def _page(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    return context, pg


def test_a_page_asks_for_the_token_and_refuses_a_wrong_one(
    browser: Any, guarded: tuple[Server, str], tmp_path: Path
) -> None:
    srv, token = guarded
    context, page = _page(browser, srv.url)
    try:
        page.goto(srv.url + "/runs?state=FAILED")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.locator("label[for=token]")).to_have_text("API token")
        expect(page.locator("#token")).to_be_focused()
        page.fill("#token", "not-the-token")
        page.click("button[type=submit]")
        expect(page.locator("p.error[role=alert]")).to_contain_text("not this server's token")
        assert page.context.cookies() == []
        # nothing else answers without it, the API neither
        answer = page.request.get(srv.url + "/api/v1/tasks")
        assert answer.status == 401
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page).to_have_url(srv.url + "/runs?state=FAILED")  # back where it was going
        expect(page.locator("h1")).to_have_text("Runs")
        cookie = page.context.cookies()[0]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    finally:
        context.close()


def test_logged_in_the_buttons_and_live_updates_work(browser: Any, guarded: tuple[Server, str]) -> None:
    srv, token = guarded
    context, page = _page(browser, srv.url)
    try:
        page.goto(srv.url + "/login")
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Tasks")
        page.goto(srv.url + "/sql")
        page.fill("#sql-text", "CREATE TASK tok_task AS SELECT 1")
        page.click("#sql-run")
        expect(page.locator("#sql-results section.result")).to_have_count(1)
        page.goto(task_url(srv.url, "tasksql.public.tok_task"))
        expect(page.locator("html")).to_have_attribute("data-live", "events")  # the stream opened
        page.click("button[data-action=execute]")
        page.click("#confirm-yes")
        expect(page.locator("#history-table tbody tr[data-run-id] .state")).to_have_text("SUCCEEDED")
    finally:
        context.close()
