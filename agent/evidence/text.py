"""Reading clinical notes: sections, sentences with exact offsets, and negation.

Notes are written in templates ("HPI:", "PE:", "A/P:"), with abbreviations, bullets and
line breaks. Everything here keeps Python string offsets into the original text, so a
quote is always ``text[start:end]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "hpi": ("hpi", "history of present illness", "subjective", "cc", "chief complaint",
            "interval history", "s"),
    "ros": ("ros", "review of systems"),
    "history": ("pmh", "past medical history", "psh", "past surgical history", "meds",
                "medications", "current medications", "allergies", "social history", "sh",
                "fh", "family history", "prior treatment", "treatment history"),
    "exam": ("pe", "physical exam", "physical examination", "exam", "examination",
             "objective", "o", "vitals", "musculoskeletal", "msk", "knee exam", "mse",
             "mental status exam"),
    "imaging": ("imaging", "x-ray", "xray", "xr", "radiographs", "mri", "ct", "radiology",
                "results", "studies", "diagnostics", "data reviewed", "labs"),
    "assessment": ("a/p", "assessment", "assessment and plan", "assessment/plan",
                   "impression", "dx", "diagnosis", "diagnoses", "a"),
    "plan": ("plan", "p", "recs", "recommendations", "disposition", "orders"),
    "procedure": ("procedure", "procedure note", "procedures", "operative note",
                  "op note", "findings", "indications", "indication", "description of "
                  "procedure", "technique", "pre-op evaluation", "preoperative evaluation",
                  "pre-anesthesia evaluation"),
}
"""Canonical section -> the headers clinicians write for it (lower case, no colon)."""

_ALIAS_TO_SECTION = {alias: name for name, aliases in SECTION_ALIASES.items()
                     for alias in aliases}
_HEADER = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&\-]{0,40}?)[ \t]*:[ \t]*")
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=\S)")
_BULLET = re.compile(r"^[ \t]*(?:[-*•]|\d+[.)])[ \t]+")
MAX_QUOTE = 320
"""Longer sentences are cut at a clause boundary around the match (still verbatim)."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or bullet, or header remainder) of a note, located exactly."""

    start: int
    end: int
    text: str
    section: str | None
    """Canonical section (see SECTION_ALIASES) the sentence sits in, or None."""


def sentences(text: str) -> list[Sentence]:
    """Split a note into located sentences, tracking the section each one is in."""
    out: list[Sentence] = []
    section: str | None = None
    offset = 0
    for raw_line in text.splitlines(keepends=True):
        line_start, line = offset, raw_line.rstrip("\r\n")
        offset += len(raw_line)
        content_start = 0
        header = _HEADER.match(line)
        if header:
            name = _ALIAS_TO_SECTION.get(header.group(1).strip().lower())
            if name is not None:
                section = name
                content_start = header.end()
        elif line.strip() and line.strip().rstrip(":").lower() in _ALIAS_TO_SECTION \
                and len(line.strip()) <= 45:
            section = _ALIAS_TO_SECTION[line.strip().rstrip(":").lower()]
            continue
        bullet = _BULLET.match(line, content_start)
        if bullet:
            content_start = bullet.end()
        out.extend(_split_line(line, line_start, content_start, section))
    return out


def _split_line(line: str, line_start: int, content_start: int, section: str | None
                ) -> list[Sentence]:
    out = []
    position = content_start
    pieces = _SENTENCE_END.split(line[content_start:])
    for piece in pieces:
        index = line.find(piece, position)
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            start = line_start + index + lead
            out.append(Sentence(start, start + len(stripped), stripped, section))
        position = index + len(piece)
    return out


_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|denies|denied|deny|without|w/o|negative for|neg for|free of|absence of|"
    r"absent|never|no h/o|no hx of|no history of|r/o|rule out|ruled out|resolved|"
    r"has not|hasn't|did not|didn't|does not|doesn't|not yet|declined|refused|"
    r"no evidence of|no sign of|no signs of|unremarkable for)\b", re.IGNORECASE)
_NEGATION_AFTER = re.compile(
    r"^[^.;]{0,30}?\b(?:absent|not seen|not present|ruled out|was negative|is negative|"
    r"negative|not tried|not attempted|declined|refused|none)\b", re.IGNORECASE)
_SCOPE_BREAK = re.compile(r"\b(?:but|however|although|though|except|yet|despite)\b|[;,:]"
                          r"|\s[-–—]\s",  # "HTN, not at goal - increase lisinopril"
                          re.IGNORECASE)


def is_negated(sentence: str, term_start: int, term_end: int) -> bool:
    """Whether the term at ``sentence[term_start:term_end]`` is negated ("denies chest
    pain", "no h/o DM", "effusion: absent"). A NegEx-style window: a negation cue before
    the term with no scope break (but, however, ';', ',') between, or a cue right after."""
    before = sentence[:term_start]
    cues = list(_NEGATION_BEFORE.finditer(before))
    if cues:
        between = before[cues[-1].end():]
        if not _SCOPE_BREAK.search(between) and len(between) <= 60:
            return True
    return bool(_NEGATION_AFTER.match(sentence[term_end:]))


def clause_around(sentence: Sentence, match_start: int, match_end: int) -> tuple[int, int]:
    """Offsets (absolute) of a quote for a match inside a long sentence: the sentence when
    short enough, else the clause around the match, cut at separators."""
    if len(sentence.text) <= MAX_QUOTE:
        return sentence.start, sentence.end
    text = sentence.text
    left = max(text.rfind(sep, 0, match_start) for sep in (", ", "; ", " - "))
    right_candidates = [i for i in (text.find(sep, match_end) for sep in (", ", "; ", " - "))
                        if i >= 0]
    lo = left + 2 if left >= 0 else 0
    hi = min(right_candidates) if right_candidates else len(text)
    if hi - lo > MAX_QUOTE:
        lo, hi = max(0, match_start - 120), min(len(text), match_end + 120)
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return sentence.start + lo, sentence.start + hi


def contains_negation(text: str) -> bool:
    """Whether any negation cue appears in ``text`` (a conservative test for a quote that
    someone else proposed: a proposal that negates anything is not taken)."""
    return bool(_NEGATION_BEFORE.search(text)) or bool(
        re.search(r"\b(?:absent|not seen|not present|ruled out|negative|none)\b", text,
                  re.IGNORECASE))
