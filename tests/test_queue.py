"""The CSV/JSON denial queue: schema, row/column errors, no PHI in messages."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from agent.denials.queue import QueueFileError, read_queue
from tests.conftest import FIXTURES

HEADER = ("claim_id,payer_name,member_id,patient_last_name,service_date,procedure_code,"
          "modifiers,billed,paid,adjustments,remarks,rendering_npi\n")


def _csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "queue.csv"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_fixture_worklist_reads_every_row() -> None:
    result = read_queue(FIXTURES / "queue" / "harbor-mutual-worklist.csv")
    assert result.row_errors == [] and result.warnings == []
    assert [d.procedure.display for d in result.denials if d.procedure] == [
        "90837", "64483-RT", "99215-25"]
    first = result.denials[0]
    assert first.patient.date_of_birth is not None
    assert first.source.kind == "queue" and first.source.row == 1


def test_codes_lists_and_single_adjustment_without_amount(tmp_path: Path) -> None:
    path = _csv(tmp_path, "A1,ACME,M1,DOE,2026-01-05,29877,59;rt,500.00,0,CO-97,M15 N20,")
    (denial,) = read_queue(path).denials
    assert denial.procedure is not None
    assert denial.procedure.modifiers == ("59", "RT")
    assert denial.remarks == ("M15", "N20")
    assert [(a.label, a.amount) for a in denial.adjustments] == [("CO-97", Decimal("500.00"))]
    assert denial.denied_amount == Decimal("500.00")


def test_bad_rows_name_row_and_column_and_the_rest_is_read(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "A1,ACME,SECRETMEMBER,SECRETNAME,2026-13-05,99213,,abc,0,CO-50:100,,",
        "A2,ACME,M2,DOE,2026-01-05,99213,,100,0,CO50,,1234567890",
        "A3,ACME,M3,DOE,2026-01-05,99213,,100,0,CO-50:60;PR-1,,",
        "A4,ACME,M4,DOE,2026-01-05,99213,,100,0,CO-50:100,,1234567893",
    )
    result = read_queue(path, source="queue.csv")
    assert [d.claim_id for d in result.denials] == ["A4"]
    assert result.row_errors == [
        "queue.csv: row 1, column service_date: Input should be a valid date or datetime, "
        "month value is outside expected range of 1-12",
        "queue.csv: row 1, column billed: Input should be a valid decimal",
        "queue.csv: row 2, column adjustments: write adjustments as GROUP-CARC:AMOUNT, e.g. "
        "CO-50:125.00, separated by ';'",
        "queue.csv: row 2, column rendering_npi: not a valid NPI (10 digits with a check "
        "digit)",
        "queue.csv: row 3, column adjustments: give an amount for every adjustment when "
        "there are several",
    ]
    assert not any("SECRET" in e for e in result.row_errors)


def test_missing_required_column_is_a_file_error(tmp_path: Path) -> None:
    path = _csv(tmp_path, "A1,ACME", header="claim_id,payer_name\n")
    with pytest.raises(QueueFileError, match="missing required column"):
        read_queue(path)


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = _csv(tmp_path, "A1,ACME,M1,DOE,2026-01-05,99213,,100,0,CO-50:100,,,x",
                header=HEADER.rstrip("\n") + ",practice_notes\n")
    result = read_queue(path, source="q.csv")
    assert len(result.denials) == 1
    assert result.warnings == ["q.csv: unknown column(s) ignored: practice_notes"]


def test_json_queue_with_objects_and_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"denials": [
        {"claim_id": "J1", "payer_name": "ACME", "member_id": "M1",
         "service_date": "2026-02-01", "procedure_code": "90837", "billed": 200.1,
         "paid": 0, "adjustments": [{"group": "CO", "reason": "50", "amount": 200.1}]},
        {"claim_id": "J2", "payer_name": "ACME", "member_id": "M1"},
        "not an object",
    ]}), encoding="utf-8")
    result = read_queue(path, source="q.json")
    (denial,) = result.denials
    assert denial.billed == Decimal("200.1")
    assert denial.adjustments[0].amount == Decimal("200.1")
    assert "q.json: row 2, column service_date: required value is missing" in result.row_errors
    assert "q.json: row 3: each denial must be a JSON object" in result.row_errors


def test_json_that_is_not_json_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(QueueFileError, match="not valid JSON"):
        read_queue(path)
