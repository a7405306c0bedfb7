"""Where every number, date and code in a letter may come from.

A letter may state only what it was given: the claim (the fields a letter prints, amounts
as the letter formats them), the evidence (quotes and values), the cited documents'
titles and dates, the chart facts it prints (the patient's diagnoses and birth date, read
from the case's own resources), the playbook (title, citations, request, attachments),
the configuration (letter settings, the NCCI edits of the claim's codes), the CARC/RARC
descriptions it prints, dates the system computed (the letter date, the appeal deadline)
and the static text of the templates this letter was rendered from (the base letter, the
playbook's argument template, and the narrative template when the model wrote the
argument): text outside Jinja tags and string literals inside them, never comments.
:class:`Provenance` collects those; :meth:`Provenance.untraceable` lists the tokens of a
letter found in none of them.

A token is a run of letters and digits joined by ``. , / : -`` that holds a digit:
``12.4``, ``2025-01-01``, ``CO-4``, ``HM-PA-558201``. Dates match by value (``08/01/26`` is
2026-08-01), so a date written in another format is still traced, and a date never stated
anywhere is not. An amount (``$25``, ``$1,980.00``, ``25,000``) is one token and must be an
amount of the sources, whole: it is never split into ``25`` and ``000``. Another compound
token not found whole passes when each of its parts is traceable (``00840-AA-P3``), but a
date or an amount must match whole.

Small numbers the letter writes about itself are not provenance: evidence numbers are
allowed only where the letter uses them as such (``(evidence 2)``, ``evidence 2 and 3``,
``evidence 1 to 5``, the ``2.`` of a numbered evidence item) and only up to the letter's
evidence count, and a ``characters A-B`` span only when it is the span of one of the
letter's quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from agent.resources import resource_dir
from evals.letters import EVIDENCE

_TOKEN = re.compile(r"(?<![A-Za-z0-9])(\$?)([A-Za-z0-9]+(?:[.,/:\-][A-Za-z0-9]+)*)")
_AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PARTS = re.compile(r"[\-/]|,(?!\d{3}(?!\d))")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")

_EVIDENCE_REF = re.compile(
    r"\b(evidence) (\d+(?:(?:, | and | to )\d+)*)\b", re.IGNORECASE)
_REF_NUMBER = re.compile(r"\d+")
_LIST_ITEM = re.compile(r"^(\d+)(\. )", re.MULTILINE)
_SPAN = re.compile(r"\b(characters) (\d+)-(\d+)\b")

LETTER_TEMPLATE = "letters/appeal.md.j2"
NARRATIVE_TEMPLATE = "arguments/_narrative.md.j2"


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` that hold a digit (see the module docstring); an amount
    keeps its ``$``."""
    return [dollar + token for dollar, token in _TOKEN.findall(text) if _has_digit(token)]


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


def as_amount(token: str) -> Decimal | None:
    """The value of an amount token (``$25``, ``$1,980.00``, ``25,000``), else None."""
    text = token.removeprefix("$")
    if not (token.startswith("$") or _AMOUNT.fullmatch(text)):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def money_forms(value: Decimal) -> list[str]:
    """How an amount may be written: as given, ``1,980.00`` (the letter's format), plain."""
    return [str(value), f"{value:,.2f}", f"{value:.2f}", f"{value.normalize():f}"]


class Provenance:
    """The tokens, dates and amounts a letter may use."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.dates: set[date] = set()
        self.amounts: set[Decimal] = set()

    def add_text(self, text: str) -> None:
        """Every token of ``text`` (and the dates and amounts they write)."""
        for token in tokens(text):
            self.tokens.add(token.removeprefix("$").upper())
            day = as_date(token)
            if day is not None:
                self.dates.add(day)
            amount = as_amount(token)
            if amount is not None:
                self.amounts.add(amount)

    def add_money(self, value: Decimal) -> None:
        """An amount of the claim: its value and the forms a letter writes it in."""
        self.amounts.add(value)
        for form in money_forms(value):
            self.add_text(form)

    def add(self, value: Any) -> None:
        """A value of any shape: text, numbers, dates, models, mappings and lists.
        Decimals are amounts."""
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
            self.add_money(value)
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
        day = as_date(token)
        if day is not None:
            return day in self.dates
        amount = as_amount(token)
        if amount is not None:
            return amount in self.amounts or (not token.startswith("$")
                                             and token.upper() in self.tokens)
        upper = token.upper()
        if upper in self.tokens:
            return True
        parts = [p for p in _PARTS.split(upper) if p]
        if len(parts) < 2:
            return False
        return all(not _has_digit(p) or self.traceable(p) for p in parts)

    def untraceable(self, letter: str, evidence_spans: Iterable[tuple[int, int]] = (),
                    evidence_count: int = 0) -> list[str]:
        """The letter's tokens found nowhere allowed, in order, each once. Evidence
        numbers up to ``evidence_count`` and the spans of the letter's quotes are allowed
        where the letter uses them as such (module docstring)."""
        spans = set(evidence_spans)
        bad: list[str] = []

        def evidence_number(match: re.Match[str]) -> str:
            # "evidence 4", "evidence 2 and 3", "evidence 1, 3 and 6", "evidence 1 to 5"
            if not all(1 <= int(n) <= evidence_count
                       for n in _REF_NUMBER.findall(match[2])):
                bad.append(match[0])
            return match[1]

        def item_number(match: re.Match[str]) -> str:
            if 1 <= int(match[1]) <= evidence_count:
                return match[2]
            bad.append(f"{match[1]}.")
            return match[2]

        def span(match: re.Match[str]) -> str:
            if (int(match[2]), int(match[3])) not in spans:
                bad.append(match[0])
            return match[1]

        head, found, rest = letter.partition(f"\n## {EVIDENCE}\n")
        if found:  # the numbered items: only in the evidence section
            body, heading, tail = rest.partition("\n## ")
            letter = head + found + _LIST_ITEM.sub(item_number, body) + heading + tail
        text = _EVIDENCE_REF.sub(evidence_number, letter)
        text = _SPAN.sub(span, text)
        bad += [t for t in tokens(text) if not self.traceable(t)]
        return list(dict.fromkeys(bad))


@cache
def template_text(name: str, directory: Path | None = None) -> str:
    """The static text of one template: what it writes outside Jinja tags and the string
    literals inside them (``{% set ranges = {"90837": "53 minutes or more"} %}``), never
    its comments."""
    root = directory or resource_dir("templates")
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    source = (root / name).read_text(encoding="utf-8")
    return "\n".join(str(token.value) for token in env.lexer.tokenize(source, name)
                     if token.type in ("data", "string"))
