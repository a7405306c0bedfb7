"""The worklist: every denial as one narrow row, filtered, sorted and paged by the store.

The web workbench lists 10,000 denials and more; it never loads their records to do so.
Each time a denial's record is saved the store also writes the few columns an auditor
filters and sorts by (:func:`worklist_columns`), and a page is one query with the filters,
the order and ``LIMIT``/``OFFSET`` in it (:meth:`agent.store.protocols.Store.worklist`).
A letter's status is read from the letters themselves, so it is current after a review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from agent.denials.from_835 import DenialRules
from agent.store.analytics import states_denial
from agent.store.records import DenialRecord
from agent.triage.rules import main_reason

WorklistSort = Literal["deadline", "amount", "payer", "action", "playbook", "procedure",
                       "claim", "status", "queue"]
"""The columns a worklist can be sorted by."""

SORTS: tuple[WorklistSort, ...] = ("deadline", "amount", "payer", "action", "playbook",
                                   "procedure", "claim", "status", "queue")

NO_LETTER = "none"
"""``letter_status`` for the denials that have no letter."""

DeadlineFilter = Literal["past", "open"]
"""``past``: the appeal deadline is before today; ``open``: today or later (or none)."""


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    """Which denials a worklist page shows, in what order; every filter set must match."""

    q: str | None = None
    """A payer claim control number or claim id, matched whole, in any case."""
    action: str | None = None
    """The triage action (``appeal``, ``needs_review``...)."""
    letter_status: str | None = None
    """A letter status, or :data:`NO_LETTER`."""
    payer: str | None = None
    """A payer id, or a part of the payer's name, in any case."""
    playbook: str | None = None
    queue: str | None = None
    """A work queue id (``grp_...``)."""
    deadline: DeadlineFilter | None = None
    today: date | None = None
    """The day ``deadline`` counts from (needed with it)."""
    sort: WorklistSort = "deadline"
    descending: bool = False
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class WorklistItem:
    """One denial as the worklist shows it."""

    denial_id: str
    claim_id: str
    payer_claim_number: str | None
    action: str | None
    """None while triage has not run."""
    reason: str | None
    """Triage's one line (or why the denial failed)."""
    codes: str
    """The denial's reason codes, e.g. ``CO-50 PR-1``."""
    missing: tuple[str, ...]
    """The facts a playbook needs that the chart did not give."""
    payer_id: str | None
    payer_name: str | None
    playbook_id: str | None
    procedure: str | None
    amount: Decimal
    """The dollars at stake (the denied amount)."""
    deadline: date | None
    group_id: str | None
    letter_id: str | None
    letter_status: str | None


@dataclass(frozen=True, slots=True)
class WorklistPage:
    """One page of the worklist and how many denials match in all."""

    items: list[WorklistItem]
    total: int


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A work queue as the grouped worklist shows it (over the denials that match)."""

    group_id: str | None
    payer_id: str | None
    payer_name: str | None
    playbook_id: str | None
    procedure: str | None
    codes: str
    denials: int
    letters: int
    pending: int
    """Letters waiting for review."""
    amount: Decimal
    deadline: date | None
    """The earliest appeal deadline."""


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of work queues and how many match in all."""

    queues: list[QueueSummary]
    total: int


@dataclass(frozen=True, slots=True)
class WorklistFacets:
    """The values the worklist's filters offer: what the stored denials have."""

    actions: list[tuple[str, int]] = field(default_factory=list)
    payers: list[tuple[str, str, int]] = field(default_factory=list)
    """(payer id or name, name to show, denials)."""
    playbooks: list[tuple[str, int]] = field(default_factory=list)
    letter_statuses: list[tuple[str, int]] = field(default_factory=list)


def _key(value: str | None) -> str | None:
    return value.strip().casefold() if value else None


