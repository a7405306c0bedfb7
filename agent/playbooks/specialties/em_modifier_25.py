"""Modifier 25: an office E/M (99202-99215) billed the same day as a procedure or a test.

REFERENCE.md §2d. The E/M on the day of a minor procedure, including the decision to
perform it, is paid with the procedure; the work inherent in a diagnostic test (an echo's
own findings) is paid with the test. What modifier 25 claims is *other* work: a new
problem, a worsening chronic condition, a medication change, a new order, counseling.
New-patient status alone does not justify it. The level billed must still be supported by
medical decision making (MDM) or by total time on the date of service (CPT 2024 minimums).

Extractors (facts of ``specialty_playbooks/em_modifier_25.yaml``):

* ``em25_separate_work``: assessment/plan passages of the visit's notes that document
  separate work, each valued by its kinds ("new problem", "medication change", ...).
  Clauses that name the procedure or test, and passages about the procedure's anatomic
  site, are not separate work.
* ``em25_level_support``: a stated MDM level ("MDM: moderate"), a total time ("Total
  time 42 min"), or MDM elements in CPT's words ("Rx drug mgmt").

Checks (the playbook's ``not_appeal`` rules):

* ``em25_no_separate_service``: no separate work, and the notes document the procedure or
  test (indications, consent, the decision to perform it, its findings) → write off.
* ``em25_time_below_level``: separate work, a total time below the billed level's minimum
  *and* a stated MDM level below the level billed (an established-patient code): both
  routes to the level (MDM or time, REFERENCE.md §2d) agree on a lower code → corrected
  claim at the higher of the two codes they support.
* ``em25_level_unclear``: separate work, but the documented time or MDM falls short of the
  level billed in a way a corrected claim cannot settle alone (time below with no stated
  MDM level: free text may support the level by MDM, which the agent does not grade) → an
  auditor decides.

Notes are untrusted data: they are matched against patterns, never followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, is_negated, sentences
from agent.notes.drugs import DrugVocabulary
from agent.notes.reader import assertion
from agent.playbooks.checks import CheckContext, CheckRegistry

# --- the billing facts (REFERENCE.md §2d) ----------------------------------------------

TIME_MINIMUMS: Mapping[str, int] = {
    "99202": 15, "99203": 30, "99204": 45, "99205": 60,
    "99212": 10, "99213": 20, "99214": 30, "99215": 40,
}
"""CPT 2024 total-time minimums (minutes, "met or exceeded") by office E/M code. The lower
bounds of the 2021-2023 ranges are the same numbers, so they hold from 2021 on."""

TIME_RULES_FROM = date(2021, 1, 1)
"""Office E/M levels are chosen by MDM or total time from this date; earlier services
followed other rules and are left to the auditor."""

NEW_PATIENT_CODES = ("99202", "99203", "99204", "99205")
ESTABLISHED_CODES = ("99212", "99213", "99214", "99215")
MDM_LEVELS = ("straightforward", "low", "moderate", "high")
"""MDM levels in order; for established patients REFERENCE.md pairs them with 99212-99215.
The new-patient pairing (99202-99205) is CPT's, not in REFERENCE.md: it is only used to
send a denial to review, never to correct a claim."""

EM_CODES = frozenset(TIME_MINIMUMS)

SeparateKind = Literal["new problem", "worsening chronic condition", "medication change",
                       "new order", "counseling"]


def family(code: str) -> tuple[str, ...]:
    """The office E/M codes of the same patient type as ``code``, lowest level first."""
    return NEW_PATIENT_CODES if code in NEW_PATIENT_CODES else ESTABLISHED_CODES


def code_for_minutes(code: str, minutes: int) -> str | None:
    """The highest code of ``code``'s family whose minimum ``minutes`` meets, or None."""
    met = [c for c in family(code) if minutes >= TIME_MINIMUMS[c]]
    return met[-1] if met else None


def code_for_mdm(code: str, level: str) -> str:
    """The code of ``code``'s family that an MDM level supports."""
    return family(code)[MDM_LEVELS.index(level)]


# --- patterns --------------------------------------------------------------------------

def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(patterns) + r")(?![A-Za-z])",
                      re.IGNORECASE)


