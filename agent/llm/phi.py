"""Identifiers hidden before anything is sent to a model, in every spelling.

Identifiers come from structured data first: the claim (patient name, member id, birth
date, claim numbers) and the chart (:class:`~agent.ehr.model.PatientRecord`: name, other
names, birth date, identifiers, address, telecom, contacts and related persons). Each is
hidden in every common spelling: names in any case, with or without the hyphen or
apostrophe of a compound; the birth date as ISO, m/d/y or d.m.y (2- or 4-digit year,
padded or not, any of ``/ . -`` or a space), ``24 Mar 1987``, ``March 24th, 1987``,
``24-Mar-1987``, ``19870324``...; identifiers with dashes, spaces or dots inserted or
removed, any case (and their digits alone); street addresses with ``Road``/``Rd`` and the
like; phones with or without parentheses, separators or ``+1``. Patterns are the backstop
for anyone's identifiers: SSNs (dashed, spaced, dotted, or nine digits after "SSN" /
"social"), phones, e-mail addresses, dates after a birth word ("DOB", "born", "date of
birth", "d.o.b.") and labelled record numbers ("MRN", "member id", "acct #").

Matching reads a folded view of the text (:func:`agent.notes.normalize.fold`, character by
character so offsets map back: look-alike letters, accents, invisible characters); what is
replaced is the original substring, and a placeholder restores exactly that.

A name that is also an ordinary word ("Will", "May") or shorter than three letters is
hidden in capitals, after a title ("Mrs. May") or next to another name part ("May
Calloway"), never alone in lower case: "the patient may" stays readable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.llm.vocabulary import is_ordinary
from agent.notes.normalize import fold

if TYPE_CHECKING:
    from agent.letters.render import LetterInput

KINDS = ("NAME", "ID", "DOB", "PHONE", "SSN", "EMAIL")
"""Placeholder kinds (addresses and postal codes are hidden as ``ID``)."""

PLACEHOLDER = re.compile(r"\[(?:NAME|ID|DOB|PHONE|SSN|EMAIL)_\d+\]")
"""What a placeholder looks like."""

_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_ANY_MONTH = "(?:" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS) + r"|sept)\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_NUMERIC_SEP = r"(?:\s*[./\-]\s*|\s+)"
_TEXT_SEP = r"[\s./,\-]*"
_ANY_DATE = (
    rf"{_B}(?:\d{{4}}{_NUMERIC_SEP}\d{{1,2}}{_NUMERIC_SEP}\d{{1,2}}"
    rf"|\d{{1,2}}{_NUMERIC_SEP}\d{{1,2}}{_NUMERIC_SEP}(?:\d{{4}}|\d{{2}})"
    rf"|\d{{8}}"
    rf"|\d{{1,2}}{_ORDINAL}(?:\s+of)?{_TEXT_SEP}{_ANY_MONTH}{_TEXT_SEP}'?(?:\d{{4}}|\d{{2}})"
    rf"|{_ANY_MONTH}{_TEXT_SEP}\d{{1,2}}{_ORDINAL}{_TEXT_SEP}'?(?:\d{{4}}|\d{{2}})){_E}")
_BIRTH_WORD = (r"(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bborn\b"
               r"|\bbirthday\b|\bb-?day\b)")

_STREET_WORDS = {
    "street": "st", "avenue": "ave", "road": "rd", "drive": "dr", "lane": "ln",
    "boulevard": "blvd", "court": "ct", "place": "pl", "terrace": "ter", "circle": "cir",
    "highway": "hwy", "parkway": "pkwy", "square": "sq", "trail": "trl", "apartment": "apt",
    "suite": "ste", "building": "bldg", "floor": "fl", "north": "n", "south": "s",
    "east": "e", "west": "w", "mount": "mt", "saint": "st", "route": "rte", "number": "no",
}
_STREET_ALTERNATIVES: dict[str, tuple[str, ...]] = {}
for _long, _short in _STREET_WORDS.items():
    _STREET_ALTERNATIVES.setdefault(_long, (_long, _short))
    _STREET_ALTERNATIVES[_short] = tuple(dict.fromkeys(
        (*_STREET_ALTERNATIVES.get(_short, (_short,)), _long)))

_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|mister|missus)\.?\s+"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: int = 0
    accept: Callable[[str], bool] | None = None
    """An extra test on the matched text (e.g. 'holds at least four digits')."""


def _has_digits(count: int) -> Callable[[str], bool]:
    return lambda text: sum(c.isdigit() for c in text) >= count


GENERIC_RULES: tuple[_Rule, ...] = (
    _Rule("EMAIL", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")),
    _Rule("SSN", re.compile(
        r"(?:\bssn\b|\bss\s?#|\bs\.s\.n\.?|\bsocial(?:\s+security)?(?:\s+(?:number|no\.?|"
        r"num|#))?|\bsoc\.?\s*sec\.?(?:\s*(?:no\.?|#))?)[^0-9\n]{0,12}?"
        r"(?<!\d)(\d{3}[\s.\-]?\d{2}[\s.\-]?\d{4})(?!\d)", re.IGNORECASE), 1),
    _Rule("SSN", re.compile(r"(?<![\w.\-/])\d{3}(?P<s>[\s.\-])\d{2}(?P=s)\d{4}(?![\w])")),
    _Rule("PHONE", re.compile(
        r"(?<![\w+])(?:\+?\s?1[\s.\-]?)?\(\s?\d{3}\s?\)[\s.\-]?\d{3}[\s.\-]?\d{4}(?!\w)")),
    _Rule("PHONE", re.compile(
        r"(?<![\w+.\-/])(?:\+?1[\s.\-])?\d{3}(?P<s>[\s.\-])\d{3}(?P=s)\d{4}(?![\w])")),
    _Rule("PHONE", re.compile(r"(?<![\w])\+\s?1[\s.\-]?\d{3}[\s.\-]?\d{3}[\s.\-]?\d{4}(?!\w)")),
    _Rule("PHONE", re.compile(
        r"(?:\bphone|\btel|\bcell|\bmobile|\bfax|\bcall(?:ed)?|\bph|\btext(?:ed)?|"
        r"\breach(?:ed)?\s+at)\b[^0-9\n]{0,15}?(?<!\d)(1?\d{10})(?!\d)", re.IGNORECASE), 1),
    _Rule("DOB", re.compile(_BIRTH_WORD + r"[\s:#\-]*(?:(?:is|was|on)\s+)?(" + _ANY_DATE +
                            ")", re.IGNORECASE), 1),
    _Rule("ID", re.compile(
        r"(?:\bmrn\b|\bmedical\s+record\s+(?:number|no\.?|#)|\bmember\s*(?:id|#|no\.?|"
        r"number)|\bsubscriber\s*(?:id|#|no\.?|number)|\bpolicy\s*(?:id|#|no\.?|number)|"
        r"\bacct\b\.?\s*(?:#|no\.?)?|\baccount\s*(?:#|no\.?|number)|\binsurance\s+id)"
        r"[\s:#.]*([A-Za-z0-9][A-Za-z0-9\-.]{3,24}[A-Za-z0-9])", re.IGNORECASE), 1,
        _has_digits(4)),
)
"""Identifiers of anyone, hidden wherever they appear."""


# --------------------------------------------------------------------------- building

def _letters(text: str) -> str:
    return "".join(c for c in fold(text) if c.isalnum())


def _name_parts(names: Iterable[str]) -> tuple[list[list[str]], set[str]]:
    """(compounds: each written name's parts in order, every part) from full names."""
    compounds: list[list[str]] = []
    parts: set[str] = set()
    for name in names:
        for word in re.split(r"[\s,]+", fold(name or "")):
            pieces = [p for p in re.split(r"[^\w]+|_", word) if p]
            if not pieces:
                continue
            compounds.append(pieces)
            parts.update(pieces)
    return compounds, parts


def _spaced(word: str) -> str:
    """A pattern for a word's letters.

    From four letters on, one separator between letters is allowed ("O t t o l i n e").
    """
    if len(word) < 4:
        return re.escape(word)
    return r"[\s.\-_*·]?".join(re.escape(c) for c in word)


def _name_rules(names: Iterable[str]) -> list[_Rule]:
    compounds, parts = _name_parts(names)
    rules: list[_Rule] = []
    strong = sorted((p for p in parts if len(p) >= 3 and not is_ordinary(p)), key=len,
                    reverse=True)
    weak = sorted(parts - set(strong), key=len, reverse=True)
    # A written compound ("Ferreira-Lindahl", "O'Hare"), separators optional.
    for pieces in compounds:
        if len(pieces) > 1:
            joined = r"[\s'\-]*".join(re.escape(p) for p in pieces)
            rules.append(_Rule("NAME", re.compile(_B + joined + _E, re.IGNORECASE)))
    # Two or more name parts in a row ("May Calloway", "calloway, will").
    any_part = "(?:" + "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True)) \
        + ")"
    if len(parts) > 1:
        rules.append(_Rule("NAME", re.compile(
            _B + any_part + r"(?:[\s,]+" + any_part + ")+" + _E, re.IGNORECASE)))
    if parts:
        rules.append(_Rule("NAME", re.compile(r"\b" + _TITLES + "(" + any_part + ")" + _E,
                                              re.IGNORECASE), 1))
    for part in strong:
        rules.append(_Rule("NAME", re.compile(_B + _spaced(part) + _E, re.IGNORECASE)))
    for part in weak:
        if len(part) >= 3:  # capitals only, as claims and chart headers write names
            rules.append(_Rule("NAME", re.compile(_B + re.escape(part.upper()) + _E)))
    return rules


