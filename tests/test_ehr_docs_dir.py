"""``--ehr docs-dir:PATH``: a folder of exported notes and its index.csv, end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agent.application.workflow import open_workflow, run_batch
from agent.ehr.docs_dir import DocsDirAdapter
from agent.ehr.model import ChartRequest
from agent.ehr.protocols import EHRSourceError
from agent.ehr.registry import open_adapter
from tests.documents import pdf, rtf
from tests.practice import practice_config
from tests.test_workflow import GOOD_NOTE, INPUTS, TODAY

APPEALED = "LOM26-10601"  # member 1EG4TE5MK73, service 2026-08-18 (tests/test_reruns.py)
THIN = "LOM26-10433"  # member BRH660218734, service 2026-08-06


def folder(root: Path, rows: list[str], files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "index.csv").write_text("file,member_id,service_date,claim_id\n"
                                    + "".join(r + "\n" for r in rows), encoding="utf-8")
    return root


def test_a_run_reads_exported_notes_and_quotes_the_pdf_at_its_offsets(tmp_path: Path) -> None:
    lines = GOOD_NOTE.splitlines()[:5]  # the visit note, exported as a PDF
    docs = folder(tmp_path / "docs", [
        f"visits/0818.pdf,1EG4TE5MK73,2026-08-18,{APPEALED}",
        "scans/0806.pdf,BRH660218734,2026-08-06,",
    ], {"visits/0818.pdf": pdf(lines), "scans/0806.pdf": pdf(None)})
    with open_workflow(tmp_path / "appeals.db", tmp_path / "out", f"docs-dir:{docs}",
                       practice_config(), today=TODAY) as flow:
        manifest = run_batch(flow, INPUTS)
        texts = {ref.document_id: flow.ctx.store.get_document_text(ref.text_hash)
                 for record in flow.ctx.records([d.denial_id for d in manifest.denials])
                 for ref in record.documents}
    by_claim = {d.claim_id: d for d in manifest.denials}
    appealed = by_claim[APPEALED]
    assert appealed.triage.action == "appeal" and appealed.letter.status == "pending_review"
    text = texts["docs-dir/visits/0818.pdf"]
    assert text == "\n".join(lines) + "\n"
    for item in appealed.evidence:
        assert item.document_id == "docs-dir/visits/0818.pdf"
        assert text[item.start or 0:item.end] == item.quote
    thin = by_claim[THIN]  # its only note is a scan: said, not guessed
    assert thin.triage.action == "needs_review"
    assert "no text layer" in thin.triage.reason


def test_linking_by_claim_then_by_date(tmp_path: Path) -> None:
    docs = folder(tmp_path, [
        "a.txt,M1,2026-07-01,CLAIM-1",  # the claim's own note, whatever its date
        "b.rtf,M1,2026-08-07,",  # within the window
        "c.txt,M1,2026-08-20,CLAIM-9",  # another claim, outside the window
        "d.txt,M2,2026-08-06,CLAIM-1",  # another patient
    ], {"a.txt": b"own note\n", "b.rtf": rtf(["near note"]), "c.txt": b"far\n",
        "d.txt": b"other patient\n"})
    chart = DocsDirAdapter(docs).chart_for(ChartRequest(
        member_ids=("M0", "M1"), claim_id="CLAIM-1", service_date=date(2026, 8, 6),
        window_days=3))
    assert [(d.document_id, d.linked_by, d.text) for d in chart.documents] == [
        ("docs-dir/a.txt", "encounter", "own note\n"),
        ("docs-dir/b.rtf", "date_window", "near note\n")]
    assert chart.documents[0].title == "a.txt" and chart.patient is None
    nobody = DocsDirAdapter(docs).chart_for(ChartRequest(member_ids=("M9",), claim_id="X"))
    assert nobody.documents == () and "no note in the index" in nobody.problems[0]


def test_rows_it_cannot_use_are_reported_by_number(tmp_path: Path) -> None:
    docs = folder(tmp_path / "docs", [
        "ok.txt,M1,2026-08-06,",
        "../outside.txt,M1,2026-08-06,",
        "missing.txt,M1,2026-08-06,",
        "ok.txt,M1,08/06/2026,",
        "ok.txt,,2026-08-06,",
        "image.png,M1,2026-08-06,",
    ], {"ok.txt": b"note\n", "image.png": b"\x89PNG"})
    (tmp_path / "outside.txt").write_text("not to be read")
    warnings = DocsDirAdapter(docs).source_warnings()
    assert [w.split(": ", 2)[1] for w in warnings] == [
        "index.csv row 3", "index.csv row 4", "index.csv row 5", "index.csv row 6",
        "index.csv row 7"]
    assert "inside the folder" in warnings[0] and "not in the folder" in warnings[1]
    assert "ISO date" in warnings[2] and "required" in warnings[3]
    assert "type is not read" in warnings[4]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "nope", "no folder at"),
    (lambda p: p, "no index.csv"),
])
def test_an_unusable_folder_is_a_source_error(tmp_path: Path, make: object,
                                               message: str) -> None:
    assert callable(make)
    with pytest.raises(EHRSourceError, match=message):
        open_adapter(f"docs-dir:{make(tmp_path)}")


def test_an_index_without_its_columns_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "index.csv").write_text("path,member\nx,y\n")
    with pytest.raises(EHRSourceError, match="no column file, member_id, service_date"):
        DocsDirAdapter(tmp_path)
