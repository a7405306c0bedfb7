"""Anesthesia physical status (modifiers P3-P5 on 00100-01999): extractors and checks.

Two facts back an appeal (REFERENCE.md §2a):

* ``asa_class``: the ASA physical status the anesthesiologist wrote ("ASA III", "ASA 3E",
  "ASA class 3", "ASA PS 4", "Physical status: P3"), value ``ASA 3`` / ``ASA 3E``.
* ``systemic_disease``: the disease behind the class, mapped to the ASA-approved examples
  (P3: poorly controlled DM/HTN, COPD, BMI ≥40, ESRD on dialysis, MI/CVA/coronary stent or
  bypass more than 3 months ago, pacemaker; P4: the same events within 3 months, TIA,
  ongoing ischemia, severe valve disease, severely reduced EF, sepsis, DIC, ESRD not
  dialyzed; P5: ruptured aneurysm, massive trauma), other severe disease (respiratory
  failure), or values that show it (HbA1c, CKD stage, ejection fraction) from the notes or
  from Observations and Conditions.

The checks say when not to appeal: the notes disagree about the class, or every class
they document is below the billed modifier. Medicare (no physical-status units) uses the
built-in ``medicare_claim`` check. The evidence fact names are the playbook's fact ids
(``specialty_playbooks/anesthesia_physical_status.yaml``): the letter numbers evidence by
them.

The disease words are data: specialty_playbooks/vocabularies/anesthesia_physical_status.yaml
(the fact's ``vocabulary``); this module keeps the value readers (ASA class, BMI, HbA1c,
ejection fraction, CKD stage, dates) and the ASA class each disease list is an example of.
Notes are read by the one note reader (agent/notes/): its sentences are quoted, and its
ConText assertion says when a disease is negated, a relative's, planned or in the past.
Notes are untrusted data: everything here matches patterns and copies spans.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument, StructuredFact
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, Sentence, clause_around, is_negated, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.reader import assertion
from agent.notes.visit import visit_documents
from agent.playbooks.checks import CheckContext, CheckRegistry

ASA_CLASS_FACT = "asa_class"
SYSTEMIC_DISEASE_FACT = "systemic_disease"
VOCABULARY = "anesthesia_physical_status"
"""The default vocabulary of ``systemic_disease`` (specialty_playbooks/vocabularies/)."""
PHYSICAL_STATUS_MODIFIERS = {f"P{n}": n for n in range(1, 7)}
"""P1-P6 (REFERENCE.md §2a); P6 is a brain-dead organ donor, not a severity above P5."""


@dataclass(frozen=True, slots=True)
class AsaCriteria:
    """Values that REFERENCE.md does not fix: the practice sets them (``register``).

    The ASA examples say "poorly controlled" and "severely reduced" without numbers, so a
    value alone is cited as a marker of the disease (never as an ASA example) when it
    passes these thresholds; the class itself is the anesthesiologist's.
    """

    hba1c_percent_min: Decimal = Decimal("8.0")
    """An HbA1c at or above this is cited (practice setting; not from REFERENCE.md)."""
    ejection_fraction_max: int = 40
    """An ejection fraction at or below this is cited (practice setting)."""
    recent_months: int = 3
    """MI/CVA/TIA/stent within this many months is a P4 example (REFERENCE.md §2a)."""


# --------------------------------------------------------------------------- notes

@dataclass(frozen=True, slots=True)
class _Note:
    """A note of the chart as the note reader splits it, and its place in the ranking."""

    document: SourceDocument
    rank: int
    sentences: list[Sentence]

    def evidence(self, start: int, end: int, fact: str, value: str) -> Evidence:
        """Evidence quoting ``text[start:end]`` exactly."""
        document = self.document
        return Evidence(quote=document.text[start:end], document_id=document.document_id,
                        start=start, end=end, fact=fact, value=value,
                        document_date=document.date, document_title=document.title)

    def quote_span(self, index: int, term_start: int, term_end: int) -> tuple[int, int]:
        """The quote for a term of sentence ``index`` (offsets in the sentence): the whole
        sentences written on its line (a PMH line reads better than its ';' piece; the
        reader has joined wrapped lines), or the clause around the term when too long."""
        first = last = index
        text = self.document.text
        while first > 0 and "\n" not in text[self.sentences[first - 1].end:
                                             self.sentences[first].start]:
            first -= 1
        while last + 1 < len(self.sentences) and "\n" not in text[
                self.sentences[last].end:self.sentences[last + 1].start]:
            last += 1
        start, end = self.sentences[first].start, self.sentences[last].end
        if end - start > MAX_QUOTE:
            return clause_around(self.sentences[index], term_start, term_end)
        return start, end


def _ranked_notes(chart: ChartBundle, denial: Denial) -> list[_Note]:
    """The notes of the visit first (agent/notes/visit.py), then the chart's other notes
    nearest the date of service first: the pre-anesthesia evaluation is often written on
    an earlier day than the anesthetic it classes."""
    visit = visit_documents(chart, denial)
    chosen = {document.document_id for document in visit}

    def distance(document: SourceDocument) -> tuple[int, str]:
        days = (abs((document.date - denial.service_date).days)
                if document.date and denial.service_date else 10_000)
        return days, document.document_id

    others = sorted((d for d in chart.documents if d.document_id not in chosen), key=distance)
    return [_Note(document, rank, sentences(document.text))
            for rank, document in enumerate([*visit, *others])]


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
    """The first ASA class stated in a sentence, with its span; None when there is none.

    Aspirin ("ASA 81 mg", "ASA 325", "ASA 1 tab daily"), ranges ("ASA 2-3"), negations
    and classes of an earlier anesthetic ("prior ASA 2") are not statements. The section
    is not used: a class often follows the PMH list with no header of its own.
    """
    for pattern in (_ASA, _PHYSICAL_STATUS):
        for match in pattern.finditer(text):
            after = text[match.end():]
            if _DOSE_AFTER.match(after) or _RANGE_AFTER.match(after):
                continue
            if is_negated(text, match.start(), match.end()) or \
                    _EARLIER_ANESTHETIC.search(text[:match.start()]):
                continue
            token = match.group("cls").upper()
            number = _ROMAN.get(token) or int(token)
            return AsaStatement(number, bool(match.group("emerg"))), match.start(), match.end()
    return None


def _asa_in_notes(notes: Iterable[_Note]) -> Iterator[tuple[_Note, Evidence]]:
    for note in notes:
        for index, sentence in enumerate(note.sentences):
            found = read_asa_class(sentence.text)
            if found is None:
                continue
            statement, lo, hi = found
            start, end = note.quote_span(index, lo, hi)
            yield note, note.evidence(start, end, ASA_CLASS_FACT, statement.value)


def _asa_in_facts(facts: Iterable[StructuredFact]) -> Iterator[Evidence]:
    """An Observation recording the ASA class (display "ASA physical status...")."""
    for fact in facts:
        if fact.resource_type != "Observation" or not fact.value:
            continue
        if not re.search(r"\bASA\b|physical status", fact.display or "", re.IGNORECASE):
            continue
        found = read_asa_class(f"ASA {fact.value}")
        if found is not None:
            yield Evidence(quote=fact.quote, document_id=fact.resource_id, fact=ASA_CLASS_FACT,
                           value=found[0].value, document_date=fact.date)


def asa_class(chart: ChartBundle, denial: Denial, limit: int = 4) -> list[Evidence]:
    """The ASA classes written in the chart (the claim's encounter first), one per quote."""
    found: list[Evidence] = []
    for _, evidence in _asa_in_notes(_ranked_notes(chart, denial)):
        if all((e.document_id, e.start) != (evidence.document_id, evidence.start)
               for e in found):
            found.append(evidence)
    found.extend(_asa_in_facts(chart.facts))
    return found[:limit]


def parse_asa_value(value: str | None) -> int | None:
    """``ASA 3E`` → 3 (the value an ``asa_class`` evidence carries)."""
    match = re.fullmatch(r"ASA ([1-6])E?", value or "")
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- disease

CHRONIC, CURRENT, ACUTE = "chronic", "current", "acute"
"""How a disease is dated (``AsaExample.state``): a chronic disease counts wherever it is
written; a current state not when placed in the past ("h/o", "s/p", "prior"); an acute
state not in the past medical history either."""


@dataclass(frozen=True, slots=True)
class AsaExample:
    """A disease list of the vocabulary and the ASA class it is an example of."""

    terms: str
    """The vocabulary list."""
    level: int
    """5, 4 or 3: an ASA-approved example of that class (REFERENCE.md §2a); 0: severe
    disease cited without a class."""
    label: str
    state: str = CHRONIC


ASA_EXAMPLES: tuple[AsaExample, ...] = (
    AsaExample("copd", 3, "COPD"),
    AsaExample("pacemaker", 3, "pacemaker"),
    AsaExample("morbid_obesity", 3, "morbid obesity (BMI ≥40)", CURRENT),
    AsaExample("ongoing_ischemia", 4, "ongoing ischemia", ACUTE),
    AsaExample("severe_valve_disease", 4, "severe valve disease", ACUTE),
    AsaExample("severely_reduced_ef", 4, "severely reduced ejection fraction", ACUTE),
    AsaExample("sepsis", 4, "sepsis", ACUTE),
    AsaExample("dic", 4, "DIC", ACUTE),
    AsaExample("moribund", 5, "ruptured aneurysm or massive trauma", ACUTE),
    AsaExample("respiratory_failure", 0, "respiratory failure", CURRENT),
)
"""The ASA examples read as words (REFERENCE.md §2a); their terms are the vocabulary's."""
POORLY_CONTROLLED: tuple[tuple[str, str], ...] = (
    ("diabetes", "poorly controlled diabetes"),
    ("hypertension", "poorly controlled hypertension"))
"""Diseases that are a P3 example only with ``poor_control`` in the same clause."""
EVENTS: tuple[tuple[str, str], ...] = (
    ("myocardial_infarction", "MI"), ("stroke", "CVA"), ("tia", "TIA"),
    ("coronary_stent", "coronary stent"), ("coronary_bypass", "coronary bypass grafting"))
"""Dated events: within ``recent_months`` of surgery a P4 example, before that P3."""
_SUPERSEDED = {"morbid_obesity": "bmi"}
"""A disease word not cited beside the value that states it ("Morbid obesity, BMI 42")."""
_LISTS = (*(e.terms for e in ASA_EXAMPLES), *(t for t, _ in POORLY_CONTROLLED),
          *(t for t, _ in EVENTS), "poor_control", "non_coronary", "remote", "recent",
          "this_admission", "esrd", "dialysis", "on_dialysis", "not_dialyzed",
          "risk_discussion", "past_state", "family_history")
"""The lists the extractor reads (checked at start-up against the playbook's vocabulary)."""


@cache
def default_vocabulary() -> Vocabulary:
    """The shipped vocabulary, with every list the readers use."""
    return load_vocabulary(VOCABULARY).require(*_LISTS)


@dataclass(frozen=True, slots=True)
class Finding:
    """A disease (or a value that shows it) read in a sentence or a resource."""

    kind: str
    level: int
    """5, 4 or 3: an ASA-approved example of that class; 0: a value that shows the disease."""
    label: str
    start: int = 0
    end: int = 0
    state: str = CHRONIC

    @property
    def value(self) -> str:
        """``COPD (ASA P3 example)`` or ``HbA1c 8.2%``."""
        return f"{self.label} (ASA P{self.level} example)" if self.level else self.label


@dataclass(frozen=True, slots=True)
class Reading:
    """What the disease readers need besides the text: the thresholds, the date of
    service, the note's own date (for "3 wks ago", "acute MI"), and the vocabulary."""

    criteria: AsaCriteria
    service_date: date | None
    note_date: date | None
    vocabulary: Vocabulary = field(default_factory=default_vocabulary)
    dated_by_note: bool = True
    """Whether "acute", "recent" or "admitted with" date an event by ``note_date`` (not
    for a problem-list entry, whose date is not the event's)."""


def _term_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    for example in ASA_EXAMPLES:
        for match in vocabulary.pattern(example.terms).finditer(text):
            yield Finding(example.terms, example.level, example.label, match.start(),
                          match.end(), example.state)
    poor = [(m.start(), m.end()) for m in vocabulary.pattern("poor_control").finditer(text)]
    if not poor:
        return
    for terms, label in POORLY_CONTROLLED:
        for match in vocabulary.pattern(terms).finditer(text):
            if any(_poorly_controlled(text, match, lo, hi) for lo, hi in poor):
                yield Finding(terms, 3, label, match.start(), match.end())


def _poorly_controlled(text: str, disease: re.Match[str], lo: int, hi: int) -> bool:
    """Poor control written just before the disease, or after it within the clause."""
    if hi <= disease.start():
        return not text[hi:disease.start()].strip()
    return lo >= disease.end() and lo - disease.end() <= 40 and \
        not re.search(r"[.;]", text[disease.end():lo])


def _renal_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    esrd = list(vocabulary.pattern("esrd").finditer(text))
    dialysis = [(m.start(), m.end()) for m in vocabulary.pattern("dialysis").finditer(text)]
    done = [span for span in dialysis if not is_negated(text, *span)]
    for match in esrd:
        after = [span for span in dialysis if match.end() <= span[0] <= match.end() + 60]
        not_started = vocabulary.pattern("not_dialyzed").search(
            text, match.end(), match.end() + 60) is not None
        if not done and (not_started or after):
            yield Finding("esrd", 4, "ESRD not on dialysis", match.start(), match.end())
        elif done:
            yield Finding("esrd", 3, "ESRD on dialysis", match.start(), match.end())
        else:
            yield Finding("esrd", 0, "ESRD", match.start(), match.end())
    if not esrd:
        for match in vocabulary.pattern("on_dialysis").finditer(text):
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


# ---- dated events (MI, CVA, TIA, stent): within 3 months → P4, older → P3

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_TOKEN = re.compile(
    r"(?P<mdy>\b(?P<m1>\d{1,2})/(?P<d1>\d{1,2})/(?P<y1>\d{4}|\d{2})\b)"
    r"|(?P<iso>\b(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})\b)"
    r"|(?P<my>\b(?P<m3>\d{1,2})/(?P<y3>\d{4})\b)"
    r"|(?P<named>\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<y4>\d{4})\b)"
    r"|(?P<rel>\b(?P<n>\d+|one|two|three|four|five|six)\s*-?\s*(?P<unit>days?|d|wks?|weeks?|w|"
    r"mos?|months?|yrs?|years?|y)\s+ago\b)"
    r"|(?P<year>\b(?:19[5-9]\d|20\d\d)\b)", re.IGNORECASE)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _minus_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _date_range(match: re.Match[str], reference: date | None) -> tuple[date, date] | None:
    """Earliest and latest day a date token can mean (None when it cannot be read)."""
    try:
        if match.group("mdy"):
            year = int(match.group("y1"))
            year += 2000 if year < 100 else 0
            day = date(year, int(match.group("m1")), int(match.group("d1")))
            return day, day
        if match.group("iso"):
            day = date(int(match.group("y2")), int(match.group("m2")), int(match.group("d2")))
            return day, day
        if match.group("my") or match.group("named"):
            year = int(match.group("y3") or match.group("y4"))
            month = (int(match.group("m3")) if match.group("my")
                     else _MONTHS.index(match.group("mon").lower()) + 1)
            return date(year, month, 1), date(year, month, monthrange(year, month)[1])
    except ValueError:
        return None
    if match.group("rel"):
        return _relative(match, reference)
    year = int(match.group("year"))
    return date(year, 1, 1), date(year, 12, 31)


def _relative(match: re.Match[str], reference: date | None) -> tuple[date, date] | None:
    if reference is None:
        return None
    raw = match.group("n").lower()
    count = _NUMBERS.get(raw) or int(raw)
    unit = match.group("unit").lower()[0]
    if unit == "d":
        day = reference - timedelta(days=count)
    elif unit == "w":
        day = reference - timedelta(weeks=count)
    elif unit == "m":
        day = _minus_months(reference, count)
    else:
        day = _minus_months(reference, 12 * count)
    return day, day


_CLAUSE_BREAK = re.compile(r"[,;.]\s|\band\b|\bon\s+(?:TTE|TEE|echo|ECG|EKG|CT|MRI|stress)",
                           re.IGNORECASE)
"""Between an event and a date: the date belongs to something else ("s/p LAD stent, EF 45%
on TTE 07/2026")."""


def _event_date(text: str, start: int, end: int) -> re.Match[str] | None:
    """The date token nearest after the event term (then just before it), in the same
    clause."""
    after = _DATE_TOKEN.search(text, end, min(len(text), end + 40))
    if after and not _CLAUSE_BREAK.search(text, end, after.start()):
        return after
    before = list(_DATE_TOKEN.finditer(text, max(0, start - 25), start))
    if before and not _CLAUSE_BREAK.search(text, before[-1].end(), start):
        return before[-1]
    return None


def _event_findings(text: str, reading: Reading) -> Iterator[Finding]:
    vocabulary = reading.vocabulary
    for terms, name in EVENTS:
        for match in vocabulary.pattern(terms).finditer(text):
            if terms == "coronary_stent" and vocabulary.pattern("non_coronary").search(text):
                continue
            level, label = _event_class(terms, name, text, match, reading)
            yield Finding(terms, level, label, match.start(), match.end())


def _event_class(kind: str, name: str, text: str, event: re.Match[str],
                 reading: Reading) -> tuple[int, str]:
    """P4 within the recent window, P3 before it (or undated: at least P3); TIA is a P4
    example only when recent (REFERENCE.md lists no older TIA). The date written with the
    event decides; else "remote MI" (older), "acute MI" or "admitted with an MI" (the
    note's own time)."""
    months = reading.criteria.recent_months
    older = 0 if kind == "tia" else 3
    token = _event_date(text, event.start(), event.end())
    shown = token.group(0) if token else "date not stated"
    dated = _dated_class(_date_range(token, reading.note_date or reading.service_date),
                         reading) if token else None
    if dated == 4:
        return 4, f"{name} within {months} months of surgery ({shown})"
    if dated == 3:
        return older, f"{name} more than {months} months before surgery ({shown})"
    if _just_before(reading.vocabulary.pattern("remote"), text, event.start(), 0):
        return older, f"remote {name}"
    day = reading.note_date
    if token is None and day is not None and _recent(text, event, reading) and \
            _dated_class((day, day), reading) == 4:
        return 4, f"{name} within {months} months of surgery (written as current in " \
            f"the note of {day.isoformat()})"
    return older, f"history of {name} ({shown})"


def _dated_class(span: tuple[date, date] | None, reading: Reading) -> int | None:
    """4 when the whole span is within the recent window before surgery, 3 when it is all
    before it, None when it straddles the cutoff or cannot be placed."""
    if not span or not reading.service_date or span[0] > reading.service_date:
        return None
    cutoff = _minus_months(reading.service_date, reading.criteria.recent_months)
    if span[0] >= cutoff:
        return 4
    return 3 if span[1] < cutoff else None


def _just_before(pattern: re.Pattern[str], text: str, start: int, words: int) -> bool:
    """Whether ``pattern`` ends at most ``words`` words before ``start``."""
    gap = r"\s*" if words == 0 else rf"(?:\s*[A-Za-z'-]+){{0,{words}}}\s*"
    return any(re.fullmatch(gap, text[m.end():start])
               for m in pattern.finditer(text, max(0, start - 60), start))


def _recent(text: str, event: re.Match[str], reading: Reading) -> bool:
    """An undated event written as happening now: "acute"/"recent" just before it, or the
    presentation the note is about earlier in its clause ("admitted with"), not placed in
    the past ("history of", "prior")."""
    if not reading.dated_by_note:
        return False
    vocabulary = reading.vocabulary
    clause = _clause_start(text, event.start())
    if "HISTORICAL" in assertion(text, event.start(), event.end()).categories or \
            vocabulary.pattern("past_state").search(text, clause, event.start()):
        return False
    return _just_before(vocabulary.pattern("recent"), text, event.start(), 3) or \
        vocabulary.pattern("this_admission").search(text, clause, event.start()) is not None


_CLAUSE = re.compile(r";|\bbut\b", re.IGNORECASE)


def _clause_start(text: str, offset: int) -> int:
    """Where the clause holding ``offset`` starts (after a ';' or 'but')."""
    starts = [m.end() for m in _CLAUSE.finditer(text, 0, offset)]
    return starts[-1] if starts else 0


_READERS = (_value_findings, _term_findings, _renal_findings, _event_findings)


def read_findings(text: str, reading: Reading, section: str | None = None) -> list[Finding]:
    """Diseases and values stated in one sentence, asserted as the patient's own present
    ones (the note reader's ConText, and the vocabulary's risk and past wording); an acute
    state not in the history."""
    found: dict[str, Finding] = {}
    for reader in _READERS:
        for finding in reader(text, reading):
            if not _asserted(text, finding, section, reading.vocabulary):
                continue
            kept = found.get(finding.kind)
            if kept is None or finding.level > kept.level:
                found[finding.kind] = finding
    return _superseded(list(found.values()))


NOT_PRESENT = frozenset({"NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "FAMILY",
                         "HYPOTHETICAL", "PLANNED"})
"""Contexts of the note reader (agent/notes) in which a disease is not the patient's own,
present one: negated, only suspected, a relative's, conditional or only planned ('plan to
start dialysis')."""


def _asserted(text: str, finding: Finding, section: str | None,
              vocabulary: Vocabulary) -> bool:
    categories = assertion(text, finding.start, finding.end).categories
    if categories & NOT_PRESENT:
        return False
    clause = _clause_start(text, finding.start)
    if vocabulary.pattern("risk_discussion").search(text, clause, finding.start):
        return False
    if finding.state == CHRONIC:
        return True
    past = "HISTORICAL" in categories or \
        vocabulary.pattern("past_state").search(text, clause, finding.start) is not None
    return not (past or (finding.state == ACUTE and section == "history"))


_Candidate = tuple[Evidence, list[Finding], tuple[int, int]]
"""A quote (value still empty), what it shows, and its place (note rank, offset)."""


def _note_candidates(notes: list[_Note], asa_spans: set[tuple[str, int, int]],
                     reading_for: dict[str, Reading]) -> Iterator[_Candidate]:
    """Sentences that document a disease, quoted, skipping the ASA statements' spans, the
    plan and a family-history section."""
    for note in notes:
        reading = reading_for[note.document.document_id]
        family = reading.vocabulary.pattern("family_history")
        for index, sentence in enumerate(note.sentences):
            if sentence.section == "plan" or (
                    sentence.label and family.fullmatch(sentence.label)):
                continue
            findings = read_findings(sentence.text, reading, sentence.section)
            if not findings:
                continue
            first = min(findings, key=lambda f: f.start)
            start, end = note.quote_span(index, first.start, first.end)
            doc = note.document.document_id
            if any(d == doc and s < end and start < e for d, s, e in asa_spans):
                continue
            evidence = note.evidence(start, end, SYSTEMIC_DISEASE_FACT, "")
            yield evidence, findings, (note.rank, start)


def _fact_text(fact: StructuredFact) -> str:
    return f"{fact.display} {fact.value}" if fact.value else (fact.display or "")


_INACTIVE = frozenset({"resolved", "inactive", "remission", "refuted"})
_EVENT_KINDS = frozenset(kind for kind, _ in EVENTS)


def _fact_findings(fact: StructuredFact, reading: Reading) -> list[Finding]:
    """Findings of an Observation (HbA1c, BMI, EF values) or a Condition/Procedure."""
    if fact.resource_type == "Observation":
        return _observation_findings(fact, reading.criteria)
    text = _fact_text(fact)
    if fact.date is not None and any(reading.vocabulary.pattern(kind).search(text)
                                     for kind in _EVENT_KINDS):
        text = f"{text} {fact.date.isoformat()}"
    findings = read_findings(text, reading)
    if fact.status in _INACTIVE:
        findings = [f for f in findings if f.kind in _EVENT_KINDS]
    if fact.resource_type == "Procedure":
        findings = [f for f in findings if f.kind in _EVENT_KINDS]
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
    number = _number(fact.value)
    display = fact.display or ""
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
    """Documented disease behind the class: ASA examples first (P5, P4, P3), then values
    that show it; one quote per kind of disease. Sentences already quoted for the ASA
    class are used only when nothing else documents the disease."""
    criteria = criteria or AsaCriteria()
    vocabulary = vocabulary or default_vocabulary()
    notes = _ranked_notes(chart, denial)
    readings = {n.document.document_id: Reading(criteria, denial.service_date,
                                                 n.document.date, vocabulary) for n in notes}
    asa_spans = {(e.document_id, e.start or 0, e.end or 0) for _, e in _asa_in_notes(notes)}
    candidates = list(_note_candidates(notes, asa_spans, readings))
    if not candidates and asa_spans:
        candidates = list(_note_candidates(notes, set(), readings))
    reading = Reading(criteria, denial.service_date, denial.service_date, vocabulary,
                      dated_by_note=False)
    for index, fact in enumerate(chart.facts):
        findings = _fact_findings(fact, reading)
        if findings:
            evidence = Evidence(quote=fact.quote, document_id=fact.resource_id,
                                fact=SYSTEMIC_DISEASE_FACT, value="", document_date=fact.date)
            candidates.append((evidence, findings, (len(notes), index)))
    return _best(candidates, limit)


def _merged(candidates: list[_Candidate]) -> list[_Candidate]:
    """One candidate per quote: the sentences of one line are quoted together."""
    merged: list[_Candidate] = []
    index: dict[tuple[str, int, int], int] = {}
    for evidence, findings, place in candidates:
        if evidence.start is None or evidence.end is None:  # a resource, quoted as built
            merged.append((evidence, findings, place))
            continue
        key = (evidence.document_id, evidence.start, evidence.end)
        if key not in index:
            index[key] = len(merged)
            merged.append((evidence, findings, place))
            continue
        kept = merged[index[key]]
        strongest = {f.kind: f for f in kept[1]}
        for finding in findings:
            if finding.kind not in strongest or finding.level > strongest[finding.kind].level:
                strongest[finding.kind] = finding
        merged[index[key]] = (kept[0], _superseded(list(strongest.values())), kept[2])
    return merged


def _superseded(findings: list[Finding]) -> list[Finding]:
    """Without the disease words a value of the same quote states ("Morbid obesity, BMI
    42": the BMI)."""
    kinds = {f.kind for f in findings}
    return [f for f in findings if _SUPERSEDED.get(f.kind) not in kinds]


def _best(candidates: list[_Candidate], limit: int) -> list[Evidence]:
    """The strongest quotes first, each kept only for the kinds it adds."""
    candidates = _merged(candidates)
    candidates.sort(key=lambda c: (-max(f.level for f in c[1]), c[2]))
    seen: set[str] = set()
    chosen: list[Evidence] = []
    for evidence, findings, _ in candidates:
        new = sorted((f for f in findings if f.kind not in seen),
                     key=lambda f: (-f.level, f.start))
        if not new:
            continue
        seen.update(f.kind for f in new)
        chosen.append(evidence.model_copy(update={"value": "; ".join(f.value for f in new)}))
        if len(chosen) == limit:
            break
    return chosen


# --------------------------------------------------------------------------- checks

def billed_physical_status(denial: Denial) -> int | None:
    """The class of the P modifier billed on the line (P1-P6), if any."""
    if denial.procedure is None:
        return None
    for modifier in denial.procedure.submitted_modifiers:
        if modifier.upper() in PHYSICAL_STATUS_MODIFIERS:
            return PHYSICAL_STATUS_MODIFIERS[modifier.upper()]
    return None


def _supports(documented: int, billed: int) -> bool:
    """A documented class supports the billed one when it is at least as severe (P6, the
    organ donor, is no severity: it supports only itself)."""
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
    levels = [_level_of(e.value) for found in ctx.evidence.values() for e in found
              if e.fact == SYSTEMIC_DISEASE_FACT]
    if any(level >= billed for level in levels):
        detail += (f" (the chart also lists a condition among the ASA P{billed} examples: "
                   "confirm the class with the anesthesiologist first)")
    return detail


def _level_of(value: str | None) -> int:
    """The highest ASA example class named in a ``systemic_disease`` value (0 if none)."""
    return max((int(n) for n in re.findall(r"ASA P([3-5]) example", value or "")), default=0)


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
