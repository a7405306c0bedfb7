"""The store: users and passwords, compare-and-set on letters, the hash-chained audit
trail (tampering of every kind is found), and private file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.store.records import AuditEntry, LetterRecord
from agent.store.sqlite import SqliteStore, UserExistsError

AT = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "appeals.db")
    yield opened
    opened.close()


def _letter(letter_id: str = "lt_1", status: str = "pending_review",
            content_hash: str = "sha256:aa") -> LetterRecord:
    return LetterRecord.model_validate({
        "letter_id": letter_id, "group_id": "g1", "claim_id": "C1", "denial_ids": ["d1"],
        "status": status, "markdown": f"letters/g1/{letter_id}.md",
        "content_hash": content_hash})


def _entry(letter_id: str, action: str, before: str | None = None,
           after: str | None = "sha256:aa", actor: str = "alice") -> AuditEntry:
    return AuditEntry.model_validate({"letter_id": letter_id, "actor": actor, "at": AT,
                                      "action": action, "hash_before": before,
                                      "hash_after": after})


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], input=stdin,
                          capture_output=True, text=True, check=False)


# Users


def test_users_are_stored_with_an_argon2id_hash(store: SqliteStore) -> None:
    store.add_user("alice", "auditor", "correct horse")
    user = store.get_user("alice")
    assert user is not None and user.role == "auditor"
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert store.verify_password("alice", "correct horse")
    assert not store.verify_password("alice", "correct horsE")
    assert not store.verify_password("nobody", "correct horse")
    assert store.get_user("nobody") is None
    with pytest.raises(UserExistsError):
        store.add_user("alice", "admin", "other")
    assert [e.action for e in store.audit_about("user:alice")] == ["user_added"]


def test_the_system_user_exists_and_cannot_log_in(store: SqliteStore) -> None:
    system = store.get_user("system")
    assert system is not None and system.role == "system" and system.password_hash is None
    assert not store.verify_password("system", "")
    assert not store.verify_password("system", "anything")
    with pytest.raises(UserExistsError):
        store.add_user("system", "admin", "take it over")


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "al/ice"])
def test_a_user_name_must_be_plain(store: SqliteStore, name: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        store.add_user(name, "auditor", "pw")


@pytest.mark.slow
def test_users_add_command(tmp_path: Path) -> None:
    db = tmp_path / "new" / "appeals.db"
    added = _cli("users", "add", "bo.b", "--role", "lead", "--db", str(db),
                 stdin="s3cret pass\n")
    assert added.returncode == 0, added.stderr
    again = _cli("users", "add", "bo.b", "--role", "auditor", "--db", str(db), stdin="x\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    empty = _cli("users", "add", "carol", "--role", "auditor", "--db", str(db), stdin="\n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    bad_role = _cli("users", "add", "dave", "--role", "owner", "--db", str(db), stdin="x\n")
    assert bad_role.returncode == 2
    store = SqliteStore(db)
    try:
        assert store.verify_password("bo.b", "s3cret pass")  # the newline is not part of it
        assert not store.verify_password("bo.b", "s3cret pass\n")
        assert store.get_user("carol") is None and store.get_user("dave") is None
    finally:
        store.close()


# Compare-and-set


def test_update_letter_if_writes_only_over_what_was_read(store: SqliteStore) -> None:
    store.save_letter(_letter())
    approved = _letter(status="approved")
    assert not store.update_letter_if(approved, "pending_review", "sha256:other")
    assert not store.update_letter_if(approved, "approved", "sha256:aa")
    assert not store.update_letter_if(_letter("lt_missing"), "pending_review", "sha256:aa")
    assert store.get_letter("lt_1") == _letter()
    assert store.update_letter_if(approved, "pending_review", "sha256:aa")
    assert store.get_letter("lt_1") == approved
    rejected = _letter(status="rejected")  # the loser of a race read the same state
    assert not store.update_letter_if(rejected, "pending_review", "sha256:aa")
    assert store.get_letter("lt_1") == approved


def test_save_letter_and_audit_is_one_transaction(store: SqliteStore) -> None:
    store.save_letter_and_audit(_letter(), _entry("lt_1", "drafted", actor="template"))
    approved = _letter(status="approved")
    entry = _entry("lt_1", "approved", "sha256:aa", "sha256:aa")
    assert store.save_letter_and_audit(approved, entry, "pending_review", "sha256:aa")
    assert not store.save_letter_and_audit(_letter(status="rejected"),
                                           _entry("lt_1", "rejected", actor="bob"),
                                           "pending_review", "sha256:aa")
    assert [e.action for e in store.audit_trail("lt_1")] == ["drafted", "approved"]
    assert store.get_letter("lt_1") == approved


def test_a_failing_audit_row_leaves_the_letter_unchanged(store: SqliteStore) -> None:
    store.save_letter(_letter())
    store.connection.execute("DROP TABLE appeal_audit_head")  # the audit insert will fail
    with pytest.raises(sqlite3.OperationalError):
        store.save_letter_and_audit(_letter(status="approved"),
                                    _entry("lt_1", "approved"), "pending_review",
                                    "sha256:aa")
    assert store.get_letter("lt_1") == _letter()


# The audit chain


def _trail(store: SqliteStore, rows: int = 5) -> None:
    for n in range(rows):
        store.append_audit(_entry(f"lt_{n % 2}", "drafted", after=f"sha256:{n:02x}"))


def _raw(store: SqliteStore) -> sqlite3.Connection:
    """Another process with the file: drops the triggers first."""
    connection = sqlite3.connect(store.path, isolation_level=None)
    connection.execute("DROP TRIGGER appeal_audit_no_update")
    connection.execute("DROP TRIGGER appeal_audit_no_delete")
    return connection


def test_an_intact_chain_holds(store: SqliteStore) -> None:
    assert store.verify_audit().holds and store.verify_audit().rows == 0
    _trail(store)
    store.add_user("alice", "auditor", "pw")
    report = store.verify_audit()
    assert report.holds and report.rows == 6 and report.head.startswith("sha256:")


def test_the_audit_table_stays_append_only(store: SqliteStore) -> None:
    _trail(store)
    for statement in ("UPDATE appeal_audit SET doc = '{}'", "DELETE FROM appeal_audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.connection.execute(statement)


@pytest.mark.parametrize(("tamper", "row", "words"), [
    ("DELETE FROM appeal_audit WHERE seq = 3", 3, "missing"),
    ("DELETE FROM appeal_audit WHERE seq = 1", 1, "missing"),
    ("DELETE FROM appeal_audit WHERE seq = 5", 5, "missing"),
    ("UPDATE appeal_audit SET doc = replace(doc, 'alice', 'mallory') WHERE seq = 2", 2,
     "edited"),
    ("UPDATE appeal_audit SET letter_id = 'lt_9' WHERE seq = 4", 4, "edited"),
    ("UPDATE appeal_audit SET hash = 'sha256:00' WHERE seq = 5", 5, "edited"),
    ("UPDATE appeal_audit SET doc = 'not json' WHERE seq = 1", 1, "not an audit entry"),
])
def test_tampering_names_the_first_bad_row(store: SqliteStore, tamper: str, row: int,
                                           words: str) -> None:
    _trail(store)
    _raw(store).execute(tamper)
    report = store.verify_audit()
    assert not report.holds
    assert report.first_bad_row == row
    assert words in (report.problem or "")


def test_an_inserted_row_is_found(store: SqliteStore) -> None:
    _trail(store)
    forged = _entry("lt_1", "approved", actor="mallory").model_dump_json()
    raw = _raw(store)
    raw.execute("INSERT INTO appeal_audit (seq, letter_id, doc, hash) VALUES (6, 'lt_1', ?, "
                "'sha256:forged')", (forged,))
    report = store.verify_audit()
    assert not report.holds and report.first_bad_row == 6
    # Renumbering the rows after a spot to make room is found at that spot.
    raw.execute("DELETE FROM appeal_audit WHERE seq = 6")
    raw.execute("UPDATE appeal_audit SET seq = seq + 10 WHERE seq >= 3")
    raw.execute("UPDATE appeal_audit SET seq = seq - 9 WHERE seq >= 13")
    raw.execute("INSERT INTO appeal_audit (seq, letter_id, doc, hash) VALUES (3, 'lt_1', ?, "
                "'sha256:forged')", (forged,))
    report = store.verify_audit()
    assert not report.holds and report.first_bad_row == 3


@pytest.mark.slow
def test_audit_verify_command(tmp_path: Path) -> None:
    db = tmp_path / "appeals.db"
    store = SqliteStore(db)
    _trail(store)
    store.close()
    ok = _cli("audit", "verify", "--db", str(db))
    assert ok.returncode == 0, ok.stderr
    assert "holds: 5 rows" in ok.stdout
    store = SqliteStore(db)
    _raw(store).execute("DELETE FROM appeal_audit WHERE seq = 2")
    store.close()
    broken = _cli("audit", "verify", "--db", str(db))
    assert broken.returncode == 1
    assert "row 2 is missing" in broken.stderr
    assert _cli("audit", "verify", "--db", str(tmp_path / "none.db")).returncode == 2


# Files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022: without the store's care, files would be 644 and folders 755."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("usual_umask")
def test_the_database_and_its_journal_are_private(tmp_path: Path) -> None:
    db = tmp_path / "made" / "by" / "us" / "appeals.db"
    store = SqliteStore(db)
    try:
        store.append_audit(_entry("lt_1", "drafted"))
        reader = sqlite3.connect(db)  # a second connection keeps the WAL and SHM around
        reader.execute("SELECT count(*) FROM appeal_audit").fetchone()
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        assert all(f.is_file() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert [_mode(d) for d in (db.parent, db.parent.parent, db.parent.parent.parent)] \
            == [0o700] * 3
        reader.close()
    finally:
        store.close()


@pytest.mark.usefixtures("usual_umask")
def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "appeals.db"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    SqliteStore(db).close()
    assert _mode(db) == 0o600
