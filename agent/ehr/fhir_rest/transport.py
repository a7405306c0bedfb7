"""HTTP to the FHIR server: retries, re-authentication, size limits, errors without PHI.

One :class:`Transport` serves a whole run from any number of threads (an ``httpx.Client``
shares its connections). Each request is retried by tenacity on 429, 5xx, timeouts and
connection errors, waiting what ``Retry-After`` asks (seconds or an HTTP date) or else an
exponential backoff with jitter, within the attempt limit and the run's retry budget. A
401 is answered once per attempt by a new token (:class:`Authenticator`). Bodies are
streamed and refused past ``max_response_bytes``. Whatever still fails is a
:class:`FhirRequestError` whose message names the interaction (``the Observation
search``) and the status, never a URL's query (member ids are PHI) or a body.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Protocol

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agent.ehr.fhir_rest.settings import MIB, FhirRestSettings
from agent.retries import RetryBudget, budget_spent

FHIR_JSON = "application/fhir+json"
_ERROR_BODY_LIMIT = 64 * 1024
"""How much of an error answer is read (a token endpoint's error JSON)."""


class FhirRequestError(Exception):
    """A request that failed for good; the message is a problem line (no PHI).

    ``kind`` groups failures for the run's source warnings (``HTTP 403``, ``timed out``).
    """

    def __init__(self, problem: str, kind: str, status: int | None = None,
                 body: bytes = b"") -> None:
        super().__init__(problem)
        self.kind = kind
        self.status = status
        self.body = body


class _Transient(Exception):
    """A failure worth another attempt; becomes a FhirRequestError when none is left."""

    def __init__(self, problem: str, kind: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.kind = kind
        self.retry_after = retry_after


class Authenticator(Protocol):
    """Gives bearer tokens, and drops one the server no longer takes."""

    def token(self) -> str:
        """A token to send (fetched or reused)."""
        ...

    def expired(self, token: str) -> None:
        """The server answered 401 to ``token``: the next :meth:`token` gets a new one."""
        ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful (2xx) response, read in full."""

    status: int
    content_type: str
    body: bytes

    def json(self, what: str) -> Any:
        """The body as JSON (decimals kept as written); FhirRequestError if it is not."""
        try:
            return json.loads(self.body, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise FhirRequestError(f"{what}: the answer is not JSON", "not JSON") from None


class Transport:
    """Requests with retries and limits; counts what it sent and what failed."""

    def __init__(self, settings: FhirRestSettings, *, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        """``client``, ``sleep`` and ``clock`` replace the real ones (tests)."""
        _quiet_http_logs()
        self.settings = settings
        self._http = client or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=settings.max_concurrency * 2,
                                max_keepalive_connections=settings.max_concurrency * 2),
            follow_redirects=False,  # a redirect must not carry the token elsewhere
            trust_env=False)  # no proxy from the environment: the operator names the server
        self._sleep = sleep
        self._clock = clock
        self._budget = RetryBudget(settings.retry_budget)
        self._backoff = wait_exponential_jitter(multiplier=settings.backoff_seconds,
                                                max=settings.max_backoff_seconds,
                                                jitter=settings.backoff_seconds)
        self._lock = threading.Lock()
        self.sent = 0
        """HTTP requests sent, retries and token requests included."""
        self.failures: Counter[str] = Counter()
        """Requests that failed for good, by kind."""

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def request(self, method: str, url: str, *, what: str,
                params: Mapping[str, str | list[str]] | None = None,
                form: Callable[[], dict[str, str]] | None = None,
                accept: str = FHIR_JSON, auth: Authenticator | None = None) -> Answer:
        """Send until a 2xx answer, retrying what is transient.

        ``form`` builds a form body anew for each attempt (a JWT assertion is used once).

        Raises:
            FhirRequestError: It still failed, or failed in a way that is not retried.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient), wait=self._wait_for,
            stop=stop_after_attempt(self.settings.max_attempts) | budget_spent(self._budget),
            sleep=self._sleep, reraise=True)
        try:
            answer: Answer = retrying(self._attempt, method, url, what, params, form, accept,
                                      auth)
        except _Transient as exc:
            self._failed(exc.kind)
            raise FhirRequestError(str(exc), exc.kind) from None
        except FhirRequestError as exc:
            self._failed(exc.kind)
            raise
        return answer

    def _failed(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1

    def _attempt(self, method: str, url: str, what: str,
                 params: Mapping[str, str | list[str]] | None,
                 form: Callable[[], dict[str, str]] | None, accept: str,
                 auth: Authenticator | None) -> Answer:
        token = auth.token() if auth is not None else None
        status, headers, body = self._exchange(method, url, what, params, form, accept, token)
        if status == HTTPStatus.UNAUTHORIZED and auth is not None and token is not None:
            auth.expired(token)  # expired or revoked early: one new token, one more try
            token = auth.token()
            status, headers, body = self._exchange(method, url, what, params, form, accept,
                                                   token)
        if 200 <= status < 300:
            return Answer(status, headers.get("content-type", ""), body)
        label = _status_label(status)
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= 500:
            wait = _retry_after(headers.get("retry-after"), self._clock())
            if wait is not None and wait > self.settings.max_retry_after_seconds:
                raise FhirRequestError(
                    f"{what}: {label}, and the server asked to wait {wait:.0f} s (more than "
                    f"max_retry_after_seconds)", f"HTTP {status}", status)
            raise _Transient(f"{what}: {label} (after retries)", f"HTTP {status}", wait)
        raise FhirRequestError(f"{what}: {label}", f"HTTP {status}", status, body)

    def _exchange(self, method: str, url: str, what: str,
                  params: Mapping[str, str | list[str]] | None,
                  form: Callable[[], dict[str, str]] | None, accept: str,
                  token: str | None) -> tuple[int, httpx.Headers, bytes]:
        headers = {"Accept": accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        with self._lock:
            self.sent += 1
        try:
            with self._http.stream(method, url, params=params, headers=headers,
                                   data=form() if form else None) as response:
                ok = 200 <= response.status_code < 300
                limit = self.settings.max_response_bytes if ok else _ERROR_BODY_LIMIT
                body = self._read(response, limit, what, ok)
                return response.status_code, response.headers, body
        except httpx.TimeoutException:
            raise _Transient(f"{what}: the EHR did not answer in time (after retries)",
                             "timed out") from None
        except httpx.TransportError:
            raise _Transient(f"{what}: could not reach the EHR (after retries)",
                             "connection failed") from None

    def _read(self, response: httpx.Response, limit: int, what: str, ok: bool) -> bytes:
        """The body, streamed; past ``limit`` a 2xx answer is refused, an error cut."""
        declared = response.headers.get("content-length", "")
        if ok and declared.isdigit() and int(declared) > limit:
            raise _too_large(what, limit)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                if ok:
                    raise _too_large(what, limit)
                break
        return bytes(body)

    def _wait_for(self, state: RetryCallState) -> float:
        """The server's Retry-After when it gives one, else exponential jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))


def _quiet_http_logs() -> None:
    """Keep httpx's loggers at WARNING unless the application gave them a level itself.

    httpx logs each request's URL at INFO, search values (member ids) included.
    """
    for name in ("httpx", "httpcore"):
        http_logger = logging.getLogger(name)
        if http_logger.level == logging.NOTSET:
            http_logger.setLevel(logging.WARNING)


def _too_large(what: str, limit: int) -> FhirRequestError:
    size = f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit} bytes"
    return FhirRequestError(f"{what}: larger than {size} (max_response_bytes); not read",
                            "too large")


def _status_label(status: int) -> str:
    try:
        return f"HTTP {status} ({HTTPStatus(status).phrase.lower()})"
    except ValueError:
        return f"HTTP {status}"


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.fromtimestamp(now, UTC)).total_seconds())
