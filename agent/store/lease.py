"""One writer per store: a run holds the store's writer lease; a second writer fails or waits.

``appeals run`` (and ingest into a store) holds the writer lease for its whole run; a second
writer fails at once, or waits with ``--wait``.

The lease is a row in the store, taken and renewed by compare-and-set, so it works the
same for every process that opens the file (and for PostgreSQL later). A heartbeat thread
renews it; a lease whose holder is gone (same host, no such process) or whose heartbeat
is older than ``stale_after`` is taken over, and the takeover is audited, so a kill -9
never blocks later runs. Review actions do not take it: compare-and-set guards them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from agent.store.records import SYSTEM_USER, AuditEntry, LeaseRecord

WRITER = "writer"


class LeaseStore(Protocol):
    """The store methods a lease needs (part of :class:`~agent.store.protocols.Store`)."""

    def get_lease(self, name: str) -> LeaseRecord | None:
        """Who holds the lease ``name``, if anyone."""
        ...

    def take_lease(self, lease: LeaseRecord, replacing: LeaseRecord | None,
                   entry: AuditEntry | None = None) -> bool:
        """Compare-and-set: take a free lease or replace exactly ``replacing``; False if beaten."""
        ...

    def renew_lease(self, lease: LeaseRecord) -> bool:
        """Store the new heartbeat if the lease is still ours (same token)."""
        ...

    def release_lease(self, lease: LeaseRecord) -> None:
        """Give the lease back if it is still ours."""
        ...


class LeaseHeldError(Exception):
    """Another live writer holds the store's lease; the message names it (no PHI)."""

    def __init__(self, holder: LeaseRecord, now: datetime) -> None:
        age = max(0, int((now - holder.heartbeat_at).total_seconds()))
        super().__init__(
            f"the store is in use by another writer: {holder.command} (pid {holder.pid} on "
            f"{holder.host}, since {holder.since.isoformat(timespec='seconds')}, last "
            f"heartbeat {age} s ago); wait for it to finish or pass --wait SECONDS")
        self.holder = holder


class LeaseLostError(Exception):
    """Another writer took the lease over while this one ran (its heartbeat was stale)."""


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How to take a lease: how long to wait for it, when a holder counts as stale."""

    wait: float = 0.0
    stale_after: float = 60.0
    poll: float = 0.5


def holder_is_gone(holder: LeaseRecord, host: str) -> bool:
    """A holder on this host whose process no longer exists (another host: unknown)."""
    if holder.host != host:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's process
        return False
    return False


@dataclass(slots=True)
class WriterLease:
    """Takes, renews and releases one lease on a store."""

    store: LeaseStore
    command: str
    policy: LeasePolicy = LeasePolicy()
    name: str = WRITER
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    held: LeaseRecord | None = None
    lost: bool = False

    def acquire(self) -> LeaseRecord:
        """Take the lease, waiting up to ``policy.wait`` seconds.

        Raises:
            LeaseHeldError: when a live holder keeps it.
        """
        waited = 0.0
        while True:
            now = self.clock()
            mine = LeaseRecord(name=self.name, token=uuid.uuid4().hex, pid=self.pid,
                               host=self.host, command=self.command, since=now,
                               heartbeat_at=now)
            holder = self.store.get_lease(self.name)
            if holder is None:
                if self.store.take_lease(mine, None):
                    self.held = mine
                    return mine
                continue  # someone took it between our read and our insert: look again
            reason = self._takeover_reason(holder, now)
            if reason is not None:
                if self.store.take_lease(mine, holder, self._takeover_entry(holder, reason,
                                                                            now)):
                    self.held = mine
                    return mine
                continue
            if waited >= self.policy.wait:
                raise LeaseHeldError(holder, now)
            self.sleep(self.policy.poll)
            waited += self.policy.poll

    def renew(self) -> bool:
        """Move the heartbeat on; False (and ``lost``) when another writer took over."""
        if self.held is None or self.lost:
            return False
        renewed = self.held.model_copy(update={"heartbeat_at": self.clock()})
        if self.store.renew_lease(renewed):
            self.held = renewed
            return True
        self.lost = True
        return False

    def release(self) -> None:
        """Give the lease back (only if still ours)."""
        if self.held is not None:
            self.store.release_lease(self.held)
            self.held = None

    def _takeover_reason(self, holder: LeaseRecord, now: datetime) -> str | None:
        if holder_is_gone(holder, self.host):
            return f"holder pid {holder.pid} on {holder.host} is gone"
        stale = timedelta(seconds=self.policy.stale_after)
        if now - holder.heartbeat_at > stale:
            return (f"holder pid {holder.pid} on {holder.host} sent no heartbeat for "
                    f"{int((now - holder.heartbeat_at).total_seconds())} s")
        return None

    def _takeover_entry(self, holder: LeaseRecord, reason: str, now: datetime) -> AuditEntry:
        return AuditEntry(subject=f"lease:{self.name}", actor=SYSTEM_USER, at=now,
                          action="lease_taken_over", hash_before=None, hash_after=None,
                          note=f"{reason}; taken by {self.command} pid {self.pid} on "
                          f"{self.host} (held since "
                          f"{holder.since.isoformat(timespec='seconds')})")


@contextmanager
def writer_lease(store: LeaseStore, command: str, policy: LeasePolicy = LeasePolicy()
                 ) -> Iterator[WriterLease]:
    """Hold the store's writer lease for the block, renewed by a heartbeat thread.

    Raises :class:`LeaseHeldError` on entry when another writer holds it, and
    :class:`LeaseLostError` on exit when another writer took it over meanwhile.
    """
    lease = WriterLease(store, command, policy)
    lease.acquire()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(policy.stale_after / 4):
            try:
                if not lease.renew():
                    return
            except Exception:  # a busy database: try again at the next beat
                continue

    thread = threading.Thread(target=beat, name="writer-lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join()
        if not lease.lost:
            lease.release()
    if lease.lost:
        raise LeaseLostError("another writer took this store's lease over during the run "
                             "(no heartbeat for too long); check its results")
