"""Fixtures of the web UI tests: one ``tasksql serve`` process and one headless Chromium per
module, a fresh page per test that fails the test on a script error or a request off the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ui_support import CHROMIUM, CHROMIUM_ARGS, Server, chromium_missing


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ui") / "data")
    try:
        yield srv
    finally:
        srv.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread while it
# is open, and every asyncio test collected after tests/ui would find that loop and fail to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A page of a fresh browser context. Script errors, dialogs (alert) and requests to anything
    but the server fail the test: every asset is served by tasksql itself."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    pg.on("dialog", lambda d: (problems.append(f"a {d.type} dialog opened: {d.message}"), d.dismiss()))
    pg.on(
        "request",
        lambda r: (
            None if r.url.startswith(server.url) else problems.append(f"request off the server: {r.url}")
        ),
    )
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert not problems, problems