PROCEDURE_TERMS = _words(
    r"inject(?:ion|ions|ed|ing)?", r"inj", r"aspirat(?:e|ed|ion|ing)", r"arthrocentesis",
    r"CSI", r"(?:cortisone|steroid) shot", r"kenalog", r"triamcinolone", r"depo-?medrol",
    r"methylprednisolone", r"lido(?:caine)?", r"consent(?:ed)?", r"time[- ]?out",
    r"procedures?", r"biopsy", r"excision", r"I&D", r"incision and drainage",
    r"cryo(?:therapy)?", r"debride(?:ment|d)", r"laceration repair", r"sutur(?:e|ed|es)",
    r"TTE", r"TEE", r"echo(?:cardiogram|cardiography)?s?", r"ETT", r"stress test(?:ing)?",
    r"treadmill", r"exercise (?:test|ECG)", r"nuclear (?:stress|scan)", r"spirometry",
    r"PFTs?", r"LN2", r"R/B(?:/A)?", r"RBA", r"risks?,? (?:and |& |/)?benefits",
    r"(?:wish(?:es)?|agree(?:s|d)?|elect(?:s|ed)?|want(?:s|ed)?) to proceed")
"""Words that name the same-day procedure or test, or the decision to perform it (consent,
risks and benefits)."""

SITE_TERMS = _words(
    r"knees?", r"shoulders?", r"hips?", r"elbows?", r"wrists?", r"ankles?", r"foot", r"feet",
    r"hands?", r"fingers?", r"thumbs?", r"toes?", r"heels?", r"spine", r"lumbar", r"cervical",
    r"thoracic", r"sacroiliac", r"SI joint", r"bursa", r"bursitis", r"tendon", r"plantar",
    r"trochanter(?:ic)?", r"subacromial", r"carpal tunnel", r"trigger finger")
"""Anatomic sites: work on the minor procedure's own site is not separate work."""

NEW_PROBLEM = re.compile(
    r"(?<![A-Za-z])(?:new(?:ly)?(?:[- ]onset)?|recent[- ]onset)(?![A-Za-z])"
    r"(?!\s*(?:pt|patient|to\b|visit|consult|referral|orders?|rx|prescription|meds?|"
    r"medications?|labs?|insurance|address))", re.IGNORECASE)
WORSENING = _words(
    r"uncontrolled", r"(?:not|poorly|sub-?optimally|inadequately)(?: well)?[- ]controlled",
    r"not at goal", r"above goal", r"worse", r"worsen(?:ing|ed|s)?", r"exacerbation",
    r"flare(?:-up)?", r"decompensat(?:ed|ion)", r"progressi(?:ng|on)", r"deteriorat(?:ing|ion)")
MED_VERB = re.compile(
    r"(?:(?<![A-Za-z])(?:start(?:ed|ing|s)?|re-?start(?:ed|ing)?|begin|began|"
    r"initiat(?:e|ed|ing)|add(?:ed)?|increas(?:e|ed|ing)|incr|uptitrat(?:e|ed)|"
    r"titrat(?:e|ed|ing)|decreas(?:e|ed|ing)|decr|"
    r"reduc(?:e|ed)|lower(?:ed)?|switch(?:ed)?|chang(?:e|ed) to|discontinu(?:e|ed)|d/c(?:'?d)?|"
    r"dc'?d|stop(?:ped)?|hold|held|taper(?:ed)?|wean(?:ed)?|resum(?:e|ed)|prescrib(?:e|ed)|"
    r"e-?prescribed|rx'?d|new rx|giv(?:e|en))(?![A-Za-z]))|(?<![A-Za-z])rx:|[↑↓]",
    re.IGNORECASE)
DOSE = re.compile(r"(?:\d+(?:\.\d+)?|a|one|two|half a)\s*(?:mg|mcg|µg|g|units?|u|mL|ml|meq|%|"
                  r"puffs?|drops?|gtts?|tabs?|tablets?|caps?|capsules?|sprays?|teaspoons?|tsp|"
                  r"tablespoons?|tbsp|cc)(?![A-Za-z])", re.IGNORECASE)
DRUG = re.compile(
    r"(?<![A-Za-z])(?:[A-Za-z]+(?:pril|sartan|olol|dipine|statin|thiazide|semide|formin|"
    r"gliflozin|glutide|gliptin|prazole|xaban|gatran|parin|cillin|mycin|floxacin|cycline|"
    r"profen|oxicam|coxib|triptan|tidine|lukast|terol|sonide|dronate|zosin|afil|oxetine|"
    r"aline|azepam|olam|antoin|afine|azole|cyclovir|ciclovir|amivir)|cef[a-z]{3,}|"
    r"ceph[a-z]{3,}|ASA|aspirin|insulin|NTG|nitroglycerin|warfarin|clopidogrel|"
    r"ticagrelor|prednisone|amiodarone|digoxin|hydralazine|spironolactone|metformin|"
    r"varenicline|bupropion|nicotine|levothyroxine|gabapentin|antibiotics?|prn)"
    r"(?![A-Za-z])", re.IGNORECASE)
