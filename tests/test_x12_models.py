"""The record layouts the reader builds positionally (for speed) stay as it expects, and
its fast paths build the same records as the general code."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal

import pytest

from agent.x12 import Remittance835Reader
from agent.x12.models import Adjustment, ClaimPayment, ServiceLine
from tests.x12_samples import interchange, render, transaction


def test_claim_payment_field_order_is_what_the_reader_passes() -> None:
    assert [f.name for f in fields(ClaimPayment)] == [
        "remittance", "patient_control_number", "status", "charge", "paid",
        "patient_responsibility", "filing_indicator", "payer_claim_control_number",
        "facility_type", "frequency_code", "drg_code", "drg_weight", "discharge_fraction",
        "header_number", "adjustments", "patient", "subscriber", "corrected_patient",
        "service_provider", "crossover_carrier", "corrected_priority_payer", "other_subscriber",
        "inpatient_remarks", "outpatient_remarks", "statement_from", "statement_to",
        "received_date", "coverage_expiration", "references", "amounts", "quantities", "lines",
        "segment_number", "ordinal"]


def test_service_line_field_order_is_what_the_reader_passes() -> None:
    assert [f.name for f in fields(ServiceLine)] == [
        "procedure", "charge", "paid", "revenue_code", "units_paid", "original_procedure",
        "original_units", "service_date", "service_period_start", "service_period_end",
        "adjustments", "line_control_number", "references", "amounts", "quantities", "remarks",
        "segment_number"]


@pytest.mark.parametrize("svc", [
    "SVC*HC:99213*100.00*80.00", "SVC*HC:99213:25*100.00*80.00*", "SVC*HC:99213*100.00*80.00**",
    "SVC*NU:0450*100.00*80.00*0450", "SVC*HC:99213*100.00*80.00**2",
    "SVC*HC:99213*100.00*80.00**0", "SVC*HC:99213*100.00*80.00**1.5",
    "SVC*HC:99214*100.00*80.00**1*HC:99215", "SVC*HC:99214*100.00*80.00**1**2",
    "SVC*HC:99213*100.00*80.00***HC:99215*1",
], ids=lambda svc: svc[4:].replace("*", " "))
def test_a_repeated_service_line_is_read_like_the_first(svc: str) -> None:
    # The first line of a kind goes through Remittance835Reader._service_line; a repeat
    # (procedure and amounts memoised) may be built inline in the loop. Same record.
    body = ["BPR*I*160.00*C*CHK", "TRN*1*CHK1", "N1*PR*PAYER", "N1*PE*CLINIC",
            "CLP*PCN1*1*200.00*160.00**12*ICN1",
            svc, "DTM*472*20240102", "CAS*CO*45*20.00",
            svc, "DTM*472*20240102", "CAS*CO*45*20.00"]
    reader = Remittance835Reader.from_text(render(interchange(transaction(body))))
    (claim,) = list(reader)
    assert reader.warnings == []
    first, second = claim.lines
    assert second.segment_number == first.segment_number + 3
    assert replace(second, segment_number=first.segment_number) == first


Triplet = tuple[str, str, str | None]
"""CAS reason, amount and quantity as text."""


@pytest.mark.parametrize(("cas", "expected"), [
    ("CAS*PR*1*7.50**2*1.50", [("1", "7.50", None), ("2", "1.50", None)]),
    ("CAS*PR*1*7.50*1*2*1.50", [("1", "7.50", "1"), ("2", "1.50", None)]),
    ("CAS*PR*1*7.50**2*1.50*2", [("1", "7.50", None), ("2", "1.50", "2")]),
    ("CAS*PR*1*9.00", [("1", "9.00", None)]),
    ("CAS*PR*1*9.00*1", [("1", "9.00", "1")]),
    ("CAS*PR*1*5.00**2*2.00**3*2.00", [("1", "5.00", None), ("2", "2.00", None),
                                        ("3", "2.00", None)]),
], ids=lambda value: value if isinstance(value, str) else "")
def test_line_adjustments_read_alike_on_every_path(cas: str, expected: list[Triplet]) -> None:
    # One or two reasons with memoised amounts are read inline; the rest by the general
    # CAS method. Read twice, so that the second copy finds its amounts memoised.
    body = ["BPR*I*182.00*C*CHK", "TRN*1*CHK1", "N1*PR*PAYER", "N1*PE*CLINIC",
            "CLP*PCN1*1*200.00*182.00**12*ICN1",
            "SVC*HC:99213*100.00*91.00", cas, "SVC*HC:99213*100.00*91.00", cas]
    reader = Remittance835Reader.from_text(render(interchange(transaction(body))))
    (claim,) = list(reader)
    assert reader.warnings == []
    want = [Adjustment("PR", reason, Decimal(amount), None if qty is None else Decimal(qty))
            for reason, amount, qty in expected]
    assert [line.adjustments for line in claim.lines] == [want, want]
