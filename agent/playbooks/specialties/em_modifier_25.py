"""Modifier 25: an office E/M (99202-99215) billed the same day as a procedure or a test.

REFERENCE.md §2d. The E/M on the day of a minor procedure, including the decision to
perform it, is paid with the procedure; the work inherent in a diagnostic test (an echo's
own findings) is paid with the test. What modifier 25 claims is *other* work: a new,
undiagnosed, unresolved or worsening problem, a medication or treatment change, a new
order, counseling, a work status decision. New-patient status alone does not justify it.
The level billed must still be supported by medical decision making (MDM) or by total time
on the date of service (CPT 2024 minimums).

The words that stand for those meanings are data:
``specialty_playbooks/vocabularies/em_modifier_25.yaml`` (one list per meaning). Notes are
read by the one note reader (agent/notes/): its sentences (wrapped lines joined, a ``;``
clause its own item), sections and assertion context; a visit's notes are
agent/notes/visit.py's. Python here reads values (doses, courses, minutes, MDM levels) and
decides.

Extractors (facts of ``specialty_playbooks/em_modifier_25.yaml``):

* ``em25_separate_work``: assessment/plan items of the visit's notes that document
  separate work, each valued by its kinds ("new problem", "medication change", ...). An
  item that names the procedure or test, or the procedure's anatomic site (itself or the
  problem that opens its paragraph), is not separate work.
* ``em25_level_support``: a stated MDM level ("MDM: moderate"), a total time ("Total
  time 42 min"), or MDM elements in CPT's words ("Rx drug mgmt").

Checks (the playbook's ``not_appeal`` rules):

* ``em25_no_separate_service``: no separate work, the notes document the procedure or test,
  and the assessment and plan are readable with every item the procedure's own work (the
  procedure, its site, its aftercare) → write off.
* ``em25_time_below_level``: separate work, a total time below the billed level's minimum
  *and* a stated MDM level below the level billed (an established-patient code): both
  routes to the level (MDM or time, REFERENCE.md §2d) agree on a lower code → corrected
  claim at the higher of the two codes they support.
* ``em25_level_unclear``: separate work, but the documented time or MDM falls short of the
  level billed in a way a corrected claim cannot settle alone (time below with no stated
  MDM level: free text may support the level by MDM, which the agent does not grade), or
  the only separate work is a work status decision, which is no element of MDM → an
  auditor decides.

Notes are untrusted data: they are matched against patterns, never followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, is_negated, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.context import Cue
from agent.notes.reader import assertion
from agent.notes.visit import visit_documents
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


# --- value readers ---------------------------------------------------------------------

DOSE = re.compile(r"(?:\d+(?:\.\d+)?|a|one|two|half a)\s*(?:mg|mcg|µg|g|units?|u|mL|ml|meq|%|"
                  r"puffs?|drops?|gtts?|tabs?|tablets?|caps?|capsules?|sprays?|teaspoons?|tsp|"
                  r"tablespoons?|tbsp|cc)(?![A-Za-z])", re.IGNORECASE)
"""A dose ('875 mg', 'a teaspoon', '2 puffs')."""
COURSE = re.compile(r"(?<![A-Za-z])(?:x|×|for)[ \t]*\d+[ \t]*(?:d|days?|wks?|weeks?)(?![A-Za-z])"
                    r"|\d+[- ]day course", re.IGNORECASE)
"""A course of treatment ('x 10 d', 'for 7 days'): with a drug and a dose, a prescription
written without a verb ('amoxicillin 875 mg BID x 10 d')."""

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



def _asserted(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches of a value reader asserted as stated: not negated, only possible or
    conditional ('MDM not documented')."""
    for match in pattern.finditer(text):
        found = assertion(text, match.start(), match.end())
        if not found.negated and not {"POSSIBLE_EXISTENCE", "HYPOTHETICAL"} & found.categories:
            yield match


# --- the vocabulary --------------------------------------------------------------------

VOCABULARY = "em_modifier_25"
"""specialty_playbooks/vocabularies/em_modifier_25.yaml: what each list stands for is
written there."""

SEPARATE_WORK_LISTS = (
    "assessment_headers", "procedure", "sites", "new_problem", "worsening",
    "undiagnosed_problem", "unresolved_problem", "medication_verbs", "prescription_labels",
    "as_needed", "drugs", "not_new_rx", "treatment_changes", "work_status", "order_verbs",
    "order_objects", "order_abbreviations", "order_alone", "order_when", "result_words",
    "performed", "counseling", "item_actions")
