"""The store's side of the KPIs: grouped totals over narrow rows, in SQL (docs/kpis.md).

The KPIs (agent/analytics) never load the denials' records. They ask the store three
things, each one query:

- :data:`DenialTotal` rows: the denials of a :data:`DenialScope`, grouped by some
  :data:`DenialDimension` (payer, main reason, playbook, the outcome of a sent appeal...),
  with how many, the dollars denied and the dollars recovered. The worklist's narrow
  columns (schema v7: triage category, root cause, preventability, main reason, billed
  code, date of service) are grouped as they are; a denial's letter and its current
  outcome (the latest decision) are joined in.
- :class:`ClaimTotal` rows: per payer, the claims read from 835s and what the denial rates
  count of them (claims adjudicated, denied, billed and denied dollars).
- :class:`ReviewEvent` rows: the audit trail's drafted, edited, approved and rejected
  rows, for the auditors' throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agent.denials.from_835 import DenialRules

_RULES = DenialRules()


def states_denial(claim_status: str | None, labels: Sequence[str]) -> bool:
    """Whether a remittance's line (or claim) denies something, as the KPIs count denials.

    The claim was denied as a whole (CLP02 4), or it states no adjustment at all, or one
    of its adjustments (``CO-50`` labels, the line's and the claim's) is neither a
    contractual reduction nor patient cost-sharing. A $0 line adjusted only PR-1 and
    CO-45 is the plan paying as it pays: the reader keeps it as a denial record (triage
    calls it patient responsibility), the KPIs do not count it. docs/kpis.md.
    """
    return claim_status == "4" or not labels or not all(_RULES.is_expected_label(x)
                                                        for x in labels)

DenialDimension = Literal["payer", "reason", "procedure", "category", "preventable",
                          "root_cause", "playbook", "action", "outcome", "appeal_result",
                          "age_from", "deadline"]
"""What denial totals can be grouped by. The values of each, as text (None: not known):

- ``payer``: the payer's name (its id when the input gave none), grouped by payer id
  (else name) in any case;
- ``reason``: the main denial reason, ``CO-50``; ``procedure``: the code as billed,
  without modifiers; ``playbook``: its id;
- ``category`` (``clinical``, ``administrative``), ``root_cause``, ``action``: the
  triage's; ``preventable``: ``yes`` or ``no``;
- ``outcome``: the current outcome, ``open`` when no later 835 answered;
- ``appeal_result``: for a sent letter, the current outcome when the payer decided on or
  after the day the letter was sent (``overturned``, ``partial``, ``upheld``), else
  ``awaiting`` (no decision since; a letter marked sent without a date never counts as
  answered);
