"""Sentences, negation and quotes for the extractors, read by the one note reader.

The note reader (agent/notes/) gives sections, wrapped lines joined, sentences with exact
offsets, ConText.

Everything here keeps Python string offsets into the original text, so a quote is always
``text[start:end]``.
"""

from __future__ import annotations

import re

from agent.notes.context import ContextRules
from agent.notes.reader import Layout, Sentence, assertion, read_note

__all__ = ["MAX_QUOTE", "SECTION_ALIASES", "Sentence", "clause_around", "contains_negation",
           "is_negated", "sentences"]

SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    name: tuple(alias for alias, section in Layout.default().sections.items()
                if section == name)
    for name in dict.fromkeys(Layout.default().sections.values())}
"""Canonical section -> the headers clinicians write for it (lower case, no colon): the
note reader's (agent/notes/data/reading.yaml)."""

MAX_QUOTE = 320
"""Longer sentences are cut at a clause boundary around the match (still verbatim)."""


def sentences(text: str) -> list[Sentence]:
    """The note's located sentences, each with its section.

    They are the note reader's (agent/notes/reader.py), wrapped lines joined.
    """
    return list(read_note(text).sentences)


def is_negated(sentence: str, term_start: int, term_end: int) -> bool:
    """Whether the term at ``sentence[term_start:term_end]`` is negated or only possible.

    As in "denies chest pain", "no h/o DM", "effusion: absent", "r/o septic joint": a
    NEGATED_EXISTENCE or POSSIBLE_EXISTENCE cue of the ConText rules
    (agent/notes/context.py) whose scope covers it.
    """
    found = assertion(sentence, term_start, term_end)
    return found.negated or "POSSIBLE_EXISTENCE" in found


def clause_around(sentence: Sentence, match_start: int, match_end: int) -> tuple[int, int]:
    """Offsets (absolute) of a quote for a match inside a long sentence.

    The sentence when short enough, else the whole clause around the match, cut at
    separators (the shape agent/evidence/quality.py holds every quote to).
    """
    if len(sentence.text) <= MAX_QUOTE:
        return sentence.start, sentence.end
    text = sentence.text
    left = max(text.rfind(sep, 0, match_start) for sep in (", ", "; ", " - "))
    right_candidates = [i for i in (text.find(sep, match_end) for sep in (", ", "; ", " - "))
                        if i >= 0]
    lo = left + 2 if left >= 0 else 0
    hi = min(right_candidates) if right_candidates else len(text)
    # A clause longer than MAX_QUOTE is quoted whole: never a fragment of one.
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return sentence.start + lo, sentence.start + hi


def contains_negation(text: str) -> bool:
    """Whether any negation cue appears in ``text``.

    A conservative test for a quote that someone else proposed: a proposal that negates
    anything is not taken.
    """
    return any(cue.rule.category == "NEGATED_EXISTENCE"
               for cue in ContextRules.default().cues(text)) or bool(
        re.search(r"\b(?:absent|not seen|not present|ruled out|negative|none|no|not|"
                  r"without|denies|denied)\b", text, re.IGNORECASE))