"""The lists the separate-work reading needs (checked at start-up by the registry)."""

SeparateKind = Literal["new problem", "worsening chronic condition", "undiagnosed problem",
                       "unresolved problem", "medication change", "treatment change",
                       "new order", "counseling", "work status decision"]

NOT_MDM_KINDS: frozenset[str] = frozenset({"work status decision"})
"""Separate work that shows an E/M took place but is no element of its MDM (problems,
data, risk): alone it does not support a level."""

PLAN_SECTIONS = frozenset({"assessment", "plan"})
ACTION_SECTIONS = frozenset({"assessment", "plan", None})
"""Problems (new, undiagnosed, unresolved, worsening) are read in the A/P only (the HPI
describes the procedure's indication too); explicit actions (drugs, orders, counseling)
also in unheaded text."""

PART_BREAK = re.compile(r"[ \t]+[-–—]+[ \t]+|:[ \t]+")
"""Where a problem line turns to its plan ('Asthma, not well controlled - start ...'): a
negation before it ('not') does not reach the plan after it."""


def vocabulary_of(vocabulary: Vocabulary | None = None) -> Vocabulary:
    """``vocabulary``, or the playbook's own."""
    return vocabulary or load_vocabulary(VOCABULARY)


# --- the notes of the visit, item by item ----------------------------------------------

@dataclass(frozen=True, slots=True)
class Passage:
    """An item of a note: a sentence or clause of the note reader, with the section it is
    read in, and the sentence that opens its paragraph (its problem, in a problem-oriented
    A/P: 'R shoulder impingement, new. Start naproxen.')."""

    start: int
    end: int
    text: str
    section: str | None
    opening: str = ""
    """The first sentence of the item's paragraph, when that is another sentence."""


def passages(text: str, vocabulary: Vocabulary | None = None) -> list[Passage]:
    """The note's sentences as the reader splits them, in the section they are read in
    (the reader's, or the assessment after an A/P header it does not know); a dose cut
    off its drug by a period ('Augmentin. 875 mg bid.'), a line hanging under a list
    item and what a prescription label ends its line on ('Rx:') kept with it."""
    vocabulary = vocabulary_of(vocabulary)
    headers, labels = (vocabulary.pattern("assessment_headers"),
                       vocabulary.pattern("prescription_labels"))
    width = max((len(line) for line in text.splitlines()), default=0)
    out: list[Passage] = []
    opening: Passage | None = None
    in_assessment, reader_section = False, "\0"
    for sentence in sentences(text):
        if sentence.section != reader_section:
            in_assessment, reader_section = False, sentence.section or ""
        if _opens_assessment(text, sentence.start, sentence.text, headers):
            in_assessment = True
        section = "assessment" if in_assessment else sentence.section
        if out and (_dose_of_previous(text, out[-1], sentence.start, sentence.text, section)
                    or _hangs_under(text, out[-1], sentence.start, section)
                    or _label_of_next(text, out[-1], sentence.start, labels)):
            out[-1] = replace(out[-1], end=sentence.end, text=text[out[-1].start:sentence.end])
            continue
        if opening is None or out[-1].section != section \
                or not _same_paragraph(text, out[-1].end, sentence.start, width):
            opening = None
        item = Passage(sentence.start, sentence.end, sentence.text, section,
                       opening.text if opening is not None else "")
        opening = opening or item
        out.append(item)
    return out


def _opens_assessment(text: str, start: int, sentence: str, headers: re.Pattern[str]) -> bool:
    """Whether a sentence opens with an A/P header the reader does not know, at a line's
    start, alone or before a colon or a dash ('Assessment & Plan:', 'DISCUSSION:')."""
    match = headers.match(sentence)
    if match is None or text[text.rfind("\n", 0, start) + 1:start].strip():
        return False
    rest = sentence[match.end():].lstrip(" \t")
    return rest[:1] in ("", ":", "-", "\n") or rest.startswith(("\r", "–"))


_LIST_MARK = re.compile(r"[ \t]*(?:[-*•#]|\(?\d{1,2}[.)]|\(?[a-z][.)])[ \t]")
"""A bullet or a number opening a list item: an item of its own."""


