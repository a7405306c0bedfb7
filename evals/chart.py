"""The chart a case gives the EHR, read from the materialised FHIR resources.

The evaluators judge citations against this, never against the agent's EHR adapter: a
bug in the adapter (a note of another patient, a retracted note, a note outside the date
window) must fail a case, not redefine what it may cite. The rules are the case format's
(docs/evals.md):

* **The claim's patient**: the Patient whose identifier is the denial's member id, when
  exactly one Patient of the case carries it.
* **The claim's notes**: the DocumentReferences of that patient (their subject names
  them), not ``entered-in-error``, that are on an Encounter of the claim (its identifier
  is the claim id) or dated (``date``, else ``context.period.start``) within ± the
  document window (3 days) of the service date.
* **Structured resources**: the patient's Observations, Conditions and Procedures, not
  ``entered-in-error``. A quote of one must be built from its own fields only:
  ``label[: value][ (date)]`` with the label its code's text, a coding's display or code,
  the value its value (quantity with unit, string, integer, boolean, concept text) or a
  Condition's stage, and the date one of its own dates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from evals.fhir import note_text

Resource = dict[str, Any]

STRUCTURED_TYPES = frozenset({"Observation", "Condition", "Procedure"})
ENTERED_IN_ERROR = "entered-in-error"
DATE_FIELDS = {
    "Observation": (("effectiveDateTime",), ("effectivePeriod", "start"), ("issued",)),
    "Condition": (("onsetDateTime",), ("recordedDate",)),
    "Procedure": (("performedDateTime",), ("performedPeriod", "start")),
}
"""Where each structured type keeps the dates its quote may carry."""


@dataclass(frozen=True, slots=True)
class Note:
    """A note of the case as written: its reference, text, title and date."""

    ref: str
    text: str
    title: str | None
    day: date | None


@dataclass(frozen=True, slots=True)
class ClaimKey:
    """What links a denial to its chart."""

    claim_id: str
    member_id: str | None
    service_date: date | None


def fhir_day(value: Any) -> date | None:
    """The date part of a FHIR date/dateTime (partial or invalid dates: None)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _ref_id(reference: Any, kind: str) -> str | None:
    """The id of a ``{"reference": "Kind/id"}`` (also absolute URLs ending so)."""
    text = reference.get("reference") if isinstance(reference, Mapping) else None
    if not isinstance(text, str):
        return None
    parts = text.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] if len(parts) >= 2 and parts[-2] == kind else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _identifiers(resource: Mapping[str, Any]) -> set[str]:
    return {str(i.get("value")) for i in resource.get("identifier") or ()
            if isinstance(i, Mapping) and i.get("value") is not None}


def _codes(concept: Any) -> list[str]:
    """The codes of a CodeableConcept."""
    if not isinstance(concept, Mapping):
        return []
    return [str(c["code"]) for c in concept.get("coding") or ()
            if isinstance(c, Mapping) and c.get("code")]


def _texts(concept: Any) -> list[str]:
    """The text and every coding display of a CodeableConcept."""
    if not isinstance(concept, Mapping):
        return []
    found = [concept["text"]] if isinstance(concept.get("text"), str) else []
    found += [str(c["display"]) for c in concept.get("coding") or ()
              if isinstance(c, Mapping) and c.get("display")]
    return [t for t in found if t.strip()]


def _number(value: Any) -> str:
    """A JSON number as the file writes it (what the EHR reads)."""
    return json.dumps(value) if isinstance(value, int | float) else str(value)


def in_error(resource: Mapping[str, Any]) -> bool:
    """Whether a resource is marked entered-in-error."""
    return (ENTERED_IN_ERROR in (resource.get("status"), resource.get("docStatus"))
            or ENTERED_IN_ERROR in _codes(resource.get("verificationStatus"))
            or ENTERED_IN_ERROR in _codes(resource.get("clinicalStatus")))


def structured_dates(resource: Mapping[str, Any]) -> list[date]:
    """The dates of a structured resource."""
    found = []
    for path in DATE_FIELDS.get(str(resource.get("resourceType")), ()):
        value: Any = resource
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        day = fhir_day(value)
        if day is not None:
            found.append(day)
    return found


