"""Practice settings and payer appeal details in the letters; nothing unfinished is approved;
`review show` prints the letter alone (and `--meta` its metadata).

The other tests that approve letters use tests/practice.py: the shipped practice settings
and the auditor's placeholders left in every draft make any approval fail, as they should.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from typer.testing import CliRunner

from agent.application.reviews import ReviewService
from agent.application.workflow import Workflow, open_workflow, run_batch
from agent.cli import app
from agent.codes import CodeTable
from agent.config import DEFAULT_DEADLINES, AppConfig, DeadlineRule, LetterSettings
from agent.letters.render import LetterRenderer
from agent.letters.unfinished import (
    SHIPPED,
    approval_problems,
    invalid_practice,
    placeholders,
    unconfigured,
)
from agent.npi import is_valid_npi
from agent.review.actions import (
    LetterheadUnusable,
    ReviewConflict,
    UnfinishedLetter,
    content_hash,
)
from tests.conftest import FIXTURES
from tests.practice import PRACTICE_TOML, draft_finished, finish, practice_config
from tests.test_docx_export import _letterhead
from tests.test_letters import _letter
from tests.test_workflow import INPUTS, TODAY, knee_chart


def _open(tmp_path: Path, config: AppConfig) -> Any:
    return open_workflow(tmp_path / "appeals.db", tmp_path / "out",
                         f"fhir-dir:{knee_chart(tmp_path / 'fhir')}", config, today=TODAY)


@pytest.fixture
def pending(tmp_path: Path) -> Iterator[tuple[Workflow, ReviewService, str]]:
    """A demo-practice run with one pending (unfinished) letter and the user ann.

    The payer table names no policy for the letter's playbook, so its payer-policy
    citation is a slot the auditor must fill.
    """
    with _open(tmp_path, _no_policies(practice_config())) as workflow:
        run_batch(workflow, INPUTS)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        service = ReviewService.over(workflow)
        (letter,) = service.list()
        yield workflow, service, letter.letter_id


# --- the configuration ----------------------------------------------------------------

def test_the_demo_practice_is_complete_and_valid() -> None:
    letter = practice_config().letter
    assert unconfigured(letter) == [] and invalid_practice(letter) == []
    assert is_valid_npi(letter.npi)
    assert unconfigured(AppConfig().letter) == ["practice_name", "address_lines",
                                                "contact_phone", "npi", "tax_id",
                                                "signature_name"]


def test_the_demo_payer_table_keeps_the_shipped_rows_after_its_own() -> None:
    rows = practice_config().deadlines
    assert rows[-len(DEFAULT_DEADLINES):] == DEFAULT_DEADLINES
    assert {r.payer_ids for r in rows[:-len(DEFAULT_DEADLINES)]} == \
        {("15102",), ("BRHP1",), ("HMI77",)}


def test_the_existing_keys_still_load(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text('[letter]\npractice_name = "Lakeside"\ncontact_phone = "(216) 555-0142"\n'
                   'signature_name = "Dana Ruiz"\nsignature_title = "Auditor"\n\n'
                   '[[deadlines]]\nname = "Harbor"\npayer_ids = ["HMI77"]\ndays = 90\n',
                   encoding="utf-8")
    config = AppConfig.load(old)
    assert config.letter.practice_name == "Lakeside"
    (rule,) = config.deadlines
    assert rule.days == 90 and rule.appeals_address == () and rule.appeals_fax is None


@pytest.mark.parametrize(("changes", "said"), [
    ({"npi": "1543210988"}, "npi is not a valid NPI"),
    ({"npi": "154321098"}, "npi is not a valid NPI"),
    ({"tax_id": "347719204"}, "tax_id is not a federal tax id of the form NN-NNNNNNN"),
    ({"tax_id": "34-77192O4"}, "NN-NNNNNNN"),
])
def test_a_configured_npi_or_tax_id_must_be_valid(tmp_path: Path, changes: dict[str, str],
                                                 said: str) -> None:
    letter = practice_config().letter.model_copy(update=changes)
    assert any(said in p for p in invalid_practice(letter))
    with pytest.raises(ValueError, match=said), \
            open_workflow(tmp_path / "a.db", tmp_path / "out", None,
                          practice_config(letter=letter)):
        pass  # pragma: no cover
    assert not (tmp_path / "a.db").exists()  # refused before anything is written


@pytest.mark.slow
def test_run_with_an_invalid_npi_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(PRACTICE_TOML.read_text(encoding="utf-8").replace(
        'npi = "1543210987"', 'npi = "1543210988"'), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "agent", "run", INPUTS[0], "--ehr",
                             f"fhir-dir:{FIXTURES / 'fhir'}", "--db", str(tmp_path / "a.db"),
                             "--out", str(tmp_path / "out"), "--config", str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert "npi is not a valid NPI" in line and "Traceback" not in result.stderr


def test_a_portal_url_must_be_a_web_address() -> None:
    with pytest.raises(ValueError, match="appeals_portal_url"):
        DeadlineRule(name="x", days=30, appeals_portal_url="providers.example/appeals")


# --- the letter -----------------------------------------------------------------------

def _render(settings: LetterSettings, payers: tuple[DeadlineRule, ...] = DEFAULT_DEADLINES
            ) -> str:
    renderer = LetterRenderer(settings, CodeTable.load_default(), payers=payers)
    return renderer.render(_letter(), date(2026, 9, 20))  # a Medicare Part B claim, 15102


def test_the_letter_carries_the_letterhead_and_signature() -> None:
    settings = practice_config().letter
    text = _render(settings)
    head = text.split("## Claim", 1)[0]
    assert text.startswith("# Request for reconsideration: claim ")
    assert ("**Lakeside Orthopedics and Multispecialty**  \n"
            "4100 Lakeshore Boulevard, Suite 210  \nCleveland, OH 44114  \n"
            "Phone (216) 555-0142, fax (216) 555-0143  \n"
            "NPI 1543210987, tax ID 34-7719204\n") in head
    assert text.endswith("Sincerely,\n\nDana Ruiz, CPC  \nAppeals Auditor  \n"
                         "Lakeside Orthopedics and Multispecialty\n")
    assert all(_auditors(p) for p in approval_problems(text, settings))  # none of the practice


def test_the_payers_appeal_details_show_when_known_and_are_left_out_cleanly() -> None:
    settings = practice_config().letter
    known = _render(settings, practice_config().deadlines)  # the Great Lakes MAC row
    assert ("**To:** Great Lakes MAC (payer ID 15102)  \nPart B Redeterminations  \nPO Box 7120  \n"
            "Lansing, MI 48909  \n**Appeals fax:** (517) 555-0188  \n"
            "**Appeal level:** Redetermination  \n**From:**") in known
    assert "Appeals portal" not in known  # the row gives none
    unknown = _render(settings)  # the shipped table knows no payer's address
    assert "**To:** MEDICARE PART B - GREAT LAKES MAC (payer ID 15102)  \n**From:**" in unknown
    head = unknown.split("## Claim")[0]
    assert "None" not in head and "Appeal" not in head


def test_the_first_matching_payer_row_gives_the_appeal_details() -> None:
    portal = DeadlineRule(name="by id", payer_ids=("15102",), days=120,
                          appeals_portal_url="https://mac.example/appeals")
    other = DeadlineRule(name="any Medicare", filing_indicators=("MB",), days=120,
                         appeals_fax="(517) 555-0100")
    first = _render(practice_config().letter, (portal, other))
    assert "**Appeals portal:** https://mac.example/appeals  \n" in first
    assert "555-0100" not in first
    assert "555-0100" in _render(practice_config().letter, (other, portal))


# --- nothing unfinished is approved ----------------------------------------------------

def _auditors(problem: str) -> bool:
    """Whether the problem is the auditor's to fix in the text, not the practice's."""
    return problem.startswith(("the text still has the placeholder", "the citation "))


def test_each_placeholder_and_each_shipped_practice_field_is_a_problem() -> None:
    text = _render(SHIPPED)
    problems = approval_problems(text, SHIPPED)
    assert any(_auditors(p) for p in problems)  # the payer's policy, at least
    for key in ("practice_name", "address_lines", "contact_phone", "npi", "tax_id",
                "signature_name"):
        assert sum(f"set {key} under [letter]" in p for p in problems) == 1, key
    assert approval_problems(finish(_render(practice_config().letter)),
                             practice_config().letter) == []


def test_a_letter_drafted_before_the_practice_was_configured_is_still_refused() -> None:
    drafted = finish(_render(SHIPPED))
    problems = approval_problems(drafted, practice_config().letter)
    assert len(problems) == 6
    assert all("the text shows the shipped placeholder" in p for p in problems)


@pytest.mark.parametrize("placeholder", [
    "(auditor to cite section)", "[auditor to confirm]", "(Auditor to name the LCD)",
    "(to be completed by the auditor before sending: policy name)",
    "the auditor cites the policy number and section",
    "(auditor to cite the policy, with no closing parenthesis",
])
def test_every_form_of_placeholder_is_found(placeholder: str) -> None:
    assert placeholders(f"- Policy X {placeholder}.\n")


def test_a_citation_printed_without_a_source_is_unfinished() -> None:
    text = ("# Request\n\n## Guidelines and policy\n\n- Medicare pays. (SSA §1862)\n"
            "- The payer's own medical policy. (None)\n\n## Request\n\nAllergies: (None)\n")
    settings = practice_config().letter
    assert approval_problems(text, settings) == [
        "the citation \"The payer's own medical policy.\" names no source (None): name the "
        "payer's policy, its number and section"]
    assert approval_problems(finish(text), settings) == []


def test_no_placeholder_in_a_finished_sentence() -> None:
    assert placeholders("The auditor confirmed it. An auditor's note (2026) says so.") == []


def test_approval_is_refused_naming_each_problem_and_nothing_changes(
        pending: tuple[Workflow, ReviewService, str]) -> None:
    workflow, service, letter_id = pending
    with pytest.raises(UnfinishedLetter) as refused:
        service.approve(letter_id, "ann")
    assert "cannot be approved until it is finished" in str(refused.value)
    assert list(refused.value.problems) == service.show(letter_id).problems
    assert all(p in str(refused.value) for p in refused.value.problems)
    assert refused.value.problems and all(_auditors(p) for p in refused.value.problems)
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None and letter.status == "pending_review" and letter.docx is None
    assert [e.action for e in workflow.ctx.store.audit_trail(letter_id)] == ["drafted"]
    text = service.show(letter_id).markdown
    service.edit(letter_id, "ann", finish(text))
    assert service.show(letter_id).problems == []
    assert service.approve(letter_id, "ann").letter.status == "approved"


def test_the_shipped_practice_is_refused_even_for_a_finished_text(tmp_path: Path) -> None:
    with _open(tmp_path, AppConfig()) as workflow:
        run_batch(workflow, INPUTS)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        service = ReviewService.over(workflow)
        (letter,) = service.list()
        service.edit(letter.letter_id, "ann", finish(service.show(letter.letter_id).markdown))
        with pytest.raises(UnfinishedLetter) as refused:
            service.approve(letter.letter_id, "ann")
    assert len(refused.value.problems) == 6
    assert "the practice NPI is the shipped placeholder" in str(refused.value)


def _no_policies(config: AppConfig) -> AppConfig:
    """``config`` with no payer policy named: every letter keeps the auditor's slot."""
    return config.model_copy(update={"deadlines": tuple(
        r.model_copy(update={"policies": {}}) for r in config.deadlines)})


