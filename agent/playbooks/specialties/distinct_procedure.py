"""Distinct procedural service: modifier 59 / XE XS XP XU against NCCI PTP edits.

The playbook is ``specialty_playbooks/distinct_procedure.yaml``; the billing facts are in
docs/domain.md#ncci-ptp-edits and docs/domain.md#modifier-59-x.

Partners of the denied code are the other codes on its claim, plus codes the notes of the
day document that an NCCI PTP edit pairs with it. The words are data
(``vocabularies/distinct_procedure.yaml``); Python reads codes, sides and sites
(dates and times: agent/notes/values.py) in the notes of the visit, through the note reader
(history sections and phrases ConText places in the past, the future, a condition or a
negation skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import MAX_QUOTE, Sentence, clause_around, sentences
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.ncci import PtpEdit, PtpPairing, PtpTable, partner_codes
from agent.notes.reader import assertion, read_note
from agent.notes.values import ClockTime, clock_times, dates, header_time
from agent.notes.visit import visit_documents
from agent.playbooks.checks import CheckContext, CheckRegistry

DENIED_SERVICE = "denied_service"
"""Fact id: the same-day note documents the denied service itself."""
DISTINCT_SERVICE = "distinct_service"
"""Fact id: the same-day notes document a distinct site, encounter, incision or injury."""

VOCABULARY = "distinct_procedure"
"""The vocabulary the extractors read by default (specialty_playbooks/vocabularies/)."""

DISTINCT_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
NCCI_ASSOCIATED_MODIFIERS = DISTINCT_MODIFIERS | {"LT", "RT"}
"""The indicator-1 bypass modifiers of docs/domain.md#ncci-ptp-edits (NCCI lists more:
E1-E4, F/T digits...)."""

_LATERALITY_MODIFIERS = {"LT": "left", "RT": "right"}
_HISTORY_SECTIONS = frozenset({"hpi", "ros", "history", "family"})


# --- which words name a service ------------------------------------------------------

def code_in(code: str, items: Iterable[str]) -> bool:
    """Whether ``code`` is one of ``items``, codes or ranges such as '99202-99499'."""
    for item in items:
        low, _, high = item.partition("-")
        if code == low or (high and len(code) == len(low) and low <= code <= high):
            return True
    return False


SITE_LISTS = ("body_parts", "site_qualifiers")
LISTS: tuple[str, ...] = (*SITE_LISTS, "separate_encounter", "separate_incision",
                          "separate_portal", "separate_injury", "separate_field", "injuries",
                          "settings", "separate_compartment", "not_done", "earlier_care")
"""The lists the extractors read by name (checked at start-up), beside the ``services_*``
lists, found by their ``codes`` value."""


def _vocabulary(vocabulary: Vocabulary | None = None) -> Vocabulary:
    return vocabulary or load_vocabulary(VOCABULARY)


CODE = re.compile(r"(?<![\w./-])(\d{4}[0-9FTU]|[A-V]\d{4})((?:-[0-9A-Z]{2})*)(?![\w/])(?!\.\d)")
"""A CPT/HCPCS code as clinicians write it, with modifiers: ``29877-59-LT``."""


def service_pattern(code: str, generic: bool = False,
                    vocabulary: Vocabulary | None = None) -> re.Pattern[str]:
    """The code itself (with any modifiers) or a word that names its service.

    ``generic`` adds the words many codes share.
    """
    words = _vocabulary(vocabulary)
    parts = [r"(?<![\w./-])" + re.escape(code) + r"(?:-[0-9A-Z]{2})*(?![\w/])"]
    for name in words.lists_with("codes"):
        values = words.values(name)
        if code_in(code, values["codes"].split()) and (generic or "generic" not in values):
            parts.append(words.pattern(name).pattern)
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


# --- anatomic sites --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Site:
    """Where a service was done: a side and a body part, either possibly unknown."""

    side: str | None
    """'left', 'right', 'contralateral' or None."""
    part: str | None

    def distinct_from(self, other: Site) -> bool:
        """Different sides, or different body parts (unknown parts never differ)."""
        if (self.side == "contralateral") != (other.side == "contralateral"):
            return True
        if self.side and other.side and self.side != other.side:
            return True
        return bool(self.part and other.part and self.part != other.part)

    def describe(self) -> str:
        """'left knee', 'contralateral knee', 'right side', 'shoulder'."""
        if self.part is None:
            return f"{self.side} side"
        return f"{self.side} {self.part}" if self.side else self.part


_SIDE = r"left|right|lt|rt|l|r"


@cache
def _site_patterns(parts: str, qualifier: str) -> tuple[re.Pattern[str], ...]:
    """How sites are written, as four patterns.

    Side first: 'R knee', 'Lt. shoulder', 'left-sided hip', 'right open ankle'; side
    after: 'knee, left', 'knee (L)'; both sides: 'bilateral knees', 'R and L knees'; the
    other side: 'the other knee'.
    """
    return tuple(re.compile(p, re.IGNORECASE) for p in (
        rf"(?<![A-Za-z])\(?(?P<side>{_SIDE})(?:\.\s*|\)\s*|\s*-\s*sided\s+|[\s-]+)"
        rf"(?:{qualifier}\s+)?(?P<part>{parts})",
        rf"(?P<part>{parts})\s*(?:,|\(|-|:)\s*(?P<side>{_SIDE})\)?(?![A-Za-z/])",
        rf"(?<![A-Za-z])(?:(?:{_SIDE})\s*(?:and|&|\+|/)\s*(?:{_SIDE})|"
        rf"bilateral|bilat\.?|b/l|both)\s+(?P<part>{parts})",
        rf"(?<![A-Za-z])(?:contralateral|opposite|other)\s+(?P<part>{parts})"))


_CLAUSE_BREAK = re.compile(r",|;|:|\+|&|\n|\b(?:and|with|then)\b|\bw/|(?<!\S)\(?\d{1,2}[.)](?=\s)",
                           re.IGNORECASE)
"""Where a clause ends: punctuation, a line break, 'and'/'with'/'w/', a list number."""


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    site: Site


def _side(text: str) -> str:
    return "left" if text.lower().startswith("l") else "right"


def _part(text: str) -> str:
    """A body part as a value: lower case, singular ("Knees" -> "knee", "feet" -> "foot")."""
    part = " ".join(text.lower().split())
    if part == "feet":
        return "foot"
    return part[:-1] if part.endswith("s") and not part.endswith("ss") else part


def site_mentions(text: str, vocabulary: Vocabulary | None = None) -> list[_Mention]:
    """Every anatomic site named in a sentence, in order.

    For example "R knee", "knee, left", "bilateral knees", "the other knee", the LT/RT of
    "29877-59-LT".
    """
    words = _vocabulary(vocabulary)
    prefix, postfix, both, other = _site_patterns(words.pattern("body_parts").pattern,
                                                  words.pattern("site_qualifiers").pattern)
    found: list[_Mention] = []
    for match in both.finditer(text):
        part = _part(match["part"])
        found += [_Mention(match.start(), match.end(), Site(side, part))
                  for side in ("left", "right")]
    for match in prefix.finditer(text):
        found.append(_Mention(match.start(), match.end(),
                              Site(_side(match["side"]), _part(match["part"]))))
    for match in other.finditer(text):
        found.append(_Mention(match.start(), match.end(),
                              Site("contralateral", _part(match["part"]))))
    for match in CODE.finditer(text):
        sides = [_LATERALITY_MODIFIERS[m] for m in match[2].split("-")
                 if m in _LATERALITY_MODIFIERS]
        found += [_Mention(match.start(), match.end(), Site(side, None)) for side in sides]
    for match in postfix.finditer(text):
        if not any(m.start <= match.start("side") < m.end for m in found):
            found.append(_Mention(match.start(), match.end(),
                                  Site(_side(match["side"]), _part(match["part"]))))
    return sorted(found, key=lambda m: (m.start, m.end))


def _clause_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _CLAUSE_BREAK.finditer(text))]


def sites_at(text: str, position: int, mentions: list[_Mention]) -> list[_Mention]:
    """The sites a service named at ``position`` was done at.

    The nearest named before it in its clause ("R knee scope"), else after it in its
    clause ("aspiration of the left knee"), else the last named in an earlier clause, else
    the first named later.
    """
    starts = _clause_starts(text)
    here = max(i for i, s in enumerate(starts) if s <= position)
    clause_end = starts[here + 1] if here + 1 < len(starts) else len(text)
    before = [m for m in mentions if m.start < position]
    in_clause = [m for m in before if m.start >= starts[here]]
    if in_clause:
        return _at_nearest(in_clause, last=True)
    after = [m for m in mentions if position <= m.start < clause_end]
    if after:
        return _at_nearest(after, last=False)
    if before:
        return _at_nearest(before, last=True)
    return _at_nearest([m for m in mentions if m.start >= position], last=False)


def _at_nearest(mentions: list[_Mention], last: bool) -> list[_Mention]:
    """The mentions at the last (or first) position: both sides of 'bilateral knees'."""
    if not mentions:
        return []
    start = max(m.start for m in mentions) if last else min(m.start for m in mentions)
    return [m for m in mentions if m.start == start]


# --- the notes of the visit ------------------------------------------------------------

def _names_another_day(text: str, day: date | None) -> bool:
    """Whether the sentence dates itself to another day ("L knee inj 8/1")."""
    return day is not None and any(
        d.days is not None and not d.is_day(day)
        for d in dates(text, day) if d.kind in ("day", "month_day"))


@dataclass(frozen=True, slots=True)
class Visit:
    """The notes of the denied visit (agent/notes/visit.py), read with a vocabulary."""

    documents: tuple[SourceDocument, ...]
    day: date | None
    words: Vocabulary

    @classmethod
    def of(cls, chart: ChartBundle, denial: Denial,
           vocabulary: Vocabulary | None = None) -> Visit:
        """The visit of ``denial``: the encounter's notes, then those of the date of service."""
        return cls(tuple(visit_documents(chart, denial)), denial.service_date,
                   _vocabulary(vocabulary))

    def sentences(self, documents: Iterable[SourceDocument] | None = None,
                  skipped: frozenset[str] = _HISTORY_SECTIONS
                  ) -> Iterator[tuple[SourceDocument, Sentence]]:
        """Sentences that can document care given that day.

        Those not in a ``skipped`` section, not about a service asked for or given
        earlier, and not dated another day.
        """
        for document in self.documents if documents is None else documents:
            for sentence in sentences(document.text):
                if sentence.section not in skipped and self.of_the_day(sentence):
                    yield document, sentence

    def of_the_day(self, sentence: Sentence) -> bool:
        """Not about a service requested, left for later or given before the day."""
        return not (self.words.pattern("not_done").search(sentence.text)
                    or self.words.pattern("earlier_care").search(sentence.text)
                    or _names_another_day(sentence.text, self.day))

    @staticmethod
    def done(sentence: Sentence, start: int, end: int) -> bool:
        """Whether ConText asserts the phrase as done.

        Done means no assertion category: not negated, possible, conditional, historical,
        a relative's or planned.
        """
        return not assertion(sentence.text, start, end).categories


