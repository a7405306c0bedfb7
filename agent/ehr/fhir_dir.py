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

Problems never name the patient; logs name files, never their content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from agent.ehr.formats import SUPPORTED, extract_text, media_type_of
from agent.ehr.model import (
    ChartBundle,
    ChartRequest,
    PatientRecord,
    SourceDocument,
    StructuredFact,
)
from agent.ehr.protocols import EHRSourceError

Resource = dict[str, Any]
FactType = Literal["Observation", "Condition", "Procedure"]
LinkedBy = Literal["encounter", "date_window"]
_Link = tuple[LinkedBy, str | None]  # why a note was chosen, and the encounter it names

KEPT_TYPES = frozenset({"Patient", "RelatedPerson", "Encounter", "DocumentReference",
                        "Observation", "Condition", "Procedure"})
FACT_TYPES: tuple[FactType, ...] = ("Observation", "Condition", "Procedure")
NOTE_SEPARATOR = "\n\n"
"""Joins the text attachments of one DocumentReference."""

NO_PATIENT = "no patient in the EHR matches the member id"
AMBIGUOUS_PATIENT = "more than one patient in the EHR matches the member id; none was used"

_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_ENTERED_IN_ERROR = "entered-in-error"

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- JSON access

def _obj(value: Any) -> Resource:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _objs(value: Any) -> list[Resource]:
    """The JSON objects of a list (anything else in it, or a non-list, is ignored)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    """``value`` if it is a non-blank string."""
    return value if isinstance(value, str) and value.strip() else None


def _date(value: Any) -> date | None:
    """The date part of a FHIR date/dateTime/instant; partial dates (``2026-08``) are None."""
    text = _str(value)
    if text is None or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _identifier_values(resource: Resource) -> list[str]:
    return [v for i in _objs(resource.get("identifier")) if (v := _str(i.get("value")))]


def _concept_text(concept: Resource) -> str | None:
    """CodeableConcept.text, else the first coding's display."""
    text = _str(concept.get("text"))
    if text:
        return text
    return next((d for c in _objs(concept.get("coding")) if (d := _str(c.get("display")))),
                None)


def _first_coding(concept: Resource) -> tuple[str | None, str | None]:
    """(code, system) of the first coding that has a code."""
    for coding in _objs(concept.get("coding")):
        if code := _str(coding.get("code")):
            return code, _str(coding.get("system"))
    return None, None


# --------------------------------------------------------------------------- loading

@dataclass
class _Loaded:
    """Every kept resource by ``Type/id`` (first seen wins) and Bundle fullUrl aliases."""

    resources: dict[str, Resource] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    duplicates: int = 0
    without_id: int = 0

    def add(self, resource: Resource, full_url: str | None = None) -> None:
        """Keep a resource of a kept type; remember the fullUrl it is referenced by."""
        kind, rid = _str(resource.get("resourceType")), _str(resource.get("id"))
        if kind not in KEPT_TYPES:
            return
        if rid is None and full_url and full_url.startswith("urn:uuid:"):
            rid = full_url.removeprefix("urn:uuid:")  # transaction entries often have no id
        if rid is None:
            self.without_id += 1
            return
        ref = f"{kind}/{rid}"
        if full_url:
            self.aliases[full_url] = ref
        if ref in self.resources:
            self.duplicates += 1
        else:
            self.resources[ref] = {**resource, "id": rid}

    def add_json(self, value: Any, full_url: str | None = None) -> None:
        """A resource, or a Bundle whose entries (and nested Bundles) are added."""
        resource = _obj(value)
        if resource.get("resourceType") != "Bundle":
            self.add(resource, full_url)
            return
        for entry in _objs(resource.get("entry")):
            if "resource" in entry:
                self.add_json(entry["resource"], _str(entry.get("fullUrl")))


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


def _load_file(path: Path, name: str, loaded: _Loaded) -> None:
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


