"""What every route shares: the endpoint wrapper, the signed-in user, error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from agent.application.accounts import Forbidden, SignedIn
from agent.application.workbench import NotFound
from agent.store.records import UserRecord

if TYPE_CHECKING:
    from agent.web.app import Web

Handler = Callable[[Request, FormData, "Web"], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Endpoint:
    """An async endpoint that reads the form, then runs ``handler`` in a worker thread.

    The services are synchronous (SQLite, files); a role the action needs and an id that
    does not exist become a 403 and a 404 page here.
    """
    async def run(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else FormData()
        web: Web = request.app.state.web
        try:
            return await run_in_threadpool(handler, request, form, web)
        except Forbidden as exc:
            return web.pages.render(request, "error.html", 403, heading="Not allowed",
                                    message=str(exc))
        except NotFound as exc:
            return web.pages.render(request, "error.html", 404, heading="Not found",
                                    message=str(exc))

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def signed_in(request: Request) -> SignedIn:
    """The request's session (the session gate let only signed-in requests through)."""
    found = getattr(request.state, "signed_in", None)
    if not isinstance(found, SignedIn):
        raise Forbidden("sign in first")
    return found


def user(request: Request) -> UserRecord:
    """The signed-in user, read again from the store for this request."""
    return signed_in(request).user


def field(form: FormData, name: str) -> str:
    """A form field as text ('' when it is missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
