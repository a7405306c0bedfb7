"""Anesthesia physical status (P3-P5): the ASA class and the disease behind it, the checks
that say "don't appeal", the whole pipeline over small charts, and the golden letter."""

from __future__ import annotations

import base64
import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.application.workflow import Workflow, open_workflow, run_batch
from agent.codes import CodeTable
from agent.config import AppConfig, LetterSettings
from agent.denials.model import (
    Denial,
    PatientRef,
    PayerRef,
    ProviderRef,
)
from agent.ehr.model import ChartBundle, PatientRecord, SourceDocument, StructuredFact
from agent.evidence.model import Evidence
from agent.evidence.verify import verify_evidence
from agent.evidence.vocabulary import load_vocabulary
from agent.letters.render import LetterInput, LetterRenderer
from agent.manifest import Manifest, MDenial
from agent.playbooks.checks import CheckContext
from agent.playbooks.registry import PlaybookSet
from agent.playbooks.specialties.anesthesia import (
    AsaCriteria,
    Reading,
    asa_class,
    asa_class_below_billed,
    asa_classes_disagree,
    read_asa_class,
    read_findings,
    systemic_disease,
)
from tests.conftest import FIXTURES, ROOT
from tests.denials import line_denial

PLAYBOOK = "anesthesia_physical_status"
DOS = date(2026, 8, 20)
TODAY = date(2026, 9, 20)
GOLDEN = Path(__file__).resolve().parent / "golden" / f"{PLAYBOOK}.md"


# --------------------------------------------------------------------------- helpers

def _denial(modifiers: tuple[str, ...] = ("AA", "P3"), code: str = "00840",
            filing: str | None = "CI") -> Denial:
    return line_denial(code, "4", billed="1980.00", paid="1204.50", denied="136.80",
                       modifiers=modifiers, units=12, denial_id="dn_anes", claim_id="ANES-1",
                       payer_claim_number="ICN1", claim_filing_indicator=filing,
                       payer=PayerRef(name="BLUE RIVER HEALTH PLAN"), service_date=DOS,
                       remarks=("N440",))

def _chart(*texts: str, facts: tuple[StructuredFact, ...] = ()) -> ChartBundle:
    documents = tuple(SourceDocument(document_id=f"DocumentReference/d{i}", patient_id="Patient/p",
                                     title="Pre-anesthesia evaluation", date=DOS, text=text,
                                     linked_by="encounter") for i, text in enumerate(texts))
    return ChartBundle(documents=documents, facts=facts)


def _reading() -> Reading:
    return Reading(AsaCriteria(), DOS, DOS)


def _values(text: str, section: str | None = None) -> set[str]:
    return {f.value for f in read_findings(text, _reading(), section)}


# --------------------------------------------------------------------------- ASA class

@pytest.mark.parametrize(("sentence", "expected"), [
    ("ASA III", "ASA 3"), ("ASA 3", "ASA 3"), ("ASA class 3E", "ASA 3E"),
    ("ASA PS 4", "ASA 4"), ("ASA PHYSICAL STATUS: III - severe systemic disease", "ASA 3"),
    ("asa ii, MP 2", "ASA 2"), ("ASA IV-E (ruptured AAA)", "ASA 4E"), ("ASA: 2", "ASA 2"),
    ("Physical status: P3", "ASA 3"), ("ASA-PS 5 E", "ASA 5E"), ("ASA class III-E", "ASA 3E"),
    ("ASA physical status classification 4", "ASA 4"),
    ("No prior anesthesia complications, ASA 3", "ASA 3"),
])
def test_asa_class_is_read_in_the_forms_anesthesiologists_write(sentence: str,
                                                                expected: str) -> None:
    found = read_asa_class(sentence)
    assert found is not None
    statement, start, end = found
    assert statement.value == expected
    assert sentence[start:end].upper().startswith(("ASA", "PHYSICAL"))


@pytest.mark.parametrize("sentence", [
    "ASA 81 mg daily", "ASA 325 mg PRN", "ASA 1 tab po qd", "ASA 2-3", "ASA class pending",
    "prior anesthetic: ASA 2 (2019 lap chole)", "last GA 2019 ASA 2",
    "not ASA 4 per cardiology", "on ASA/Plavix",
])
def test_aspirin_ranges_and_earlier_anesthetics_are_not_a_class(sentence: str) -> None:
    assert read_asa_class(sentence) is None


def test_a_class_on_its_own_line_after_the_medication_list_is_read() -> None:
    text = "Meds:\n- ASA 81 mg qd\n- metoprolol 25 bid\nASA 3\n"
    (found,) = asa_class(_chart(text), _denial())
    assert (found.quote, found.value) == ("ASA 3", "ASA 3")