def _date_rule(birth: dt.date) -> _Rule:
    y4, y2 = str(birth.year), f"{birth.year % 100:02d}"
    m, d = birth.month, birth.day
    month = f"0?{m}" if m < 10 else str(m)
    day = f"0?{d}" if d < 10 else str(d)
    year = f"(?:{y4}|'?{y2})"
    name = _MONTHS[m - 1]
    mon = f"(?:{name[:3]}(?:{name[3:]})?" + ("|sept" if m == 9 else "") + r")\.?"
    ordinal_day = day + _ORDINAL
    s, t = _NUMERIC_SEP, _TEXT_SEP
    forms = [
        f"{y4}{s}{month}{s}{day}", f"{month}{s}{day}{s}{year}", f"{day}{s}{month}{s}{year}",
        f"{y4}{m:02d}{d:02d}", f"{m:02d}{d:02d}{y4}", f"{d:02d}{m:02d}{y4}",
        f"{ordinal_day}(?:\\s+of)?{t}{mon}{t}{year}", f"{mon}{t}{ordinal_day}{t}{year}",
        f"{y4}{t}{mon}{t}{day}",
    ]
    return _Rule("DOB", re.compile(_B + "(?:" + "|".join(forms) + ")" + _E, re.IGNORECASE))


def _parse_date(text: str) -> dt.date | None:
    for form in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y%m%d", "%m-%d-%Y"):
        try:
            return dt.datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


