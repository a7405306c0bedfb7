"""A denial's page: its facts and triage, what is missing, its chart documents.

This is the needs-review view: what a denial lacks and where to look for it (supplying a
missing fact comes later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.web.routes.common import endpoint, user

if TYPE_CHECKING:
    from agent.web.app import Web


def routes() -> list[BaseRoute]:
    """The denial routes."""
    return [Route("/denials/{denial_id}", endpoint(denial_page), methods=["GET"])]


def denial_page(request: Request, form: FormData, web: Web) -> Response:
    """One denial with its missing facts and chart documents; audited."""
    page = web.workbench.denial(user(request), str(request.path_params["denial_id"]))
    return web.pages.render(request, "denial.html", page=page, chart=page.chart)
