"""Distinct procedural service: modifier 59 / XE XS XP XU against NCCI PTP edits.

The Python behind ``specialty_playbooks/distinct_procedure.yaml`` (REFERENCE.md §2b):

* **Partners** of the denied code: the other codes on its claim, plus codes that the notes
  of the date of service (or a Procedure resource of that date) document *and* that an
  NCCI PTP edit pairs with the denied code. A partner billed on another claim of the same
  day is found only that way; the other claim itself is out of scope.
* **The NCCI finding**: the active PTP edit with the denied code in column 2 (indicator 0
  wins over 1), else an edit the other way round, else none.
* **A distinct service** in the notes: a different anatomic site for the denied service
  and its partner ("left knee vs right knee", quoted with the sentence that has that site
  separately prepped and draped when there is one), a separate encounter (two notes of the
  day timed apart, the denied service in one and its partner in the other, or the service
  placed in a clinic or ED at another time of day), a separate incision or portal, or a
  separate injury. A different compartment of the same knee, a different procedure or a
  different diagnosis is not one.

Only notes of the date of service are read: those on the claim's encounter and those
dated that day. History sections and sentences about past or planned care are skipped.
Notes are untrusted data: patterns are matched and spans copied, nothing is followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.text import Sentence, clause_around, is_negated, sentences
from agent.ncci import PtpEdit, PtpTable
from agent.playbooks.checks import CheckContext, CheckRegistry

DENIED_SERVICE = "denied_service"
"""Fact id: the same-day note documents the denied service itself."""
DISTINCT_SERVICE = "distinct_service"
"""Fact id: the same-day notes document a distinct site, encounter, incision or injury."""

DISTINCT_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
NCCI_ASSOCIATED_MODIFIERS = DISTINCT_MODIFIERS | {"LT", "RT"}
"""The modifiers REFERENCE.md §2b names as bypassing an indicator-1 edit; the full NCCI
list (E1-E4, F/T digits, 24, 25, 57, 58, 78, 79, 91...) is longer: extend when needed."""

_LATERALITY_MODIFIERS = {"LT": "left", "RT": "right"}
_HISTORY_SECTIONS = frozenset({"hpi", "ros", "history"})


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z])(?:" + "|".join(patterns) + r")(?![A-Za-z])",
                      re.IGNORECASE)


_FUTURE = _words(r"sched(?:uled)?", r"will", r"plan(?:s|ned)? (?:to|for)", r"to be done",
                 r"next (?:week|visit|time)", r"consider(?:ing)?", r"candidate for",
                 r"discussed", r"recommend(?:ed)?", r"may need", r"if (?:needed|persists)",
                 r"return (?:in|for)", r"RTC",
                 # a request is not the service done: "asked to have the L knee drained"
                 r"ask(?:s|ed|ing)? (?:to|for|about|if)", r"wants?", r"wanted",
                 r"would like", r"request(?:s|ed|ing)?", r"hoping (?:to|for)",
                 r"interested in")
_PAST = _words(r"s/p", r"status post", r"prior(?! to)", r"previous(?:ly)?", r"h/o", r"hx of",
               r"history of", r"ago", r"last (?:week|month|year)")


# --- which words name a service ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """Words that name the services of some codes (the code itself always does)."""

    codes: tuple[str, ...]
    """Codes or ranges such as '29866-29889'."""
    terms: re.Pattern[str]
    generic: bool = False
    """Words shared by many codes ('arthroscopy'): they place a partner service at a site
    but never document the denied service itself."""

    def covers(self, code: str) -> bool:
        """Whether ``code`` is one of ``codes`` (ranges included)."""
        return code_in(code, self.codes)


def code_in(code: str, items: Iterable[str]) -> bool:
    """Whether ``code`` is one of ``items``, codes or ranges such as '99202-99499'."""
    for item in items:
        low, _, high = item.partition("-")
        if code == low or (high and len(code) == len(low) and low <= code <= high):
            return True
    return False


SERVICE_TERMS: tuple[ServiceTerms, ...] = (
    ServiceTerms(("29877", "G0289"), _words(
        r"chondroplast(?:y|ies)", r"(?:chondral|cartilage|articular) (?:debridement|shaving)",
        r"debrid(?:ed|ement) of (?:the )?(?:chondral|cartilage|articular)")),
    ServiceTerms(("29880", "29881"), _words(r"menisc(?:ectomy|ectomies)", r"PMM", r"PLM")),
    ServiceTerms(("29874", "G0289"), _words(r"loose bod(?:y|ies)", r"foreign bod(?:y|ies)")),
    ServiceTerms(("29870",), _words(r"diagnostic arthroscopy")),
    ServiceTerms(("29875", "29876"), _words(r"synovectom(?:y|ies)")),
    ServiceTerms(("29866-29889",), _words(r"arthroscop(?:y|ic)", r"scope"), generic=True),
    ServiceTerms(("20600-20611",), _words(
        r"arthrocentesis", r"aspirat(?:e|ed|ion)", r"inject(?:ed|ion|ions)?", r"inj",
        r"CSI", r"(?:joint )?tap(?:ped)?")),
    ServiceTerms(("12001-12057", "13100-13153"), _words(
        r"lac(?:eration)? repair", r"repair(?:ed)? (?:of )?(?:the |a )?(?:[\d.]+ ?cm )?"
        r"lac(?:eration)?", r"lac(?:eration)?[\w ]{0,30}? repaired", r"sutured",
        r"closed (?:w/|with) \d-0")),
    ServiceTerms(("11042-11047", "97597-97598"), _words(
        r"(?:excisional |sharp |selective )?debridement of (?:the )?(?:wound|ulcer|skin|"
        r"subcutaneous|muscle|bone)", r"wound debridement")),
)
"""A starting table for the codes the shipped NCCI subset and the demo charts use: a code
not listed here is found in the notes by the code itself only."""

CODE = re.compile(r"(?<![\w./-])(\d{4}[0-9FTU]|[A-V]\d{4})((?:-[0-9A-Z]{2})*)(?![\w/])(?!\.\d)")
"""A CPT/HCPCS code as clinicians write it, with modifiers: ``29877-59-LT``."""


def service_pattern(code: str, generic: bool = False) -> re.Pattern[str]:
    """The code itself (with any modifiers) or a word that names its service (``generic``
    adds the words many codes share)."""
    parts = [r"(?<![\w./-])" + re.escape(code) + r"(?:-[0-9A-Z]{2})*(?![\w/])"]
    parts += [t.terms.pattern for t in SERVICE_TERMS
              if t.covers(code) and (generic or not t.generic)]
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


_PARTS = (r"knee|shoulder|hip|ankle|elbow|wrist|hand|foot|feet|thumb|finger|toe|forearm|"
          r"arm|leg|thigh|heel|eye|ear|breast")
_SIDE = r"left|right|lt|rt|l|r"
_PREFIX = re.compile(rf"(?<![A-Za-z])\(?(?P<side>{_SIDE})(?:\.\s*|\)\s*|\s*-\s*sided\s+|"
                     rf"[\s-]+)(?P<part>{_PARTS})s?(?![A-Za-z])", re.IGNORECASE)
_POSTFIX = re.compile(rf"(?<![A-Za-z])(?P<part>{_PARTS})s?\s*(?:,|\(|-|:)\s*"
                      rf"(?P<side>{_SIDE})\)?(?![A-Za-z/])", re.IGNORECASE)
_BOTH = re.compile(rf"(?<![A-Za-z])(?:(?:{_SIDE})\s*(?:and|&|\+|/)\s*(?:{_SIDE})|bilateral|"
                   rf"bilat\.?|b/l|both)\s+(?P<part>{_PARTS})s?(?![A-Za-z])", re.IGNORECASE)
_OTHER = re.compile(rf"(?<![A-Za-z])(?:contralateral|opposite|other)\s+(?P<part>{_PARTS})"
                    rf"(?![A-Za-z])", re.IGNORECASE)
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
    part = text.lower()
    return "foot" if part == "feet" else part


def site_mentions(text: str) -> list[_Mention]:
    """Every anatomic site named in a sentence, in order ("R knee", "knee, left",
    "bilateral knees", "the other knee", the LT/RT of "29877-59-LT")."""
    found: list[_Mention] = []
    for match in _BOTH.finditer(text):
        part = _part(match["part"])
        found += [_Mention(match.start(), match.end(), Site(side, part))
                  for side in ("left", "right")]
    for match in _PREFIX.finditer(text):
        found.append(_Mention(match.start(), match.end(),
                              Site(_side(match["side"]), _part(match["part"]))))
    for match in _OTHER.finditer(text):
        found.append(_Mention(match.start(), match.end(),
                              Site("contralateral", _part(match["part"]))))
    for match in CODE.finditer(text):
        sides = [_LATERALITY_MODIFIERS[m] for m in match[2].split("-")
                 if m in _LATERALITY_MODIFIERS]
        found += [_Mention(match.start(), match.end(), Site(side, None)) for side in sides]
    for match in _POSTFIX.finditer(text):
        if not any(m.start <= match.start("side") < m.end for m in found):
            found.append(_Mention(match.start(), match.end(),
                                  Site(_side(match["side"]), _part(match["part"]))))
    return sorted(found, key=lambda m: (m.start, m.end))


def _clause_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _CLAUSE_BREAK.finditer(text))]


def sites_at(text: str, position: int, mentions: list[_Mention]) -> list[_Mention]:
    """The sites a service named at ``position`` was done at: the nearest named before it
    in its clause ("R knee scope"), else after it in its clause ("aspiration of the left
    knee"), else the last named in an earlier clause, else the first named later."""
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


# --- the notes of the date of service ------------------------------------------------

def same_day_documents(chart: ChartBundle, denial: Denial) -> list[SourceDocument]:
    """Notes on the claim's encounter, and notes dated on the date of service."""
    return [d for d in chart.documents
            if d.linked_by == "encounter" or (d.date is not None
                                              and d.date == denial.service_date)]


_TERMINAL = (".", "!", "?", ";", ":")
_WRAP_WIDTH = 60
"""A line at least this long that ends mid-sentence was wrapped by the editor."""


def note_sentences(text: str) -> list[Sentence]:
    """:func:`sentences`, with lines that wrap mid-sentence joined again: a line that ends
    without punctuation continues on the next (same section, nothing but white space
    between) when the next starts in lower case, with a digit or '(', or when the line
    is long enough to have been wrapped."""
    joined: list[Sentence] = []
    for sentence in sentences(text):
        last = joined[-1] if joined else None
        if (last is not None and not last.text.endswith(_TERMINAL)
                and last.section == sentence.section
                and "\n" in text[last.end:sentence.start]
                and not text[last.end:sentence.start].strip()
                and (sentence.text[0].islower() or sentence.text[0] in "0123456789("
                     or last.end - text.rfind("\n", 0, last.end) > _WRAP_WIDTH)):
            joined[-1] = Sentence(last.start, sentence.end, text[last.start:sentence.end],
                                  last.section)
        else:
            joined.append(sentence)
    return joined


_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])"
                   r"(?!\s*(?:[a-z]+ )?(?:strength|str\b|motor|power))|"
                   r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)", re.IGNORECASE)
