"""The needs-review page: an auditor supplies a missing fact from a stored chart document.

The thin knee note documents conservative care in words the extractors do not read as such
(tests/test_supply_evidence.py), after an emoji: its offsets in code points (as the server
counts) differ from a browser's UTF-16 ones. The auditor's span is checked against the
stored text and the denial decided again; a refused span changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import date
from html import unescape
from pathlib import Path

import httpx
import pytest

from agent.application.accounts import Forbidden
from agent.store.lease import writer_lease
from agent.store.records import DenialRecord
from agent.web.security import MAX_BODY, MAX_UPLOAD
from tests.documents import pdf
from tests.test_reruns import THIN, by_claim, chart, run, workflow
from tests.test_supply_evidence import CARE, FACT
from tests.web.conftest import NEEDS_REVIEW_NOTE as NOTE
from tests.web.conftest import PASSWORD, USERS, Elements, Site, open_site

START = NOTE.index(CARE)
END = START + len(CARE)
DOCUMENT = "DocumentReference/d2"


@pytest.fixture(scope="module")
def thin_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store where the thin claim waits in needs_review for conservative care; its id."""
    root = tmp_path_factory.mktemp("thin")
    chart(root / "fhir", thin=NOTE)
    manifest, _ = run(root)
    denial = by_claim(manifest)[THIN]
    assert denial.triage.action == "needs_review"
    with workflow(root) as flow:
        for name, role in USERS.items():
            flow.ctx.store.add_user(name, role, PASSWORD)  # type: ignore[arg-type]
    return root, denial.denial_id


@pytest.fixture
def thin(thin_run: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Site, str]]:
    root, denial_id = thin_run
    copy = tmp_path / "run"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("fhir"))
    for site in open_site(copy):
        yield site, denial_id


def _record(site: Site, denial_id: str) -> DenialRecord:
    site.workflow.ctx.cache.pop(denial_id, None)
    (record,) = site.store.get_denials([denial_id])
    return record


def _pre_text(html: str, document_id: str) -> str:
    """A document's text as a browser holds it: tags out, references read, and the first
    newline after <pre> dropped (the HTML parser drops it)."""
    match = re.search(rf'<pre class="document-text"[^>]*data-document="{re.escape(document_id)}"'
                      rf'[^>]*data-length="(\d+)">(.*?)</pre>', html, re.S)
    assert match
    body = unescape(re.sub(r"<[^>]+>", "", match.group(2)))
    text = body[1:] if body.startswith("\n") else body
    assert len(text) == int(match.group(1))
    return text


