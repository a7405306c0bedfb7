"""The KPIs laid out as tables: what the report page, its CSV files and the dashboard show.

One list of :class:`ReportTable` (and of :class:`KeyFigure`) for every view, so the HTML
report, ``report-<name>.csv`` and the web dashboard cannot disagree. Cells keep their
values (counts, dollars, percents, dates); :func:`display` formats one for a page, and
the CSV writer writes them plain (agent/application/reports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from agent.analytics.aging import Bucket
from agent.analytics.kpis import Kpis
from agent.analytics.mix import GroupShare
from agent.analytics.overturns import AppealResults
from agent.analytics.rates import PayerClaims

Kind = Literal["text", "count", "money", "percent", "hours", "per_day", "date"]
"""How a column's values read: ``percent`` and ``hours`` may be None (not available)."""
Value = str | int | Decimal | date | None
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its CSV name, its heading on a page, and its kind."""

    name: str
    label: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class ReportTable:
    """A table of the report: written to ``report-<name>.csv`` and shown on every page."""

    name: str
    title: str
    note: str
    """What is counted, in one sentence (docs/kpis.md has the definitions)."""
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]


@dataclass(frozen=True, slots=True)
class KeyFigure:
    """One headline number of the report."""

    name: str
    label: str
    value: Value
    kind: Kind


def display(value: Value, kind: Kind) -> str:
    """A cell as a page shows it: ``$1,275.00``, ``12.5%``, ``n/a`` when not available."""
    if value is None:
        return "n/a" if kind in ("percent", "hours", "per_day") else ""
    if kind == "count" and isinstance(value, int):
        return f"{value:,}"
    if kind == "money" and isinstance(value, Decimal):
        return f"${value:,.2f}"
    if kind == "percent" and isinstance(value, Decimal):
        return f"{value.quantize(_TENTH, ROUND_HALF_UP)}%"  # 82.05 is 82.1, as it was rounded
    if kind == "hours" and isinstance(value, Decimal):
        return f"{value:,.1f} h"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_SHARE = (Column("denials", "Denials", "count"),
          Column("denial_share_pct", "Share of denials", "percent"),
          Column("denied", "Denied", "money"),
          Column("dollar_share_pct", "Share of dollars", "percent"))
_RESULTS = (Column("sent", "Sent", "count"), Column("decided", "Decided", "count"),
            Column("overturned", "Overturned", "count"),
            Column("partial", "Partly paid", "count"), Column("upheld", "Upheld", "count"),
            Column("awaiting", "Awaiting", "count"),
            Column("overturn_rate_pct", "Overturn rate", "percent"),
            Column("partial_rate_pct", "Partly paid rate", "percent"),
            Column("recovered", "Recovered", "money"))


def _share_row(label: str, group: GroupShare) -> tuple[Value, ...]:
    return (label, group.denials, group.count_share.percent, group.denied,
            group.dollar_share.percent)


def _payer_row(p: PayerClaims) -> tuple[Value, ...]:
    return (p.payer, p.claims_read, p.reversals, p.corrections, p.reprocessed, p.claims,
            p.denied_claims, p.claim_rate.percent, p.billed, p.denied, p.dollar_rate.percent,
            p.first_pass.percent)


def _results_row(label: str, r: AppealResults) -> tuple[Value, ...]:
    return (label, r.sent, r.decided, r.overturned, r.partial, r.upheld, r.awaiting,
            r.overturn_rate.percent, r.partial_rate.percent, r.recovered)


def _bucket_row(b: Bucket) -> tuple[Value, ...]:
    return (b.label, b.denials, b.denied)


def _rates(k: Kpis) -> ReportTable:
    return ReportTable(
        "denial-rates", "Denial rate by payer",
        "Claims read from 835s and decided for the first time (reversals, corrections and "
        "claims answering an earlier denial left out); denied: the remittance denied some "
        "of it (cost-sharing and contractual reductions alone are not denials).",
        (Column("payer", "Payer", "text"), Column("claims_read", "Claims read", "count"),
         Column("reversals", "Reversals", "count"),
         Column("corrections", "Corrections", "count"),
         Column("reprocessed", "Answering a denial", "count"),
         Column("claims", "Claims adjudicated", "count"),
         Column("denied_claims", "Denied claims", "count"),
         Column("claim_denial_rate_pct", "Denial rate (claims)", "percent"),
         Column("billed", "Billed", "money"), Column("denied", "Denied", "money"),
         Column("dollar_denial_rate_pct", "Denial rate (dollars)", "percent"),
         Column("first_pass_resolution_rate_pct", "First-pass resolution", "percent")),
        (*(_payer_row(p) for p in k.claims.payers), _payer_row(k.claims.total)))


def _reasons(name: str, title: str, groups: Sequence[GroupShare]) -> ReportTable:
    return ReportTable(
        name, title, "Each denial counted once, under its main reason (the largest "
        "adjustment that is neither a contractual reduction nor patient cost-sharing).",
        (Column("rank", "Rank", "count"), Column("reason", "Reason", "text"), *_SHARE),
        tuple((n, *_share_row(g.label or "(no reason stated)", g))
              for n, g in enumerate(groups, 1)))


def _mix(name: str, title: str, heading: str, groups: Sequence[GroupShare],
         names: dict[str, str]) -> ReportTable:
    return ReportTable(
        name, title, "Shares of the triaged denials; denials not triaged yet are shown "
        "apart, with no share.", (Column(name.replace("-", "_"), heading, "text"), *_SHARE),
        tuple(_share_row(names.get(g.label or "", _words(g.label)), g) for g in groups))


def _words(label: str | None) -> str:
    return label.replace("_", " ") if label is not None else "not triaged"


def _aging(k: Kpis) -> ReportTable:
    return ReportTable(
        "ar-aging", f"A/R aging of open denials on {k.as_of.isoformat()}",
        "Open: no later 835 answered and not written off. Age in days from the date of "
        "service (else the remittance date) to the report date.",
        (Column("age_days", "Age (days)", "text"), Column("denials", "Open denials", "count"),
         Column("denied", "Denied", "money")),
        (*(_bucket_row(b) for b in k.aging.buckets), _bucket_row(k.aging.total)))


def _due(k: Kpis) -> ReportTable:
    return ReportTable(
        "appeals-due", f"Appeals due from {k.as_of.isoformat()}",
        "Denials to appeal or still in review, with a deadline, no letter sent and no later "
        "835; each window counts those of the shorter ones too.",
        (Column("deadline", "Appeal deadline", "text"), Column("denials", "Denials", "count"),
         Column("denied", "Denied", "money")),
        (_bucket_row(k.due.past_due), *(_bucket_row(b) for b in k.due.within),
         _bucket_row(k.due.total)))


def _overturns(name: str, title: str, heading: str, rows: Sequence[AppealResults],
               total: AppealResults, missing: str) -> ReportTable:
    return ReportTable(
        name, title, "Sent appeals only; decided when the payer's latest decision came on or "
        "after the day the letter was sent. Per denied line.",
        (Column(heading.lower(), heading, "text"), *_RESULTS),
        (*(_results_row(r.label or missing, r) for r in rows),
         _results_row(str(total.label), total)))


def _throughput(k: Kpis) -> tuple[ReportTable, ReportTable]:
    t = k.throughput
    window = f"{t.first_day.isoformat()} to {t.last_day.isoformat()}"
    days = ReportTable(
        "review-days", f"Letters reviewed per day, {window}",
        "Approvals and rejections by auditors (not --auto-approve) from the audit trail, "
        "by UTC day; edits beside them.",
        (Column("day", "Day", "date"), Column("reviewed", "Reviewed", "count"),
         Column("approved", "Approved", "count"), Column("rejected", "Rejected", "count"),
         Column("edits", "Edits", "count")),
        tuple((d.day, d.reviewed, d.approved, d.rejected, d.edits) for d in t.days))
    auditors = ReportTable(
        "auditors", f"Auditor throughput, {window}",
        "Reviewed per day counts the days the auditor reviewed any letter; draft to "
        "approval runs from a letter's first drafted row to its approval.",
        (Column("auditor", "Auditor", "text"), Column("reviewed", "Reviewed", "count"),
         Column("approved", "Approved", "count"), Column("rejected", "Rejected", "count"),
         Column("edits", "Edits", "count"), Column("active_days", "Days active", "count"),
         Column("reviewed_per_day", "Reviewed per day", "per_day"),
         Column("median_hours_to_approval", "Median draft to approval", "hours")),
        tuple((a.auditor, a.reviewed, a.approved, a.rejected, a.edits, a.active_days,
               a.per_day, a.median_hours) for a in t.auditors))
    return days, auditors


def _prevention(k: Kpis) -> ReportTable:
    return ReportTable(
        "prevention", "Prevention suggestions",
        f"Preventable denials grouped by payer, root cause and procedure as billed, "
        f"{k.settings.min_count} or more; shares of all denials; most dollars first.",
        (Column("rank", "Rank", "count"), Column("payer", "Payer", "text"),
         Column("root_cause", "Root cause", "text"), Column("procedure", "Procedure", "text"),
         Column("reason_codes", "Reason codes", "text"), *_SHARE,
         Column("step", "Where", "text"), Column("front_end_fix", "Front-end fix", "text")),
        tuple((n, s.payer, s.root_cause.replace("_", " "), s.procedure or "any",
               "; ".join(f"{code} ({count})" for code, count in s.reasons), s.denials,
               s.count_share.percent, s.denied, s.dollar_share.percent, s.step, s.fix)
              for n, s in enumerate(k.prevention, 1)))


def key_figures(k: Kpis) -> tuple[KeyFigure, ...]:
    """The headline numbers, in the order a page shows them."""
    total, o, t = k.claims.total, k.overturns.total, k.throughput
    return (
        KeyFigure("claims_adjudicated", "Claims adjudicated", total.claims, "count"),
        KeyFigure("claim_denial_rate_pct", "Denial rate (claims)",
                  total.claim_rate.percent, "percent"),
        KeyFigure("dollar_denial_rate_pct", "Denial rate (dollars)",
                  total.dollar_rate.percent, "percent"),
        KeyFigure("first_pass_resolution_rate_pct", "First-pass resolution rate",
                  total.first_pass.percent, "percent"),
        KeyFigure("denials", "Denials", k.mix.denials, "count"),
        KeyFigure("denied", "Dollars denied", k.mix.denied, "money"),
        KeyFigure("clinical_share_pct", "Clinical share",
                  k.mix.share(k.mix.categories, "clinical").count_share.percent, "percent"),
        KeyFigure("preventable_share_pct", "Preventable share",
                  k.mix.share(k.mix.preventable, "yes").count_share.percent, "percent"),
        KeyFigure("open_denials", "Open denials", k.aging.total.denials, "count"),
        KeyFigure("open_denied", "Open dollars", k.aging.total.denied, "money"),
        KeyFigure("appeals_past_due", "Appeals past due", k.due.past_due.denials, "count"),
        KeyFigure("appeals_due_7_days", f"Appeals due within {k.settings.due_within[0]} days",
                  k.due.within[0].denials, "count"),
        KeyFigure("sent_appeals", "Sent appeals", o.sent, "count"),
        KeyFigure("overturn_rate_pct", "Overturn rate (sent appeals)",
                  o.overturn_rate.percent, "percent"),
        KeyFigure("recovered", "Dollars recovered", o.recovered, "money"),
        KeyFigure("reviewed_per_day", "Letters reviewed per day", t.per_day, "per_day"),
        KeyFigure("median_hours_to_approval", "Median draft to approval", t.median_hours,
                  "hours"),
    )


def _summary(k: Kpis) -> ReportTable:
    return ReportTable(
        "summary", f"Key figures on {k.as_of.isoformat()}",
        "Definitions: docs/kpis.md. n/a: nothing to count (a rate over no claims).",
        (Column("figure", "Figure", "text"), Column("value", "Value", "text"),
         Column("unit", "Unit", "text")),
        tuple((f.name, f.value if isinstance(f.value, Decimal | int) else None, f.kind)
              for f in key_figures(k)))


_CATEGORIES = {"clinical": "clinical", "administrative": "administrative"}
_PREVENTABLE = {"yes": "preventable", "no": "not preventable"}


def report_tables(k: Kpis) -> tuple[ReportTable, ...]:
    """Every table of the report, in the order the page shows them."""
    o = k.overturns
    return (
        _summary(k), _rates(k),
        _reasons("top-reasons-by-count", f"Top {k.settings.top_reasons} denial reasons by "
                 "count", k.mix.top_by_count),
        _reasons("top-reasons-by-dollars", f"Top {k.settings.top_reasons} denial reasons "
                 "by dollars", k.mix.top_by_dollars),
        _mix("category", "Clinical and administrative denials", "Category",
             k.mix.categories, _CATEGORIES),
        _mix("preventable", "Preventable denials", "Preventable", k.mix.preventable,
             _PREVENTABLE),
        _mix("root-cause", "Denials by root cause", "Root cause", k.mix.root_causes,
             {}),
        _aging(k), _due(k),
        _overturns("overturns-by-playbook", "Overturns of sent appeals by playbook",
                   "Playbook", o.by_playbook, o.total, "(no playbook)"),
        _overturns("overturns-by-payer", "Overturns of sent appeals by payer", "Payer",
                   o.by_payer, o.total, "(payer not named)"),
        _overturns("overturns-by-reason", "Overturns of sent appeals by reason", "Reason",
                   o.by_reason, o.total, "(no reason stated)"),
        *_throughput(k), _prevention(k))
