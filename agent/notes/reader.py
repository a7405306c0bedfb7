"""Reading a clinical note: sections, wrapped lines, sentences and assertion context.

The reader finds sections and field labels, joins wrapped lines, splits sentences with
exact offsets, and gives the assertion context of any phrase in them.

Real notes come hard-wrapped by dictation systems and PDF exports, with headers in
capitals ("HISTORY OF PRESENT ILLNESS:"), abbreviations that hold periods ("Dr.",
"b.i.d.", "p.o."), bullets and numbered lists. The reader:

- joins a line to the next when the break is a wrap (the line is long and the next starts
  no header, field label, bullet, numbered item or dated log row and is not indented, or
  the next starts in lower case; table rows laid out in columns are never joined), so a
  sentence is never cut at a line end ("no joint" / "effusion.");
- splits sentences at ``.`` ``!`` ``?`` ``;`` followed by a space, except after a title or
  initial ("Dr. X", "J. Smith") and inside a dotted abbreviation unless a capitalised word
  follows;
- tracks the section each sentence sits in from the known headers at a sentence's start
  (any case), keeping the label as written; other labels ("LEFT KNEE:", "Valid:") stay in
  the sentence as fields of their section, and start a line of their own;
- keeps offsets into the original text, so a quote is always ``text[start:end]`` (it may
  hold the line breaks of a wrapped sentence).

The vocabulary of layout (section headers, abbreviations, the wrap length) is data:
agent/notes/data/reading.yaml. Assertion context: agent/notes/context.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import yaml

from agent.notes.context import Assertion, ContextRules, Cue


@dataclass(frozen=True, slots=True)
class Layout:
    """The layout vocabulary (agent/notes/data/reading.yaml)."""

    sections: dict[str, str]
    """Header as written (lower case, no colon) -> canonical section."""
    never_end: frozenset[str]
    number_words: frozenset[str]
    dotted: frozenset[str]
    wrap_min_line: int
    header_words: tuple[tuple[str, frozenset[str]], ...] = ()
    """For a header in capitals the layout does not list: (section, words), the first
    section one of whose words the header holds."""
    lead_ins: tuple[tuple[str, re.Pattern[str]], ...] = ()
    """(section, opening): a paragraph with no header that opens this way starts the
    section ("On examination, ...")."""

    @classmethod
    @cache
    def default(cls) -> Layout:
        """The layout of agent/notes/data/reading.yaml, read once."""
        raw = yaml.safe_load(resources.files("agent.notes").joinpath("data", "reading.yaml")
                             .read_text(encoding="utf-8"))
        sections = {alias.lower(): name for name, aliases in raw["sections"].items()
                    for alias in aliases}
        header_words = tuple((item["section"], frozenset(w.lower() for w in item["words"]))
                             for item in raw["header_words"])
        lead_ins = tuple((name, re.compile(r"(?:" + "|".join(openings) + r")(?![A-Za-z])",
                                           re.IGNORECASE))
                         for name, openings in raw["lead_ins"].items())
        return cls(sections, frozenset(w.lower() for w in raw["never_end"]),
                   frozenset(w.lower() for w in raw["number_words"]),
                   frozenset(w.lower() for w in raw["dotted"]), int(raw["wrap_min_line"]),
                   header_words, lead_ins)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or bullet, or what follows a header) of a note, located exactly."""

    start: int
    end: int
    text: str
    """``note[start:end]``: verbatim, line breaks of a wrapped sentence included."""
    section: str | None
    """Canonical section (agent/notes/data/reading.yaml) of the last known header before
    the sentence, or None before any."""
    label: str | None = None
    """The header the sentence sits under, as written ("PREOPERATIVE DIAGNOSIS")."""
    paragraph: int = 0
    """Which paragraph of the note (blocks between blank lines, counted from 0)."""


