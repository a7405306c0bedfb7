"""The workflow's steps over a batch, each reading and writing the store.

The graph nodes (agent.graph) call these; they hold no LangGraph code, so a worker pool or a
test can run them directly. Each step is idempotent: running it again over the same
denials gives the same records and drafts nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal

from agent.codes import CodeTable
from agent.config import AppConfig
from agent.denials.from_835 import DenialRules
from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.protocols import EHRAdapter, FetchesChartsTogether, NoEHRSource
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.verify import EvidenceError, verify_evidence
from agent.letters.files import write_text_atomic
from agent.letters.render import LetterInput, LetterRenderer, letter_id_for
from agent.llm.drafter import ArgumentDrafter, DraftOutcome
from agent.llm.prompt import LetterMaterial
from agent.ncci import PtpTable
from agent.playbooks.checks import CheckRegistry, default_checks
from agent.playbooks.registry import PlaybookSet
from agent.review.actions import ReviewActions, ReviewError, content_hash
from agent.store.protocols import Store
from agent.store.records import DenialRecord, GroupRecord, LetterRecord
from agent.triage.model import Triage
from agent.triage.rules import PAID_LATER, paid_later, triage
from agent.workflow.decide import decide
from agent.workflow.grouping import group_id_for, group_key
from agent.workflow.intake import keep_denials, store_stream
from agent.workflow.rerun import (
    DraftSettings,
    Redecided,
    chart_fingerprint,
    document_refs,
    next_letter_id,
    why_decide_again,
    with_attachments,
)

logger = logging.getLogger(__name__)


NO_EHR_ERROR = "NoEHRSource"
"""``DenialRecord.error`` of a denial whose playbook needs the chart, on a run with no EHR
source (``appeals run`` without ``--ehr``)."""
NO_EHR_REASON = ("Its playbook needs the chart, and the run had no EHR source: run again "
                 "with --ehr SOURCE to decide it.")


@dataclass(slots=True)
class WorkflowContext:
    """Everything the steps use besides the graph state. Built once per process."""

    config: AppConfig
    store: Store
    out_dir: Path
    ehr: EHRAdapter
    extractors: ExtractorRegistry
    playbooks: PlaybookSet
    ncci: PtpTable
    renderer: LetterRenderer
    codes: CodeTable
    review: ReviewActions
    today: date
    drafter: ArgumentDrafter | None = None
    """The model that writes arguments; None = template-only."""
    include_late: bool = False
    """Draft appeals whose deadline has passed (``--include-late``); default: flag only."""
    redraft: bool = False
    """Draft again, with the model, pending letters that fell back to the template."""
    checks: CheckRegistry = field(default_factory=default_checks)
    rules: DenialRules = field(default_factory=DenialRules)
    cache: dict[str, DenialRecord] = field(default_factory=dict)
    """Records of this process, so steps need not reload what the previous one saved."""

    def records(self, denial_ids: Sequence[str]) -> list[DenialRecord]:
        """The records for these ids, from the cache or the store (after a restart)."""
        missing = [i for i in denial_ids if i not in self.cache]
        if missing:
            for record in self.store.get_denials(missing):
                self.cache[record.denial.denial_id] = record
        return [self.cache[i] for i in denial_ids if i in self.cache]

    def save(self, records: Sequence[DenialRecord]) -> None:
        """Write through: cache and store."""
        for record in records:
            self.cache[record.denial.denial_id] = record
        self.store.save_denials(records)


@dataclass(slots=True)
class IngestResult:
    """What the ingest step read."""

    denial_ids: list[str]
    errors: list[str]
    warnings: list[str]
    files_read: int
    """Inputs read (with or without denials); 0 when none could be read."""
    outcome_ids: list[str] = field(default_factory=list)
    """The denials (earlier ones) whose outcome a later 835 of the inputs recorded."""


def ingest_step(ctx: WorkflowContext, inputs: Sequence[str]) -> IngestResult:
    """Read the inputs; keep the records already triaged by an earlier run untouched.

    Every claim of the 835s is kept in the store, and a later 835's line that answers an
    earlier denial is recorded as its outcome, not read as a new denial
    (agent/workflow/intake.py). A denial an earlier run stored under the id another of its
    sources gives keeps that stored id, and the stored record learns the sources it had
    not seen.
    """
    stream = store_stream(ctx.store, inputs, ctx.rules, ctx.codes)
    report = stream.report(list(stream))
    ids = keep_denials(ctx.records, ctx.save, report.denials)
    files_read = report.summary.files - report.summary.files_failed
    outcome_ids = list(dict.fromkeys(o.denial_id for o in report.outcomes))
    return IngestResult(ids, report.errors, report.warnings, files_read, outcome_ids)


def triage_step(ctx: WorkflowContext, denial_ids: Sequence[str]) -> None:
    """Triage by rules, before any playbook or model; flag deadlines passed on ``today``.

    The flag is set again on every run: a deadline passes between runs.
    """
    updated = []
    for record in ctx.records(denial_ids):
        decided = record.triage or triage(record.denial, ctx.config, ctx.ncci)
        late = _past_deadline(decided, ctx.today)
        if record.triage is None or decided.past_deadline != late:
            decided = decided.model_copy(update={"past_deadline": late})
            updated.append(record.model_copy(update={"triage": decided}))
    ctx.save(updated)


PAID_LATER_WHY = "paid on a later remittance"
"""Why a pending draft is withdrawn when the payer has since paid its denial."""


@dataclass(slots=True)
class Settled:
    """What following the payer's later decisions did."""

    withdrawn: list[str] = field(default_factory=list)
    """Pending drafts withdrawn: their denials were paid since."""
    reopened: list[str] = field(default_factory=list)
    """Denials put back to work: a payment they had was taken back."""