def _load_json(path: Path, name: str, loaded: _Loaded) -> None:
    """A Bundle or a single resource; a file that is not JSON is skipped."""
    try:
        value = _parse(path.read_text(encoding="utf-8-sig"))
    except (ValueError, RecursionError) as exc:  # the message would quote no content anyway
        logger.warning("FHIR file %s skipped: not valid JSON (line %s)", name,
                       getattr(exc, "lineno", "?"))
        loaded.skipped_files.append(name)
        return
    loaded.add_json(value)


def _load_ndjson(path: Path, name: str, loaded: _Loaded) -> None:
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


# --------------------------------------------------------------------------- indexing

@dataclass(frozen=True)
class _Note:
    """A DocumentReference as indexed; its text is decoded only when a chart needs it."""

    ref: str
    subject: str | None
    encounters: tuple[str, ...]
    date: date | None
    title: str | None
    attachments: tuple[Resource, ...]


@dataclass
class _Index:
    patients: dict[str, Resource] = field(default_factory=dict)
    patients_by_identifier: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    encounters_by_claim: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    encounter_subject: dict[str, str | None] = field(default_factory=dict)
    notes_by_encounter: dict[str, list[_Note]] = field(default_factory=lambda: defaultdict(list))
    notes_by_subject: dict[str, list[_Note]] = field(default_factory=lambda: defaultdict(list))
    facts_by_subject: dict[str, list[StructuredFact]] = field(
        default_factory=lambda: defaultdict(list))
    related_by_patient: dict[str, list[Resource]] = field(
        default_factory=lambda: defaultdict(list))


def _resolve(reference: Any, aliases: dict[str, str]) -> str | None:
    """``Type/id`` for a Reference: relative, absolute URL, ``_history`` or a fullUrl alias."""
    ref = _str(_obj(reference).get("reference"))
    if ref is None or ref.startswith("#"):
        return None  # contained resources are not indexed
    if ref in aliases:
        return aliases[ref]
    match = _REFERENCE.search(ref)
    return f"{match[1]}/{match[2]}" if match else None


def _build_index(loaded: _Loaded) -> _Index:
    index = _Index()
    aliases = loaded.aliases
    for ref, resource in loaded.resources.items():
        kind = resource["resourceType"]
        subject = _resolve(resource.get("subject"), aliases)
        if kind == "Patient":
            index.patients[ref] = resource
            for value in _identifier_values(resource):
                index.patients_by_identifier[value].add(ref)
        elif kind == "Encounter":
            index.encounter_subject[ref] = subject
            for value in _identifier_values(resource):
                index.encounters_by_claim[value].add(ref)
        elif kind == "DocumentReference":
            _index_note(index, ref, resource, subject, aliases)
        elif kind == "RelatedPerson":
            if patient := _resolve(resource.get("patient"), aliases):
                index.related_by_patient[patient].append(resource)
        elif subject and (fact := _fact(ref, kind, resource)):
            index.facts_by_subject[subject].append(fact)
    return index


def _index_note(index: _Index, ref: str, resource: Resource, subject: str | None,
                aliases: dict[str, str]) -> None:
    if _ENTERED_IN_ERROR in (resource.get("status"), resource.get("docStatus")):
        return
    context = _obj(resource.get("context"))
    encounters = tuple(e for r in _objs(context.get("encounter")) if (e := _resolve(r, aliases)))
    note = _Note(
        ref=ref, subject=subject, encounters=encounters,
        date=_date(resource.get("date")) or _date(_obj(context.get("period")).get("start")),
        title=_str(resource.get("description")) or _concept_text(_obj(resource.get("type"))),
        attachments=tuple(_obj(c.get("attachment")) for c in _objs(resource.get("content"))),
    )
    for encounter in encounters:
        index.notes_by_encounter[encounter].append(note)
    if subject:
        index.notes_by_subject[subject].append(note)


# --------------------------------------------------------------------------- facts

FactParts = tuple[str | None, date | None, str | None]
"""(value, date, status) of a fact."""


