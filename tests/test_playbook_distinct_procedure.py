"""Distinct procedural service (NCCI PTP, modifier 59/X): sites, separate encounters,
incisions and injuries in the notes, the NCCI checks, the whole pipeline over small
charts, the demo claims, and the golden letter."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.application.workflow import Workflow, open_workflow, run_batch
from agent.codes import CodeTable
from agent.config import AppConfig, LetterSettings
from agent.denials.model import (
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProviderRef,
)
from agent.ehr.model import ChartBundle, PatientRecord, SourceDocument, StructuredFact
from agent.evidence.verify import verify_evidence
from agent.letters.render import LetterInput, LetterRenderer
from agent.ncci import PtpTable
from agent.playbooks.checks import CheckContext
from agent.playbooks.registry import PlaybookSet
from agent.playbooks.specialties.distinct_procedure import (
    DENIED_SERVICE,
    DISTINCT_SERVICE,
    Site,
    denied_service,
    distinct_service,
    documented_codes,
    edit_other_way,
    em_line,
    modifier_not_billed,
    ncci_finding,
    ncci_no_bypass,
    not_distinct,
    partner_unknown,
    site_mentions,
    sites_at,
)
from agent.store.records import DenialRecord
from tests.conftest import FIXTURES, ROOT
from tests.denials import line_denial

PLAYBOOK = "distinct_procedure"
DOS = date(2026, 9, 3)
TODAY = date(2026, 9, 25)
GOLDEN = Path(__file__).resolve().parent / "golden" / f"{PLAYBOOK}.md"
CPT = "http://www.ama-assn.org/go/cpt"

# --------------------------------------------------------------------------- the notes

OP_BILATERAL = """OPERATIVE REPORT
DOS: 09/03/2026     Surgeon: K. Osei, MD     Anesthesia: GA/LMA
PREOP DX: 1. R knee medial meniscus tear  2. L knee primary OA w/ effusion
PROCEDURES:
1. Arthroscopic partial medial meniscectomy, right knee (29881-RT)
2. Aspiration and corticosteroid injection, left knee (20610-59-LT)
FINDINGS: R knee - complex tear PHMM. L knee - large effusion.
DESCRIPTION OF PROCEDURE: Std AL/AM portals R knee. PMM to stable rim w/ biter and
shaver. Portals closed 3-0 nylon. Attention then turned to the L knee, prepped and draped
separately. Superolateral approach, 18g needle: aspirated 40 cc straw-colored fluid,
injected 40 mg triamcinolone + 4 cc 1% lidocaine. Band-aid.
K. Osei, MD 09/03/2026 10:02
"""

OP_SAME_KNEE = """Op note 9/3/26 - Osei
Procedure: R knee arthroscopy w/ partial medial meniscectomy (29881-RT). Intra-articular
injection R knee (20610-59-RT) for the underlying OA, a different dx.
Findings: medial compartment - flap tear PHMM; grade III changes MFC, separate
compartment from the tear.
At the conclusion of the case 40 mg Kenalog + 5 cc 0.5% marcaine injected into the R knee.
No complications.
"""

OP_LACERATION = """OPERATIVE NOTE
PROCEDURES: Right knee scope, partial medial meniscectomy. Simple repair 4 cm laceration
L forearm.
INDICATIONS: Pt tripped in pre-op holding and sustained a 4 cm laceration of the L
forearm, a separate injury unrelated to the knee.
DESCRIPTION OF PROCEDURE: standard portals, PMM to stable rim. After the knee was dressed,
the L forearm lac was irrigated and repaired, simple, 4-0 nylon x 6.
"""

CLINIC_MORNING = """Knee clinic  09/03/26  07:40
HPI: 44M locked R knee since yesterday, hx R knee scope 2019.
Exam: R knee tense effusion, lacks 20 deg ext.
Procedure: R knee arthrocentesis, 60 cc hemarthrosis aspirated. Still locked after.
Plan: add-on scope this PM.
"""
OP_AFTERNOON = """OPERATIVE NOTE 09/03/26 15:20
Indications: locked R knee; aspirated in clinic this AM at a separate visit (see clinic
note), knee remained locked.
Procedure: R knee arthroscopy, partial medial meniscectomy of displaced bucket-handle
fragment (29881-RT).
"""

CLINIC_XR_INJECTION = """Ortho clinic 9/3/2026
S: 67F R knee OA, here for inj. NSAIDs not tolerated.
O: R knee mild effusion, crepitus.
XR R knee 3V (today): medial JSN, osteophytes.
A/P: R knee OA. R knee aspiration and injection performed today, 40 mg Depo-Medrol.
"""

CLINIC_LEFT_INJECTION = """Ortho f/u 09/03/26
L knee OA. Exam: L knee small effusion.
Procedure: L knee injection, 40 mg Kenalog + 3 cc lido, superolateral approach. Tol well.
"""

OP_NO_MODIFIER = """OP NOTE - Osei - 09/03/26
PROCEDURE(S): 1) R knee scope w/ PMM 2) L knee arthrocentesis + CSI
Description: R knee: AL/AM portals, PMM to stable rim. L knee (other side, prepped
separately): 30 cc aspirated, 40 mg triamcinolone injected.
"""

OP_CHONDROPLASTY = """OPERATIVE REPORT
Procedure: Right knee arthroscopy. Partial medial meniscectomy. Chondroplasty of the
patella (patellofemoral compartment), a separate compartment.
Description: PMM w/ shaver to stable rim. Patellar grade III flap debrided w/ shaver,
chondroplasty to stable margins.
"""

XR_ONLY = """XR L knee 3V 09/03/2026
Impression: moderate medial JSN, no fx.
"""


# --------------------------------------------------------------------------- helpers

def _denial(code: str = "20610", modifiers: tuple[str, ...] = ("59", "LT"),
            claim_codes: tuple[str, ...] = ("29881", "20610"), carc: str = "97",
            remarks: tuple[str, ...] = ()) -> Denial:
    return line_denial(
        code, carc, billed="310.00", modifiers=modifiers, units=1, denial_id="dn_dp",
        claim_id="DP-1001", payer_claim_number="ICN1001", claim_filing_indicator="CI",
        payer=PayerRef(name="BLUE RIVER HEALTH PLAN", id="BRH01"),
        payee=ProviderRef(name="LAKESIDE ORTHOPEDICS", npi="1543210987"),
        patient=PatientRef(member_id="BRH100000001", last_name="DOE", first_name="JAN"),
        rendering_provider=ProviderRef(name="OSEI, KWAME", npi="1765432103"),
        service_date=DOS, remarks=remarks, claim_procedure_codes=claim_codes,
        source=DenialSource(kind="835", file="era.835", segment=30))

def _chart(*texts: str, day: date = DOS, facts: tuple[StructuredFact, ...] = ()
           ) -> ChartBundle:
    return ChartBundle(
        patient=PatientRecord(patient_id="Patient/p1"),
        documents=tuple(SourceDocument(document_id=f"DocumentReference/n{i}",
                                       patient_id="Patient/p1", date=day, text=text,
                                       title="Operative note", linked_by="date_window")
                        for i, text in enumerate(texts)),
        facts=facts)


def _context(denial: Denial, chart: ChartBundle) -> CheckContext:
    evidence = {DENIED_SERVICE: denied_service(chart, denial),
                DISTINCT_SERVICE: distinct_service(chart, denial)}
    return CheckContext(denial=denial, chart=chart, evidence=evidence,
                        ncci=PtpTable.default())


def _values(chart: ChartBundle, denial: Denial) -> list[str | None]:
    return [e.value for e in distinct_service(chart, denial)]


# --------------------------------------------------------------------------- sites

@pytest.mark.parametrize(("text", "expected"), [
    ("R knee aspirated", [Site("right", "knee")]),
    ("Lt. shoulder injected", [Site("left", "shoulder")]),
    ("left-sided hip pain", [Site("left", "hip")]),
    ("injection, knee (L)", [Site("left", "knee")]),
    ("aspiration of knee, right", [Site("right", "knee")]),
    ("bilateral knee injections", [Site("left", "knee"), Site("right", "knee")]),
    ("R and L knees aspirated", [Site("left", "knee"), Site("right", "knee")]),
    ("tap of the other knee", [Site("contralateral", "knee")]),
    ("chondroplasty (29877-59-LT)", [Site("left", None)]),
])
def test_site_mentions_read_the_ways_clinicians_write_laterality(
        text: str, expected: list[Site]) -> None:
    assert {m.site for m in site_mentions(text)} == set(expected)


@pytest.mark.parametrize("text", ["rear of the ear canal", "lateral knee joint line",
                                  "knee, r/o effusion", "medial compartment", "LLE edema"])
def test_site_mentions_ignore_look_alikes(text: str) -> None:
    assert site_mentions(text) == []


def test_sites_differ_by_side_or_body_part_never_by_an_unknown() -> None:
    assert Site("left", "knee").distinct_from(Site("right", "knee"))
    assert Site("right", "knee").distinct_from(Site("right", "shoulder"))
    assert Site("contralateral", "knee").distinct_from(Site("right", "knee"))
    assert not Site("left", None).distinct_from(Site("left", "knee"))
    assert not Site(None, "knee").distinct_from(Site("left", "knee"))
    assert Site("left", "knee").describe() == "left knee"
    assert Site("right", None).describe() == "right side"


@pytest.mark.parametrize(("text", "term", "side"), [
    ("R knee arthroscopy w/ PMM and L knee injection", "PMM", "right"),
    ("R knee arthroscopy w/ PMM and L knee injection", "injection", "left"),
    ("Meniscectomy of the right knee and aspiration of the left knee", "aspiration", "left"),
    ("Aspiration and injection, left knee", "Aspiration", "left"),
    ("1) R knee scope w/ PMM 2) L knee arthrocentesis + CSI", "PMM", "right"),
    ("1) R knee scope w/ PMM 2) L knee arthrocentesis + CSI", "CSI", "left"),
])
def test_a_service_takes_the_site_of_its_clause(text: str, term: str, side: str) -> None:
    found = sites_at(text, text.index(term), site_mentions(text))
    assert {m.site.side for m in found} == {side}


def test_a_wrapped_sentence_is_quoted_whole() -> None:
    """The note reader joins wrapped lines: the quote is the whole sentence, not the line."""
    text = ("Procedures: aspiration and corticosteroid injection of the left knee with\n"
            "an 18 g needle, 30 cc clear fluid (20610-59-LT).\nPlan: home\ntoday.")
    found = denied_service(_chart(text), _denial())
    assert [e.quote for e in found] == [text[len("Procedures: "):text.index("\nPlan")]]


# --------------------------------------------------------------------------- extractors

def test_denied_service_quotes_the_described_work_verbatim() -> None:
    chart, denial = _chart(OP_BILATERAL), _denial()
    found = denied_service(chart, denial)
    assert [e.value for e in found] == ["20610"]
    assert "aspirated 40 cc" in found[0].quote
    verify_evidence(found, chart)


@pytest.mark.parametrize("note", [
    "Plan: L knee inj next visit if no better.",
    "PMH: s/p L knee injection 2024.",
    "L knee: not injected today, pt declined.",
    "Procedure: L knee inj 08/01/26, good relief x 3 wks.",
    "HPI: pt asked to have the L knee drained while here.",   # a request, not the service
    "Pt wants L knee injected today.",
])
def test_denied_service_skips_planned_past_and_negated_care(note: str) -> None:
    assert denied_service(_chart(note), _denial()) == []


def test_a_date_that_is_not_a_day_does_not_exclude_the_sentence() -> None:
    note = "Procedure 9/3/26: L knee aspirated, 4/5 quad strength, 20 cc."
    assert [e.value for e in denied_service(_chart(note), _denial())] == ["20610"]


def test_only_notes_of_the_date_of_service_count() -> None:
    earlier = _chart(OP_BILATERAL, day=date(2026, 9, 1))
    assert denied_service(earlier, _denial()) == []
    assert distinct_service(earlier, _denial()) == []


def test_distinct_site_quotes_both_sides() -> None:
    chart, denial = _chart(OP_BILATERAL), _denial()
    found = distinct_service(chart, denial)
    assert {e.value for e in found} == {"left knee vs right knee"}
    quotes = [e.quote for e in found]
    assert any("left knee (20610-59-LT)" in q for q in quotes)
    assert any("right knee (29881-RT)" in q for q in quotes)
    verify_evidence(found, chart)


def test_same_knee_and_a_different_diagnosis_or_compartment_is_not_distinct() -> None:
    assert distinct_service(_chart(OP_SAME_KNEE), _denial(modifiers=("59", "RT"))) == []


def test_separate_injury_and_site() -> None:
    denial = _denial(code="12002", modifiers=("59",), claim_codes=("29881", "12002"))
    values = _values(_chart(OP_LACERATION), denial)
    assert "left forearm vs right knee" in values and "separate injury" in values


def test_separate_encounter_in_another_note_of_the_day() -> None:
    denial = _denial(modifiers=("XE", "RT"))
    assert set(_values(_chart(CLINIC_MORNING, OP_AFTERNOON), denial)) == {
        "separate encounter (notes of 07:40 and 15:20)", "separate encounter"}


# A clinic visit and an operation the same day, written without any "separate" wording:
# the two notes' times and what each documents are the evidence.
CLINIC_0740 = """ORTHO CLINIC - urgent add-on      09/03/2026  07:40      S. Whitfield, MD
CC: R knee locked since yesterday
Exam: R knee tense effusion, lacks ~25 deg of extension.
Procedure note: R knee arthrocentesis. Verbal consent, 18 g needle, 60 cc hemarthrosis
aspirated. Knee still locked after aspiration.
A/P: Locked R knee, likely bucket-handle MM tear. Added on to this afternoon's OR schedule;
consent for arthroscopy signed.
"""
OP_1450 = """OPERATIVE NOTE       09/03/2026 2:50 PM
Procedure: R knee arthroscopy, partial medial meniscectomy of displaced bucket-handle
fragment.
Indications: Locked R knee. Knee aspirated in clinic at 0740 today (60 cc hemarthrosis,
see clinic note), still locked afterwards.
Technique: AL/AM portals, fragment resected, rim balanced w/ shaver. Portals closed.
"""


def test_two_notes_timed_apart_document_a_separate_encounter() -> None:
    denial = _denial(modifiers=("XE", "RT"))
    chart = _chart(CLINIC_0740, OP_1450)
    found = distinct_service(chart, denial)
    verify_evidence(found, chart)
    timed = [e.quote for e in found
             if e.value == "separate encounter (notes of 07:40 and 14:50)"]
    assert timed == ["R knee arthrocentesis.",
                     "ORTHO CLINIC - urgent add-on      09/03/2026  07:40      S. Whitfield, MD",
                     "OPERATIVE NOTE       09/03/2026 2:50 PM"]
    # the op note places the aspiration in clinic at another time of day
    assert ("separate encounter (07:40)", "Knee aspirated in clinic at 0740 today (60 cc "
            "hemarthrosis,\nsee clinic note), still locked afterwards.") in [
                (e.value, e.quote) for e in found]
    # the op note alone: the clinic time and place it names
    assert _values(_chart(OP_1450), denial) == ["separate encounter (07:40)"]
    # one operation documented in two notes timed apart is one encounter: the first note
    # documents the partner's own work too
    brief = ("BRIEF OP NOTE 09/03/2026 09:10\nProcedures: R knee partial medial meniscectomy; "
             "R knee injection 40 mg Kenalog.\n")
    report = ("OPERATIVE REPORT 09/03/2026 11:45\nR knee arthroscopy, partial medial "
              "meniscectomy; knee injected at the end of the case.\n")
    assert distinct_service(_chart(brief, report), denial) == []
    # a time-out time in the body is not another encounter (no clinic or ED named)
    op = ("OPERATIVE NOTE 09/03/2026 14:50\nTime-out 07:52. R knee arthroscopy, PMM. "
          "R knee injected at 08:40 at the end of the case.\n")
    assert distinct_service(_chart(op), denial) == []


def test_the_separately_prepped_field_is_quoted_with_the_distinct_site() -> None:
    scopes = OP_BILATERAL_SCOPES.replace(
        "LEFT KNEE: separately prepped and draped, partial medial meniscectomy of the left knee.",
        "LEFT KNEE: separately prepped and draped after the R knee was dressed, new time-out.\n"
        "AL/AM portals. Partial medial meniscectomy of the left knee to a stable rim.")
    chart = _chart(scopes)
    denial = _denial(code="29881", modifiers=("XS", "LT"), claim_codes=("29880", "29881"))
    found = distinct_service(chart, denial)
    verify_evidence(found, chart)
    assert found[0].quote == ("LEFT KNEE: separately prepped and draped after the R knee was "
                              "dressed, new time-out.")
    assert found[0].value == "left knee vs right knee"
    # a new time-out on the same knee is no distinct site
    same = ("Op note 09/03/26: R knee arthroscopy, partial medial meniscectomy (29881-RT). "
            "New time-out, R knee injected w/ 40 mg Kenalog (20610-RT).")
    assert distinct_service(_chart(same), _denial(modifiers=("59", "RT"))) == []


@pytest.mark.parametrize(("sentence", "value"), [
    ("Loose body removed through a separate posteromedial portal (29874-59).",
     "separate portal"),
    ("Via a separate 3 cm incision over the lateral femoral condyle, chondroplasty (29877).",
     "separate incision"),
    ("Pt returned to clinic later the same day; R knee aspirated (20610).",
     "separate encounter"),
])
def test_separate_markers(sentence: str, value: str) -> None:
    code = sentence.split("(")[1][:5]
    denial = _denial(code=code, modifiers=("59",), claim_codes=("29881", code))
    assert value in _values(_chart(sentence), denial)


OP_BILATERAL_SCOPES = """Op note - bilateral knee arthroscopy          DOS 09/03/2026
Procedure:
  - R knee: arthroscopic partial medial and lateral meniscectomies
  - L knee: arthroscopic partial medial meniscectomy
