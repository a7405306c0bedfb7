"""Graph state, kept JSON-shaped (ids and strings).

The records themselves live in the store, so a checkpoint stays small whatever the batch
size.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from agent.store.records import LetterStatus


class BatchState(TypedDict, total=False):
    """The batch thread: one ``appeals run`` over some inputs."""

    run_id: str
    """Stable for the same inputs: a re-run resumes or re-uses the same thread."""
    inputs: list[str]
    """835 files and denial queues, as given."""
    auto_approve: bool
    """Approve each draft as it is made (tests and benchmarks only)."""
    as_of: str
    """The day the run counts as today (ISO date): letters' date, deadlines passed."""
    ehr_warnings: list[str]
    """What the EHR source held that it could not use, as the run started (no PHI)."""
    denial_ids: list[str]
    """Every denial read from the inputs (set by ingest)."""
    errors: list[str]
    """Files or rows that could not be read (one line each, no PHI)."""
    warnings: list[str]
    """What was read with a warning (a file's oddities, one line each, no PHI)."""
    files_read: int
    """Inputs that could be read (set by ingest); 0 leaves the last manifest in place."""
    outcome_ids: list[str]
    """Denials whose outcome a later 835 of the inputs recorded (set by ingest); those of
    earlier runs are the manifest's ``outcomes``."""
    reopened: list[str]
    """Denials of earlier runs put back to work (set by triage): a later 835 took back the
    payment that had settled them; their work queues are worked with this run's."""
    group_ids: list[str]
    """Work queues (set by group)."""
    letter_ids: Annotated[list[str], operator.add]
    """Letters drafted by this run (one list per group branch, joined at fan-in)."""
    redecided: Annotated[list[str], operator.add]
    """Why each denial an earlier run decided was decided again (its chart or playbook
    changed), one entry per denial."""
    superseded: Annotated[list[str], operator.add]
    """Pending drafts this run superseded (a new draft replaced them, or none is due)."""


class GroupTask(TypedDict):
    """The payload of one group branch (LangGraph ``Send``)."""

    group_id: str
    """The work queue this branch works (a ``GroupRecord`` in the store)."""
    auto_approve: bool
    """As in :class:`BatchState`: approve each draft as it is made."""


class ReviewState(TypedDict, total=False):
    """A letter's review thread (thread id ``review:<letter_id>``)."""

    letter_id: str
    """The letter under review."""
    status: LetterStatus
    """pending_review, approved or rejected, after the last decision."""
