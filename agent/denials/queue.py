"""The denial queue: denials typed in or exported by practices without ERA access.

A queue is a CSV (or tab-separated) text file, a JSON list or an ``.xlsx`` workbook, told
apart by content, not by name (:func:`sniff_queue`). The schema is documented in
docs/queue-format.md; :class:`QueueRow` is its source of truth. Dates may be ISO or US
(``2026-09-02``, ``09/02/2026``) and amounts may be written as people write them
(``$1,275.00``, ``(12.50)``). A row that does not validate is reported as
``FILE: row N, column C: what is wrong`` and skipped; the other rows are still read.
Messages never repeat the cell's value (it may be a name or a member id).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
    ProviderRef,
    denial_id,
)
from agent.npi import is_valid_npi

QueueFormat = Literal["csv", "json", "xlsx"]
"""How a queue file is written: CSV (or tab-separated) text, JSON, or an Excel workbook."""

_AMOUNT_TEXT = r"[-($]{0,4}(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?:\.\d+)?\)?"
_ADJUSTMENT = re.compile(r"(CO|PR|OA|PI|CR)-([A-Z0-9]{1,5})(?::(" + _AMOUNT_TEXT + r"))?")
_SEPARATORS = re.compile(r"[;,|\s]*")
_SPLIT = re.compile(r"[;,|\s]+")
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")

AMOUNT_HELP = "not an amount: write it like 1275.00, 1,275.00 or $1,275.00"


def parse_amount(text: str) -> Decimal:
    """An amount as people write it: ``1275``, ``1,275.00``, ``$1,275.00``, ``-12.50``.

    Accounting style ``(12.50)`` (or ``$(12.50)``) is negative. Thousands separators must
    group by three (``1,27.00`` is refused) and the decimal mark is a point. Exact: never
    a binary float.

    Raises:
        ValueError: the text is not an amount (the message does not repeat it).
    """
    s = text.strip().replace(" ", "")
    negative = s.startswith("-")
    s = s.removeprefix("-").removeprefix("$")
    if s.startswith("(") and s.endswith(")"):
        if negative:
            raise ValueError(AMOUNT_HELP)
        negative, s = True, s[1:-1].removeprefix("$")
    elif not negative and s.startswith("-"):
        negative, s = True, s[1:]
    if not _NUMBER.fullmatch(s):
        raise ValueError(AMOUNT_HELP)
    amount = Decimal(s.replace(",", ""))
    return -amount if negative else amount


def _amount(value: Any) -> Any:
    """Before validation: text amounts as :func:`parse_amount` reads them, floats exact."""
    if isinstance(value, str):
        return parse_amount(value) if value.strip() else None
    if isinstance(value, float):  # an Excel number: its shortest text is what was typed
        return Decimal(repr(value))
    return value


_ISO_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})")
_TIME = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?)?")
DATE_HELP = "write the date as YYYY-MM-DD or MM/DD/YYYY"


def parse_date(text: str, *, two_digit_year: bool = True) -> date:
    """A date as people write it in a worklist.

    ``2026-09-02`` and ``2026/09/02`` (year first), ``09/02/2026``, ``9/2/2026`` and
    ``09-02-2026`` (US: month first, always), and ``09/02/26``: a two-digit year (slashes
    only) is 20YY, since no date of service or payer notice this tool reads is older than
    2000. A time after the date (``2026-09-02 00:00``, as spreadsheets export) is ignored.

    Args:
        text: the cell.
        two_digit_year: whether ``09/02/26`` is allowed (not for a date of birth, where
            the century cannot be told).

    Raises:
        ValueError: not a date in these forms, or no such day (the message does not
            repeat the text).
    """
    s = text.strip()
    iso = _ISO_DATE.match(s)
    us = None if iso else _US_DATE.match(s)
    match = iso or us
    if match is None or not _TIME.fullmatch(s[match.end():]):
        raise ValueError(DATE_HELP)
    if iso:
        year, month, day = int(iso[1]), int(iso[3]), int(iso[4])
    else:
        assert us is not None
        month, day, year_text = int(us[1]), int(us[3]), us[4]
        if len(year_text) == 2:
            if us[2] != "/":
                raise ValueError(DATE_HELP)
            if not two_digit_year:
                raise ValueError("write the year with four digits (MM/DD/YYYY): a two-digit "
                                 "year is ambiguous in a date of birth")
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if not 1 <= month <= 12:
        order = "" if iso else " (a date that ends with the year is read month first)"
        raise ValueError(f"not a valid date: the month must be 1-12{order}")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError("not a valid date: that month has no such day") from None


def _date(value: Any, two_digit_year: bool = True) -> Any:
    """Before validation: text dates as :func:`parse_date` reads them, spreadsheet dates."""
    if isinstance(value, datetime):  # an Excel date cell; a time of day is ignored
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    if isinstance(value, str):
        return parse_date(value, two_digit_year=two_digit_year) if value.strip() else None
    raise ValueError(f"a date is expected: {DATE_HELP}")


_DATE_SCHEMA = {"type": "string", "examples": ["2026-09-02", "09/02/2026"]}
NoticeDate = Annotated[date, WithJsonSchema(
    {**_DATE_SCHEMA, "description": "YYYY-MM-DD or MM/DD/YYYY (MM/DD/YY is 20YY)."})]
"""A date of service or of a payer's notice, ISO or US (see :func:`parse_date`)."""
BirthDate = Annotated[date, WithJsonSchema(
    {**_DATE_SCHEMA, "description": "YYYY-MM-DD or MM/DD/YYYY (a four-digit year)."})]
