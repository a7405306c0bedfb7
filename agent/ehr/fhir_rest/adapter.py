"""``fhir:BASE_URL``: the chart from a FHIR R4 server, by the rules of ``fhir-dir``.

Per denial, these searches (each read through every ``next`` page, each answer checked
with fhir.resources' R4B models) gather what the ``fhir-dir`` rules need, and
:meth:`agent.ehr.fhir_chart.ChartIndex.chart` applies those rules to it, so a server
holding a folder's resources gives the same chart as ``fhir-dir`` on that folder:

* ``Patient?identifier=ID`` for each member id in turn, until one is carried exactly by
  one patient (the server's token match may be looser: the values are compared here);
* ``Encounter?identifier=CLAIM`` (exact value kept), then
  ``DocumentReference?encounter=Encounter/a,...`` for the claim's notes;
* ``DocumentReference?patient=P&date=geLO&date=leHI`` and the same with ``period`` (notes
  dated only by ``context.period``), one day wider than the window on each side (time
  zones), the window itself applied here as ``fhir-dir`` applies it;
* ``Observation``, ``Condition``, ``Procedure`` and ``RelatedPerson`` ``?patient=P``;
* each attachment of a readable type given by ``url`` on this server (``Binary/ID``,
  relative or under BASE_URL) is fetched, raw, and read by agent/ehr/formats.py; a URL
  elsewhere is not followed (the token goes to this server only), like ``fhir-dir``
  leaves ``url`` attachments.

A request that fails for good (401 after a new token, 403, 404, retries spent, a timeout,
an answer over ``max_response_bytes``) makes that denial's chart a problem saying which
interaction failed and how; an attachment that cannot be fetched is a problem of its note
only. Neither stops the other denials. Problems and logs name resource types, references
and statuses, never a member id, a claim id or a name.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from agent.ehr.fhir_chart import (
    AMBIGUOUS_PATIENT,
    FACT_TYPES,
    NO_PATIENT,
    AttachmentUnavailable,
    ChartIndex,
    Resource,
    ResourceSet,
    identifier_values,
)
from agent.ehr.fhir_rest.auth import SmartBackendAuth, load_signing_key
from agent.ehr.fhir_rest.cache import RunCache
from agent.ehr.fhir_rest.settings import FhirRestSettings
from agent.ehr.fhir_rest.transport import FHIR_JSON, FhirRequestError, Transport
from agent.ehr.formats import media_type_of
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.protocols import EHRSourceError

logger = logging.getLogger(__name__)

Params = dict[str, str | list[str]]
_LOOPBACK_NAMES = frozenset({"localhost"})
_JSON_TYPES = frozenset({FHIR_JSON, "application/json"})


@dataclass(frozen=True, slots=True)
class _Found:
    """What one search returned (every page): resources with their fullUrl, and problems."""

    entries: tuple[tuple[Resource, str | None], ...]
    problems: tuple[str, ...]


def _token(value: str) -> str:
    r"""A search token's value escaped (FHIR search: ``\``, ``,``, ``|``, ``$``)."""
    for char in ("\\", ",", "|", "$"):
        value = value.replace(char, "\\" + char)
    return value


def _checked_url(url: str, setting: str) -> httpx.URL:
    """An absolute https URL (http only to a loopback address), without a trailing slash.

    Raises:
        EHRSourceError: It is not one.
    """
    try:
        parsed = httpx.URL(url.strip().rstrip("/"))
    except (httpx.InvalidURL, TypeError):
        raise EHRSourceError(f"fhir: {setting} is not a URL") from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise EHRSourceError(f"fhir: {setting} must be an absolute https:// URL "
                             "(write 'fhir:https://ehr.example/fhir/r4')")
    if parsed.scheme == "http" and not _loopback(parsed.host):
        raise EHRSourceError(f"fhir: {setting} must use https (plain http only to a "
                             "loopback address): charts and tokens must not cross a network "
                             "in clear")
    return parsed


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _required(settings: FhirRestSettings) -> tuple[str, Any, str]:
    missing = [name for name in ("client_id", "private_key", "key_id")
               if getattr(settings, name) is None]
    if missing:
        raise EHRSourceError(
            "fhir: SMART Backend Services needs " + ", ".join(missing) + ": set them in "
            "[ehr.fhir] of the configuration file or as " +
            ", ".join(f"APPEALS_EHR_FHIR_{m.upper()}" for m in missing))
    assert settings.client_id and settings.private_key and settings.key_id
    return settings.client_id, settings.private_key, settings.key_id


