"""Playbook psychotherapy_time: reading session minutes, the work of the session, the checks
that say "don't appeal", the whole pipeline on small charts and the demo claims, and the
golden letter."""

from __future__ import annotations

import base64
import json
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pytest

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
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.letters.render import LetterInput, LetterRenderer
from agent.notes.values import read_clock
from agent.playbooks.checks import CheckContext, CheckRegistry
from agent.playbooks.registry import PlaybookSet
from agent.playbooks.specialties.psychotherapy import (
    code_for_minutes,
    downcode_supported,
    downcode_unsupported,
    lower_code_supported,
    note_sentences,
    psychotherapy_session_time,
    psychotherapy_session_work,
    register,
    span_minutes,
    under_reportable_minutes,
)
from tests.conftest import FIXTURES, ROOT
from tests.denials import line_denial

DOS = date(2026, 8, 12)
TODAY = date(2026, 9, 20)
GOLDEN = Path(__file__).resolve().parent / "golden"


# --- helpers ---------------------------------------------------------------------------

def _denial(code: str = "90837", *, original: str | None = None, paid: str = "0",
            carc: str = "50", claim_codes: tuple[str, ...] = ()) -> Denial:
    return line_denial(code, carc, billed="240.00", paid=paid, original_code=original,
                       denial_id="dn_psy", claim_id="PSY-1", payer_claim_number="ICN1",
                       payer=PayerRef(name="ACME HEALTH", id="ACME1"),
                       patient=PatientRef(member_id="M1", last_name="DOE", first_name="JANE"),
                       service_date=DOS, claim_procedure_codes=claim_codes or
                       ((original or code),))

def _note(text: str, doc_id: str = "n1",
          linked_by: Literal["encounter", "date_window"] = "encounter",
          day: date | None = DOS) -> SourceDocument:
    return SourceDocument(document_id=f"DocumentReference/{doc_id}", patient_id="Patient/p",
                          text=text, date=day, title="Psychotherapy progress note",
                          linked_by=linked_by)


def _chart(*texts: str, facts: tuple[StructuredFact, ...] = ()) -> ChartBundle:
    return ChartBundle(documents=tuple(_note(t, f"n{i}") for i, t in enumerate(texts)),
                       facts=facts)


def _minutes(text: str, code: str = "90837") -> int | None:
    found = psychotherapy_session_time(_chart(text), _denial(code))
    for item in found:
        doc_text = text
        assert doc_text[item.start or 0:item.end] == item.quote
    values = [e.value for e in found if e.value]
    return int(values[0].split()[0]) if values else None


# --- session length (the clock arithmetic is agent/notes/values.py's: tests/test_values.py) --

def test_a_span_longer_than_a_session_is_rejected() -> None:
    a, b = read_clock("2:00"), read_clock("2:00")
    assert a is not None and b is not None
    assert span_minutes(a, b) is None  # a whole day is not a session
    late = read_clock("3:02 PM")
    assert late is not None and span_minutes(a, late) == 62


@pytest.mark.parametrize(("minutes", "add_on", "code"), [
    (15, False, None), (16, False, "90832"), (37, False, "90832"), (38, False, "90834"),
    (52, False, "90834"), (53, False, "90837"), (90, False, "90837"), (30, True, "90833"),
    (45, True, "90836"), (60, True, "90838"),
])
def test_code_for_minutes_follows_the_cpt_ranges(minutes: int, add_on: bool,
                                                 code: str | None) -> None:
    assert code_for_minutes(minutes, add_on) == code


# --- reading the session's minutes --------------------------------------------------------

