"""The ``fhir`` REST adapter against a real FHIR server on loopback.

The server is Medplum's fhir-router (tests/fhir_server/server.mjs under Node), loaded with
the demo charts (fixtures/fhir), edge cases built here, and charts only a server has
(attachments by URL, a 20 MB PDF, a long search); its token endpoint verifies the client
assertion with the registered public key; a proxy in front injects faults. The key test
is the first: the same resources give the same ChartBundle as ``fhir-dir``.

Skipped, saying why, when Node or the server's packages are missing (``make test``
installs them with ``npm ci``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from agent.application.workflow import open_workflow, run_batch
from agent.config import AppConfig
from agent.ehr.fhir_chart import AMBIGUOUS_PATIENT, NO_PATIENT
from agent.ehr.fhir_dir import FhirDirAdapter
from agent.ehr.fhir_rest import FhirRestAdapter, FhirRestSettings, open_fhir_rest
from agent.ehr.fhir_rest.transport import _retry_after
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.protocols import EHRAdapter, EHRSourceError, FetchesChartsTogether
from agent.ehr.registry import open_adapter
from agent.ingest import ingest
from tests.conftest import FIXTURES
from tests.documents import pdf
from tests.fhir_server import Client, FhirTestServer, make_client, unavailable
from tests.practice import practice_config

Resource = dict[str, Any]

_WHY = unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"FHIR REST tests: {_WHY}")

DOS = date(2026, 8, 6)
BIG_PDF_BYTES = 20 * 1024 * 1024
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --------------------------------------------------------------------------- chart builders

def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def patient(pid: str, *members: str, **fields: Any) -> Resource:
    return {"resourceType": "Patient", "id": pid,
            "identifier": [{"value": m} for m in members], **fields}


def encounter(eid: str, claim: str, subject: str | None) -> Resource:
    resource: Resource = {"resourceType": "Encounter", "id": eid, "status": "finished",
                          "class": {"code": "AMB"}, "identifier": [{"value": claim}]}
    if subject:
        resource["subject"] = {"reference": f"Patient/{subject}"}
    return resource


def text(value: str, content_type: str = "text/plain") -> Resource:
    return {"attachment": {"contentType": content_type, "data": b64(value)}}


def link(url: str, content_type: str) -> Resource:
    return {"attachment": {"contentType": content_type, "url": url}}


def note(did: str, subject: str | None, when: str | None = None, *, enc: str | None = None,
         content: list[Resource] | None = None, period: str | None = None,
         **fields: Any) -> Resource:
    resource: Resource = {"resourceType": "DocumentReference", "id": did, "status": "current",
                          "content": content or [text(f"Note {did}: knee effusion.")],
                          **fields}
    if subject:
        resource["subject"] = {"reference": f"Patient/{subject}"}
    if when:  # an instant in FHIR R4: a bare date would not validate
        resource["date"] = when if len(when) > 10 else f"{when}T10:00:00-04:00"
    context: Resource = {}
    if enc:
        context["encounter"] = [{"reference": f"Encounter/{enc}"}]
    if period:
        context["period"] = {"start": period}
    if context:
        resource["context"] = context
    return resource


def observation(oid: str, subject: str, when: str, **value: Any) -> Resource:
    return {"resourceType": "Observation", "id": oid, "status": value.pop("status", "final"),
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4",
                                 "display": "Hemoglobin A1c"}]},
            "subject": {"reference": f"Patient/{subject}"}, "effectiveDateTime": when,
            **value}


def edge_resources() -> list[Resource]:
    """Every linking rule at its edge (tests/test_ehr_fhir_dir.py checks fhir-dir on them)."""
    full = patient("edge-pt-1", "EDGE-M1", "MRN-EDGE-1",
                   name=[{"use": "official", "family": "Quinlan", "given": ["Ada", "B"]},
                         {"use": "maiden", "text": "Ada Brook"}],
                   birthDate="1961-02-03", telecom=[{"system": "phone", "value": "555-0101"}],
                   address=[{"line": ["12 Elm St"], "city": "Lakeside", "postalCode": "01234"}],
                   contact=[{"name": {"given": ["Bo"], "family": "Quinlan"},
                             "telecom": [{"system": "phone", "value": "555-0102"}]}])
    related = {"resourceType": "RelatedPerson", "id": "edge-rp-1",
               "patient": {"reference": "Patient/edge-pt-1"},
               "name": [{"given": ["Cy"], "family": "Quinlan"}],
               "telecom": [{"system": "email", "value": "cy@example.org"}]}
    return [
        full, related,
        patient("edge-pt-2", "EDGE-M2"),
        patient("edge-pt-case", "edge-m1"),  # a token search may match it: exact ids only
        patient("edge-pt-dup-a", "EDGE-DUP"), patient("edge-pt-dup-b", "EDGE-DUP"),
        patient("edge-pt-5", "EDGE-M5"),
        encounter("edge-enc-1", "EDGE-C1", "edge-pt-1"),
        encounter("edge-enc-1b", "EDGE-C1", "edge-pt-1"),
        encounter("edge-enc-other", "EDGE-C1", "edge-pt-2"),
        encounter("edge-enc-nosubj", "EDGE-C2", None),
        encounter("edge-enc-5", "EDGE-C5", "edge-pt-5"),
        note("edge-n-enc-old", "edge-pt-1", "2025-01-01T09:00:00Z", enc="edge-enc-1"),
        note("edge-n-enc-1b", "edge-pt-1", "2026-07-01", enc="edge-enc-1b",
             description="Op note"),
        note("edge-n-enc-other", "edge-pt-2", "2026-08-06", enc="edge-enc-other"),
        note("edge-n-enc-wrong-subject", "edge-pt-2", "2026-08-06", enc="edge-enc-1"),
        note("edge-n-no-subject", None, "2026-08-06", enc="edge-enc-1"),
        note("edge-n-nosubj-enc", "edge-pt-1", "2026-08-06", enc="edge-enc-nosubj"),
        note("edge-n-plus3-late-tz", "edge-pt-1", "2026-08-09T23:30:00-10:00"),
        note("edge-n-plus4-early-tz", "edge-pt-1", "2026-08-10T00:30:00+14:00"),
        note("edge-n-minus3", "edge-pt-1", "2026-08-03"),
        note("edge-n-minus4", "edge-pt-1", "2026-08-02T23:59:59Z"),
        note("edge-n-period", "edge-pt-1", period="2026-08-05T10:00:00-04:00",
             type={"text": "Clinic visit"}),
        note("edge-n-undated", "edge-pt-1"),
        note("edge-n-eie", "edge-pt-1", "2026-08-06", enc="edge-enc-1",
             status="entered-in-error"),
        note("edge-n-doc-eie", "edge-pt-1", "2026-08-06", docStatus="entered-in-error"),
        note("edge-n-two", "edge-pt-1", "2026-08-06",
             content=[text("Part one."), text("<p>Part <b>two</b>.</p>", "text/html"),
                      text("ignored", "image/png"),
                      link("https://elsewhere.example/Binary/x", "application/pdf")]),
        note("edge-n-md", "edge-pt-1", "2026-08-07",
             content=[text("# Plan\n\nPT x 6 wks", "text/markdown; charset=utf-8")]),
        note("edge-n-other-patient", "edge-pt-2", "2026-08-06"),
        note("edge-n-5", "edge-pt-5", "2026-08-06", enc="edge-enc-5"),
        observation("edge-o-a1c", "edge-pt-1", "2026-08-01T23:00:00-05:00",
                    valueQuantity={"value": 8.2, "unit": "%"}),
        observation("edge-o-string", "edge-pt-1", "2026-07-01", valueString="positive"),
        observation("edge-o-int", "edge-pt-1", "2026-06-01", valueInteger=16),
        observation("edge-o-bool", "edge-pt-1", "2026-05-01", valueBoolean=True),
        observation("edge-o-eie", "edge-pt-1", "2026-08-01", status="entered-in-error",
                    valueQuantity={"value": 9.9, "unit": "%"}),
        {"resourceType": "Observation", "id": "edge-o-period", "status": "final",
         "code": {"text": "Smoking status"}, "subject": {"reference": "Patient/edge-pt-1"},
         "effectivePeriod": {"start": "2026-04-01"},
         "valueCodeableConcept": {"text": "Former smoker"}},
        {"resourceType": "Observation", "id": "edge-o-undated", "status": "final",
         "code": {"text": "Blood type"}, "subject": {"reference": "Patient/edge-pt-1"},
         "valueString": "O+"},
        observation("edge-o-other", "edge-pt-2", "2026-08-01",
                    valueQuantity={"value": 5.1, "unit": "%"}),
        {"resourceType": "Condition", "id": "edge-c-ckd",
         "subject": {"reference": "Patient/edge-pt-1"},
         "clinicalStatus": {"coding": [{"code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.3",
                              "display": "CKD stage 3"}]},
         "stage": [{"summary": {"text": "Stage 3"}}], "onsetDateTime": "2024-01-01"},
        {"resourceType": "Condition", "id": "edge-c-eie",
         "subject": {"reference": "Patient/edge-pt-1"},
         "verificationStatus": {"coding": [{"code": "entered-in-error"}]},
         "code": {"text": "Type 1 DM"}},
        {"resourceType": "Procedure", "id": "edge-p-1", "status": "completed",
         "subject": {"reference": "Patient/edge-pt-1"},
         "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "29881"}]},
         "performedPeriod": {"start": "2026-08-06T08:00:00-04:00"}},
    ]


EDGE_REQUESTS = [
    ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C1", service_date=DOS),
    ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C1", service_date=DOS, window_days=0),
    ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C1", service_date=DOS, window_days=10),
    ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C2", service_date=DOS),
    ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C1"),
    ChartRequest(member_ids=("EDGE-M1",), claim_id="NO-SUCH-CLAIM", service_date=date(2020, 1, 1)),
    ChartRequest(member_ids=("EDGE-M2",), claim_id="EDGE-C1", service_date=DOS),
    ChartRequest(member_ids=("EDGE-DUP", "EDGE-M1"), claim_id="EDGE-C1", service_date=DOS),
    ChartRequest(member_ids=("NOBODY", "EDGE-M5"), claim_id="EDGE-C5", service_date=DOS),
    ChartRequest(member_ids=("edge-M1",), claim_id="EDGE-C1", service_date=DOS),
    ChartRequest(member_ids=(), claim_id="EDGE-C1", service_date=DOS),
]


SMALL_PDF = pdf(["Operative note", "Partial medial meniscectomy, RIGHT knee."], 0)
BIG_PDF = pdf(["Scanned chart with a text layer", "Auth # HM-PA-777001 approved."],
                     BIG_PDF_BYTES)


def binary(bid: str, content_type: str, data: bytes) -> Resource:
    return {"resourceType": "Binary", "id": bid, "contentType": content_type,
            "data": b64(data)}


def rest_only_resources() -> list[Resource]:
    """Charts only a server has: attachments by URL, a long search, failing references."""
    return [
        patient("rest-pt-1", "REST-M1"),
        encounter("rest-enc-1", "REST-C1", "rest-pt-1"),
        note("rest-n-pdf", "rest-pt-1", "2026-08-06", enc="rest-enc-1",
             content=[link("Binary/rest-bin-pdf", "application/pdf")]),
        note("rest-n-html-abs", "rest-pt-1", "2026-08-06",
             content=[link("Binary/rest-bin-html", "text/html")]),
        note("rest-n-missing", "rest-pt-1", "2026-08-05",
             content=[link("Binary/rest-bin-gone", "text/plain"), text("Inline part.")]),
        note("rest-n-external", "rest-pt-1", "2026-08-05",
             content=[link("https://elsewhere.example/fhir/Binary/x", "text/plain"),
                      text("Kept inline text.")]),
        binary("rest-bin-pdf", "application/pdf", SMALL_PDF),
        binary("rest-bin-html", "text/html",
               b"<html><body><h1>Clinic</h1><p>Effusion, moderate.</p></body></html>"),
        *[observation(f"rest-o-{i:02d}", "rest-pt-1", f"2026-07-{i + 1:02d}",
                      valueQuantity={"value": 6 + i / 10, "unit": "%"}) for i in range(25)],
        patient("rest-pt-big", "REST-BIG"),
        note("rest-n-big", "rest-pt-big", "2026-08-06",
             content=[link("Binary/rest-bin-big", "application/pdf")]),
        binary("rest-bin-big", "application/pdf", BIG_PDF),
        patient("rest-pt-bad", "REST-BAD"),
        note("rest-n-bad-b64", "rest-pt-bad", "2026-08-06",
             content=[{"attachment": {"contentType": "text/plain", "data": "%%% not b64"}}]),
        note("rest-n-good", "rest-pt-bad", "2026-08-06"),
        *[patient(f"rest-pt-q{i}", f"REST-Q{i}") for i in range(12)],
        *[note(f"rest-n-q{i}", f"rest-pt-q{i}", "2026-08-06") for i in range(12)],
    ]


def write_ndjson(directory: Path, resources: list[Resource]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "resources.ndjson").open("w", encoding="utf-8") as out:
        for resource in resources:
            out.write(json.dumps(resource) + "\n")
    return directory


# --------------------------------------------------------------------------- the server

@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Client]:
    folder = tmp_path_factory.mktemp("keys")
    return {"rsa": make_client(folder, "appeals", "rsa-1"),
            "ec": make_client(folder, "appeals-ec", "ec-1", kind="ec"),
            "short": make_client(folder, "appeals-short", "short-1", token_lifetime=60),
            "stranger": make_client(folder, "appeals", "rsa-1")}  # same ids, other key


@pytest.fixture(scope="module")
def charts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo charts plus the edge cases: what both adapters read."""
    union = tmp_path_factory.mktemp("charts")
    shutil.copytree(FIXTURES / "fhir", union / "demo",
                    ignore=shutil.ignore_patterns("_source"))
    write_ndjson(union / "edge", edge_resources())
    return union


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Client],
           charts_dir: Path) -> Iterator[FhirTestServer]:
    rest_only = write_ndjson(tmp_path_factory.mktemp("rest-only"), rest_only_resources())
    work = tmp_path_factory.mktemp("server")
    running = FhirTestServer([charts_dir, rest_only],
                             [keys["rsa"], keys["ec"], keys["short"]], work,
                             page_size=50).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()