ORDER_VERB = _words(r"order(?:ed|s|ing)?", r"obtain", r"check(?:ed)?", r"draw", r"send",
                    r"schedul(?:e|ed)", r"arrange(?:d)?", r"request(?:ed)?", r"repeat",
                    r"get")
ORDER_OBJECT = _words(
    r"labs?", r"lipids?", r"lipid panel", r"troponins?", r"ferritin", r"urinalysis",
    r"x-?rays?", r"ultrasound", r"doppler", r"sleep study", r"a1c", r"(?:urine )?cultures?",
    r"swabs?", r"pregnancy test", r"hcg", r"scans?", r"stud(?:y|ies)", r"tests?",
    r"blood ?work", r"work-?up", r"blood sugar", r"glucose", r"chem(?:-\d+)?", r"panel",
    r"profile")
ORDER_ABBREVIATION = re.compile(
    r"(?<![A-Za-z0-9])(?:TSH|BMP|CMP|CBC|HbA1c|Mg|BNP|UA|CXR|XR|CT|MRI|US|ECG|EKG|PSG|"
    r"LFTs?|INR|UCx|PET|ENG|EMG|EEG|NCS|CPK|PSA)(?![A-Za-z])")
"""Orderable tests written as capitals ('Mg', not the 'mg' of a dose; 'US', not 'us')."""
ORDER_ALONE = _words(
    r"holter", r"event monitor", r"(?:\d+[- ]day )?(?:ambulatory )?(?:ECG |cardiac )?"
    r"(?:monitor|patch)", r"zio", r"referr(?:al|ed)(?!\s+(?:by|from|per)(?![A-Za-z]))",
    r"refer to", r"consult(?:ation)? (?:to|with)")
"""Orders that need no object: a monitor, or a referral made at this visit ('Gyn
referral', 'referred to ENT'); 'referred by PCP' says how the patient came, not an order."""
RESULT_WORDS = _words(r"normal", r"nl", r"wnl", r"unremarkable", r"reviewed", r"results?",
                      r"resulted", r"neg(?:ative)?", r"positive", r"elevated", r"low", r"high",
                      r"stable")
"""A test named with these is a result being discussed, not an order."""
ORDER_WHEN = _words(r"today", r"now", r"stat", r"in \d+ ?(?:d|days?|wks?|weeks?|mo|months?)",
                    r"prior to", r"before next", r"at next", r"pending")
COUNSELING = _words(r"counsel(?:ed|led|ing)?", r"cessation",
                    r"discuss(?:ed|ion)? (?:at length|in detail|extensively)")
COURSE = re.compile(r"(?<![A-Za-z])(?:x|×|for)[ \t]*\d+[ \t]*(?:d|days?|wks?|weeks?)(?![A-Za-z])"
                    r"|\d+[- ]day course", re.IGNORECASE)
"""A course of treatment ('x 10 d', 'for 7 days'): with a drug and a dose, a prescription
written without a verb ('amoxicillin 875 mg BID x 10 d')."""
NOT_NEW_RX = _words(r"cont(?:inue[sd]?|inuing)?", r"complet(?:e|ed|ing)", r"finish(?:ed)?",
                    r"s/p", r"tried", r"failed", r"took", r"taking", r"using", r"was on",
                    r"already on", r"been on", r"currently on", r"prior", r"previous(?:ly)?",
                    r"last", r"(?:w/o|without|no|minimal|partial|some) relief", r"helped")
"""A course that is continued, already taken or already over is not a medication change."""

