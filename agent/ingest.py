"""Ingest: read a batch of 835 files and denial queues into denials, losing nothing silently.

One bad file never stops the batch: it is reported as one line and the others are read.
An 835 with a structural error contributes no denials (its remaining content cannot be
trusted, and a half-read remittance would be re-read in full once fixed); a queue file
loses only its bad rows. The same denial read twice (a remittance sent again) is kept once.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.codes import CodeTable
from agent.denials.from_835 import ClaimTally, DenialRules, denials_from_claims
from agent.denials.model import Denial
from agent.denials.queue import QueueFileError, read_queue
from agent.denials.reasons import denial_reasons
from agent.x12.errors import X12ParseError
from agent.x12.reader import Remittance835Reader

InputKind = Literal["835", "queue"]

logger = logging.getLogger(__name__)


class FileResult(BaseModel):
    """How one input file went."""

    source: str
    kind: InputKind
    status: Literal["read", "partial", "failed"] = Field(description="partial: a queue file "
                                                          "with rows that could not be read.")
    claims: int = 0
    service_lines: int = 0
    rows: int = 0
    denials: int = 0
    errors: list[str] = Field(default_factory=list, description="Why the file (or which of "
                              "its rows) could not be read, one line each.")
    warnings: list[str] = Field(default_factory=list)


class ReasonCount(BaseModel):
    """How often an adjustment reason appears on the batch's denials."""

    reason: str = Field(description="Group code and CARC, e.g. CO-50.")
    description: str
    denials: int
    denied_amount: Decimal = Field(description="Dollars adjusted for this reason on them.")


class IngestSummary(BaseModel):
    """Totals for the batch."""

    files: int
    files_failed: int
    claims: int
    service_lines: int
    denials: int
    denied_amount: Decimal = Field(description="Dollars at stake across the denials.")
    partly_paid_lines: int = Field(description="Partly paid lines with only contractual and "
                                   "cost-sharing adjustments: not denials.")
    reversals: int
    corrections: int
    duplicates: int = Field(description="Denials read more than once and kept once.")
    top_reasons: list[ReasonCount]


class IngestReport(BaseModel):
    """Everything ``appeals ingest`` found."""

    denials: list[Denial]
    files: list[FileResult]
    summary: IngestSummary
    errors: list[str] = Field(description="One line per file or row that could not be read.")
    warnings: list[str] = Field(description="What was read but deserves a look (balancing, "
                                "versions, duplicates).")

    @property
    def exit_status(self) -> int:
        """0 when everything was read, 1 when some of it failed, 2 when nothing was read."""
        if all(f.status == "failed" for f in self.files):
            return 2
        return 1 if self.errors else 0


def input_kind(path: Path) -> InputKind:
    """835 unless the name or the first character says CSV/JSON queue."""
    if path.suffix.lower() in (".csv", ".json"):
        return "queue"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(64).lstrip("\ufeff \t\r\n")
    except OSError:
        return "835"
    return "queue" if head[:1] in ("[", "{") else "835"


