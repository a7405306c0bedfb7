"""What the store keeps: the workflow's results per denial, group and letter."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.denials.model import Denial
from agent.evidence.model import Evidence
from agent.llm.phi import safe_fallback
from agent.triage.model import Triage

LetterStatus = Literal["pending_review", "approved", "rejected"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DenialRecord(_Record):
    """One denial and everything the workflow decided about it."""

    denial: Denial
    triage: Triage | None = Field(None, description="Set by the triage step.")
    playbook_id: str | None = None
    group_id: str | None = Field(None, description="Set by the grouping step.")
    evidence: list[Evidence] = Field(default_factory=list)
    missing_evidence: list[str] = Field(default_factory=list)
    letter_id: str | None = None
    error: str | None = Field(None, description="Why the denial failed (no PHI); it then "
                              "goes to needs_review.")


class GroupRecord(_Record):
    """A work queue: denials of one payer, reasons, submitted procedure and playbook."""

    group_id: str
    payer: str
    reasons: list[str]
    procedure: str | None
    playbook_id: str | None
    denial_ids: list[str]
    done: bool = False


class LetterRecord(_Record):
    """A drafted letter and where it stands in review."""

    letter_id: str
    group_id: str
    claim_id: str
    denial_ids: list[str]
    status: LetterStatus = "pending_review"
    markdown: str = Field(description="Path relative to the output directory.")
    docx: str | None = None
    drafted_by: Literal["template", "llm"] = "template"
    tokens_in: int = Field(0, ge=0, description="Model tokens spent on this letter's "
                           "argument (its share of its work queue's requests).")
    tokens_out: int = Field(0, ge=0)
    llm_fallback: str | None = Field(None, description="Why the template argument was used "
                                     "when the model was on: a fixed code such as 'rejected: "
                                     "values', 'error: timeout' or 'stopped: max_cost' "
                                     "(agent.llm.phi.FALLBACK_CODES), never the model's "
                                     "text.")
    content_hash: str
    reviewer: str | None = None
    note: str | None = None

    @field_validator("llm_fallback")
    @classmethod
    def _only_a_code(cls, value: str | None) -> str | None:
        """Anything but a known code is cut to its category (also when an older run
        stored free text): what the model wrote is never kept here."""
        return safe_fallback(value)


class AuditEntry(_Record):
    """One review action, append-only."""

    letter_id: str
    actor: str
    at: datetime
    action: Literal["drafted", "approved", "edited", "rejected"]
    hash_before: str | None
    hash_after: str | None
    note: str | None = None


class RunRecord(_Record):
    """One ``appeals run``: its inputs and the denials it covered."""

    run_id: str
    started_at: datetime
    inputs: list[str]
    denial_ids: list[str] = Field(default_factory=list)
    finished: bool = False