class Sleeps(list[float]):
    """An injected sleep: records each wait, waits for none."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


Make = Callable[..., FhirRestAdapter]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make(server: FhirTestServer, keys: dict[str, Client], sleeps: Sleeps) -> Iterator[Make]:
    made: list[FhirRestAdapter] = []

    def build(client: str = "rsa", direct: bool = False, clock: Callable[[], float] = time.time,
              **settings: Any) -> FhirRestAdapter:
        key = keys[client]
        base = server.fhir if direct else server.proxy
        values: dict[str, Any] = {"client_id": key.client_id, "private_key": key.private_key,
                                  "key_id": key.key_id, "token_url": server.token_url(base),
                                  "backoff_seconds": 0.01, **settings}
        adapter = FhirRestAdapter(base, FhirRestSettings(**values), sleep=sleeps, clock=clock)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        adapter.close()


def demo_requests() -> list[ChartRequest]:
    report = ingest(sorted((FIXTURES / "835").glob("*.835")) +
                    sorted((FIXTURES / "queue").glob("*.csv")))
    return [ChartRequest(member_ids=(d.patient.member_id,) if d.patient.member_id else (),
                         claim_id=d.claim_id, service_date=d.service_date)
            for d in report.denials]


def one(adapter: FhirRestAdapter, member: str, claim: str = "REST-C1") -> ChartBundle:
    return adapter.chart_for(ChartRequest(member_ids=(member,), claim_id=claim,
                                          service_date=DOS))


# --------------------------------------------------------------------------- equivalence

@pytest.mark.parametrize("page_size", [3, 100])
def test_same_charts_as_fhir_dir(make: Make, charts_dir: Path, server: FhirTestServer,
                                 page_size: int) -> None:
    """The same resources give the same ChartBundle from a server as from a folder:
    documents, texts, hashes, linking, facts, patient identifiers and problems."""
    requests = demo_requests() + EDGE_REQUESTS
    expected = [FhirDirAdapter(charts_dir).chart_for(r) for r in requests]
    adapter = make(page_size=page_size)
    got = adapter.charts_for(requests)
    for request, rest, folder in zip(requests, got, expected, strict=True):
        assert rest == folder, (request.member_ids, request.claim_id, request.window_days)
    assert sum(len(c.documents) for c in got) >= 40 and sum(len(c.facts) for c in got) >= 30
    assert any(d.linked_by == "date_window" for c in got for d in c.documents)
    assert {c.problems[0] for c in got if c.patient is None} == {NO_PATIENT, AMBIGUOUS_PATIENT}
    if page_size == 3:
        assert adapter.tokens_fetched == 1  # one token for the whole batch: reused
        assert server.log()["by_kind"]["DocumentReference?"] > len(requests)  # pages


def test_it_is_an_adapter_that_fetches_charts_together(make: Make) -> None:
    adapter = make()
    assert isinstance(adapter, EHRAdapter) and isinstance(adapter, FetchesChartsTogether)


# --------------------------------------------------------------------------- SMART auth

@pytest.mark.parametrize(("client", "alg"), [("rsa", "RS384"), ("ec", "ES384")])
def test_the_token_endpoint_verifies_the_assertion(make: Make, server: FhirTestServer,
                                                   keys: dict[str, Client], client: str,
                                                   alg: str) -> None:
    adapter = make(client)
    [request] = server.log()["token_requests"]
    assert request["ok"] and request["error"] is None
    assert request["header"] == {"alg": alg, "kid": keys[client].key_id, "typ": "JWT"}
    claims = request["claims"]
    assert claims["iss"] == claims["sub"] == keys[client].client_id
    assert claims["aud"] == server.token_url(server.proxy)
    assert 0 < claims["exp"] - time.time() <= 300 and claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) == 32
    assert one(adapter, "REST-M1").patient is not None


def test_a_key_the_server_does_not_hold_is_refused_at_start(make: Make) -> None:
    with pytest.raises(EHRSourceError, match=r"no access token.*invalid_client"):
        make("stranger")


def _post_assertion(server: FhirTestServer, assertion: str) -> httpx.Response:
    with httpx.Client(trust_env=False) as http:
        return http.post(server.token_url(server.fhir), data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": "system/Patient.rs"})


def test_the_token_endpoint_refuses_replays_and_wrong_claims(server: FhirTestServer,
                                                            keys: dict[str, Client]) -> None:
    key = keys["rsa"].private_key.read_bytes()
    now = int(time.time())
    good = {"iss": "appeals", "sub": "appeals", "aud": server.token_url(server.fhir),
            "exp": now + 240, "jti": uuid.uuid4().hex}

    def signed(**changes: Any) -> str:
        claims = {**good, "jti": uuid.uuid4().hex, **changes}
        return jwt.encode(claims, key, algorithm="RS384", headers={"kid": "rsa-1"})

    replayed = signed()
    assert _post_assertion(server, replayed).status_code == 200
    refused = {
        "replayed jti": replayed,
        "wrong aud": signed(aud=server.token_url(server.proxy)),
        "iss is not sub": signed(sub="someone-else"),
        "expired": signed(exp=now - 60),
        "exp too far": signed(exp=now + 900),
        "no jti": jwt.encode({k: v for k, v in good.items() if k != "jti"}, key,
                             algorithm="RS384", headers={"kid": "rsa-1"}),
        "wrong kid": jwt.encode(good, key, algorithm="RS384", headers={"kid": "other"}),
        "RS256": jwt.encode({**good, "jti": uuid.uuid4().hex}, key, algorithm="RS256",
                            headers={"kid": "rsa-1"}),
        "tampered": replayed[:-4] + ("AAAA" if not replayed.endswith("AAAA") else "BBBB"),
    }
    for why, assertion in refused.items():
        answer = _post_assertion(server, assertion)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", why


def test_the_token_is_reused_then_renewed_before_it_expires(make: Make,
                                                           server: FhirTestServer) -> None:
    offset = [0.0]
    adapter = make("short", clock=lambda: time.time() + offset[0])  # 60 s tokens
    for member in ("REST-M1", "REST-BAD", "EDGE-M1"):
        assert one(adapter, member).patient is not None
    assert adapter.tokens_fetched == 1
    offset[0] = 55.0  # within the last tenth of its life: renewed before it is used
    assert one(adapter, "EDGE-M5").patient is not None
    assert adapter.tokens_fetched == 2 and server.log()["unauthorized"] == 0


def test_a_revoked_token_is_replaced_once_on_401(make: Make, server: FhirTestServer) -> None:
    adapter = make()
    assert one(adapter, "REST-M1").patient is not None
    server.expire_tokens()
    chart = one(adapter, "EDGE-M1", "EDGE-C1")
    assert chart.patient is not None and chart.problems == ()
    assert adapter.tokens_fetched == 2 and server.log()["unauthorized"] == 1


def test_settings_come_from_the_table_and_the_environment_wins(
        server: FhirTestServer, keys: dict[str, Client], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    key = keys["rsa"]
    config = tmp_path / "appeals.toml"
    config.write_text(f"""
