"""What sent appeals won: overturn rate and dollars recovered, by playbook, payer and reason.

Sent appeals only: denials whose letter was marked sent (``appeals review sent``). One is
decided when its current outcome (the latest later 835's decision) came on or after the
day the letter was sent; a decision before it answered something else (the first claim,
a corrected claim) and leaves the appeal awaiting. Counted per denied line: a letter that
appeals two lines of a claim counts two. docs/kpis.md#overturns-of-sent-appeals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent.analytics.figures import Rate, dollars
from agent.analytics.totals import fold
from agent.store.analytics import DenialDimension, DenialTotal

DECIDED = ("overturned", "partial", "upheld")
"""The results that answer a sent appeal (``awaiting`` is the rest)."""


@dataclass(frozen=True, slots=True)
class AppealResults:
    """The sent appeals of one playbook, payer or reason (or all), and what came of them."""

    label: str | None
    sent: int
    sent_denied: Decimal
    """The dollars those appeals asked for."""
    overturned: int
    partial: int
    upheld: int
    recovered: Decimal
    """What the overturned and partly paid ones recovered."""

    @property
    def decided(self) -> int:
        """Sent appeals the payer has answered since."""
        return self.overturned + self.partial + self.upheld

    @property
    def awaiting(self) -> int:
        """Sent appeals with no decision since they were sent."""
        return self.sent - self.decided

    @property
    def overturn_rate(self) -> Rate:
        """Overturned (paid with no denial reason left) over decided."""
        return Rate.of(self.overturned, self.decided)

    @property
    def partial_rate(self) -> Rate:
        """Partly paid over decided."""
        return Rate.of(self.partial, self.decided)


@dataclass(frozen=True, slots=True)
class Overturns:
    """Sent appeals in all, and by playbook, payer and main reason (most sent first)."""

    total: AppealResults
    by_playbook: tuple[AppealResults, ...]
    by_payer: tuple[AppealResults, ...]
    by_reason: tuple[AppealResults, ...]


def _results(label: str | None, totals: Sequence[DenialTotal]) -> AppealResults:
    """Fold the totals of one group, keyed by their appeal result (last in the key)."""
    counts = {result: 0 for result in DECIDED}
    recovered = 0
    for total in totals:
        result = total.key[-1]
        if result in counts:
            counts[str(result)] += total.denials
            recovered += total.recovered_cents
    return AppealResults(label, sum(t.denials for t in totals),
                         dollars(sum(t.denied_cents for t in totals)), counts["overturned"],
                         counts["partial"], counts["upheld"], dollars(recovered))


OVERTURN_DIMENSIONS: tuple[DenialDimension, ...] = ("playbook", "payer", "reason",
                                                    "appeal_result")
"""What :func:`overturns` reads its totals by (of the ``sent_appeals`` scope)."""


def _by(totals: Sequence[DenialTotal], position: int) -> tuple[AppealResults, ...]:
    groups: dict[str | None, list[DenialTotal]] = {}
    for total in fold(totals, position, 3):
        groups.setdefault(total.key[0], []).append(total)
    rows = [_results(label, group) for label, group in groups.items()]
    return tuple(sorted(rows, key=lambda r: (-r.sent, -r.recovered, r.label or "~")))


def overturns(totals: Sequence[DenialTotal]) -> Overturns:
    """The sent appeals' results, in all and by playbook, payer and reason.

    Args:
        totals: the ``sent_appeals`` totals keyed by :data:`OVERTURN_DIMENSIONS`.
    """
    return Overturns(_results("All sent appeals", fold(totals, 3)), _by(totals, 0),
                     _by(totals, 1), _by(totals, 2))
