"""The auditor's decision: the resume payload of the review interrupt."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReviewDecision(BaseModel):
    """What an auditor decided about one letter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    letter_id: str
    action: Literal["approve", "edit", "reject"]
    actor: str = Field(min_length=1, description="Who decided (user name or 'auto-approve').")
    markdown: str | None = Field(None, description="The edited letter (edit only).")
    reason: str | None = Field(None, description="Why it was rejected (reject only).")

    @model_validator(mode="after")
    def _payload_fits_action(self) -> Self:
        if self.action == "edit" and not (self.markdown and self.markdown.strip()):
            raise ValueError("an edit needs the new letter text")
        if self.action == "reject" and not (self.reason and self.reason.strip()):
            raise ValueError("a rejection needs a reason")
        return self