def settle_paid_step(ctx: WorkflowContext, denial_ids: Sequence[str]) -> Settled:
    """Follow the payer's later decisions: a denial since paid is not appealed.

    A denial whose current outcome is ``overturned`` (a later 835 of this run or an
    earlier one paid it, docs/outcomes.md) gets the :func:`~agent.triage.rules.paid_later`
    triage, and its pending draft is withdrawn; approved and sent letters stand (an auditor
    decided on them). A denial triaged so whose outcome is no longer ``overturned`` (a
    later reversal took the payment back) is triaged by the rules again, to be decided
    from its chart anew with its work queue.
    """
    records = ctx.records(denial_ids)
    outcomes = ctx.store.current_outcomes([r.denial.denial_id for r in records])
    updated: list[DenialRecord] = []
    paid: dict[str, str] = {}
    for record in records:
        found = outcomes.get(record.denial.denial_id)
        overturned = found is not None and found.paid
        if record.triage is None or overturned == (record.triage.rule == PAID_LATER):
            continue
        if found is not None and overturned:
            paid[record.denial.denial_id] = PAID_LATER_WHY
            updated.append(record.model_copy(update={
                "triage": paid_later(record.triage, found.outcome)}))
        else:
            again = triage(record.denial, ctx.config, ctx.ncci)
            again = again.model_copy(update={"past_deadline": _past_deadline(again, ctx.today)})
            updated.append(record.model_copy(update={"triage": again,
                                                     "chart_fingerprint": None}))
    ctx.save(updated)
    reopened = [r.denial.denial_id for r in updated if r.denial.denial_id not in paid]
    return Settled(_withdraw(ctx, [r for r in updated if r.letter_id], paid), reopened)


def _past_deadline(decided: Triage, today: date) -> bool:
    return decided.appeal_deadline is not None and decided.appeal_deadline < today