"""A date of birth: as :data:`NoticeDate`, but the year must have four digits."""


ADJUSTMENTS_HELP = ("write adjustments as GROUP-CARC:AMOUNT, e.g. CO-50:125.00, separated "
                    "by ';'")


def parse_adjustments(text: str) -> list[dict[str, Any]]:
    """``CO-50:1,275.00;PR-1:20`` as ``[{"group": "CO", "reason": "50", "amount": ...}]``.

    Items are separated by ``;``, ``,``, ``|`` or spaces; an amount may have a ``$`` and
    thousands separators (``CO-50:$1,275.00``), read as :func:`parse_amount` reads them.

    Raises:
        ValueError: an item is not ``GROUP-CARC[:AMOUNT]``.
    """
    text = text.upper()
    out: list[dict[str, Any]] = []
    pos = _SEPARATORS.match(text).end()  # type: ignore[union-attr]  # always matches
    while pos < len(text):
        match = _ADJUSTMENT.match(text, pos)
        end = match.end() if match else pos
        gap = _SEPARATORS.match(text, end).end()  # type: ignore[union-attr]
        if match is None or (gap == end and gap < len(text)):
            raise ValueError(ADJUSTMENTS_HELP)
        group, reason, amount = match.groups()
        try:
            value = None if amount is None else parse_amount(amount)
        except ValueError:
            raise ValueError(ADJUSTMENTS_HELP) from None
        out.append({"group": group, "reason": reason, "amount": value})
        pos = gap
    return out


class QueueAdjustment(BaseModel):
    """An adjustment in a JSON queue given as an object."""

    model_config = ConfigDict(extra="forbid")
    group: str
    reason: str
    amount: Decimal | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        return _amount(value)


