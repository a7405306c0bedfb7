"""The record layouts the reader builds positionally (for speed) stay as it expects."""

from __future__ import annotations

from dataclasses import fields

from agent.x12.models import ClaimPayment, ServiceLine


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
