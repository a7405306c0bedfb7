"""Graph state. Kept JSON-shaped (ids and strings): the records themselves live in the
store, so a checkpoint stays small whatever the batch size."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict


class BatchState(TypedDict, total=False):
    """The batch thread: one ``appeals run`` over some inputs."""

    run_id: str
    """Stable for the same inputs: a re-run resumes or re-uses the same thread."""
    inputs: list[str]
    """835 files and denial queues, as given."""
    auto_approve: bool
    """Approve each draft as it is made (tests and benchmarks only)."""
    denial_ids: list[str]
    """Every denial read from the inputs (set by ingest)."""
    errors: list[str]
    """Files or rows that could not be read (one line each, no PHI)."""
    warnings: list[str]
    group_ids: list[str]
    """Work queues (set by group)."""
    done_groups: Annotated[list[str], operator.add]
    """Groups whose work finished (one entry per group branch; fan-in by concatenation)."""
    letter_ids: Annotated[list[str], operator.add]
    """Letters drafted by this run."""


class GroupTask(TypedDict):
    """The payload of one group branch (LangGraph ``Send``)."""

    group_id: str
    auto_approve: bool


class ReviewState(TypedDict, total=False):
    """A letter's review thread (thread id ``review:<letter_id>``)."""

    letter_id: str
    status: str
    """pending_review, approved or rejected, after the last decision."""
