"""NCCI PTP edits: the shared CMS subset, the shipped subset, CMS file layouts, import."""

from __future__ import annotations

import csv
import zipfile
from datetime import date
from pathlib import Path

import pytest

from agent.ncci import (
    PROJECT_COLUMNS,
    ModifierIndicator,
    PairedEdit,
    PtpEdit,
    PtpFormatError,
    PtpTable,
    import_ptp_table,
    read_ptp_edits,
)
from tests.conftest import EXTERNAL, require_shared

NORTHSTAR = EXTERNAL / "cms-northstar"
PRACTITIONER = NORTHSTAR / "ncci_ptp_practitioner_2024-07-01_subset_long.csv"
OUTPATIENT = NORTHSTAR / "ncci_ptp_outpatient_hospital_2024-07-01_subset_long.csv"
DOS = date(2024, 7, 1)

PLAYBOOK_CODES = ({"29877", "29880", "29881", "93306", "00840", "20610"}
                  | {str(c) for c in range(99202, 99216)}
                  | {str(c) for c in range(90832, 90839)})

# A CMS quarterly TXT file as CMS lays it out (tab separated, copyright preamble, YYYYMMDD
# dates, '*' = no deletion). Codes and rows are illustrative.
CMS_TXT = (
    "CPT only copyright 2024 American Medical Association. All rights reserved.\r\n"
    "\r\n"
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\r\n"
    "29881\t29877\t\t20120101\t*\t0\tMisuse of Column Two code with Column One code\r\n"
    "29881\t20610\t\t20090101\t*\t1\tMisuse of Column Two code with Column One code\r\n"
    "29881\t29877\t*\t19960101\t20020101\t9\tMisuse of Column Two code with Column One code\r\n"
    "99214\t99212\t\t20200101\t20250101\t1\tMisuse of Column Two code with Column One code\r\n"
)


@pytest.fixture(scope="module")
def shared() -> PtpTable:
    return PtpTable.load(require_shared(PRACTITIONER))


@pytest.fixture(scope="module")
def shipped() -> PtpTable:
    return PtpTable.default()


@pytest.mark.parametrize("table_name", ["shared", "shipped"])
def test_knee_arthroscopy_pairs(table_name: str, request: pytest.FixtureRequest) -> None:
    table: PtpTable = request.getfixturevalue(table_name)
    edit = table.edit_for("29881", "29877", DOS)
    assert edit is not None
    assert (edit.column_1, edit.column_2, edit.modifier_indicator) == ("29881", "29877", "0")
    assert edit.deletion_date is None and not edit.bypassable
    assert table.edit_for("29877", "29881", DOS) == edit  # either order finds it
    arthrocentesis = table.edit_for("20610", "29881", DOS)
    assert arthrocentesis is not None
    assert (arthrocentesis.column_1, arthrocentesis.modifier_indicator) == ("29881", "1")
    assert arthrocentesis.bypassable


@pytest.mark.parametrize("table_name", ["shared", "shipped"])
def test_no_edit_pairs_echo_with_office_visit(table_name: str,
                                              request: pytest.FixtureRequest) -> None:
    table: PtpTable = request.getfixturevalue(table_name)
    for em in ("99212", "99213", "99214", "99215"):
        assert table.edit_for(em, "93306", DOS) is None
        assert table.edit_for("93306", em, DOS) is None


def test_deleted_edit_applies_until_the_day_before_its_deletion(shared: PtpTable) -> None:
    # 00840 / 90835: deleted 1998-03-31 in the CMS table of 2024-07-01.
    assert shared.edit_for("00840", "90835", date(1998, 3, 30)) is not None
    assert shared.edit_for("00840", "90835", date(1998, 3, 31)) is None
    assert shared.edit_for("90835", "00840", DOS) is None


def test_indicator_9_and_not_yet_effective_edits_do_not_apply() -> None:
    table = PtpTable([
        PtpEdit("11111", "22222", None, date(2002, 1, 1), "9", "deleted"),
        PtpEdit("33333", "44444", date(2025, 1, 1), None, "0", "new"),
    ])
    assert table.edit_for("11111", "22222", date(2001, 6, 1)) is None
    assert table.edit_for("33333", "44444", date(2024, 12, 31)) is None
    assert table.edit_for("44444", "33333", date(2025, 1, 1)) is not None
    assert len(table) == 2