@pytest.mark.parametrize(("text", "minutes"), [
    ("Indiv tx 2:05-3:02 PM, pt + spouse present.", 57),
    ("Time: 14:05–15:02\nMSE: calm, linear.", 57),
    ("Pt seen start 1405 stop 1502 in office.", 57),
    ("58 min face-to-face w/ pt, CBT for panic.", 58),
    ("Session: 1:00p - 1:55p\nDx: F41.0", 55),
    ("Time in: 10:02   Time out: 10:59", 57),
    ("Provided 55 minutes of psychotherapy (CBT-I).", 55),
    ("Session start: 2:02 PM\nSession end: 3:01 PM\nS: low mood.", 59),
    ("Seen from 9:50 to 10:45 am for indiv psychotherapy.", 55),
    ("Total session time 1 hr 5 min.", 65),
    ("Session 11:30 AM — 12:24 PM.", 54),
    ("Session length: 53 minutes", 53),
    ("Duration 45 mins.", 45),
    ("F2F time 38 min", 38),
    ("Start: 9:00 AM  Stop: 9:53 AM", 53),
    ("Began 1:05 pm, ended 1:58 pm", 53),
    ("Session 10a-10:53a", 53),
    ("Appt 3 PM - 3:55 PM", 55),
    ("Pt was seen for a 45-minute session.", 45),
    ("Total time 55 min (including 10 min documentation)", 55),
    ("Psychotherapy: 2:00-2:53pm; E/M: 1:45-2:00pm", 53),
    ("Session 1900-1955", 55),
    ("Video visit 2:00-2:54 PM (pt at home)", 54),
    ("Time: 3:00-3:45 PM. Pt 5 min late.", 45),
])
def test_minutes_in_the_formats_notes_use(text: str, minutes: int) -> None:
    assert _minutes(text) == minutes


@pytest.mark.parametrize("text", [
    "Phone call w/ pt 9:10-9:25 re: rescheduling.",
    "Next session 2:00-2:55 PM on 8/19.",
    "Service: 90837 individual psychotherapy, 60 min",
    "Billed as psychotherapy 53+ min.",
    "Continue weekly 60-min sessions.",
    "Pt arrived 10 min late; waited in lobby.",
    "Started sertraline 2019, stopped 2021 (GI upset).",
    "Pt did not complete a 55 minute session last wk.",
    "Hx: inpatient 2019-2021.",
    "Signed 08/12/2026 15:24",
    "Plan: RTC 1 wk, 2:00-2:55 PM.",
    "Pt reports sleeping 4-5 hrs; sleeps 5 hrs/night on weekends.",
    "Imaginal exposure x 40 min with SUDS q5 min.",
    "Session shortened - ended 15 min early.",
    "Group therapy 1:00-2:00 PM",
    "Pt prefers 60-min sessions.",
    "Authorized for 12 60-min sessions.",
    "Therapy 2019-2021 at another clinic.",
    "Appt type: 60 min individual therapy     Appt date: 08/27/2026",
    "Scheduled appointment: 60 minutes psychotherapy",
])
def test_times_that_are_not_this_session_are_never_counted(text: str) -> None:
    assert _minutes(text) is None


def test_an_explicit_psychotherapy_total_wins_over_start_stop_times() -> None:
    text = ("Visit 2:00-3:00 PM (med mgmt + therapy).\n"
            "Psychotherapy time: 40 min, separate from E/M.\n")
    assert _minutes(text) == 40


def test_add_on_codes_count_only_time_labelled_psychotherapy() -> None:
    labelled = "Total visit 2:00-2:45 PM. E/M 15 min.\nPsychotherapy 2:15-2:45 PM (CBT).\n"
    assert _minutes(labelled, "90833") == 30
    unlabelled = "Total visit 2:00-2:45 PM. Med review and supportive tx.\n"
    assert _minutes(unlabelled, "90833") is None
    assert _minutes(unlabelled, "90837") == 45  # a standalone code: the visit is the session


def test_markdown_rationale_and_plan_times_are_skipped() -> None:
    text = ("# Progress note\n**Time:** 1400-1452\n\n## Rationale for 60-min session\n"
            "Stopping at 45 min would leave pt dysregulated.\n\n## Plan\nNext: 14:00-14:55\n")
    assert _minutes(text) == 52


def test_a_quote_spanning_two_lines_is_cited_line_by_line() -> None:
    text = "Start: 2:02 PM\nEnd: 3:01 PM\n"
    found = psychotherapy_session_time(_chart(text), _denial())
    assert [e.quote for e in found] == ["Start: 2:02 PM", "End: 3:01 PM"]
    assert found[0].value == "59 minutes"