[ehr.fhir]
client_id = "not-registered"
private_key = "{key.private_key}"
key_id = "{key.key_id}"
scopes = ["system/Patient.rs", "system/Observation.rs"]
max_concurrency = 4
""")
    table = AppConfig.load(config).ehr
    with pytest.raises(EHRSourceError, match="invalid_client"):
        open_adapter(f"fhir:{server.proxy}", table)  # token_url discovered, client unknown
    monkeypatch.setenv("APPEALS_EHR_FHIR_CLIENT_ID", key.client_id)
    adapter = open_adapter(f"fhir:{server.proxy}", table)
    assert isinstance(adapter, FhirRestAdapter)
    assert adapter.settings.max_concurrency == 4 and adapter.settings.client_id == "appeals"
    assert adapter.settings.scopes == "system/Patient.rs system/Observation.rs"
    adapter.close()
    token = [r for r in server.log()["token_requests"] if r["ok"]]
    assert token[-1]["claims"]["aud"] == server.token_url(server.proxy)  # from discovery


@pytest.mark.parametrize(("location", "table", "error"), [
    ("", {}, "needs the server's base URL"),
    ("https://ehr.example/fhir", {}, "needs client_id, private_key, key_id: set them in "
                                     r"\[ehr.fhir\].*APPEALS_EHR_FHIR_CLIENT_ID"),
    ("http://ehr.example/fhir", {"client_id": "a", "private_key": "/x", "key_id": "k"},
     "must use https"),
    ("ftp://ehr.example/fhir", {}, "absolute https"),
    ("https://ehr.example/fhir", {"client_id": "a", "key_id": "k",
                                  "private_key": "/no/such/key.pem"}, "cannot be read"),
    ("https://ehr.example/fhir", {"max_concurrency": 0}, "max_concurrency"),
    ("https://ehr.example/fhir", {"clientid": "a"}, "clientid"),
])
def test_unusable_settings_fail_before_any_request(location: str, table: dict[str, Any],
                                                   error: str) -> None:
    with pytest.raises(EHRSourceError, match=error):
        open_fhir_rest(location, table)


def test_a_table_for_an_adapter_without_settings_is_refused() -> None:
    with pytest.raises(EHRSourceError, match=r"\[ehr.fhir-dir\] table"):
        open_adapter(f"fhir-dir:{FIXTURES / 'fhir'}", {"fhir-dir": {"x": 1}})


# --------------------------------------------------------------------------- paging

def test_every_page_is_read(make: Make, server: FhirTestServer) -> None:
    chart = one(make(page_size=10), "REST-M1")
    assert len(chart.facts) == 25 and not any("Observation" in p for p in chart.problems)
    assert server.log()["by_kind"]["Observation?"] == 3


def test_a_paging_loop_is_stopped(make: Make, server: FhirTestServer) -> None:
    server.faults({"match": r"^/fhir/Observation\?.*_offset=10", "loop": True, "times": -1})
    chart = one(make(page_size=10), "REST-M1")
    assert len(chart.facts) == 20  # the two pages before the loop
    assert chart.problems[0] == ("the Observation search: the server's next-page link "
                                 "repeats a page (a paging loop); the pages before it were "
                                 "used")
    assert chart.patient is not None and len(chart.documents) == 4
    assert server.log()["by_kind"]["Observation?"] == 2


# --------------------------------------------------------------------------- attachments

def test_attachments_by_url_are_fetched_raw_and_read(make: Make, server: FhirTestServer) -> None:
    chart = one(make(), "REST-M1")
    by_id = {d.document_id: d for d in chart.documents}
    pdf = by_id["DocumentReference/rest-n-pdf"]
    assert pdf.content_type == "application/pdf" and pdf.linked_by == "encounter"
    assert "Partial medial meniscectomy, RIGHT knee." in pdf.text
    assert pdf.original_hash == "sha256:" + hashlib.sha256(SMALL_PDF).hexdigest()
    assert "Effusion, moderate." in by_id["DocumentReference/rest-n-html-abs"].text
    assert by_id["DocumentReference/rest-n-external"].text == "Kept inline text."
    assert by_id["DocumentReference/rest-n-missing"].text == "Inline part."
    assert chart.problems == ("DocumentReference/rest-n-missing: the attachment "
                              "Binary/rest-bin-gone: HTTP 404 (not found); the attachment "
                              "was skipped",)
    assert server.log()["by_kind"]["Binary"] == 3  # the external URL is never followed


def test_only_urls_under_the_base_url_are_followed(make: Make) -> None:
    adapter = make()
    base = adapter.base_url
    assert adapter._on_server("Binary/b1") == f"{base}/Binary/b1"
    assert adapter._on_server(f"{base}/Binary/b1") == f"{base}/Binary/b1"
    for elsewhere in ("https://elsewhere.example/fhir/Binary/b1", base.replace("/fhir", "/x/b"),
                      base.replace("http://", "https://") + "/Binary/b1", "urn:uuid:1234",
                      "//elsewhere.example/fhir/Binary/b1"):
        assert adapter._on_server(elsewhere) is None, elsewhere


def test_a_20_mb_pdf_is_streamed_and_read(make: Make) -> None:
    chart = one(make(), "REST-BIG")
    [document] = chart.documents
    assert "Auth # HM-PA-777001 approved." in document.text
    assert document.original_hash == "sha256:" + hashlib.sha256(BIG_PDF).hexdigest()


def test_a_response_over_the_limit_is_a_problem_not_a_crash(make: Make) -> None:
    chart = one(make(max_response_bytes=10 * 1024 * 1024), "REST-BIG")
    assert chart.documents == () and chart.patient is not None
    assert chart.problems == (
        "DocumentReference/rest-n-big: the attachment Binary/rest-bin-big: larger than "
        "10 MiB (max_response_bytes); not read; the attachment was skipped",
        "DocumentReference/rest-n-big: no attachment of a readable type (plain text, HTML, "
        "PDF, RTF or C-CDA); the note was skipped",
        "no clinical notes found for the claim's encounter or within ±3 days of the service "
        "date")


def test_a_resource_that_is_not_valid_fhir_is_left_out_and_said(make: Make) -> None:
    chart = one(make(), "REST-BAD")
    assert [d.document_id for d in chart.documents] == ["DocumentReference/rest-n-good"]
    assert chart.problems == ("DocumentReference/rest-n-bad-b64: not valid FHIR R4; left out",)


# --------------------------------------------------------------------------- failures

def test_429_waits_what_retry_after_asks(make: Make, sleeps: Sleeps,
                                         server: FhirTestServer) -> None:
    adapter = make()
    server.faults({"match": r"^/fhir/Patient\?", "status": 429,
                   "headers": {"retry-after": "7"}, "times": 2})
    chart = one(adapter, "EDGE-M5", "EDGE-C5")
    assert chart.problems == () and len(chart.documents) == 1
    assert sleeps == [7.0, 7.0]
    assert len(server.log()["faults_fired"]) == 2


def test_retry_after_as_an_http_date() -> None:
    assert _retry_after("Wed, 21 Oct 2015 07:28:30 GMT", 1445412500.0) == 10.0
    assert _retry_after("3", 0.0) == 3.0 and _retry_after("soon", 0.0) is None


def test_too_long_a_retry_after_is_not_waited_for(make: Make, sleeps: Sleeps,
                                                  server: FhirTestServer) -> None:
    adapter = make(max_retry_after_seconds=60)
    server.faults({"match": r"^/fhir/Patient\?", "status": 503,
                   "headers": {"retry-after": "3600"}})
    chart = one(adapter, "REST-M1")
    assert chart == ChartBundle(problems=(
        "the chart could not be read from the EHR: the Patient search: HTTP 503 (service "
        "unavailable), and the server asked to wait 3600 s (more than "
        "max_retry_after_seconds)",))
    assert sleeps == []


def test_500s_are_retried_then_become_the_charts_problem(make: Make, sleeps: Sleeps,
                                                        server: FhirTestServer) -> None:
    adapter = make(max_attempts=3)
    server.faults({"match": r"^/fhir/Condition\?", "status": 500, "times": -1})
    chart = one(adapter, "REST-M1")
    assert chart == ChartBundle(problems=(
        "the chart could not be read from the EHR: the Condition search: HTTP 500 "
        "(internal server error) (after retries)",))
    assert len(sleeps) == 2 and len(server.log()["faults_fired"]) == 3
    assert adapter.source_warnings() == (
        "fhir: 1 request(s) to 127.0.0.1 failed (HTTP 500: 1); the charts concerned say "
        "so",)


def test_a_500_then_success_is_invisible(make: Make, sleeps: Sleeps,
                                         server: FhirTestServer) -> None:
    adapter = make()
    server.faults({"match": r"^/fhir/Encounter\?", "status": 500, "times": 1})
    assert one(adapter, "REST-M1") == one(make(direct=True), "REST-M1")
    assert len(sleeps) == 1 and len(server.log()["faults_fired"]) == 1


def test_one_denials_failure_never_stops_the_others(make: Make, server: FhirTestServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    adapter = make(timeout_seconds=1.0, max_attempts=2)
    server.faults(
        {"match": r"^/fhir/Patient\?identifier=REST-Q1&", "status": 403, "times": -1},
        {"match": r"^/fhir/Patient\?identifier=REST-Q2&", "status": 404, "times": -1},
        {"match": r"^/fhir/Patient\?identifier=REST-Q3&", "delay_ms": 2500, "times": -1},
        {"match": r"^/fhir/Patient\?identifier=REST-Q4&", "status": 401, "times": -1})
    requests = [ChartRequest(member_ids=(f"REST-Q{i}",), claim_id=f"CLAIM-Q{i}",
                             service_date=DOS) for i in range(8)]
    with caplog.at_level(logging.DEBUG, logger="agent.ehr"):
        charts = adapter.charts_for(requests)
    prefix = "the chart could not be read from the EHR: the Patient search: "
    assert [c.problems for c in charts[1:5]] == [
        (prefix + "HTTP 403 (forbidden)",), (prefix + "HTTP 404 (not found)",),
        (prefix + "the EHR did not answer in time (after retries)",),
        (prefix + "HTTP 401 (unauthorized)",)]
    for i in (0, 5, 6, 7):
        assert charts[i].problems == () and len(charts[i].documents) == 1, i
    shown = caplog.text + "".join(p for c in charts for p in c.problems)
    assert not any(f"REST-Q{i}" in shown or f"CLAIM-Q{i}" in shown for i in range(8))


def test_concurrency_is_bounded(make: Make, server: FhirTestServer) -> None:
    server.faults({"match": r"^/fhir/Patient\?", "delay_ms": 100, "times": -1})
    requests = [ChartRequest(member_ids=(f"REST-Q{i}",), claim_id=f"C{i}", service_date=DOS)
                for i in range(12)]
    charts = make(max_concurrency=3).charts_for(requests)
    assert all(len(c.documents) == 1 for c in charts)
    assert 2 <= server.log()["max_in_flight"] <= 3


def test_the_runs_cache_asks_each_search_once(make: Make, server: FhirTestServer) -> None:
    adapter = make()
    request = ChartRequest(member_ids=("EDGE-M1",), claim_id="EDGE-C1", service_date=DOS)
    first, again = adapter.charts_for([request, request])
    assert first == again
    sent = adapter.requests_sent
    assert adapter.chart_for(request) == first and adapter.requests_sent == sent


def test_an_unexpected_error_is_one_charts_problem_in_a_batch(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = make()
    real = adapter.chart_for

    def flaky(request: ChartRequest) -> ChartBundle:
        if request.claim_id == "BOOM":
            raise ValueError("EDGE-M1 quoted")  # a message that may hold data
        return real(request)

    monkeypatch.setattr(adapter, "chart_for", flaky)
    boom, fine = adapter.charts_for([
        ChartRequest(member_ids=("EDGE-M1",), claim_id="BOOM", service_date=DOS),
        ChartRequest(member_ids=("EDGE-M5",), claim_id="EDGE-C5", service_date=DOS)])
    assert boom == ChartBundle(problems=("the chart could not be read from the EHR "
                                         "(ValueError)",))
    assert fine.problems == () and len(fine.documents) == 1


def test_a_run_with_the_server_writes_the_letters_a_run_with_the_folder_writes(
        server: FhirTestServer, keys: dict[str, Client], tmp_path: Path) -> None:
    """`appeals run` end to end: [ehr.fhir] from the configuration, the demo's denials."""
    inputs = [str(p) for p in sorted((FIXTURES / "835").glob("*.835")) +
              sorted((FIXTURES / "queue").glob("*.csv"))]
    key = keys["rsa"]
    config = practice_config(ehr={"fhir": {"client_id": key.client_id,
                                           "private_key": str(key.private_key),
                                           "key_id": key.key_id}})
    letters = {}
    for name, source in (("dir", f"fhir-dir:{FIXTURES / 'fhir'}"), ("rest", f"fhir:{server.fhir}")):
        out = tmp_path / name
        with open_workflow(tmp_path / f"{name}.db", out, source, config,
                           today=date(2026, 9, 20)) as workflow:
            assert isinstance(workflow.ctx.ehr, FhirRestAdapter if name == "rest"
                              else FhirDirAdapter)
            run_batch(workflow, inputs)
        letters[name] = {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
                         for p in sorted((out / "letters").rglob("*.md"))}
    assert len(letters["dir"]) >= 5 and letters["rest"] == letters["dir"]


def test_requests_that_failed_during_the_run_reach_its_manifest(
        server: FhirTestServer, keys: dict[str, Client], tmp_path: Path) -> None:
    """The adapter's failures are read when the run ends, not only when it starts."""
    inputs = [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))]
    key = keys["rsa"]
    config = practice_config(ehr={"fhir": {"client_id": key.client_id,
                                           "private_key": str(key.private_key),
                                           "key_id": key.key_id, "max_attempts": 1}})
    server.faults({"match": r"^/fhir/Condition\?", "status": 500, "times": -1})
    with open_workflow(tmp_path / "rest.db", tmp_path / "out", f"fhir:{server.proxy}", config,
                       today=date(2026, 9, 20)) as workflow:
        manifest = run_batch(workflow, inputs)
    fired = len(server.log()["faults_fired"])
    assert fired > 0
    assert manifest.summary.ehr_warnings == [
        f"fhir: {fired} request(s) to 127.0.0.1 failed (HTTP 500: {fired}); the charts "
        "concerned say so"]
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert saved["summary"]["ehr_warnings"] == manifest.summary.ehr_warnings
