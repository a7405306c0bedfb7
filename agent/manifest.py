"""``DIR/manifest.json``: the output contract of a run, validated by a committed JSON Schema.

Keep it stable: extend it, never rename. ``docs/manifest.schema.json`` is generated from
these models (tools/generate_schemas.py) and a test checks both.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.denials.outcomes import Outcome
from agent.letters.files import write_text_atomic
from agent.llm.drafter import LLMRunStatus
from agent.store.records import DenialRecord, GroupRecord, LetterRecord, OutcomeRecord
from agent.triage.model import Action, Category, DollarBucket, RootCause

try:
    import fcntl
except ImportError:  # Windows: one reviewer at a time there
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION: Literal["1.2"] = "1.2"
"""1.1 added (only added): letter statuses sent and superseded, triage.past_deadline, each
denial's sources, the summary's as_of, input_warnings, ehr_warnings, past_deadline,
late_not_drafted, redecided and letters_superseded. 1.2 added: each denial's outcome,
recovered_amount and outcome_date, the top-level outcomes (earlier runs' denials this run
recorded an outcome for), a letter's sent_on and sent_via, and the summary's needs_ehr."""


Day = date
"""``date``, under a name a field called ``date`` does not hide."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MPayer(_M):
    """The payer that issued the denial: its name and payer id, when the input gave them."""

    name: str | None
    id: str | None


class MPatient(_M):
    """The patient as the payer knows them: member id and name."""

    member_id: str | None
    name: str | None


class MProcedure(_M):
    """The procedure of the denied line as the payer adjudicated it (code, modifiers, units)."""

    code: str
    modifiers: list[str]
    units: Decimal | None
    original_code: str | None = Field(description="The code billed when the payer changed "
                                      "it (SVC06).")


class MAdjustment(_M):
    """One adjustment of the denial: CAS group code, CARC and amount."""

    group: str
    reason: str
    amount: Decimal


class MTriage(_M):
    """The triage of the denial: action, category, prevention, root cause and appeal deadline."""

    action: Action
    category: Category
    preventable: bool
    dollar_bucket: DollarBucket
    root_cause: RootCause
    appeal_deadline: date | None
    reason: str
    past_deadline: bool = Field(False, description="The appeal deadline had passed on the "
                                "run's date (summary.as_of).")


class MEvidence(_M):
    """A quote from the chart cited for a playbook fact, with its document and offsets."""

    quote: str
    document_id: str
    start: int | None
    end: int | None
    fact: str
    value: str | None = Field(None, description="What the quote was read as (minutes, ASA "
                              "class), when the fact has a value.")
    decides: bool = Field(False, description="The quote the write-off or corrected claim "
                          "was decided on (the chart's own words behind it).")
    found_by: str | None = Field(None, description="The auditor who selected this quote "
                                 "in the chart; None when the agent found it.")


class MLetter(_M):
    """The appeal letter of a denial: review status, files and how it was drafted."""

    id: str | None
    status: Literal["pending_review", "approved", "rejected", "sent", "superseded",
                    "not_drafted"] = Field(description="not_drafted: no letter (not to be "
                                           "appealed, or past its deadline); superseded: "
                                           "the chart or playbook changed before approval "
                                           "and no new draft is due.")
    markdown: str | None = Field(description="Path relative to the output directory.")
    docx: str | None = Field(description="Path relative to the output directory, once "
                             "approved.")
    drafted_by: Literal["template", "llm"] | None
    tokens_in: int = Field(0, description="Model tokens spent on this letter (its share of "
                           "its work queue's requests).")
    tokens_out: int = 0
    llm_fallback: str | None = Field(None, description="Why the template argument was used "
                                     "although the model was on: a fixed code, 'rejected: "
                                     "<check>' (grounding, values, quotes, negation, "
                                     "polarity, facts, injection, stance, identifier, shape, "
                                     "checks), 'error: <kind>' (timeout, connection, "
                                     "server_error, invalid_reply...) or 'stopped: "
                                     "max_cost' / 'stopped: llm_unavailable'; never the "
                                     "model's text.")
    sent_on: date | None = Field(None, description="The day the letter went to the payer "
                                 "(`appeals review sent --date`).")
    sent_via: Literal["mail", "fax", "portal"] | None = Field(
        None, description="How it went (`appeals review sent --channel`).")


class MSource(_M):
    """An input that carried the denial: an 835 (segment) or a worklist (row)."""

    kind: Literal["835", "queue"]
    file: str
    segment: int | None = None
    row: int | None = None


