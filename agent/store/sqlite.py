"""The embedded store: one SQLite file, shared with the LangGraph checkpoints.

Records are kept as validated JSON documents keyed by their ids; the audit table is
append-only (triggers refuse UPDATE and DELETE). One connection guarded by a lock, so graph
branches running in threads can write safely.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from agent.store.records import (
    AuditEntry,
    DenialRecord,
    GroupRecord,
    LetterRecord,
    LetterStatus,
    RunRecord,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS appeal_runs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appeal_denials (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appeal_groups (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appeal_letters (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS appeal_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, letter_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS appeal_audit_letter ON appeal_audit (letter_id);
CREATE TRIGGER IF NOT EXISTS appeal_audit_no_update BEFORE UPDATE ON appeal_audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS appeal_audit_no_delete BEFORE DELETE ON appeal_audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


class SqliteStore:
    """The :class:`~agent.store.protocols.Store` on a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.connection = sqlite3.connect(str(self.path), check_same_thread=False,
                                          isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def _put(self, table: str, rows: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.connection.execute("BEGIN")
            try:
                self.connection.executemany(
                    f"INSERT OR REPLACE INTO {table} (id, doc) VALUES (?, ?)", rows)
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

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

    def save_run(self, run: RunRecord) -> None:
        self._put("appeal_runs", [(run.run_id, run.model_dump_json())])

    def get_run(self, run_id: str) -> RunRecord | None:
        doc = self._get("appeal_runs", [run_id]).get(run_id)
        return RunRecord.model_validate_json(doc) if doc else None

    def save_denials(self, records: Iterable[DenialRecord]) -> None:
        self._put("appeal_denials", ((r.denial.denial_id, r.model_dump_json())
                                     for r in records))

    def get_denials(self, denial_ids: Sequence[str]) -> list[DenialRecord]:
        docs = self._get("appeal_denials", denial_ids)
        return [DenialRecord.model_validate_json(docs[i]) for i in denial_ids if i in docs]

    def save_groups(self, groups: Iterable[GroupRecord]) -> None:
        self._put("appeal_groups", ((g.group_id, g.model_dump_json()) for g in groups))

    def get_group(self, group_id: str) -> GroupRecord | None:
        doc = self._get("appeal_groups", [group_id]).get(group_id)
        return GroupRecord.model_validate_json(doc) if doc else None

    def save_letter(self, letter: LetterRecord) -> None:
        with self._lock:
            self.connection.execute(
                "INSERT OR REPLACE INTO appeal_letters (id, status, doc) VALUES (?, ?, ?)",
                (letter.letter_id, letter.status, letter.model_dump_json()))

    def get_letter(self, letter_id: str) -> LetterRecord | None:
        with self._lock:
            row = self.connection.execute("SELECT doc FROM appeal_letters WHERE id = ?",
                                          (letter_id,)).fetchone()
        return LetterRecord.model_validate_json(row[0]) if row else None

    def list_letters(self, status: LetterStatus | None = None) -> list[LetterRecord]:
        query = "SELECT doc FROM appeal_letters"
        params: tuple[str, ...] = ()
        if status is not None:
            query += " WHERE status = ?"
            params = (status,)
        with self._lock:
            rows = self.connection.execute(query + " ORDER BY id", params).fetchall()
        return [LetterRecord.model_validate_json(r[0]) for r in rows]

    def append_audit(self, entry: AuditEntry) -> None:
        with self._lock:
            self.connection.execute("INSERT INTO appeal_audit (letter_id, doc) VALUES (?, ?)",
                                    (entry.letter_id, entry.model_dump_json()))

    def audit_trail(self, letter_id: str) -> list[AuditEntry]:
        with self._lock:
            rows = self.connection.execute(
                "SELECT doc FROM appeal_audit WHERE letter_id = ? ORDER BY seq",
                (letter_id,)).fetchall()
        return [AuditEntry.model_validate_json(r[0]) for r in rows]
