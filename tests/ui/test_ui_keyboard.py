"""The pages with the keyboard: a skip link first, visible focus, buttons that are buttons, the
confirmation dialog closed with Escape."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url

pytestmark = pytest.mark.browser


def test_skip_link_nav_and_visible_focus(page: Any, server: Server) -> None:
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(server.url + "/")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand
    page.keyboard.press("Tab")  # Tasks
    page.keyboard.press("Tab")  # Runs
    expect(page.locator("nav a", has_text="Runs")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Runs")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Runs")


def test_task_buttons_by_keyboard(page: Any, server: Server) -> None:
    server.sql("CREATE TASK kb_task AS SELECT 1;")
    page.goto(task_url(server.url, "tasksql.public.kb_task"))
    for action in ("resume", "suspend", "execute", "cancel"):
        assert page.locator(f"[data-action={action}]").evaluate("e => e.tagName") == "BUTTON"
    page.focus("button[data-action=execute]")
    page.keyboard.press("Enter")
    expect(page.locator("dialog#confirm")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#confirm")).to_be_hidden()
    expect(page.locator("button[data-action=execute]")).to_be_focused()
    expect(page.locator("#history-table tbody")).to_contain_text("No runs")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # from Cancel to the confirming button
    expect(page.locator("#confirm-yes")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#history-table tbody tr[data-run-id]")).to_have_count(1)
