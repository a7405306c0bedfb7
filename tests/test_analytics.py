"""The KPIs of a small practice's store, each computed by hand (tests/analytics_store.py).

The figures are of docs/kpis.md: denial rates over first adjudications only, the $0 line
that is only the deductible not a denial, overturns of sent appeals decided on or after
the day the letter was sent, the auditors' work from the audit trail, and the prevention
patterns over a minimum count. An empty store gives rates that are not available, never a
division by zero.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.analytics.figures import Rate, dollars
from agent.analytics.kpis import Kpis, compute_kpis
from agent.analytics.overturns import AppealResults
from agent.analytics.prevention import FIXES, FrontEndFix, _table
from agent.analytics.settings import ReportSettings
from agent.analytics.tables import display, key_figures, report_tables
from agent.store.records import LetterRecord
from agent.store.sqlite import SqliteStore
from tests.analytics_store import ACME, AS_OF, BETA, build

D = Decimal


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    store = build(tmp_path_factory.mktemp("practice"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def kpis(practice: SqliteStore) -> Kpis:
    return compute_kpis(practice, AS_OF, ReportSettings(min_count=2))


def _pct(rate: Rate) -> Decimal | None:
    return rate.percent


# Denial rates and first-pass resolution (claims read from 835s)


def test_denial_rates_count_first_adjudications_only(kpis: Kpis) -> None:
    acme, beta = kpis.claims.payers
    # ACME: 6 claims in January, 3 in March that answer January's denials (not counted).
    assert (acme.payer, acme.claims_read, acme.reprocessed, acme.claims) == (ACME, 9, 3, 6)
    assert (acme.denied_claims, acme.billed, acme.denied) == (4, D("3900.00"), D("3200.00"))
    assert (_pct(acme.claim_rate), _pct(acme.dollar_rate)) == (D("66.67"), D("82.05"))
    # BETA: a reversal and its correction re-state an old claim; B1 again in March answers.
    assert (beta.payer, beta.claims_read, beta.reversals, beta.corrections,
            beta.reprocessed, beta.claims) == (BETA, 8, 1, 1, 1, 5)
    assert (beta.denied_claims, beta.billed, beta.denied) == (4, D("830.00"), D("680.00"))
    assert (_pct(beta.claim_rate), _pct(beta.dollar_rate)) == (D("80.00"), D("81.93"))
    total = kpis.claims.total
    assert (total.claims, total.denied_claims, total.billed, total.denied) == (
        11, 8, D("4730.00"), D("3880.00"))
    assert (_pct(total.claim_rate), _pct(total.dollar_rate)) == (D("72.73"), D("82.03"))


def test_first_pass_resolution_is_the_claims_decided_without_a_denial(kpis: Kpis) -> None:
    # A3 ($0, deductible only), A4 and B2 were resolved on the first pass.
    acme, beta = kpis.claims.payers
    assert (_pct(acme.first_pass), _pct(beta.first_pass)) == (D("33.33"), D("20.00"))
    assert kpis.claims.total.first_pass == Rate(D(3), D(11))
    assert _pct(kpis.claims.total.first_pass) == D("27.27")


# Where denials come from


def test_the_deductible_alone_is_kept_but_not_counted_as_a_denial(
        practice: SqliteStore, kpis: Kpis) -> None:
    stored = practice.list_denial_ids()
    assert len(stored) == 9  # A3's $0 line is a denial record (patient responsibility)
    assert kpis.mix.denials == 8 and kpis.mix.denied == D("3880.00")


def test_top_reasons_by_count_and_by_dollars(kpis: Kpis) -> None:
    by_count = [(g.label, g.denials, g.denied) for g in kpis.mix.top_by_count]
    assert by_count == [("CO-197", 3, D("1350.00")), ("CO-27", 2, D("230.00")),
                        ("CO-97", 1, D("2000.00")), ("CO-11", 1, D("250.00")),
                        ("CO-50", 1, D("50.00"))]
    by_dollars = [g.label for g in kpis.mix.top_by_dollars]
    assert by_dollars == ["CO-97", "CO-197", "CO-11", "CO-27", "CO-50"]
    first = kpis.mix.top_by_count[0]
    assert (_pct(first.count_share), _pct(first.dollar_share)) == (D("37.50"), D("34.79"))


def test_top_reasons_keep_only_as_many_as_asked(practice: SqliteStore) -> None:
    two = compute_kpis(practice, AS_OF, ReportSettings(top_reasons=2))
    assert [g.label for g in two.mix.top_by_count] == ["CO-197", "CO-27"]
    assert [g.label for g in two.mix.top_by_dollars] == ["CO-97", "CO-197"]


def test_clinical_administrative_and_preventable_shares(kpis: Kpis) -> None:
    mix = kpis.mix
    clinical = mix.share(mix.categories, "clinical")
    administrative = mix.share(mix.categories, "administrative")
    assert (clinical.denials, clinical.denied) == (3, D("2300.00"))
    assert (_pct(clinical.count_share), _pct(clinical.dollar_share)) == (D("37.50"),
                                                                         D("59.28"))
    assert (_pct(administrative.count_share), _pct(administrative.dollar_share)) == (
        D("62.50"), D("40.72"))
    preventable = mix.share(mix.preventable, "yes")
    assert (preventable.denials, preventable.denied) == (7, D("3830.00"))
    assert (_pct(preventable.count_share), _pct(preventable.dollar_share)) == (D("87.50"),
                                                                               D("98.71"))
    assert [(g.label, g.denials, g.denied) for g in mix.root_causes] == [
        ("coding", 2, D("2250.00")), ("authorization", 3, D("1350.00")),
        ("registration_eligibility", 2, D("230.00")), ("documentation", 1, D("50.00"))]


def test_untriaged_denials_are_counted_but_have_no_share(tmp_path: Path) -> None:
    from agent.application.intake import StoreIntake
    from tests.remits import claim, line, remit, write

    store = SqliteStore(tmp_path / "appeals.db")
    try:
        path = write(tmp_path, "jan.835", remit([claim("P1", line("99213", "150.00", "0", (
            "CO", "197", "150.00")))], produced="20260105"))
        list(StoreIntake(store, [path]))  # `appeals ingest --db`: saved, not triaged
        mix = compute_kpis(store, AS_OF).mix
    finally:
        store.close()
    assert (mix.denials, mix.triaged) == (1, 0)
    (untriaged,) = mix.categories
    assert untriaged.label is None and untriaged.denials == 1
    assert untriaged.count_share.percent is None
    assert mix.share(mix.categories, "clinical").count_share.percent is None


# Open denials


def test_ar_aging_of_open_denials(kpis: Kpis) -> None:
    # Open on April 1: A6 (service 2025-12-20, 102 days), B3 (2026-03-10, 22 days), B4
    # (2026-02-15, 45 days). Answered ones are not open, nor is B5, written off.
    assert [(b.label, b.denials, b.denied) for b in kpis.aging.buckets] == [
        ("0-30", 1, D("200.00")), ("31-60", 1, D("250.00")), ("61-90", 0, D("0.00")),
        ("90+", 1, D("50.00"))]
    assert (kpis.aging.total.denials, kpis.aging.total.denied) == (3, D("500.00"))


def test_aging_counts_from_the_report_date(practice: SqliteStore) -> None:
    later = compute_kpis(practice, date(2026, 5, 1))
    assert [b.denials for b in later.aging.buckets] == [0, 1, 1, 1]
    earlier = compute_kpis(practice, date(2026, 3, 1))  # B3's service is after it: age 0
    assert [b.denials for b in earlier.aging.buckets] == [2, 0, 1, 0]


def test_appeals_due_within_7_14_30_days_and_past_due(kpis: Kpis) -> None:
    # To appeal or in review, not sent, not answered: A6 due April 8 (7 days: counted
    # within 7), B3 April 15 (14 days), B4 March 30 (past). B1 was sent: not due.
    due = kpis.due
    assert (due.past_due.denials, due.past_due.denied) == (1, D("250.00"))
    assert [(b.label, b.denials, b.denied) for b in due.within] == [
        ("within 7 days", 1, D("50.00")), ("within 14 days", 2, D("250.00")),
        ("within 30 days", 2, D("250.00"))]
    assert due.total.denials == 3


# Sent appeals


def test_overturns_count_sent_appeals_decided_after_they_were_sent(kpis: Kpis) -> None:
    total = kpis.overturns.total
    # A1 overturned, A5 partly paid (its letter marked sent after the March 835 was read,
    # dated before it), A2 upheld; B1 was paid on March 20, before its letter went on
    # March 25: that payment does not answer the appeal, which is still awaiting.
    assert (total.sent, total.decided, total.overturned, total.partial, total.upheld,
            total.awaiting) == (4, 3, 1, 1, 1, 1)
    assert total.recovered == D("1620.00")  # $120 + $1,500; B1's $150 is not counted
    assert (_pct(total.overturn_rate), _pct(total.partial_rate)) == (D("33.33"), D("33.33"))


def test_overturns_by_playbook_payer_and_reason(kpis: Kpis) -> None:
    def rows(results: Sequence[AppealResults]) -> list[tuple[object, ...]]:
        return [(r.label, r.sent, r.decided, r.overturn_rate.percent, r.recovered)
                for r in results]

    assert rows(kpis.overturns.by_playbook) == [
        ("prior_authorization", 2, 2, D("50.00"), D("120.00")),
        ("distinct_procedure", 1, 1, D("0.00"), D("1500.00")),
        (None, 1, 0, None, D("0.00"))]
    assert rows(kpis.overturns.by_payer) == [(ACME, 3, 3, D("33.33"), D("1620.00")),
                                             (BETA, 1, 0, None, D("0.00"))]
    assert [r.label for r in kpis.overturns.by_reason] == ["CO-197", "CO-97", "CO-27"]


def test_the_outcome_keeps_the_letter_as_it_was_when_recorded(practice: SqliteStore) -> None:
    by_letter = {}
    for record in practice.get_denials(practice.list_denial_ids()):
        outcome = practice.current_outcomes([record.denial.denial_id]).get(
            record.denial.denial_id)
        if outcome is not None:
            by_letter[record.letter_id] = (outcome.letter_status, outcome.letter_sent_on)
    # A5's letter was approved, not sent, when March was read: the report goes by the
    # letter's own sent_on, which says it went on February 15.
    assert by_letter["lt_a5"] == ("approved", None)
    assert by_letter["lt_a1"] == ("sent", date(2026, 2, 1))


# The auditors


def test_throughput_from_the_audit_trail(kpis: Kpis) -> None:
    t = kpis.throughput
    assert (t.first_day, t.last_day, len(t.days)) == (date(2026, 3, 3), AS_OF, 30)
    worked = [(d.day, d.approved, d.rejected, d.edits) for d in t.days if d.reviewed]
    assert worked == [(date(2026, 3, 30), 1, 0, 0), (date(2026, 3, 31), 1, 0, 1),
                      (AS_OF, 1, 1, 0)]
    assert (t.reviewed, t.active_days, t.per_day) == (4, 3, D("1.3"))
    assert [(a.auditor, a.approved, a.rejected, a.edits, a.active_days, a.per_day,
             a.median_hours) for a in t.auditors] == [
        ("ann", 2, 0, 1, 2, D("1.0"), D("15.0")), ("bob", 1, 1, 0, 1, D("2.0"), D("24.0"))]
    # Draft to approval: 6 h, 24 h, 24 h (the system user's approval is not timed).
    assert (t.approvals_timed, t.median_hours, t.p90_hours) == (3, D("24.0"), D("24.0"))


def test_a_longer_window_reaches_further_back(practice: SqliteStore) -> None:
    t = compute_kpis(practice, AS_OF, ReportSettings(throughput_days=60)).throughput
    assert t.reviewed == 5 and t.first_day == date(2026, 2, 1)  # lt_old of February 15
    assert t.approvals_timed == 3  # it has no drafted row


# Prevention


def test_prevention_suggests_patterns_over_the_minimum_count(kpis: Kpis) -> None:
    (only,) = kpis.prevention
    # Eligibility is checked per patient, not per procedure: B1 and B5 are one pattern.
    assert (only.payer, only.root_cause, only.procedure, only.reasons) == (
        BETA, "registration_eligibility", None, (("CO-27", 2),))
    assert (only.denials, only.denied) == (2, D("230.00"))
    assert (_pct(only.count_share), _pct(only.dollar_share)) == (D("25.00"), D("5.93"))
    assert only.step == "registration" and BETA in only.fix and "{" not in only.fix


def test_prevention_ranks_by_dollars_and_names_each_procedure(practice: SqliteStore) -> None:
    every = compute_kpis(practice, AS_OF, ReportSettings(min_count=1)).prevention
    assert [(s.payer, s.root_cause, s.procedure, s.denied) for s in every] == [
        (ACME, "coding", "29877", D("2000.00")), (ACME, "authorization", "72148", D("1000.00")),
        (BETA, "coding", "90837", D("250.00")), (BETA, "registration_eligibility", None,
                                                  D("230.00")),
        (BETA, "authorization", "99214", D("200.00")),
        (ACME, "authorization", "99213", D("150.00"))]
    auth = every[1]
    assert "72148" in auth.fix and ACME in auth.fix and auth.step == "scheduling"
    assert auth.reasons == (("CO-197", 1),)


def test_every_root_cause_has_one_fix_naming_its_payer() -> None:
    assert all(fix.root_cause == cause and "{payer}" in fix.action
               for cause, fix in FIXES.items())
    with pytest.raises(ValidationError, match="must name"):
        FrontEndFix(root_cause="coding", step="x", per_procedure=False,
                    action="Check {procedure} for {payer}.")
    with pytest.raises(ValueError, match="exactly one"):
        _table(*(f for f in FIXES.values() if f.root_cause != "coding"))


# Nothing to count


def test_an_empty_store_has_rates_not_available_not_errors(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "appeals.db")
    try:
        empty = compute_kpis(store, AS_OF)
    finally:
        store.close()
    total = empty.claims.total
    assert (total.claims, total.claim_rate.percent, total.first_pass.percent) == (0, None, None)
    assert empty.claims.payers == () and empty.mix.denials == 0
    assert empty.mix.top_by_count == () and empty.overturns.total.overturn_rate.percent is None
    assert empty.throughput.per_day is None and empty.throughput.median_hours is None
    assert empty.prevention == ()
    figures = {f.name: display(f.value, f.kind) for f in key_figures(empty)}
    assert figures["claim_denial_rate_pct"] == "n/a" and figures["denied"] == "$0.00"
    assert all(t.columns for t in report_tables(empty))


def test_rates_and_dollars() -> None:
    assert Rate.of(1, 3).percent == D("33.33") and Rate.of(2, 3).percent == D("66.67")
    assert Rate.of(0, 0).percent is None and Rate.of(5, 0).percent is None
    assert dollars(127550) == D("1275.50") and str(dollars(0)) == "0.00"
    assert display(D("12.345"), "percent") == "12.3%" and display(None, "percent") == "n/a"
    assert display(D("1275"), "money") == "$1,275.00" and display(1234, "count") == "1,234"


def test_settings_refuse_windows_out_of_order() -> None:
    with pytest.raises(ValidationError):
        ReportSettings(due_within=(14, 7))
    with pytest.raises(ValidationError):
        ReportSettings(min_count=0)


def test_a_sent_appeal_is_judged_by_the_payers_latest_decision(tmp_path: Path) -> None:
    from agent.application.intake import StoreIntake
    from tests.remits import claim, line, remit, write

    store = SqliteStore(tmp_path / "appeals.db")
    try:
        jan = write(tmp_path, "jan.835", remit([claim("P1", line(
            "99213", "150.00", "0", ("CO", "50", "150.00")))], produced="20260105"))
        list(StoreIntake(store, [jan]))
        (record,) = store.get_denials(store.list_denial_ids())
        letter = LetterRecord.model_validate({
            "letter_id": "lt_p1", "group_id": "grp", "claim_id": "P1",
            "denial_ids": [record.denial.denial_id], "status": "sent", "markdown": "x.md",
            "content_hash": "sha256:x", "sent_on": date(2026, 2, 1), "sent_via": "portal"})
        store.save_letter(letter)
        store.save_denials([record.model_copy(update={"letter_id": "lt_p1"})])
        upheld = write(tmp_path, "mar.835", remit([claim("P1", line(
            "99213", "150.00", "0", ("CO", "50", "150.00")))], produced="20260310",
            trace="EFT2"))
        paid = write(tmp_path, "apr.835", remit([claim("P1", line(
            "99213", "150.00", "110.00", ("CO", "45", "40.00")))], produced="20260402",
            trace="EFT3"))
        list(StoreIntake(store, [paid, upheld]))  # given out of order
        results = compute_kpis(store, AS_OF).overturns.total
    finally:
        store.close()
    assert (results.sent, results.overturned, results.upheld) == (1, 1, 0)
    assert results.recovered == D("110.00")
