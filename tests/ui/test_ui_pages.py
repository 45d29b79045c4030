"""Every page of the web UI, served by a real ``tasksql serve``: what each shows, with nothing
fetched from anywhere but the server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server, task_url, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def graph(server: Server) -> str:
    """A started graph (root every second, two children, a grandchild, a finalizer) with a run."""
    server.sql(
        """
        CREATE TASK pg_root SCHEDULE = 'USING CRON 0 9 * * 1-5 Europe/Berlin' COMMENT = 'loads the day' AS SELECT 1;
        CREATE TASK pg_load AFTER pg_root AS SELECT 2;
        CREATE TASK pg_check AFTER pg_root AS SELECT 3;
        CREATE TASK pg_report AFTER pg_load, pg_check AS SELECT 4;
        CREATE TASK pg_final FINALIZE = pg_root AS SELECT 5;
        SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('pg_root');
        EXECUTE TASK pg_root;
        """
    )
    key = "tasksql.public.pg_root"
    wait_for(
        lambda: any(r["state"] == "SUCCEEDED" for r in server.runs("tasksql.public.pg_final")),
        timeout=20,
        what="the graph run to reach its finalizer",
    )
    return key


def test_tasks_page_lists_tasks_with_schedule_in_words_and_last_runs(
    page: Any, server: Server, graph: str
) -> None:
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("Tasks")
    row = page.locator("#tasks-table tr[data-task='tasksql.public.pg_root']")
    expect(row).to_contain_text("at 09:00 on weekdays, Europe/Berlin")
    expect(row).to_contain_text("started")
    expect(row).to_contain_text("loads the day")
    expect(row.locator(".strip .mark.st-succeeded")).to_have_count(1)
    expect(page.locator("#tasks-table tr[data-task='tasksql.public.pg_load']")).to_contain_text(
        "after a predecessor"
    )
    # search and state filter
    page.fill("input[name=q]", "pg_re")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    expect(page.locator("#tasks-count")).to_contain_text("1 to 1 of 1 matching")
    page.goto(server.url + "/?state=suspended&q=pg_")
    expect(page.locator("#tasks-table tbody")).to_contain_text("No tasks match")


def test_tasks_page_pages_through_many_tasks(page: Any, server: Server) -> None:
    server.sql(";\n".join(f"CREATE TASK many_{i:03d} AS SELECT {i}" for i in range(120)))
    page.goto(server.url + "/?q=many_")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(50)
    expect(page.locator("#tasks-count")).to_contain_text("1 to 50 of 120 matching")
    page.click("a[rel=next]")
    page.click("a[rel=next]")
    expect(page.locator("#tasks-count")).to_contain_text("101 to 120 of 120")
    expect(page.locator("#tasks-table tbody tr").first).to_contain_text("many_100")
    page.click("a[rel=prev]")
    expect(page.locator("#tasks-count")).to_contain_text("51 to 100 of 120")


def test_task_page_shows_definition_graph_timeline_next_runs_and_history(
    page: Any, server: Server, graph: str
) -> None:
    page.goto(task_url(server.url, graph))
    expect(page.locator("h1")).to_contain_text("tasksql.public.pg_root")
    # definition, highlighted by tasksql's tokenizer
    expect(page.locator("#definition .kw").first).to_have_text("CREATE")
    expect(page.locator("#definition .str").first).to_have_text("'0 9 * * 1-5'")
    # next runs in Berlin time
    expect(page.locator("#next-table tbody tr")).to_have_count(5)
    expect(page.locator("#next-table tbody tr").first).to_contain_text("09:00:00")
    expect(page.locator("#next-table tbody tr").first).to_contain_text("Europe/Berlin")
    # the graph: root, children, finalizer, each with its state in the last graph run
    nodes = page.locator("#graph a.node")
    expect(nodes).to_have_count(5)
    expect(page.locator("#graph a.node[aria-label^='root tasksql.public.pg_root']")).to_have_class(
        "node st-succeeded current"
    )
    expect(page.locator("#graph a.node[aria-label^='finalizer tasksql.public.pg_final']")).to_contain_text(
        "SUCCEEDED"
    )
    expect(page.locator("#graph a.node[aria-label^='child tasksql.public.pg_report']")).to_contain_text(
        "SUCCEEDED"
    )
    # the timeline: queued and running bars of the run, against its scheduled instant
    bar = page.locator("#timeline g.bar").first
    expect(bar.locator("rect.queued")).to_have_count(1)
    expect(bar.locator("rect.running")).to_have_count(1)
    expect(bar.locator("title")).to_contain_text("queued")
    # history and properties
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    expect(page.locator("#history-table tbody tr").first).to_contain_text("execute task")
    expect(page.locator("#props-table")).to_contain_text("SUSPEND_TASK_AFTER_NUM_FAILURES")
    # a graph member's box leads to its page
    page.click("#graph a.node[aria-label^='child tasksql.public.pg_load']")
    expect(page.locator("h1")).to_contain_text("tasksql.public.pg_load")
    expect(page.locator("#graph a.node.current")).to_have_attribute(
        "aria-label", "child tasksql.public.pg_load: SUCCEEDED"
    )


def test_history_filters_and_error_details(page: Any, server: Server) -> None:
    server.sql("CREATE TASK pg_fails AS SELECT error('disk on fire');")
    key = "tasksql.public.pg_fails"
    for _ in range(2):
        server.call("POST", f"/api/v1/tasks/{key}/execute")
        wait_for(
            lambda: all(r["state"] not in ("SCHEDULED", "EXECUTING") for r in server.runs(key)),
            timeout=20,
            what="the run to end",
        )
    page.goto(task_url(server.url, key) + "&errors=1")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    rows.first.locator("summary").click()
    expect(rows.first.locator("details pre")).to_contain_text("disk on fire")
    page.goto(task_url(server.url, key) + "&state=SUCCEEDED")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("No runs")
    page.goto(task_url(server.url, key) + "&since=2000-01-01T00:00&until=2000-01-02T00:00")
    expect(rows.first).to_contain_text("No runs")
    # a bad filter is one line naming it, and the page still answers
    page.goto(task_url(server.url, key) + "&since=yesterday")
    expect(page.locator("#page-error")).to_contain_text("since")
    expect(rows).to_have_count(2)


def test_runs_page_lists_runs_of_every_task_and_graph_runs(page: Any, server: Server, graph: str) -> None:
    page.goto(server.url + "/runs")
    expect(page.locator("h1")).to_have_text("Runs")
    expect(page.locator("#runs-table")).to_contain_text("pg_report")
    expect(page.locator("#graph-runs-table")).to_contain_text("pg_root")
    page.select_option("select[name=state]", "SUCCEEDED")
    page.fill("input[name=task]", "pg_fin")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table tbody tr")).to_contain_text("pg_final")


def test_notifications_page_counts_deliveries_per_integration(page: Any, server: Server) -> None:
    # a webhook nobody listens on: its deliveries fail and are retried
    server.sql(
        "CREATE NOTIFICATION INTEGRATION pg_hook TYPE = WEBHOOK ENABLED = TRUE WEBHOOK = (URL = 'http://127.0.0.1:9/x');"
        "CREATE TASK pg_notified ERROR_INTEGRATION = pg_hook AS SELECT error('x');"
    )
    server.call("POST", "/api/v1/tasks/tasksql.public.pg_notified/execute")
    wait_for(
        lambda: (
            server.sql("SELECT count(*) AS n FROM system.notification_history WHERE integration = 'pg_hook'")[
                0
            ]["rows"][0][0]
            > 0
        ),
        timeout=30,
        what="a delivery attempt",
    )
    page.goto(server.url + "/notifications")
    row = page.locator("#integrations-table tbody tr", has_text="pg_hook")
    expect(row).to_contain_text("WEBHOOK")
    expect(row.locator("td").nth(5)).not_to_have_text("0")  # failed attempts
    expect(page.locator("#attempts-table")).to_contain_text("pg_hook")


def test_cluster_page_lists_this_node(page: Any, server: Server) -> None:
    node = server.sql("SELECT node_id FROM system.cluster WHERE is_self")[0]["rows"][0][0]
    page.goto(server.url + "/cluster")
    expect(page.locator("#nodes-table tbody tr.self")).to_contain_text(node)
    expect(page.locator("#nodes-table tbody tr.self")).to_contain_text("this node")


def test_unknown_task_is_a_404_page(page: Any, server: Server) -> None:
    answer = page.goto(task_url(server.url, "tasksql.public.no_such_task"))
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("No such task")


def test_screenshots_of_the_main_pages(page: Any, server: Server, graph: str, tmp_path: Path) -> None:
    """Screenshots of the main pages; ``TASKSQL_UI_SCREENSHOTS=docs/img`` also writes them there."""
    shots = {
        "ui-tasks.png": server.url + "/?q=pg_",
        "ui-task.png": task_url(server.url, graph),
        "ui-runs.png": server.url + "/runs",
        "ui-sql.png": server.url + "/sql",
    }
    target = os.environ.get("TASKSQL_UI_SCREENSHOTS")
    for name, url in shots.items():
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        if name == "ui-sql.png":
            page.fill(
                "#sql-text",
                "SELECT name, state, schedule\nFROM system.tasks\nWHERE name LIKE 'pg_%'\nORDER BY name;",
            )
            page.click("#sql-run")
            expect(page.locator("#sql-results table")).to_be_visible()
        path = tmp_path / name
        page.screenshot(path=str(path), full_page=name != "ui-task.png")
        assert path.stat().st_size > 10_000
        if target:
            shutil.copy(path, Path(target) / name)


def test_history_pages_by_cursor_keeping_its_filters(page: Any, server: Server) -> None:
    # 130 runs: a backfill of 130 one-minute windows runs the body once per window
    server.sql(
        "CREATE TASK pg_long AS SELECT 1;"
        "EXECUTE TASK pg_long FOR WINDOW '2026-01-01 00:00:00' TO '2026-01-01 02:10:00' STEP '1 minute';"
    )
    key = "tasksql.public.pg_long"
    ids = sorted((r["run_id"] for r in server.runs(key)), reverse=True)
    assert len(ids) == 130
    page.goto(task_url(server.url, key))
    rows = page.locator("#history-table tbody tr[data-run-id]")
    expect(rows).to_have_count(100)
    expect(rows.first).to_have_attribute("data-run-id", str(ids[0]))
    expect(page.locator("#history-live a[rel=first]")).to_have_count(0)
    page.click("#history-live a[rel=next]")
    expect(rows).to_have_count(30)
    expect(rows.first).to_have_attribute("data-run-id", str(ids[100]))
    expect(rows.last).to_have_attribute("data-run-id", str(ids[-1]))
    expect(page.locator("#history-live a[rel=next]")).to_have_count(0)
    page.click("#history-live a[rel=first]")
    expect(rows).to_have_count(100)
    # the filters stay on the next page
    page.goto(task_url(server.url, key) + "&state=SUCCEEDED&since=2000-01-01T00:00")
    expect(rows).to_have_count(100)
    page.click("#history-live a[rel=next]")
    expect(rows).to_have_count(30)
    assert "state=SUCCEEDED" in page.url and "since=2000" in page.url
    page.goto(task_url(server.url, key) + "&state=FAILED")
    expect(page.locator("#history-table tbody")).to_contain_text("No runs")
    page.goto(task_url(server.url, key) + "&errors=1")
    expect(page.locator("#history-table tbody")).to_contain_text("No runs")
    # the runs page pages the same way; a damaged cursor is one line, and the first page shows
    page.goto(server.url + "/runs?task=" + key)
    expect(page.locator("#runs-table tbody tr[data-run-id]")).to_have_count(100)
    page.click("#runs-live a[rel=next]")
    expect(page.locator("#runs-table tbody tr[data-run-id]")).to_have_count(30)
    answer = page.goto(task_url(server.url, key) + "&cursor=garbage")
    assert answer is not None and answer.status == 400
    expect(page.locator("#page-error")).to_contain_text("cursor")
    expect(rows).to_have_count(100)
