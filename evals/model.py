"""The eval case format: ``evals/datasets/<name>.yaml``, validated by these models.

A dataset file holds a run date (``today``) and a list of cases. Each case is one denial
(a queue row or an 835 interchange), the chart the EHR holds for it (FHIR R4 resources,
notes as DocumentReference text) and what the agent is expected to do with it.
``evals/datasets/case.schema.json`` is generated from :class:`DatasetFile`
(``python tools/generate_schemas.py``); docs/evals.md explains every field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.denials.queue import QUEUE_COLUMNS
from agent.triage.model import Action

DEFAULT_TODAY = date(2026, 9, 20)
"""The run date of a dataset file that gives none (letter date, deadline checks)."""

CASE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"

Split = Literal["dev", "holdout"]
"""``holdout`` cases are never used to tune extractors; the scorecard reports them apart."""

LetterElement = Literal["payer_claim_number", "member_id", "service_date", "procedure",
                        "denial_reason", "argument", "evidence", "request", "signature",
                        "citations", "attachments"]
"""What a letter must show; evals/letters.py (``ELEMENTS``) holds the check behind each."""

STANDARD_ELEMENTS: tuple[LetterElement, ...] = (
    "payer_claim_number", "member_id", "service_date", "procedure", "denial_reason",
    "argument", "evidence", "request", "signature")
"""The elements every appeal letter must have (the default of ``letter_elements``)."""

QueueValue = str | int | float | Decimal | date
"""A queue cell as YAML gives it; written to the queue file as text."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def queue_cell(value: QueueValue) -> str:
    """The text of a queue cell: dates as YYYY-MM-DD, numbers as written."""
    if isinstance(value, bool):
        raise ValueError("a queue cell is text, a number or a date, not true/false")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value)


_QUEUE_ROW_SCHEMA: dict[str, Any] = {"propertyNames": {"enum": list(QUEUE_COLUMNS)}}


class DenialInput(_Strict):
    """The denial as the agent reads it: exactly one of the three forms."""

    queue_row: dict[str, QueueValue] | None = Field(
        None, json_schema_extra=_QUEUE_ROW_SCHEMA,
        description="One row of a denial queue: the columns of docs/queue-format.md, same "
        "names as the CSV header.")
    queue_rows: list[dict[str, QueueValue]] | None = Field(
        None, min_length=1, json_schema_extra={"items": _QUEUE_ROW_SCHEMA},
        description="Several rows (e.g. the lines of one claim, so the claim's other codes "
        "are known); use expect.procedure_code to say which line the case is about.")
    x12_835: str | None = Field(None, description="A full ISA..IEA 835 interchange as text.")

    @model_validator(mode="after")
    def _exactly_one(self) -> DenialInput:
        given = [n for n in ("queue_row", "queue_rows", "x12_835") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of queue_row, queue_rows or x12_835 (got "
                             f"{', '.join(given) or 'none'})")
        if self.x12_835 is not None and not self.x12_835.lstrip().startswith("ISA"):
            raise ValueError("x12_835 must be an interchange starting with ISA")
        return self

    def rows(self) -> list[dict[str, str]]:
        """The queue rows as text cells (empty for an 835)."""
        rows = [self.queue_row] if self.queue_row else list(self.queue_rows or ())
        return [{k: queue_cell(v) for k, v in row.items()} for row in rows]


class PatientInput(_Strict):
    """The Patient the claim's member id links to."""

    id: str = Field(pattern=FHIR_ID_PATTERN)
    member_id: str = Field(min_length=1, description="Patient.identifier value: the "
                           "denial's member id links to it.")
    family: str | None = None
    given: list[str] = Field(default_factory=list)
    birth_date: date | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None

    @field_validator("member_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2})?")


def _fhir_date(value: Any) -> Any:
    """A YAML date or dateTime as FHIR text; text must be a real FHIR date or dateTime
    (``2026-02-30`` is refused, a partial ``2026-08`` kept)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and not _PARTIAL_DATE.fullmatch(value):
        try:
            date.fromisoformat(value) if len(value) == 10 else \
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{value}' is not a date (YYYY-MM-DD) or a dateTime "
                             "(YYYY-MM-DDThh:mm:ss+zz:zz)") from None
    return value


class CorpusNote(_Strict):
    """A real note referenced by id in a corpus (evals/corpus.py), never copied here."""

    corpus: Literal["mtsamples"] = Field(description="The corpus (evals/corpus.py CORPORA).")
    id: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="The note's id in the "
                    "corpus (MTSamples: the 16-hex id of notes/<id>.txt and index.jsonl).")
    wrap: int | None = Field(None, ge=40, le=200, description="Hard-wrap every longer line "
                             "at this many columns, as dictation and PDF exports do.")


class NoteInput(_Strict):
    """A clinical note: a DocumentReference with one inline text attachment, its text
    written here or read from a corpus (``source``)."""

    id: str = Field(pattern=FHIR_ID_PATTERN, description="DocumentReference id.")
    title: str | None = Field(None, description="DocumentReference.description.")
    date: str | None = Field(None, description="DocumentReference.date (a date or a "
                             "dateTime); leave out for an undated note.")
    period_start: str | None = Field(None, description="context.period.start: how some "
                                     "EHRs date a note instead of DocumentReference.date.")
    text: str | None = Field(None, min_length=1, description="The note as the clinician "
                             "wrote it (or give source).")
    source: CorpusNote | None = Field(None, description="A real note of a corpus, read when "
                                      "the case is loaded (give text or source).")
    on_encounter: bool = Field(True, description="Attached to the claim's Encounter; false "
                               "= linked only by the date window.")
    patient: str | None = Field(None, pattern=FHIR_ID_PATTERN, description="Subject "
                                "Patient id; default chart.patient.id. Another id makes it "
                                "another patient's note (list that Patient in resources).")
    status: str = Field("current", description="e.g. current, entered-in-error.")
    content_type: str = "text/plain; charset=utf-8"

    @field_validator("date", "period_start", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return _fhir_date(value)

    @model_validator(mode="after")
    def _text_or_source(self) -> NoteInput:
        if (self.text is None) == (self.source is None):
            raise ValueError("give exactly one of text or source")
        return self

    @property
    def body(self) -> str:
        """The note's text (a corpus note's once the loader has read it)."""
        if self.text is None:
            raise ValueError(f"note {self.id}: its corpus text was not read (evals.loader)")
        return self.text


class ChartInput(_Strict):
    """What the EHR holds for the claim's patient."""

    patient: PatientInput
    encounter: bool = Field(True, description="An Encounter whose identifier is the claim "
                            "id, the notes attached to it.")
    notes: list[NoteInput] = Field(default_factory=list)
    resources: list[dict[str, Any]] = Field(default_factory=list, description="Extra FHIR "
                                            "R4 resources written as they are (Condition, "
                                            "Observation, Procedure, other Patients...).")

    @property
    def corpus_notes(self) -> list[NoteInput]:
        """The notes read from a corpus."""
        return [n for n in self.notes if n.source is not None]

    @model_validator(mode="after")
    def _unique_notes(self) -> ChartInput:
        ids = [n.id for n in self.notes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"note id(s) used twice: {', '.join(duplicates)}")
        for index, resource in enumerate(self.resources):
            if not isinstance(resource.get("resourceType"), str):
                raise ValueError(f"resources[{index}] has no resourceType")
        return self


