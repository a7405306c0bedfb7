"""A/R aging of the open denials, and the appeals due soon, counted from the report date.

Open: counted, no later 835 answered, not written off (agent.store.analytics
``open``). Age: days from the date of service (else the remittance date) to the report
date. Due: the appealable denials (to appeal or still in review, no letter sent, not
answered) by their appeal deadline. docs/kpis.md#ar-aging-of-open-denials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from agent.analytics.figures import dollars
from agent.store.analytics import DenialTotal
from agent.store.protocols import Store

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
"""Label, first and last day of age (None: no end). A date after the report date is age 0."""
NO_DATE = "no date"


@dataclass(frozen=True, slots=True)
class Bucket:
    """Denials of one age or deadline window, and their dollars."""

    label: str
    denials: int
    denied: Decimal


@dataclass(frozen=True, slots=True)
class ArAging:
    """The open denials by age, and all of them."""

    buckets: tuple[Bucket, ...]
    """One per :data:`AGE_BUCKETS`, then ``no date`` when some have neither date."""
    total: Bucket


@dataclass(frozen=True, slots=True)
class AppealsDue:
    """The appealable denials by deadline: past due, and due within each window."""

    past_due: Bucket
    within: tuple[Bucket, ...]
    """Deadline from the report date to N days after it (each window counts the shorter
    ones' denials too)."""
    total: Bucket


def _bucket(label: str, totals: Sequence[DenialTotal]) -> Bucket:
    return Bucket(label, sum(t.denials for t in totals),
                  dollars(sum(t.denied_cents for t in totals)))


def _age_label(day: date, as_of: date) -> str:
    age = max((as_of - day).days, 0)
    for label, first, last in AGE_BUCKETS:
        if age >= first and (last is None or age <= last):
            return label
    raise AssertionError("the buckets cover every age")  # pragma: no cover


def ar_aging(store: Store, as_of: date) -> ArAging:
    """The open denials by age on ``as_of``."""
    totals = store.denial_totals(("age_from",), "open")
    by_label: dict[str, list[DenialTotal]] = {}
    for total in totals:
        day = total.key[0]
        label = _age_label(date.fromisoformat(day), as_of) if day else NO_DATE
        by_label.setdefault(label, []).append(total)
    buckets = [_bucket(label, by_label.get(label, [])) for label, _, _ in AGE_BUCKETS]
    if NO_DATE in by_label:
        buckets.append(_bucket(NO_DATE, by_label[NO_DATE]))
    return ArAging(tuple(buckets), _bucket("All open denials", totals))


def appeals_due(store: Store, as_of: date, windows: Sequence[int]) -> AppealsDue:
    """The appealable denials on ``as_of``: past their deadline, and due within each window."""
    totals = store.denial_totals(("deadline",), "appealable")
    dated = [(date.fromisoformat(t.key[0]), t) for t in totals if t.key[0]]
    past = [t for day, t in dated if day < as_of]
    within = [_bucket(f"within {days} days",
                      [t for day, t in dated if as_of <= day <= as_of + timedelta(days=days)])
              for days in windows]
    return AppealsDue(_bucket("past due", past), tuple(within),
                      _bucket("All appealable denials", totals))