def test_asa_quote_carries_over_a_wrapped_line_and_is_verbatim() -> None:
    text = ("Labs: K 4.6\nASA PHYSICAL STATUS: III - severe systemic disease (poorly "
            "controlled DM2 w/ end-organ\ninvolvement (CKD 3a), OSA on CPAP).\n\nPlan: GETA.\n")
    chart = _chart(text)
    (found,) = asa_class(chart, _denial())
    assert found.value == "ASA 3"
    assert found.quote.endswith("OSA on CPAP).")
    assert text[found.start or 0:found.end] == found.quote
    verify_evidence([found], chart)


def test_asa_class_from_an_observation_quotes_the_resource() -> None:
    fact = StructuredFact(resource_id="Observation/asa", resource_type="Observation",
                          display="ASA physical status", value="III",
                          quote="ASA physical status: III (2026-08-20)", date=DOS)
    (found,) = asa_class(ChartBundle(facts=(fact,)), _denial())
    assert (found.value, found.quote, found.start) == ("ASA 3", fact.quote, None)


# --------------------------------------------------------------------------- disease

@pytest.mark.parametrize(("sentence", "expected"), [
    ("T2DM, poorly controlled on glargine", "poorly controlled diabetes (ASA P3 example)"),
    ("uncontrolled HTN (SBP 180s)", "poorly controlled hypertension (ASA P3 example)"),
    ("COPD on home O2 2L", "COPD (ASA P3 example)"),
    ("PPM for CHB 2022", "pacemaker (ASA P3 example)"),
    ("BMI 43.2", "BMI ≥40 (BMI 43.2) (ASA P3 example)"),
    ("ESRD on HD MWF via L AVF", "ESRD on dialysis (ASA P3 example)"),
    ("ESRD, not yet on dialysis", "ESRD not on dialysis (ASA P4 example)"),
    ("MI 2019, medically managed", "MI more than 3 months before surgery (2019) "
                                   "(ASA P3 example)"),
    ("remote CVA, no residual deficits", "remote CVA (ASA P3 example)"),
    ("NSTEMI 3 wks ago", "MI within 3 months of surgery (3 wks ago) (ASA P4 example)"),
    ("severe AS (AVA 0.7 cm2, mean gradient 48)", "severe valve disease (ASA P4 example)"),
    ("LVEF severely reduced on TTE", "severely reduced ejection fraction (ASA P4 example)"),
    ("urosepsis, on pip-tazo", "sepsis (ASA P4 example)"),
    ("ruptured AAA, hypotensive in ED", "ruptured aneurysm or massive trauma "
                                         "(ASA P5 example)"),
    ("HbA1c 9.4% (7/30)", "HbA1c 9.4%"), ("CKD 3b, Cr 1.9", "CKD stage 3b"),
    ("TTE 7/10: LVEF 30-35%, mod MR", "ejection fraction 30-35%"),
])
def test_findings_map_to_the_asa_examples(sentence: str, expected: str) -> None:
    assert expected in _values(sentence)


@pytest.mark.parametrize("sentence", [
    "Denies COPD, no h/o MI.", "DM2, well controlled (A1c 6.4)", "Mother w/ MI at 60",
    "Risks incl MI/stroke, aspiration discussed", "h/o sepsis 2019, resolved",
    "s/p AVR 2018 for severe AS", "ureteral stent placed 6/2026", "BMI 36, EF 55-60%",
    "r/o sepsis",
])
def test_negated_historical_family_and_hypothetical_mentions_are_not_findings(
        sentence: str) -> None:
    assert _values(sentence) == set()


def test_acute_states_in_the_past_medical_history_do_not_count() -> None:
    assert _values("sepsis", section="history") == set()
    assert _values("COPD", section="history") == {"COPD (ASA P3 example)"}


def test_recent_event_window_is_three_months_before_surgery() -> None:
    assert _values("CVA 05/21/2026") == {"CVA within 3 months of surgery (05/21/2026) "
                                         "(ASA P4 example)"}
    assert _values("CVA 05/19/2026") == {"CVA more than 3 months before surgery "
                                         "(05/19/2026) (ASA P3 example)"}
    assert _values("TIA 2018") == {"TIA more than 3 months before surgery (2018)"}
    assert _values("s/p PCI/DES to LAD 2026") == {"history of coronary stent (2026) "
                                                   "(ASA P3 example)"}


def test_a_date_in_another_clause_does_not_date_the_event() -> None:
    # 07/2026 dates the echo, not the stent: not a recent stent (P4)
    assert _values("s/p remote LAD stent, EF 45% on TTE 07/2026") == {
        "history of coronary stent (date not stated) (ASA P3 example)"}
    assert _values("DES to LAD 07/2026") == {
        "coronary stent within 3 months of surgery (07/2026) (ASA P4 example)"}


