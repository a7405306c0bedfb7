"""Evidence an auditor supplies: a span of a stored chart document, decided on like any other.

A denial waits in needs_review when its chart does not show a fact its playbook needs (as
far as the extractors can tell). The auditor who finds the fact in one of the documents
the decision read selects it; :func:`supply_step` checks the selection as
``text[start:end]`` of the stored document (the text kept under its hash, never the
chart as it may be now), records it on the denial as auditor-found evidence, and decides
the denial again through :func:`agent.workflow.decide.decide` with the same playbook,
checks and rules: the quote may complete the facts (an appeal is drafted), leave others
missing, or make a ``not_appeal`` rule fire. Nothing flips a status by hand.

The decision reads the stored chart (:func:`agent.workflow.rerun.stored_chart`), so no
EHR is needed; the chart fingerprint is kept, so a later run decides again only when the
chart itself changed, and then reads the supplied quotes again where the chart still
holds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePosixPath

from agent.ehr.formats import SUFFIXES, extract_text
from agent.evidence.model import Evidence
from agent.evidence.quality import selection_problem
from agent.store.records import AuditAction, AuditEntry, DenialRecord, DocumentRef
from agent.triage.rules import triage
from agent.workflow.decide import decide
from agent.workflow.rerun import stored_chart, text_hash
from agent.workflow.steps import GroupOutcome, WorkflowContext, settle_letters

SUPPLIED = "evidence supplied"
"""Why a denial is decided again after an auditor supplied evidence (the supersede note)."""
ATTACHED = "document attached"
"""Why a denial is decided again after an auditor attached a document to its chart."""
UPLOAD_PREFIX = "upload/"
"""Document ids of attached documents: ``upload/`` and the start of the file's hash."""


class SupplyError(ValueError):
    """A selection that cannot be evidence for this denial: the message says why, no PHI."""


@dataclass(slots=True)
class Supplied:
    """What supplying one quote did."""

    record: DenialRecord
    """The denial as decided now."""
    evidence: Evidence | None
    """The quote as recorded (with its value, when the fact's extractor reads one)."""
    letter_ids: list[str] = field(default_factory=list)
    """Letters drafted for it (an appeal it now is)."""
    superseded: list[str] = field(default_factory=list)
    """Pending drafts replaced or withdrawn."""


@dataclass(slots=True)
class Attached:
    """What attaching one document did."""

    record: DenialRecord
    """The denial as decided now, the document in its chart."""
    document: DocumentRef
    letter_ids: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)


def supply_step(ctx: WorkflowContext, denial_id: str, document_id: str, start: int,
                end: int, fact: str, actor: str) -> Supplied:
    """Record ``text[start:end]`` of a stored document as ``fact`` for the denial; decide.

    Raises :class:`SupplyError` when the denial, its playbook, the fact or the document is
    not one this denial's decision can use, or the span is empty or out of the text.
    """
    record = _decided_by_playbook(ctx, denial_id)
    assert record.playbook_id is not None
    playbook = ctx.playbooks.get(record.playbook_id)
    if fact not in {spec.id for spec in playbook.facts}:
        known = ", ".join(spec.id for spec in playbook.facts)
        raise SupplyError(f"the {playbook.id} playbook has no fact {fact!r} (its facts: "
                          f"{known})")
    chart = stored_chart(record, ctx.store.get_document_text)
    document = next((d for d in chart.documents if d.document_id == document_id), None)
    if document is None:
        raise SupplyError(f"{document_id} is not a stored document of denial {denial_id}")
    if not 0 <= start < end <= len(document.text) or not document.text[start:end].strip():
        raise SupplyError(f"characters {start}-{end} are not a non-empty span of "
                          f"{document_id} ({len(document.text)} characters)")
    problem = selection_problem(document.text, start, end)
    if problem is not None:
        raise SupplyError(f"characters {problem} of {document_id}: select whole sentences "
                          "or a whole clause of the chart's own statements")
    chosen = Evidence(quote=document.text[start:end], document_id=document_id, start=start,
                      end=end, fact=fact, document_date=document.date,
                      document_title=document.title, found_by=actor)
    supplied = [e for e in record.supplied_evidence
                if (e.document_id, e.start, e.end, e.fact) != (document_id, start, end, fact)]
    supplied.append(chosen)
    entry = _entry(ctx, denial_id, actor, "evidence_supplied",
                   f"{fact}: {document_id}, characters {start}-{end}")
    done = _decide_again(ctx, record.model_copy(update={"supplied_evidence": supplied}),
                         entry, SUPPLIED)
    key = (document_id, start, end, fact)
    done.evidence = next((e for e in done.record.evidence
                          if (e.document_id, e.start, e.end, e.fact) == key), chosen)
    return done