- ``age_from``: the date of service, else the remittance date (ISO);
- ``deadline``: the appeal deadline (ISO).
"""

DenialScope = Literal["denials", "open", "appealable", "sent_appeals", "preventable"]
"""Which denials are totalled. Every scope counts only **denials** as the KPIs mean them
(:func:`states_denial`, the worklist's ``is_denial``): not the $0 lines that were only
patient cost-sharing or contractual reductions, which the payer did not deny.

- ``denials``: all of them;
- ``open``: no later 835 answered them and the practice has not written them off;
- ``appealable``: open, to be appealed (``appeal``) or still to be decided
  (``needs_review``), with an appeal deadline, and no letter sent;
- ``sent_appeals``: their letter was marked sent;
- ``preventable``: triage found them preventable.
"""


@dataclass(frozen=True, slots=True)
class DenialTotal:
    """The denials of one group: how many, the dollars at stake and the dollars recovered."""

    key: tuple[str | None, ...]
    """The group's value for each dimension asked, in the order asked."""
    denials: int
    denied_cents: int
    recovered_cents: int
    """What the current outcomes recovered (0 for those still open); counted only when
    the totals are grouped by ``outcome`` or ``appeal_result`` (else 0)."""


@dataclass(frozen=True, slots=True)
class ClaimTotal:
    """A payer's claims read from 835s, and what the denial rates count of them."""

    payer: str
    """The payer's name (its id when the 835 gave none)."""
    claims_read: int
    """Every claim payment kept (reads that did not finish are not)."""
    reversals: int
    """CLP02 22: they take back an earlier decision."""
    corrections: int
    """Claims that follow a reversal in its file and restate the reversed claim."""
    reprocessed: int
    """Other claims that answer an earlier denial (their lines are its outcome)."""
    adjudicated: int
    """The rest: claims decided for the first time, the denial rates' denominator."""
    denied: int
    """Of those, claims with a denial (agent.store.claims.denied_cents)."""
    billed_cents: int
    """What the adjudicated claims charged."""
    denied_cents: int
    """What their remittances denied."""


@dataclass(frozen=True, slots=True)
class ReviewEvent:
    """One drafted, edited, approved or rejected row of the audit trail."""

    letter_id: str
    action: Literal["drafted", "edited", "approved", "rejected"]
    actor: str
    at: datetime


COUNTED = "w.is_denial = 1"
"""The denials the KPIs count (see :data:`DenialScope`)."""
_NOT_ANSWERED = ("NOT EXISTS (SELECT 1 FROM appeal_outcomes a "
                 "WHERE a.denial_id = w.denial_id)")
_SENT_ON = "json_extract(l.doc, '$.sent_on')"

_APPEAL_RESULT = (f"CASE WHEN coalesce(l.status, '') != 'sent' THEN NULL WHEN {_SENT_ON} IS NOT "
                  f"NULL AND o.decided_on >= {_SENT_ON} THEN o.outcome ELSE 'awaiting' END")

_MORE_CURRENT = (
    "(coalesce(p.decided_on, ''), p.recorded_at) > (coalesce(o.decided_on, ''), "
    "o.recorded_at) OR ((coalesce(p.decided_on, ''), p.recorded_at) = "
    "(coalesce(o.decided_on, ''), o.recorded_at) AND (p.claim_key, p.line) < "
    "(o.claim_key, o.line))")
CURRENT_OUTCOME = (
    "LEFT JOIN appeal_outcomes o ON o.denial_id = w.denial_id AND NOT EXISTS (SELECT 1 FROM "
    f"appeal_outcomes p WHERE p.denial_id = o.denial_id AND ({_MORE_CURRENT}))")
"""Each denial's current outcome (``o``): the one no other of the denial's outcomes comes
before in ``Store.current_outcomes``' order (latest decision, then latest recorded), found
through the table's key, never by sorting it."""
_LETTER = "LEFT JOIN appeal_letters l ON l.id = w.letter_id"

_SCOPES: dict[DenialScope, str] = {
    "denials": COUNTED,
    "open": f"{COUNTED} AND {_NOT_ANSWERED} AND coalesce(w.action, '') != 'write_off'",
    "appealable": (f"{COUNTED} AND {_NOT_ANSWERED} AND w.action IN ('appeal', 'needs_review') "
                   "AND w.deadline IS NOT NULL AND coalesce(l.status, '') != 'sent'"),
    "sent_appeals": f"{COUNTED} AND l.status = 'sent'",
    "preventable": f"{COUNTED} AND w.preventable = 1",
}
_SCOPES_WITH_LETTERS = frozenset({"appealable", "sent_appeals"})

_DIMENSIONS: dict[DenialDimension, tuple[str, str]] = {
    "payer": ("coalesce(w.payer_id_key, w.payer_name_key)",
              "min(coalesce(w.payer_name, w.payer_id))"),
    "reason": ("w.reason_code", "w.reason_code"),
    "procedure": ("w.billed_code", "w.billed_code"),
    "category": ("w.category", "w.category"),
    "preventable": ("w.preventable",
                    "CASE w.preventable WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END"),
    "root_cause": ("w.root_cause", "w.root_cause"),
    "playbook": ("w.playbook_id", "w.playbook_id"),
    "action": ("w.action", "w.action"),
    "outcome": ("coalesce(o.outcome, 'open')", "coalesce(o.outcome, 'open')"),
    "appeal_result": (_APPEAL_RESULT, _APPEAL_RESULT),
    "age_from": ("coalesce(w.service_date, w.remitted)", "coalesce(w.service_date, w.remitted)"),
    "deadline": ("w.deadline", "w.deadline"),
}
"""Each dimension: what it groups by, and what it shows (SQL over the query below)."""
_OUTCOME_DIMENSIONS = frozenset({"outcome", "appeal_result"})


def denial_totals_query(group_by: Sequence[DenialDimension], scope: DenialScope) -> str:
    """The SQL of ``Store.denial_totals``: one row per group, its key values first.

    Then the count, the denied cents and the recovered cents. Without ``group_by``, one
    row: the scope's totals. A denial's letter and current outcome are joined only when
    the scope or a dimension needs them (the recovered cents, then, are those of the
    outcomes: 0 unless grouped by ``outcome`` or ``appeal_result``).
    """
    groups = [_DIMENSIONS[d][0] for d in group_by]
    shown = [_DIMENSIONS[d][1] for d in group_by]
    outcomes = bool(_OUTCOME_DIMENSIONS.intersection(group_by))
    letters = scope in _SCOPES_WITH_LETTERS or "appeal_result" in group_by
    joins = (f" {_LETTER}" if letters else "") + (f" {CURRENT_OUTCOME}" if outcomes else "")
    recovered = "coalesce(sum(o.recovered_cents), 0)" if outcomes else "0"
    grouping = f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)}" if groups else ""
    return (f"SELECT {''.join(s + ', ' for s in shown)}count(*), "
            f"coalesce(sum(w.amount_cents), 0), {recovered} FROM appeal_worklist w{joins} "
            f"WHERE {_SCOPES[scope]}{grouping}")


CLAIM_TOTALS = (
    "SELECT coalesce(payer_key, ''), min(coalesce(payer_name, payer_id, '')), "
    "CASE WHEN status = '22' THEN 'reversals' WHEN corrects IS NOT NULL THEN 'corrections' "
    "WHEN claim_key IN (SELECT claim_key FROM appeal_outcomes) THEN 'reprocessed' "
    "ELSE 'adjudicated' END AS kind, count(*), count(denied_cents), sum(charge_cents), "
    "coalesce(sum(denied_cents), 0) FROM appeal_claims WHERE read_token NOT IN "
    "(SELECT token FROM appeal_claim_reads) GROUP BY 1, kind ORDER BY 2, 1, kind")
"""The kept claims by payer and kind (reversals, corrections, claims that answer an earlier
denial, the adjudicated rest): how many, how many denied, billed and denied cents. The
store folds them into one :class:`ClaimTotal` per payer."""

REVIEW_EVENTS = (
    "SELECT letter_id, json_extract(doc, '$.action') AS action, json_extract(doc, '$.actor'), "
    "json_extract(doc, '$.at') FROM appeal_audit WHERE letter_id IS NOT NULL AND "
    "json_extract(doc, '$.action') IN ('drafted', 'edited', 'approved', 'rejected') "
    "ORDER BY seq")
"""Every :class:`ReviewEvent`, oldest first."""
