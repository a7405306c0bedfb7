"""The CSV/JSON denial queue: denials typed in or exported by practices without ERA access.

The schema is documented in docs/queue-format.md; :class:`QueueRow` is its source of
truth. A row that does not validate is reported as
``FILE: row N, column C: what is wrong`` and skipped; the other rows are still read.
Messages never repeat the cell's value (it may be a name or a member id).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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

_ADJUSTMENT = re.compile(r"^(CO|PR|OA|PI|CR)-([A-Z0-9]{1,5})(?::(-?\d+(?:\.\d+)?))?$")
_SPLIT = re.compile(r"[;,|\s]+")


class QueueAdjustment(BaseModel):
    """An adjustment in a JSON queue given as an object."""

    model_config = ConfigDict(extra="forbid")
    group: str
    reason: str
    amount: Decimal | None = None


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
    patient_dob: date | None = Field(None, description="YYYY-MM-DD.")
    service_date: date = Field(description="YYYY-MM-DD.")
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
    remittance_date: date | None = Field(None, description="Date of the payer's notice.")
    received_date: date | None = None
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
        out = []
        for item in (x for x in _SPLIT.split(value.upper()) if x):
            match = _ADJUSTMENT.match(item)
            if not match:
                raise ValueError("write adjustments as GROUP-CARC:AMOUNT, e.g. CO-50:125.00, "
                                 "separated by ';'")
            group, reason, amount = match.groups()
            out.append({"group": group, "reason": reason, "amount": amount})
        return out

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

    @field_validator("patient_dob", "remittance_date", "received_date", "units", "allowed",
                     mode="before")
    @classmethod
    def _blank_optional(cls, value: Any) -> Any:
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
    """The queue file as a whole cannot be read (not CSV/JSON, no header, wrong shape)."""


def read_queue(path: str | Path, source: str | None = None) -> QueueReadResult:
    """Read a ``.csv`` or ``.json`` denial queue."""
    path = Path(path)
    source = source or str(path)
    result = QueueReadResult(source)
    if path.suffix.lower() == ".json":
        records = _json_records(path, source, result.warnings)
    else:
        records = _csv_records(path, source, result.warnings)
    for row, record in records:
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


def _csv_records(path: Path, source: str, warnings: list[str]
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        if not header:
            raise QueueFileError(f"{source}: the file is empty (no header row)")
        _check_header([h.strip() for h in header if h], source, warnings)
        for number, record in enumerate(reader, start=1):
            if None in record:
                yield number, {"__extra__": True}
                continue
            yield number, {k.strip(): v for k, v in record.items()
                           if k and k.strip() in QUEUE_COLUMNS and v is not None and v.strip()}


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


def _check_header(header: list[str], source: str, warnings: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise QueueFileError(f"{source}: header: missing required column(s) "
                             f"{', '.join(missing)}")
    unknown = [c for c in header if c not in QUEUE_COLUMNS]
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
