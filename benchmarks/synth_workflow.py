"""Deterministic synthetic batch for the appeal workflow benchmark: 835 files and a FHIR dir.

A batch of N denials looks like the remittances of an orthopaedics and spine practice:

* one 005010X221A1 835 per payer (20 payers, a few large and many small ones), every
  claim with exactly one denied service line, so N claims give N denials. SE01 counts
  the segments, every line and claim balances and BPR02 is the sum of CLP04;
* about 80 % medical-necessity denials (CO-50 on 20610, 20611, 20552, 27447, 62323,
  64483, 64493, 72148, 73721, 97110), sometimes beside a paid E/M line;
* about 20 % that triage rules decide before any chart is read: $0 lines adjusted PR-1
  (deductible), CO-16 with MA130 (resubmit), CO-22 (other payer first) and CO-97 on 29877
  billed with 29881 (NCCI edit, modifier indicator 0: write off);
* a FHIR R4 directory (one NDJSON per payer) with, for each claim, a Patient (identifier =
  the 835 member id), an Encounter (identifier = CLP01), a Condition and one or two notes
  (DocumentReference, base64 ``text/plain``). Most medical-necessity charts document an
  objective finding and a failed conservative treatment; some lack one of them, and a
  few patients are filed under an older member id (no chart found): those end in
  needs_review.

The same ``(denials, seed)`` always gives the same bytes. ``python
benchmarks/synth_workflow.py 2000 --check`` writes a batch and checks every note against
the project's evidence extractors (the note says what its plan says it does).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import synth835
from synth835 import (
    FIRST_NAMES,
    LAST_NAMES,
    TERMINATOR,
    Claim,
    Line,
    cas_segments,
    line_segments,
    money,
    npi,
    ymd,
)

DATA_DIR = synth835.DATA_DIR
"""Where generated batches live (gitignored)."""
DEFAULT_SEED = 2026
GENERATOR_VERSION = 1
"""Bump when the output changes, so stale batches are regenerated."""

PRODUCED = date(2026, 9, 1)
"""Remittance date of the batch (the 835s' DTM*405)."""
TODAY = date(2026, 9, 20)
"""The run date the benchmark passes to the workflow (appeal deadlines count from it)."""

Kind = Literal["mn_both", "mn_no_objective", "mn_no_conservative", "mn_no_chart",
               "pr1", "co16", "co22", "co97"]
KIND_WEIGHTS: tuple[tuple[Kind, float], ...] = (
    ("mn_both", 0.66), ("mn_no_objective", 0.055), ("mn_no_conservative", 0.065),
    ("mn_no_chart", 0.02), ("pr1", 0.06), ("co16", 0.05), ("co22", 0.05), ("co97", 0.04))
"""Share of each kind of denial in the batch (80 % medical necessity)."""

EXPECTED_ACTION: dict[Kind, str] = {
    "mn_both": "appeal", "mn_no_objective": "needs_review",
    "mn_no_conservative": "needs_review", "mn_no_chart": "needs_review",
    "pr1": "patient_responsibility", "co16": "corrected_claim", "co22": "rebill_other_payer",
    "co97": "write_off"}
"""What triage and the medical-necessity playbook should decide for each kind."""

Region = Literal["knee", "spine", "shoulder", "myofascial", "therapy"]


@dataclass(frozen=True, slots=True)
class Payer:
    """A payer: one 835 file (and one NDJSON file) per payer."""

    name: str
    payer_id: str
    filing: str
    """CLP06 claim filing indicator."""
    weight: float
    """Relative share of the claims."""


PAYERS: tuple[Payer, ...] = tuple(
    Payer(name, payer_id, filing, round(1 / (i + 1) ** 0.7, 4))
    for i, (name, payer_id, filing) in enumerate((
        ("BLUE RIVER HEALTH PLAN", "BRHP1", "12"),
        ("SYNTHETIC MEDICARE PART B J15", "15202", "MB"),
        ("SUMMIT MUTUAL HEALTH", "SMH01", "12"),
        ("NORTHSTAR CARE PLAN", "NSC22", "HM"),
        ("SILVER OAK MEDICARE ADVANTAGE", "SOMA6", "16"),
        ("GREAT LAKES COMMUNITY HEALTH", "GLCH7", "12"),
        ("HARBOR MUTUAL INSURANCE", "HMI44", "12"),
        ("PRAIRIE STATE MEDICAID MCO", "PSM03", "MC"),
        ("EVERGREEN BENEFIT ADMINISTRATORS", "EBA19", "12"),
        ("CARDINAL PLAINS HEALTH", "CPH08", "12"),
        ("KEYSTONE TRADES WELFARE FUND", "KTW55", "12"),
        ("MERIDIAN VALLEY HMO", "MVH31", "HM"),
        ("COASTLINE ASSURANCE", "CLA90", "12"),
        ("IRONWOOD HEALTH PARTNERS", "IWH12", "12"),
        ("LIBERTY BELL CARE", "LBC77", "14"),
        ("TRI-COUNTY EMPLOYEE BENEFITS", "TCE05", "15"),
        ("HIGH DESERT HEALTH PLAN", "HDH61", "12"),
        ("PINECREST MEDICAID PLAN", "PMP40", "MC"),
        ("RIVERBEND TEACHERS PLAN", "RTP28", "12"),
        ("CANYON STATE INDEMNITY", "CSI83", "12"),
    )))


@dataclass(frozen=True, slots=True)
class Procedure:
    """A procedure code as billed, with what the notes talk about."""

    code: str
    unit_charge: int
    """Cents per unit."""
    region: Region
    lateral: bool
    """Billed with RT or LT."""
    units: tuple[int, ...] = (1,)
    modifiers: tuple[str, ...] = ()
    """Always sent (e.g. GP on therapy)."""
    with_visit: bool = True
    """May be billed with a paid E/M visit (modifier 25) on the same claim."""
    what: str = ""
    """How the note's plan names the service."""


MN_PROCEDURES: tuple[tuple[Procedure, float], ...] = (
    (Procedure("20610", 21000, "knee", True, what="arthrocentesis with corticosteroid "
               "injection"), 0.22),
    (Procedure("20611", 26000, "knee", True, what="ultrasound-guided aspiration and "
               "injection"), 0.10),
    (Procedure("64483", 85000, "spine", True, what="transforaminal epidural steroid injection "
               "at L4-5"), 0.14),
    (Procedure("72148", 145000, "spine", False, with_visit=False,
               what="MRI lumbar spine without contrast"), 0.12),
    (Procedure("97110", 4500, "therapy", False, units=(2, 3, 4), modifiers=("GP",),
               with_visit=False, what="therapeutic exercise"), 0.14),
    (Procedure("73721", 120000, "knee", True, with_visit=False,
               what="MRI of the knee without contrast"), 0.08),
    (Procedure("62323", 78000, "spine", False, what="interlaminar epidural steroid "
               "injection with imaging guidance"), 0.06),
    (Procedure("64493", 69000, "spine", True, what="lumbar facet joint injection at L4-5"),
     0.06),
    (Procedure("20552", 16000, "myofascial", False, what="trigger point injections, "
               "1-2 muscles"), 0.05),
    (Procedure("27447", 410000, "knee", True, with_visit=False,
               what="total knee arthroplasty"), 0.03),
)
"""Codes denied CO-50, with their share of the medical-necessity denials."""

VISITS = (("99213", 16500), ("99214", 23000), ("99203", 19500), ("99204", 31000))
"""E/M codes billed beside a procedure or denied by the rule-decided kinds."""

PROVIDERS = (("REYES", "MARCO"), ("LINDQVIST", "SARA"), ("OKAFOR", "CHIDI"),
             ("BHATT", "ANAND"), ("FEINBERG", "DAVID"), ("NAKASHIMA", "EMI"),
             ("OYELARAN", "GRACE"), ("DUBOIS", "THEO"))
"""Rendering providers (NM1*82) of the practice."""

ICD10 = {
    "knee": ("M17.1{x}", "Unilateral primary osteoarthritis, {side} knee"),
    "spine": ("M54.16", "Radiculopathy, lumbar region"),
    "shoulder": ("M75.1{x}", "Rotator cuff syndrome of {side} shoulder"),
    "myofascial": ("M79.18", "Myalgia, other site"),
    "therapy": ("M62.81", "Muscle weakness (generalized)"),
}


@dataclass(slots=True)
class Plan:
    """One claim of the batch: what the 835 says and what the chart documents."""

    number: int
    kind: Kind
    payer: Payer
    claim_id: str
    member_id: str
    last: str
    first: str
    female: bool
    birth: date
    service: date
    provider: tuple[str, str]
    provider_npi: str
    procedure: Procedure | None
    side: str
    """``L`` or ``R`` (laterality of the body region)."""
    region: Region
    notes: list[tuple[str, str, date, bool]] = field(default_factory=list)
    """(title, text, date, linked to the encounter) of each note."""

    @property
    def expected_action(self) -> str:
        """The action the workflow should reach for this claim's denial."""
        return EXPECTED_ACTION[self.kind]

    @property
    def has_objective(self) -> bool:
        """Whether the notes document an objective finding."""
        return self.kind != "mn_no_objective"

    @property
    def has_conservative(self) -> bool:
        """Whether the notes document a failed conservative treatment."""
        return self.kind != "mn_no_conservative"


def _weighted(rng: random.Random, items: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def make_plan(rng: random.Random, number: int, prefix: str) -> Plan:
    """Draw one claim: kind, payer, patient, procedure, dates and notes."""
    kind: Kind = _weighted(rng, KIND_WEIGHTS)
    payer: Payer = _weighted(rng, [(p, p.weight) for p in PAYERS])
    procedure: Procedure | None = None
    region: Region
    if kind.startswith("mn_"):
        procedure = _weighted(rng, MN_PROCEDURES)
        region = procedure.region
        if procedure.code == "20610" and rng.random() < 0.3:
            region = "shoulder"
        if region == "therapy":
            region = rng.choice(("therapy", "therapy", "knee", "shoulder"))
    elif kind == "co97":
        region = "knee"
    else:
        region = rng.choice(("knee", "spine", "shoulder"))
    first_index = rng.randrange(len(FIRST_NAMES))
    service = PRODUCED - timedelta(days=rng.randint(10, 75))
    provider = rng.choice(PROVIDERS)
    plan = Plan(
        number=number, kind=kind, payer=payer, claim_id=f"{prefix}-{number:06d}",
        member_id=f"{payer.payer_id[:3]}{rng.randrange(10**8, 10**9)}",
        last=rng.choice(LAST_NAMES), first=FIRST_NAMES[first_index],
        female=first_index % 2 == 1,
        birth=date(rng.randint(1942, 1990), rng.randint(1, 12), rng.randint(1, 28)),
        service=service, provider=provider,
        provider_npi=npi(random.Random(f"npi:{provider[0]}")), procedure=procedure,
        side=rng.choice("LR"), region=region)
    plan.notes = make_notes(rng, plan)
    return plan


# -- notes ----------------------------------------------------------------------------

SIDE = {"L": "left", "R": "right"}

OBJECTIVE: dict[Region, tuple[str, ...]] = {
    "knee": ("{S} knee: moderate effusion, crepitus.",
             "{S} knee: large effusion, ballotable patella, ROM 10-95.",
             "{S} knee: medial joint line tenderness, mild effusion. Antalgic gait.",
             "{S} knee: crepitus with ROM, decreased ROM 5-100, positive McMurray medially."),
    "spine": ("Lumbar: paraspinal TTP L4-S1. SLR positive on the {side} at 40 deg. EHL "
              "weakness 4/5 {S}.",
              "Lumbar ROM limited by pain. Diminished {S} Achilles reflex, antalgic gait.",
              "Decreased sensation {S} L5 dermatome with dorsiflexion weakness 4/5."),
    "shoulder": ("{S} shoulder: painful ROM, Neer and Hawkins positive, weakness with "
                 "resisted abduction 4/5.",
                 "{S} shoulder: decreased ROM (FF 110, ER 20), TTP over the subacromial "
                 "space."),
    "myofascial": ("Trapezius and levator scapulae: palpable taut bands with TTP and "
                   "referred pain to the occiput.",
                   "Lumbar paraspinals: taut bands with TTP bilaterally, twitch response."),
    "therapy": ("Gait: antalgic gait with reduced stance time on the {side}.",
                "Strength: hip abductors 3+/5 and quadriceps 4-/5 with weakness on stairs."),
}
"""Exam findings the objective_finding extractor recognises (``{S}`` = L or R)."""

NORMAL_EXAM: dict[Region, tuple[str, ...]] = {
    "knee": ("{S} knee: no effusion. Full ROM. Ligaments stable. Neurovascularly intact.",
             "{S} knee: no swelling or effusion; ROM full and painless; stable to varus "
             "and valgus stress."),
    "spine": ("Lumbar: no paraspinal tenderness. SLR negative bilaterally. Strength 5/5 "
              "throughout, sensation intact, reflexes 2+ and symmetric.",),
    "shoulder": ("{S} shoulder: full active ROM, strength 5/5, Neer and Hawkins negative.",),
    "myofascial": ("Cervical paraspinals: no taut bands, no trigger points.",),
    "therapy": ("Gait: normal. AROM within functional limits. Strength 5/5.",),
}
"""Exams that document nothing objective (missing-objective charts)."""

IMAGING: dict[Region, tuple[str, ...]] = {
    "knee": ("XR {S} knee 3 views: medial compartment joint space narrowing with "
             "osteophytes (KL grade 3).",
             "XR {S} knee: tricompartmental OA, worst medially, with subchondral sclerosis."),
    "spine": ("MRI L-spine: L4-5 disc herniation with {side} foraminal stenosis.",
              "XR L-spine: L4-5 disc space narrowing with anterior osteophytes."),
    "shoulder": ("XR {S} shoulder: type II acromion, no fracture.",),
    "myofascial": (),
    "therapy": (),
}

CONSERVATIVE: dict[Region, tuple[str, ...]] = {
    "knee": ("Naproxen 500 mg BID x 6 wks - minimal relief.",
             "PT x 8 wks without improvement.",
             "Meloxicam 15 mg daily x 3 mo with GI upset; stopped.",
             "Steroid injection in March gave temporary relief only.",
             "Hinged knee brace and activity modification tried, persistent pain."),
    "spine": ("Gabapentin 300 mg TID and PT x 6 wks failed.",
              "Meloxicam 15 mg daily x 3 mo without relief.",
              "Completed 6 wks of formal physical therapy with no improvement.",
              "Home exercise program x 3 mo, persistent radicular pain."),
    "shoulder": ("Ibuprofen 800 mg TID did not help.",
                 "PT x 6 wks without improvement in ROM.",
                 "Celecoxib not tolerated (GI upset)."),
    "myofascial": ("Cyclobenzaprine and NSAIDs x 4 wks - no relief.",
                   "Home exercise program and heat x 6 wks, persistent spasm."),
    "therapy": ("Home exercise program x 4 wks with minimal relief.",
                "Naproxen 500 mg BID failed to control pain with activity."),
}
"""Failed conservative treatment the conservative_treatment extractor recognises."""

COMPLAINT: dict[Region, str] = {
    "knee": "{side} knee pain x {months} mo, worse with stairs and prolonged standing",
    "spine": "low back pain radiating down the {side} leg x {months} mo",
    "shoulder": "{side} shoulder pain x {months} mo, worse reaching overhead",
    "myofascial": "neck and upper back pain with muscle knots x {months} mo",
    "therapy": "difficulty with stairs and walking distances x {months} mo",
}

TITLES: dict[Region, str] = {
    "knee": "Orthopedic office note", "spine": "Spine center progress note",
    "shoulder": "Orthopedic office note", "myofascial": "Pain management note",
    "therapy": "Physical therapy re-evaluation",
}

VAGUE_ASSESSMENT: dict[Region, str] = {
    "knee": "{side} knee pain", "spine": "Low back pain with {side} leg symptoms",
    "shoulder": "{side} shoulder pain", "myofascial": "Neck and upper back pain",
    "therapy": "Difficulty with stairs and walking",
}
"""The assessment of a chart without objective findings (the diagnosis names none)."""

MEDS = ("lisinopril 10 mg daily", "atorvastatin 20 mg daily", "metformin 500 mg BID",
        "levothyroxine 50 mcg daily", "omeprazole 20 mg daily")


def _fill(text: str, plan: Plan) -> str:
    return text.format(S=plan.side, side=SIDE[plan.side])


def make_notes(rng: random.Random, plan: Plan) -> list[tuple[str, str, date, bool]]:
    """One visit note, sometimes a second one (imaging report or PT summary)."""
    objective = _fill(rng.choice(OBJECTIVE[plan.region] if plan.has_objective
                                 else NORMAL_EXAM[plan.region]), plan)
    treatments = [_fill(t, plan) for t in rng.sample(CONSERVATIVE[plan.region], 2)] \
        if plan.has_conservative else []
    imaging = _fill(rng.choice(IMAGING[plan.region]), plan) \
        if plan.has_objective and IMAGING[plan.region] and rng.random() < 0.6 else None
    split = rng.random() < 0.35
    second: tuple[str, str, date, bool] | None = None
    linked = rng.random() < 0.85
    if split and treatments and plan.region in ("knee", "spine", "shoulder"):
        # The failed treatment is in the therapist's discharge summary, days before.
        second = ("Physical therapy discharge summary",
                  f"PT DISCHARGE SUMMARY\nDx: {plan.region} pain\n"
                  f"Visits: {rng.randint(8, 16)}\nAssessment: {treatments.pop()} "
                  "Patient discharged to a home program; referred back to the surgeon.\n",
                  plan.service - timedelta(days=rng.randint(1, 3)), rng.random() < 0.5)
    elif split and imaging:
        second = ("Radiology report", f"RADIOLOGY REPORT\nExam: {imaging.split(':')[0]}\n"
                  f"Findings: {imaging.split(':', 1)[1].strip()}\nImpression: degenerative "
                  "change as above.\n", plan.service - timedelta(days=rng.randint(0, 2)),
                  rng.random() < 0.5)
        imaging = None
    age = (plan.service - plan.birth).days // 365
    sex = "F" if plan.female else "M"
    complaint = COMPLAINT[plan.region].format(side=SIDE[plan.side],
                                              months=rng.randint(2, 14))
    hpi = f"{age}{sex} with {complaint}."
    hpi += " " + " ".join(treatments) if treatments else " No treatment to date."
    what = plan.procedure.what if plan.procedure else "follow-up visit"
    lines = [TITLES[plan.region].upper(), f"DOS: {plan.service.isoformat()}",
             f"HPI: {hpi}", f"Meds: {', '.join(rng.sample(MEDS, 2))}.", f"PE: {objective}"]
    if imaging:
        lines.append(f"Imaging: {imaging}")
    assessment = ICD10[plan.region][1] if plan.has_objective else \
        VAGUE_ASSESSMENT[plan.region]
    assessment = assessment.format(side=SIDE[plan.side], x="")
    if plan.has_conservative:
        plan_line = f"A/P: {assessment[0].upper()}{assessment[1:]}. Symptomatic after the " \
                    f"treatment above. Plan: {what}."
    else:
        plan_line = f"A/P: {assessment[0].upper()}{assessment[1:]}. Start naproxen 500 mg " \
                    f"BID with food and a home program. Plan: {what}."
    lines += [plan_line, f"Electronically signed by {plan.provider[1].title()} "
              f"{plan.provider[0].title()}, MD"]
    notes = [(TITLES[plan.region], "\n".join(lines) + "\n", plan.service, linked)]
    if second is not None:
        notes.append(second)
    return notes


# -- 835 ------------------------------------------------------------------------------

def _visit_line(rng: random.Random, service: date, denied_share: str | None) -> Line:
    """An E/M line: paid with cost sharing, or (PR-1) $0 paid, all to the deductible."""
    code, charge = rng.choice(VISITS)
    allowed = charge * rng.randrange(55, 86) // 100
    line = Line(code=code, modifiers=(), charge=charge, paid=0, units=1,
                service_date=service, adjustments=[], allowed=allowed)
    if denied_share == "PR-1":
        line.adjustments = [("CO", "45", charge - allowed), ("PR", "1", allowed)]
        return line
    share = [("PR", "3", min(allowed // 2, rng.choice((2000, 3000, 4000))))] \
        if rng.random() < 0.5 else [("PR", "2", allowed // 5)]
    line.adjustments = [("CO", "45", charge - allowed), *share]
    line.paid = charge - sum(a[2] for a in line.adjustments)
    return line


def make_claim(rng: random.Random, plan: Plan) -> tuple[Claim, bool]:
    """The adjudicated claim for a plan, and whether it carries MOA*MA130."""
    service = plan.service
    side = ("RT" if plan.side == "R" else "LT",)
    if plan.kind == "pr1":
        return Claim(plan.number, "1", [_visit_line(rng, service, "PR-1")]), False
    if plan.kind in ("co16", "co22"):
        code, charge = rng.choice(VISITS)
        reason = "16" if plan.kind == "co16" else "22"
        remark = rng.choice(("N290", "M51", "N382")) if reason == "16" else \
            rng.choice(("N479", None))
        line = Line(code=code, modifiers=(), charge=charge, paid=0, units=1,
                    service_date=service, adjustments=[("CO", reason, charge)], remark=remark)
        return Claim(plan.number, "4", [line]), reason == "16"
    if plan.kind == "co97":
        paid = Line(code="29881", modifiers=side, charge=365000, paid=0, units=1,
                    service_date=service, adjustments=[])
        allowed = paid.charge * rng.randrange(40, 60) // 100
        paid.adjustments = [("CO", "45", paid.charge - allowed), ("PR", "2", allowed // 5)]
        paid.paid, paid.allowed = paid.charge - sum(a[2] for a in paid.adjustments), allowed
        denied = Line(code="29877", modifiers=("59", *side), charge=120000, paid=0, units=1,
                      service_date=service, adjustments=[("CO", "97", 120000)], remark="M15")
        return Claim(plan.number, "1", [paid, denied]), False
    procedure = plan.procedure
    assert procedure is not None
    units = rng.choice(procedure.units)
    modifiers = procedure.modifiers + (side if procedure.lateral and
                                       plan.region != "therapy" else ())
    charge = procedure.unit_charge * units
    denied = Line(code=procedure.code, modifiers=modifiers, charge=charge, paid=0,
                  units=units, service_date=service, adjustments=[("CO", "50", charge)],
                  remark=rng.choice(("N115", "N661", None, None)))
    if procedure.with_visit and rng.random() < 0.6:
        visit = _visit_line(rng, service, None)
        visit.modifiers = ("25",)
        return Claim(plan.number, "1", [visit, denied]), False
    return Claim(plan.number, "4", [denied]), False


def claim_segments(rng: random.Random, plan: Plan, claim: Claim, moa: bool) -> list[str]:
    """Loop 2100 (CLP, NM1*QC, NM1*82, MOA, DTM*232/233) and its lines."""
    icn = f"{plan.service:%y%j}{plan.number:08d}"
    out = [f"CLP*{plan.claim_id}*{claim.status}*{money(claim.charge)}*{money(claim.paid)}*"
           f"{money(claim.patient_responsibility)}*{plan.payer.filing}*{icn}*11*1",
           *cas_segments(claim.claim_adjustments),
           f"NM1*QC*1*{plan.last}*{plan.first}****MI*{plan.member_id}",
           f"NM1*82*1*{plan.provider[0]}*{plan.provider[1]}****XX*{plan.provider_npi}"]
    if moa:
        out.append("MOA***MA130")
    out += [f"DTM*232*{ymd(plan.service)}", f"DTM*233*{ymd(plan.service)}"]
    for number, line in enumerate(claim.lines, start=1):
        out += line_segments(line, f"{plan.number}L{number}")
    return out


def write_835(path: Path, rng: random.Random, payer: Payer, index: int,
              plans: list[Plan], payee_npi: str) -> None:
    """One balanced 835 (one ST/SE) with every claim of this payer."""
    body: list[str] = []
    paid = 0
    for number, plan in enumerate(plans, start=1):
        claim, moa = make_claim(rng, plan)
        body.append(f"LX*{number}")
        body += claim_segments(rng, plan, claim, moa)
        paid += claim.paid
    sender = payer.payer_id.ljust(15)
    control = f"{index + 1:09d}"
    header = [
        "ST*835*0001",
        f"BPR*I*{money(paid)}*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*"
        f"021000021*DA*9876543210*{ymd(PRODUCED + timedelta(days=2))}",
        f"TRN*1*{rng.randrange(10**9, 10**10)}*1512345678",
        f"DTM*405*{ymd(PRODUCED)}",
        f"N1*PR*{payer.name}*XV*{payer.payer_id}",
        "N3*PO BOX 30411", "N4*COLUMBUS*OH*432160411", f"REF*2U*{payer.payer_id}",
        "PER*CX*PROVIDER SERVICES*TE*8005550188",
        "PER*BL*EDI SUPPORT*TE*8005550199*EM*edi@payer.example",
        f"N1*PE*LAKESIDE ORTHOPEDICS AND SPINE*XX*{payee_npi}",
        "N3*2200 LAKESHORE DR STE 300", "N4*CLEVELAND*OH*44114", "REF*TJ*341234567"]
    segments = [*header, *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    envelope = [
        f"ISA*00*          *00*          *ZZ*{sender}*ZZ*LAKESIDEORTHO  *"
        f"{PRODUCED:%y%m%d}*1130*^*00501*{control}*0*P*:",
        f"GS*HP*{payer.payer_id}*LAKESIDEORTHO*{ymd(PRODUCED)}*1130*{index + 1}*X*005010X221A1"]
    trailer = [f"GE*1*{index + 1}", f"IEA*1*{control}"]
    path.write_text(TERMINATOR.join([*envelope, *segments, *trailer]) + TERMINATOR,
                    encoding="ascii")


# -- FHIR -----------------------------------------------------------------------------

def fhir_resources(plan: Plan) -> list[dict[str, Any]]:
    """Patient, Encounter, Condition and the notes of one claim."""
    n = plan.number
    patient_id = f"pt-{n:06d}"
    member = plan.member_id if plan.kind != "mn_no_chart" else f"OLD{plan.member_id[3:]}"
    subject = {"reference": f"Patient/{patient_id}"}
    code, text = ICD10[plan.region]
    x = "1" if plan.side == "R" else "2"
    out: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": patient_id,
         "identifier": [{"system": "urn:synthetic:member-id", "value": member}],
         "name": [{"family": plan.last, "given": [plan.first]}],
         "gender": "female" if plan.female else "male", "birthDate": plan.birth.isoformat()},
        {"resourceType": "Encounter", "id": f"enc-{n:06d}", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                   "code": "AMB"},
         "identifier": [{"system": "urn:synthetic:claim-id", "value": plan.claim_id}],
         "subject": subject, "period": {"start": plan.service.isoformat()}},
        {"resourceType": "Condition", "id": f"cond-{n:06d}", "subject": subject,
         "clinicalStatus": {"coding": [{"code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                              "code": code.format(x=x)}],
                  "text": text.format(side=SIDE[plan.side], x=x)},
         "recordedDate": (plan.service - timedelta(days=90)).isoformat()},
    ]
    for i, (title, note, day, linked) in enumerate(plan.notes, start=1):
        doc: dict[str, Any] = {
            "resourceType": "DocumentReference", "id": f"doc-{n:06d}-{i}",
            "status": "current", "subject": subject, "date": day.isoformat(),
            "description": title,
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                        "data": base64.b64encode(note.encode()).decode()}}]}
        if linked:
            doc["context"] = {"encounter": [{"reference": f"Encounter/enc-{n:06d}"}]}
        out.append(doc)
    return out


# -- the batch ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Batch:
    """A generated batch on disk."""

    root: Path
    denials: int
    inputs: tuple[Path, ...]
    """The 835 files, one per payer."""
    fhir: Path
    """The FHIR directory (``fhir-dir:`` source)."""
    expected: dict[str, Any]
    """Counts by kind and expected action (``expected.json``)."""


def batch_dir(denials: int, seed: int = DEFAULT_SEED) -> Path:
    """Where the batch of ``denials`` denials lives."""
    return DATA_DIR / f"workflow-{denials}-s{seed}-v{GENERATOR_VERSION}"


def generate(denials: int, seed: int = DEFAULT_SEED) -> list[Plan]:
    """The plans of a batch (the same for the same arguments)."""
    rng = random.Random(f"workflow:{seed}:{denials}")
    return [make_plan(rng, number, f"LOS{seed % 100:02d}") for number in
            range(1, denials + 1)]


def write_batch(root: Path, denials: int, seed: int = DEFAULT_SEED) -> list[Plan]:
    """Write the 835 files, the FHIR directory and expected.json under ``root``."""
    plans = generate(denials, seed)
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "835").mkdir(parents=True)
    (tmp / "fhir").mkdir()
    rng = random.Random(f"workflow-835:{seed}:{denials}")
    payee_npi = npi(rng)
    for index, payer in enumerate(PAYERS):
        mine = [p for p in plans if p.payer is payer]
        if not mine:
            continue
        stem = f"{index + 1:02d}-{payer.payer_id.lower()}"
        write_835(tmp / "835" / f"{stem}.835", rng, payer, index, mine, payee_npi)
        with (tmp / "fhir" / f"{stem}.ndjson").open("w", encoding="utf-8") as out:
            for plan in mine:
                for resource in fhir_resources(plan):
                    out.write(json.dumps(resource, separators=(",", ":")) + "\n")
    expected = {
        "denials": denials, "seed": seed, "generator_version": GENERATOR_VERSION,
        "payers": len({p.payer.payer_id for p in plans}),
        "by_kind": dict(sorted(Counter(p.kind for p in plans).items())),
        "by_action": dict(sorted(Counter(p.expected_action for p in plans).items())),
        "notes": sum(len(p.notes) for p in plans)}
    (tmp / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return plans


def load_batch(root: Path) -> Batch:
    """A batch already on disk."""
    expected = json.loads((root / "expected.json").read_text())
    return Batch(root=root, denials=int(expected["denials"]),
                 inputs=tuple(sorted((root / "835").glob("*.835"))), fhir=root / "fhir",
                 expected=expected)


def ensure_batch(denials: int, seed: int = DEFAULT_SEED) -> Batch:
    """The batch for ``denials`` denials, written only when it is missing."""
    root = batch_dir(denials, seed)
    if not (root / "expected.json").exists():
        write_batch(root, denials, seed)
    return load_batch(root)


def check_notes(plans: Sequence[Plan]) -> list[str]:
    """Run the project's extractors over each medical-necessity chart's notes; return the
    claims whose notes do not say what their plan says (empty when all agree)."""
    from agent.ehr.model import SourceDocument
    from agent.evidence.extractors import CONSERVATIVE_TREATMENT, OBJECTIVE_FINDING, find_phrases

    problems = []
    for plan in plans:
        if not plan.kind.startswith("mn_") or plan.kind == "mn_no_chart":
            continue
        documents = [SourceDocument(document_id=f"d{i}", patient_id="p", text=text,
                                    linked_by="encounter")
                     for i, (_, text, _, _) in enumerate(plan.notes)]
        found = (bool(find_phrases(documents, OBJECTIVE_FINDING)),
                 bool(find_phrases(documents, CONSERVATIVE_TREATMENT)))
        if found != (plan.has_objective, plan.has_conservative):
            problems.append(f"{plan.claim_id} {plan.kind}: objective={found[0]}, "
                            f"conservative={found[1]}")
    return problems


def main() -> None:
    """Command line: (re)write the batch for N denials; ``--check`` verifies the notes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("denials", type=int, nargs="?", default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--check", action="store_true",
                        help="check every note against the evidence extractors")
    args = parser.parse_args()
    root = batch_dir(args.denials, args.seed)
    plans = write_batch(root, args.denials, args.seed)
    batch = load_batch(root)
    print(f"{root}: {len(batch.inputs)} 835 files, {batch.expected['notes']} notes")
    print(json.dumps(batch.expected["by_action"]))
    if args.check:
        problems = check_notes(plans)
        for line in problems[:20]:
            print("  mismatch:", line)
        print(f"notes check: {len(problems)} mismatches")


if __name__ == "__main__":
    main()
