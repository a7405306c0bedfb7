"""A playbook that names an unknown extractor, check or argument template fails at
start-up, naming the file and the field, instead of sending every denial it takes to
needs_review; `appeals playbooks check` reports the same, one line per file."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.workflow import open_workflow
from agent.cli import app
from agent.config import AppConfig
from agent.playbooks import registry
from agent.playbooks.builtin import builtin_registries
from agent.playbooks.registry import (
    PlaybookError,
    PlaybookSet,
    check_playbook_file,
    load_playbook,
    validate_references,
)
from agent.resources import resource_dir
from tests.conftest import FIXTURES, ROOT

SHIPPED = ROOT / "specialty_playbooks"
TEMPLATES = resource_dir("templates")
INPUTS = [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))] + \
    [str(FIXTURES / "queue" / "harbor-mutual-worklist.csv")]
EHR = f"fhir-dir:{FIXTURES / 'fhir'}"

runner = CliRunner()

# (file, text in the shipped file, its typo, the field named, the start of what is wrong)
TYPOS = [
    pytest.param("medical_necessity.yaml", "extractor: objective_finding",
                 "extractor: objective_findng", "facts[0].extractor",
                 "no extractor 'objective_findng' (known: ", id="extractor"),
    pytest.param("prior_authorization.yaml", "check: prior_auth_outside_period",
                 "check: prior_auth_outside_perod", "not_appeal[1].check",
                 "no check 'prior_auth_outside_perod' (known: ", id="check"),
    pytest.param("coverage_determination.yaml",
                 "argument_template: arguments/coverage_determination.md.j2",
                 "argument_template: arguments/coverage_determinaton.md.j2",
                 "argument_template",
                 "no template 'arguments/coverage_determinaton.md.j2' in ", id="template"),
]


def _copy_with(folder: Path, name: str, old: str, new: str) -> Path:
    """A copy of every shipped playbook in ``folder``, with one edit in ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    target = folder / name
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{name} no longer contains {old!r}: update the test"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


@pytest.fixture
def shipped_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> Callable[[str, str, str], Path]:
    """Make the shipped playbooks folder (what a run loads) a copy with one edit."""
    real = registry.resource_dir

    def edit(name: str, old: str, new: str) -> Path:
        folder = tmp_path / "specialty_playbooks"
        _copy_with(folder, name, old, new)
        monkeypatch.setattr(registry, "resource_dir", lambda which: folder
                            if which == "specialty_playbooks" else real(which))
        return folder

    return edit


# The shipped playbooks


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_playbook_passes(path: Path) -> None:
    extractors, checks = builtin_registries()
    assert check_playbook_file(path, extractors, checks, TEMPLATES) is None


def test_the_shipped_set_passes_the_start_up_check() -> None:
    extractors, checks = builtin_registries()
    validate_references(PlaybookSet.load(SHIPPED).playbooks, extractors, checks, TEMPLATES)


# A typo in each kind of reference


@pytest.mark.parametrize(("name", "old", "new", "field", "problem"), TYPOS)
def test_a_typo_fails_naming_the_file_and_the_field(
        tmp_path: Path, name: str, old: str, new: str, field: str, problem: str) -> None:
    folder = tmp_path / "playbooks"
    _copy_with(folder, name, old, new)
    extractors, checks = builtin_registries()
    with pytest.raises(PlaybookError) as raised:
        validate_references(PlaybookSet.load(folder).playbooks, extractors, checks,
                            TEMPLATES)
    message = str(raised.value)
    assert message.startswith(f"{name}: {field}: {problem}"), message
    assert "\n" not in message
    # The file checked alone says the same.
    assert check_playbook_file(folder / name, extractors, checks, TEMPLATES) == message


def test_the_known_names_are_listed() -> None:
    extractors, checks = builtin_registries()
    playbook = load_playbook(SHIPPED / "medical_necessity.yaml")
    typo = playbook.model_copy(update={"facts": (playbook.facts[0].model_copy(
        update={"extractor": "objective_findng"}),)})
    with pytest.raises(PlaybookError) as raised:
        validate_references([typo], extractors, checks, TEMPLATES)
    known = re.search(r"\(known: (.*)\)$", str(raised.value))
    assert known is not None and known.group(1).split(", ") == extractors.names()