def _flexible(chars: str, separators: str = r"[\s.\-/]?") -> str:
    return separators.join(re.escape(c) for c in chars)


def _id_rules(values: Iterable[str], keep: frozenset[str]) -> list[_Rule]:
    rules: list[_Rule] = []
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        chars = _letters(value)
        if len(chars) >= 5:
            rules.append(_Rule("ID", re.compile(_B + _flexible(chars) + _E, re.IGNORECASE)))
            digits = "".join(c for c in chars if c.isdigit())
            if len(digits) >= 6 and digits != chars and digits not in keep:
                rules.append(_Rule("ID", re.compile(r"(?<!\d)" + _flexible(digits) +
                                                    r"(?!\d)")))
        elif len(value.strip()) >= 2 and value.strip() not in keep:
            rules.append(_Rule("ID", re.compile(_B + re.escape(fold(value.strip())) + _E,
                                                re.IGNORECASE)))
    return rules


def _phone_rules(values: Iterable[str]) -> list[_Rule]:
    rules: list[_Rule] = []
    for value in {v for v in values if v}:
        digits = re.sub(r"\D", "", fold(value))
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) == 10:
            a, b, c = digits[:3], digits[3:6], digits[6:]
            rules.append(_Rule("PHONE", re.compile(
                rf"(?<![\d])(?:\+?\s?1[\s.\-]*)?\(?\s*{a}\s*\)?[\s.\-]*{b}[\s.\-]*{c}(?!\d)")))
        elif len(digits) >= 7:
            rules.append(_Rule("PHONE", re.compile(
                r"(?<!\d)" + _flexible(digits, r"[\s.\-()+]*") + r"(?!\d)")))
    return rules


