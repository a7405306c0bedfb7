"""835 records go to JSON and back through pydantic, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.x12 import Remittance835Reader
from agent.x12.serialize import claim_from_json, claim_to_dict, claim_to_json
from tests.conftest import FIXTURES


def test_claims_round_trip_through_json() -> None:
    claims = list(Remittance835Reader.open(FIXTURES / "835" / "blue-river-2026-09-02.835"))
    for claim in claims:
        assert claim_from_json(claim_to_json(claim)) == claim
    data = claim_to_dict(claims[2])
    assert data["lines"][0]["original_procedure"]["code"] == "90837"
    assert data["lines"][0]["paid"] == "98.50"
    assert data["remittance"]["payer"]["name"] == "BLUE RIVER HEALTH PLAN"


def test_invalid_json_claim_is_rejected() -> None:
    claim = next(iter(Remittance835Reader.open(FIXTURES / "835" / "medicare-b-2026-09-09.835")))
    data = claim_to_json(claim).replace('"charge":"410.00"', '"charge":"four hundred"')
    with pytest.raises(ValidationError):
        claim_from_json(data)
