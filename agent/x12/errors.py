"""Errors and warnings raised while reading X12 files.

Messages never quote element values: an 835 carries names, member ids and dates of
service, and these messages end up in logs and terminals. They say *where* (file,
segment number, segment id, element) and *what* is wrong, which is enough to open the
file and look.
"""

from __future__ import annotations

from dataclasses import dataclass


class X12ParseError(Exception):
    """The file cannot be read as X12: reported as ``FILE: segment N (ID): what is wrong``."""

    def __init__(self, source: str, segment_number: int | None, segment_id: str | None,
                 message: str) -> None:
        self.source = source
        self.segment_number = segment_number
        self.segment_id = segment_id
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.segment_number is not None:
            where = f"segment {self.segment_number}"
            if self.segment_id:
                where += f" ({self.segment_id})"
            where += ": "
        return f"{self.source}: {where}{self.message}"


@dataclass(frozen=True, slots=True)
class ParseWarning:
    """Something a biller should know about a file that was still read (balancing, versions).

    ``code`` is a stable machine-readable key (e.g. ``claim_unbalanced``) so that tools can
    filter warnings; ``message`` is for people.
    """

    source: str
    segment_number: int | None
    segment_id: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = ""
        if self.segment_number is not None:
            where = f"segment {self.segment_number}"
            if self.segment_id:
                where += f" ({self.segment_id})"
            where += ": "
        return f"{self.source}: {where}{self.message}"