def _same_paragraph(text: str, end: int, start: int, width: int) -> bool:
    """Whether the sentence at ``start`` goes on the paragraph of the one ending at
    ``end``: no line break between them, or one that a hard wrap made (the next line's
    first word would not have fit on the line, the note's widest, and opens no list
    item)."""
    gap = text[end:start]
    if "\n" not in gap:
        return True
    line_start = text.rfind("\n", 0, end) + 1
    next_line = text.rfind("\n", 0, start) + 1
    first_word = len(text[start:].split(maxsplit=1)[0]) if text[start:].strip() else 0
    return gap.count("\n") == 1 and end - line_start + 1 + first_word > width \
        and _LIST_MARK.match(text, next_line) is None


def _hangs_under(text: str, previous: Passage, start: int, section: str | None) -> bool:
    """A line indented under a list item's text, after a line that ends no sentence,
    goes on the item ('1. ... ECG patch' / '   ordered.')."""
    gap = text[previous.end:start]
    return previous.section == section and gap.count("\n") == 1 and not gap.strip() \
        and previous.text[-1:] not in ".!?;:" and gap.endswith((" ", "\t")) \
        and start - previous.start <= MAX_QUOTE


def _label_of_next(text: str, previous: Passage, start: int,
                   labels: re.Pattern[str]) -> bool:
    """A prescription label alone at a line's end ('Rx:') goes on the next line's
    sentence, what it prescribes."""
    return labels.fullmatch(previous.text.strip()) is not None \
        and text[previous.end:start].count("\n") <= 1


def _dose_of_previous(text: str, previous: Passage, start: int, sentence: str,
                      section: str | None) -> bool:
    """A sentence that opens with a dose, right after the previous one on its line, goes
    on the previous one's drug."""
    return previous.section == section and DOSE.match(sentence) is not None \
        and text[previous.end:start].count("\n") == 0 and start - previous.start <= MAX_QUOTE


def _hits(vocabulary: Vocabulary, name: str, text: str,
          possible: bool = False) -> Iterable[tuple[int, int]]:
    """Where the list ``name`` occurs in ``text`` asserted as done: not negated (nor only
    possible, unless ``possible``: an uncertain cause is what an undiagnosed problem is),
    and not conditional ("should he have pain next week, I would consider an MRI", "call
    if fever"); as-needed dosing is not a condition. A planned order or prescription is
    work of this visit, so it counts."""
    for start, end in vocabulary.spans(name, text):
        found = assertion(text, start, end)
        if found.negated or (not possible and "POSSIBLE_EXISTENCE" in found):
            continue
        if "HYPOTHETICAL" in found and not _as_needed_only(vocabulary, text, found.cues):
            continue
        yield start, end


def _as_needed_only(vocabulary: Vocabulary, text: str, cues: Iterable[Cue]) -> bool:
    """Whether every conditional cue is as-needed dosing ('p.r.n.')."""
    as_needed = vocabulary.pattern("as_needed")
    conditional = [c for c in cues if c.rule.category == "HYPOTHETICAL"]
    return bool(conditional) and all(as_needed.fullmatch(text, c.start, c.end)
                                     for c in conditional)


def _has(vocabulary: Vocabulary, name: str, text: str, possible: bool = False) -> bool:
    return next(iter(_hits(vocabulary, name, text, possible)), None) is not None


def _has_part(vocabulary: Vocabulary, name: str, clause: str, possible: bool = False) -> bool:
    """:func:`_has` with negation read within each part of the clause (PART_BREAK)."""
    return any(_has(vocabulary, name, part, possible) for part in PART_BREAK.split(clause))


# --- the procedure or test itself ------------------------------------------------------

def documents_procedure(passage: Passage, vocabulary: Vocabulary) -> bool:
    """Whether an item documents the procedure or test (its section or its words)."""
    return passage.section in ("procedure", "indication", "imaging") \
        or _has(vocabulary, "procedure", passage.text)


def procedure_passages(chart: ChartBundle, denial: Denial, vocabulary: Vocabulary
                       ) -> list[tuple[SourceDocument, Passage]]:
    """Items of the visit's notes that document the same-day procedure or test."""
    return [(d, p) for d in visit_documents(chart, denial) for p in passages(d.text, vocabulary)
            if documents_procedure(p, vocabulary)]


def _site_names(vocabulary: Vocabulary, text: str) -> set[str]:
    return {text[a:b].lower().rstrip("s") for a, b in vocabulary.spans("sites", text)}


def procedure_sites(found: Iterable[tuple[SourceDocument, Passage]],
                    vocabulary: Vocabulary) -> frozenset[str]:
    """Anatomic sites named where the procedure is documented ('knee', 'shoulder')."""
    return frozenset(name for _, p in found for name in _site_names(vocabulary, p.text))


