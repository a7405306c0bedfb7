r"""The FHIR linking rules: which resources make one denial's chart, and how they read.

Shared by the adapters that read FHIR R4 (``fhir-dir``, agent/ehr/fhir_dir.py, and the
REST adapter ``fhir``, agent/ehr/fhir_rest/): each gathers resources into a
:class:`ResourceSet` (a directory's files, or what a server's searches returned), and
:meth:`ChartIndex.chart` applies the same rules to them, so the same resources give the
same :class:`~agent.ehr.model.ChartBundle` whichever way they were fetched. The rules
are written out in agent/ehr/fhir_dir.py's docstring.

An attachment given by ``url`` is read only when the caller passes a ``read_url``
(:data:`UrlReader`); ``fhir-dir`` passes none, so it reads inline ``data`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from agent.ehr.formats import SUPPORTED, extract_text, media_type_of
from agent.ehr.model import (
    ChartBundle,
    ChartRequest,
    PatientRecord,
    SourceDocument,
    StructuredFact,
)

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


class AttachmentUnavailable(Exception):
    """An attachment's ``url`` could not be read; the message says why (no PHI)."""


UrlReader = Callable[[str, str], bytes | None]
"""Reads an attachment's ``url`` (the URL, its media type) to bytes; None: not fetched
(a URL the reader does not follow). Raises :class:`AttachmentUnavailable`."""

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


def identifier_values(resource: Resource) -> list[str]:
    """The non-blank ``identifier[].value`` strings of a resource, in order."""
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


# --------------------------------------------------------------------------- gathering

@dataclass
class ResourceSet:
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
class ChartIndex:
    """The resources of a :class:`ResourceSet` by what links them to a denial."""

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

    @classmethod
    def of(cls, resources: ResourceSet) -> ChartIndex:
        """Index every resource of the set."""
        return _build_index(resources)

    def chart(self, request: ChartRequest, read_url: UrlReader | None = None) -> ChartBundle:
        """The patient, notes and structured facts for one denial, by the linking rules.

        ``read_url`` reads attachments given by ``url``; without it only inline ``data`` is
        read.
        """
        patient_ref, problem = self.match_patient(request.member_ids)
        if patient_ref is None:
            return ChartBundle(problems=(problem,))
        problems: list[str] = []
        documents = self._documents(patient_ref, request, problems, read_url)
        if not documents:
            problems.append(_no_notes_problem(request))
        facts = sorted(self.facts_by_subject.get(patient_ref, ()), key=_newest_first)
        related = self.related_by_patient.get(patient_ref, ())
        return ChartBundle(patient=_patient_record(self.patients[patient_ref], related),
                           documents=documents, facts=tuple(facts), problems=tuple(problems))

    def match_patient(self, member_ids: Iterable[str]) -> tuple[str | None, str]:
        """The patient of the first member id that any Patient.identifier carries.

        (None, the problem) when there is none, or more than one for that id.
        """
        for member_id in member_ids:
            refs = self.patients_by_identifier.get(member_id)
            if refs:
                return (next(iter(refs)), "") if len(refs) == 1 else (None, AMBIGUOUS_PATIENT)
        return None, NO_PATIENT

    def _documents(self, patient_ref: str, request: ChartRequest, problems: list[str],
                   read_url: UrlReader | None) -> tuple[SourceDocument, ...]:
        chosen: dict[str, tuple[_Note, _Link]] = {}
        for note, encounter in self._encounter_notes(patient_ref, request.claim_id):
            chosen.setdefault(note.ref, (note, ("encounter", encounter)))
        for note in self._window_notes(patient_ref, request):
            first = note.encounters[0] if note.encounters else None
            chosen.setdefault(note.ref, (note, ("date_window", first)))
        documents = []
        for ref in sorted(chosen):  # problems come out in a stable order too
            note, link = chosen[ref]
            if document := _source_document(note, patient_ref, link, problems, read_url):
                documents.append(document)
        return tuple(sorted(documents, key=_sort_key))

    def _encounter_notes(self, patient_ref: str, claim_id: str
                         ) -> Iterator[tuple[_Note, str]]:
        """Notes of the patient on an Encounter whose identifier is the claim id."""
        for encounter in sorted(self.encounters_by_claim.get(claim_id, ())):
            encounter_subject = self.encounter_subject.get(encounter)
            for note in self.notes_by_encounter.get(encounter, ()):
                subjects = {s for s in (note.subject, encounter_subject) if s}
                if subjects == {patient_ref}:
                    yield note, encounter

    def _window_notes(self, patient_ref: str, request: ChartRequest) -> Iterator[_Note]:
        """Notes of the patient dated within ± window_days of the service date."""
        if request.service_date is None:
            return
        for note in self.notes_by_subject.get(patient_ref, ()):
            if note.date and abs((note.date - request.service_date).days) \
                    <= request.window_days:
                yield note