RIGHT KNEE: time-out, AL/AM portals, MM and LM tears trimmed to stable rims.
LEFT KNEE: separately prepped and draped, partial medial meniscectomy of the left knee.
"""


def test_words_both_codes_share_are_read_by_the_side_billed() -> None:
    # 29880 and 29881 are both "meniscectomy": the line's LT says which mention is its own.
    chart = _chart(OP_BILATERAL_SCOPES)
    denial = _denial(code="29881", modifiers=("XS", "LT"), claim_codes=("29880", "29881"))
    found = distinct_service(chart, denial)
    assert {e.value for e in found} == {"left knee vs right knee"}
    quotes = [e.quote for e in found]
    assert "L knee: arthroscopic partial medial meniscectomy" in quotes
    assert "R knee: arthroscopic partial medial and lateral meniscectomies" in quotes
    verify_evidence(found, chart)
    assert [e.quote for e in denied_service(chart, denial)] == [
        "L knee: arthroscopic partial medial meniscectomy",
        "LEFT KNEE: separately prepped and draped, partial medial meniscectomy of the left "
        "knee."]


def test_shared_words_without_laterality_or_on_one_knee_are_not_distinct() -> None:
    no_side = _denial(code="29881", modifiers=("XS",), claim_codes=("29880", "29881"))
    assert distinct_service(_chart(OP_BILATERAL_SCOPES), no_side) == []
    one_knee = ("Op note 09/03/26: R knee arthroscopy, partial medial meniscectomy and "
                "partial lateral meniscectomy (R knee).")
    right = _denial(code="29881", modifiers=("XS", "RT"), claim_codes=("29880", "29881"))
    assert distinct_service(_chart(one_knee), right) == []
    # the left knee is billed, but only the right knee is documented
    left = _denial(code="29881", modifiers=("XS", "LT"), claim_codes=("29880", "29881"))
    assert distinct_service(_chart(one_knee), left) == []
    assert denied_service(_chart(one_knee), left) == []


def test_a_negated_marker_does_not_count() -> None:
    text = "Chondroplasty (29877) done through the std portals, no separate incision."
    denial = _denial(code="29877", modifiers=("59",), claim_codes=("29881", "29877"))
    assert _values(_chart(text), denial) == []


def test_documented_codes_skip_diagnoses_dates_and_record_numbers() -> None:
    note = ("MRN LO-0377140  DOS 2026-09-03\nDx: S83.231A, M17.12\n"
            "Procedures: 29881-RT; 20610-59-LT\n")
    fact = StructuredFact(resource_id="Procedure/x", resource_type="Procedure", code="29880",
                          code_system=CPT, date=DOS, quote="Arthroscopy (2026-09-03)")
    codes = documented_codes(_chart(note, facts=(fact,)), _denial())
    assert codes == ["29881", "20610", "29880"]


# --------------------------------------------------------------------------- checks

def test_indicator_0_partner_documented_only_in_the_notes() -> None:
    denial = _denial(code="29877", modifiers=("XS", "RT"), claim_codes=("29877",))
    detail = ncci_no_bypass(_context(denial, _chart(OP_CHONDROPLASTY, facts=(
        StructuredFact(resource_id="Procedure/scope", resource_type="Procedure",
                       code="29881", code_system=CPT, date=DOS,
                       quote="Arthroscopic meniscectomy (2026-09-03)"),))))
    assert detail is not None
    assert "NCCI PTP 29881/29877 modifier indicator 0" in detail
    assert "29881 is not on this claim" in detail and "since 2012" in detail


def test_indicator_1_without_distinct_documentation_names_the_compartment() -> None:
    denial = _denial(modifiers=("59", "RT"))
    context = _context(denial, _chart(OP_SAME_KNEE))
    assert ncci_no_bypass(context) is None
    detail = not_distinct(context)
    assert detail is not None and "NCCI PTP 29881/20610 modifier indicator 1" in detail
    assert "separate compartment of the same joint" in detail


def test_an_undocumented_service_is_left_to_the_missing_fact_list() -> None:
    """'No distinct site' would be the wrong reason when the denied service itself is not
    in the notes: the missing-fact list says that."""
    denial = _denial(modifiers=("59", "RT"))
    context = _context(denial, _chart(OP_SAME_KNEE))
    without_service = CheckContext(denial=denial, chart=context.chart,
                                   evidence={DENIED_SERVICE: [], DISTINCT_SERVICE: []},
                                   ncci=PtpTable.default())
    assert not_distinct(context) is not None
    assert not_distinct(without_service) is None


def test_indicator_1_with_a_distinct_site_passes_every_check() -> None:
    context = _context(_denial(), _chart(OP_BILATERAL))
    for check in (em_line, ncci_no_bypass, partner_unknown, edit_other_way,
                  modifier_not_billed, not_distinct):
        assert check(context) is None


def test_distinct_site_billed_without_a_modifier_is_a_corrected_claim() -> None:
    detail = modifier_not_billed(_context(_denial(modifiers=()), _chart(OP_BILATERAL)))
    assert detail is not None and "left knee vs right knee" in detail


def test_partner_unknown_and_edit_other_way() -> None:
    alone = _denial(claim_codes=("20610",), remarks=("M80",))
    assert partner_unknown(_context(alone, _chart(CLINIC_LEFT_INJECTION))) is not None
    column_1 = _denial(code="29881", modifiers=("59", "RT"), claim_codes=("29881", "29877"))
    detail = edit_other_way(_context(column_1, _chart(OP_CHONDROPLASTY)))
    assert detail is not None and "denies 29877, not 29881" in detail


def test_an_em_line_is_not_a_59_question() -> None:
    denial = _denial(code="99213", modifiers=(), claim_codes=("99213", "29881"))
    assert em_line(_context(denial, _chart(OP_BILATERAL))) is not None


def test_ncci_finding_for_the_claim() -> None:
    finding = ncci_finding(_denial(), _chart(OP_BILATERAL), PtpTable.default())
    assert finding is not None and finding.partners == ("29881",)
    assert finding.edit is not None
    assert (finding.edit.column_1, finding.edit.column_2, finding.edit.modifier_indicator,
            finding.edit.rationale) == ("29881", "20610", "1",
                                        "Misuse of Column Two code with Column One code")
    finding = ncci_finding(_denial(claim_codes=("20610", "73562")), _chart(CLINIC_XR_INJECTION),
                           PtpTable.default())
    assert finding is not None and finding.edit is None and not finding.reverse


# --------------------------------------------------------------------------- pipeline

@dataclass(frozen=True)
class Claim:
    claim_id: str
    member: str
    lines: tuple[tuple[str, str, str, str, str], ...]
    """(code with modifiers, charge, paid, CAS, LQ remark)."""
    notes: tuple[str, ...]
    filing: str = "12"
    procedures: tuple[str, ...] = ()
    """CPT codes of Procedure resources dated on the date of service."""


CLAIMS = (
    Claim("DP-1001", "BRH100000001", (("29881:RT", "2400.00", "1100.00", "CO*45*1300.00", ""),
                                      ("20610:59:LT", "310.00", "0", "CO*97*310.00", "")),
          (OP_BILATERAL,)),
    Claim("DP-1002", "BRH100000002", (("29881:RT", "2400.00", "1100.00", "CO*45*1300.00", ""),
                                      ("20610:59:RT", "310.00", "0", "CO*97*310.00", "N20")),
          (OP_SAME_KNEE,)),
    Claim("DP-1003", "BRH100000003", (("29881:RT", "2400.00", "1100.00", "CO*45*1300.00", ""),
                                      ("12002:59", "260.00", "0", "CO*236*260.00", "")),
          (OP_LACERATION,)),
    Claim("DP-1004", "BRH100000004", (("29881:RT", "2400.00", "1100.00", "CO*45*1300.00", ""),
                                      ("20610:XE:RT", "310.00", "0", "CO*97*310.00", "")),
          (CLINIC_MORNING, OP_AFTERNOON)),
    Claim("DP-1005", "BRH100000005", (("73562:RT", "120.00", "64.00", "CO*45*56.00", ""),
                                      ("20610:59:RT", "310.00", "0", "CO*97*310.00", "")),
          (CLINIC_XR_INJECTION,)),
    Claim("DP-1006", "1EG4TE5MK99", (("20610:59:LT", "310.00", "0", "CO*97*310.00", "M80"),),
          (CLINIC_LEFT_INJECTION,), filing="MB"),
    Claim("DP-1007", "BRH100000007", (("29881:RT", "2400.00", "1100.00", "CO*45*1300.00", ""),
                                      ("20610", "310.00", "0", "CO*97*310.00", "")),
          (OP_NO_MODIFIER,)),
    Claim("DP-1008", "1EG4TE5MK98", (("29877:XS:RT", "980.00", "0", "CO*97*980.00", "N20"),),
          (OP_CHONDROPLASTY,), filing="MB", procedures=("29881",)),
    Claim("DP-1009", "BRH100000009", (("73562:LT", "120.00", "64.00", "CO*45*56.00", ""),
                                      ("20610:59:LT", "310.00", "0", "CO*97*310.00", "")),
          (XR_ONLY,)),
)


def _svc(code: str, charge: str, paid: str, cas: str, lq: str) -> str:
    text = f"SVC*HC:{code}*{charge}*{paid}**1~DTM*472*20260903~CAS*{cas}~"
    return text + (f"LQ*HE*{lq}~" if lq else "")


def _remit(payer: str, claims: list[Claim]) -> str:
    body, total = "", Decimal(0)
    for claim in claims:
        charge = sum(Decimal(line[1]) for line in claim.lines)
        paid = sum(Decimal(line[2]) for line in claim.lines)
        total += paid
        body += (f"CLP*{claim.claim_id}*1*{charge}*{paid}*0*{claim.filing}*ICN"
                 f"{claim.claim_id[3:]}*11*1~NM1*QC*1*DOE*JAN****MI*{claim.member}~"
                 "NM1*82*1*OSEI*KWAME****XX*1765432103~"
                 + "".join(_svc(*line) for line in claim.lines))
    head = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*LAKESIDE       *260920*"
            "1200*^*00501*000000001*0*P*:~GS*HP*PAYER*LAKESIDE*20260920*1200*1*X*"
            f"005010X221A1~ST*835*0001~BPR*I*{total}*C*CHK************20260918~"
            "TRN*1*CHK1*1999999999~DTM*405*20260918~"
            f"N1*PR*{payer}*XV*P1~N1*PE*LAKESIDE ORTHOPEDICS*XX*1543210987~LX*1~")
    text = head + body
    count = text[text.index("ST*835"):].count("~") + 1
    return text + f"SE*{count}*0001~GE*1*1~IEA*1*000000001~"


def _note(doc_id: str, patient: str, encounter: str, text: str) -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": doc_id, "status": "current",
            "subject": {"reference": f"Patient/{patient}"}, "date": "2026-09-03",
            "description": "Operative note",
            "context": {"encounter": [{"reference": f"Encounter/{encounter}"}]},
            "content": [{"attachment": {"contentType": "text/plain",
                                        "data": base64.b64encode(text.encode()).decode()}}]}


def _resources(claim: Claim) -> list[dict[str, Any]]:
    patient, encounter = f"p-{claim.claim_id}", f"e-{claim.claim_id}"
    found: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": patient, "identifier": [{"value": claim.member}]},
        {"resourceType": "Encounter", "id": encounter,
         "identifier": [{"value": claim.claim_id}], "subject": {"reference": f"Patient/{patient}"}},
    ]
    found += [_note(f"n{i}-{claim.claim_id}", patient, encounter, text)
              for i, text in enumerate(claim.notes)]
    found += [{"resourceType": "Procedure", "id": f"proc-{code}-{claim.claim_id}",
               "status": "completed", "subject": {"reference": f"Patient/{patient}"},
               "code": {"coding": [{"system": CPT, "code": code}], "text": "Knee arthroscopy"},
               "performedDateTime": "2026-09-03T08:10:00-04:00"}
              for code in claim.procedures]
    return found


def _activate(workflow: Workflow) -> None:
    """The playbook's extractors come with every workflow (agent/playbooks/builtin.py)."""
    assert "distinct_procedure_denied_service" in workflow.ctx.extractors.names()