class CitedFact(_Strict):
    """A fact the agent must cite: the playbook's fact id and part of the quote."""

    fact: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    quote_contains: str = Field(min_length=1, description="A substring of the quote "
                                "(case and spacing ignored).")
    value: str | None = Field(None, min_length=1, description="What the agent must read "
                              "the quote as: the evidence item's value, e.g. '58 minutes', "
                              "'ASA 3' (case and spacing ignored).")

    @field_validator("value", mode="before")
    @classmethod
    def _value_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Expectation(_Strict):
    """What the agent should decide and write."""

    action: Action
    playbook: str | None = Field(description="Playbook id, or null when rules decide and "
                                 "no playbook applies.")
    cited_facts: list[CitedFact] = Field(default_factory=list, description="Facts the "
                                         "letter must cite (when the action is appeal), or "
                                         "the evidence must hold (other actions).")
    must_not_contain: list[str] = Field(default_factory=list, description="Case-insensitive "
                                        "substrings no letter of the case may contain.")
    letter_elements: list[LetterElement] | None = Field(None, description="Default: every "
                                                        "standard element when the action "
                                                        "is appeal.")
    letter_contains: list[str] = Field(default_factory=list, description="Extra "
                                       "substrings the letter must contain.")
    procedure_code: str | None = Field(None, description="The submitted code of the denied "
                                       "line the case is about, when the input has several; "
                                       "default: every denial of the case.")
    reason_contains: list[str] = Field(default_factory=list, description="Case-insensitive "
                                       "substrings the triage reason of every denial the case "
                                       "is about must contain (evaluator reason_correct, "
                                       "reported, not gated).")

    @field_validator("procedure_code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def elements(self) -> tuple[LetterElement, ...]:
        """The letter elements to check."""
        if self.letter_elements is not None:
            return tuple(self.letter_elements)
        return STANDARD_ELEMENTS if self.action == "appeal" else ()


class Case(_Strict):
    """One eval case."""

    id: str = Field(pattern=CASE_ID_PATTERN, description="Unique across all dataset files.")
    split: Split
    tags: list[str] = Field(default_factory=list, description="Free strings, e.g. positive, "
                            "negative:insufficient_documentation, adversarial:injection.")
    description: str = Field(min_length=1)
    rationale: str | None = Field(None, min_length=1, description="Why the expected outcome "
                                  "is right, as an auditor would accept it (required when a "
                                  "note comes from a corpus).")
    denial: DenialInput
    chart: ChartInput | None = Field(None, description="Omit (or null) when the patient is "
                                     "not in the EHR.")
    expect: Expectation


class DatasetFile(_Strict):
    """A dataset file: ``evals/datasets/<name>.yaml`` (or ``evals/real_notes/``)."""

    today: date = Field(DEFAULT_TODAY, description="The run date: letter date and deadline "
                        "checks.")
    wrapped_variants: bool = Field(False, description="Add to every case with corpus notes "
                                   "a variant '<id>-wrapped' whose notes are hard-wrapped at "
                                   "60-80 columns (evals/corpus.py), same expectations.")
    cases: list[Case] = Field(min_length=1)


def case_json_schema() -> dict[str, Any]:
    """The JSON Schema of a dataset file (published as evals/datasets/case.schema.json)."""
    schema = DatasetFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://denial-appeal-agent.example/schemas/eval-cases.json"
    return schema