@dataclass(frozen=True, slots=True)
class Note:
    """A note as read: its text and located sentences."""

    text: str
    sentences: tuple[Sentence, ...]
    rules: ContextRules = field(repr=False, compare=False)

    def sentence_at(self, offset: int) -> Sentence | None:
        """The sentence holding the character at ``offset``."""
        for sentence in self.sentences:
            if sentence.start <= offset < sentence.end:
                return sentence
        return None

    def assertion(self, start: int, end: int) -> Assertion:
        """The assertion context of ``text[start:end]`` within its sentence."""
        sentence = self.sentence_at(start)
        if sentence is None:
            return Assertion(frozenset())
        return self.rules.assertion(sentence.text, start - sentence.start,
                                    min(end, sentence.end) - sentence.start,
                                    sentence_cues(sentence.text))


_SENTENCE_CUES: dict[str, list[Cue]] = {}
"""Sentence text -> its cues, searched the first time a phrase of it is asked about (most
sentences of a note never are: only those where an extractor found a term)."""
_MAX_CACHED = 50_000


def sentence_cues(sentence: str) -> list[Cue]:
    """The ConText cues of a sentence (offsets relative to it), searched once."""
    cues = _SENTENCE_CUES.get(sentence)
    if cues is None:
        cues = ContextRules.default().cues(sentence)
        _remember(sentence, cues)
    return cues


def _remember(sentence: str, cues: list[Cue]) -> None:
    if len(_SENTENCE_CUES) >= _MAX_CACHED:
        _SENTENCE_CUES.clear()
    _SENTENCE_CUES[sentence] = cues


def assertion(sentence: str, start: int, end: int) -> Assertion:
    """The assertion context of ``sentence[start:end]`` (default rules)."""
    return ContextRules.default().assertion(sentence, start, end, sentence_cues(sentence))


_BULLET = re.compile(r"[ \t]*(?:[-*•·]|\(?\d{1,2}[.)]|\(?[a-z][.)])[ \t]+")
_HEADER = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9 /&+\-'.,()]{0,60}?)[ \t]*:(?=[ \t]|$)"
                     r"|[ \t]*([A-Za-z][A-Za-z /&]{0,20}?)[ \t]+-(?=[ \t])")
"""A label and its colon; or, for a known header only, a short label and a dash ("A -",
"Plan -", as SOAP notes write them)."""
_BOUNDARY = re.compile(r"[.!?;]+[\"'”’)]*(?=\s)")
"""A sentence's end: its mark, and a closing quote or bracket after it ('... the point."')."""
_DOSE = re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|g|mL|ml|units?|tabs?|tablets?|caps?)\b",
                   re.IGNORECASE)
_ITEM_MARK = re.compile(r"\s*\(?(?:\d{1,2}|[A-Za-z])[.)]")
_COLUMNS = re.compile(r"\S(?: {3,}|\t)\S")
"""Text laid out in columns (a report's table row): its line breaks are rows, not wraps."""
_MARKDOWN = re.compile(r"[ \t]*(?P<marks>#{1,6})[ \t]+(?P<label>[^#\n]*[^#\s.])[ \t]*#*[ \t]*")
"""A Markdown heading on a line of its own ("## Plan"); one "#" starts a heading only
with a known header's name (problem lists number items "# HTN - ...")."""
_FIELD = re.compile(r"[ \t]*(?:\*\*|__)?(?:[A-Z][A-Za-z0-9/&#'\-]*(?: [A-Za-z0-9/&#'\-]+){0,3}"
                    r"|(?!(?:re|eg|ie|cf|vs):)[a-z][a-z/]{0,11})[ \t]*"
                    r"(?::(?:\*\*|__)?|(?:\*\*|__):)(?:[ \t]|$)")
"""A field label starting a line ("Valid:", "Auth #:", "hx:"): a line of its own; not
"re:" and its kin, which go on a sentence ("... pro-" / "re: conflict with ...")."""
_ROW = re.compile(r"[ \t]*\d{1,2}/\d{1,2}(?:/\d{2,4})?[ \t]+\d{1,2}:?\d{2}\b")
"""A log row starting with its date and time ("02/12/2026 06:30 ...")."""


