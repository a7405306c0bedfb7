"""Signing in and out: ``/login`` (the only page without a session), ``/logout``, ``/ping``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.web.routes.common import endpoint, field
from agent.web.security import NOTICE_COOKIE, SESSION_COOKIE, cookie_header

if TYPE_CHECKING:
    from agent.web.app import Web


def routes() -> list[BaseRoute]:
    """The sign-in routes."""
    return [Route("/login", endpoint(login_page), methods=["GET"]),
            Route("/login", endpoint(login), methods=["POST"]),
            Route("/logout", endpoint(logout), methods=["POST"]),
            Route("/ping", endpoint(ping), methods=["GET"])]


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def login_page(request: Request, form: FormData, web: Web) -> Response:
    """The sign-in form, with a signed ``csrf_token``; says why a session ended."""
    notice = None
    if request.cookies.get(NOTICE_COOKIE):
        minutes = int(web.accounts.idle.total_seconds() // 60)
        notice = (f"You were signed out: the session was idle for more than {minutes} "
                  "minutes, or it ended. Sign in again.")
    response = web.pages.render(request, "login.html", login_token=web.login_tokens.issue(),
                                notice=notice, error=None, username="")
    if notice:
        response.headers.append("set-cookie", cookie_header(NOTICE_COOKIE, "", _https(request),
                                                            0))
    return response


def login(request: Request, form: FormData, web: Web) -> Response:
    """Sign in: 303 to the worklist with a session cookie, or 401 with the form again.

    The form's token was checked before this runs (agent/web/security.py).
    """
    name = field(form, "username").strip()
    started = web.accounts.sign_in(name, field(form, "password"))
    if started is None:
        return web.pages.render(request, "login.html", 401,
                                login_token=web.login_tokens.issue(), notice=None,
                                error=_wrong(web), username=name)
    response = RedirectResponse("/", status_code=303)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, started.token,
                                                        _https(request)))
    return response


def _wrong(web: Web) -> str:
    """The one answer to a failed sign-in, a locked user's included."""
    throttle = web.accounts.throttle
    minutes = int(throttle.window.total_seconds() // 60)
    return (f"The user name or password is wrong. After {throttle.failures} wrong passwords "
            f"in a row a user cannot sign in for {minutes} minutes.")


def logout(request: Request, form: FormData, web: Web) -> Response:
    """End the session (audited) and go to the sign-in page."""
    web.accounts.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", _https(request), 0))
    return response


def ping(request: Request, form: FormData, web: Web) -> Response:
    """Nothing (204): the session gate already counted the request as activity."""
    return Response(status_code=204)