def test_a_month_named_may_is_not_a_hedge_and_a_final_period_ends_a_bmi() -> None:
    assert _values("May 2026: NSTEMI, medically managed") == {
        "history of MI (May 2026) (ASA P3 example)"}  # May 1-31 straddles the cutoff
    assert _values("June 2026: NSTEMI") == {
        "MI within 3 months of surgery (June 2026) (ASA P4 example)"}
    assert _values("Morbid obesity, BMI 42.") == {"BMI ≥40 (BMI 42) (ASA P3 example)"}
    assert _values("may need ICU for possible sepsis") == set()


def test_hba1c_and_ef_thresholds_are_practice_settings() -> None:
    strict = Reading(AsaCriteria(hba1c_percent_min=Decimal("9.0")), DOS, DOS)
    assert read_findings("HbA1c 8.2%", strict) == []
    assert _values("HbA1c 8.2%") == {"HbA1c 8.2%"}


def test_structured_facts_count_and_are_quoted_as_built() -> None:
    a1c = StructuredFact(resource_id="Observation/a1c", resource_type="Observation",
                         code="4548-4", display="Hemoglobin A1c", value="8.2 %", date=DOS,
                         quote="Hemoglobin A1c: 8.2 % (2026-08-01)")
    low = a1c.model_copy(update={"resource_id": "Observation/old", "value": "7.1 %",
                                 "quote": "Hemoglobin A1c: 7.1 % (2026-02-01)"})
    ckd = StructuredFact(resource_id="Condition/ckd", resource_type="Condition",
                         display="Chronic kidney disease stage 3",
                         quote="Chronic kidney disease stage 3 (2025-02-11)")
    old_mi = StructuredFact(resource_id="Condition/mi", resource_type="Condition",
                            display="Old myocardial infarction", date=date(2019, 5, 1),
                            status="resolved", quote="Old myocardial infarction (2019-05-01)")
    chart = _chart("Anesthesia preop: ASA 3.", facts=(a1c, low, ckd, old_mi))
    found = systemic_disease(chart, _denial())
    assert [e.document_id for e in found] == ["Condition/mi", "Observation/a1c",
                                              "Condition/ckd"]
    assert found[0].value == "MI more than 3 months before surgery (2019-05-01) " \
                             "(ASA P3 example)"
    assert all(e.start is None for e in found)
    verify_evidence(found, chart)


def test_the_asa_sentence_is_not_quoted_twice_when_other_notes_show_the_disease() -> None:
    text = "PMH:\n- COPD (FEV1 48%)\nASA 3 (COPD, PPM)\n"
    found = systemic_disease(_chart(text), _denial())
    assert [e.quote for e in found] == ["COPD (FEV1 48%)"]
    alone = systemic_disease(_chart("Preop: ASA 3 (COPD, PPM)"), _denial())
    assert [e.value for e in alone] == ["COPD (ASA P3 example); pacemaker (ASA P3 example)"]


def test_family_history_section_is_skipped() -> None:
    text = "FH: father MI at 50\nsister - COPD\nSH: never smoker\n"
    assert systemic_disease(_chart(text), _denial()) == []


# --------------------------------------------------------------------------- checks

def _asa(value: str) -> Evidence:
    return Evidence(quote=value, document_id="DocumentReference/d0", start=0,
                    end=len(value), fact="asa_class", value=value)


def _context(denial: Denial, *classes: str, disease: tuple[str, ...] = ()) -> CheckContext:
    evidence = {"asa_class": [_asa(c) for c in classes],
                "systemic_disease": [Evidence(quote="x", document_id="DocumentReference/d0",
                                              start=0, end=1, fact="systemic_disease",
                                              value=v) for v in disease]}
    return CheckContext(denial=denial, chart=ChartBundle(), evidence=evidence)


def test_below_billed_names_the_documented_class_and_the_modifier() -> None:
    detail = asa_class_below_billed(_context(_denial(), "ASA 2"))
    assert detail == ("the anesthesia notes document ASA 2 but the line was billed with P3; "
                      "the modifier the record supports is P2")
    assert asa_class_below_billed(_context(_denial(), "ASA 3E")) is None
    assert asa_class_below_billed(_context(_denial(), "ASA 4")) is None
    assert asa_class_below_billed(_context(_denial(), "ASA 6")) is not None
    assert asa_class_below_billed(_context(_denial(), )) is None


def test_below_billed_warns_when_the_chart_lists_an_example_of_the_billed_class() -> None:
    detail = asa_class_below_billed(_context(_denial(), "ASA 2",
                                             disease=("COPD (ASA P3 example)",)))
    assert detail is not None and "confirm the class with the anesthesiologist" in detail


