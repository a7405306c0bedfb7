"""The review service: what a CLI or a web UI calls to review letters.

Every decision resumes the letter's review thread (its LangGraph interrupt), so the same
checkpointed graph decides and exports whichever process the auditor uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent.graph.nodes import review_config
from agent.manifest import refresh_letter
from agent.review.actions import ReviewActions, ReviewError
from agent.review.model import ReviewDecision
from agent.store.records import AuditEntry, LetterRecord, LetterStatus


@dataclass(frozen=True, slots=True)
class LetterView:
    """A letter as an auditor sees it: the record, its text and its history."""

    letter: LetterRecord
    markdown: str
    audit: list[AuditEntry]


class ReviewService:
    """List, show, approve, edit and reject letters."""

    def __init__(self, actions: ReviewActions,
                 graph: CompiledStateGraph[Any, Any, Any, Any]) -> None:
        self.actions = actions
        self.graph = graph

    def list(self, status: LetterStatus | None = "pending_review") -> list[LetterRecord]:
        """Letters, pending ones by default."""
        return self.actions.store.list_letters(status)

    def show(self, letter_id: str) -> LetterView:
        """One letter with its text and audit trail."""
        letter = self.actions.letter(letter_id)
        return LetterView(letter, self.actions.markdown(letter),
                          self.actions.store.audit_trail(letter_id))

    def approve(self, letter_id: str, actor: str) -> LetterRecord:
        """Approve as it stands; the DOCX is written."""
        return self.decide(ReviewDecision(letter_id=letter_id, action="approve", actor=actor))

    def edit(self, letter_id: str, actor: str, markdown: str) -> LetterRecord:
        """Replace the letter's text; it stays pending until approved."""
        return self.decide(ReviewDecision(letter_id=letter_id, action="edit", actor=actor,
                                          markdown=markdown))

    def reject(self, letter_id: str, actor: str, reason: str) -> LetterRecord:
        """Reject with a reason; no DOCX."""
        return self.decide(ReviewDecision(letter_id=letter_id, action="reject", actor=actor,
                                          reason=reason))

    def decide(self, decision: ReviewDecision) -> LetterRecord:
        """Resume the letter's review thread with the decision."""
        letter = self.actions.letter(decision.letter_id)
        if letter.status != "pending_review":
            raise ReviewError(f"letter {letter.letter_id} is already {letter.status}")
        config = review_config(letter.letter_id)
        if not self.graph.get_state(config).next:
            # No thread waiting (the run stopped before opening reviews): open it now.
            self.graph.invoke({"letter_id": letter.letter_id}, config)
        self.graph.invoke(Command(resume=decision.model_dump(mode="json")), config)
        decided = self.actions.letter(letter.letter_id)
        refresh_letter(self.actions.out_dir / "manifest.json", decided)
        return decided
