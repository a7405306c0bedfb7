"""Parsing X12 element values (amounts, dates, quantities) strictly and fast.

Each parser raises :class:`ValueError` with no value in its message; the reader turns that
into an :class:`~agent.x12.errors.X12ParseError` that names the segment and element.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

_MAX_DIGITS = 18
"""X12 caps a decimal (R) element at 18 digits, not counting sign and decimal point."""

AMOUNT_CACHE: dict[str, Decimal] = {}
AMOUNT_CACHE_LIMIT = 20_000

DATE_CACHE: dict[str, date] = {}
DATE_CACHE_LIMIT = 20_000


def parse_amount(text: str) -> Decimal:
    """An X12 ``R`` (decimal) value: optional minus, digits, at most one decimal point.

    Exponents, NaN and infinities are rejected: no payer sends them, and a Decimal with a
    huge exponent would overflow later arithmetic. Results are memoised (bounded): charges
    and allowed amounts repeat across a remittance, and a Decimal is immutable.
    """
    cached = AMOUNT_CACHE.get(text)
    if cached is not None:
        return cached
    digits = text[1:] if text[:1] == "-" else text
    if not digits or not digits.isascii() or not digits.replace(".", "", 1).isdigit() \
            or len(digits) > _MAX_DIGITS + 1:
        raise ValueError("not a valid amount")
    value = Decimal(text)
    if len(AMOUNT_CACHE) < AMOUNT_CACHE_LIMIT:
        AMOUNT_CACHE[text] = value
    return value


def parse_optional_amount(text: str) -> Decimal | None:
    """Like :func:`parse_amount`, but an empty element is ``None``."""
    return parse_amount(text) if text else None


def parse_date(text: str) -> date:
    """An X12 ``DT`` value, CCYYMMDD (or the 4010-era YYMMDD)."""
    cached = DATE_CACHE.get(text)
    if cached is not None:
        return cached
    if not text.isascii() or not text.isdigit():
        raise ValueError("not a valid date")
    if len(text) == 8:
        year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    elif len(text) == 6:
        # YYMMDD appears in ISA09 and some 4010 files; pivot like X12 does at 50.
        yy = int(text[:2])
        year, month, day = (2000 + yy if yy < 50 else 1900 + yy), int(text[2:4]), int(text[4:])
    else:
        raise ValueError("not a valid date")
    try:
        value = date(year, month, day)
    except ValueError:
        raise ValueError("not a valid date") from None
    if len(DATE_CACHE) < DATE_CACHE_LIMIT:
        DATE_CACHE[text] = value
    return value


def parse_optional_date(text: str) -> date | None:
    """Like :func:`parse_date`, but an empty element is ``None``."""
    return parse_date(text) if text else None
