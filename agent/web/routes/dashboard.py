"""The dashboard (``/dashboard``): the report's KPIs for any signed-in user, and its charts.

The page shows aggregates only; its view is audited like every page. Each chart is its own
SVG response (``/dashboard/charts/<name>.svg``), shown with an ``<img>`` whose alternative
text says what its bars say, beside the table of the same numbers. The SVG carries no CSS
(agent/analytics/svg.py), so the Content Security Policy holds for it too, also when it
is opened alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.analytics.tables import display
from agent.web.routes.common import endpoint, user

if TYPE_CHECKING:
    from agent.web.app import Web

SVG = "image/svg+xml"


def routes() -> list[BaseRoute]:
    """The dashboard page and its charts."""
    return [Route("/dashboard", endpoint(dashboard_page), methods=["GET"]),
            Route("/dashboard/charts/{name}.svg", endpoint(chart), methods=["GET"])]


def dashboard_page(request: Request, form: FormData, web: Web) -> Response:
    """Key figures, charts and tables of the report on the workbench's today."""
    view = web.dashboard.dashboard(user(request))
    return web.pages.render(request, "dashboard.html", view=view, display=display)


def chart(request: Request, form: FormData, web: Web) -> Response:
    """One chart of the dashboard, as an SVG document (404 for an unknown name)."""
    return Response(web.dashboard.chart_svg(user(request), str(request.path_params["name"])),
                    media_type=SVG)
