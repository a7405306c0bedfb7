"""The ``Evidence`` a letter may cite: a verbatim quote located in a source document."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class Evidence(BaseModel):
    """One fact from the chart, quoted exactly.

    For a note, ``document_id`` is the FHIR reference (``DocumentReference/abc``) and
    ``text[start:end] == quote`` on the note's decoded text (Python string offsets). For a
    structured resource (an Observation's HbA1c, a Condition), ``document_id`` is its
    reference, ``start``/``end`` are None and ``quote`` is built from the resource's own
    fields, never paraphrased.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    quote: str = Field(min_length=1)
    document_id: str = Field(description="FHIR reference, e.g. 'DocumentReference/abc'.")
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)
    fact: str = Field(description="What the quote shows, e.g. 'objective_finding'.")
    value: str | None = Field(None, description="What the quote was read as, when the fact "
                              "has a value: '58 minutes', 'ASA 3', 'auth HM-PA-558201'.")
    document_date: date | None = None
    document_title: str | None = None
    decides: bool = Field(False, description="Whether this quote is what decided the "
                          "denial's write-off or corrected claim (the firing rule's "
                          "`quotes`).")
    found_by: str | None = Field(None, description="The auditor who selected this quote in "
                                 "the chart (auditor-found evidence); None when the agent "
                                 "found it.")