def test_disagreeing_classes_go_to_review_only_when_one_is_below_billed() -> None:
    assert asa_classes_disagree(_context(_denial(), "ASA 2", "ASA 3")) == \
        "the anesthesia notes document ASA 2 and ASA 3 while P3 was billed"
    assert asa_classes_disagree(_context(_denial(), "ASA 3", "ASA 4")) is None
    assert asa_classes_disagree(_context(_denial(("P3",), filing="MB"), "ASA 3")) is None


# --------------------------------------------------------------------------- pipeline

QUEUE_COLUMNS = ["claim_id", "payer_name", "payer_id", "payer_claim_number", "member_id",
                 "patient_last_name", "patient_first_name", "service_date", "procedure_code",
                 "modifiers", "units", "billed", "paid", "adjustments", "remarks",
                 "rendering_npi", "rendering_name", "claim_filing_indicator",
                 "remittance_date"]


def _row(claim: str, member: str, code: str, modifiers: str, *, filing: str = "CI",
         adjustments: str = "CO-4:136.80", remarks: str = "N440") -> dict[str, str]:
    return {"claim_id": claim, "payer_name": "HARBOR MUTUAL INSURANCE", "payer_id": "HMI77",
            "payer_claim_number": f"HM{claim[-4:]}", "member_id": member,
            "patient_last_name": "TESTPATIENT", "patient_first_name": "ALEX",
            "service_date": DOS.isoformat(), "procedure_code": code, "modifiers": modifiers,
            "units": "12", "billed": "1980.00", "paid": "1204.50", "adjustments": adjustments,
            "remarks": remarks, "rendering_npi": "1234567893",
            "rendering_name": "BHATT, ANAND", "claim_filing_indicator": filing,
            "remittance_date": "2026-09-11"}


def _note(doc_id: str, patient: str, encounter: str, text: str, title: str,
          day: str = "2026-08-20") -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": doc_id, "status": "current",
            "subject": {"reference": f"Patient/{patient}"}, "date": day,
            "description": title,
            "context": {"encounter": [{"reference": f"Encounter/{encounter}"}]},
            "content": [{"attachment": {"contentType": "text/plain",
                                        "data": base64.b64encode(text.encode()).decode()}}]}


def _patient(patient: str, member: str, claim: str) -> list[dict[str, Any]]:
    return [{"resourceType": "Patient", "id": patient, "identifier": [{"value": member}]},
            {"resourceType": "Encounter", "id": f"e-{patient}",
             "identifier": [{"value": claim}], "subject": {"reference": f"Patient/{patient}"}}]


def _observation(obs_id: str, patient: str, loinc: str, text: str, value: float,
                 unit: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": obs_id, "status": "final",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}], "text": text},
            "effectiveDateTime": "2026-08-02", "valueQuantity": {"value": value, "unit": unit}}


def _condition(cond_id: str, patient: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cond_id,
            "subject": {"reference": f"Patient/{patient}"}, "code": {"text": text},
            "clinicalStatus": {"coding": [{"code": "active"}]}, "recordedDate": "2024-03-01"}


COPD_PREOP = """ANESTHESIA PRE-OP EVAL   08/20/2026 0615
72M for R TKA (Dr. Okafor).
PMH: COPD - FEV1 52% pred, on Trelegy, 2L NC w/ exertion
     HTN on losartan
     T2DM, A1c 9.4 (7/30), on metformin
PSH: L TKA 2021 (GA + block, uneventful)
Meds: ASA 81 mg daily, losartan 50, metformin 1000 bid
Airway: MP 2, FROM, TMD > 3 FB
Lungs: scattered exp wheeze, SpO2 93% RA
Assessment: ASA class 3. Plan GA + adductor canal block, albuterol neb pre-induction.
"""

RECENT_STENT = """Pre-anesthesia assessment -- 8/20/26 06:40
hx: NSTEMI 07/08/2026 -> cath, DES x1 to prox LAD; on ASA/ticagrelor (ticagrelor
held x5d per cards)
ischemic CMP, TTE 7/10: LVEF 30-35%, mod MR
proceeding w/ urgent lap chole for gangrenous GB after d/w cardiology
ASA PS: 4
plan: GETA, A-line, TEE available
"""

EMERGENT = """Anesthesia Preop Note
CC: incarcerated L inguinal hernia, emergent
PMH: see problem list
NPO: ate ~6h ago -> RSI
ASA class III-E
"""

LOW_CLASS = """PREOP ANESTHESIA NOTE
Procedure: lap appy
PMH: asthma (mild intermittent, albuterol prn), former smoker (quit 2015)
BMI 31
Airway MP1
ASA: II
"""

HEALTHY = """Anesthesia consult
HPI: 34F for elective lap chole. HTN well controlled on amlodipine. Denies CP/SOB.
PMH: HTN. No DM, no COPD.
Plan: GA, PONV ppx.
"""

