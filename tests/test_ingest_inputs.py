"""Inputs as people keep them: types told by content, folders, one denial from two sources."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.application.workflow import run_batch
from agent.cli import app
from agent.denials.model import Denial
from agent.ingest import DetectedInput, IngestStream, detect_input, ingest, plan_inputs
from tests.conftest import FIXTURES
from tests.test_workflow import _manifest, _open, knee_chart

runner = CliRunner()
BLUE_RIVER = FIXTURES / "835" / "blue-river-2026-09-02.835"
MEDICARE = FIXTURES / "835" / "medicare-b-2026-09-09.835"
HARBOR = FIXTURES / "queue" / "harbor-mutual-worklist.csv"
WORKLIST = Path(__file__).parent / "data" / "blue-river-worklist.txt"
"""Five rows against the Blue River 835: two of its lines (one with other modifiers' order
and US dates, one listed by the code billed), one with another line control number, one
with another payer, one the 835 does not have."""


def _by_claim(denials: list[Denial]) -> dict[str, list[Denial]]:
    out: dict[str, list[Denial]] = {}
    for denial in denials:
        out.setdefault(denial.claim_id, []).append(denial)
    return out


# Types by content

def test_types_are_told_by_content_not_by_name(tmp_path: Path) -> None:
    remittance = tmp_path / "era.txt"
    remittance.write_bytes(b"\xef\xbb\xbf\r\n  " + BLUE_RIVER.read_bytes())
    worklist = tmp_path / "worklist.835"
    shutil.copy(HARBOR, worklist)
    assert detect_input(remittance) == DetectedInput("835", "x12")
    assert detect_input(worklist) == DetectedInput("queue", "csv")
    report = ingest([remittance, worklist])
    assert report.errors == [] and report.summary.files_failed == 0
    assert [(f.kind, f.format) for f in report.files] == [("835", "x12"), ("queue", "csv")]
    assert report.summary.denials == len(ingest([BLUE_RIVER, HARBOR]).denials)


def test_an_x12_file_without_isa_still_gets_the_readers_message(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_text("GS*HP*A*B*20260902*1130*1*X*005010X221A1~ST*835*1~", encoding="utf-8")
    (result,) = ingest([path]).files
    assert result.kind == "835" and "missing ISA" in result.errors[0]


def test_a_file_of_no_known_type_is_one_error_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("SECRET patient called about the bill\n", encoding="utf-8")
    image = tmp_path / "scan.835"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    report = ingest([notes, image, empty, MEDICARE])
    assert report.errors == [
        f"{notes}: not an X12 835, a CSV or JSON denial queue, or an .xlsx workbook (text that "
        "is not a CSV table)",
        f"{image}: not an X12 835, a CSV or JSON denial queue, or an .xlsx workbook (binary "
        "data)",
        f"{empty}: the file is empty"]
    assert [f.kind for f in report.files] == ["unknown", "unknown", "unknown", "835"]
    assert report.summary.files_failed == 3 and report.exit_status == 1
    assert not any("SECRET" in e for e in report.errors)


def test_sniffing_reads_only_the_first_bytes_of_an_835(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    reads: list[int] = []
    real_open = open

    class Counting:
        def __init__(self, f: Any) -> None:
            self.f = f

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def read(self, size: int = -1) -> bytes:
            data: bytes = self.f.read(size)
            reads.append(len(data))
            return data

    def counting_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = real_open(path, mode, *args, **kwargs)
        return Counting(f) if mode == "rb" else f

    monkeypatch.setattr("builtins.open", counting_open)
    assert detect_input(BLUE_RIVER).kind == "835"
    assert reads == [4096] and BLUE_RIVER.stat().st_size > 4096


# Folders

def test_a_folder_is_every_file_in_it_sorted_and_the_rest_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    (folder / "done").mkdir(parents=True)
    shutil.copy(MEDICARE, folder / "b-medicare.835")
    shutil.copy(BLUE_RIVER, folder / "a-blue-river.edi")
    shutil.copy(HARBOR, folder / "c-harbor.txt")
    shutil.copy(HARBOR, folder / "done" / "old-harbor.csv")  # not read: not recursive
    (folder / "readme.txt").write_text("Drop remittances here.\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "~$c-harbor.xlsx").write_bytes(b"\x0bowner")
    plan = plan_inputs([folder])
    assert [p.name for p in plan.files] == ["a-blue-river.edi", "b-medicare.835",
                                            "c-harbor.txt"]
    assert plan.warnings == [
        f"{folder / 'done'}: skipped: a folder inside a folder is not read",
        f"{folder / 'readme.txt'}: skipped: not an X12 835, a CSV or JSON denial queue, or an "
        ".xlsx workbook (text that is not a CSV table)"]
    report = ingest([folder])
    assert report.errors == [] and report.warnings[:2] == plan.warnings
    assert report.summary.files == 3
    assert [d.denial_id for d in report.denials] == [
        d.denial_id for d in ingest([BLUE_RIVER, MEDICARE, HARBOR]).denials]
    assert report.denials[0].source.file == str(folder / "a-blue-river.edi")


def test_a_folder_with_nothing_to_read_fails(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / ".hidden.csv").write_text("x", encoding="utf-8")
    report = ingest([folder])
    assert report.errors == [f"{folder}: the folder has no X12 835, CSV, JSON or .xlsx file to "
                             "read"]
    assert report.exit_status == 2


def test_ingest_command_reads_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(BLUE_RIVER, folder / "era.835")
    shutil.copy(WORKLIST, folder / "worklist.txt")
    (folder / "fax.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    result = runner.invoke(app, ["ingest", "--json", str(folder)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["files"] == 2 and data["summary"]["merged"] == 2
    assert f"{folder / 'fax.pdf'}: skipped: " in data["warnings"][0]


def test_run_reads_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(BLUE_RIVER, folder / "era.835")
    shutil.copy(WORKLIST, folder / "worklist.txt")
    with _open(tmp_path, knee_chart(tmp_path / "fhir")) as workflow:
        run_batch(workflow, [str(folder)])
    denials = _manifest(tmp_path)["denials"]
    expected = ingest([folder]).denials
    assert sorted(d["denial_id"] for d in denials) == sorted(d.denial_id for d in expected)
    assert [d["claim_id"] for d in denials].count("LOM26-10412") == 1


# One denial from two sources

def test_an_835_line_and_its_worklist_row_are_one_denial() -> None:
    alone = {d.claim_id: d for d in ingest([BLUE_RIVER]).denials if d.procedure}
    report = ingest([BLUE_RIVER, WORKLIST])
    assert report.summary.merged == 2
    assert report.summary.denials == len(ingest([BLUE_RIVER]).denials) + 3
    by_claim = _by_claim(report.denials)
    knee, = by_claim["LOM26-10412"]
    # The 835 was listed first: its id and source lead, the worklist row follows.
    assert knee.denial_id == alone["LOM26-10412"].denial_id
    assert [(s.kind, s.file, s.row, s.segment) for s in knee.sources] == [
        ("835", str(BLUE_RIVER), None, 27), ("queue", str(WORKLIST), 1, None)]
    assert len(knee.merged_ids) == 1 and knee.merged_ids[0] != knee.denial_id
    # The 835's own record wins; the worklist adds what the 835 does not carry.
    assert knee.model_dump(exclude={"patient", "merged_sources", "merged_ids"}) == \
        alone["LOM26-10412"].model_dump(exclude={"patient", "merged_sources", "merged_ids"})
    assert knee.patient.date_of_birth == date(1968, 4, 19)
    assert knee.patient.first_name == "DENISE"  # from the 835: the worklist has none
    assert knee.received_date == date(2026, 8, 12)  # the 835's, not the worklist's
    psychotherapy, = by_claim["LOM26-10458"]  # listed by the code billed, 90837
    assert psychotherapy.procedure is not None
    assert psychotherapy.procedure.display == "90834 (billed 90837)"
    assert psychotherapy.billed == Decimal("240.00")  # the worklist says 250: 835 kept
    # Another line control number, another payer: not the same line.
    assert len(by_claim["LOM26-10471"]) == 2 and len(by_claim["LOM26-10433"]) == 2
    assert report.warnings == [
        f"{WORKLIST}: row 2: billed differ from the 835 ({BLUE_RIVER}, segment 45); the "
        "835's are kept"]


def test_the_input_listed_first_gives_the_id_whatever_is_read_first() -> None:
    report = ingest([WORKLIST, BLUE_RIVER])
    queue_first = {d.claim_id: d for d in ingest([WORKLIST]).denials}
    knee, = _by_claim(report.denials)["LOM26-10412"]
    assert knee.denial_id == queue_first["LOM26-10412"].denial_id
    assert [s.kind for s in knee.sources] == ["queue", "835"]
    assert knee.billed == Decimal("1200.00") and knee.claim_procedure_codes == (
        "29881", "29877")  # still the 835's record
    assert report.summary.merged == 2
    assert sorted(d.denial_id for d in report.denials) != sorted(
        d.denial_id for d in ingest([BLUE_RIVER, WORKLIST]).denials)


def test_identical_copies_are_still_duplicates_not_merges(tmp_path: Path) -> None:
    copy = tmp_path / "worklist-again.csv"
    shutil.copy(WORKLIST, copy)
    report = ingest([BLUE_RIVER, WORKLIST, copy, BLUE_RIVER])
    single = ingest([BLUE_RIVER, WORKLIST])
    assert [d.denial_id for d in report.denials] == [d.denial_id for d in single.denials]
    assert report.summary.merged == 2
    assert report.summary.duplicates == 5 + len(ingest([BLUE_RIVER]).denials)


def test_two_remittances_never_merge(tmp_path: Path) -> None:
    # A second 835 with the same lines under another payer claim number: a new decision.
    again = tmp_path / "reprocessed.835"
    again.write_text(BLUE_RIVER.read_text().replace("*26218000412*", "*26299000412*"))
    report = ingest([BLUE_RIVER, again])
    assert report.summary.merged == 0
    assert len(_by_claim(report.denials)["LOM26-10412"]) == 2


def test_a_worklist_row_pairs_with_one_835_line_only(tmp_path: Path) -> None:
    again = tmp_path / "reprocessed.835"
    again.write_text(BLUE_RIVER.read_text().replace("*26218000412*", "*26299000412*"))
    report = ingest([BLUE_RIVER, again, WORKLIST])
    knees = _by_claim(report.denials)["LOM26-10412"]
    assert [len(k.merged_sources) for k in knees] == [1, 0]
    assert report.summary.merged == 2


def test_streaming_gives_what_ingest_gives_with_merges() -> None:
    inputs = [WORKLIST, MEDICARE, BLUE_RIVER, HARBOR]
    stream = IngestStream(inputs)
    streamed = list(stream)
    assert stream.report(streamed) == ingest(inputs)
    # 835s first, by production date (Blue River's 2026-09-02 before Medicare's
    # 2026-09-09, whatever the order given), then the queues' other rows in the order given.
    kinds = [d.source.kind if not d.merged_sources else "835" for d in streamed]
    assert kinds == sorted(kinds)
    assert [f.source for f in stream.files] == [str(p) for p in (BLUE_RIVER, MEDICARE,
                                                                  WORKLIST, HARBOR)]


def test_ingest_command_summary_counts_the_merges() -> None:
    result = runner.invoke(app, ["ingest", str(BLUE_RIVER), str(WORKLIST)])
    assert result.exit_code == 0, result.output
    assert "15 denials" in result.stdout
    assert "2 denials found in both an 835 and a worklist, merged" in result.stdout
    data = json.loads(runner.invoke(app, ["ingest", "--json", str(BLUE_RIVER),
                                          str(WORKLIST)]).stdout)
    knee = next(d for d in data["denials"] if d["claim_id"] == "LOM26-10412")
    assert [s["kind"] for s in [knee["source"], *knee["merged_sources"]]] == ["835", "queue"]


def test_an_xlsx_worklist_merges_like_a_csv(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    import csv

    book = openpyxl.Workbook()
    with open(WORKLIST, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            book.active.append(row)
    path = tmp_path / "worklist.xlsx"
    book.save(path)
    from_csv = ingest([BLUE_RIVER, WORKLIST])
    from_xlsx = ingest([BLUE_RIVER, path])
    assert from_xlsx.summary.merged == 2 and from_xlsx.errors == []
    assert [f.format for f in from_xlsx.files] == ["x12", "xlsx"]
    assert [d.denial_id for d in from_xlsx.denials] == [d.denial_id for d in from_csv.denials]


def test_a_bad_row_never_sinks_the_worklist_or_its_merges(tmp_path: Path) -> None:
    path = tmp_path / "worklist.csv"
    lines = WORKLIST.read_text(encoding="utf-8").splitlines()
    bad = "LOM26-10500,BLUE RIVER HEALTH PLAN,BRHP1,SECRETID,,19/04/1968,08/04/2026,29877,," \
        "$12.34.56,0,CO-97,,,"
    path.write_text("\n".join([lines[0], bad, *lines[1:]]) + "\n", encoding="utf-8")
    report = ingest([BLUE_RIVER, path])
    worklist = report.files[1]
    assert worklist.status == "partial" and worklist.rows == 6 and worklist.denials == 5
    assert report.errors == [
        f"{path}: row 1, column patient_dob: not a valid date: the month must be 1-12 (a date "
        "that ends with the year is read month first)",
        f"{path}: row 1, column billed: not an amount: write it like 1275.00, 1,275.00 or "
        "$1,275.00"]
    assert report.summary.merged == 2 and report.exit_status == 1
    assert not any("SECRET" in line for line in report.errors + report.warnings)


def test_an_unexpected_bug_in_a_worklist_fails_that_file_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.ingest

    def explode(path: Path, *args: object) -> object:
        raise RuntimeError("DOE, JANE")

    monkeypatch.setattr(agent.ingest, "_read_queue_file", explode)
    report = ingest([BLUE_RIVER, WORKLIST])
    assert report.errors == [f"{WORKLIST}: unexpected error (RuntimeError); the file was "
                             "skipped, please report this"]
    assert report.summary.denials == len(ingest([BLUE_RIVER]).denials)


def test_a_workbook_with_an_entity_bomb_is_one_error_line(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    import io
    import zipfile

    assert openpyxl.xml.DEFUSEDXML, "defusedxml is a dependency: openpyxl must use it"
    book = openpyxl.Workbook()
    book.active.append(["claim_id", "payer_name", "service_date", "procedure_code", "billed",
                        "paid", "adjustments"])
    book.active.append(["C1", "Payer", "2026-09-01", "99213", "100", "0", "CO-50:100"])
    plain = io.BytesIO()
    book.save(plain)
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10 if i else "ha"}">'
                       for i in range(10))
    path = tmp_path / "worklist.xlsx"
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source, \
            zipfile.ZipFile(path, "w") as bomb:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8").split("?>", 1)[-1].replace("C1", "&e9;", 1)
                data = f'<?xml version="1.0"?><!DOCTYPE x [{entities}]>{text}'.encode()
            bomb.writestr(item, data)
    report = ingest([path])
    assert report.denials == [] and len(report.errors) == 1
    assert report.errors[0].startswith(f"{path}: ") and "ha" not in report.errors[0]
