"""Modifier 25: an office E/M (99202-99215) billed the same day as a procedure or a test.

docs/domain.md#em-modifier-25: the E/M of a minor procedure's day, the decision to perform it
included, is paid with the procedure, and a test's own work with the test; modifier 25
claims other, separately identifiable work. The level billed must be supported by MDM or
by total time on the date of service (CPT 2024 minimums, docs/domain.md#em-levels).

The words of separate work and of the procedure are data
(``specialty_playbooks/vocabularies/em_modifier_25.yaml``); Python reads values (doses,
courses, minutes, MDM levels) and decides. Notes are untrusted data: matched, never
followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import is_negated, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.reader import assertion
from agent.notes.visit import visit_documents
from agent.playbooks.checks import CheckContext, CheckRegistry

# --- the billing facts (docs/domain.md#em-levels) --------------------------------------

TIME_MINIMUMS: Mapping[str, int] = {
    "99202": 15, "99203": 30, "99204": 45, "99205": 60,
    "99212": 10, "99213": 20, "99214": 30, "99215": 40,
}
"""CPT 2024 total-time minimums (minutes, "met or exceeded"); the lower bounds of the
2021-2023 ranges are the same numbers."""

TIME_RULES_FROM = date(2021, 1, 1)
"""Levels chosen by MDM or total time from this date; earlier services go to an auditor."""

NEW_PATIENT_CODES = ("99202", "99203", "99204", "99205")
ESTABLISHED_CODES = ("99212", "99213", "99214", "99215")
MDM_LEVELS = ("straightforward", "low", "moderate", "high")
"""In order; docs/domain.md#em-levels pairs them with 99212-99215. The new-patient pairing
is CPT's: it only sends a denial to review, never corrects a claim."""


def family(code: str) -> tuple[str, ...]:
    """The office E/M codes of the same patient type as ``code``, lowest level first."""
    return NEW_PATIENT_CODES if code in NEW_PATIENT_CODES else ESTABLISHED_CODES


def code_for_minutes(code: str, minutes: int) -> str | None:
    """The highest code of ``code``'s family whose minimum ``minutes`` meets, or None."""
    met = [c for c in family(code) if minutes >= TIME_MINIMUMS[c]]
    return met[-1] if met else None


def _rank(code: str) -> int:
    return family(code).index(code)


# --- value readers ---------------------------------------------------------------------

DOSE = re.compile(r"(?:\d+(?:\.\d+)?|a|one|two|half a)\s*(?:mg|mcg|µg|g|units?|u|mL|ml|meq|%|"
                  r"puffs?|drops?|gtts?|tabs?|tablets?|caps?|capsules?|sprays?|teaspoons?|tsp|"
                  r"tablespoons?|tbsp|cc)(?![A-Za-z])", re.IGNORECASE)
COURSE = re.compile(r"(?<![A-Za-z])(?:x|×|for)[ \t]*\d+[ \t]*(?:d|days?|wks?|weeks?)(?![A-Za-z])"
                    r"|\d+[- ]day course", re.IGNORECASE)
"""A course ('x 10 d', 'for 7 days'): with a drug and a dose, a prescription."""

