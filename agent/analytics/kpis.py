"""Every KPI of the report, computed from the store on a report date (docs/kpis.md).

The report date (``appeals report --as-of``, default today; the dashboard's today) is
the day ages, deadlines and the throughput window count from; it filters nothing else:
the figures are of everything the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agent.analytics.aging import AppealsDue, ArAging, appeals_due, ar_aging
from agent.analytics.mix import MIX_DIMENSIONS, DenialMix, denial_mix
from agent.analytics.overturns import OVERTURN_DIMENSIONS, Overturns, overturns
from agent.analytics.prevention import Suggestion, suggestions
from agent.analytics.rates import ClaimRates, claim_rates
from agent.analytics.settings import ReportSettings
from agent.analytics.throughput import Throughput, throughput
from agent.analytics.totals import fold, where
from agent.store.analytics import DenialDimension
from agent.store.protocols import Store


@dataclass(frozen=True, slots=True)
class Kpis:
    """The report's figures on ``as_of``."""

    as_of: date
    settings: ReportSettings
    claims: ClaimRates
    mix: DenialMix
    aging: ArAging
    due: AppealsDue
    overturns: Overturns
    throughput: Throughput
    prevention: tuple[Suggestion, ...]


DENIAL_DIMENSIONS: tuple[DenialDimension, ...] = (*MIX_DIMENSIONS, "payer", "procedure")
"""The denials are totalled once by these; the mix and the prevention patterns fold them."""


def compute_kpis(store: Store, as_of: date, settings: ReportSettings | None = None) -> Kpis:
    """The KPIs of what ``store`` holds, counted on ``as_of``: six grouped queries."""
    settings = settings or ReportSettings()
    denials = store.denial_totals(DENIAL_DIMENSIONS)
    mix = denial_mix(denials, settings.top_reasons)
    reason, preventable, cause, payer, procedure = (DENIAL_DIMENSIONS.index(d) for d in (
        "reason", "preventable", "root_cause", "payer", "procedure"))
    patterns = fold(where(denials, preventable, "yes"), payer, cause, procedure, reason)
    return Kpis(
        as_of=as_of, settings=settings, claims=claim_rates(store.claim_totals()), mix=mix,
        aging=ar_aging(store, as_of), due=appeals_due(store, as_of, settings.due_within),
        overturns=overturns(store.denial_totals(OVERTURN_DIMENSIONS, "sent_appeals")),
        throughput=throughput(store.review_events(), as_of, settings.throughput_days),
        prevention=suggestions(patterns, mix.denials, int(mix.denied * 100),
                               settings.min_count))
