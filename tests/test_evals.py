"""The offline evals (evals/): each evaluator passes and fails (and fails what a weaker
check would let through), bad case files name the file and the case, the published case
schema is current, the datasets meet the issue's minimums, and the gate passes over every
dataset in template-only mode and on the LLM path against the fake server."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from agent.cli import app
from agent.config import AppConfig, LetterSettings
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
    ReasonCorrect,
    evaluate,
)
from evals.fabrication import Provenance, as_date, template_text
from evals.letters import parse_source
from evals.loader import DATASETS, CaseFileError, LoadedCase, load_cases, load_file, read_yaml
from evals.model import DEFAULT_TODAY, Case
from evals.report import END, START, markdown, write_markdown
from evals.runner import CaseResult, CaseRun, Environment, RunSettings, run_case
from evals.scorecard import build_scorecard
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


ANES_NOTE = """PRE-ANESTHESIA EVALUATION
DOS: 08/24/2026   Time: 0640
PMH:
- DM2 on metformin + glipizide, poorly controlled - A1c 9.1% (07/29/26)
- CKD 3b (eGFR 38)
ASSESSMENT: ASA III - DM2 w/ end-organ dz (CKD 3b)
PLAN: GETA. -- A. Bhatt, MD
"""


def _anesthesia_case() -> dict[str, Any]:
    """A P3 anesthesia claim the agent appeals: the chart says ASA III (3)."""
    return {
        "id": "t-anes", "split": "dev", "description": "ASA III documented",
        "denial": {"queue_row": {
            "claim_id": "EV-T-2", "payer_name": "ACME HEALTH", "payer_claim_number": "AC2",
            "member_id": "ACM2", "service_date": "2026-08-24", "procedure_code": "00840",
            "modifiers": "AA;P3", "billed": "1850.00", "adjustments": "CO-4:1850.00",
            "remarks": "N440", "claim_filing_indicator": "CI",
            "remittance_date": "2026-09-04"}},
        "chart": {"patient": {"id": "p2", "member_id": "ACM2", "family": "DELACROIX",
                              "given": ["MAUREEN"], "birth_date": "1963-02-11"},
                  "notes": [{"id": "preop", "title": "Pre-anesthesia evaluation",
                             "date": "2026-08-24", "text": ANES_NOTE}]},
        "expect": {"action": "appeal", "playbook": "anesthesia_physical_status",
                   "cited_facts": [{"fact": "asa_class", "quote_contains": "ASA III",
                                    "value": "ASA 3"}]},
    }


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment.load(RunSettings().config)


def _run(case: dict[str, Any]) -> CaseRun:
    return run_case(LoadedCase(Case.model_validate(case), "test.yaml", DEFAULT_TODAY),
                    RunSettings())


@pytest.fixture(scope="module")
def appeal_run() -> CaseRun:
    return _run(_case())


@pytest.fixture(scope="module")
def anesthesia_run() -> CaseRun:
    return _run(_anesthesia_case())


@pytest.fixture(scope="module")
def cost_share_run() -> CaseRun:
    row = {**_case()["denial"]["queue_row"], "adjustments": "PR-1:1450.00", "remarks": ""}
    return _run(_case(id="t-pr1", denial={"queue_row": row},
                      expect={"action": "patient_responsibility", "playbook": None}))


def _expecting(run: CaseRun, **expect: Any) -> CaseRun:
    """The same run judged against other expectations."""
    case = run.loaded.case
    changed = case.model_copy(update={"expect": case.expect.model_copy(update=expect)})
    return dataclasses.replace(run, loaded=dataclasses.replace(run.loaded, case=changed))


def _with_letter(run: CaseRun, edit: Callable[[str], str]) -> CaseRun:
    """The same run with its one letter's text edited."""
    ((letter_id, text),) = run.letters.items()
    edited = edit(text)
    assert edited != text, "the edit changed nothing"
    return dataclasses.replace(run, letters={letter_id: edited})


def _argument(run: CaseRun, sentence: str) -> CaseRun:
    """The same run with ``sentence`` added to its letter's argument."""
    return _with_letter(run, lambda t: t.replace("\n\n## Evidence from the medical record",
                                                 f" {sentence}\n\n## Evidence from the "
                                                 "medical record"))


