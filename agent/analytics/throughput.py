"""The auditors' throughput, from the append-only audit trail.

Over the days of a window ending on the report date (UTC days): letters reviewed
(approved or rejected) and edits, per day and per auditor; letters reviewed per day an
auditor worked; and draft-to-approval time, from a letter's first ``drafted`` row to its
``approved`` row. Decisions of the built-in ``system`` user (``--auto-approve``) are not
an auditor's work and are left out. docs/kpis.md#auditor-throughput.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from agent.store.analytics import ReviewEvent
from agent.store.records import SYSTEM_USER

_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class ReviewDay:
    """One day's reviews."""

    day: date
    approved: int
    rejected: int
    edits: int

    @property
    def reviewed(self) -> int:
        """Letters approved or rejected that day."""
        return self.approved + self.rejected


@dataclass(frozen=True, slots=True)
class AuditorWork:
    """One auditor's reviews in the window."""

    auditor: str
    approved: int
    rejected: int
    edits: int
    active_days: int
    """Days on which the auditor approved or rejected at least one letter."""
    median_hours: Decimal | None
    """Median draft-to-approval time of the letters the auditor approved."""

    @property
    def reviewed(self) -> int:
        """Letters approved or rejected."""
        return self.approved + self.rejected

    @property
    def per_day(self) -> Decimal | None:
        """Letters reviewed per day worked; None when the auditor reviewed none."""
        return _per(self.reviewed, self.active_days)


@dataclass(frozen=True, slots=True)
class Throughput:
    """The window's reviews: every day of it, every auditor, and the approval times."""

    first_day: date
    last_day: date
    days: tuple[ReviewDay, ...]
    """Every day of the window, oldest first (days without a review too)."""
    auditors: tuple[AuditorWork, ...]
    """Most letters reviewed first."""
    approvals_timed: int
    """Approvals whose letter's drafted row was found."""
    median_hours: Decimal | None
    p90_hours: Decimal | None

    @property
    def reviewed(self) -> int:
        """Letters approved or rejected in the window."""
        return sum(d.reviewed for d in self.days)

    @property
    def active_days(self) -> int:
        """Days with at least one letter reviewed."""
        return sum(1 for d in self.days if d.reviewed)

    @property
    def per_day(self) -> Decimal | None:
        """Letters reviewed per day on which any were; None when none were."""
        return _per(self.reviewed, self.active_days)


def _per(count: int, days: int) -> Decimal | None:
    return (Decimal(count) / days).quantize(_TENTH, ROUND_HALF_UP) if days else None


def _utc_day(at: datetime) -> date:
    """The UTC day of an audit time (a time without a zone is taken as UTC)."""
    return (at.astimezone(UTC) if at.tzinfo is not None else at).date()


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start).total_seconds()) / 3600


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The median (mean of the two middle values for an even count), to a tenth."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    value = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return value.quantize(_TENTH, ROUND_HALF_UP)


def nearest_rank(values: Sequence[Decimal], share: float) -> Decimal | None:
    """The nearest-rank percentile (``share`` in 0..1), to a tenth."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1].quantize(_TENTH, ROUND_HALF_UP)


@dataclass(slots=True)
class _Tally:
    approved: int = 0
    rejected: int = 0
    edits: int = 0


def throughput(events: Iterable[ReviewEvent], as_of: date, days: int) -> Throughput:
    """The reviews of the ``days`` days ending on ``as_of`` (UTC dates of the rows)."""
    first = as_of - timedelta(days=days - 1)
    drafted: dict[str, datetime] = {}
    per_day: dict[date, _Tally] = {}
    per_auditor: dict[str, _Tally] = {}
    worked: dict[str, set[date]] = {}
    timed: dict[str, list[Decimal]] = {}
    for event in events:
        if event.action == "drafted":
            drafted.setdefault(event.letter_id, event.at)
            continue
        day = _utc_day(event.at)
        if event.actor == SYSTEM_USER or not first <= day <= as_of:
            continue
        tallies = (per_day.setdefault(day, _Tally()),
                   per_auditor.setdefault(event.actor, _Tally()))
        for tally in tallies:
            if event.action == "edited":
                tally.edits += 1
            elif event.action == "approved":
                tally.approved += 1
            else:
                tally.rejected += 1
        if event.action != "edited":
            worked.setdefault(event.actor, set()).add(day)
        if event.action == "approved" and event.letter_id in drafted:
            timed.setdefault(event.actor, []).append(_hours(drafted[event.letter_id],
                                                            event.at))
    all_days = [first + timedelta(days=n) for n in range(days)]
    empty = _Tally()
    auditors = [AuditorWork(name, t.approved, t.rejected, t.edits, len(worked.get(name, ())),
                            median(timed.get(name, []))) for name, t in per_auditor.items()]
    auditors.sort(key=lambda a: (-a.reviewed, a.auditor))
    hours = [h for values in timed.values() for h in values]
    return Throughput(
        first, as_of,
        tuple(ReviewDay(d, per_day.get(d, empty).approved, per_day.get(d, empty).rejected,
                        per_day.get(d, empty).edits) for d in all_days),
        tuple(auditors), len(hours), median(hours), nearest_rank(hours, 0.9))
