"""The checkable facts of a text: numbers, dates, codes and dollar amounts, normalised.

Used to check that every one of them in the model's narrative appears in a trusted source
(the claim, the evidence, the playbook's citations). Both sides go through the same
tokenizer, and the same date reader as the playbooks (agent.evidence.dates), so
"08/24/26", "Aug 24, 2026" and "2026-08-24" are one date, "$1,200.00" and
"1200" one amount, "fifty-eight" and "58" one number, "ASA IV" and "ASA 4" one class.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from agent.evidence.dates import DATE_RE, parse_date

_TOKEN = re.compile(r"\$?[A-Za-z]*\d[A-Za-z0-9]*(?:[.,]\d+)*")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_NAMES_NOT_VALUES = re.compile(
    r"\bICD-?(?:9|10)(?:-(?:CM|PCS))?\b|\bHb\s?A1c\b|\bA1c\b|\bX12\b|\bSpO2\b|\bCO2\b|"
    r"\b(?:vitamin\s)?B12\b|\bCPT\b|\bHCPCS\b|\bT[1-4]\b(?=-weighted)", re.IGNORECASE)
"""Names that contain digits but state no value ("HbA1c", "ICD-10")."""

_UNITS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
          "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_NUMBER_WORDS = re.compile(
    r"\b(?:(" + "|".join(_TENS) + r")(?:[- ](" + "|".join((*_UNITS, "one")) + r"))?|(" +
    "|".join((*_TEENS, *_UNITS)) + r"))\b", re.IGNORECASE)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6}
_ROMAN_CLASS = re.compile(r"\b(ASA|P\.?S\.?|class|stage|grade|status|category)(\s*(?:class"
                          r"|status)?\s*[:#-]?\s*)(VI|IV|V|I{1,3})\b(?!-)", re.IGNORECASE)


def _spelled(match: re.Match[str]) -> str:
    tens, unit, single = match.groups()
    if single:
        return str(_TEENS.get(single.lower()) or _UNITS[single.lower()])
    return str(_TENS[tens.lower()] + (_UNITS.get((unit or "").lower()) or
                                      (1 if (unit or "").lower() == "one" else 0)))


def numerals(text: str) -> str:
    """Normalise ``text`` into what a value check reads.

    Numbers spelled out ("fifty-eight") and classes in Roman numerals ("ASA IV") are written
    in digits, and names that hold digits but state no value ("HbA1c", "ICD-10") are blanked.
    """
    rest = _NAMES_NOT_VALUES.sub(" ", text)
    rest = _ROMAN_CLASS.sub(lambda m: f"{m.group(1)}{m.group(2)}{_ROMAN[m.group(3).lower()]}",
                            rest)
    return _NUMBER_WORDS.sub(_spelled, rest)


def fact_tokens(text: str) -> set[str]:
    """Every date, number and code in ``text``, as tokens.

    Dates come out as ``date:YYYY-MM-DD`` (and ``md:MM-DD`` for each), numbers as
    ``num:58`` or ``num:1200``, and codes as ``code:G0283`` or ``code:E11.9``.
    """
    found: set[str] = set()
    rest = numerals(text)
    for match in DATE_RE.finditer(rest):
        written = parse_date(match.group())
        if written is not None:
            found |= {"date:" + written.isoformat(), "md:" + written.isoformat()[5:]}
        else:  # "on August 7": a date without its year (2000 has every day, Feb 29 too)
            day = parse_date(match.group(), 2000)
            if day is not None:
                found.add("md:" + day.isoformat()[5:])
    rest = _ORDINAL.sub(r"\1", DATE_RE.sub(" ", rest))
    for match in _TOKEN.finditer(rest):
        token = match.group().lstrip("$").rstrip(".,")
        number = token.replace(",", "")
        try:
            value = Decimal(number)
        except InvalidOperation:
            found.add("code:" + token.upper())
            continue
        found.add("num:" + format(value.normalize(), "f"))  # 8.20 -> 8.2, 1.2E+3 -> 1200
    return found


def tokens_of(texts: Iterable[str | None]) -> set[str]:
    """The union of :func:`fact_tokens` over several texts."""
    found: set[str] = set()
    for text in texts:
        if text:
            found |= fact_tokens(text)
    return found


def describe(token: str) -> str:
    """How a token is named in a repair request: 'the number 12.4', 'the date 2025-01-01'."""
    kind, value = token.split(":", 1)
    return {"num": "the number", "date": "the date", "md": "the date (month-day)",
            "code": "the code"}[kind] + " " + value