def test_only_notes_of_the_session_count() -> None:
    other_day = _note("Session 2:00-2:58 PM.", "old", "date_window", date(2026, 8, 10))
    chart = ChartBundle(documents=(other_day,))
    assert psychotherapy_session_time(chart, _denial()) == []


def test_a_time_statement_below_the_plan_counts_and_a_plan_list_does_not() -> None:
    below = ("ASSESSMENT: GAD/panic improving w/ CBT; avoidance persists.\n"
             "PLAN: HW - daily interoceptive practice, hierarchy step 1. RTC 1 wk.\n\n"
             "total face-to-face time 45 min\nElectronically signed R. Banerjee, PhD\n")
    assert _minutes(below, "90834") == 45
    listed = "Plan: weekly CBT\n\n- 2 wks: 45 min session w/ spouse\n"
    assert _minutes(listed, "90834") is None  # a bullet goes on with the plan
    unlabelled_header = "PLAN\n\nNext session 2:00-2:55 PM\n"
    assert _minutes(unlabelled_header) is None


def test_a_label_qualified_in_parentheses_still_labels_the_time() -> None:
    total = "Plan (E/M): sertraline 100 mg.\n\nPsychotherapy (separate from E/M): 28 min. IPSRT.\n"
    assert _minutes(total, "90833") == 28
    times = "Psychotherapy time (excluding E/M): 1:50-2:18 PM\n"
    assert _minutes(times, "90833") == 28
    assert _minutes("E/M (med mgmt): 15 min\n", "90837") is None


def test_a_threshold_or_a_part_of_the_session_is_not_its_length() -> None:
    assert _minutes("Session extended beyond 45 min for crisis assessment.") is None
    assert _minutes("Pt needed more than 30 min of safety planning today.") is None
    part = ("Time in: 1:00 PM   Time out: 1:46 PM\n"
            "S: 15yo seen w/ mom for the first 5 min, then alone.\n")
    assert _minutes(part, "90834") == 46
    assert _minutes("Extra 15 min spent on safety planning.") is None


def test_soft_wraps_are_joined_by_the_note_reader_and_labels_kept() -> None:
    text = ("Extended session needed for risk assessment and safety plan\nupdate.\n"
            "Plan: f/u 1 wk\n")
    first, second = note_sentences(text)
    assert first.sentence.text == text[:text.index("Plan")].strip()
    assert second.sentence.text == "f/u 1 wk" and second.label == "plan"


# --- the work of the session ----------------------------------------------------------------

def _work(text: str, code: str = "90837",
          facts: tuple[StructuredFact, ...] = ()) -> list[Evidence]:
    found = psychotherapy_session_work(_chart(text, facts=facts), _denial(code))
    for item in found:
        if item.start is not None:
            assert text[item.start:item.end] == item.quote
    return found


def test_long_session_needs_documented_reasons_not_routine_work() -> None:
    routine = "Interventions: CBT - cognitive restructuring, thought record reviewed."
    assert _work(routine, "90837") == []
    assert [e.value for e in _work(routine, "90834")] == ["psychotherapy intervention"]


def test_risk_work_is_found_and_negated_mentions_are_not() -> None:
    text = ("S: Denies SI/HI. No h/o suicide attempts.\n"
            "Interventions: Stanley-Brown safety plan updated; means restriction reviewed.\n"
            "Extended session required for C-SSRS screen (+ passive ideation) and safety "
            "planning.\n")
    found = _work(text)
    assert found[0].quote.startswith("Extended session required")
    assert all("Denies" not in e.quote and "No h/o" not in e.quote for e in found)
    assert {e.value for e in found} >= {"safety plan"}


@pytest.mark.parametrize("text", ["MSE: SI denied, HI denied.", "Risk: SI/HI: neg",
                                  "SI - ; HI -", "Pt denies SI or HI.", "No SI today."])
def test_template_style_negations_are_not_evidence(text: str) -> None:
    assert _work(text) == []


def test_a_psychotic_disorder_diagnosis_is_not_an_acute_decompensation() -> None:
    assert _work("Client: 19F, brief psychotic d/o, d/c'd from inpt unit 8/20.") == []
    assert _work("MDD, severe, w/ psychotic features per hx.") == []
    (found,) = _work("A: Early psychotic decompensation after stopping risperidone.")
    assert found.value == "acute decompensation"