CLINIC_PREOP = """Pre-anesthesia clinic 8/18/2026
PMH: OSA on CPAP, HTN, GERD
BMI 34
ASA 2
"""

DAY_OF = """Anesthesia record
Anesthesia start 07:32  end 09:10
ASA 3 per day-of eval
"""

ASA_ONLY = """Anesthesia preop
PMH: HTN, HLD, GERD
ASA III
"""


@dataclass(frozen=True)
class Batch:
    """The decided denials of one run, and where its letters were written."""

    root: Path
    denials: dict[str, MDenial]

    def __getitem__(self, claim: str) -> MDenial:
        return self.denials[claim]

    def letter(self, claim: str) -> str:
        """The drafted letter of a claim."""
        markdown = self.denials[claim].letter.markdown
        assert markdown is not None, self.denials[claim].triage.reason
        return (self.root / "out" / markdown).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """One batch with a claim per case, run once through the real workflow."""
    root = tmp_path_factory.mktemp("anesthesia")
    cases: list[tuple[dict[str, str], list[dict[str, Any]]]] = []

    def case(claim: str, code: str, modifiers: str, notes: list[tuple[str, str]],
             extra: list[dict[str, Any]] | None = None, **row: str) -> None:
        patient = f"p{claim[-2:]}"
        member = f"HMX{claim[-5:].replace('-', '')}"
        resources = _patient(patient, member, claim)
        resources += [_note(f"d{claim[-2:]}-{i}", patient, f"e-{patient}", text, title)
                      for i, (title, text) in enumerate(notes)]
        cases.append((_row(claim, member, code, modifiers, **row), resources + (extra or [])))

    case("ANES-00001", "01402", "QZ;P3", [("Pre-anesthesia evaluation", COPD_PREOP)])
    case("ANES-00002", "00790", "AA;P4", [("Pre-anesthesia evaluation", RECENT_STENT)],
         adjustments="CO-50:775.50", remarks="")
    case("ANES-00003", "00840", "QK;P3", [("Anesthesia preop", EMERGENT)],
         extra=[_observation("a1c-03", "p03", "4548-4", "Hemoglobin A1c", 10.1, "%"),
                _condition("copd-03", "p03", "Chronic obstructive lung disease")])
    case("ANES-00004", "01402", "QZ;P3", [("Pre-anesthesia evaluation", COPD_PREOP)],
         filing="MB")
    case("ANES-00005", "00840", "AA;P3", [("Preop anesthesia note", LOW_CLASS)])
    case("ANES-00006", "00790", "AA;P3", [("Anesthesia consult", HEALTHY)])
    case("ANES-00007", "00790", "AA;P3", [("Pre-anesthesia clinic", CLINIC_PREOP),
                                          ("Anesthesia record", DAY_OF)])
    case("ANES-00008", "00790", "AA;P3", [("Anesthesia preop", ASA_ONLY)])

    queue = root / "queue.csv"
    with queue.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=QUEUE_COLUMNS)
        writer.writeheader()
        writer.writerows(row for row, _ in cases)
    fhir = root / "fhir"
    fhir.mkdir()
    (fhir / "resources.ndjson").write_text(
        "\n".join(json.dumps(r) for _, resources in cases for r in resources) + "\n")
    with _workflow(root, fhir) as workflow:
        manifest = run_batch(workflow, [str(queue)])
    return Batch(root, {d.claim_id: d for d in manifest.denials})


@contextmanager
def _workflow(root: Path, fhir: Path) -> Iterator[Workflow]:
    with open_workflow(root / "appeals.db", root / "out", f"fhir-dir:{fhir}", AppConfig(),
                       today=TODAY) as workflow:
        assert "anesthesia_asa_class" in workflow.ctx.extractors.names()  # registered by default
        yield workflow


def _quotes(denial: MDenial, fact: str) -> list[str]:
    return [e.quote for e in denial.evidence if e.fact == fact]


def test_p3_with_copd_is_appealed_with_both_facts(pipeline: Batch) -> None:
    denial = pipeline["ANES-00001"]
    assert (denial.playbook, denial.triage.action) == (PLAYBOOK, "appeal")
    assert _quotes(denial, "asa_class") == [
        "ASA class 3. Plan GA + adductor canal block, albuterol neb pre-induction."]
    disease = _quotes(denial, "systemic_disease")
    assert disease[0] == "COPD - FEV1 52% pred, on Trelegy, 2L NC w/ exertion"
    assert "T2DM, A1c 9.4 (7/30), on metformin" in disease
    assert all("81 mg" not in q for q in _quotes(denial, "asa_class"))
    letter = pipeline.letter("ANES-00001")
    for item in denial.evidence:
        assert f'"{item.quote}"' in letter
    assert "COPD (ASA P3 example) (evidence 2)" in letter
    assert "the payer's anesthesia fee schedule (cited below) assigns to physical status P3" \
        in letter
    assert "auditor to" not in letter.split("## Evidence")[0]  # the argument needs no fixing
    assert denial.letter.status == "pending_review"