def playbook_step(ctx: WorkflowContext, denial_ids: Sequence[str]) -> None:
    """Pick the playbook from claim data only, for the denials rules did not decide."""
    updated = []
    for record in ctx.records(denial_ids):
        if record.triage is None or record.triage.final or record.playbook_id is not None:
            continue
        playbook = ctx.playbooks.select(record.denial, record.triage.category, ctx.ncci)
        if playbook is not None:
            updated.append(record.model_copy(update={"playbook_id": playbook.id}))
    ctx.save(updated)


def group_step(ctx: WorkflowContext, denial_ids: Sequence[str]) -> list[str]:
    """Form the work queues; returns their ids in a stable order."""
    members: dict[str, list[DenialRecord]] = defaultdict(list)
    keys = {}
    for record in ctx.records(denial_ids):
        key = group_key(record.denial, record.playbook_id, ctx.rules)
        group_id = group_id_for(key)
        keys[group_id] = key
        members[group_id].append(record)
    groups = []
    updated = []
    for group_id in sorted(members):
        payer, reasons, code, playbook = keys[group_id]
        existing = ctx.store.get_group(group_id)
        ids = sorted({r.denial.denial_id for r in members[group_id]} |
                     set(existing.denial_ids if existing else ()))
        done = bool(existing and existing.done and set(ids) == set(existing.denial_ids))
        groups.append(GroupRecord(group_id=group_id, payer=payer, reasons=list(reasons),
                                  procedure=code, playbook_id=playbook, denial_ids=ids,
                                  done=done))
        updated += [r.model_copy(update={"group_id": group_id}) for r in members[group_id]
                    if r.group_id != group_id]
    ctx.store.save_groups(groups)
    ctx.save(updated)
    return [g.group_id for g in groups]


@dataclass(slots=True)
class GroupOutcome:
    """What working one queue did: letters drafted, denials decided again, drafts replaced."""

    letter_ids: list[str] = field(default_factory=list)
    redecided: list[str] = field(default_factory=list)
    """Why each denial decided by an earlier run was decided again (one entry each)."""
    superseded: list[str] = field(default_factory=list)
    """Pending drafts replaced (or withdrawn) because their denials were decided again, or
    because what they print from the configuration changed."""


def work_group_step(ctx: WorkflowContext, group_id: str, auto_approve: bool) -> GroupOutcome:
    """Gather documents, extract evidence, decide and draft, for one work queue.

    A bad claim or document fails that denial (needs_review with the error), never the
    group. A denial an earlier run decided is decided again only when its chart or its
    playbook changed; then a pending draft whose text would change is superseded, while
    approved, sent and rejected letters never change. So is a pending draft when what it
    prints from the configuration changed (the ``[letter]`` settings, its payer's row:
    :class:`~agent.workflow.rerun.DraftSettings`). Appeals past their deadline get no
    draft unless the run includes late appeals.
    """
    outcome = GroupOutcome()
    group = ctx.store.get_group(group_id)
    if group is None:
        return outcome
    charts: dict[str, ChartBundle] = {}  # one EHR look-up per denial, for decide and draft
    decided: list[DenialRecord] = []
    changed: dict[str, str] = {}  # denial id -> why it was decided again
    texts: dict[str, str] = {}  # the documents the decisions read, by hash
    updated: list[DenialRecord] = []
    records = ctx.records(group.denial_ids)
    fetched = fetch_charts(ctx, records)  # together, when the adapter can
    for record in records:
        now, why = _decide_one(ctx, record, charts, texts, fetched)
        decided.append(now)
        if now is not record:
            updated.append(now)
        if why is not None and why != "first":
            changed[now.denial.denial_id] = why
    ctx.store.save_document_texts(texts)  # before the records that name them
    ctx.save(updated)
    outcome.redecided = list(changed.values())
    settle_letters(ctx, group, decided, changed, charts, auto_approve, outcome)
    if not group.done:
        ctx.store.save_groups([group.model_copy(update={"done": True})])
    return outcome