def _values(resource: Mapping[str, Any]) -> list[str]:
    """What a structured resource's quote may state as its value."""
    found: list[str] = []
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, Mapping) and "value" in quantity:
        number = f"{quantity.get('comparator') or ''}{_number(quantity['value'])}"
        units = [u for u in (quantity.get("unit"), quantity.get("code"))
                 if isinstance(u, str) and u.strip()]
        found += [f"{number} {u}" for u in units] or [number]
    if isinstance(resource.get("valueString"), str):
        found.append(resource["valueString"])
    if resource.get("valueInteger") is not None:
        found.append(_number(resource["valueInteger"]))
    if isinstance(resource.get("valueBoolean"), bool):
        found.append(str(resource["valueBoolean"]).lower())
    found += _texts(resource.get("valueCodeableConcept"))
    for stage in resource.get("stage") or ():
        if isinstance(stage, Mapping):
            found += _texts(stage.get("summary"))
    return found


def structured_labels(resource: Mapping[str, Any]) -> list[str]:
    """What a structured resource's quote may name it by."""
    concept = resource.get("code")
    return [*_texts(concept), *_codes(concept), str(resource.get("resourceType"))]


def structured_quotes(resource: Mapping[str, Any]) -> set[str]:
    """Every quote a structured resource's own fields support."""
    heads = set(structured_labels(resource))
    heads |= {f"{label}: {value}" for label in list(heads) for value in _values(resource)}
    days = [f" ({d.isoformat()})" for d in structured_dates(resource)]
    return {head + day for head in heads for day in ["", *days]}


class CaseChart:
    """The case's FHIR resources, and which of them each claim may cite."""

    def __init__(self, resources: Iterable[Mapping[str, Any]], window_days: int = 3) -> None:
        self.resources: dict[str, Resource] = {}
        for resource in resources:
            ref = f"{resource.get('resourceType')}/{resource.get('id')}"
            self.resources.setdefault(ref, dict(resource))
        self.window_days = window_days

    def _of(self, kind: str) -> Iterator[Resource]:
        return (r for r in self.resources.values() if r.get("resourceType") == kind)

    def patient_id(self, member_id: str | None) -> str | None:
        """The id of the one Patient whose identifier is ``member_id`` (else None)."""
        if not member_id:
            return None
        found = [str(p.get("id")) for p in self._of("Patient") if member_id in _identifiers(p)]
        return found[0] if len(found) == 1 else None

    def patient(self, member_id: str | None) -> Resource | None:
        """The claim's Patient resource."""
        patient_id = self.patient_id(member_id)
        return self.resources.get(f"Patient/{patient_id}") if patient_id else None

    def _subject_is(self, resource: Mapping[str, Any], patient_id: str) -> bool:
        return _ref_id(resource.get("subject"), "Patient") == patient_id

    def _claim_encounters(self, claim_id: str, patient_id: str) -> set[str]:
        return {str(e.get("id")) for e in self._of("Encounter")
                if claim_id in _identifiers(e)
                and _ref_id(e.get("subject"), "Patient") in (None, patient_id)}

    def notes(self, key: ClaimKey) -> dict[str, Note]:
        """The notes the claim may cite, by ``DocumentReference/id``."""
        patient_id = self.patient_id(key.member_id)
        if patient_id is None:
            return {}
        encounters = self._claim_encounters(key.claim_id, patient_id)
        out = {}
        for resource in self._of("DocumentReference"):
            if not self._subject_is(resource, patient_id) or in_error(resource):
                continue
            context = _mapping(resource.get("context"))
            linked = {_ref_id(e, "Encounter") for e in context.get("encounter") or ()}
            period = _mapping(context.get("period"))
            day = fhir_day(resource.get("date")) or fhir_day(period.get("start"))
            near = (day is not None and key.service_date is not None
                    and abs((day - key.service_date).days) <= self.window_days)
            text = note_text(resource)
            if text is None or not (linked & encounters or near):
                continue
            ref = f"DocumentReference/{resource.get('id')}"
            title = resource.get("description")
            out[ref] = Note(ref, text, title if isinstance(title, str) else None, day)
        return out

    def structured(self, ref: str, member_id: str | None) -> Resource | None:
        """A structured resource the claim may cite (the patient's, not in error)."""
        patient_id = self.patient_id(member_id)
        resource = self.resources.get(ref)
        if (patient_id is None or resource is None
                or resource.get("resourceType") not in STRUCTURED_TYPES
                or not self._subject_is(resource, patient_id) or in_error(resource)):
            return None
        return resource

    def conditions(self, member_id: str | None) -> list[Resource]:
        """The patient's Conditions (not in error): what a letter may list as diagnoses."""
        patient_id = self.patient_id(member_id)
        if patient_id is None:
            return []
        return [c for c in self._of("Condition")
                if self._subject_is(c, patient_id) and not in_error(c)]
