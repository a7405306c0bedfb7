"""Small FHIR R4 charts for eval cases: a patient, the claim's encounter and clinical notes
(base64 text attachments), written as NDJSON for the ``fhir-dir`` adapter.

The shapes follow tests/charts.py (the tests keep their own copy: evals never import from
tests/), generalised to what cases need: note status, content type, undated notes and
notes dated by ``context.period.start``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

Resource = dict[str, Any]

TEXT_MEDIA_TYPES = frozenset({"text/plain", "text/markdown"})
NOTE_SEPARATOR = "\n\n"
"""How the adapter joins several text attachments of one note (agent/ehr/fhir_dir.py)."""


def patient(patient_id: str, member_id: str, *, family: str | None = None,
            given: Iterable[str] = (), birth_date: str | None = None,
            gender: str | None = None) -> Resource:
    """A Patient linked to the denial by its member id."""
    resource: Resource = {"resourceType": "Patient", "id": patient_id,
                          "identifier": [{"value": member_id}]}
    names = list(given)
    if family or names:
        resource["name"] = [{k: v for k, v in (("family", family), ("given", names)) if v}]
    if birth_date:
        resource["birthDate"] = birth_date
    if gender:
        resource["gender"] = gender
    return resource


def encounter(encounter_id: str, claim_ids: Iterable[str], patient_id: str,
              start: str | None = None) -> Resource:
    """The Encounter of a claim (its identifier is the claim's CLP01)."""
    resource: Resource = {"resourceType": "Encounter", "id": encounter_id,
                          "status": "finished",
                          "identifier": [{"value": claim_id} for claim_id in claim_ids],
                          "subject": {"reference": f"Patient/{patient_id}"}}
    if start:
        resource["period"] = {"start": start}
    return resource


def note(doc_id: str, patient_id: str, text: str, *, day: str | None = None,
         period_start: str | None = None, encounter_id: str | None = None,
         title: str | None = None, status: str = "current",
         content_type: str = "text/plain; charset=utf-8") -> Resource:
    """A DocumentReference whose one attachment is ``text``, optionally on an encounter."""
    resource: Resource = {
        "resourceType": "DocumentReference", "id": doc_id, "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": {"contentType": content_type,
                                    "data": base64.b64encode(text.encode()).decode()}}]}
    if day:
        resource["date"] = day
    if title:
        resource["description"] = title
    context: Resource = {}
    if encounter_id:
        context["encounter"] = [{"reference": f"Encounter/{encounter_id}"}]
    if period_start:
        context["period"] = {"start": period_start}
    if context:
        resource["context"] = context
    return resource


def note_text(resource: Mapping[str, Any]) -> str | None:
    """The text of a DocumentReference as the adapter documents it: its inline text
    attachments decoded and joined with a blank line; None when it has none."""
    texts = []
    for content in resource.get("content") or ():
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict):
            continue
        media = str(attachment.get("contentType") or "").split(";", 1)[0].strip().lower()
        data = attachment.get("data")
        if media not in TEXT_MEDIA_TYPES or not isinstance(data, str):
            continue
        try:
            raw = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        texts.append(raw.decode("utf-8", errors="replace"))
    return NOTE_SEPARATOR.join(texts) if texts else None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def write_ndjson(directory: Path, resources: Iterable[Resource]) -> Path:
    """Write ``resources`` as ``directory/resources.ndjson``; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resources.ndjson").write_text(
        "".join(json.dumps(r, default=_json_default) + "\n" for r in resources),
        encoding="utf-8")
    return directory
