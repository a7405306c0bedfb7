"""The offline evals (evals/): each evaluator passes and fails, bad case files name the file
and the case, the published case schema is current, and the gate passes over every
dataset in template-only mode."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from evals.checks import Check
from evals.cli import LLM_NOT_CONFIGURED, run_eval
from evals.evaluators import (
    EVALUATORS,
    ActionCorrect,
    CitationValidity,
    Evaluator,
    EvidenceRecall,
    LetterComplete,
    NoFabrication,
    NoForbiddenContent,
    NoLetterWhenNotAppealable,
    PlaybookCorrect,
)
from evals.fabrication import Provenance, as_date
from evals.loader import DATASETS, CaseFileError, LoadedCase, load_cases, load_file, read_yaml
from evals.model import DEFAULT_TODAY, Case
from evals.report import END, START, write_markdown
from evals.runner import CaseRun, Environment, RunSettings, run_case
from tests.conftest import ROOT
from tools.generate_schemas import EVAL_SCHEMA, render_eval_schema

AUTH_NOTE = """08/12/26 1015 - Called Acme UM re: MRI L-spine w/o contrast (CPT 72148).
Auth # AC-UM-7731205 approved, valid 08/12/26 - 10/11/26. -- J. Ruiz
"""


def _case(**changes: Any) -> dict[str, Any]:
    """A prior-authorization case the agent appeals."""
    case: dict[str, Any] = {
        "id": "t-auth", "split": "dev", "description": "auth on file",
        "denial": {"queue_row": {
            "claim_id": "EV-T-1", "payer_name": "ACME HEALTH", "payer_claim_number": "AC1",
            "member_id": "ACM1", "service_date": "2026-08-19", "procedure_code": "72148",
            "billed": "1450.00", "adjustments": "CO-197:1450.00", "remarks": "N54",
            "claim_filing_indicator": "CI", "remittance_date": "2026-09-12"}},
        "chart": {"patient": {"id": "p1", "member_id": "ACM1", "family": "VANCE",
                              "given": ["ROBERT"], "birth_date": "1964-02-11"},
                  "notes": [{"id": "auth", "title": "Auth log", "date": "2026-08-12",
                             "text": AUTH_NOTE}]},
        "expect": {"action": "appeal", "playbook": "prior_authorization",
                   "cited_facts": [{"fact": "authorization",
                                    "quote_contains": "AC-UM-7731205"}],
                   "must_not_contain": ["heart transplant"]},
    }
    case.update(changes)
    return case


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment.load(RunSettings().config)


@pytest.fixture(scope="module")
def appeal_run() -> CaseRun:
    case = Case.model_validate(_case())
    return run_case(LoadedCase(case, "test.yaml", DEFAULT_TODAY), RunSettings())


@pytest.fixture(scope="module")
def cost_share_run() -> CaseRun:
    row = {**_case()["denial"]["queue_row"], "adjustments": "PR-1:1450.00", "remarks": ""}
    case = Case.model_validate(_case(
        id="t-pr1", denial={"queue_row": row},
        expect={"action": "patient_responsibility", "playbook": None}))
    return run_case(LoadedCase(case, "test.yaml", DEFAULT_TODAY), RunSettings())


def _expecting(run: CaseRun, **expect: Any) -> CaseRun:
    """The same run judged against other expectations."""
    case = run.loaded.case
    changed = case.model_copy(update={"expect": case.expect.model_copy(update=expect)})
    return dataclasses.replace(run, loaded=dataclasses.replace(run.loaded, case=changed))


def _with_letter(run: CaseRun, edit: Any) -> CaseRun:
    """The same run with its one letter's text edited."""
    ((letter_id, text),) = run.letters.items()
    return dataclasses.replace(run, letters={letter_id: edit(text)})


def _check(evaluator: Evaluator, run: CaseRun, env: Environment) -> Check:
    check = evaluator.evaluate(run, env)
    assert check is not None
    return check


# --- each evaluator passes and fails -----------------------------------------------