def test_a_playbook_checked_alone_uses_every_built_in_registry(tmp_path: Path) -> None:
    # prior_auth_approval and the prior_auth_* checks come from a specialty module's
    # register(), not from the general registries.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(SHIPPED / "prior_authorization.yaml", alone)
    result = runner.invoke(app, ["playbooks", "check", str(alone / "prior_authorization.yaml")])
    assert (result.exit_code, result.stdout) == (0, "ok  prior_authorization.yaml\n")


def test_every_problem_of_a_file_is_counted(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, "prior_authorization.yaml", "check: prior_auth_no_number",
                      "check: prior_auth_no_numbr")
    text = path.read_text().replace("arguments/prior_authorization.md.j2",
                                    "arguments/prior_authorisation.md.j2")
    path.write_text(text)
    extractors, checks = builtin_registries()
    problem = check_playbook_file(path, extractors, checks, TEMPLATES)
    assert problem is not None
    assert problem.startswith("prior_authorization.yaml: not_appeal[0].check: no check "
                              "'prior_auth_no_numbr'")
    assert problem.endswith(" (and 1 more problem)")


def test_a_template_outside_the_templates_folder_is_not_found(tmp_path: Path) -> None:
    # The letters' Jinja loader never leaves its folder; neither does the check.
    path = _copy_with(tmp_path, "medical_necessity.yaml",
                      "arguments/medical_necessity.md.j2", "../templates/README.md")
    extractors, checks = builtin_registries()
    problem = check_playbook_file(path, extractors, checks, TEMPLATES)
    assert problem == (f"medical_necessity.yaml: argument_template: no template "
                       f"'../templates/README.md' in {TEMPLATES}")


def test_yaml_and_schema_errors_are_reported_as_before(tmp_path: Path) -> None:
    path = _copy_with(tmp_path, "timely_filing.yaml", "order: 200", "order: soon")
    (tmp_path / "broken.yaml").write_text("id: [unclosed", encoding="utf-8")
    extractors, checks = builtin_registries()
    with pytest.raises(PlaybookError) as raised:
        load_playbook(path)
    assert check_playbook_file(path, extractors, checks, TEMPLATES) == str(raised.value)
    assert str(raised.value).startswith("timely_filing.yaml: order: ")
    assert check_playbook_file(tmp_path / "broken.yaml", extractors, checks, TEMPLATES) == \
        "broken.yaml: not valid YAML (ParserError)"


# The run: fails at start-up


def test_open_workflow_fails_before_anything_is_written(
        tmp_path: Path, shipped_with: Callable[[str, str, str], Path]) -> None:
    shipped_with("medical_necessity.yaml", "extractor: objective_finding",
                 "extractor: objective_findng")
    with pytest.raises(PlaybookError, match=r"^medical_necessity\.yaml: facts\[0\]\."
                                            r"extractor: no extractor 'objective_findng'"), \
            open_workflow(tmp_path / "appeals.db", tmp_path / "out", EHR, AppConfig()):
        pass
    assert not (tmp_path / "appeals.db").exists() and not (tmp_path / "out").exists()


def test_appeals_run_exits_2_with_one_line_instead_of_needs_review(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        shipped_with: Callable[[str, str, str], Path]) -> None:
    shipped_with("medical_necessity.yaml", "extractor: objective_finding",
                 "extractor: objective_findng")

    def run(name: str) -> tuple[int, str, Path]:
        out = tmp_path / name
        result = runner.invoke(app, ["run", *INPUTS, "--ehr", EHR, "--out", str(out),
                                     "--db", str(tmp_path / f"{name}.db")])
        return result.exit_code, result.output, out

    # Without the start-up check (the issue): the typo sends the denials the playbook
    # takes to needs_review, one by one, and the run "succeeds".
    with monkeypatch.context() as unchecked:
        unchecked.setattr("agent.application.workflow.validate_references", lambda *args: None)
        status, _, out = run("unchecked")
    denials = json.loads((out / "manifest.json").read_text())["denials"]
    taken = [d for d in denials if d["playbook"] == "medical_necessity"]
    assert status == 0 and taken
    assert {d["triage"]["action"] for d in taken} == {"needs_review"}

    status, output, out = run("checked")
    assert status == 2
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("appeals run: medical_necessity.yaml: facts[0].extractor: "
                               "no extractor 'objective_findng' (known: ")
    assert lines[0].endswith(")")
    assert "Traceback" not in output
    assert not out.exists()


