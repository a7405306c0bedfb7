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
from datetime import datetime

from agent.evidence.model import Evidence
from agent.store.records import AuditEntry, DenialRecord
from agent.triage.rules import triage
from agent.workflow.decide import decide
from agent.workflow.rerun import stored_chart
from agent.workflow.steps import GroupOutcome, WorkflowContext, settle_letters

SUPPLIED = "evidence supplied"
"""Why a denial is decided again after an auditor supplied evidence (the supersede note)."""


class SupplyError(ValueError):
    """A selection that cannot be evidence for this denial: the message says why, no PHI."""


@dataclass(slots=True)
class Supplied:
    """What supplying one quote did."""

    record: DenialRecord
    """The denial as decided now."""
    evidence: Evidence
    """The quote as recorded (with its value, when the fact's extractor reads one)."""
    letter_ids: list[str] = field(default_factory=list)
    """Letters drafted for it (an appeal it now is)."""
    superseded: list[str] = field(default_factory=list)
    """Pending drafts replaced or withdrawn."""


def supply_step(ctx: WorkflowContext, denial_id: str, document_id: str, start: int,
                end: int, fact: str, actor: str) -> Supplied:
    """Record ``text[start:end]`` of a stored document as ``fact`` for the denial; decide.

    Raises :class:`SupplyError` when the denial, its playbook, the fact or the document is
    not one this denial's decision can use, or the span is empty or out of the text.
    """
    ctx.cache.pop(denial_id, None)  # a run in another process may have moved it on
    found = ctx.records([denial_id])
    record = found[0] if found else None
    if record is None or record.triage is None:
        raise SupplyError(f"no denial {denial_id} in this store")
    if record.triage.final or record.playbook_id is None or record.group_id is None:
        raise SupplyError(f"denial {denial_id} was decided by the rules, not a playbook: "
                          "no chart evidence changes it")
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
    chosen = Evidence(quote=document.text[start:end], document_id=document_id, start=start,
                      end=end, fact=fact, document_date=document.date,
                      document_title=document.title, found_by=actor)
    supplied = [e for e in record.supplied_evidence
                if (e.document_id, e.start, e.end, e.fact) != (document_id, start, end, fact)]
    supplied.append(chosen)
    base = triage(record.denial, ctx.config, ctx.ncci).model_copy(
        update={"past_deadline": record.triage.past_deadline})
    decision = decide(record.denial, base, playbook, chart, ctx.extractors, ctx.checks,
                      ctx.ncci, ctx.config, supplied=supplied)
    recorded = next((e for e in decision.evidence if (e.document_id, e.start, e.end, e.fact)
                     == (document_id, start, end, fact)), chosen)
    now = record.model_copy(update={
        "triage": decision.triage, "evidence": decision.evidence,
        "missing_evidence": decision.missing, "error": None, "supplied_evidence": supplied,
        "chart_facts": list(chart.facts)})
    ctx.save([now])
    ctx.store.append_audit(_entry(ctx.review.clock(), denial_id, actor, fact, document_id,
                                  start, end))
    outcome = GroupOutcome()
    group = ctx.store.get_group(record.group_id)
    if group is not None:
        # This denial's letter only: the claim's other lines in the queue share it.
        members = [r for r in ctx.records(group.denial_ids)
                   if r.denial.claim_id == now.denial.claim_id]
        charts = {r.denial.denial_id: stored_chart(r, ctx.store.get_document_text)
                  for r in members}
        settle_letters(ctx, group, members, {denial_id: SUPPLIED}, charts, False, outcome)
    (after,) = ctx.records([denial_id])
    return Supplied(after, recorded, outcome.letter_ids, outcome.superseded)


def _entry(at: datetime, denial_id: str, actor: str, fact: str, document_id: str, start: int,
           end: int) -> AuditEntry:
    """The audit row: who supplied which span for which fact (ids and offsets, no text)."""
    return AuditEntry(letter_id=None, subject=f"denial:{denial_id}", actor=actor,
                      at=at, action="evidence_supplied", hash_before=None,
                      hash_after=None,
                      note=f"{fact}: {document_id}, characters {start}-{end}")