def _address_rules(lines: Iterable[str], cities: Iterable[str], postal_codes: Iterable[str],
                   keep: frozenset[str]) -> list[_Rule]:
    rules: list[_Rule] = []
    sep = r"[\s.,#\-]*"
    for line in {x for x in lines if x}:
        tokens = re.findall(r"[0-9A-Za-z]+", fold(line))
        if not tokens:
            continue
        alternatives = ["(?:" + "|".join(re.escape(a) for a in
                                          _STREET_ALTERNATIVES.get(t.lower(), (t,))) + r")\.?"
                        for t in tokens]
        core = 2 if tokens[0].isdigit() and len(tokens) > 1 else len(tokens)
        if core == len(tokens) and len(tokens) == 1 and len(tokens[0]) < 4:
            continue  # "12": nothing to go on
        pattern = sep.join(alternatives[:core])
        tail = ""
        for alternative in reversed(alternatives[core:]):
            tail = f"(?:{sep}{alternative}{tail})?"
        rules.append(_Rule("ID", re.compile(_B + pattern + tail + _E, re.IGNORECASE)))
    for city in {x for x in cities if x}:
        tokens = re.findall(r"[0-9A-Za-z]+", fold(city))
        if not tokens:
            continue
        joined = r"[\s.\-]+".join(re.escape(t) for t in tokens)
        if all(is_ordinary(t) for t in tokens):  # "Reading", "Mobile": capitals only
            rules.append(_Rule("ID", re.compile(_B + joined.upper() + _E)))
        else:
            rules.append(_Rule("ID", re.compile(_B + joined + _E, re.IGNORECASE)))
    for code in {x for x in postal_codes if x}:
        chars = _letters(code)
        if chars.isdigit() and len(chars) in (5, 9):
            if chars[:5] not in keep:
                rules.append(_Rule("ID", re.compile(
                    rf"(?<!\d){chars[:5]}(?:[\s\-]?\d{{4}})?(?!\d)")))
        elif len(chars) >= 4:
            rules.append(_Rule("ID", re.compile(_B + _flexible(chars, r"[\s\-]?") + _E,
                                                re.IGNORECASE)))
    return rules


def _literal_rules(kind: str, values: Iterable[str]) -> list[_Rule]:
    return [_Rule(kind, re.compile(_B + re.escape(fold(v.strip())) + _E, re.IGNORECASE))
            for v in sorted({v for v in values if v and len(v.strip()) >= 2}, key=len,
                            reverse=True)]


# --------------------------------------------------------------------------- hiding

def _folded_view(text: str) -> tuple[str, list[int] | None]:
    """``text`` folded character by character, and where each folded character came from.

    The offsets are None when they are the same as the original's.
    """
    if text.isascii():
        return text, None
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = char if char.isascii() else fold(char)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    return "".join(pieces), origin