def test_the_stricter_of_two_active_rows_wins() -> None:
    table = PtpTable([PtpEdit("11111", "22222", None, None, "1", "a"),
                      PtpEdit("11111", "22222", None, None, "0", "b")])
    found = table.edit_for("11111", "22222", DOS)
    assert found is not None and found.modifier_indicator == "0"


# --- pairing a denied code with the claim's other codes --------------------------------

KNEE = PtpTable([
    PtpEdit("29881", "29877", None, None, "0", "bundled"),
    PtpEdit("29881", "20610", None, None, "1", "distinct site"),
    PtpEdit("29880", "29877", date(2024, 1, 1), date(2025, 1, 1), "1", "dated"),
    PtpEdit("29870", "29877", None, None, "9", "not applicable"),
], covered_codes=frozenset({"29877", "29881"}))


def test_pairing_with_the_denied_code_in_column_2() -> None:
    pairing = KNEE.pairing("29877", ("29881", "29877"), DOS)
    assert pairing.partners == ("29881",)
    assert pairing.edits == (PairedEdit("29877", "29881", PtpEdit(
        "29881", "29877", None, None, "0", "bundled")),)
    assert pairing.edits[0].denied_is_column_2
    assert pairing.denying == pairing.edits and pairing.reverse == ()
    assert pairing.deciding is not None and pairing.deciding.edit.modifier_indicator == "0"


def test_pairing_with_the_denied_code_in_column_1() -> None:
    pairing = KNEE.pairing("29881", ("29877", "20610", "29881"), DOS)
    assert [p.partner for p in pairing.edits] == ["29877", "20610"]
    assert not any(p.denied_is_column_2 for p in pairing.edits)
    assert pairing.reverse == pairing.edits and pairing.denying == ()
    assert pairing.deciding is None


def test_pairing_a_partner_paired_both_ways() -> None:
    table = PtpTable([PtpEdit("11111", "22222", None, None, "1", "a"),
                      PtpEdit("22222", "11111", None, None, "0", "b")])
    pairing = table.pairing("11111", ["22222"], DOS)
    assert [(p.edit.column_1, p.denied_is_column_2) for p in pairing.edits] == [
        ("11111", False), ("22222", True)]  # the denied code in column 1 first
    assert pairing.deciding is not None and pairing.deciding.edit.rationale == "b"
    assert pairing.with_partner("22222") == pairing.edits


@pytest.mark.parametrize(("indicator", "applies", "bypassable"), [
    ("0", True, False), ("1", True, True), ("9", False, False)])
def test_pairing_by_modifier_indicator(indicator: ModifierIndicator, applies: bool,
                                       bypassable: bool) -> None:
    table = PtpTable([PtpEdit("29881", "20610", None, None, indicator, "x")])
    deciding = table.pairing("20610", ["29881"], DOS).deciding
    assert (deciding is not None) == applies
    if deciding is not None:
        assert deciding.edit.modifier_indicator == indicator
        assert deciding.edit.bypassable == bypassable


def test_the_deciding_edit_is_indicator_0_then_claim_order() -> None:
    table = PtpTable([PtpEdit("11111", "20610", None, None, "1", "a"),
                      PtpEdit("22222", "20610", None, None, "0", "b"),
                      PtpEdit("33333", "20610", None, None, "1", "c")])

    def deciding(*others: str) -> str | None:
        found = table.pairing("20610", others, DOS).deciding
        return found.partner if found else None

    assert deciding("11111", "22222", "33333") == "22222"
    assert deciding("11111", "33333") == "11111"
    assert deciding("33333", "11111") == "33333"
    assert deciding("44444") is None


@pytest.mark.parametrize(("day", "applies"), [
    (date(2023, 12, 31), False), (date(2024, 1, 1), True), (date(2024, 12, 31), True),
    (date(2025, 1, 1), False)])
def test_pairing_only_within_the_effective_dates(day: date, applies: bool) -> None:
    pairing = KNEE.pairing("29877", ["29880"], day)
    assert bool(pairing.edits) == applies
    assert pairing.partners == ("29880",) and pairing.known


def test_pairing_without_a_date_of_service_finds_no_edit() -> None:
    pairing = KNEE.pairing("29877", ["29881", "99213"], None)
    assert pairing.edits == () and pairing.deciding is None
    assert pairing.partners == ("29881", "99213") and pairing.known