"""m/d, m/d/yy, m/d/yyyy, yyyy-mm-dd; not a motor grade ("4/5 quad strength")."""


def _names_another_day(text: str, day: date | None) -> bool:
    """Whether the sentence dates itself to another day ("L knee inj 8/1")."""
    if day is None:
        return False
    for match in _DATE.finditer(text):
        month, dom, year = ((match[1], match[2], match[3]) if match[1]
                            else (match[5], match[6], match[4]))
        if not (1 <= int(month) <= 12 and 1 <= int(dom) <= 31):
            continue  # "4/5 strength", not a date
        if (int(month), int(dom)) != (day.month, day.day) or \
                (year and int(year) % 100 != day.year % 100):
            return True
    return False


def _usable(sentence: Sentence, day: date | None) -> bool:
    """Not history, not planned care, not a past procedure, not dated another day."""
    if sentence.section in _HISTORY_SECTIONS:
        return False
    return not (_FUTURE.search(sentence.text) or _PAST.search(sentence.text)
                or _names_another_day(sentence.text, day))


def _usable_sentences(documents: Iterable[SourceDocument], day: date | None
                      ) -> Iterator[tuple[SourceDocument, Sentence]]:
    for document in documents:
        for sentence in note_sentences(document.text):
            if _usable(sentence, day):
                yield document, sentence


