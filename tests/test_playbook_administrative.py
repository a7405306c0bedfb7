"""Prior authorization and timely filing: extractors, checks, the whole pipeline on small
FHIR charts, and the golden letters."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.application.workflow import open_workflow, run_batch
from agent.codes import CodeTable
from agent.config import AppConfig, LetterSettings
from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
    ProviderRef,
)
from agent.ehr.model import ChartBundle, PatientRecord, SourceDocument
from agent.evidence.model import Evidence
from agent.letters.render import LetterInput, LetterRenderer
from agent.playbooks.checks import CheckContext
from agent.playbooks.registry import PlaybookSet
from agent.playbooks.specialties.administrative import (
    Period,
    authorized_period,
    parse_date,
    prior_auth_approval,
    prior_auth_no_number,
    prior_auth_other_service,
    prior_auth_outside_period,
    prior_auth_pending_only,
    timely_filing_first_sent_late,
    timely_filing_not_earlier,
    timely_filing_proof,
    timely_filing_rejected,
    timely_filing_undated,
)
from tests import charts
from tests.conftest import FIXTURES, ROOT
from tests.denials import line_denial

GOLDEN = Path(__file__).resolve().parent / "golden"
TODAY = date(2026, 9, 20)

# --- notes, written the way front desks, clearinghouses and clinicians write them -------

AUTH_LOG = """REFERRAL COORDINATOR NOTE
Ins: Harbor Mutual PPO.  Svc: R L4-5 TFESI (CPT 64483), Dr. Reyes.
Precert submitted via portal 8/18, clinicals attached (MRI, PT notes).
8/20 11:37 - portal shows APPROVED. Auth #: HM-PA-771904
Valid: 08/20/2026 - 09/19/2026, 1 unit.
Rep ref # 55-0820 (call). Sched notified.
"""
PROCEDURE_NOTE = """PROCEDURE NOTE - TFESI
Pt: BRENNAN, I    DOS: 08/25/2026    PA# HM-PA-771904 verified w/ front desk
Indication: R L5 radiculopathy, failed PT x 6 wks.
Procedure: R L4-5 TFESI under fluoro (64483-RT). Tolerated well.
"""
PENDING_NOTE = """Date: 8/12/26    Provider: M. Reyes MD
S: LBP radiating down L leg x 7 wks, numbness L foot.
A: L L5 radiculopathy.
P: - MRI L-spine w/o - sched 8/15
   - Prior auth: request faxed to Harbor Mutual 8/12, ref # 88213 - pending, front desk to f/u
"""
EXPIRED_AUTH = """AUTH LOG
Auth # HM-KN-20417 approved eff 6/20/26 exp 7/19/26 for CPT 29881 R knee.
"""
PT_NOTE = """PT DAILY NOTE
S: R shoulder stiff, 4/10.
O: AROM flex 140, abd 120.
A: progressing.
P: cont ther ex 2x/wk.
"""
OTHER_CODE_AUTH = """PRECERT LOG
Authorization number: 4410932 approved for CPT 64484 x1, valid 08/01/2026 to 10/31/2026.
"""
NO_NUMBER_NOTE = """PRE-PROCEDURE CHECKLIST
Consent signed. Prior auth obtained per Harbor Mutual portal. NPO since MN.
"""
ACK_REPORT = """CLAIMBRIDGE EDI - CLAIM ACKNOWLEDGMENT REPORT (277CA)
Report date: 03/09/2026 06:14 ET
Batch ID: CB20260306-0412    File: LOM_837P_20260306_0412.txt
File received by ClaimBridge: 03/06/2026 22:41 ET
Forwarded to payer: 03/07/2026 02:10 ET
Payer acknowledgment received: 03/08/2026 19:55 ET

