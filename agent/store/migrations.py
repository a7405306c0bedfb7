"""The store's schema and its upgrades, numbered by ``PRAGMA user_version``.

Version 0 is the schema of the first release (no version set). Every database, new or
old, is brought to :data:`CURRENT_VERSION` by the same steps, in one transaction each, so
the upgrade path is exercised on every new store. A database from a newer release is
refused rather than written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from agent.store.audit_chain import GENESIS, chain_hash
from agent.store.claims import SCHEMA as CLAIMS_SCHEMA
from agent.store.claims import V7_COLUMN as CLAIMS_V7_COLUMN
from agent.store.claims import fill_denied_cents
from agent.store.records import SYSTEM_USER, AuditEntry, DenialRecord, UserRecord
from agent.store.worklist import SCHEMA as WORKLIST_SCHEMA
from agent.store.worklist import (
    V4_COLUMNS,
    V4_UPSERT,
    V6_COLUMN,
    V6_FILL,
    V7_COLUMNS,
    V7_FILL,
    analytics_columns,
    worklist_columns,
)


class StoreOpenError(OSError):
    """The store's file cannot be used: a folder, not a SQLite file, or unreadable.

    An ``OSError``, so every command that reports a bad path in one line reports this too.
    """


class StoreVersionError(StoreOpenError):
    """The database was made by a newer release of the tool."""


_V0 = [
    "CREATE TABLE IF NOT EXISTS appeal_runs (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS appeal_denials (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS appeal_groups (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS appeal_letters (
        id TEXT PRIMARY KEY, status TEXT NOT NULL, doc TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS appeal_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, letter_id TEXT NOT NULL, doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS appeal_audit_letter ON appeal_audit (letter_id)",
    """CREATE TRIGGER IF NOT EXISTS appeal_audit_no_update BEFORE UPDATE ON appeal_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS appeal_audit_no_delete BEFORE DELETE ON appeal_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
]

