"""The real-note eval suite (evals/real_notes): notes referenced in a corpus instead of
copied, their hard-wrapped variants, skipping when the corpus is absent, the suite's own
gate (deciding on dev; the holdout reported, never gated), and the set's minimums
(issue: at least 80 distinct real notes, every playbook the corpus has notes for, appeal
and not-appeal outcomes in similar numbers, a rationale for each).

The shared folder (../shared beside the checkout) holds the corpus; without it the tests
that read notes skip, saying so, and the rest still run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from evals.cli import run_eval
from evals.corpus import CORPORA, CORPUS_ENV, WRAP_WIDTHS, variant_width, wrap
from evals.evaluators import NoFalseAppeal, NoFalseWriteOff
from evals.loader import CaseFileError, load_file, load_selection, read_yaml
from evals.model import Case
from evals.report import markdown, write_markdown
from evals.suites import CASES, REAL_NOTES, SuiteError, suite_for

MTSAMPLES = CORPORA["mtsamples"]
needs_corpus = pytest.mark.needs_shared
"""The test reads notes of the MTSamples corpus in ../shared (skipped without it)."""

NOTE_ID = "237db4f679b2838c"
"""A corpus note (chronic sinusitis consultation) used by the format tests."""

REAL_NOTE_FILES = sorted(REAL_NOTES.folder.glob("*.yaml"))


def _case(**changes: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": "rn-format", "split": "dev", "description": "a corpus note",
        "rationale": "The note documents the finding and the nasal steroid that failed.",
        "denial": {"queue_row": {
            "claim_id": "RN-T-1", "payer_name": "ACME HEALTH", "member_id": "ACM1",
            "service_date": "2026-08-05", "procedure_code": "31255", "billed": "2400.00",
            "adjustments": "CO-50:2400.00", "remarks": "N661",
            "claim_filing_indicator": "CI", "remittance_date": "2026-08-27"}},
        "chart": {"patient": {"id": "p1", "member_id": "ACM1", "family": "DOE",
                              "given": ["JANE"], "birth_date": "1976-01-01"},
                  "notes": [{"id": "consult", "title": "Consultation", "date": "2026-08-05",
                             "source": {"corpus": "mtsamples", "id": NOTE_ID}}]},
        "expect": {"action": "appeal", "playbook": "medical_necessity",
                   "cited_facts": [{"fact": "objective_finding",
                                    "quote_contains": "turbinate hypertrophy"},
                                   {"fact": "conservative_treatment",
                                    "quote_contains": "nasal corticosteroid therapy"}]},
    }
    case.update(changes)
    return case


def _write(tmp_path: Path, cases: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp_path / "real.yaml"
    path.write_text(yaml.safe_dump({"today": "2026-09-20", **top, "cases": cases},
                                   sort_keys=False), encoding="utf-8")
    return path


# --- wrapping --------------------------------------------------------------------------

TEXT = ("HISTORY OF PRESENT ILLNESS:  The patient is a 54-year-old right-handed male "
        "who has had low back pain radiating to the left leg for three months, "
        "refractory to physical therapy and Motrin 800 mg t.i.d.\n"
        "PLAN:  MRI of the lumbar spine.\n\n"
        "Short line.\n"
        "A-very-long-hyphenated-compound-word-that-is-longer-than-any-width-we-use-here-at-all"
        " follows.")


@pytest.mark.parametrize("width", [WRAP_WIDTHS[0], 72, WRAP_WIDTHS[-1]])
def test_wrap_breaks_long_lines_at_spaces_and_changes_nothing_else(width: int) -> None:
    wrapped = wrap(TEXT, width)
    assert wrapped != TEXT
    assert wrapped.split() == TEXT.split()                 # the same words, in order
    for line in wrapped.split("\n"):                      # no line too long but one word
        assert len(line) <= width or " " not in line.strip()
    assert "PLAN:  MRI of the lumbar spine." in wrapped.split("\n")   # short lines untouched
    assert "\n\nShort line.\n" in wrapped                 # blank lines kept
    assert "Motrin 800 mg t.i.d." in " ".join(wrapped.split("\n"))
    assert wrap(TEXT, 1000) == TEXT


def test_variant_widths_cover_the_range_and_are_fixed_by_the_id() -> None:
    widths = {variant_width(f"rn-case-{n}") for n in range(400)}
    assert widths == set(WRAP_WIDTHS)
    assert variant_width("rn-x") == variant_width("rn-x")


# --- the case format -------------------------------------------------------------------

def test_a_note_gives_text_or_source_not_both() -> None:
    note = {"id": "n", "text": "x", "source": {"corpus": "mtsamples", "id": NOTE_ID}}
    with pytest.raises(ValueError, match="exactly one of text or source"):
        Case.model_validate(_case(chart={"patient": {"id": "p1", "member_id": "ACM1"},
                                         "notes": [note]}))
    note = {"id": "n"}
    with pytest.raises(ValueError, match="exactly one of text or source"):
        Case.model_validate(_case(chart={"patient": {"id": "p1", "member_id": "ACM1"},
                                         "notes": [note]}))


@needs_corpus
def test_a_corpus_note_is_read_at_load_and_wrapped_variants_added(tmp_path: Path) -> None:
    path = _write(tmp_path, [_case()], wrapped_variants=True)
    loaded = load_file(path)
    assert [c.case.id for c in loaded] == ["rn-format", "rn-format-wrapped"]
    original, variant = (c.case for c in loaded)
    text = MTSAMPLES.text(NOTE_ID)
    assert original.chart is not None and variant.chart is not None
    assert original.chart.notes[0].body == text
    width = variant_width("rn-format")
    assert variant.chart.notes[0].body == wrap(text, width) != text
    assert variant.chart.notes[0].source is not None
    assert variant.chart.notes[0].source.wrap == width
    assert "variant:wrapped" in variant.tags and variant.expect == original.expect


@needs_corpus
@pytest.mark.parametrize(("change", "message"), [
    ({"rationale": None}, "rationale: required when a note comes from a corpus"),
    ({"expect": {"action": "needs_review", "playbook": "medical_necessity",
                 "cited_facts": [{"fact": "objective_finding",
                                  "quote_contains": "words the note never says"}]}},
     r"expect.cited_facts\[0\]: 'words the note never says' is in no note of the chart"),
    ({"chart": {"patient": {"id": "p1", "member_id": "ACM1"},
                "notes": [{"id": "n", "source": {"corpus": "mtsamples",
                                                 "id": "0000000000000000"}}]}},
     "corpus mtsamples has no note '0000000000000000'"),
])
def test_a_bad_corpus_case_names_the_file_and_case(tmp_path: Path, change: dict[str, Any],
                                                   message: str) -> None:
    case = _case(**change)
    if case.get("rationale") is None:
        del case["rationale"]
    with pytest.raises(CaseFileError, match=f"^real.yaml: case rn-format: {message}"):
        load_file(_write(tmp_path, [case]))


def test_without_the_corpus_the_cases_are_skipped_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path / "no-shared-here"))
    path = _write(tmp_path, [_case(), _case(id="rn-format-2")], wrapped_variants=True)
    selection = load_selection([path])
    assert selection.cases == [] and selection.skipped == {"mtsamples": 4}
    line = selection.skip_line()
    assert line is not None and line.startswith("skipped 4 real-note cases: the mtsamples "
                                                "corpus is not at ")
    result = CliRunner().invoke(app, ["eval", str(path), "--suite", "real-notes"])
    assert result.exit_code == 0, result.output
    assert "skipped 4 real-note cases" in result.output
    assert "gate" not in result.output


@needs_corpus
def test_corpus_option_says_where_the_corpora_are(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = MTSAMPLES.folder()
    assert folder is not None
    root = folder.parent
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path / "not-here"))
    path = _write(tmp_path, [_case()])
    assert load_selection([path]).skipped == {"mtsamples": 1}
    assert [c.case.id for c in load_selection([path], corpora=root).cases] == ["rn-format"]
    result = CliRunner().invoke(app, ["eval", str(path), "--suite", "real-notes",
                                      "--corpus", str(root), "-v"])
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output and "rn-format" in result.output


def test_the_shipped_real_note_set_is_skipped_not_failed_without_the_corpus(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not REAL_NOTE_FILES:
        pytest.fail("evals/real_notes holds no dataset file")
    monkeypatch.setenv(CORPUS_ENV, str(tmp_path / "no-shared-here"))
    selection = load_selection([REAL_NOTES.folder])
    assert selection.cases == []
    assert sum(selection.skipped.values()) >= 160   # 80 notes and their wrapped variants


# --- suites and their gates ------------------------------------------------------------

def test_the_suite_follows_the_datasets_folder() -> None:
    assert suite_for(None) is CASES
    assert suite_for(None, [CASES.folder / "adversarial.yaml"]) is CASES
    assert suite_for(None, [REAL_NOTES.folder]) is REAL_NOTES
    assert suite_for("real-notes", [Path("elsewhere.yaml")]) is REAL_NOTES
    with pytest.raises(SuiteError, match="different suites"):
        suite_for(None, [CASES.folder, REAL_NOTES.folder])
    with pytest.raises(SuiteError, match="--suite is one of cases, real-notes"):
        suite_for("real_notes")
    result = CliRunner().invoke(app, ["eval", str(CASES.folder), str(REAL_NOTES.folder)])
    assert result.exit_code == 2 and "different suites" in result.output


@needs_corpus
def test_the_real_note_gate_decides_on_dev_and_only_reports_the_holdout(
        tmp_path: Path) -> None:
    # Expect a review where the note supports an appeal: the gate fails.
    wrong = {"action": "needs_review", "playbook": "medical_necessity",
             "cited_facts": [{"fact": "objective_finding",
                              "quote_contains": "turbinate hypertrophy"}]}
    path = _write(tmp_path, [_case(expect=wrong)], wrapped_variants=True)
    report = tmp_path / "card.md"
    result = CliRunner().invoke(app, ["eval", str(path), "--suite", "real-notes",
                                      "--report", str(report)])
    assert result.exit_code == 1, result.output
    card = json.loads((tmp_path / "card-real-notes.json").read_text(encoding="utf-8"))
    assert card["suite"] == "real-notes" and card["gated_on"] == ["dev"]
    assert card["gated_splits"] == ["dev"]
    assert card["enforced"] is True and card["passed"] is False
    assert "appeals eval: gate failed: dev (suite real-notes)" in result.stderr
    assert card["variants"] == 1 and card["corpus_notes"] == 1
    assert set(card["by_variant"]) == {"original", "hard-wrapped"}
    assert "Gate on `dev`: **failed**" in report.read_text(encoding="utf-8")
    # The same failure on the holdout alone is reported; the exit status ignores it.
    path = _write(tmp_path, [_case(expect=wrong, split="holdout")], wrapped_variants=True)
    result = CliRunner().invoke(app, ["eval", str(path), "--suite", "real-notes",
                                      "--split", "holdout"])
    assert result.exit_code == 0, result.output
    assert "holdout: gate FAILED, reported, not gated" in result.output
    # A failing holdout beside a passing dev: dev decides (the suite does not gate all,
    # which holds the holdout).
    path = _write(tmp_path, [_case(), _case(id="rn-held", expect=wrong, split="holdout")])
    result = CliRunner().invoke(app, ["eval", str(path), "--suite", "real-notes",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "Gate on `dev`: **passed**. Holdout (reported, not gated): **failed**; `all` " \
        "(not gated: it holds the holdout): **failed**." in report.read_text(encoding="utf-8")


@needs_corpus
def test_the_real_note_dev_split_passes_its_gate() -> None:
    """The issue's targets on real notes, dev split: action >= 90%, evidence recall >= 85%,
    citations 100%, no false appeal, no false write-off (evals/suites.py)."""
    card = run_eval(split="dev", suite=REAL_NOTES)
    failing = [f"{f.case} {f.evaluator}: {f.detail}" for f in card.failures]
    gate = {line.evaluator: line.rate for line in card.gate if not line.passed}
    assert card.enforced and card.passed, f"gate failed {gate}; failing checks: {failing}"


@needs_corpus
def test_each_suite_replaces_only_its_own_section(tmp_path: Path) -> None:
    card = run_eval([_write(tmp_path, [_case()])], suite=REAL_NOTES)
    start, end = REAL_NOTES.markers
    cases_start, cases_end = CASES.markers
    doc = tmp_path / "evals.md"
    doc.write_text(f"# E\n\n{cases_start}\nkept\n{cases_end}\n\n{start}\nSTALE-SECTION\n{end}\n",
                   encoding="utf-8")
    write_markdown(card, doc)
    text = doc.read_text(encoding="utf-8")
    assert f"{cases_start}\nkept\n{cases_end}" in text
    assert "STALE-SECTION" not in text and markdown(card) in text


def fake_run(expected: str, decided: list[str]) -> Any:
    """What the two count evaluators read of a run: the expectation and the decisions."""
    targets = [SimpleNamespace(triage=SimpleNamespace(action=a, reason=f"decided {a}"))
               for a in decided]
    return SimpleNamespace(expect=SimpleNamespace(action=expected), targets=targets,
                           error=None, manifest=None)


def test_false_appeal_and_false_write_off_counts() -> None:
    run = fake_run(expected="needs_review", decided=["appeal", "needs_review"])
    check = NoFalseAppeal().evaluate(run, None)  # type: ignore[arg-type]
    assert check is not None and (check.hits, check.total) == (1, 2)
    assert NoFalseWriteOff().evaluate(run, None).passed  # type: ignore[arg-type,union-attr]
    run = fake_run(expected="appeal", decided=["write_off", "corrected_claim", "appeal"])
    assert NoFalseAppeal().evaluate(run, None) is None  # type: ignore[arg-type]
    check = NoFalseWriteOff().evaluate(run, None)  # type: ignore[arg-type]
    assert check is not None and (check.hits, check.total) == (1, 3)
    run = fake_run(expected="write_off", decided=["write_off"])
    assert NoFalseWriteOff().evaluate(run, None) is None  # type: ignore[arg-type]


# --- the set itself --------------------------------------------------------------------

def _raw_cases() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, case) for path in REAL_NOTE_FILES
            for case in read_yaml(path)["cases"]]


def test_the_real_note_set_meets_the_issues_minimums() -> None:
    cases = _raw_cases()
    notes = {note["source"]["id"] for _, case in cases
             for note in case["chart"]["notes"] if "source" in note}
    assert len(notes) >= 80, f"{len(notes)} distinct corpus notes (80 needed)"
    for name, case in cases:
        assert all("text" not in note for note in case["chart"]["notes"]), \
            f"{name}: {case['id']}: a real-note case copies no note text"
        assert len(case.get("rationale", "").split()) >= 15, \
            f"{name}: {case['id']}: the rationale is one paragraph an auditor accepts"
    playbooks = Counter(case["expect"]["playbook"] for _, case in cases)
    for playbook in ("medical_necessity", "em_modifier_25", "distinct_procedure",
                     "anesthesia_physical_status"):
        assert playbooks[playbook] >= 8, f"{playbook}: {playbooks[playbook]} cases"
    appeal = sum(case["expect"]["action"] == "appeal" for _, case in cases)
    assert 0.35 <= appeal / len(cases) <= 0.65, f"{appeal} appeals of {len(cases)} cases"
    holdout = sum(case["split"] == "holdout" for _, case in cases)
    assert 0.15 <= holdout / len(cases) <= 0.30, f"{holdout} holdout of {len(cases)}"
    for path in REAL_NOTE_FILES:
        assert read_yaml(path).get("wrapped_variants") is True, \
            f"{path.name}: every real-note file has its hard-wrapped variants"


def test_the_real_note_files_follow_the_published_schema() -> None:
    schema = json.loads((CASES.folder / "case.schema.json").read_text(encoding="utf-8"))
    for path in REAL_NOTE_FILES:
        jsonschema.validate(json.loads(json.dumps(read_yaml(path), default=str)), schema)


@needs_corpus
def test_the_real_note_suite_runs_every_case() -> None:
    card = run_eval(suite=REAL_NOTES)
    assert not card.skipped
    assert card.cases >= 160 and card.variants * 2 == card.cases
    assert card.corpus_notes >= 80
    assert not [f for f in card.failures if "the run failed" in f.detail
                or "the evaluator failed" in f.detail]
