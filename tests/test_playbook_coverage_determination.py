"""coverage_determination: a playbook added with YAML and a template only (no Python),
selected and run through the whole pipeline with the built-in extractors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.application.workflow import open_workflow, run_batch
from agent.config import AppConfig
from agent.denials.model import (
    Denial,
    DenialSource,
    PayerRef,
)
from agent.evidence.extractors import default_extractors
from agent.playbooks.checks import default_checks
from agent.playbooks.registry import PlaybookSet
from evals.letters import evidence_items
from tests import charts
from tests.conftest import ROOT
from tests.denials import line_denial

COMPLETE = """ORTHO F/U  R knee
HPI: 68F, R knee OA x 3 yrs. Naproxen 500 BID x 8 wks - GI upset, stopped. PT 6 wks, \
HEP - no improvement.
PE: R knee mod effusion, +crepitus, ROM 5-100, medial JLT.
XR 7/30: KL grade 3 medial, osteophytes.
A/P: R knee OA. CSI today, RTC 6 wks.
"""
NO_TRIAL = """Knee clinic
HPI: R knee pain, new pt. Has not tried meds or PT.
PE: R knee small effusion.
A/P: inject today.
"""
ROWS = [
    ("LOMC-40001", "N115", COMPLETE),
    ("LOMC-40002", "N386", NO_TRIAL),
]


def _write(root: Path) -> tuple[Path, Path]:
    resources: list[dict[str, Any]] = []
    rows = []
    for n, (claim_id, remark, note) in enumerate(ROWS):
        member = f"1EG4TE5MK{n:02d}"
        rows.append({"claim_id": claim_id, "payer_name": "MEDICARE PART B", "member_id": member,
                     "service_date": "2026-08-18", "procedure_code": "20610",
                     "modifiers": "RT", "billed": "410.00", "adjustments": "CO-96:410.00",
                     "remarks": remark, "claim_filing_indicator": "MB"})
        resources += [
            charts.patient(f"p{n}", member),
            charts.encounter(f"e{n}", claim_id, f"p{n}"),
            charts.note(f"d{n}", f"p{n}", note, "2026-08-18", encounter_id=f"e{n}",
                        content_type="text/plain"),
        ]
    ehr = charts.write_chart(root / "fhir", resources)
    queue = root / "worklist.json"
    queue.write_text(json.dumps(rows))
    return ehr, queue


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("coverage")
    ehr, queue = _write(root)
    with open_workflow(root / "appeals.db", root / "out", f"fhir-dir:{ehr}", AppConfig(),
                       today=date(2026, 9, 20)) as workflow:
        run_batch(workflow, [str(queue)])
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    return root / "out", {d["claim_id"]: d for d in manifest["denials"]}


def test_it_needs_no_python() -> None:
    playbook = PlaybookSet.load(ROOT / "specialty_playbooks").get("coverage_determination")
    built_in = set(default_extractors().names())
    assert {f.extractor for f in playbook.facts} <= built_in
    assert {r.check for r in playbook.not_appeal} <= set(default_checks().names())


def _denial(carc: str, remarks: tuple[str, ...]) -> Denial:
    return line_denial("20610", carc, denial_id="dn_cov", payer=PayerRef(name="MEDICARE"),
                       remarks=remarks, source=DenialSource(kind="queue", file="q.json",
                                                            row=1))

@pytest.mark.parametrize(("carc", "remarks", "expected"), [
    ("96", ("N115",), "coverage_determination"), ("96", ("N386",), "coverage_determination"),
    ("96", (), None), ("96", ("N130",), None), ("50", ("N115",), "medical_necessity")])
def test_selection_needs_carc_96_and_a_coverage_remark(
        carc: str, remarks: tuple[str, ...], expected: str | None) -> None:
    chosen = PlaybookSet.load(ROOT / "specialty_playbooks").select(_denial(carc, remarks),
                                                                   "clinical")
    assert (chosen.id if chosen else None) == expected


def test_documented_indication_is_appealed_with_a_slot_for_the_lcd(
        run: tuple[Path, dict[str, Any]]) -> None:
    out, denials = run
    denial = denials["LOMC-40001"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("coverage_determination",
                                                                "appeal")
    letter = (out / denial["letter"]["markdown"]).read_text()
    assert "N115: " in letter and "coverage determination cited below" in letter
    assert "auditor to cite the payer's policy" in letter  # the LCD/NCD slot, until named
    assert {e["fact"] for e in denial["evidence"]} == {"objective_finding",
                                                       "conservative_treatment"}
    shown = [item.quote for item in evidence_items(letter)[0]]
    for item in denial["evidence"]:
        assert item["quote"] in shown


def test_no_conservative_treatment_goes_to_review(run: tuple[Path, dict[str, Any]]) -> None:
    _, denials = run
    denial = denials["LOMC-40002"]
    assert (denial["playbook"], denial["triage"]["action"]) == ("coverage_determination",
                                                                "needs_review")
    assert denial["letter"]["status"] == "not_drafted"
    assert any("Conservative treatment" in m for m in denial["missing_evidence"])
