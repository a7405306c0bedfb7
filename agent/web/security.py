"""The workbench's guards, as ASGI middleware around every request.

From the outside in:

1. :class:`Guard` logs one line per request (method, the route's template, status, time,
   user), never a query string or a concrete path, so no PHI reaches a log; turns any
   exception into a plain 500 page (its class name logged, never its message); and sets
   the security headers (CSP without inline script, ``frame-ancestors 'none'``, nosniff,
   no referrer, ``no-store`` on every page) and ``Server-Timing``.
2. :class:`SessionGate` sends every request without a live session to ``/login`` (303),
   except ``/login`` and ``/static/*``; then refuses (403) a state-changing request
   without the session's CSRF token (``/login``'s own form carries a signed token), or
   whose ``Origin`` is another site's. A request body is read up to
   :data:`MAX_BODY`, or :data:`MAX_UPLOAD` on the route that attaches a document (413
   beyond).
"""

from __future__ import annotations

import logging
import re
import time
from http.cookies import SimpleCookie
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.application.accounts import AccountService, SignedIn
from agent.application.evidence import MAX_ATTACHMENT
from agent.web.csrf import FIELD, HEADER, LoginTokens, same_token

logger = logging.getLogger("agent.web")

SESSION_COOKIE = "appeals_session"
NOTICE_COOKIE = "appeals_notice"
"""Set for a minute when a session ended by itself, so the sign-in page can say why."""
LOGIN_PATH = "/login"
STATIC_PREFIX = "/static/"
MAX_BODY = 2 * 1024 * 1024
"""The largest request body accepted (a letter's Markdown is a few kilobytes)."""
UPLOAD_PATH = re.compile(r"/denials/[^/]+/documents")
"""The route an auditor uploads an exported note to (agent/web/routes/denials.py)."""
MAX_UPLOAD = MAX_ATTACHMENT + 1024 * 1024
"""The largest body of an upload: the largest attachment and the form around it."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")

_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def _route_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path is not None else "(no route)"


class Guard:
    """Access log without query strings, security headers, and no exception escaping."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (or pass a lifespan message through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False}
        https = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
                if https:
                    headers["strict-transport-security"] = "max-age=31536000"
                elapsed = (time.perf_counter() - started) * 1000
                headers["server-timing"] = f"app;dur={elapsed:.1f}"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # logged by class only: a message may quote PHI
            logger.error("error %s in %s %s", type(exc).__name__, scope.get("method"),
                         _route_name(scope))
            if not state["started"]:
                await _plain(send_with_headers, 500, "Something went wrong; the error was "
                             "logged (without its details). Try again or ask an admin.")
        finally:
            signed_in = scope.get("state", {}).get("signed_in")
            logger.info("%s %s %s %.1fms user=%s", scope.get("method"), _route_name(scope),
                        state["status"], (time.perf_counter() - started) * 1000,
                        signed_in.user.name if isinstance(signed_in, SignedIn) else "-")


class SessionGate:
    """Sign-in required (303 to /login), then the CSRF token on every state change."""

    def __init__(self, app: ASGIApp, accounts: AccountService,
                 login_tokens: LoginTokens) -> None:
        self.app = app
        self.accounts = accounts
        self.login_tokens = login_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the request through, or answer it with a redirect or a refusal."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        method = str(scope["method"])
        if path.startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        if path == LOGIN_PATH:
            await self._login(scope, receive, send, method)
            return
        token = _cookie(scope, SESSION_COOKIE)
        signed_in = await run_in_threadpool(self.accounts.session, token)
        if signed_in is None:
            await _to_login(send, ended=bool(token), https=scope.get("scheme") == "https")
            return
        scope.setdefault("state", {})["signed_in"] = signed_in
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        limit = MAX_UPLOAD if UPLOAD_PATH.fullmatch(path) else MAX_BODY
        checked = await _checked_body(scope, receive, send, signed_in.csrf_token, None, limit)
        if checked is not None:
            await self.app(scope, checked, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        checked = await _checked_body(scope, receive, send, None, self.login_tokens, MAX_BODY)
        if checked is not None:
            await self.app(scope, checked, send)


async def _checked_body(scope: Scope, receive: Receive, send: Send, expected: str | None,
                        login_tokens: LoginTokens | None, limit: int) -> Receive | None:
    """The body (at most ``limit`` bytes) replayed for the app; None after a 403 or 413.

    The token is the ``X-CSRF-Token`` header or else the form's ``csrf_token``; a request
    whose ``Origin`` names another host is refused whatever its token.
    """
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != headers.get("host"):
        await _plain(send, 403, "Refused: the request came from another site.")
        return None
    declared = headers.get("content-length", "")
    body = None if declared.isdigit() and int(declared) > limit else \
        await _read_body(receive, limit)
    if body is None:
        await _plain(send, 413, "The request is too large.")
        return None
    given = headers.get(HEADER)
    if given is None:
        async with Request(scope, _replay(body, receive)).form() as form:  # closes uploads
            value = form.get(FIELD)
            given = value if isinstance(value, str) else None
    ok = login_tokens.valid(given) if login_tokens is not None else \
        expected is not None and same_token(given, expected)
    if not ok:
        await _plain(send, 403, "Refused: the form has expired or did not come from this "
                     "site. Reload the page and try again.")
        return None
    return _replay(body, receive)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _cookie(scope: Scope, name: str) -> str | None:
    raw = Headers(scope=scope).get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def cookie_header(name: str, value: str, https: bool, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, path /, Secure on HTTPS."""
    parts = [f"{name}={value}", "HttpOnly", "SameSite=Strict", "Path=/"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if https:
        parts.append("Secure")
    return "; ".join(parts)


async def _to_login(send: Send, ended: bool, https: bool) -> None:
    headers = [(b"location", LOGIN_PATH.encode()), (b"content-type", b"text/plain; charset=utf-8")]
    if ended:  # the cookie named a session that is over: clear it and say why on /login
        headers.append((b"set-cookie", cookie_header(SESSION_COOKIE, "", https, 0).encode()))
        headers.append((b"set-cookie", cookie_header(NOTICE_COOKIE, "ended", https, 60)
                        .encode()))
    body = b"Sign in at /login\n"
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