def _with_evidence(run: CaseRun, edit: Callable[[Any], Any]) -> CaseRun:
    """The same run with the first denial's first evidence item edited in the manifest."""
    assert run.manifest is not None
    denial = run.manifest.denials[0]
    changed = [edit(denial.evidence[0]), *denial.evidence[1:]]
    manifest = run.manifest.model_copy(update={"denials": [
        denial.model_copy(update={"evidence": changed}), *run.manifest.denials[1:]]})
    return dataclasses.replace(run, manifest=manifest)


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


def test_reason_correct(appeal_run: CaseRun, env: Environment) -> None:
    assert ReasonCorrect().evaluate(appeal_run, env) is None
    assert appeal_run.targets
    reason = appeal_run.targets[0].triage.reason
    word = reason.split()[0]
    ok = _check(ReasonCorrect(), _expecting(appeal_run, reason_contains=[word.upper()]), env)
    assert ok.passed
    wrong = _check(ReasonCorrect(), _expecting(appeal_run, reason_contains=[
        word, "retro-authorization requested"]), env)
    assert (wrong.hits, wrong.total) == (1, 2) and "retro-authorization" in wrong.detail
    assert "reason_correct" in {e.name for e in EVALUATORS}


def test_evidence_recall(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(EvidenceRecall(), appeal_run, env).passed
    missing = _expecting(appeal_run, cited_facts=[
        *appeal_run.expect.cited_facts,
        appeal_run.expect.cited_facts[0].model_copy(update={"quote_contains": "ZZ-0000"})])
    check = _check(EvidenceRecall(), missing, env)
    assert (check.hits, check.total) == (1, 2) and "ZZ-0000" in check.detail
    assert EvidenceRecall().evaluate(_expecting(appeal_run, cited_facts=[]), env) is None


def test_evidence_recall_compares_the_value_read(anesthesia_run: CaseRun,
                                                 env: Environment) -> None:
    assert _check(EvidenceRecall(), anesthesia_run, env).passed
    item = anesthesia_run.expect.cited_facts[0]
    misread = _expecting(anesthesia_run, cited_facts=[item.model_copy(update={"value":
                                                                              "ASA 4"})])
    check = _check(EvidenceRecall(), misread, env)
    assert not check.passed and "read as 'ASA 3', expected 'ASA 4'" in check.detail


def test_citation_validity(appeal_run: CaseRun, env: Environment) -> None:
    check = _check(CitationValidity(), appeal_run, env)
    assert check.passed and check.total >= 3  # the evidence, the count, the letter's quote
    shifted = _check(CitationValidity(), _with_evidence(
        appeal_run, lambda e: e.model_copy(update={"start": e.start + 1})), env)
    assert not shifted.passed and "not the text at" in shifted.detail
    edited = _with_letter(appeal_run, lambda t: t.replace("AC-UM-7731205 approved",
                                                          "AC-UM-7731206 approved"))
    assert not _check(CitationValidity(), edited, env).passed


def test_citation_sources_compare_exactly(appeal_run: CaseRun, env: Environment) -> None:
    """The source line is parsed whole: a span or document id that merely contains the
    right one fails."""
    assert appeal_run.manifest is not None
    evidence = appeal_run.manifest.denials[0].evidence[0]
    span = f"characters {evidence.start}-{evidence.end}"
    longer = _with_letter(appeal_run, lambda t: t.replace(span, span + "0"))
    check = _check(CitationValidity(), longer, env)
    assert not check.passed and "is not the evidence's" in check.detail
    other_doc = _with_letter(appeal_run, lambda t: t.replace(
        "DocumentReference/auth,", "DocumentReference/auth0,"))
    assert not _check(CitationValidity(), other_doc, env).passed
    garbled = _with_letter(appeal_run, lambda t: t.replace(span, span + " (see chart)"))
    assert "source line" in _check(CitationValidity(), garbled, env).detail
    parsed = parse_source("Auth log, one, 2026-08-12, DocumentReference/a.b-1, "
                          "characters 3-10")
    assert parsed is not None and (parsed.title, parsed.document_id, parsed.start,
                                   parsed.end) == ("Auth log, one", "DocumentReference/a.b-1",
                                                   3, 10)
    assert parse_source("Auth log, DocumentReference/a, characters 3-10 and more") is None


def test_every_quotation_in_a_letter_is_checked(appeal_run: CaseRun,
                                                env: Environment) -> None:
    verbatim = _argument(appeal_run, 'The log reads "Called Acme UM re: MRI L-spine".')
    assert _check(CitationValidity(), verbatim, env).passed
    for sentence in ('The note states "approved for two MRIs".',
                     "The note states “approved for two MRIs”.",
                     'The note states "approved for two MRIs.'):
        check = _check(CitationValidity(), _argument(appeal_run, sentence), env)
        assert not check.passed, sentence
    reasons = _argument(appeal_run, 'The payer wrote "Precertification/authorization/'
                                    'notification/pre-treatment absent."')
    assert _check(CitationValidity(), reasons, env).passed


def test_a_letter_prints_exactly_its_evidence(appeal_run: CaseRun, env: Environment) -> None:
    no_items = _with_letter(appeal_run, lambda t: t.split("1. \"Auth #")[0] +
                            "\n## Guidelines" + t.split("## Guidelines", 1)[1])
    check = _check(CitationValidity(), no_items, env)
    assert not check.passed and "no evidence cited" in check.detail
    doubled = _with_letter(appeal_run, lambda t: t.replace(
        "\n## Guidelines", "2. \"Auth # AC-UM-7731205 approved, valid 08/12/26 - 10/11/26.\""
        "  \n   Source: Auth log, 2026-08-12, DocumentReference/auth, characters 73-130\n"
        "\n## Guidelines"))
    check = _check(CitationValidity(), doubled, env)
    assert not check.passed and "2 evidence item(s) printed, the manifest gives 1" in \
        check.detail
    complete = _check(LetterComplete(), doubled, env)
    assert not complete.passed and "evidence:" in complete.detail


def test_citations_come_from_the_cases_chart_not_the_adapter(appeal_run: CaseRun,
                                                             env: Environment) -> None:
    """What may be cited is computed from the case's resources: a note of another
    patient, a retracted note or one outside the window fails even if the agent cited it."""
    resources = list(appeal_run.chart.resources.values())
    for change in ({"subject": {"reference": "Patient/someone-else"}},
                   {"status": "entered-in-error"},
                   {"date": "2026-08-01", "context": {}}):
        changed = [{**r, **change} if r.get("id") == "auth" else r for r in resources]
        run = dataclasses.replace(appeal_run, chart=type(appeal_run.chart)(changed))
        check = _check(CitationValidity(), run, env)
        assert not check.passed and "not a note of this claim's chart" in check.detail, change


def test_structured_quotes_are_checked_against_the_raw_resource(appeal_run: CaseRun,
                                                                 env: Environment) -> None:
    observation = {"resourceType": "Observation", "id": "a1c", "status": "final",
                   "subject": {"reference": "Patient/p1"},
                   "code": {"text": "Hemoglobin A1c"}, "effectiveDateTime": "2026-08-01",
                   "valueQuantity": {"value": 8.2, "unit": "%"}}
    chart = type(appeal_run.chart)([*appeal_run.chart.resources.values(), observation])
    run = dataclasses.replace(appeal_run, chart=chart, letters={})

    def cite(quote: str) -> Check:
        return _check(CitationValidity(), _with_evidence(run, lambda e: e.model_copy(
            update={"document_id": "Observation/a1c", "quote": quote, "start": None,
                    "end": None})), env)

    assert cite("Hemoglobin A1c: 8.2 % (2026-08-01)").passed
    assert "own fields" in cite("Hemoglobin A1c: 9.2 % (2026-08-01)").detail
    assert "own fields" in cite("Hemoglobin A1c: 8.2 % (2026-08-02)").detail


def test_letter_complete(appeal_run: CaseRun, env: Environment) -> None:
    check = _check(LetterComplete(), appeal_run, env)
    assert check.passed and check.total == 9
    cut = _with_letter(appeal_run, lambda t: t.split("## Request")[0])
    failed = _check(LetterComplete(), cut, env)
    assert not failed.passed and "request" in failed.detail and "signature" in failed.detail
    extra = _check(LetterComplete(), _expecting(appeal_run, letter_contains=["ZZ-0000"]), env)
    assert not extra.passed and "ZZ-0000" in extra.detail


def test_letter_complete_reads_the_signer_as_the_template_writes_them() -> None:
    """With ``signature_credentials`` set the letter signs "Name, CREDENTIALS"."""
    config = AppConfig(letter=LetterSettings(signature_name="Dana Ruiz",
                                             signature_credentials="CPC",
                                             signature_title="Appeals Auditor"))
    run = run_case(LoadedCase(Case.model_validate(_case()), "test.yaml", DEFAULT_TODAY),
                   RunSettings(config=config))
    (text,) = run.letters.values()
    assert "Sincerely,\n\nDana Ruiz, CPC  \nAppeals Auditor  \n" in text
    credentialed = Environment.load(config)
    assert _check(LetterComplete(), run, credentialed).passed
    for signer in ("Dana Ruiz", "Dana Ruiz, RN", "Dana Ruiz CPC"):
        other = _with_letter(run, lambda t, s=signer: t.replace("Dana Ruiz, CPC  \n",
                                                                f"{s}  \n"))
        check = _check(LetterComplete(), other, credentialed)
        assert not check.passed and check.detail.startswith("signature:"), check.detail
    # Without credentials configured, the name stands alone.
    plain = Environment.load(config.model_copy(update={"letter": config.letter.model_copy(
        update={"signature_credentials": None})}))
    assert not _check(LetterComplete(), run, plain).passed
    alone = _with_letter(run, lambda t: t.replace("Dana Ruiz, CPC  \n", "Dana Ruiz  \n"))
    assert _check(LetterComplete(), alone, plain).passed


@pytest.mark.parametrize(("old", "new", "element"), [
    ("| Payer claim number | AC1 |", "| Payer claim number | AC11 |", "payer_claim_number"),
    ("| Date of service | 2026-08-19 |", "| Date of service | 2026-08-18 |",
     "service_date"),
    ("| 72148 | 1 | $1,450.00", "| 72149 | 1 | $1,450.00", "procedure"),
    ("$1,450.00 | CO-197 Pre", "$1,450.00 | CO-97 Pre", "denial_reason"),
    ("| Member ID | ACM1 |", "| Member ID | ACM |", "member_id"),
])
def test_letter_complete_reads_the_cells(appeal_run: CaseRun, env: Environment, old: str,
                                         new: str, element: str) -> None:
    """Each element is read where the letter states it (a value elsewhere in the letter,
    such as the claim number in the title, does not count)."""
    check = _check(LetterComplete(), _with_letter(appeal_run, lambda t: t.replace(old, new)),
                   env)
    assert not check.passed and check.detail.startswith(f"{element}:"), check.detail


def test_a_claim_without_member_id_is_not_complete(appeal_run: CaseRun,
                                                   env: Environment) -> None:
    ((denial_id, denial),) = appeal_run.denials.items()
    nameless = denial.model_copy(update={"patient": denial.patient.model_copy(
        update={"member_id": None})})
    run = _with_letter(dataclasses.replace(appeal_run, denials={denial_id: nameless}),
                       lambda t: t.replace("| Member ID | ACM1 |", "| Member ID | ? |"))
    check = _check(LetterComplete(), run, env)
    assert not check.passed and "no member id" in check.detail


def test_no_fabrication(appeal_run: CaseRun, env: Environment) -> None:
    assert _check(NoFabrication(), appeal_run, env).passed
    injected = _argument(appeal_run, "The patient's HbA1c 12.4 was measured on 2025-01-01.")
    check = _check(NoFabrication(), injected, env)
    assert not check.passed
    assert "12.4" in check.detail and "2025-01-01" in check.detail


@pytest.mark.parametrize("sentence", [
    "The claim is worth $25,000.",                   # not 25 and 000 (the phone number)
    "The patient was hospitalized 3 times.",         # a small number from nowhere
    "The claim was forwarded on 2026-03-07.",        # a comment of the timely-filing template
    "No edit pairs these codes in the table of 2024-07-01.",  # the E/M template's text
    "Codes 99212-99215 do not apply.",               # ... and its codes
    "The session lasted 53 minutes.",                # the psychotherapy template's text
    "See evidence 2.",                               # the letter has one evidence item
    "See characters 73-131 of the log.",             # not the quote's span
])
def test_no_fabrication_allows_only_this_letters_sources(appeal_run: CaseRun,
                                                         env: Environment,
                                                         sentence: str) -> None:
    check = _check(NoFabrication(), _argument(appeal_run, sentence), env)
    assert not check.passed, sentence


def test_no_fabrication_catches_a_class_the_chart_does_not_state(anesthesia_run: CaseRun,
                                                                 env: Environment) -> None:
    assert anesthesia_run.targets[0].triage.action == "appeal"
    assert _check(NoFabrication(), anesthesia_run, env).passed
    check = _check(NoFabrication(), _with_letter(
        anesthesia_run, lambda t: t.replace("records that class as ASA 3",
                                            "records that class as ASA 4")), env)
    assert not check.passed and "not traceable: 4" in check.detail


def test_template_text_is_static_text_without_comments() -> None:
    em = template_text("arguments/em_modifier_25.md.j2")
    assert "2024-07-01 contains no edit" in em.replace("\n", " ")
    assert "docs/domain.md" not in em  # the comment
    timely = template_text("arguments/timely_filing.md.j2")
    assert "2026-03-07" not in timely and "filed after" in timely
    assert "53 minutes or more" in template_text("arguments/psychotherapy_time.md.j2")


def test_provenance_matches_dates_by_value_and_compounds_by_parts() -> None:
    allowed = Provenance()
    allowed.add_text("HbA1c 8.2% (08/01/26); codes 00840 and P3; edit 99212; call 000-0025")
    allowed.add_text("99215")
    assert as_date("08/01/26") == as_date("2026-08-01")
    assert allowed.untraceable("HbA1c 8.2% on 2026-08-01, 00840-AA-P3, 99212-99215") == []
    assert allowed.untraceable("on 2026-08-02, 00840-P4, $1,200.00, 25,000, $25") == [
        "2026-08-02", "00840-P4", "$1,200.00", "25,000", "$25"]


def test_no_letter_when_not_appealable(cost_share_run: CaseRun, appeal_run: CaseRun,
                                       env: Environment) -> None:
    assert _check(NoLetterWhenNotAppealable(), cost_share_run, env).passed
    assert _check(NoLetterWhenNotAppealable(), appeal_run, env).passed
    drafted = _check(NoLetterWhenNotAppealable(),
                     _expecting(appeal_run, action="needs_review"), env)
    assert not drafted.passed and "expects to be needs_review" in drafted.detail


def test_a_letter_on_any_denial_not_decided_appeal_fails(appeal_run: CaseRun,
                                                         env: Environment) -> None:
    """Every denial of the case counts, not only those the case is about."""
    assert appeal_run.manifest is not None
    denial = appeal_run.manifest.denials[0]
    other = denial.model_copy(update={"denial_id": "dn_other", "triage": denial.triage.model_copy(
        update={"action": "write_off"}), "procedure": None})
    manifest = appeal_run.manifest.model_copy(update={"denials": [denial, other]})
    run = dataclasses.replace(appeal_run, manifest=manifest)
    check = _check(NoLetterWhenNotAppealable(), run, env)
    assert (check.hits, check.total) == (1, 2) and "decided write_off" in check.detail


def test_a_case_with_no_target_denial_fails(appeal_run: CaseRun, env: Environment) -> None:
    typo = _expecting(appeal_run, procedure_code="72149")
    typo = dataclasses.replace(typo, targets=[])
    for evaluator in (ActionCorrect(), PlaybookCorrect(), NoLetterWhenNotAppealable()):
        check = _check(evaluator, typo, env)
        assert not check.passed and "72149" in check.detail


def test_no_forbidden_content(appeal_run: CaseRun, cost_share_run: CaseRun,
                              env: Environment) -> None:
    assert _check(NoForbiddenContent(), appeal_run, env).passed
    leaked = _check(NoForbiddenContent(),
                    _expecting(appeal_run, must_not_contain=["ac-um-7731205"]), env)
    assert not leaked.passed and "ac-um-7731205" in leaked.detail
    no_letter = _expecting(cost_share_run, must_not_contain=["heart transplant"])
    assert NoForbiddenContent().evaluate(no_letter, env) is None  # nothing to show


def test_a_failed_run_fails_its_checks(appeal_run: CaseRun, env: Environment) -> None:
    broken = dataclasses.replace(appeal_run, error="the run failed: OSError")
    checks = evaluate(broken, env)
    assert checks and not any(c.passed for c in checks)
    assert {c.evaluator for c in checks} <= {e.name for e in EVALUATORS}


def test_a_crash_anywhere_fails_the_case_not_the_run(appeal_run: CaseRun, env: Environment,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        name = "broken"
        description = "raises"

        def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
            raise ValueError("evaluator bug 42")

    (check,) = evaluate(appeal_run, env, [Broken()])
    assert not check.passed and "ValueError: evaluator bug 42" in check.detail

    assert appeal_run.manifest is not None
    nameless = appeal_run.manifest.model_copy(update={"denials": [
        d.model_copy(update={"playbook": None}) for d in appeal_run.manifest.denials]})
    checks = {c.evaluator: c for c in evaluate(dataclasses.replace(appeal_run,
                                                                   manifest=nameless), env)}
    for name in ("letter_complete", "no_fabrication"):
        assert not checks[name].passed and "names no playbook" in checks[name].detail

    def crash(*args: object) -> None:
        raise RuntimeError("agent bug 7")

    monkeypatch.setattr("evals.runner._run_agent", crash)
    run = run_case(appeal_run.loaded, RunSettings())
    assert run.error == "the run failed: RuntimeError: agent bug 7"
    assert not any(c.passed for c in evaluate(run, env))


def _result(case_id: str, split: str, checks: list[Check]) -> CaseResult:
    case = Case.model_validate(_case(id=case_id, split=split))
    return CaseResult(LoadedCase(case, "t.yaml", DEFAULT_TODAY), checks, 0.1)


def test_the_gate_is_applied_per_split() -> None:
    """Every split has its gate lines; a gated evaluator with nothing scored in a split
    that has cases fails there; dev and all decide, the holdout is only reported."""
    ok = [Check(name, 1, 1) for name in ("action_correct", "playbook_correct",
                                         "citation_validity", "no_forbidden_content",
                                         "no_letter_when_not_appealable")]
    results = [_result("a", "dev", [*ok, Check("evidence_recall", 1, 1)]),
               _result("b", "holdout", ok)]
    card = build_scorecard(results, "all", 1.0)
    assert {line.split for line in card.gate} == {"dev", "holdout", "all"}
    assert card.passed_by_split == {"dev": True, "holdout": False, "all": True}
    assert card.gated_on == ["dev", "all"] and card.gated_splits == ["dev", "all"]
    assert card.passed and card.failed_gates == []
    (missing,) = [line for line in card.gate if not line.passed]
    assert (missing.split, missing.evaluator, missing.rate) == ("holdout", "evidence_recall",
                                                                None)
    text = markdown(card)
    assert text.splitlines()[0].endswith(
        "Gate on `dev` and `all`: **passed**. Holdout (reported, not gated): **failed**.")
    assert "| evidence_recall | holdout | 90% | - (nothing scored) | **FAIL** |" in text


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


def _two_cases(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    """A file of two good cases whose text ``edit`` breaks inside the second."""
    path = _write(tmp_path, name, [_case(id="ok-case"), _case(id="bad-case")])
    text = path.read_text(encoding="utf-8")
    first, second = text.split("- id: bad-case", 1)
    path.write_text(first + "- id: bad-case" + edit(second), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("service_date: '2026-08-19'", "service_date: 2026-02-30", 1),
     "denial.queue_row: service_date"),
    (lambda t: t.replace("date: '2026-08-12'", "date: 2026-02-30", 1),
     "'2026-02-30' is not a date"),
    (lambda t: t.replace("split: dev", "split: dev\n  split: holdout", 1),
     "key 'split' given twice (first on line"),
])
def test_impossible_dates_and_repeated_keys_name_the_case(
        tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = _two_cases(tmp_path, "bad.yaml", edit)
    with pytest.raises(CaseFileError) as raised:
        load_file(path)
    assert str(raised.value).startswith("bad.yaml: case bad-case: ")
    assert message in str(raised.value)


def test_a_file_that_is_not_utf8_names_the_case(tmp_path: Path) -> None:
    path = _two_cases(tmp_path, "latin.yaml",
                      lambda t: t.replace("auth on file", "auth on file (café)", 1))
    path.write_bytes(path.read_bytes().replace("café".encode(), "café".encode("latin-1")))
    with pytest.raises(CaseFileError, match=r"^latin.yaml: case bad-case: not UTF-8 text "
                                            r"\(line \d+, byte 0xE9\)"):
        load_file(path)
    result = CliRunner().invoke(app, ["eval", str(path)])
    assert result.exit_code == 2 and "latin.yaml: case bad-case: not UTF-8" in result.output


def test_an_835_that_yields_no_denial_is_a_bad_case(tmp_path: Path) -> None:
    interchange = ("ISA*00*          *00*          *ZZ*A*ZZ*B*260828*1130*^*00501*000000001*0*P*:~"
                   "GS*HP*A*B*20260828*1130*1*X*005010X221A1~ST*835*0001~SE*2*0001~"
                   "GE*1*1~IEA*1*000000001~")
    path = _write(tmp_path, "x12.yaml", [_case(id="empty-835",
                                               denial={"x12_835": interchange})])
    with pytest.raises(CaseFileError, match=r"^x12.yaml: case empty-835: denial: the agent "
                                            "reads no denial"):
        load_file(path)
    result = CliRunner().invoke(app, ["eval", str(path)])
    assert result.exit_code == 2, result.output


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


def _llm_eval(respond: Callable[[dict[str, Any]], Any]) -> Any:
    from agent.llm.fake_server import FakeOpenAIServer
    from agent.llm.settings import LLMSettings

    with FakeOpenAIServer(respond) as server:
        settings = LLMSettings(base_url=server.base_url, api_key="test", max_concurrency=1)
        card = run_eval([DATASETS / "psychotherapy_time.yaml"], "dev",
                        RunSettings(llm=settings))
    assert server.requests
    return card


def test_the_llm_path_passes_the_gate_against_the_fake_server() -> None:
    """The same evaluators score model-drafted letters (here the fake server's grounded
    replies, which pass the agent's guardrails): every letter is the model's, and
    citations, fabrication and forbidden content hold on the LLM path too."""
    from agent.llm.fake_server import FakeReply, grounded_reply

    card = _llm_eval(lambda request: FakeReply(content=grounded_reply(request)))
    failing = [f"{f.case} {f.evaluator}: {f.detail}" for f in card.failures]
    assert card.passed, failing
    assert card.drafting.mode == "llm" and card.drafting.letters > 0
    assert card.drafting.by_llm == card.drafting.letters and card.drafting.fallbacks == 0


def test_an_ungrounded_reply_falls_back_to_the_template_and_the_gate_holds() -> None:
    from agent.llm.fake_server import FakeReply, evidence_in

    def respond(request: dict[str, Any]) -> FakeReply:
        facts = [fact for _, fact, _ in evidence_in(request)][:1]
        return FakeReply(content={"paragraphs": [
            {"text": "The patient had a heart transplant.", "facts": facts}],
            "proposed_evidence": []})

    card = _llm_eval(respond)
    failing = [f"{f.case} {f.evaluator}: {f.detail}" for f in card.failures]
    assert card.passed, failing
    assert card.drafting.letters > 0 and card.drafting.by_llm == 0
    assert card.drafting.fallbacks == card.drafting.letters
    assert "LLM drafting: 0 of" in markdown(card).splitlines()[0]


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


WRONG = {"action": "needs_review", "playbook": "prior_authorization"}
"""An expectation the agent does not meet (it appeals the case): action_correct fails."""


def test_exit_status_follows_dev_and_all_never_the_holdout(tmp_path: Path) -> None:
    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["eval", *args])

    # A failing dev case fails the gate on dev (and on all), named on stderr.
    dev = _write(tmp_path, "dev.yaml", [_case(expect=WRONG)])
    result = run(str(dev))
    assert result.exit_code == 1, result.output
    assert "appeals eval: gate failed: dev, all (suite cases)" in result.stderr
    assert run(str(dev), "--split", "dev").exit_code == 1
    assert "gate failed: dev (suite cases)" in run(str(dev), "--split", "dev").stderr
    # A failing holdout case alone is reported, never gated: exit 0, and it says so.
    held = _write(tmp_path, "held.yaml", [_case(id="h", split="holdout", expect=WRONG)])
    for args in ([str(held)], [str(held), "--split", "holdout"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "holdout: gate FAILED, reported, not gated" in result.output
        assert "no gate decides this run" in result.output and not result.stderr
    # Beside a passing dev case the same holdout case passes dev and fails all: the cases
    # suite gates all (dev and holdout together), so the run fails on all alone.
    both = _write(tmp_path, "both.yaml", [_case(), _case(id="h", split="holdout",
                                                         expect=WRONG)])
    result = run(str(both), "--json", str(tmp_path / "both.json"))
    assert result.exit_code == 1, result.output
    assert "appeals eval: gate failed: all (suite cases)" in result.stderr
    card = json.loads((tmp_path / "both.json").read_text(encoding="utf-8"))
    assert card["gated_splits"] == ["dev", "all"]
    assert card["passed_by_split"] == {"dev": True, "holdout": False, "all": False}
    assert run(str(both), "--split", "dev").exit_code == 0
    assert run(str(both), "--split", "holdout").exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-file.yaml"], "no-such-file.yaml: no such dataset file or directory"),
    (["--split", "train"], "--split is dev, holdout or all, not 'train'"),
    (["--suite", "real_notes"], "--suite is one of cases, real-notes"),
    (["EMPTY"], "a folder with no dataset file (*.yaml)"),
    (["--corpus", "no-such-folder"], "--corpus no-such-folder: no such folder"),
])
def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EMPTY").mkdir()
    result = CliRunner().invoke(app, ["eval", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


SPECIALTY_PLAYBOOKS = ("anesthesia_physical_status", "distinct_procedure",
                       "psychotherapy_time", "em_modifier_25")
NEGATIVE_KINDS = ("insufficient_documentation", "lower_code", "ncci_indicator_0",
                  "medicare_ps_units", "preprocedure_only")
ADVERSARIAL_KINDS = ("injection", "negation", "conflict", "other_patient", "outside_window",
                     "ocr_noise", "no_patient")
ADMINISTRATIVE_PLAYBOOKS = (None, "timely_filing", "prior_authorization")


def test_the_datasets_meet_the_issues_minimums() -> None:
    """Issue #6: at least 60 cases; at least 8 per specialty playbook and 3 of each
    negative kind; 10 administrative; 6 adversarial (each kind listed); a holdout split
    of 10-35% (counted by expected playbook and the tags the files use)."""
    cases = [c.case for c in load_cases()]
    tags = Counter(tag for case in cases for tag in set(case.tags))
    playbooks = Counter(case.expect.playbook for case in cases)
    assert len(cases) >= 60
    short = {p: playbooks[p] for p in SPECIALTY_PLAYBOOKS if playbooks[p] < 8}
    assert not short, f"fewer than 8 cases: {short}"
    negatives = {k: tags[f"negative:{k}"] for k in NEGATIVE_KINDS if tags[f"negative:{k}"] < 3}
    assert not negatives, f"fewer than 3 cases of these negatives: {negatives}"
    adversarial = [c for c in cases if any(t.startswith("adversarial:") for t in c.tags)]
    assert len(adversarial) >= 6
    missing = [k for k in ADVERSARIAL_KINDS if not tags[f"adversarial:{k}"]]
    assert not missing, f"no adversarial case of: {missing}"
    specialty_negatives = {f"negative:{k}" for k in NEGATIVE_KINDS} - \
        {"negative:insufficient_documentation"}
    administrative = [c for c in cases if c.expect.playbook in ADMINISTRATIVE_PLAYBOOKS
                      and c not in adversarial and not specialty_negatives & set(c.tags)]
    assert len(administrative) >= 10
    holdout = sum(c.split == "holdout" for c in cases)
    assert 0.10 <= holdout / len(cases) <= 0.35


def test_gate_passes_over_every_dataset_template_only() -> None:
    """CI's gate of the cases suite: on dev and on all the cases together (the holdout's
    own gate is reported, not gated)."""
    card = run_eval(split="all")
    assert card.cases >= 60
    assert card.drafting.mode == "template" and card.drafting.by_llm == 0
    failing = [f"{f.case} {f.evaluator}: {f.detail}" for f in card.failures]
    gate = {(line.split, line.evaluator): line.rate for line in card.gate
            if not line.passed and line.split != "holdout"}
    assert card.gated_splits == ["dev", "all"]
    assert card.passed and not card.failed_gates, f"gate failed {gate}; failing: {failing}"


def test_letter_evaluators_owe_nothing_where_no_case_expects_a_letter() -> None:
    """A split whose cases all expect no letter (write-offs, corrected claims) has nothing
    for citation_validity or evidence_recall to score, and that is not a failure."""
    ok = [Check(name, 1, 1) for name in ("action_correct", "playbook_correct",
                                         "no_letter_when_not_appealable")]
    case = _case(id="w", split="holdout")
    case["expect"] = {**case["expect"], "action": "write_off", "cited_facts": []}
    results = [_result("a", "dev", [*ok, Check("evidence_recall", 1, 1),
                                    Check("citation_validity", 1, 1),
                                    Check("no_forbidden_content", 1, 1)]),
               CaseResult(LoadedCase(Case.model_validate(case), "t.yaml", DEFAULT_TODAY),
                          ok, 0.1)]
    card = build_scorecard(results, "all", 1.0)
    assert card.passed_by_split["holdout"], [x for x in card.gate if not x.passed]
