"""Building small FHIR R4 charts for pipeline tests: a patient, the claim's encounter and
clinical notes (base64 text attachments), written as one NDJSON file."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def patient(patient_id: str, member_id: str, **fields: Any) -> dict[str, Any]:
    """A Patient linked to the denial by its member id."""
    return {"resourceType": "Patient", "id": patient_id, "identifier": [{"value": member_id}],
            **fields}


def encounter(encounter_id: str, claim_id: str, patient_id: str) -> dict[str, Any]:
    """The Encounter of a claim (its identifier is the claim's CLP01)."""
    return {"resourceType": "Encounter", "id": encounter_id,
            "identifier": [{"value": claim_id}],
            "subject": {"reference": f"Patient/{patient_id}"}}


def note(doc_id: str, patient_id: str, text: str, day: str, *,
         encounter_id: str | None = None, title: str = "Ortho office note",
         content_type: str = "text/plain; charset=utf-8") -> dict[str, Any]:
    """A DocumentReference whose attachment is ``text``, optionally on an encounter."""
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference", "id": doc_id, "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"}, "date": day, "description": title,
        "content": [{"attachment": {"contentType": content_type,
                                    "data": base64.b64encode(text.encode()).decode()}}]}
    if encounter_id:
        resource["context"] = {"encounter": [{"reference": f"Encounter/{encounter_id}"}]}
    return resource


def write_chart(directory: Path, resources: Iterable[dict[str, Any]]) -> Path:
    """Write ``resources`` as ``directory/resources.ndjson``; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resources.ndjson").write_text(
        "".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return directory