def documented_codes(chart: ChartBundle, denial: Denial) -> list[str]:
    """Procedure codes the same-day notes write out, and Procedure resources of that day."""
    visit = Visit.of(chart, denial)
    codes: dict[str, None] = {}
    for _, sentence in visit.sentences():
        for match in CODE.finditer(sentence.text):
            if visit.done(sentence, match.start(), match.end()):
                codes[match[1].upper()] = None
    for fact in chart.facts:
        if (fact.resource_type == "Procedure" and fact.code and fact.date is not None
                and fact.date == denial.service_date and CODE.fullmatch(fact.code)):
            codes[fact.code.upper()] = None
    return list(codes)


def _own_code(denial: Denial) -> str | None:
    return denial.procedure.submitted_code if denial.procedure else None


def billed_side(denial: Denial) -> str | None:
    """'left' or 'right' when the denied line carries exactly one of LT/RT."""
    if denial.procedure is None:
        return None
    sides = {_LATERALITY_MODIFIERS[m] for m in denial.procedure.submitted_modifiers
             if m in _LATERALITY_MODIFIERS}
    return sides.pop() if len(sides) == 1 else None


def _other_side(site: Site, side: str | None) -> bool:
    """Whether the site is explicitly the side opposite the one billed."""
    return side is not None and site.side in ("left", "right") and site.side != side


