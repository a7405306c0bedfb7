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
from collections.abc import Callable, Generator, Iterator, Sequence
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
    """Read every input; never raises for a bad file (see :attr:`IngestReport.errors`).

    Keeps every denial in memory; :class:`IngestStream` yields them one at a time instead.
    """
    stream = IngestStream(paths, rules, codes)
    denials = list(stream)
    return stream.report(denials)


HELD_DENIALS = 1_000
"""Denials of one 835 held back until the file has been read to its end. A file with more
is read twice (checked, then streamed) so that memory stays flat at any size."""

MAX_WARNINGS_PER_FILE = 1_000
"""Warnings listed per file; the rest are counted in one line (a file unbalanced on every
line would otherwise keep a warning per line)."""


class IngestStream:
    """Reads a batch of inputs and yields its denials one at a time, in flat memory.

    Iterate once; then :attr:`files`, :attr:`errors`, :attr:`warnings`, :meth:`summary`
    and :attr:`exit_status` describe the batch. An 835's denials are yielded only once the
    whole file has been read without a structural error (as :func:`ingest` always did):
    held in memory up to :data:`HELD_DENIALS`, past that by reading the file twice.
    Memory grows only with the ids of the distinct denials (to drop duplicates) and the
    per-file results, not with the files' size.
    """

    def __init__(self, paths: Sequence[str | Path], rules: DenialRules | None = None,
                 codes: CodeTable | None = None, *,
                 on_file: Callable[[FileResult], None] | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.rules = rules or DenialRules()
        self.codes = codes
        self.files: list[FileResult] = []
        self.on_file = on_file
        """Called with each file's result as soon as it is known (e.g. to print errors)."""
        self.duplicates = 0
        self._started = False
        self._seen: set[str] = set()
        self._totals = ClaimTally()
        self._reasons = ReasonTally(self.rules)
        self._denials = 0
        self._denied_amount = Decimal(0)

    def __iter__(self) -> Iterator[Denial]:
        if self._started:
            raise RuntimeError("an IngestStream can be iterated only once")
        self._started = True
        for path in self.paths:
            try:
                if input_kind(path) == "835":
                    result = yield from self._keep(_read_835(path, self.rules, self._totals))
                else:
                    result, denials = _read_queue_file(path)
                    yield from self._keep(iter(denials))
            except Exception as exc:  # a bug of ours must not sink the rest of the batch
                # Frames only: an exception's message may quote patient data.
                logger.error("unexpected %s reading an input file\n%s", type(exc).__name__,
                             "".join(traceback.format_tb(exc.__traceback__)))
                result = FileResult(source=str(path), kind=input_kind(path), status="failed",
                                    errors=[f"{path}: unexpected error ({type(exc).__name__}); "
                                            "the file was skipped, please report this"])
            self.files.append(result)
            if self.on_file is not None:
                self.on_file(result)

    def _keep(self, denials: Iterator[Denial]) -> Generator[Denial, None, FileResult]:
        """Pass on the denials not seen before, counting them.

        The generator's result is the file's :class:`FileResult`.
        """
        seen = self._seen
        while True:
            try:
                denial = next(denials)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if denial.denial_id in seen:
                self.duplicates += 1
                continue
            seen.add(denial.denial_id)
            self._denials += 1
            self._denied_amount += denial.denied_amount
            self._reasons.add(denial)
            yield denial

    @property
    def errors(self) -> list[str]:
        """One line per file or row that could not be read."""
        return [e for f in self.files for e in f.errors]

    @property
    def warnings(self) -> list[str]:
        """What was read but deserves a look (balancing, versions, duplicates)."""
        warnings = [w for f in self.files for w in f.warnings]
        if self.duplicates:
            warnings.append(f"{self.duplicates} denial(s) were read more than once and kept "
                            "once")
        return warnings

    def summary(self) -> IngestSummary:
        """Totals of what has been read so far (the batch's, once iterated)."""
        totals = self._totals
        codes = self.codes or CodeTable.load_default()
        return IngestSummary(
            files=len(self.files), files_failed=sum(f.status == "failed" for f in self.files),
            claims=totals.claims, service_lines=totals.service_lines, denials=self._denials,
            denied_amount=self._denied_amount, partly_paid_lines=totals.partly_paid_lines,
            reversals=totals.reversals, corrections=totals.corrections,
            duplicates=self.duplicates, top_reasons=self._reasons.top(codes))

    @property
    def exit_status(self) -> int:
        """As :attr:`IngestReport.exit_status`."""
        return self.report([]).exit_status

    def report(self, denials: list[Denial]) -> IngestReport:
        """The batch's report with these denials (all of them, or none when streamed)."""
        return IngestReport(denials=denials, files=self.files, summary=self.summary(),
                            errors=self.errors, warnings=self.warnings)


class ReasonTally:
    """Counts the reasons behind denials as they stream by (see :func:`top_reasons`)."""

    def __init__(self, rules: DenialRules) -> None:
        self.rules = rules
        self.counts: Counter[str] = Counter()
        self.dollars: dict[str, Decimal] = {}

    def add(self, denial: Denial) -> None:
        """Count one denial's reasons (each once) and add up their dollars."""
        seen: set[str] = set()
        for adjustment in denial_reasons(denial, self.rules):
            label = adjustment.label
            if label not in seen:
                self.counts[label] += 1
                seen.add(label)
            self.dollars[label] = self.dollars.get(label, Decimal(0)) + adjustment.amount

    def top(self, codes: CodeTable, limit: int = 10) -> list[ReasonCount]:
        """The most frequent reasons, with their descriptions and dollars."""
        out = []
        for label, count in self.counts.most_common(limit):
            carc = label.split("-", 1)[1]
            out.append(ReasonCount(reason=label, description=codes.carc(carc).description,
                                   denials=count, denied_amount=self.dollars[label]))
        return out


def _read_835(path: Path, rules: DenialRules, totals: ClaimTally
              ) -> Generator[Denial, None, FileResult]:
    """Yield one 835's denials once the file is known to read to its end; return its result.

    Its counts are added to ``totals`` only when it reads.
    """
    source = str(path)
    try:
        reader = Remittance835Reader.open(path, source=source,
                                          max_warnings=MAX_WARNINGS_PER_FILE)
    except OSError as exc:
        return FileResult(source=source, kind="835", status="failed",
                          errors=[f"{source}: cannot open the file ({exc.strerror})"])
    tally = ClaimTally()
    held: list[Denial] = []
    too_many = False
    try:
        claims = iter(reader)
        found = denials_from_claims(claims, rules, tally)
        for denial in found:
            held.append(denial)
            if len(held) > HELD_DENIALS:
                # Too many to hold: check the rest of the file, then read it again.
                too_many = True
                held.clear()
                for _ in claims:  # the same reader, past the denials generator
                    pass
                break
    except X12ParseError as exc:
        return FileResult(source=source, kind="835", status="failed", errors=[str(exc)],
                          warnings=_warning_lines(reader))
    warnings = _warning_lines(reader)
    if too_many:
        tally = ClaimTally()
        count = 0
        again = Remittance835Reader.open(path, source=source, max_warnings=0)
        try:
            for denial in denials_from_claims(again, rules, tally):
                count += 1
                yield denial
        except X12ParseError:
            # Passed the first read, failed the second: the file changed under us.
            return FileResult(source=source, kind="835", status="failed", denials=count,
                              errors=[f"{source}: the file changed while it was read; "
                                      f"{count} of its denials were already passed on"],
                              warnings=warnings)
    else:
        count = len(held)
        yield from held
    _add_tally(totals, tally)
    return FileResult(source=source, kind="835", status="read", claims=tally.claims,
                      service_lines=tally.service_lines, denials=count, warnings=warnings)


def _warning_lines(reader: Remittance835Reader) -> list[str]:
    lines = [str(w) for w in reader.warnings]
    if reader.warnings_dropped:
        lines.append(f"{reader.source}: {reader.warnings_dropped} more warnings not listed")
    return lines


def _add_tally(totals: ClaimTally, tally: ClaimTally) -> None:
    for name in ("claims", "service_lines", "partly_paid_lines", "reversals", "corrections"):
        setattr(totals, name, getattr(totals, name) + getattr(tally, name))


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
    tally = ReasonTally(rules)
    for denial in denials:
        tally.add(denial)
    return tally.top(codes, limit)
