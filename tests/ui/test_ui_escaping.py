"""Names, comments, SQL text and errors that hold markup are shown as text on every page."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url, wait_for

pytestmark = pytest.mark.browser

NAME = "<script>window['__xss']=1</script>\"'&amp;.x"  # quotes, markup and a dot
COMMENT = '"quoted" <i>markup</i> <img src=x onerror="window.__xss=2"> \'single\''
ERROR = "<img src=x onerror=window.__xss=3>"


@pytest.fixture(scope="module")
def hostile(server: Server) -> str:
    quoted = '"' + NAME.replace('"', '""') + '"'
    comment = COMMENT.replace("'", "''")
    server.sql(
        f"CREATE TASK {quoted} SCHEDULE = 'USING CRON 0 9 * * 1-5 Europe/Berlin' COMMENT = '{comment}'"
        f" AS SELECT error('{ERROR}') AS \"<b>col</b>\";"
    )
    key = "tasksql.public." + quoted  # the API's form of a part with dots and quotes
    status, body = server.call("POST", "/api/v1/tasks/" + urllib.parse.quote(key, safe="") + "/execute")
    assert status == 200, body
    wait_for(lambda: server.runs(key)[0]["state"] == "FAILED", timeout=60, what="the run to fail")
    return key


def _clean(page: Any) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("i, img, script:not([src])").count() == 0


def test_tasks_page_shows_markup_as_text(page: Any, server: Server, hostile: str) -> None:
    page.goto(server.url + "/?q=xss")
    row = page.locator("#tasks-table tbody tr").first
    expect(row.locator("th a")).to_have_text(NAME)
    expect(row.locator("td.comment")).to_have_text(COMMENT)
    expect(row.locator(".mark").first).to_have_attribute("title", re.compile(re.escape(ERROR)))
    _clean(page)


def test_task_page_shows_markup_as_text(page: Any, server: Server, hostile: str) -> None:
    page.goto(task_url(server.url, hostile))
    expect(page.locator("h1")).to_contain_text(NAME)
    expect(page.locator("#task-comment")).to_have_text(COMMENT)
    expect(page.locator("#definition")).to_contain_text(ERROR)
    page.locator("#history-table tbody tr").first.locator("summary").click()
    expect(page.locator("#history-table details pre").first).to_contain_text(ERROR)
    _clean(page)
    # the buttons work for such a name too (the API path is encoded)
    page.click("button[data-action=suspend]")
    page.click("#confirm-yes")
    expect(page.locator("#confirm-text")).to_contain_text(NAME)
    expect(page.locator("#task-state-live .state")).to_have_text("suspended")
    _clean(page)


def test_runs_and_console_show_markup_as_text(page: Any, server: Server, hostile: str) -> None:
    page.goto(server.url + "/runs?task=xss")
    expect(page.locator("#runs-table tbody tr").first.locator("td a")).to_have_text(NAME)
    _clean(page)
    page.goto(server.url + "/sql")
    page.fill("#sql-text", f"SELECT error('{ERROR}')")
    page.click("#sql-run")
    expect(page.locator("#sql-error-message")).to_contain_text(ERROR)
    _clean(page)
