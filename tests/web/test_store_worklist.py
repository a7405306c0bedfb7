"""The store's side of the workbench: the worklist's rows kept with each record and paged
in SQL, their backfill when an older database is opened, sessions, roles."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.store.records import SessionRecord
from agent.store.sqlite import NoSuchUserError, SqliteStore
from agent.store.worklist import WorklistQuery


@pytest.fixture
def store(demo_run: Path, tmp_path: Path) -> SqliteStore:
    db = tmp_path / "appeals.db"
    source = sqlite3.connect(demo_run / "appeals.db")
    target = sqlite3.connect(db)
    source.backup(target)
    source.close()
    target.close()
    return SqliteStore(db)


def _all(store: SqliteStore) -> list[str]:
    return sorted(r[0] for r in store.connection.execute("SELECT id FROM appeal_denials"))


def test_every_saved_denial_has_its_worklist_row(store: SqliteStore) -> None:
    page = store.worklist(WorklistQuery(limit=1000))
    assert sorted(i.denial_id for i in page.items) == _all(store) and page.total == len(
        _all(store))
    record = store.get_denials(_all(store)[:1])[0]
    changed = record.model_copy(update={"missing_evidence": ["a fact"], "playbook_id": "pb"})
    store.save_denials([changed])
    (item,) = store.worklist(WorklistQuery(playbook="pb")).items
    assert item.missing == ("a fact",) and item.denial_id == record.denial.denial_id


def test_a_page_is_a_query_with_its_order_and_limit(store: SqliteStore) -> None:
    everything = store.worklist(WorklistQuery(sort="amount", descending=True, limit=1000))
    amounts = [i.amount for i in everything.items]
    assert amounts == sorted(amounts, reverse=True)
    pages = [store.worklist(WorklistQuery(sort="amount", descending=True, limit=5,
                                          offset=offset)).items for offset in range(0, 20, 5)]
    assert [i.denial_id for p in pages for i in p] == [i.denial_id for i in everything.items]
    with_letters = store.worklist(WorklistQuery(letter_status="pending_review", limit=100))
    assert with_letters.total == len(store.list_letters("pending_review"))
    assert all(i.letter_status == "pending_review" for i in with_letters.items)


def test_an_older_database_gets_its_worklist_on_upgrade(store: SqliteStore) -> None:
    before = store.worklist(WorklistQuery(limit=1000))
    path = store.path
    store.connection.execute("DROP TABLE appeal_worklist")
    store.connection.execute("DROP TABLE appeal_sessions")
    store.connection.execute("PRAGMA user_version = 3")  # before the worklist (v4)
    store.close()
    again = SqliteStore(path)
    try:
        assert again.upgraded_from == 3
        after = again.worklist(WorklistQuery(limit=1000))
        assert after == before
    finally:
        again.close()


def test_sessions_are_kept_by_hash_and_purged(store: SqliteStore) -> None:
    now = datetime(2026, 9, 21, 9, tzinfo=UTC)
    for name, seen in (("old", now - timedelta(hours=2)), ("new", now)):
        store.save_session(SessionRecord(token_hash=f"sha256:{name}", user="x",
                                         csrf_token="t", created_at=now - timedelta(hours=3),
                                         last_seen=seen))
    store.touch_session("sha256:new", now + timedelta(minutes=1))
    session = store.get_session("sha256:new")
    assert session is not None and session.last_seen == now + timedelta(minutes=1)
    assert store.purge_sessions(now - timedelta(minutes=15), now - timedelta(hours=12)) == 1
    assert store.get_session("sha256:old") is None
    store.delete_session("sha256:new")
    assert store.get_session("sha256:new") is None


def test_roles_change_only_for_people(store: SqliteStore) -> None:
    store.add_user("kim", "auditor", "pw")
    assert store.set_user_role("kim", "lead", actor="x").role == "lead"
    with pytest.raises(NoSuchUserError):
        store.set_user_role("system", "admin")
    with pytest.raises(NoSuchUserError):
        store.set_user_role("nobody", "admin")
    assert [u.name for u in store.list_users()] == sorted(
        u.name for u in store.list_users()) and "system" not in [u.name for u in
                                                                 store.list_users()]
    assert store.verify_audit().holds
