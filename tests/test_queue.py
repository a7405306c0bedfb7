"""The denial queue (CSV, JSON, xlsx): schema, row/column errors, no PHI in messages."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.denials.queue import (
    SNIFF_BYTES,
    QueueFileError,
    Sniffed,
    parse_adjustments,
    parse_amount,
    parse_date,
    read_queue,
    sniff_queue,
)
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
        "queue.csv: row 1, column service_date: not a valid date: the month must be 1-12",
        "queue.csv: row 1, column billed: not an amount: write it like 1275.00, 1,275.00 or "
        "$1,275.00",
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


# Worklists as practices keep them: US dates, dollar amounts, spreadsheets.

@pytest.mark.parametrize(("text", "expected"), [
    ("2026-09-02", date(2026, 9, 2)),
    ("2026/9/2", date(2026, 9, 2)),
    ("09/02/2026", date(2026, 9, 2)),
    ("9/2/2026", date(2026, 9, 2)),
    ("09-02-2026", date(2026, 9, 2)),
    ("09/02/26", date(2026, 9, 2)),
    ("12/31/99", date(2099, 12, 31)),  # two digits are always 20YY
    (" 9/2/2026 0:00 ", date(2026, 9, 2)),
    ("2026-09-02T00:00:00", date(2026, 9, 2)),
    ("9/2/2026 12:00:00 AM", date(2026, 9, 2)),
])
def test_dates_iso_and_us(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("13/02/2026", "the month must be 1-12 (a date that ends with the year is read month "
     "first)"),
    ("2026-13-05", "the month must be 1-12"),
    ("02/30/2026", "that month has no such day"),
    ("09-02-26", "write the date as YYYY-MM-DD or MM/DD/YYYY"),  # 26-09-02 or 09-02-2026?
    ("2.9.2026", "write the date as YYYY-MM-DD or MM/DD/YYYY"),
    ("Sept 2, 2026", "write the date as YYYY-MM-DD or MM/DD/YYYY"),
    ("9/2/2026 lunch", "write the date as YYYY-MM-DD or MM/DD/YYYY"),
    ("46267", "write the date as YYYY-MM-DD or MM/DD/YYYY"),
])
def test_bad_dates_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_date(text)
    assert message in str(caught.value) and text.strip() not in str(caught.value)


def test_a_date_of_birth_needs_four_digits_of_year() -> None:
    assert parse_date("04/19/1968", two_digit_year=False) == date(1968, 4, 19)
    with pytest.raises(ValueError, match="two-digit year is ambiguous"):
        parse_date("04/19/68", two_digit_year=False)


@pytest.mark.parametrize(("text", "expected"), [
    ("1275", "1275"), ("1275.00", "1275.00"), ("1,275.00", "1275.00"),
    ("$1,275.00", "1275.00"), (" $ 1,275.00 ", "1275.00"), ("1,234,567.89", "1234567.89"),
    (".50", "0.50"), ("-12.50", "-12.50"), ("(12.50)", "-12.50"), ("$(12.50)", "-12.50"),
    ("($12.50)", "-12.50"), ("-$12.50", "-12.50"), ("$-12.50", "-12.50"),
])
def test_amounts_as_people_write_them(text: str, expected: str) -> None:
    amount = parse_amount(text)
    assert isinstance(amount, Decimal) and str(amount) == expected


@pytest.mark.parametrize("text", ["1,27.00", "12,50", "1.275,00", "abc", "--5", "(-5)",
                                  "$", "", "1e3", "12.", "$$5", "5 USD"])
def test_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text)


def test_adjustment_amounts_may_have_dollars_and_thousands() -> None:
    assert parse_adjustments("co-50:$1,275.00;PR-1:20, CO-45:(12.50) OA-23") == [
        {"group": "CO", "reason": "50", "amount": Decimal("1275.00")},
        {"group": "PR", "reason": "1", "amount": Decimal("20")},
        {"group": "CO", "reason": "45", "amount": Decimal("-12.50")},
        {"group": "OA", "reason": "23", "amount": None}]
    assert parse_adjustments("CO-50:1,000,PR-1:20") == [
        {"group": "CO", "reason": "50", "amount": Decimal("1000")},
        {"group": "PR", "reason": "1", "amount": Decimal("20")}]
    for bad in ("CO-50:1,2", "CO-50:", "CO-50:12x", "CO-50PR-1", "XX-50:1"):
        with pytest.raises(ValueError, match="GROUP-CARC:AMOUNT"):
            parse_adjustments(bad)


US_HEADER = "Claim ID,Payer Name,Member ID,Patient DOB,Service Date,Procedure Code,Billed," \
    "Paid,Adjustments,Remittance Date\n"


def test_a_worklist_with_us_dates_dollars_and_spoken_headers(tmp_path: Path) -> None:
    path = _csv(tmp_path,
                'A1,ACME,M1,04/19/1968,09/02/26,99213,"$1,275.00",$0.00,"CO-50:$1,275.00",'
                "9/14/2026",
                header=US_HEADER)
    result = read_queue(path)
    assert result.row_errors == [] and result.warnings == []
    (denial,) = result.denials
    assert denial.patient.date_of_birth == date(1968, 4, 19)
    assert denial.service_date == date(2026, 9, 2)
    assert denial.remittance_date == date(2026, 9, 14)
    assert denial.billed == Decimal("1275.00") and denial.denied_amount == Decimal("1275.00")
    assert denial.adjustments[0].amount == Decimal("1275.00")


def test_a_bad_row_never_sinks_the_file(tmp_path: Path) -> None:
    secret = "SECRETVALUE"
    path = _csv(tmp_path,
                "A1,ACME,M1,04/19/68,09/02/2026,99213,100,0,CO-50,",
                f"A2,ACME,M2,1968-04-19,{secret},99213,100,0,CO-50,",
                "A3,ACME,M3,1968-04-19,09/02/2026,99213,1,00.00,0,CO-50,",
                "A4,ACME,M4,1968-04-19,13/01/2026,99213,$1.2.3,(5),CO-50,02/30/2026",
                ",,,,,,,,,",
                "A5,ACME,M5,1968-04-19,09/02/2026,99213,$100,0,CO-50,",
                header=US_HEADER)
    result = read_queue(path, source="w.csv")
    assert [d.claim_id for d in result.denials] == ["A5"]
    assert result.rows == 5  # the empty row is passed over, not an error
    assert result.row_errors == [
        "w.csv: row 1, column patient_dob: write the year with four digits (MM/DD/YYYY): a "
        "two-digit year is ambiguous in a date of birth",
        "w.csv: row 2, column service_date: write the date as YYYY-MM-DD or MM/DD/YYYY",
        "w.csv: row 3: more cells than header columns",
        "w.csv: row 4, column service_date: not a valid date: the month must be 1-12 (a date "
        "that ends with the year is read month first)",
        "w.csv: row 4, column billed: not an amount: write it like 1275.00, 1,275.00 or "
        "$1,275.00",
        "w.csv: row 4, column paid: Input should be greater than or equal to 0",
        "w.csv: row 4, column remittance_date: not a valid date: that month has no such day",
    ]
    assert not any(secret in e for e in result.row_errors)


def test_json_amounts_and_dates_as_text(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    path.write_text(json.dumps([
        {"claim_id": "J1", "payer_name": "ACME", "member_id": "M1", "service_date": "9/2/2026",
         "procedure_code": "90837", "billed": "$1,200.10", "paid": "0",
         "adjustments": [{"group": "CO", "reason": "50", "amount": "$1,200.10"}]},
        {"claim_id": "J2", "payer_name": "ACME", "member_id": "M1", "service_date": 20260902,
         "procedure_code": "90837", "billed": 1, "adjustments": "CO-50"},
    ]), encoding="utf-8")
    result = read_queue(path, source="q.json")
    (denial,) = result.denials
    assert denial.service_date == date(2026, 9, 2)
    assert denial.billed == denial.adjustments[0].amount == Decimal("1200.10")
    assert result.row_errors == ["q.json: row 2, column service_date: a date is expected: "
                                 "write the date as YYYY-MM-DD or MM/DD/YYYY"]


def test_a_tab_separated_txt_and_excel_unicode_text(tmp_path: Path) -> None:
    rows = [["claim_id", "payer_name", "member_id", "service_date", "procedure_code",
             "modifiers", "billed", "adjustments"],
            ["T1", "ACME, INC", "M1", "9/2/2026", "29877", "59,RT", "$1,200.00", "CO-97"]]
    text = "".join("\t".join(r) + "\r\n" for r in rows)
    for name, encoding in (("tabs.txt", "utf-8"), ("unicode.txt", "utf-16")):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        result = read_queue(path)
        assert result.row_errors == [], name
        (denial,) = result.denials
        assert denial.payer.name == "ACME, INC" and denial.billed == Decimal("1200.00")
        assert denial.procedure is not None and denial.procedure.modifiers == ("59", "RT")


def test_the_format_is_told_by_content_not_by_name(tmp_path: Path) -> None:
    csv_as_txt = tmp_path / "worklist.txt"
    csv_as_txt.write_text(HEADER + "A1,ACME,M1,DOE,2026-01-05,99213,,100,0,CO-50:100,,\n",
                          encoding="utf-8")
    json_as_csv = tmp_path / "export.csv"
    json_as_csv.write_text('\ufeff\n  [{"claim_id": "J1"}]', encoding="utf-8")
    assert [d.claim_id for d in read_queue(csv_as_txt).denials] == ["A1"]
    assert read_queue(json_as_csv).row_errors[0].endswith(
        "row 1, column payer_name: required value is missing")

    def sniff(path: Path) -> Sniffed:
        return sniff_queue(path, path.read_bytes()[:SNIFF_BYTES])

    assert sniff(csv_as_txt) == Sniffed("csv") and sniff(json_as_csv) == Sniffed("json")
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    old_excel = tmp_path / "old.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    prose = tmp_path / "notes.txt"
    prose.write_text("Call the payer on Monday.\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text(" \n\n", encoding="utf-8")
    assert sniff(archive).problem == "a ZIP archive that is not an .xlsx workbook"
    assert "old-format .xls" in sniff(old_excel).problem
    assert sniff(prose).problem == "text that is not a CSV table"
    assert sniff(empty).problem == "empty"
    assert sniff_queue(prose, b"\x89PNG\r\n\x1a\n\x00\x00").problem == "binary data"
    with pytest.raises(QueueFileError, match="not a denial queue"):
        read_queue(prose)


XLSX_HEADER = ["Claim ID", "Payer Name", "Member ID", "Patient DOB", "Service Date",
               "Procedure Code", "Modifiers", "Units", "Billed", "Paid", "Adjustments",
               "Rendering NPI"]


def _workbook(path: Path, rows: list[list[Any]], *, sheet: str = "Sheet1",
              before: tuple[str, ...] = ()) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    first = book.active
    for index, title in enumerate(before):
        other = first if index == 0 else book.create_sheet(title)
        other.title = title
        other.append(["not", "the", "worklist"])
    data = book.create_sheet(sheet) if before else first
    data.title = sheet
    for row in rows:
        data.append(row)
    book.save(path)
    return path


def test_an_xlsx_worklist_with_excel_dates_and_numbers(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "worklist.xlsx", [
        XLSX_HEADER,
        [100234, "ACME", "M1", datetime(1968, 4, 19), date(2026, 9, 2), 90837, None, 1,
         1275.1, 0, "CO-50", 1987654328],
        ["A2", "ACME", "M2", "04/19/1968", "09/02/2026", "64483", "RT", None, "$1,275.00",
         "$0.00", "CO-197:$1,275.00", None],
        [None] * 12,
        ["A3", "ACME", "M3", None, 46267, "99213", 25, None, 100.5, 0, "CO-50", None],
        ["A4", "ACME", "M4", None, datetime(2026, 9, 2, 14, 30), "99213", 25, None, 0.1,
         0, "CO-50", None, "a cell past the header"],
        ["A5", "ACME", "M5", None, datetime(2026, 9, 3, 14, 30), "99213", 25, None, 0.1, 0,
         "CO-50", None],
    ])
    result = read_queue(path, source="w.xlsx")
    first, second, fifth = result.denials
    assert first.claim_id == "100234" and first.procedure is not None
    assert first.procedure.code == "90837" and first.procedure.units == Decimal(1)
    assert first.patient.date_of_birth == date(1968, 4, 19)
    assert first.service_date == date(2026, 9, 2)
    assert first.billed == Decimal("1275.1") and first.denied_amount == Decimal("1275.1")
    assert first.rendering_provider is not None
    assert first.rendering_provider.npi == "1987654328"
    assert second.billed == second.adjustments[0].amount == Decimal("1275.00")
    assert fifth.service_date == date(2026, 9, 3)  # the time of day is not part of the date
    assert fifth.billed == Decimal("0.1")  # the float's shortest text, not 0.1000000000000000055
    assert fifth.procedure is not None and fifth.procedure.modifiers == ("25",)
    assert [d.source.row for d in result.denials] == [1, 2, 6]  # row N = sheet row N + 1
    assert result.rows == 5
    assert result.row_errors == [
        "w.xlsx: row 4, column service_date: write the date as YYYY-MM-DD or MM/DD/YYYY",
        "w.xlsx: row 5: more cells than header columns"]


def test_the_denials_sheet_else_the_first(tmp_path: Path) -> None:
    row = ["A1", "ACME", "M1", None, "2026-09-02", "99213", None, None, 100, 0, "CO-50",
           None]
    named = _workbook(tmp_path / "named.xlsx", [XLSX_HEADER, row], sheet="Denials",
                      before=("Summary", "Totals"))
    result = read_queue(named)
    assert [d.claim_id for d in result.denials] == ["A1"] and result.warnings == []
    first = _workbook(tmp_path / "first.xlsx", [XLSX_HEADER, row], sheet="August",
                      before=("Summary",))
    with pytest.raises(QueueFileError, match="missing required column"):
        read_queue(first)  # the first sheet is the summary, not the worklist
    only = _workbook(tmp_path / "only.xlsx", [XLSX_HEADER, row], sheet="August")
    assert [d.claim_id for d in read_queue(only).denials] == ["A1"]


def test_a_workbook_that_cannot_be_read_is_one_file_error(tmp_path: Path) -> None:
    empty = _workbook(tmp_path / "empty.xlsx", [])
    with pytest.raises(QueueFileError, match="the worksheet is empty"):
        read_queue(empty)
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(damaged, "w") as z:
        z.writestr("xl/workbook.xml", "<not-a-workbook")
    with pytest.raises(QueueFileError, match=r"the workbook cannot be read \(\w+\)"):
        read_queue(damaged)


def test_several_other_sheets_are_named_in_a_warning(tmp_path: Path) -> None:
    row = ["A1", "ACME", "M1", None, "2026-09-02", "99213", None, None, 100, 0, "CO-50",
           None]
    path = _workbook(tmp_path / "w.xlsx", [XLSX_HEADER, row], sheet="Worklist")
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(path)
    book.create_sheet("Notes")
    book.save(path)
    result = read_queue(path, source="w.xlsx")
    assert result.warnings == ["w.xlsx: read the first worksheet; 1 other(s) ignored (name "
                               "one 'denials' to read that one)"]
