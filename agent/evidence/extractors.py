"""Deterministic extractors: find the facts a playbook needs, as verbatim located quotes.

An extractor is a function ``(chart, denial) -> list[Evidence]`` registered by name in an
:class:`ExtractorRegistry`; playbooks name the extractor of each fact. Extractors read
notes as untrusted data: they match patterns and copy spans, never follow text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, Sentence, clause_around, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.notes.reader import assertion

Extractor = Callable[[ChartBundle, Denial], list[Evidence]]
VocabularyExtractor = Callable[[ChartBundle, Denial, "Vocabulary | None"], list[Evidence]]


class ExtractorRegistry:
    """Named extractors. The built-ins are registered exactly like a plug-in would be."""

    def __init__(self) -> None:
        self._extractors: dict[str, Extractor] = {}
        self._reading: dict[str, tuple[VocabularyExtractor, tuple[str, ...]]] = {}

    def register(self, name: str, extractor: Extractor) -> None:
        """Add an extractor under ``name`` (names are unique)."""
        if name in self._extractors:
            raise ValueError(f"extractor '{name}' is already registered")
        self._extractors[name] = extractor

    def register_reading(self, name: str, extractor: VocabularyExtractor,
                         lists: tuple[str, ...]) -> None:
        """Add an extractor that reads a vocabulary (the playbook fact's ``vocabulary``,
        else its own default), with the ``lists`` that vocabulary must have."""
        self.register(name, lambda chart, denial: extractor(chart, denial, None))
        self._reading[name] = (extractor, lists)

    def vocabulary_lists(self, name: str) -> tuple[str, ...] | None:
        """The lists the extractor reads from a vocabulary, or None when it reads none."""
        reading = self._reading.get(name)
        return reading[1] if reading else None

    def run(self, name: str, chart: ChartBundle, denial: Denial,
            vocabulary: Vocabulary | None = None) -> list[Evidence]:
        """Run the extractor ``name``, with ``vocabulary`` when it reads one."""
        reading = self._reading.get(name)
        if reading is not None:
            return reading[0](chart, denial, vocabulary)
        if vocabulary is not None:
            raise ValueError(f"extractor '{name}' reads no vocabulary")
        return self.get(name)(chart, denial)

    def get(self, name: str) -> Extractor:
        """The extractor called ``name``; KeyError names the known ones."""
        try:
            return self._extractors[name]
        except KeyError:
            known = ", ".join(sorted(self._extractors))
            raise KeyError(f"no extractor '{name}' (known: {known})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._extractors)


NOT_CURRENT = frozenset({"NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HYPOTHETICAL",
                         "FAMILY", "PLANNED"})
"""Contexts in which a phrase is not a finding or a treatment the patient has now or had:
negated, only possible, conditional, a relative's, or only planned (agent/notes)."""

REPORTED_SECTIONS = frozenset({"hpi", "ros", "history", "plan", "course", "assessment",
                               "indication"})
"""Sections that report what the patient says, what is planned, or what is concluded or
expected before a procedure (a diagnosis is not itself a finding): a finding there counts
only when the sentence says it was observed or measured (the vocabulary's observations).
What a procedure found (its findings, its postoperative diagnosis) counts as it is."""

EXAMINED_SECTIONS = frozenset({"exam", "imaging", "procedure"})
"""Where findings are written as observed: quoted first."""

MEDICAL_NECESSITY = "medical_necessity"
"""The vocabulary the general medical-necessity extractors read by default."""


@dataclass(frozen=True, slots=True)
class _Found:
    rank: int
    order: int
    evidence: Evidence


def _current(sentence: Sentence, start: int, end: int,
             excluded: frozenset[str] = NOT_CURRENT) -> bool:
    """Whether ``sentence.text[start:end]`` is asserted (not in an excluded context)."""
    return not (assertion(sentence.text, start, end).categories & excluded)


def _evidence(document: SourceDocument, start: int, end: int, fact: str) -> Evidence:
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=fact, document_date=document.date,
                    document_title=document.title)


def _best(found: list[_Found], limit: int) -> list[Evidence]:
    found.sort(key=lambda f: (f.rank, f.order))
    unique: list[Evidence] = []
    for item in found:
        if all(item.evidence.quote != e.quote and not _inside(item.evidence, e)
               for e in unique):
            unique.append(item.evidence)
    return unique[:limit]


def _inside(one: Evidence, other: Evidence) -> bool:
    """Whether ``one`` starts inside ``other`` (a quote already cited in a longer one)."""
    return (one.document_id == other.document_id and one.start is not None
            and other.start is not None and other.end is not None
            and other.start <= one.start < other.end)


