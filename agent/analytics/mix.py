"""Where denials come from: the top reasons, clinical or administrative, preventable or not.

Over the denials the KPIs count (agent.store.analytics.DenialScope): every stored denial
but those triage found were only patient cost-sharing or contractual reductions. A
denial's reason is its main one (the largest adjustment that is neither, as triage reads
it). Category, preventability and root cause are triage's; their shares are of the
triaged denials (one read by ``appeals ingest --db`` and not run yet has none).
docs/kpis.md#where-denials-come-from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent.analytics.figures import Rate, dollars
from agent.analytics.totals import fold
from agent.store.analytics import DenialDimension, DenialTotal


@dataclass(frozen=True, slots=True)
class GroupShare:
    """The denials of one reason, category or root cause, and their share."""

    label: str | None
    """None: not known (no reason stated, not triaged)."""
    denials: int
    denied: Decimal
    count_share: Rate
    dollar_share: Rate


@dataclass(frozen=True, slots=True)
class DenialMix:
    """The counted denials by reason, category, preventability and root cause."""

    denials: int
    denied: Decimal
    triaged: int
    triaged_denied: Decimal
    top_by_count: tuple[GroupShare, ...]
    top_by_dollars: tuple[GroupShare, ...]
    categories: tuple[GroupShare, ...]
    """Clinical and administrative (shares of the triaged); not triaged last."""
    preventable: tuple[GroupShare, ...]
    """``yes`` and ``no`` (shares of the triaged); not triaged last."""
    root_causes: tuple[GroupShare, ...]
    """Most dollars first (shares of the triaged)."""

    def share(self, groups: Sequence[GroupShare], label: str) -> GroupShare:
        """The group of ``label`` in ``groups`` (none of them: no denials, 0 of the whole)."""
        for group in groups:
            if group.label == label:
                return group
        whole = groups[0].count_share.whole if groups else Decimal(0)
        dollars_whole = groups[0].dollar_share.whole if groups else Decimal(0)
        return GroupShare(label, 0, Decimal("0.00"), Rate(Decimal(0), whole),
                          Rate(Decimal(0), dollars_whole))


def _shares(totals: Sequence[DenialTotal], count: int, cents: int) -> list[GroupShare]:
    return [GroupShare(t.key[0], t.denials, dollars(t.denied_cents), Rate.of(t.denials, count),
                       Rate.of(t.denied_cents, cents)) for t in totals]


def _triaged_shares(totals: Sequence[DenialTotal], order: Sequence[str] = ()
                    ) -> list[GroupShare]:
    """Shares of the triaged denials; the untriaged group (key None) last, with no share."""
    known = [t for t in totals if t.key[0] is not None]
    count = sum(t.denials for t in known)
    cents = sum(t.denied_cents for t in known)
    rank = {label: i for i, label in enumerate(order)}
    known.sort(key=lambda t: (rank.get(str(t.key[0]), len(rank)), -t.denied_cents,
                              str(t.key[0])))
    out = _shares(known, count, cents)
    out += _shares([t for t in totals if t.key[0] is None], 0, 0)
    return out


def top_reasons(totals: Sequence[DenialTotal], top: int) -> tuple[list[GroupShare],
                                                                  list[GroupShare]]:
    """The ``top`` reasons by count and by dollars, ties by the other, then by code."""
    count = sum(t.denials for t in totals)
    cents = sum(t.denied_cents for t in totals)
    groups = _shares(totals, count, cents)
    by_count = sorted(groups, key=lambda g: (-g.denials, -g.denied, g.label or "~"))
    by_dollars = sorted(groups, key=lambda g: (-g.denied, -g.denials, g.label or "~"))
    return by_count[:top], by_dollars[:top]


MIX_DIMENSIONS: tuple[DenialDimension, ...] = ("reason", "category", "preventable",
                                               "root_cause")
"""What :func:`denial_mix` reads its totals by (more may follow: they are folded away)."""


def denial_mix(totals: Sequence[DenialTotal], top: int) -> DenialMix:
    """The mix of the counted denials, from totals keyed by :data:`MIX_DIMENSIONS` first."""
    reasons, categories = fold(totals, 0), fold(totals, 1)
    preventable, causes = fold(totals, 2), fold(totals, 3)
    by_count, by_dollars = top_reasons(reasons, top)
    triaged = [t for t in categories if t.key[0] is not None]
    return DenialMix(
        denials=sum(t.denials for t in reasons),
        denied=dollars(sum(t.denied_cents for t in reasons)),
        triaged=sum(t.denials for t in triaged),
        triaged_denied=dollars(sum(t.denied_cents for t in triaged)),
        top_by_count=tuple(by_count), top_by_dollars=tuple(by_dollars),
        categories=tuple(_triaged_shares(categories, ("clinical", "administrative"))),
        preventable=tuple(_triaged_shares(preventable, ("yes", "no"))),
        root_causes=tuple(g for g in _triaged_shares(causes) if g.label is not None))
