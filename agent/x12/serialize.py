"""JSON in and out for the 835 records, validated by pydantic at the edge.

The records are slotted dataclasses (fast to build in the reader); pydantic's
``TypeAdapter`` validates and serialises them without a second set of models.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from agent.x12.models import ClaimPayment, Remittance

CLAIM_PAYMENT = TypeAdapter(ClaimPayment)
REMITTANCE = TypeAdapter(Remittance)


def claim_to_json(claim: ClaimPayment) -> str:
    """A claim (with its remittance header and lines) as JSON."""
    return CLAIM_PAYMENT.dump_json(claim).decode("utf-8")


def claim_to_dict(claim: ClaimPayment) -> dict[str, Any]:
    """A claim as JSON-ready Python data (decimals and dates as strings)."""
    data: dict[str, Any] = CLAIM_PAYMENT.dump_python(claim, mode="json")
    return data


def claim_from_json(text: str | bytes) -> ClaimPayment:
    """A claim from JSON, every field validated (amounts, dates, nested records)."""
    return CLAIM_PAYMENT.validate_json(text)
