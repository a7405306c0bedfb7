"""The letter page: chart evidence highlighted at its stored offsets, edit with a live
preview, approve (compare-and-set, refused while unfinished), reject, the DOCX."""

from __future__ import annotations

import io
import re
import zipfile
from html import unescape
from itertools import pairwise
from pathlib import Path

from agent.application.reviews import ReviewService
from agent.application.workflow import run_batch
from agent.review.actions import content_hash
from agent.store.records import AuditEntry, LetterRecord
from tests.remits import claim, line, remit, write
from tests.web.conftest import Elements, Site


def _letter(site: Site, playbook: str | None = None) -> LetterRecord:
    letters = site.store.list_letters("pending_review")
    for letter in letters:
        records = site.store.get_denials(letter.denial_ids)
        if playbook is None or records[0].playbook_id == playbook:
            return letter
    raise AssertionError(playbook)


def _trail(site: Site, letter_id: str) -> list[AuditEntry]:
    return [e for e in site.store.audit_trail(letter_id) if e.action != "viewed"]


def _hidden(html: str, form_id: str, name: str) -> str:
    form = html[html.index(f'id="{form_id}"'):]
    match = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert match
    return match.group(1)


def test_every_highlight_is_the_stored_text_at_its_offsets(site: Site) -> None:
    site.login("ann")
    checked = 0
    for letter in site.store.list_letters():
        page = site.client.get(f"/letters/{letter.letter_id}")
        assert page.status_code == 200
        parsed = Elements(page.text)
        records = site.store.get_denials(letter.denial_ids)
        texts = {d.document_id: site.store.get_document_text(d.text_hash)
                 for r in records for d in r.documents}
        pieces: dict[int, list[tuple[int, int, str]]] = {}
        for attributes, text in parsed.marks:
            document = texts[attributes["data-document"]]
            assert document is not None
            start, end = int(attributes["data-start"]), int(attributes["data-end"])
            assert document[start:end] == text  # the piece is the stored text, as stored
            for number in attributes["data-evidence"].split():
                pieces.setdefault(int(number), []).append((start, end, text))
        evidence = {int(a["id"].removeprefix("evidence-")): a for tag, a in parsed.elements
                    if tag == "li" and a.get("id", "").startswith("evidence-")}
        ids = parsed.ids()
        for number, item in evidence.items():
            if "data-start" not in item:
                continue
            start, end = int(item["data-start"]), int(item["data-end"])
            found = sorted(pieces[number])
            # The pieces of one quote cover exactly its stored span, in order.
            assert found[0][0] == start and found[-1][1] == end
            assert all(a[1] == b[0] for a, b in pairwise(found))
            quote = "".join(text for _, _, text in found)
            assert quote == texts[item["data-document"]][start:end]  # type: ignore[index]
            stored = {e.quote for r in records for e in r.evidence}
            assert quote in stored
            # Linked both ways: the list item to its highlight, the highlight back.
            assert f"quote-{number}" in ids
            assert f'href="#quote-{number}"' in page.text
            assert f'href="#evidence-{number}"' in page.text
            checked += 1
    assert checked >= 20


def test_evidence_is_numbered_as_the_letter_numbers_it(site: Site) -> None:
    site.login("ann")
    letter = _letter(site, "medical_necessity")
    page = site.client.get(f"/letters/{letter.letter_id}").text
    text = (site.out / letter.markdown).read_text()
    listed = re.findall(r'^\d+\. "(.+?)"', text, re.MULTILINE | re.DOTALL)
    parsed = Elements(page)
    firsts = {}
    for attributes, piece in parsed.marks:
        for number in attributes["data-evidence"].split():
            firsts.setdefault(int(number), piece)
    assert listed and all(listed[n - 1].replace("\\", "").startswith(
        firsts[n].split("\n")[0][:15]) for n in firsts)