def settle_letters(ctx: WorkflowContext, group: GroupRecord, decided: list[DenialRecord],
                   changed: dict[str, str], charts: dict[str, ChartBundle],
                   auto_approve: bool, outcome: GroupOutcome) -> None:
    """Bring the letters of these decided denials in line with their decisions.

    Pending drafts of denials no longer to be appealed are withdrawn; appeals get a draft,
    or a new one when ``changed`` (denial id -> why it was decided again) names them.
    ``charts`` holds the chart each decision read, for the drafts.
    """
    draftable = [r for r in decided if r.triage and r.triage.action == "appeal"
                 and (ctx.include_late or not r.triage.past_deadline or r.letter_id)]
    drafting = {r.denial.denial_id for r in draftable}
    outcome.superseded += _withdraw(ctx, [r for r in decided if r.letter_id and
                                          r.denial.denial_id not in drafting], changed)
    _draft_letters(ctx, group, draftable, auto_approve, charts, changed, outcome)


def _decide_one(ctx: WorkflowContext, record: DenialRecord, charts: dict[str, ChartBundle],
                texts: dict[str, str], fetched: dict[str, ChartBundle] | None = None
                ) -> tuple[DenialRecord, Redecided | Literal["first"] | None]:
    """The record after this run, and why it was decided (None: kept as it was).

    The texts of the documents a decision read are added to ``texts``, by hash.
    """
    assert record.triage is not None
    if record.triage.final:
        return record, None
    playbook = ctx.playbooks.get(record.playbook_id) if record.playbook_id else None
    try:
        chart = None
        if playbook is not None:
            denial_id = record.denial.denial_id
            found = (fetched or {}).get(denial_id) or _chart(ctx, record.denial)
            chart = charts[denial_id] = with_attachments(found, record,
                                                         ctx.store.get_document_text)
        fingerprints = (chart_fingerprint(chart),
                        ctx.playbooks.fingerprint(playbook.id) if playbook else "no playbook")
        why = why_decide_again(record, *fingerprints)
        if why is None:
            return record, None
        # From the rules' triage: an earlier decision's action and root cause do not carry
        # over into this one. A denial never decided still holds the rules' triage.
        base = record.triage
        if record.chart_fingerprint is not None or record.error is not None:
            base = triage(record.denial, ctx.config, ctx.ncci).model_copy(
                update={"past_deadline": record.triage.past_deadline})
        decision = decide(record.denial, base, playbook, chart, ctx.extractors,
                          ctx.checks, ctx.ncci, ctx.config,
                          supplied=still_in(record.supplied_evidence, chart))
    except NoEHRSource:
        if record.chart_fingerprint is not None:
            return record, None  # decided on a chart before: stands until a run has one
        return _failed(record, NO_EHR_REASON, NO_EHR_ERROR), None
    except (EvidenceError, ValueError, KeyError, OSError) as exc:
        # Frames only in the log: the message may quote the chart.
        logger.warning("denial failed during evidence gathering (%s)", type(exc).__name__)
        return _failed(record, f"Could not read the chart for this denial "
                               f"({type(exc).__name__}); an auditor decides.",
                       type(exc).__name__), None
    refs, read = document_refs(chart) if chart is not None else ([], {})
    texts.update(read)
    return record.model_copy(update={
        "triage": decision.triage, "evidence": decision.evidence,
        "missing_evidence": decision.missing, "error": None, "documents": refs,
        "chart_facts": list(chart.facts) if chart is not None else [],
        "chart_fingerprint": fingerprints[0], "playbook_fingerprint": fingerprints[1]}), why


def still_in(supplied: Sequence[Evidence], chart: ChartBundle | None) -> list[Evidence]:
    """The auditor-supplied quotes the chart still holds, each at its span.

    A document corrected since the auditor's selection drops the quote from the decision
    (it stays on the record, for the audit).
    """
    if chart is None or not supplied:
        return []
    texts = {d.document_id: d.text for d in chart.documents}
    return [e for e in supplied if e.start is not None and e.end is not None
            and texts.get(e.document_id, "")[e.start:e.end] == e.quote]


