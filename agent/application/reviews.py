"""The review service: what a CLI or a web UI calls to review letters.

Each decision is applied first, compare-and-set in the store (the loser of a race gets
:class:`~agent.review.actions.ReviewConflict` and nothing changes), then resumes the
letter's review thread (its LangGraph interrupt), which exports an approved letter's DOCX
or waits again after an edit, whichever process the auditor uses. Decisions are made as a
user the store knows (:func:`agent.review.identity.reviewer`); the built-in ``system`` user
is refused here: only ``--auto-approve`` acts as it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent.application.workflow import Workflow, rebuild_manifest
from agent.graph.nodes import review_config
from agent.letters.unfinished import approval_problems
from agent.manifest import refresh_letter
from agent.review.actions import (
    ReviewActions,
    changed_by_someone_else,
    content_hash,
    status_word,
)
from agent.review.identity import reviewer
from agent.review.model import ReviewDecision
from agent.store.records import AuditEntry, DenialRecord, LetterRecord, LetterStatus, SentVia

ManifestHook = Callable[[LetterRecord], None]
_Lines = list[str]  # (the class below has a method named list)
_Rows = list["WorklistRow"]


@dataclass(frozen=True, slots=True)
class LetterView:
    """A letter as an auditor sees it: the record, its text and its history.

    ``row`` adds its payer, playbook, procedure and deadline; ``problems`` says why a
    pending letter cannot be approved yet (empty when it can, or when it is decided).
    """

    letter: LetterRecord
    markdown: str
    audit: list[AuditEntry]
    row: WorklistRow | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def seen_hash(self) -> str:
        """The hash of the text shown (pass it back as ``if_hash``)."""
        return content_hash(self.markdown)

    def as_json(self) -> dict[str, object]:
        """The letter's metadata as ``review show --meta`` prints it (not its text).

        ``content_hash`` is the stored hash, ``text_hash`` the hash of the text on disk
        (what ``review approve --if-hash`` takes); they differ only when the file was
        changed outside the tool. Paths are relative to the output folder.
        """
        letter = self.letter
        listed = self.row.as_json() if self.row is not None else {
            "letter_id": letter.letter_id, "status": letter.status,
            "claim_id": letter.claim_id, "queue": letter.group_id, "payer_id": None,
            "payer_name": None, "playbook": None, "procedure": None,
            "appeal_deadline": None, "markdown": letter.markdown, "docx": letter.docx,
            "content_hash": letter.content_hash}
        return {**listed, "text_hash": self.seen_hash,
                "changed_outside": self.seen_hash != letter.content_hash,
                "denial_ids": list(letter.denial_ids), "drafted_by": letter.drafted_by,
                "llm_fallback": letter.llm_fallback, "reviewer": letter.reviewer,
                "supersedes": letter.supersedes, "superseded_by": letter.superseded_by,
                "approval_problems": list(self.problems),
                "audit": [{"at": e.at.isoformat(), "action": e.action, "actor": e.actor,
                           "hash_before": e.hash_before, "hash_after": e.hash_after,
                           "note": e.note} for e in self.audit]}


@dataclass(frozen=True, slots=True)
class WorklistFilter:
    """Which letters a worklist shows; every field set must match (None: any)."""

    status: LetterStatus | None = "pending_review"
    payer: str | None = None
    """Payer id or name, case-insensitive; a part of the name is enough."""
    playbook: str | None = None
    """Playbook id, exactly."""
    queue: str | None = None
    """Work queue id (``grp_...``), exactly."""


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One letter of a worklist, with what an auditor sorts and filters it by."""

    letter: LetterRecord
    payer_id: str | None
    payer_name: str | None
    playbook_id: str | None
    procedure: str | None
    appeal_deadline: date | None
    """The earliest appeal deadline of the letter's denials."""

    def as_json(self) -> dict[str, object]:
        """The row as ``review list --json`` prints it."""
        letter = self.letter
        return {"letter_id": letter.letter_id, "status": letter.status,
                "claim_id": letter.claim_id, "queue": letter.group_id,
                "payer_id": self.payer_id, "payer_name": self.payer_name,
                "playbook": self.playbook_id, "procedure": self.procedure,
                "appeal_deadline": self.appeal_deadline.isoformat()
                if self.appeal_deadline else None,
                "markdown": letter.markdown, "docx": letter.docx,
                "content_hash": letter.content_hash}


