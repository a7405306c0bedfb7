r"""The audit trail's hash chain: each row's hash covers its content and the previous row's.

A row deleted, edited or inserted behind the tool therefore shows.

``hash(row n) = sha256(hash(row n-1) + "\n" + canonical(n, entry))``, the first row
chaining from the empty string. The canonical content is the entry's JSON with sorted
keys, so the same entry hashes the same in any store (SQLite text, PostgreSQL JSONB). The
head (last sequence number and hash) is kept apart from the rows, so a deleted last row
shows too. Someone who can rewrite the whole file can recompute every hash; the head
printed by ``appeals audit verify`` and kept elsewhere (``--head``) catches that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from agent.store.records import AuditEntry

GENESIS = ""


def canonical(seq: int, entry: AuditEntry) -> str:
    """What a row's hash covers besides the previous hash."""
    return json.dumps({"seq": seq, "entry": entry.model_dump(mode="json")}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str, seq: int, entry: AuditEntry) -> str:
    """The hash of row ``seq`` following a row whose hash is ``previous``."""
    digest = hashlib.sha256(f"{previous}\n{canonical(seq, entry)}".encode())
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One audit row as stored: its indexed letter id, its document and its hash."""

    seq: int
    letter_id: str | None
    doc: str
    hash: str | None


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of :func:`verify_chain`: ``problem`` is None when the chain holds."""

    rows: int
    head: str
    problem: str | None = None
    first_bad_row: int | None = None

    @property
    def holds(self) -> bool:
        """Whether the chain holds: no row and no head broke it."""
        return self.problem is None


def verify_chain(rows: Iterable[StoredRow], head: tuple[int, str] | None) -> ChainReport:
    """Walk the rows in sequence order; report the first one that breaks the chain.

    ``head`` is the stored (last seq, last hash), None when the store has never had a row.
    Messages name row numbers only, never a row's content.
    """
    previous, expected_seq, count = GENESIS, 1, 0
    for row in rows:
        if row.seq != expected_seq:
            what = "missing" if row.seq > expected_seq else "out of order"
            return _broken(count, previous, expected_seq, f"row {expected_seq} is {what}")
        try:
            entry = AuditEntry.model_validate_json(row.doc)
        except ValidationError:
            return _broken(count, previous, row.seq, f"row {row.seq} is not an audit entry")
        if entry.letter_id != row.letter_id:
            return _broken(count, previous, row.seq,
                           f"row {row.seq} was edited (its letter does not match)")
        if row.hash != chain_hash(previous, row.seq, entry):
            return _broken(count, previous, row.seq,
                           f"row {row.seq} was edited or inserted (its hash does not match)")
        previous, expected_seq, count = row.hash, expected_seq + 1, count + 1
    last = expected_seq - 1
    if head is None:
        if count:
            return _broken(count, previous, 1, "the chain's head is missing")
        return ChainReport(0, previous)
    head_seq, head_hash = head
    if head_seq > last:
        return _broken(count, previous, last + 1,
                       f"row {last + 1} is missing (the chain ends at row {last}, its head "
                       f"is row {head_seq})")
    if head_seq < last or head_hash != previous:
        return _broken(count, previous, head_seq + 1 if head_seq < last else last,
                       f"the chain's head does not match row {last}")
    return ChainReport(count, previous)


def _broken(count: int, previous: str, seq: int, problem: str) -> ChainReport:
    return ChainReport(count, previous, problem, seq)
