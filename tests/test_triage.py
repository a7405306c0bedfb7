"""Triage rules, their order and boundaries; appeal deadlines; the demo denials."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from agent.config import DEFAULT_DEADLINES, AppConfig, DeadlineRule
from agent.denials.from_835 import denials_from_claims
from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
)
from agent.denials.queue import read_queue
from agent.ncci import PtpEdit, PtpTable
from agent.triage.deadlines import appeal_deadline
from agent.triage.model import Triage
from agent.triage.rules import CARC_TABLE, UNKNOWN_CARC, carc_triage, dollar_bucket, triage
from agent.x12 import Remittance835Reader
from tests.conftest import FIXTURES

CONFIG = AppConfig()
NCCI = PtpTable.default()
SECRET = "SECRETNAME"


def _adj(label: str, amount: str = "100.00") -> AdjustmentRef:
    group, reason = label.split("-", 1)
    return AdjustmentRef(group=group, reason=reason, amount=Decimal(amount))


def _denial(*labels: str, code: str | None = "99213", remarks: tuple[str, ...] = (),
            claim_labels: tuple[str, ...] = (), **overrides: Any) -> Denial:
    """A line denial of $100 from a commercial payer, remitted 2026-08-31."""
    fields: dict[str, Any] = {
        "denial_id": "dn_test", "level": "line" if code else "claim", "claim_id": "PCN1",
        "claim_filing_indicator": "CI",
        "payer": PayerRef(name="BLUE RIVER HEALTH PLAN", id="BRHP1"),
        "patient": PatientRef(member_id="M1", last_name=SECRET, first_name=SECRET),
        "service_date": date(2026, 8, 4),
        "procedure": ProcedureRef(code=code) if code else None,
        "billed": Decimal("100.00"), "paid": Decimal("0"), "denied_amount": Decimal("100.00"),
        "adjustments": tuple(_adj(x) for x in labels),
        "claim_adjustments": tuple(_adj(x) for x in claim_labels),
        "remarks": remarks, "claim_procedure_codes": (code,) if code else (),
        "remittance_date": date(2026, 8, 31),
        "source": DenialSource(kind="queue", file="test.csv", row=1),
    }
    fields.update(overrides)
    return Denial(**fields)


def _triage(denial: Denial, ncci: PtpTable = NCCI, config: AppConfig = CONFIG) -> Triage:
    result = triage(denial, config, ncci)
    assert SECRET not in result.reason and "\n" not in result.reason
    return result


# --- patient cost share and contractual reductions ---------------------------------

@pytest.mark.parametrize("labels", [("PR-1",), ("PR-2", "PR-3"), ("PR-1", "CO-45")])
def test_patient_cost_share_only(labels: tuple[str, ...]) -> None:
    result = _triage(_denial(*labels))
    assert (result.action, result.rule, result.final) == (
        "patient_responsibility", "patient_cost_share_only", True)
    assert (result.category, result.root_cause, result.preventable) == (
        "administrative", "payer_policy", False)
    assert "PR-" in result.reason and "bill the patient" in result.reason


def test_cost_share_beside_a_real_denial_reason_is_not_patient_responsibility() -> None:
    result = _triage(_denial("PR-1", "CO-50"))
    assert (result.action, result.rule, result.final) == ("needs_review", "provisional", False)
    assert result.reason.startswith("CO-50 $100.00")


def test_claim_level_reasons_count_too() -> None:
    assert _triage(_denial("PR-1", claim_labels=("PR-2",))).action == "patient_responsibility"
    assert _triage(_denial("PR-1", claim_labels=("CO-50",))).action == "needs_review"


def test_contractual_reduction_alone_on_a_zero_line_is_no_action() -> None:
    result = _triage(_denial("CO-45"))
    assert (result.action, result.rule, result.final) == ("no_action", "contractual_only", True)
    assert result.reason.startswith("CO-45 Charge exceeds fee schedule")


def test_no_adjustment_at_all_is_left_for_review() -> None:
    result = _triage(_denial())
    assert (result.action, result.rule) == ("needs_review", "provisional")
    assert (result.category, result.root_cause, result.preventable) == tuple(UNKNOWN_CARC)


# --- corrected claim -----------------------------------------------------------------

def test_co16_names_the_remark_and_resubmits() -> None:
    result = _triage(_denial("CO-16", remarks=("N290", "MA130")))
    assert (result.action, result.rule, result.final) == (
        "corrected_claim", "resubmit_corrected_claim", True)
    assert (result.category, result.root_cause, result.preventable) == (
        "administrative", "coding", True)
    assert "N290 (Missing/incomplete/invalid rendering provider primary identifier)" in \
        result.reason
    assert "MA130: no appeal rights" in result.reason


def test_co16_with_an_eligibility_remark_is_registration() -> None:
    result = _triage(_denial("CO-16", remarks=("N30",)))
    assert result.root_cause == "registration_eligibility"


def test_ma130_as_claim_level_remark_from_an_835() -> None:
    text = (
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *260101*1200*^*"
        "00501*000000001*0*P*:~GS*HP*PAYER*PROVIDER*20260101*1200*1*X*005010X221A1~"
        "ST*835*0001~BPR*I*0*C*CHK************20260105~TRN*1*CHK1*1999999999~"
        "DTM*405*20260102~N1*PR*ACME HEALTH*XV*ACME1~N1*PE*CLINIC*XX*1234567893~LX*1~"
        "CLP*PCN1*4*100*0**12*ICN1~NM1*QC*1*DOE*JANE****MI*M123~MOA***MA130~"
        "SVC*HC:99213*100*0**1~DTM*472*20251215~CAS*CO*50*100~SE*14*0001~GE*1*1~"
        "IEA*1*000000001~")
    (denial,) = denials_from_claims(Remittance835Reader.from_text(text, "t.835"))
    assert denial.remarks == ("MA130",) and denial.reason_labels == ["CO-50"]
    result = _triage(denial)
    assert (result.action, result.rule) == ("corrected_claim", "resubmit_corrected_claim")
    assert result.reason.startswith("MA130 (Your claim contains incomplete")


def test_n704_alone_resubmits() -> None:
    assert _triage(_denial("CO-50", remarks=("N704",))).action == "corrected_claim"


def test_pr16_is_not_the_co16_rule() -> None:
    result = _triage(_denial("PR-16", remarks=("M127",)))
    assert (result.action, result.rule) == ("needs_review", "provisional")
    assert (result.category, result.root_cause) == ("administrative", "coding")


# --- other payer ---------------------------------------------------------------------

@pytest.mark.parametrize("label", ["CO-22", "OA-109", "PI-109"])
def test_other_payer_in_any_group(label: str) -> None:
    result = _triage(_denial(label, remarks=("N479",)))
    assert (result.action, result.rule, result.final) == (
        "rebill_other_payer", "other_payer_liable", True)
    assert (result.root_cause, result.preventable) == ("registration_eligibility", True)
    assert result.reason.startswith(f"{label} (")


# --- NCCI ----------------------------------------------------------------------------

def _knee(code: str, others: tuple[str, ...], **overrides: Any) -> Denial:
    fields: dict[str, Any] = {
        "procedure": ProcedureRef(code=code, modifiers=("59", "RT")),
        "claim_procedure_codes": (*others, code), "remarks": ("M15",)}
    fields.update(overrides)
    return _denial("CO-97", code=code, **fields)


def test_indicator_0_edit_writes_the_line_off() -> None:
    result = _triage(_knee("29877", ("29881",)))
    assert (result.action, result.rule, result.final) == (
        "write_off", "ncci_ptp_no_modifier", True)
    assert (result.root_cause, result.preventable) == ("coding", True)
    assert "NCCI PTP edit, modifier indicator 0" in result.reason
    assert "29877-59-RT billed with 29881" in result.reason
    assert "no modifier bypasses the edit" in result.reason


def test_indicator_1_edit_is_left_to_the_playbook() -> None:
    result = _triage(_knee("20610", ("29881",)))
    assert (result.action, result.rule, result.final) == ("needs_review", "provisional", False)
    assert "NCCI PTP edit 29881/20610, modifier indicator 1" in result.reason


def test_deleted_edit_does_not_write_off() -> None:
    table = PtpTable([PtpEdit("29881", "29877", None, date(2026, 8, 4), "0", "x")])
    assert _triage(_knee("29877", ("29881",)), ncci=table).action == "needs_review"
    assert _triage(_knee("29877", ("29881",), service_date=date(2026, 8, 3)),
                   ncci=table).action == "write_off"


def test_the_column_1_code_denied_is_not_written_off() -> None:
    result = _triage(_knee("29881", ("29877",)))
    assert result.action == "needs_review"
    assert "NCCI PTP edit 29881/29877 denies 29877, not 29881" in result.reason


def test_no_edit_between_echo_and_office_visit_is_said() -> None:
    result = _triage(_knee("99214", ("93306",)))
    assert "no NCCI PTP edit pairs 99214 with 93306 on 2026-08-04" in result.reason


def test_ncci_needs_a_service_date_and_another_code() -> None:
    assert _triage(_knee("29877", ("29881",), service_date=None)).action == "needs_review"
    assert _triage(_knee("29877", ())).action == "needs_review"


def test_rule_order_corrected_claim_before_ncci() -> None:
    denial = _knee("29877", ("29881",), adjustments=(_adj("CO-16"),), remarks=("N290",))
    assert _triage(denial).action == "corrected_claim"


# --- the provisional table -----------------------------------------------------------

@pytest.mark.parametrize(("carc", "remarks", "expected"), [
    ("50", (), ("clinical", "documentation", False)),
    ("96", (), ("administrative", "payer_policy", False)),
    ("96", ("N115",), ("clinical", "payer_policy", False)),
    ("97", (), ("clinical", "coding", True)),
    ("197", (), ("administrative", "authorization", True)),
    ("185", (), ("administrative", "credentialing", True)),
    ("27", (), ("administrative", "registration_eligibility", True)),
    ("B7", (), ("clinical", "payer_policy", False)),
])
def test_carc_table(carc: str, remarks: tuple[str, ...],
                    expected: tuple[str, str, bool]) -> None:
    assert tuple(carc_triage(carc, remarks)) == expected


def test_every_table_carc_is_a_known_code() -> None:
    from agent.codes import CodeTable
    codes = CodeTable.load_default()
    assert all(codes.carc(carc).known for carc in CARC_TABLE)


def test_main_reason_is_the_largest_non_contractual_adjustment() -> None:
    denial = _denial(code="90834", adjustments=(
        _adj("PR-3", "20.00"), _adj("CO-45", "41.50"), _adj("CO-4", "10.00"),
        _adj("CO-150", "80.00")), procedure=ProcedureRef(code="90834", original_code="90837"))
    result = _triage(denial)
    assert result.reason.startswith("CO-150 $80.00: Payer deems the information")
    assert "billed 90837, adjudicated as 90834" in result.reason


# --- dollars and deadlines -----------------------------------------------------------

def test_dollar_threshold_is_inclusive() -> None:
    assert dollar_bucket(Decimal("500"), Decimal("500")) == "high"
    assert dollar_bucket(Decimal("499.99"), Decimal("500")) == "low"
    at = _denial("CO-50", denied_amount=Decimal("500.00"))
    assert _triage(at).dollar_bucket == "high"
    assert _triage(at, config=AppConfig(high_dollar_threshold=Decimal("500.01"))
                   ).dollar_bucket == "low"


def test_medicare_counts_120_days_from_presumed_receipt() -> None:
    denial = _denial("CO-50", claim_filing_indicator="MB",
                     payer=PayerRef(name="MEDICARE PART B", id="15102"),
                     remittance_date=date(2026, 9, 5))
    deadline, rule = appeal_deadline(denial, DEFAULT_DEADLINES)
    assert rule is not None and rule.name == "Medicare Part A/B redetermination"
    assert deadline == date(2027, 1, 8)  # 2026-09-05 + 5 days receipt + 120 days
    assert _triage(denial).appeal_deadline == date(2027, 1, 8)


def test_default_is_180_days_from_the_remittance() -> None:
    deadline, rule = appeal_deadline(_denial("CO-50"), DEFAULT_DEADLINES)
    assert rule is not None and rule.days == 180 and not rule.filing_indicators
    assert deadline == date(2027, 2, 27)


def test_payer_name_rule_and_medicare_advantage() -> None:
    uhc = _denial("CO-50", payer=PayerRef(name="UnitedHealthcare Insurance Co", id="87726"))
    deadline, rule = appeal_deadline(uhc, DEFAULT_DEADLINES)
    assert rule is not None and rule.days == 65 and not rule.confirmed
    assert deadline == date(2026, 11, 4)
    ma = _denial("CO-50", claim_filing_indicator="16")
    assert appeal_deadline(ma, DEFAULT_DEADLINES)[0] == date(2026, 11, 4)


def test_no_remittance_date_gives_no_deadline_but_the_rule() -> None:
    deadline, rule = appeal_deadline(_denial("CO-50", remittance_date=None), DEFAULT_DEADLINES)
    assert deadline is None and rule is not None and rule.days == 180
    assert _triage(_denial("CO-50", remittance_date=None)).appeal_deadline is None


def test_first_matching_rule_wins_and_no_match_is_none() -> None:
    rules = (DeadlineRule(name="by id", payer_ids=("BRHP1",), days=90),
             DeadlineRule(name="any", days=180))
    assert appeal_deadline(_denial("CO-50"), rules)[1] == rules[0]
    assert appeal_deadline(_denial("CO-50"), rules[:1])[0] == date(2026, 11, 29)
    assert appeal_deadline(_denial("CO-50", payer=PayerRef(name="X")), rules[:1]) == (
        None, None)


# --- the demo ------------------------------------------------------------------------

DEMO = {
    "LOM26-10412": ("write_off", "ncci_ptp_no_modifier"),
    "LOM26-10433": ("needs_review", "provisional"),
    "LOM26-10458": ("needs_review", "provisional"),
    "LOM26-10471": ("needs_review", "provisional"),
    "LOM26-10490": ("needs_review", "provisional"),
    "LOM26-10502": ("patient_responsibility", "patient_cost_share_only"),
    "LOM26-10519": ("corrected_claim", "resubmit_corrected_claim"),
    "LOM26-10527": ("rebill_other_payer", "other_payer_liable"),
    "LOM26-09811": ("needs_review", "provisional"),
    "LOM26-10560": ("needs_review", "provisional"),
    "LOM26-10588": ("needs_review", "provisional"),
    "LOM26-10593": ("no_action", "contractual_only"),
    "LOM26-10601": ("needs_review", "provisional"),
    "LOM26-10622": ("needs_review", "provisional"),
    "LOM26-11020": ("needs_review", "provisional"),
    "LOM26-11034": ("needs_review", "provisional"),
    "LOM26-11041": ("needs_review", "provisional"),
}


def test_every_demo_denial_gets_its_expected_triage() -> None:
    denials: list[Denial] = []
    for path in sorted((FIXTURES / "835").glob("*.835")):
        reader = Remittance835Reader.from_text(path.read_text(encoding="utf-8"), path.name)
        denials += denials_from_claims(reader)
    for path in sorted((FIXTURES / "queue").glob("*.csv")):
        denials += read_queue(path).denials
    found = {}
    for denial in denials:
        result = triage(denial, CONFIG, NCCI)
        assert denial.patient.last_name is None or denial.patient.last_name not in result.reason
        assert result.appeal_deadline is not None
        found[denial.claim_id] = (result.action, result.rule)
    assert found == DEMO