@dataclass(frozen=True, slots=True)
class Decided:
    """A letter after a review action, with what this call finished for a crash.

    ``repaired`` lists what a crash had left undone that this call did (e.g. "wrote the
    missing DOCX").
    """

    letter: LetterRecord
    repaired: list[str] = field(default_factory=list)


class ReviewService:
    """List, show, approve, edit and reject letters."""

    def __init__(self, actions: ReviewActions,
                 graph: CompiledStateGraph[Any, Any, Any, Any],
                 refresh_manifest: ManifestHook | None = None) -> None:
        self.actions = actions
        self.graph = graph
        self.refresh_manifest = refresh_manifest or self._refresh_written_manifest

    @classmethod
    def over(cls, workflow: Workflow) -> ReviewService:
        """The service over an open workflow, keeping its manifest.json in step.

        Each decision updates the letter's entry in the output folder's manifest.json; a
        manifest that is missing is first rebuilt from the store (the last run's batch
        thread).
        """
        manifest = workflow.ctx.review.out_dir / "manifest.json"
        return cls(workflow.ctx.review, workflow.review,
                   lambda letter: refresh_letter(manifest, letter,
                                                 lambda: rebuild_manifest(workflow)))

    def list(self, status: LetterStatus | None = "pending_review") -> list[LetterRecord]:
        """Letters, pending ones by default."""
        return self.actions.store.list_letters(status)

    def worklist(self, wanted: WorklistFilter | None = None) -> _Rows:
        """Letters with their payer, playbook, procedure and deadline, filtered."""
        wanted = wanted or WorklistFilter()
        store = self.actions.store
        letters = [x for x in store.list_letters(wanted.status)
                   if wanted.queue is None or x.group_id == wanted.queue]
        denials = {r.denial.denial_id: r for r in
                   store.get_denials(sorted({i for x in letters for i in x.denial_ids}))}
        rows = [_row(x, [denials[i] for i in x.denial_ids if i in denials]) for x in letters]
        payer = wanted.payer.casefold() if wanted.payer else None
        return [row for row in rows
                if (wanted.playbook is None or row.playbook_id == wanted.playbook)
                and (payer is None or payer == (row.payer_id or "").casefold()
                     or payer in (row.payer_name or "").casefold())]

    def show(self, letter_id: str) -> LetterView:
        """One letter with its text (as on disk), audit trail, worklist row and problems.

        The problems are why a pending letter cannot be approved yet
        (agent/letters/unfinished.py); none for a letter already decided.
        """
        letter = self.actions.letter(letter_id)
        store = self.actions.store
        markdown = self.actions.markdown(letter)
        records = {r.denial.denial_id: r for r in store.get_denials(letter.denial_ids)}
        row = _row(letter, [records[i] for i in letter.denial_ids if i in records])
        problems = approval_problems(markdown, self.actions.practice) \
            if letter.status == "pending_review" else []
        return LetterView(letter, markdown, store.audit_trail(letter_id), row, problems)

    def approve(self, letter_id: str, actor: str, if_hash: str | None = None,
                note: str | None = None) -> Decided:
        """Approve the text the reviewer saw; the DOCX is written.

        ``if_hash`` is the hash of the text seen; by default the file on disk, which must be
        the stored text. An approved letter whose DOCX a crash left unwritten gets it now.
        A letter that is not finished is refused (:class:`~agent.review.actions.
        UnfinishedLetter`, naming each problem; agent/letters/unfinished.py). ``note`` is
        kept in the audit row (e.g. that a lead approved the whole work queue).
        """
        user = reviewer(self.actions.store, actor).name
        letter = self.actions.letter(letter_id)
        if letter.status == "approved" and self.actions.docx_missing(letter) and \
                if_hash in (None, letter.content_hash):
            return Decided(*self._finish_approval(letter))
        return self._decide(ReviewDecision(letter_id=letter_id, action="approve", actor=user,
                                           seen_hash=self._seen(letter, if_hash), note=note))

    def edit(self, letter_id: str, actor: str, markdown: str,
             if_hash: str | None = None) -> Decided:
        """Replace the letter's text; it stays pending until approved.

        ``if_hash`` is the stored hash the reviewer started from (default: the stored one
        now). A file changed outside the tool is taken in this way, and the audit row says
        so.
        """
        user = reviewer(self.actions.store, actor).name
        letter = self.actions.letter(letter_id)
        outside = self.actions.disk_hash(letter) != letter.content_hash
        return self._decide(ReviewDecision(
            letter_id=letter_id, action="edit", actor=user, markdown=markdown,
            seen_hash=if_hash or letter.content_hash,
            note="took in the file as changed outside the tool" if outside else None))

    def reject(self, letter_id: str, actor: str, reason: str,
               if_hash: str | None = None) -> Decided:
        """Reject with a reason; no DOCX."""
        user = reviewer(self.actions.store, actor).name
        letter = self.actions.letter(letter_id)
        return self._decide(ReviewDecision(letter_id=letter_id, action="reject", actor=user,
                                           reason=reason,
                                           seen_hash=if_hash or letter.content_hash))

    def mark_sent(self, letter_id: str, actor: str, note: str | None = None,
                  sent_on: date | None = None, via: SentVia | None = None) -> Decided:
        """Record that an approved letter went to the payer; it never changes after.

        ``sent_on`` (default: today) and ``via`` (mail, fax, portal) are kept on the letter.
        """
        user = reviewer(self.actions.store, actor).name
        sent = self.actions.mark_sent(letter_id, user, note, sent_on, via)
        self._refresh(sent)
        return Decided(sent)

    def _seen(self, letter: LetterRecord, if_hash: str | None) -> str:
        if if_hash is not None and if_hash != letter.content_hash:
            raise changed_by_someone_else(letter.letter_id, status_word(letter))
        if letter.status == "pending_review":
            self.actions.check_file(letter)
        return letter.content_hash

    def _decide(self, decision: ReviewDecision) -> Decided:
        """Apply the decision (compare-and-set), then resume the letter's review thread."""
        decided = self.actions.apply(decision)
        if self.graph.checkpointer is not None:
            config = review_config(decided.letter_id)
            if not self.graph.get_state(config).next:
                # No thread waiting (the run stopped before opening reviews): open it now.
                self.graph.invoke({"letter_id": decided.letter_id}, config)
            else:
                self.graph.invoke(Command(resume=decision.model_dump(mode="json")), config)
        decided = self.actions.letter(decided.letter_id)
        if self.actions.docx_missing(decided):  # no checkpointer: the export is ours
            decided = self.actions.export(decided.letter_id)
        self._refresh(decided)
        return Decided(decided)

    def _finish_approval(self, letter: LetterRecord) -> tuple[LetterRecord, _Lines]:
        exported = self.actions.export(letter.letter_id)
        self._refresh(exported)
        return exported, [f"wrote the missing DOCX {exported.docx}"]

    def _refresh(self, letter: LetterRecord) -> None:
        self.refresh_manifest(letter)

    def _refresh_written_manifest(self, letter: LetterRecord) -> None:
        refresh_letter(self.actions.out_dir / "manifest.json", letter)



def _row(letter: LetterRecord, records: list[DenialRecord]) -> WorklistRow:
    first = records[0] if records else None
    denial = first.denial if first else None
    deadlines = [r.triage.appeal_deadline for r in records
                 if r.triage and r.triage.appeal_deadline]
    return WorklistRow(
        letter=letter, payer_id=denial.payer.id if denial else None,
        payer_name=denial.payer.name if denial else None,
        playbook_id=first.playbook_id if first else None,
        procedure=denial.procedure.display if denial and denial.procedure else None,
        appeal_deadline=min(deadlines) if deadlines else None)