def _withdraw(ctx: WorkflowContext, records: list[DenialRecord],
              changed: dict[str, str]) -> list[str]:
    """Supersede the pending drafts of denials no longer to be appealed; their ids.

    A denial whose draft was superseded with no successor (a crash before it was unlinked)
    is unlinked now.
    """
    withdrawn = []
    for letter_id in sorted({r.letter_id for r in records if r.letter_id}):
        letter = ctx.store.get_letter(letter_id)
        members = [r for r in records if r.letter_id == letter_id]
        reasons = [changed[r.denial.denial_id] for r in members if r.denial.denial_id in changed]
        if letter is not None and letter.status == "pending_review" and reasons:
            try:
                letter = ctx.review.supersede(letter, None,
                                              f"{reasons[0]}: no longer to be appealed")
            except ReviewError:
                continue  # an auditor decided on it meanwhile: theirs stands
            withdrawn.append(letter_id)
        if letter is not None and letter.status == "superseded" and not letter.superseded_by:
            ctx.save([r.model_copy(update={"letter_id": None}) for r in members])
    return withdrawn


def fetch_charts(ctx: WorkflowContext, records: Sequence[DenialRecord]
                 ) -> dict[str, ChartBundle]:
    """The charts these records' decisions will read, by denial id, asked for together.

    Only from an adapter that fetches charts together (``FetchesChartsTogether``, e.g.
    ``fhir:URL``, concurrently); otherwise nothing, and each decision asks for its own.
    """
    if not isinstance(ctx.ehr, FetchesChartsTogether):
        return {}
    wanted = [r.denial for r in records if r.triage is not None and not r.triage.final
              and r.playbook_id and ctx.playbooks.get(r.playbook_id) is not None]
    if not wanted:
        return {}
    charts = ctx.ehr.charts_for([_request(ctx, d) for d in wanted])
    return {d.denial_id: chart for d, chart in zip(wanted, charts, strict=True)}


def _request(ctx: WorkflowContext, denial: Denial) -> ChartRequest:
    member_ids = tuple(i for i in (denial.patient.member_id,) if i)
    return ChartRequest(member_ids=member_ids, claim_id=denial.claim_id,
                        service_date=denial.service_date,
                        window_days=ctx.config.document_window_days)


def _chart(ctx: WorkflowContext, denial: Denial) -> ChartBundle:
    return ctx.ehr.chart_for(_request(ctx, denial))


@dataclass(slots=True)
class _Draft:
    """A letter to draft: its input, denials, chart, and the draft it replaces (if any)."""

    letter: LetterInput
    members: list[DenialRecord]
    chart: ChartBundle
    settings: DraftSettings
    """What the letter prints from the configuration, recorded on its denials."""
    replaces: LetterRecord | None = None
    why: str | None = None
    """Why the replaced draft is superseded (None: it already is, after a crash)."""


def _draft_letters(ctx: WorkflowContext, group: GroupRecord, records: list[DenialRecord],
                   auto_approve: bool, charts: dict[str, ChartBundle], changed: dict[str, str],
                   outcome: GroupOutcome) -> None:
    by_letter: dict[str, list[DenialRecord]] = defaultdict(list)
    for record in records:
        by_letter[letter_id_for(group.group_id, record.denial)].append(record)
    pending: list[_Draft] = []
    for base_id, members in sorted(by_letter.items()):
        try:
            draft = _plan(ctx, group, base_id, members, charts, changed)
        except NoEHRSource:
            continue  # its draft needs the chart: it stands until a run has an EHR source
        except Exception as exc:  # one letter's failure must not sink its work queue
            _letter_failed(ctx, members, exc)
            continue
        if draft is not None:
            pending.append(draft)
    arguments = _arguments(ctx, [(d.letter, d.members, d.chart) for d in pending])
    for draft, argument in zip(pending, arguments, strict=True):
        try:
            drafted = _draft_one(ctx, draft, auto_approve, argument)
        except Exception as exc:  # one letter's failure must not sink its work queue
            _letter_failed(ctx, draft.members, exc)
            continue
        if drafted is not None:
            outcome.letter_ids.append(drafted)
            if draft.replaces is not None:
                outcome.superseded.append(draft.replaces.letter_id)