@pytest.mark.parametrize("config", [AppConfig(), _no_policies(practice_config())],
                         ids=["shipped", "demo"])
def test_auto_approve_leaves_an_unfinished_letter_pending_and_says_why(
        tmp_path: Path, config: AppConfig) -> None:
    lines: list[str] = []
    with _open(tmp_path, config) as workflow:
        manifest = run_batch(workflow, INPUTS, auto_approve=True, on_repair=lines.append)
        (letter,) = workflow.ctx.store.list_letters(None)
        trail = [e.action for e in workflow.ctx.store.audit_trail(letter.letter_id)]
        waiting = workflow.review.get_state({"configurable": {
            "thread_id": f"review:{letter.letter_id}"}}).next
    assert letter.status == "pending_review" and letter.docx is None
    assert trail == ["drafted"] and waiting == ("review",)
    (line,) = lines
    assert line.startswith("not auto-approved: 1 of 1 letters are not finished")
    assert "the text still has the placeholder" in line or "names no source" in line
    assert ("practice NPI is the shipped placeholder" in line) == (config == AppConfig())
    (appealed,) = [d for d in manifest.denials if d.letter.id]
    assert appealed.triage.action == "appeal" and appealed.letter.status == "pending_review"


def test_auto_approve_approves_a_finished_letter_of_a_configured_practice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)
    lines: list[str] = []
    with _open(tmp_path, practice_config()) as workflow:
        manifest = run_batch(workflow, INPUTS, auto_approve=True, on_repair=lines.append)
    letters = [d.letter for d in manifest.denials if d.letter.id]
    assert letters and all(x.status == "approved" and x.docx for x in letters)
    assert lines == []


