"""The web UI served by ``tasksql serve`` at ``/``: server-rendered pages (:mod:`.views`) over
the engine, small JavaScript modules for the buttons, the SQL console and live updates, and every
asset shipped in the package (no network at run time). See docs/ui.md.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tasksql.engine import Engine
from tasksql.server.web import views
from tasksql.server.web.records import TaskRecords

STATIC_DIR = Path(__file__).parent / "static"


def add_routes(app: web.Application, engine: Engine) -> None:
    """Serve the pages and their static files from ``app`` (the API's application)."""
    app[views.ENGINE] = engine
    app[views.RECORDS] = TaskRecords(engine.catalog)
    app.router.add_get("/", views.tasks_page)
    app.router.add_get("/task", views.task_page)
    app.router.add_get("/runs", views.runs_page)
    app.router.add_get("/notifications", views.notifications_page)
    app.router.add_get("/cluster", views.cluster_page)
    app.router.add_get("/sql", views.sql_page)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