def _plan(ctx: WorkflowContext, group: GroupRecord, base_id: str,
          members: list[DenialRecord], charts: dict[str, ChartBundle],
          changed: dict[str, str]) -> _Draft | None:
    """What to draft for these denials' letter; None when their letter stands as it is."""
    letter_id = next((r.letter_id for r in members if r.letter_id), base_id)
    letter = ctx.store.get_letter(letter_id)
    replaces = None
    while letter is not None and letter.status == "superseded" and letter.superseded_by:
        successor = ctx.store.get_letter(letter.superseded_by)
        if successor is None:  # a crash after superseding, before drafting its successor
            replaces, letter_id, letter = letter, letter.superseded_by, None
            break
        letter = successor
    if letter is not None and letter.status == "superseded":  # withdrawn, now due again
        replaces, letter_id, letter = letter, next_letter_id(letter.letter_id), None
    why: str | None = None
    first = members[0].denial
    assert group.playbook_id is not None  # only a playbook's appeals are drafted
    settings = DraftSettings.of(ctx.config, first, group.playbook_id)
    if letter is not None:
        _relink(ctx, letter.letter_id, members)  # drafted by an earlier run: never twice
        if letter.status != "pending_review":
            return None  # approved, sent and rejected letters never change
        reasons = [changed[r.denial.denial_id] for r in members if r.denial.denial_id in changed]
        redraft = ctx.redraft and ctx.drafter is not None and letter.llm_fallback is not None
        if reasons:
            why = reasons[0]
        elif redraft:
            why = "drafted again with the model"
        else:  # decided as before: drafted again only when what it prints changed
            why = settings.why_redraft(members)
        if why is None:
            _record_settings(ctx, members, settings)  # a draft of a release that kept none
            return None
        replaces, letter_id = letter, next_letter_id(letter.letter_id)
    chart = charts.get(first.denial_id) or _chart(ctx, first)
    return _Draft(_letter_input(group, letter_id, members, chart, ctx.playbooks), members,
                  chart, settings, replaces, why)


def _record_settings(ctx: WorkflowContext, members: list[DenialRecord],
                     settings: DraftSettings) -> None:
    """Record on the denials the settings their letter's current draft shows.

    Read again from the cache: these denials may have been re-linked meanwhile.
    """
    current = ctx.records([r.denial.denial_id for r in members])
    ctx.save([now for now, was in ((settings.recorded_on(r), r) for r in current)
              if now is not was])


def _letter_failed(ctx: WorkflowContext, members: list[DenialRecord], exc: Exception) -> None:
    logger.warning("letter could not be drafted (%s)", type(exc).__name__)
    ctx.save([_failed(r, f"The letter could not be drafted ({type(exc).__name__}); "
                         "an auditor decides.", type(exc).__name__) for r in members])


def _arguments(ctx: WorkflowContext,
               pending: list[tuple[LetterInput, list[DenialRecord], ChartBundle]]
               ) -> list[DraftOutcome]:
    """The model's argument for the queue's letters (one request shared by all).

    The template's argument when no model is configured or it fails.
    """
    if ctx.drafter is None or not pending:
        return [DraftOutcome("template") for _ in pending]
    try:
        return ctx.drafter.draft([LetterMaterial(letter, chart)
                                  for letter, _members, chart in pending])
    except Exception as exc:  # a bug on the model path never costs a letter
        logger.warning("LLM drafting failed (%s); template argument used",
                       type(exc).__name__)
        return [DraftOutcome("template", fallback="error: internal") for _ in pending]


