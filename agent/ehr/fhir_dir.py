r"""``fhir-dir:PATH``: the chart from a directory of FHIR R4 JSON.

The directory (and its subfolders) may hold Bundles of any type (``entry[].resource`` is
read), single-resource ``.json`` files and ``.ndjson`` files with one resource per line,
in any mix. It is indexed once, on construction; only Patient, RelatedPerson, Encounter,
DocumentReference, Observation, Condition and Procedure are kept.

Linking rules for one :class:`~agent.ehr.model.ChartRequest`:

* **Patient**: the first member id (in the request's order) equal to some
  ``Patient.identifier[].value``. Two different patients with that value: none is used.
* **Notes**: every DocumentReference of the patient whose ``context.encounter`` is an
  Encounter with ``identifier[].value`` equal to the claim id (``linked_by="encounter"``,
  whatever its date), plus the patient's other DocumentReferences dated (``date``, else
  ``context.period.start``, date part only) within ± ``window_days`` of the service date,
  bounds included (``linked_by="date_window"``). A note is the patient's when its subject,
  and its encounter's subject, name no one else (at least one must name the patient).
  Notes ``entered-in-error`` are skipped. Order: date (undated last), then id.
* **Text**: inline (``data``) attachments of a readable type (plain text, Markdown, HTML,
  PDF with a text layer, RTF, C-CDA; media-type parameters such as ``charset`` ignored),
  read by :func:`agent.ehr.formats.extract_text`; the original's hash is kept
  (``original_hash``). Several in one DocumentReference are joined with a blank line
  (``"\n\n"``) in their order: that joined string is the note's ``text`` and what evidence
  offsets index. An attachment that cannot be read (a scanned PDF, a bad file) is a
  problem of the chart; other types and ``url``-only attachments are not fetched.
* **Identifiers** (kept only to hide them from a model): the Patient's names, birth date,
  identifier values, address lines, cities and postal codes, telecom values, and the
  names and telecom of its ``contact`` entries and of every RelatedPerson whose
  ``patient`` is the patient.
* **Facts**: every Observation, Condition and Procedure of the patient, whatever its date
  (chronic conditions matter), newest first (undated last); entered-in-error ones are left
  out. The quote is built from the resource's fields only.

Problems never name the patient; logs name files, never their content. The rules are
applied by agent/ehr/fhir_chart.py, which the REST adapter ``fhir`` (agent/ehr/fhir_rest/)
shares: the same resources give the same chart from a folder or from a server.
"""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.ehr.fhir_chart import (
    AMBIGUOUS_PATIENT,
    NO_PATIENT,
    ChartIndex,
    ResourceSet,
)
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.protocols import EHRSourceError

__all__ = ["AMBIGUOUS_PATIENT", "NO_PATIENT", "FhirDirAdapter"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- loading

def _fhir_files(root: Path) -> list[Path]:
    """``.json``/``.ndjson`` files under root, hidden ones left out, in a stable order."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in (".json", ".ndjson") and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _parse(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)  # keeps "8.20" as written


def _load_file(path: Path, name: str, loaded: ResourceSet) -> None:
    """Add one file's resources; a file that cannot be read is skipped with a warning."""
    try:
        if path.suffix.lower() == ".ndjson":
            _load_ndjson(path, name, loaded)
        else:
            _load_json(path, name, loaded)
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("FHIR file %s skipped (from where it failed): cannot be read as "
                       "UTF-8 (%s)", name, type(exc).__name__)
        loaded.skipped_files.append(name)


def _load_json(path: Path, name: str, loaded: ResourceSet) -> None:
    """A Bundle or a single resource; a file that is not JSON is skipped."""
    try:
        value = _parse(path.read_text(encoding="utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # the message would quote no content anyway
        logger.warning("FHIR file %s skipped: not valid JSON (line %s)", name,
                       getattr(exc, "lineno", "?"))
        loaded.skipped_files.append(name)
        return
    loaded.add_json(value)


def _load_ndjson(path: Path, name: str, loaded: ResourceSet) -> None:
    """One resource per line, streamed (bulk exports are large); a bad line is skipped."""
    with path.open(encoding="utf-8-sig") as lines:  # splits on newlines only, not U+2028
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = _parse(line)
            except (ValueError, RecursionError):
                logger.warning("FHIR file %s: line %d skipped: not valid JSON", name, number)
                continue
            loaded.add_json(value)



# --------------------------------------------------------------------------- the adapter

class FhirDirAdapter:
    """The chart from a directory of FHIR R4 JSON, indexed once on construction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Index ``path``; raises :class:`EHRSourceError` if it is not a directory."""
        if not os.fspath(path):
            raise EHRSourceError("fhir-dir needs a directory: write 'fhir-dir:PATH'")
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise EHRSourceError(f"fhir-dir: {self.root} is not a directory")
        loaded = ResourceSet()
        for file in _fhir_files(self.root):
            _load_file(file, file.relative_to(self.root).as_posix(), loaded)
        self.skipped_files: tuple[str, ...] = tuple(loaded.skipped_files)
        """Files left out because they are not JSON (relative names)."""
        self.resource_count = len(loaded.resources)
        """Kept resources, duplicates counted once."""
        if loaded.duplicates or loaded.without_id:
            logger.warning("fhir-dir %s: %d duplicate resources ignored, %d without id",
                           self.root, loaded.duplicates, loaded.without_id)
        self._index = ChartIndex.of(loaded)

    def __repr__(self) -> str:
        return f"FhirDirAdapter({str(self.root)!r})"

    def source_warnings(self) -> tuple[str, ...]:
        """What the folder held that could not be used: skipped files, or nothing at all."""
        warnings = []
        if self.skipped_files:
            shown = ", ".join(self.skipped_files[:5])
            more = f" and {len(self.skipped_files) - 5} more" if len(self.skipped_files) > 5 \
                else ""
            warnings.append(f"fhir-dir: {len(self.skipped_files)} file(s) skipped (not valid "
                            f"JSON): {shown}{more}")
        if self.resource_count == 0:
            warnings.append(f"fhir-dir: {self.root} holds no FHIR resources: no denial can "
                            "get its chart")
        return tuple(warnings)

    def chart_for(self, request: ChartRequest) -> ChartBundle:
        """The patient, notes and structured facts for one denial."""
        return self._index.chart(request)
