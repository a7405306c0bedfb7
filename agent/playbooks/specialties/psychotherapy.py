"""Psychotherapy time: CPT 90832/90834/90837 and the add-ons +90833/+90836/+90838.

The code is chosen by the minutes of psychotherapy (docs/domain.md#psychotherapy-time):
90832 16-37, 90834 38-52, 90837 53+, the add-ons with a same-day E/M on the same ranges,
under 16 not reportable. Two extractors read the notes:

- ``psychotherapy_session_time``: the session's minutes, from an explicit total ("58 min
  face-to-face", "55 minutes of psychotherapy") or from start and stop times ("2:05-3:02 PM",
  "14:05–15:02", "start 1405 stop 1502", "Time in: 10:02 Time out: 10:59"). A time that is
  negated, hypothetical or not the session (a phone call, the next appointment, the
  signature) is never counted.
- ``psychotherapy_session_work``: what was done in the session and, for 90837/90838, why the
  longer session was needed (suicidal ideation, safety planning, crisis, trauma processing,
  acute decompensation, a positive C-SSRS).

Four checks say when not to appeal: the minutes support only a lower code (the payer's
downcode stands, or a corrected claim goes out), or no code at all.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument, StructuredFact
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import Sentence, clause_around, is_negated
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.reader import read_note
from agent.notes.values import (
    CLOCK,
    ClockTime,
    durations,
    minutes_between,
    read_clock,
    time_ranges,
)
from agent.notes.visit import visit_documents
from agent.playbooks.checks import CheckContext, CheckRegistry

# --- the CPT time ranges ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeBand:
    """One psychotherapy time range and its two codes (alone, and as an E/M add-on)."""

    code: str
    add_on: str
    low: int
    high: int | None

    def text(self) -> str:
        """``38-52 min`` or ``53+ min`` (for reasons an auditor reads)."""
        return f"{self.low}+ min" if self.high is None else f"{self.low}-{self.high} min"


BANDS: tuple[TimeBand, ...] = (
    TimeBand("90832", "90833", 16, 37),
    TimeBand("90834", "90836", 38, 52),
    TimeBand("90837", "90838", 53, None),
)
"""docs/domain.md#psychotherapy-time (empr.com 2013 CPT changes; med.uth.edu
"Calculating Time")."""

MIN_REPORTABLE = BANDS[0].low
"""Under 16 minutes no psychotherapy code is reportable."""

PSYCHOTHERAPY_CODES = frozenset(c for b in BANDS for c in (b.code, b.add_on))
ADD_ON_CODES = frozenset(b.add_on for b in BANDS)
LONG_SESSION_CODES = frozenset({BANDS[-1].code, BANDS[-1].add_on})

SESSION_TIME_FACT = "session_time"
SESSION_WORK_FACT = "session_work"
MAX_SESSION_MINUTES = 300
"""A reading above this is not a session (a parse of something else)."""


def band_for(code: str) -> TimeBand | None:
    """The time range of a psychotherapy code (alone or add-on), else None."""
    for band in BANDS:
        if code in (band.code, band.add_on):
            return band
    return None


def code_for_minutes(minutes: int, add_on: bool = False) -> str | None:
    """The highest code the minutes support; None under 16 minutes."""
    supported = [b for b in BANDS if minutes >= b.low]
    if not supported:
        return None
    return supported[-1].add_on if add_on else supported[-1].code


# --- reading notes: the reader's sentences, with the headings and labels over them ------

_LABEL = re.compile(r"^[ \t>*_-]*(?P<label>[A-Za-z][A-Za-z0-9 /&()'+\-]{0,40}?)[ \t*_]*:"
                    r"(?![0-9])")
_BULLET_MARK = re.compile(r"[ \t]*(?:[-*•|]|\d+[.)])[ \t]*")

PLAN_LABELS = frozenset({"plan", "p", "next steps", "follow-up", "follow up", "f/u",
                         "disposition", "next appt", "next appointment", "next session",
                         "next", "homework", "recommendations", "treatment plan"})
HISTORY_LABELS = frozenset({"history", "hx", "psych history", "psychiatric history",
                            "past psychiatric history"})
DIAGNOSIS_LABELS = frozenset({"dx", "diagnosis", "diagnoses", "icd-10", "icd10"})
DESCRIPTOR_LABELS = frozenset({"service", "services", "cpt", "cpt code", "code", "codes",
                               "billing", "billed", "procedure code", "service code"})
"""Field labels (beyond the reader's plan, history and family sections) whose lines
describe other times and other work: the plan, history, diagnoses, the billed service."""


@dataclass(frozen=True, slots=True)
class NoteSentence:
    """A sentence of the note reader with the Markdown heading and field label over it."""

    sentence: Sentence
    heading: str | None
    label: str | None
    section_closed: bool = False
    """A paragraph after the one the section's header opened, not going on with a bullet:
    "PLAN: RTC 1 wk", a blank line, then "total face-to-face time 45 min" is below the
    plan, not part of it."""

    def under(self, labels: frozenset[str]) -> bool:
        """Whether the sentence's heading or field label is one of ``labels``."""
        return self.heading in labels or self.label in labels


def _normal(label: str) -> str:
    return " ".join(label.strip(" *_#").lower().split())


_NOT_LABELS = frozenset({"re", "eg", "ie", "cc", "note"})
"""Words written with a colon inside a sentence ("re: employment")."""


def _field_label(line: str) -> str | None:
    found = _LABEL.match(line)
    label = _normal(found.group("label")) if found else None
    return None if label in _NOT_LABELS else label


def note_sentences(text: str) -> list[NoteSentence]:
    """The note's sentences (agent/notes/reader.py), each with its heading and label.

    Each sentence carries the Markdown heading over it and the field label in force in its
    paragraph (the reader's header, or a label that opens a sentence).
    """
    out: list[NoteSentence] = []
    heading = label = None
    header: tuple[str | None, str | None, int] = (None, None, 0)
    paragraph, closed = -1, False
    for sentence in read_note(text).sentences:
        if sentence.paragraph != paragraph:
            label = None
            line = text.rfind("\n", 0, sentence.start) + 1
            closed = closed or (sentence.paragraph != header[2]
                                and not _BULLET_MARK.fullmatch(text, line, sentence.start))
        if (sentence.section, sentence.label) != header[:2]:
            header, closed = (sentence.section, sentence.label, sentence.paragraph), False
            label = _normal(sentence.label) if sentence.label else None
            if _under_markdown_heading(text, sentence.start):  # "## Rationale": holds on
                heading, label = label, None
        label = _field_label(sentence.text) or label
        paragraph = sentence.paragraph
        out.append(NoteSentence(sentence, heading, label, closed))
    return out


def _under_markdown_heading(text: str, start: int) -> bool:
    """Whether the line above the sentence's line is a Markdown heading ("## Plan")."""
    line = text.rfind("\n", 0, start)
    above = text[:max(line, 0)].rstrip("\n").rsplit("\n", 1)[-1]
    return line >= 0 and above.lstrip().startswith("#")


def _excluded_section(item: NoteSentence) -> bool:
    """Plan, history and diagnosis lines describe other times and other work."""
    in_section = item.sentence.section in ("plan", "history", "family") \
        and not item.section_closed
    return (in_section or item.under(PLAN_LABELS)
            or item.under(HISTORY_LABELS) or item.under(DIAGNOSIS_LABELS))


def _is_rationale(item: NoteSentence, words: Vocabulary) -> bool:
    """Whether the sentence is under a heading or label that justifies the session's length.

    Such headings are "Rationale for 60-min session" or "Why 60 min": the times under them are
    arguments, their sentences stated reasons.
    """
    labels = words.pattern("rationale_labels")
    return any(x is not None and labels.search(x) for x in (item.heading, item.label))


def session_documents(chart: ChartBundle, denial: Denial) -> list[SourceDocument]:
    """Notes that can describe the billed session: the visit's, then undated notes.

    The visit's notes come from agent/notes/visit.py: the claim's encounter first, then notes
    dated on the service date. Undated notes follow (a therapist's progress note often carries
    no date of its own; a note dated days away describes another session).
    """
    visit = visit_documents(chart, denial)
    return visit + [d for d in chart.documents if d.date is None and d not in visit]


VOCABULARY = "psychotherapy_time"
"""The vocabulary the extractors read by default (specialty_playbooks/vocabularies/)."""


def _vocabulary(vocabulary: Vocabulary | None = None) -> Vocabulary:
    return vocabulary or load_vocabulary(VOCABULARY)


# --- session time ------------------------------------------------------------------------

_START = re.compile(r"\b(?P<label>start(?:ed)?|began|begin|time[ \t]+in)(?:[ \t]+time)?[ \t*_]*"
                    r"[:=\-–]?[ \t*_]*(?:at[ \t]+)?~?(?P<t>" + CLOCK + r")(?![\w:/])",
                    re.IGNORECASE)
_END = re.compile(r"\b(?P<label>end(?:ed)?|stop(?:ped)?|finish(?:ed)?|time[ \t]+out|concluded)"
                  r"(?:[ \t]+time)?[ \t*_]*[:=\-–]?[ \t*_]*(?:at[ \t]+)?~?(?P<t>" + CLOCK +
                  r")(?![\w:/])", re.IGNORECASE)

_SEPARATORS = re.compile(r"[;,()|•\t]| {2,}")
_APART_FROM_EM = re.compile(
    r"\b(?:separate(?:ly)?|apart|distinct|independent(?:ly)?)[ \t]+(?:from|of)[ \t]+"
    r"(?:the[ \t]+)?(?:E/?M|E&M)\b|\b(?:excluding|excl\.?|exclusive[ \t]+of|not[ \t]+"
    r"incl(?:uding|\.)?|w/o|without)[ \t]+(?:the[ \t]+)?(?:E/?M|E&M)\b", re.IGNORECASE)
"""Psychotherapy time stated apart from the E/M ("separate from E/M"): not the E/M's time."""
_PART_OF_SESSION = re.compile(r"\b(?:first|last|final|initial|additional|extra|another)"
                              r"[ \t]+(?:~[ \t]*|about[ \t]+|approx\.?[ \t]*)?$", re.IGNORECASE)
"""Before a number: a part of the session ("w/ mom for the first 5 min"), not its length."""
_CODE_ON_LINE = re.compile(r"\b(?:908[3-4]\d|9079[12]|99[2-4]\d\d)\b")
_BARE_RANGE_LABEL = re.compile(r"time|session|start|from|appt|visit|seen|therap|face|f2f|"
                               r"\bhrs?\b", re.IGNORECASE)


def span_minutes(start: ClockTime, end: ClockTime) -> int | None:
    """Minutes from ``start`` to ``end`` (agent/notes/values.py).

    None when that is longer than a session.
    """
    minutes = minutes_between(start, end)
    return minutes if minutes <= MAX_SESSION_MINUTES else None


@dataclass(frozen=True, slots=True)
class TimeReading:
    """A candidate reading of the session's minutes in one note."""

    minutes: int
    rank: int
    """0 a psychotherapy total, 1 a face-to-face or session total, 2 start/stop times
    labelled psychotherapy, 3 other start/stop times, 4 a total labelled only "time" or
    "spent". Lower wins; a tie goes to the earlier note and offset."""
    psychotherapy_label: bool
    document: SourceDocument
    spans: tuple[tuple[NoteSentence, int, int], ...]
    """The sentence(s) holding the reading, with the match offsets (absolute)."""


def _window(item: NoteSentence, start: int, end: int) -> tuple[str, int, int]:
    """The clause of the sentence around a match: the text that labels it.

    The clause is cut at , ; ( ) | tabs and wide gaps; it holds the label ("Face-to-face:",
    "(56 min face-to-face)"). Returns the text and the match's offsets in it.
    """
    text, base = item.sentence.text, item.sentence.start
    rel_start, rel_end = start - base, end - base
    lefts = list(_SEPARATORS.finditer(text, 0, rel_start))
    left = lefts[-1].end() if lefts else 0
    if lefts and lefts[-1].group() == ")" and not text[left:rel_start].strip(" \t:=-–"):
        # "Psychotherapy (separate from E/M): 28 min": the parenthesis qualifies the label
        opening = text.rfind("(", 0, lefts[-1].start())
        if opening >= 0:
            before = [m.end() for m in _SEPARATORS.finditer(text, 0, opening)]
            left = before[-1] if before else 0
    left = max(left, rel_start - 45)
    right_match = _SEPARATORS.search(text, rel_end)
    right = min(right_match.start() if right_match else len(text), rel_end + 40)
    return text[left:right], rel_start - left, rel_end - left


def _not_the_session(words: Vocabulary, window: str, start: int, end: int) -> bool:
    """Whether the time is negated, hypothetical, or another event's.

    Another event is a call, the next visit, the signature. Time stated apart from the E/M
    ("separate from E/M") is not the E/M's.
    """
    window = _APART_FROM_EM.sub(lambda m: " " * len(m.group()), window)
    return (is_negated(window, start, end)
            or bool(words.pattern("not_the_session").search(window))
            or bool(words.pattern("thresholds").search(window)))


def _sentence_at(items: list[NoteSentence], starts: list[int], offset: int
                 ) -> NoteSentence | None:
    index = bisect.bisect_right(starts, offset) - 1
    if index < 0:
        return None
    item = items[index]
    return item if item.sentence.start <= offset < item.sentence.end else None


def _totals(document: SourceDocument, items: list[NoteSentence], words: Vocabulary
            ) -> Iterator[TimeReading]:
    for item in items:
        if _excluded_section(item) or _is_rationale(item, words) \
                or item.under(DESCRIPTOR_LABELS):
            continue
        if _CODE_ON_LINE.search(item.sentence.text):
            continue  # "Service: 90837 individual psychotherapy, 60 min" names the code
        for total in durations(item.sentence.text):
            if total.at_least:
                continue  # "53+ min": a code's range, not this session
            if _PART_OF_SESSION.search(item.sentence.text, 0, total.start):
                continue  # "the first 5 min", "an extra 15 min": a part, not the length
            start, end = item.sentence.start + total.start, item.sentence.start + total.end
            window, w_start, w_end = _window(item, start, end)
            if _not_the_session(words, window, w_start, w_end):
                continue
            rank = _total_rank(window, words)
            if rank is None or not 0 < total.minutes <= MAX_SESSION_MINUTES:
                continue
            yield TimeReading(total.minutes, rank, rank == 0, document, ((item, start, end),))


def _total_rank(window: str, words: Vocabulary) -> int | None:
    """How surely a total is the session's (0 is surest).

    None when nothing labels it ("exposure x 40 min" is part of a session; "40 min" alone
    could be anything).
    """
    if words.pattern("psychotherapy_labels").search(window):
        return 0
    if words.pattern("face_to_face").search(window) or \
            words.pattern("session_labels").search(window):
        return 1
    if words.pattern("time_labels").search(window):
        return 4  # "time spent on exposure: 40 min" may be part of the session
    return None


def _range_reading(document: SourceDocument, item: NoteSentence, spans: list[tuple[int, int]],
                   first: ClockTime, last: ClockTime, bare: bool, words: Vocabulary
                   ) -> TimeReading | None:
    """A start/stop reading if every part is the session's and the minutes are plausible."""
    minutes = span_minutes(first, last)
    if minutes is None:
        return None
    windows = [_window(item, s, e) for s, e in spans]
    if any(_not_the_session(words, *w) for w in windows):
        return None
    if bare and not _bare_range_labelled(windows[0][0][:windows[0][1]], first, last):
        return None
    labelled = any(words.pattern("psychotherapy_labels").search(w[0]) for w in windows)
    return TimeReading(minutes, 2 if labelled else 3, labelled, document,
                       tuple((item, s, e) for s, e in spans))


_YEAR_LIKE_LABEL = re.compile(r"\btime\b|session|appt", re.IGNORECASE)


def _bare_range_labelled(before: str, first: ClockTime, last: ClockTime) -> bool:
    """Whether a bare four-digit range ("1400-1456") has the time label it needs before it.

    Without one, "2019-2021" is years. Two year-like numbers need "time", "session" or "appt"
    itself ("Therapy 2019-2021" is a treatment history).
    """
    if not _BARE_RANGE_LABEL.search(before):
        return False
    years = all(1900 <= c.hour * 100 + c.minute <= 2099 for c in (first, last))
    return not years or bool(_YEAR_LIKE_LABEL.search(before))


def _ranges(document: SourceDocument, items: list[NoteSentence], words: Vocabulary
            ) -> Iterator[TimeReading]:
    for item in items:
        if _excluded_section(item) or _is_rationale(item, words):
            continue
        base = item.sentence.start
        for found in time_ranges(item.sentence.text):
            bare = found.first.four_digits and found.last.four_digits
            reading = _range_reading(document, item, [(base + found.start, base + found.end)],
                                     found.first, found.last, bare, words)
            if reading is not None:
                yield reading


def _pairs(document: SourceDocument, items: list[NoteSentence], text: str,
           words: Vocabulary) -> Iterator[TimeReading]:
    """Labelled start and stop times, on one line or two.

    For example "Session start: 2:02 PM  Session end: 3:01 PM", "start 1405 stop 1502",
    "Time in: 10:02 / Time out: 10:59".
    """
    starts = [i.sentence.start for i in items]
    ends = list(_END.finditer(text))
    for begin in _START.finditer(text):
        stop = next((e for e in ends if begin.end() <= e.start() <= begin.end() + 160
                     and text.count("\n", begin.end(), e.start()) <= 2), None)
        if stop is None or _START.search(text, begin.end(), stop.start()):
            continue
        first, last = read_clock(begin["t"]), read_clock(stop["t"])
        if first is None or last is None or not _clock_labels(begin, stop, first, last):
            continue
        one = _sentence_at(items, starts, begin.start("t"))
        two = _sentence_at(items, starts, stop.start("t"))
        if one is None or two is None or any(
                _excluded_section(x) or _is_rationale(x, words) for x in (one, two)):
            continue
        if one is two:
            reading = _range_reading(document, one, [(begin.start(), stop.end())],
                                     first, last, False, words)
        else:
            reading = _two_line_pair(document, (one, begin), (two, stop), first, last, words)
        if reading is not None:
            yield reading


_PLAIN_LABELS = frozenset({"start", "time in", "stop", "end", "time out"})


def _clock_labels(begin: re.Match[str], stop: re.Match[str], first: ClockTime,
                  last: ClockTime) -> bool:
    """Whether the start and stop labels fit the times; four-digit times need plain labels.

    "start 1405 stop 1502" is a session, "started 2019, stopped 2021" is a medication
    history.
    """
    if not (first.four_digits or last.four_digits):
        return True
    return all(" ".join(m.group("label").lower().split()) in _PLAIN_LABELS
               for m in (begin, stop))


def _two_line_pair(document: SourceDocument, begin: tuple[NoteSentence, re.Match[str]],
                   stop: tuple[NoteSentence, re.Match[str]], first: ClockTime,
                   last: ClockTime, words: Vocabulary) -> TimeReading | None:
    one, two = (_range_reading(document, item, [(found.start(), found.end())], first, last,
                               False, words) for item, found in (begin, stop))
    if one is None or two is None:
        return None
    return TimeReading(one.minutes, min(one.rank, two.rank), one.psychotherapy_label
                       or two.psychotherapy_label, document, (*one.spans, *two.spans))


def time_readings(document: SourceDocument, vocabulary: Vocabulary | None = None
                  ) -> list[TimeReading]:
    """Every plausible reading of the session's minutes in one note."""
    items = note_sentences(document.text)
    words = _vocabulary(vocabulary)
    return [*_totals(document, items, words), *_pairs(document, items, document.text, words),
            *_ranges(document, items, words)]


def _best_readings(documents: Iterable[SourceDocument], add_on: bool, words: Vocabulary
                   ) -> list[TimeReading]:
    """The preferred reading, then every other reading of the same rank with other minutes.

    The preferred reading is chosen by rank, then note order, then position. Two statements
    of the session's time that disagree are both quoted, for an auditor to decide. For an
    add-on code only time labelled as psychotherapy counts (the E/M's time must not be
    counted).
    """
    ranked: list[tuple[tuple[int, int, int], TimeReading]] = []
    for order, document in enumerate(documents):
        for reading in time_readings(document, words):
            if add_on and not reading.psychotherapy_label:
                continue
            ranked.append(((reading.rank, order, reading.spans[0][1]), reading))
    if not ranked:
        return []
    ranked.sort(key=lambda item: item[0])
    best = ranked[0][1]
    others = {r.minutes: r for _, r in ranked[1:]
              if r.rank == best.rank and r.minutes != best.minutes}
    return [best, *others.values()]


def _reading_evidence(reading: TimeReading) -> list[Evidence]:
    out: list[Evidence] = []
    document = reading.document
    for index, (item, start, end) in enumerate(reading.spans):
        lo, hi = clause_around(item.sentence, start - item.sentence.start,
                               end - item.sentence.start)
        if any(e.start == lo and e.end == hi for e in out):
            continue
        out.append(Evidence(quote=document.text[lo:hi], document_id=document.document_id,
                            start=lo, end=hi, fact=SESSION_TIME_FACT,
                            value=f"{reading.minutes} minutes" if index == 0 else None,
                            document_date=document.date, document_title=document.title))
    return out


def billed_code(denial: Denial) -> str | None:
    """The psychotherapy code as billed (SVC06 when the payer changed it)."""
    if denial.procedure is None:
        return None
    code = denial.procedure.submitted_code
    return code if code in PSYCHOTHERAPY_CODES else None


def psychotherapy_session_time(chart: ChartBundle, denial: Denial,
                               vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """The session's minutes, quoted where the note states them (value "57 minutes")."""
    add_on = billed_code(denial) in ADD_ON_CODES
    readings = _best_readings(session_documents(chart, denial), add_on,
                              _vocabulary(vocabulary))
    return [e for reading in readings for e in _reading_evidence(reading)]


# --- the work done, and why the session needed its length --------------------------------

TIME_LISTS = ("psychotherapy_labels", "face_to_face", "session_labels", "time_labels",
              "not_the_session", "thresholds", "rationale_labels")
WORK_VOCABULARY_LISTS = ("interventions", "rationale_labels", "extended_session",
                         "cssrs_positive", "cssrs")
"""The lists each extractor reads by name (checked at start-up), beside those giving the
``need`` (why a session needed 53+ minutes) or ``work`` value a match is quoted as."""

Terms = tuple[tuple[str, re.Pattern[str]], ...]


def _terms(words: Vocabulary, key: str) -> Terms:
    return tuple((words.values(name)[key], words.pattern(name))
                 for name in words.lists_with(key))


_DENIED_AFTER = re.compile(r"^(?:[ \t]*/[ \t]*[A-Z]{2,4})*[ \t]*[:=]?[ \t]*(?:denied|denies|"
                          r"neg(?:ative)?\b|none\b|no\b(?![ \t]*(?:plan|intent))|absent|"
                          r"-(?![\w-])|0\b|n/a)", re.IGNORECASE)
"""Template-style negation after the term: "SI denied", "SI/HI: neg", "HI: none", "SI -"."""


def _negated(text: str, start: int, end: int) -> bool:
    return is_negated(text, start, end) or bool(_DENIED_AFTER.match(text[end:]))


def _term_hit(text: str, terms: Terms, words: Vocabulary
              ) -> tuple[str, re.Match[str]] | None:
    for label, pattern in terms:
        for found in pattern.finditer(text):
            if _negated(text, found.start(), found.end()):
                continue
            if label == "positive C-SSRS" and \
                    not words.pattern("cssrs_positive").search(text[found.end():]):
                continue
            return label, found
    return None


_QUOTED_SPEECH_END = re.compile(r"[.!?][\"”'][ \t\r\n]+")


def _after_quoted_speech(text: str, lo: int, term_start: int) -> int:
    """Start the quote after the patient's own words when the sentence splitter kept them.

    For example '"I'm failing everyone." Endorses passive SI' -> 'Endorses passive SI'.
    """
    ends = list(_QUOTED_SPEECH_END.finditer(text, lo, term_start))
    return ends[-1].end() if ends else lo


def _note_work(document: SourceDocument, terms: Terms, need_only: bool, words: Vocabulary
               ) -> Iterator[tuple[int, Evidence]]:
    for item in note_sentences(document.text):
        if _excluded_section(item):
            continue
        hit = _term_hit(item.sentence.text, terms, words)
        if hit is None:
            continue
        label, found = hit
        need = label != "psychotherapy intervention"
        if need_only and not need:
            continue
        stated = _is_rationale(item, words) or \
            bool(words.pattern("extended_session").search(item.sentence.text))
        rank = (0 if stated else 1) if need else 3
        lo, hi = clause_around(item.sentence, found.start(), found.end())
        lo = _after_quoted_speech(document.text, lo, item.sentence.start + found.start())
        yield rank, Evidence(quote=document.text[lo:hi], document_id=document.document_id,
                             start=lo, end=hi, fact=SESSION_WORK_FACT, value=label,
                             document_date=document.date, document_title=document.title)


def _positive_screens(facts: Iterable[StructuredFact], words: Vocabulary
                      ) -> Iterator[tuple[int, Evidence]]:
    """A C-SSRS Observation whose value shows ideation or behavior (not negated)."""
    for fact in facts:
        if fact.resource_type != "Observation" or not fact.value:
            continue
        if not words.pattern("cssrs").search(f"{fact.display or ''} {fact.code or ''}"):
            continue
        hit = words.pattern("cssrs_positive").search(fact.value)
        if hit is None or is_negated(fact.value, hit.start(), hit.end()):
            continue
        yield 2, Evidence(quote=fact.quote, document_id=fact.resource_id,
                          fact=SESSION_WORK_FACT, value="positive C-SSRS",
                          document_date=fact.date, document_title=fact.display)


def psychotherapy_session_work(chart: ChartBundle, denial: Denial,
                               vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """What the session did; for 90837/90838 only what needed the longer session.

    Stated reasons for the extended time come first, then risk and trauma work, then a
    positive C-SSRS on file, then (shorter codes) the interventions.
    """
    long_session = billed_code(denial) in LONG_SESSION_CODES
    words = _vocabulary(vocabulary)
    need = _terms(words, "need")
    terms = need if long_session else (*need, *_terms(words, "work"))
    found: list[tuple[int, Evidence]] = []
    for document in session_documents(chart, denial):
        found.extend(_note_work(document, terms, long_session, words))
    same_day = [f for f in chart.facts if f.date is None or f.date == denial.service_date]
    found.extend(_positive_screens(same_day, words))
    found.sort(key=lambda item: item[0])
    return _varied([evidence for _, evidence in found], limit=3)


def _varied(ranked: list[Evidence], limit: int) -> list[Evidence]:
    """Up to ``limit`` distinct quotes, one per kind of work first, then the rest in order.

    One per kind means a safety plan and suicidal ideation rather than three mentions of
    ideation.
    """
    chosen: list[Evidence] = []
    for first_pass in (True, False):
        for evidence in ranked:
            if len(chosen) == limit:
                return chosen
            if any(evidence.quote == e.quote for e in chosen):
                continue
            if first_pass and any(evidence.value == e.value for e in chosen):
                continue
            chosen.append(evidence)
    return chosen


# --- checks: when the minutes do not support the billed code ------------------------------

@dataclass(frozen=True, slots=True)
class TimeFinding:
    """The minutes the notes document against the code billed and the code paid."""

    minutes: int
    billed: str
    paid_code: str
    supported: str | None
    """The highest code the minutes support (None under 16 minutes)."""
    paid_lower: bool
    """The payer paid the line at another code (SVC06 downcode with a payment)."""

    @property
    def billed_supported(self) -> bool:
        """Whether the minutes reach the billed code's range (a lower code may be billed)."""
        band = band_for(self.billed)
        return band is not None and self.minutes >= band.low

    def describe(self, code: str | None) -> str:
        """``90834 (38-52 min)``."""
        band = band_for(code) if code else None
        return f"{code} ({band.text()})" if code and band else "no psychotherapy code"


def time_finding(ctx: CheckContext) -> TimeFinding | None:
    """The finding for a psychotherapy line whose notes document minutes, else None."""
    billed = billed_code(ctx.denial)
    procedure = ctx.denial.procedure
    minutes = documented_minutes(ctx.found(SESSION_TIME_FACT))
    if billed is None or procedure is None or minutes is None:
        return None
    paid_lower = (procedure.original_code is not None and procedure.code != billed
                  and ctx.denial.paid > Decimal(0))
    return TimeFinding(minutes, billed, procedure.code,
                       code_for_minutes(minutes, billed in ADD_ON_CODES), paid_lower)


def documented_minutes(evidence: Iterable[Evidence]) -> int | None:
    """The minutes read by ``psychotherapy_session_time`` (its value "57 minutes")."""
    for item in evidence:
        if item.value and item.value.endswith(" minutes"):
            return int(item.value.split()[0])
    return None


def times_disagree(ctx: CheckContext) -> str | None:
    """The notes state the session's time twice, with different minutes."""
    stated = sorted({int(e.value.split()[0]) for e in ctx.found(SESSION_TIME_FACT)
                     if e.value and e.value.endswith(" minutes")})
    if len(stated) < 2:
        return None
    return "the notes state the session's time as " + " and ".join(
        f"{m} minutes" for m in stated)


def downcode_supported(ctx: CheckContext) -> str | None:
    """The payer paid a lower code and the minutes support exactly that code."""
    found = time_finding(ctx)
    if (found is None or not found.paid_lower or found.billed_supported
            or found.supported != found.paid_code):
        return None
    return (f"the notes document {found.minutes} minutes, which supports "
            f"{found.describe(found.supported)}, the code the payer paid, not billed "
            f"{found.describe(found.billed)}")


def downcode_unsupported(ctx: CheckContext) -> str | None:
    """The payer paid a lower code, but the minutes support neither it nor the billed one."""
    found = time_finding(ctx)
    if (found is None or not found.paid_lower or found.billed_supported
            or found.supported == found.paid_code):
        return None
    return (f"the notes document {found.minutes} minutes, which supports "
            f"{found.describe(found.supported)}; billed {found.describe(found.billed)}, "
            f"paid as {found.paid_code}")


def under_reportable_minutes(ctx: CheckContext) -> str | None:
    """The line was denied and the notes document under 16 minutes."""
    found = time_finding(ctx)
    if found is None or found.paid_lower or found.minutes >= MIN_REPORTABLE:
        return None
    return (f"the notes document {found.minutes} minutes, under the {MIN_REPORTABLE} "
            f"minutes any psychotherapy code needs; billed {found.billed}")


def lower_code_supported(ctx: CheckContext) -> str | None:
    """The line was denied and the minutes support a lower code than the one billed."""
    found = time_finding(ctx)
    if (found is None or found.paid_lower or found.billed_supported
            or found.supported is None):
        return None
    return (f"the notes document {found.minutes} minutes: {found.describe(found.supported)}"
            f", not billed {found.describe(found.billed)}; resubmit as {found.supported}")


def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Register the psychotherapy extractors and checks."""
    extractors.register_reading("psychotherapy_session_time", psychotherapy_session_time,
                                TIME_LISTS)
    extractors.register_reading("psychotherapy_session_work", psychotherapy_session_work,
                                WORK_VOCABULARY_LISTS)
    checks.register("psychotherapy_times_disagree", times_disagree)
    checks.register("psychotherapy_downcode_supported", downcode_supported)
    checks.register("psychotherapy_downcode_unsupported", downcode_unsupported)
    checks.register("psychotherapy_under_reportable_minutes", under_reportable_minutes)
    checks.register("psychotherapy_lower_code_supported", lower_code_supported)
