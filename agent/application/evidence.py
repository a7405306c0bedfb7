"""Auditor-found evidence, as a service the CLI and the web workbench share.

:class:`EvidenceService` answers what a denial in needs_review is missing and which stored
documents its decision read (:meth:`EvidenceService.needs`), and records a span an auditor
selected in one of them as evidence for a fact (:meth:`EvidenceService.supply`): the
denial is then decided again by the workflow's own decide step
(:func:`agent.workflow.supply.supply_step`), under the store's writer lease so that no run
writes the same denials meanwhile, and the output folder's manifest.json follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from agent.application.workflow import Workflow, rebuild_manifest
from agent.playbooks.model import FactSpec
from agent.store.lease import writer_lease
from agent.store.records import DenialRecord, DocumentRef
from agent.workflow.supply import Attached, Supplied, SupplyError, attach_step, supply_step

MAX_ATTACHMENT = 25_000_000
"""The largest file an auditor may attach, in bytes (an exported chart PDF fits)."""
SUPPLIERS = frozenset({"auditor", "lead", "admin"})
"""Roles that may supply evidence (every reviewer; never the built-in system user)."""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A chart document a denial's decision read, with its text as the store keeps it."""

    ref: DocumentRef
    text: str


@dataclass(frozen=True, slots=True)
class Needs:
    """What a denial is missing, and the chart to look in."""

    record: DenialRecord
    facts: tuple[FactSpec, ...]
    """The playbook's facts (the ones an auditor may supply), required ones included."""
    missing: tuple[str, ...]
    """What the decision found missing, in the playbook's words."""
    documents: tuple[StoredDocument, ...]


class EvidenceService:
    """What a denial needs, and evidence an auditor supplies for it."""

    def __init__(self, workflow: Workflow,
                 refresh_manifest: Callable[[], object] | None = None) -> None:
        self.workflow = workflow
        self.refresh_manifest = refresh_manifest or self._rebuild

    def needs(self, denial_id: str) -> Needs:
        """The denial, its playbook's facts, what is missing and its stored documents."""
        ctx = self.workflow.ctx
        ctx.cache.pop(denial_id, None)
        found = ctx.records([denial_id])
        if not found:
            raise SupplyError(f"no denial {denial_id} in this store")
        record = found[0]
        facts = ctx.playbooks.get(record.playbook_id).facts if record.playbook_id else ()
        documents = []
        for ref in record.documents:
            text = ctx.store.get_document_text(ref.text_hash)
            if text is not None:
                documents.append(StoredDocument(ref, text))
        return Needs(record, tuple(facts), tuple(record.missing_evidence), tuple(documents))

    def supply(self, denial_id: str, document_id: str, start: int, end: int, fact: str,
               actor: str) -> Supplied:
        """Record ``text[start:end]`` of a stored document as ``fact``; decide again.

        ``actor`` must be a reviewer of the store (auditor, lead or admin). Raises
        :class:`SupplyError` for a selection the denial cannot use, and
        :class:`agent.store.lease.LeaseHeldError` while a run writes the store.
        """
        ctx = self.workflow.ctx
        self._check_reviewer(actor)
        with writer_lease(ctx.store, "supply evidence"):
            supplied = supply_step(ctx, denial_id, document_id, start, end, fact, actor)
        self.refresh_manifest()
        return supplied

    def attach(self, denial_id: str, filename: str, data: bytes, actor: str,
               document_date: date | None = None) -> Attached:
        """Add an exported note (PDF, HTML, RTF, C-CDA, text) to the denial's chart; decide.

        Its text is kept under its hash beside the original's; the denial is decided
        again with it (the extractors read it like any note), and the auditor may then
        select evidence in it. Same rules as :meth:`supply`.
        """
        ctx = self.workflow.ctx
        self._check_reviewer(actor)
        if len(data) > MAX_ATTACHMENT:
            raise SupplyError(f"the file is larger than {MAX_ATTACHMENT // 1_000_000} MB")
        with writer_lease(ctx.store, "attach a document"):
            attached = attach_step(ctx, denial_id, filename, data, actor, document_date)
        self.refresh_manifest()
        return attached

    def _check_reviewer(self, actor: str) -> None:
        user = self.workflow.ctx.store.get_user(actor)
        if user is None or user.role not in SUPPLIERS:
            raise SupplyError(f"{actor!r} is not a reviewer of this store")

    def _rebuild(self) -> None:
        if (self.workflow.ctx.out_dir / "manifest.json").is_file():
            rebuild_manifest(self.workflow)
