"""One writer per store: the lease is taken by compare-and-set, refused to a second
writer while its holder lives, waited for on request, and taken over (audited) when its
holder is gone or silent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.store.lease import (
    LeaseHeldError,
    LeaseLostError,
    LeasePolicy,
    WriterLease,
    writer_lease,
)
from agent.store.sqlite import SqliteStore

NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
DEFAULT = LeasePolicy()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "appeals.db")
    yield opened
    opened.close()


def _lease(store: SqliteStore, clock: Clock, *, pid: int | None = None,
           host: str | None = None, policy: LeasePolicy = DEFAULT,
           sleep: object = None) -> WriterLease:
    lease = WriterLease(store, "appeals run", policy, clock=clock)
    if pid is not None:
        lease.pid = pid
    if host is not None:
        lease.host = host
    if sleep is not None:
        lease.sleep = sleep  # type: ignore[assignment]
    return lease


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_writer_is_refused_naming_the_holder(store: SqliteStore) -> None:
    clock = Clock()
    first = _lease(store, clock)
    first.acquire()
    with pytest.raises(LeaseHeldError) as refused:
        _lease(store, clock).acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and first.host in message
    assert NOW.isoformat(timespec="seconds") in message
    first.release()
    _lease(store, clock).acquire()  # free again
    assert store.audit_about("lease:writer") == []


def test_a_lease_whose_process_is_gone_is_taken_over_and_audited(store: SqliteStore) -> None:
    clock = Clock()
    dead = _dead_pid()
    _lease(store, clock, pid=dead).acquire()  # killed -9: never released
    clock.now += timedelta(seconds=1)  # its heartbeat is fresh: only the pid tells
    taker = _lease(store, clock)
    taken = taker.acquire()
    assert store.get_lease("writer") == taken and taken.pid == os.getpid()
    [entry] = store.audit_about("lease:writer")
    assert entry.action == "lease_taken_over" and entry.actor == "system"
    assert f"pid {dead}" in (entry.note or "") and "gone" in (entry.note or "")
    assert store.verify_audit().holds


def test_a_silent_lease_on_another_host_is_taken_over_only_when_stale(
        store: SqliteStore) -> None:
    clock = Clock()
    elsewhere = _lease(store, clock, pid=1, host="other-host")
    elsewhere.acquire()
    clock.now += timedelta(seconds=59)
    with pytest.raises(LeaseHeldError, match="other-host"):
        _lease(store, clock).acquire()
    elsewhere.renew()  # a live holder's heartbeat keeps it
    clock.now += timedelta(seconds=59)
    with pytest.raises(LeaseHeldError):
        _lease(store, clock).acquire()
    clock.now += timedelta(seconds=2)  # 61 s since the last heartbeat
    _lease(store, clock).acquire()
    [entry] = store.audit_about("lease:writer")
    assert "no heartbeat for 61 s" in (entry.note or "")
    assert not elsewhere.renew() and elsewhere.lost  # the old holder learns it lost


def test_wait_polls_until_the_holder_releases(store: SqliteStore) -> None:
    clock = Clock()
    holder = _lease(store, clock)
    holder.acquire()
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            holder.release()

    waiter = _lease(store, clock, policy=LeasePolicy(wait=10, poll=0.5), sleep=sleep)
    waiter.acquire()
    assert naps == [0.5, 0.5, 0.5]


def test_wait_gives_up_after_its_seconds(store: SqliteStore) -> None:
    clock = Clock()
    _lease(store, clock).acquire()
    naps: list[float] = []
    waiter = _lease(store, clock, policy=LeasePolicy(wait=2, poll=0.5), sleep=naps.append)
    with pytest.raises(LeaseHeldError):
        waiter.acquire()
    assert naps == [0.5] * 4


def test_a_writer_whose_lease_was_taken_over_fails_at_the_end(store: SqliteStore) -> None:
    with pytest.raises(LeaseLostError), \
            writer_lease(store, "appeals run", LeasePolicy(stale_after=3600)) as lease:
        assert lease.held is not None
        store.take_lease(lease.held.model_copy(update={"token": "other"}), lease.held)
        assert not lease.renew()
    assert store.get_lease("writer") is not None  # the new holder's lease is left alone


def test_writer_lease_releases_on_exit(store: SqliteStore) -> None:
    with writer_lease(store, "appeals run"):
        assert store.get_lease("writer") is not None
    assert store.get_lease("writer") is None
    with pytest.raises(RuntimeError), writer_lease(store, "appeals run"):
        raise RuntimeError("the run failed")
    assert store.get_lease("writer") is None