@pytest.mark.slow
def test_the_demo_letters_need_only_the_auditors_placeholders(tmp_path: Path) -> None:
    """With fixtures/practice.toml the demo's letters lack nothing of the practice's.

    The demo's payer table names each payer's policies, so most letters are finished as
    drafted; what any still needs is the auditor's (a fact its template asks them to
    confirm), never a practice field.
    """
    inputs = [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))] + \
        [str(p) for p in sorted((FIXTURES / "queue").iterdir())]
    with open_workflow(tmp_path / "appeals.db", tmp_path / "out",
                       f"fhir-dir:{FIXTURES / 'fhir'}", practice_config(),
                       today=date(2026, 9, 20)) as workflow:
        run_batch(workflow, inputs)
        service = ReviewService.over(workflow)
        views = [service.show(x.letter_id) for x in service.list()]
    assert len(views) == 8
    assert sum(1 for view in views if not view.problems) >= 6
    for view in views:
        assert all(_auditors(p) for p in view.problems), view.problems
        assert approval_problems(finish(view.markdown), practice_config().letter) == []
        assert "Your Practice Name" not in view.markdown and "000-0000" not in view.markdown


# --- review show ----------------------------------------------------------------------

def _cli(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--db", str(tmp_path / "appeals.db"), "--out",
                                    str(tmp_path / "out"), "--config", str(PRACTICE_TOML)],
                              env={"APPEALS_USER": "ann"})