def test_re_colon_inside_a_wrapped_sentence_is_not_a_field() -> None:
    text = ("Psychotherapy 1:50-2:25 PM (35 min, separate from E/M): supportive therapy, pro-\n"
            "re: conflict with roommate, coping skills.\n")
    (found,) = psychotherapy_session_time(_chart(text), _denial("90833"))
    assert found.quote.endswith("coping skills.")


def test_abbreviations_are_read_case_sensitively() -> None:
    assert [e.value for e in _work("MSE: TC: + passive SI, no plan.")] == ["suicidal ideation"]
    assert _work("Pt says 'si' is spanish for yes.") == []


def test_a_positive_c_ssrs_on_file_counts_and_a_negative_one_does_not() -> None:
    positive = StructuredFact(resource_id="Observation/c1", resource_type="Observation",
                              display="C-SSRS screen", value="Passive ideation, no plan",
                              date=DOS, quote="C-SSRS screen: Passive ideation, no plan "
                              "(2026-08-12)")
    negative = positive.model_copy(update={"resource_id": "Observation/c2",
                                           "value": "Negative"})
    found = _work("CBT today.", facts=(positive, negative))
    assert [(e.document_id, e.value) for e in found] == [("Observation/c1",
                                                          "positive C-SSRS")]


def test_trauma_processing_rationale_comes_first() -> None:
    text = ("## Intervention\nCPT session 5/12: impact statement reviewed.\n\n"
            "## Rationale for 60-min session\nTrauma processing requires the full written "
            "account in one sitting.\n")
    found = _work(text)
    assert found[0].quote.startswith("Trauma processing requires")
    assert found[1].quote.startswith("CPT session 5/12")


# --- checks ------------------------------------------------------------------------------------

def _ctx(denial: Denial, minutes: int | None) -> CheckContext:
    evidence = [] if minutes is None else [Evidence(
        quote="x", document_id="DocumentReference/n1", start=0, end=1, fact="session_time",
        value=f"{minutes} minutes")]
    return CheckContext(denial=denial, chart=ChartBundle(), evidence={"session_time": evidence})


def test_downcode_that_matches_the_minutes_is_accepted() -> None:
    denial = _denial("90834", original="90837", paid="98.50", carc="150")
    assert "42 minutes" in (downcode_supported(_ctx(denial, 42)) or "")
    assert downcode_supported(_ctx(denial, 59)) is None      # 90837 supported: appeal
    assert downcode_unsupported(_ctx(denial, 42)) is None
    assert "90832" in (downcode_unsupported(_ctx(denial, 30)) or "")
    assert downcode_supported(_ctx(denial, None)) is None


def test_denied_line_with_fewer_minutes_goes_to_a_corrected_claim_or_write_off() -> None:
    denial = _denial("90837")
    assert "resubmit as 90834" in (lower_code_supported(_ctx(denial, 45)) or "")
    assert "resubmit as 90832" in (lower_code_supported(_ctx(denial, 20)) or "")
    assert lower_code_supported(_ctx(denial, 55)) is None
    assert lower_code_supported(_ctx(denial, 12)) is None
    assert "12 minutes" in (under_reportable_minutes(_ctx(denial, 12)) or "")
    assert under_reportable_minutes(_ctx(denial, 20)) is None
    add_on = _denial("90838")
    assert "resubmit as 90836" in (lower_code_supported(_ctx(add_on, 40)) or "")


def test_register_adds_named_extractors_and_checks() -> None:
    extractors, checks = ExtractorRegistry(), CheckRegistry()
    register(extractors, checks)
    assert extractors.names() == ["psychotherapy_session_time", "psychotherapy_session_work"]
    assert len(checks.names()) == 5
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("psychotherapy_time")
    assert {f.extractor for f in playbook.facts} <= set(extractors.names())
    assert {r.check for r in playbook.not_appeal} <= set(checks.names())


