"""Tokens against cross-site request forgery.

A signed-in session has its own random token (kept with the session in the store); every
state-changing request must carry it as the form field ``csrf_token`` or the header
``X-CSRF-Token``. The sign-in form, shown before there is a session, carries a
:class:`LoginTokens` token instead: the time it was issued and a nonce, signed with the
server's secret, valid for a few hours. Both are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

FIELD = "csrf_token"
"""The form field that carries the token."""
HEADER = "x-csrf-token"
"""The header that carries it (htmx requests send it, from a static script)."""


class LoginTokens:
    """Signed, expiring tokens for the sign-in form (no session exists yet)."""

    def __init__(self, secret: bytes | None = None, max_age: float = 4 * 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.max_age = max_age
        self._clock = clock

    def issue(self) -> str:
        """A new token for one sign-in form."""
        issued = str(int(self._clock()))
        nonce = secrets.token_urlsafe(12)
        return f"{issued}.{nonce}.{self._sign(issued, nonce)}"

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued by this server and has not expired."""
        if not token or token.count(".") != 2:
            return False
        issued, nonce, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(issued, nonce)):
            return False
        try:
            age = self._clock() - int(issued)
        except ValueError:
            return False
        return 0 <= age <= self.max_age

    def _sign(self, issued: str, nonce: str) -> str:
        digest = hmac.new(self._secret, f"login|{issued}|{nonce}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def same_token(given: str | None, expected: str) -> bool:
    """Whether a request's token is the session's (constant time)."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