MDM_STATED = (
    re.compile(r"(?<![A-Za-z])(straightforward|low|moderate|mod|high)(?:[- ](?:complexity|"
               r"level))?[ \t]+(?:MDM|medical decision[- ]making)(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"(?<![A-Za-z])(?:MDM|medical decision[- ]making)(?:[ \t]+(?:complexity|"
               r"level))?[ \t]*(?:[:=\-–]|is|was|of)?[ \t]*(?:of[ \t]+)?(straightforward|low|"
               r"moderate|mod|high)(?![A-Za-z])", re.IGNORECASE),
)
MDM_ELEMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("new problem with uncertain prognosis",
     re.compile(r"new problem w(?:/|ith)? ?uncertain prognosis", re.IGNORECASE)),
    ("chronic illness with exacerbation or progression",
     re.compile(r"chronic illness(?:es)? w(?:/|ith)? ?(?:severe )?(?:exacerbation|progression|"
                r"side effects)", re.IGNORECASE)),
    ("threat to life or bodily function",
     re.compile(r"threat to (?:life or )?bodily function", re.IGNORECASE)),
    ("prescription drug management",
     re.compile(r"(?:Rx|prescription)(?: drug)? (?:mgmt|management)", re.IGNORECASE)),
    ("decision regarding hospitalization",
     re.compile(r"decision (?:regarding|re:?|about) hospitali[sz]ation", re.IGNORECASE)),
    ("independent interpretation of a test",
     re.compile(r"independent(?:ly)? interpret(?:ation|ed)", re.IGNORECASE)),
    ("independent historian", re.compile(r"independent historian", re.IGNORECASE)),
)
_MIN = r"(?:min(?:ute)?s?|m)(?![A-Za-z])"
TOTAL_TIME = (
    re.compile(r"total (?:visit |encounter |face[- ]to[- ]face )?time(?: spent)?(?: on (?:the )?"
               r"(?:date|day) of (?:the )?(?:encounter|service|visit))?[^0-9\n.;]{0,30}?"
               r"(\d{1,3})\s*" + _MIN, re.IGNORECASE),
    re.compile(r"(?<![A-Za-z])I spent (?:a total of |over |more than )?(\d{1,3})\s*" + _MIN,
               re.IGNORECASE),
    re.compile(r"time spent(?: today| on (?:this|the) (?:visit|encounter|date))?"
               r"[^0-9\n.;]{0,20}?(\d{1,3})\s*" + _MIN, re.IGNORECASE),
    re.compile(r"(?<!\d)(\d{1,3})\s*" + _MIN + r"(?: of)? total(?: time)?", re.IGNORECASE),
)
"""Total time on the date of service; other minutes ('8 min counseling') are not it."""

AP_HEADER = re.compile(r"^[ \t]*(?:assessment|impression|a)[ \t]*(?:/|&|and|\+)[ \t]*"
                       r"(?:plan|p)[ \t]*(?::|$)", re.IGNORECASE)
"""A/P headers the shared section list does not know ('A&P:', 'Impression/Plan:')."""

PLAN_SECTIONS = frozenset({"assessment", "plan"})
ACTION_SECTIONS = frozenset({"assessment", "plan", None})
"""New problems and worsening are read in the A/P only (the HPI describes the procedure's
indication too); explicit actions (drugs, orders, counseling) also in unheaded text."""


# --- notes as logical sentences --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Passage:
    """A logical sentence of a note: wrapped lines and ';'-joined clauses kept together."""

    start: int
    end: int
    text: str
    section: str | None


def passages(text: str) -> list[Passage]:
    """The note's sentences (agent.evidence.text) with wrapped lines and ';' clauses joined,
    up to MAX_QUOTE characters, and A/P headers the shared list misses recognised."""
    out: list[Passage] = []
    current: Passage | None = None
    override, previous_section = False, "\0"
    for sentence in sentences(text):
        line_start = text.rfind("\n", 0, sentence.start) + 1
        line_end = text.find("\n", sentence.start)
        line = text[line_start:line_end if line_end >= 0 else len(text)]
        if sentence.section != previous_section:
            override = False
        previous_section = sentence.section or ""
        if text[line_start:sentence.start].strip() == "" and AP_HEADER.match(line):
            override = True
        section = "assessment" if override else sentence.section
        if current is not None and _continues(text, current, sentence.start, sentence.end,
                                              section):
            current = Passage(current.start, sentence.end, text[current.start:sentence.end],
                              current.section)
            continue
        if current is not None:
            out.append(current)
        current = Passage(sentence.start, sentence.end, sentence.text, section)
    if current is not None:
        out.append(current)
    return out


def _continues(text: str, current: Passage, start: int, end: int,
               section: str | None) -> bool:
    """Join a wrapped line or a ';' clause; and an abbreviation's period ('62 min incl.
    record review') when the next words go on in lower case on the same line."""
    gap = text[current.end:start]
    if section != current.section or gap.strip() or end - current.start > MAX_QUOTE:
        return False
    if current.text[-1] == ":" or AP_HEADER.match(current.text):
        return "\n" not in gap  # a lead-in line ('Assessment & Plan:') is not joined
    if current.text[-1] not in ".!?":
        return gap.count("\n") <= 1
    return "\n" not in gap and text[start].islower()


def visit_documents(chart: ChartBundle, denial: Denial) -> list[SourceDocument]:
    """The notes of the visit: on the claim's encounter, or dated on the service date
    (a note from another day documents another visit)."""
    return [d for d in chart.documents
            if d.linked_by == "encounter" or (denial.service_date is not None
                                              and d.date == denial.service_date)]


def _hits(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` in ``text`` asserted as done: not negated or only possible,
    and not conditional ("should he have pain next week, I would consider an MRI", "call
    if fever"). A planned order or prescription is work of this visit, so it counts."""
    for match in pattern.finditer(text):
        if is_negated(text, match.start(), match.end()):
            continue
        if "HYPOTHETICAL" in assertion(text, match.start(), match.end()).categories:
            continue
        yield match


def _has(pattern: re.Pattern[str], text: str) -> bool:
    return next(_hits(pattern, text), None) is not None


# --- the procedure or test itself ------------------------------------------------------

def documents_procedure(passage: Passage) -> bool:
    """Whether a passage documents the procedure or test (its section or its words)."""
    return passage.section in ("procedure", "indication", "imaging") \
        or _has(PROCEDURE_TERMS, passage.text)


def procedure_passages(chart: ChartBundle, denial: Denial
                       ) -> list[tuple[SourceDocument, Passage]]:
    """Passages of the visit's notes that document the same-day procedure or test."""
    return [(d, p) for d in visit_documents(chart, denial) for p in passages(d.text)
            if documents_procedure(p)]


def procedure_sites(found: Iterable[tuple[SourceDocument, Passage]]) -> frozenset[str]:
    """Anatomic sites named where the procedure is documented ('knee', 'shoulder')."""
    return frozenset(m.group(0).lower().rstrip("s") for _, p in found
                     for m in SITE_TERMS.finditer(p.text))


# --- separate work ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeparateWork:
    """A passage documenting E/M work apart from the procedure or test."""

    document: SourceDocument
    passage: Passage
    kinds: tuple[SeparateKind, ...]


def separate_work(chart: ChartBundle, denial: Denial) -> list[SeparateWork]:
    """Passages of the visit's notes with work apart from the procedure or test."""
    sites = procedure_sites(procedure_passages(chart, denial))
    found = []
    for document in visit_documents(chart, denial):
        for passage in passages(document.text):
            kinds = work_kinds(passage, sites, _lines_of(document.text, passage))
            if kinds:
                found.append(SeparateWork(document, passage, kinds))
    return found


def _lines_of(text: str, passage: Passage) -> str:
    """The whole lines a passage spans (one problem line of an A/P: 'R shoulder
    impingement, new. Start naproxen 500 mg BID.')."""
    start = text.rfind("\n", 0, passage.start) + 1
    end = text.find("\n", passage.end)
    return text[start:end if end >= 0 else len(text)]


def work_kinds(passage: Passage, sites: frozenset[str] = frozenset(),
               lines: str | None = None) -> tuple[SeparateKind, ...]:
    """The kinds of separate work a passage documents: only in its clauses that do not
    name the procedure or test, and none when its lines name the procedure's site."""
    if passage.section not in ACTION_SECTIONS or _states_mdm(passage.text):
        return ()
    context = passage.text if lines is None else lines
    if any(m.group(0).lower().rstrip("s") in sites for m in SITE_TERMS.finditer(context)):
        return ()
    kinds: list[SeparateKind] = []
    for clause in passage.text.split(";"):
        if _has(PROCEDURE_TERMS, clause):
            continue
        for kind in _clause_kinds(clause, passage.section):
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


PART_BREAK = re.compile(r"[ \t]+[-–—]+[ \t]+|:[ \t]+")
"""Where a problem line turns to its plan ('Asthma, not well controlled - start ...'): a
negation before it ('not') does not reach the plan after it."""


def _has_part(pattern: re.Pattern[str], clause: str) -> bool:
    """:func:`_has` with negation read within each part of the clause (PART_BREAK)."""
    return any(_has(pattern, part) for part in PART_BREAK.split(clause))


def _clause_kinds(clause: str, section: str | None) -> list[SeparateKind]:
    """The kinds of separate work one clause shows (new problems and worsening only in the
    assessment or plan)."""
    kinds: list[SeparateKind] = []
    if section in PLAN_SECTIONS and _has_part(NEW_PROBLEM, clause):
        kinds.append("new problem")
    if section in PLAN_SECTIONS and _has_part(WORSENING, clause):
        kinds.append("worsening chronic condition")
    if (_has_part(MED_VERB, clause) and (DOSE.search(clause) or _names_drug(clause))) \
            or _course_prescribed(clause):
        kinds.append("medication change")
    if _is_order(clause, listed_in_plan=section in PLAN_SECTIONS):
        kinds.append("new order")
    if _has_part(COUNSELING, clause):
        kinds.append("counseling")
    return kinds


def _names_drug(text: str) -> bool:
    """A drug named by its suffix class (DRUG) or by the drug vocabulary (brands and
    generics: "Diflucan", "Ativan", agent/notes/drugs.py), not negated."""
    if _has(DRUG, text):
        return True
    return any(not is_negated(text, d.start, d.end) and d.generic is not None
               for d in DrugVocabulary.default().find(text))


def _course_prescribed(clause: str) -> bool:
    """A drug, a dose and a course ('x 10 d', 'a 7-day course'), neither continued nor
    past: a new prescription. (A dispense quantity alone, 'Rx Keflex 500 mg #30', does not
    say whether the drug treats the procedure's own problem, so it is not taken as one.)"""
    return any(DOSE.search(part) and _names_drug(part) and COURSE.search(part)
               and not NOT_NEW_RX.search(part) for part in PART_BREAK.split(clause))


def _is_order(clause: str, listed_in_plan: bool) -> bool:
    """A monitor or referral; or a test with an order verb or a time ('TSH today'); or,
    in the plan, a bare list of tests ('CBC, ferritin, TSH.') that holds no results."""
    if _has_part(ORDER_ALONE, clause):
        return True
    if not (_has_part(ORDER_OBJECT, clause) or _has_part(ORDER_ABBREVIATION, clause)):
        return False
    if _has_part(ORDER_VERB, clause) or _has_part(ORDER_WHEN, clause):
        return True
    return listed_in_plan and not re.search(r"\d", clause) and not RESULT_WORDS.search(clause)


def _states_mdm(text: str) -> bool:
    """A statement of the MDM (level or elements) supports the level, not separate work."""
    return any(p.search(text) for p in MDM_STATED) or \
        any(p.search(text) for _, p in MDM_ELEMENTS)


def _pick(found: list[SeparateWork], limit: int) -> list[SeparateWork]:
    """Up to ``limit`` passages, covering as many kinds as possible, in note order."""
    chosen: list[SeparateWork] = []
    covered: set[str] = set()
    for item in found:
        if len(chosen) < limit and not covered.issuperset(item.kinds):
            chosen.append(item)
            covered.update(item.kinds)
    for item in found:
        if len(chosen) < limit and item not in chosen:
            chosen.append(item)
    order = {id(item): index for index, item in enumerate(found)}
    return sorted(chosen, key=lambda item: order[id(item)])


def separate_work_evidence(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """Extractor ``em25_separate_work``: quotes of the separate E/M work, valued by kind."""
    return [_evidence(item.document, item.passage, "separate_em_work", ", ".join(item.kinds))
            for item in _pick(separate_work(chart, denial), limit=4)]


# --- the level billed ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LevelFinding:
    """What a passage says about the E/M level: a stated MDM level, a total time, or MDM
    elements in CPT's words."""

    document: SourceDocument
    passage: Passage
    mdm: str | None = None
    minutes: int | None = None
    elements: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """The reading shown in the letter ('MDM high', 'total time 42 minutes')."""
        if self.mdm is not None:
            return f"MDM {self.mdm}"
        if self.minutes is not None:
            return f"total time {self.minutes} minutes"
        return "MDM elements of " + " and ".join(self.elements)


def level_findings(chart: ChartBundle, denial: Denial) -> list[LevelFinding]:
    """Every passage of the visit's notes that states an MDM level, a total time or MDM
    elements."""
    found = []
    for document in visit_documents(chart, denial):
        for passage in passages(document.text):
            finding = _level_finding(document, passage)
            if finding is not None:
                found.append(finding)
    return found


def _level_finding(document: SourceDocument, passage: Passage) -> LevelFinding | None:
    text = passage.text
    stated = next((m.group(1).lower() for p in MDM_STATED for m in _hits(p, text)), None)
    minutes = next((int(m.group(1)) for p in TOTAL_TIME for m in _hits(p, text)), None)
    elements = tuple(name for name, pattern in MDM_ELEMENTS if _has(pattern, text))
    if stated is None and minutes is None and not elements:
        return None
    return LevelFinding(document, passage, mdm="moderate" if stated == "mod" else stated,
                        minutes=minutes, elements=elements)


def level_support_evidence(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """Extractor ``em25_level_support``: stated MDM first, then total time, then elements."""
    found = sorted(level_findings(chart, denial),
                   key=lambda f: 0 if f.mdm else 1 if f.minutes is not None else 2)
    return [_evidence(f.document, f.passage, "em_level_support", f.value) for f in found[:3]]


@dataclass(frozen=True, slots=True)
class LevelSummary:
    """The level documentation of a visit, reduced to what the checks compare."""

    billed: str
    minutes: int | None
    mdm_levels: tuple[str, ...]
    mdm_elements: bool

    @property
    def time_code(self) -> str | None:
        """The code the documented time supports (None: no time, or below every minimum)."""
        return code_for_minutes(self.billed, self.minutes) if self.minutes is not None \
            else None

    @property
    def mdm_code(self) -> str | None:
        """The code the highest stated MDM level supports."""
        if not self.mdm_levels:
            return None
        best = max(self.mdm_levels, key=MDM_LEVELS.index)
        return code_for_mdm(self.billed, best)


def level_summary(ctx: CheckContext) -> LevelSummary | None:
    """The visit's level documentation, when the rules apply: an office E/M code on or
    after 2021 (None otherwise)."""
    procedure, day = ctx.denial.procedure, ctx.denial.service_date
    if procedure is None or procedure.submitted_code not in EM_CODES:
        return None
    if day is not None and day < TIME_RULES_FROM:
        return None
    found = level_findings(ctx.chart, ctx.denial)
    times = [f.minutes for f in found if f.minutes is not None]
    return LevelSummary(billed=procedure.submitted_code, minutes=max(times) if times else None,
                        mdm_levels=tuple(f.mdm for f in found if f.mdm),
                        mdm_elements=any(f.elements for f in found))


def _rank(code: str) -> int:
    return family(code).index(code)


# --- checks ----------------------------------------------------------------------------

ITEM_ACTIONS = _words(
    r"follow[- ]?up", r"f/u", r"RTC", r"return(?:s|ed)?", r"call", r"instruct(?:ed|ions)?",
    r"keep", r"ice", r"elevat(?:e|ion)", r"rest", r"wound care", r"dressings?", r"bandage",
    r"tap(?:e|ed)", r"strapp(?:ed|ing)", r"prn", r"as needed", r"tolerated", r"questions",
    r"understands?", r"discharged", r"precautions", r"post-?(?:care|procedure|op)",
    r"reviewed", r"discussed", r"explained", r"educat(?:ed|ion)", r"cont(?:inue[sd]?)?",
    r"path(?:ology)?", r"dermpath", r"specimens?", r"results?", r"sent", r"will")
"""Words of an A/P item that does something (aftercare, follow-up, education, continuing
what the patient takes, the specimen's results): an item with none of them, the
procedure's name or its site is a problem the agent cannot tie to the procedure."""


def assessment_items(chart: ChartBundle, denial: Denial
                     ) -> list[tuple[SourceDocument, Passage]]:
    """The assessment and plan passages of the visit's notes."""
    return [(d, p) for d in visit_documents(chart, denial) for p in passages(d.text)
            if p.section in PLAN_SECTIONS and p.text.strip(" .:-")]


_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{3,}")
_COMMON = frozenset({
    "with", "without", "from", "that", "this", "there", "today", "left", "right", "patient",
    "pain", "plan", "note", "procedure", "procedures", "performed", "discussed", "risks",
    "benefits", "consent", "obtained", "agrees", "well", "tolerated", "after", "before",
    "were", "been", "have", "will", "into", "using", "under", "then", "also", "each",
    "site", "area", "sterile", "technique", "prep", "prepped", "draped", "approach"})


def procedure_words(found: Iterable[tuple[SourceDocument, Passage]]) -> frozenset[str]:
    """The content words of the passages documenting the procedure: what it treats and
    where ('ring', 'pulley', 'trigger'), to tie its indication in the A/P to it."""
    return frozenset(_stem(w) for _, p in found for w in _CONTENT_WORD.findall(p.text)
                     if w.lower() not in _COMMON)


def _stem(word: str) -> str:
    """A content word without its plural ('lesions' and 'lesion' are one)."""
    lower = word.lower()
    return lower[:-1] if lower.endswith("s") and not lower.endswith("ss") else lower


def _the_procedures(document: SourceDocument, passage: Passage, sites: frozenset[str],
                    words: frozenset[str] = frozenset()) -> bool:
    """Whether an A/P item is the procedure's own work: it names the procedure or test
    (or its decision), its lines name the procedure's site (one problem line: 'R shoulder
    impingement. Start naproxen.'), it shares a content word with the procedure's
    documentation (its indication: 'L ring finger trigger finger'), or it does something
    that is not separate work (aftercare, follow-up, education, continuing treatment:
    ITEM_ACTIONS). A bare problem of its own ('Tinea pedis.') is none of these."""
    if documents_procedure(passage):
        return True
    lines = _lines_of(document.text, passage)
    if any(m.group(0).lower().rstrip("s") in sites for m in SITE_TERMS.finditer(lines)):
        return True
    if {_stem(w) for w in _CONTENT_WORD.findall(passage.text)} & words:
        return True
    return ITEM_ACTIONS.search(passage.text) is not None


def no_separate_service(ctx: CheckContext) -> str | None:
    """Check ``em25_no_separate_service``: the visit's notes document the procedure or
    test and nothing apart from it. A write-off loses the line, so it needs a readable
    assessment and plan every item of which is the procedure's own work (the procedure,
    its site, its aftercare); an item the agent cannot tie to the procedure, or no A/P at
    all, leaves the denial to an auditor."""
    procedure = ctx.denial.procedure
    if procedure is None or separate_work(ctx.chart, ctx.denial):
        return None
    documented = procedure_passages(ctx.chart, ctx.denial)
    if not documented:
        return None
    sites = procedure_sites(documented)
    words = procedure_words(documented)
    items = assessment_items(ctx.chart, ctx.denial)
    if not items or not all(_the_procedures(d, p, sites, words) for d, p in items):
        return None
    detail = (f"the visit notes document only the same-day procedure or test "
              f"({len(documented)} passage(s): its indication, consent, the decision to "
              "perform it or its findings) and no new problem, worsening chronic condition, "
              "medication change or new order apart from it")
    if procedure.submitted_code in NEW_PATIENT_CODES:
        detail += (f"; new-patient status ({procedure.submitted_code}) alone does not "
                   "justify modifier 25")
    return detail


def time_below_level(ctx: CheckContext) -> str | None:
    """Check ``em25_time_below_level``: separate work is documented, the total time is
    below the billed level's minimum, and the note states an MDM level below the level
    billed: neither route supports the code billed, so the claim is corrected to the
    higher of the codes they support. Established-patient codes only: REFERENCE.md pairs
    MDM levels with 99212-99215, not with the new-patient codes (those go to review)."""
    summary = level_summary(ctx)
    if summary is None or summary.minutes is None or summary.billed in NEW_PATIENT_CODES \
            or not separate_work(ctx.chart, ctx.denial):
        return None
    billed, minimum = summary.billed, TIME_MINIMUMS[summary.billed]
    mdm_code = summary.mdm_code
    if summary.minutes >= minimum or mdm_code is None or _rank(mdm_code) >= _rank(billed):
        return None
    time_code = summary.time_code
    supported = mdm_code if time_code is None else max(mdm_code, time_code, key=_rank)
    time_part = (f"total time {summary.minutes} minutes supports {time_code}"
                 if time_code is not None else
                 f"total time {summary.minutes} minutes meets no minimum of the family")
    return (f"the note states MDM {_stated_mdm(summary)}, which supports {mdm_code}, and "
            f"{time_part}, below the {minimum}-minute minimum for {billed} (CPT 2024): "
            f"neither MDM nor time supports {billed}; the documentation supports {supported}")


def _stated_mdm(summary: LevelSummary) -> str:
    """The highest MDM level the notes state."""
    return max(summary.mdm_levels, key=MDM_LEVELS.index)


def level_unclear(ctx: CheckContext) -> str | None:
    """Check ``em25_level_unclear``: separate work is documented but the level is not
    settled by a simple correction: time below the level billed with no stated MDM level
    (the note may support the level by MDM, which only an auditor can grade), MDM stated
    below the level billed without time that settles it, or a new-patient code with both
    below."""
    summary = level_summary(ctx)
    if summary is None or not separate_work(ctx.chart, ctx.denial):
        return None
    billed, minimum = summary.billed, TIME_MINIMUMS[summary.billed]
    time_ok = summary.minutes is not None and summary.minutes >= minimum
    if time_ok:
        return None
    mdm_code = summary.mdm_code
    if mdm_code is not None:
        if _rank(mdm_code) >= _rank(billed):
            return None
        return (f"the note states MDM {_stated_mdm(summary)}, which supports {mdm_code}, "
                f"below {billed} billed"
                + (f", and total time {summary.minutes} minutes is below its {minimum}-minute"
                   " minimum" if summary.minutes is not None else ""))
    if summary.minutes is None:
        return None
    no_level = ("no MDM level is stated"
                + (" (MDM elements are documented without one)" if summary.mdm_elements
                   else "")
                + ": an auditor decides whether MDM supports the level billed")
    if summary.time_code is None:
        lowest = family(billed)[0]
        return (f"total time {summary.minutes} minutes is below the lowest minimum of the "
                f"family ({lowest}: {TIME_MINIMUMS[lowest]} minutes) and {no_level}")
    return (f"total time {summary.minutes} minutes supports {summary.time_code}, below the "
            f"{minimum}-minute minimum for {billed}; {no_level}")


# --- registration ----------------------------------------------------------------------

def _evidence(document: SourceDocument, passage: Passage, fact: str, value: str
              ) -> Evidence:
    return Evidence(quote=document.text[passage.start:passage.end],
                    document_id=document.document_id, start=passage.start, end=passage.end,
                    fact=fact, value=value, document_date=document.date,
                    document_title=document.title)


def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Register this playbook's extractors and checks."""
    extractors.register("em25_separate_work", separate_work_evidence)
    extractors.register("em25_level_support", level_support_evidence)
    checks.register("em25_no_separate_service", no_separate_service)
    checks.register("em25_time_below_level", time_below_level)
    checks.register("em25_level_unclear", level_unclear)
