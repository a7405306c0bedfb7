"""The auditor's decision: the resume payload of the review interrupt."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReviewDecision(BaseModel):
    """What an auditor decided about one letter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    letter_id: str
    action: Literal["approve", "edit", "reject"]
    actor: str = Field(min_length=1, description="The user (in the store) who decided; "
                       "'system' only for --auto-approve.")
    seen_hash: str | None = Field(None, description="The hash of the text the reviewer saw: "
                                  "the decision applies only while the letter still has it "
                                  "(compare-and-set). None only for the system user's "
                                  "auto-approval, which approves the draft as stored.")
    markdown: str | None = Field(None, description="The edited letter (edit only).")
    reason: str | None = Field(None, description="Why it was rejected (reject only).")
    note: str | None = Field(None, description="Kept in the audit trail with the action "
                             "(e.g. an edit that took in a change made outside the tool).")

    @model_validator(mode="after")
    def _payload_fits_action(self) -> Self:
        if self.action == "edit" and not (self.markdown and self.markdown.strip()):
            raise ValueError("an edit needs the new letter text")
        if self.action == "reject" and not (self.reason and self.reason.strip()):
            raise ValueError("a rejection needs a reason")
        return self