class MDenial(_M):
    """One denial of the run: what the payer sent, its triage, evidence and letter."""

    denial_id: str
    claim_id: str
    payer_claim_number: str | None
    payer: MPayer
    patient: MPatient
    service_date: date | None
    procedure: MProcedure | None
    billed: Decimal
    paid: Decimal
    denied_amount: Decimal
    adjustments: list[MAdjustment]
    remarks: list[str]
    triage: MTriage
    group_id: str | None
    playbook: str | None
    evidence: list[MEvidence]
    missing_evidence: list[str]
    error: str | None
    letter: MLetter
    sources: list[MSource] = Field(default_factory=list, description="Every input that "
                                   "carried this denial, the first read first (an 835 line "
                                   "and a worklist row of it are one denial).")
    outcome: Outcome = Field("open", description="What the payer decided since, by the "
                             "latest later 835 read (docs/outcomes.md): overturned (no "
                             "denial reason left), partial (paid, a denial reason left), "
                             "upheld (paid nothing, a denial reason left) or open (no "
                             "later 835 yet).")
    recovered_amount: Decimal | None = Field(None, description="Dollars the later 835 paid "
                                             "beyond what the denied line had paid; None "
                                             "while open.")
    outcome_date: date | None = Field(None, description="The later 835's production date; "
                                      "None while open.")


class MOutcome(_M):
    """An earlier run's denial whose outcome this run recorded (from a later 835)."""

    denial_id: str
    outcome: Outcome = Field(description="Its outcome now (the latest decision read).")
    recovered_amount: Decimal
    date: Day | None = Field(description="The production date of the 835 that decided it.")


class MGroup(_M):
    """A work queue: denials of one payer, reasons, submitted procedure and playbook."""

    group_id: str
    payer: str
    reasons: list[str]
    procedure: str | None
    playbook: str | None
    denial_ids: list[str]


class MDeadline(_M):
    """A denial to appeal or review and its appeal deadline (the summary lists the nearest ten)."""

    denial_id: str
    claim_id: str
    appeal_deadline: date
    action: Action


class MLLM(_M):
    """What the model did in the run (as seen by the last process that ran it)."""

    enabled: bool
    model: str | None
    requests: int
    repairs: int
    failed_requests: int
    letters_by_llm: int
    letters_by_template: int
    proposals_accepted: int = Field(description="Quotes the model proposed that were "
                                    "located verbatim and taken as evidence.")
    proposals_rejected: int
    tokens_in: int = Field(description="Sum over the run's letters.")
    tokens_out: int
    estimated_cost: Decimal | None = Field(description="USD, when prices are configured.")
    switched_to_template: bool = Field(description="The run stopped calling the model "
                                       "(consecutive failures or --max-cost).")
    note: str | None


class MSummary(_M):
    """The run at a glance: counts by action and letter status, dollars, deadlines."""

    denials: int
    by_action: dict[str, int]
    letters_drafted: int
    letters_by_status: dict[str, int]
    groups: int
    dollars_at_stake: Decimal
    nearest_deadlines: list[MDeadline]
    input_errors: list[str]
    llm: MLLM | None = Field(None, description="Present when the run used a model.")
    as_of: date | None = Field(None, description="The day the run counted as today "
                               "(--as-of, else the machine's date).")
    input_warnings: list[str] = Field(default_factory=list, description="What was read with "
                                      "a warning (a file's oddities), one line each, no PHI.")
    ehr_warnings: list[str] = Field(default_factory=list, description="What the EHR source "
                                    "could not use (files skipped, no resources at all).")
    past_deadline: int = Field(0, description="Denials to appeal or review whose appeal "
                               "deadline had passed on as_of.")
    late_not_drafted: int = Field(0, description="Appeals past their deadline that got no "
                                  "letter (run with --include-late to draft them).")
    redecided: dict[str, int] = Field(default_factory=dict, description="Denials an earlier "
                                      "run decided that this run decided again, by why "
                                      "(chart changed, playbook changed).")
    letters_superseded: int = Field(0, description="Pending drafts this run superseded.")
    needs_ehr: int = Field(0, description="Denials whose playbook needs the chart, left in "
                           "needs_review because the run had no EHR source (--ehr).")