def documented_codes(chart: ChartBundle, denial: Denial) -> list[str]:
    """Procedure codes the same-day notes write out, and Procedure resources of that day."""
    codes: dict[str, None] = {}
    for _, sentence in _usable_sentences(same_day_documents(chart, denial),
                                         denial.service_date):
        for match in CODE.finditer(sentence.text):
            if not is_negated(sentence.text, match.start(), match.end()):
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
    """A service named in a sentence, at a site."""

    document: SourceDocument
    sentence: Sentence
    start: int
    end: int
    site: Site
    term: tuple[int, int] = (0, 0)
    """Where the words that name the service are (offsets in the document)."""

    def overlaps(self, other: _Done) -> bool:
        """Whether both name a service with the same words of the same note."""
        return (self.document.document_id == other.document.document_id
                and self.term[0] < other.term[1] and other.term[0] < self.term[1])

    def evidence(self, value: str) -> Evidence:
        start, end = clause_around(self.sentence, self.start, self.end)
        return Evidence(quote=self.document.text[start:end],
                        document_id=self.document.document_id, start=start, end=end,
                        fact=DISTINCT_SERVICE, value=value, document_date=self.document.date,
                        document_title=self.document.title)


def services_at_sites(documents: list[SourceDocument], day: date | None, codes: Iterable[str],
                      generic: bool = False) -> list[_Done]:
    """Each non-negated mention of one of ``codes``' services with the site it was done
    at (a mention with no site named in its sentence is left out)."""
    patterns = [service_pattern(code, generic) for code in codes]
    done: list[_Done] = []
    for document, sentence in _usable_sentences(documents, day):
        mentions = site_mentions(sentence.text)
        if not mentions:
            continue
        for pattern in patterns:
            for match in pattern.finditer(sentence.text):
                if is_negated(sentence.text, match.start(), match.end()):
                    continue
                for mention in sites_at(sentence.text, match.start(), mentions):
                    lo, hi = min(match.start(), mention.start), max(match.end(), mention.end)
                    done.append(_Done(document, sentence, sentence.start + lo,
                                      sentence.start + hi, mention.site,
                                      (sentence.start + match.start(),
                                       sentence.start + match.end())))
    return done


