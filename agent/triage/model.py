"""The triage decision carried by every denial."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["appeal", "corrected_claim", "rebill_other_payer", "patient_responsibility",
                 "no_action", "write_off", "needs_review"]
"""What the practice should do with the denial."""

Category = Literal["clinical", "administrative"]

RootCause = Literal["registration_eligibility", "authorization", "coding", "documentation",
                    "credentialing", "payer_policy"]
"""Why the denial most likely happened (a hypothesis for prevention work)."""

DollarBucket = Literal["high", "low"]


class Triage(BaseModel):
    """The triage of one denial: action, category, prevention and deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    category: Category
    preventable: bool
    dollar_bucket: DollarBucket
    root_cause: RootCause
    appeal_deadline: date | None = Field(None, description="Last day to file the first-level "
                                         "appeal, from the payer deadline table.")
    reason: str = Field(description="One line a billing auditor reads first.")
    rule: str = Field(description="Id of the rule that decided, e.g. 'patient_cost_share_only'.")
    final: bool = Field(description="True when rules decided before any playbook; False when "
                        "the playbook and the chart evidence decide the action.")
    past_deadline: bool = Field(False, description="The appeal deadline had passed on the "
                                "run's date (--as-of): no letter is drafted unless the run "
                                "asks for late appeals (--include-late).")
