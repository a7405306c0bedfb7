"""Front-end fixes for the denials that keep coming back, from counts, never canned.

The preventable denials (triage's ``preventable``, from the CARC table and rules of
docs/triage.md) are grouped by payer, root cause and procedure as billed; a pattern with
at least ``min_count`` denials becomes a suggestion naming its payer, reason codes,
procedure, count, dollars and share of all denials, with the fix at the front end that
would have stopped it (:data:`FIXES`, one per root cause). Eligibility and provider
enrollment are checked for the patient or provider, not per procedure, so their
patterns are per payer. Ranked by dollars. docs/kpis.md#prevention-suggestions.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.analytics.figures import Rate, dollars
from agent.store.analytics import DenialTotal
from agent.triage.model import RootCause

NO_REASON = "(no reason stated)"


class FrontEndFix(BaseModel):
    """What the front end does so that a root cause's denials do not happen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_cause: RootCause
    step: str = Field(description="Where in the revenue cycle: scheduling, registration...")
    per_procedure: bool = Field(description="Whether the check depends on the procedure "
                                "(an authorization does; an eligibility check does not).")
    action: str = Field(description="The fix, naming {payer} and, per procedure, "
                        "{procedure}.")

    @model_validator(mode="after")
    def _placeholders(self) -> FrontEndFix:
        """Only {payer} and {procedure} (and {procedure} only when per procedure)."""
        names = {name for _, name, _, _ in string.Formatter().parse(self.action) if name}
        allowed = {"payer", "procedure"} if self.per_procedure else {"payer"}
        if "payer" not in names or not names <= allowed:
            raise ValueError(f"the {self.root_cause} fix names {sorted(names)}; it must name "
                             f"{{payer}} and may name only {sorted(allowed)}")
        return self


def _table(*fixes: FrontEndFix) -> Mapping[RootCause, FrontEndFix]:
    """The fixes by root cause; every root cause triage gives has exactly one."""
    table = {fix.root_cause: fix for fix in fixes}
    if len(table) != len(fixes) or set(table) != set(get_args(RootCause)):
        raise ValueError("give exactly one front-end fix per root cause")
    return table


FIXES: Mapping[RootCause, FrontEndFix] = _table(
    FrontEndFix(root_cause="authorization", step="scheduling", per_procedure=True,
                action="At scheduling, check whether {payer} requires prior authorization "
                "(or a referral) for {procedure}; obtain it before the service and put its "
                "number on the claim."),
    FrontEndFix(root_cause="registration_eligibility", step="registration",
                per_procedure=False,
                action="At registration and again before the visit, verify the patient's "
                "{payer} coverage: active plan, which payer is primary, benefits and network "
                "status; update the insurance on file."),
    FrontEndFix(root_cause="coding", step="charge review", per_procedure=True,
                action="Add a claim-scrubber edit for {procedure} billed to {payer}: "
                "modifiers, diagnosis linkage, bundling (NCCI pairs) and units checked "
                "before the claim is sent."),
    FrontEndFix(root_cause="documentation", step="claim submission", per_procedure=True,
                action="Send the records {payer} asks for with {procedure} claims (notes, "
                "attachments) when the claim is sent, not after the denial."),
    FrontEndFix(root_cause="credentialing", step="provider enrollment", per_procedure=False,
                action="Confirm the rendering and referring providers are enrolled and "
                "credentialed with {payer} before they see its patients; track "
                "re-credentialing dates."),
    FrontEndFix(root_cause="payer_policy", step="claim submission", per_procedure=False,
                action="Track {payer}'s timely filing limit: send claims and corrected "
                "claims well within it and keep the clearinghouse acceptance reports."),
)
"""The front-end fix of each root cause (docs/kpis.md#prevention-suggestions). Among
preventable denials, ``payer_policy`` is timely filing (CARC 29; docs/triage.md)."""
_BY_NAME: Mapping[str, FrontEndFix] = {str(cause): fix for cause, fix in FIXES.items()}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A preventable pattern and its fix, with the counts and dollars behind it."""

    payer: str
    root_cause: RootCause
    procedure: str | None
    """The procedure code as billed; None when the fix is not per procedure (any)."""
    reasons: tuple[tuple[str, int], ...]
    """The main reason codes of its denials, with how many each, most first."""
    denials: int
    denied: Decimal
    count_share: Rate
    """Of all the denials counted."""
    dollar_share: Rate
    step: str
    fix: str


@dataclass(slots=True)
class _Pattern:
    denials: int = 0
    cents: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def suggestions(totals: Sequence[DenialTotal], denials: int, denied_cents: int,
                min_count: int) -> tuple[Suggestion, ...]:
    """The suggestions of the preventable denials' totals, most dollars first.

    Args:
        totals: the preventable denials' totals keyed by payer, root cause, procedure
            and main reason (``Store.denial_totals``, folded: agent/analytics/kpis.py).
        denials: every counted denial (the shares' whole).
        denied_cents: their dollars, in cents.
        min_count: the fewest denials a pattern needs.
    """
    patterns: dict[tuple[str, RootCause, str | None], _Pattern] = {}
    for total in totals:
        payer, cause, procedure, reason = total.key
        fix = _BY_NAME.get(cause or "")
        if fix is None:
            continue
        key = (payer or "(payer not named)", fix.root_cause,
               procedure if fix.per_procedure else None)
        pattern = patterns.setdefault(key, _Pattern())
        pattern.denials += total.denials
        pattern.cents += total.denied_cents
        label = reason or NO_REASON
        pattern.reasons[label] = pattern.reasons.get(label, 0) + total.denials
    out = []
    for (payer, cause, procedure), pattern in patterns.items():
        if pattern.denials < min_count:
            continue
        fix = FIXES[cause]
        reasons = sorted(pattern.reasons.items(), key=lambda r: (-r[1], r[0]))
        out.append(Suggestion(
            payer=payer, root_cause=cause, procedure=procedure, reasons=tuple(reasons),
            denials=pattern.denials, denied=dollars(pattern.cents),
            count_share=Rate.of(pattern.denials, denials),
            dollar_share=Rate.of(pattern.cents, denied_cents), step=fix.step,
            fix=fix.action.format(payer=payer, procedure=procedure or "")))
    out.sort(key=lambda s: (-s.denied, -s.denials, s.payer, s.root_cause, s.procedure or ""))
    return tuple(out)