# --- extractors ------------------------------------------------------------------------

def denied_service(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """Sentences of the same-day notes that document the denied service (its code or a
    word for it); value = the code. Sentences that describe the work come first; a line
    that lists the code is quoted only when no sentence describes it."""
    own = _own_code(denial)
    if own is None:
        return []
    pattern = service_pattern(own)
    side = billed_side(denial)
    described: list[tuple[bool, Evidence]] = []
    listed: list[tuple[bool, Evidence]] = []
    for document, sentence in _usable_sentences(same_day_documents(chart, denial),
                                                denial.service_date):
        mentions = site_mentions(sentence.text)
        match = next((m for m in pattern.finditer(sentence.text)
                      if not is_negated(sentence.text, m.start(), m.end())
                      and not _at_other_side(sentence.text, m.start(), mentions, side)),
                     None)
        if match is None:
            continue
        start, end = clause_around(sentence, match.start(), match.end())
        evidence = Evidence(quote=document.text[start:end], document_id=document.document_id,
                            start=start, end=end, fact=DENIED_SERVICE, value=own,
                            document_date=document.date, document_title=document.title)
        where = listed if CODE.search(sentence.text) else described
        where.append((sentence.section != "procedure", evidence))
    chosen = described or listed
    chosen.sort(key=lambda item: item[0])
    return _unique([e for _, e in chosen])[:2]


def _at_other_side(text: str, position: int, mentions: list[_Mention], side: str | None
                   ) -> bool:
    """Whether a service named at ``position`` was done at the side opposite the one
    billed ('R knee: PMM' is not the evidence of a line billed LT)."""
    found = sites_at(text, position, mentions) if side else []
    return bool(found) and all(_other_side(m.site, side) for m in found)


def distinct_service(chart: ChartBundle, denial: Denial) -> list[Evidence]:
    """A distinct site for the denied service and its partner (value 'left knee vs right
    knee'), else a separate encounter (timed notes, or a time and place named with the
    service), incision/portal or injury named with it."""
    own = _own_code(denial)
    if own is None:
        return []
    documents, day = same_day_documents(chart, denial), denial.service_date
    partners, side = partner_codes_in_notes(chart, denial), billed_side(denial)
    found = distinct_sites(documents, day, own, partners, side)
    found += separate_encounter_notes(documents, day, own, partners, side)
    found += separate_markers(documents, day, own)
    return _unique(found)[:4]


def distinct_sites(documents: list[SourceDocument], day: date | None, own: str,
                   partners: list[str], side: str | None = None) -> list[Evidence]:
    """The first site of the denied service that differs from every partner site, quoted
    with the partner's site.

    Words that name both services ('meniscectomy' for 29880 and 29881, 'arthroscopy' for
    any knee scope) are read by the side billed (``side``, from the line's LT/RT): at that
    side they are the denied service's, at the other side the partner's. Without LT/RT
    such words count for both, and no site of them can be distinct."""
    partner_done = services_at_sites(documents, day, partners, generic=True)
    own_done = services_at_sites(documents, day, [own])
    if side is not None:
        own_words = services_at_sites(documents, day, [own], generic=True)
        shared = [p for p in partner_done if any(p.overlaps(o) for o in own_words)]
        partner_done = [p for p in partner_done
                        if not (p in shared and p.site.side == side)]
        own_done = [o for o in own_done
                    if not (_other_side(o.site, side) and any(o.overlaps(p) for p in shared))]
    if not partner_done:
        return []
    specific = services_at_sites(documents, day, partners)
    partner_done.sort(key=lambda p: (_vague(p), not any(p.overlaps(q) for q in specific)))
    for done in sorted(own_done, key=_vague):
        if all(done.site.distinct_from(p.site) for p in partner_done):
            other = next(p for p in partner_done if done.site.distinct_from(p.site))
            value = f"{done.site.describe()} vs {other.site.describe()}"
            field = separate_field(documents, day, done.site, value)
            return _unique([*field, done.evidence(value), other.evidence(value)])
    return []


SEPARATE_FIELD = _words(
    r"separately (?:re-?)?prep(?:ped|ared)", r"(?:re-?)?prep(?:ped|ared)(?: and (?:re-?)?draped)? "
    r"separately", r"draped separately", r"re-?prepped and re-?draped",
    r"(?:new|second|separate|repeat) time-?\s?out", r"new instrument (?:set|tray)s?",
    r"separate (?:instrument|back) table")
"""A second operative field: prepped and draped apart, a new time-out, its own instruments."""


def separate_field(documents: list[SourceDocument], day: date | None, site: Site,
                   value: str) -> list[Evidence]:
    """The first sentence that has ``site`` (the denied service's, already distinct from
    the partner's) prepped and draped as its own field ('LEFT KNEE: separately prepped and
    draped ..., new time-out'), quoted with ``value``."""
    for document, sentence in _usable_sentences(documents, day):
        mentions = site_mentions(sentence.text)
        for match in SEPARATE_FIELD.finditer(sentence.text):
            if is_negated(sentence.text, match.start(), match.end()):
                continue
            at = sites_at(sentence.text, match.start(), mentions)
            if at and all(m.site.side == site.side and not m.site.distinct_from(site)
                          for m in at):
                start, end = clause_around(sentence, match.start(), match.end())
                return [Evidence(quote=document.text[start:end],
                                 document_id=document.document_id, start=start, end=end,
                                 fact=DISTINCT_SERVICE, value=value,
                                 document_date=document.date,
                                 document_title=document.title)]
    return []


# --- separate encounters: notes timed apart --------------------------------------------

_CLOCK = re.compile(r"(?<![\d:/.])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:])"
                    r"(?:\s*(?P<ap>[ap])\.?m\.?(?![A-Za-z]))?", re.IGNORECASE)
_MILITARY = re.compile(r"(?:(?<![\d/])\d{1,2}/\d{1,2}/\d{2,4}|(?<!\d)\d{4}-\d{2}-\d{2}|"
                       r"(?<![A-Za-z])(?:at|@))\s+(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)"
                       r"(?:\s*h(?:rs?)?)?(?![\d:/A-Za-z])", re.IGNORECASE)
"""'0740' as a time: after a date ('08/12/2026 0740') or after 'at' / '@' ('at 0740')."""
_HEADER_LINES = 3
_APART = 30
"""Minutes two times of day must differ by to be two encounters (not one note signed twice)."""
_SETTING = _words(r"(?:in|at) (?:the )?(?:clinic|office|ED|ER|emergency (?:department|room)|"
                  r"urgent care|bedside)")


@dataclass(frozen=True, slots=True)
class _Clock:
    minutes: int
    start: int
    end: int

    def label(self) -> str:
        return f"{self.minutes // 60:02d}:{self.minutes % 60:02d}"


def clock_times(text: str) -> list[_Clock]:
    """Times of day written in ``text`` ('07:40', '2:15 PM', '08/12/2026 0740', 'at 0740'),
    in order, as minutes after midnight."""
    found = []
    for pattern in (_CLOCK, _MILITARY):
        for match in pattern.finditer(text):
            hour, minute = int(match["h"]), int(match["m"])
            meridiem = (match.groupdict().get("ap") or "").lower()
            if meridiem and not 1 <= hour <= 12:
                continue
            if meridiem:
                hour = hour % 12 + (12 if meridiem == "p" else 0)
            found.append(_Clock(hour * 60 + minute, match.start("h"), match.end("m")))
    return sorted(found, key=lambda c: c.start)


def note_time(text: str) -> _Clock | None:
    """The time of day a note gives in its first lines (its header), or None."""
    seen, offset = 0, 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            times = clock_times(line)
            if times:
                first = times[0]
                return _Clock(first.minutes, offset + first.start, offset + first.end)
            seen += 1
            if seen >= _HEADER_LINES:
                return None
        offset += len(line)
    return None


def _first_naming(document: SourceDocument, day: date | None,
                  patterns: list[re.Pattern[str]], side: str | None = None
                  ) -> tuple[Sentence, re.Match[str]] | None:
    """The first usable sentence of ``document`` naming one of ``patterns`` (not negated,
    not at the side opposite ``side``)."""
    for _, sentence in _usable_sentences([document], day):
        mentions = site_mentions(sentence.text)
        for pattern in patterns:
            for match in pattern.finditer(sentence.text):
                if not is_negated(sentence.text, match.start(), match.end()) and \
                        not _at_other_side(sentence.text, match.start(), mentions, side):
                    return sentence, match
    return None


def _line_evidence(document: SourceDocument, clock: _Clock, value: str) -> Evidence:
    """The header line that carries a note's time, quoted."""
    start = document.text.rfind("\n", 0, clock.start) + 1
    end = document.text.find("\n", clock.end)
    end = len(document.text) if end < 0 else end
    while document.text[start].isspace():
        start += 1
    while document.text[end - 1].isspace():
        end -= 1
    return Evidence(quote=document.text[start:end], document_id=document.document_id,
                    start=start, end=end, fact=DISTINCT_SERVICE, value=value,
                    document_date=document.date, document_title=document.title)


def separate_encounter_notes(documents: list[SourceDocument], day: date | None, own: str,
                             partners: list[str], side: str | None = None) -> list[Evidence]:
    """Two notes of the day timed at least ``_APART`` minutes apart: one documents the denied
    service and none of its partners' own work, the other documents a partner (a 07:40
    clinic note with the aspiration, a 14:50 op note with the arthroscopy). Quoted: the
    denied service's sentence and the two notes' time lines."""
    if not partners:
        return []
    timed = [(d, t) for d in documents if (t := note_time(d.text)) is not None]
    own_pattern = [service_pattern(own)]
    specific = [service_pattern(p) for p in partners]
    broad = [service_pattern(p, generic=True) for p in partners]
    for here, here_time in timed:
        named = _first_naming(here, day, own_pattern, side)
        if named is None or _first_naming(here, day, specific) is not None:
            continue
        for there, there_time in timed:
            if there is here or abs(there_time.minutes - here_time.minutes) < _APART \
                    or _first_naming(there, day, broad) is None:
                continue
            value = (f"separate encounter (notes of {here_time.label()} and "
                     f"{there_time.label()})")
            sentence, match = named
            start, end = clause_around(sentence, match.start(), match.end())
            service = Evidence(quote=here.text[start:end], document_id=here.document_id,
                               start=start, end=end, fact=DISTINCT_SERVICE, value=value,
                               document_date=here.date, document_title=here.title)
            return _unique([service, _line_evidence(here, here_time, value),
                            _line_evidence(there, there_time, value)])
    return []


def _elsewhere_earlier_or_later(document: SourceDocument, sentence: Sentence
                                ) -> _Clock | None:
    """A time of day named in the sentence, with a clinic/ED setting, at least ``_APART``
    minutes from the note's own time ('aspirated in clinic at 0740' in a 14:50 op note)."""
    own_time = note_time(document.text)
    if own_time is None or not _SETTING.search(sentence.text):
        return None
    for clock in clock_times(sentence.text):
        if abs(clock.minutes - own_time.minutes) >= _APART:
            return clock
    return None


def _vague(done: _Done) -> bool:
    """Sites with a body part first ("left knee" before "left side")."""
    return done.site.part is None


_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("separate encounter", _words(
        r"separate (?:patient )?(?:encounter|session|visit|operative session)",
        r"(?:second|another|different) (?:encounter|visit|session)",
        r"(?:later|subsequently) (?:that|the same|same) (?:day|afternoon|evening)",
        r"return(?:ed|s)? (?:to (?:the )?(?:clinic|office|ED|ER|urgent care) )?"
        r"(?:later|that afternoon|that evening|the same (?:day|afternoon|evening))",
        r"(?:re-?presented|came back) (?:to (?:the )?(?:clinic|office|ED|ER) )?"
        r"(?:later|that afternoon|that evening)",
        r"earlier (?:today|this morning|that day|the same day) (?:in|at) (?:the )?"
        r"(?:clinic|office|ED|ER|urgent care)",
        r"seen in (?:the )?(?:clinic|office|ED|ER) (?:earlier|this morning)")),
    ("separate incision", _words(
        r"(?:separate|distinct|different|second|additional|another) (?:[\w.-]+ ){0,3}?"
        r"(?:incision|arthrotomy)s?")),
    ("separate portal", _words(
        r"(?:separate|distinct|different|second|additional|another) (?:[\w.-]+ ){0,2}?"
        r"portals?")),
    ("separate injury", _words(
        r"(?:separate|distinct|different|unrelated|second|additional|another) "
        r"(?:[\w.-]+ ){0,2}?(?:injury|injuries|wound|laceration|fracture)s?")),
)
"""What else makes a service distinct (REFERENCE.md §2b): the value each one is read as."""


