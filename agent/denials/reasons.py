"""The reasons *behind* a denial, as opposed to every adjustment on its line."""

from __future__ import annotations

from agent.denials.from_835 import DenialRules
from agent.denials.model import AdjustmentRef, Denial


def denial_reasons(denial: Denial, rules: DenialRules) -> list[AdjustmentRef]:
    """The adjustments that explain the denial.

    On a partly paid line, the adjustments other than the expected ones (its CO-45 is not
    why it was denied); on a $0 or denied line, every adjustment, line then claim level.
    """
    adjustments = [*denial.adjustments, *denial.claim_adjustments]
    if denial.paid > 0:
        return [a for a in adjustments if not rules.is_expected_label(a.label)]
    return adjustments
