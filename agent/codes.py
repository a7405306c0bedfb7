"""CARC, RARC and group code descriptions, from the table shipped in agent/data.

An unknown code is described as unknown, never an error: payers send codes newer than
any table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

CodeKind = Literal["carc", "rarc", "group"]


@dataclass(frozen=True, slots=True)
class CodeDescription:
    """One code of the CARC/RARC/group lists."""

    code: str
    kind: CodeKind
    description: str
    usage: str = ""
    start_date: date | None = None
    end_date: date | None = None
    known: bool = True
    """False when the code is not in the shipped table."""

    def active_on(self, day: date) -> bool:
        """Whether the code was in force on ``day`` (unknown codes count as active)."""
        if self.start_date and day < self.start_date:
            return False
        return not (self.end_date and day >= self.end_date)


class CodeTable:
    """Look-ups into the CARC/RARC/group code lists."""

    def __init__(self, rows: dict[tuple[CodeKind, str], CodeDescription]) -> None:
        self._rows = rows

    @classmethod
    def load_default(cls) -> CodeTable:
        """The table shipped with the package (cached: it is read-only data)."""
        return _default_table()

    def describe(self, kind: CodeKind, code: str) -> CodeDescription:
        """The description of ``code``; an unknown code gets an "unknown" description."""
        found = self._rows.get((kind, code.strip().upper()))
        if found is not None:
            return found
        label = {"carc": "adjustment reason", "rarc": "remark", "group": "group"}[kind]
        return CodeDescription(code, kind, f"Unknown {label} code {code}", known=False)

    def carc(self, code: str) -> CodeDescription:
        """A Claim Adjustment Reason Code, e.g. ``50``."""
        return self.describe("carc", code)

    def rarc(self, code: str) -> CodeDescription:
        """A Remittance Advice Remark Code, e.g. ``N115``."""
        return self.describe("rarc", code)

    def group(self, code: str) -> CodeDescription:
        """A claim adjustment group code, e.g. ``CO``."""
        return self.describe("group", code)

    def __len__(self) -> int:
        return len(self._rows)


def _optional_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def _default_table() -> CodeTable:
    rows: dict[tuple[CodeKind, str], CodeDescription] = {}
    data = resources.files("agent").joinpath("data", "carc_rarc.csv")
    with data.open("rb") as raw:
        text = raw.read().decode("utf-8")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            kind: CodeKind = row["kind"]  # type: ignore[assignment]
            item = CodeDescription(row["code"], kind, row["description"], row["usage"],
                                   _optional_date(row["start_date"]),
                                   _optional_date(row["end_date"]))
            rows[(kind, item.code.upper())] = item
    return CodeTable(rows)