def _fact(ref: str, kind: str, resource: Resource) -> StructuredFact | None:
    """An Observation, Condition or Procedure as a quotable fact (None if in error)."""
    if kind == "Observation":
        parts = _observation_parts(resource)
    elif kind == "Condition":
        if _concept_code(resource.get("verificationStatus")) == _ENTERED_IN_ERROR:
            return None
        parts = _condition_parts(resource)
    else:
        parts = _procedure_parts(resource)
    value, when, status = parts
    if status == _ENTERED_IN_ERROR:
        return None
    return _structured_fact(ref, kind, resource, value, when, status)


def _observation_parts(resource: Resource) -> FactParts:
    when = (_date(resource.get("effectiveDateTime"))
            or _date(_obj(resource.get("effectivePeriod")).get("start"))
            or _date(resource.get("issued")))
    return _observation_value(resource), when, _str(resource.get("status"))


def _condition_parts(resource: Resource) -> FactParts:
    stages = _objs(resource.get("stage"))
    stage = _concept_text(_obj(stages[0].get("summary"))) if stages else None
    when = _date(resource.get("onsetDateTime")) or _date(resource.get("recordedDate"))
    return stage, when, _concept_code(resource.get("clinicalStatus"))


def _procedure_parts(resource: Resource) -> FactParts:
    when = (_date(resource.get("performedDateTime"))
            or _date(_obj(resource.get("performedPeriod")).get("start")))
    return None, when, _str(resource.get("status"))


def _structured_fact(ref: str, kind: str, resource: Resource, value: str | None,
                     when: date | None, status: str | None) -> StructuredFact:
    concept = _obj(resource.get("code"))
    code, system = _first_coding(concept)
    display = _concept_text(concept)
    fact_type: FactType = next(t for t in FACT_TYPES if t == kind)
    return StructuredFact(resource_id=ref, resource_type=fact_type, code=code,
                          code_system=system, display=display, value=value, date=when,
                          status=status, quote=_quote(display or code or kind, value, when))


def _quote(label: str, value: str | None, when: date | None) -> str:
    """``Hemoglobin A1c: 8.2 % (2026-08-01)``; parts that are missing are left out."""
    quote = f"{label}: {value}" if value else label
    return f"{quote} ({when.isoformat()})" if when else quote


def _concept_code(value: Any) -> str | None:
    return _first_coding(_obj(value))[0]


def _observation_value(resource: Resource) -> str | None:
    """The value of an Observation, as text.

    valueQuantity as ``value unit``, valueString, or valueCodeableConcept's text.
    """
    quantity = _obj(resource.get("valueQuantity"))
    if "value" in quantity:
        unit = _str(quantity.get("unit")) or _str(quantity.get("code"))
        number = f"{quantity.get('comparator') or ''}{quantity['value']}"
        return f"{number} {unit}" if unit else number
    if text := _str(resource.get("valueString")):
        return text
    for key in ("valueInteger", "valueBoolean"):
        if key in resource and resource[key] is not None:
            return str(resource[key]).lower() if key == "valueBoolean" else str(resource[key])
    return _concept_text(_obj(resource.get("valueCodeableConcept")))


# --------------------------------------------------------------------------- notes

def _decode(data: str) -> bytes | None:
    """Base64 (whitespace allowed) to bytes; None when it is not base64."""
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _NoteText:
    """A note's text from its attachments, and what could not be read (no PHI)."""

    text: str | None
    content_type: str
    original_hash: str | None
    problems: list[str]