def test_selection_takes_psychotherapy_codes_and_leaves_administrative_denials() -> None:
    playbooks = PlaybookSet.load(ROOT / "specialty_playbooks")
    chosen = playbooks.select(_denial("90834", original="90837", paid="98", carc="150"),
                              "clinical")
    assert chosen is not None and chosen.id == "psychotherapy_time"
    other = playbooks.select(_denial("90837", carc="29"), "administrative")
    assert other is None or other.id != "psychotherapy_time"


# --- the whole pipeline -------------------------------------------------------------------------

NOTES: dict[str, str] = {
    # 1. 835 downcode 90837 -> 90834 (CO-150), 59 min and a suicide-risk session: appeal.
    "PSY-101": """BH INDIVIDUAL THERAPY NOTE
Start time: 2:02pm    End time: 3:01pm    (59 min f2f)
S: Pt reports worsening mood since breakup, poor sleep. Endorses passive SI, no plan/intent.
Denies HI, AVH.
MSE: A&Ox3, affect constricted, TP linear.
Interventions: C-SSRS screen administered; Stanley-Brown safety plan completed, crisis
line numbers reviewed, firearms stored off-site per pt. Remainder of session spent on
cognitive restructuring.
Plan: weekly 60 min sessions; next appt 8/19 2:00pm.
""",
    # 2. Queue row 90837 denied CO-50, markdown note, trauma processing: appeal.
    "PSY-102": """# Psychotherapy Progress Note
**Time:** 0930-1026 (56 min face-to-face)
**Service:** individual psychotherapy (90837)

## Intervention
Prolonged exposure session 6: imaginal exposure to index trauma (MVC) x 40 min with
SUDS ratings q5 min, followed by processing.

## Why 60 min
Imaginal exposure plus processing can't be split; ending early risks leaving pt in
high arousal.
""",
    # 3. Queue row: 90837 paid as 90834, the note shows 42 minutes: accept the downcode.
    "PSY-103": """Outpatient psychotherapy
Time in: 10:02  Time out: 10:44
Pt discussed work stress; CBT - cognitive restructuring, behavioral activation plan.
Endorses passive SI, safety plan reviewed.
""",
    # 4. Queue row 90837 denied CO-50, 42 minutes: corrected claim with 90834.
    "PSY-104": """Therapy note - DOS 08/12/2026
Session: start 1405 stop 1447.
Interventions: DBT skills - distress tolerance, chain analysis of urge to self-harm.
""",
    # 5. Queue row 90834 denied CO-50, 12 minutes: not billable, write off.
    "PSY-105": """Psychotherapy note
Session 3:10-3:22 PM; pt left early, upset about insurance.
CBT: brief psychoeducation on sleep hygiene.
""",
    # 6. Queue row 90837 CO-50, no time anywhere (a phone call is not the session).
    "PSY-106": """Progress note
Pt seen for individual therapy. Reports panic attacks 3x/wk. SI denied.
Interventions: interoceptive exposure, breathing retraining, crisis plan reviewed.
Phone call w/ pt's mother 4:10-4:25 PM re: transport.
""",
    # 7. Queue row 90837 CO-50, 58 minutes but only routine work: insufficient documentation.
    "PSY-107": """Psychotherapy
58 minutes face to face.
CBT for GAD: worry exposure, cognitive restructuring, homework review.
Mood improving, PHQ-9 down to 8.
""",
    # 8. Queue row +90833 with 99214 (CO-50): psychotherapy time stated apart from E/M.
    "PSY-108": """Psychiatry f/u + therapy
E/M: med review, sertraline 100 -> 150 mg. Visit 1:30-2:25 PM.
Psychotherapy 1:50-2:25 PM (35 min, separate from E/M): supportive therapy, problem-solving
re: conflict with roommate, coping skills.
""",
}
QUEUE_HEADER = ("claim_id,payer_name,payer_id,payer_claim_number,member_id,patient_last_name,"
                "patient_first_name,service_date,procedure_code,original_procedure_code,"
                "billed,paid,adjustments,remarks,claim_filing_indicator,remittance_date\n")
