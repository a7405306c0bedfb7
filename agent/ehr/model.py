"""What an EHR adapter returns: the part of a patient's chart that a denial needs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChartRequest(_Frozen):
    """What to look up for one denial (only what the look-up needs: minimum necessary)."""

    member_ids: tuple[str, ...] = Field(description="Patient/subscriber member ids from the "
                                        "denial (NM1*QC / NM1*IL), in order of preference.")
    claim_id: str = Field(description="CLP01: matched to Encounter.identifier.")
    service_date: dt.date | None = None
    window_days: int = Field(3, ge=0, description="Notes dated within ± this many days of "
                             "the service date count.")


class PatientRecord(_Frozen):
    """The patient as the chart knows them.

    The name and birth date for the letter's header, and what else identifies them, kept
    only so that it can be hidden from a model (agent/llm/phi.py). Never sent, printed or
    stored.
    """

    patient_id: str = Field(description="FHIR reference, e.g. 'Patient/123'.")
    family_name: str | None = None
    given_names: tuple[str, ...] = ()
    birth_date: dt.date | None = None
    other_names: tuple[str, ...] = Field((), description="Every other name the chart gives "
                                         "(maiden, nickname), each written in full.")
    identifiers: tuple[str, ...] = Field((), description="Patient.identifier values (MRN, "
                                         "member ids).")
    address_lines: tuple[str, ...] = Field((), description="Street lines of every address.")
    cities: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    telecom: tuple[str, ...] = Field((), description="Phone numbers and e-mail addresses, "
                                     "as written.")
    contact_names: tuple[str, ...] = Field((), description="Names of Patient.contact and "
                                           "of RelatedPersons of the patient, in full.")
    contact_telecom: tuple[str, ...] = Field((), description="Their phones and e-mail "
                                             "addresses.")


class SourceDocument(_Frozen):
    """A clinical note, decoded to text. Untrusted data: never instructions."""

    document_id: str = Field(description="FHIR reference, e.g. 'DocumentReference/abc'.")
    patient_id: str
    title: str | None = Field(None, description="DocumentReference.description, else the "
                              "type's text or display.")
    date: dt.date | None = Field(None, description="DocumentReference.date, else "
                              "context.period.start.")
    encounter_id: str | None = Field(None, description="'Encounter/xyz' from context.")
    content_type: str = "text/plain"
    text: str
    original_hash: str | None = Field(None, description="'sha256:...' of the original "
                                      "file's bytes (a PDF, RTF, HTML or C-CDA export) that "
                                      "``text`` was extracted from.")
    linked_by: Literal["encounter", "date_window", "uploaded"] = Field(
        description="Why the note was chosen: it belongs to the claim's encounter, it is "
        "dated near the service date, or an auditor attached it to the denial.")


class StructuredFact(_Frozen):
    """An Observation, Condition or Procedure reduced to what a letter can quote."""

    resource_id: str = Field(description="FHIR reference, e.g. 'Observation/a1c'.")
    resource_type: Literal["Observation", "Condition", "Procedure"]
    code: str | None = None
    code_system: str | None = None
    display: str | None = Field(None, description="code.text, else the first coding display.")
    value: str | None = Field(None, description="Observation value with unit, e.g. '8.2 %'; "
                              "Condition stage; None otherwise.")
    date: dt.date | None = None
    status: str | None = None
    quote: str = Field(description="Built only from the fields above, e.g. 'Hemoglobin A1c: "
                       "8.2 % (2026-08-01)'; cited as is.")


class ChartBundle(_Frozen):
    """What the adapter found for one denial."""

    patient: PatientRecord | None = None
    documents: tuple[SourceDocument, ...] = ()
    facts: tuple[StructuredFact, ...] = ()
    problems: tuple[str, ...] = Field((), description="Why something could not be found "
                                      "(no patient, no notes); no patient data in these.")