@lru_cache(maxsize=512)
def read_note(text: str) -> Note:
    """The note read (cached: each document is read once however many playbooks ask)."""
    layout = Layout.default()
    sentences: list[Sentence] = []
    section: str | None = None
    label: str | None = None
    resume: tuple[str | None, str | None] | None = None
    block = -1
    for start, end, paragraph in _paragraphs(text, layout):
        opens = paragraph != block  # the first line of a paragraph
        block = paragraph
        if opens and resume is not None:  # a lead-in's section holds for its paragraph
            (section, label), resume = resume, None
        for index, (s_start, s_end) in enumerate(_sentence_spans(text, start, end, layout)):
            s_start, s_end, found = _header(text, s_start, s_end, layout)
            if found is None and index == 0 and opens:
                led = _lead_in(text, s_start, s_end, layout)
                if led is not None and led != section:
                    resume, section, label = (section, label), led, None
            elif found is not None:
                section, label = found[0] or section, found[1]
                resume = None
            s_start, s_end = _strip(text, s_start, s_end)
            if s_start < s_end:
                sentences.append(Sentence(s_start, s_end, text[s_start:s_end], section,
                                          label, paragraph))
    return Note(text, tuple(sentences), ContextRules.default())


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, without its line break."""
    spans, offset = [], 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        spans.append((offset, offset + len(body)))
        offset += len(raw)
    return spans


def _paragraphs(text: str, layout: Layout) -> list[tuple[int, int, int]]:
    """Runs of lines joined where a line break is a wrap, as (start, end, paragraph) spans.

    ``paragraph`` counts the blocks between blank lines. A line indented to the text of the
    numbered or bulleted item above continues it ("1. ECG patch" / "   ordered.").
    """
    out: list[tuple[int, int, int]] = []
    current: tuple[int, int] | None = None
    previous, hang, paragraph = "", 0, 0
    for start, end in _lines(text):
        line = text[start:end]
        if not line.strip():
            if current:
                out.append((*current, paragraph))
                paragraph += 1
            current, previous, hang = None, "", 0
            continue
        indent = len(line) - len(line.lstrip())
        if current is not None and (_wraps(previous, line, layout) or (
                hang and indent == hang and not _BULLET.match(line)
                and not _FIELD.match(line) and not _is_header(line, layout))):
            current = (current[0], end)
        else:
            if current:
                out.append((*current, paragraph))
            current = (start, end)
            item = _BULLET.match(line)
            hang = len(item.group(0)) if item else 0
        previous = line
    if current:
        out.append((*current, paragraph))
    return out


def _wraps(previous: str, line: str, layout: Layout) -> bool:
    """Whether the break between ``previous`` and ``line`` is a wrap inside a paragraph."""
    before, after = previous.rstrip(), line.lstrip()
    if before.endswith(":") and after[:1].islower() and len(before) >= layout.wrap_min_line \
            and not _FIELD.match(line):
        return True  # "... includes the following:" / "activity modification, bracing"
    if before.endswith(":") or _is_markdown_heading(before, layout) or _BULLET.match(line) \
            or _FIELD.match(line) or _ROW.match(line) or _is_header(line, layout) \
            or _COLUMNS.search(before) or _COLUMNS.search(after) or len(line) - len(after) >= 2:
        return False
    if after[:1].islower():
        return len(before) >= layout.wrap_min_line // 2
    return len(before) >= layout.wrap_min_line and before[-1:] not in (".", "!", "?")


def _is_header(line: str, layout: Layout) -> bool:
    match = _HEADER.match(line)
    return match is not None and _header_name(match.group(1) or match.group(2),
                                              layout) is not None


def _is_markdown_heading(line: str, layout: Layout) -> bool:
    heading = _MARKDOWN.fullmatch(line)
    return heading is not None and (len(heading.group("marks")) > 1
                                    or heading.group("label").lower() in layout.sections)


def _header_name(label: str, layout: Layout, any_case: bool = False) -> str | None:
    """The canonical section of a header label, or None.

    A label the layout does not know ("LEFT KNEE:", "Valid:") is a field of the section it
    sits in, unless it is written in capitals and holds a word that names a section
    ("SUMMARY OF SURGERY IN DETAIL", "NEEDLE EMG").
    """
    bare = " ".join(label.strip("*_ ").split()).rstrip(".")
    key = bare.lower()
    known = layout.sections.get(key)
    if known is not None or not (any_case or bare.isupper()):
        return known
    words = set(_LABEL_WORD.findall(key))
    for name, names in layout.header_words:
        if words & names:
            return name
    return None


_LABEL_WORD = re.compile(r"[a-z][a-z\-]*")


def _lead_in(text: str, start: int, end: int, layout: Layout) -> str | None:
    """The section a paragraph without a header is in by its opening words, or None."""
    for name, opening in layout.lead_ins:
        if opening.match(text, start, end):
            return name
    return None


def _sentence_spans(text: str, start: int, end: int, layout: Layout
                    ) -> list[tuple[int, int]]:
    spans, position = [], start
    for match in _BOUNDARY.finditer(text, start, end):
        if _ITEM_MARK.fullmatch(text, position, match.end()):
            continue  # "1." or "a)" numbering an item, not a sentence
        if _ends_sentence(text, match.start(), match.end(), end, layout):
            spans.append((position, match.end()))
            position = match.end()
    spans.append((position, end))
    return spans


def _ends_sentence(text: str, mark: int, after: int, end: int, layout: Layout) -> bool:
    if text[mark] == ";":
        return True
    following = text[after:end].lstrip()
    if not following:
        return True
    first = following[0]
    word = _word_before(text, mark)
    bare = word.lower().rstrip(".")
    if text[mark] == "." and (bare in layout.never_end or _is_initial(word)):
        return False
    if text[mark] == "." and bare in layout.number_words \
            and any(c.isdigit() for c in following.split(maxsplit=1)[0]):
        return False
    if text[mark] == "." and (bare in layout.dotted or "." in bare):
        return first.isupper()
    if text[mark] == "." and _DOSE.match(following):
        return False  # "Augmentin. 875 mg bid": the dose of the drug before it
    return not first.islower()


def _word_before(text: str, mark: int) -> str:
    begin = mark
    while begin > 0 and not text[begin - 1].isspace() and text[begin - 1] not in "(\"'":
        begin -= 1
    return text[begin:mark]


def _is_initial(word: str) -> bool:
    return len(word) == 1 and word.isupper()


def _header(text: str, start: int, end: int, layout: Layout
            ) -> tuple[int, int, tuple[str | None, str] | None]:
    """A header at the sentence's start: the span after it and (section, label).

    The section is None for a Markdown heading that names none (its label still holds).
    """
    heading = _MARKDOWN.fullmatch(text, start, end)
    if heading is not None:  # "## Plan": a header by its form
        label = " ".join(heading.group("label").split())
        if len(heading.group("marks")) > 1:
            return end, end, (_header_name(label, layout, any_case=True), label)
        if label.lower() in layout.sections:  # "# Plan"; "# HTN - ..." is a problem
            return end, end, (layout.sections[label.lower()], label)
    bullet = _BULLET.match(text, start, end)
    at = bullet.end() if bullet else start
    match = _HEADER.match(text, at, end)
    if match is not None:
        label = match.group(1) or match.group(2)
        name = _header_name(label, layout)
        if name is not None:
            return match.end(), end, (name, " ".join(label.split()))
    whole = text[start:end].strip()
    name = layout.sections.get(whole.rstrip(":").lower()) if len(whole) <= 45 else None
    if name is not None:
        return end, end, (name, whole.rstrip(":"))
    return start, end, None


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    bullet = _BULLET.match(text, start, end)
    if bullet:
        start = bullet.end()
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