def test_pairing_codes_not_in_the_table() -> None:
    unknown = KNEE.pairing("99213", ["93306", "29881"], DOS)
    assert unknown.edits == ()
    assert unknown.unvouched == ("93306",) and not unknown.known
    assert unknown.unknown_partners == ("93306",)
    vouched = KNEE.pairing("29877", ["99213"], DOS)  # the subset was cut for 29877
    assert vouched.edits == () and vouched.known and vouched.unknown_partners == ()
    assert PtpTable([]).pairing("99213", ["93306"], DOS).known  # a full table covers all


def test_an_edit_is_a_fact_even_where_the_subset_cannot_vouch() -> None:
    table = PtpTable([PtpEdit("11111", "22222", None, None, "1", "a")], frozenset())
    pairing = table.pairing("22222", ["11111", "33333"], DOS)
    assert pairing.unvouched == ("11111", "33333") and not pairing.known
    assert pairing.unknown_partners == ("33333",)


@pytest.mark.parametrize("table_name", ["shared", "shipped"])
def test_pairing_the_knee_claim(table_name: str, request: pytest.FixtureRequest) -> None:
    table: PtpTable = request.getfixturevalue(table_name)
    chondroplasty = table.pairing("29877", ("29881", "20610", "29877"), DOS).deciding
    assert chondroplasty is not None and chondroplasty.partner == "29881"
    assert chondroplasty.edit.modifier_indicator == "0"
    arthrocentesis = table.pairing("20610", ("29881", "29877", "20610"), DOS).deciding
    assert arthrocentesis is not None and arthrocentesis.edit.bypassable


@pytest.mark.needs_shared
def test_shipped_subset_is_cut_from_the_shared_file_by_playbook_codes() -> None:
    with PRACTITIONER.open(encoding="utf-8", newline="") as f:
        shared_rows = {(r["column_1"], r["column_2"], r["deletion_date"],
                        r["modifier_indicator"], r["ptp_edit_rationale"])
                       for r in csv.DictReader(f)}
    subset = Path(__file__).resolve().parents[1] / "agent" / "data" / "ncci_ptp_subset.csv"
    with subset.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == PROJECT_COLUMNS
        rows = list(reader)
    assert 2000 < len(rows) < 3000
    for r in rows:
        assert (r["column_1"], r["column_2"], r["deletion_date"], r["modifier_indicator"],
                r["ptp_edit_rationale"]) in shared_rows
        assert r["column_1"] in PLAYBOOK_CODES or r["column_2"] in PLAYBOOK_CODES
        assert r["modifier_indicator"] != "9" and r["deletion_date"] >= "2020-01-01"
    assert len(PtpTable.default()) == len(rows)


@pytest.mark.needs_shared
def test_outpatient_hospital_table_loads_and_several_files_merge() -> None:
    assert len(PtpTable.load(OUTPATIENT)) == 4148
    both = PtpTable.load([PRACTITIONER, OUTPATIENT])
    assert len(both) == 5319 + 4148


def test_from_files_or_default(tmp_path: Path) -> None:
    assert len(PtpTable.from_files_or_default([])) == len(PtpTable.default())
    src = tmp_path / "ccipra-v302r0-f1.txt"
    src.write_text(CMS_TXT, encoding="cp1252")
    assert len(PtpTable.from_files_or_default([src])) == 4


def test_reads_the_cms_quarterly_txt_layout(tmp_path: Path) -> None:
    src = tmp_path / "ccipra-v302r0-f1.txt"
    src.write_bytes(CMS_TXT.replace("copyright", "copyright \xa9").encode("cp1252"))
    edits = list(read_ptp_edits(src))
    assert edits[0] == PtpEdit("29881", "29877", date(2012, 1, 1), None, "0",
                               "Misuse of Column Two code with Column One code")
    assert edits[2].deletion_date == date(2002, 1, 1) and edits[2].modifier_indicator == "9"
    table = PtpTable(edits)
    assert table.edit_for("99214", "99212", date(2024, 12, 31)) is not None
    assert table.edit_for("99214", "99212", date(2025, 1, 1)) is None


