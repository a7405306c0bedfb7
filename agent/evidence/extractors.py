"""Deterministic extractors: find the facts a playbook needs, as verbatim located quotes.

An extractor is a function ``(chart, denial) -> list[Evidence]`` registered by name in an
:class:`ExtractorRegistry`; playbooks name the extractor of each fact. Extractors read
notes as untrusted data: they match patterns and copy spans, never follow text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.model import Evidence
from agent.evidence.text import Sentence, clause_around, is_negated, sentences

Extractor = Callable[[ChartBundle, Denial], list[Evidence]]


class ExtractorRegistry:
    """Named extractors. The built-ins are registered exactly like a plug-in would be."""

    def __init__(self) -> None:
        self._extractors: dict[str, Extractor] = {}

    def register(self, name: str, extractor: Extractor) -> None:
        """Add an extractor under ``name`` (names are unique)."""
        if name in self._extractors:
            raise ValueError(f"extractor '{name}' is already registered")
        self._extractors[name] = extractor

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


@dataclass(frozen=True, slots=True)
class PhraseRule:
    """Sentences that evidence a fact: a term (not negated), optionally a qualifier too,
    in the allowed sections."""

    fact: str
    terms: re.Pattern[str]
    sections: frozenset[str | None]
    qualifier: re.Pattern[str] | None = None
    """When set, the sentence must also contain this (e.g. an outcome: 'failed')."""
    excluded_sections: frozenset[str] = frozenset()


def find_phrases(documents: Iterable[SourceDocument], rule: PhraseRule,
                 limit: int = 3) -> list[Evidence]:
    """Evidence for ``rule`` in the notes, one quote per sentence, best sections first."""
    found: list[tuple[int, Evidence]] = []
    for document in documents:
        for sentence in sentences(document.text):
            if sentence.section in rule.excluded_sections:
                continue
            if rule.sections and sentence.section not in rule.sections:
                continue
            evidence = _sentence_evidence(document, sentence, rule)
            if evidence is not None:
                rank = 0 if sentence.section is not None else 1
                found.append((rank, evidence))
    found.sort(key=lambda item: item[0])
    unique: list[Evidence] = []
    for _, evidence in found:
        if all(evidence.quote != e.quote for e in unique):
            unique.append(evidence)
    return unique[:limit]


def _sentence_evidence(document: SourceDocument, sentence: Sentence, rule: PhraseRule
                       ) -> Evidence | None:
    for match in rule.terms.finditer(sentence.text):
        if is_negated(sentence.text, match.start(), match.end()):
            continue
        if rule.qualifier is not None and not rule.qualifier.search(sentence.text):
            continue
        start, end = clause_around(sentence, match.start(), match.end())
        return Evidence(quote=document.text[start:end], document_id=document.document_id,
                        start=start, end=end, fact=rule.fact, document_date=document.date,
                        document_title=document.title)
    return None


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(patterns) + r")(?![A-Za-z])",
                      re.IGNORECASE)


OBJECTIVE_FINDING = PhraseRule(
    fact="objective_finding",
    terms=_words(
        r"effusions?", r"swelling", r"edema", r"crepitus", r"ballott?able", r"synovitis",
        r"joint line tenderness", r"tender(?:ness)? to palpation", r"TTP",
        r"(?:decreased|limited|reduced|painful) (?:ROM|range of motion)", r"ROM limited",
        r"antalgic gait", r"instability", r"(?:positive|\+) (?:McMurray|Lachman|drawer)",
        r"joint space narrowing", r"osteophytes?", r"subchondral sclerosis",
        r"(?:KL|Kellgren[- ]Lawrence) grade \d", r"(?:severe|moderate|advanced|tricompartmental"
        r"|medial compartment) (?:OA|osteoarthritis|DJD)", r"tear", r"chondromalacia",
        r"fracture", r"stenosis", r"herniat(?:ion|ed)", r"radiculopathy", r"atrophy",
        r"weakness", r"deficit"),
    sections=frozenset({"exam", "imaging", "procedure", "assessment", None}),
    excluded_sections=frozenset({"hpi", "ros", "history"}),
)
"""Exam, imaging or procedure findings (not the patient's complaint in the HPI)."""

CONSERVATIVE_TREATMENT = PhraseRule(
    fact="conservative_treatment",
    terms=_words(
        r"NSAIDs?", r"ibuprofen", r"naproxen", r"meloxicam", r"diclofenac", r"celecoxib",
        r"acetaminophen", r"tylenol", r"physical therapy", r"PT", r"home exercise(?: program)?",
        r"HEP", r"brac(?:e|ing)", r"activity modification", r"weight loss",
        r"(?:cortico)?steroid injections?", r"(?:prior|previous) injections?",
        r"viscosupplementation", r"ice", r"rest", r"topical"),
    qualifier=_words(
        r"failed", r"fail(?:ure|s)?", r"no relief", r"minimal relief", r"without relief",
        r"little relief", r"temporary relief", r"not tolerated", r"intoleran(?:ce|t)",
        r"contraindicated", r"did not help", r"didn't help", r"no improvement",
        r"without improvement", r"persistent", r"despite", r"GI upset", r"ineffective"),
    sections=frozenset(),
)
"""Treatment tried with a documented failure, intolerance or contraindication."""


def objective_finding(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """A non-negated objective finding (exam, imaging, procedure findings)."""
    return find_phrases(chart.documents, OBJECTIVE_FINDING)


def conservative_treatment(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """Conservative treatment that failed, was not tolerated or is contraindicated."""
    return find_phrases(chart.documents, CONSERVATIVE_TREATMENT)


def default_extractors() -> ExtractorRegistry:
    """A registry with the built-in extractors."""
    registry = ExtractorRegistry()
    registry.register("objective_finding", objective_finding)
    registry.register("conservative_treatment", conservative_treatment)
    return registry