def worklist_columns(record: DenialRecord) -> tuple[object, ...]:
    """The worklist row of a denial's record, in :data:`COLUMNS` order."""
    denial, triage = record.denial, record.triage
    procedure = denial.procedure.display if denial.procedure else None
    cents = int((denial.denied_amount * 100).to_integral_value())
    return (denial.denial_id, denial.claim_id, _key(denial.claim_id),
            denial.payer_claim_number, _key(denial.payer_claim_number),
            triage.action if triage else None,
            triage.reason if triage else record.error,
            " ".join(denial.reason_labels), json.dumps(record.missing_evidence),
            denial.payer.id, _key(denial.payer.id), denial.payer.name,
            _key(denial.payer.name), record.playbook_id, procedure,
            str(denial.denied_amount), cents,
            triage.appeal_deadline.isoformat() if triage and triage.appeal_deadline else None,
            record.group_id, record.letter_id,
            denial.remittance_date.isoformat() if denial.remittance_date else None,
            *analytics_columns(record))


_RULES = DenialRules()


def analytics_columns(record: DenialRecord) -> tuple[object, ...]:
    """A denial's :data:`V7_COLUMNS`: what the KPIs group and count by (agent/analytics).

    Whether the payer denied something (``is_denial``, 1 or 0:
    :func:`~agent.store.analytics.states_denial`); the triage's category, root cause and
    preventability (None until triaged); the main denial reason as GROUP-CARC (the
    largest adjustment that is neither a contractual reduction nor patient cost-sharing,
    line before claim level: the one triage classifies by; None when there is none); the
    procedure code as billed, without its modifiers (None for a claim-level denial); the
    date of service.
    """
    denial, triage = record.denial, record.triage
    reason = main_reason(denial, _RULES)
    return (1 if states_denial(denial.claim_status, denial.reason_labels) else 0,
            triage.category if triage else None, triage.root_cause if triage else None,
            (1 if triage.preventable else 0) if triage else None,
            reason.label if reason else None,
            denial.procedure.submitted_code if denial.procedure else None,
            denial.service_date.isoformat() if denial.service_date else None)


V4_COLUMNS = ("denial_id", "claim_id", "claim_key", "payer_claim_number", "pcn_key", "action",
              "reason", "codes", "missing", "payer_id", "payer_id_key", "payer_name",
              "payer_name_key", "playbook_id", "procedure", "amount", "amount_cents",
              "deadline", "group_id", "letter_id")
"""The columns :data:`SCHEMA` creates (schema v4)."""
V7_COLUMNS = (("is_denial", "INTEGER"), ("category", "TEXT"), ("root_cause", "TEXT"),
              ("preventable", "INTEGER"), ("reason_code", "TEXT"), ("billed_code", "TEXT"),
              ("service_date", "TEXT"))
"""The columns schema v7 added for the KPIs (:func:`analytics_columns`), with their types."""
COLUMNS = (*V4_COLUMNS, "remitted", *(name for name, _ in V7_COLUMNS))
"""The worklist table's columns, as :func:`worklist_columns` gives them: ``remitted`` (the
denial's remittance date, which later 835s are compared with) came with schema v6, the
columns the KPIs count by (:data:`V7_COLUMNS`) with v7."""

SCHEMA = [
    f"""CREATE TABLE appeal_worklist ({V4_COLUMNS[0]} TEXT PRIMARY KEY, claim_id TEXT NOT NULL,
        claim_key TEXT NOT NULL, payer_claim_number TEXT, pcn_key TEXT, action TEXT,
        reason TEXT, codes TEXT NOT NULL, missing TEXT NOT NULL, payer_id TEXT,
        payer_id_key TEXT, payer_name TEXT, payer_name_key TEXT, playbook_id TEXT,
        procedure TEXT, amount TEXT NOT NULL, amount_cents INTEGER NOT NULL, deadline TEXT,
        group_id TEXT, letter_id TEXT)""",
    "CREATE INDEX appeal_worklist_claim ON appeal_worklist (claim_key)",
    "CREATE INDEX appeal_worklist_pcn ON appeal_worklist (pcn_key)",
    "CREATE INDEX appeal_worklist_group ON appeal_worklist (group_id)",
    "CREATE INDEX appeal_worklist_deadline ON appeal_worklist (deadline, denial_id)",
    "CREATE INDEX appeal_worklist_letter ON appeal_worklist (letter_id)",
]
"""The table (schema v4) and its indexes: the searches by claim number and the default
order are index look-ups; other orders sort the narrow rows, never the records."""

UPSERT = (f"INSERT OR REPLACE INTO appeal_worklist ({', '.join(COLUMNS)}) "
          f"VALUES ({', '.join('?' * len(COLUMNS))})")
