"""Anesthesia physical status (modifiers P3-P5 on 00100-01999): extractors and checks.

``asa_class`` reads the class the anesthesiologist wrote ("ASA III", "ASA 3E", "ASA PS 4");
``systemic_disease`` the disease behind it: the vocabulary's lists (their ``values`` say
which ASA example each is, specialty_playbooks/vocabularies/anesthesia_physical_status.yaml)
and the values this module reads (BMI, HbA1c, ejection fraction, CKD stage; event
dates through agent/notes/values.py).
The checks say when the documented class does not support the billed modifier.
Notes are untrusted data: everything here matches patterns and copies spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument, StructuredFact
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, Sentence, clause_around, is_negated, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.reader import assertion
from agent.notes.values import WrittenDate, dates, minus_months
from agent.notes.visit import visit_documents
from agent.playbooks.checks import CheckContext, CheckRegistry

ASA_CLASS_FACT = "asa_class"
SYSTEMIC_DISEASE_FACT = "systemic_disease"
VOCABULARY = "anesthesia_physical_status"
PHYSICAL_STATUS_MODIFIERS = {f"P{n}": n for n in range(1, 7)}
"""P1-P6 (docs/domain.md#asa-physical-status); P6 is a brain-dead organ donor, not a
severity above P5."""
_LISTS = ("poor_control", "remote", "recent", "this_admission", "esrd", "dialysis",
          "on_dialysis", "not_dialyzed", "risk_discussion", "past_state")
"""The lists the code names; the disease lists are found by their ``values``."""


@dataclass(frozen=True, slots=True)
class AsaCriteria:
    """Thresholds the ASA examples do not fix ("poorly controlled", "severely reduced").

    See docs/domain.md#asa-physical-status. A value past them is cited as a marker of the
    disease, never as an ASA example.
    """

    hba1c_percent_min: Decimal = Decimal("8.0")
    ejection_fraction_max: int = 40
    recent_months: int = 3
    """MI/CVA/TIA/stent within this many months is a P4 example
    (docs/domain.md#asa-physical-status)."""


# --------------------------------------------------------------------------- notes

def _ranked_notes(chart: ChartBundle, denial: Denial) -> list[SourceDocument]:
    """The visit's notes, then the others nearest the date of service.

    The pre-anesthesia evaluation is often written days before the anesthetic it classes.
    """
    visit = visit_documents(chart, denial)
    chosen = {document.document_id for document in visit}

    def distance(document: SourceDocument) -> tuple[int, str]:
        days = (abs((document.date - denial.service_date).days)
                if document.date and denial.service_date else 10_000)
        return days, document.document_id

    return visit + sorted((d for d in chart.documents if d.document_id not in chosen),
                          key=distance)


def _quote(document: SourceDocument, span: tuple[int, int], fact: str, value: str) -> Evidence:
    start, end = span
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=fact, value=value,
                    document_date=document.date, document_title=document.title)


# --------------------------------------------------------------------------- ASA class

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
_CLASS = (r"(?P<cls>VI|IV|V|I{1,3}|[1-6])(?:[ \t]*-?[ \t]*(?P<emerg>E)(?![A-Za-z]))?"
          r"(?![A-Za-z0-9])")
_ASA = re.compile(
    r"(?<![A-Za-z])ASA(?P<qual>[ \t]*-?[ \t]*(?:physical[ \t]+status(?:[ \t]+class"
    r"(?:ification)?)?|P\.?S\.?|class(?:ification)?|status|score|grade|category))?"
    r"[ \t]*(?:[:=#-]|is|of)?[ \t]*(?:class[ \t]*|P)?" + _CLASS, re.IGNORECASE)
_PHYSICAL_STATUS = re.compile(
    r"(?<![A-Za-z])physical[ \t]+status(?:[ \t]*\(ASA\))?(?:[ \t]+class(?:ification)?)?"
    r"[ \t]*[:=-]?[ \t]*(?:class[ \t]*|P)?" + _CLASS, re.IGNORECASE)
_DOSE_AFTER = re.compile(r"^\s*(?:mg|tabs?|tablets?|po|daily|qd|qday|bid|x\s*\d)\b",
                         re.IGNORECASE)
_RANGE_AFTER = re.compile(r"^\s*(?:-|–|/|to|or)\s*(?:VI|IV|V|I{1,3}|[1-6])(?![A-Za-z0-9])",
                          re.IGNORECASE)
_EARLIER_ANESTHETIC = re.compile(r"\b(?:prior|previous|past|last|old)\b[^.;,]{0,30}$",
                                 re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AsaStatement:
    """One class the anesthesiologist wrote."""

    asa_class: int
    emergency: bool

    @property
    def value(self) -> str:
        """``ASA 3`` or ``ASA 3E``."""
        return f"ASA {self.asa_class}{'E' if self.emergency else ''}"


def read_asa_class(text: str) -> tuple[AsaStatement, int, int] | None:
    """The first ASA class stated in a sentence, with its span.

    Aspirin ("ASA 81 mg"), ranges ("ASA 2-3"), negations and an earlier anesthetic's class
    are not statements.
    """
    for pattern in (_ASA, _PHYSICAL_STATUS):
        for match in pattern.finditer(text):
            after = text[match.end():]
            if _DOSE_AFTER.match(after) or _RANGE_AFTER.match(after) or \
                    is_negated(text, match.start(), match.end()) or \
                    _EARLIER_ANESTHETIC.search(text[:match.start()]):
                continue
            token = match.group("cls").upper()
            number = _ROMAN.get(token) or int(token)
            return AsaStatement(number, bool(match.group("emerg"))), match.start(), match.end()
    return None


def _asa_in_notes(notes: list[SourceDocument]) -> Iterator[Evidence]:
    for document in notes:
        read = sentences(document.text)
        for index, sentence in enumerate(read):
            found = read_asa_class(sentence.text)
            if found is not None:
                statement, lo, hi = found
                yield _quote(document, _line_span(document.text, read, index, lo, hi),
                             ASA_CLASS_FACT, statement.value)


def _line_span(text: str, read: list[Sentence], index: int, lo: int, hi: int
               ) -> tuple[int, int]:
    """The span of the sentences on the class's line ("ASA 3. Plan spinal").

    When they are too long to quote, the clause around the class instead.
    """
    first = last = index
    while first and "\n" not in text[read[first - 1].end:read[first].start]:
        first -= 1
    while last + 1 < len(read) and "\n" not in text[read[last].end:read[last + 1].start]:
        last += 1
    if read[last].end - read[first].start > MAX_QUOTE:
        return clause_around(read[index], lo, hi)
    return read[first].start, read[last].end


def _asa_in_facts(facts: Iterable[StructuredFact]) -> Iterator[Evidence]:
    """An Observation recording the ASA class (display "ASA physical status...")."""
    for fact in facts:
        if fact.resource_type != "Observation" or not fact.value or \
                not re.search(r"\bASA\b|physical status", fact.display or "", re.IGNORECASE):
            continue
        found = read_asa_class(f"ASA {fact.value}")
        if found is not None:
            yield Evidence(quote=fact.quote, document_id=fact.resource_id, fact=ASA_CLASS_FACT,
                           value=found[0].value, document_date=fact.date)


def asa_class(chart: ChartBundle, denial: Denial, limit: int = 4) -> list[Evidence]:
    """The ASA classes written in the chart (the claim's encounter first)."""
    found = [*_asa_in_notes(_ranked_notes(chart, denial)), *_asa_in_facts(chart.facts)]
    return found[:limit]


def parse_asa_value(value: str | None) -> int | None:
    """``ASA 3E`` → 3 (the value an ``asa_class`` evidence carries)."""
    match = re.fullmatch(r"ASA ([1-6])E?", value or "")
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- disease

@cache
def default_vocabulary() -> Vocabulary:
    """The shipped vocabulary, with every list the code names."""
    return load_vocabulary(VOCABULARY).require(*_LISTS)


@dataclass(frozen=True, slots=True)
class Finding:
    """A disease (or a value that shows it) read in a sentence or a resource."""

    kind: str
    level: int
    """5, 4 or 3: an ASA-approved example of that class; 0: cited without a class."""
    label: str
    start: int = 0
    end: int = 0
    state: str = "chronic"
    """chronic, current or acute (the vocabulary's ``state``)."""

    @property
    def value(self) -> str:
        """``COPD (ASA P3 example)`` or ``HbA1c 8.2%``."""
        return f"{self.label} (ASA P{self.level} example)" if self.level else self.label


@dataclass(frozen=True, slots=True)
class Reading:
    """What the disease readers need besides the text.

    That is the thresholds, the date of service, the note's own date (for "3 wks ago",
    "acute MI"), and the vocabulary.
    """

    criteria: AsaCriteria
    service_date: date | None
    note_date: date | None
    vocabulary: Vocabulary = field(default_factory=default_vocabulary)
    dated_by_note: bool = True
    """Whether "acute", "recent" or "admitted with" date an event by ``note_date`` (not
    for a problem-list entry, whose date is not the event's)."""


def _level(values: dict[str, str], key: str = "asa_class") -> int:
    return int(values.get(key, "0"))


def _term_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    for name in vocabulary.lists_with("example"):
        values = vocabulary.values(name)
        for match in vocabulary.pattern(name).finditer(text):
            yield Finding(name, _level(values), values["example"], match.start(),
                          match.end(), values.get("state", "chronic"))
    poor = [(m.start(), m.end()) for m in vocabulary.pattern("poor_control").finditer(text)]
    for name in vocabulary.lists_with("poorly_controlled") if poor else ():
        values = vocabulary.values(name)
        for match in vocabulary.pattern(name).finditer(text):
            if any(_poorly_controlled(text, match, lo, hi) for lo, hi in poor):
                yield Finding(name, _level(values), values["poorly_controlled"],
                              match.start(), match.end())


def _poorly_controlled(text: str, disease: re.Match[str], lo: int, hi: int) -> bool:
    """Poor control written just before the disease, or after it within the clause."""
    if hi <= disease.start():
        return not text[hi:disease.start()].strip()
    return lo >= disease.end() and lo - disease.end() <= 40 and \
        not re.search(r"[.;]", text[disease.end():lo])


def _renal_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    esrd = list(vocabulary.pattern("esrd").finditer(text))
    dialysis = vocabulary.spans("dialysis", text)
    done = [span for span in dialysis if not is_negated(text, *span)]
    for match in esrd:
        after = [span for span in dialysis if match.end() <= span[0] <= match.end() + 60]
        not_started = vocabulary.pattern("not_dialyzed").search(
            text, match.end(), match.end() + 60) is not None
        level, label = ((3, "ESRD on dialysis") if done else
                        (4, "ESRD not on dialysis") if not_started or after else (0, "ESRD"))
        yield Finding("esrd", level, label, match.start(), match.end())
    for match in () if esrd else vocabulary.pattern("on_dialysis").finditer(text):
        if not is_negated(text, match.start(), match.end()):
            yield Finding("esrd", 3, "on dialysis", match.start(), match.end())
    for match in _CKD.finditer(text):
        stage = match.group("stage").upper().replace("III", "3").replace("IV", "4")
        yield Finding("ckd", 0, f"CKD stage {stage.replace('A', 'a').replace('B', 'b')}",
                      match.start(), match.end())


_CKD = re.compile(r"(?<![A-Za-z])(?:(?-i:CKD)|chronic kidney disease),?\s*(?:stage\s*)?"
                  r"(?P<stage>3a|3b|IIIa|IIIb|3|4|III|IV)(?![0-9A-Za-z])", re.IGNORECASE)
_BMI = re.compile(r"(?<![A-Za-z])(?:BMI|body mass index)\s*(?:of|:|=|is|was|~)?\s*"
                  r"(?P<n>\d{2}(?:\.\d+)?)(?!\.?\d)", re.IGNORECASE)
_A1C = re.compile(r"(?<![A-Za-z])(?:Hb ?A1c|HgbA1c|Hgb A1c|A1c|glycated h(?:a)?emoglobin)"
                  r"\s*(?:of|:|=|was|is|-|~)?\s*(?P<n>\d{1,2}(?:\.\d)?)\s*%?", re.IGNORECASE)
_EF = re.compile(r"(?<![A-Za-z])(?:LV ?EF|EF|ejection fraction)\s*(?:of|:|=|is|was|~|<|≈)?"
                 r"\s*(?:(?P<lo>\d{1,2})\s*(?:-|–|to)\s*)?(?P<n>\d{1,2})\s*%", re.IGNORECASE)


def _value_findings(text: str, reading: Reading) -> Iterator[Finding]:
    criteria = reading.criteria
    for match in _BMI.finditer(text):
        if Decimal(match.group("n")) >= 40:
            yield Finding("bmi", 3, f"BMI ≥40 (BMI {match.group('n')})", match.start(),
                          match.end())
    for match in _A1C.finditer(text):
        if Decimal(match.group("n")) >= criteria.hba1c_percent_min:
            yield Finding("hba1c", 0, f"HbA1c {match.group('n')}%", match.start(), match.end())
    for match in _EF.finditer(text):
        if int(match.group("n")) <= criteria.ejection_fraction_max:
            shown = text[match.start("lo") if match.group("lo") else match.start("n"):
                         match.end()].replace(" ", "")
            yield Finding("ef", 0, f"ejection fraction {shown}", match.start(), match.end())


# ---- dated events: within ``recent_months`` of surgery ``recent_asa_class``, older ``asa_class``

_CLAUSE_BREAK = re.compile(r"[,;.]\s|\band\b|\bon\s+(?:TTE|TEE|echo|ECG|EKG|CT|MRI|stress)",
                           re.IGNORECASE)
"""Between an event and a date: the date is another thing's ("stent, EF 45% on TTE 07/2026")."""


def _event_date(text: str, start: int, end: int, around: date | None) -> WrittenDate | None:
    """The date nearest after the event (else just before it), in its clause.

    A month/day without a year does not date an event.
    """
    after = [d for d in dates(text, around, end, min(len(text), end + 40))
             if d.kind != "month_day"]
    if after and not _CLAUSE_BREAK.search(text, end, after[0].start):
        return after[0]
    before = [d for d in dates(text, around, max(0, start - 25), start)
              if d.kind != "month_day"]
    if before and not _CLAUSE_BREAK.search(text, before[-1].end, start):
        return before[-1]
    return None


def _event_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    for name in vocabulary.lists_with("event"):
        values = vocabulary.values(name)
        if "unless_list" in values and vocabulary.pattern(values["unless_list"]).search(text):
            continue
        for match in vocabulary.pattern(name).finditer(text):
            level, label = _event_class(values, text, match, reading)
            yield Finding(name, level, label, match.start(), match.end())


def _event_class(values: dict[str, str], text: str, event: re.Match[str],
                 reading: Reading) -> tuple[int, str]:
    """The ASA class and label of an event: recent or older.

    The date written with the event decides; else "remote MI" is older, "acute MI" or
    "admitted with an MI" is of the note's own time; undated, the older class.
    """
    months, name = reading.criteria.recent_months, values["event"]
    recent, older = _level(values, "recent_asa_class"), _level(values)
    token = _event_date(text, event.start(), event.end(),
                        reading.note_date or reading.service_date)
    shown = token.text if token else "date not stated"
    when = _when(token.days, reading) if token else None
    if when == "recent":
        return recent, f"{name} within {months} months of surgery ({shown})"
    if when == "older":
        return older, f"{name} more than {months} months before surgery ({shown})"
    if _just_before(reading.vocabulary.pattern("remote"), text, event.start(), 0):
        return older, f"remote {name}"
    day = reading.note_date
    if token is None and day is not None and _recent(text, event, reading) and \
            _when((day, day), reading) == "recent":
        return recent, f"{name} within {months} months of surgery (written as current " \
            f"in the note of {day.isoformat()})"
    return older, f"history of {name} ({shown})"


def _when(span: tuple[date, date] | None, reading: Reading) -> str | None:
    """Place a span of days against the recent window before surgery.

    Returns "recent" when the whole span is in the window, "older" when it is all before
    it, None when it straddles the cutoff or cannot be placed.
    """
    if not span or not reading.service_date or span[0] > reading.service_date:
        return None
    cutoff = minus_months(reading.service_date, reading.criteria.recent_months)
    if span[0] >= cutoff:
        return "recent"
    return "older" if span[1] < cutoff else None


def _just_before(pattern: re.Pattern[str], text: str, start: int, words: int) -> bool:
    """Whether ``pattern`` ends at most ``words`` words before ``start``."""
    gap = r"\s*" if words == 0 else rf"(?:\s*[A-Za-z'-]+){{0,{words}}}\s*"
    return any(re.fullmatch(gap, text[m.end():start])
               for m in pattern.finditer(text, max(0, start - 60), start))


def _recent(text: str, event: re.Match[str], reading: Reading) -> bool:
    """Whether an undated event is written as happening now, not placed in the past.

    That is "acute"/"recent" just before it, or "admitted with" earlier in its clause.
    """
    if not reading.dated_by_note or _in_past(text, event.start(), event.end(), reading):
        return False
    vocabulary = reading.vocabulary
    return _just_before(vocabulary.pattern("recent"), text, event.start(), 3) or \
        vocabulary.pattern("this_admission").search(
            text, _clause_start(text, event.start()), event.start()) is not None


def _in_past(text: str, start: int, end: int, reading: Reading) -> bool:
    """ConText's HISTORICAL, or the vocabulary's ``past_state`` earlier in the clause."""
    return "HISTORICAL" in assertion(text, start, end).categories or \
        reading.vocabulary.pattern("past_state").search(
            text, _clause_start(text, start), start) is not None


_CLAUSE = re.compile(r";|\bbut\b", re.IGNORECASE)


def _clause_start(text: str, offset: int) -> int:
    """Where the clause holding ``offset`` starts (after a ';' or 'but')."""
    starts = [m.end() for m in _CLAUSE.finditer(text, 0, offset)]
    return starts[-1] if starts else 0


_READERS = (_value_findings, _term_findings, _renal_findings, _event_findings)
NOT_PRESENT = frozenset({"NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "FAMILY",
                         "HYPOTHETICAL", "PLANNED"})
"""ConText categories in which a disease is not the patient's own, present one."""


def read_findings(text: str, reading: Reading, section: str | None = None) -> list[Finding]:
    """Diseases and values stated in one sentence as the patient's own present ones.

    Only the strongest of each kind is kept.
    """
    found: dict[str, Finding] = {}
    for reader in _READERS:
        for finding in reader(text, reading):
            kept = found.get(finding.kind)
            if (kept is None or finding.level > kept.level) and \
                    _asserted(text, finding, section, reading):
                found[finding.kind] = finding
    attributes = reading.vocabulary.attributes
    return [f for kind, f in found.items()
            if attributes.get(kind, {}).get("unless_value") not in found]


def _asserted(text: str, finding: Finding, section: str | None, reading: Reading) -> bool:
    """Whether the sentence states the finding as the patient's own, present one.

    It is not negated, possible, a relative's, conditional, planned or a risk discussed; a
    current state is not in the past, an acute one not in the history section either.
    """
    if assertion(text, finding.start, finding.end).categories & NOT_PRESENT or \
            reading.vocabulary.pattern("risk_discussion").search(
                text, _clause_start(text, finding.start), finding.start):
        return False
    if finding.state == "chronic":
        return True
    return not (_in_past(text, finding.start, finding.end, reading) or
                (finding.state == "acute" and section == "history"))


_Candidate = tuple[Evidence, list[Finding], tuple[int, int]]
"""A quote (value still empty), what it shows, and its place (note rank, offset)."""


def _note_candidates(notes: list[SourceDocument], readings: list[Reading],
                     skip_asa: bool) -> Iterator[_Candidate]:
    """Sentences that document a disease (not the plan, not the family history).

    Unless ``skip_asa``, the ASA statements' sentences are candidates too.
    """
    for rank, (document, reading) in enumerate(zip(notes, readings, strict=True)):
        for sentence in sentences(document.text):
            if sentence.section in ("plan", "family") or \
                    (skip_asa and read_asa_class(sentence.text) is not None):
                continue
            findings = read_findings(sentence.text, reading, sentence.section)
            if findings:
                first = min(findings, key=lambda f: f.start)
                span = clause_around(sentence, first.start, first.end)
                yield (_quote(document, span, SYSTEMIC_DISEASE_FACT, ""), findings,
                       (rank, span[0]))


_INACTIVE = frozenset({"resolved", "inactive", "remission", "refuted"})


def _fact_findings(fact: StructuredFact, reading: Reading) -> list[Finding]:
    """Findings of an Observation (HbA1c, BMI, EF values) or a Condition/Procedure.

    An inactive Condition or a Procedure shows only a dated event.
    """
    if fact.resource_type == "Observation":
        return _observation_findings(fact, reading.criteria)
    text = f"{fact.display} {fact.value}" if fact.value else (fact.display or "")
    events = set(reading.vocabulary.lists_with("event"))
    if fact.date is not None and any(reading.vocabulary.pattern(e).search(text) for e in events):
        text = f"{text} {fact.date.isoformat()}"
    findings = read_findings(text, reading)
    if fact.status in _INACTIVE or fact.resource_type == "Procedure":
        return [f for f in findings if f.kind in events]
    return findings


def _number(value: str | None) -> Decimal | None:
    match = re.match(r"\s*[<>≤≥=]*\s*(\d+(?:\.\d+)?)", value or "")
    try:
        return Decimal(match.group(1)) if match else None
    except InvalidOperation:
        return None


_A1C_CODES = frozenset({"4548-4", "17856-6", "4549-2", "41995-2"})
_BMI_CODES = frozenset({"39156-5"})
_EF_CODES = frozenset({"10230-1", "8806-2", "18043-0", "18044-8", "77889-2"})


def _observation_findings(fact: StructuredFact, criteria: AsaCriteria) -> list[Finding]:
    number, display = _number(fact.value), fact.display or ""
    if number is None:
        return []
    if fact.code in _A1C_CODES or re.search(r"A1c|glycated", display, re.IGNORECASE):
        if number >= criteria.hba1c_percent_min:
            return [Finding("hba1c", 0, f"HbA1c {fact.value}")]
    elif fact.code in _BMI_CODES or re.search(r"\bBMI\b|body mass index", display, re.I):
        if number >= 40:
            return [Finding("bmi", 3, f"BMI ≥40 (BMI {fact.value})")]
    elif (fact.code in _EF_CODES or re.search(r"ejection fraction|\bLVEF\b", display, re.I)) \
            and number <= criteria.ejection_fraction_max:
        return [Finding("ef", 0, f"ejection fraction {fact.value}")]
    return []


def systemic_disease(chart: ChartBundle, denial: Denial, criteria: AsaCriteria | None = None,
                     limit: int = 6, vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Documented disease behind the class, strongest ASA example first, one quote per kind.

    The ASA statements' sentences are quoted only when nothing else documents the disease.
    """
    criteria = criteria or AsaCriteria()
    vocabulary = vocabulary or default_vocabulary()
    notes = _ranked_notes(chart, denial)
    readings = [Reading(criteria, denial.service_date, n.date, vocabulary) for n in notes]
    candidates = list(_note_candidates(notes, readings, skip_asa=True)) or \
        list(_note_candidates(notes, readings, skip_asa=False))
    reading = Reading(criteria, denial.service_date, denial.service_date, vocabulary,
                      dated_by_note=False)
    for index, fact in enumerate(chart.facts):
        findings = _fact_findings(fact, reading)
        if findings:
            evidence = Evidence(quote=fact.quote, document_id=fact.resource_id,
                                fact=SYSTEMIC_DISEASE_FACT, value="", document_date=fact.date)
            candidates.append((evidence, findings, (len(notes), index)))
    return _best(candidates, limit)


def _best(candidates: list[_Candidate], limit: int) -> list[Evidence]:
    """The strongest quotes first, each kept only for the kinds it adds."""
    candidates.sort(key=lambda c: (-max(f.level for f in c[1]), c[2]))
    seen: set[str] = set()
    chosen: list[Evidence] = []
    for evidence, findings, _ in candidates:
        new = sorted((f for f in findings if f.kind not in seen),
                     key=lambda f: (-f.level, f.start))
        if new:
            seen.update(f.kind for f in new)
            chosen.append(evidence.model_copy(update={"value": "; ".join(f.value for f in new)}))
    return chosen[:limit]


# --------------------------------------------------------------------------- checks

def billed_physical_status(denial: Denial) -> int | None:
    """The class of the P modifier billed on the line (P1-P6), if any."""
    modifiers = denial.procedure.submitted_modifiers if denial.procedure else ()
    return next((PHYSICAL_STATUS_MODIFIERS[m.upper()] for m in modifiers
                 if m.upper() in PHYSICAL_STATUS_MODIFIERS), None)


def _supports(documented: int, billed: int) -> bool:
    """At least as severe (P6, the organ donor, is no severity: it supports only itself)."""
    if 6 in (documented, billed):
        return documented == billed
    return documented >= billed


def _documented_classes(ctx: CheckContext) -> list[int]:
    """Classes of the ``asa_class`` evidence, in the order found (encounter first)."""
    values = [e.value for found in ctx.evidence.values() for e in found
              if e.fact == ASA_CLASS_FACT]
    return list(dict.fromkeys(c for c in map(parse_asa_value, values) if c is not None))


def asa_classes_disagree(ctx: CheckContext) -> str | None:
    """The notes write different classes, and not all of them support the billed one."""
    billed = billed_physical_status(ctx.denial)
    classes = _documented_classes(ctx)
    if billed is None or len(classes) < 2 or all(_supports(c, billed) for c in classes):
        return None
    listed = " and ".join(f"ASA {c}" for c in sorted(classes))
    return f"the anesthesia notes document {listed} while P{billed} was billed"


def asa_class_below_billed(ctx: CheckContext) -> str | None:
    """Every class the notes write is below the billed modifier: a coding error."""
    billed = billed_physical_status(ctx.denial)
    classes = _documented_classes(ctx)
    if billed is None or not classes or any(_supports(c, billed) for c in classes):
        return None
    documented = classes[0]
    detail = (f"the anesthesia notes document ASA {documented} but the line was billed with "
              f"P{billed}; the modifier the record supports is P{documented}")
    levels = [int(n) for found in ctx.evidence.values() for e in found
              if e.fact == SYSTEMIC_DISEASE_FACT
              for n in re.findall(r"ASA P([3-5]) example", e.value or "")]
    if any(level >= billed for level in levels):
        detail += (f" (the chart also lists a condition among the ASA P{billed} examples: "
                   "confirm the class with the anesthesiologist first)")
    return detail


# --------------------------------------------------------------------------- registration

def register(extractors: ExtractorRegistry, checks: CheckRegistry,
             criteria: AsaCriteria | None = None) -> None:
    """Register the anesthesia extractors and checks (thresholds from ``criteria``)."""
    chosen = criteria or AsaCriteria()

    def disease(chart: ChartBundle, denial: Denial,
                vocabulary: Vocabulary | None = None) -> list[Evidence]:
        return systemic_disease(chart, denial, chosen,
                                vocabulary=vocabulary.require(*_LISTS) if vocabulary else None)

    extractors.register("anesthesia_asa_class", asa_class)
    extractors.register_reading("anesthesia_systemic_disease", disease, _LISTS)
    checks.register("anesthesia_asa_classes_disagree", asa_classes_disagree)
    checks.register("anesthesia_asa_class_below_billed", asa_class_below_billed)