def on_procedure_site(passage: Passage, sites: frozenset[str], vocabulary: Vocabulary) -> bool:
    """Whether an item names the procedure's site, itself or in the problem that opens its
    paragraph (unless that opening is the procedure's own documentation)."""
    problem = passage.opening if passage.opening and not _has(
        vocabulary, "procedure", passage.opening) else ""
    return bool(_site_names(vocabulary, passage.text + "\n" + problem) & sites)


# --- separate work ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeparateWork:
    """An item documenting E/M work apart from the procedure or test."""

    document: SourceDocument
    passage: Passage
    kinds: tuple[SeparateKind, ...]


def separate_work(chart: ChartBundle, denial: Denial,
                  vocabulary: Vocabulary | None = None) -> list[SeparateWork]:
    """Items of the visit's notes with work apart from the procedure or test."""
    vocabulary = vocabulary_of(vocabulary)
    sites = procedure_sites(procedure_passages(chart, denial, vocabulary), vocabulary)
    found = []
    for document in visit_documents(chart, denial):
        for passage in passages(document.text, vocabulary):
            kinds = work_kinds(passage, vocabulary, sites)
            if kinds:
                found.append(SeparateWork(document, passage, kinds))
    return found


def work_kinds(passage: Passage, vocabulary: Vocabulary,
               sites: frozenset[str] = frozenset()) -> tuple[SeparateKind, ...]:
    """The kinds of separate work an item documents: none when it names the procedure or
    test, or the procedure's site, or states the MDM."""
    if passage.section not in ACTION_SECTIONS or _states_mdm(passage.text) \
            or _has(vocabulary, "procedure", passage.text) \
            or on_procedure_site(passage, sites, vocabulary):
        return ()
    return tuple(_clause_kinds(passage.text, passage.section, vocabulary))


PROBLEM_KINDS: tuple[tuple[str, SeparateKind, bool], ...] = (
    ("new_problem", "new problem", False),
    ("worsening", "worsening chronic condition", False),
    ("undiagnosed_problem", "undiagnosed problem", True),
    ("unresolved_problem", "unresolved problem", False),
)
"""Vocabulary list, the kind it documents, and whether an uncertain context still counts
(the list itself says the cause is uncertain)."""


def _clause_kinds(clause: str, section: str | None,
                  vocabulary: Vocabulary) -> list[SeparateKind]:
    """The kinds of separate work one item shows (problems only in the A/P)."""
    in_plan = section in PLAN_SECTIONS
    kinds: list[SeparateKind] = [
        kind for name, kind, possible in PROBLEM_KINDS
        if in_plan and _has_part(vocabulary, name, clause, possible)]
    if _changes_medication(clause, vocabulary, in_plan):
        kinds.append("medication change")
    if _has_part(vocabulary, "treatment_changes", clause):
        kinds.append("treatment change")
    if _is_order(clause, vocabulary, listed_in_plan=in_plan):
        kinds.append("new order")
    if _counsels(clause, vocabulary):
        kinds.append("counseling")
    if _has_part(vocabulary, "work_status", clause):
        kinds.append("work status decision")
    return kinds


def _names_drug(text: str, vocabulary: Vocabulary) -> bool:
    """A drug named (the vocabulary's ``drugs``: the drug vocabulary's brands, generics and
    class words, and generic stems), not negated."""
    return any(not is_negated(text, a, b) for a, b in vocabulary.spans("drugs", text))


def _changes_medication(clause: str, vocabulary: Vocabulary, in_plan: bool) -> bool:
    """A medication verb, or in the A/P a prescription label ('Rx:', 'Medication:'), with
    a drug or a dose, not continued; or a drug, a dose and a course."""
    if in_plan and vocabulary.pattern("prescription_labels").search(clause) \
            and vocabulary.pattern("not_new_rx").search(clause) is None \
            and (DOSE.search(clause) or _names_drug(clause, vocabulary)):
        return True
    if _has_part(vocabulary, "medication_verbs", clause) and (
            DOSE.search(clause) or _names_drug(clause, vocabulary)):
        return True
    return _course_prescribed(clause, vocabulary)


def _course_prescribed(clause: str, vocabulary: Vocabulary) -> bool:
    """A drug, a dose and a course ('x 10 d', 'a 7-day course'), neither continued nor
    past: a new prescription. (A dispense quantity alone, 'Rx Keflex 500 mg #30', does not
    say whether the drug treats the procedure's own problem, so it is not taken as one.)"""
    not_new = vocabulary.pattern("not_new_rx")
    return any(DOSE.search(part) and _names_drug(part, vocabulary) and COURSE.search(part)
               and not not_new.search(part) for part in PART_BREAK.split(clause))