V4_UPSERT = (f"INSERT OR REPLACE INTO appeal_worklist ({', '.join(V4_COLUMNS)}) "
             f"VALUES ({', '.join('?' * len(V4_COLUMNS))})")
"""What the schema v4 upgrade fills the table with (the columns it had then)."""
V6_COLUMN = "ALTER TABLE appeal_worklist ADD COLUMN remitted TEXT"
V6_FILL = ("UPDATE appeal_worklist SET remitted = (SELECT json_extract(doc, "
           "'$.denial.remittance_date') FROM appeal_denials WHERE id = appeal_worklist.denial_id)")
"""The schema v6 upgrade: the remittance date of every denial already listed."""
V7_FILL = (f"UPDATE appeal_worklist SET {', '.join(f'{name} = ?' for name, _ in V7_COLUMNS)} "
           "WHERE denial_id = ?")
"""The schema v7 upgrade: a listed denial's :func:`analytics_columns`, then its id."""


def item_from_row(row: tuple[object, ...]) -> WorklistItem:
    """A worklist item from a row of :data:`SELECT_ITEMS`."""
    (denial_id, claim_id, pcn, action, reason, codes, missing, payer_id, payer_name,
     playbook_id, procedure, amount, deadline, group_id, letter_id, status) = row
    return WorklistItem(
        denial_id=str(denial_id), claim_id=str(claim_id), payer_claim_number=_opt(pcn),
        action=_opt(action), reason=_opt(reason), codes=str(codes or ""),
        missing=tuple(json.loads(str(missing or "[]"))), payer_id=_opt(payer_id),
        payer_name=_opt(payer_name), playbook_id=_opt(playbook_id),
        procedure=_opt(procedure), amount=Decimal(str(amount)),
        deadline=date.fromisoformat(str(deadline)) if deadline else None,
        group_id=_opt(group_id), letter_id=_opt(letter_id), letter_status=_opt(status))


SELECT_ITEMS = ("SELECT w.denial_id, w.claim_id, w.payer_claim_number, w.action, w.reason, "
                "w.codes, w.missing, w.payer_id, w.payer_name, w.playbook_id, w.procedure, "
                "w.amount, w.deadline, w.group_id, w.letter_id, l.status "
                "FROM appeal_worklist w LEFT JOIN appeal_letters l ON l.id = w.letter_id")

_ORDER: dict[str, str] = {
    "deadline": "w.deadline", "amount": "w.amount_cents",
    "payer": "coalesce(w.payer_name_key, w.payer_id_key)", "action": "w.action",
    "playbook": "w.playbook_id", "procedure": "w.procedure", "claim": "w.claim_key",
    "status": "l.status", "queue": "w.group_id"}


def where(query: WorklistQuery) -> tuple[str, list[object]]:
    """The SQL filter of ``query`` over ``appeal_worklist w`` joined to its letter ``l``."""
    clauses: list[str] = []
    params: list[object] = []
    q = _key(query.q)
    if q:
        clauses.append("(w.claim_key = ? OR w.pcn_key = ?)")
        params += [q, q]
    for column, value in (("w.action", query.action), ("w.playbook_id", query.playbook),
                          ("w.group_id", query.queue)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.letter_status == NO_LETTER:
        clauses.append("l.status IS NULL")
    elif query.letter_status:
        clauses.append("l.status = ?")
        params.append(query.letter_status)
    payer = _key(query.payer)
    if payer:
        clauses.append("(w.payer_id_key = ? OR instr(w.payer_name_key, ?) > 0)")
        params += [payer, payer]
    if query.deadline is not None and query.today is not None:
        today = query.today.isoformat()
        clauses.append("w.deadline < ?" if query.deadline == "past"
                       else "(w.deadline IS NULL OR w.deadline >= ?)")
        params.append(today)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def order_by(query: WorklistQuery) -> str:
    """The SQL order of ``query``: its column (empty values last), then the denial id."""
    column = _ORDER[query.sort]
    direction = "DESC" if query.descending else "ASC"
    return f" ORDER BY ({column} IS NULL), {column} {direction}, w.denial_id {direction}"


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