def test_action_and_playbook(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(ActionCorrect(), appeal_run, env).passed
    assert _check(PlaybookCorrect(), appeal_run, env).passed
    wrong = _expecting(appeal_run, action="needs_review", playbook="timely_filing")
    action = _check(ActionCorrect(), wrong, env)
    assert not action.passed and "expected needs_review, got appeal" in action.detail
    playbook = _check(PlaybookCorrect(), wrong, env)
    assert not playbook.passed and "got prior_authorization" in playbook.detail


def test_evidence_recall(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(EvidenceRecall(), appeal_run, env).passed
    missing = _expecting(appeal_run, cited_facts=[
        *appeal_run.expect.cited_facts,
        appeal_run.expect.cited_facts[0].model_copy(update={"quote_contains": "ZZ-0000"})])
    check = _check(EvidenceRecall(), missing, env)
    assert (check.hits, check.total) == (1, 2) and "ZZ-0000" in check.detail
    assert EvidenceRecall().evaluate(_expecting(appeal_run, cited_facts=[]), env) is None


def test_citation_validity(appeal_run: CaseRun, env: Environment) -> None:
    check = _check(CitationValidity(), appeal_run, env)
    assert check.passed and check.total >= 2  # the evidence, and its quote in the letter
    assert appeal_run.manifest is not None
    denial = appeal_run.manifest.denials[0]
    start = denial.evidence[0].start
    assert start is not None
    moved = denial.evidence[0].model_copy(update={"start": start + 1})
    manifest = appeal_run.manifest.model_copy(update={"denials": [
        denial.model_copy(update={"evidence": [moved]})]})
    shifted = _check(CitationValidity(), dataclasses.replace(appeal_run, manifest=manifest),
                     env)
    assert not shifted.passed and "not the text at" in shifted.detail
    edited = _with_letter(appeal_run, lambda t: t.replace("AC-UM-7731205 approved",
                                                          "AC-UM-7731206 approved"))
    assert not _check(CitationValidity(), edited, env).passed


def test_letter_complete(appeal_run: CaseRun, env: Environment) -> None:
    check = _check(LetterComplete(), appeal_run, env)
    assert check.passed and check.total == 9
    cut = _with_letter(appeal_run, lambda t: t.split("## Request")[0])
    failed = _check(LetterComplete(), cut, env)
    assert not failed.passed and "request" in failed.detail and "signature" in failed.detail
    extra = _check(LetterComplete(), _expecting(appeal_run, letter_contains=["ZZ-0000"]), env)
    assert not extra.passed and "ZZ-0000" in extra.detail


def test_no_fabrication(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(NoFabrication(), appeal_run, env).passed
    injected = _with_letter(appeal_run, lambda t: t.replace(
        "## Request", "The patient's HbA1c 12.4 was measured on 2025-01-01.\n\n## Request"))
    check = _check(NoFabrication(), injected, env)
    assert not check.passed
    assert "12.4" in check.detail and "2025-01-01" in check.detail


def test_provenance_matches_dates_by_value_and_compounds_by_parts() -> None:
    allowed = Provenance()
    allowed.add_text("HbA1c 8.2% (08/01/26); codes 00840 and P3; edit 99212")
    allowed.add_text("99215")
    assert as_date("08/01/26") == as_date("2026-08-01")
    assert allowed.untraceable("HbA1c 8.2% on 2026-08-01, 00840-AA-P3, 99212-99215") == []
    assert allowed.untraceable("on 2026-08-02, 00840-P4, $1,200.00") == [
        "2026-08-02", "00840-P4", "1,200.00"]


def test_no_letter_when_not_appealable(cost_share_run: CaseRun, appeal_run: CaseRun,
                                       env: Environment) -> None:
    assert _check(NoLetterWhenNotAppealable(), cost_share_run, env).passed
    assert NoLetterWhenNotAppealable().evaluate(appeal_run, env) is None
    drafted = _check(NoLetterWhenNotAppealable(),
                     _expecting(appeal_run, action="needs_review"), env)
    assert not drafted.passed and "1 letter(s)" in drafted.detail


def test_no_forbidden_content(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(NoForbiddenContent(), appeal_run, env).passed
    leaked = _check(NoForbiddenContent(),
                    _expecting(appeal_run, must_not_contain=["ac-um-7731205"]), env)
    assert not leaked.passed and "ac-um-7731205" in leaked.detail


def test_a_failed_run_fails_its_checks(appeal_run: CaseRun, env: Environment) -> None:
    from evals.evaluators import evaluate

    broken = dataclasses.replace(appeal_run, error="the run failed: OSError")
    checks = evaluate(broken, env)
    assert checks and not any(c.passed for c in checks)
    assert {c.evaluator for c in checks} <= {e.name for e in EVALUATORS}


# --- loading and validation ----------------------------------------------------------

def _write(tmp_path: Path, name: str, cases: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({**top, "cases": cases}, sort_keys=False),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"expect": {"action": "appeal_now", "playbook": None}}, "expect.action"),
    ({"expect": {"action": "appeal", "playbook": "no_such_playbook"}},
     "expect.playbook: no playbook 'no_such_playbook'"),
    ({"expect": {"action": "appeal", "playbook": "prior_authorization",
                 "cited_facts": [{"fact": "asa_class", "quote_contains": "ASA"}]}},
     "'asa_class' is not a fact of prior_authorization"),
    ({"denial": {"queue_row": {**_case()["denial"]["queue_row"],
                               "service_date": "2026-13-40"}}},
     "denial.queue_row: service_date"),
    ({"denial": {"queue_row": _case()["denial"]["queue_row"], "x12_835": "ISA*..."}},
     "exactly one of"),
    ({"split": "train"}, "split"),
])
def test_a_bad_case_names_the_file_and_the_case(tmp_path: Path, change: dict[str, Any],
                                                message: str) -> None:
    path = _write(tmp_path, "bad.yaml", [_case(id="ok-case"), _case(id="bad-case", **change)])
    with pytest.raises(CaseFileError) as raised:
        load_file(path)
    assert str(raised.value).startswith("bad.yaml: case bad-case: ")
    assert message in str(raised.value)


def test_file_level_errors(tmp_path: Path) -> None:
    nameless = _case()
    del nameless["id"]
    with pytest.raises(CaseFileError, match=r"^nameless.yaml: case #1: id"):
        load_file(_write(tmp_path, "nameless.yaml", [nameless]))
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"^broken.yaml: not valid YAML \(line \d+\)"):
        load_file(broken)
    with pytest.raises(CaseFileError, match="today: not a date"):
        load_file(_write(tmp_path, "day.yaml", [_case()], today="someday"))
    _write(tmp_path, "a.yaml", [_case(id="same")])
    _write(tmp_path, "b.yaml", [_case(id="same")])
    with pytest.raises(CaseFileError, match=r"^b.yaml: case same: id already used in a.yaml"):
        load_cases([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_codes_with_leading_zeros_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "zeros.yaml"
    path.write_text("cases: [{code: 00840, member: 0123, time: 14:30, units: 12}]\n",
                    encoding="utf-8")
    assert read_yaml(path)["cases"][0] == {"code": "00840", "member": "0123",
                                           "time": "14:30", "units": 12}


def test_published_case_schema_is_current_and_datasets_follow_it() -> None:
    published = (ROOT / EVAL_SCHEMA).read_text(encoding="utf-8")
    assert published == render_eval_schema(), \
        f"{EVAL_SCHEMA} is stale: python tools/generate_schemas.py"
    schema = json.loads(published)
    for path in sorted(DATASETS.glob("*.yaml")):
        data = json.loads(json.dumps(read_yaml(path), default=str))
        jsonschema.validate(data, schema)


# --- the command and the gate --------------------------------------------------------

def test_llm_flag_without_a_model_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["eval", "--llm"])
    assert result.exit_code == 2
    assert LLM_NOT_CONFIGURED in result.output


def test_the_llm_path_passes_the_gate_against_the_fake_server(tmp_path: Path) -> None:
    """The same evaluators score model-drafted letters (here the fake server's grounded
    replies): citations, fabrication and forbidden content hold on the LLM path too."""
    from agent.llm.fake_server import FakeOpenAIServer, FakeReply, grounded_reply
    from agent.llm.settings import LLMSettings

    def respond(request: dict[str, Any]) -> FakeReply:
        return FakeReply(content=grounded_reply(request))

    with FakeOpenAIServer(respond) as server:
        settings = LLMSettings(base_url=server.base_url, api_key="test", max_concurrency=1)
        card = run_eval([DATASETS / "psychotherapy_time.yaml"], "dev",
                        RunSettings(llm=settings))
    assert server.requests
    assert card.passed


def test_report_replaces_only_the_marked_section(tmp_path: Path) -> None:
    dataset = _write(tmp_path, "one.yaml", [_case()])
    card = run_eval([dataset])
    doc = tmp_path / "doc.md"
    prose = f"# Title\n\nProse naming `{START}` and `{END}` inline.\n\n"
    doc.write_text(f"{prose}{START}\nold\n{END}\n\nMore prose.\n", encoding="utf-8")
    write_markdown(card, doc)
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(prose) and text.endswith(f"{END}\n\nMore prose.\n")
    assert "\nold\n" not in text and "| **overall** | dev | 1 |" in text


def test_command_writes_markdown_and_json(tmp_path: Path) -> None:
    dataset = _write(tmp_path, "one.yaml", [_case()])
    report = tmp_path / "out" / "card.md"
    result = CliRunner().invoke(app, ["eval", str(dataset), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "gate passed" in result.output
    card = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["passed"] and card["cases"] == 1
    assert "action_correct" in report.read_text(encoding="utf-8")


def test_gate_passes_over_every_dataset_template_only() -> None:
    card = run_eval(split="all")
    assert card.cases >= 60
    assert 0.1 <= card.cases_by_split["holdout"] / card.cases <= 0.35
    failing = [f"{f.case} {f.evaluator}: {f.detail}" for f in card.failures]
    gate = {line.evaluator: line.rate for line in card.gate if not line.passed}
    assert card.passed, f"gate failed {gate}; failing checks: {failing}"