def _is_order(clause: str, vocabulary: Vocabulary, listed_in_plan: bool) -> bool:
    """A monitor or referral; or a test with an order verb or a time ('TSH today'); or,
    in the plan, a bare list of tests ('CBC, ferritin, TSH.') that holds no results. A
    test stated as done ('was performed') is the same-day service, not an order."""
    if _has_part(vocabulary, "order_alone", clause):
        return True
    if not (_has_part(vocabulary, "order_objects", clause)
            or _has_part(vocabulary, "order_abbreviations", clause)):
        return False
    if vocabulary.pattern("performed").search(clause):
        return False
    if _has_part(vocabulary, "order_verbs", clause) or _has_part(vocabulary, "order_when",
                                                                  clause):
        return True
    return listed_in_plan and not re.search(r"\d", clause) \
        and not vocabulary.pattern("result_words").search(clause)


def _counsels(clause: str, vocabulary: Vocabulary) -> bool:
    """Counseling asserted as done, its context read up to the end of its own clause: 'no
    counseling' is none, 'discussed at length, the issue of sleep apnea and its negative
    sequelae' is (the later 'negative' is about the sequelae)."""
    for start, end in vocabulary.spans("counseling", clause):
        cut = clause.find(",", end)
        found = assertion(clause if cut < 0 else clause[:cut], start, end)
        if not found.negated and not {"POSSIBLE_EXISTENCE", "HYPOTHETICAL"} & found.categories:
            return True
    return False


def _states_mdm(text: str) -> bool:
    """A statement of the MDM (level or elements) supports the level, not separate work."""
    return any(p.search(text) for p in MDM_STATED) or \
        any(p.search(text) for _, p in MDM_ELEMENTS)


def _pick(found: list[SeparateWork], limit: int) -> list[SeparateWork]:
    """Up to ``limit`` items, covering as many kinds as possible, in note order."""
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