class QueueRow(BaseModel):
    """One row of a denial queue: one denied service line.

    Column names are the field names. Codes lists (modifiers, remarks, adjustments) are
    written in one cell separated by ``;`` (or commas or spaces); an adjustment is
    ``GROUP-CARC:AMOUNT`` such as ``CO-50:125.00``. The amount may be left out when the
    row has a single adjustment: it is then the billed amount less the paid amount.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    claim_id: str = Field(min_length=1, description="Patient control number (CLP01 on the "
                          "claim).")
    payer_name: str = Field(min_length=1)
    payer_id: str | None = None
    payer_claim_number: str | None = Field(None, description="The payer's claim number (ICN).")
    member_id: str = Field(min_length=1, description="The patient's member id at the payer.")
    patient_last_name: str | None = None
    patient_first_name: str | None = None
    patient_dob: BirthDate | None = None
    service_date: NoticeDate = Field(description="Date of service: YYYY-MM-DD or "
                                     "MM/DD/YYYY (MM/DD/YY is 20YY).")
    procedure_code: str = Field(min_length=1, description="CPT/HCPCS as adjudicated.")
    modifiers: tuple[str, ...] = ()
    units: Decimal | None = None
    original_procedure_code: str | None = Field(None, description="The code billed when the "
                                                "payer changed it (a downcode).")
    original_modifiers: tuple[str, ...] = ()
    billed: Decimal = Field(ge=0)
    paid: Decimal = Field(Decimal(0), ge=0)
    allowed: Decimal | None = None
    adjustments: tuple[QueueAdjustment, ...] = Field(min_length=1)
    remarks: tuple[str, ...] = ()
    rendering_npi: str | None = None
    rendering_name: str | None = None
    claim_filing_indicator: str | None = None
    remittance_date: NoticeDate | None = Field(None, description="Date of the payer's notice.")
    received_date: NoticeDate | None = None
    line_control_number: str | None = None

    @field_validator("modifiers", "original_modifiers", "remarks", mode="before")
    @classmethod
    def _split_codes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(x.upper() for x in _SPLIT.split(value) if x)
        return value

    @field_validator("modifiers", "original_modifiers")
    @classmethod
    def _at_most_four(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 4:
            raise ValueError("at most four modifiers")
        for modifier in value:
            if not (len(modifier) == 2 and modifier.isalnum()):
                raise ValueError("a modifier is two letters or digits, e.g. 59 or RT")
        return value

    @field_validator("adjustments", mode="before")
    @classmethod
    def _parse_adjustments(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_adjustments(value)

    @field_validator("billed", "paid", "allowed", "units", mode="before")
    @classmethod
    def _amounts(cls, value: Any) -> Any:
        return _amount(value)

    @field_validator("service_date", "remittance_date", "received_date", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return _date(value)

    @field_validator("patient_dob", mode="before")
    @classmethod
    def _birth_date(cls, value: Any) -> Any:
        return _date(value, two_digit_year=False)

    @field_validator("rendering_npi")
    @classmethod
    def _npi(cls, value: str | None) -> str | None:
        if value and not is_valid_npi(value):
            raise ValueError("not a valid NPI (10 digits with a check digit)")
        return value or None

    @field_validator("payer_id", "payer_claim_number", "patient_last_name", "patient_first_name",
                     "original_procedure_code", "rendering_name", "claim_filing_indicator",
                     "line_control_number", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def resolved_adjustments(self) -> tuple[AdjustmentRef, ...]:
        """Adjustments with amounts; a single amount-less one takes billed − paid."""
        missing = [a for a in self.adjustments if a.amount is None]
        if missing and len(self.adjustments) > 1:
            raise ValueError("give an amount for every adjustment when there are several")
        return tuple(AdjustmentRef(group=a.group.upper(), reason=a.reason.upper(),
                                   amount=a.amount if a.amount is not None
                                   else self.billed - self.paid)
                     for a in self.adjustments)

    def to_denial(self, source: str, row: int) -> Denial:
        """The :class:`Denial` this row describes."""
        adjustments = self.resolved_adjustments()
        procedure = ProcedureRef(code=self.procedure_code.upper(), modifiers=self.modifiers,
                                 units=self.units,
                                 original_code=(self.original_procedure_code or "").upper()
                                 or None,
                                 original_modifiers=self.original_modifiers)
        denied = self.billed - self.paid if self.paid == 0 else sum(
            (a.amount for a in adjustments if a.group != "PR" and a.amount > 0), Decimal(0))
        return Denial(
            denial_id=denial_id("queue", self.payer_id or self.payer_name, self.claim_id,
                                self.payer_claim_number, self.member_id,
                                self.line_control_number or procedure.display,
                                self.service_date),
            level="line", claim_id=self.claim_id, payer_claim_number=self.payer_claim_number,
            claim_filing_indicator=self.claim_filing_indicator,
            payer=PayerRef(name=self.payer_name, id=self.payer_id),
            patient=PatientRef(member_id=self.member_id, last_name=self.patient_last_name,
                               first_name=self.patient_first_name,
                               date_of_birth=self.patient_dob),
            rendering_provider=ProviderRef(name=self.rendering_name, npi=self.rendering_npi)
            if self.rendering_npi or self.rendering_name else None,
            service_date=self.service_date, procedure=procedure, billed=self.billed,
            paid=self.paid, allowed=self.allowed, denied_amount=denied, adjustments=adjustments,
            remarks=self.remarks, line_control_number=self.line_control_number,
            remittance_date=self.remittance_date, received_date=self.received_date,
            source=DenialSource(kind="queue", file=source, row=row))


QUEUE_COLUMNS = tuple(QueueRow.model_fields)
REQUIRED_COLUMNS = tuple(name for name, f in QueueRow.model_fields.items() if f.is_required())


@dataclass(slots=True)
class QueueReadResult:
    """What a queue file gave: its denials and the rows that could not be read."""

    source: str
    denials: list[Denial] = field(default_factory=list)
    row_errors: list[str] = field(default_factory=list)
    """One line per bad row: ``FILE: row N, column C: what is wrong``."""
    warnings: list[str] = field(default_factory=list)
    rows: int = 0


class QueueFileError(Exception):
    """The queue file as a whole cannot be read (not CSV/JSON/xlsx, no header, wrong shape)."""


SNIFF_BYTES = 4096
"""How much of a file is read to tell what it is (see :func:`sniff_queue`)."""

XLSX_SHEET = "denials"
"""The worksheet read from a workbook that has one by this name (any case); else the first."""


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the first bytes of a file say it is."""

    format: QueueFormat | None
    problem: str = ""
    """When ``format`` is None: what the file looks like instead (for the error line)."""


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def sniff_queue(path: Path, head: bytes) -> Sniffed:
    """Tell a queue's format from the first bytes of its file, not from its name.

    An ``.xlsx`` workbook is a ZIP archive holding ``xl/workbook.xml`` (only then is the
    archive's directory read); JSON starts with ``[`` or ``{``; CSV is text whose first
    line has a comma or a tab. Leading byte-order marks and blank lines are skipped.

    Args:
        path: the file (opened only for a ZIP archive).
        head: its first bytes (:data:`SNIFF_BYTES` are enough).
    """
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return Sniffed(None, "a damaged ZIP archive")
        if "xl/workbook.xml" in names:
            return Sniffed("xlsx")
        return Sniffed(None, "a ZIP archive that is not an .xlsx workbook")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return Sniffed(None, "an old-format .xls or a password-protected Excel file; save it "
                       "as .xlsx or CSV")
    text = _head_text(head)
    if text is None:
        return Sniffed(None, "binary data")
    text = text.lstrip()
    if not text:
        return Sniffed(None, "empty")
    if text[0] in "[{":
        return Sniffed("json")
    first_line = text.split("\n", 1)[0]
    if "," in first_line or "\t" in first_line:
        return Sniffed("csv")
    return Sniffed(None, "text that is not a CSV table")


