"""The SQL console: results as tables, errors with their line and column and the text marked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from ui_support import Server

pytestmark = pytest.mark.browser


def test_results_are_tables_of_text(page: Any, server: Server) -> None:
    page.goto(server.url + "/sql")
    page.fill("#sql-text", "SELECT 1 AS n, '<b>x</b>' AS html;\nSELECT 2 AS m")
    page.press("#sql-text", "Control+Enter")
    results = page.locator("#sql-results section.result")
    expect(results).to_have_count(2)
    expect(results.first.locator("th")).to_have_text(["n", "html"])
    expect(results.first.locator("td").nth(1)).to_have_text("<b>x</b>")
    expect(results.first.locator("b")).to_have_count(0)
    expect(page.locator("#sql-error")).to_be_hidden()


def test_a_syntax_error_shows_line_column_and_marks_the_text(page: Any, server: Server) -> None:
    page.goto(server.url + "/sql")
    page.fill("#sql-text", "SELECT 1;\nCREATE TASK t SCHEDULE = 5 parsecs AS SELECT 1")
    page.click("#sql-run")
    expect(page.locator("#sql-error")).to_be_visible()
    expect(page.locator("#sql-error-message")).to_contain_text("line 2, column 28")
    expect(page.locator("#sql-error-message")).to_contain_text("unknown time unit 'parsecs'")
    expect(page.locator("#sql-error-mark")).to_have_text("parsecs")
    expect(page.locator("#sql-results section.result")).to_have_count(0)


def test_a_warehouse_error_is_placed_in_the_script(page: Any, server: Server) -> None:
    page.goto(server.url + "/sql")
    page.fill("#sql-text", "SELECT 1;\nSELECT 2;\n  SELEC 3")
    page.click("#sql-run")
    expect(page.locator("#sql-error-message")).to_contain_text("statement 3, line 3, column 3")
    expect(page.locator("#sql-error-mark")).to_have_text("SELEC")
    expect(page.locator("#sql-results section.result")).to_have_count(2)  # what ran before it
