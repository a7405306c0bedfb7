"""NCCI procedure-to-procedure (PTP) edits: code pairs CMS does not pay together.

A PTP edit pairs a column 1 code with a column 2 code: when both are billed for one
patient on one date by one provider, the column 2 code is denied. The edit's modifier
indicator says whether an NCCI-associated modifier (59, XE/XP/XS/XU, anatomic modifiers)
can bypass it: ``0`` never, ``1`` when the record documents a distinct service, ``9``
not applicable (the edit was deleted). See docs/domain.md#ncci-ptp-edits.

Which edits pair a denied code with the other codes of its claim is answered in one place,
:meth:`PtpTable.pairing` (a :class:`PtpPairing`); triage, playbook selection and checks,
and the letters all read that answer.

Files read (:func:`read_ptp_edits`, used by :meth:`PtpTable.load` and
:func:`import_ptp_table`):

* the **project layout** (what :func:`import_ptp_table` writes and what
  ``agent/data/ncci_ptp_subset.csv`` uses), the layout of the shared CMS subset with an
  optional ``effective_date`` column: ``column_1, column_2, effective_date,
  deletion_date, modifier_indicator, ptp_edit_rationale``; ISO dates, deletion
  ``9999-12-31`` = not deleted;
* **CMS quarterly tables** as CMS publishes them (``ccipra-v…-f1.txt``, tab separated,
  or a CSV export; also a ``.zip`` of them): a copyright preamble, then a header
  ``Column 1 | Column 2 | *=in existence prior to 1996 | Effective Date | Deletion Date
  *=no data | Modifier 0=not allowed 1=allowed 9=not applicable | PTP Edit Rationale``,
  possibly split over several header rows; ``YYYYMMDD`` dates, deletion ``*`` = not
  deleted.

The header is the last few rows before the first row that starts with a code (merged
cell by cell when CMS splits it over up to five rows). Its cells are matched loosely,
case and punctuation ignored: ``col1``/``column 1``/``column_1``/``COL1``, and any cell
naming ``effective``, ``deletion``/``deleted``, ``modifier`` or ``rationale``; the
pre-1996 flag and unknown columns are ignored. Column 1, column 2, deletion date and
modifier indicator are required. Dates may be ``YYYY-MM-DD``, ``YYYYMMDD`` or
``M/D/YYYY``; text is UTF-8 or, failing that, Windows-1252. Excel workbooks are not
read: use the TXT file CMS publishes beside them.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Literal, NoReturn, TextIO, TypeAlias, cast

ModifierIndicator = Literal["0", "1", "9"]
"""0 = no modifier bypasses the edit; 1 = bypassable when documented; 9 = not applicable."""

PathLike: TypeAlias = str | os.PathLike[str]

PROJECT_COLUMNS = ("column_1", "column_2", "effective_date", "deletion_date",
                   "modifier_indicator", "ptp_edit_rationale")
"""The header :func:`import_ptp_table` writes (the shared CMS subset's, plus effective_date)."""

NOT_DELETED = date(9999, 12, 31)
"""How the project layout writes "not deleted"."""

_REQUIRED = ("column_1", "column_2", "deletion_date", "modifier_indicator")
_CODE = re.compile(r"^[0-9A-Z]{5}$")
_HEADER_SEARCH_ROWS = 40
_HEADER_ROWS = 5


@dataclass(frozen=True, slots=True)
class PtpEdit:
    """One row of a PTP table: the column 2 code is not paid with the column 1 code."""

    column_1: str
    column_2: str
    effective_date: date | None
    """None when the file does not say (the shared subset has no effective dates)."""
    deletion_date: date | None
    """First day the edit no longer applies; None = not deleted."""
    modifier_indicator: ModifierIndicator
    rationale: str

    def active_on(self, day: date) -> bool:
        """Whether the edit applies to services on ``day`` (indicator 9 never applies)."""
        if self.modifier_indicator == "9":
            return False
        if self.effective_date is not None and day < self.effective_date:
            return False
        return self.deletion_date is None or day < self.deletion_date

    @property
    def bypassable(self) -> bool:
        """Whether a documented NCCI-associated modifier can bypass the edit."""
        return self.modifier_indicator == "1"


@dataclass(frozen=True, slots=True)
class PairedEdit:
    """An active PTP edit between the denied code and one other code of its claim.

    ``edit`` says which code is column 1 and which column 2, the modifier indicator and
    the effective and deletion dates. Only the column 2 code is denied by an edit; one
    with the denied code in column 1 does not explain the denial
    (docs/domain.md#ncci-ptp-edits).
    """

    denied_code: str
    partner: str
    """The claim's other code the edit pairs with the denied code."""
    edit: PtpEdit

    @property
    def denied_is_column_2(self) -> bool:
        """Whether the edit denies the denied code (it is the edit's column 2 code)."""
        return self.edit.column_2 == self.denied_code


@dataclass(frozen=True, slots=True)
class PtpPairing:
    """What a PTP table says about a denied code and its claim's other codes on one date.

    Built by :meth:`PtpTable.pairing`, the one place that pairs a claim's codes with the
    edits.
    """

    denied_code: str
    date_of_service: date | None
    partners: tuple[str, ...]
    """The claim's other codes, in claim order, each once (the denied code left out)."""
    edits: tuple[PairedEdit, ...]
    """Every edit in force on the date of service, partner by partner in claim order; for
    a partner paired both ways, the edit with the denied code in column 1 comes first.
    Empty when the date of service is not known."""
    unvouched: tuple[str, ...]
    """Partners for which "no edit" is not a fact of the table (:meth:`PtpTable.covers`)."""

    @property
    def denying(self) -> tuple[PairedEdit, ...]:
        """The edits that deny the denied code (it is their column 2 code)."""
        return tuple(p for p in self.edits if p.denied_is_column_2)

    @property
    def reverse(self) -> tuple[PairedEdit, ...]:
        """The edits with the denied code in column 1: they deny the partner instead."""
        return tuple(p for p in self.edits if not p.denied_is_column_2)

    @property
    def deciding(self) -> PairedEdit | None:
        """The denying edit that decides the line: indicator 0 before 1, then claim order."""
        denying = self.denying
        return min(denying, key=lambda p: p.edit.modifier_indicator) if denying else None

    @property
    def known(self) -> bool:
        """Whether the table can vouch for every partner (so "no edit" would be a fact)."""
        return not self.unvouched

    @property
    def unknown_partners(self) -> tuple[str, ...]:
        """Partners with no edit in force for which the table cannot say there is none."""
        return tuple(p for p in self.unvouched if not self.with_partner(p))

    def with_partner(self, partner: str) -> tuple[PairedEdit, ...]:
        """The edits in force between the denied code and ``partner``."""
        return tuple(p for p in self.edits if p.partner == partner)


def partner_codes(denied_code: str, claim_codes: Iterable[str]) -> tuple[str, ...]:
    """The codes a PTP edit may pair with the denied code: the claim's others, each once."""
    return tuple(dict.fromkeys(c for c in claim_codes if c != denied_code))


class PtpFormatError(ValueError):
    """A PTP file that cannot be read; the message names the file and line, never data."""


class PtpTable:
    """PTP edits indexed by code pair."""

    def __init__(self, edits: Iterable[PtpEdit],
                 covered_codes: frozenset[str] | None = None) -> None:
        """Index the edits by (column 1, column 2).

        Args:
            edits: The rows of the table.
            covered_codes: For a subset, the codes whose every edit it holds (None: a
                full table, which covers every code).
        """
        self.covered_codes = covered_codes
        pairs: dict[tuple[str, str], list[PtpEdit]] = {}
        count = 0
        for edit in edits:
            key = (edit.column_1, edit.column_2)
            found = pairs.get(key)
            if found is None:
                pairs[key] = [edit]
            else:
                found.append(edit)
            count += 1
        self._pairs = pairs
        self._count = count

    @classmethod
    def load(cls, paths: PathLike | Iterable[PathLike]) -> PtpTable:
        """Every edit in one or more PTP files (project layout or CMS quarterly layout)."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        return cls(edit for path in paths for edit in read_ptp_edits(path))

    @classmethod
    def default(cls) -> PtpTable:
        """The subset shipped in ``agent/data/ncci_ptp_subset.csv`` (cached, read-only)."""
        return _default_table()

    @classmethod
    def from_files_or_default(cls, paths: Iterable[PathLike]) -> PtpTable:
        """``AppConfig.ncci_ptp_files``: those files, or the shipped subset when empty."""
        paths = list(paths)
        return cls.load(paths) if paths else cls.default()

    def edit_for(self, code_a: str, code_b: str, on: date) -> PtpEdit | None:
        """The edit between two codes that applies on ``on``, in either column order.

        ``code_a`` as column 1 is tried first. Deleted edits (deletion date on or before
        ``on``), edits not yet effective and indicator-9 rows do not apply. Should two
        rows of one pair both apply, indicator 0 (the stricter) wins.
        """
        found = self._in_force(code_a, code_b, on)
        return found if found is not None else self._in_force(code_b, code_a, on)

    def pairing(self, denied_code: str, other_codes: Iterable[str],
                date_of_service: date | None) -> PtpPairing:
        """The edits in force between a denied code and the other codes of its claim.

        Each partner is looked up in both column orders; an edit applies as in
        :meth:`edit_for`.

        Args:
            denied_code: The submitted code of the denied line.
            other_codes: The claim's codes; the denied code and repeats are dropped, so
                the claim's whole code list may be passed.
            date_of_service: The line's date; None when not known, in which case no edit
                can be said to apply (``edits`` is empty; ``unvouched`` is still set).

        Returns:
            The partners, the edits in force with each, and the partners the table cannot
            vouch for.
        """
        partners = partner_codes(denied_code, other_codes)
        edits: tuple[PairedEdit, ...] = ()
        if date_of_service is not None:
            edits = tuple(PairedEdit(denied_code, partner, edit) for partner in partners
                          for edit in self._both_ways(denied_code, partner, date_of_service))
        unvouched = tuple(p for p in partners if not self.covers(denied_code, p))
        return PtpPairing(denied_code, date_of_service, partners, edits, unvouched)

    def covers(self, code_a: str, code_b: str) -> bool:
        """Whether "no edit for this pair" is a fact of this table.

        True for a full table; for a subset, only when one of the codes is among those it
        was cut for.
        """
        covered = self.covered_codes
        return covered is None or code_a in covered or code_b in covered

    def _both_ways(self, denied_code: str, partner: str, on: date) -> Iterator[PtpEdit]:
        """The edit with the denied code in column 1, then the one with it in column 2."""
        for column_1, column_2 in ((denied_code, partner), (partner, denied_code)):
            edit = self._in_force(column_1, column_2, on)
            if edit is not None:
                yield edit

    def _in_force(self, column_1: str, column_2: str, on: date) -> PtpEdit | None:
        """The row of one column order that applies on ``on``; indicator 0 wins a tie."""
        active = [e for e in self._pairs.get((column_1, column_2), ()) if e.active_on(on)]
        return min(active, key=lambda e: e.modifier_indicator) if active else None

    def __len__(self) -> int:
        return self._count


SUBSET_CODES = frozenset({"29877", "29880", "29881", "93306", "00840",
                          *(f"992{n:02d}" for n in range(2, 16))})
"""The codes agent/data/ncci_ptp_subset.csv was cut for (agent/data/SOURCES.md): it holds
every edit touching them, and nothing can be said of pairs outside them."""


@cache
def _default_table() -> PtpTable:
    data = resources.files("agent").joinpath("data", "ncci_ptp_subset.csv")
    with data.open("rb") as raw:
        return PtpTable(_parse(_text(raw), "ncci_ptp_subset.csv"), SUBSET_CODES)


def read_ptp_edits(path: PathLike) -> Iterator[PtpEdit]:
    """Stream the edits of a PTP file (``.csv``/``.txt``, or a ``.zip`` of them)."""
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xls"}:
        raise PtpFormatError(f"{path.name}: Excel workbooks are not read; use the .txt "
                             "file CMS publishes beside it, or export the sheet as CSV")
    if path.suffix.lower() == ".zip":
        yield from _read_zip(path)
        return
    with path.open("rb") as raw:
        yield from _parse(_text(raw), path.name)


def _read_zip(path: Path) -> Iterator[PtpEdit]:
    with zipfile.ZipFile(path) as archive:
        members = sorted(n for n in archive.namelist()
                         if n.lower().endswith((".txt", ".csv")) and not n.endswith("/"))
        if not members:
            raise PtpFormatError(f"{path.name}: no .txt or .csv table inside the zip")
        for name in members:
            with archive.open(name) as raw:
                yield from _parse(_text(raw), f"{path.name}:{name}")


def _text(raw: IO[bytes]) -> TextIO:
    """UTF-8 (with or without BOM) when the start decodes so, else Windows-1252 (CMS TXT)."""
    start = raw.read(65536)
    raw.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"
    return io.TextIOWrapper(cast(io.BufferedReader, raw), encoding=encoding,
                            errors="replace", newline="")


def _parse(stream: TextIO, source: str) -> Iterator[PtpEdit]:
    """Find the header, then turn every data row into a validated :class:`PtpEdit`."""
    head = [line for line in (stream.readline() for _ in range(_HEADER_SEARCH_ROWS)) if line]
    delimiter = "\t" if any("\t" in line for line in head) else ","
    rows = enumerate(csv.reader(itertools.chain(head, stream), delimiter=delimiter), start=1)
    columns, pending = _find_header(rows, source)
    read_row = _RowReader(columns, source)
    for line, row in itertools.chain(pending, rows):
        if row and (row[0].strip() or any(cell.strip() for cell in row)):
            yield read_row(row, line)


def _find_header(rows: Iterator[tuple[int, list[str]]], source: str
                 ) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The column of each field, and the first data row (already read) if any.

    Everything before the first row that starts with a code is preamble or header;
    the header is the fewest rows just above the data that, merged cell by cell, name
    every required field (CMS sometimes splits its header over several rows).
    """
    before: list[tuple[int, list[str]]] = []
    for line, row in rows:
        if _is_data(row):
            return _header_columns(before, source), [(line, row)]
        if any(cell.strip() for cell in row):
            before.append((line, row))
        if line >= _HEADER_SEARCH_ROWS:
            break
    return _header_columns(before, source), []


def _is_data(row: list[str]) -> bool:
    """Header and preamble rows never start with a 5-character code; edits do."""
    return bool(row) and _CODE.match(row[0].strip().upper()) is not None


def _header_columns(candidates: list[tuple[int, list[str]]], source: str) -> dict[str, int]:
    merged: list[str] = []
    partial: tuple[int, dict[str, int]] | None = None
    for line, row in reversed(candidates[-_HEADER_ROWS:]):
        width = max(len(row), len(merged))
        merged = [f"{_at(row, i)} {_at(merged, i)}".strip() for i in range(width)]
        columns = _resolve(merged)
        if "column_1" in columns and "column_2" in columns:
            if all(name in columns for name in _REQUIRED):
                return columns
            partial = partial or (line, columns)
    if partial is not None:
        missing = ", ".join(name for name in _REQUIRED if name not in partial[1])
        raise PtpFormatError(f"{source}: line {partial[0]}: the header has no {missing} "
                             "column")
    raise PtpFormatError(f"{source}: no header row naming Column 1 and Column 2 before the "
                         "first edit: is this an NCCI PTP table?")


def _at(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _resolve(cells: list[str]) -> dict[str, int]:
    """Map header cells to field names (first match wins)."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _field_name(cell)
        if name is not None and name not in columns:
            columns[name] = index
    return columns


def _field_name(cell: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", cell.lower())
    if "existence" in key:
        return None
    if re.match(r"^col(umn)?1(code)?$", key):
        return "column_1"
    if re.match(r"^col(umn)?2(code)?$", key):
        return "column_2"
    for word, name in (("effective", "effective_date"), ("deletion", "deletion_date"),
                       ("deleted", "deletion_date"), ("modifier", "modifier_indicator"),
                       ("rationale", "rationale")):
        if word in key:
            return name
    return None


class _RowReader:
    """Turns data rows into validated edits; column positions and caches resolved once."""

    def __init__(self, columns: dict[str, int], source: str) -> None:
        self._source = source
        self._index = tuple(columns.get(name, -1) for name in (
            "column_1", "column_2", "effective_date", "deletion_date", "modifier_indicator",
            "rationale"))
        self._width = max(self._index) + 1
        self._dates: dict[str, date | None] = {}
        self._texts: dict[str, str] = {}

    def __call__(self, row: list[str], line: int) -> PtpEdit:
        if len(row) < self._width:
            row = row + [""] * (self._width - len(row))
        c1, c2, eff, dele, mod, rat = (row[i].strip() if i >= 0 else "" for i in self._index)
        column_1, column_2 = c1.upper(), c2.upper()
        if not _CODE.match(column_1):
            self._fail(line, "column 1 is not a 5-character HCPCS/CPT code")
        if not _CODE.match(column_2):
            self._fail(line, "column 2 is not a 5-character HCPCS/CPT code")
        if mod not in ("0", "1", "9"):
            self._fail(line, "modifier indicator must be 0, 1 or 9")
        effective = self._date(eff, line, "effective date")
        deletion = self._date(dele, line, "deletion date")
        if deletion == NOT_DELETED:
            deletion = None
        if effective and deletion and deletion < effective:
            self._fail(line, "deletion date is before the effective date")
        return PtpEdit(sys.intern(column_1), sys.intern(column_2), effective, deletion,
                       cast(ModifierIndicator, mod), self._texts.setdefault(rat, rat))

    def _date(self, text: str, line: int, what: str) -> date | None:
        try:
            return self._dates[text]
        except KeyError:
            pass
        try:
            value = self._dates[text] = _parse_date(text)
        except ValueError:
            self._fail(line, f"{what} is not a date (YYYY-MM-DD, YYYYMMDD, M/D/YYYY or * "
                             "for none)")
        return value

    def _fail(self, line: int, problem: str) -> NoReturn:
        raise PtpFormatError(f"{self._source}: line {line}: {problem}")


def _parse_date(text: str) -> date | None:
    """``""`` or ``*`` → None; ``YYYYMMDD``, ``YYYY-MM-DD`` or ``M/D/YYYY`` → date."""
    if text in ("", "*"):
        return None
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if "/" in text:
        return datetime.strptime(text, "%m/%d/%Y").date()
    return date.fromisoformat(text[:10])


def import_ptp_table(src: PathLike, dest: PathLike,
                     keep: Callable[[PtpEdit], bool] | None = None) -> int:
    """Validate a CMS PTP table and write it in the project layout; returns rows written.

    Every row is checked (codes, indicator, dates; a bad row raises
    :class:`PtpFormatError` naming the line); exact duplicates are dropped; rows are
    sorted by column 1, column 2 and deletion date. ``keep`` filters rows (used to cut
    the shipped subset, see agent/data/SOURCES.md). ``dest`` is replaced atomically.
    """
    edits = {e for e in read_ptp_edits(src) if keep is None or keep(e)}
    if not edits:
        raise PtpFormatError(f"{Path(src).name}: no edits to write")
    ordered = sorted(edits, key=lambda e: (e.column_1, e.column_2,
                                           e.deletion_date or NOT_DELETED,
                                           e.effective_date or date.min, e.modifier_indicator))
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            _write(out, ordered)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(ordered)


def _write(out: TextIO, edits: Iterable[PtpEdit]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROJECT_COLUMNS)
    for e in edits:
        writer.writerow((e.column_1, e.column_2,
                         e.effective_date.isoformat() if e.effective_date else "",
                         (e.deletion_date or NOT_DELETED).isoformat(),
                         e.modifier_indicator, e.rationale))