QUEUE_ROWS = [
    "PSY-102,HARBOR MUTUAL,HMI77,HM1,M102,ROE,ANN,2026-08-12,90837,,260.00,0,CO-50,N661,CI,"
    "2026-09-11",
    "PSY-103,HARBOR MUTUAL,HMI77,HM2,M103,POE,BEN,2026-08-12,90834,90837,240.00,98.50,"
    "CO-150:80.00;CO-45:61.50,,CI,2026-09-11",
    "PSY-104,HARBOR MUTUAL,HMI77,HM3,M104,LOE,CY,2026-08-12,90837,,260.00,0,CO-50,,CI,"
    "2026-09-11",
    "PSY-105,HARBOR MUTUAL,HMI77,HM4,M105,MOE,DEE,2026-08-12,90834,,180.00,0,CO-50,,CI,"
    "2026-09-11",
    "PSY-106,HARBOR MUTUAL,HMI77,HM5,M106,NOE,ED,2026-08-12,90837,,260.00,0,CO-50,,CI,"
    "2026-09-11",
    "PSY-107,HARBOR MUTUAL,HMI77,HM6,M107,OOE,FAY,2026-08-12,90837,,260.00,0,CO-50,,CI,"
    "2026-09-11",
    "PSY-108,HARBOR MUTUAL,HMI77,HM7,M108,QOE,GUS,2026-08-12,99214,,210.00,210.00,"
    "CO-45:0,,CI,2026-09-11",
    "PSY-108,HARBOR MUTUAL,HMI77,HM7,M108,QOE,GUS,2026-08-12,90833,,120.00,0,CO-50,,CI,"
    "2026-09-11",
]
ERA_BODY = ("ST*835*0001~BPR*I*98.50*C*CHK************20260901~TRN*1*CHK9*1999999999~"
            "DTM*405*20260901~N1*PR*ACME HEALTH*XV*ACME1~N1*PE*LAKESIDE BH*XX*1234567893~"
            "LX*1~CLP*PSY-101*1*240.00*98.50*20.00*12*ICN101*11*1~"
            "NM1*QC*1*DOE*JANE****MI*M101~SVC*HC:90834*240.00*98.50**1*HC:90837~"
            "DTM*472*20260812~CAS*PR*3*20.00~CAS*CO*45*41.50~CAS*CO*150*80.00~REF*6R*1~")
"""A remittance paying 90837 as 90834 (SVC06) with CO-150, as payers send downcodes."""


def _era() -> str:
    envelope = ("ISA*00*          *00*          *ZZ*ACMEPAYER      *ZZ*CLINIC         *260901*"
                "1200*^*00501*000000001*0*P*:~GS*HP*ACMEPAYER*CLINIC*20260901*1200*1*X*"
                "005010X221A1~")
    count = ERA_BODY.count("~") + 1
    return envelope + ERA_BODY + f"SE*{count}*0001~GE*1*1~IEA*1*000000001~"


def _doc_resource(claim: str, text: str, markdown: bool) -> list[dict[str, Any]]:
    n = claim.split("-")[1]
    kind = "text/markdown" if markdown else "text/plain"
    return [
        {"resourceType": "Patient", "id": f"p{n}", "identifier": [{"value": f"M{n}"}]},
        {"resourceType": "Encounter", "id": f"e{n}", "identifier": [{"value": claim}],
         "subject": {"reference": f"Patient/p{n}"}},
        {"resourceType": "DocumentReference", "id": f"d{n}", "status": "current",
         "subject": {"reference": f"Patient/p{n}"}, "date": "2026-08-12",
         "description": "Psychotherapy progress note",
         "context": {"encounter": [{"reference": f"Encounter/e{n}"}]},
         "content": [{"attachment": {"contentType": f"{kind}; charset=utf-8",
                                     "data": base64.b64encode(text.encode()).decode()}}]},
    ]


def _open(tmp: Path, ehr: str) -> Any:
    return open_workflow(tmp / "appeals.db", tmp / "out", ehr, AppConfig(), today=TODAY)


def _activate(workflow: Workflow) -> None:
    assert "psychotherapy_session_time" in workflow.ctx.extractors.names()  # registered by default


