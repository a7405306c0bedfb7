"""Evidence an auditor supplies: checked at its span, decided on by the same decide step.

The thin knee note documents conservative care in words the extractors do not read as
such; the auditor selects them, and the denial is decided again (never flipped by hand).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.evidence import EvidenceService
from agent.cli import app
from agent.store.lease import LeaseHeldError, writer_lease
from agent.workflow.supply import SupplyError
from tests.documents import pdf
from tests.test_reruns import THIN, by_claim, chart, run, workflow
from tests.test_workflow import THIN_NOTE

CARE = "Six weeks of supervised quad strengthening last spring; pain came back by summer."
"""Conservative care the extractors miss (no listed treatment or failure word)."""
NOTE = THIN_NOTE.replace("No prior tx.", CARE)
FACT = "conservative_treatment"


@pytest.fixture
def needs_review(tmp_path: Path) -> str:
    """A store where the thin claim waits in needs_review for conservative care; its id."""
    chart(tmp_path / "fhir", thin=NOTE)
    manifest, _ = run(tmp_path)
    denial = by_claim(manifest)[THIN]
    assert denial.triage.action == "needs_review" and denial.letter.status == "not_drafted"
    with workflow(tmp_path) as flow:
        flow.ctx.store.add_user("ana", "auditor", "a long passphrase")
    return denial.denial_id


def _span() -> tuple[int, int]:
    start = NOTE.index(CARE)
    return start, start + len(CARE)


def test_a_supplied_quote_completes_the_facts_and_the_appeal_is_drafted(
        tmp_path: Path, needs_review: str) -> None:
    start, end = _span()
    with workflow(tmp_path) as flow:
        service = EvidenceService(flow)
        needs = service.needs(needs_review)
        assert [f.id for f in needs.facts] == ["objective_finding", FACT]
        assert len(needs.missing) == 1 and "Conservative treatment" in needs.missing[0]
        (document,) = needs.documents
        assert document.text[start:end] == CARE  # the stored text, by hash
        done = service.supply(needs_review, document.ref.document_id, start, end, FACT, "ana")
        assert done.record.triage is not None and done.record.triage.action == "appeal"
        assert done.record.missing_evidence == []
        assert done.evidence.quote == CARE and done.evidence.found_by == "ana"
        (letter_id,) = done.letter_ids
        letter = flow.ctx.store.get_letter(letter_id)
        assert letter is not None and letter.status == "pending_review"
        text = (tmp_path / "out" / letter.markdown).read_text()
        assert CARE in text and f"characters {start}-{end}" in text
        (entry,) = flow.ctx.store.audit_about(f"denial:{needs_review}")
        assert (entry.action, entry.actor) == ("evidence_supplied", "ana")
        assert entry.note == f"{FACT}: {document.ref.document_id}, characters {start}-{end}"
        assert CARE not in (entry.note or "")  # ids and offsets in the audit, never text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (denial,) = [d for d in manifest["denials"] if d["denial_id"] == needs_review]
    assert denial["triage"]["action"] == "appeal"
    assert denial["letter"]["id"] == letter_id
    assert {e["found_by"] for e in denial["evidence"]} == {None, "ana"}


def test_a_later_run_keeps_the_decision_and_follows_the_chart(
        tmp_path: Path, needs_review: str) -> None:
    start, end = _span()
    with workflow(tmp_path) as flow:
        done = EvidenceService(flow).supply(needs_review, "DocumentReference/d2", start, end,
                                            FACT, "ana")
    (letter_id,) = done.letter_ids
    again, _ = run(tmp_path)  # the same chart: nothing is decided again
    assert again.summary.redecided == {}
    assert by_claim(again)[THIN].triage.action == "appeal"
    assert by_claim(again)[THIN].letter.id == letter_id
    # The note is corrected: the selected words are gone, so is the appeal.
    chart(tmp_path / "fhir", thin=THIN_NOTE)
    corrected, letters = run(tmp_path)
    assert corrected.summary.redecided == {"chart changed": 1}
    assert by_claim(corrected)[THIN].triage.action == "needs_review"
    assert {x.letter_id: x.status for x in letters}[letter_id] == "superseded"


@pytest.mark.parametrize(("document", "span", "fact", "actor", "message"), [
    ("DocumentReference/d2", None, "session_time", "ana", "has no fact 'session_time'"),
    ("DocumentReference/d1", None, FACT, "ana", "is not a stored document of denial"),
    ("DocumentReference/d2", (5, 5), FACT, "ana", "are not a non-empty span"),
    ("DocumentReference/d2", "fragment", FACT, "ana", "starts inside a clause"),
    ("DocumentReference/d2", (0, 10_000), FACT, "ana", "are not a non-empty span"),
    ("DocumentReference/d2", None, FACT, "nobody", "is not a reviewer of this store"),
    ("DocumentReference/d2", None, FACT, "system", "is not a reviewer of this store"),
])
def test_a_selection_the_denial_cannot_use_is_refused_and_changes_nothing(
        tmp_path: Path, needs_review: str, document: str,
        span: tuple[int, int] | str | None, fact: str, actor: str, message: str) -> None:
    start, end = _span()
    if span == "fragment":  # words cut out of the middle of the sentence
        start += CARE.index("supervised")
    elif isinstance(span, tuple):
        start, end = span
    with workflow(tmp_path) as flow:
        before = flow.ctx.store.get_denials([needs_review])
        with pytest.raises(SupplyError, match=message):
            EvidenceService(flow).supply(needs_review, document, start, end, fact, actor)
        assert flow.ctx.store.get_denials([needs_review]) == before
        assert flow.ctx.store.audit_about(f"denial:{needs_review}") == []


def test_no_supply_while_a_run_writes_the_store(tmp_path: Path, needs_review: str) -> None:
    start, end = _span()
    with (workflow(tmp_path) as flow, writer_lease(flow.ctx.store, "appeals run"),
          pytest.raises(LeaseHeldError)):
        EvidenceService(flow).supply(needs_review, "DocumentReference/d2", start, end, FACT,
                                     "ana")


def test_the_cli_shows_what_is_missing_and_supplies_a_quote(
        tmp_path: Path, needs_review: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPEALS_USER", "ana")
    common = ["--db", str(tmp_path / "appeals.db"), "--out", str(tmp_path / "out")]
    runner = CliRunner()
    shown = runner.invoke(app, ["evidence", "needs", needs_review, *common])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["action"] == "needs_review" and len(report["missing"]) == 1
    assert report["documents"][0]["document_id"] == "DocumentReference/d2"
    text = runner.invoke(app, ["evidence", "needs", needs_review, *common,
                               "--document", "DocumentReference/d2"])
    assert text.stdout == NOTE
    twice = runner.invoke(app, ["evidence", "supply", needs_review, *common, "--fact", FACT,
                                "--document", "DocumentReference/d2", "--quote", "L knee"])
    assert twice.exit_code == 1 and "more than once" in twice.stderr
    done = runner.invoke(app, ["evidence", "supply", needs_review, *common, "--fact", FACT,
                               "--document", "DocumentReference/d2", "--quote", CARE])
    assert done.exit_code == 0, done.output
    start, end = _span()
    assert f"supplied by ana (DocumentReference/d2, characters {start}-{end}); now appeal" \
        in done.stdout
    assert "letter lt_" in done.stdout


def test_an_attached_pdf_joins_the_chart_and_the_appeal_follows(
        tmp_path: Path, needs_review: str) -> None:
    exported = pdf(["PT discharge summary", "Completed 8 wks of physical therapy for the L "
                    "knee without improvement."])
    with workflow(tmp_path) as flow:
        service = EvidenceService(flow)
        done = service.attach(needs_review, "pt-discharge.pdf", exported, "ana",
                              date(2026, 7, 30))
        assert done.document.document_id.startswith("upload/")
        assert done.document.content_type == "application/pdf"
        assert done.document.original_hash == "sha256:" + hashlib.sha256(exported).hexdigest()
        # The extractors read it like any note: the conservative care is found there.
        assert done.record.triage is not None and done.record.triage.action == "appeal"
        cited = [e for e in done.record.evidence if e.document_id == done.document.document_id]
        assert cited and cited[0].fact == FACT and cited[0].found_by is None
        (letter_id,) = done.letter_ids
        (entry,) = flow.ctx.store.audit_about(f"denial:{needs_review}")
        assert entry.action == "document_attached" and entry.actor == "ana"
        assert "pt-discharge" not in (entry.note or "")  # a file name may name the patient
        needs = service.needs(needs_review)
        assert {d.ref.document_id for d in needs.documents} >= {"DocumentReference/d2",
                                                                 done.document.document_id}
    # A later run reads it again beside the EHR's chart: nothing changes.
    again, _ = run(tmp_path)
    assert by_claim(again)[THIN].triage.action == "appeal"
    assert by_claim(again)[THIN].letter.id == letter_id


def test_a_scanned_attachment_is_refused_and_changes_nothing(tmp_path: Path,
                                                              needs_review: str) -> None:
    with workflow(tmp_path) as flow:
        before = flow.ctx.store.get_denials([needs_review])
        with pytest.raises(SupplyError, match="no text layer"):
            EvidenceService(flow).attach(needs_review, "scan.pdf", pdf(None), "ana")
        assert flow.ctx.store.get_denials([needs_review]) == before


def test_an_attached_note_stays_in_the_chart_when_the_ehr_s_changes(
        tmp_path: Path, needs_review: str) -> None:
    exported = pdf(["PT discharge summary", "Completed 8 wks of physical therapy for the L "
                    "knee without improvement."])
    with workflow(tmp_path) as flow:
        EvidenceService(flow).attach(needs_review, "pt.pdf", exported, "ana")
    chart(tmp_path / "fhir", thin=NOTE + "Addendum: ice at home.\n")  # the EHR's note changed
    manifest, _ = run(tmp_path)
    assert manifest.summary.redecided == {"chart changed": 1}
    assert by_claim(manifest)[THIN].triage.action == "appeal"  # still read with the new chart