def _resolve(reference: Any, aliases: dict[str, str]) -> str | None:
    """``Type/id`` for a Reference: relative, absolute URL, ``_history`` or a fullUrl alias."""
    ref = _str(_obj(reference).get("reference"))
    if ref is None or ref.startswith("#"):
        return None  # contained resources are not indexed
    if ref in aliases:
        return aliases[ref]
    match = _REFERENCE.search(ref)
    return f"{match[1]}/{match[2]}" if match else None


def _build_index(loaded: ResourceSet) -> ChartIndex:
    index = ChartIndex()
    aliases = loaded.aliases
    for ref, resource in loaded.resources.items():
        kind = resource["resourceType"]
        subject = _resolve(resource.get("subject"), aliases)
        if kind == "Patient":
            index.patients[ref] = resource
            for value in identifier_values(resource):
                index.patients_by_identifier[value].add(ref)
        elif kind == "Encounter":
            index.encounter_subject[ref] = subject
            for value in identifier_values(resource):
                index.encounters_by_claim[value].add(ref)
        elif kind == "DocumentReference":
            _index_note(index, ref, resource, subject, aliases)
        elif kind == "RelatedPerson":
            if patient := _resolve(resource.get("patient"), aliases):
                index.related_by_patient[patient].append(resource)
        elif subject and (fact := _fact(ref, kind, resource)):
            index.facts_by_subject[subject].append(fact)
    return index


def _index_note(index: ChartIndex, ref: str, resource: Resource, subject: str | None,
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


def _note_text(note: _Note, read_url: UrlReader | None = None) -> _NoteText:
    """The text of a note's attachments of a readable type (agent/ehr/formats.py).

    Inline ``data``, or with ``read_url`` an attachment's ``url``. Several are joined with
    a blank line; the original's hash is the first one's (of several, the hash of their
    hashes).
    """
    texts: list[str] = []
    types: list[str] = []
    hashes: list[str] = []
    problems: list[str] = []
    for attachment in note.attachments:
        media_type = media_type_of(_str(attachment.get("contentType")))
        if media_type not in SUPPORTED:
            continue
        try:
            raw = _attachment_bytes(attachment, media_type, read_url)
        except AttachmentUnavailable as exc:
            problems.append(f"{note.ref}: {exc}")
            continue
        if raw is None:
            continue
        read = extract_text(raw, media_type)
        if read.text is None:
            problems.append(f"{note.ref}: {read.problem}; the attachment was skipped")
            continue
        texts.append(read.text)
        types.append(media_type)
        hashes.append(read.original_hash)
    if not texts:
        where = "attachment" if read_url else "inline attachment"
        problems.append(f"{note.ref}: no {where} of a readable type (plain text, "
                        "HTML, PDF, RTF or C-CDA); the note was skipped")
        return _NoteText(None, "text/plain", None, problems)
    original = hashes[0] if len(hashes) == 1 else "sha256:" + hashlib.sha256(
        "\n".join(hashes).encode("ascii")).hexdigest()
    return _NoteText(NOTE_SEPARATOR.join(texts), types[0], original, problems)


def _attachment_bytes(attachment: Resource, media_type: str,
                      read_url: UrlReader | None) -> bytes | None:
    """An attachment's bytes: its ``data``, else its ``url`` read by ``read_url``.

    None when it has neither (or a URL that is not read). Raises AttachmentUnavailable
    with the problem to report, after the note's reference.
    """
    data = _str(attachment.get("data"))
    if data is not None:
        raw = _decode(data)
        if raw is None:
            raise AttachmentUnavailable("an attachment is not valid base64 and was skipped")
        return raw
    url = _str(attachment.get("url"))
    if url is None or read_url is None:
        return None
    try:
        return read_url(url, media_type)
    except AttachmentUnavailable as exc:
        raise AttachmentUnavailable(f"{exc}; the attachment was skipped") from None


def _source_document(note: _Note, patient_ref: str, link: _Link, problems: list[str],
                     read_url: UrlReader | None) -> SourceDocument | None:
    read = _note_text(note, read_url)
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


# --------------------------------------------------------------------------- the patient

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
                         identifiers=tuple(dict.fromkeys(identifier_values(resource))),
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