def test_review_show_prints_the_letter_alone_and_round_trips(
        tmp_path: Path, pending: tuple[Workflow, ReviewService, str]) -> None:
    workflow, _service, letter_id = pending
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None
    on_disk = (tmp_path / "out" / letter.markdown).read_bytes()
    shown = _cli(tmp_path, "review", "show", letter_id)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout_bytes == on_disk  # no trailer, no added line
    saved = tmp_path / "f.md"
    saved.write_bytes(shown.stdout_bytes)
    edit = _cli(tmp_path, "review", "edit", letter_id, "--file", str(saved))
    assert edit.exit_code == 0 and edit.stdout.strip() == f"{letter_id}: no change"
    assert [e.action for e in workflow.ctx.store.audit_trail(letter_id)] == ["drafted"]


def test_review_show_meta_prints_the_metadata_as_json(
        tmp_path: Path, pending: tuple[Workflow, ReviewService, str]) -> None:
    workflow, service, letter_id = pending
    shown = _cli(tmp_path, "review", "show", letter_id, "--meta")
    assert shown.exit_code == 0, shown.output
    meta = json.loads(shown.stdout)
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None
    assert meta["letter_id"] == letter_id and meta["status"] == "pending_review"
    assert meta["claim_id"] == "LOM26-10601" and meta["queue"] == letter.group_id
    assert meta["payer_id"] == "15102" and meta["playbook"] == "medical_necessity"
    assert meta["markdown"] == letter.markdown and meta["docx"] is None
    assert meta["content_hash"] == meta["text_hash"] == letter.content_hash
    assert meta["changed_outside"] is False
    assert meta["drafted_by"] == "template" and meta["llm_fallback"] is None
    assert meta["supersedes"] is None and meta["superseded_by"] is None
    assert meta["approval_problems"] == service.show(letter_id).problems != []
    assert [e["action"] for e in meta["audit"]] == ["drafted"]
    assert meta["audit"][0]["hash_after"] == letter.content_hash
    # The text hash is what --if-hash takes.
    service.edit(letter_id, "ann", finish(service.show(letter_id).markdown))
    meta = json.loads(_cli(tmp_path, "review", "show", letter_id, "--meta").stdout)
    assert meta["approval_problems"] == []
    approved = _cli(tmp_path, "review", "approve", letter_id, "--if-hash", meta["text_hash"])
    assert approved.exit_code == 0, approved.output
    meta = json.loads(_cli(tmp_path, "review", "show", letter_id, "--meta").stdout)
    assert meta["status"] == "approved" and meta["docx"]
    assert [e["action"] for e in meta["audit"]] == ["drafted", "edited", "approved"]
    assert [e["actor"] for e in meta["audit"][1:]] == ["ann", "ann"]