def test_p4_with_a_recent_stent_cites_the_dated_event(pipeline: Batch) -> None:
    denial = pipeline["ANES-00002"]
    assert denial.triage.action == "appeal"
    assert _quotes(denial, "asa_class") == ["ASA PS: 4"]
    first = _quotes(denial, "systemic_disease")[0]
    assert first == "hx: NSTEMI 07/08/2026 -> cath, DES x1 to prox LAD;"
    letter = pipeline.letter("ANES-00002")
    assert "MI within 3 months of surgery (07/08/2026) (ASA P4 example)" in letter
    assert "constant threat to life" in letter
    assert "ejection fraction 30-35%" in letter


def test_structured_facts_carry_an_emergency_case(pipeline: Batch) -> None:
    denial = pipeline["ANES-00003"]
    assert denial.triage.action == "appeal"
    assert _quotes(denial, "asa_class") == ["ASA class III-E"]
    sources = {e.document_id for e in denial.evidence if e.fact == "systemic_disease"}
    assert sources == {"Condition/copd-03", "Observation/a1c-03"}
    assert "ASA 3E" in pipeline.letter("ANES-00003")


def test_medicare_is_written_off_without_a_letter(pipeline: Batch) -> None:
    denial = pipeline["ANES-00004"]
    assert (denial.triage.action, denial.triage.root_cause) == ("write_off", "payer_policy")
    assert "claim filing indicator MB (Medicare)" in denial.triage.reason
    assert "informational only" in denial.triage.reason
    assert denial.letter.status == "not_drafted" and denial.letter.markdown is None


def test_a_lower_documented_class_is_a_corrected_claim(pipeline: Batch) -> None:
    denial = pipeline["ANES-00005"]
    assert (denial.triage.action, denial.triage.root_cause) == ("corrected_claim", "coding")
    assert "document ASA 2" in denial.triage.reason
    assert "the modifier the record supports is P2" in denial.triage.reason
    assert _quotes(denial, "asa_class") == ["ASA: II"]
    assert denial.letter.status == "not_drafted"


def test_no_class_and_no_disease_lists_both_as_missing(pipeline: Batch) -> None:
    denial = pipeline["ANES-00006"]
    assert denial.triage.action == "needs_review"
    assert len(denial.missing_evidence) == 2
    assert "ASA physical status class" in denial.missing_evidence[0]
    assert "systemic disease" in denial.missing_evidence[1]
    assert denial.evidence == [] and denial.letter.status == "not_drafted"


def test_classes_that_disagree_go_to_review(pipeline: Batch) -> None:
    denial = pipeline["ANES-00007"]
    assert (denial.triage.action, denial.triage.root_cause) == ("needs_review",
                                                                "documentation")
    assert "ASA 2 and ASA 3 while P3 was billed" in denial.triage.reason
    assert denial.letter.status == "not_drafted"


def test_a_class_without_the_disease_behind_it_is_reviewed(
        pipeline: Batch) -> None:
    denial = pipeline["ANES-00008"]
    assert denial.triage.action == "needs_review"
    assert _quotes(denial, "asa_class") == ["ASA III"]
    assert len(denial.missing_evidence) == 1 and "systemic disease" in \
        denial.missing_evidence[0]


def test_the_demo_claim_10490_is_appealed(tmp_path: Path) -> None:
    with _workflow(tmp_path, FIXTURES / "fhir") as workflow:
        manifest: Manifest = run_batch(workflow, [str(FIXTURES / "835" /
                                                      "blue-river-2026-09-02.835")])
    denial = next(d for d in manifest.denials if d.claim_id == "LOM26-10490")
    assert (denial.playbook, denial.triage.action) == (PLAYBOOK, "appeal")
    assert _quotes(denial, "asa_class")[0].startswith("ASA PHYSICAL STATUS: III")
    assert {e.document_id for e in denial.evidence} == \
        {"DocumentReference/lom-doc-10490-preanesthesia"}
    assert denial.letter.markdown is not None
    letter = (tmp_path / "out" / denial.letter.markdown).read_text(encoding="utf-8")
    assert "HbA1c 8.2% (evidence 2); CKD stage 3a (evidence 3)" in letter


# --------------------------------------------------------------------------- letter

SETTINGS = LetterSettings(practice_name="Lakeside Anesthesia Associates",
                          contact_name="Dana Ruiz", contact_phone="(216) 555-0142",
                          signature_name="Dana Ruiz, CPC", signature_title="Appeals Auditor")