def test_live_preview_renders_markdown_and_lists_problems(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    draft = "# Heading\n\n(auditor to cite the payer policy)\n\n<script>alert(1)</script>\n"
    fragment = site.client.post(f"/letters/{letter.letter_id}/preview",
                                data={"markdown": draft}, headers={"HX-Request": "true",
                                                                   "X-CSRF-Token": token})
    assert fragment.status_code == 200
    assert "<h2>Heading</h2>" in fragment.text  # below the page's own <h1>
    assert "<script>" not in fragment.text and "&lt;script&gt;" in fragment.text
    assert 'id="preview-problems"' in fragment.text and "auditor to cite" in fragment.text
    assert "<html" not in fragment.text  # a fragment for htmx
    whole = site.client.post(f"/letters/{letter.letter_id}/preview",
                             data={"markdown": draft, "csrf_token": token})
    assert whole.status_code == 200 and "not saved yet" in whole.text
    assert (site.out / letter.markdown).read_text() != draft  # nothing saved


def test_edit_saves_the_text_with_lf_and_stays_pending(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    page = site.client.get(f"/letters/{letter.letter_id}").text
    text = (site.out / letter.markdown).read_text()
    edited = text.replace("Sincerely,", "With regards,").replace("\n", "\r\n")
    response = site.client.post(f"/letters/{letter.letter_id}/edit", data={
        "csrf_token": token, "markdown": edited, "if_hash": _hidden(page, "edit-form",
                                                                    "if_hash")})
    assert response.status_code == 303
    assert response.headers["location"] == f"/letters/{letter.letter_id}?done=edited"
    saved = (site.out / letter.markdown).read_text()
    assert "With regards," in saved and "\r" not in saved
    stored = site.store.get_letter(letter.letter_id)
    assert stored is not None and stored.status == "pending_review"
    assert stored.content_hash == content_hash(saved)
    assert [(e.action, e.actor) for e in _trail(site, letter.letter_id)][-1] == ("edited",
                                                                               "ann")
    shown = site.client.get(response.headers["location"]).text
    assert "Your edit is saved" in shown and "With regards," in shown


def test_an_edit_from_a_stale_page_is_a_conflict_that_keeps_the_text(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    page = site.client.get(f"/letters/{letter.letter_id}").text
    started = _hidden(page, "edit-form", "if_hash")
    text = (site.out / letter.markdown).read_text()
    # Someone else edits first, through the same service the CLI uses.
    ReviewService.over(site.workflow).edit(letter.letter_id, "lee",
                                           text.replace("Sincerely,", "Yours,"))
    mine = text.replace("Sincerely,", "Mine,")
    response = site.client.post(f"/letters/{letter.letter_id}/edit", data={
        "csrf_token": token, "markdown": mine, "if_hash": started})
    assert response.status_code == 409
    assert "changed by someone else" in response.text and "Mine," in response.text
    assert "Yours," in (site.out / letter.markdown).read_text()


def test_approve_with_a_stale_hash_is_a_conflict(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    page = site.client.get(f"/letters/{letter.letter_id}").text
    seen = _hidden(page, "approve-form", "if_hash")
    assert seen == letter.content_hash
    text = (site.out / letter.markdown).read_text()
    ReviewService.over(site.workflow).edit(letter.letter_id, "lee",
                                           text.replace("Sincerely,", "Yours,"))
    response = site.client.post(f"/letters/{letter.letter_id}/approve",
                                data={"csrf_token": token, "if_hash": seen})
    assert response.status_code == 409 and "changed by someone else" in response.text
    assert site.store.get_letter(letter.letter_id).status == "pending_review"  # type: ignore[union-attr]
    assert "approved" not in [e.action for e in _trail(site, letter.letter_id)]


def test_approval_is_refused_while_a_placeholder_remains(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    text = (site.out / letter.markdown).read_text()
    unfinished = text.replace("Sincerely,", "(auditor to cite the payer's policy)\n\n"
                              "Sincerely,")
    site.client.post(f"/letters/{letter.letter_id}/edit", data={
        "csrf_token": token, "markdown": unfinished, "if_hash": letter.content_hash})
    page = site.client.get(f"/letters/{letter.letter_id}").text
    assert 'id="approval-problems"' in page and "auditor to cite" in page
    response = site.client.post(f"/letters/{letter.letter_id}/approve", data={
        "csrf_token": token, "if_hash": _hidden(page, "approve-form", "if_hash")})
    assert response.status_code == 422
    problems = response.text[response.text.index('id="approval-problems"'):]
    assert "auditor to cite the payer&#39;s policy" in problems.split("</ul>")[0]
    assert site.store.get_letter(letter.letter_id).status == "pending_review"  # type: ignore[union-attr]


def test_approve_writes_the_docx_and_it_downloads(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    assert site.client.get(f"/letters/{letter.letter_id}/docx").status_code == 404
    page = site.client.get(f"/letters/{letter.letter_id}").text
    response = site.client.post(f"/letters/{letter.letter_id}/approve", data={
        "csrf_token": token, "if_hash": _hidden(page, "approve-form", "if_hash")})
    assert response.status_code == 303
    approved = site.store.get_letter(letter.letter_id)
    assert approved is not None and approved.status == "approved"
    assert approved.reviewer == "ann"
    assert [(e.action, e.actor) for e in _trail(site, letter.letter_id)][-1] == ("approved",
                                                                               "ann")
    shown = site.client.get(response.headers["location"]).text
    assert 'id="docx-link"' in shown and 'id="approve-button"' not in shown
    download = site.client.get(f"/letters/{letter.letter_id}/docx")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert f'filename="{letter.letter_id}.docx"' in download.headers["content-disposition"]
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    notes = [e.note for e in site.store.audit_trail(letter.letter_id)
             if e.action == "viewed" and e.actor == "ann"]
    assert "downloaded the DOCX" in notes
    again = site.client.post(f"/letters/{letter.letter_id}/approve", data={
        "csrf_token": token, "if_hash": approved.content_hash})
    assert again.status_code == 409  # decided already


def test_reject_needs_a_reason_and_keeps_it(site: Site) -> None:
    token = site.login("ann")
    letter = _letter(site)
    empty = site.client.post(f"/letters/{letter.letter_id}/reject", data={
        "csrf_token": token, "reason": "  ", "if_hash": letter.content_hash})
    assert empty.status_code == 400 and "say why" in empty.text
    response = site.client.post(f"/letters/{letter.letter_id}/reject", data={
        "csrf_token": token, "reason": "payer already reversed the denial",
        "if_hash": letter.content_hash})
    assert response.status_code == 303
    rejected = site.store.get_letter(letter.letter_id)
    assert rejected is not None and rejected.status == "rejected"
    assert rejected.note == "payer already reversed the denial"
    last = _trail(site, letter.letter_id)[-1]
    assert (last.action, last.actor, last.note) == ("rejected", "ann",
                                                    "payer already reversed the denial")
    assert not (site.out / letter.markdown).with_suffix(".docx").exists()


def test_an_unknown_letter_is_404(site: Site) -> None:
    site.login("ann")
    assert site.client.get("/letters/lt_nope").status_code == 404
    assert site.client.get("/denials/dn_nope").status_code == 404


def test_a_letter_the_payer_has_since_paid_says_not_to_send_it(site: Site,
                                                                tmp_path: Path) -> None:
    """An approved letter stands when a later 835 pays its denial: the run and the page say
    not to send it."""
    site.login("ann")
    (record,) = [r for r in site.denials() if r.denial.claim_id == "LOM26-10433"]
    assert record.letter_id is not None  # the demo's knee injection, 20610-LT, denied CO-50
    letter = site.store.get_letter(record.letter_id)
    assert letter is not None
    site.store.save_letter(letter.model_copy(update={"status": "approved"}))
    before = site.client.get(f"/letters/{letter.letter_id}").text
    assert 'id="paid-since"' not in before and "later decision" not in before
    said: list[str] = []
    paid = line("20610", "385.00", "300.00", ("CO", "45", "85.00"), day="20260806",
                modifiers=("LT",))
    later = write(tmp_path, "later.835", remit(
        [claim("LOM26-10433", paid, icn="26218000433", member="BRH660218734")],
        produced="20260915", payer="BLUE RIVER HEALTH PLAN", payer_id="BRHP1"))
    run_batch(site.workflow, [later], on_repair=said.append)
    assert said == ["paid since approved: the payer has paid the denials of 1 approved "
                    f"letter(s) on a later remittance; do not send them: {letter.letter_id}"]
    page = site.client.get(f"/letters/{letter.letter_id}").text
    assert 'id="paid-since"' in page and "Do not send this letter" in page
    assert "later decision: overturned 2026-09-15, $300.00 recovered" in unescape(page)
    kept = site.store.get_letter(letter.letter_id)
    assert kept is not None and kept.status == "approved"  # the auditor's to reject