def separate_work_evidence(chart: ChartBundle, denial: Denial,
                           vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Extractor ``em25_separate_work``: quotes of the separate E/M work, valued by kind."""
    return [_evidence(item.document, item.passage, "separate_em_work", ", ".join(item.kinds))
            for item in _pick(separate_work(chart, denial, vocabulary), limit=4)]

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
    """Every sentence of the visit's notes that states an MDM level, a total time or MDM
    elements (its ';' clauses together: '(new problem w/ uncertain prognosis; Rx drug
    mgmt)')."""
    found = []
    for document in visit_documents(chart, denial):
        for passage in _with_clauses(document.text, passages(document.text)):
            finding = _level_finding(document, passage)
            if finding is not None:
                found.append(finding)
    return found


def _with_clauses(text: str, items: list[Passage]) -> list[Passage]:
    """Items with the ';' clauses of one sentence joined (on one line)."""
    out: list[Passage] = []
    for item in items:
        if out and out[-1].text.endswith(";") and "\n" not in text[out[-1].end:item.start]:
            out[-1] = replace(out[-1], end=item.end, text=text[out[-1].start:item.end])
        else:
            out.append(item)
    return out


def _level_finding(document: SourceDocument, passage: Passage) -> LevelFinding | None:
    text = passage.text
    stated = next((m.group(1).lower() for p in MDM_STATED for m in _asserted(p, text)), None)
    minutes = next((int(m.group(1)) for p in TOTAL_TIME for m in _asserted(p, text)), None)
    elements = tuple(name for name, pattern in MDM_ELEMENTS if next(_asserted(pattern, text), None))
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

def assessment_items(chart: ChartBundle, denial: Denial, vocabulary: Vocabulary
                     ) -> list[tuple[SourceDocument, Passage]]:
    """The assessment and plan items of the visit's notes."""
    return [(d, p) for d in visit_documents(chart, denial) for p in passages(d.text, vocabulary)
            if p.section in PLAN_SECTIONS and p.text.strip(" .:-")]


_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{3,}")
_COMMON = frozenset({
    "with", "without", "from", "that", "this", "there", "today", "left", "right", "patient",
    "pain", "plan", "note", "procedure", "procedures", "performed", "discussed", "risks",
    "benefits", "consent", "obtained", "agrees", "well", "tolerated", "after", "before",
    "were", "been", "have", "will", "into", "using", "under", "then", "also", "each",
    "site", "area", "sterile", "technique", "prep", "prepped", "draped", "approach"})
"""Words too common to tie an A/P item to the procedure's documentation."""


def procedure_words(found: Iterable[tuple[SourceDocument, Passage]]) -> frozenset[str]:
    """The content words of the items documenting the procedure: what it treats and
    where ('ring', 'pulley', 'trigger'), to tie its indication in the A/P to it."""
    return frozenset(_stem(w) for _, p in found for w in _CONTENT_WORD.findall(p.text)
                     if w.lower() not in _COMMON)


def _stem(word: str) -> str:
    """A content word without its plural ('lesions' and 'lesion' are one)."""
    lower = word.lower()
    return lower[:-1] if lower.endswith("s") and not lower.endswith("ss") else lower


def _the_procedures(passage: Passage, vocabulary: Vocabulary, sites: frozenset[str],
                    words: frozenset[str] = frozenset()) -> bool:
    """Whether an A/P item is the procedure's own work: it names the procedure or test
    (or its decision), it or the problem opening its paragraph names the procedure's site
    ('R shoulder impingement. Start naproxen.'), it shares a content word with the
    procedure's documentation (its indication: 'L ring finger trigger finger'), or it does
    something that is not separate work (aftercare, follow-up, education, continuing
    treatment, a postoperative course: the vocabulary's ``item_actions``). A bare problem
    of its own ('Tinea pedis.') is none of these."""
    if documents_procedure(passage, vocabulary) or on_procedure_site(passage, sites,
                                                                     vocabulary):
        return True
    if {_stem(w) for w in _CONTENT_WORD.findall(passage.text)} & words:
        return True
    return vocabulary.pattern("item_actions").search(passage.text) is not None


def no_separate_service(ctx: CheckContext) -> str | None:
    """Check ``em25_no_separate_service``: the visit's notes document the procedure or
    test and nothing apart from it. A write-off loses the line, so it needs a readable
    assessment and plan every item of which is the procedure's own work (the procedure,
    its site, its aftercare); an item the agent cannot tie to the procedure, or no A/P at
    all, leaves the denial to an auditor."""
    procedure = ctx.denial.procedure
    vocabulary = vocabulary_of()
    if procedure is None or separate_work(ctx.chart, ctx.denial, vocabulary):
        return None
    documented = procedure_passages(ctx.chart, ctx.denial, vocabulary)
    if not documented:
        return None
    sites = procedure_sites(documented, vocabulary)
    words = procedure_words(documented)
    items = assessment_items(ctx.chart, ctx.denial, vocabulary)
    if not items or not all(_the_procedures(p, vocabulary, sites, words) for _, p in items):
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
    below the level billed without time that settles it, a new-patient code with both
    below, or, with neither stated, separate work that is no element of MDM alone (a work
    status decision) for a level above the family's lowest."""
    summary = level_summary(ctx)
    work = separate_work(ctx.chart, ctx.denial) if summary is not None else []
    if summary is None or not work:
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
        return _no_mdm_element(work, billed)
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




def _no_mdm_element(work: list[SeparateWork], billed: str) -> str | None:
    """The level question when the only separate work is no element of MDM (a work status
    decision) and the code billed is above the family's lowest; None otherwise."""
    kinds = sorted({kind for item in work for kind in item.kinds})
    if not set(kinds) <= NOT_MDM_KINDS or billed == family(billed)[0]:
        return None
    return (f"the only separate work documented is a {' and a '.join(kinds)}, which is no "
            f"element of MDM, and neither a total time nor an MDM level is stated: an "
            f"auditor decides whether the visit supports {billed}")

# --- registration ----------------------------------------------------------------------

def _evidence(document: SourceDocument, passage: Passage, fact: str, value: str
              ) -> Evidence:
    return Evidence(quote=document.text[passage.start:passage.end],
                    document_id=document.document_id, start=passage.start, end=passage.end,
                    fact=fact, value=value, document_date=document.date,
                    document_title=document.title)


def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Register this playbook's extractors and checks."""
    extractors.register_reading("em25_separate_work", separate_work_evidence,
                                SEPARATE_WORK_LISTS)
    extractors.register("em25_level_support", level_support_evidence)
    checks.register("em25_no_separate_service", no_separate_service)
    checks.register("em25_time_below_level", time_below_level)
    checks.register("em25_level_unclear", level_unclear)