def _note_text(note: _Note) -> _NoteText:
    """The text of a note's inline attachments of a readable type (agent/ehr/formats.py).

    Several are joined with a blank line; the original's hash is the first one's (of
    several, the hash of their hashes).
    """
    texts: list[str] = []
    types: list[str] = []
    hashes: list[str] = []
    problems: list[str] = []
    for attachment in note.attachments:
        media_type = media_type_of(_str(attachment.get("contentType")))
        data = _str(attachment.get("data"))
        if media_type not in SUPPORTED or data is None:
            continue
        raw = _decode(data)
        if raw is None:
            problems.append(f"{note.ref}: an attachment is not valid base64 and was skipped")
            continue
        read = extract_text(raw, media_type)
        if read.text is None:
            problems.append(f"{note.ref}: {read.problem}; the attachment was skipped")
            continue
        texts.append(read.text)
        types.append(media_type)
        hashes.append(read.original_hash)
    if not texts:
        problems.append(f"{note.ref}: no inline attachment of a readable type (plain text, "
                        "HTML, PDF, RTF or C-CDA); the note was skipped")
        return _NoteText(None, "text/plain", None, problems)
    original = hashes[0] if len(hashes) == 1 else "sha256:" + hashlib.sha256(
        "\n".join(hashes).encode("ascii")).hexdigest()
    return _NoteText(NOTE_SEPARATOR.join(texts), types[0], original, problems)


def _source_document(note: _Note, patient_ref: str, link: _Link,
                     problems: list[str]) -> SourceDocument | None:
    read = _note_text(note)
    problems.extend(read.problems)
    if read.text is None:
        return None
    linked_by, encounter = link
    return SourceDocument(document_id=note.ref, patient_id=patient_ref, title=note.title,
                          date=note.date, encounter_id=encounter,
                          content_type=read.content_type, text=read.text,
                          original_hash=read.original_hash, linked_by=linked_by)


def _sort_key(document: SourceDocument) -> tuple[bool, date, str]:
    return document.date is None, document.date or date.min, document.document_id


def _newest_first(fact: StructuredFact) -> tuple[bool, int, str]:
    """Dated facts newest first, then undated ones; the id breaks ties."""
    return fact.date is None, -(fact.date.toordinal() if fact.date else 0), fact.resource_id


def _no_notes_problem(request: ChartRequest) -> str:
    if request.service_date is None:
        return ("no clinical notes found for the claim's encounter (the denial has no "
                "service date to search around)")
    return ("no clinical notes found for the claim's encounter or within "
            f"±{request.window_days} days of the service date")


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
        loaded = _Loaded()
        for file in _fhir_files(self.root):
            _load_file(file, file.relative_to(self.root).as_posix(), loaded)
        self.skipped_files: tuple[str, ...] = tuple(loaded.skipped_files)
        """Files left out because they are not JSON (relative names)."""
        self.resource_count = len(loaded.resources)
        """Kept resources, duplicates counted once."""
        if loaded.duplicates or loaded.without_id:
            logger.warning("fhir-dir %s: %d duplicate resources ignored, %d without id",
                           self.root, loaded.duplicates, loaded.without_id)
        self._index = _build_index(loaded)

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
        patient_ref, problem = self._match_patient(request.member_ids)
        if patient_ref is None:
            return ChartBundle(problems=(problem,))
        problems: list[str] = []
        documents = self._documents(patient_ref, request, problems)
        if not documents:
            problems.append(_no_notes_problem(request))
        facts = sorted(self._index.facts_by_subject.get(patient_ref, ()), key=_newest_first)
        related = self._index.related_by_patient.get(patient_ref, ())
        return ChartBundle(patient=_patient_record(self._index.patients[patient_ref],
                                                   related),
                           documents=documents, facts=tuple(facts), problems=tuple(problems))

    def _match_patient(self, member_ids: tuple[str, ...]) -> tuple[str | None, str]:
        """The patient of the first member id that any Patient.identifier carries."""
        for member_id in member_ids:
            refs = self._index.patients_by_identifier.get(member_id)
            if refs:
                return (next(iter(refs)), "") if len(refs) == 1 else (None, AMBIGUOUS_PATIENT)
        return None, NO_PATIENT

    def _documents(self, patient_ref: str, request: ChartRequest,
                   problems: list[str]) -> tuple[SourceDocument, ...]:
        chosen: dict[str, tuple[_Note, _Link]] = {}
        for note, encounter in self._encounter_notes(patient_ref, request.claim_id):
            chosen.setdefault(note.ref, (note, ("encounter", encounter)))
        for note in self._window_notes(patient_ref, request):
            first = note.encounters[0] if note.encounters else None
            chosen.setdefault(note.ref, (note, ("date_window", first)))
        documents = []
        for ref in sorted(chosen):  # problems come out in a stable order too
            note, link = chosen[ref]
            if document := _source_document(note, patient_ref, link, problems):
                documents.append(document)
        return tuple(sorted(documents, key=_sort_key))

    def _encounter_notes(self, patient_ref: str, claim_id: str
                         ) -> Iterator[tuple[_Note, str]]:
        """Notes of the patient on an Encounter whose identifier is the claim id."""
        for encounter in sorted(self._index.encounters_by_claim.get(claim_id, ())):
            encounter_subject = self._index.encounter_subject.get(encounter)
            for note in self._index.notes_by_encounter.get(encounter, ()):
                subjects = {s for s in (note.subject, encounter_subject) if s}
                if subjects == {patient_ref}:
                    yield note, encounter

    def _window_notes(self, patient_ref: str, request: ChartRequest) -> Iterator[_Note]:
        """Notes of the patient dated within ± window_days of the service date."""
        if request.service_date is None:
            return
        for note in self._index.notes_by_subject.get(patient_ref, ()):
            if note.date and abs((note.date - request.service_date).days) \
                    <= request.window_days:
                yield note


