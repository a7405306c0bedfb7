"""CARC/RARC descriptions and the NPI check digit."""

from __future__ import annotations

from datetime import date

import pytest

from agent.codes import CodeTable
from agent.npi import is_valid_npi, npi_check_digit


def test_shipped_table_has_the_cms_lists() -> None:
    table = CodeTable.load_default()
    assert len(table) == 1581  # 405 CARC + 1,171 RARC + 5 group codes
    assert "medical necessity" in table.carc("50").description
    assert table.rarc("MA130").description.startswith("Your claim contains incomplete")
    assert table.group("CO").description == "Contractual Obligations"


def test_unknown_code_is_described_as_unknown_not_an_error() -> None:
    found = CodeTable.load_default().carc("Z99")
    assert not found.known
    assert found.description == "Unknown adjustment reason code Z99"


def test_code_activity_window() -> None:
    a2 = CodeTable.load_default().carc("A2")
    assert a2.end_date == date(2008, 1, 1)
    assert a2.active_on(date(2007, 6, 1)) and not a2.active_on(date(2026, 1, 1))


def test_npi_check_digit_reference_vector() -> None:
    # docs/domain.md#npi-check-digit: 123456789 -> check digit 3.
    assert npi_check_digit("123456789") == 3


@pytest.mark.parametrize(("npi", "valid"), [
    ("1234567893", True), ("1558598797", True), ("1245319599", True),
    ("1234567890", False), ("3234567893", False), ("123456789", False), ("12345678a3", False),
])
def test_npi_validation(npi: str, valid: bool) -> None:
    assert is_valid_npi(npi) is valid
