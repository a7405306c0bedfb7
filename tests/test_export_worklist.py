"""`appeals export worklist --db FILE --format csv|xlsx --out FILE` (a contract)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.export import HEADER
from agent.application.workflow import open_workflow, run_batch
from agent.cli import app
from agent.config import AppConfig
from agent.store.records import LetterRecord
from agent.store.sqlite import SqliteStore
from tests.remits import claim, line, remit, write

CONTRACT = ("denial_id", "claim_id", "payer", "procedure", "reasons", "action", "reason",
            "missing_evidence", "appeal_deadline", "denied_amount", "letter_id",
            "letter_status", "outcome", "recovered_amount")
"""The columns outside checks rely on, in this order."""
AMOUNT = re.compile(r"-?\d+\.\d\d")
ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d")

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Denials of two runs: one overturned later, one with a letter sent, one open."""
    folder = tmp_path_factory.mktemp("export")
    bundled = line("99213", "150.00", "0", ("CO", "97", "150.00"), modifiers=("25",),
                   remarks=("M80",))
    owed = line("99214", "90.00", "0", ("PR", "1", "90.00"))
    jan = write(folder, "jan.835", remit([claim("PCN1", bundled), claim("PCN3", owed)],
                                         produced="20260105"))
    formula = write(folder, "formula.835", remit(
        [claim("PCN8", line("99215", "275.50", "0", ("CO", "50", "275.50")))],
        produced="20260105", payer="=1+1", payer_id="EVIL1"))
    paid = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",))
    mar = write(folder, "mar.835", remit([claim("PCN1", paid)], produced="20260310"))
    path = folder / "appeals.db"
    for inputs in ([jan, formula], [mar]):
        with open_workflow(path, folder / "out", None, AppConfig(),
                           today=date(2026, 3, 20)) as workflow:
            run_batch(workflow, inputs)
    store = SqliteStore(path)
    try:
        (record,) = [r for r in store.get_denials(store.list_denial_ids())
                     if r.denial.claim_id == "PCN3"]
        store.save_letter(LetterRecord(
            letter_id="lt_sent", group_id="grp_x", claim_id="PCN3",
            denial_ids=[record.denial.denial_id], status="sent", markdown="letters/x.md",
            content_hash="sha256:0", sent_on=date(2026, 2, 1), sent_via="mail"))
        store.save_denials([record.model_copy(update={"letter_id": "lt_sent"})])
    finally:
        store.close()
    yield path


def _export(db: Path, out: Path, format: str) -> None:
    done = runner.invoke(app, ["export", "worklist", "--db", str(db), "--format", format,
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == f"{out}: 3 denials ({format})"


def _by_claim(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["claim_id"]): r for r in rows}


def test_csv_has_the_contract_header_and_plain_values(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "worklist.csv"
    _export(db, out, "csv")
    assert out.stat().st_mode & 0o777 == 0o600  # it names claims: its owner's only
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw  # UTF-8, no BOM, \n
    text = raw.decode("utf-8")
    header = text.split("\n", 1)[0].split(",")
    assert tuple(header[:len(CONTRACT)]) == CONTRACT and tuple(header) == HEADER
    rows = _by_claim(list(csv.DictReader(io.StringIO(text))))
    assert set(rows) == {"PCN1", "PCN3", "PCN8"}
    overturned = rows["PCN1"]
    assert {k: overturned[k] for k in ("payer", "procedure", "reasons", "denied_amount",
                                       "outcome", "recovered_amount", "letter_id",
                                       "letter_status", "missing_evidence")} == {
        "payer": "ACME HEALTH PLAN", "procedure": "99213-25", "reasons": "CO-97;M80",
        "denied_amount": "150.00", "outcome": "overturned", "recovered_amount": "120.00",
        "letter_id": "", "letter_status": "", "missing_evidence": ""}
    # Paid since: nothing to appeal (docs/outcomes.md, a denial the payer has since paid).
    assert overturned["action"] == "no_action"
    assert str(overturned["reason"]).startswith("Paid on a later remittance of 2026-03-10")
    assert ISO_DAY.fullmatch(str(overturned["appeal_deadline"]))
    assert (overturned["outcome_date"], overturned["service_date"]) == ("2026-03-10",
                                                                        "2026-08-10")
    sent = rows["PCN3"]
    assert (sent["action"], sent["reasons"], sent["outcome"], sent["recovered_amount"]) == (
        "patient_responsibility", "PR-1", "open", "")
    assert (sent["letter_id"], sent["letter_status"], sent["letter_sent_on"],
            sent["letter_sent_via"]) == ("lt_sent", "sent", "2026-02-01", "mail")
    # A payer named like a formula is shown as text by a spreadsheet opening the CSV.
    assert rows["PCN8"]["denied_amount"] == "275.50" and rows["PCN8"]["payer"] == "'=1+1"
    for row in rows.values():
        assert row["outcome"] in ("open", "overturned", "partial", "upheld")
        assert AMOUNT.fullmatch(str(row["denied_amount"]))
        assert row["recovered_amount"] == "" or AMOUNT.fullmatch(str(row["recovered_amount"]))


def test_xlsx_has_one_sheet_the_same_header_and_amounts_as_numbers(db: Path,
                                                                   tmp_path: Path) -> None:
    import openpyxl  # type: ignore[import-untyped]

    out = tmp_path / "worklist.xlsx"
    _export(db, out, "xlsx")
    book = openpyxl.load_workbook(out)
    assert len(book.sheetnames) == 1
    sheet = book[book.sheetnames[0]]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == HEADER
    named = _by_claim([dict(zip(HEADER, r, strict=True)) for r in rows[1:]])
    overturned = named["PCN1"]
    assert isinstance(overturned["denied_amount"], int | float)
    assert overturned["denied_amount"] == 150 and overturned["recovered_amount"] == 120
    assert (overturned["outcome"], overturned["procedure"], overturned["reasons"]) == (
        "overturned", "99213-25", "CO-97;M80")
    assert ISO_DAY.fullmatch(str(overturned["appeal_deadline"]))  # text, as in the CSV
    assert named["PCN3"]["recovered_amount"] is None and named["PCN3"]["outcome"] == "open"
    assert named["PCN8"]["denied_amount"] == pytest.approx(275.5)
    # A payer named like a formula stays text: the workbook never computes it.
    (cell,) = [c for r in sheet.iter_rows() for c in r if c.value == "=1+1"]
    assert cell.data_type == "s"


def test_the_export_needs_a_store_and_a_writable_destination(db: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["export", "worklist", "--db", str(tmp_path / "none.db"),
                                  "--format", "csv", "--out", str(tmp_path / "w.csv")])
    assert missing.exit_code == 2 and "no database" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    nowhere = runner.invoke(app, ["export", "worklist", "--db", str(db), "--format", "csv",
                                  "--out", str(tmp_path / "no-such-folder" / "w.csv")])
    assert nowhere.exit_code == 2 and "cannot be written" in nowhere.stderr
    assert len(nowhere.stderr.strip().splitlines()) == 1
    bad = runner.invoke(app, ["export", "worklist", "--db", str(db), "--format", "pdf",
                              "--out", str(tmp_path / "w.pdf")])
    assert bad.exit_code == 2