def test_appeals_review_says_the_same_in_one_line(
        tmp_path: Path, shipped_with: Callable[[str, str, str], Path]) -> None:
    shipped_with("prior_authorization.yaml", "check: prior_auth_outside_period",
                 "check: prior_auth_outside_perod")
    db = tmp_path / "appeals.db"
    db.touch()
    result = runner.invoke(app, ["review", "list", "--db", str(db), "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("appeals review: prior_authorization.yaml: "
                                    "not_appeal[1].check: no check 'prior_auth_outside_perod'")
    assert result.stderr.count("\n") == 1


# appeals playbooks check


def test_check_defaults_to_the_shipped_playbooks() -> None:
    result = runner.invoke(app, ["playbooks", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"ok  {p.name}"
                                          for p in sorted(SHIPPED.glob("*.yaml"))]


@pytest.mark.parametrize(("name", "old", "new", "field", "problem"), TYPOS)
def test_check_exits_1_with_a_fail_line(tmp_path: Path, name: str, old: str, new: str,
                                        field: str, problem: str) -> None:
    folder = tmp_path / "playbooks"
    _copy_with(folder, name, old, new)
    result = runner.invoke(app, ["playbooks", "check", str(folder)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(list(SHIPPED.glob("*.yaml")))
    failed = [line for line in lines if not line.startswith("ok  ")]
    assert len(failed) == 1
    assert failed[0].startswith(f"FAIL {name}: {field}: {problem}")


def test_check_takes_files_and_folders(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    text = (SHIPPED / "timely_filing.yaml").read_text().replace("order: 200", "order: soon")
    (bad / "timely_filing.yaml").write_text(text)
    (bad / "notes.txt").write_text("not a playbook: only *.yaml in a folder is read")
    result = runner.invoke(app, ["playbooks", "check", str(SHIPPED / "medical_necessity.yaml"),
                                 str(bad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "ok  medical_necessity.yaml",
        "FAIL timely_filing.yaml: order: Input should be a valid integer, unable to parse "
        "string as an integer"]


def test_check_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["playbooks", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert missing.stdout == ""
    assert missing.stderr == f"appeals playbooks check: no such file or folder: " \
                             f"{tmp_path / 'nope.yaml'}\n"
    empty = runner.invoke(app, ["playbooks", "check", str(tmp_path)])
    assert empty.exit_code == 2
    assert "no playbooks (*.yaml) in" in empty.stderr


@pytest.mark.parametrize(("vocabulary", "message"), [
    ("medical_necesity", r"facts\[0\]\.vocabulary: medical_necesity\.yaml: no such vocabulary"),
])
def test_a_vocabulary_that_is_not_there_fails_naming_the_field(vocabulary: str,
                                                                message: str) -> None:
    extractors, checks = builtin_registries()
    playbook = load_playbook(SHIPPED / "medical_necessity.yaml")
    typo = playbook.model_copy(update={"facts": (playbook.facts[0].model_copy(
        update={"vocabulary": vocabulary}),)})
    with pytest.raises(PlaybookError, match=message):
        validate_references([typo], extractors, checks, TEMPLATES)


def test_a_vocabulary_on_an_extractor_that_reads_none_fails() -> None:
    extractors, checks = builtin_registries()
    extractors.register("reads_none", lambda chart, denial: [])
    playbook = load_playbook(SHIPPED / "timely_filing.yaml")
    odd = playbook.model_copy(update={"facts": (playbook.facts[0].model_copy(
        update={"extractor": "reads_none", "vocabulary": "medical_necessity"}),)})
    with pytest.raises(PlaybookError, match=r"facts\[0\]\.vocabulary: extractor "
                                            r"'reads_none' reads no vocabulary"):
        validate_references([odd], extractors, checks, TEMPLATES)


def test_a_vocabulary_missing_a_list_its_extractor_reads_fails(tmp_path: Path) -> None:
    from agent.evidence.vocabulary import VocabularyError, load_vocabulary

    (tmp_path / "thin.yaml").write_text(
        "description: too few lists\nlists:\n  findings:\n    description: x\n"
        "    terms: ['effusion']\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"thin\.yaml: no list 'observations'"):
        load_vocabulary("thin", tmp_path).require("findings", "observations")
    (tmp_path / "bad.yaml").write_text(
        "description: bad term\nlists:\n  findings:\n    description: x\n"
        "    terms: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"bad\.yaml: lists\.findings: term "):
        load_vocabulary("bad", tmp_path)
    (tmp_path / "drugs.yaml").write_text(
        "description: bad class\nlists:\n  treatments:\n    description: x\n"
        "    drug_classes: [nsaids]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"unknown drug class\(es\) nsaids"):
        load_vocabulary("drugs", tmp_path)
