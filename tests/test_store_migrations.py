"""An appeals.db made by the first release (schema version 0) opens and is upgraded in
place: the audit rows get their chain, users and leases are added, nothing is lost."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agent.store.migrations import CURRENT_VERSION, StoreVersionError, schema_version
from agent.store.records import AuditEntry, DenialRecord, LetterRecord, RunRecord
from agent.store.sqlite import SqliteStore

# Exactly the schema agent/store/sqlite.py created before versions existed (kept here, not
# imported, so the test keeps describing the files that release left on disk).
RELEASE_0_SCHEMA = """
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

AT = datetime(2026, 9, 2, 9, 30, tzinfo=UTC)


def _letter(letter_id: str, status: str, content_hash: str) -> LetterRecord:
    return LetterRecord.model_validate({
        "letter_id": letter_id, "group_id": "grp_a", "claim_id": "LOM26-1",
        "denial_ids": ["dn_1"], "status": status, "markdown": f"letters/grp_a/{letter_id}.md",
        "content_hash": content_hash, "reviewer": "auditor1" if status != "pending_review"
        else None})


def _audit(letter_id: str, action: str, actor: str, after: str) -> str:
    # The first release's documents: no subject field.
    return AuditEntry.model_validate({
        "letter_id": letter_id, "actor": actor, "at": AT, "action": action,
        "hash_before": None if action == "drafted" else after, "hash_after": after,
    }).model_dump_json(exclude={"subject"})


def _release_0_database(path: Path) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(RELEASE_0_SCHEMA)
    run = RunRecord(run_id="run_1", started_at=AT, inputs=["a.835"], denial_ids=["dn_1"])
    connection.execute("INSERT INTO appeal_runs (id, doc) VALUES (?, ?)",
                       (run.run_id, run.model_dump_json()))
    for letter in (_letter("lt_a", "approved", "sha256:a2"),
                   _letter("lt_b", "pending_review", "sha256:b1")):
        connection.execute("INSERT INTO appeal_letters (id, status, doc) VALUES (?, ?, ?)",
                           (letter.letter_id, letter.status, letter.model_dump_json()))
    for letter_id, action, actor, after in [("lt_a", "drafted", "template", "sha256:a1"),
                                            ("lt_b", "drafted", "llm", "sha256:b1"),
                                            ("lt_a", "edited", "auditor1", "sha256:a2"),
                                            ("lt_a", "approved", "auditor1", "sha256:a2")]:
        connection.execute("INSERT INTO appeal_audit (letter_id, doc) VALUES (?, ?)",
                           (letter_id, _audit(letter_id, action, actor, after)))
    connection.close()


def test_a_release_0_database_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "appeals.db"
    _release_0_database(db)
    store = SqliteStore(db)
    try:
        assert store.upgraded_from == 0
        assert schema_version(store.connection) == CURRENT_VERSION
        assert store.get_run("run_1") is not None
        assert [e.action for e in store.audit_trail("lt_a")] == ["drafted", "edited",
                                                               "approved"]
        report = store.verify_audit()
        assert report.holds and report.rows == 4
        assert store.get_user("system") is not None
        assert store.get_lease("writer") is None
        # The letters' hashes became a column: compare-and-set works on old letters.
        assert store.update_letter_if(_letter("lt_b", "approved", "sha256:b1"),
                                      "pending_review", "sha256:b1")
        assert not store.update_letter_if(_letter("lt_a", "rejected", "sha256:a2"),
                                          "pending_review", "sha256:a2")
        store.add_user("auditor1", "auditor", "pw")
        store.append_audit(AuditEntry(letter_id="lt_b", actor="auditor1", at=AT,
                                      action="approved", hash_before="sha256:b1",
                                      hash_after="sha256:b1"))
        assert store.verify_audit().holds and store.verify_audit().rows == 6
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.connection.execute("DELETE FROM appeal_audit")
    finally:
        store.close()
    again = SqliteStore(db)  # opening an upgraded file changes nothing
    try:
        assert again.upgraded_from == CURRENT_VERSION
        assert again.verify_audit().rows == 6
    finally:
        again.close()


def test_the_upgrade_chains_rows_in_their_order(tmp_path: Path) -> None:
    """An old row edited before the upgrade cannot be told (there was no chain), but the
    upgrade fixes the order: moving rows afterwards breaks the chain."""
    db = tmp_path / "appeals.db"
    _release_0_database(db)
    SqliteStore(db).close()
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("DROP TRIGGER appeal_audit_no_update")
    raw.execute("UPDATE appeal_audit SET seq = seq + 100 WHERE seq IN (1, 2)")
    raw.execute("UPDATE appeal_audit SET seq = 1 WHERE seq = 102")
    raw.execute("UPDATE appeal_audit SET seq = 2 WHERE seq = 101")
    raw.close()
    store = SqliteStore(db)
    try:
        report = store.verify_audit()
        assert not report.holds and report.first_bad_row == 1
    finally:
        store.close()


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "appeals.db"
    SqliteStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {CURRENT_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreVersionError, match="upgrade the tool"):
        SqliteStore(db)