PREOP = ("PMH:\n- DM2 on metformin + glargine 24 u qhs; HbA1c 8.2% (08/01/26)\n"
         "- CKD stage 3a - Cr 1.3, eGFR 52 (08/01/26)\n"
         "ASA PHYSICAL STATUS: III - severe systemic disease (poorly controlled DM2 w/ "
         "end-organ\ninvolvement (CKD 3a)).\n")


def _golden_input() -> LetterInput:
    denial = _denial().model_copy(update={
        "claim_id": "LOM26-10490", "payer_claim_number": "26218000490",
        "claim_filing_indicator": "12",
        "payee": ProviderRef(name="LAKESIDE ANESTHESIA", npi="1245319599"),
        "patient": PatientRef(member_id="BRH318875540", last_name="KOWALCZYK",
                              first_name="MARIANNE"),
        "rendering_provider": ProviderRef(name="BHATT, ANAND", npi="1678901236"),
        "service_date": date(2026, 8, 11)})
    document = SourceDocument(document_id="DocumentReference/pre", patient_id="Patient/p",
                              title="Pre-anesthesia evaluation", date=date(2026, 8, 11),
                              text=PREOP, linked_by="encounter")
    chart = ChartBundle(documents=(document,))
    evidence = asa_class(chart, denial) + systemic_disease(chart, denial)
    verify_evidence(evidence, chart)
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get(PLAYBOOK)
    return LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(denial,),
                       playbook=playbook, evidence=tuple(evidence),
                       patient=PatientRecord(patient_id="Patient/p",
                                             birth_date=date(1959, 7, 2)),
                       diagnoses=("Type 2 diabetes mellitus",
                                  "Chronic kidney disease stage 3"))


def test_letter_matches_its_golden_file() -> None:
    renderer = LetterRenderer(SETTINGS, CodeTable.load_default())
    text = renderer.render(_golden_input(), TODAY)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), \
        f"letter changed: review it, then UPDATE_GOLDEN=1 pytest {Path(__file__).name}"


@pytest.mark.parametrize(("filing", "action"), [("MB", "write_off"), ("CI", "needs_review")])
def test_no_chart_still_lets_the_claim_only_rules_decide(filing: str, action: str) -> None:
    """Medicare pays no physical-status units whatever the chart says: a patient missing
    from the EHR does not turn that write-off into a review."""
    from agent.playbooks.builtin import builtin_registries
    from agent.triage.model import Triage
    from agent.workflow.decide import decide

    extractors, checks = builtin_registries()
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("anesthesia_physical_status")
    triage = Triage(action="appeal", category="clinical", preventable=False,
                    dollar_bucket="low", root_cause="coding", reason="", rule="t", final=False)
    decision = decide(_denial(filing=filing), triage, playbook,
                      ChartBundle(problems=("no patient with this member id",)), extractors,
                      checks)
    assert decision.triage.action == action
    assert (decision.missing != []) == (action == "needs_review")


@pytest.mark.parametrize(("text", "value"), [
    ("HISTORY: He has end-stage renal disease. The patient is on dialysis.", "on dialysis"),
    ("The patient is on dialysis three times a week via a left arm fistula.", "on dialysis"),
    ("He was admitted after multiple massive strokes last month.", "CVA"),
])
def test_disease_written_the_ways_real_notes_write_it(text: str, value: str) -> None:
    found = systemic_disease(_chart(text), _denial())
    assert any(value in (e.value or "") for e in found), [e.value for e in found]


@pytest.mark.parametrize("text", [
    "Plan to start dialysis next month if the creatinine keeps rising.",
    "Her mother is on dialysis.",
    "Rule out COPD; PFTs ordered.",
])
def test_a_disease_that_is_not_the_patients_own_present_one_is_not_cited(text: str) -> None:
    assert systemic_disease(_chart(text), _denial()) == []


# --------------------------------------------------------------------------- vocabulary

@pytest.mark.parametrize(("text", "value"), [
    ("Class III obesity, on a liquid diet before surgery.",
     "morbid obesity (BMI ≥40) (ASA P3 example)"),
    ("Chronic hypoxic respiratory failure on 3 L home oxygen.", "respiratory failure"),
    ("Ventilator dependent since the cardiac arrest.", "respiratory failure"),
    ("s/p CABG x3 in 2015, stable since.",
     "coronary bypass grafting more than 3 months before surgery (2015) (ASA P3 example)"),
    ("Coronary artery bypass grafting 6 weeks ago.",
     "coronary bypass grafting within 3 months of surgery (6 weeks ago) (ASA P4 example)"),
    ("Admitted with an NSTEMI, troponin peaked at 4.2.",
     "MI within 3 months of surgery (written as current in the note of 2026-08-20) "
     "(ASA P4 example)"),
    ("Acute left MCA stroke with aphasia.",
     "CVA within 3 months of surgery (written as current in the note of 2026-08-20) "
     "(ASA P4 example)"),
])
def test_disease_words_of_the_vocabulary(text: str, value: str) -> None:
    assert value in _values(text)


