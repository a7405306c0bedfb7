"""`appeals ingest`: tables, JSON, one-line errors and exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.conftest import EXTERNAL, FIXTURES

runner = CliRunner()
BLUE_RIVER = str(FIXTURES / "835" / "blue-river-2026-09-02.835")
MEDICARE = str(FIXTURES / "835" / "medicare-b-2026-09-09.835")
WORKLIST = str(FIXTURES / "queue" / "harbor-mutual-worklist.csv")


def _truncated(tmp_path: Path) -> str:
    text = Path(BLUE_RIVER).read_text()
    path = tmp_path / "truncated.835"
    path.write_text(text[: text.index("CLP*LOM26-10519")])
    return str(path)


def test_ingest_prints_denials_and_summary() -> None:
    result = runner.invoke(app, ["ingest", BLUE_RIVER, MEDICARE, WORKLIST])
    assert result.exit_code == 0, result.output
    assert "LOM26-10458" in result.stdout and "90834 (billed 90837)" in result.stdout
    assert "17 denials" in result.stdout
    assert "Top reasons" in result.stdout and "CO-97" in result.stdout


def test_ingest_json_is_machine_readable() -> None:
    result = runner.invoke(app, ["ingest", "--json", BLUE_RIVER, WORKLIST])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["denials"] == len(data["denials"]) == 15
    assert data["summary"]["reversals"] == 1
    first = data["denials"][0]
    assert {"denial_id", "claim_id", "payer_claim_number", "payer", "patient", "procedure",
            "billed", "paid", "adjustments", "remarks", "source"} <= set(first)


def test_a_bad_file_is_one_line_and_the_others_are_read(tmp_path: Path) -> None:
    bad = _truncated(tmp_path)
    result = runner.invoke(app, ["ingest", "--json", bad, MEDICARE])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"{bad}: segment 87 (LX): the file ends inside a "
                                     "transaction set (no SE): it is truncated")
    assert json.loads(result.stdout)["summary"]["denials"] == 2
    assert "Traceback" not in result.output


def test_nothing_readable_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", _truncated(tmp_path)])
    assert result.exit_code == 2


def test_strict_exits_2_when_any_file_failed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "--strict", _truncated(tmp_path), MEDICARE])
    assert result.exit_code == 2


def test_usage_error_exits_2() -> None:
    assert runner.invoke(app, ["ingest"]).exit_code == 2


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.835")
    result = runner.invoke(app, ["ingest", missing, MEDICARE])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{missing}: cannot open the file")


@pytest.mark.needs_shared
def test_every_external_835_ingests_through_the_console_script() -> None:
    files = sorted(str(p) for p in EXTERNAL.glob("*/835/*"))
    proc = subprocess.run([sys.executable, "-m", "agent", "ingest", "--json", *files],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["files_failed"] == 0


def test_a_file_of_no_known_type_is_one_stderr_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.835"
    notes.write_text("Call the payer about claim 10458 on Monday.\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(notes), MEDICARE])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"{notes}: not an X12 835, a CSV or JSON denial queue, "
                                     "or an .xlsx workbook (text that is not a CSV table)")
    assert "2 denials" in result.stdout


def test_codes_command_describes_known_and_unknown_codes() -> None:
    result = runner.invoke(app, ["codes", "CO-50", "N115", "A2", "ZZ9"])
    assert result.exit_code == 0
    assert "medical necessity" in result.stdout
    assert "Local Coverage Determination" in result.stdout
    assert "[ended 2008-01-01]" in result.stdout
    assert "Unknown remark code ZZ9" in result.stdout


def test_an_unexpected_bug_fails_one_file_without_leaking_its_message(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import agent.ingest

    real = agent.ingest._read_835

    patient = "DOE, " + "JANE"  # built, so the traceback's source line does not show it

    def explode(path: Path, *args: object) -> object:
        if path.name.startswith("blue-river"):
            raise RuntimeError(patient)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(agent.ingest, "_read_835", explode)
    result = runner.invoke(app, ["ingest", "--json", BLUE_RIVER, MEDICARE])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"{BLUE_RIVER}: unexpected error (RuntimeError); the "
                                     "file was skipped, please report this")
    assert json.loads(result.stdout)["summary"]["denials"] == 2
    assert "RuntimeError" in caplog.text and "JANE" not in caplog.text


def test_ncci_import_command_writes_a_table_the_workflow_can_load(tmp_path: Path) -> None:
    source = tmp_path / "ptp.csv"
    source.write_text("column_1,column_2,deletion_date,modifier_indicator,ptp_edit_rationale\n"
                      "29881,29877,9999-12-31,0,Misuse of Column Two code with Column One code\n"
                      "29881,20610,9999-12-31,1,Misuse of Column Two code with Column One code\n")
    dest = tmp_path / "ptp-full.csv"
    result = runner.invoke(app, ["ncci", "import", str(source), str(dest)])
    assert result.exit_code == 0, result.output
    assert "2 edits" in result.stdout
    from datetime import date

    from agent.ncci import PtpTable
    table = PtpTable.load([dest])
    edit = table.edit_for("29877", "29881", date(2026, 1, 5))
    assert edit is not None and edit.modifier_indicator == "0"
    assert table.covers("11111", "22222")  # a full table vouches for every pair
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,ptp,table\n")
    failed = runner.invoke(app, ["ncci", "import", str(bad), str(tmp_path / "x.csv")])
    assert failed.exit_code == 2 and "appeals ncci import:" in failed.stderr
    missing = runner.invoke(app, ["ncci", "import", str(tmp_path / "none.csv"),
                                  str(tmp_path / "x.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
