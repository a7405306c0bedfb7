"""The admin's users page: list the store's users, add one, change a role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from agent.application.accounts import ROLES, AccountError
from agent.store.records import Role
from agent.web.routes.common import endpoint, field, user

if TYPE_CHECKING:
    from agent.web.app import Web

_DONE = {"added": "The user was added.", "role": "The role was changed."}


def routes() -> list[BaseRoute]:
    """The user-management routes (admin role)."""
    return [Route("/users", endpoint(users_page), methods=["GET"]),
            Route("/users", endpoint(add_user), methods=["POST"]),
            Route("/users/{name}/role", endpoint(change_role), methods=["POST"])]


def _page(request: Request, web: Web, status: int = 200, **options: Any) -> Response:
    users = web.accounts.users(user(request))
    context: dict[str, Any] = {"users": users, "roles": ROLES, "error": None,
                               "message": _DONE.get(request.query_params.get("done", ""))}
    context.update(options)
    return web.pages.render(request, "users.html", status, **context)


def _role(form: FormData) -> Role | None:
    value = field(form, "role")
    return value if value in ROLES else None


def users_page(request: Request, form: FormData, web: Web) -> Response:
    """The users and their roles (admin only)."""
    return _page(request, web)


def add_user(request: Request, form: FormData, web: Web) -> Response:
    """Add a user with a role and a password (admin only; audited)."""
    role = _role(form)
    try:
        if role is None:
            raise AccountError("choose a role: auditor, lead or admin")
        web.accounts.add_user(user(request), field(form, "name").strip(), role,
                              field(form, "password"))
    except AccountError as exc:
        return _page(request, web, 400, error=str(exc))
    return RedirectResponse("/users?done=added", status_code=303)


def change_role(request: Request, form: FormData, web: Web) -> Response:
    """Give a user another role (admin only; audited)."""
    role = _role(form)
    try:
        if role is None:
            raise AccountError("choose a role: auditor, lead or admin")
        web.accounts.change_role(user(request), str(request.path_params["name"]), role)
    except AccountError as exc:
        return _page(request, web, 400, error=str(exc))
    return RedirectResponse("/users?done=role", status_code=303)
