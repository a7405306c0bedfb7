"""The last day to file a first-level appeal, from the payer deadline table in AppConfig.

The rules and their sources are configuration (agent/config.py ``DEFAULT_DEADLINES``,
overridable in the TOML file); this module only applies them. docs/triage.md lists the
defaults and which are unconfirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from agent.config import DeadlineRule
from agent.denials.model import Denial


def deadline_rule(denial: Denial, rules: Sequence[DeadlineRule]) -> DeadlineRule | None:
    """The first rule that matches the denial's payer (``AppConfig.deadlines`` order)."""
    for rule in rules:
        if rule.matches(denial.claim_filing_indicator, denial.payer.id, denial.payer.name):
            return rule
    return None


def deadline_start(remittance_date: date, rule: DeadlineRule) -> date:
    """The day the appeal window starts counting.

    The remittance (ERA) date itself, or for ``presumed_receipt`` (Medicare: notices are
    presumed received 5 days after their date, docs/domain.md#appeal-deadlines) that date
    plus ``presumed_receipt_days``.
    """
    if rule.counted_from == "presumed_receipt":
        return remittance_date + timedelta(days=rule.presumed_receipt_days)
    return remittance_date


def appeal_deadline(denial: Denial, rules: Sequence[DeadlineRule]
                    ) -> tuple[date | None, DeadlineRule | None]:
    """The appeal deadline and the rule that set it.

    The date is None when no rule matches or the denial has no remittance date (a queue
    row without one): the rule is still returned so the auditor sees which window
    applies.
    """
    rule = deadline_rule(denial, rules)
    if rule is None or denial.remittance_date is None:
        return None, rule
    return deadline_start(denial.remittance_date, rule) + timedelta(days=rule.days), rule