@dataclass(frozen=True)
class Run:
    records: dict[str, DenialRecord]
    """The denied line of each claim."""
    letters: dict[str, str]
    """Letter Markdown by claim id."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("distinct")
    ehr = root / "fhir"
    ehr.mkdir()
    lines = [json.dumps(r) for c in CLAIMS for r in _resources(c)]
    (ehr / "resources.ndjson").write_text("\n".join(lines) + "\n")
    commercial = root / "blue-river.835"
    commercial.write_text(_remit("BLUE RIVER HEALTH PLAN", [c for c in CLAIMS
                                                            if c.filing != "MB"]))
    medicare = root / "medicare.835"
    medicare.write_text(_remit("MEDICARE PART B", [c for c in CLAIMS if c.filing == "MB"]))
    with open_workflow(root / "a.db", root / "out", f"fhir-dir:{ehr}", AppConfig(),
                       today=TODAY) as workflow:
        _activate(workflow)
        manifest = run_batch(workflow, [str(commercial), str(medicare)])
        denied = [d for d in manifest.denials if d.paid == 0]
        records = {r.denial.claim_id: r for r in workflow.ctx.records(
            [d.denial_id for d in denied])}
    letters = {d.claim_id: (root / "out" / d.letter.markdown).read_text()
               for d in denied if d.letter.markdown}
    return Run(records, letters)


def _triage(run: Run, claim_id: str) -> tuple[str, str, str | None]:
    record = run.records[claim_id]
    assert record.triage is not None
    return record.triage.action, record.triage.reason, record.playbook_id


def test_every_case_goes_to_this_playbook(run: Run) -> None:
    assert {r.playbook_id for r in run.records.values()} == {PLAYBOOK}
    assert all(r.error is None for r in run.records.values())


def test_other_knee_documented_is_appealed_with_the_quotes(run: Run) -> None:
    action, _, _ = _triage(run, "DP-1001")
    assert action == "appeal"
    evidence = run.records["DP-1001"].evidence
    assert {e.fact for e in evidence} == {DENIED_SERVICE, DISTINCT_SERVICE}
    letter = run.letters["DP-1001"]
    flat = " ".join(letter.split())  # a quote that spans lines is indented in its list item
    for item in evidence:
        assert " ".join(f'"{item.quote}"'.split()) in flat
        assert OP_BILATERAL[item.start or 0:item.end] == item.quote
    assert "left knee vs right knee" in letter and "MLN1783722" in letter
    assert "No NCCI procedure-to-procedure edit" not in letter


def test_same_knee_different_diagnosis_needs_review_without_a_letter(run: Run) -> None:
    action, reason, _ = _triage(run, "DP-1002")
    assert action == "needs_review" and "DP-1002" not in run.letters
    assert "NCCI PTP 29881/20610 modifier indicator 1" in reason
    assert "different compartment of the same knee" in reason
    assert "separate compartment of the same joint" in reason


def test_separate_injury_is_appealed(run: Run) -> None:
    action, _, _ = _triage(run, "DP-1003")
    assert action == "appeal"
    values = {e.value for e in run.records["DP-1003"].evidence if e.fact == DISTINCT_SERVICE}
    assert {"separate injury", "left forearm vs right knee"} <= values
    assert "separate injury" in run.letters["DP-1003"]


def test_separate_encounter_in_the_morning_clinic_is_appealed(run: Run) -> None:
    action, _, _ = _triage(run, "DP-1004")
    assert action == "appeal"
    quotes = [e.quote for e in run.records["DP-1004"].evidence if e.fact == DISTINCT_SERVICE]
    assert quotes[:3] == ["R knee arthrocentesis, 60 cc hemarthrosis aspirated.",
                          "Knee clinic  09/03/26  07:40", "OPERATIVE NOTE 09/03/26 15:20"]
    assert any("at a separate visit" in q for q in quotes)


def test_a_pair_the_shipped_subset_cannot_vouch_for_needs_review(run: Run) -> None:
    # The subset was cut for 29877/29880/29881/93306/94640/00840/99202-99215: it holds no
    # row pairing 20610 with 73562, which says nothing about the full CMS table.
    action, reason, _ = _triage(run, "DP-1005")
    assert action == "needs_review" and "DP-1005" not in run.letters
    assert "only when the table in use covers them" in reason


def test_partner_not_on_the_claim_nor_in_the_notes_needs_review(run: Run) -> None:
    action, reason, _ = _triage(run, "DP-1006")
    assert action == "needs_review" and "DP-1006" not in run.letters
    assert "20610 is the only code on this claim" in reason


def test_distinct_site_without_a_modifier_is_a_corrected_claim(run: Run) -> None:
    action, reason, _ = _triage(run, "DP-1007")
    assert action == "corrected_claim" and "DP-1007" not in run.letters
    assert "left knee vs right knee" in reason


def test_chondroplasty_with_meniscectomy_on_another_claim_is_written_off(run: Run) -> None:
    record = run.records["DP-1008"]
    action, reason, _ = _triage(run, "DP-1008")
    assert action == "write_off" and "DP-1008" not in run.letters
    assert record.triage is not None and record.triage.root_cause == "coding"
    assert "NCCI PTP 29881/29877 modifier indicator 0" in reason
    assert "29881 is not on this claim" in reason


def test_denied_service_not_in_the_notes_lists_what_is_missing(run: Run) -> None:
    action, _, _ = _triage(run, "DP-1009")
    assert action == "needs_review" and "DP-1009" not in run.letters
    assert run.records["DP-1009"].missing_evidence == [
        PlaybookSet.load(ROOT / "specialty_playbooks").get(PLAYBOOK).facts[0].description]


def test_the_demo_claims(tmp_path: Path) -> None:
    inputs = [str(FIXTURES / "835" / "blue-river-2026-09-02.835"),
              str(FIXTURES / "835" / "medicare-b-2026-09-09.835")]
    with open_workflow(tmp_path / "a.db", tmp_path / "out",
                       f"fhir-dir:{FIXTURES / 'fhir'}", AppConfig(), today=TODAY) as workflow:
        _activate(workflow)
        manifest = run_batch(workflow, inputs)
    by_claim = {d.claim_id: d for d in manifest.denials}
    scope = by_claim["LOM26-10412"]  # 29877-59-RT with 29881-RT paid on the same claim
    assert (scope.playbook, scope.triage.action) == (None, "write_off")  # triage decided
    assert "modifier indicator 0" in scope.triage.reason
    alone = by_claim["LOM26-10622"]  # Medicare 29877-59-LT alone, CO-97 M80
    assert (alone.playbook, alone.triage.action) == (PLAYBOOK, "write_off")
    assert "NCCI PTP 29881/29877 modifier indicator 0" in alone.triage.reason
    assert alone.letter.status == "not_drafted"


# --------------------------------------------------------------------------- letter

SETTINGS = LetterSettings(practice_name="Lakeside Orthopedics", contact_name="Dana Ruiz",
                          contact_phone="(216) 555-0142", signature_name="Dana Ruiz, CPC",
                          signature_title="Appeals Auditor")


def _letter_input() -> LetterInput:
    denial, chart = _denial(), _chart(OP_BILATERAL)
    evidence = (*denied_service(chart, denial), *distinct_service(chart, denial))
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get(PLAYBOOK)
    return LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(denial,),
                       playbook=playbook, evidence=evidence,
                       patient=PatientRecord(patient_id="Patient/p1",
                                             birth_date=date(1981, 4, 12)),
                       diagnoses=("Primary osteoarthritis, left knee",))


def _renderer() -> LetterRenderer:
    return LetterRenderer(SETTINGS, CodeTable.load_default())


def test_letter_matches_its_golden_file() -> None:
    text = _renderer().render(_letter_input(), TODAY)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), \
        "letter changed: review it, then UPDATE_GOLDEN=1 pytest " \
        "tests/test_playbook_distinct_procedure.py"


@pytest.mark.parametrize(("edit", "expected"), [
    ({"column_1": "29881", "column_2": "20610", "modifier_indicator": "1", "rationale": ""},
     "edit 29881/20610 has modifier indicator 1"),
    (None, "No NCCI procedure-to-procedure edit pairs 20610 with 29881"),
])
def test_argument_states_the_ncci_result_once_the_context_has_it(
        edit: dict[str, str] | None, expected: str) -> None:
    renderer = _renderer()
    context = renderer.context(_letter_input(), TODAY)
    context["ncci"] = {"code": "20610", "partners": ["29881"], "edit": edit, "known": True}
    template = renderer.env.get_template("arguments/distinct_procedure.md.j2")
    assert expected in " ".join(template.render(context).split())


# --------------------------------------------------------------------------- own site

OP_TWO_SITES = """OPERATIVE REPORT
PROCEDURES: 1. Excisional debridement of open fracture, left tibia. 2. Selective
debridement of right hand abrasions.