def _full_name(name: Resource) -> str | None:
    """A HumanName written out: its text, else prefix-less given names and family."""
    given = [g for g in name.get("given") or () if _str(g)] \
        if isinstance(name.get("given"), list) else []
    parts = [*given, *([family] if (family := _str(name.get("family"))) else [])]
    return _str(name.get("text")) or (" ".join(parts) if parts else None)


def _names(resource: Resource) -> list[str]:
    return [n for name in _objs(resource.get("name")) if (n := _full_name(name))]


def _telecom(resource: Resource) -> list[str]:
    return [v for t in _objs(resource.get("telecom")) if (v := _str(t.get("value")))]


def _patient_record(resource: Resource, related: Iterable[Resource] = ()) -> PatientRecord:
    """The patient's record from a Patient resource and its RelatedPersons.

    Name (the official one, else the first) and birth date for the letter's header;
    every other identifying field, kept only so the drafting step can hide it.
    """
    names = _objs(resource.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = name.get("given")
    addresses = _objs(resource.get("address"))
    contacts = [_obj(c.get("name")) for c in _objs(resource.get("contact"))]
    people = list(related)
    return PatientRecord(patient_id=f"Patient/{resource['id']}",
                         family_name=_str(name.get("family")),
                         given_names=tuple(g for g in given if _str(g))
                         if isinstance(given, list) else (),
                         birth_date=_date(resource.get("birthDate")),
                         other_names=tuple(dict.fromkeys(_names(resource))),
                         identifiers=tuple(dict.fromkeys(_identifier_values(resource))),
                         address_lines=tuple(dict.fromkeys(
                             line for a in addresses for line in a.get("line") or ()
                             if _str(line))),
                         cities=tuple(dict.fromkeys(
                             c for a in addresses if (c := _str(a.get("city"))))),
                         postal_codes=tuple(dict.fromkeys(
                             c for a in addresses if (c := _str(a.get("postalCode"))))),
                         telecom=tuple(dict.fromkeys(_telecom(resource))),
                         contact_names=tuple(dict.fromkeys(
                             [n for c in contacts if (n := _full_name(c))] +
                             [n for p in people for n in _names(p)])),
                         contact_telecom=tuple(dict.fromkeys(
                             [t for c in _objs(resource.get("contact")) for t in _telecom(c)] +
                             [t for p in people for t in _telecom(p)])))
