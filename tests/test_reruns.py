"""Re-runs follow the chart: a changed note or playbook decides a denial again.

Approved letters never change; a pending draft whose text would change is superseded (kept,
audited), and so is one whose practice settings or payer row changed; deadlines are judged
on the run's date.
"""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from agent.application.reviews import ReviewService
from agent.application.workflow import Workflow, open_workflow, run_batch
from agent.config import AppConfig
from agent.manifest import Manifest
from agent.playbooks.registry import PlaybookSet
from agent.resources import resource_dir
from agent.review.actions import ReviewActions, ReviewError
from agent.store.records import LetterRecord
from agent.workflow.rerun import text_hash
from tests.charts import encounter, note, patient, write_chart
from tests.practice import draft_finished, practice_config
from tests.test_workflow import GOOD_NOTE, INPUTS, THIN_NOTE, TODAY

APPEALED = "LOM26-10601"  # GOOD_NOTE documents failed conservative care: appealed
THIN = "LOM26-10433"  # THIN_NOTE documents none: needs review


def chart(folder: Path, good: str = GOOD_NOTE, thin: str = THIN_NOTE) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    return write_chart(folder, [
        patient("p1", "1EG4TE5MK73", name=[{"family": "SORENSEN", "given": ["HAROLD"]}],
                birthDate="1950-03-02"),
        encounter("e1", APPEALED, "p1"),
        note("d1", "p1", good, "2026-08-18", encounter_id="e1"),
        patient("p2", "BRH660218734"),
        encounter("e2", THIN, "p2"),
        note("d2", "p2", thin, "2026-08-06", encounter_id="e2"),
    ])


def workflow(tmp_path: Path, today: date = TODAY, config: AppConfig | None = None,
             **options: Any) -> AbstractContextManager[Workflow]:
    return open_workflow(tmp_path / "appeals.db", tmp_path / "out",
                         f"fhir-dir:{tmp_path / 'fhir'}", config or practice_config(),
                         today=today, **options)


def run(tmp_path: Path, today: date = TODAY, config: AppConfig | None = None,
        **options: Any) -> tuple[Manifest, list[LetterRecord]]:
    with workflow(tmp_path, today, config, **options) as flow:
        manifest = run_batch(flow, INPUTS)
        return manifest, flow.ctx.store.list_letters(None)


def by_claim(manifest: Manifest) -> dict[str, Any]:
    return {d.claim_id: d for d in manifest.denials}


ADDENDUM = "Addendum 08/20: the effusion recurred after aspiration; quadriceps atrophy noted.\n"