def test_the_page_offers_the_playbooks_facts_and_the_stored_documents(
        thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    site.login("ann")
    page = site.client.get(f"/denials/{denial_id}")
    assert page.status_code == 200
    parsed = Elements(page.text)
    ids = parsed.ids()
    assert {"missing-facts", "supply-form", "supply-document", "supply-start", "supply-end",
            "supply-button", "supply-use-selection"} <= ids
    facts = [a["value"] for tag, a in parsed.elements if tag == "input" and a.get("name") == "fact"]
    assert facts[0] == FACT  # the missing fact first, and chosen
    assert set(facts) == {FACT, "objective_finding"}
    checked = [a["value"] for tag, a in parsed.elements if tag == "input"
               and a.get("name") == "fact" and "checked" in a]
    assert checked == [FACT]
    options = [a["value"] for tag, a in parsed.elements if tag == "option"
               and "data-text" in a]
    assert options == [DOCUMENT]
    # The page holds the stored text exactly, and its length in code points.
    assert _pre_text(page.text, DOCUMENT) == NOTE
    assert f'data-length="{len(NOTE)}"' in page.text
    assert len(NOTE) != len(NOTE.encode("utf-16-le")) // 2  # the emoji counts once


def test_supplying_the_missing_fact_drafts_the_appeal(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("ann")
    done = site.client.post(f"/denials/{denial_id}/evidence", data={
        "csrf_token": token, "document_id": DOCUMENT, "start": str(START), "end": str(END),
        "fact": FACT})
    assert done.status_code == 303, done.text
    record = _record(site, denial_id)
    assert record.triage is not None and record.triage.action == "appeal"
    assert record.missing_evidence == []
    assert record.letter_id and done.headers["location"] == \
        f"/letters/{record.letter_id}?done=supplied"
    assert CARE not in done.headers["location"]
    letter_page = site.client.get(done.headers["location"])
    assert letter_page.status_code == 200
    assert "this letter was drafted" in letter_page.text
    assert "found by ann" in letter_page.text
    letter = site.store.get_letter(record.letter_id)
    assert letter is not None and letter.status == "pending_review"
    assert CARE in (site.out / letter.markdown).read_text()
    (entry,) = [e for e in site.store.audit_about(f"denial:{denial_id}")
                if e.action == "evidence_supplied"]
    assert entry.actor == "ann"
    assert entry.note == f"{FACT}: {DOCUMENT}, characters {START}-{END}"
    # The denial page now shows the appeal and nothing missing, without the form.
    again = site.client.get(f"/denials/{denial_id}").text
    assert 'id="supply-form"' not in again and 'id="missing-facts-none"' in again


def test_a_supply_that_leaves_the_denial_in_review_comes_back_to_its_page(
        thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("lee")
    # A finding the auditor adds (a whole sentence): the denial stays in review for its
    # conservative care.
    exam = "L knee pain."  # a whole sentence the extractors did not quote
    finding = NOTE.index(exam)
    done = site.client.post(f"/denials/{denial_id}/evidence", data={
        "csrf_token": token, "document_id": DOCUMENT, "start": str(finding),
        "end": str(finding + len(exam)),
        "fact": "objective_finding"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/denials/{denial_id}?done=supplied"
    page = site.client.get(done.headers["location"]).text
    assert 'id="denial-message"' in page and 'id="supply-form"' in page
    assert "needs review" in page and 'id="missing-facts"' in page
    assert "found by lee" in page
    assert _record(site, denial_id).letter_id is None


@pytest.mark.parametrize(("fields", "message"), [
    ({"start": str(START), "end": str(START)}, "are not a non-empty span"),
    ({"start": "0", "end": "100000"}, "are not a non-empty span"),
    ({"start": "first", "end": "10"}, "whole numbers"),
    ({"document_id": "DocumentReference/d1"}, "is not a stored document of denial"),
    ({"fact": "session_time"}, "has no fact"),
])
def test_a_span_the_denial_cannot_use_is_refused_on_the_page(
        thin: tuple[Site, str], fields: dict[str, str], message: str) -> None:
    site, denial_id = thin
    token = site.login("ann")
    before = _record(site, denial_id)
    sent = {"csrf_token": token, "document_id": DOCUMENT, "start": str(START),
            "end": str(END), "fact": FACT, **fields}
    refused = site.client.post(f"/denials/{denial_id}/evidence", data=sent)
    assert refused.status_code == 400
    parsed = Elements(refused.text)
    assert "supply-error" in parsed.ids()
    error = re.search(r'id="supply-error">([^<]*)<', refused.text)
    assert error and message in unescape(error.group(1)) and "\n" not in error.group(1)
    # What was sent stays in the form, to correct.
    values = {a.get("name"): a.get("value") for tag, a in parsed.elements if tag == "input"
              and a.get("name") in ("start", "end")}
    assert values == {"start": sent["start"], "end": sent["end"]}
    assert _record(site, denial_id) == before
    assert [e.action for e in site.store.audit_about(f"denial:{denial_id}")] == \
        ["viewed"]  # the page shown again; nothing supplied


def test_no_supply_without_the_csrf_token(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    site.login("ann")
    before = _record(site, denial_id)
    fields = {"document_id": DOCUMENT, "start": str(START), "end": str(END), "fact": FACT}
    assert site.client.post(f"/denials/{denial_id}/evidence", data=fields).status_code == 403
    forged = site.client.post(f"/denials/{denial_id}/evidence",
                              data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert _record(site, denial_id) == before
    assert site.store.audit_about(f"denial:{denial_id}") == []


def test_no_supply_while_a_run_writes_the_store(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("ann")
    before = _record(site, denial_id)
    with writer_lease(site.store, "appeals run"):
        busy = site.client.post(f"/denials/{denial_id}/evidence", data={
            "csrf_token": token, "document_id": DOCUMENT, "start": str(START),
            "end": str(END), "fact": FACT})
    assert busy.status_code == 409
    assert "in use by appeals run" in busy.text and 'id="supply-error"' in busy.text
    assert _record(site, denial_id) == before


def test_the_form_is_only_on_a_needs_review_denial_decided_by_a_playbook(site: Site) -> None:
    token = site.login("ann")
    for record in site.denials():
        html = site.client.get(f"/denials/{record.denial.denial_id}").text
        offered = 'id="supply-form"' in html
        triage = record.triage
        assert offered == bool(triage and triage.action == "needs_review" and
                               record.playbook_id and not triage.final), record.denial.denial_id
    assert site.client.post("/denials/dn_none/evidence", data={
        "csrf_token": token, "document_id": DOCUMENT, "start": "0", "end": "1",
        "fact": FACT}).status_code == 404


def test_only_a_reviewer_may_supply(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    workbench = site.client.app.state.web.workbench  # type: ignore[attr-defined]
    system = site.store.get_user("system")
    assert system is not None
    with pytest.raises(Forbidden):
        workbench.supply(system, denial_id, DOCUMENT, START, END, FACT)
    assert site.store.audit_about(f"denial:{denial_id}") == []


def test_no_chart_text_or_phi_in_the_server_log(thin: tuple[Site, str],
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    site, denial_id = thin
    token = site.login("ann")
    record = _record(site, denial_id)
    sent = {"csrf_token": token, "document_id": DOCUMENT, "fact": FACT}
    site.client.post(f"/denials/{denial_id}/evidence", data={**sent, "start": "0", "end": "0"})
    done = site.client.post(f"/denials/{denial_id}/evidence",
                            data={**sent, "start": str(START), "end": str(END)})
    assert done.status_code == 303
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                       if not r.name.startswith(("httpx", "httpcore"))).lower()
    assert "post /denials/{denial_id}/evidence 400" in logged
    assert "post /denials/{denial_id}/evidence 303" in logged
    patient = record.denial.patient
    for value in (CARE, "Pain 7/10", record.denial.claim_id, patient.last_name,
                  patient.member_id, denial_id):
        assert value and value.lower() not in logged, value


# Attaching a document found outside the EHR (issue #19): the same page takes an exported
# note, whose text joins the chart; the denial is decided again with it.

PT_SUMMARY = ["PT discharge summary",
              "Completed 8 wks of physical therapy for the L knee without improvement."]


def _attach(site: Site, denial_id: str, token: str | None, name: str, data: bytes,
            day: str = "") -> httpx.Response:
    fields = {"date": day} | ({"csrf_token": token} if token is not None else {})
    return site.client.post(f"/denials/{denial_id}/documents", data=fields,
                            files={"file": (name, data, "application/octet-stream")})


def test_the_needs_review_page_offers_to_attach_a_document(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    site.login("ann")
    parsed = Elements(site.client.get(f"/denials/{denial_id}").text)
    form = next(a for tag, a in parsed.elements if tag == "form" and a.get("id") == "attach-form")
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == f"/denials/{denial_id}/documents"
    accept = next(a["accept"] for tag, a in parsed.elements if a.get("id") == "attach-file")
    assert {".pdf", ".rtf", ".html", ".xml", ".txt"} <= set(accept.split(","))
    assert {"attach-date", "attach-button", "attach-help"} <= parsed.ids()


def test_an_attached_pdf_drafts_the_appeal_from_its_text(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("ann")
    exported = pdf(PT_SUMMARY, padding=3 * 1024 * 1024)  # past the 2 MB of other forms
    done = _attach(site, denial_id, token, "Smith PT discharge.pdf", exported, "2026-07-30")
    assert done.status_code == 303, done.text
    record = _record(site, denial_id)
    assert record.triage is not None and record.triage.action == "appeal"
    assert done.headers["location"] == f"/letters/{record.letter_id}?done=attached"
    (ref,) = record.attached_documents
    assert ref.content_type == "application/pdf" and ref.date == date(2026, 7, 30)
    assert ref.original_hash == "sha256:" + hashlib.sha256(exported).hexdigest()
    cited = [e for e in record.evidence if e.document_id == ref.document_id]
    assert cited and cited[0].fact == FACT
    letter_page = site.client.get(done.headers["location"]).text
    assert "The document you attached is in the chart" in letter_page
    assert PT_SUMMARY[1] in letter_page  # its text, beside the letter, with the quote
    (entry,) = [e for e in site.store.audit_about(f"denial:{denial_id}")
                if e.action == "document_attached"]
    assert entry.actor == "ann" and "Smith" not in (entry.note or "")


def test_an_attached_note_that_settles_nothing_can_be_selected_in(
        thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("lee")
    note = b"<html><body><p>Knee visit.</p><p>Ice and rest at home advised.</p></body></html>"
    done = _attach(site, denial_id, token, "visit.html", note)
    assert done.status_code == 303
    assert done.headers["location"] == f"/denials/{denial_id}?done=attached"
    record = _record(site, denial_id)
    assert record.triage is not None and record.triage.action == "needs_review"
    (ref,) = record.attached_documents
    page = site.client.get(done.headers["location"]).text
    assert 'id="denial-message"' in page and "The document is in the chart" in page
    options = [a["value"] for tag, a in Elements(page).elements if tag == "option"
               and "data-text" in a]
    assert options == [DOCUMENT, ref.document_id]  # to select evidence in
    stored = site.store.get_document_text(ref.text_hash)
    assert stored and "Ice and rest at home advised." in stored
    assert _pre_text(page, ref.document_id) == stored


@pytest.mark.parametrize(("name", "data", "day", "message"), [
    ("scan.pdf", pdf(None), "", "a PDF with no text layer (a scan?)"),
    ("visit.pdf", pdf(PT_SUMMARY), "30/07/2026", "YYYY-MM-DD"),
    ("", b"", "", "choose a file"),
])
def test_a_file_the_denial_cannot_use_is_refused_on_the_page(
        thin: tuple[Site, str], name: str, data: bytes, day: str, message: str) -> None:
    site, denial_id = thin
    token = site.login("ann")
    before = _record(site, denial_id)
    refused = _attach(site, denial_id, token, name, data, day)
    assert refused.status_code == 400
    error = re.search(r'id="attach-error">([^<]*)<', refused.text)
    assert error and message in unescape(error.group(1)), refused.text
    assert _record(site, denial_id) == before
    assert [e.action for e in site.store.audit_about(f"denial:{denial_id}")] == ["viewed"]


def test_an_upload_past_the_limit_is_refused_before_it_is_read(
        thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    token = site.login("ann")
    before = _record(site, denial_id)
    too_large = pdf(PT_SUMMARY, padding=MAX_UPLOAD)
    assert _attach(site, denial_id, token, "big.pdf", too_large).status_code == 413
    assert _record(site, denial_id) == before
    # Other forms keep their own, smaller limit.
    big_form = {"csrf_token": token, "document_id": DOCUMENT, "start": "0",
                "end": "1", "fact": FACT, "padding": "x" * (MAX_BODY + 1)}
    assert site.client.post(f"/denials/{denial_id}/evidence",
                            data=big_form).status_code == 413


def test_no_attachment_without_the_csrf_token_or_a_reviewer(thin: tuple[Site, str]) -> None:
    site, denial_id = thin
    site.login("ann")
    before = _record(site, denial_id)
    assert _attach(site, denial_id, None, "pt.pdf", pdf(PT_SUMMARY)).status_code == 403
    assert _attach(site, denial_id, "forged", "pt.pdf", pdf(PT_SUMMARY)).status_code == 403
    workbench = site.client.app.state.web.workbench  # type: ignore[attr-defined]
    system = site.store.get_user("system")
    assert system is not None
    with pytest.raises(Forbidden):
        workbench.attach(system, denial_id, "pt.pdf", pdf(PT_SUMMARY))
    assert _record(site, denial_id) == before
    assert site.store.audit_about(f"denial:{denial_id}") == []


def test_the_attach_form_is_only_on_a_needs_review_denial_decided_by_a_playbook(
        site: Site) -> None:
    token = site.login("ann")
    for record in site.denials():
        html = site.client.get(f"/denials/{record.denial.denial_id}").text
        triage = record.triage
        assert ('id="attach-form"' in html) == bool(
            triage and triage.action == "needs_review" and record.playbook_id
            and not triage.final), record.denial.denial_id
    decided = next(r for r in site.denials() if r.triage and r.triage.final)
    refused = _attach(site, decided.denial.denial_id, token, "pt.pdf", pdf(PT_SUMMARY))
    assert refused.status_code == 400 and "decided by the rules" in refused.text
    assert _attach(site, "dn_none", token, "pt.pdf", pdf(PT_SUMMARY)).status_code == 404
