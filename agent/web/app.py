"""The Starlette application: routes, the guards around them, and the static files.

:func:`create_app` takes the services; ``appeals serve`` (agent/cli/serve.py) builds them
over a store and runs the result with uvicorn. Templates and static files (htmx, vendored;
the stylesheet; the one script) ship inside this package: no build step, no CDN.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from agent.application.accounts import AccountService
from agent.application.dashboard import DashboardService
from agent.application.workbench import Workbench
from agent.web.csrf import LoginTokens
from agent.web.render import STATIC, Pages
from agent.web.routes import auth, dashboard, denials, letters, users, worklist
from agent.web.security import Guard, SessionGate


@dataclass(frozen=True, slots=True)
class Web:
    """What the routes use: the services, the page renderer and the sign-in tokens."""

    workbench: Workbench
    accounts: AccountService
    pages: Pages
    login_tokens: LoginTokens
    dashboard: DashboardService
    """The dashboard's KPIs, over the workbench's store and today."""


def create_app(workbench: Workbench, accounts: AccountService,
               login_tokens: LoginTokens | None = None) -> Starlette:
    """The workbench as an ASGI app over the services (sessions last ``accounts.idle``)."""
    web = Web(workbench, accounts, Pages(idle=accounts.idle), login_tokens or LoginTokens(),
              DashboardService(workbench.store, accounts, workbench.today))
    routes: list[BaseRoute] = [
        *auth.routes(), *worklist.routes(), *letters.routes(), *denials.routes(),
        *users.routes(), *dashboard.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(Guard),
        Middleware(SessionGate, accounts=accounts, login_tokens=web.login_tokens),
    ])
    app.state.web = web
    return app