def test_a_rerun_on_the_same_chart_changes_nothing(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    first, letters = run(tmp_path)
    again, letters_again = run(tmp_path)
    assert again.summary.redecided == {} and again.summary.letters_superseded == 0
    assert letters_again == letters
    (letter,) = letters
    with workflow(tmp_path) as flow:
        assert [e.action for e in flow.ctx.store.audit_trail(letter.letter_id)] == ["drafted"]
    assert by_claim(again)[APPEALED].letter == by_claim(first)[APPEALED].letter


def test_a_changed_note_supersedes_the_pending_draft(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    _, (old,) = run(tmp_path)
    chart(tmp_path / "fhir", good=GOOD_NOTE + ADDENDUM)
    manifest, letters = run(tmp_path)
    # The patient's other denial (LOM26-10622, needs review) read the same note.
    assert manifest.summary.redecided == {"chart changed": 2}
    assert manifest.summary.letters_superseded == 1
    statuses = {x.letter_id: x for x in letters}
    superseded = statuses[old.letter_id]
    new = statuses[by_claim(manifest)[APPEALED].letter.id]
    assert superseded.status == "superseded" and superseded.superseded_by == new.letter_id
    assert new.status == "pending_review" and new.supersedes == old.letter_id
    # The old draft is kept as it was; the new one is a new file.
    assert (tmp_path / "out" / superseded.markdown).is_file()
    assert superseded.markdown != new.markdown
    # A third run, nothing changed: its summary counts its own work, not the last run's.
    third, _ = run(tmp_path)
    assert third.summary.redecided == {} and third.summary.letters_superseded == 0
    with workflow(tmp_path) as flow:
        store = flow.ctx.store
        trail = store.audit_trail(old.letter_id)
        assert [e.action for e in trail] == ["drafted", "superseded"]
        assert trail[-1].actor == "system" and "chart changed" in (trail[-1].note or "")
        # Both versions of the note are kept, content-addressed, with the decision's refs.
        (record,) = [r for r in flow.ctx.records([d.denial_id for d in manifest.denials])
                     if r.denial.claim_id == APPEALED]
        (ref,) = record.documents
        assert ref.document_id == "DocumentReference/d1" and ref.date == date(2026, 8, 18)
        assert store.get_document_text(ref.text_hash) == GOOD_NOTE + ADDENDUM
        assert store.get_document_text(text_hash(GOOD_NOTE)) == GOOD_NOTE


def test_a_note_that_now_documents_the_facts_gets_its_appeal(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    first, _ = run(tmp_path)
    assert by_claim(first)[THIN].triage.action == "needs_review"
    fuller = THIN_NOTE.replace("No prior tx.", "Naproxen 500 mg BID x 8 wks without relief; "
                               "home exercise program x 6 wks without improvement.")
    chart(tmp_path / "fhir", thin=fuller)
    manifest, _ = run(tmp_path)
    assert manifest.summary.redecided == {"chart changed": 1}
    thin = by_claim(manifest)[THIN]
    assert thin.triage.action == "appeal" and thin.letter.status == "pending_review"
    assert manifest.summary.letters_superseded == 0


def test_approved_letters_never_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    draft_finished(monkeypatch)  # approvable
    chart(tmp_path / "fhir")
    _, (letter,) = run(tmp_path)
    with workflow(tmp_path) as flow:
        flow.ctx.store.add_user("ann", "auditor", "secret")
        ReviewService.over(flow).approve(letter.letter_id, "ann")
    chart(tmp_path / "fhir", good=GOOD_NOTE + ADDENDUM)
    manifest, letters = run(tmp_path)
    assert manifest.summary.redecided == {"chart changed": 2}
    assert manifest.summary.letters_superseded == 0
    (kept,) = letters
    assert kept.letter_id == letter.letter_id and kept.status == "approved"
    assert kept.content_hash == letter.content_hash


def test_a_draft_no_longer_due_is_superseded_without_a_successor(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    _, (old,) = run(tmp_path)
    chart(tmp_path / "fhir", good="ORTHO F/U\nPE: R knee: large effusion.\nA/P: R knee OA.\n")
    manifest, letters = run(tmp_path)
    appealed = by_claim(manifest)[APPEALED]
    assert appealed.triage.action != "appeal" and appealed.letter.status == "not_drafted"
    (letter,) = letters
    assert letter.letter_id == old.letter_id and letter.status == "superseded"
    assert letter.superseded_by is None and manifest.summary.letters_superseded == 1
    # The note is corrected back: the appeal is due again and gets a new draft.
    chart(tmp_path / "fhir")
    back, letters = run(tmp_path)
    again = by_claim(back)[APPEALED].letter
    assert again.status == "pending_review" and again.id != old.letter_id
    assert {x.letter_id: x.supersedes for x in letters}[again.id or ""] == old.letter_id


def test_a_crash_between_superseding_and_drafting_is_finished_by_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chart(tmp_path / "fhir")
    _, (old,) = run(tmp_path)
    chart(tmp_path / "fhir", good=GOOD_NOTE + ADDENDUM)
    real = ReviewActions.save_draft

    def killed(self: ReviewActions, letter: LetterRecord) -> None:
        raise KeyboardInterrupt  # the process dies after the old draft was superseded

    monkeypatch.setattr(ReviewActions, "save_draft", killed)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path)
    monkeypatch.setattr(ReviewActions, "save_draft", real)
    manifest, letters = run(tmp_path)
    statuses = {x.letter_id: x for x in letters}
    assert statuses[old.letter_id].status == "superseded"
    new = statuses[statuses[old.letter_id].superseded_by or ""]
    assert new.status == "pending_review" and new.supersedes == old.letter_id
    assert by_claim(manifest)[APPEALED].letter.id == new.letter_id
    assert len(letters) == 2


def test_deadlines_are_judged_on_the_runs_date(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    late_day = date(2028, 1, 3)  # every deadline of these remittances has passed
    manifest, letters = run(tmp_path, late_day)
    appealed = by_claim(manifest)[APPEALED]
    assert appealed.triage.action == "appeal" and appealed.triage.past_deadline
    assert appealed.letter.status == "not_drafted" and letters == []
    assert manifest.summary.as_of == late_day
    assert manifest.summary.late_not_drafted == 1
    assert manifest.summary.past_deadline >= 2  # the appeal and the denial under review
    included, letters = run(tmp_path, late_day, include_late=True)
    assert by_claim(included)[APPEALED].letter.status == "pending_review" and len(letters) == 1
    assert included.summary.late_not_drafted == 0
    on_time, _ = run(tmp_path)  # the same store on a day before the deadline
    assert not by_claim(on_time)[APPEALED].triage.past_deadline


# --- the practice settings and the payer row --------------------------------------------

def renamed(name: str = "Lakeside Orthopedic Partners") -> AppConfig:
    """The demo practice under another name."""
    config = practice_config()
    return practice_config(letter=config.letter.model_copy(update={"practice_name": name}))


def payer_row(config: AppConfig, payer_id: str, **changes: Any) -> AppConfig:
    """``config`` with the payer table's row for ``payer_id`` changed."""
    rows = [r.model_copy(update=changes) if r.payer_ids == (payer_id,) else r
            for r in config.deadlines]
    assert rows != list(config.deadlines)
    return config.model_copy(update={"deadlines": tuple(rows)})


def medicare_row(config: AppConfig, **changes: Any) -> AppConfig:
    """``config`` with the appealed claim's payer row (Great Lakes MAC, 15102) changed."""
    return payer_row(config, "15102", **changes)


def _with_policy(config: AppConfig, playbook_id: str, policy: str) -> AppConfig:
    (row,) = [r for r in config.deadlines if r.payer_ids == ("15102",)]
    return medicare_row(config, policies={**row.policies, playbook_id: policy})


def text(tmp_path: Path, letter: LetterRecord) -> str:
    return (tmp_path / "out" / letter.markdown).read_text(encoding="utf-8")


def test_a_changed_practice_name_supersedes_the_pending_draft(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    _, (old,) = run(tmp_path)
    assert "Lakeside Orthopedics and Multispecialty" in text(tmp_path, old)
    manifest, letters = run(tmp_path, config=renamed())
    assert manifest.summary.redecided == {}  # nothing decided again: only drafted again
    assert manifest.summary.letters_superseded == 1
    statuses = {x.letter_id: x for x in letters}
    superseded = statuses[old.letter_id]
    new = statuses[by_claim(manifest)[APPEALED].letter.id or ""]
    assert superseded.status == "superseded" and superseded.superseded_by == new.letter_id
    assert new.status == "pending_review" and new.supersedes == old.letter_id
    assert "Lakeside Orthopedic Partners" in text(tmp_path, new)
    assert "Lakeside Orthopedics and Multispecialty" not in text(tmp_path, new)
    assert "Lakeside Orthopedics and Multispecialty" in text(tmp_path, superseded)  # kept
    with workflow(tmp_path) as flow:
        trail = flow.ctx.store.audit_trail(old.letter_id)
        assert [e.action for e in trail] == ["drafted", "superseded"]
        assert trail[-1].actor == "system"
        assert trail[-1].note == f"practice settings changed; replaced by {new.letter_id}"
        assert [e.action for e in flow.ctx.store.audit_trail(new.letter_id)] == ["drafted"]
    # The same settings again: the new draft stands.
    _, letters_again = run(tmp_path, config=renamed())
    assert letters_again == letters
    with workflow(tmp_path) as flow:
        assert [e.action for e in flow.ctx.store.audit_trail(new.letter_id)] == ["drafted"]


def test_a_changed_payer_row_supersedes_the_pending_draft(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    _, (old,) = run(tmp_path)
    config = medicare_row(practice_config(), appeals_fax="(517) 555-0199")
    manifest, letters = run(tmp_path, config=config)
    assert manifest.summary.letters_superseded == 1
    new = {x.letter_id: x for x in letters}[by_claim(manifest)[APPEALED].letter.id or ""]
    assert "**Appeals fax:** (517) 555-0199" in text(tmp_path, new)
    with workflow(tmp_path) as flow:
        note = flow.ctx.store.audit_trail(old.letter_id)[-1].note or ""
        assert note.startswith("payer settings changed")
    both = medicare_row(renamed(), appeals_fax="(517) 555-0100")
    manifest, _ = run(tmp_path, config=both)
    with workflow(tmp_path) as flow:
        note = flow.ctx.store.audit_trail(new.letter_id)[-1].note or ""
        assert note.startswith("practice and payer settings changed")


@pytest.mark.parametrize("unprinted", [
    pytest.param(lambda c: medicare_row(c, days=90, source="the contract, section 7"),
                 id="the payer's deadline"),
    pytest.param(lambda c: _with_policy(c, "psychotherapy_time", "another playbook's policy"),
                 id="another playbook's policy"),
    pytest.param(lambda c: payer_row(c, "BRHP1", appeals_fax="(614) 555-0100"),
                 id="another payer's row"),
    pytest.param(lambda c: c.model_copy(update={"letter": c.letter.model_copy(
        update={"letterhead_docx": Path("letterhead.docx")})}), id="the letterhead"),
])
def test_settings_a_letter_does_not_print_redraft_nothing(
        tmp_path: Path, unprinted: Any) -> None:
    chart(tmp_path / "fhir")
    _, letters = run(tmp_path)
    manifest, again = run(tmp_path, config=unprinted(practice_config()))
    assert manifest.summary.letters_superseded == 0 and again == letters


def test_an_approved_letter_keeps_the_settings_it_was_approved_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)  # approvable
    chart(tmp_path / "fhir")
    _, (letter,) = run(tmp_path)
    with workflow(tmp_path) as flow:
        flow.ctx.store.add_user("ann", "auditor", "secret")
        ReviewService.over(flow).approve(letter.letter_id, "ann")
    before = text(tmp_path, letter)
    manifest, letters = run(tmp_path, config=medicare_row(renamed(), level_name="Level 1"))
    assert manifest.summary.letters_superseded == 0
    (kept,) = letters
    assert kept.letter_id == letter.letter_id and kept.status == "approved"
    assert kept.content_hash == letter.content_hash and text(tmp_path, kept) == before
    with workflow(tmp_path) as flow:
        assert [e.action for e in flow.ctx.store.audit_trail(letter.letter_id)] == \
            ["drafted", "approved"]


def test_a_draft_of_a_release_that_kept_no_settings_stands_and_learns_them(
        tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    _, (letter,) = run(tmp_path)
    with workflow(tmp_path) as flow:
        records = flow.ctx.records(letter.denial_ids)
        assert all(r.practice_fingerprint and r.payer_fingerprint for r in records)
        flow.ctx.save([r.model_copy(update={"practice_fingerprint": None,
                                            "payer_fingerprint": None}) for r in records])
    # Which settings it was drafted with is not known: it is not drafted again ...
    manifest, letters = run(tmp_path, config=renamed())
    assert manifest.summary.letters_superseded == 0 and letters == [letter]
    # ... but from now on, a change of them is seen.
    manifest, _ = run(tmp_path, config=renamed("Lakeside Knee Center"))
    assert manifest.summary.letters_superseded == 1


def _copy_resources(tmp_path: Path) -> tuple[Path, Path]:
    playbooks = shutil.copytree(resource_dir("specialty_playbooks"), tmp_path / "playbooks")
    templates = shutil.copytree(resource_dir("templates"), tmp_path / "templates")
    return playbooks, templates


def _fingerprints(playbooks: Path, templates: Path) -> dict[str, str]:
    loaded = PlaybookSet.load(playbooks)
    every = PlaybookSet(loaded.playbooks, {p.id: playbooks / f"{p.id}.yaml"
                                           for p in loaded.playbooks},
                        vocabularies=playbooks / "vocabularies", templates=templates)
    return {p.id: every.fingerprint(p.id) for p in every.playbooks}


def test_a_playbook_fingerprint_covers_its_yaml_vocabularies_and_templates(
        tmp_path: Path) -> None:
    playbooks, templates = _copy_resources(tmp_path)
    before = _fingerprints(playbooks, templates)
    assert len(set(before.values())) == len(before)

    def changed_after(path: Path) -> set[str]:
        nonlocal before
        path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
        now = _fingerprints(playbooks, templates)
        differ = {i for i in now if now[i] != before[i]}
        before = now
        return differ

    assert changed_after(playbooks / "psychotherapy_time.yaml") == {"psychotherapy_time"}
    uses_vocabulary = {p.id for p in PlaybookSet.load(playbooks).playbooks
                       if any(f.vocabulary == "medical_necessity" for f in p.facts)}
    assert changed_after(playbooks / "vocabularies" / "medical_necessity.yaml") == \
        uses_vocabulary and "medical_necessity" in uses_vocabulary
    template = PlaybookSet.load(playbooks).get("em_modifier_25").argument_template
    users = {p.id for p in PlaybookSet.load(playbooks).playbooks
             if p.argument_template == template}
    assert changed_after(templates / template) == users
    assert changed_after(templates / "letters" / "appeal.md.j2") == set(before)


def test_a_changed_playbook_decides_its_denials_again(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    chart(tmp_path / "fhir")
    first, _ = run(tmp_path)
    decided_by = by_claim(first)[APPEALED].playbook
    real = PlaybookSet.fingerprint

    def edited(self: PlaybookSet, playbook_id: str) -> str:
        value = real(self, playbook_id)
        return value + "-edited" if playbook_id == decided_by else value

    monkeypatch.setattr(PlaybookSet, "fingerprint", edited)
    manifest, letters = run(tmp_path)
    # Every denial that playbook decided is decided again, and only those; the same chart
    # and the same templates give the same letter: it stands.
    its_denials = sum(1 for d in first.denials if d.playbook == decided_by)
    assert its_denials >= 2
    assert manifest.summary.redecided == {"playbook changed": its_denials}
    assert manifest.summary.letters_superseded == 0 and len(letters) == 1


def test_an_approved_letter_is_marked_sent_once(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)  # approvable
    chart(tmp_path / "fhir")
    _, (letter,) = run(tmp_path)
    with workflow(tmp_path) as flow:
        flow.ctx.store.add_user("ann", "auditor", "secret")
        service = ReviewService.over(flow)
        with pytest.raises(ReviewError, match="only an approved letter"):
            service.mark_sent(letter.letter_id, "ann")
        service.approve(letter.letter_id, "ann")
        sent = service.mark_sent(letter.letter_id, "ann", "fax 2026-09-22").letter
        assert sent.status == "sent"
        with pytest.raises(ReviewError):
            service.mark_sent(letter.letter_id, "ann")
        trail = flow.ctx.store.audit_trail(letter.letter_id)
        assert [e.action for e in trail] == ["drafted", "approved", "sent"]
        assert trail[-1].actor == "ann" and trail[-1].note == f"sent {sent.sent_on}: fax 2026-09-22"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = [d for d in manifest["denials"] if d["letter"]["id"] == letter.letter_id]
    assert entry["letter"]["status"] == "sent"
    chart(tmp_path / "fhir", good=GOOD_NOTE + ADDENDUM)
    _, (kept,) = run(tmp_path)  # a changed chart never touches a sent letter
    assert kept.status == "sent" and kept.content_hash == letter.content_hash


def test_a_worklist_first_then_its_835_is_still_one_denial(tmp_path: Path) -> None:
    chart(tmp_path / "fhir")
    worklist = str(Path(__file__).parent / "data" / "blue-river-worklist.txt")
    remittance = INPUTS[0]  # the 835 the worklist's rows were taken from
    with workflow(tmp_path) as flow:
        first = run_batch(flow, [worklist])
    ids = {d.claim_id: d.denial_id for d in first.denials}
    with workflow(tmp_path) as flow:  # the 835 listed first: its ids would win in one run
        both = run_batch(flow, [remittance, worklist])
        stored = flow.ctx.records([d.denial_id for d in both.denials])
    again = {d.claim_id: d for d in both.denials if d.claim_id in ids}
    assert again and all(again[c].denial_id == ids[c] for c in again)
    assert len({d.denial_id for d in both.denials}) == len(both.denials)
    merged = next(d for d in again.values() if len(d.sources) == 2)
    assert {s.kind for s in merged.sources} == {"835", "queue"}
    record = next(r for r in stored if r.denial.denial_id == merged.denial_id)
    assert {s.kind for s in record.denial.sources} == {"835", "queue"}


def test_a_folder_whose_files_changed_is_another_run(tmp_path: Path) -> None:
    from agent.application.workflow import run_id_for

    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(INPUTS[0], folder / "a.835")
    before = run_id_for([str(folder)])
    assert run_id_for([str(folder)]) == before
    shutil.copy(INPUTS[1], folder / "b.835")
    assert run_id_for([str(folder)]) != before