Pt Acct #           DOS          Charge    Status
LOMT-30001          03/05/2026   520.00    A2:20 ACCEPTED INTO ADJUDICATION
LOMT-30007          03/05/2026   185.00    A7:562 REJECTED - INVALID SUBSCRIBER ID
Batch totals: 2 claims, 520.00 accepted; 1 rejected.
"""
MRI_NOTE = """MRI R KNEE W/O (73721)  03/05/2026
FINDINGS: Bucket-handle tear of the medial meniscus. Moderate effusion.
IMPRESSION: Displaced bucket-handle tear.
"""
REJECTED_REPORT = """277CA CLAIM ACKNOWLEDGMENT  Report date: 03/09/2026
LOMT-30003          03/05/2026   520.00    A7:562 REJECTED - INVALID SUBSCRIBER ID
Batch totals: 1 claim, 0.00 accepted; 1 rejected.
"""
LATE_NOTE = """Billing note
Claim submitted 08/21/26 after coding hold (clearinghouse batch 0821-07).
277CA accepted by payer 08/22/26.
"""
BILLING_NOTE = """Billing note 3/10/26: Claim LOMT-30005 transmitted to Blue River via Availity \
03/06/26; 277CA accepted by payer 03/08/26 (ICN 2606800117).
"""
UNDATED_STATUS = """CLAIM STATUS (portal printout)
Claim: LOMT-30006    DOS 03/05/2026
Status: Accepted by payer
"""

# --- the pipeline on a queue and a FHIR directory ----------------------------------------

HARBOR = {"payer_name": "HARBOR MUTUAL INSURANCE", "payer_id": "HMI77",
          "claim_filing_indicator": "CI", "remittance_date": "2026-09-11",
          "rendering_npi": "1765432103", "rendering_name": "REYES, MARCO"}
BLUE = {"payer_name": "BLUE RIVER HEALTH PLAN", "payer_id": "BRHP1",
        "claim_filing_indicator": "CI", "remittance_date": "2026-09-02",
        "received_date": "2026-08-20", "rendering_npi": "1765432103",
        "rendering_name": "REYES, MARCO"}

# claim id -> (queue row, notes as (title, date, text, on the claim's encounter))
CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str, str, bool]]]] = {
    "LOMT-20001": ({**HARBOR, "service_date": "2026-08-25", "procedure_code": "64483",
                    "modifiers": "RT", "billed": "1275.00", "adjustments": "CO-197:1275.00",
                    "remarks": "N54"},
                   [("Prior authorization log", "2026-08-20", AUTH_LOG, True),
                    ("Procedure note", "2026-08-25", PROCEDURE_NOTE, True)]),
    "LOMT-20002": ({**HARBOR, "service_date": "2026-08-15", "procedure_code": "72148",
                    "billed": "1450.00", "adjustments": "CO-197:1450.00", "remarks": "N54"},
                   [("Office visit", "2026-08-12", PENDING_NOTE, False)]),
    "LOMT-20003": ({**HARBOR, "service_date": "2026-08-04", "procedure_code": "29881",
                    "modifiers": "RT", "billed": "2900.00", "adjustments": "CO-198:2900.00"},
                   [("Auth log", "2026-06-20", EXPIRED_AUTH, True)]),
    "LOMT-20004": ({**HARBOR, "service_date": "2026-08-10", "procedure_code": "97110",
                    "billed": "140.00", "adjustments": "CO-197:140.00", "remarks": "M62"},
                   [("PT daily note", "2026-08-10", PT_NOTE, True)]),
    "LOMT-20005": ({**HARBOR, "service_date": "2026-08-25", "procedure_code": "64483",
                    "billed": "1275.00", "adjustments": "CO-50:1275.00", "remarks": "N54"},
                   [("Precert log", "2026-07-30", OTHER_CODE_AUTH, True)]),
    "LOMT-20006": ({**HARBOR, "service_date": "2026-08-25", "procedure_code": "64483",
                    "billed": "1275.00", "adjustments": "CO-197:1275.00"},
                   [("Pre-procedure checklist", "2026-08-25", NO_NUMBER_NOTE, True)]),
    "LOMT-30001": ({**BLUE, "service_date": "2026-03-05", "procedure_code": "73721",
                    "modifiers": "RT", "billed": "520.00", "adjustments": "CO-29:520.00"},
                   [("MRI report", "2026-03-05", MRI_NOTE, True),
                    ("Clearinghouse 277CA", "2026-03-09", ACK_REPORT, True)]),
    "LOMT-30002": ({**BLUE, "service_date": "2026-03-05", "procedure_code": "73721",
                    "billed": "520.00", "adjustments": "CO-29:520.00"},
                   [("MRI report", "2026-03-05", MRI_NOTE, True)]),
    "LOMT-30003": ({**BLUE, "service_date": "2026-03-05", "procedure_code": "73721",
                    "billed": "520.00", "adjustments": "CO-29:520.00"},
                   [("Clearinghouse 277CA", "2026-03-09", REJECTED_REPORT, True)]),
    "LOMT-30004": ({**BLUE, "received_date": "2026-08-21", "service_date": "2026-03-05",
                    "procedure_code": "73721", "billed": "520.00",
                    "adjustments": "CO-29:520.00"},
                   [("Billing note", "2026-08-22", LATE_NOTE, True)]),
    "LOMT-30005": ({**BLUE, "service_date": "2026-03-05", "procedure_code": "73721",
                    "billed": "520.00", "adjustments": "CO-29:520.00"},
                   [("Billing note", "2026-03-10", BILLING_NOTE, True)]),
    "LOMT-30006": ({**BLUE, "service_date": "2026-03-05", "procedure_code": "73721",
                    "billed": "520.00", "adjustments": "CO-29:520.00"},
                   [("Portal printout", "2026-03-10", UNDATED_STATUS, True)]),
}


def _write_inputs(root: Path) -> tuple[Path, Path]:
    resources: list[dict[str, Any]] = []
    rows = []
    for number, (claim_id, (row, notes)) in enumerate(CASES.items()):
        patient, encounter, member = f"p{number}", f"e{number}", f"MBR{number:06d}"
        rows.append({"claim_id": claim_id, "member_id": member, **row})
        resources += [charts.patient(patient, member),
                      charts.encounter(encounter, claim_id, patient)]
        resources += [charts.note(f"d{number}-{i}", patient, text, day, title=title,
                                  encounter_id=encounter if on_encounter else None)
                      for i, (title, day, text, on_encounter) in enumerate(notes)]
    ehr = charts.write_chart(root / "fhir", resources)
    queue = root / "worklist.json"
    queue.write_text(json.dumps(rows))
    return ehr, queue


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """One batch over every case (each claim its own patient); the manifest by claim."""
    root = tmp_path_factory.mktemp("administrative")
    ehr, queue = _write_inputs(root)
    with open_workflow(root / "appeals.db", root / "out", f"fhir-dir:{ehr}", AppConfig(),
                       today=TODAY) as workflow:
        assert "prior_auth_approval" in workflow.ctx.extractors.names()  # registered by default
        run_batch(workflow, [str(queue)])
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    return root / "out", {d["claim_id"]: d for d in manifest["denials"]}


def _letter(out: Path, denial: dict[str, Any]) -> str:
    assert denial["letter"]["status"] == "pending_review"
    return (out / denial["letter"]["markdown"]).read_text()


def _quotes(denial: dict[str, Any]) -> list[str]:
    return [e["quote"] for e in denial["evidence"]]


# --- prior authorization through the pipeline --------------------------------------------

def test_auth_on_file_within_its_dates_is_appealed(run: tuple[Path, dict[str, Any]]) -> None:
    out, denials = run
    denial = denials["LOMT-20001"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("prior_authorization",
                                                                "appeal")
    assert _quotes(denial) == ["Auth #: HM-PA-771904", "Valid: 08/20/2026 - 09/19/2026, 1 unit.",
                               "PA# HM-PA-771904 verified w/ front desk"]
    letter = _letter(out, denial)
    assert "authorization HM-PA-771904, approved for 2026-08-20 to 2026-09-19" in letter
    assert "within the approved dates" in letter
    assert "55-0820" not in letter.split("## Evidence")[0]  # a call reference is no auth
    for quote in _quotes(denial):
        assert f'"{quote}"' in letter


def test_a_pending_request_is_not_an_authorization(run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-20002"]
    assert denial["playbook"] == "prior_authorization"
    assert denial["triage"]["action"] == "needs_review"
    assert denial["letter"]["status"] == "not_drafted"
    reason = denial["triage"]["reason"]
    assert "request as pending" in reason and "2026-08-12" in reason
    assert "retro-authorization" in reason and "emergency exception" in reason
    assert denial["evidence"] == []


def test_a_date_of_service_outside_the_approved_dates_goes_to_review(
        run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-20003"]
    assert denial["triage"]["action"] == "needs_review"
    assert denial["letter"]["status"] == "not_drafted"
    assert ("date of service 2026-08-04, approved 2026-06-20 to 2026-07-19"
            in denial["triage"]["reason"])
    assert _quotes(denial) == ["Auth # HM-KN-20417 approved eff 6/20/26 exp 7/19/26 for CPT "
                               "29881 R knee."]


def test_no_authorization_names_the_retro_and_emergency_routes(
        run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-20004"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("prior_authorization",
                                                                "needs_review")
    assert denial["letter"]["status"] == "not_drafted"
    (missing,) = denial["missing_evidence"]
    assert "request retro-authorization" in missing and "emergency exception" in missing
    assert denial["triage"]["preventable"] is True


def test_an_authorization_remark_picks_the_playbook_and_the_code_must_match(
        run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-20005"]  # CO-50 with N54: the remark outranks medical necessity
    assert denial["playbook"] == "prior_authorization"
    assert denial["triage"]["action"] == "needs_review"
    assert "names 64484; the claim bills 64483" in denial["triage"]["reason"]
    assert denial["letter"]["status"] == "not_drafted"


def test_authorization_without_a_number_goes_to_review(
        run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-20006"]
    assert denial["triage"]["action"] == "needs_review"
    assert "gives no number" in denial["triage"]["reason"]
    assert _quotes(denial) == ["Prior auth obtained per Harbor Mutual portal."]


# --- timely filing through the pipeline ---------------------------------------------------

def test_acceptance_report_is_appealed_with_its_dates(run: tuple[Path, dict[str, Any]]) -> None:
    out, denials = run
    denial = denials["LOMT-30001"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("timely_filing", "appeal")
    quotes = _quotes(denial)
    assert quotes[0] == "LOMT-30001          03/05/2026   520.00    A2:20 ACCEPTED INTO " \
                        "ADJUDICATION"
    assert quotes[1:] == ["File received by ClaimBridge: 03/06/2026 22:41 ET",
                          "Forwarded to payer: 03/07/2026 02:10 ET",
                          "Payer acknowledgment received: 03/08/2026 19:55 ET",
                          "Report date: 03/09/2026 06:14 ET"]
    letter = _letter(out, denial)
    assert "LOMT-30007" not in letter  # the other claim's row in the same batch
    assert "forwarded to the payer on 2026-03-07" in letter
    assert "filing limit" in letter and "auditor" in letter


def test_no_proof_of_timely_filing_in_the_chart_goes_to_review(
        run: tuple[Path, dict[str, Any]]) -> None:
    # Not finding the proof is not proof of late filing: the clearinghouse may have it.
    _, denials = run
    denial = denials["LOMT-30002"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("timely_filing",
                                                                "needs_review")
    assert denial["letter"]["status"] == "not_drafted"
    assert "Proof of timely submission" in denial["missing_evidence"][0]
    assert "attach the clearinghouse acceptance report" in denial["missing_evidence"][0]


def test_a_note_that_the_claim_went_out_late_is_a_preventable_write_off() -> None:
    note = ("Pt called re: bill. Claim for 1/8 visit never went out - registration had the "
            "wrong payer on file.\nIns updated today, claim created and sent 07/30/26.\n")
    denial = _denial(carc="29", day=date(2026, 1, 8), received=date(2026, 7, 30))
    ctx = _proof_ctx(note, denial)
    assert timely_filing_first_sent_late(ctx) == (
        "a note records the claim not sent until 2026-07-30 (payer received date "
        "2026-07-30)")
    early = _denial(carc="29", day=date(2026, 1, 8), received=date(2026, 8, 15))
    assert timely_filing_first_sent_late(_proof_ctx(note, early)) is None


def test_a_rejected_submission_is_no_proof(run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-30003"]
    assert denial["triage"]["action"] == "write_off"
    assert denial["triage"]["preventable"] is True
    assert "shows the claim rejected" in denial["triage"]["reason"]
    assert denial["letter"]["status"] == "not_drafted"


def test_an_acknowledgment_after_the_payers_received_date_is_no_proof(
        run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-30004"]
    assert denial["triage"]["action"] == "write_off"
    assert ("earliest acknowledgment date 2026-08-21, payer received date 2026-08-21"
            in denial["triage"]["reason"])
    assert denial["letter"]["status"] == "not_drafted"


def test_a_billing_note_naming_the_claim_is_proof(run: tuple[Path, dict[str, Any]]) -> None:
    out, denials = run
    denial = denials["LOMT-30005"]
    assert denial["triage"]["action"] == "appeal"
    letter = _letter(out, denial)
    assert ("accepted by the payer on 2026-03-08 (evidence 1) and submitted on 2026-03-06 "
            "(evidence 2)") in letter
    assert "3/10/26" not in letter.split("## Evidence")[0]


def test_an_undated_acceptance_goes_to_review(run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMT-30006"]
    assert denial["triage"]["action"] == "needs_review"
    assert "no date" in denial["triage"]["reason"]
    assert _quotes(denial) == ["Status: Accepted by payer"]


def test_the_demo_claims(tmp_path: Path) -> None:
    inputs = [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))]
    inputs += [str(p) for p in sorted((FIXTURES / "queue").glob("*.csv"))]
    with open_workflow(tmp_path / "appeals.db", tmp_path / "out",
                       f"fhir-dir:{FIXTURES / 'fhir'}", AppConfig(), today=TODAY) as workflow:
        assert "prior_auth_approval" in workflow.ctx.extractors.names()  # registered by default
        manifest = run_batch(workflow, inputs)
    by_claim = {d.claim_id: d for d in manifest.denials}
    on_file, pending, timely = (by_claim[c] for c in ("LOM26-11034", "LOM26-10560",
                                                      "LOM26-09811"))
    assert (on_file.playbook, on_file.triage.action) == ("prior_authorization", "appeal")
    assert [e.quote for e in on_file.evidence] == [
        "Auth # HM-PA-558201 approved 08/20/26–09/19/26, 1 unit, CPT 64483.",
        "Auth on file: HM-PA-558201 (verified at check-in)"]
    assert (pending.playbook, pending.triage.action) == ("prior_authorization",
                                                         "needs_review")
    assert "retro-authorization" in pending.triage.reason and not pending.letter.id
    assert (timely.playbook, timely.triage.action) == ("timely_filing", "appeal")
    assert "Forwarded to payer: 03/07/2026 02:10 ET" in [e.quote for e in timely.evidence]


# --- extractor and check units --------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("08/20/26", date(2026, 8, 20)), ("8/2/2026", date(2026, 8, 2)),
    ("2026-08-20", date(2026, 8, 20)), ("Aug 20, 2026", date(2026, 8, 20)),
    ("sept 3", date(2026, 9, 3)), ("8/20", date(2026, 8, 20)), ("13/40/26", None)])
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text, 2026) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("approved 08/20/26–09/19/26, 1 unit", Period(date(2026, 8, 20), date(2026, 9, 19))),
    ("valid 8/20-9/19/26", Period(date(2026, 8, 20), date(2026, 9, 19))),
    ("eff 8/20/26 exp 9/19/26", Period(date(2026, 8, 20), date(2026, 9, 19))),
    ("from Aug 20, 2026 through Sep 19, 2026", Period(date(2026, 8, 20), date(2026, 9, 19))),
    ("dates 12/15-1/14/27", Period(date(2026, 12, 15), date(2027, 1, 14))),
    ("valid through 9/19/2026", Period(None, date(2026, 9, 19))),
    ("approved 1 unit", None)])
def test_authorized_period(text: str, expected: Period | None) -> None:
    assert authorized_period(text) == expected


def _chart(*texts: str, linked_by: str = "encounter") -> ChartBundle:
    docs = tuple(SourceDocument(document_id=f"DocumentReference/n{i}", patient_id="Patient/p",
                                text=t, linked_by="encounter" if linked_by == "encounter"
                                else "date_window", date=date(2026, 8, 20))
                 for i, t in enumerate(texts))
    return ChartBundle(documents=docs)


def _denial(code: str = "64483", carc: str = "197", claim_id: str = "LOMT-1",
            received: date | None = None, day: date = date(2026, 8, 25)) -> Denial:
    return line_denial(code, carc, denial_id="dn_unit", claim_id=claim_id, service_date=day,
                       received_date=received, source=DenialSource(kind="queue",
                                                                   file="q.json", row=1))

@pytest.mark.parametrize(("line", "value"), [
    ("Auth # HM-PA-558201 approved 08/20/26–09/19/26.", "HM-PA-558201, approved for "
                                                        "2026-08-20 to 2026-09-19"),
    ("Authorization number: 12345678", "12345678"),
    ("pre-cert no. A778812 obtained", "A778812"),
    ("PA#:55821 approved", "55821"),
    ("Auth on file: HM-PA-558201 (verified at check-in)", "HM-PA-558201"),
    ("Procedure approved under auth 6612045, good through 9/30/26.",
     "6612045, approved through 2026-09-30"),
])
def test_authorization_numbers_in_clinicians_formats(line: str, value: str) -> None:
    (found,) = prior_auth_approval(_chart(f"Note\n{line}\n"), _denial())
    assert found.value == value
    assert found.quote in line


@pytest.mark.parametrize("line", [
    "Prior auth: request faxed 8/12, ref # 88213 - pending",
    "Auth # 5512093 denied by plan 8/14, peer-to-peer offered.",
    "No auth # on file.",
    "Rep: Dana (ref call # 3317-0820).",
    "Auth: 08-20-2026 requested",
    "Author: PA-C J. Ng 1234",
])
def test_what_is_not_an_authorization(line: str) -> None:
    assert prior_auth_approval(_chart(f"Note\n{line}\n"), _denial()) == []


def test_quote_starts_at_the_column_of_the_auth_number() -> None:
    text = "Physician: Marco Reyes, MD     Auth on file: HM-PA-558201 (verified)\n"
    (found,) = prior_auth_approval(_chart(text), _denial())
    assert found.quote == "Auth on file: HM-PA-558201 (verified)"
    assert text[found.start or 0:found.end] == found.quote


def _auth_ctx(text: str, denial: Denial | None = None) -> CheckContext:
    denial = denial or _denial()
    chart = _chart(text)
    return CheckContext(denial=denial, chart=chart,
                        evidence={"authorization": prior_auth_approval(chart, denial)})


def test_prior_auth_checks() -> None:
    dated = "Auth # A-99812 approved 08/20/26-09/19/26 for CPT 64483.\n"
    assert prior_auth_outside_period(_auth_ctx(dated)) is None
    assert prior_auth_other_service(_auth_ctx(dated)) is None
    late = _denial(day=date(2026, 9, 20))
    assert prior_auth_outside_period(_auth_ctx(dated, late)) == \
        "date of service 2026-09-20, approved 2026-08-20 to 2026-09-19"
    assert prior_auth_other_service(_auth_ctx(dated, _denial(code="64484"))) == \
        "the authorization names 64483; the claim bills 64484"
    code = _auth_ctx("Auth code: 12345 approved.\n")
    assert [e.value for e in code.found("authorization")] == ["12345"]
    assert prior_auth_other_service(code) is None
    assert prior_auth_no_number(_auth_ctx("Precert obtained.\n")) is not None
    assert prior_auth_no_number(_auth_ctx(dated)) is None
    assert prior_auth_pending_only(_auth_ctx("Auth request submitted, awaiting.\n")) == \
        "a note of 2026-08-20 records the request as pending"
    assert prior_auth_pending_only(_auth_ctx(dated)) is None


def _proof_ctx(text: str, denial: Denial, linked_by: str = "encounter") -> CheckContext:
    chart = _chart(text, linked_by=linked_by)
    return CheckContext(denial=denial, chart=chart,
                        evidence={"timely_submission": timely_filing_proof(chart, denial)})


def test_proof_reads_only_this_claims_row_of_a_batch_report() -> None:
    denial = _denial(claim_id="LOMT-30007", day=date(2026, 3, 5))
    assert timely_filing_proof(_chart(ACK_REPORT), denial) == []
    assert timely_filing_rejected(_proof_ctx(ACK_REPORT, denial)) is not None
    ours = _denial(claim_id="LOMT-30001", day=date(2026, 3, 5), received=date(2026, 8, 20))
    values = [e.value for e in timely_filing_proof(_chart(ACK_REPORT), ours)]
    assert values == ["accepted into adjudication", "submitted on 2026-03-06",
                      "forwarded to the payer on 2026-03-07",
                      "acknowledged by the payer on 2026-03-08",
                      "reported as accepted on 2026-03-09"]
    assert timely_filing_not_earlier(_proof_ctx(ACK_REPORT, ours)) is None
    assert timely_filing_undated(_proof_ctx(ACK_REPORT, ours)) is None
    prefix = _denial(claim_id="LOMT-3000", day=date(2026, 3, 5))  # not LOMT-30001
    assert timely_filing_proof(_chart(ACK_REPORT), prefix) == []


def test_a_clinical_note_saying_accepted_is_not_proof() -> None:
    note = "A/P: R knee tear. Pt accepted plan for scope; claim for MRI to be sent.\n"
    assert timely_filing_proof(_chart(note), _denial(carc="29")) == []


def test_a_report_near_the_date_that_never_names_the_claim_is_not_proof() -> None:
    report = "277CA\nStatus: Accepted by payer 03/08/2026\n"
    denial = _denial(carc="29", day=date(2026, 3, 5))
    assert timely_filing_proof(_chart(report, linked_by="date_window"), denial) == []
    assert len(timely_filing_proof(_chart(report), denial)) == 1  # on the claim's encounter


def test_a_log_row_dated_at_its_start_dates_the_acceptance() -> None:
    log = ("CLAIM STATUS HISTORY\n"
           "02/11/2026 18:05  999 ACCEPTED (batch level)\n"
           "02/12/2026 06:30  277CA  A1:20  Claim LOMT-1 accepted by payer, ICN 2604300187\n")
    denial = _denial(carc="29", day=date(2026, 2, 10))
    values = [e.value for e in timely_filing_proof(_chart(log), denial)]
    assert values[0] == "accepted by the payer on 2026-02-12"
    assert timely_filing_undated(_proof_ctx(log, denial)) is None



# --- the vocabularies' meanings (specialty_playbooks/vocabularies/) ----------------------------

@pytest.mark.parametrize(("line", "value"), [
    ("Precert active: 99812345", "99812345"),  # approval wording before the number
    ("Pre-certification confirmed, auth no. 4471-209.", "4471-209"),
    ("Services authorized per precert # QX88123.", "QX88123"),
])
def test_approval_wording_of_the_vocabulary(line: str, value: str) -> None:
    (found,) = prior_auth_approval(_chart(f"Note\n{line}\n"), _denial())
    assert found.value == value


@pytest.mark.parametrize(("line", "kind"), [
    ("PA request faxed to plan, awaiting decision.", "pending"),
    ("Precert under review by the plan.", "pending"),
    ("Auth # 5512093 withdrawn by the plan.", "denied"),
])
def test_a_request_named_by_the_vocabulary_is_not_an_approval(line: str, kind: str) -> None:
    assert prior_auth_approval(_chart(f"Note\n{line}\n"), _denial()) == []
    assert prior_auth_pending_only(_auth_ctx(f"Note\n{line}\n")) == \
        f"a note of 2026-08-20 records the request as {kind}"


def test_acceptance_wording_gives_the_value_of_its_list() -> None:
    denial = _denial(carc="29", day=date(2026, 2, 10))
    report = ("EDI claim status\nClaim LOMT-1 accepted for processing 02/12/2026.\n"
              "Batch totals: 1 claim accepted, 0 rejected.\n")
    values = [e.value for e in timely_filing_proof(_chart(report), denial)]
    assert values[0] == "accepted for processing on 2026-02-12"
    assert timely_filing_rejected(_proof_ctx(report, denial)) is None  # "0 rejected"
    returned = "Clearinghouse log\nClaim LOMT-1 returned as unprocessable 02/12/2026.\n"
    assert timely_filing_proof(_chart(returned), denial) == []
    assert timely_filing_rejected(_proof_ctx(returned, denial)) is not None


def test_a_claim_rows_date_of_service_is_not_a_submission_date() -> None:
    denial = _denial(carc="29", day=date(2026, 2, 10))
    report = ("277CA acknowledgment\nClaim LOMT-1 accepted by payer\n"
              "Date of service 02/10/2026, submitted 02/11/2026\n")
    values = [e.value for e in timely_filing_proof(_chart(report), denial)]
    assert values == ["accepted by the payer", "submitted on 2026-02-11"]


# --- golden letters ---------------------------------------------------------------------------

SETTINGS = LetterSettings(practice_name="Lakeside Orthopedics", contact_name="Dana Ruiz",
                          contact_phone="(216) 555-0142", signature_name="Dana Ruiz, CPC",
                          signature_title="Appeals Auditor")


def _golden_denial(claim_id: str, code: str, carc: str, remarks: tuple[str, ...],
                   billed: str, day: date, payer: PayerRef) -> Denial:
    return Denial(
        denial_id=f"dn_{claim_id}", level="line", claim_id=claim_id,
        payer_claim_number="HM2609110052", claim_filing_indicator="CI", payer=payer,
        payee=ProviderRef(name="LAKESIDE ORTHOPEDICS", npi="1543210987"),
        patient=PatientRef(member_id="HMX40033905", last_name="BRENNAN", first_name="ISAAC"),
        rendering_provider=ProviderRef(name="REYES, MARCO", npi="1765432103"),
        service_date=day, received_date=date(2026, 8, 20),
        procedure=ProcedureRef(code=code, modifiers=("RT",), units=Decimal(1)),
        billed=Decimal(billed), paid=Decimal(0), denied_amount=Decimal(billed),
        adjustments=(AdjustmentRef(group="CO", reason=carc, amount=Decimal(billed)),),
        remarks=remarks, source=DenialSource(kind="queue", file="worklist.csv", row=2))


def _golden_letter(playbook_id: str, denial: Denial, evidence: list[Evidence]) -> str:
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get(playbook_id)
    letter = LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(denial,),
                         playbook=playbook, evidence=tuple(evidence),
                         patient=PatientRecord(patient_id="Patient/p1",
                                               birth_date=date(1957, 11, 2)))
    return LetterRenderer(SETTINGS, CodeTable.load_default()).render(letter, TODAY)


def _check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        f"letter changed: review it, then UPDATE_GOLDEN=1 pytest {__file__}"


def _located(text: str, document: str, title: str, day: date) -> SourceDocument:
    return SourceDocument(document_id=document, patient_id="Patient/p1", text=text,
                          title=title, date=day, linked_by="encounter")


def test_prior_authorization_letter_matches_its_golden_file() -> None:
    denial = _golden_denial("LOM26-11034", "64483", "197", ("N54",), "1275.00",
                            date(2026, 8, 25), PayerRef(name="HARBOR MUTUAL INSURANCE",
                                                        id="HMI77"))
    chart = ChartBundle(documents=(
        _located(AUTH_LOG, "DocumentReference/auth", "Prior authorization log",
                 date(2026, 8, 20)),
        _located(PROCEDURE_NOTE, "DocumentReference/proc", "Procedure note",
                 date(2026, 8, 25))))
    evidence = prior_auth_approval(chart, denial)
    text = _golden_letter("prior_authorization", denial, evidence)
    _check_golden("prior_authorization.md", text)
    assert "HM-PA-771904, approved for 2026-08-20 to 2026-09-19" in text
    for item in evidence:
        assert f'"{item.quote}"' in text


def test_timely_filing_letter_matches_its_golden_file() -> None:
    denial = _golden_denial("LOMT-30001", "73721", "29", (), "520.00", date(2026, 3, 5),
                            PayerRef(name="BLUE RIVER HEALTH PLAN", id="BRHP1"))
    chart = ChartBundle(documents=(_located(ACK_REPORT, "DocumentReference/ack",
                                            "Clearinghouse 277CA", date(2026, 3, 9)),))
    evidence = timely_filing_proof(chart, denial)
    text = _golden_letter("timely_filing", denial, evidence)
    _check_golden("timely_filing.md", text)
    assert "acknowledged by the payer on 2026-03-08" in text
    for item in evidence:
        assert f'"{item.quote}"' in text
