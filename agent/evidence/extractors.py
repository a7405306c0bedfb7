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
from agent.evidence.text import Sentence, clause_around, is_negated, sentences
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
        """Add an extractor that reads a vocabulary, with the ``lists`` it must have.

        The vocabulary is the playbook fact's ``vocabulary``, else the extractor's own
        default.
        """
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
                       limit: int = 5) -> list[Evidence]:
    """Sentences stating a finding asserted as present, the strongest first.

    Such a sentence is in an exam, imaging, procedure or assessment section, or anywhere the
    sentence says it was observed or measured (``observations``, or a study named:
    ``studies``); or it is a sentence under a header that names a finding ("ABNORMAL
    FINDINGS:"). Five at most, the strongest first (:func:`_finding_rank`).
    """
    findings = vocabulary.pattern("findings")
    minor = vocabulary.pattern("minor_signs")
    measurements = vocabulary.pattern("measurements")
    observed = vocabulary.pattern("observations")
    studies = vocabulary.pattern("studies")
    found: list[_Found] = []
    order = 0
    for document in chart.documents:
        for sentence in sentences(document.text):
            if sentence.section == "family":
                continue  # a relative's, never the patient's
            study = studies.search(sentence.text) is not None
            observation = observed.search(sentence.text) is not None
            reported = sentence.section in REPORTED_SECTIONS
            if reported and not (study or observation):
                continue
            # A study's result stands however long ago the study was ("a previous MRI
            # showed a herniated disc"); other findings the history dates are past ones.
            dated = reported and not (study and observation)
            strength = 0
            match = _first_current(sentence, findings, dated)
            for weaker in (minor, measurements):
                if match is None:
                    strength += 1
                    match = _first_current(sentence, weaker, dated)
            if match is not None:
                start, end = clause_around(sentence, match.start(), match.end())
            elif sentence.label and findings.search(sentence.label) and not is_negated(
                    sentence.text, 0, len(sentence.text)):
                start, end = sentence.start, sentence.end  # under "ABNORMAL FINDINGS:"
                strength = 0
            else:
                continue
            rank = _finding_rank(sentence, study and observation, study or observation)
            found.append(_Found(rank * 3 + strength, order,
                                _evidence(document, start, end, "objective_finding")))
            order += 1
    return _best(found, limit)


def _finding_rank(sentence: Sentence, result: bool, witnessed: bool) -> int:
    """How directly the sentence states a finding, from 0 (most directly) to 3.

    0 an exam, a study's report, a study result written anywhere ("her MRI reveals ...") or
    what a procedure found (its findings); 1 observed outside those; 2 a procedure's
    narrative or an observation in a section that reports (history, assessment); 3 stated
    with no observation. Within a rank, focal findings before minor signs (``minor_signs``:
    tenderness, swelling) and general measurements (``measurements``).
    """
    section = sentence.section
    if section in ("exam", "imaging") or result or (
            section == "procedure" and "finding" in (sentence.label or "").lower()):
        return 0
    if section == "procedure" or (witnessed and section in REPORTED_SECTIONS):
        return 2
    return 1 if witnessed else 3


def _first_current(sentence: Sentence, pattern: re.Pattern[str],
                   dated: bool) -> re.Match[str] | None:
    """The first match of ``pattern`` in the sentence asserted as present.

    When ``dated``, the match must also not be placed in the past.
    """
    for match in pattern.finditer(sentence.text):
        if _current(sentence, match.start(), match.end()) and not (
                dated and _is_history(sentence, match)):
            return match
    return None


def _sentences_with(pattern: re.Pattern[str], text: str, read: list[Sentence]) -> set[int]:
    """The indexes of the sentences holding a match of ``pattern``.

    The note is searched once (most sentences hold none), each match placed in its sentence.
    """
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


NEARBY = 3
"""How many sentences before or after a stated failure, in the same section, a treatment
may be named and still be the care that failed ("Treatment has included bracing and
medications. ... In general, the problem is much worse since its onset.")."""

STORY_SECTIONS = frozenset({None, "hpi", "history", "indication", "course"})
"""Where a note tells the story of the care tried, so a failure may be stated a few
sentences from the treatment; not an exam, a study, a procedure's narrative, or an
assessment (whose next sentences are today's plan: "Failed conservative care.
Arthrocentesis today.")."""


def failed_treatments(chart: ChartBundle, vocabulary: Vocabulary,
                      limit: int = 5) -> list[Evidence]:
    """Quotes of a treatment tried that failed, was not tolerated or was contraindicated.

    Treatment (``treatments``: its terms, and the brands, generics and class words of its
    drug classes) tried, not only planned or negated, with its failure, intolerance or
    contraindication (``failures``): in the same sentence first; then treatments named in
    the sentences around a stated failure in the same section of the story (``NEARBY``,
    ``STORY_SECTIONS``), each quoted with the failure, unless the sentence says the
    treatment worked (``successes``). A statement that names no treatment ("failed
    conservative management", ``general_treatments``) counts too. Quoted in that order: a
    failure stated with its treatment, a failure of conservative care in general, a
    treatment near a failure.
    """
    general = vocabulary.pattern("general_treatments")
    failures = vocabulary.pattern("failures")
    successes = vocabulary.pattern("successes")
    vocabulary.require("treatments")
    found: list[_Found] = []
    order = 0

    def asserted(sentence: Sentence, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(a, b) for a, b in spans if _current(sentence, a, b)]

    def tried(sentence: Sentence) -> list[tuple[int, int]]:
        return asserted(sentence, vocabulary.spans("treatments", sentence.text))

    def fails(sentence: Sentence) -> bool:
        return bool(asserted(sentence, [m.span() for m in failures.finditer(sentence.text)]))

    for document in chart.documents:
        read = sentences(document.text)
        # The failure is looked for first, in the whole note: most sentences state none,
        # and naming the treatments (drug names included) costs more.
        failing = sorted(i for i in _sentences_with(failures, document.text, read)
                         if read[i].section != "family" and fails(read[i]))
        quoted: set[int] = set()
        for index in failing:
            sentence = read[index]
            named = tried(sentence)
            stated = asserted(sentence, [m.span() for m in general.finditer(sentence.text)])
            if named or stated:
                start, end = clause_around(sentence, *(named or stated)[0])
                found.append(_Found(0 if named else 1, order, _evidence(
                    document, start, end, "conservative_treatment")))
                quoted.add(index)
                order += 1
        for index in failing:
            sentence = read[index]
            if sentence.section not in STORY_SECTIONS:
                continue
            around = [i for i in range(max(0, index - NEARBY),
                                       min(len(read), index + NEARBY + 1))
                      if i != index and i not in failing
                      and read[i].section == sentence.section]
            treated = {i: spans[0] for i in around if (spans := tried(read[i]))
                       and successes.search(read[i].text) is None}
            if not treated:
                continue
            treated[index] = next(m.span() for m in failures.finditer(sentence.text))
            for i in sorted(set(treated) - quoted):
                start, end = clause_around(read[i], *treated[i])
                found.append(_Found(2, order, _evidence(document, start, end,
                                                        "conservative_treatment")))
                quoted.add(i)
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
                              ("findings", "minor_signs", "measurements", "observations",
                               "studies"))
    registry.register_reading("conservative_treatment", conservative_treatment,
                              ("treatments", "general_treatments", "failures", "successes"))
    return registry