def test_review_show_says_a_file_changed_outside_on_stderr(
        tmp_path: Path, pending: tuple[Workflow, ReviewService, str]) -> None:
    workflow, _service, letter_id = pending
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None
    path = tmp_path / "out" / letter.markdown
    path.write_text(path.read_text(encoding="utf-8") + "P.S.\n", encoding="utf-8")
    shown = _cli(tmp_path, "review", "show", letter_id)
    assert shown.exit_code == 0
    assert shown.stdout_bytes == path.read_bytes()
    assert "changed outside the tool" in shown.stderr and "review edit" in shown.stderr
    meta = json.loads(_cli(tmp_path, "review", "show", letter_id, "--meta").stdout)
    assert meta["changed_outside"] is True
    assert meta["text_hash"] == content_hash(path.read_text(encoding="utf-8"))
    assert meta["content_hash"] == letter.content_hash


@pytest.mark.slow
def test_cli_approve_refuses_an_unfinished_letter_in_one_line(
        tmp_path: Path, pending: tuple[Workflow, ReviewService, str]) -> None:
    _workflow, _service, letter_id = pending
    result = subprocess.run([sys.executable, "-m", "agent", "review", "approve", letter_id,
                             "--db", str(tmp_path / "appeals.db"), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True,
                            check=False, env={**os.environ, "APPEALS_USER": "ann",
                                              "APPEALS_CONFIG": str(PRACTICE_TOML)})
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert f"letter {letter_id} cannot be approved until it is finished (" in line
    assert "the text still has the placeholder" in line or "names no source" in line


def test_a_stale_hash_is_still_a_conflict_before_anything_else(
        pending: tuple[Workflow, ReviewService, str]) -> None:
    _workflow, service, letter_id = pending
    with pytest.raises(ReviewConflict):
        service.approve(letter_id, "ann", if_hash="sha256:0")


def test_a_payer_policy_in_the_payer_table_fills_the_citation() -> None:
    from agent.letters.render import PAYER_POLICY_SLOT

    demo = practice_config()
    row = next(r for r in demo.deadlines if "15102" in r.payer_ids)
    assert row.policies  # the demo names its payers' policies
    renderer = LetterRenderer(demo.letter, CodeTable.load_default(), payers=demo.deadlines)
    bare = LetterRenderer(demo.letter, CodeTable.load_default(),
                          payers=tuple(r.model_copy(update={"policies": {}})
                                       for r in demo.deadlines))
    from tests.test_letters import _letter  # a Great Lakes MAC medical necessity letter

    letter = _letter()
    filled = renderer.render(letter, date(2026, 9, 20))
    assert row.policies[letter.playbook.id] in filled and PAYER_POLICY_SLOT not in filled
    slot = bare.render(letter, date(2026, 9, 20))
    assert PAYER_POLICY_SLOT in slot and placeholders(slot)


# --- the letterhead -------------------------------------------------------------------

LETTERHEAD = "Lakeside Orthopedics and Multispecialty | 4100 Lakeshore Blvd | Cleveland"


def _with_letterhead(folder: Path, setting: str = "letterhead.docx") -> Path:
    """The demo configuration in ``folder`` with ``letterhead_docx = setting``, and a
    letterhead .docx (whose header reads LETTERHEAD) at ``folder/letterhead.docx``."""
    folder.mkdir(parents=True, exist_ok=True)
    _letterhead(folder / "letterhead.docx", LETTERHEAD)
    config = folder / "practice.toml"
    config.write_text(PRACTICE_TOML.read_text(encoding="utf-8").replace(
        "[letter]\n", f"[letter]\nletterhead_docx = {json.dumps(setting)}\n", 1),
        encoding="utf-8")
    return config


def _header(docx: Path) -> str:
    return "\n".join(p.text for p in Document(str(docx)).sections[0].header.paragraphs)


def test_the_letterhead_is_found_beside_the_configuration_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _with_letterhead(tmp_path / "practice")
    monkeypatch.chdir(tmp_path)  # not the configuration's folder
    assert AppConfig.load(config).letter.letterhead_docx == \
        tmp_path / "practice" / "letterhead.docx"
    assert AppConfig.load(Path("practice") / "practice.toml").letter.letterhead_docx == \
        tmp_path / "practice" / "letterhead.docx"
    absolute = _with_letterhead(tmp_path / "other", str(tmp_path / "practice" /
                                                         "letterhead.docx"))
    assert AppConfig.load(absolute).letter.letterhead_docx == \
        tmp_path / "practice" / "letterhead.docx"
    assert AppConfig.load(PRACTICE_TOML).letter.letterhead_docx is None


def test_auto_approval_exports_on_the_configured_letterhead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)
    config = AppConfig.load(_with_letterhead(tmp_path / "practice"))
    with _open(tmp_path, config) as workflow:
        manifest = run_batch(workflow, INPUTS, auto_approve=True)
    (letter,) = [d.letter for d in manifest.denials if d.letter.id]
    assert letter.status == "approved" and letter.docx
    docx = Document(str(tmp_path / "out" / letter.docx))
    assert _header(tmp_path / "out" / letter.docx) == LETTERHEAD
    assert any(p.text == "Sincerely," for p in docx.paragraphs)  # the letter, not the template's
    assert not any("Template body text" in p.text for p in docx.paragraphs)


