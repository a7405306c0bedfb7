"""What the store keeps: the workflow's results per denial, group and letter."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.denials.model import Denial
from agent.denials.outcomes import LineOutcome
from agent.ehr.model import StructuredFact
from agent.evidence.model import Evidence
from agent.store.fallback import safe_fallback
from agent.triage.model import Triage

LetterStatus = Literal["pending_review", "approved", "rejected", "sent", "superseded"]
"""Where a letter stands: waiting for an auditor, approved (DOCX written), rejected, sent to
the payer (after approval), or superseded by a new draft when its chart changed before
anyone approved it."""
SentVia = Literal["mail", "fax", "portal"]
"""How a letter went to the payer (``appeals review sent --channel``)."""
Role = Literal["auditor", "lead", "admin"]
AuditAction = Literal["drafted", "approved", "edited", "rejected", "sent", "superseded",
                      "user_added", "lease_taken_over", "viewed", "logged_in", "logged_out",
                      "login_failed", "role_changed", "evidence_supplied",
                      "document_attached"]
"""What an audit row records. ``viewed`` is a page of the web workbench that showed PHI (a
letter, a denial, a worklist page) or a DOCX downloaded; ``logged_in``, ``logged_out``
and ``login_failed`` are its sign-ins; ``role_changed`` is an admin changing a user's role;
``evidence_supplied`` an auditor's quote for a denial's missing fact and
``document_attached`` a document an auditor added to its chart (subject ``denial:<id>``)."""

SYSTEM_USER = "system"
"""The built-in user that ``--auto-approve`` acts as; it has no password and cannot log in."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentRef(_Record):
    """A chart document a decision read: its id, date and the hash its text is kept under.

    With its title, encounter, content type and why it was chosen (schema v5; None on
    older records), the stored chart can be read again without the EHR
    (:func:`agent.workflow.rerun.stored_chart`).
    """

    document_id: str
    date: date | None
    text_hash: str = Field(description="'sha256:...' of the text, the key in the store.")
    title: str | None = None
    encounter_id: str | None = None
    content_type: str | None = None
    linked_by: Literal["encounter", "date_window", "uploaded"] | None = None
    original_hash: str | None = Field(None, description="'sha256:...' of the exported file "
                                      "(PDF, RTF, HTML, C-CDA) the text was extracted from.")


class DenialRecord(_Record):
    """One denial and everything the workflow decided about it."""

    denial: Denial
    triage: Triage | None = Field(None, description="Set by the triage step.")
    playbook_id: str | None = None
    group_id: str | None = Field(None, description="Set by the grouping step.")
    evidence: list[Evidence] = Field(default_factory=list)
    missing_evidence: list[str] = Field(default_factory=list)
    letter_id: str | None = None
    error: str | None = Field(None, description="Why the denial failed (no PHI); it then "
                              "goes to needs_review.")
    documents: list[DocumentRef] = Field(default_factory=list, description="The chart "
                                         "documents the decision read; their text is kept "
                                         "in the store under each hash.")
    chart_facts: list[StructuredFact] = Field(default_factory=list, description="The "
                                              "chart's structured facts the decision read "
                                              "(Observations, Conditions, Procedures).")
    attached_documents: list[DocumentRef] = Field(default_factory=list, description="Documents "
                                                  "an auditor added to the chart (an "
                                                  "exported note, a report): every later "
                                                  "decision reads them with the EHR's chart.")
    supplied_evidence: list[Evidence] = Field(default_factory=list, description="Quotes "
                                              "an auditor selected in the stored chart for "
                                              "a missing fact (``found_by`` set); every "
                                              "later decision reads them with the chart.")
    chart_fingerprint: str | None = Field(None, description="Hash of the chart the decision "
                                          "read (documents, structured facts, patient).")
    playbook_fingerprint: str | None = Field(None, description="Hash of the playbook that "
                                             "decided (its YAML, vocabularies, templates).")
    practice_fingerprint: str | None = Field(None, description="Hash of the practice's "
                                             "[letter] settings its letter's current draft "
                                             "shows (schema v3).")
    payer_fingerprint: str | None = Field(None, description="Hash of what its letter's "
                                          "current draft shows from the payer's row (appeal "
                                          "address, fax, portal, level, the playbook's "
                                          "policy; schema v3).")


class GroupRecord(_Record):
    """A work queue: denials of one payer, reasons, submitted procedure and playbook."""

    group_id: str
    payer: str
    reasons: list[str]
    procedure: str | None
    playbook_id: str | None
    denial_ids: list[str]
    done: bool = False


class LetterRecord(_Record):
    """A drafted letter and where it stands in review."""

    letter_id: str
    group_id: str
    claim_id: str
    denial_ids: list[str]
    status: LetterStatus = "pending_review"
    markdown: str = Field(description="Path relative to the output directory.")
    docx: str | None = None
    drafted_by: Literal["template", "llm"] = "template"
    tokens_in: int = Field(0, ge=0, description="Model tokens spent on this letter's "
                           "argument (its share of its work queue's requests).")
    tokens_out: int = Field(0, ge=0)
    llm_fallback: str | None = Field(None, description="Why the template argument was used "
                                     "when the model was on: a fixed code such as 'rejected: "
                                     "values', 'error: timeout' or 'stopped: max_cost' "
                                     "(agent.store.fallback.FALLBACK_CODES), never the model's "
                                     "text.")
    content_hash: str
    reviewer: str | None = None
    note: str | None = None
    supersedes: str | None = Field(None, description="The letter this draft replaces (its "
                                   "chart, playbook, practice settings or payer row "
                                   "changed before it was approved).")
    superseded_by: str | None = Field(None, description="The draft that replaced this one.")
    sent_on: date | None = Field(None, description="The day the letter went to the payer, "
                                 "as the auditor marking it sent said (schema v6).")
    sent_via: SentVia | None = Field(None, description="How it went: mail, fax or portal "
                                     "(schema v6).")

    @field_validator("llm_fallback")
    @classmethod
    def _only_a_code(cls, value: str | None) -> str | None:
        """Cut anything but a known code to its category: the model's text is never kept here.

        This also applies when an older run stored free text.
        """
        return safe_fallback(value)


