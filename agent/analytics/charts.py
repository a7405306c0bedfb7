"""What each chart of the report shows: its bars, their values, and the words for it.

A chart is data (:class:`Chart`); :mod:`agent.analytics.plot` draws it. Every chart is
shown beside the table of the same numbers (agent/analytics/tables.py), and says in its
alternative text what the bars say, so a reader who cannot see it misses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from agent.analytics.kpis import Kpis
from agent.analytics.tables import Kind, display

Unit = Literal["percent", "money", "count"]
MOST_BARS = 10
"""A chart shows at most this many bars per series (the table has every row)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One set of bars: a legend name and a value per category (None: not available)."""

    name: str
    values: tuple[Decimal | int | None, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart: categories, one or two series, the unit of the values."""

    name: str
    """Its file name without ``.svg`` (``/dashboard/charts/<name>.svg``)."""
    title: str
    unit: Unit
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    table: str
    """The table with the same numbers (:attr:`ReportTable.name`)."""
    empty: str
    """What the chart says when there is nothing to draw."""
    horizontal: bool = True

    @property
    def has_data(self) -> bool:
        """Whether any bar has a value."""
        return any(v for s in self.series for v in s.values)

    @property
    def alt(self) -> str:
        """The chart in words: its title and each category's values."""
        if not self.has_data:
            return f"{self.title}: {self.empty}"
        kind: Kind = self.unit
        parts = []
        for index, category in enumerate(self.categories):
            values = ", ".join(f"{s.name} {display(s.values[index], kind)}" if
                               len(self.series) > 1 else display(s.values[index], kind)
                               for s in self.series)
            parts.append(f"{category}: {values}")
        return f"{self.title}. " + "; ".join(parts) + "."


def _denial_rates(k: Kpis) -> Chart:
    payers = k.claims.payers[:MOST_BARS]
    return Chart("denial-rates", "Denial rate by payer", "percent",
                 tuple(p.payer for p in payers),
                 (Series("claims", tuple(p.claim_rate.percent for p in payers)),
                  Series("dollars", tuple(p.dollar_rate.percent for p in payers))),
                 "denial-rates", "no claims were read from 835s yet")


def _reasons(name: str, title: str, unit: Unit, k: Kpis) -> Chart:
    groups = k.mix.top_by_count if unit == "count" else k.mix.top_by_dollars
    values = tuple(g.denials if unit == "count" else g.denied for g in groups)
    return Chart(name, title, unit, tuple(g.label or "(none stated)" for g in groups),
                 (Series("denials" if unit == "count" else "dollars", values),), name,
                 "no denials")


def _mix(k: Kpis) -> Chart:
    mix = k.mix
    shares = [mix.share(mix.categories, "clinical"), mix.share(mix.categories, "administrative"),
              mix.share(mix.preventable, "yes"), mix.share(mix.preventable, "no")]
    return Chart("denial-mix", "Clinical, administrative and preventable shares", "percent",
                 ("clinical", "administrative", "preventable", "not preventable"),
                 (Series("denials", tuple(g.count_share.percent for g in shares)),
                  Series("dollars", tuple(g.dollar_share.percent for g in shares))),
                 "category", "no triaged denials")


def _aging(k: Kpis) -> Chart:
    buckets = k.aging.buckets
    return Chart("ar-aging", "Open denials by age (days)", "money",
                 tuple(b.label for b in buckets), (Series("dollars",
                                                          tuple(b.denied for b in buckets)),),
                 "ar-aging", "no open denials", horizontal=False)


def _due(k: Kpis) -> Chart:
    buckets = (k.due.past_due, *k.due.within)
    return Chart("appeals-due", "Appeals due", "count", tuple(b.label for b in buckets),
                 (Series("denials", tuple(b.denials for b in buckets)),), "appeals-due",
                 "no appeal waiting to be sent", horizontal=False)


def _overturns(k: Kpis) -> Chart:
    rows = [r for r in k.overturns.by_payer if r.decided][:MOST_BARS]
    return Chart("overturns-by-payer", "Overturn rate of sent appeals by payer", "percent",
                 tuple(r.label or "(payer not named)" for r in rows),
                 (Series("overturned", tuple(r.overturn_rate.percent for r in rows)),
                  Series("partly paid", tuple(r.partial_rate.percent for r in rows))),
                 "overturns-by-payer", "no sent appeal has been decided yet")


def _review_days(k: Kpis) -> Chart:
    days = k.throughput.days
    return Chart("review-days", "Letters reviewed per day", "count",
                 tuple(d.day.strftime("%m-%d") for d in days),
                 (Series("reviewed", tuple(d.reviewed for d in days)),), "review-days",
                 "no letter was reviewed in the window", horizontal=False)


def _prevention(k: Kpis) -> Chart:
    shown = k.prevention[:MOST_BARS]
    return Chart("prevention", "Preventable patterns by dollars", "money",
                 tuple(f"{s.payer} · {s.root_cause.replace('_', ' ')} · "
                       f"{s.procedure or 'any'}" for s in shown),
                 (Series("dollars", tuple(s.denied for s in shown)),), "prevention",
                 f"no preventable pattern of {k.settings.min_count} or more denials")


CHARTS: dict[str, Callable[[Kpis], Chart]] = {
    "denial-rates": _denial_rates,
    "top-reasons-by-count": lambda k: _reasons(
        "top-reasons-by-count", "Top denial reasons by count", "count", k),
    "top-reasons-by-dollars": lambda k: _reasons(
        "top-reasons-by-dollars", "Top denial reasons by dollars", "money", k),
    "denial-mix": _mix,
    "ar-aging": _aging,
    "appeals-due": _due,
    "overturns-by-payer": _overturns,
    "review-days": _review_days,
    "prevention": _prevention,
}
"""Every chart by name, in the order a page shows them."""


def charts(k: Kpis, names: Sequence[str] = tuple(CHARTS)) -> tuple[Chart, ...]:
    """The charts of ``k`` (all of them, or those named)."""
    return tuple(CHARTS[name](k) for name in names)