class Manifest(_M):
    """The manifest of one run: its inputs, summary, work queues, denials and outcomes.

    The summary counts the run's own denials only; ``outcomes`` lists denials of earlier
    runs that a later 835 of this run answered.
    """

    schema_version: Literal["1.2"] = SCHEMA_VERSION
    run_id: str
    inputs: list[str]
    summary: MSummary
    groups: list[MGroup]
    denials: list[MDenial]
    outcomes: list[MOutcome] = Field(default_factory=list, description="Denials of earlier "
                                     "runs whose outcome this run recorded, with that "
                                     "outcome as it stands.")


@dataclass(frozen=True, slots=True)
class RunNotes:
    """What a run saw besides its records: its date, warnings, re-decisions."""

    as_of: date | None = None
    input_warnings: tuple[str, ...] = ()
    ehr_warnings: tuple[str, ...] = ()
    redecided: tuple[str, ...] = ()
    """Why each re-decided denial was decided again, one entry per denial."""
    superseded: tuple[str, ...] = ()
    """Ids of the drafts the run superseded."""
    needs_ehr: int = 0
    """Denials left in needs_review because their chart was needed and no EHR was given."""


def build_manifest(run_id: str, inputs: list[str], records: list[DenialRecord],
                   groups: list[GroupRecord], letters: dict[str, LetterRecord],
                   input_errors: list[str], llm: LLMRunStatus | None = None,
                   notes: RunNotes | None = None,
                   outcomes: dict[str, OutcomeRecord] | None = None,
                   earlier: list[str] | None = None) -> Manifest:
    """The manifest of a run from its records.

    ``outcomes`` holds the current outcome of every denial that has one (the run's and
    ``earlier``'s); ``earlier`` lists the earlier runs' denials this run recorded one for.
    """
    notes = notes or RunNotes()
    outcomes = outcomes or {}
    denials = [_denial(r, letters, outcomes.get(r.denial.denial_id)) for r in records]
    open_actions = ("appeal", "needs_review")
    late = [d for d in denials if d.triage.past_deadline and d.triage.action in open_actions]
    by_action = Counter(d.triage.action for d in denials)
    # Deadlines matter for what may still be appealed: drafted appeals and open reviews.
    dated = sorted((d for d in denials if d.triage.appeal_deadline and
                    d.triage.action in ("appeal", "needs_review")),
                   key=lambda d: d.triage.appeal_deadline or date.max)
    summary = MSummary(
        denials=len(denials), by_action=dict(sorted(by_action.items())),
        letters_drafted=len(letters),
        letters_by_status=dict(sorted(Counter(x.status for x in letters.values()).items())),
        groups=len(groups), dollars_at_stake=sum((d.denied_amount for d in denials),
                                                 Decimal(0)),
        nearest_deadlines=[MDeadline(denial_id=d.denial_id, claim_id=d.claim_id,
                                     appeal_deadline=d.triage.appeal_deadline,
                                     action=d.triage.action)
                           for d in dated[:10] if d.triage.appeal_deadline],
        input_errors=input_errors, llm=_llm(llm, letters) if llm else None,
        as_of=notes.as_of, input_warnings=list(notes.input_warnings),
        ehr_warnings=list(notes.ehr_warnings), past_deadline=len(late),
        late_not_drafted=sum(1 for d in late if d.triage.action == "appeal"
                             and d.letter.status == "not_drafted"),
        redecided=dict(sorted(Counter(notes.redecided).items())),
        letters_superseded=len(set(notes.superseded)), needs_ehr=notes.needs_ehr)
    answered = [MOutcome(denial_id=i, outcome=o.outcome.outcome,
                         recovered_amount=o.outcome.recovered_amount,
                         date=o.outcome.decided_on)
                for i in earlier or () if (o := outcomes.get(i)) is not None]
    return Manifest(run_id=run_id, inputs=inputs, summary=summary, denials=denials,
                    groups=[MGroup(group_id=g.group_id, payer=g.payer, reasons=g.reasons,
                                   procedure=g.procedure, playbook=g.playbook_id,
                                   denial_ids=g.denial_ids) for g in groups],
                    outcomes=answered)


def _llm(status: LLMRunStatus, letters: dict[str, LetterRecord]) -> MLLM:
    tokens_in = sum(x.tokens_in for x in letters.values())
    tokens_out = sum(x.tokens_out for x in letters.values())
    by_llm = sum(1 for x in letters.values() if x.drafted_by == "llm")
    return MLLM(enabled=status.enabled, model=status.model, requests=status.requests,
                repairs=status.repairs, failed_requests=status.failed_requests,
                letters_by_llm=by_llm, letters_by_template=len(letters) - by_llm,
                proposals_accepted=status.proposals_accepted,
                proposals_rejected=status.proposals_rejected,
                tokens_in=tokens_in, tokens_out=tokens_out,
                estimated_cost=status.estimated_cost,
                switched_to_template=status.switched_to_template, note=status.note)


