"""SMART Backend Services: a client-credentials grant with a signed JWT assertion.

The assertion (RFC 7523, as SMART App Launch 2 "Backend Services" profiles it) is signed
RS384 or ES384 with the registered key, its header names the key (``kid``); its claims
are ``iss`` = ``sub`` = the client id, ``aud`` = the token URL, ``exp`` at most five
minutes ahead (four here, leaving room for clock skew), a unique ``jti`` and ``iat``. A
token is reused by every thread until shortly before it expires, or until the server
answers 401 to it; then one thread fetches the next while the others wait for it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from agent.ehr.fhir_rest.transport import FhirRequestError, Transport
from agent.ehr.protocols import EHRSourceError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 240
"""Seconds an assertion is valid (SMART: at most 300)."""
TOKEN_MARGIN = 30.0
"""A token is renewed this many seconds before it expires (a tenth of its life if shorter)."""
DEFAULT_TOKEN_LIFETIME = 300
"""Assumed when the token endpoint gives no ``expires_in``."""

Algorithm = Literal["RS384", "ES384"]
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_signing_key(path: Path, algorithm: Algorithm | None) -> tuple[SigningKey, Algorithm]:
    """The private key in a PEM file and the algorithm it signs with.

    Raises:
        EHRSourceError: The file cannot be read, holds no usable private key, or the key
            does not fit the algorithm (RS384: RSA of at least 2048 bits; ES384: P-384).
    """
    try:
        key = load_pem_private_key(path.expanduser().read_bytes(), password=None)
    except OSError as exc:
        raise EHRSourceError(f"fhir: private_key {path}: cannot be read "
                             f"({exc.strerror or type(exc).__name__})") from None
    except (ValueError, TypeError):  # not PEM, encrypted, or not a private key
        raise EHRSourceError(f"fhir: private_key {path}: not an unencrypted PEM private "
                             "key") from None
    if isinstance(key, rsa.RSAPrivateKey) and algorithm in (None, "RS384"):
        if key.key_size < 2048:
            raise EHRSourceError(f"fhir: private_key {path}: an RSA key of "
                                 f"{key.key_size} bits; RS384 needs at least 2048")
        return key, "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey) and algorithm in (None, "ES384") and \
            isinstance(key.curve, ec.SECP384R1):
        return key, "ES384"
    raise EHRSourceError(f"fhir: private_key {path}: SMART Backend Services signs with "
                         "RS384 (an RSA key) or ES384 (an EC P-384 key)"
                         + (f", and algorithm is {algorithm}" if algorithm else ""))


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float


class SmartBackendAuth:
    """Bearer tokens for one client, fetched with a signed assertion and reused."""

    def __init__(self, transport: Transport, *, token_url: str, client_id: str, key_id: str,
                 key: SigningKey, algorithm: Algorithm, scopes: str,
                 clock: Callable[[], float] = time.time) -> None:
        """Nothing is fetched until :meth:`token` is first called."""
        self._transport = transport
        self.token_url = token_url
        self._client_id = client_id
        self._key_id = key_id
        self._key = key
        self.algorithm: Algorithm = algorithm
        self._scopes = scopes
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _Token | None = None
        self.fetched = 0
        """Tokens fetched so far."""

    def assertion(self) -> str:
        """A new signed client assertion (a new ``jti`` each time)."""
        now = int(self._clock())
        claims = {"iss": self._client_id, "sub": self._client_id, "aud": self.token_url,
                  "exp": now + ASSERTION_LIFETIME, "iat": now, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm=self.algorithm,
                          headers={"kid": self._key_id, "typ": "JWT"})

    def token(self) -> str:
        """The current token, or a new one when there is none or it is about to expire.

        Raises:
            FhirRequestError: The token endpoint refused the client or could not be read.
        """
        with self._lock:
            current = self._current
            if current is None or self._clock() >= current.renew_at:
                current = self._current = self._fetch()
            return current.value

    def expired(self, token: str) -> None:
        """Drop ``token`` (the server answered 401 to it), unless it was replaced already."""
        with self._lock:
            if self._current is not None and self._current.value == token:
                self._current = None

    def _fetch(self) -> _Token:
        def form() -> dict[str, str]:
            return {"grant_type": "client_credentials", "scope": self._scopes,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": self.assertion()}

        what = "the token request"
        try:
            answer = self._transport.request("POST", self.token_url, what=what, form=form,
                                             accept="application/json")
        except FhirRequestError as exc:
            if exc.status in (400, 401):
                raise FhirRequestError(f"the token endpoint refused the client "
                                       f"({_oauth_error(exc.body)})", "token refused",
                                       exc.status) from None
            raise
        body = answer.json(what)
        value = body.get("access_token") if isinstance(body, dict) else None
        kind = body.get("token_type", "bearer") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value or str(kind).lower() != "bearer":
            raise FhirRequestError("the token endpoint gave no bearer access_token",
                                   "token refused")
        lifetime = _lifetime(body.get("expires_in"))
        self.fetched += 1
        return _Token(value, self._clock() + lifetime - min(TOKEN_MARGIN, lifetime / 10))


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_TOKEN_LIFETIME
    return seconds if seconds > 0 else DEFAULT_TOKEN_LIFETIME


def _oauth_error(body: bytes) -> str:
    """``error: description`` of an OAuth error answer, cut short."""
    try:
        value = json.loads(body)
    except ValueError:
        return "no error given"
    if not isinstance(value, dict) or not isinstance(value.get("error"), str):
        return "no error given"
    description = value.get("error_description")
    text = str(value["error"]) + (f": {description}" if isinstance(description, str) else "")
    return text[:200]
