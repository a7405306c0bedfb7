"""The rule that decides which parts of an 835 are denials (docs/835.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.denials.from_835 import ClaimTally, DenialRules, denials_from_claims
from agent.denials.model import Denial
from agent.x12 import Remittance835Reader
from tests.conftest import FIXTURES

HEADER = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *260101*1200*^*"
          "00501*000000001*0*P*:~GS*HP*PAYER*PROVIDER*20260101*1200*1*X*005010X221A1~"
          "ST*835*0001~BPR*I*{paid}*C*CHK************20260105~TRN*1*CHK1*1999999999~"
          "DTM*405*20260102~N1*PR*ACME HEALTH*XV*ACME1~N1*PE*CLINIC*XX*1234567893~LX*1~")


def _remit(*claims: str) -> str:
    body = "".join(claims)
    paid = sum(Decimal(c.split("*")[4]) for c in claims)
    text = HEADER.format(paid=paid) + body
    st = text[text.index("ST*835"):]
    count = st.count("~") + 1
    return text + f"SE*{count}*0001~GE*1*1~IEA*1*000000001~"


def _claim(status: str, charge: str, paid: str, *lines: str, claim_id: str = "PCN1",
           claim_cas: str = "") -> str:
    return (f"CLP*{claim_id}*{status}*{charge}*{paid}**12*ICN{claim_id}~{claim_cas}"
            f"NM1*QC*1*DOE*JANE****MI*M123~" + "".join(lines))


def _line(code: str, charge: str, paid: str, *cas: str, lq: str = "") -> str:
    text = f"SVC*HC:{code}*{charge}*{paid}**1~DTM*472*20251215~"
    text += "".join(f"CAS*{c}~" for c in cas)
    return text + (f"LQ*HE*{lq}~" if lq else "")


def _denials(text: str, rules: DenialRules | None = None) -> tuple[list[Denial], ClaimTally]:
    tally = ClaimTally()
    reader = Remittance835Reader.from_text(text, "test.835")
    found = list(denials_from_claims(reader, rules, tally))
    assert not reader.warnings, reader.warnings
    return found, tally


def test_every_line_of_a_denied_claim_is_a_denial() -> None:
    denials, tally = _denials(_remit(_claim(
        "4", "300", "0", _line("99213", "100", "0", "CO*50*100"),
        _line("36415", "200", "0", "CO*50*200"))))
    assert [d.procedure.code for d in denials if d.procedure] == ["99213", "36415"]
    assert tally.denials == 2
    assert tally.denied_dollars == Decimal(300)


@pytest.mark.parametrize("cas", ["PR*1*100", "CO*45*100", "CO*97*100"])
def test_a_zero_paid_line_is_a_denial_whatever_the_reason(cas: str) -> None:
    denials, _ = _denials(_remit(_claim("1", "100", "0", _line("99213", "100", "0", cas))))
    assert len(denials) == 1
    assert denials[0].denied_amount == Decimal(100)
    assert denials[0].reason_labels == [cas.rsplit("*", 1)[0].replace("*", "-")]


def test_partly_paid_line_with_only_contractual_and_cost_share_is_not_a_denial() -> None:
    denials, tally = _denials(_remit(_claim(
        "1", "200", "120", _line("99214", "200", "120", "CO*45*50", "PR*2*20", "CO*253*10"))))
    assert denials == []
    assert tally.partly_paid_lines == 1


def test_partly_paid_line_with_another_reason_is_a_denial_for_that_amount() -> None:
    denials, _ = _denials(_remit(_claim(
        "1", "240", "98.50", _line("90834", "240", "98.50", "PR*3*20", "CO*45*41.50",
                                   "CO*150*80"))))
    assert len(denials) == 1
    assert denials[0].denied_amount == Decimal("80")
    assert denials[0].paid == Decimal("98.50")


def test_expected_adjustments_are_configurable() -> None:
    text = _remit(_claim("1", "200", "150", _line("99214", "200", "150", "CO*59*50")))
    assert len(_denials(text)[0]) == 1
    rules = DenialRules(expected_adjustments=frozenset({"CO-59"}))
    assert _denials(text, rules)[0] == []


def test_claim_without_lines_is_judged_at_claim_level() -> None:
    denials, _ = _denials(_remit(_claim("4", "275", "0", claim_cas="CAS*CO*27*275~")))
    (denial,) = denials
    assert denial.level == "claim"
    assert denial.procedure is None
    assert denial.reason_labels == ["CO-27"]
    assert denial.denied_amount == Decimal(275)


def test_reversal_and_its_correction_are_not_new_denials() -> None:
    reversal = _claim("22", "-100", "-80", claim_id="PCN9", claim_cas="CAS*CO*45*-20~")
    correction = _claim("1", "100", "0", _line("99213", "100", "0", "CO*50*100"),
                        claim_id="PCN9")
    later = _claim("1", "100", "0", _line("99213", "100", "0", "CO*50*100"), claim_id="PCN10")
    denials, tally = _denials(_remit(reversal, correction, later))
    assert [d.claim_id for d in denials] == ["PCN10"]
    assert (tally.reversals, tally.corrections) == (1, 1)


def test_denial_carries_what_the_rest_of_the_system_needs() -> None:
    denials, _ = _denials(_remit(_claim(
        "1", "100", "0", _line("29877:59:RT", "100", "0", "CO*97*100", lq="M15"))))
    (d,) = denials
    assert d.claim_id == "PCN1"
    assert d.payer_claim_number == "ICNPCN1"
    assert (d.payer.name, d.payer.id) == ("ACME HEALTH", "ACME1")
    assert d.patient.member_id == "M123"
    assert d.patient.name == "DOE, JANE"
    assert d.procedure is not None
    assert (d.procedure.code, d.procedure.modifiers) == ("29877", ("59", "RT"))
    assert d.remarks == ("M15",)
    assert d.remittance_date is not None and d.remittance_date.isoformat() == "2026-01-02"
    assert d.check_or_eft_number == "CHK1"
    assert d.source.kind == "835" and d.source.file == "test.835"
    assert d.payee is not None and d.payee.npi == "1234567893"


def test_denial_ids_are_stable_and_distinct() -> None:
    text = _remit(_claim("4", "200", "0", _line("99213", "100", "0", "CO*50*100"),
                         _line("99213", "100", "0", "CO*50*100")))
    first, _ = _denials(text)
    again, _ = _denials(text.replace("test", "other"))
    assert [d.denial_id for d in first] == [d.denial_id for d in again]
    assert len({d.denial_id for d in first}) == 2


def test_fixture_remittance_finds_the_expected_denials() -> None:
    reader = Remittance835Reader.open(FIXTURES / "835" / "blue-river-2026-09-02.835")
    tally = ClaimTally()
    denials = list(denials_from_claims(reader, tally=tally))
    assert reader.warnings == []
    by_claim = {d.claim_id: d for d in denials}
    downcode = by_claim["LOM26-10458"].procedure
    assert downcode is not None
    assert (downcode.code, downcode.original_code) == ("90834", "90837")
    assert downcode.submitted_code == "90837"
    assert "LOM26-10577" not in by_claim  # partly paid, CO-45 + PR-2 only
    assert "LOM26-10112" not in by_claim  # reversal + correction
    assert by_claim["LOM26-10588"].level == "claim"
    assert (tally.claims, tally.denials, tally.reversals, tally.corrections) == (15, 12, 1, 1)