LEFT LEG: Attention was first turned to the left leg. The wound was irrigated and the
contaminated wound was debrided down to bleeding bone.

RIGHT HAND: The abrasions over the right hand were scrubbed with saline. Devitalized
tissue was removed with forceps and scissors.
"""


def _wound_denial(modifiers: tuple[str, ...] = ("XS", "RT")) -> Denial:
    return _denial(code="97597", modifiers=modifiers, claim_codes=("11012", "97597"))


def test_denied_service_is_quoted_at_its_own_site_only() -> None:
    """A wound debrided at the left leg is the partner's work, not the right hand's."""
    chart = _chart(OP_TWO_SITES)
    found = denied_service(chart, _wound_denial())
    verify_evidence(found, chart)
    assert found and all("right hand" in e.quote for e in found)
    assert not any("left" in e.quote.lower() for e in found)


def test_a_narrative_sentence_is_quoted_with_the_sentence_that_names_its_site() -> None:
    found = denied_service(_chart(OP_TWO_SITES), _wound_denial())
    assert any(e.quote.endswith("The abrasions over the right hand were scrubbed with saline. "
                                "Devitalized\ntissue was removed with forceps and scissors.")
               for e in found)


def test_the_billed_side_decides_the_own_site() -> None:
    """Billed LT: the right hand's debridement is at another site, the denied service
    is not documented at the left."""
    found = denied_service(_chart(OP_TWO_SITES), _wound_denial(("XS", "LT")))
    assert not any("right hand" in e.quote for e in found)


def test_past_tense_operative_narrative_documents_the_service() -> None:
    text = ("PROCEDURE: Right shoulder arthroscopy. The scope was placed posteriorly. "
            "Debridement was carried out to the frayed labrum with a shaver.")
    denial = _denial(code="29822", modifiers=("59", "RT"), claim_codes=("29827", "29822"))
    quotes = [e.quote for e in denied_service(_chart(text), denial)]
    assert "Debridement was carried out to the frayed labrum with a shaver." in quotes


def test_site_qualifiers_between_side_and_part() -> None:
    assert {m.site for m in site_mentions("right open ankle fracture")} == {
        Site("right", "ankle")}
    assert {m.site for m in site_mentions("L distal forearm laceration")} == {
        Site("left", "forearm")}


ED_INJURIES = """ED PROCEDURE NOTE
HPI: 30M fell from a ladder and sustained a left wrist fracture and a right knee
laceration.
Procedure: Laceration of the right knee irrigated and repaired, 6 sutures 4-0 nylon.
"""


def test_injuries_named_at_several_sites_are_separate_injuries() -> None:
    denial = _denial(code="12002", modifiers=("59", "RT"), claim_codes=("25600", "12002"))
    chart = _chart(ED_INJURIES)
    found = [e for e in distinct_service(chart, denial)
             if e.value and e.value.startswith("separate injury")]
    verify_evidence(found, chart)
    assert [e.value for e in found] == ["separate injury (right knee vs left wrist)"]
    assert "left wrist fracture and a right knee\nlaceration" in found[0].quote


def test_injuries_are_not_separate_when_the_partner_is_at_the_same_site() -> None:
    note = ED_INJURIES + "Right knee arthrocentesis, 20 cc blood aspirated.\n"
    denial = _denial(code="12002", modifiers=("59", "RT"), claim_codes=("20610", "12002"))
    assert not any((e.value or "").startswith("separate injury")
                   for e in distinct_service(_chart(note), denial))


def test_a_body_part_named_without_a_side_inherits_no_side() -> None:
    """"Knee injected" names its site anew with the side unstated: it does not take the
    right knee from the sentence before, and documents the service billed LT."""
    text = ("Procedure: R knee arthroscopy, partial medial meniscectomy. Knee injected "
            "with 40 mg Kenalog at the end.")
    quotes = [e.quote for e in denied_service(_chart(text), _denial())]
    assert quotes == ["Knee injected with 40 mg Kenalog at the end."]