def test_review_approve_exports_on_the_configured_letterhead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)
    config_path = _with_letterhead(tmp_path / "practice")
    with _open(tmp_path, AppConfig.load(config_path)) as workflow:
        run_batch(workflow, INPUTS)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        (letter,) = workflow.ctx.store.list_letters("pending_review")
    result = CliRunner().invoke(app, ["review", "approve", letter.letter_id, "--db",
                                      str(tmp_path / "appeals.db"), "--out",
                                      str(tmp_path / "out"), "--config", str(config_path)],
                                env={"APPEALS_USER": "ann"})
    assert result.exit_code == 0, result.output
    docx = (tmp_path / "out" / letter.markdown).with_suffix(".docx")
    assert _header(docx) == LETTERHEAD


@pytest.mark.parametrize(("write", "said"), [
    (None, "no such file"),
    (lambda path: path.write_text("a letterhead\n", encoding="utf-8"),
     "not a Word document (.docx)"),
    (lambda path: path.mkdir(), "a folder, not a Word document (.docx)"),
])
def test_a_letterhead_that_cannot_be_used_is_one_line_naming_the_setting(
        tmp_path: Path, write: Any, said: str) -> None:
    config = _with_letterhead(tmp_path / "practice", "heads/letterhead.docx")
    wanted = tmp_path / "practice" / "heads" / "letterhead.docx"
    if write is not None:
        wanted.parent.mkdir()
        write(wanted)
    with pytest.raises(ValueError) as raised:
        AppConfig.load(config)
    assert str(raised.value) == f"[letter] letterhead_docx {wanted}: {said}"
    for command in (["config", "show"],
                    ["run", INPUTS[0], "--ehr", f"fhir-dir:{FIXTURES / 'fhir'}", "--db",
                     str(tmp_path / "a.db"), "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(app, [*command, "--config", str(config)])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), \
            result.output
        (line,) = [x for x in result.output.splitlines() if x.strip()]
        assert f"[letter] letterhead_docx {wanted}: {said}" in line
    assert not (tmp_path / "a.db").exists()  # refused before anything is written


def _spoil(docx: Path) -> None:
    """Leave ``docx`` a package that says it is a Word document, with a main part that is
    not XML: the configuration's check passes it, python-docx cannot open it."""
    with zipfile.ZipFile(docx) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["word/document.xml"] = b"not XML"
    with zipfile.ZipFile(docx, "w") as spoiled:
        for name, data in members.items():
            spoiled.writestr(name, data)


def test_a_letterhead_word_cannot_open_leaves_the_approval_without_its_docx(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)
    config_path = _with_letterhead(tmp_path / "practice")
    letterhead = tmp_path / "practice" / "letterhead.docx"
    with _open(tmp_path, AppConfig.load(config_path)) as workflow:
        run_batch(workflow, INPUTS)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        (letter,) = workflow.ctx.store.list_letters("pending_review")
    _spoil(letterhead)

    def approve() -> Any:
        return CliRunner().invoke(app, ["review", "approve", letter.letter_id, "--db",
                                        str(tmp_path / "appeals.db"), "--out",
                                        str(tmp_path / "out"), "--config", str(config_path)],
                                  env={"APPEALS_USER": "ann"})

    refused = approve()
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit)
    (line,) = [x for x in refused.output.splitlines() if x.strip()]
    assert line == (
        f"appeals review: letter {letter.letter_id} is approved, but its DOCX was not "
        f"written: [letter] letterhead_docx {letterhead}: not a Word document (.docx) that "
        f"can be opened; fix the setting, then `appeals review approve {letter.letter_id}` "
        "writes it")
    with _open(tmp_path, AppConfig.load(config_path)) as workflow:
        stored = workflow.ctx.store.get_letter(letter.letter_id)
        assert stored is not None and stored.status == "approved" and stored.docx is None
        with pytest.raises(LetterheadUnusable):  # the service says the same
            ReviewService.over(workflow).actions.export(letter.letter_id)
    _letterhead(letterhead, LETTERHEAD)  # fixed: approving again writes the DOCX
    written = approve()
    assert written.exit_code == 0, written.output
    assert _header((tmp_path / "out" / letter.markdown).with_suffix(".docx")) == LETTERHEAD


def test_an_auto_approved_run_checks_the_letterhead_before_it_starts(tmp_path: Path) -> None:
    config = _with_letterhead(tmp_path / "practice")
    letterhead = tmp_path / "practice" / "letterhead.docx"
    _spoil(letterhead)
    result = CliRunner().invoke(app, ["run", INPUTS[0], "--ehr", f"fhir-dir:{FIXTURES / 'fhir'}",
                                      "--db", str(tmp_path / "a.db"), "--out",
                                      str(tmp_path / "out"), "--config", str(config),
                                      "--auto-approve"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    (line,) = [x for x in result.output.splitlines() if x.strip()]
    assert line == (f"appeals run: [letter] letterhead_docx {letterhead}: not a Word "
                    "document (.docx) that can be opened")
    assert not (tmp_path / "out" / "letters").exists()  # nothing drafted, nothing approved
