"""Letters: StrictUndefined, a golden file per playbook, and the DOCX written from Markdown."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st

from agent.codes import CodeTable
from agent.config import LetterSettings
from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
    ProviderRef,
)
from agent.ehr.model import PatientRecord
from agent.evidence.model import Evidence
from agent.letters.docx_export import markdown_to_docx
from agent.letters.render import LetterInput, LetterRenderer, by_value, literal, refs
from agent.playbooks.registry import PlaybookSet
from evals.fabrication import Provenance
from evals.letters import evidence_items, unescape
from tests.conftest import ROOT

GOLDEN = Path(__file__).resolve().parent / "golden"
SETTINGS = LetterSettings(practice_name="Lakeside Orthopedics", contact_name="Dana Ruiz",
                          contact_phone="(216) 555-0142", signature_name="Dana Ruiz, CPC",
                          signature_title="Appeals Auditor")


def _denial() -> Denial:
    return Denial(
        denial_id="dn_golden", level="line", claim_id="LOM26-10601",
        payer_claim_number="2226245001230", claim_filing_indicator="MB",
        payer=PayerRef(name="MEDICARE PART B - GREAT LAKES MAC", id="15102"),
        payee=ProviderRef(name="LAKESIDE ORTHOPEDICS", npi="1543210987"),
        patient=PatientRef(member_id="1EG4TE5MK73", last_name="SORENSEN", first_name="HAROLD"),
        rendering_provider=ProviderRef(name="REYES, MARCO", npi="1765432103"),
        service_date=date(2026, 8, 18),
        procedure=ProcedureRef(code="20610", modifiers=("RT",), units=Decimal(1)),
        billed=Decimal("410.00"), paid=Decimal("0"), denied_amount=Decimal("410.00"),
        adjustments=(AdjustmentRef(group="CO", reason="50", amount=Decimal("410.00")),),
        remarks=("N115",), source=DenialSource(kind="835", file="era.835", segment=40))


def _evidence() -> tuple[Evidence, ...]:
    return (
        Evidence(quote="R knee: large effusion, crepitus, ROM 10-95.",
                 document_id="DocumentReference/d1", start=124, end=168,
                 fact="objective_finding", document_date=date(2026, 8, 18),
                 document_title="Ortho office note"),
        Evidence(quote="Meloxicam 15 mg daily x 3 mo - minimal relief.",
                 document_id="DocumentReference/d1", start=41, end=87,
                 fact="conservative_treatment", document_date=date(2026, 8, 18),
                 document_title="Ortho office note"),
    )


def _letter() -> LetterInput:
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("medical_necessity")
    return LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(_denial(),),
                       playbook=playbook, evidence=_evidence(),
                       patient=PatientRecord(patient_id="Patient/p1",
                                             birth_date=date(1950, 3, 2)),
                       diagnoses=("Primary osteoarthritis, right knee",))


def _render(templates: Path | None = None) -> str:
    renderer = LetterRenderer(SETTINGS, CodeTable.load_default(), templates)
    return renderer.render(_letter(), date(2026, 9, 20))


def test_medical_necessity_letter_matches_its_golden_file() -> None:
    text = _render()
    golden = GOLDEN / "medical_necessity.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        "letter changed: review it, then UPDATE_GOLDEN=1 pytest tests/test_letters.py"


def test_every_quote_in_the_letter_is_verbatim() -> None:
    text = _render()
    for item in _evidence():
        assert f'"{item.quote}"' in text
    assert "characters 124-168" in text


def test_a_missing_value_is_an_error_not_a_blank(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "letters").mkdir(parents=True)
    (templates / "arguments").mkdir()
    (templates / "letters" / "appeal.md.j2").write_text(
        (ROOT / "templates" / "letters" / "appeal.md.j2").read_text())
    (templates / "arguments" / "medical_necessity.md.j2").write_text(
        "The {{ service_phrase }} for {{ policy_number }}.")
    with pytest.raises(jinja2.UndefinedError, match="policy_number"):
        _render(templates)


def test_docx_holds_heading_claim_table_and_evidence(tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    markdown_to_docx(_render(), path, title="Appeal LOM26-10601")
    document = Document(str(path))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Request for reconsideration: claim 2226245001230"
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "1EG4TE5MK73" in cells and "20610-RT" in cells
    body = "\n".join(paragraphs)
    for item in _evidence():
        assert item.quote in body
    assert document.core_properties.title == "Appeal LOM26-10601"


def test_a_multi_line_quote_stays_in_its_evidence_item(tmp_path: Path) -> None:
    letter = _letter()
    two_lines = Evidence(quote="ASA PHYSICAL STATUS: III (DM2 w/ HbA1c 8.2,\nCKD 3a)",
                         document_id="DocumentReference/pre", start=10, end=58,
                         fact="objective_finding")
    letter = LetterInput(letter_id=letter.letter_id, group_id=letter.group_id,
                         denials=letter.denials, playbook=letter.playbook,
                         evidence=(two_lines, *letter.evidence), patient=letter.patient)
    text = LetterRenderer(SETTINGS, CodeTable.load_default()).render(letter, date(2026, 9, 20))
    assert '1. "ASA PHYSICAL STATUS: III (DM2 w/ HbA1c 8.2,\n   CKD 3a)"' in text
    path = tmp_path / "letter.docx"
    markdown_to_docx(text, path, title="t")
    item = next(p for p in Document(str(path)).paragraphs if p.text.startswith('"ASA'))
    assert item.text.startswith('"ASA PHYSICAL STATUS: III (DM2 w/ HbA1c 8.2,\nCKD 3a)"')


def test_coverage_determination_letter_matches_its_golden_file() -> None:
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("coverage_determination")
    denial = _denial().model_copy(update={
        "adjustments": (AdjustmentRef(group="CO", reason="96", amount=Decimal("410.00")),)})
    letter = LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(denial,),
                         playbook=playbook, evidence=_evidence(), patient=None)
    text = LetterRenderer(SETTINGS, CodeTable.load_default()).render(letter, date(2026, 9, 20))
    golden = GOLDEN / "coverage_determination.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        "letter changed: review it, then UPDATE_GOLDEN=1 pytest tests/test_letters.py"


MARKUP_IN_A_NOTE = ("PLAN:\n* Meloxicam 15 mg *daily* x 3 mo_ - minimal relief.\n"
                    "- PT [6 wks] <no change> & ice\n1. Aspirate + inject\n# of visits: 4")


def test_a_quote_with_markup_is_shown_verbatim_in_the_docx(tmp_path: Path) -> None:
    quote = Evidence(quote=MARKUP_IN_A_NOTE, document_id="DocumentReference/d9", start=0,
                     end=len(MARKUP_IN_A_NOTE), fact="conservative_treatment",
                     document_date=date(2026, 8, 18), document_title="Ortho office note")
    letter = replace(_letter(), evidence=(*_evidence(), quote))
    text = LetterRenderer(LetterSettings(), CodeTable.load_default()).render(
        letter, date(2026, 9, 20))
    (item,) = [i for i in evidence_items(text)[0] if i.quote.startswith("PLAN:")]
    assert item.quote == MARKUP_IN_A_NOTE  # the Markdown gives the quote back exactly
    path = tmp_path / "letter.docx"
    markdown_to_docx(text, path, title="Appeal")
    shown = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert MARKUP_IN_A_NOTE in shown  # as printed: no list, no emphasis, no link


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=("Cc",)) | st.just("\n")))
def test_literal_markdown_gives_its_text_back(text: str) -> None:
    assert unescape(literal(text)) == text


@pytest.mark.parametrize(("numbers", "cited"), [
    ([4], "evidence 4"), ([3, 2], "evidence 2 and 3"), ([1, 3, 6], "evidence 1, 3 and 6"),
    ([1, 2, 3, 4, 5], "evidence 1 to 5"), ([1, 2, 3, 5, 7, 8], "evidence 1 to 3, 5, 7 and 8"),
    ([2, 2], "evidence 2"), ([], "")])
def test_evidence_numbers_read_as_a_letter_cites_them(numbers: list[int], cited: str) -> None:
    assert refs(numbers) == cited


def test_evidence_grouped_by_what_it_shows() -> None:
    readings = [(1, "new problem"), (2, "new order"), (3, "new order"),
                (4, "worsening chronic condition, medication change"), (5, None)]
    assert by_value(readings, ", ") == [
        {"value": "new problem", "numbers": [1]}, {"value": "new order", "numbers": [2, 3]},
        {"value": "worsening chronic condition", "numbers": [4]},
        {"value": "medication change", "numbers": [4]}, {"value": "", "numbers": [5]}]
    assert by_value(readings)[2] == {"value": "worsening chronic condition, medication change",
                                     "numbers": [4]}


def test_an_evidence_range_past_the_letter_s_evidence_is_untraceable() -> None:
    provenance = Provenance()
    assert provenance.untraceable("shown (evidence 1 to 3) and (evidence 2 and 3).",
                                  evidence_count=3) == []
    assert provenance.untraceable("shown (evidence 1 to 9).", evidence_count=3) == \
        ["evidence 1 to 9"]