def test_reads_a_header_split_over_rows_and_a_csv_export(tmp_path: Path) -> None:
    split = tmp_path / "split.txt"
    split.write_text(
        "CPT only copyright 2024 American Medical Association.\n"
        "Column1/Column2 Edits\n"
        "Column 1\tColumn 2\t*=in existence\tEffective\tDeletion\tModifier\tPTP Edit Rationale\n"
        "\t\tprior to 1996\tDate\tDate *=no data\t0=not allowed 1=allowed 9=not applicable\t\n"
        "29881\t29877\t\t20120101\t*\t0\tMisuse\n", encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text(
        '"CPT only copyright 2024 American Medical Association."\n'
        "COL1,COL2,Prior to 1996 flag,EFFECTIVE DATE,DELETION DATE,MODIFIER,RATIONALE\n"
        "29881,29877,,1/1/2012,*,0,Misuse\n", encoding="utf-8")
    four_rows = tmp_path / "four_rows.txt"
    four_rows.write_text(
        "CPT only copyright 2024 American Medical Association.\n"
        "Column1/Column2 Edits\n"
        "Column\tColumn\t*=in\tEffective\tDeletion\tModifier\tPTP Edit\n"
        "1\t2\texistence\tDate\tDate\t0=not allowed\tRationale\n"
        "\t\tprior to\t\t*=no data\t1=allowed\t\n"
        "\t\t1996\t\t\t9=not applicable\t\n"
        "\n"
        "29881\t29877\t\t20120101\t*\t0\tMisuse\n", encoding="utf-8")
    expected = PtpEdit("29881", "29877", date(2012, 1, 1), None, "0", "Misuse")
    assert list(read_ptp_edits(split)) == [expected]
    assert list(read_ptp_edits(four_rows)) == [expected]
    assert list(read_ptp_edits(export)) == [expected]


def test_import_round_trip_in_the_project_layout(tmp_path: Path) -> None:
    src = tmp_path / "ccipra-v302r0-f1.txt"
    src.write_text(CMS_TXT + CMS_TXT.splitlines(keepends=True)[3], encoding="utf-8")
    dest = tmp_path / "ptp.csv"
    assert import_ptp_table(src, dest) == 4  # the duplicated row is written once
    with dest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == PROJECT_COLUMNS
    assert rows[1:3] == [
        ["29881", "20610", "2009-01-01", "9999-12-31", "1",
         "Misuse of Column Two code with Column One code"],
        ["29881", "29877", "1996-01-01", "2002-01-01", "9",
         "Misuse of Column Two code with Column One code"],
    ]
    assert set(read_ptp_edits(dest)) == set(read_ptp_edits(src))
    again = tmp_path / "again.csv"
    assert import_ptp_table(dest, again) == 4
    assert again.read_bytes() == dest.read_bytes()


def test_import_reads_a_zip_and_filters(tmp_path: Path) -> None:
    src = tmp_path / "ccipra-v302r0-f1.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("ccipra-v302r0-f1.TXT", CMS_TXT)
        archive.writestr("README.pdf", b"%PDF")
    dest = tmp_path / "knee.csv"
    assert import_ptp_table(src, dest, keep=lambda e: e.modifier_indicator == "0") == 1
    (edit,) = read_ptp_edits(dest)
    assert (edit.column_1, edit.column_2) == ("29881", "29877")


@pytest.mark.parametrize(("text", "message"), [
    ("just some text\nnothing here\n", "no header row naming Column 1 and Column 2"),
    ("Column 1,Column 2,Rationale\n29881,29877,x\n", "no deletion_date, modifier_indicator"),
    ("column_1,column_2,deletion_date,modifier_indicator\n29881,29877,*,2\n",
     "line 2: modifier indicator must be 0, 1 or 9"),
    ("column_1,column_2,deletion_date,modifier_indicator\n29881,2987,*,0\n",
     "line 2: column 2 is not a 5-character"),
    ("column_1,column_2,deletion_date,modifier_indicator\n29881,29877,2024-13-01,0\n",
     "line 2: deletion date is not a date"),
    ("column_1,column_2,effective_date,deletion_date,modifier_indicator\n"
     "29881,29877,20240101,20230101,0\n", "deletion date is before the effective date"),
    ("column_1,column_2,deletion_date,modifier_indicator\n", "no edits to write"),
])
def test_import_rejects_what_it_cannot_trust(tmp_path: Path, text: str, message: str) -> None:
    src, dest = tmp_path / "bad.csv", tmp_path / "out.csv"
    src.write_text(text, encoding="utf-8")
    with pytest.raises(PtpFormatError, match=message) as caught:
        import_ptp_table(src, dest)
    assert str(caught.value).startswith("bad.csv")
    assert not dest.exists() and list(tmp_path.iterdir()) == [src]


def test_excel_workbooks_are_refused_with_a_hint(tmp_path: Path) -> None:
    src = tmp_path / "ccipra-v302r0-f1.xlsx"
    src.write_bytes(b"PK")
    with pytest.raises(PtpFormatError, match=r"use the \.txt file"):
        PtpTable.load(src)
