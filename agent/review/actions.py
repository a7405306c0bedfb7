"""What a review decision does to a letter: files, status and the append-only audit trail."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agent.letters.docx_export import markdown_to_docx
from agent.review.model import ReviewDecision
from agent.store.protocols import Store
from agent.store.records import AuditEntry, LetterRecord


class ReviewError(Exception):
    """The action cannot be applied (unknown letter, already decided); no PHI."""


def content_hash(text: str) -> str:
    """The hash recorded in the audit trail before and after each action."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReviewActions:
    """Applies decisions to letters in ``out_dir`` and records each one."""

    def __init__(self, store: Store, out_dir: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.out_dir = out_dir
        self.clock = clock

    def letter(self, letter_id: str) -> LetterRecord:
        """The letter, or :class:`ReviewError`."""
        letter = self.store.get_letter(letter_id)
        if letter is None:
            raise ReviewError(f"no letter {letter_id}")
        return letter

    def markdown(self, letter: LetterRecord) -> str:
        """The letter's current text."""
        return (self.out_dir / letter.markdown).read_text(encoding="utf-8")

    def record_draft(self, letter: LetterRecord) -> None:
        """Audit the draft itself (who drafted it, and its hash)."""
        self._audit(letter.letter_id, "drafted", letter.drafted_by, None, letter.content_hash)

    def apply(self, decision: ReviewDecision) -> LetterRecord:
        """Approve, edit or reject a pending letter. Approval does not write the DOCX:
        :meth:`export` does (the graph's export step)."""
        letter = self.letter(decision.letter_id)
        if letter.status != "pending_review":
            raise ReviewError(f"letter {letter.letter_id} is already {letter.status}")
        before = letter.content_hash
        if decision.action == "edit":
            assert decision.markdown is not None
            text = decision.markdown if decision.markdown.endswith("\n") else \
                decision.markdown + "\n"
            (self.out_dir / letter.markdown).write_text(text, encoding="utf-8")
            letter = letter.model_copy(update={"content_hash": content_hash(text),
                                               "reviewer": decision.actor})
            self._audit(letter.letter_id, "edited", decision.actor, before, letter.content_hash)
        elif decision.action == "approve":
            current = content_hash(self.markdown(letter))
            letter = letter.model_copy(update={"status": "approved", "reviewer": decision.actor,
                                               "content_hash": current})
            self._audit(letter.letter_id, "approved", decision.actor, before, current)
        else:
            letter = letter.model_copy(update={"status": "rejected", "reviewer": decision.actor,
                                               "note": decision.reason})
            self._audit(letter.letter_id, "rejected", decision.actor, before, before,
                        decision.reason)
        self.store.save_letter(letter)
        return letter

    def export(self, letter_id: str) -> LetterRecord:
        """Write the DOCX of an approved letter beside its Markdown."""
        letter = self.letter(letter_id)
        if letter.status != "approved":
            raise ReviewError(f"letter {letter_id} is not approved")
        docx = Path(letter.markdown).with_suffix(".docx")
        markdown_to_docx(self.markdown(letter), self.out_dir / docx,
                         title=f"Appeal {letter.claim_id}")
        letter = letter.model_copy(update={"docx": docx.as_posix()})
        self.store.save_letter(letter)
        return letter

    def _audit(self, letter_id: str, action: str, actor: str, before: str | None,
               after: str | None, note: str | None = None) -> None:
        self.store.append_audit(AuditEntry.model_validate({
            "letter_id": letter_id, "actor": actor, "at": self.clock(), "action": action,
            "hash_before": before, "hash_after": after, "note": note}))
