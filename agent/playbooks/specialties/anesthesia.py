"""Anesthesia physical status (modifiers P3-P5 on 00100-01999): extractors and checks.

Two facts back an appeal (REFERENCE.md §2a):

* ``asa_class``: the ASA physical status the anesthesiologist wrote ("ASA III", "ASA 3E",
  "ASA class 3", "ASA PS 4", "Physical status: P3"), value ``ASA 3`` / ``ASA 3E``.
* ``systemic_disease``: the disease behind the class, mapped to the ASA-approved examples
  (P3: poorly controlled DM/HTN, COPD, BMI ≥40, ESRD on dialysis, MI/CVA/stent more than
  3 months ago, pacemaker; P4: MI/CVA/TIA/stent within 3 months, ongoing ischemia, severe
  valve disease, severely reduced EF, sepsis, DIC, ESRD not dialyzed; P5: ruptured
  aneurysm, massive trauma), or values that show it (HbA1c, CKD stage, ejection fraction)
  from the notes or from Observations and Conditions.

The checks say when not to appeal: the notes disagree about the class, or every class
they document is below the billed modifier. Medicare (no physical-status units) uses the
built-in ``medicare_claim`` check. The evidence fact names are the playbook's fact ids
(``specialty_playbooks/anesthesia_physical_status.yaml``): the letter numbers evidence by
them.

Notes are untrusted data: everything here matches patterns and copies spans.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from calendar import monthrange
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument, StructuredFact
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, Sentence, clause_around, is_negated, sentences
from agent.notes.reader import assertion
from agent.playbooks.checks import CheckContext, CheckRegistry

ASA_CLASS_FACT = "asa_class"
SYSTEMIC_DISEASE_FACT = "systemic_disease"
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


# --------------------------------------------------------------------------- quoting

@dataclass(slots=True)
class _Note:
    """A note split into sentences, with line numbers for whole-line quotes."""

    document: SourceDocument
    rank: int
    sentences: list[Sentence] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)
    by_line: dict[int, list[Sentence]] = field(default_factory=dict)

    @classmethod
    def read(cls, document: SourceDocument, rank: int) -> _Note:
        """Split ``document`` once."""
        text = document.text
        starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
        note = cls(document, rank, sentences(text), starts)
        for sentence in note.sentences:
            note.by_line.setdefault(note.line_of(sentence.start), []).append(sentence)
        return note

    def line_of(self, offset: int) -> int:
        """0-based line number of a character offset."""
        return bisect_right(self.line_starts, offset) - 1

    def evidence(self, start: int, end: int, fact: str, value: str) -> Evidence:
        """Evidence quoting ``text[start:end]`` exactly."""
        document = self.document
        return Evidence(quote=document.text[start:end], document_id=document.document_id,
                        start=start, end=end, fact=fact, value=value,
                        document_date=document.date, document_title=document.title)


def _quote_span(note: _Note, sentence: Sentence, term_start: int, term_end: int
                ) -> tuple[int, int]:
    """The whole line of a sentence (a PMH bullet reads better than a ';' piece), carried
    over a wrapped line break; the clause around the term when that is too long."""
    line = note.line_of(sentence.start)
    pieces = note.by_line.get(line, [sentence])
    start, end = min(p.start for p in pieces), max(p.end for p in pieces)
    if end - start > MAX_QUOTE:
        return clause_around(sentence, term_start - sentence.start, term_end - sentence.start)
    for _ in range(2):
        following = note.by_line.get(line + 1)
        if not following or not _wraps(note.document.text, start, end, following[0]):
            break
        new_end = max(p.end for p in following)
        if new_end - start > MAX_QUOTE:
            break
        line, end = line + 1, new_end
    return start, end


def _wraps(text: str, start: int, end: int, following: Sentence) -> bool:
    """Whether the next line continues this one (an open parenthesis, or a lower-case
    continuation after no final punctuation), and is not a new bullet or header."""
    line_start = text.rfind("\n", 0, following.start) + 1
    if text[line_start:following.start].strip():
        return False  # a bullet or header starts the next line
    piece = text[start:end]
    if piece.count("(") > piece.count(")"):
        return True
    return piece[-1] not in ".;:!?)" and following.text[:1].islower()


def _ranked_notes(chart: ChartBundle, denial: Denial) -> list[_Note]:
    """Notes of the claim's encounter first, then by distance from the date of service."""
    def key(document: SourceDocument) -> tuple[int, int, str]:
        distance = (abs((document.date - denial.service_date).days)
                    if document.date and denial.service_date else 10_000)
        return (0 if document.linked_by == "encounter" else 1), distance, document.document_id
    ordered = sorted(chart.documents, key=key)
    return [_Note.read(document, rank) for rank, document in enumerate(ordered)]


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
        for sentence in note.sentences:
            found = read_asa_class(sentence.text)
            if found is None:
                continue
            statement, lo, hi = found
            start, end = _quote_span(note, sentence, sentence.start + lo, sentence.start + hi)
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