def _mletter(letter: LetterRecord) -> MLetter:
    return MLetter(id=letter.letter_id, status=letter.status, markdown=letter.markdown,
                   docx=letter.docx, drafted_by=letter.drafted_by,
                   tokens_in=letter.tokens_in, tokens_out=letter.tokens_out,
                   llm_fallback=letter.llm_fallback, sent_on=letter.sent_on,
                   sent_via=letter.sent_via)


def _denial(record: DenialRecord, letters: dict[str, LetterRecord],
            outcome: OutcomeRecord | None = None) -> MDenial:
    d = record.denial
    assert record.triage is not None
    t = record.triage
    letter = letters.get(record.letter_id or "")
    procedure = d.procedure
    return MDenial(
        denial_id=d.denial_id, claim_id=d.claim_id, payer_claim_number=d.payer_claim_number,
        payer=MPayer(name=d.payer.name, id=d.payer.id),
        patient=MPatient(member_id=d.patient.member_id, name=d.patient.name),
        service_date=d.service_date,
        procedure=MProcedure(code=procedure.code, modifiers=list(procedure.modifiers),
                             units=procedure.units, original_code=procedure.original_code)
        if procedure else None,
        billed=d.billed, paid=d.paid, denied_amount=d.denied_amount,
        adjustments=[MAdjustment(group=a.group, reason=a.reason, amount=a.amount)
                     for a in (*d.adjustments, *d.claim_adjustments)],
        remarks=list(d.remarks),
        triage=MTriage(action=t.action, category=t.category, preventable=t.preventable,
                       dollar_bucket=t.dollar_bucket, root_cause=t.root_cause,
                       appeal_deadline=t.appeal_deadline, reason=t.reason,
                       past_deadline=t.past_deadline),
        group_id=record.group_id, playbook=record.playbook_id,
        evidence=[MEvidence(quote=e.quote, document_id=e.document_id, start=e.start,
                            end=e.end, fact=e.fact, value=e.value, decides=e.decides,
                            found_by=e.found_by)
                  for e in record.evidence],
        missing_evidence=record.missing_evidence, error=record.error,
        letter=_mletter(letter) if letter else
        MLetter(id=None, status="not_drafted", markdown=None, docx=None, drafted_by=None),
        sources=[MSource(kind=x.kind, file=x.file, segment=x.segment, row=x.row)
                 for x in d.sources],
        outcome=outcome.outcome.outcome if outcome else "open",
        recovered_amount=outcome.outcome.recovered_amount if outcome else None,
        outcome_date=outcome.outcome.decided_on if outcome else None)


def manifest_json_schema() -> dict[str, object]:
    """The JSON Schema of manifest.json (published as docs/manifest.schema.json)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://denial-appeal-agent.example/schemas/manifest.json"
    return schema


def write_manifest_file(path: Path, manifest: Manifest) -> None:
    """Write manifest.json atomically (temp file, fsync, rename).

    A crash leaves the old manifest or the new one, never half of it.
    """
    write_text_atomic(path, manifest.model_dump_json(indent=2) + "\n")


@contextmanager
def manifest_lock(path: Path) -> Iterator[None]:
    """Held while manifest.json is read, changed and written.

    Two reviewers deciding at once then do not lose each other's update. The lock is an
    advisory lock on a file beside manifest.json.
    """
    lock = path.with_name(f".{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def refresh_letter(path: Path, letter: LetterRecord,
                   rebuild: Callable[[], Manifest | None] | None = None) -> None:
    """Update a written manifest after a review decision (status, DOCX path).

    This keeps the output contract true between runs. No manifest (yet): nothing to do. A
    manifest that cannot be read (left half-written by an older release, or damaged) is
    written again by ``rebuild`` (from the store), or left alone without one.
    """
    if not path.is_file():
        return
    with manifest_lock(path):
        try:
            manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):  # pydantic's ValidationError is a ValueError
            if rebuild is not None:
                rebuild()
            return
        touched = False
        for denial in manifest.denials:
            if denial.letter.id == letter.letter_id:
                denial.letter = _mletter(letter)
                touched = True
        if not touched:
            return
        by_letter = {d.letter.id: d.letter.status for d in manifest.denials if d.letter.id}
        manifest.summary.letters_by_status = dict(sorted(Counter(by_letter.values()).items()))
        write_manifest_file(path, manifest)