def separate_markers(documents: list[SourceDocument], day: date | None, own: str
                     ) -> list[Evidence]:
    """A separate encounter, incision, portal or injury named in a sentence that documents
    the denied service, or right before or after one."""
    pattern = service_pattern(own)
    found: list[Evidence] = []
    for document in documents:
        listed = note_sentences(document.text)
        names = [_names_service(s, pattern) for s in listed]
        for index, sentence in enumerate(listed):
            near = any(names[max(0, index - 1):index + 2])
            if not near or not _usable(sentence, day):
                continue
            found += _marker_evidence(document, sentence)
    return found


def _names_service(sentence: Sentence, pattern: re.Pattern[str]) -> bool:
    return any(not is_negated(sentence.text, m.start(), m.end())
               for m in pattern.finditer(sentence.text))


def _marker_evidence(document: SourceDocument, sentence: Sentence) -> list[Evidence]:
    found = []
    elsewhere = _elsewhere_earlier_or_later(document, sentence)
    if elsewhere is not None:
        found.append(Evidence(quote=sentence.text, document_id=document.document_id,
                              start=sentence.start, end=sentence.end, fact=DISTINCT_SERVICE,
                              value=f"separate encounter ({elsewhere.label()})",
                              document_date=document.date, document_title=document.title))
    for value, pattern in _MARKERS:
        for match in pattern.finditer(sentence.text):
            if is_negated(sentence.text, match.start(), match.end()):
                continue
            start, end = clause_around(sentence, match.start(), match.end())
            found.append(Evidence(quote=document.text[start:end],
                                  document_id=document.document_id, start=start, end=end,
                                  fact=DISTINCT_SERVICE, value=value,
                                  document_date=document.date,
                                  document_title=document.title))
            break
    return found