@dataclass(frozen=True, slots=True)
class Finding:
    """A disease (or a value that shows it) read in a sentence or a resource."""

    kind: str
    level: int
    """5, 4 or 3: an ASA-approved example of that class; 0: a value that shows the disease."""
    label: str
    start: int = 0
    end: int = 0
    acute: bool = False
    """A current state (sepsis, ischemia): "h/o", "s/p" or the history section rule it out."""

    @property
    def value(self) -> str:
        """``COPD (ASA P3 example)`` or ``HbA1c 8.2%``."""
        return f"{self.label} (ASA P{self.level} example)" if self.level else self.label


@dataclass(frozen=True, slots=True)
class Reading:
    """What the disease readers need besides the text: the thresholds, the date of
    service, and the note's own date (for "3 wks ago")."""

    criteria: AsaCriteria
    service_date: date | None
    note_date: date | None


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(patterns) + r")(?![A-Za-z])",
                      re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _TermRule:
    kind: str
    level: int
    label: str
    pattern: re.Pattern[str]
    acute: bool = False


_TERMS: tuple[_TermRule, ...] = (
    _TermRule("copd", 3, "COPD", _words(r"(?-i:COPD)", r"chronic obstructive (?:pulmonary|lung)"
                                        r" disease", r"emphysema")),
    _TermRule("pacemaker", 3, "pacemaker", _words(r"pacemaker", r"(?-i:PPM)", r"pacer",
                                                  r"(?:dual|single)[- ]chamber device")),
    _TermRule("ischemia", 4, "ongoing ischemia", _words(
        r"(?:ongoing|active|continuing|persistent) (?:myocardial |cardiac )?isch(?:a)?emia",
        r"unstable angina", r"angina at rest", r"rest angina", r"crescendo angina",
        r"(?-i:ACS)", r"acute coronary syndrome"), acute=True),
    _TermRule("valve", 4, "severe valve disease", _words(
        r"(?:severe|critical) (?:aortic|mitral|tricuspid|pulmonic|pulmonary) (?:valve )?"
        r"(?:stenosis|regurgitation|insufficiency)", r"(?:severe|critical) "
        r"(?-i:AS|AI|AR|MS|MR|TR|TS)"), acute=True),
    _TermRule("ef_severe", 4, "severely reduced ejection fraction", _words(
        r"severely (?:reduced|depressed|decreased|impaired|diminished) (?:LV ?)?(?:EF|LVEF|"
        r"ejection fraction|systolic function|LV function)",
        r"severe (?:LV |left ventricular )?(?:systolic )?dysfunction",
        r"(?:LV ?EF|EF|ejection fraction)[^.;]{0,15}?severely (?:reduced|depressed|decreased|"
        r"impaired)"), acute=True),
    _TermRule("sepsis", 4, "sepsis", _words(r"sepsis", r"septic(?: shock)?", r"urosepsis"),
              acute=True),
    _TermRule("dic", 4, "DIC", _words(r"(?-i:DIC)", r"disseminated intravascular "
                                      r"coagulation"), acute=True),
    _TermRule("moribund", 5, "ruptured aneurysm or massive trauma", _words(
        r"ruptured (?:AAA|abdominal aortic aneurysm|aortic aneurysm|aneurysm)", r"(?-i:rAAA)",
        r"massive trauma", r"moribund"), acute=True),
)

_DM = r"(?:T[12]DM|DM ?(?:II|I|2|1)?|IDDM|NIDDM|(?:type [12] )?diabet(?:es(?: mellitus)?|ic)|" \
      r"hyperglyc(?:a)?emia)"