def partner_codes_in_notes(chart: ChartBundle, denial: Denial) -> list[str]:
    """The other codes of the claim, then those only the same-day notes document."""
    own = _own_code(denial)
    codes = dict.fromkeys(c for c in denial.claim_procedure_codes if c != own)
    codes.update(dict.fromkeys(c for c in documented_codes(chart, denial) if c != own))
    return list(codes)


# --- where services were done ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Done:
    """A service named in a sentence, at a site.

    The site is named in the sentence, or is the last one its paragraph named before it
    ("Attention was turned to the L knee. ... aspirated").
    """

    document: SourceDocument
    sentence: Sentence
    start: int
    end: int
    site: Site
    term: tuple[int, int] = (0, 0)
    """Where the words that name the service are (offsets in the document)."""
    lead: Sentence | None = None
    """The sentence right before that names the site, when the site is inherited."""

    def overlaps(self, other: _Done) -> bool:
        """Whether both name a service with the same words of the same note."""
        return (self.document.document_id == other.document.document_id
                and self.term[0] < other.term[1] and other.term[0] < self.term[1])

    def span(self) -> tuple[int, int]:
        """The quote: the clause around the service and its site.

        The sentence before is included when that one names the site ("the abrasions on
        the right elbow were irrigated. The necrotic tissue was removed.").
        """
        start, end = clause_around(self.sentence, self.start - self.sentence.start,
                                   self.end - self.sentence.start)
        if self.lead is not None and end - self.lead.start <= MAX_QUOTE:
            start = self.lead.start
        return start, end

    def evidence(self, value: str, fact: str = DISTINCT_SERVICE) -> Evidence:
        return _quote(self.document, *self.span(), value, fact)