@pytest.mark.parametrize("text", [
    "history of morbid obesity, s/p sleeve gastrectomy",
    "prior respiratory failure with influenza",
    "Discussed the risks, including respiratory failure and stroke.",
    # the reader's ConText: "prior"/"previous" are historical, "risks of" hypothetical
    "Previously septic from a urinary source.",
    "Consented; the risks of MI and stroke were reviewed.",
    # the vocabulary's risk_discussion and past_state: what ConText does not read
    "Risks incl MI/stroke reviewed with the patient.",
    "Concern for sepsis if febrile.",
    "Treated for sepsis in 2023.",
])
def test_a_state_of_the_past_or_a_risk_discussed_is_not_cited(text: str) -> None:
    assert _values(text) == set()


def test_a_recent_event_needs_the_note_to_be_recent_and_the_event_not_placed_in_the_past(
        ) -> None:
    older_note = Reading(AsaCriteria(), DOS, date(2026, 3, 2))
    assert {f.value for f in read_findings("Acute ischemic stroke.", older_note)} == {
        "history of CVA (date not stated) (ASA P3 example)"}
    assert _values("history of acute MI") == {"history of MI (date not stated) "
                                              "(ASA P3 example)"}
    assert _values("Presents for knee replacement; PMH significant for CVA") == {
        "history of CVA (date not stated) (ASA P3 example)"}


def test_the_sentences_under_a_family_history_header_are_skipped() -> None:
    text = ("Family history:\nCOPD in father\nDiabetes, uncontrolled - brother\n"
            "Social history: never smoker\n")
    assert systemic_disease(_chart(text), _denial()) == []


def test_a_preop_note_of_an_earlier_day_is_read_after_the_visit_notes() -> None:
    visit = SourceDocument(document_id="DocumentReference/op", patient_id="Patient/p",
                           title="Operative report", date=DOS, text="Sepsis from cholangitis.",
                           linked_by="encounter")
    preop = SourceDocument(document_id="DocumentReference/pre", patient_id="Patient/p",
                           title="Pre-anesthesia evaluation", date=date(2026, 8, 17),
                           text="COPD on home oxygen.\nASA 4E", linked_by="date_window")
    chart = ChartBundle(documents=(preop, visit))
    assert [e.value for e in asa_class(chart, _denial())] == ["ASA 4E"]
    found = systemic_disease(chart, _denial())
    assert [(e.document_id, e.value) for e in found] == [
        ("DocumentReference/op", "sepsis (ASA P4 example)"),
        ("DocumentReference/pre", "COPD (ASA P3 example)")]


def test_a_bmi_stated_with_morbid_obesity_is_cited_for_it() -> None:
    found = systemic_disease(_chart("Discharge diagnosis: Morbid obesity.  BMI is 47.\n"),
                             _denial())
    assert [(e.quote, e.value) for e in found] == [
        ("Morbid obesity.", "morbid obesity (BMI ≥40) (ASA P3 example)"),
        ("BMI is 47.", "BMI ≥40 (BMI 47) (ASA P3 example)")]
    (both,) = systemic_disease(_chart("Class III obesity, BMI 44.\n"), _denial())
    assert both.value == "BMI ≥40 (BMI 44) (ASA P3 example)"


def test_the_class_each_disease_is_an_example_of_is_the_vocabularys(tmp_path: Path) -> None:
    shipped = yaml.safe_load((ROOT / "specialty_playbooks" / "vocabularies" /
                              "anesthesia_physical_status.yaml").read_text(encoding="utf-8"))
    shipped["lists"]["pulmonary_hypertension"] = {
        "description": "Severe pulmonary hypertension (a made-up P4 example for the test).",
        "terms": ["severe pulmonary hypertension"],
        "values": {"example": "severe pulmonary hypertension", "asa_class": "4",
                   "state": "acute"}}
    shipped["lists"]["copd"]["values"]["asa_class"] = "4"
    (tmp_path / "practice.yaml").write_text(yaml.safe_dump(shipped), encoding="utf-8")
    vocabulary = load_vocabulary("practice", tmp_path)
    found = systemic_disease(_chart("Severe pulmonary hypertension. COPD on 2L home O2."),
                             _denial(), vocabulary=vocabulary)
    assert [e.value for e in found] == ["severe pulmonary hypertension (ASA P4 example)",
                                        "COPD (ASA P4 example)"]