def _unique(items: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, int | None, int | None]] = set()
    out = []
    for item in items:
        key = (item.document_id, item.start, item.end)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


_COMPARTMENT = re.compile(r"\b(?:separate|different|distinct|other|another)\s+compartments?\b|"
                          r"\bcompartments?\b[^.;]{0,60}\bseparate\b", re.IGNORECASE)


def names_separate_compartment(chart: ChartBundle, denial: Denial) -> bool:
    """Whether the same-day notes call the service a separate compartment (which NCCI does
    not treat as a separate site)."""
    return any(_COMPARTMENT.search(d.text) for d in same_day_documents(chart, denial))


# --- the NCCI finding ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NcciFinding:
    """What the PTP table says about the denied code and its partners on the day."""

    code: str
    service_date: date
    claim_partners: tuple[str, ...]
    chart_partners: tuple[str, ...]
    """Documented in the same-day notes only (not on this claim), paired by an edit."""
    edits: tuple[PtpEdit, ...]
    """Active edits with the denied code in column 2."""
    reverse: tuple[PtpEdit, ...]
    """Active edits with the denied code in column 1 (they deny the partner instead)."""

    @property
    def edit(self) -> PtpEdit | None:
        """The edit that decides: indicator 0 before 1."""
        return min(self.edits, key=lambda e: e.modifier_indicator) if self.edits else None

    @property
    def partners(self) -> tuple[str, ...]:
        """Every partner code, claim first."""
        return self.claim_partners + self.chart_partners

    def where(self, code: str) -> str:
        """Where a partner was found, for the auditor."""
        if code in self.claim_partners:
            return f"{code} is on this claim"
        return (f"{code} is not on this claim; the notes of {self.service_date} document "
                "it (a claim of the same day was likely processed first)")


