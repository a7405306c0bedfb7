"""Where every number, date and code in a letter may come from.

A letter may state only what it was given: the claim (every field of its denials, amounts
as the letter formats them), the evidence (quotes, values, spans, the cited documents'
titles and dates), the chart facts it prints (diagnoses, the patient's birth date), the
playbook (title, citations, request, attachments), the configuration (letter settings,
the NCCI edits of the claim's codes), the CARC/RARC descriptions it prints, dates the
system computed (the letter date, the appeal deadline) and the templates' own text.
:class:`Provenance` collects those; :meth:`Provenance.untraceable` lists the tokens of a
letter found in none of them.

A token is a run of letters and digits joined by ``. , / : -`` that holds a digit:
``12.4``, ``2025-01-01``, ``CO-4``, ``HM-PA-558201``, ``1,980.00``. Dates match by value
(``08/01/26`` is 2026-08-01), so a date written in another format is still traced, and a
date never stated anywhere is not. A compound token not found whole passes when each of
its parts is traceable (``00840-AA-P3``, ``99212-99215``), but a date must match whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.resources import resource_dir

_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]+(?:[.,/:\-][A-Za-z0-9]+)*")
_PARTS = re.compile(r"[\-/,]")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` that hold a digit (see the module docstring)."""
    return [t for t in _TOKEN.findall(text) if any(c.isdigit() for c in t)]


def as_date(token: str) -> date | None:
    """The date a token writes (``2026-08-01``, ``08/01/26``, ``8/1/2026``), if any."""
    iso = _ISO.match(token)
    us = _US.match(token)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if us:
            year = int(us[3]) + (2000 if len(us[3]) == 2 else 0)
            return date(year, int(us[1]), int(us[2]))
    except ValueError:
        return None
    return None


def money_forms(value: Decimal) -> list[str]:
    """How an amount may be written: as given, ``1,980.00`` (the letter's format), plain."""
    return [str(value), f"{value:,.2f}", f"{value:.2f}", f"{value.normalize():f}"]


class Provenance:
    """The tokens and dates a letter may use."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.dates: set[date] = set()

    def add_text(self, text: str) -> None:
        """Every token of ``text`` (and the dates they write)."""
        for token in tokens(text):
            self.tokens.add(token.upper())
            day = as_date(token)
            if day is not None:
                self.dates.add(day)

    def add(self, value: Any) -> None:
        """A value of any shape: text, numbers, dates, models, mappings and lists."""
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, BaseModel):
            self.add(value.model_dump())
        elif isinstance(value, Mapping):
            for item in value.values():
                self.add(item)
        elif isinstance(value, str):
            self.add_text(value)
        elif isinstance(value, Decimal):
            for form in money_forms(value):
                self.add_text(form)
        elif isinstance(value, datetime | date):
            day = value.date() if isinstance(value, datetime) else value
            self.dates.add(day)
            self.add_text(day.isoformat())
        elif isinstance(value, int | float):
            self.add_text(str(value))
        elif isinstance(value, Iterable):
            for item in value:
                self.add(item)

    def traceable(self, token: str) -> bool:
        """Whether a letter token comes from somewhere allowed."""
        upper = token.upper()
        day = as_date(token)
        if day is not None:
            return day in self.dates
        if upper in self.tokens:
            return True
        parts = [p for p in _PARTS.split(upper) if p]
        if len(parts) < 2:
            return False
        return all(not any(c.isdigit() for c in p) or self.traceable(p) for p in parts)

    def untraceable(self, letter: str) -> list[str]:
        """The letter's tokens found nowhere allowed, in order, each once."""
        return list(dict.fromkeys(t for t in tokens(letter) if not self.traceable(t)))


@cache
def template_text(directory: Path | None = None) -> str:
    """The literal text of every letter template (numbers the templates write themselves,
    such as "53 minutes or more" or "2024-07-01")."""
    root = directory or resource_dir("templates")
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.j2")))