@dataclass(frozen=True, slots=True)
class _Placed:
    """A sentence of the day with the sites it names, or the sites it inherits."""

    sentence: Sentence
    mentions: list[_Mention]
    """The sites the sentence names."""
    inherited: list[_Mention]
    """When it names none: the last site named earlier in its paragraph."""
    lead: Sentence | None
    """The sentence that named the inherited site, when it is the one right before."""


def placed_sentences(visit: Visit, document: SourceDocument) -> Iterator[_Placed]:
    """Each sentence of the day with the sites it names.

    A sentence that names none inherits the last site named earlier in its paragraph,
    unless it names a body part without a side ("Knee injected").
    """
    last: tuple[Sentence, list[_Mention]] | None = None
    previous: Sentence | None = None
    parts = visit.words.pattern("body_parts")
    for _, sentence in visit.sentences([document]):
        mentions = site_mentions(sentence.text, visit.words)
        if last is not None and (last[0].paragraph, last[0].section) != \
                (sentence.paragraph, sentence.section):
            last = None
        if mentions:
            last = (sentence, _at_nearest(mentions, last=True))
            yield _Placed(sentence, mentions, [], None)
        elif last is not None and not parts.search(sentence.text):
            yield _Placed(sentence, [], last[1], last[0] if previous is last[0] else None)
        else:
            yield _Placed(sentence, [], [], None)
        previous = sentence


def services_at_sites(visit: Visit, codes: Iterable[str], generic: bool = False
                      ) -> list[_Done]:
    """Each mention of one of ``codes``' services done that day at a known site."""
    patterns = [service_pattern(code, generic, visit.words) for code in codes]
    return [done for document in visit.documents
            for placed in placed_sentences(visit, document)
            for pattern in patterns
            for _, group in _namings(visit, document, placed, pattern) for done in group]


def _namings(visit: Visit, document: SourceDocument, placed: _Placed,
             pattern: re.Pattern[str]) -> Iterator[tuple[tuple[int, int], list[_Done]]]:
    """Each mention of ``pattern`` done that day (its offsets), with its services.

    The service is given at each site it may have been done at (named in its clause, else
    inherited; maybe none).
    """
    sentence = placed.sentence
    for match in pattern.finditer(sentence.text):
        if not visit.done(sentence, match.start(), match.end()):
            continue
        term = (sentence.start + match.start(), sentence.start + match.end())
        if not placed.mentions:
            yield term, [_Done(document, sentence, *term, m.site, term, placed.lead)
                         for m in placed.inherited]
            continue
        yield term, [_Done(document, sentence, sentence.start + min(match.start(), m.start),
                           sentence.start + max(match.end(), m.end), m.site, term)
                     for m in sites_at(sentence.text, match.start(), placed.mentions)]


# --- the denied service's own site -----------------------------------------------------

def own_site(visit: Visit, own: str, side: str | None) -> Site | None:
    """Where the denied service was done.

    The side billed, and the one body part the notes name with the service's own words
    at that side (None when neither is known).
    """
    done = services_at_sites(visit, [own])
    parts = {d.site.part for d in done if not _other_side(d.site, side)
             and d.site.side != "contralateral"}
    parts.discard(None)
    sides = {side} if side else {d.site.side for d in done if d.site.side in ("left", "right")}
    part = parts.pop() if len(parts) == 1 else None
    site_side = sides.pop() if len(sides) == 1 else None
    if part is None and site_side is None:
        return None
    return Site(site_side, part)