def ncci_finding(denial: Denial, chart: ChartBundle, table: PtpTable) -> NcciFinding | None:
    """Look the denied code up against each partner (None without a code or a date)."""
    own = _own_code(denial)
    day = denial.service_date
    if own is None or day is None:
        return None
    on_claim = tuple(dict.fromkeys(c for c in denial.claim_procedure_codes if c != own))
    in_notes = tuple(c for c in documented_codes(chart, denial)
                     if c != own and c not in on_claim
                     and table.edit_for(c, own, day) is not None)
    edits: list[PtpEdit] = []
    reverse: list[PtpEdit] = []
    for partner in (*on_claim, *in_notes):
        edit = table.edit_for(partner, own, day)
        if edit is not None:
            (edits if edit.column_2 == own else reverse).append(edit)
    return NcciFinding(own, day, on_claim, in_notes, tuple(edits), tuple(reverse))


def _finding(ctx: CheckContext) -> NcciFinding | None:
    return ncci_finding(ctx.denial, ctx.chart, ctx.ncci or PtpTable.default())


def _edit_label(edit: PtpEdit) -> str:
    return (f"NCCI PTP {edit.column_1}/{edit.column_2} modifier indicator "
            f"{edit.modifier_indicator}")


_MENISCECTOMY = frozenset({"29880", "29881"})