class FhirRestAdapter:
    """Charts from a FHIR R4 server through SMART Backend Services (module docstring)."""

    def __init__(self, base_url: str, settings: FhirRestSettings | None = None, *,
                 client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        """Check the settings and fetch a first token: a source that cannot be used fails here.

        ``client``, ``sleep`` and ``clock`` replace the real ones (tests).

        Raises:
            EHRSourceError: A setting is missing or wrong, the key cannot be used, or the
                token endpoint cannot be found or refuses the client.
        """
        if not base_url.strip():
            raise EHRSourceError("fhir needs the server's base URL: write 'fhir:BASE_URL'")
        self.settings = settings = settings or FhirRestSettings()
        self._base = _checked_url(base_url, "BASE_URL")
        self.base_url = str(self._base)
        client_id, key_path, key_id = _required(settings)
        key, algorithm = load_signing_key(key_path, settings.algorithm)
        self._transport = Transport(settings, client=client, sleep=sleep, clock=clock)
        token_url = str(_checked_url(settings.token_url or self._discover_token_url(),
                                     "token_url"))
        self._auth = SmartBackendAuth(self._transport, token_url=token_url,
                                      client_id=client_id, key_id=key_id, key=key,
                                      algorithm=algorithm, scopes=settings.scopes, clock=clock)
        try:
            self._auth.token()
        except FhirRequestError as exc:
            self._transport.close()
            raise EHRSourceError(f"fhir: no access token from {token_url}: {exc}") from None
        self._cache = RunCache(settings.cache_max_bytes)

    def __repr__(self) -> str:
        return f"FhirRestAdapter({self.base_url!r})"

    def _discover_token_url(self) -> str:
        """The token endpoint the server's SMART configuration names."""
        url = f"{self.base_url}/.well-known/smart-configuration"
        what = "the SMART configuration"
        try:
            value = self._transport.request("GET", url, what=what,
                                            accept="application/json").json(what)
        except FhirRequestError as exc:
            self._transport.close()
            raise EHRSourceError(f"fhir: no token_url is set, and {url} could not be read "
                                 f"({exc})") from None
        token_url = value.get("token_endpoint") if isinstance(value, dict) else None
        if not isinstance(token_url, str) or not token_url:
            self._transport.close()
            raise EHRSourceError(f"fhir: {url} names no token_endpoint: set token_url")
        return token_url

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (retries and token requests included)."""
        return self._transport.sent

    @property
    def tokens_fetched(self) -> int:
        """Access tokens fetched so far."""
        return self._auth.fetched

    def close(self) -> None:
        """Close the connections to the server."""
        self._transport.close()

    def source_warnings(self) -> tuple[str, ...]:
        """Requests that failed for good so far, by kind (no PHI), one line."""
        failures = self._transport.failures
        if not failures:
            return ()
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(failures.items()))
        return (f"fhir: {sum(failures.values())} request(s) to {self._base.host} failed "
                f"({kinds}); the charts concerned say so",)

    def charts_for(self, requests: Sequence[ChartRequest]) -> list[ChartBundle]:
        """The charts of several denials (a work queue), fetched ``max_concurrency`` at once.

        In the order asked; one denial's failure is its own chart's problem.
        """
        if len(requests) <= 1:
            return [self._chart_or_problem(request) for request in requests]
        workers = min(self.settings.max_concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fhir") as pool:
            return list(pool.map(self._chart_or_problem, requests))

    def _chart_or_problem(self, request: ChartRequest) -> ChartBundle:
        """:meth:`chart_for`, anything unexpected made that chart's problem.

        One denial never stops the others; the message is not shown (it may quote data).
        """
        try:
            return self.chart_for(request)
        except Exception as exc:
            logger.warning("fhir: a chart could not be read (%s)", type(exc).__name__)
            return ChartBundle(problems=("the chart could not be read from the EHR "
                                         f"({type(exc).__name__})",))

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        """The patient, notes and structured facts for one denial."""
        try:
            return self._chart(request)
        except FhirRequestError as exc:
            logger.warning("fhir: a chart could not be read: %s", exc)
            return ChartBundle(problems=(f"the chart could not be read from the EHR: {exc}",))

    # ----------------------------------------------------------------------- one chart

    def _chart(self, request: ChartRequest) -> ChartBundle:
        patient, problems = self._patient(request.member_ids)
        if patient is None:
            return ChartBundle(problems=tuple(problems))
        resource, full_url = patient
        reference = f"Patient/{resource['id']}"
        found = ResourceSet()
        found.add(resource, full_url)
        for search in self._searches(reference, request):
            for entry, url in search.entries:
                found.add(entry, url)
            problems.extend(search.problems)
        chart = ChartIndex.of(found).chart(request, read_url=self._read_url)
        if not problems:
            return chart
        return chart.model_copy(update={"problems": (*dict.fromkeys(problems),
                                                     *chart.problems)})

    def _patient(self, member_ids: Sequence[str]
                 ) -> tuple[tuple[Resource, str | None] | None, list[str]]:
        """The one patient carrying the first member id any patient carries, or problems."""
        problems: list[str] = []
        for member_id in member_ids:
            search = self._search("Patient", {"identifier": _token(member_id)})
            problems.extend(search.problems)
            matches = {str(r.get("id")): (r, url) for r, url in search.entries
                       if member_id in identifier_values(r)}
            if len(matches) == 1:
                return next(iter(matches.values())), problems
            if matches:
                return None, [AMBIGUOUS_PATIENT, *problems]
        return None, [NO_PATIENT, *problems]

    def _searches(self, patient: str, request: ChartRequest) -> list[_Found]:
        """Every search of the chart besides the patient's, in a fixed order."""
        found = [self._search("RelatedPerson", {"patient": patient})]
        if request.claim_id.strip():
            encounters = self._search("Encounter", {"identifier": _token(request.claim_id)})
            kept = tuple(e for e in encounters.entries
                         if request.claim_id in identifier_values(e[0]))
            found.append(_Found(kept, encounters.problems))
            refs = sorted({f"Encounter/{e['id']}" for e, _ in kept})
            if refs:
                found.append(self._search("DocumentReference", {"encounter": ",".join(refs)}))
        if request.service_date is not None:
            margin = timedelta(days=request.window_days + 1)  # time zones: filtered here
            dates = [f"ge{(request.service_date - margin).isoformat()}",
                     f"le{(request.service_date + margin).isoformat()}"]
            found.append(self._search("DocumentReference", {"patient": patient,
                                                            "date": dates}))
            if self.settings.search_period:
                found.append(self._search("DocumentReference", {"patient": patient,
                                                                "period": dates}))
        found += [self._search(kind, {"patient": patient}) for kind in FACT_TYPES]
        return found

    # ----------------------------------------------------------------------- searches

    def _search(self, resource_type: str, params: Params) -> _Found:
        key = ("search", resource_type,
               tuple(sorted((k, tuple(v) if isinstance(v, list) else (v,))
                            for k, v in params.items())))
        return self._cache.get(key, lambda: self._search_pages(resource_type, params))

    def _search_pages(self, resource_type: str, params: Params) -> _Found:
        """Every page of a search, following ``next`` links on this server, loops refused."""
        what = f"the {resource_type} search"
        url: str = f"{self.base_url}/{resource_type}"
        query: Params | None = {**params, "_count": str(self.settings.page_size)}
        seen: set[tuple[str, ...]] = set()
        entries: list[tuple[Resource, str | None]] = []
        problems: list[str] = []
        for page in range(1, self.settings.max_pages + 1):
            if _page_key(url, query) in seen:
                problems.append(f"{what}: the server's next-page link repeats a page (a "
                                "paging loop); the pages before it were used")
                break
            seen.add(_page_key(url, query))
            label = what if page == 1 else f"{what} (page {page})"
            bundle = self._transport.request("GET", url, what=label, params=query,
                                             auth=self._auth).json(label)
            next_url = _read_page(bundle, resource_type, label, entries, problems)
            if next_url is None:
                break
            target = self._on_server(next_url)
            if target is None:
                problems.append(f"{what}: the next-page link leaves the server's base URL "
                                "and was not followed")
                break
            url, query = target, None
        else:
            problems.append(f"{what}: more than {self.settings.max_pages} pages; the rest "
                            "was not read (max_pages)")
        return _Found(tuple(entries), tuple(problems))

    # ----------------------------------------------------------------------- attachments

    def _on_server(self, url: str) -> str | None:
        """``url`` made absolute when it lies under the base URL; None otherwise."""
        try:
            target = httpx.URL(self.base_url + "/").join(url)
        except (httpx.InvalidURL, TypeError):
            return None
        base = self._base
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            return None
        if not target.path.startswith(base.path.rstrip("/") + "/"):
            return None
        return str(target)

    def _read_url(self, url: str, media_type: str) -> bytes | None:
        """An attachment's bytes from this server (raw Binary); None for a URL elsewhere."""
        target = self._on_server(url)
        if target is None:
            logger.debug("fhir: an attachment URL outside the base URL was not fetched")
            return None
        return self._cache.get(("attachment", target),
                               lambda: self._fetch_attachment(target, media_type), size=len)

    def _fetch_attachment(self, target: str, media_type: str) -> bytes:
        path = httpx.URL(target).path.removeprefix(self._base.path.rstrip("/") + "/")
        what = f"the attachment {path[:80]}"
        try:
            answer = self._transport.request("GET", target, what=what, accept=media_type,
                                             auth=self._auth)
            if media_type_of(answer.content_type) in _JSON_TYPES and \
                    media_type not in _JSON_TYPES:
                return _binary_data(answer.json(what), what)  # the resource, not the bytes
        except FhirRequestError as exc:
            raise AttachmentUnavailable(str(exc)) from None
        return answer.body


def _page_key(url: str, query: Mapping[str, str | list[str]] | None) -> tuple[str, ...]:
    """A page's URL, normalised (query order and encoding do not matter)."""
    parsed = httpx.URL(url, params=query) if query else httpx.URL(url)
    pairs = sorted(f"{k}={v}" for k, v in parsed.params.multi_items())
    return (parsed.scheme, parsed.host, str(parsed.port), parsed.path, *pairs)


def _read_page(bundle: Any, resource_type: str, what: str,
               entries: list[tuple[Resource, str | None]], problems: list[str]) -> str | None:
    """Add a searchset page's matches to ``entries``; its ``next`` link (None: the last)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirRequestError(f"{what}: the answer is not a FHIR Bundle", "not FHIR")
    raw_entries = bundle.get("entry") or []
    shell = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"}
                                 for e in raw_entries if isinstance(e, dict)]}
    try:
        get_fhir_model_class("Bundle").model_validate(shell)
    except ValidationError:
        raise FhirRequestError(f"{what}: the answer is not a valid FHIR R4 Bundle",
                               "not FHIR") from None
    for entry in raw_entries:
        resource = entry.get("resource")
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode != "match" or not isinstance(resource, dict) or \
                resource.get("resourceType") != resource_type:
            continue  # included resources and OperationOutcomes are not asked for
        if not isinstance(resource.get("id"), str) or not resource["id"]:
            problems.append(f"{what}: a {resource_type} without an id; left out")
            continue
        try:
            get_fhir_model_class(resource_type).model_validate(resource)
        except ValidationError:
            problems.append(f"{resource_type}/{resource.get('id', '?')}: not valid FHIR R4; "
                            "left out")
            continue
        url = entry.get("fullUrl")
        entries.append((resource, url if isinstance(url, str) else None))
    links = [link for link in bundle.get("link") or [] if isinstance(link, dict)]
    return next((link["url"] for link in links
                 if link.get("relation") == "next" and isinstance(link.get("url"), str)),
                None)


def _binary_data(value: Any, what: str) -> bytes:
    """The bytes of a Binary resource (a server that answers JSON to a raw request)."""
    try:
        get_fhir_model_class("Binary").model_validate(value)
        return base64.b64decode(value.get("data") or "", validate=True)
    except (ValidationError, AttributeError, binascii.Error, ValueError):
        raise AttachmentUnavailable(f"{what}: the answer is not a FHIR Binary") from None