class Pseudonyms:
    """A letter's identifiers, hidden behind numbered placeholders.

    Anyone's SSN, phone, e-mail and birth date after a birth word are hidden too. Each
    placeholder stands for one exact surface form and is restored as written.

    ``values`` maps a kind to the values of that kind: ``NAME`` (names or name parts),
    ``ID`` (member ids, MRNs, claim numbers), ``DOB`` (birth dates, ISO or m/d/Y),
    ``PHONE``, ``EMAIL``, ``ADDRESS`` (street lines), ``CITY``, ``POSTAL``; ``names``
    adds names. ``keep`` lists codes that must stay visible (the claim's procedure codes),
    should a postal code or an identifier's digits spell one.
    """

    def __init__(self, values: Mapping[str, Sequence[str]],
                 names: Sequence[str] = (), keep: Iterable[str] = ()) -> None:
        kept = frozenset(keep)
        births = [b for v in values.get("DOB", ()) if v and (b := _parse_date(v))]
        unparsed = [v for v in values.get("DOB", ()) if v and not _parse_date(v)]
        rules: list[_Rule] = [
            *_literal_rules("EMAIL", values.get("EMAIL", ())),
            *_phone_rules(values.get("PHONE", ())),
            *_address_rules(values.get("ADDRESS", ()), values.get("CITY", ()),
                            values.get("POSTAL", ()), kept),
            *_id_rules(values.get("ID", ()), kept),
            *(_date_rule(b) for b in dict.fromkeys(births)),
            *_literal_rules("DOB", unparsed),
            *_name_rules([*values.get("NAME", ()), *names]),
            *GENERIC_RULES,
        ]
        self._rules = rules
        self._by_surface: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}

    @classmethod
    def for_letter(cls, letter: LetterInput) -> Pseudonyms:
        """The identifiers of this letter's patient and claim.

        They are taken from both the claim and the chart.
        """
        names: list[str] = []
        ids: list[str] = []
        births: list[dt.date] = []
        keep: list[str] = []
        for denial in letter.denials:
            patient = denial.patient
            names += [n for n in (patient.last_name, patient.first_name,
                                  patient.middle_name) if n]
            ids += [x for x in (patient.member_id, denial.claim_id,
                                denial.payer_claim_number) if x]
            if patient.date_of_birth:
                births.append(patient.date_of_birth)
            keep += denial.claim_procedure_codes
            if denial.procedure:
                keep += [c for c in (denial.procedure.code, denial.procedure.submitted_code,
                                     denial.procedure.original_code) if c]
        values: dict[str, list[str]] = {"ID": ids}
        chart = letter.patient
        phones: list[str] = []
        if chart is not None:
            names += [chart.family_name or "", *chart.given_names, *chart.other_names,
                      *chart.contact_names]
            ids += chart.identifiers
            if chart.birth_date:
                births.append(chart.birth_date)
            phones += [*chart.telecom, *chart.contact_telecom]
            values.update(ADDRESS=list(chart.address_lines), CITY=list(chart.cities),
                          POSTAL=list(chart.postal_codes))
        values["PHONE"] = [p for p in phones if "@" not in p]
        values["EMAIL"] = [p for p in phones if "@" in p]
        values["DOB"] = [b.isoformat() for b in births]
        return cls(values, [n for n in names if n], keep)

    def hide(self, text: str) -> str:
        """``text`` with every identifier replaced by its placeholder."""
        view, origin = _folded_view(text)
        spans: list[tuple[int, int, int, str]] = []  # start, end, -length, kind
        for rule in self._rules:
            for match in rule.pattern.finditer(view):
                a, b = match.span(rule.group)
                if a >= b or (rule.accept and not rule.accept(match.group(rule.group))):
                    continue
                if origin is not None:
                    a, b = origin[a], origin[b - 1] + 1
                spans.append((a, b, a - b, rule.kind))
        if not spans:
            return text
        spans.sort()
        merged: list[tuple[int, int, str]] = []
        for a, b, _, kind in spans:  # overlapping matches: one span, the longest's kind
            if merged and a < merged[-1][1]:
                start, end, last_kind = merged[-1]
                longer = b - a > end - start
                merged[-1] = (start, max(end, b), kind if longer else last_kind)
            else:
                merged.append((a, b, kind))
        out: list[str] = []
        at = 0
        for a, b, kind in merged:
            out += [text[at:a], self._placeholder(kind, text[a:b])]
            at = b
        out.append(text[at:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """Placeholders back to the exact text they hid."""
        for placeholder, surface in self._by_placeholder.items():
            text = text.replace(placeholder, surface)
        return text

    def _placeholder(self, kind: str, surface: str) -> str:
        if surface not in self._by_surface:
            number = sum(1 for p in self._by_placeholder if p.startswith(f"[{kind}_")) + 1
            placeholder = f"[{kind}_{number}]"
            self._by_surface[surface] = placeholder
            self._by_placeholder[placeholder] = surface
        return self._by_surface[surface]


# --------------------------------------------------------------------------- stored text

_PROBLEM_CODES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("identifier", re.compile(r"placeholder|identifier")),
    ("injection", re.compile(r"instruction")),
    ("negation", re.compile(r"without the negation|drops? (?:a|the|its) negation")),
    ("quotes", re.compile(r"\bquot")),
    ("stance", re.compile(r"reviewer|against the appeal|argues|concedes?|addresses")),
    ("polarity", re.compile(r"polarity|negat|opposite")),
    ("values", re.compile(r"\bstates\b|\bnumbers?\b|\bvalues?\b|\bdates?\b|\bcodes?\b")),
    ("facts", re.compile(r"fact id|\bcites?\b|\bfacts?\b")),
    ("grounding", re.compile(r"\bwords?\b|not in this claim|ground")),
    ("shape", re.compile(r"paragraph|too long|link|markup|empty|plain prose")),
)
_QUOTED_PARTS = re.compile(r'"[^"]*"|“[^”]*”|\([^)]*\)|:[^;]*(?:;|$)')


def problem_code(problem: str) -> str:
    """The fixed code of a check's problem (``rejected: values``).

    Only what the check says is read, not what it quotes or lists from the reply; the
    problem's text is never kept.
    """
    said = _QUOTED_PARTS.sub(" ", problem).lower()
    for code, pattern in _PROBLEM_CODES:
        if pattern.search(said):
            return f"rejected: {code}"
    return "rejected: checks"
