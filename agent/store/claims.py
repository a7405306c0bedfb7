"""The claims read from 835s and the outcomes of denials: tables, rows and the sink.

Every claim payment read (paid ones too) is one row of ``appeal_claims`` and each of its
service lines one row of ``appeal_claim_lines`` (schema v6), so that rates have their
denominators: claims and lines read per payer and month, dollars billed and paid, which
lines were denials. No patient name or member id is kept here: the patient control number
(the practice's claim id) links a claim to its denials. Amounts are integer cents.

A later 835's line that answers an earlier denial is one row of ``appeal_outcomes``
(agent/denials/outcomes.py): what the payer decided, the dollars recovered, its date, and
the denial's letter as it stood when the outcome was recorded. Reading the same remittance
again writes nothing new: claims, their lines and outcomes are kept as first read.

A file's rows are kept only once it has read to its end (:class:`SqliteClaimSink`): a file
that fails leaves none.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal

from agent.denials.claims import ClaimRead
from agent.denials.from_835 import DenialRules
from agent.denials.outcomes import WHOLE_CLAIM, LineOutcome
from agent.store.analytics import states_denial
from agent.store.records import ClaimLineRecord, ClaimRecord, OutcomeRecord
from agent.x12.models import Adjustment, ClaimPayment, Remark

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS appeal_claims (
        id INTEGER PRIMARY KEY, claim_key TEXT NOT NULL UNIQUE, payer_id TEXT,
        payer_name TEXT, payer_key TEXT, claim_id TEXT NOT NULL, claim_id_key TEXT,
        payer_claim_number TEXT, pcn_key TEXT,
        status TEXT NOT NULL, filing_indicator TEXT, frequency TEXT, corrects TEXT,
        charge_cents INTEGER NOT NULL, paid_cents INTEGER NOT NULL, patient_cents INTEGER,
        service_date TEXT, received_date TEXT, payment_date TEXT, production_date TEXT,
        adjustments TEXT NOT NULL, remarks TEXT NOT NULL, rendering_npi TEXT,
        lines INTEGER NOT NULL, source TEXT NOT NULL, segment INTEGER NOT NULL,
        transaction_control_number TEXT, trace_number TEXT, read_at TEXT NOT NULL,
        read_token TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS appeal_claims_produced ON appeal_claims (production_date)",
    """CREATE TABLE IF NOT EXISTS appeal_claim_lines (
        claim_id INTEGER NOT NULL, line INTEGER NOT NULL, segment INTEGER NOT NULL,
        procedure TEXT NOT NULL, billed_procedure TEXT, service_date TEXT, units TEXT,
        charge_cents INTEGER NOT NULL, paid_cents INTEGER NOT NULL, allowed_cents INTEGER,
        adjustments TEXT NOT NULL, remarks TEXT NOT NULL, line_control_number TEXT,
        denied_cents INTEGER, denial_id TEXT, outcome_of TEXT,
        PRIMARY KEY (claim_id, line)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS appeal_claim_reads (token TEXT PRIMARY KEY, source TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS appeal_outcomes (
        denial_id TEXT NOT NULL, claim_key TEXT NOT NULL, line INTEGER NOT NULL,
        outcome TEXT NOT NULL, recovered_cents INTEGER NOT NULL, decided_on TEXT,
        recorded_at TEXT NOT NULL, letter_id TEXT, letter_sent_on TEXT, doc TEXT NOT NULL,
        PRIMARY KEY (denial_id, claim_key, line))""",
    "CREATE INDEX IF NOT EXISTS appeal_outcomes_decided ON appeal_outcomes (decided_on)",
]
"""The tables (schema v6). ``appeal_claim_reads`` lists the reads not finished yet (their
claims are not counted); the claims are indexed by production date, for the rates. A
line belongs to its claim by the claim's row id (``claim_id``), given in the order claims
are kept, so that lines are appended rather than scattered by a hash key. Few indexes:
every claim read is a row, and reading must stay fast."""

CLAIM_COLUMNS = (
    "claim_key", "payer_id", "payer_name", "payer_key", "claim_id", "claim_id_key",
    "payer_claim_number", "pcn_key", "status", "filing_indicator", "frequency", "corrects",
    "charge_cents", "paid_cents", "patient_cents", "service_date", "received_date",
    "payment_date", "production_date", "adjustments", "remarks", "rendering_npi", "lines",
    "source", "segment", "transaction_control_number", "trace_number", "read_at")
LINE_COLUMNS = (
    "claim_id", "line", "segment", "procedure", "billed_procedure", "service_date", "units",
    "charge_cents", "paid_cents", "allowed_cents", "adjustments", "remarks",
    "line_control_number", "denied_cents", "denial_id", "outcome_of")

INSERT_CLAIM = (f"INSERT INTO appeal_claims (id, {', '.join(CLAIM_COLUMNS)}, denied_cents, "
                f"read_token) VALUES ({', '.join('?' * (len(CLAIM_COLUMNS) + 3))})")
INSERT_LINE = (f"INSERT INTO appeal_claim_lines ({', '.join(LINE_COLUMNS)}) VALUES "
               f"({', '.join('?' * len(LINE_COLUMNS))})")
"""Only claims not kept yet are written (with their lines): a claim read again is kept as
first read."""
INSERT_OUTCOME = ("INSERT INTO appeal_outcomes (denial_id, claim_key, line, outcome, "
                  "recovered_cents, decided_on, recorded_at, letter_id, letter_sent_on, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (denial_id, claim_key, line) DO NOTHING")
"""An outcome read again is kept as first recorded."""

CURRENT_FIRST = "ORDER BY (decided_on IS NULL), decided_on DESC, recorded_at DESC, claim_key, line"
"""The order of a denial's outcomes, its current one (the latest decision) first."""

CHECK_EVERY = 10
"""Claims looked up at once, to tell those kept already (see :class:`SqliteClaimSink`)."""
FLUSH_EVERY = 1_000
"""Claim rows written per transaction."""


def _key(value: str | None) -> str | None:
    return value.strip().casefold() or None if value else None


def _cents(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def adjustments_text(adjustments: Sequence[Adjustment]) -> str:
    """``CO-45:12.50;PR-2:10.00``: as a worklist writes them (docs/queue-format.md)."""
    # str(), not an f-string: formatting a Decimal costs ten times as much.
    return ";".join([a.group + "-" + a.reason + ":" + str(a.amount) for a in adjustments])


def _remarks(remarks: Sequence[Remark]) -> str:
    return ";".join(r.code for r in remarks)


V7_COLUMN = "ALTER TABLE appeal_claims ADD COLUMN denied_cents INTEGER"
"""Schema v7: the dollars the payer denied on each claim (:func:`denied_cents`)."""

_RULES = DenialRules()


def denied_cents(status: str, claim_labels: Sequence[str],
                 denials: Iterable[tuple[int, Sequence[str]]]) -> int | None:
    """The cents a claim's remittance denied, for the denial rates (docs/kpis.md).

    The sum of the denied amounts of the claim's denials (its lines that were read as
    denials, or the claim itself when it has no lines) that state a denial
    (:func:`~agent.store.analytics.states_denial` of the line's and the claim's
    adjustments): a $0 line whose only adjustments are the deductible and CO-45 is the
    plan paying as it pays, no denial. None when nothing was denied.

    Args:
        status: CLP02.
        claim_labels: the claim-level adjustments, as ``CO-45`` labels.
        denials: each denial of the claim, as its denied cents and its line's adjustment
            labels (none for a claim-level denial).
    """
    total: int | None = None
    for cents, labels in denials:
        if states_denial(status, [*labels, *claim_labels]):
            total = (total or 0) + cents
    return total


def _read_denied_cents(read: ClaimRead) -> int | None:
    """:func:`denied_cents` of a claim as read (its denials are in ``read.denials``)."""
    if not read.denials:
        return None
    claim = read.claim
    denials = []
    for index, (_, amount) in read.denials.items():
        line = claim.lines[index] if index != WHOLE_CLAIM else None
        labels = [a.label for a in line.adjustments] if line is not None else []
        denials.append((_cents(amount) or 0, labels))
    return denied_cents(claim.status, [a.label for a in claim.adjustments], denials)


def claim_row(read: ClaimRead, read_at: str) -> tuple[object, ...]:
    """The ``appeal_claims`` row of a claim: :data:`CLAIM_COLUMNS`, then ``denied_cents``."""
    claim: ClaimPayment = read.claim
    remit = claim.remittance
    payer = remit.payer
    payer_id = payer.best_id
    provider = claim.service_provider
    npi = provider.identifier if provider is not None and provider.id_qualifier == "XX" \
        else None
    return (read.key, payer_id, payer.name, _key(payer_id or payer.name),
            claim.patient_control_number, _key(claim.patient_control_number),
            claim.payer_claim_control_number, _key(claim.payer_claim_control_number),
            claim.status, claim.filing_indicator, claim.frequency_code, read.corrects,
            _cents(claim.charge), _cents(claim.paid), _cents(claim.patient_responsibility),
            _day(claim.service_date), _day(claim.received_date), _day(remit.payment_date),
            _day(remit.remittance_date), adjustments_text(claim.adjustments),
            _remarks(claim.remarks), npi, len(claim.lines), remit.source,
            claim.segment_number, remit.transaction_control_number, remit.trace_number,
            read_at, _read_denied_cents(read))


def line_rows(read: ClaimRead) -> list[tuple[object, ...]]:
    """The ``appeal_claim_lines`` rows of a claim, without their first column.

    In :data:`LINE_COLUMNS` order after ``claim_id``, the claim's row id, which is known
    only when the claim is written.
    """
    claim, denials = read.claim, read.denials
    statement = claim.statement_from
    answers = read.outcome_of
    whole = answers.get(WHOLE_CLAIM)
    rows: list[tuple[object, ...]] = []
    for index, line in enumerate(claim.lines):
        denial = denials.get(index)
        original = line.original_procedure
        units = line.units_paid if line.units_paid is not None else line.original_units
        day = line.service_date or line.service_period_start or statement
        rows.append((
            index + 1, line.segment_number, line.procedure.display,
            original.display if original is not None else None,
            day.isoformat() if day is not None else None,
            str(units) if units is not None else None, _cents(line.charge), _cents(line.paid),
            _cents(line.allowed_amount) if line.amounts else None,
            adjustments_text(line.adjustments),
            ";".join(r.code for r in line.remarks) if line.remarks else "",
            line.line_control_number,
            _cents(denial[1]) if denial else None, denial[0] if denial else None,
            answers.get(index, whole) if answers else None))
    return rows


def outcome_row(outcome: LineOutcome, recorded_at: datetime, letter_id: str | None,
                letter_status: str | None, sent_on: str | None) -> tuple[object, ...]:
    """The ``appeal_outcomes`` row of an outcome, with the denial's letter as it stands."""
    record = OutcomeRecord.model_validate({
        "outcome": outcome, "recorded_at": recorded_at, "letter_id": letter_id,
        "letter_status": letter_status, "letter_sent_on": sent_on})
    return (outcome.denial_id, outcome.claim_key, outcome.line, outcome.outcome,
            _cents(outcome.recovered_amount), _day(outcome.decided_on),
            recorded_at.isoformat(), letter_id, sent_on, record.model_dump_json())


_LETTER_OF = ("SELECT w.letter_id, l.status, json_extract(l.doc, '$.sent_on') "
              "FROM appeal_worklist w LEFT JOIN appeal_letters l ON l.id = w.letter_id "
              "WHERE w.denial_id = ?")


class SqliteClaimSink:
    """A :class:`~agent.denials.claims.ClaimSink` writing to the store.

    A file's rows are written as it is read, a batch per short transaction, under a read
    token that ``appeal_claim_reads`` lists while the read is not finished: the store's
    readers skip them. When the file has read to its end its token is struck from that
    list and its outcomes written (one transaction); otherwise its rows are deleted. So a
    long file never holds the database (reviewers keep working), and a file that fails
    leaves nothing. Rows an earlier read kept are not written again, and stay. What a run
    killed mid-file left is deleted by the next sink (one writer holds the store's lease
    at a time, so row ids can be given out here).

    Claims wait in small groups (:data:`CHECK_EVERY`): each group is looked up at once,
    and only the claims not kept yet become rows, so that reading a remittance again
    builds nothing. Groups stay small because a claim held across many allocations
    becomes old to Python's garbage collector, which then walks every live object more
    often (measured on a 100,000-claim file: 38 full collections with a thousand claims held,
    13 with ten, 11 without keeping any).
    """

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock,
                 write: Callable[[], AbstractContextManager[sqlite3.Connection]],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.connection = connection
        self.lock = lock
        self.write = write
        self.clock = clock
        self.kept = 0
        """Claims read in files that read to their end, over the sink's life."""
        self._waiting: list[ClaimRead] = []
        self._claim_rows: list[tuple[object, ...]] = []
        self._line_rows: list[tuple[object, ...]] = []
        self._unwritten: set[str] = set()
        self._outcomes: list[LineOutcome] = []
        self._token: str | None = None
        self._next_id = 0
        self._in_file = 0
        self._read_at = ""
        with self.write() as connection:
            for (token,) in connection.execute(
                    "SELECT token FROM appeal_claim_reads").fetchall():
                _drop_read(connection, str(token))

    def open_file(self, source: str) -> None:
        """Start keeping a file's claims under a new read token."""
        if self._token is not None:
            raise RuntimeError("a file's claims are already being kept")
        self._token = f"read_{secrets.token_hex(8)}"
        self._in_file = 0
        self._read_at = self.clock().isoformat()
        with self.write() as connection:
            connection.execute("INSERT INTO appeal_claim_reads (token, source) VALUES (?, ?)",
                               (self._token, source))
            (last,) = connection.execute("SELECT coalesce(max(id), 0) FROM appeal_claims"
                                         ).fetchone()
        self._next_id = int(last) + 1

    def claim(self, read: ClaimRead) -> None:
        """Keep one claim (its rows are written in batches)."""
        if self._token is None:
            raise RuntimeError("no file is open")
        self._waiting.append(read)
        self._in_file += 1
        if len(self._waiting) >= CHECK_EVERY:
            self._sort()
            if len(self._claim_rows) >= FLUSH_EVERY:
                self._write()

    def outcomes(self, found: Sequence[LineOutcome]) -> None:
        """Hold the file's outcomes: written with its claims when the file is kept."""
        self._outcomes = list(found)

    def close_file(self, keep: bool) -> None:
        """Keep the file's rows and write its outcomes (``keep``), or delete its rows."""
        token = self._token
        if token is None:
            return
        outcomes, self._outcomes = self._outcomes, []
        try:
            if not keep:
                with self.write() as connection:
                    _drop_read(connection, token)
                return
            self._write()
            with self.write() as connection:
                now = self.clock()
                rows = []
                for outcome in outcomes:
                    letter = connection.execute(_LETTER_OF, (outcome.denial_id,)).fetchone()
                    letter_id, status, sent_on = letter if letter else (None, None, None)
                    rows.append(outcome_row(outcome, now, letter_id, status, sent_on))
                connection.executemany(INSERT_OUTCOME, rows)
                connection.execute("DELETE FROM appeal_claim_reads WHERE token = ?", (token,))
            self.kept += self._in_file
        finally:
            self._token = None
            self._waiting, self._claim_rows, self._line_rows = [], [], []
            self._unwritten = set()

    def _sort(self) -> None:
        """The waiting claims not kept yet become rows, each with the next row id."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        keys = [read.key for read in waiting]
        with self.lock:
            kept = {str(k) for (k,) in self.connection.execute(
                f"SELECT claim_key FROM appeal_claims WHERE claim_key IN "
                f"({','.join('?' * len(keys))})", keys)}
        for read in waiting:
            if read.key in kept or read.key in self._unwritten:
                continue  # kept by an earlier read (or twice in this file): as first read
            self._unwritten.add(read.key)
            claim_id = self._next_id
            self._next_id += 1
            self._claim_rows.append((claim_id, *claim_row(read, self._read_at), self._token))
            self._line_rows += [(claim_id, *line) for line in line_rows(read)]

    def _write(self) -> None:
        self._sort()
        if self._claim_rows:
            with self.write() as connection:
                connection.executemany(INSERT_CLAIM, self._claim_rows)
                connection.executemany(INSERT_LINE, self._line_rows)
        self._claim_rows, self._line_rows, self._unwritten = [], [], set()


def fill_denied_cents(connection: sqlite3.Connection) -> None:
    """Schema v7: :func:`denied_cents` of every claim kept before, from its stored rows.

    A line kept as a denial has its denied cents. What became of a claim with no lines
    was not kept; it is judged again as the reader judges one (docs/835.md): denied as a
    whole, or unpaid with a charge, is charge minus paid; paid with a claim-level
    adjustment that is not an expected one is the sum of those.
    """
    lines: dict[int, list[tuple[int, list[str]]]] = {}
    for claim_id, cents, text in connection.execute(
            "SELECT claim_id, denied_cents, adjustments FROM appeal_claim_lines "
            "WHERE denied_cents IS NOT NULL ORDER BY claim_id, line"):
        lines.setdefault(int(claim_id), []).append((int(cents), _labels(str(text))))
    updates = []
    for row_id, status, count, charge, paid, text in connection.execute(
            "SELECT id, status, lines, charge_cents, paid_cents, adjustments "
            "FROM appeal_claims").fetchall():
        claim_labels = _labels(str(text))
        denials = lines.get(int(row_id), [])
        if not count:
            whole = _whole_claim_cents(str(status), int(charge), int(paid), str(text))
            denials = [(whole, [])] if whole is not None else []
        updates.append((denied_cents(str(status), claim_labels, denials), row_id))
    connection.executemany("UPDATE appeal_claims SET denied_cents = ? WHERE id = ?", updates)


def _labels(text: str) -> list[str]:
    """``CO-45`` labels of stored adjustments (``CO-45:12.50;PR-2:10.00``)."""
    return [item.split(":", 1)[0] for item in text.split(";") if item]


def _whole_claim_cents(status: str, charge: int, paid: int, text: str) -> int | None:
    """The denied cents of a claim with no lines, as the reader judges it, or None."""
    if status == "4" or (charge > 0 and paid == 0):
        return charge - paid
    if paid > 0:
        unexpected = [_cents(Decimal(amount)) or 0 for label, _, amount in
                      (item.partition(":") for item in text.split(";") if item)
                      if not _RULES.is_expected_label(label) and Decimal(amount) > 0]
        if unexpected:
            return sum(unexpected)
    return None


def _drop_read(connection: sqlite3.Connection, token: str) -> None:
    """Delete the claims (and their lines) of a read that did not finish."""
    connection.execute("DELETE FROM appeal_claim_lines WHERE claim_id IN (SELECT "
                       "id FROM appeal_claims WHERE read_token = ?)", (token,))
    connection.execute("DELETE FROM appeal_claims WHERE read_token = ?", (token,))
    connection.execute("DELETE FROM appeal_claim_reads WHERE token = ?", (token,))


# Reading back

CLAIM_SELECT = (f"SELECT id, {', '.join(CLAIM_COLUMNS)} FROM appeal_claims WHERE read_token "
                "NOT IN (SELECT token FROM appeal_claim_reads)")
"""Kept claims only (not those of a read not finished); add ``AND ...``."""
LINE_SELECT = f"SELECT {', '.join(LINE_COLUMNS)} FROM appeal_claim_lines"


def _money(cents: object) -> Decimal | None:
    return None if cents is None else Decimal(int(str(cents))).scaleb(-2)


def _date(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _list(value: object) -> list[str]:
    return [x for x in str(value or "").split(";") if x]


def line_from_row(row: Sequence[object]) -> ClaimLineRecord:
    """A line record from a row of :data:`LINE_SELECT` (the claim's row id first)."""
    values = dict(zip(LINE_COLUMNS, row, strict=True))
    return ClaimLineRecord(
        line=int(str(values["line"])), segment=int(str(values["segment"])),
        procedure=str(values["procedure"]), billed_procedure=_text(values["billed_procedure"]),
        service_date=_date(values["service_date"]), units=_text(values["units"]),
        charge=_money(values["charge_cents"]) or Decimal(0),
        paid=_money(values["paid_cents"]) or Decimal(0),
        allowed=_money(values["allowed_cents"]), adjustments=_list(values["adjustments"]),
        remarks=_list(values["remarks"]),
        line_control_number=_text(values["line_control_number"]),
        denied_amount=_money(values["denied_cents"]), denial_id=_text(values["denial_id"]),
        outcome_of=_text(values["outcome_of"]))


def claim_from_row(row: Sequence[object], lines: list[ClaimLineRecord]) -> ClaimRecord:
    """A claim record from a row of :data:`CLAIM_SELECT` (its row id first) and its lines."""
    values = dict(zip(CLAIM_COLUMNS, row[1:], strict=True))
    return ClaimRecord(
        claim_key=str(values["claim_key"]), payer_id=_text(values["payer_id"]),
        payer_name=_text(values["payer_name"]), claim_id=str(values["claim_id"]),
        payer_claim_number=_text(values["payer_claim_number"]), status=str(values["status"]),
        filing_indicator=_text(values["filing_indicator"]),
        frequency=_text(values["frequency"]), corrects=_text(values["corrects"]),
        charge=_money(values["charge_cents"]) or Decimal(0),
        paid=_money(values["paid_cents"]) or Decimal(0),
        patient_responsibility=_money(values["patient_cents"]),
        service_date=_date(values["service_date"]),
        received_date=_date(values["received_date"]),
        payment_date=_date(values["payment_date"]),
        production_date=_date(values["production_date"]),
        adjustments=_list(values["adjustments"]), remarks=_list(values["remarks"]),
        rendering_npi=_text(values["rendering_npi"]), source=str(values["source"]),
        segment=int(str(values["segment"])),
        transaction_control_number=_text(values["transaction_control_number"]),
        trace_number=_text(values["trace_number"]),
        read_at=datetime.fromisoformat(str(values["read_at"])), lines=lines)
