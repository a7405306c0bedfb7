"""Dates as clinicians, clearinghouses and letters write them.

Forms read: 08/20/26, 8/20, 2026-08-20, 08-20-2026, Aug 20, August 20th, 2026.

One reader for every part that needs one (the administrative playbooks' auth periods and
filing logs, the LLM guardrails' date check), so they agree on what a date is.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7,
           "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
DATE_CORE = (r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{4}|/\d{2})?"
             r"|\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})"
             r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
             r"(?:st|nd|rd|th)?(?:,?\s+\d{4})?)(?![\d/])")
"""A date as written, with no boundary on its left (for "08/20-09/19" ranges)."""
DATE = r"(?<![\d/.-])" + DATE_CORE
"""A date as written (not inside a longer number such as an authorization or batch id)."""
DATE_RE = re.compile(DATE, re.IGNORECASE)


def parse_date(text: str, default_year: int | None = None) -> date | None:
    """A date from one :data:`DATE` match.

    A missing year is ``default_year`` (None when there is no default).
    """
    text = text.strip().lower()
    named = re.fullmatch(r"([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?",
                         text)
    if named:
        month = _MONTHS.get(named.group(1))
        year = int(named.group(3)) if named.group(3) else default_year
        return _day(year, month, int(named.group(2)))
    parts = [int(p) for p in re.split(r"[/-]", text) if p.isdigit()]
    if len(parts) == 3 and parts[0] > 31:
        return _day(parts[0], parts[1], parts[2])  # 2026-08-20
    if len(parts) == 3:
        year = parts[2] + 2000 if parts[2] < 100 else parts[2]
        return _day(year, parts[0], parts[1])
    if len(parts) == 2:
        return _day(default_year, parts[0], parts[1])
    return None


def _day(year: int | None, month: int | None, day: int) -> date | None:
    """The date, or None when a part is missing or out of range (13/40/26)."""
    if year is None or month is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