_HTN = r"(?:(?-i:HTN)|hypertension|hypertensive|(?-i:BP)|blood pressure)"
_POOR = r"(?:poorly|poor|sub-?optimally|inadequately|not well|badly)[ -]controlled|" \
        r"uncontrolled|un-controlled|poor(?:ly)? control(?:led)?|suboptimal control"
_CONTROL = tuple(
    (kind, label, re.compile(rf"(?<![A-Za-z])(?:(?:{_POOR})\s+(?:{term})|(?:{term})"
                             rf"[^.;]{{0,40}}?(?:{_POOR}))(?![A-Za-z])", re.IGNORECASE))
    for kind, label, term in (("dm_control", "poorly controlled diabetes", _DM),
                              ("htn_control", "poorly controlled hypertension", _HTN)))

_EVENTS = (
    ("mi", "MI", _words(r"(?-i:N?STEMI|AMI|MIs?)", r"myocardial infarction", r"heart attack")),
    ("cva", "CVA", _words(r"(?-i:CVAs?)", r"strokes?(?! volume)", r"cerebrovascular accidents?",
                          r"cerebral infarct(?:ion)?")),
    ("tia", "TIA", _words(r"(?-i:TIA)", r"transient isch(?:a)?emic attack")),
    ("stent", "coronary stent", _words(r"stent(?:s|ed|ing)?", r"(?-i:DES|BMS|PCI|PTCA)",
                                       r"angioplasty")),
)
_NON_CORONARY = re.compile(r"ureter|biliary|\b(?-i:CBD)\b|esophag|double[- ]?J|\bJJ\b|pancrea|"
                           r"trache|carotid|renal artery|iliac|femoral|\b(?-i:SFA)\b",
                           re.IGNORECASE)
_OLD = re.compile(r"\b(?:remote|old|distant)\s*$", re.IGNORECASE)

_ESRD = _words(r"(?-i:ESRD|ESKD)", r"end[- ]stage (?:renal|kidney) disease",
               r"(?-i:CKD) (?:stage )?(?:5|V)", r"chronic kidney disease,? stage (?:5|V)")
_DIALYSIS = _words(r"dialysis", r"dialyzed", r"(?-i:HD|PD|CAPD|CCPD)", r"hemodialysis",
                   r"(?-i:M/?W/?F|T/?Th/?S|TTS)")
_ON_DIALYSIS = _words(r"on (?:hemo|peritoneal )?dialysis", r"dialysis[- ]dependent",
                     r"(?:hemo|peritoneal )?dialysis (?:patient|three times|3 times|[MTWF])",
                     r"receiv(?:es|ing) (?:hemo)?dialysis")
"""Chronic dialysis written without naming ESRD ("the patient is on dialysis")."""
_NOT_DIALYZED = re.compile(r"not (?:yet )?(?:on )?dialy|not dialyzed|pre-?dialysis|"
                           r"no dialysis|declin\w* dialysis|refus\w* dialysis", re.IGNORECASE)
_CKD = re.compile(r"(?<![A-Za-z])(?:(?-i:CKD)|chronic kidney disease),?\s*(?:stage\s*)?"
                  r"(?P<stage>3a|3b|IIIa|IIIb|3|4|III|IV)(?![0-9A-Za-z])", re.IGNORECASE)
_BMI = re.compile(r"(?<![A-Za-z])(?:BMI|body mass index)\s*(?:of|:|=|is|was|~)?\s*"
                  r"(?P<n>\d{2}(?:\.\d+)?)(?!\.?\d)", re.IGNORECASE)
_A1C = re.compile(r"(?<![A-Za-z])(?:Hb ?A1c|HgbA1c|Hgb A1c|A1c|glycated h(?:a)?emoglobin)"
                  r"\s*(?:of|:|=|was|is|-|~)?\s*(?P<n>\d{1,2}(?:\.\d)?)\s*%?", re.IGNORECASE)
_EF = re.compile(r"(?<![A-Za-z])(?:LV ?EF|EF|ejection fraction)\s*(?:of|:|=|is|was|~|<|≈)?"
                 r"\s*(?:(?P<lo>\d{1,2})\s*(?:-|–|to)\s*)?(?P<n>\d{1,2})\s*%", re.IGNORECASE)

