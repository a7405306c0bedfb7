"""Every claim an 835 reports, paid or denied, as the store keeps it: the rates' denominators.

A denial rate needs the claims that were paid too. Whatever the reading is for (``appeals
run``, ``appeals ingest --db``), each claim payment read from an 835 that reads to its end
goes to a :class:`ClaimSink` as a :class:`ClaimRead`: the claim as the reader typed it, the
key it is kept under, and what came of each line (a new denial, the outcome of an earlier
denial, or neither). The store writes one row per claim and one per line
(agent/store/claims.py); reading the same remittance again writes the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from agent.denials.outcomes import LineOutcome
from agent.x12.models import ClaimPayment, Remittance


def claim_key(claim: ClaimPayment, position: int, remittance: str | None = None) -> str:
    """The key a claim payment is kept under: the same remittance read twice, the same key.

    From the payer, the remittance's date and check or EFT trace number, the claim's place
    in its transaction set (``position``, 1-based) and its CLP01-04 and CLP07; not from the
    file, so a remittance sent again under another name is kept once. A reversal and its
    correction differ by their status (CLP02). The remittance's part comes first
    (:func:`remittance_key`, which ``remittance`` may give already computed), so that one
    remittance's claims sort together: the store's index grows at one end.
    """
    own = _digest(claim.patient_control_number, claim.status,
                  claim.payer_claim_control_number, claim.charge, claim.paid)[:12]
    return f"{remittance or remittance_key(claim.remittance)}_{position:07d}_{own}"


def remittance_key(remit: Remittance) -> str:
    """The part of :func:`claim_key` that all the claims of a remittance share."""
    payer = remit.payer
    day = remit.remittance_date
    digest = _digest(payer.best_id or payer.name, day, remit.trace_number)[:10]
    return f"cl_{day.strftime('%Y%m%d') if day else '00000000'}_{digest}"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts)
                          .encode("utf-8")).hexdigest()


@dataclass(slots=True)
class ClaimRead:
    """One claim payment as read, with what came of each of its lines."""

    claim: ClaimPayment
    key: str
    """:func:`claim_key`."""
    corrects: str | None = None
    """The payer claim number (CLP07) of the reversal (CLP02 = 22) this claim follows in
    its file: the claim it corrects. None for any other claim."""
    denials: dict[int, tuple[str, Decimal]] = field(default_factory=dict)
    """Line index (0-based; -1 the claim itself) -> the id of the denial the line is, as
    the 835 gives it (a denial kept under another id names it in ``merged_ids``), and its
    denied amount."""
    outcome_of: dict[int, str] = field(default_factory=dict)
    """Line index (-1 the whole claim) -> the earlier denial the line is an outcome of."""


class ClaimSink(Protocol):
    """Where an 835's claims go as they are read, one file at a time.

    A file's claims are kept only once the file has read to its end: :meth:`close_file`
    with ``keep`` False drops what :meth:`claim` and :meth:`outcomes` were given since
    :meth:`open_file`. Implemented by the store (``SqliteStore.claim_sink``).
    """

    def open_file(self, source: str) -> None:
        """Start keeping the claims of the 835 ``source``."""
        ...

    def claim(self, read: ClaimRead) -> None:
        """Keep one claim of the open file."""
        ...

    def outcomes(self, found: Sequence[LineOutcome]) -> None:
        """Record the outcomes of earlier denials the open file's lines are."""
        ...

    def close_file(self, keep: bool) -> None:
        """Keep (``keep``) or drop everything given since :meth:`open_file`."""
        ...