def ingest(paths: Sequence[str | Path], rules: DenialRules | None = None,
           codes: CodeTable | None = None) -> IngestReport:
    """Read every input; never raises for a bad file (see :attr:`IngestReport.errors`)."""
    rules = rules or DenialRules()
    codes = codes or CodeTable.load_default()
    denials: dict[str, Denial] = {}
    files: list[FileResult] = []
    totals = ClaimTally()
    duplicates = 0
    for raw in paths:
        path = Path(raw)
        try:
            if input_kind(path) == "835":
                result, found = _read_835(path, rules, totals)
            else:
                result, found = _read_queue_file(path)
        except Exception as exc:  # a bug of ours must not sink the rest of the batch
            # Frames only: an exception's message may quote patient data.
            logger.error("unexpected %s reading an input file\n%s", type(exc).__name__,
                         "".join(traceback.format_tb(exc.__traceback__)))
            result = FileResult(source=str(path), kind=input_kind(path), status="failed",
                                errors=[f"{path}: unexpected error ({type(exc).__name__}); "
                                        "the file was skipped, please report this"])
            found = []
        files.append(result)
        for denial in found:
            if denial.denial_id in denials:
                duplicates += 1
            else:
                denials[denial.denial_id] = denial
    warnings = [w for f in files for w in f.warnings]
    if duplicates:
        warnings.append(f"{duplicates} denial(s) were read more than once and kept once")
    kept = list(denials.values())
    summary = IngestSummary(
        files=len(files), files_failed=sum(f.status == "failed" for f in files),
        claims=totals.claims, service_lines=totals.service_lines, denials=len(kept),
        denied_amount=sum((d.denied_amount for d in kept), Decimal(0)),
        partly_paid_lines=totals.partly_paid_lines, reversals=totals.reversals,
        corrections=totals.corrections, duplicates=duplicates,
        top_reasons=top_reasons(kept, codes, rules))
    return IngestReport(denials=kept, files=files, summary=summary,
                        errors=[e for f in files for e in f.errors], warnings=warnings)


def _read_835(path: Path, rules: DenialRules, totals: ClaimTally
              ) -> tuple[FileResult, list[Denial]]:
    source = str(path)
    try:
        reader = Remittance835Reader.open(path, source=source)
    except OSError as exc:
        return FileResult(source=source, kind="835", status="failed",
                          errors=[f"{source}: cannot open the file ({exc.strerror})"]), []
    tally = ClaimTally()
    try:
        found = list(denials_from_claims(reader, rules, tally))
    except X12ParseError as exc:
        return FileResult(source=source, kind="835", status="failed", errors=[str(exc)],
                          warnings=[str(w) for w in reader.warnings]), []
    for name in ("claims", "service_lines", "partly_paid_lines", "reversals", "corrections"):
        setattr(totals, name, getattr(totals, name) + getattr(tally, name))
    return FileResult(source=source, kind="835", status="read", claims=tally.claims,
                      service_lines=tally.service_lines, denials=len(found),
                      warnings=[str(w) for w in reader.warnings]), found


def _read_queue_file(path: Path) -> tuple[FileResult, list[Denial]]:
    source = str(path)
    try:
        result = read_queue(path, source)
    except QueueFileError as exc:
        return FileResult(source=source, kind="queue", status="failed", errors=[str(exc)]), []
    except OSError as exc:
        return FileResult(source=source, kind="queue", status="failed",
                          errors=[f"{source}: cannot open the file ({exc.strerror})"]), []
    except UnicodeError:
        return FileResult(source=source, kind="queue", status="failed",
                          errors=[f"{source}: the file is not UTF-8 text"]), []
    status: Literal["read", "partial", "failed"] = "read"
    if result.row_errors:
        status = "partial" if result.denials else "failed"
    return FileResult(source=source, kind="queue", status=status, rows=result.rows,
                      denials=len(result.denials), errors=result.row_errors,
                      warnings=result.warnings), result.denials


def top_reasons(denials: Sequence[Denial], codes: CodeTable, rules: DenialRules,
                limit: int = 10) -> list[ReasonCount]:
    """The reasons behind the denials, by how many denials carry them, with their dollars.

    On a partly paid line only the unexpected reasons count (its CO-45 is not why it was
    denied); on a $0 line every reason does.
    """
    counts: Counter[str] = Counter()
    dollars: dict[str, Decimal] = {}
    for denial in denials:
        seen: set[str] = set()
        for adjustment in denial_reasons(denial, rules):
            label = adjustment.label
            if label not in seen:
                counts[label] += 1
                seen.add(label)
            dollars[label] = dollars.get(label, Decimal(0)) + adjustment.amount
    out = []
    for label, count in counts.most_common(limit):
        carc = label.split("-", 1)[1]
        out.append(ReasonCount(reason=label, description=codes.carc(carc).description,
                               denials=count, denied_amount=dollars[label]))
    return out
