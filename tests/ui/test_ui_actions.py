"""The task page's buttons: each asks for confirmation, then goes through the API (the same engine
as SQL); cancelling the confirmation changes nothing."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url, wait_for

pytestmark = pytest.mark.browser


def _confirm(page: Any, button: str, *, accept: bool) -> None:
    page.click(f"button[data-action={button}]")
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-no")).to_be_focused()  # the safe choice first
    page.click("#confirm-yes" if accept else "#confirm-no")
    expect(dialog).to_be_hidden()


def test_suspend_and_resume_with_confirmation(page: Any, server: Server) -> None:
    server.sql("CREATE TASK act_sched SCHEDULE 1 HOUR AS SELECT 1; ALTER TASK act_sched RESUME;")
    key = "tasksql.public.act_sched"
    page.goto(task_url(server.url, key))
    expect(page.locator("#task-state-live .state")).to_have_text("started")
    _confirm(page, "suspend", accept=False)
    assert server.task(key)["state"] == "started"
    _confirm(page, "suspend", accept=True)
    expect(page.locator("#action-status")).to_contain_text("suspended")
    expect(page.locator("#task-state-live .state")).to_have_text("suspended")
    assert server.task(key)["state"] == "suspended"
    _confirm(page, "resume", accept=True)
    expect(page.locator("#task-state-live .state")).to_have_text("started")
    assert server.task(key)["state"] == "started"
    expect(page.locator("button[data-action=resume]")).to_be_focused()


def test_execute_now_adds_a_run_and_cancel_stops_it(page: Any, server: Server) -> None:
    server.sql(
        "CREATE TASK act_slow AS SELECT sum(hash(a.range * b.range)) FROM range(1000000) a, range(1000000) b;"
    )
    key = "tasksql.public.act_slow"
    page.goto(task_url(server.url, key))
    expect(page.locator("#history-table tbody")).to_contain_text("No runs")
    _confirm(page, "execute", accept=True)
    expect(page.locator("#action-status")).to_contain_text("run immediately")
    row = page.locator("#history-table tbody tr[data-run-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("execute task")
    wait_for(lambda: server.runs(key)[0]["state"] == "EXECUTING", timeout=60, what="the run to start")
    _confirm(page, "cancel", accept=True)
    expect(row.locator(".state")).to_have_text("CANCELLED", timeout=20_000)
    assert server.runs(key)[0]["state"] == "CANCELLED"


def test_a_refused_action_shows_the_api_error(page: Any, server: Server) -> None:
    server.sql(
        "CREATE TASK act_child_root SCHEDULE 1 HOUR AS SELECT 1; CREATE TASK act_child AFTER act_child_root AS SELECT 1;"
    )
    page.goto(task_url(server.url, "tasksql.public.act_child"))
    server.sql("DROP TASK act_child")
    _confirm(page, "resume", accept=True)
    expect(page.locator("#action-status")).to_have_class("action-status failed")
    expect(page.locator("#action-status")).to_contain_text("act_child")


ODD = 'nightly.load "v2" ü/x'  # dots, quotes, a slash and a non-ASCII letter: legal when quoted


def test_every_button_works_for_a_name_with_dots_quotes_and_unicode(page: Any, server: Server) -> None:
    quoted = '"' + ODD.replace('"', '""') + '"'
    server.sql(f"CREATE TASK {quoted} SCHEDULE 1 HOUR AS SELECT 1;")
    key = "tasksql.public." + quoted
    page.goto(server.url + "/?q=" + urllib.parse.quote("nightly.load"))
    page.get_by_role("link", name=ODD, exact=True).click()  # the list's link leads to the task
    expect(page.locator("h1")).to_contain_text("tasksql.public." + ODD)
    _confirm(page, "resume", accept=True)
    expect(page.locator("#confirm-text")).to_contain_text(ODD)
    expect(page.locator("#task-state-live .state")).to_have_text("started")
    assert server.task(key)["state"] == "started"
    _confirm(page, "suspend", accept=True)
    expect(page.locator("#task-state-live .state")).to_have_text("suspended")
    assert server.task(key)["state"] == "suspended"
    _confirm(page, "execute", accept=True)
    expect(page.locator("#action-status")).to_contain_text("run immediately")
    expect(page.locator("#history-table tbody tr[data-run-id]")).to_have_count(1)
    _confirm(page, "cancel", accept=True)
    expect(page.locator("#action-status")).not_to_have_class("action-status failed")
    expect(page.locator("#action-status")).to_contain_text("ancel")
    assert len(server.runs(key)) == 1