_FAMILY = re.compile(r"\b(?:mother|father|mom|dad|sister|brother|sibling|family|FHx?|"
                     r"grand(?:mother|father|parent)s?|aunt|uncle)\b", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"\b(?:risks?|benefits|consent\w*|discussed|possible|potential|"
                           r"concern for|(?-i:may|could)|prophylaxis|ppx|precautions?|vs\.?)\b",
                           re.IGNORECASE)
_HISTORICAL = re.compile(r"\b(?:h/o|hx of|history of|prior|previous|remote|s/p|status post|"
                         r"resolved|treated for|in 19\d\d|in 20\d\d)\b", re.IGNORECASE)


def _term_findings(text: str, reading: Reading) -> Iterator[Finding]:
    for rule in _TERMS:
        for match in rule.pattern.finditer(text):
            yield Finding(rule.kind, rule.level, rule.label, match.start(), match.end(),
                          rule.acute)
    for kind, label, pattern in _CONTROL:
        for match in pattern.finditer(text):
            yield Finding(kind, 3, label, match.start(), match.end())


def _renal_findings(text: str, reading: Reading) -> Iterator[Finding]:
    for match in _ESRD.finditer(text):
        rest = text[match.end():match.end() + 60]
        if _NOT_DIALYZED.search(rest):
            yield Finding("esrd", 4, "ESRD not on dialysis", match.start(), match.end())
        elif any(not is_negated(text, m.start(), m.end()) for m in _DIALYSIS.finditer(text)):
            yield Finding("esrd", 3, "ESRD on dialysis", match.start(), match.end())
        else:
            yield Finding("esrd", 0, "ESRD", match.start(), match.end())
    if _ESRD.search(text) is None:
        for match in _ON_DIALYSIS.finditer(text):
            if not is_negated(text, match.start(), match.end()):
                yield Finding("esrd", 3, "on dialysis", match.start(), match.end())
    for match in _CKD.finditer(text):
        stage = match.group("stage").upper().replace("III", "3").replace("IV", "4")
        yield Finding("ckd", 0, f"CKD stage {stage.replace('A', 'a').replace('B', 'b')}",
                      match.start(), match.end())


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
    for kind, name, pattern in _EVENTS:
        for match in pattern.finditer(text):
            if kind == "stent" and _NON_CORONARY.search(text):
                continue
            token = _event_date(text, match.start(), match.end())
            old = bool(_OLD.search(text[:match.start()]))
            level, label = _event_class(kind, name, token, old, reading)
            yield Finding(kind, level, label, match.start(), match.end())


def _event_class(kind: str, name: str, token: re.Match[str] | None, old: bool,
                 reading: Reading) -> tuple[int, str]:
    """P4 within the recent window, P3 before it (or undated: at least P3); TIA is a P4
    example only when recent (REFERENCE.md lists no older TIA)."""
    months = reading.criteria.recent_months
    shown = token.group(0) if token else None
    span = _date_range(token, reading.note_date or reading.service_date) if token else None
    if span and reading.service_date and span[0] <= reading.service_date:
        cutoff = _minus_months(reading.service_date, months)
        if span[0] >= cutoff:
            return 4, f"{name} within {months} months of surgery ({shown})"
        if span[1] < cutoff:
            return (0 if kind == "tia" else 3), f"{name} more than {months} months before " \
                f"surgery ({shown})"
    if old:
        return (0 if kind == "tia" else 3), f"remote {name}"
    when = f" ({shown})" if shown else " (date not stated)"
    return (0 if kind == "tia" else 3), f"history of {name}{when}"


_READERS = (_term_findings, _renal_findings, _value_findings, _event_findings)


def read_findings(text: str, reading: Reading, section: str | None = None) -> list[Finding]:
    """Diseases and values stated in one sentence (not negated, not a relative's, not a
    risk discussed; an acute state not in the history)."""
    found: dict[str, Finding] = {}
    for reader in _READERS:
        for finding in reader(text, reading):
            if not _asserted(text, finding, section):
                continue
            kept = found.get(finding.kind)
            if kept is None or finding.level > kept.level:
                found[finding.kind] = finding
    return list(found.values())


NOT_PRESENT = frozenset({"FAMILY", "HYPOTHETICAL", "PLANNED", "POSSIBLE_EXISTENCE"})
"""Contexts of the note reader (agent/notes) in which a disease is not the patient's own,
present one: a relative's, conditional, only planned ('plan to start dialysis') or only
suspected."""