MDM_STATED = (
    re.compile(r"(?<![A-Za-z])(straightforward|low|moderate|mod|high)(?:[- ](?:complexity|"
               r"level))?[ \t]+(?:MDM|medical decision[- ]making)(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"(?<![A-Za-z])(?:MDM|medical decision[- ]making)(?:[ \t]+(?:complexity|"
               r"level))?[ \t]*(?:[:=\-–]|is|was|of)?[ \t]*(?:of[ \t]+)?(straightforward|low|"
               r"moderate|mod|high)(?![A-Za-z])", re.IGNORECASE),
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

# --- the vocabulary and the notes of the visit, item by item ---------------------------

VOCABULARY = "em_modifier_25"
SEPARATE_WORK_LISTS = (
    "procedure", "sites", "new_problem", "worsening", "undiagnosed_problem",
    "unresolved_problem", "medication_verbs", "prescription_labels", "as_needed", "drugs",
    "not_new_rx", "treatment_changes", "work_status", "order_verbs", "order_objects",
    "order_abbreviations", "order_alone", "order_when", "result_words", "performed",
    "counseling", "item_actions", "common_words")
LEVEL_SUPPORT_LISTS = ("as_needed",)
PLAN_SECTIONS = frozenset({"assessment", "plan"})
ACTION_SECTIONS = frozenset({"assessment", "plan", None})
"""Problems are read in the A/P only (the HPI describes the procedure's indication too);
actions (drugs, orders, counseling) also in unheaded text."""
PART_BREAK = re.compile(r"[ \t]+[-–—]+[ \t]+|:[ \t]+")
"""Where a problem turns to its plan ('Asthma, not well controlled - start ...'): a
negation before it does not reach the plan after it."""
_LIST_MARK = re.compile(r"[ \t]*(?:[-*•#]|\(?\d{1,2}[.)]|\(?[a-z][.)])[ \t]+")


def vocabulary_of(vocabulary: Vocabulary | None = None) -> Vocabulary:
    """``vocabulary`` if given, else this playbook's own E/M modifier 25 vocabulary."""
    return vocabulary or load_vocabulary(VOCABULARY)


@dataclass(frozen=True, slots=True)
class Passage:
    """A sentence of the note reader, with the first sentence of its item.

    The item's first sentence (``opening``) is kept when it is another sentence: its problem,
    in a problem-oriented A/P ('R shoulder impingement, new. Start naproxen.'). An item
    starts at a line's start or a list mark, in its section; a line indented under it
    continues it. (A blank-line paragraph is no item: A/Ps written a problem a line would tie
    each problem to the first.)
    """

    start: int
    end: int
    text: str
    section: str | None
    opening: str = ""


def passages(text: str, vocabulary: Vocabulary | None = None) -> list[Passage]:
    """The note's sentences, as passages.

    A prescription label ending its line ('Rx:') goes on the sentence it labels.
    """
    labels = vocabulary_of(vocabulary).pattern("prescription_labels")
    out: list[Passage] = []
    first: Passage | None = None
    for sentence in sentences(text):
        if out and labels.fullmatch(out[-1].text) \
                and text[out[-1].end:sentence.start].count("\n") <= 1:
            out[-1] = replace(out[-1], end=sentence.end, text=text[out[-1].start:sentence.end])
            continue
        before = text[text.rfind("\n", 0, sentence.start) + 1:sentence.start]
        if first is None or sentence.section != first.section or not before \
                or _LIST_MARK.fullmatch(before):
            first = None
        item = Passage(sentence.start, sentence.end, sentence.text, sentence.section,
                       first.text if first is not None else "")
        first = first or item
        out.append(item)
    return out


def _asserted(vocabulary: Vocabulary, text: str, start: int, end: int,
              possible: bool = False) -> bool:
    """Whether ``text[start:end]`` is stated as done.

    Stated as done means not negated, not only possible (unless ``possible``: an uncertain
    cause is what an undiagnosed problem is), not conditional ('call if fever'), as-needed
    dosing being no condition. A planned order or prescription is work of this visit.
    """
    found = assertion(text, start, end)
    if found.negated or (not possible and "POSSIBLE_EXISTENCE" in found):
        return False
    conditions = [c for c in found.cues if c.rule.category == "HYPOTHETICAL"]
    as_needed = vocabulary.pattern("as_needed")
    return "HYPOTHETICAL" not in found or (bool(conditions) and all(
        as_needed.fullmatch(text, c.start, c.end) for c in conditions))


def _has(vocabulary: Vocabulary, name: str, text: str, possible: bool = False) -> bool:
    """The list ``name`` asserted in some part of ``text`` (PART_BREAK)."""
    return any(_asserted(vocabulary, part, a, b, possible)
               for part in PART_BREAK.split(text) for a, b in vocabulary.spans(name, part))


def _names(vocabulary: Vocabulary, name: str, text: str) -> bool:
    return vocabulary.pattern(name).search(text) is not None


# --- the procedure or test itself ------------------------------------------------------

def documents_procedure(passage: Passage, vocabulary: Vocabulary) -> bool:
    """Whether an item documents the procedure or test (its section or its words)."""
    return passage.section in ("procedure", "indication", "imaging") \
        or _has(vocabulary, "procedure", passage.text)


def procedure_passages(chart: ChartBundle, denial: Denial, vocabulary: Vocabulary
                       ) -> list[tuple[SourceDocument, Passage]]:
    """The passages of the visit's notes that document the procedure or test, with their note."""
    return [(d, p) for d in visit_documents(chart, denial) for p in passages(d.text, vocabulary)
            if documents_procedure(p, vocabulary)]


def _site_names(vocabulary: Vocabulary, text: str) -> set[str]:
    return {text[a:b].lower().rstrip("s") for a, b in vocabulary.spans("sites", text)}


def procedure_sites(found: Iterable[tuple[SourceDocument, Passage]],
                    vocabulary: Vocabulary) -> frozenset[str]:
    """The body sites named in the procedure's passages (lower case, trailing "s" stripped)."""
    return frozenset(name for _, p in found for name in _site_names(vocabulary, p.text))


def on_procedure_site(passage: Passage, sites: frozenset[str], vocabulary: Vocabulary) -> bool:
    """Whether an item names the procedure's site, itself or in its item's opening problem.

    The opening problem does not count when it is the procedure's own documentation.
    """
    problem = "" if _has(vocabulary, "procedure", passage.opening) else passage.opening
    return bool(_site_names(vocabulary, passage.text + "\n" + problem) & sites)


# --- separate work ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SeparateWork:
    """An item documenting E/M work apart from the procedure or test."""

    document: SourceDocument
    passage: Passage
    kinds: tuple[str, ...]


def separate_work(chart: ChartBundle, denial: Denial,
                  vocabulary: Vocabulary | None = None) -> list[SeparateWork]:
    """Items of the visit's notes with work apart from the procedure or test."""
    vocabulary = vocabulary_of(vocabulary)
    sites = procedure_sites(procedure_passages(chart, denial, vocabulary), vocabulary)
    return [SeparateWork(document, passage, kinds)
            for document in visit_documents(chart, denial)
            for passage in passages(document.text, vocabulary)
            if (kinds := work_kinds(passage, vocabulary, sites))]


def work_kinds(passage: Passage, vocabulary: Vocabulary,
               sites: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The kinds of separate work an item documents.

    There are none when it names the procedure or its site, or states the MDM.
    """
    if passage.section not in ACTION_SECTIONS or _states_mdm(passage.text, vocabulary) \
            or _has(vocabulary, "procedure", passage.text) \
            or on_procedure_site(passage, sites, vocabulary):
        return ()
    text, in_plan = passage.text, passage.section in PLAN_SECTIONS
    kinds = _listed_kinds(vocabulary, text, problems=True) if in_plan else []
    if _changes_medication(text, vocabulary, in_plan):
        kinds.append("medication change")
    if _is_order(text, vocabulary, in_plan):
        kinds.append("new order")
    return tuple(kinds + _listed_kinds(vocabulary, text, problems=False))


def _listed_kinds(vocabulary: Vocabulary, text: str, problems: bool) -> list[str]:
    """The kinds whose list alone documents them (its value ``separate_work``).

    With ``problems``, the problem lists (``read_in`` the A/P); otherwise the action lists.
    """
    return [values["separate_work"] for name in vocabulary.lists_with("separate_work")
            if ("read_in" in (values := vocabulary.values(name))) == problems
            and _has(vocabulary, name, text, possible="uncertain" in values)]


def _names_drug(text: str, vocabulary: Vocabulary) -> bool:
    return any(not is_negated(text, a, b) for a, b in vocabulary.spans("drugs", text))


def _changes_medication(text: str, vocabulary: Vocabulary, in_plan: bool) -> bool:
    """Whether ``text`` documents a medication change.

    That is a medication verb, or in the A/P a prescription label, with a drug or a dose, not
    continued; or a drug, a dose and a course, neither continued nor past. (A dispense
    quantity alone, 'Rx Keflex 500 mg #30', does not say what the drug treats.)
    """
    drug_or_dose = bool(DOSE.search(text)) or _names_drug(text, vocabulary)
    if in_plan and _names(vocabulary, "prescription_labels", text) and drug_or_dose \
            and not _names(vocabulary, "not_new_rx", text):
        return True
    if drug_or_dose and _has(vocabulary, "medication_verbs", text):
        return True
    return any(DOSE.search(part) and COURSE.search(part) and _names_drug(part, vocabulary)
               and not _names(vocabulary, "not_new_rx", part) for part in PART_BREAK.split(text))


def _is_order(text: str, vocabulary: Vocabulary, in_plan: bool) -> bool:
    """Whether ``text`` documents a new order.

    That is a monitor or referral; or a test with an order verb or a time ('TSH today'); or,
    in the plan, a bare list of tests that holds no results. A test stated as done is the
    same-day service.
    """
    if _has(vocabulary, "order_alone", text):
        return True
    if not (_has(vocabulary, "order_objects", text)
            or _has(vocabulary, "order_abbreviations", text)) \
            or _names(vocabulary, "performed", text):
        return False
    if _has(vocabulary, "order_verbs", text) or _has(vocabulary, "order_when", text):
        return True
    return in_plan and not re.search(r"\d", text) and not _names(vocabulary, "result_words", text)


def _states_mdm(text: str, vocabulary: Vocabulary) -> bool:
    """A statement of the MDM (level or elements) supports the level, not separate work."""
    return any(p.search(text) for p in MDM_STATED) or any(
        _names(vocabulary, name, text) for name in vocabulary.lists_with("mdm_element"))


def _pick(found: list[SeparateWork], limit: int) -> list[SeparateWork]:
    """Up to ``limit`` items, covering as many kinds as possible, in note order."""
    chosen: list[SeparateWork] = []
    for item in found:
        covered = {kind for c in chosen for kind in c.kinds}
        if len(chosen) < limit and not covered.issuperset(item.kinds):
            chosen.append(item)
    chosen += [item for item in found if item not in chosen][:limit - len(chosen)]
    return [item for item in found if item in chosen]


def separate_work_evidence(chart: ChartBundle, denial: Denial,
                           vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Extractor ``em25_separate_work``: quotes of the separate E/M work, valued by kind."""
    return [_evidence(item.document, item.passage, "separate_em_work", ", ".join(item.kinds))
            for item in _pick(separate_work(chart, denial, vocabulary), limit=4)]


# --- the level billed ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LevelFinding:
    """A stated MDM level, a total time, or MDM elements in CPT's words."""

    document: SourceDocument
    passage: Passage
    mdm: str | None = None
    minutes: int | None = None
    elements: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """The finding as the evidence value: 'MDM moderate', 'total time 30 minutes', ..."""
        if self.mdm is not None:
            return f"MDM {self.mdm}"
        if self.minutes is not None:
            return f"total time {self.minutes} minutes"
        return "MDM elements of " + " and ".join(self.elements)


def level_findings(chart: ChartBundle, denial: Denial,
                   vocabulary: Vocabulary | None = None) -> list[LevelFinding]:
    """Every sentence of the visit's notes that states an MDM level, a total time or elements.

    A sentence's ';' clauses on one line are read together.
    """
    vocabulary = vocabulary_of(vocabulary)
    found = []
    for document in visit_documents(chart, denial):
        items: list[Passage] = []
        for item in passages(document.text, vocabulary):
            if items and items[-1].text.endswith(";") \
                    and "\n" not in document.text[items[-1].end:item.start]:
                joined = items.pop()
                item = replace(joined, end=item.end, text=document.text[joined.start:item.end])
            items.append(item)
        found += [f for p in items if (f := _level_finding(document, p, vocabulary))]
    return found


def _level_finding(document: SourceDocument, passage: Passage,
                   vocabulary: Vocabulary) -> LevelFinding | None:
    text = passage.text

    def stated(pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [m for m in pattern.finditer(text)
                if _asserted(vocabulary, text, m.start(), m.end())]

    mdm = next((m.group(1).lower() for p in MDM_STATED for m in stated(p)), None)
    minutes = next((int(m.group(1)) for p in TOTAL_TIME for m in stated(p)), None)
    elements = tuple(vocabulary.values(name)["mdm_element"]
                     for name in vocabulary.lists_with("mdm_element")
                     if any(_asserted(vocabulary, text, a, b)
                            for a, b in vocabulary.spans(name, text)))
    if mdm is None and minutes is None and not elements:
        return None
    return LevelFinding(document, passage, "moderate" if mdm == "mod" else mdm, minutes,
                        elements)


def level_support_evidence(chart: ChartBundle, denial: Denial,
                           vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Extractor ``em25_level_support``: stated MDM first, then total time, then elements."""
    found = sorted(level_findings(chart, denial, vocabulary),
                   key=lambda f: 0 if f.mdm else 1 if f.minutes is not None else 2)
    return [_evidence(f.document, f.passage, "em_level_support", f.value) for f in found[:3]]


@dataclass(frozen=True, slots=True)
class LevelSummary:
    """The level documentation of a visit, reduced to what the checks compare."""

    billed: str
    minutes: int | None
    mdm: str | None
    """The highest MDM level stated."""
    mdm_elements: bool

    @property
    def time_code(self) -> str | None:
        """The highest code of the billed code's family the total time supports, or None."""
        return None if self.minutes is None else code_for_minutes(self.billed, self.minutes)

    @property
    def mdm_code(self) -> str | None:
        """The code of the billed code's family the stated MDM level supports, or None."""
        return None if self.mdm is None else family(self.billed)[MDM_LEVELS.index(self.mdm)]


def level_summary(ctx: CheckContext) -> LevelSummary | None:
    """The visit's level documentation for an office E/M code from 2021 on, else None."""
    procedure, day = ctx.denial.procedure, ctx.denial.service_date
    if procedure is None or procedure.submitted_code not in TIME_MINIMUMS \
            or (day is not None and day < TIME_RULES_FROM):
        return None
    found = level_findings(ctx.chart, ctx.denial)
    times = [f.minutes for f in found if f.minutes is not None]
    levels = [f.mdm for f in found if f.mdm]
    return LevelSummary(procedure.submitted_code, max(times) if times else None,
                        max(levels, key=MDM_LEVELS.index) if levels else None,
                        any(f.elements for f in found))


# --- checks ----------------------------------------------------------------------------

_CONTENT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{3,}")


def _content_words(text: str, vocabulary: Vocabulary) -> set[str]:
    """The words of ``text`` that can tie an A/P item to the procedure's documentation.

    The vocabulary's ``common_words`` are left out, and plurals dropped.
    """
    common = vocabulary.pattern("common_words")
    return {w.lower()[:-1] if w.lower().endswith("s") and not w.lower().endswith("ss")
            else w.lower() for w in _CONTENT_WORD.findall(text) if not common.fullmatch(w)}


def _the_procedures(passage: Passage, vocabulary: Vocabulary, sites: frozenset[str],
                    words: set[str]) -> bool:
    """Whether an A/P item is the procedure's own work.

    It is when it documents the procedure, names its site (itself or its opening problem),
    shares a content word with the procedure's documentation (its indication), or does what
    is not separate work (``item_actions``). A bare problem of its own ('Tinea pedis.') is
    none of these.
    """
    return documents_procedure(passage, vocabulary) \
        or on_procedure_site(passage, sites, vocabulary) \
        or bool(_content_words(passage.text, vocabulary) & words) \
        or _names(vocabulary, "item_actions", passage.text)


def no_separate_service(ctx: CheckContext) -> str | None:
    """Check ``em25_no_separate_service``: every A/P item is the procedure's own work.

    The notes document the procedure or test and a readable A/P every item of which is its
    own work (a write-off loses the line: an item the agent cannot tie to the procedure, or
    no A/P, leaves it to an auditor).
    """
    procedure, vocabulary = ctx.denial.procedure, vocabulary_of()
    if procedure is None or separate_work(ctx.chart, ctx.denial, vocabulary):
        return None
    documented = procedure_passages(ctx.chart, ctx.denial, vocabulary)
    sites = procedure_sites(documented, vocabulary)
    words = {w for _, p in documented for w in _content_words(p.text, vocabulary)}
    items = [p for d in visit_documents(ctx.chart, ctx.denial)
             for p in passages(d.text, vocabulary)
             if p.section in PLAN_SECTIONS and p.text.strip(" .:-")]
    if not documented or not items \
            or not all(_the_procedures(p, vocabulary, sites, words) for p in items):
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
    """Check ``em25_time_below_level``: neither total time nor stated MDM supports the code.

    With separate work, total time below the billed level's minimum and a stated MDM level
    below it (an established-patient code), neither route supports the code: correct it to
    the higher of the codes they support.
    """
    summary = level_summary(ctx)
    if summary is None or summary.minutes is None or summary.billed in NEW_PATIENT_CODES \
            or not separate_work(ctx.chart, ctx.denial):
        return None
    billed, minimum, mdm_code = summary.billed, TIME_MINIMUMS[summary.billed], summary.mdm_code
    if summary.minutes >= minimum or mdm_code is None or _rank(mdm_code) >= _rank(billed):
        return None
    time_code = summary.time_code
    supported = mdm_code if time_code is None else max(mdm_code, time_code, key=_rank)
    time_part = (f"total time {summary.minutes} minutes supports {time_code}"
                 if time_code is not None else
                 f"total time {summary.minutes} minutes meets no minimum of the family")
    return (f"the note states MDM {summary.mdm}, which supports {mdm_code}, and "
            f"{time_part}, below the {minimum}-minute minimum for {billed} (CPT 2024): "
            f"neither MDM nor time supports {billed}; the documentation supports {supported}")


def level_unclear(ctx: CheckContext) -> str | None:
    """Check ``em25_level_unclear``: separate work, but no simple correction settles the level.

    That is MDM stated below the level billed without time that settles it, time below the
    level with no stated MDM level (an auditor grades MDM), or neither stated and nothing
    read that MDM is made of (:func:`_outside_mdm`).
    """
    summary = level_summary(ctx)
    work = separate_work(ctx.chart, ctx.denial) if summary is not None else []
    if summary is None or not work:
        return None
    billed, minimum, mdm_code = summary.billed, TIME_MINIMUMS[summary.billed], summary.mdm_code
    if summary.minutes is not None and summary.minutes >= minimum:
        return None
    if mdm_code is not None:
        if _rank(mdm_code) >= _rank(billed):
            return None
        return (f"the note states MDM {summary.mdm}, which supports {mdm_code}, below "
                f"{billed} billed" + (f", and total time {summary.minutes} minutes is below "
                                      f"its {minimum}-minute minimum"
                                      if summary.minutes is not None else ""))
    if summary.minutes is None:
        return None if summary.mdm_elements else _outside_mdm(work, billed, vocabulary_of())
    no_level = ("no MDM level is stated"
                + (" (MDM elements are documented without one)" if summary.mdm_elements
                   else "") + ": an auditor decides whether MDM supports the level billed")
    if summary.time_code is None:
        lowest = family(billed)[0]
        return (f"total time {summary.minutes} minutes is below the lowest minimum of the "
                f"family ({lowest}: {TIME_MINIMUMS[lowest]} minutes) and {no_level}")
    return (f"total time {summary.minutes} minutes supports {summary.time_code}, below the "
            f"{minimum}-minute minimum for {billed}; {no_level}")


def _outside_mdm(work: list[SeparateWork], billed: str, vocabulary: Vocabulary) -> str | None:
    """The problem when the only separate work is none of MDM's elements, else None.

    When neither time nor MDM is stated, the level rests on MDM's elements (problems, data,
    risk: docs/domain.md#em-levels); separate work that is none of them (a list's value
    ``mdm: none``) is no support the agent can show for any level.
    """
    kinds = {kind for item in work for kind in item.kinds}
    outside = {vocabulary.values(name)["separate_work"]
               for name in vocabulary.lists_with("separate_work")
               if vocabulary.values(name).get("mdm") == "none"}
    if not kinds <= outside:
        return None
    return (f"the only separate work documented is a {' and a '.join(sorted(kinds))}, none "
            "of MDM's elements (problems, data, risk), and neither a total time nor an MDM "
            f"level is stated: an auditor decides whether the visit supports {billed}")


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
    extractors.register_reading("em25_level_support", level_support_evidence,
                                LEVEL_SUPPORT_LISTS)
    checks.register("em25_no_separate_service", no_separate_service)
    checks.register("em25_time_below_level", time_below_level)
    checks.register("em25_level_unclear", level_unclear)
