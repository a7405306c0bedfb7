"""The checkable facts of a text: numbers, dates, codes and dollar amounts, normalised.

Used to check that every one of them in the model's narrative appears in a trusted source
(the claim, the evidence, the playbook's citations). Both sides go through the same
tokenizer, so "08/24/26", "Aug 24, 2026" and "2026-08-24" are one date and "$1,200.00"
and "1200" one amount.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul",
                                        "aug", "sep", "oct", "nov", "dec"), start=1)}
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")
_NAMED = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
                    r"(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.IGNORECASE)
_TOKEN = re.compile(r"\$?[A-Za-z]*\d[A-Za-z0-9]*(?:[.,]\d+)*")


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def fact_tokens(text: str) -> set[str]:
    """Every date (``date:YYYY-MM-DD``), number (``num:58``, ``num:1200``) and code
    (``code:G0283``, ``code:E11.9``) in ``text``."""
    found: set[str] = set()
    rest = text
    for pattern, order in ((_ISO, "ymd"), (_US, "mdy"), (_NAMED, "named")):
        for match in pattern.finditer(rest):
            a, b, c = match.groups()
            if order == "ymd":
                iso = _date(int(a), int(b), int(c))
            elif order == "mdy":
                year = int(c) + 2000 if len(c) == 2 else int(c)
                iso = _date(year, int(a), int(b))
            else:
                iso = _date(int(c), _MONTHS[a[:3].lower()], int(b))
            if iso:
                found.add("date:" + iso)
        rest = pattern.sub(" ", rest)
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
    return {"num": "the number", "date": "the date", "code": "the code"}[kind] + " " + value