def test_a_version_5_store_keeps_its_denials_and_learns_their_remittance_dates(
        tmp_path: Path) -> None:
    from tests.denials import line_denial

    db = tmp_path / "appeals.db"
    store = SqliteStore(db)
    denial = line_denial("99213", "50", billed=150, denial_id="dn_v5", claim_id="PCN1")
    denial = denial.model_copy(update={"remittance_date": date(2026, 1, 5)})
    store.save_denials([DenialRecord(denial=denial)])
    store.close()
    raw = sqlite3.connect(db, isolation_level=None)  # back to what release 5 left on disk
    for table in ("appeal_claims", "appeal_claim_lines", "appeal_claim_reads",
                  "appeal_outcomes"):
        raw.execute(f"DROP TABLE {table}")
    raw.execute("ALTER TABLE appeal_worklist DROP COLUMN remitted")
    raw.execute("PRAGMA user_version = 5")
    raw.close()
    store = SqliteStore(db)
    try:
        assert store.upgraded_from == 5 and schema_version(store.connection) == CURRENT_VERSION
        assert store.denial_match_keys() == ({"pcn1": date(2026, 1, 5)}, {})
        assert list(store.iter_claims()) == [] and store.current_outcomes(["dn_v5"]) == {}
    finally:
        store.close()


def _back_to_release_6(db: Path) -> None:
    """Drop what schema v7 added (the KPIs' narrow columns), as release 6 left the file."""
    from agent.store.worklist import V7_COLUMNS

    raw = sqlite3.connect(db, isolation_level=None)
    for name, _ in V7_COLUMNS:
        raw.execute(f"ALTER TABLE appeal_worklist DROP COLUMN {name}")
    raw.execute("ALTER TABLE appeal_claims DROP COLUMN denied_cents")
    raw.execute("PRAGMA user_version = 6")
    raw.close()


def test_a_version_6_store_learns_what_the_kpis_count(tmp_path: Path) -> None:
    from agent.analytics.kpis import compute_kpis
    from tests.analytics_store import AS_OF, build

    store = build(tmp_path)
    db = store.path
    before = (compute_kpis(store, AS_OF), store.claim_totals(),
              store.denial_totals(("payer", "reason", "category", "preventable",
                                   "root_cause", "procedure", "age_from")))
    store.close()
    _back_to_release_6(db)
    store = SqliteStore(db)
    try:
        assert store.upgraded_from == 6 and schema_version(store.connection) == CURRENT_VERSION
        after = (compute_kpis(store, AS_OF), store.claim_totals(),
                 store.denial_totals(("payer", "reason", "category", "preventable",
                                      "root_cause", "procedure", "age_from")))
    finally:
        store.close()
    assert after == before
    assert before[0].claims.total.denied_claims == 8  # the upgrade filled them, not None


def test_the_upgrade_judges_claims_without_lines_as_the_reader_does(tmp_path: Path) -> None:
    from decimal import Decimal

    from agent.application.intake import StoreIntake
    from tests.remits import remit, write

    member = "NM1*QC*1*DOE*JANE****MI*M100"
    claims = [(f"CLP*Z1*4*300.00*0**12*ICNZ1*11*1~{member}", Decimal(0)),  # denied whole
              (f"CLP*Z2*1*200.00*150.00**12*ICNZ2*11*1~CAS*CO*50*50.00~{member}",
               Decimal(150)),  # paid, a denial reason left at claim level
              (f"CLP*Z3*1*200.00*180.00**12*ICNZ3*11*1~CAS*CO*45*20.00~{member}",
               Decimal(180))]  # paid under the contract
    path = write(tmp_path, "z.835", remit(claims, produced="20260105"))
    store = SqliteStore(tmp_path / "appeals.db")
    list(StoreIntake(store, [path]))
    kept = store.connection.execute(
        "SELECT claim_id, denied_cents FROM appeal_claims ORDER BY claim_id").fetchall()
    store.close()
    assert kept == [("Z1", 30000), ("Z2", 5000), ("Z3", None)]
    _back_to_release_6(tmp_path / "appeals.db")
    store = SqliteStore(tmp_path / "appeals.db")
    try:
        assert store.connection.execute(
            "SELECT claim_id, denied_cents FROM appeal_claims ORDER BY claim_id"
        ).fetchall() == kept
    finally:
        store.close()
