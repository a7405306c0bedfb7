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
from datetime import UTC, datetime
from pathlib import Path

from agent.store.audit_chain import GENESIS, ChainReport, StoredRow, chain_hash, verify_chain
from agent.store.files import private_file, sqlite_companions, tighten
from agent.store.migrations import StoreOpenError, migrate
from agent.store.passwords import check_password, hash_password
from agent.store.records import (
    SYSTEM_USER,
    AuditEntry,
    DenialRecord,
    GroupRecord,
    LeaseRecord,
    LetterRecord,
    LetterStatus,
    Role,
    RunRecord,
    UserRecord,
)

_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UserExistsError(Exception):
    """A user of that name is already in the store."""


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
        """Insert or replace each denial's record, in one transaction."""
        self._put("appeal_denials", ((r.denial.denial_id, r.model_dump_json())
                                     for r in records))

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