class OutcomeRecord(_Record):
    """A later 835's line recorded as the outcome of an earlier denial (schema v6).

    Kept whether or not the denial's letter was sent: the letter as it stood when the
    outcome was recorded is noted beside it, so that rates can count sent appeals only
    (and whether the letter went before the payer decided).
    """

    outcome: LineOutcome
    recorded_at: datetime
    letter_id: str | None = Field(None, description="The denial's letter when the outcome "
                                  "was recorded (None: it had none).")
    letter_status: LetterStatus | None = None
    letter_sent_on: date | None = Field(None, description="When that letter went to the "
                                        "payer, if it had by then.")

    @property
    def paid(self) -> bool:
        """Whether the payer has paid the denial with no denial reason left (overturned).

        Then nothing is left to appeal (docs/outcomes.md).
        """
        return self.outcome.outcome == "overturned"


class ClaimLineRecord(_Record):
    """A kept service line of a claim read from an 835 (``appeal_claim_lines``)."""

    line: int = Field(description="1-based, in the claim.")
    segment: int = Field(description="The SVC segment's number in its file.")
    procedure: str = Field(description="As adjudicated, with its modifiers: 99213-25.")
    billed_procedure: str | None = Field(None, description="As billed (SVC06), when the "
                                         "payer changed it.")
    service_date: date | None
    units: str | None
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None
    adjustments: list[str] = Field(description="GROUP-CARC:AMOUNT, e.g. CO-45:12.50.")
    remarks: list[str]
    line_control_number: str | None
    denied_amount: Decimal | None = Field(description="The dollars at stake when the line "
                                          "is a denial (docs/835.md#what-is-a-denial).")
    denial_id: str | None = Field(description="The denial the line is, by the id the 835 "
                                  "gives it.")
    outcome_of: str | None = Field(description="The earlier denial the line is an outcome "
                                   "of (docs/outcomes.md).")


class ClaimRecord(_Record):
    """A claim payment read from an 835, paid or not (``appeal_claims``, schema v6)."""

    claim_key: str
    payer_id: str | None
    payer_name: str | None
    claim_id: str = Field(description="CLP01, the patient control number.")
    payer_claim_number: str | None = Field(description="CLP07.")
    status: str = Field(description="CLP02: 1/2/3 processed, 4 denied, 22 reversal...")
    filing_indicator: str | None
    frequency: str | None
    corrects: str | None = Field(description="CLP07 of the reversal this claim follows.")
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None
    service_date: date | None
    received_date: date | None
    payment_date: date | None = Field(description="BPR16.")
    production_date: date | None = Field(description="DTM*405, else BPR16.")
    adjustments: list[str] = Field(description="Claim-level CAS, GROUP-CARC:AMOUNT.")
    remarks: list[str]
    rendering_npi: str | None
    source: str = Field(description="The file it was first read from.")
    segment: int
    transaction_control_number: str | None
    trace_number: str | None = Field(description="TRN02, the check or EFT number.")
    read_at: datetime = Field(description="When it was first read.")
    lines: list[ClaimLineRecord]


class AuditEntry(_Record):
    """One action on a letter (or on the store itself), append-only and hash-chained."""

    letter_id: str | None = Field(None, description="The letter acted on; None for actions "
                                  "on the store (a user added, a lease taken over).")
    subject: str | None = Field(None, description="What a store action was about, e.g. "
                                "'user:alice' or 'lease:writer'; None for letter actions.")
    actor: str
    at: datetime
    action: AuditAction
    hash_before: str | None
    hash_after: str | None
    note: str | None = None


class RunRecord(_Record):
    """One ``appeals run``: its inputs and the denials it covered."""

    run_id: str
    started_at: datetime
    inputs: list[str]
    denial_ids: list[str] = Field(default_factory=list)
    finished: bool = False


class UserRecord(_Record):
    """Someone who may act on letters: a CLI user or, later, a web login."""

    name: str
    role: Role | Literal["system"]
    password_hash: str | None = Field(description="argon2id hash; None for the built-in "
                                      "system user, who cannot log in.")
    created_at: datetime


class SessionRecord(_Record):
    """A signed-in web session: the cookie holds a random token, the store only its hash."""

    token_hash: str = Field(description="'sha256:...' of the session cookie's token: a copy "
                            "of the database cannot be used to sign in.")
    user: str
    csrf_token: str = Field(description="The token every state-changing request of this "
                            "session must carry (form field or X-CSRF-Token header).")
    created_at: datetime
    last_seen: datetime = Field(description="The last request; a session idle for longer "
                                "than the server's idle timeout is over.")


class LeaseRecord(_Record):
    """Who holds a store's writer lease: one ``appeals run`` (or ingest) at a time."""

    name: str = Field(description="Which lease; 'writer' for the one-writer rule.")
    token: str = Field(description="Random per holder: renewals and release check it.")
    pid: int
    host: str
    command: str = Field(description="What holds it, e.g. 'run'.")
    since: datetime
    heartbeat_at: datetime = Field(description="Renewed while the holder runs; a lease not "
                                   "renewed for the stale interval is taken over.")
