"""Live pages: a run that starts and ends appears on an open page without a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url

pytestmark = pytest.mark.browser


def test_a_new_run_appears_without_reload(page: Any, server: Server) -> None:
    server.sql("CREATE TASK live_one AS SELECT 42;")
    key = "tasksql.public.live_one"
    page.goto(task_url(server.url, key))
    expect(page.locator("#history-table tbody")).to_contain_text("No runs")
    page.evaluate("window.__not_reloaded = true")
    expect(page.locator("html")).to_have_attribute("data-live", re.compile("^(events|polling)$"))
    status, body = server.call("POST", f"/api/v1/tasks/{key}/execute")  # from outside the page
    assert status == 200, body
    row = page.locator(f"#history-table tbody tr[data-run-id='{body['result']['run_id']}']")
    expect(row.locator(".state")).to_have_text("SUCCEEDED", timeout=10_000)
    assert page.evaluate("window.__not_reloaded") is True
    # the tasks list follows too: the task's strip gains a mark
    page.goto(server.url + "/?q=live_one")
    page.evaluate("window.__not_reloaded = true")
    marks = page.locator("#tasks-table tr[data-task='tasksql.public.live_one'] .mark")
    expect(marks).to_have_count(1)
    server.call("POST", f"/api/v1/tasks/{key}/execute")
    expect(marks).to_have_count(2, timeout=10_000)
    assert page.evaluate("window.__not_reloaded") is True