def _head_text(head: bytes) -> str | None:
    """The text of a file's first bytes, or None when they are binary."""
    if head.startswith(_UTF16_BOMS):
        return codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head)
    if b"\x00" in head:
        return None
    head = head.removeprefix(codecs.BOM_UTF8)
    # Not UTF-8 is still text (a Windows-1252 export): the CSV reader says what is wrong.
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head)


def _text_encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark (Excel's "Unicode Text")."""
    with open(path, "rb") as f:
        return "utf-16" if f.read(2) in _UTF16_BOMS else "utf-8-sig"


def read_queue(path: str | Path, source: str | None = None,
               format: QueueFormat | None = None) -> QueueReadResult:
    """Read a denial queue: CSV (or tab-separated) text, JSON, or an ``.xlsx`` workbook.

    Args:
        path: the file.
        source: its name in messages and in each denial's source (default: the path).
        format: how it is written; by default told from its content (:func:`sniff_queue`).

    Raises:
        QueueFileError: the file as a whole cannot be read.
        OSError: it cannot be opened.
        UnicodeError: its text is not UTF-8 (or UTF-16 with a byte-order mark).
    """
    path = Path(path)
    source = source or str(path)
    if format is None:
        with open(path, "rb") as f:
            sniffed = sniff_queue(path, f.read(SNIFF_BYTES))
        if sniffed.format is None:
            raise QueueFileError(f"{source}: not a denial queue ({sniffed.problem})")
        format = sniffed.format
    result = QueueReadResult(source)
    readers = {"json": _json_records, "csv": _csv_records, "xlsx": _xlsx_records}
    for row, record in readers[format](path, source, result.warnings):
        result.rows += 1
        _read_row(record, row, source, result)
    # Rows of one claim share its procedure codes, as the lines of an 835 claim do.
    codes: dict[str, list[str]] = {}
    for denial in result.denials:
        if denial.procedure:
            codes.setdefault(denial.claim_id, []).append(denial.procedure.submitted_code)
    shared = {claim: tuple(dict.fromkeys(found)) for claim, found in codes.items()}
    result.denials = [d.model_copy(update={"claim_procedure_codes": shared.get(
        d.claim_id, ())}) for d in result.denials]
    return result


def column_name(header: str) -> str:
    """A header cell as a column name: ``Claim ID`` and ``claim-id`` are ``claim_id``."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def _csv_records(path: Path, source: str, warnings: list[str]
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding=_text_encoding(path), newline="") as f:
        first_line = f.readline()
        f.seek(0)
        reader = csv.DictReader(f, delimiter=_delimiter(first_line))
        header = list(reader.fieldnames or ())
        if not header:
            raise QueueFileError(f"{source}: the file is empty (no header row)")
        reader.fieldnames = names = [column_name(h) if h else "" for h in header]
        _check_header(names, header, source, warnings)
        for number, record in enumerate(reader, start=1):
            if None in record:
                yield number, {"__extra__": True}
                continue
            cells = {k: v for k, v in record.items()
                     if k in QUEUE_COLUMNS and v is not None and v.strip()}
            if cells or any(v and v.strip() for v in record.values()):
                yield number, cells


def _delimiter(header: str) -> str:
    """Comma, unless the header line splits into more known columns at tabs."""
    def known(delimiter: str) -> int:
        return sum(column_name(h) in QUEUE_COLUMNS for h in header.split(delimiter))
    return "\t" if "\t" in header and known("\t") > known(",") else ","


def _xlsx_records(path: Path, source: str, warnings: list[str]
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a workbook's denials sheet (:data:`XLSX_SHEET`), else its first sheet.

    Row N is the Nth row under the header (sheet row N + 1 when the header is on row 1);
    empty rows are skipped. Dates and numbers stored as such by Excel are read as dates
    and exact decimals; formulas give their last computed value.
    """
    import openpyxl  # type: ignore[import-untyped]  # only for .xlsx: not on every command

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError:
        raise
    except Exception as exc:  # openpyxl raises what the damaged part gives (KeyError...)
        raise QueueFileError(f"{source}: the workbook cannot be read "
                             f"({type(exc).__name__})") from None
    try:
        sheets = book.worksheets
        if not sheets:
            raise QueueFileError(f"{source}: the workbook has no worksheet")
        named = [s for s in sheets if str(s.title).strip().lower() == XLSX_SHEET]
        sheet = named[0] if named else sheets[0]
        if len(sheets) > 1 and not named:
            warnings.append(f"{source}: read the first worksheet; {len(sheets) - 1} other(s) "
                            f"ignored (name one '{XLSX_SHEET}' to read that one)")
        rows = sheet.iter_rows(values_only=True)
        try:
            header = next(rows, None)
            if header is None or not any(_cell(c) for c in header):
                raise QueueFileError(f"{source}: the worksheet is empty (no header row)")
            texts = [str(_cell(c) or "") for c in header]
            while texts and not texts[-1]:  # a cell past the last heading is an extra cell
                texts.pop()
            names = [column_name(h) if h else "" for h in texts]
            _check_header(names, texts, source, warnings)
            for number, cells in enumerate(rows, start=1):
                values = [_cell(c) for c in cells]
                if not any(v not in (None, "") for v in values):
                    continue
                if any(v not in (None, "") for v in values[len(names):]):
                    yield number, {"__extra__": True}
                    continue
                yield number, {name: value for name, value in zip(names, values, strict=False)
                               if name in QUEUE_COLUMNS and value not in (None, "")}
        except QueueFileError:
            raise
        except Exception as exc:  # a damaged sheet part, found as it is read
            raise QueueFileError(f"{source}: the workbook cannot be read "
                                 f"({type(exc).__name__})") from None
    finally:
        book.close()


def _cell(value: Any) -> Any:
    """A spreadsheet cell as the queue reads it: text, or a date (None when empty)."""
    if value is None or isinstance(value, (date, str)):  # datetime is a date too
        return value.strip() if isinstance(value, str) else value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A claim id typed as a number is an integral float: no ".0". Amounts become
        # exact decimals from the shortest text that gives the float back.
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _json_records(path: Path, source: str, warnings: list[str]
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            # Amounts as Decimal straight from the text: 0.1 must not become a binary float.
            data = json.load(f, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise QueueFileError(f"{source}: not valid JSON{where}") from None
    if isinstance(data, dict) and isinstance(data.get("denials"), list):
        data = data["denials"]
    if not isinstance(data, list):
        raise QueueFileError(f"{source}: a JSON queue is a list of denials, or an object "
                             "with a 'denials' list")
    unknown: set[str] = set()
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            yield number, {"__not_object__": True}
            continue
        unknown.update(str(k) for k in record if k not in QUEUE_COLUMNS)
        yield number, {k: v for k, v in record.items() if k in QUEUE_COLUMNS and v is not None}
    if unknown:
        warnings.append(f"{source}: unknown field(s) ignored: {', '.join(sorted(unknown))}")


def _check_header(names: list[str], header: list[str], source: str,
                  warnings: list[str]) -> None:
    """Refuse a header missing a required column; warn of the columns ignored."""
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise QueueFileError(f"{source}: header: missing required column(s) "
                             f"{', '.join(missing)}")
    unknown = [h.strip() for h, n in zip(header, names, strict=True)
               if n and n not in QUEUE_COLUMNS]
    if unknown:
        warnings.append(f"{source}: unknown column(s) ignored: {', '.join(unknown)}")


def _read_row(record: dict[str, Any], row: int, source: str, result: QueueReadResult) -> None:
    if "__extra__" in record:
        result.row_errors.append(f"{source}: row {row}: more cells than header columns")
        return
    if "__not_object__" in record:
        result.row_errors.append(f"{source}: row {row}: each denial must be a JSON object")
        return
    try:
        queue_row = QueueRow.model_validate(record)
        result.denials.append(queue_row.to_denial(source, row))
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            column = ".".join(str(p) for p in error["loc"]) or "row"
            result.row_errors.append(f"{source}: row {row}, column {column}: "
                                     f"{_message(error['msg'], error['type'])}")
    except (ValueError, InvalidOperation) as exc:
        result.row_errors.append(f"{source}: row {row}, column adjustments: {exc}")


def _message(msg: str, kind: str) -> str:
    if kind == "extra_forbidden":
        return "unknown column"
    if kind == "missing":
        return "required value is missing"
    return msg.removeprefix("Value error, ")


def queue_json_schema() -> dict[str, Any]:
    """The JSON Schema of one queue row (published as docs/queue.schema.json)."""
    schema = QueueRow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://denial-appeal-agent.example/schemas/queue-row.json"
    return schema
