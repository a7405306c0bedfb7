"""Reviews that cannot race, who reviews, and finishing what a crash left half-done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.application.reviews import ReviewService, WorklistFilter
from agent.application.workflow import Workflow, open_workflow, rebuild_manifest, run_batch
from agent.config import AppConfig
from agent.manifest import Manifest
from agent.review.actions import (
    FileChangedOutside,
    ReviewActions,
    ReviewConflict,
    ReviewError,
    content_hash,
)
from agent.review.identity import IdentityError, configured_user
from agent.store.sqlite import SqliteStore
from tests.conftest import FIXTURES
from tests.practice import PRACTICE_TOML, draft_finished
from tests.test_workflow import INPUTS, TODAY, _open, knee_chart


@pytest.fixture
def ehr_dir(tmp_path: Path) -> Path:
    return knee_chart(tmp_path / "fhir")


@pytest.fixture
def reviewed(tmp_path: Path, ehr_dir: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[tuple[Workflow, ReviewService, str]]:
    """A run with one pending letter (finished: approvable), two auditors and the service."""
    draft_finished(monkeypatch)
    with _open(tmp_path, ehr_dir) as workflow:
        run_batch(workflow, INPUTS)
        for name in ("ann", "bob"):
            workflow.ctx.store.add_user(name, "auditor", "secret")
        service = ReviewService(workflow.ctx.review, workflow.review)
        (pending,) = service.list()
        yield workflow, service, pending.letter_id


def _race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions at once (released together); each result or the error raised."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = actions[i]()
        except ReviewError as exc:
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("second", ["approve", "reject", "edit"])
def test_two_reviewers_at_once_exactly_one_wins(
        reviewed: tuple[Workflow, ReviewService, str], second: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    workflow, service, letter_id = reviewed
    store = workflow.ctx.store
    real_write = store.save_letter_and_audit
    both_read = threading.Barrier(2, timeout=60)  # the timeout only avoids a hang

    def write_once_both_have_read(*args: Any) -> bool:
        both_read.wait()  # both passed every check on the same pending letter
        return real_write(*args)

    monkeypatch.setattr(store, "save_letter_and_audit", write_once_both_have_read)
    text = service.show(letter_id).markdown
    others: dict[str, Callable[[], object]] = {
        "approve": lambda: service.approve(letter_id, "bob"),
        "reject": lambda: service.reject(letter_id, "bob", "not worth it"),
        "edit": lambda: service.edit(letter_id, "bob", text.replace("Sincerely,", "Best,"))}
    results = _race(lambda: service.approve(letter_id, "ann"), others[second])
    errors = [r for r in results if isinstance(r, ReviewError)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ReviewConflict)
    assert "changed by someone else" in str(errors[0])
    trail = [e.action for e in workflow.ctx.store.audit_trail(letter_id)]
    assert len(trail) == 2 and trail[0] == "drafted"  # one decision recorded, not two


def test_a_stale_if_hash_loses(reviewed: tuple[Workflow, ReviewService, str]) -> None:
    _workflow, service, letter_id = reviewed
    seen = service.show(letter_id).seen_hash
    text = service.show(letter_id).markdown
    service.edit(letter_id, "bob", text.replace("Sincerely,", "Best,"), seen)
    with pytest.raises(ReviewConflict, match="changed by someone else"):
        service.approve(letter_id, "ann", if_hash=seen)
    assert service.list()[0].status == "pending_review"
    approved = service.approve(letter_id, "ann", if_hash=service.show(letter_id).seen_hash)
    assert approved.letter.status == "approved"


def test_a_file_changed_outside_the_tool_is_taken_in_as_an_edit(
        tmp_path: Path, reviewed: tuple[Workflow, ReviewService, str]) -> None:
    workflow, service, letter_id = reviewed
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None
    path = tmp_path / "out" / letter.markdown
    path.write_text(path.read_text().replace("Sincerely,", "Tampered,"))
    with pytest.raises(FileChangedOutside, match="review edit"):
        service.approve(letter_id, "ann")
    assert workflow.ctx.store.get_letter(letter_id).status == "pending_review"  # type: ignore[union-attr]
    service.edit(letter_id, "ann", path.read_text())
    approved = service.approve(letter_id, "ann").letter
    trail = workflow.ctx.store.audit_trail(letter_id)
    assert [e.action for e in trail] == ["drafted", "edited", "approved"]
    assert trail[1].actor == "ann" and "outside the tool" in (trail[1].note or "")
    assert trail[1].hash_after == content_hash(path.read_text()) == approved.content_hash


def test_only_known_people_review(reviewed: tuple[Workflow, ReviewService, str]) -> None:
    _workflow, service, letter_id = reviewed
    with pytest.raises(IdentityError, match="users add"):
        service.approve(letter_id, "mallory")
    with pytest.raises(IdentityError, match="auto-approve"):
        service.approve(letter_id, "system")
    with pytest.raises(IdentityError, match="no reviewer"):
        service.reject(letter_id, "", "x")
    assert service.list()[0].status == "pending_review"


def test_the_configured_user_comes_from_the_environment_or_the_config() -> None:
    from agent.config import AppConfig, ReviewSettings

    config = AppConfig(review=ReviewSettings(user="ann"))
    assert configured_user(config, {}) == "ann"
    assert configured_user(config, {"APPEALS_USER": "bob"}) == "bob"
    assert configured_user(AppConfig(), {}) is None


def test_a_crash_after_approval_is_finished_by_approving_again(
        reviewed: tuple[Workflow, ReviewService, str], monkeypatch: pytest.MonkeyPatch) -> None:
    workflow, service, letter_id = reviewed

    def killed(self: ReviewActions, letter_id: str) -> Any:
        raise KeyboardInterrupt  # the process dies after the approval is stored

    real = ReviewActions.export
    monkeypatch.setattr(ReviewActions, "export", killed)
    with pytest.raises(KeyboardInterrupt):
        service.approve(letter_id, "ann")
    monkeypatch.setattr(ReviewActions, "export", real)
    letter = workflow.ctx.store.get_letter(letter_id)
    assert letter is not None and letter.status == "approved" and letter.docx is None
    again = service.approve(letter_id, "bob")
    assert again.repaired and "missing DOCX" in again.repaired[0]
    assert (workflow.ctx.out_dir / (again.letter.docx or "")).is_file()
    assert [e.action for e in workflow.ctx.store.audit_trail(letter_id)] == \
        ["drafted", "approved"]
    with pytest.raises(ReviewConflict):  # nothing left to finish: a plain conflict
        service.approve(letter_id, "bob")


def test_a_crash_between_an_edit_and_its_file_is_finished_on_the_next_read(
        reviewed: tuple[Workflow, ReviewService, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _workflow, service, letter_id = reviewed
    edited = service.show(letter_id).markdown.replace("Sincerely,", "Best,")
    real_replace = os.replace

    def killed(src: Any, dst: Any) -> None:
        if str(src).endswith(".edit"):
            raise KeyboardInterrupt  # stored, not yet moved in place
        real_replace(src, dst)

    monkeypatch.setattr("agent.review.actions.os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        service.edit(letter_id, "ann", edited)
    monkeypatch.setattr("agent.review.actions.os.replace", real_replace)
    assert service.show(letter_id).markdown == edited  # put in place, not "changed outside"
    assert service.approve(letter_id, "ann").letter.status == "approved"


def test_a_half_written_manifest_is_rebuilt_from_the_store(
        tmp_path: Path, reviewed: tuple[Workflow, ReviewService, str]) -> None:
    workflow, _service, letter_id = reviewed
    manifest = tmp_path / "out" / "manifest.json"
    manifest.write_text(manifest.read_text()[:500])
    from agent.manifest import refresh_letter

    service = ReviewService(workflow.ctx.review, workflow.review,
                            lambda x: refresh_letter(manifest, x,
                                                     lambda: rebuild_manifest(workflow)))
    service.approve(letter_id, "ann")
    rebuilt = Manifest.model_validate_json(manifest.read_text())
    assert [d.letter.status for d in rebuilt.denials if d.letter.id] == ["approved"]


def _crash_in(monkeypatch: pytest.MonkeyPatch, target: str) -> Callable[[], None]:
    """Make ``target`` (a ReviewActions method) kill the process once; returns undo."""
    real = getattr(ReviewActions, target)

    def killed(self: ReviewActions, *args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ReviewActions, target, killed)
    return lambda: monkeypatch.setattr(ReviewActions, target, real)


def test_rerunning_finishes_a_missing_drafted_row_and_review_thread(
        tmp_path: Path, ehr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def save_without_row(self: ReviewActions, letter: Any) -> None:
        self.store.save_letter(letter)
        raise KeyboardInterrupt  # killed between the letter and its audit row

    real = ReviewActions.save_draft
    monkeypatch.setattr(ReviewActions, "save_draft", save_without_row)
    with _open(tmp_path, ehr_dir) as workflow, pytest.raises(KeyboardInterrupt):
        run_batch(workflow, INPUTS)
    monkeypatch.setattr(ReviewActions, "save_draft", real)
    lines: list[str] = []
    with _open(tmp_path, ehr_dir) as workflow:
        manifest = run_batch(workflow, INPUTS, on_repair=lines.append)
        (letter,) = workflow.ctx.store.list_letters(None)
        trail = workflow.ctx.store.audit_trail(letter.letter_id)
        waiting = workflow.review.get_state({"configurable": {
            "thread_id": f"review:{letter.letter_id}"}}).next
    assert [e.action for e in trail] == ["drafted"]
    assert any("'drafted' audit row" in line for line in lines)
    assert waiting == ("review",)
    assert [d.letter.status for d in manifest.denials].count("pending_review") == 1
    with _open(tmp_path, ehr_dir) as workflow:  # nothing left: nothing said
        lines.clear()
        run_batch(workflow, INPUTS, on_repair=lines.append)
    assert lines == []


def test_rerunning_an_auto_approved_run_writes_a_missing_docx(
        tmp_path: Path, ehr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft_finished(monkeypatch)
    undo = _crash_in(monkeypatch, "export")
    with _open(tmp_path, ehr_dir) as workflow, pytest.raises(KeyboardInterrupt):
        run_batch(workflow, INPUTS, auto_approve=True)
    undo()
    lines: list[str] = []
    with _open(tmp_path, ehr_dir) as workflow:
        manifest = run_batch(workflow, INPUTS, auto_approve=True, on_repair=lines.append)
        (letter,) = workflow.ctx.store.list_letters(None)
        trail = workflow.ctx.store.audit_trail(letter.letter_id)
    assert letter.status == "approved" and letter.docx
    assert (tmp_path / "out" / letter.docx).is_file()
    assert any("missing DOCX" in line for line in lines)
    assert [(e.action, e.actor) for e in trail] == [("drafted", "template"),
                                                   ("approved", "system")]
    assert all(d.letter.docx for d in manifest.denials if d.letter.id)


def test_cli_review_needs_a_user_and_reports_conflicts(
        tmp_path: Path, ehr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, db = tmp_path / "out", tmp_path / "appeals.db"
    common = ["--db", str(db), "--out", str(out), "--config", str(PRACTICE_TOML)]
    draft_finished(monkeypatch)
    with _open(tmp_path, ehr_dir) as workflow:
        run_batch(workflow, INPUTS)
        (letter,) = workflow.ctx.store.list_letters(None)
    env = {k: v for k, v in os.environ.items() if k != "APPEALS_USER"}

    def review(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", "review", *args, *common],
                              capture_output=True, text=True, check=False,
                              env={**env, "APPEALS_USER": user} if user else env)

    nobody = review("approve", letter.letter_id)
    assert nobody.returncode == 2 and "users add" in nobody.stderr
    assert review("approve", letter.letter_id, user="ann").returncode == 2
    store = SqliteStore(db)
    store.add_user("ann", "auditor", "secret")
    store.close()
    stale = review("approve", letter.letter_id, "--if-hash", "sha256:0", user="ann")
    assert stale.returncode == 1 and "changed by someone else" in stale.stderr
    done = review("approve", letter.letter_id, user="ann")
    assert done.returncode == 0, done.stderr
    again = review("approve", letter.letter_id, user="ann")
    assert again.returncode == 1 and "changed by someone else" in again.stderr


def test_an_atomic_write_killed_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    from agent.letters.files import atomic_file, write_text_atomic

    target = tmp_path / "manifest.json"
    write_text_atomic(target, "old\n")
    with pytest.raises(KeyboardInterrupt), atomic_file(target) as handle:
        handle.write(b"half of the new")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left
    assert target.stat().st_mode & 0o077 == 0


def test_the_worklist_filters_by_status_payer_playbook_and_queue(tmp_path: Path) -> None:
    out, db = tmp_path / "out", tmp_path / "appeals.db"
    with open_workflow(db, out, f"fhir-dir:{FIXTURES / 'fhir'}", AppConfig(),
                       today=TODAY) as workflow:
        run_batch(workflow, [str(p) for p in sorted((FIXTURES / "835").glob("*.835"))])
        service = ReviewService.over(workflow)
        everything = service.worklist(WorklistFilter(status=None))
        assert len(everything) >= 3
        first = everything[0]
        assert first.payer_name and first.playbook_id and first.appeal_deadline
        by_queue = service.worklist(WorklistFilter(status=None, queue=first.letter.group_id))
        assert {r.letter.group_id for r in by_queue} == {first.letter.group_id}
        # A part of the payer's name, in any case, or its id exactly.
        part = first.payer_name.split()[-1].lower()
        assert {r.letter.letter_id for r in service.worklist(WorklistFilter(payer=part))} == \
            {r.letter.letter_id for r in everything if part in (r.payer_name or "").lower()}
        assert first.payer_id is not None
        by_id = service.worklist(WorklistFilter(status=None, payer=first.payer_id.lower()))
        assert by_id and {r.payer_id for r in by_id} == {first.payer_id}
        playbooks = {r.playbook_id for r in everything}
        for playbook in playbooks:
            rows = service.worklist(WorklistFilter(status=None, playbook=playbook))
            assert rows and {r.playbook_id for r in rows} == {playbook}
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        service.reject(first.letter.letter_id, "ann", "not worth it")
    pending = [r for r in everything if r.letter.letter_id != first.letter.letter_id]
    listed = subprocess.run([sys.executable, "-m", "agent", "review", "list", "--json",
                             "--db", str(db), "--out", str(out)],
                            capture_output=True, text=True, check=True)
    assert [row["letter_id"] for row in json.loads(listed.stdout)] == \
        [r.letter.letter_id for r in pending]
    rejected = subprocess.run([sys.executable, "-m", "agent", "review", "list", "--json",
                               "--status", "rejected", "--db", str(db), "--out", str(out)],
                              capture_output=True, text=True, check=True)
    (row,) = json.loads(rejected.stdout)
    assert row["letter_id"] == first.letter.letter_id and row["status"] == "rejected"
    assert row["payer_name"] == first.payer_name and row["queue"] == first.letter.group_id