def _descriptor_note(edit: PtpEdit) -> str:
    """The CPT 2012 reason behind 29877 with 29880/29881 (REFERENCE.md §2b)."""
    if edit.column_2 == "29877" and edit.column_1 in _MENISCECTOMY:
        return ("; since 2012 the 29880/29881 descriptors include chondroplasty in the same "
                "or a separate compartment, so 29877 is not reported with them on the same "
                "knee (AAOS CodeX 5/2012)")
    return ""


# --- checks ----------------------------------------------------------------------------

EM_CODES = ("99202-99499",)
"""Evaluation and management codes: NCCI bypasses their edits with 25 or 57, not 59."""


def em_line(ctx: CheckContext) -> str | None:
    """The denied line is an E/M service (modifier 25/57 territory, REFERENCE.md §2d)."""
    own = _own_code(ctx.denial)
    if own is None or not code_in(own, EM_CODES):
        return None
    return f"{own} is an evaluation and management service"


def ncci_no_bypass(ctx: CheckContext) -> str | None:
    """An active PTP edit denies this code with a partner at modifier indicator 0."""
    finding = _finding(ctx)
    edit = finding.edit if finding else None
    if finding is None or edit is None or edit.modifier_indicator != "0":
        return None
    return (f"{_edit_label(edit)} ({edit.rationale or 'no rationale given'}); "
            f"{finding.where(edit.column_1)}{_descriptor_note(edit)}")


def partner_unknown(ctx: CheckContext) -> str | None:
    """No other code on the claim, and none in the same-day notes that an edit pairs."""
    finding = _finding(ctx)
    if finding is None:
        return "the denied line has no procedure code or no date of service"
    if finding.partners:
        return None
    return (f"{finding.code} is the only code on this claim, and the notes of "
            f"{finding.service_date} document no other procedure code that an NCCI PTP "
            "edit pairs with it")


def edit_other_way(ctx: CheckContext) -> str | None:
    """The only edits put the denied code in column 1: NCCI denies the partner, not it."""
    finding = _finding(ctx)
    if finding is None or finding.edits or not finding.reverse:
        return None
    edit = finding.reverse[0]
    return (f"{_edit_label(edit)} denies {edit.column_2}, not {edit.column_1}; "
            f"{finding.where(edit.column_2)}")


def modifier_not_billed(ctx: CheckContext) -> str | None:
    """Indicator 1, a distinct service documented, but no NCCI-associated modifier billed."""
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
    """Indicator 1 and no distinct site, encounter, incision or injury in the notes."""
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


# --- letters -------------------------------------------------------------------------

def ncci_letter_context(denial: Denial, chart: ChartBundle, table: PtpTable
                        ) -> dict[str, object]:
    """The ``ncci`` value the argument template reads once the letter context has it:
    ``{"code", "partners", "edit": {column_1, column_2, modifier_indicator, rationale} or
    None}`` (see the playbook's report: a shared change to agent/letters/render.py)."""
    finding = ncci_finding(denial, chart, table)
    if finding is None:
        return {"code": _own_code(denial) or "", "partners": [], "edit": None}
    edit = finding.edit
    return {"code": finding.code, "partners": list(finding.partners),
            "edit": None if edit is None else {
                "column_1": edit.column_1, "column_2": edit.column_2,
                "modifier_indicator": edit.modifier_indicator, "rationale": edit.rationale}}


def register(extractors: ExtractorRegistry, checks: CheckRegistry) -> None:
    """Add this playbook's extractors and checks."""
    extractors.register("distinct_procedure_denied_service", denied_service)
    extractors.register("distinct_procedure_distinct_service", distinct_service)
    checks.register("distinct_procedure_em_line", em_line)
    checks.register("distinct_procedure_ncci_no_bypass", ncci_no_bypass)
    checks.register("distinct_procedure_partner_unknown", partner_unknown)
    checks.register("distinct_procedure_edit_other_way", edit_other_way)
    checks.register("distinct_procedure_modifier_not_billed", modifier_not_billed)
    checks.register("distinct_procedure_not_distinct", not_distinct)