def _failed(record: DenialRecord, reason: str, error: str) -> DenialRecord:
    assert record.triage is not None
    triage = record.triage.model_copy(update={"action": "needs_review", "reason": reason})
    return record.model_copy(update={"triage": triage, "error": error})


def _letter_input(group: GroupRecord, letter_id: str, members: list[DenialRecord],
                  chart: ChartBundle, playbooks: PlaybookSet) -> LetterInput:
    assert group.playbook_id is not None
    evidence = list({(e.document_id, e.start, e.end, e.fact): e
                     for r in members for e in r.evidence}.values())
    diagnoses = tuple(f.display for f in chart.facts
                      if f.resource_type == "Condition" and f.display)[:5]
    codes = {code for r in members for code in r.denial.claim_procedure_codes}
    procedures = tuple(dict.fromkeys(
        (f.code, f.display) for f in chart.facts
        if f.resource_type == "Procedure" and f.code in codes and f.display))
    return LetterInput(letter_id=letter_id, group_id=group.group_id,
                       denials=tuple(r.denial for r in members),
                       playbook=playbooks.get(group.playbook_id), evidence=tuple(evidence),
                       patient=chart.patient, diagnoses=diagnoses, procedures=procedures)


def _draft_one(ctx: WorkflowContext, draft: _Draft, auto_approve: bool,
               outcome: DraftOutcome) -> str | None:
    """Render, write and store one draft; the id, or None when the text did not change."""
    letter, members, chart = draft.letter, draft.members, draft.chart
    if outcome.evidence:  # accepted proposals: checked at their spans, cited like the rest
        verify_evidence(outcome.evidence, chart)
        letter = replace(letter, evidence=(*letter.evidence, *outcome.evidence))
        members = [r.model_copy(update={"evidence": [*r.evidence, *outcome.evidence]})
                   for r in members]
    text = ctx.renderer.render(letter, ctx.today, outcome.paragraphs or None)
    replaces = draft.replaces
    if replaces is not None and draft.why is not None:
        if content_hash(text) == replaces.content_hash:
            _record_settings(ctx, draft.members, draft.settings)
            return None  # decided again, same letter: the draft stands
        # First the old draft is superseded (compare-and-set: an auditor who decided on it
        # meanwhile wins), then its successor is written; a crash in between is finished
        # by the next run, which drafts the successor the old draft names.
        ctx.review.supersede(replaces, letter.letter_id, draft.why)
    letter_id = letter.letter_id
    relative = Path("letters") / letter.group_id / f"{letter_id}.md"
    write_text_atomic(ctx.out_dir / relative, text)
    record = LetterRecord(letter_id=letter_id, group_id=letter.group_id,
                          claim_id=members[0].denial.claim_id,
                          denial_ids=[r.denial.denial_id for r in members],
                          markdown=relative.as_posix(), content_hash=content_hash(text),
                          drafted_by=outcome.drafted_by, tokens_in=outcome.tokens_in,
                          tokens_out=outcome.tokens_out, llm_fallback=outcome.fallback,
                          supersedes=replaces.letter_id if replaces else None)
    ctx.review.save_draft(record)  # the letter and its "drafted" row, in one transaction
    ctx.save([draft.settings.recorded_on(r).model_copy(update={"letter_id": letter_id})
              for r in members])
    if auto_approve:
        ctx.review.auto_approve(letter_id)
    return letter_id


def _relink(ctx: WorkflowContext, letter_id: str, members: list[DenialRecord]) -> None:
    """A crash between a letter's save and its denials' may have left them without it."""
    unlinked = [r for r in members if r.letter_id != letter_id]
    if unlinked:
        logger.warning("re-linked %d denials to their letter (a crash had left them "
                       "unlinked)", len(unlinked))
        ctx.save([r.model_copy(update={"letter_id": letter_id}) for r in unlinked])