def objective_findings(chart: ChartBundle, vocabulary: Vocabulary,
                       limit: int = 4) -> list[Evidence]:
    """Sentences stating a finding (the vocabulary's ``findings``) asserted as present: in
    an exam, imaging, procedure or assessment section, or anywhere the sentence says it was
    observed or measured (``observations``). Exam, imaging and procedure findings first,
    then observed ones; four at most."""
    findings = vocabulary.pattern("findings")
    observed = vocabulary.pattern("observations")
    found: list[_Found] = []
    order = 0
    for document in chart.documents:
        for sentence in sentences(document.text):
            reported = sentence.section in REPORTED_SECTIONS
            witnessed = observed.search(sentence.text) is not None
            if reported and not witnessed:
                continue
            for match in findings.finditer(sentence.text):
                if not _current(sentence, match.start(), match.end()):
                    continue
                if reported and _is_history(sentence, match):
                    continue
                start, end = clause_around(sentence, match.start(), match.end())
                rank = 0 if sentence.section in EXAMINED_SECTIONS else \
                    (1 if witnessed else 3) + (1 if reported else 0)
                found.append(_Found(rank, order, _evidence(document, start, end,
                                                           "objective_finding")))
                order += 1
                break
    return _best(found, limit)


def _sentences_with(pattern: re.Pattern[str], text: str, read: list[Sentence]) -> set[int]:
    """The indexes of the sentences holding a match of ``pattern``: the note is searched
    once (most sentences hold none), each match placed in its sentence."""
    starts = [sentence.start for sentence in read]
    found = set()
    for match in pattern.finditer(text):
        index = bisect_right(starts, match.start()) - 1
        if index >= 0 and match.end() <= read[index].end:
            found.add(index)
    return found


def _is_history(sentence: Sentence, match: re.Match[str]) -> bool:
    """A finding the sentence places in the past (history of, s/p) is not today's."""
    return "HISTORICAL" in assertion(sentence.text, match.start(), match.end()).categories


def failed_treatments(chart: ChartBundle, vocabulary: Vocabulary,
                      limit: int = 3) -> list[Evidence]:
    """Treatment (``treatments``: its terms, and the brands, generics and class words of
    its drug classes) tried, not only planned or negated, with its failure,
    intolerance or contraindication (``failures``) in the same sentence, or in the next
    sentence when that one refers back to it (``references``: "This did not help"). A
    statement that names no treatment ("failed conservative management",
    ``general_treatments``) counts too, quoted after the named ones."""
    general = vocabulary.pattern("general_treatments")
    failures = vocabulary.pattern("failures")
    references = vocabulary.pattern("references")
    vocabulary.require("treatments")
    found: list[_Found] = []
    order = 0

    def fails(sentence: Sentence) -> bool:
        return any(_current(sentence, m.start(), m.end())
                   for m in failures.finditer(sentence.text))

    for document in chart.documents:
        read = sentences(document.text)
        # The failure is looked for first, in the whole note: most sentences state none,
        # and naming the treatments (drug names included) costs more.
        failing = _sentences_with(failures, document.text, read)
        for index in sorted(failing | {i - 1 for i in failing if i > 0}):
            sentence = read[index]
            here = index in failing and fails(sentence)
            following = read[index + 1] if index + 1 < len(read) else None
            after = not here and index + 1 in failing and following is not None \
                and following.section == sentence.section \
                and following.end - sentence.start <= MAX_QUOTE \
                and references.search(following.text[:60]) is not None and fails(following)
            if not here and not after:
                continue
            tried = [(a, b) for a, b in vocabulary.spans("treatments", sentence.text)
                     if _current(sentence, a, b)]
            if here:
                stated = [(m.start(), m.end()) for m in general.finditer(sentence.text)
                          if _current(sentence, m.start(), m.end())]
                if not tried and not stated:
                    continue
                first = (tried or stated)[0]
                start, end = clause_around(sentence, first[0], first[1])
                found.append(_Found(0 if tried else 2, order, _evidence(
                    document, start, end, "conservative_treatment")))
            elif tried and following is not None:
                found.append(_Found(1, order, _evidence(document, sentence.start,
                                                        following.end,
                                                        "conservative_treatment")))
            order += 1
    return _best(found, limit)


def objective_finding(chart: ChartBundle, denial: Denial,
                      vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """A finding asserted as present: an exam, imaging, test or operative finding."""
    return objective_findings(chart, vocabulary or load_vocabulary(MEDICAL_NECESSITY))


def conservative_treatment(chart: ChartBundle, denial: Denial,
                           vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Conservative treatment that failed, was not tolerated or is contraindicated."""
    return failed_treatments(chart, vocabulary or load_vocabulary(MEDICAL_NECESSITY))


def default_extractors() -> ExtractorRegistry:
    """A registry with the built-in extractors."""
    registry = ExtractorRegistry()
    registry.register_reading("objective_finding", objective_finding,
                              ("findings", "observations"))
    registry.register_reading("conservative_treatment", conservative_treatment,
                              ("treatments", "general_treatments", "failures", "references"))
    return registry
