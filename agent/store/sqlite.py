"""The embedded store: one SQLite file, shared with the LangGraph checkpoints.

Records are kept as validated JSON documents keyed by their ids. The audit table is
append-only (triggers refuse UPDATE and DELETE) and hash-chained (agent/store/audit_chain.py).
One connection guarded by a lock, so graph branches running in threads can write safely;
writes that read before they write take SQLite's write lock first (``BEGIN IMMEDIATE``),
so another process (a reviewer while a run writes) cannot slip in between.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from agent.store.analytics import (
    CLAIM_TOTALS,
    REVIEW_EVENTS,
    ClaimTotal,
    DenialDimension,
    DenialScope,
    DenialTotal,
    ReviewEvent,
    denial_totals_query,
)
from agent.store.audit_chain import GENESIS, ChainReport, StoredRow, chain_hash, verify_chain
from agent.store.claims import (
    CLAIM_SELECT,
    CURRENT_FIRST,
    LINE_SELECT,
    SqliteClaimSink,
    claim_from_row,
    line_from_row,
)
from agent.store.files import private_file, sqlite_companions, tighten
from agent.store.migrations import StoreOpenError, migrate
from agent.store.passwords import check_password, hash_password
from agent.store.records import (
    SYSTEM_USER,
    AuditEntry,
    ClaimRecord,
    DenialRecord,
    GroupRecord,
    LeaseRecord,
    LetterRecord,
    LetterStatus,
    OutcomeRecord,
    Role,
    RunRecord,
    SessionRecord,
    UserRecord,
)
from agent.store.worklist import (
    SELECT_ITEMS,
    UPSERT,
    QueuePage,
    QueueSummary,
    WorklistFacets,
    WorklistPage,
    WorklistQuery,
    item_from_row,
    order_by,
    where,
    worklist_columns,
)

_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UserExistsError(Exception):
    """A user of that name is already in the store."""


class NoSuchUserError(LookupError):
    """No user of that name (or only the built-in system user) is in the store."""


class SqliteStore:
    """The :class:`~agent.store.protocols.Store` on a SQLite file."""

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreOpenError(f"{self.path} is a folder, not a database file")
        private_file(self.path)  # 0600 before SQLite opens it: its WAL and SHM follow
        for companion in sqlite_companions(self.path):
            tighten(companion)
        self._lock = threading.RLock()
        try:
            self.connection = sqlite3.connect(str(self.path), check_same_thread=False,
                                              isolation_level=None, timeout=timeout)
        except sqlite3.Error as exc:
            raise StoreOpenError(f"{self.path}: cannot open the database ({exc})") from None
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.upgraded_from = migrate(self.connection)
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise StoreOpenError(f"{self.path} is not a database of this tool ({exc})") \
                from None
        except BaseException:
            self.connection.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock (nested uses join the outer one)."""
        with self._lock:
            if self.connection.in_transaction:
                yield self.connection
                return
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def _put(self, table: str, rows: Iterable[tuple[str, str]]) -> None:
        with self._write() as connection:
            connection.executemany(f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)",
                                   rows)

    def _get(self, table: str, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                marks = ",".join("?" * len(chunk))
                for key, doc in self.connection.execute(
                        f"SELECT id, doc FROM {table} WHERE id IN ({marks})", chunk):
                    out[key] = doc
        return out

    # Runs, denials, work queues

    def save_run(self, run: RunRecord) -> None:
        """Insert or replace the run's record."""
        self._put("appeal_runs", [(run.run_id, run.model_dump_json())])

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run of that id, or None."""
        doc = self._get("appeal_runs", [run_id]).get(run_id)
        return RunRecord.model_validate_json(doc) if doc else None

    def save_denials(self, records: Iterable[DenialRecord]) -> None:
        """Insert or replace each denial's record and its worklist row, in one transaction."""
        records = list(records)
        with self._write() as connection:
            self._put("appeal_denials", ((r.denial.denial_id, r.model_dump_json())
                                         for r in records))
            connection.executemany(UPSERT, (worklist_columns(r) for r in records))

    def get_denials(self, denial_ids: Sequence[str]) -> list[DenialRecord]:
        """The records of those denials, in the order asked; ids not stored are left out."""
        docs = self._get("appeal_denials", denial_ids)
        return [DenialRecord.model_validate_json(docs[i]) for i in denial_ids if i in docs]

    def save_document_texts(self, texts: Mapping[str, str]) -> None:
        """Keep chart document texts under their hashes (a text already kept is left as is)."""
        if not texts:
            return
        with self._write() as connection:
            connection.executemany("INSERT OR IGNORE INTO appeal_documents (hash, text) "
                                   "VALUES (?, ?)", sorted(texts.items()))

    def get_document_text(self, text_hash: str) -> str | None:
        """The kept text of a chart document, by its hash, or None."""
        with self._lock:
            row = self.connection.execute("SELECT text FROM appeal_documents WHERE hash = ?",
                                          (text_hash,)).fetchone()
        return str(row[0]) if row else None

    def save_groups(self, groups: Iterable[GroupRecord]) -> None:
        """Insert or replace each work queue, in one transaction."""
        self._put("appeal_groups", ((g.group_id, g.model_dump_json()) for g in groups))

    def get_group(self, group_id: str) -> GroupRecord | None:
        """The work queue of that id, or None."""
        doc = self._get("appeal_groups", [group_id]).get(group_id)
        return GroupRecord.model_validate_json(doc) if doc else None

    def list_denial_ids(self) -> list[str]:
        """Every stored denial's id: soonest appeal deadline first (none last), then by id."""
        with self._lock:
            rows = self.connection.execute(
                "SELECT denial_id FROM appeal_worklist ORDER BY (deadline IS NULL), deadline, "
                "denial_id").fetchall()
        return [str(r[0]) for r in rows]

    def denial_match_keys(self) -> tuple[dict[str, date | None], dict[str, date | None]]:
        """The stored denials' claim ids and payer claim numbers (trimmed, any case).

        Each with the earliest remittance date of the denials that carry it (None when none
        of them has one).
        """
        claims: dict[str, date | None] = {}
        pcns: dict[str, date | None] = {}
        with self._lock:
            rows = self.connection.execute(
                "SELECT claim_key, pcn_key, remitted FROM appeal_worklist").fetchall()
        for claim_key, pcn_key, remitted in rows:
            day = date.fromisoformat(remitted) if remitted else None
            for keys, key in ((claims, claim_key), (pcns, pcn_key)):
                if key and (key not in keys or _earlier(day, keys[key])):
                    keys[key] = day
        return claims, pcns

    def find_denials(self, claim_keys: Sequence[str], pcn_keys: Sequence[str]
                     ) -> list[DenialRecord]:
        """The stored denials with one of these claim ids or payer claim numbers.

        The keys are trimmed and compared in any case, as :meth:`denial_match_keys` gives
        them.
        """
        ids: set[str] = set()
        with self._lock:
            for column, keys in (("claim_key", claim_keys), ("pcn_key", pcn_keys)):
                for start in range(0, len(keys), 500):
                    chunk = list(keys[start:start + 500])
                    marks = ",".join("?" * len(chunk))
                    ids.update(str(r[0]) for r in self.connection.execute(
                        f"SELECT denial_id FROM appeal_worklist WHERE {column} IN ({marks})",
                        chunk))
        return self.get_denials(sorted(ids))

    # Claims read and the outcomes of denials (agent/store/claims.py)

    def claim_sink(self) -> SqliteClaimSink:
        """Where an ingest keeps every claim it reads (hold the writer lease while it does).

        Creating it removes what a run killed mid-file left half-kept.
        """
        return SqliteClaimSink(self.connection, self._lock, self._write)

    def get_claims(self, claim_keys: Sequence[str]) -> list[ClaimRecord]:
        """The kept claims of those keys, with their lines, in the order asked."""
        found: dict[str, ClaimRecord] = {}
        with self._lock:
            for start in range(0, len(claim_keys), 500):
                chunk = list(claim_keys[start:start + 500])
                marks = ",".join("?" * len(chunk))
                found |= {c.claim_key: c for _, c in
                          self._claims_where(f"claim_key IN ({marks})", chunk)}
        return [found[k] for k in claim_keys if k in found]

    def iter_claims(self) -> Iterator[ClaimRecord]:
        """Every kept claim with its lines, in the order they were kept.

        Read a page at a time: the store is not held between pages.
        """
        after = 0
        while True:
            with self._lock:
                page = self._claims_where("id > ? ORDER BY id LIMIT 500", [after])
            if not page:
                return
            yield from (claim for _, claim in page)
            after = page[-1][0]

    def _claims_where(self, clause: str, params: Sequence[object]
                      ) -> list[tuple[int, ClaimRecord]]:
        rows = self.connection.execute(f"{CLAIM_SELECT} AND {clause}", params).fetchall()
        lines: dict[int, list[tuple[object, ...]]] = {int(r[0]): [] for r in rows}
        if lines:
            marks = ",".join("?" * len(lines))
            for line in self.connection.execute(
                    f"{LINE_SELECT} WHERE claim_id IN ({marks}) ORDER BY claim_id, line",
                    list(lines)):
                lines[int(line[0])].append(line)
        return [(int(r[0]), claim_from_row(r, [line_from_row(x) for x in lines[int(r[0])]]))
                for r in rows]

    def current_outcomes(self, denial_ids: Sequence[str]) -> dict[str, OutcomeRecord]:
        """Each denial's current outcome: the latest decision recorded for it.

        Denials with none (``open``) are left out.
        """
        out: dict[str, OutcomeRecord] = {}
        with self._lock:
            for start in range(0, len(denial_ids), 500):
                chunk = list(denial_ids[start:start + 500])
                marks = ",".join("?" * len(chunk))
                for denial_id, doc in self.connection.execute(
                        f"SELECT denial_id, doc FROM appeal_outcomes WHERE denial_id IN "
                        f"({marks}) {CURRENT_FIRST}", chunk):
                    if denial_id not in out:
                        out[str(denial_id)] = OutcomeRecord.model_validate_json(doc)
        return out

    def outcome_history(self, denial_id: str) -> list[OutcomeRecord]:
        """Every outcome recorded for a denial, the current (latest decision) first."""
        with self._lock:
            rows = self.connection.execute(
                f"SELECT doc FROM appeal_outcomes WHERE denial_id = ? {CURRENT_FIRST}",
                (denial_id,)).fetchall()
        return [OutcomeRecord.model_validate_json(r[0]) for r in rows]

    # What the KPIs count (agent/store/analytics.py)

    def denial_totals(self, group_by: Sequence[DenialDimension],
                      scope: DenialScope = "denials") -> list[DenialTotal]:
        """The denials of ``scope`` grouped by ``group_by``: count, denied and recovered cents.

        Groups in the order of their keys; without ``group_by``, one total row.
        """
        width = len(group_by)
        with self._lock:
            rows = self.connection.execute(denial_totals_query(group_by, scope)).fetchall()
        return [DenialTotal(tuple(None if v is None else str(v) for v in row[:width]),
                            int(row[width]), int(row[width + 1]), int(row[width + 2]))
                for row in rows]

    def claim_totals(self) -> list[ClaimTotal]:
        """Per payer, the claims kept from 835s and what the denial rates count of them."""
        with self._lock:
            rows = self.connection.execute(CLAIM_TOTALS).fetchall()
        payers: dict[str, dict[str, tuple[int, int, int, int]]] = {}
        names: dict[str, str] = {}
        for key, name, kind, count, denied, billed, denied_cents in rows:
            names.setdefault(key, name)
            payers.setdefault(key, {})[kind] = (count, denied, billed or 0, denied_cents)
        out = []
        for key, kinds in payers.items():
            adjudicated = kinds.get("adjudicated", (0, 0, 0, 0))
            out.append(ClaimTotal(
                payer=names[key], claims_read=sum(k[0] for k in kinds.values()),
                reversals=kinds.get("reversals", (0,))[0],
                corrections=kinds.get("corrections", (0,))[0],
                reprocessed=kinds.get("reprocessed", (0,))[0], adjudicated=adjudicated[0],
                denied=adjudicated[1], billed_cents=adjudicated[2],
                denied_cents=adjudicated[3]))
        return out

    def review_events(self) -> list[ReviewEvent]:
        """The audit trail's drafted, edited, approved and rejected rows, oldest first."""
        with self._lock:
            rows = self.connection.execute(REVIEW_EVENTS).fetchall()
        return [ReviewEvent(str(letter_id), action, str(actor), datetime.fromisoformat(at))
                for letter_id, action, actor, at in rows]

    # The worklist (agent/store/worklist.py)

    def worklist(self, query: WorklistQuery) -> WorklistPage:
        """One page of denials matching ``query``, in its order, and how many match."""
        clause, params = where(query)
        with self._lock:
            total = self.connection.execute(
                "SELECT count(*) FROM appeal_worklist w LEFT JOIN appeal_letters l "
                "ON l.id = w.letter_id" + clause, params).fetchone()[0]
            rows = self.connection.execute(
                SELECT_ITEMS + clause + order_by(query) + " LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset]).fetchall()
        return WorklistPage([item_from_row(r) for r in rows], int(total))

    def work_queues(self, query: WorklistQuery) -> QueuePage:
        """One page of work queues over the denials matching ``query``, soonest due first."""
        clause, params = where(query)
        joined = "FROM appeal_worklist w LEFT JOIN appeal_letters l ON l.id = w.letter_id"
        with self._lock:
            total = self.connection.execute(
                f"SELECT count(DISTINCT coalesce(w.group_id, '')) {joined}{clause}",
                params).fetchone()[0]
            rows = self.connection.execute(
                "SELECT w.group_id, min(w.payer_id), min(w.payer_name), min(w.playbook_id), "
                "min(w.procedure), min(w.codes), count(*), count(DISTINCT w.letter_id), "
                "count(DISTINCT CASE WHEN l.status = 'pending_review' THEN l.id END), "
                "sum(w.amount_cents), min(w.deadline) "
                f"{joined}{clause} GROUP BY w.group_id "
                "ORDER BY (min(w.deadline) IS NULL), min(w.deadline), w.group_id "
                "LIMIT ? OFFSET ?", [*params, query.limit, query.offset]).fetchall()
        return QueuePage([QueueSummary(
            group_id=r[0], payer_id=r[1], payer_name=r[2], playbook_id=r[3], procedure=r[4],
            codes=r[5] or "", denials=r[6], letters=r[7], pending=r[8],
            amount=Decimal(r[9] or 0) / 100,
            deadline=date.fromisoformat(r[10]) if r[10] else None) for r in rows], int(total))

    def worklist_facets(self) -> WorklistFacets:
        """The actions, payers, playbooks and letter statuses the stored denials have."""
        with self._lock:
            run = self.connection.execute
            actions = run("SELECT action, count(*) FROM appeal_worklist WHERE action IS NOT "
                          "NULL GROUP BY action ORDER BY action").fetchall()
            payers = run("SELECT coalesce(payer_id, payer_name), "
                         "coalesce(min(payer_name), payer_id), count(*) FROM appeal_worklist "
                         "WHERE coalesce(payer_id, payer_name) IS NOT NULL "
                         "GROUP BY coalesce(payer_id, payer_name) ORDER BY 2").fetchall()
            playbooks = run("SELECT playbook_id, count(*) FROM appeal_worklist WHERE "
                            "playbook_id IS NOT NULL GROUP BY playbook_id ORDER BY 1"
                            ).fetchall()
            statuses = run("SELECT coalesce(l.status, 'none'), count(*) FROM appeal_worklist "
                           "w LEFT JOIN appeal_letters l ON l.id = w.letter_id "
                           "GROUP BY 1 ORDER BY 1").fetchall()
        return WorklistFacets(actions=[(a, n) for a, n in actions],
                              payers=[(key, name, n) for key, name, n in payers],
                              playbooks=[(p, n) for p, n in playbooks],
                              letter_statuses=[(x, n) for x, n in statuses])

    def letters_in_queue(self, group_id: str,
                         status: LetterStatus | None = None) -> list[LetterRecord]:
        """The letters of a work queue's denials (of ``status``), ordered by letter id."""
        query = ("SELECT doc FROM appeal_letters WHERE id IN (SELECT letter_id FROM "
                 "appeal_worklist WHERE group_id = ? AND letter_id IS NOT NULL)")
        params: list[str] = [group_id]
        if status is not None:
            query += " AND status = ?"
            params.append(status)
        with self._lock:
            rows = self.connection.execute(query + " ORDER BY id", params).fetchall()
        return [LetterRecord.model_validate_json(r[0]) for r in rows]

    # Letters

    def save_letter(self, letter: LetterRecord) -> None:
        """Insert or replace the letter unconditionally (a new draft)."""
        with self._write() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO appeal_letters (id, status, content_hash, doc) "
                "VALUES (?, ?, ?, ?)",
                (letter.letter_id, letter.status, letter.content_hash,
                 letter.model_dump_json()))

    def update_letter_if(self, letter: LetterRecord, expected_status: LetterStatus,
                         expected_hash: str) -> bool:
        """Write ``letter`` only if the stored one still has that status and content hash."""
        with self._write() as connection:
            return self._update_letter_if(connection, letter, expected_status, expected_hash)

    @staticmethod
    def _update_letter_if(connection: sqlite3.Connection, letter: LetterRecord,
                          expected_status: LetterStatus, expected_hash: str) -> bool:
        cursor = connection.execute(
            "UPDATE appeal_letters SET status = ?, content_hash = ?, doc = ? "
            "WHERE id = ? AND status = ? AND content_hash = ?",
            (letter.status, letter.content_hash, letter.model_dump_json(), letter.letter_id,
             expected_status, expected_hash))
        return cursor.rowcount == 1

    def save_letter_and_audit(self, letter: LetterRecord, entry: AuditEntry,
                              expected_status: LetterStatus | None = None,
                              expected_hash: str | None = None) -> bool:
        """Save the letter and its audit row in one transaction: both are written or neither."""
        with self._write() as connection:
            if expected_status is None and expected_hash is None:
                self.save_letter(letter)
            elif expected_status is None or expected_hash is None:
                raise ValueError("give both the expected status and hash, or neither")
            elif not self._update_letter_if(connection, letter, expected_status,
                                            expected_hash):
                return False
            self._append_audit(connection, entry)
        return True

    def get_letter(self, letter_id: str) -> LetterRecord | None:
        """The letter of that id, or None."""
        with self._lock:
            row = self.connection.execute("SELECT doc FROM appeal_letters WHERE id = ?",
                                          (letter_id,)).fetchone()
        return LetterRecord.model_validate_json(row[0]) if row else None

    def list_letters(self, status: LetterStatus | None = None) -> list[LetterRecord]:
        """Every letter, or only those with ``status``, ordered by letter id."""
        query = "SELECT doc FROM appeal_letters"
        params: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            params = (status,)
        with self._lock:
            rows = self.connection.execute(query + " ORDER BY id", params).fetchall()
        return [LetterRecord.model_validate_json(r[0]) for r in rows]

    # The audit trail

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one row to the audit trail, chained to the current head."""
        with self._write() as connection:
            self._append_audit(connection, entry)

    @staticmethod
    def _append_audit(connection: sqlite3.Connection, entry: AuditEntry) -> None:
        head = connection.execute("SELECT seq, hash FROM appeal_audit_head").fetchone()
        seq, previous = (head[0] + 1, head[1]) if head else (1, GENESIS)
        digest = chain_hash(previous, seq, entry)
        connection.execute("INSERT INTO appeal_audit (seq, letter_id, subject, doc, hash) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (seq, entry.letter_id, entry.subject, entry.model_dump_json(),
                            digest))
        connection.execute("INSERT OR REPLACE INTO appeal_audit_head (id, seq, hash) "
                           "VALUES (1, ?, ?)", (seq, digest))

    def audit_trail(self, letter_id: str) -> list[AuditEntry]:
        """A letter's audit rows, oldest first."""
        return self._audit_where("letter_id", letter_id)

    def audit_about(self, subject: str) -> list[AuditEntry]:
        """Audit rows about a store subject ('user:NAME', 'lease:writer'), oldest first."""
        return self._audit_where("subject", subject)

    def _audit_where(self, column: str, value: str) -> list[AuditEntry]:
        with self._lock:
            rows = self.connection.execute(
                f"SELECT doc FROM appeal_audit WHERE {column} = ? ORDER BY seq",
                (value,)).fetchall()
        return [AuditEntry.model_validate_json(r[0]) for r in rows]

    def verify_audit(self) -> ChainReport:
        """Walk the whole chain in one snapshot; the report names the first broken row."""
        with self._lock:
            self.connection.execute("BEGIN")  # one snapshot for the rows and the head
            try:
                head = self.connection.execute(
                    "SELECT seq, hash FROM appeal_audit_head").fetchone()
                rows = (StoredRow(*r) for r in self.connection.execute(
                    "SELECT seq, letter_id, doc, hash FROM appeal_audit ORDER BY seq"))
                return verify_chain(rows, (head[0], head[1]) if head else None)
            finally:
                self.connection.execute("COMMIT")

    # Users

    def add_user(self, name: str, role: Role, password: str,
                 actor: str = SYSTEM_USER) -> UserRecord:
        """Add a user with an argon2id password hash, audited as 'user_added'."""
        if not _USER_NAME.fullmatch(name):
            raise ValueError("a user name is 1-64 letters, digits, '.', '_', '@' or '-', "
                             "starting with a letter or digit")
        if not password:
            raise ValueError("the password is empty")
        now = datetime.now(UTC)
        user = UserRecord(name=name, role=role, password_hash=hash_password(password),
                          created_at=now)
        with self._write() as connection:
            try:
                connection.execute("INSERT INTO appeal_users (name, doc) VALUES (?, ?)",
                                   (name, user.model_dump_json()))
            except sqlite3.IntegrityError:
                raise UserExistsError(f"a user named {name} already exists") from None
            self._append_audit(connection, AuditEntry(
                subject=f"user:{name}", actor=actor, at=now, action="user_added",
                hash_before=None, hash_after=None, note=f"role {role}"))
        return user

    def get_user(self, name: str) -> UserRecord | None:
        """The user of that name, or None."""
        with self._lock:
            row = self.connection.execute("SELECT doc FROM appeal_users WHERE name = ?",
                                          (name,)).fetchone()
        return UserRecord.model_validate_json(row[0]) if row else None

    def verify_password(self, name: str, password: str) -> bool:
        """Whether ``name`` may log in with ``password`` (never the system user)."""
        user = self.get_user(name)
        return check_password(user.password_hash if user else None, password)

    def list_users(self) -> list[UserRecord]:
        """Every user who may sign in (not the built-in system user), by name."""
        with self._lock:
            rows = self.connection.execute("SELECT doc FROM appeal_users WHERE name != ? "
                                           "ORDER BY name", (SYSTEM_USER,)).fetchall()
        return [UserRecord.model_validate_json(r[0]) for r in rows]

    def set_user_role(self, name: str, role: Role, actor: str = SYSTEM_USER) -> UserRecord:
        """Give a user another role, audited as 'role_changed' (before and after)."""
        with self._write() as connection:
            row = connection.execute("SELECT doc FROM appeal_users WHERE name = ?",
                                     (name,)).fetchone()
            user = UserRecord.model_validate_json(row[0]) if row else None
            if user is None or user.role == "system":
                raise NoSuchUserError(f"no user named {name}")
            changed = user.model_copy(update={"role": role})
            connection.execute("UPDATE appeal_users SET doc = ? WHERE name = ?",
                               (changed.model_dump_json(), name))
            self._append_audit(connection, AuditEntry(
                subject=f"user:{name}", actor=actor, at=datetime.now(UTC),
                action="role_changed", hash_before=None, hash_after=None,
                note=f"role {user.role} -> {role}"))
        return changed

    # Web sessions

    def save_session(self, session: SessionRecord) -> None:
        """Insert or replace a signed-in session."""
        with self._write() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO appeal_sessions (token_hash, user, created_at, "
                "last_seen, doc) VALUES (?, ?, ?, ?, ?)",
                (session.token_hash, session.user, _utc(session.created_at),
                 _utc(session.last_seen), session.model_dump_json()))

    def get_session(self, token_hash: str) -> SessionRecord | None:
        """The session whose token has that hash, or None."""
        with self._lock:
            row = self.connection.execute("SELECT doc FROM appeal_sessions WHERE "
                                          "token_hash = ?", (token_hash,)).fetchone()
        return SessionRecord.model_validate_json(row[0]) if row else None

    def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record a request of the session at ``at`` (its idle time starts again)."""
        session = self.get_session(token_hash)
        if session is None:
            return
        self.save_session(session.model_copy(update={"last_seen": at}))

    def delete_session(self, token_hash: str) -> None:
        """End a session (sign out)."""
        with self._write() as connection:
            connection.execute("DELETE FROM appeal_sessions WHERE token_hash = ?",
                               (token_hash,))

    def purge_sessions(self, idle_since: datetime, created_since: datetime) -> int:
        """End every session idle or created too long ago; returns how many."""
        with self._write() as connection:
            cursor = connection.execute(
                "DELETE FROM appeal_sessions WHERE last_seen < ? OR created_at < ?",
                (_utc(idle_since), _utc(created_since)))
            return cursor.rowcount

    # Leases

    def get_lease(self, name: str) -> LeaseRecord | None:
        """Who holds the lease ``name``, if anyone."""
        with self._lock:
            row = self.connection.execute("SELECT doc FROM appeal_leases WHERE name = ?",
                                          (name,)).fetchone()
        return LeaseRecord.model_validate_json(row[0]) if row else None

    def take_lease(self, lease: LeaseRecord, replacing: LeaseRecord | None,
                   entry: AuditEntry | None = None) -> bool:
        """Take a free lease or replace exactly ``replacing``; False when someone moved first."""
        with self._write() as connection:
            if replacing is None:
                cursor = connection.execute(
                    "INSERT OR IGNORE INTO appeal_leases (name, token, heartbeat, doc) "
                    "VALUES (?, ?, ?, ?)", (lease.name, lease.token,
                                            lease.heartbeat_at.isoformat(),
                                            lease.model_dump_json()))
            else:
                cursor = connection.execute(
                    "UPDATE appeal_leases SET token = ?, heartbeat = ?, doc = ? "
                    "WHERE name = ? AND token = ? AND heartbeat = ?",
                    (lease.token, lease.heartbeat_at.isoformat(), lease.model_dump_json(),
                     lease.name, replacing.token, replacing.heartbeat_at.isoformat()))
            if cursor.rowcount != 1:
                return False
            if entry is not None:
                self._append_audit(connection, entry)
        return True

    def renew_lease(self, lease: LeaseRecord) -> bool:
        """Store the new heartbeat if the lease is still ours (same token)."""
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE appeal_leases SET heartbeat = ?, doc = ? WHERE name = ? AND token = ?",
                (lease.heartbeat_at.isoformat(), lease.model_dump_json(), lease.name,
                 lease.token))
            return cursor.rowcount == 1

    def release_lease(self, lease: LeaseRecord) -> None:
        """Give the lease back if it is still ours (same token)."""
        with self._write() as connection:
            connection.execute("DELETE FROM appeal_leases WHERE name = ? AND token = ?",
                               (lease.name, lease.token))


def _earlier(day: date | None, than: date | None) -> bool:
    """Whether ``day`` is known and comes before ``than`` (an unknown ``than``: any is)."""
    return day is not None and (than is None or day < than)


def _utc(at: datetime) -> str:
    """A time as sortable text in UTC (naive times are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat()