def _asserted(text: str, finding: Finding, section: str | None) -> bool:
    before = text[:finding.start]
    clause = re.split(r"[;]|\bbut\b", before)[-1]
    if is_negated(text, finding.start, finding.end):
        return False
    if assertion(text, finding.start, finding.end).categories & NOT_PRESENT:
        return False
    if _FAMILY.search(clause) or _HYPOTHETICAL.search(clause):
        return False
    return not (finding.acute and (section == "history" or _HISTORICAL.search(clause)))


_FAMILY_HEADER = re.compile(r"[ \t]*(?:FH|FHx|family history|family hx)[ \t]*:",
                            re.IGNORECASE)
_ANY_HEADER = re.compile(r"^[ \t]*[A-Za-z][A-Za-z /&\-]{0,40}?[ \t]*:", re.MULTILINE)


def family_history_spans(text: str) -> list[tuple[int, int]]:
    """Spans of a note under a family-history header ("FH:"), up to the next header."""
    headers = list(_ANY_HEADER.finditer(text))
    spans = []
    for index, header in enumerate(headers):
        if _FAMILY_HEADER.match(text, header.start()):
            end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
            spans.append((header.start(), end))
    return spans


_Candidate = tuple[Evidence, list[Finding], tuple[int, int]]
"""A quote (value still empty), what it shows, and its place (note rank, offset)."""


def _note_candidates(notes: list[_Note], asa_spans: set[tuple[str, int, int]],
                     reading_for: dict[str, Reading]) -> Iterator[_Candidate]:
    """Sentences that document a disease, quoted, skipping the ASA statements' spans."""
    for note in notes:
        reading = reading_for[note.document.document_id]
        family = family_history_spans(note.document.text)
        for sentence in note.sentences:
            if sentence.section == "plan" or any(lo <= sentence.start < hi
                                                 for lo, hi in family):
                continue
            findings = read_findings(sentence.text, reading, sentence.section)
            if not findings:
                continue
            first = min(findings, key=lambda f: f.start)
            start, end = _quote_span(note, sentence, sentence.start + first.start,
                                     sentence.start + first.end)
            doc = note.document.document_id
            if any(d == doc and s < end and start < e for d, s, e in asa_spans):
                continue
            evidence = note.evidence(start, end, SYSTEMIC_DISEASE_FACT, "")
            yield evidence, findings, (note.rank, start)


def _fact_text(fact: StructuredFact) -> str:
    return f"{fact.display} {fact.value}" if fact.value else (fact.display or "")


_INACTIVE = frozenset({"resolved", "inactive", "remission", "refuted"})
_EVENT_KINDS = frozenset(kind for kind, _, _ in _EVENTS)


def _fact_findings(fact: StructuredFact, reading: Reading) -> list[Finding]:
    """Findings of an Observation (HbA1c, BMI, EF values) or a Condition/Procedure."""
    if fact.resource_type == "Observation":
        return _observation_findings(fact, reading.criteria)
    text = _fact_text(fact)
    if fact.date is not None and any(p.search(text) for _, _, p in _EVENTS):
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
                     limit: int = 6) -> list[Evidence]:
    """Documented disease behind the class: ASA examples first (P5, P4, P3), then values
    that show it; one quote per kind of disease. Sentences already quoted for the ASA
    class are used only when nothing else documents the disease."""
    criteria = criteria or AsaCriteria()
    notes = _ranked_notes(chart, denial)
    readings = {n.document.document_id: Reading(criteria, denial.service_date,
                                                 n.document.date) for n in notes}
    asa_spans = {(e.document_id, e.start or 0, e.end or 0) for _, e in _asa_in_notes(notes)}
    candidates = list(_note_candidates(notes, asa_spans, readings))
    if not candidates and asa_spans:
        candidates = list(_note_candidates(notes, set(), readings))
    reading = Reading(criteria, denial.service_date, denial.service_date)
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

    def disease(chart: ChartBundle, denial: Denial) -> list[Evidence]:
        return systemic_disease(chart, denial, chosen)

    extractors.register("anesthesia_asa_class", asa_class)
    extractors.register("anesthesia_systemic_disease", disease)
    checks.register("anesthesia_asa_classes_disagree", asa_classes_disagree)
    checks.register("anesthesia_asa_class_below_billed", asa_class_below_billed)