Run = tuple[Path, dict[tuple[str, str | None], dict[str, Any]]]
"""The output directory's parent and each denial of the run by (claim, adjudicated code)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("psychotherapy")
    resources = [r for claim, text in NOTES.items()
                 for r in _doc_resource(claim, text, markdown=text.startswith("#"))]
    ehr = tmp / "fhir"
    ehr.mkdir()
    (ehr / "resources.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    queue = tmp / "worklist.csv"
    queue.write_text(QUEUE_HEADER + "\n".join(QUEUE_ROWS) + "\n")
    era = tmp / "acme.835"
    era.write_text(_era())
    with _open(tmp, f"fhir-dir:{ehr}") as workflow:
        _activate(workflow)
        manifest = run_batch(workflow, [str(era), str(queue)])
    by_line = {(d["claim_id"], d["procedure"]["code"] if d["procedure"] else None): d
               for d in manifest.model_dump(mode="json")["denials"]}
    return tmp, by_line


def _one(run: Run, claim: str, code: str | None = None) -> dict[str, Any]:
    matches = [d for (c, p), d in run[1].items() if c == claim
               and (code is None or (p or "").startswith(code))]
    assert len(matches) == 1, run[1].keys()
    return matches[0]


def _quoted(quote: str, letter: str) -> bool:
    """The quote is in the letter verbatim (a line break may carry the list indentation)."""
    return f'"{quote}"' in letter or '"' + quote.replace("\n", "\n   ") + '"' in letter


def _letter(run: Run, denial: dict[str, Any]) -> str:
    return (run[0] / "out" / str(denial["letter"]["markdown"])).read_text()


def test_downcode_with_59_minutes_and_a_safety_plan_is_appealed(run: Run) -> None:
    denial = _one(run, "PSY-101")
    assert denial["playbook"] == "psychotherapy_time"
    assert denial["triage"]["action"] == "appeal"
    quotes = [e["quote"] for e in denial["evidence"]]
    assert quotes[0] == "Start time: 2:02pm    End time: 3:01pm    (59 min f2f)"
    assert any("safety plan completed" in q for q in quotes)
    letter = _letter(run, denial)
    assert "The record documents 59 minutes of psychotherapy" in letter
    assert "90837 is the CPT psychotherapy code for 53 minutes or more" in letter
    for quote in quotes:
        assert _quoted(quote, letter)
    assert "next appt" not in letter


def test_denied_90837_with_56_minutes_of_trauma_processing_is_appealed(run: Run) -> None:
    denial = _one(run, "PSY-102")
    assert denial["triage"]["action"] == "appeal"
    facts = {e["fact"]: e["quote"] for e in reversed(denial["evidence"])}
    assert facts["session_time"] == "**Time:** 0930-1026 (56 min face-to-face)"
    assert "imaginal exposure" in facts["session_work"].lower()
    assert "56 minutes" in _letter(run, denial)


def test_downcode_that_matches_42_minutes_is_written_off(run: Run) -> None:
    denial = _one(run, "PSY-103")
    assert denial["triage"]["action"] == "write_off"
    assert denial["triage"]["root_cause"] == "documentation"
    assert "42 minutes" in denial["triage"]["reason"]
    assert "accept the downcode" in denial["triage"]["reason"]
    assert denial["letter"]["status"] == "not_drafted"


def test_denied_90837_with_42_minutes_goes_to_a_corrected_claim(run: Run) -> None:
    denial = _one(run, "PSY-104")
    assert denial["triage"]["action"] == "corrected_claim"
    assert denial["triage"]["root_cause"] == "coding"
    assert "resubmit as 90834" in denial["triage"]["reason"]
    assert denial["evidence"][0]["quote"] == "Session: start 1405 stop 1447."
    assert denial["letter"]["status"] == "not_drafted"


def test_twelve_minutes_is_not_billable(run: Run) -> None:
    denial = _one(run, "PSY-105")
    assert denial["triage"]["action"] == "write_off"
    assert "12 minutes" in denial["triage"]["reason"]
    assert denial["letter"]["status"] == "not_drafted"


def test_no_session_time_needs_review(run: Run) -> None:
    denial = _one(run, "PSY-106")
    assert denial["triage"]["action"] == "needs_review"
    assert any("minutes of psychotherapy" in m for m in denial["missing_evidence"])
    assert all(e["fact"] != "session_time" for e in denial["evidence"])
    assert denial["letter"]["status"] == "not_drafted"


def test_58_minutes_of_routine_work_is_insufficient_for_90837(run: Run) -> None:
    denial = _one(run, "PSY-107")
    assert denial["triage"]["action"] == "needs_review"
    assert any("53 minutes or more" in m for m in denial["missing_evidence"])
    assert denial["letter"]["status"] == "not_drafted"


def test_add_on_appeal_uses_the_psychotherapy_minutes_not_the_visit(run: Run) -> None:
    denial = _one(run, "PSY-108", "90833")
    assert denial["triage"]["action"] == "appeal"
    time = [e for e in denial["evidence"] if e["fact"] == "session_time"]
    assert time[0]["quote"].startswith("Psychotherapy 1:50-2:25 PM (35 min")
    letter = _letter(run, denial)
    assert "35 minutes of psychotherapy" in letter
    assert "apart from the time of the evaluation and management service" in letter


# --- the demo claims ----------------------------------------------------------------------------

def test_demo_psychotherapy_claims_are_appealed(tmp_path: Path) -> None:
    inputs = [str(FIXTURES / "835" / "blue-river-2026-09-02.835"),
              str(FIXTURES / "queue" / "harbor-mutual-worklist.csv")]
    with _open(tmp_path, f"fhir-dir:{FIXTURES / 'fhir'}") as workflow:
        _activate(workflow)
        manifest = run_batch(workflow, inputs)
    by_claim = {d.claim_id: d for d in manifest.denials}
    downcoded, denied = by_claim["LOM26-10458"], by_claim["LOM26-11020"]
    for denial in (downcoded, denied):
        assert denial.playbook == "psychotherapy_time"
        assert denial.triage.action == "appeal"
        assert denial.letter.status == "pending_review"
    assert [e.quote for e in downcoded.evidence if e.fact == "session_time"] == [
        "Session start: 2:02 PM     Session end: 3:01 PM     Face-to-face: 59 min"]
    assert [e.quote for e in denied.evidence if e.fact == "session_time"] == [
        "**Time:** 1400-1456 (56 min face-to-face)"]
    letter = (tmp_path / "out" / (downcoded.letter.markdown or "")).read_text()
    assert "59 minutes of psychotherapy" in letter
    assert "Extended session needed for suicide risk assessment" in letter


# --- the golden letter --------------------------------------------------------------------------

def _golden_input() -> LetterInput:
    note = ("Session start: 2:02 PM     Session end: 3:01 PM     Face-to-face: 59 min\n"
            "Interventions: Extended session needed for suicide risk assessment and safety "
            "plan update.\n")
    chart = ChartBundle(documents=(_note(note, "lom-doc-10458"),))
    denial = _denial("90834", original="90837", paid="98.50", carc="150",
                     claim_codes=("90837",)).model_copy(update={
                         "rendering_provider": ProviderRef(name="LINDQVIST, SARA",
                                                           npi="1987654328"),
                         "payee": ProviderRef(name="LAKESIDE BH", npi="1234567893")})
    evidence = (*psychotherapy_session_time(chart, denial),
                *psychotherapy_session_work(chart, denial))
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("psychotherapy_time")
    return LetterInput(letter_id="lt_golden", group_id="grp_golden", denials=(denial,),
                       playbook=playbook, evidence=evidence,
                       patient=PatientRecord(patient_id="Patient/p1"),
                       diagnoses=("Major depressive disorder, recurrent, moderate",))


def test_psychotherapy_letter_matches_its_golden_file() -> None:
    settings = LetterSettings(practice_name="Lakeside Behavioral Health",
                              contact_name="Dana Ruiz", contact_phone="(216) 555-0142",
                              signature_name="Dana Ruiz, CPC",
                              signature_title="Appeals Auditor")
    text = LetterRenderer(settings, CodeTable.load_default()).render(_golden_input(),
                                                                     date(2026, 9, 20))
    golden = GOLDEN / "psychotherapy_time.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), \
        "letter changed: review it, then UPDATE_GOLDEN=1 pytest " + Path(__file__).name