def attach_step(ctx: WorkflowContext, denial_id: str, filename: str, data: bytes,
                actor: str, document_date: date | None = None) -> Attached:
    """Add a document the auditor found to the denial's chart and decide it again.

    The document is an exported note of any readable type; its text is kept under its
    hash, beside the original's. The agent's own extractors read it like any note; the
    auditor may then select evidence in it (:func:`supply_step`). Later runs read it with
    the EHR's chart (:func:`agent.workflow.rerun.with_attachments`). Raises
    :class:`SupplyError` for a file with no readable text (a scan, an unknown type).
    """
    record = _decided_by_playbook(ctx, denial_id)
    name = PurePosixPath(filename.replace("\\", "/")).name or "document"
    read = extract_text(data, SUFFIXES.get(PurePosixPath(name).suffix.lower()))
    if read.text is None:
        raise SupplyError(f"the file could not be used: {read.problem}")
    ref = DocumentRef(document_id=f"{UPLOAD_PREFIX}{read.original_hash[7:23]}",
                      date=document_date, text_hash=text_hash(read.text), title=name,
                      content_type=read.media_type, linked_by="uploaded",
                      original_hash=read.original_hash)
    ctx.store.save_document_texts({ref.text_hash: read.text})
    kept = [r for r in record.attached_documents if r.document_id != ref.document_id]
    documents = [r for r in record.documents if r.document_id != ref.document_id]
    entry = _entry(ctx, denial_id, actor, "document_attached",
                   f"{ref.document_id}, {read.media_type}, {len(read.text)} characters")
    done = _decide_again(ctx, record.model_copy(update={
        "attached_documents": [*kept, ref], "documents": [*documents, ref]}), entry,
        ATTACHED)
    return Attached(done.record, ref, done.letter_ids, done.superseded)


def _decided_by_playbook(ctx: WorkflowContext, denial_id: str) -> DenialRecord:
    """The denial as stored now; refused unless a playbook decides it from its chart."""
    ctx.cache.pop(denial_id, None)  # a run in another process may have moved it on
    found = ctx.records([denial_id])
    record = found[0] if found else None
    if record is None or record.triage is None:
        raise SupplyError(f"no denial {denial_id} in this store")
    if record.triage.final or record.playbook_id is None or record.group_id is None:
        raise SupplyError(f"denial {denial_id} was decided by the rules, not a playbook: "
                          "no chart evidence changes it")
    return record


def _decide_again(ctx: WorkflowContext, record: DenialRecord, entry: AuditEntry,
                  why: str) -> Supplied:
    """Decide the denial from its stored chart, with what the auditor added.

    The record and its audit row are saved, then its claim's letter is drafted or
    withdrawn as a run would.
    """
    assert record.triage is not None and record.playbook_id is not None
    assert record.group_id is not None
    playbook = ctx.playbooks.get(record.playbook_id)
    chart = stored_chart(record, ctx.store.get_document_text)
    base = triage(record.denial, ctx.config, ctx.ncci).model_copy(
        update={"past_deadline": record.triage.past_deadline})
    decision = decide(record.denial, base, playbook, chart, ctx.extractors, ctx.checks,
                      ctx.ncci, ctx.config, supplied=record.supplied_evidence)
    now = record.model_copy(update={
        "triage": decision.triage, "evidence": decision.evidence,
        "missing_evidence": decision.missing, "error": None,
        "chart_facts": list(chart.facts)})
    ctx.save([now])
    ctx.store.append_audit(entry)
    outcome = GroupOutcome()
    group = ctx.store.get_group(record.group_id)
    if group is not None:
        # This denial's letter only: the claim's other lines in the queue share it.
        members = [r for r in ctx.records(group.denial_ids)
                   if r.denial.claim_id == now.denial.claim_id]
        charts = {r.denial.denial_id: stored_chart(r, ctx.store.get_document_text)
                  for r in members}
        settle_letters(ctx, group, members, {now.denial.denial_id: why}, charts, False,
                       outcome)
    (after,) = ctx.records([now.denial.denial_id])
    return Supplied(after, None, outcome.letter_ids, outcome.superseded)


def _entry(ctx: WorkflowContext, denial_id: str, actor: str, action: AuditAction,
           note: str) -> AuditEntry:
    """The audit row of an auditor's addition (ids, offsets and types, never text)."""
    return AuditEntry(letter_id=None, subject=f"denial:{denial_id}", actor=actor,
                      at=ctx.review.clock(), action=action, hash_before=None,
                      hash_after=None, note=note)
