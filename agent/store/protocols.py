"""The storage interface.

SQLite is the embedded default; a Postgres store for a worker pool implements the same
methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from agent.denials.claims import ClaimSink
from agent.store.analytics import (
    ClaimTotal,
    DenialDimension,
    DenialScope,
    DenialTotal,
    ReviewEvent,
)
from agent.store.audit_chain import ChainReport
from agent.store.records import (
    SYSTEM_USER,
    AuditEntry,
    ClaimRecord,
    DenialRecord,
    GroupRecord,
    LeaseRecord,
    LetterRecord,
    LetterStatus,
    OutcomeRecord,
    Role,
    RunRecord,
    SessionRecord,
    UserRecord,
)
from agent.store.worklist import QueuePage, WorklistFacets, WorklistPage, WorklistQuery


class Store(Protocol):
    """Where runs, denial results, groups, letters, users, leases and the audit trail live."""

    def save_run(self, run: RunRecord) -> None:
        """Insert or replace a run's record: its inputs and the denials it covered."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run of that id, or None."""
        ...

    def save_denials(self, records: Iterable[DenialRecord]) -> None:
        """Insert or replace each denial's record, in one transaction."""
        ...

    def get_denials(self, denial_ids: Sequence[str]) -> list[DenialRecord]:
        """The records of those denials, in the order asked; ids not stored are left out."""
        ...

    def list_denial_ids(self) -> list[str]:
        """Every stored denial's id: soonest appeal deadline first (none last), then by id."""
        ...

    def denial_match_keys(self) -> tuple[dict[str, date | None], dict[str, date | None]]:
        """The stored denials' claim id and payer claim number keys, with dates.

        Each key with the earliest remittance date of the denials that carry it.
        """
        ...

    def find_denials(self, claim_keys: Sequence[str], pcn_keys: Sequence[str]
                     ) -> list[DenialRecord]:
        """The stored denials with one of these claim ids or payer claim numbers (keys)."""
        ...

    def claim_sink(self) -> ClaimSink:
        """Where an ingest keeps every claim it reads (and the outcomes), file by file."""
        ...

    def get_claims(self, claim_keys: Sequence[str]) -> list[ClaimRecord]:
        """The kept claims of those keys, with their lines, in the order asked."""
        ...

    def iter_claims(self) -> Iterator[ClaimRecord]:
        """Every kept claim with its lines, in the order they were kept."""
        ...

    def current_outcomes(self, denial_ids: Sequence[str]) -> dict[str, OutcomeRecord]:
        """Each denial's current outcome (the latest decision); open denials left out."""
        ...

    def outcome_history(self, denial_id: str) -> list[OutcomeRecord]:
        """Every outcome recorded for a denial, the current one first."""
        ...

    def denial_totals(self, group_by: Sequence[DenialDimension],
                      scope: DenialScope = "denials") -> list[DenialTotal]:
        """The denials of ``scope`` grouped by ``group_by``: how many, denied, recovered.

        One query over the worklist's narrow rows, the letters and the current outcomes
        (agent/store/analytics.py); groups in the order of their keys, and one total row
        without ``group_by``.
        """
        ...

    def claim_totals(self) -> list[ClaimTotal]:
        """Per payer, the claims kept from 835s and what the denial rates count of them."""
        ...

    def review_events(self) -> list[ReviewEvent]:
        """The audit trail's drafted, edited, approved and rejected rows, oldest first."""
        ...

    def save_document_texts(self, texts: Mapping[str, str]) -> None:
        """Keep chart document texts under their hashes (a text already kept is left as is)."""
        ...

    def get_document_text(self, text_hash: str) -> str | None:
        """The kept text of a chart document, by its hash, or None."""
        ...

    def save_groups(self, groups: Iterable[GroupRecord]) -> None:
        """Insert or replace each work queue (group of denials), in one transaction."""
        ...

    def get_group(self, group_id: str) -> GroupRecord | None:
        """The work queue of that id, or None."""
        ...

    def worklist(self, query: WorklistQuery) -> WorklistPage:
        """One page of the denials matching ``query``, and how many match in all.

        The store filters, sorts and pages: it never loads every record to do so.
        """
        ...

    def work_queues(self, query: WorklistQuery) -> QueuePage:
        """One page of the work queues of the denials matching ``query``.

        Each with its counts, amount and earliest deadline; soonest due first.
        """
        ...

    def worklist_facets(self) -> WorklistFacets:
        """The actions, payers, playbooks and letter statuses the stored denials have."""
        ...

    def letters_in_queue(self, group_id: str,
                         status: LetterStatus | None = None) -> list[LetterRecord]:
        """The letters of a work queue's denials (only those of ``status``), by letter id."""
        ...

    def save_letter(self, letter: LetterRecord) -> None:
        """Insert or replace unconditionally: for a new draft.

        Review actions use the compare-and-set methods below.
        """

    def update_letter_if(self, letter: LetterRecord, expected_status: LetterStatus,
                         expected_hash: str) -> bool:
        """Compare-and-set: write ``letter`` only if the stored one is still as expected.

        The stored letter of that id must still have ``expected_status`` and
        ``expected_hash`` (its ``content_hash``); the check and write are one atomic
        statement. False (nothing written) when someone else changed it first, or when there
        is no such letter.
        """
        ...

    def save_letter_and_audit(self, letter: LetterRecord, entry: AuditEntry,
                              expected_status: LetterStatus | None = None,
                              expected_hash: str | None = None) -> bool:
        """Save the letter and its audit row in one transaction: both are written or neither.

        A crash cannot leave one without the other. With ``expected_status`` and
        ``expected_hash`` it is :meth:`update_letter_if` plus the row, and returns False
        without writing either when the letter changed; without them (a new draft) the
        letter is saved unconditionally and it returns True.
        """
        ...

    def get_letter(self, letter_id: str) -> LetterRecord | None:
        """The letter of that id, or None."""
        ...

    def list_letters(self, status: LetterStatus | None = None) -> list[LetterRecord]:
        """Every letter, or only those with ``status``."""
        ...

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one row to the hash-chained, append-only audit trail."""

    def audit_trail(self, letter_id: str) -> list[AuditEntry]:
        """A letter's rows, oldest first."""
        ...

    def audit_about(self, subject: str) -> list[AuditEntry]:
        """Rows about a store subject ('user:NAME', 'lease:writer'), oldest first."""
        ...

    def verify_audit(self) -> ChainReport:
        """Walk the whole chain; the report names the first broken or missing row."""
        ...

    def add_user(self, name: str, role: Role, password: str,
                 actor: str = SYSTEM_USER) -> UserRecord:
        """Add a user with an argon2id hash of ``password`` (audited as 'user_added').

        Raises:
            agent.store.sqlite.UserExistsError: when the name is taken.
            ValueError: for an invalid name or an empty password.
        """
        ...

    def get_user(self, name: str) -> UserRecord | None:
        """The user, or None. The built-in ``system`` user always exists."""
        ...

    def verify_password(self, name: str, password: str) -> bool:
        """Whether ``name`` may log in with ``password`` (never the system user)."""
        ...

    def list_users(self) -> list[UserRecord]:
        """Every user who may sign in (not the built-in system user), by name."""
        ...

    def set_user_role(self, name: str, role: Role, actor: str = SYSTEM_USER) -> UserRecord:
        """Give a user another role (audited as 'role_changed').

        Raises:
            agent.store.sqlite.NoSuchUserError: when there is no such user (or it is the
                built-in system user).
        """
        ...

    def save_session(self, session: SessionRecord) -> None:
        """Insert or replace a signed-in web session."""

    def get_session(self, token_hash: str) -> SessionRecord | None:
        """The session whose cookie token has that hash, or None."""
        ...

    def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record a request of the session at ``at`` (its idle time starts again)."""

    def delete_session(self, token_hash: str) -> None:
        """End a session (sign out)."""

    def purge_sessions(self, idle_since: datetime, created_since: datetime) -> int:
        """End the sessions idle or created too long ago; returns how many.

        That is, those last seen before ``idle_since`` or created before ``created_since``.
        """
        ...

    def get_lease(self, name: str) -> LeaseRecord | None:
        """Who holds the lease ``name``, if anyone (agent/store/lease.py is the policy)."""
        ...

    def take_lease(self, lease: LeaseRecord, replacing: LeaseRecord | None,
                   entry: AuditEntry | None = None) -> bool:
        """Compare-and-set: take a free lease, or replace exactly the holder read before.

        A free lease is taken with ``replacing`` None; otherwise ``replacing`` must still be
        the holder (same token and heartbeat). ``entry`` is appended in the same transaction.
        False when someone else moved first.
        """
        ...

    def renew_lease(self, lease: LeaseRecord) -> bool:
        """Store the new heartbeat if the lease is still ours (same token)."""
        ...

    def release_lease(self, lease: LeaseRecord) -> None:
        """Give the lease back if it is still ours."""
