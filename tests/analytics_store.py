"""A small practice's store with every kind of claim the KPIs count, built from real 835s.

Two payers, January remittances and March ones that answer some of January's denials, a
reversal with its correction, a $0 line that is only the deductible, letters sent before
and after the payer decided, and audit rows at known times. tests/test_analytics.py
asserts the KPIs computed by hand from this list (docs/kpis.md):

ACME HEALTH PLAN, January 5 (A) and March 10 (answers A1, A2, A5):

=====  ==================================  ===========================================
claim  January                             March
=====  ==================================  ===========================================
A1     99213 $150 CO-197 (d1); 99214 paid  99213 paid $120, CO-45: overturned, $120
A2     72148 $1,000 CO-197 (d2)            72148 paid 0, CO-197: upheld
A3     97110 $100 paid 0, PR-1 only        (deductible: no denial)
A4     99213 $150 paid $120, CO-45         (clean)
A5     29877 $2,000 CO-97 (d3)             paid $1,500, CO-45, CO-97 $200: partial, $1,500
A6     99215 $300 paid $200, CO-50 $50 (d4)
=====  ==================================  ===========================================

BETA MUTUAL, January 6 and March 20:

=====  ==================================  ===========================================
B1     99213 $150 CO-27 (d5)               99213 paid $150: overturned, $150
B2     99213 $150 paid in full
B9     a reversal (CLP02 22) and its correction (neither counted)
B3                                         99214 $200 CO-197 (d6), new
B4                                         90837 $250 CO-11 (d7), new
B5                                         97110 $80 CO-27 (d8), new
=====  ==================================  ===========================================

Letters: d1 sent 2026-02-01, d2 sent 2026-02-20, d3 marked sent after the March 835 was
read but dated 2026-02-15, d5 sent 2026-03-25 (after BETA's decision of March 20), d6
pending. The report date is 2026-04-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from agent.application.intake import StoreIntake
from agent.store.records import AuditEntry, DenialRecord, LetterRecord
from agent.store.sqlite import SqliteStore
from agent.triage.model import Action, Category, RootCause, Triage
from tests.remits import claim, line, remit, write

AS_OF = date(2026, 4, 1)
ACME, BETA = "ACME HEALTH PLAN", "BETA MUTUAL"


def _acme(folder: Path) -> tuple[str, str]:
    january = remit([
        claim("A1", line("99213", "150.00", "0", ("CO", "197", "150.00"), day="20251201"),
              line("99214", "200.00", "160.00", ("CO", "45", "40.00"), day="20251201")),
        claim("A2", line("72148", "1000.00", "0", ("CO", "197", "1000.00"), day="20251202")),
        claim("A3", line("97110", "100.00", "0", ("PR", "1", "100.00"), day="20251203")),
        claim("A4", line("99213", "150.00", "120.00", ("CO", "45", "30.00"), day="20251204")),
        claim("A5", line("29877", "2000.00", "0", ("CO", "97", "2000.00"), day="20251205")),
        claim("A6", line("99215", "300.00", "200.00", ("CO", "45", "50.00"),
                         ("CO", "50", "50.00"), day="20251220")),
    ], produced="20260105", trace="EFTA1")
    march = remit([
        claim("A1", line("99213", "150.00", "120.00", ("CO", "45", "30.00"), day="20251201")),
        claim("A2", line("72148", "1000.00", "0", ("CO", "197", "1000.00"), day="20251202")),
        claim("A5", line("29877", "2000.00", "1500.00", ("CO", "45", "300.00"),
                         ("CO", "97", "200.00"), day="20251205")),
    ], produced="20260310", trace="EFTA2")
    return (write(folder, "acme-jan.835", january), write(folder, "acme-mar.835", march))


def _beta(folder: Path) -> tuple[str, str]:
    beta = {"payer": BETA, "payer_id": "BETA1"}
    january = remit([
        claim("B1", line("99213", "150.00", "0", ("CO", "27", "150.00"), day="20251101")),
        claim("B2", line("99213", "150.00", "150.00", day="20251210")),
        claim("B9", line("99213", "-150.00", "-120.00", ("CO", "45", "-30.00"),
                         day="20251115"), status="22"),
        claim("B9", line("99213", "150.00", "120.00", ("CO", "45", "30.00"), day="20251115")),
    ], produced="20260106", trace="EFTB1", **beta)
    march = remit([
        claim("B1", line("99213", "150.00", "150.00", day="20251101")),
        claim("B3", line("99214", "200.00", "0", ("CO", "197", "200.00"), day="20260310")),
        claim("B4", line("90837", "250.00", "0", ("CO", "11", "250.00"), day="20260215")),
        claim("B5", line("97110", "80.00", "0", ("CO", "27", "80.00"), day="20260301")),
    ], produced="20260320", trace="EFTB2", **beta)
    return (write(folder, "beta-jan.835", january), write(folder, "beta-mar.835", march))


@dataclass(frozen=True)
class Plan:
    """How a denial is triaged and which playbook took it."""

    action: Action
    category: Category
    root_cause: RootCause
    preventable: bool
    deadline: date | None
    playbook: str | None = None


PLANS: dict[tuple[str, str], Plan] = {
    ("A1", "99213"): Plan("appeal", "administrative", "authorization", True,
                          date(2026, 6, 1), "prior_authorization"),
    ("A2", "72148"): Plan("appeal", "administrative", "authorization", True,
                          date(2026, 6, 1), "prior_authorization"),
    ("A3", "97110"): Plan("patient_responsibility", "administrative", "payer_policy", False,
                          None),
    ("A5", "29877"): Plan("appeal", "clinical", "coding", True, date(2026, 6, 1),
                          "distinct_procedure"),
    ("A6", "99215"): Plan("needs_review", "clinical", "documentation", False,
                          date(2026, 4, 8)),
    ("B1", "99213"): Plan("appeal", "administrative", "registration_eligibility", True,
                          date(2026, 5, 1)),
    ("B3", "99214"): Plan("appeal", "administrative", "authorization", True,
                          date(2026, 4, 15)),
    ("B4", "90837"): Plan("appeal", "clinical", "coding", True, date(2026, 3, 30)),
    ("B5", "97110"): Plan("write_off", "administrative", "registration_eligibility", True,
                          None),
}
"""Each denial by claim and procedure (d1 is A1's 99213...)."""

LETTERS: dict[str, tuple[str, date | None]] = {
    "A1": ("sent", date(2026, 2, 1)), "A2": ("sent", date(2026, 2, 20)),
    "A5": ("approved", None), "B1": ("sent", date(2026, 3, 25)), "B3": ("pending_review", None),
}
"""Each letter by claim: its status and the day it was sent, before the March 835s."""


def _triage(plan: Plan) -> Triage:
    return Triage(action=plan.action, category=plan.category, preventable=plan.preventable,
                  dollar_bucket="low", root_cause=plan.root_cause,
                  appeal_deadline=plan.deadline, reason="test plan", rule="test", final=True)


def _key(record: DenialRecord) -> tuple[str, str]:
    procedure = record.denial.procedure
    assert procedure is not None
    return record.denial.claim_id, procedure.submitted_code


def denials(store: SqliteStore) -> dict[tuple[str, str], DenialRecord]:
    """The stored denials by claim id and procedure code."""
    return {_key(r): r for r in store.get_denials(store.list_denial_ids())}


def _letter(record: DenialRecord, status: str, sent_on: date | None) -> LetterRecord:
    claim_id = record.denial.claim_id
    return LetterRecord.model_validate({
        "letter_id": f"lt_{claim_id.lower()}", "group_id": "grp_test", "claim_id": claim_id,
        "denial_ids": [record.denial.denial_id], "status": status,
        "markdown": f"letters/grp_test/lt_{claim_id.lower()}.md", "content_hash": "sha256:x",
        "sent_on": sent_on, "sent_via": "fax" if sent_on else None})


def _at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


REVIEWS = [
    ("lt_a1", "drafted", "template", _at("2026-03-30", 9)),
    ("lt_a2", "drafted", "template", _at("2026-03-30", 10)),
    ("lt_a1", "approved", "ann", _at("2026-03-30", 15)),
    ("lt_a5", "drafted", "template", _at("2026-03-31", 8)),
    ("lt_b1", "drafted", "template", _at("2026-03-31", 9)),
    ("lt_b3", "drafted", "llm", _at("2026-03-31", 10)),
    ("lt_a2", "edited", "ann", _at("2026-03-31", 9)),
    ("lt_a2", "approved", "ann", _at("2026-03-31", 10)),
    ("lt_a5", "approved", "bob", _at("2026-04-01", 8)),
    ("lt_b1", "rejected", "bob", _at("2026-04-01", 12)),
    ("lt_b3", "approved", "system", _at("2026-04-01", 13)),
    ("lt_old", "approved", "ann", _at("2026-02-15", 9)),
    ("lt_late", "approved", "bob", _at("2026-04-02", 9)),
]
"""The audit rows of the reviews: in the 30 days to 2026-04-01, ann approved lt_a1 6 h
after its draft, edited and approved lt_a2 24 h after; bob approved lt_a5 24 h after and
rejected lt_b1; the system user's approval, one in February and one after the report date
are not counted."""


def _work(store: SqliteStore) -> None:
    """Triage the stored denials not triaged yet by :data:`PLANS`, with their letters."""
    for key, record in denials(store).items():
        plan = PLANS.get(key)
        if plan is None or record.triage is not None:
            continue
        update: dict[str, object] = {"triage": _triage(plan), "playbook_id": plan.playbook}
        if key[0] in LETTERS:
            letter = _letter(record, *LETTERS[key[0]])
            store.save_letter(letter)
            update["letter_id"] = letter.letter_id
        store.save_denials([record.model_copy(update=update)])


def build(folder: Path) -> SqliteStore:
    """The store described above (the caller closes it)."""
    store = SqliteStore(folder / "appeals.db")
    acme, beta = _acme(folder), _beta(folder)
    list(StoreIntake(store, [acme[0], beta[0]]))
    _work(store)
    list(StoreIntake(store, [acme[1], beta[1]]))
    _work(store)
    sent = store.get_letter("lt_a5")  # marked sent after the March 835, dated before it
    assert sent is not None
    store.save_letter(sent.model_copy(update={"status": "sent", "sent_on": date(2026, 2, 15),
                                              "sent_via": "mail"}))
    for letter_id, action, actor, at in REVIEWS:
        store.append_audit(AuditEntry.model_validate({
            "letter_id": letter_id, "actor": actor, "at": at, "action": action,
            "hash_before": None, "hash_after": None}))
    return store