def _elsewhere(site: Site, own: Site | None) -> bool:
    """Whether ``site`` is not the denied service's own site."""
    return own is not None and site.side != "contralateral" and site.distinct_from(own)


def _first_here(visit: Visit, document: SourceDocument, placed: _Placed,
                pattern: re.Pattern[str], site: Site | None) -> _Done | None:
    """The first mention of ``pattern`` in the sentence done that day, not elsewhere.

    A mention at a site other than ``site`` does not count ('R knee: PMM' is not the
    evidence of a line billed LT).
    """
    for term, group in _namings(visit, document, placed, pattern):
        if not group:
            return _Done(document, placed.sentence, *term, Site(None, None), term)
        here = next((d for d in group if not _elsewhere(d.site, site)), None)
        if here is not None:
            return here
    return None


# --- extractors ------------------------------------------------------------------------

def denied_service(chart: ChartBundle, denial: Denial,
                   vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Sentences that document the denied service at its own site (value: the code).

    A line that only lists the code is quoted when no sentence describes the work.
    """
    own = _own_code(denial)
    if own is None:
        return []
    visit = Visit.of(chart, denial, vocabulary)
    pattern = service_pattern(own, vocabulary=visit.words)
    site = own_site(visit, own, billed_side(denial))
    described: list[tuple[bool, Evidence]] = []
    listed: list[tuple[bool, Evidence]] = []
    for document in visit.documents:
        for placed in placed_sentences(visit, document):
            done = _first_here(visit, document, placed, pattern, site)
            if done is None:
                continue
            where = listed if CODE.search(placed.sentence.text) else described
            where.append((placed.sentence.section != "procedure",
                          done.evidence(own, DENIED_SERVICE)))
    chosen = described or listed
    chosen.sort(key=lambda item: item[0])
    return _unique([e for _, e in chosen])[:2]


def distinct_service(chart: ChartBundle, denial: Denial,
                     vocabulary: Vocabulary | None = None) -> list[Evidence]:
    """Evidence of a distinct service for the denied line.

    A distinct site ('left knee vs right knee'), separate encounter, incision, portal or
    injury.
    """
    own = _own_code(denial)
    if own is None:
        return []
    visit = Visit.of(chart, denial, vocabulary)
    partners, side = partner_codes_in_notes(chart, denial), billed_side(denial)
    site = own_site(visit, own, side)
    found = distinct_sites(visit, own, partners, side)
    found += separate_encounter_notes(visit, own, partners, site)
    found += separate_markers(visit, own, site)
    found += separate_injuries(visit, own, partners, site)
    return _unique(found)[:4]


def distinct_sites(visit: Visit, own: str, partners: list[str], side: str | None = None
                   ) -> list[Evidence]:
    """The first site of the denied service that differs from every partner site.

    It is quoted with the partner's. Words both services share ('arthroscopy') are the
    denied service's at the side billed and the partner's at the other; without LT/RT
    they are both's.
    """
    partner_done = services_at_sites(visit, partners, generic=True)
    own_done = services_at_sites(visit, [own])
    if side is not None:
        own_words = services_at_sites(visit, [own], generic=True)
        shared = [p for p in partner_done if any(p.overlaps(o) for o in own_words)]
        partner_done = [p for p in partner_done
                        if not (p in shared and p.site.side == side)]
        own_done = [o for o in own_done
                    if not (_other_side(o.site, side) and any(o.overlaps(p) for p in shared))]
    if not partner_done:
        return []
    specific = services_at_sites(visit, partners)
    partner_done.sort(key=lambda p: (_vague(p), not any(p.overlaps(q) for q in specific)))
    for done in sorted(own_done, key=_vague):
        if all(done.site.distinct_from(p.site) for p in partner_done):
            other = partner_done[0]
            value = f"{done.site.describe()} vs {other.site.describe()}"
            field = separate_field(visit, done.site, value)
            return _unique([*field, done.evidence(value), other.evidence(value)])
    return []


def separate_field(visit: Visit, site: Site, value: str) -> list[Evidence]:
    """The first sentence that has ``site`` prepped and draped as its own field."""
    pattern = visit.words.pattern("separate_field")
    for document, sentence in visit.sentences():
        mentions = site_mentions(sentence.text, visit.words)
        for match in pattern.finditer(sentence.text):
            if not visit.done(sentence, match.start(), match.end()):
                continue
            at = sites_at(sentence.text, match.start(), mentions)
            if at and all(m.site.side == site.side and not m.site.distinct_from(site)
                          for m in at):
                start, end = clause_around(sentence, match.start(), match.end())
                return [_quote(document, start, end, value)]
    return []


def _quote(document: SourceDocument, start: int, end: int, value: str,
           fact: str = DISTINCT_SERVICE) -> Evidence:
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=fact, value=value,
                    document_date=document.date, document_title=document.title)


def separate_injuries(visit: Visit, own: str, partners: list[str], site: Site | None
                      ) -> list[Evidence]:
    """A sentence naming injuries at several sites, one the denied service's own.

    For example "right ankle fracture ... and right elbow abrasions"; only when no
    partner was done at the denied service's site.
    """
    if site is None or site.part is None:
        return []
    if any(not _elsewhere(p.site, site) for p in services_at_sites(visit, partners)):
        return []
    injuries = visit.words.pattern("injuries")
    skipped = frozenset({"history", "ros", "family"})  # an injury list is often in the HPI
    for document, sentence in visit.sentences(skipped=skipped):
        mentions = site_mentions(sentence.text, visit.words)
        injured = [m.site for hit in injuries.finditer(sentence.text)
                   if visit.done(sentence, hit.start(), hit.end())
                   for m in sites_at(sentence.text, hit.start(), mentions)]
        others = [s for s in dict.fromkeys(injured) if _elsewhere(s, site)]
        if others and any(not _elsewhere(s, site) for s in injured):
            value = (f"separate injury ({site.describe()} vs "
                     f"{', '.join(s.describe() for s in others)})")
            start, end = clause_around(sentence, 0, len(sentence.text))
            return [_quote(document, start, end, value)]
    return []


# --- separate encounters: notes timed apart --------------------------------------------

_APART = 30
"""Minutes two times of day must differ by to be two encounters (not one note signed twice)."""


def _first_naming(visit: Visit, document: SourceDocument, patterns: list[re.Pattern[str]],
                  site: Site | None = None) -> _Done | None:
    """The first mention in ``document`` of one of ``patterns`` done that day.

    A mention at a site other than ``site`` does not count.
    """
    for placed in placed_sentences(visit, document):
        for pattern in patterns:
            found = _first_here(visit, document, placed, pattern, site)
            if found is not None:
                return found
    return None


def _line_evidence(document: SourceDocument, clock: ClockTime, value: str) -> list[Evidence]:
    """The sentence of the note's header that carries its time, quoted."""
    sentence = read_note(document.text).sentence_at(clock.start)
    return [] if sentence is None else [_quote(document, sentence.start, sentence.end, value)]


def separate_encounter_notes(visit: Visit, own: str, partners: list[str],
                             site: Site | None = None) -> list[Evidence]:
    """Two notes timed ``_APART`` minutes apart, one for the denied service, one a partner.

    One note has the denied service and no partner, the other a partner; the service's
    sentence and both time lines are quoted.
    """
    if not partners:
        return []
    timed = [(d, t) for d in visit.documents if (t := header_time(d.text)) is not None]
    own_pattern = [service_pattern(own, vocabulary=visit.words)]
    specific = [service_pattern(p, vocabulary=visit.words) for p in partners]
    broad = [service_pattern(p, generic=True, vocabulary=visit.words) for p in partners]
    for here, here_time in timed:
        named = _first_naming(visit, here, own_pattern, site)
        if named is None or _first_naming(visit, here, specific) is not None:
            continue
        for there, there_time in timed:
            if there is here or abs(there_time.minutes - here_time.minutes) < _APART \
                    or _first_naming(visit, there, broad) is None:
                continue
            value = (f"separate encounter (notes of {here_time.label()} and "
                     f"{there_time.label()})")
            return _unique([named.evidence(value), *_line_evidence(here, here_time, value),
                            *_line_evidence(there, there_time, value)])
    return []


def _elsewhere_earlier_or_later(visit: Visit, document: SourceDocument, sentence: Sentence
                                ) -> ClockTime | None:
    """A time of day with a clinic/ED setting, named in the sentence, apart from the note.

    The time is at least ``_APART`` minutes from the note's own time ('aspirated in clinic
    at 0740' in a 14:50 op note).
    """
    own_time = header_time(document.text)
    if own_time is None or not visit.words.pattern("settings").search(sentence.text):
        return None
    for clock in clock_times(sentence.text):
        if abs(clock.minutes - own_time.minutes) >= _APART:
            return clock
    return None


def _vague(done: _Done) -> bool:
    """Sites with a body part first ("left knee" before "left side")."""
    return done.site.part is None


def separate_markers(visit: Visit, own: str, site: Site | None = None) -> list[Evidence]:
    """A separate encounter, incision, portal or injury named next to the denied service.

    The marker is in a sentence that documents the denied service at its own site, or
    right before or after one.
    """
    pattern = service_pattern(own, vocabulary=visit.words)
    found: list[Evidence] = []
    for document in visit.documents:
        placed = list(placed_sentences(visit, document))
        names = [_first_here(visit, document, p, pattern, site) is not None for p in placed]
        for index, item in enumerate(placed):
            if any(names[max(0, index - 1):index + 2]):
                found += _marker_evidence(visit, document, item.sentence)
    return found


def _marker_evidence(visit: Visit, document: SourceDocument, sentence: Sentence
                     ) -> list[Evidence]:
    found = []
    elsewhere = _elsewhere_earlier_or_later(visit, document, sentence)
    if elsewhere is not None:
        found.append(_quote(document, sentence.start, sentence.end,
                            f"separate encounter ({elsewhere.label()})"))
    for name in visit.words.lists_with("quoted_as"):
        for match in visit.words.pattern(name).finditer(sentence.text):
            if visit.done(sentence, match.start(), match.end()):
                start, end = clause_around(sentence, match.start(), match.end())
                found.append(_quote(document, start, end,
                                    visit.words.values(name)["quoted_as"]))
                break
    return found


def _unique(items: list[Evidence]) -> list[Evidence]:
    kept: dict[tuple[str, int | None, int | None], Evidence] = {}
    for item in items:
        kept.setdefault((item.document_id, item.start, item.end), item)
    return list(kept.values())


def names_separate_compartment(chart: ChartBundle, denial: Denial,
                               vocabulary: Vocabulary | None = None) -> bool:
    """Whether the visit's notes call the service a separate compartment.

    NCCI does not treat a knee compartment as a separate site
    (docs/domain.md#knee-arthroscopy).
    """
    pattern = _vocabulary(vocabulary).pattern("separate_compartment")
    return any(pattern.search(d.text) for d in visit_documents(chart, denial))


# --- the NCCI finding ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NcciFinding:
    """The PTP edits between the denied code and its partners on the day."""

    code: str
    service_date: date
    claim_partners: tuple[str, ...]
    chart_partners: tuple[str, ...]
    """Only in the same-day notes, paired by an edit."""
    pairing: PtpPairing
    """The table's answer for the claim's codes and the codes the notes document."""

    @property
    def edit(self) -> PtpEdit | None:
        """The edit that decides: the denied code in column 2, indicator 0 before 1."""
        deciding = self.pairing.deciding
        return deciding.edit if deciding is not None else None

    @property
    def reverse(self) -> tuple[PtpEdit, ...]:
        """Active edits with the denied code in column 1."""
        return tuple(p.edit for p in self.pairing.reverse)

    @property
    def partners(self) -> tuple[str, ...]:
        """Every partner code, claim first."""
        return self.claim_partners + self.chart_partners

    def where(self, code: str) -> str:
        """Where a partner code comes from: this claim, or only the notes of the day."""
        if code in self.claim_partners:
            return f"{code} is on this claim"
        return (f"{code} is not on this claim; the notes of {self.service_date} document "
                "it (a claim of the same day was likely processed first)")


def ncci_finding(denial: Denial, chart: ChartBundle, table: PtpTable) -> NcciFinding | None:
    """Look the denied code up against each partner (None without a code or a date).

    Partners are the claim's other codes, then the codes only the same-day notes document
    that an edit pairs with the denied code.
    """
    own = _own_code(denial)
    day = denial.service_date
    if own is None or day is None:
        return None
    on_claim = partner_codes(own, denial.claim_procedure_codes)
    pairing = table.pairing(own, (*on_claim, *documented_codes(chart, denial)), day)
    in_notes = tuple(c for c in pairing.partners[len(on_claim):] if pairing.with_partner(c))
    return NcciFinding(own, day, on_claim, in_notes, pairing)


def _finding(ctx: CheckContext) -> NcciFinding | None:
    return ncci_finding(ctx.denial, ctx.chart, ctx.ncci or PtpTable.default())


def _edit_label(edit: PtpEdit) -> str:
    return (f"NCCI PTP {edit.column_1}/{edit.column_2} modifier indicator "
            f"{edit.modifier_indicator}")


_MENISCECTOMY = frozenset({"29880", "29881"})


def _descriptor_note(edit: PtpEdit) -> str:
    """The CPT 2012 reason behind 29877 with 29880/29881 (docs/domain.md#knee-arthroscopy)."""
    if edit.column_2 == "29877" and edit.column_1 in _MENISCECTOMY:
        return ("; since 2012 the 29880/29881 descriptors include chondroplasty in the same "
                "or a separate compartment, so 29877 is not reported with them on the same "
                "knee (AAOS CodeX 5/2012)")
    return ""


# --- checks ----------------------------------------------------------------------------

EM_CODES = ("99202-99499",)


def em_line(ctx: CheckContext) -> str | None:
    """The denied line is an E/M service."""
    own = _own_code(ctx.denial)
    if own is None or not code_in(own, EM_CODES):
        return None
    return f"{own} is an evaluation and management service"


def ncci_no_bypass(ctx: CheckContext) -> str | None:
    """The deciding edit has modifier indicator 0."""
    finding = _finding(ctx)
    edit = finding.edit if finding else None
    if finding is None or edit is None or edit.modifier_indicator != "0":
        return None
    return (f"{_edit_label(edit)} ({edit.rationale or 'no rationale given'}); "
            f"{finding.where(edit.column_1)}{_descriptor_note(edit)}")


def partner_unknown(ctx: CheckContext) -> str | None:
    """No partner code on the claim or in the notes."""
    finding = _finding(ctx)
    if finding is None:
        return "the denied line has no procedure code or no date of service"
    if finding.partners:
        return None
    return (f"{finding.code} is the only code on this claim, and the notes of "
            f"{finding.service_date} document no other procedure code that an NCCI PTP "
            "edit pairs with it")


def edit_other_way(ctx: CheckContext) -> str | None:
    """The denied code is only ever in column 1."""
    finding = _finding(ctx)
    if finding is None or finding.edit is not None or not finding.reverse:
        return None
    edit = finding.reverse[0]
    return (f"{_edit_label(edit)} denies {edit.column_2}, not {edit.column_1}; "
            f"{finding.where(edit.column_2)}")


def modifier_not_billed(ctx: CheckContext) -> str | None:
    """Indicator 1, a distinct service documented, no NCCI-associated modifier billed."""
    finding = _finding(ctx)
    edit = finding.edit if finding else None
    procedure = ctx.denial.procedure
    if edit is None or edit.modifier_indicator != "1" or procedure is None:
        return None
    documented = ctx.found(DISTINCT_SERVICE)
    if not documented or NCCI_ASSOCIATED_MODIFIERS & set(procedure.submitted_modifiers):
        return None
    values = "; ".join(dict.fromkeys(e.value for e in documented if e.value))
    return (f"{_edit_label(edit)}; the notes document {values}, but "
            f"{procedure.display} carries none of 59, XE, XS, XP, XU, LT, RT")


def not_distinct(ctx: CheckContext) -> str | None:
    """Indicator 1, the service documented, nothing distinct about it."""
    finding = _finding(ctx)
    edit = finding.edit if finding else None
    if finding is None or edit is None or edit.modifier_indicator != "1":
        return None
    if ctx.found(DISTINCT_SERVICE):
        return None
    if not ctx.found(DENIED_SERVICE):
        return None  # the service itself is undocumented: the missing-fact list says so
    detail = (f"{_edit_label(edit)} ({finding.where(edit.column_1)}); the notes of "
              f"{finding.service_date} document no distinct site, separate encounter, "
              f"separate incision or portal, or separate injury for {finding.code}")
    if names_separate_compartment(ctx.chart, ctx.denial):
        detail += (" (they name a separate compartment of the same joint, which NCCI does "
                   "not treat as a separate site)")
    return detail


def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Add this playbook's extractors and checks."""
    extractors.register_reading("distinct_procedure_denied_service", denied_service, LISTS)
    extractors.register_reading("distinct_procedure_distinct_service", distinct_service,
                                LISTS)
    checks.register("distinct_procedure_em_line", em_line)
    checks.register("distinct_procedure_ncci_no_bypass", ncci_no_bypass)
    checks.register("distinct_procedure_partner_unknown", partner_unknown)
    checks.register("distinct_procedure_edit_other_way", edit_other_way)
    checks.register("distinct_procedure_modifier_not_billed", modifier_not_billed)
    checks.register("distinct_procedure_not_distinct", not_distinct)