_APPEND_ONLY = [
    """CREATE TRIGGER appeal_audit_no_update BEFORE UPDATE ON appeal_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER appeal_audit_no_delete BEFORE DELETE ON appeal_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
]


def _v1(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 1: hash-chained audit, letters' content hash, users, leases.

    The audit rows have an optional letter and a subject for store actions; the letters'
    content hash is a column (for compare-and-set); users come with the built-in system user.
    """
    connection.execute("""CREATE TABLE appeal_audit_v1 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, letter_id TEXT, subject TEXT,
        doc TEXT NOT NULL, hash TEXT NOT NULL)""")
    previous, seq = GENESIS, 0
    for (doc,) in connection.execute("SELECT doc FROM appeal_audit ORDER BY seq").fetchall():
        entry = AuditEntry.model_validate_json(doc)
        seq += 1  # renumbered 1..n in their order: the chain has no gaps to explain
        previous = chain_hash(previous, seq, entry)
        connection.execute("INSERT INTO appeal_audit_v1 (seq, letter_id, subject, doc, hash) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (seq, entry.letter_id, entry.subject, doc, previous))
    connection.execute("DROP TABLE appeal_audit")  # and its triggers and index
    connection.execute("ALTER TABLE appeal_audit_v1 RENAME TO appeal_audit")
    connection.execute("CREATE INDEX appeal_audit_letter ON appeal_audit (letter_id)")
    connection.execute("CREATE INDEX appeal_audit_subject ON appeal_audit (subject)")
    for statement in _APPEND_ONLY:
        connection.execute(statement)
    connection.execute("""CREATE TABLE appeal_audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)""")
    if seq:
        connection.execute("INSERT INTO appeal_audit_head (id, seq, hash) VALUES (1, ?, ?)",
                           (seq, previous))
    connection.execute("ALTER TABLE appeal_letters ADD COLUMN content_hash TEXT")
    connection.execute("UPDATE appeal_letters SET content_hash = "
                       "json_extract(doc, '$.content_hash')")
    connection.execute("CREATE TABLE appeal_users (name TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    system = UserRecord(name=SYSTEM_USER, role="system", password_hash=None,
                        created_at=datetime.now(UTC))
    connection.execute("INSERT INTO appeal_users (name, doc) VALUES (?, ?)",
                       (system.name, system.model_dump_json()))
    connection.execute("""CREATE TABLE appeal_leases (
        name TEXT PRIMARY KEY, token TEXT NOT NULL, heartbeat TEXT NOT NULL,
        doc TEXT NOT NULL)""")


def _v2(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 2: the text of chart documents, content-addressed.

    A decision records which documents it read (id, date, hash); the text is kept once per
    hash, so a re-run can tell a changed chart and a reviewer can see what was read.
    """
    connection.execute("""CREATE TABLE appeal_documents (
        hash TEXT PRIMARY KEY, text TEXT NOT NULL)""")


def _v3(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 3: denials record the settings their letter was drafted with.

    The ``practice_fingerprint`` and ``payer_fingerprint`` of a denial's JSON document
    (:class:`~agent.store.records.DenialRecord`) need no column. The version still goes up:
    a release before them cannot read such a document, and is refused the file (it asks
    for an upgrade) rather than failing on the first denial it reads.
    """


def _v4(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 4: the worklist's narrow rows and the web's sessions.

    Every denial gets its row in ``appeal_worklist`` (agent/store/worklist.py), which
    the store writes with each record from now on; a record this release cannot read is
    left out of the worklist rather than stopping the upgrade. ``appeal_sessions`` holds
    the web workbench's signed-in sessions (the hash of each cookie's token, never the
    token).
    """
    for statement in WORKLIST_SCHEMA:
        connection.execute(statement)
    rows = []
    for (doc,) in connection.execute("SELECT doc FROM appeal_denials").fetchall():
        try:
            rows.append(worklist_columns(DenialRecord.model_validate_json(doc))
                        [:len(V4_COLUMNS)])
        except ValidationError:
            continue
    connection.executemany(V4_UPSERT, rows)
    connection.execute("""CREATE TABLE appeal_sessions (
        token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL, doc TEXT NOT NULL)""")
    connection.execute("CREATE INDEX appeal_sessions_user ON appeal_sessions (user)")


def _v5(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 5: the stored chart and auditor-found evidence.

    A denial's JSON document gains ``chart_facts`` and ``supplied_evidence`` and its
    document references their title, encounter, content type and why they were chosen
    (:class:`~agent.store.records.DenialRecord`, ``DocumentRef``); an evidence item
    gains ``found_by``. No column changes; the version goes up so that a release before
    them is refused the file rather than failing on the first denial it reads.
    """


def _v6(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 6: every claim read, and the outcomes of denials.

    ``appeal_claims`` and ``appeal_claim_lines`` keep each claim payment read from an 835
    (paid ones too) and its lines; ``appeal_outcomes`` the later lines that answer earlier
    denials (agent/store/claims.py). A letter's JSON document gains ``sent_on`` and
    ``sent_via`` (:class:`~agent.store.records.LetterRecord`). Claims read before this
    version were not kept: reading those 835s again keeps them. The worklist gains each
    denial's remittance date (``remitted``), which a later 835's production date is
    compared with.
    """
    for statement in CLAIMS_SCHEMA:  # IF NOT EXISTS: also over a file rolled back by hand
        connection.execute(statement)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(appeal_worklist)")}
    if "remitted" not in columns:
        connection.execute(V6_COLUMN)
    connection.execute(V6_FILL)


def _v7(connection: sqlite3.Connection) -> None:
    """Upgrade to schema version 7: the narrow columns the KPIs count by (docs/kpis.md).

    The worklist gains each denial's triage category, root cause and preventability, its
    main denial reason, its procedure code as billed and its date of service
    (``V7_COLUMNS``, filled from the records; a record this release cannot read keeps them
    empty); each kept claim the dollars its remittance denied (``denied_cents``, filled
    from its kept lines). The KPIs are then SQL aggregates over narrow rows, never the
    records.
    """
    columns = {row[1] for row in connection.execute("PRAGMA table_info(appeal_worklist)")}
    for name, kind in V7_COLUMNS:
        if name not in columns:  # also over a file rolled back by hand
            connection.execute(f"ALTER TABLE appeal_worklist ADD COLUMN {name} {kind}")
    rows = []
    for denial_id, doc in connection.execute("SELECT id, doc FROM appeal_denials").fetchall():
        try:
            rows.append((*analytics_columns(DenialRecord.model_validate_json(doc)), denial_id))
        except ValidationError:
            continue
    connection.executemany(V7_FILL, rows)
    claims = {row[1] for row in connection.execute("PRAGMA table_info(appeal_claims)")}
    if "denied_cents" not in claims:
        connection.execute(CLAIMS_V7_COLUMN)
    fill_denied_cents(connection)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
CURRENT_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> int:
    """Create or upgrade the schema in place; return the version it had before.

    ``connection`` is in autocommit mode (``isolation_level=None``). The write lock is
    taken before the version is read, so two processes opening an old file upgrade it once.
    """
    if schema_version(connection) == CURRENT_VERSION:
        return CURRENT_VERSION
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(connection)
        if found > CURRENT_VERSION:
            raise StoreVersionError(
                f"the database has schema version {found}; this release knows up to "
                f"{CURRENT_VERSION}: upgrade the tool")
        if found == 0:
            for statement in _V0:
                connection.execute(statement)
        for version in range(found, CURRENT_VERSION):
            MIGRATIONS[version](connection)
        connection.execute(f"PRAGMA user_version = {CURRENT_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return found
