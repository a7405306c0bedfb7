"""Ingest: read a batch of 835 files and denial queues into denials, losing nothing silently.

One bad file never stops the batch: it is reported as one line and the others are read.
An 835 with a structural error contributes no denials (its remaining content cannot be
trusted, and a half-read remittance would be re-read in full once fixed); a queue file
loses only its bad rows. The same denial read twice (a remittance sent again) is kept once.
A file's type is told from its first bytes, not its name (:func:`detect_input`); a folder
stands for the files directly in it (:func:`plan_inputs`). A service line that an 835 and
a worklist both carry is one denial with both sources (:func:`merge_denials`).
"""

from __future__ import annotations

import codecs
import logging
import re
import traceback
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.codes import CodeTable
from agent.denials.claims import ClaimRead, ClaimSink, claim_key, remittance_key
from agent.denials.from_835 import ClaimTally, DenialRules, denials_from_claim
from agent.denials.model import (
    Denial,
    disagreements,
    match_keys,
    merge_denials,
    same_service_line,
)
from agent.denials.outcomes import WHOLE_CLAIM, DenialFinder, LineOutcome, OutcomeMatcher
from agent.denials.queue import (
    SNIFF_BYTES,
    QueueFileError,
    QueueFormat,
    read_queue,
    sniff_queue,
)
from agent.denials.reasons import denial_reasons
from agent.x12.errors import X12ParseError
from agent.x12.models import ClaimPayment, Remittance
from agent.x12.reader import Remittance835Reader

InputKind = Literal["835", "queue", "unknown"]
"""What an input is: a remittance, a denial queue, or neither (it could not be read)."""
FileFormat = Literal["x12", "csv", "json", "xlsx"]
"""How an input file is written, as its content says."""

logger = logging.getLogger(__name__)


class FileResult(BaseModel):
    """How one input file went."""

    source: str
    kind: InputKind
    format: FileFormat | None = Field(None, description="How the file is written, told "
                                      "from its content (a CSV named .txt is csv).")
    status: Literal["read", "partial", "failed"] = Field(description="partial: a queue file "
                                                          "with rows that could not be read.")
    claims: int = 0
    service_lines: int = 0
    rows: int = 0
    denials: int = 0
    outcomes: int = Field(0, description="835: lines recorded as outcomes of earlier "
                          "denials (not new denials).")
    ambiguous: int = Field(0, description="835: lines that match more than one earlier "
                           "denial (nothing recorded; a warning names each).")
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
    merged: int = Field(description="Denials that an 835 and a worklist both carried, kept "
                        "once with both sources (Denial.merged_sources).")
    outcomes: int = Field(0, description="Lines of later 835s recorded as outcomes of "
                          "earlier denials (docs/outcomes.md), not as new denials.")
    ambiguous: int = Field(0, description="Lines of later 835s that match more than one "
                           "earlier denial: nothing recorded, one warning line each.")
    top_reasons: list[ReasonCount]


class IngestReport(BaseModel):
    """Everything ``appeals ingest`` found."""

    denials: list[Denial]
    outcomes: list[LineOutcome] = Field(default_factory=list, description="Lines of later "
                                        "835s that are outcomes of earlier denials.")
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


_X12_START = re.compile(rb"ISA|(?:ST|GS|BPR|TRN|CLP|N1|LX)[^A-Za-z0-9\s,]")
"""An interchange header, or a segment the X12 reader explains as a missing ISA."""

READABLE = "an X12 835, a CSV or JSON denial queue, or an .xlsx workbook"


@dataclass(frozen=True, slots=True)
class DetectedInput:
    """What a file is, told from its first bytes."""

    kind: InputKind
    format: FileFormat | None
    problem: str = ""
    """For an unknown file: what it looks like instead (never its content)."""


def detect_input(path: Path) -> DetectedInput:
    """Tell an 835 from a queue (and how the queue is written) by content, not by name.

    An X12 835 starts with ISA, after an optional byte-order mark and whitespace; for the
    rest see :func:`~agent.denials.queue.sniff_queue`. Only the first
    :data:`~agent.denials.queue.SNIFF_BYTES` are read (and a ZIP archive's directory).

    Raises:
        OSError: the file cannot be opened.
    """
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if _X12_START.match(head.removeprefix(codecs.BOM_UTF8).lstrip()):
        return DetectedInput("835", "x12")
    sniffed = sniff_queue(path, head)
    if sniffed.format is None:
        return DetectedInput("unknown", None, sniffed.problem)
    return DetectedInput("queue", sniffed.format)


def input_kind(path: Path) -> InputKind:
    """835, queue or unknown, by content (see :func:`detect_input`); unknown if unopenable."""
    try:
        return detect_input(path).kind
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class PlannedInput:
    """One file a batch reads, or one input it reports as failed without reading."""

    path: Path
    detected: DetectedInput
    failure: FileResult | None = None
    """Set when the input cannot be read at all (unopenable, unknown type, empty folder)."""


@dataclass(slots=True)
class InputPlan:
    """The files a batch reads, in order, and what was skipped on the way."""

    inputs: list[PlannedInput]
    warnings: list[str]
    """One line per file of a folder that was skipped (not a type appeals reads)."""

    @property
    def files(self) -> list[Path]:
        """The files that will be read (folders expanded)."""
        return [i.path for i in self.inputs if i.failure is None]


def plan_inputs(paths: Sequence[str | Path]) -> InputPlan:
    """The files to read for these inputs: a folder stands for the files directly in it.

    A folder's files are read in name order. Its hidden files (``.name``) and Office lock
    files (``~$name``) are passed over in silence; its subfolders, and files that are not
    an 835, a CSV, JSON or xlsx queue, are skipped with a warning line each. Folders are
    not read recursively: practices keep the files they are done with in subfolders. A
    named file (or folder) that cannot be read is one failed input.
    """
    inputs: list[PlannedInput] = []
    warnings: list[str] = []
    for path in (Path(p) for p in paths):
        if not path.is_dir():
            inputs.append(_plan_file(path))
            continue
        found = 0
        for entry in sorted(path.iterdir(), key=lambda e: e.name):
            if entry.name.startswith((".", "~$")):
                continue
            if entry.is_dir():
                warnings.append(f"{entry}: skipped: a folder inside a folder is not read")
                continue
            planned = _plan_file(entry)
            if planned.detected.problem:  # a file of another type, in a folder: passed over
                warnings.append(f"{entry}: skipped: {_what_is_wrong(planned.detected)}")
                continue
            inputs.append(planned)
            found += 1
        if not found:
            inputs.append(PlannedInput(path, DetectedInput("unknown", None), FileResult(
                source=str(path), kind="unknown", status="failed",
                errors=[f"{path}: the folder has no X12 835, CSV, JSON or .xlsx file to "
                        "read"])))
    return InputPlan(inputs, warnings)


def _plan_file(path: Path) -> PlannedInput:
    source = str(path)
    try:
        detected = detect_input(path)
    except OSError as exc:
        return PlannedInput(path, DetectedInput("unknown", None), FileResult(
            source=source, kind="unknown", status="failed",
            errors=[f"{source}: cannot open the file ({exc.strerror})"]))
    if detected.kind != "unknown":
        return PlannedInput(path, detected)
    return PlannedInput(path, detected, FileResult(
        source=source, kind="unknown", status="failed",
        errors=[f"{source}: {_what_is_wrong(detected)}"]))


def _what_is_wrong(detected: DetectedInput) -> str:
    if detected.problem == "empty":
        return "the file is empty"
    return f"not {READABLE} ({detected.problem})"


def ingest(paths: Sequence[str | Path], rules: DenialRules | None = None,
           codes: CodeTable | None = None, *, sink: ClaimSink | None = None,
           finder: DenialFinder | None = None) -> IngestReport:
    """Read every input; never raises for a bad file (see :attr:`IngestReport.errors`).

    Keeps every denial in memory; :class:`IngestStream` yields them one at a time instead
    (``sink`` and ``finder`` are its own).
    """
    stream = IngestStream(paths, rules, codes, sink=sink, finder=finder)
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
    Memory grows only with the ids of the distinct denials (to drop duplicates), with
    more than one 835 their match keys (for the outcomes later 835s record), the queue
    files' rows, the outcomes and the per-file results, not with the 835 files' size.

    Queue files (worklists: small) are read first, so that each 835 line can take in the
    worklist row that describes it as it streams by (see :func:`merge_denials`). The 835s
    are then read in the order of their production dates (DTM*405; the order given among
    equal or missing dates), so that a later remittance's lines meet the earlier denials
    they answer (:class:`~agent.denials.outcomes.OutcomeMatcher`): such a line is an
    outcome (:attr:`outcomes`), not a new denial. The queue files' other rows follow, in
    the order given; :attr:`files` lists the results in that order.

    With a ``sink``, every claim of an 835 that reads to its end is kept there, with the
    outcomes its lines are (:class:`~agent.denials.claims.ClaimSink`); with a ``finder``,
    the denials a store already holds are earlier denials too.
    """

    def __init__(self, paths: Sequence[str | Path], rules: DenialRules | None = None,
                 codes: CodeTable | None = None, *,
                 on_file: Callable[[FileResult], None] | None = None,
                 sink: ClaimSink | None = None, finder: DenialFinder | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.rules = rules or DenialRules()
        self.codes = codes
        self.files: list[FileResult] = []
        self.on_file = on_file
        """Called with each file's result as soon as it is known (e.g. to print errors)."""
        self.sink = sink
        self.finder = finder
        self.duplicates = 0
        self.merged = 0
        """Denials an 835 and a worklist both carried, kept once."""
        self.outcomes: list[LineOutcome] = []
        """Lines of later 835s that are outcomes of earlier denials, as they were read."""
        self.ambiguous = 0
        """Later lines that match more than one earlier denial (nothing recorded)."""
        self._matcher: OutcomeMatcher | None = None
        self._remember = False
        self._started = False
        self._seen: set[str] = set()
        self._plan_warnings: list[str] = []
        self._totals = ClaimTally()
        self._reasons = ReasonTally(self.rules)
        self._denials = 0
        self._denied_amount = Decimal(0)

    def __iter__(self) -> Iterator[Denial]:
        if self._started:
            raise RuntimeError("an IngestStream can be iterated only once")
        self._started = True
        plan = plan_inputs(self.paths)
        self._plan_warnings = plan.warnings
        queues: dict[int, tuple[FileResult, list[Denial]]] = {}
        for position, planned in enumerate(plan.inputs):
            if planned.failure is None and planned.detected.kind == "queue":
                try:
                    queues[position] = _read_queue_file(planned.path, planned.detected.format)
                except Exception as exc:  # a bug of ours must not sink the rest of the batch
                    queues[position] = self._unexpected(planned.path, planned.detected, exc), []
        worklist = _Worklist(queues) if queues else None
        remittances = _by_production_date(plan.inputs)
        self._remember = len(remittances) > 1
        if self.finder is not None or self._remember:
            self._matcher = OutcomeMatcher(self.rules, self.finder)
        for planned in plan.inputs:
            if planned.failure is not None:
                self._done(planned.failure)
            elif planned.detected.kind == "835":
                slot = remittances.pop(0)  # the next 835 by production date
                result = yield from self._stream_835(plan.inputs[slot], slot, worklist)
                self._done(result)
        taken = worklist.taken if worklist is not None else set()
        for position, (result, denials) in queues.items():
            try:
                yield from self._keep(iter([d for d in denials if id(d) not in taken]))
            except Exception as exc:  # a bug of ours must not sink the rest of the batch
                planned = plan.inputs[position]
                result = self._unexpected(planned.path, planned.detected, exc)
            self._done(result)

    def _stream_835(self, planned: PlannedInput, position: int,
                    worklist: _Worklist | None) -> Generator[Denial, None, FileResult]:
        source = str(planned.path)

        def reading() -> _Reading:
            return _Reading(source, self.rules, self._matcher, self.sink)

        try:
            denials = _read_835(planned.path, self._totals, reading, self.outcomes)
            result: FileResult = yield from self._keep(denials, position, worklist)
            self.ambiguous += result.ambiguous
            return result
        except Exception as exc:  # a bug of ours must not sink the rest of the batch
            return self._unexpected(planned.path, planned.detected, exc)

    @staticmethod
    def _unexpected(path: Path, detected: DetectedInput, exc: Exception) -> FileResult:
        # Frames only: an exception's message may quote patient data.
        logger.error("unexpected %s reading an input file\n%s", type(exc).__name__,
                     "".join(traceback.format_tb(exc.__traceback__)))
        return FileResult(source=str(path), kind=detected.kind, format=detected.format,
                          status="failed",
                          errors=[f"{path}: unexpected error ({type(exc).__name__}); "
                                  "the file was skipped, please report this"])

    def _done(self, result: FileResult) -> None:
        self.files.append(result)
        if self.on_file is not None:
            self.on_file(result)

    def _keep(self, denials: Iterator[Denial], position: int = -1,
              worklist: _Worklist | None = None) -> Generator[Denial, None, FileResult]:
        """Pass on the denials not seen before, counting them.

        With a ``worklist``, an 835's denial first takes in the worklist row that
        describes the same line. The generator's result is the underlying one's (an 835's
        :class:`FileResult`).
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
            if worklist is not None:
                denial = self._merge(denial, position, worklist)
            if self._remember and self._matcher is not None and denial.source.kind == "835":
                self._matcher.remember(denial)  # a later 835 of the batch may answer it
            self._denials += 1
            self._denied_amount += denial.denied_amount
            self._reasons.add(denial)
            yield denial

    def _merge(self, denial: Denial, position: int, worklist: _Worklist) -> Denial:
        """The 835's denial with the worklist row of the same line, when there is one."""
        found = worklist.take(denial)
        if found is None:
            return denial
        row_position, row = found
        self.merged += 1
        self._seen.add(row.denial_id)
        result = worklist.results[row_position]
        differ = disagreements(denial, row)
        if differ and len(result.warnings) < MAX_WARNINGS_PER_FILE:
            segment = f", segment {denial.source.segment}" if denial.source.segment else ""
            result.warnings.append(
                f"{row.source.file}: row {row.source.row}: {', '.join(differ)} differ from "
                f"the 835 ({denial.source.file}{segment}); the 835's are kept")
        return merge_denials(denial, row, worklist_first=row_position < position)

    @property
    def errors(self) -> list[str]:
        """One line per file or row that could not be read."""
        return [e for f in self.files for e in f.errors]

    @property
    def warnings(self) -> list[str]:
        """What was read but deserves a look (skipped files, balancing, duplicates)."""
        warnings = [*self._plan_warnings, *(w for f in self.files for w in f.warnings)]
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
            duplicates=self.duplicates, merged=self.merged, outcomes=len(self.outcomes),
            ambiguous=self.ambiguous, top_reasons=self._reasons.top(codes))

    @property
    def exit_status(self) -> int:
        """As :attr:`IngestReport.exit_status`."""
        return self.report([]).exit_status

    def report(self, denials: list[Denial]) -> IngestReport:
        """The batch's report with these denials (all of them, or none when streamed)."""
        return IngestReport(denials=denials, outcomes=self.outcomes, files=self.files,
                            summary=self.summary(), errors=self.errors,
                            warnings=self.warnings)


class _Worklist:
    """The queue files' rows, waiting for the 835 line each describes.

    Rows are found by :func:`match_keys` and checked with :func:`same_service_line`; a row
    describes at most one 835 line, and when several rows (or lines) match, they pair in
    the order read. A row already read identically (same id) waits only once.
    """

    def __init__(self, queues: dict[int, tuple[FileResult, list[Denial]]]) -> None:
        self.results = {position: result for position, (result, _) in queues.items()}
        self.taken: set[int] = set()
        """``id()`` of the rows merged into an 835 line: not passed on again."""
        self._rows: dict[tuple[object, ...], list[tuple[int, int, Denial]]] = {}
        ids: set[str] = set()
        order = 0
        for position, (_, denials) in queues.items():
            for denial in denials:
                if denial.denial_id in ids:
                    continue
                ids.add(denial.denial_id)
                order += 1
                for key in match_keys(denial):
                    self._rows.setdefault(key, []).append((order, position, denial))

    def take(self, denial: Denial) -> tuple[int, Denial] | None:
        """The first row not yet taken that describes this 835 line, and its input's position.

        The row is then taken: it describes no other line.
        """
        best: tuple[int, int, Denial] | None = None
        for key in match_keys(denial):
            for candidate in self._rows.get(key, ()):
                if id(candidate[2]) in self.taken or (best is not None and
                                                      candidate[0] >= best[0]):
                    continue
                if same_service_line(denial, candidate[2]):
                    best = candidate
                    break
        if best is None:
            return None
        self.taken.add(id(best[2]))
        return best[1], best[2]


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


def _by_production_date(inputs: Sequence[PlannedInput]) -> list[int]:
    """The positions of the readable 835s, in the order they are read.

    By production date (the first transaction's DTM*405, else its BPR16), so that a later
    remittance's lines meet the denials they answer; the order given among equal or
    unknown dates. A single 835 is not opened twice.
    """
    positions = [i for i, planned in enumerate(inputs)
                 if planned.failure is None and planned.detected.kind == "835"]
    if len(positions) < 2:
        return positions
    dates = {i: _production_date(inputs[i].path) for i in positions}
    return sorted(positions, key=lambda i: (dates[i] or date.max, i))


def _production_date(path: Path) -> date | None:
    """The date of an 835's first remittance, read from its head (None if it has none)."""
    try:
        claims = iter(Remittance835Reader.open(path, max_warnings=0))
        try:
            first = next(claims, None)
        finally:
            claims.close()  # type: ignore[attr-defined]  # a generator: closes the file
    except (X12ParseError, OSError, ValueError):
        return None  # read (and reported) as a whole later
    return first.remittance.remittance_date if first is not None else None


@dataclass(slots=True)
class _Reading:
    """One read of an 835's claims: matched to earlier denials and kept, as they come.

    A file too large to hold is first only checked, then read again with this (a new
    one): the claims are kept, and the outcomes count, only once a read of the whole file
    is done (:meth:`done`).
    """

    source: str
    rules: DenialRules
    matcher: OutcomeMatcher | None
    sink: ClaimSink | None
    outcomes: list[LineOutcome] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)
    """Segment numbers of lines that match more than one earlier denial."""
    _remittance: Remittance | None = None
    _prefix: str = ""
    _position: int = 0
    _reversed: dict[str, str | None] = field(default_factory=dict)
    _open: bool = False

    @property
    def plain(self) -> bool:
        """Neither matching nor keeping: only the denials are wanted."""
        return self.matcher is None and self.sink is None

    def read(self, claim: ClaimPayment, tally: ClaimTally) -> list[Denial]:
        """The claim's denials, matching and keeping it on the way."""
        if self.plain:
            return denials_from_claim(claim, self.rules, tally)
        if claim.remittance is not self._remittance:
            self._remittance, self._position = claim.remittance, 0
            self._prefix = remittance_key(claim.remittance)
        self._position += 1
        key = claim_key(claim, self._position, self._prefix)
        corrects = None
        if claim.is_reversal:
            self._reversed[claim.patient_control_number] = claim.payer_claim_control_number
        elif claim.patient_control_number in self._reversed:
            corrects = self._reversed.pop(claim.patient_control_number)
        match = self.matcher.match(claim, key, corrects) if self.matcher is not None else None
        if match is not None:
            self.outcomes += [outcome for _, outcome in match.outcomes]
            self.ambiguous += match.ambiguous
        denials = denials_from_claim(claim, self.rules, tally,
                                     match.consumed if match is not None else ())
        if self.sink is not None:
            if not self._open:
                self.sink.open_file(self.source)
                self._open = True
            self.sink.claim(ClaimRead(claim, key, corrects, _fates(claim, denials), {
                index: outcome.denial_id for index, outcome in match.outcomes}
                if match is not None else {}))
        return denials

    def done(self, found: list[LineOutcome]) -> None:
        """The whole file was read: keep its claims; its outcomes join ``found``."""
        if self._open and self.sink is not None:
            self.sink.outcomes(self.outcomes)
            self.sink.close_file(True)
            self._open = False
        found += self.outcomes

    def drop(self) -> None:
        """This read is not kept (the file failed, or is read again): drop its claims."""
        if self._open and self.sink is not None:
            self._open = False
            self.sink.close_file(False)

    def warnings(self) -> list[str]:
        """One line per ambiguous line: where it is, never what it says."""
        return [f"{self.source}: segment {segment}: matches more than one earlier denial "
                "(or shares one with another line of its claim); no outcome was recorded "
                "for it: match it by hand" for segment in self.ambiguous]


def _fates(claim: ClaimPayment, denials: list[Denial]) -> dict[int, tuple[str, Decimal]]:
    """Line index -> (id, denied amount) of the denials built from ``claim``."""
    if not denials:
        return {}
    by_segment = {d.source.segment: d for d in denials}
    out = {index: (d.denial_id, d.denied_amount) for index, line in enumerate(claim.lines)
           if (d := by_segment.get(line.segment_number)) is not None}
    whole = by_segment.get(claim.segment_number)
    if whole is not None and not claim.lines:
        out[WHOLE_CLAIM] = (whole.denial_id, whole.denied_amount)
    return out


def _read_835(path: Path, totals: ClaimTally, new_reading: Callable[[], _Reading],
              found: list[LineOutcome]) -> Generator[Denial, None, FileResult]:
    """Yield one 835's denials once the file is known to read to its end; return its result.

    Its counts are added to ``totals``, its claims kept and its outcomes added to
    ``found``, only when it reads to its end. A file with more denials than can be held
    is checked first (nothing built), then read again.
    """
    source = str(path)
    try:
        reader = Remittance835Reader.open(path, source=source,
                                          max_warnings=MAX_WARNINGS_PER_FILE)
    except OSError as exc:
        return FileResult(source=source, kind="835", format="x12", status="failed",
                          errors=[f"{source}: cannot open the file ({exc.strerror})"])
    tally = ClaimTally()
    held: list[Denial] = []
    too_many = False
    reading = new_reading()
    try:
        claims = iter(reader)
        for claim in claims:
            held += reading.read(claim, tally)
            if len(held) > HELD_DENIALS:
                # Too many to hold: check the rest of the file, then read it again.
                too_many = True
                held.clear()
                reading.drop()
                for _ in claims:  # the same reader: checked, nothing built
                    pass
                break
    except X12ParseError as exc:
        reading.drop()
        return FileResult(source=source, kind="835", format="x12", status="failed",
                          errors=[str(exc)], warnings=_warning_lines(reader))
    except BaseException:
        reading.drop()
        raise
    warnings = _warning_lines(reader)
    if too_many:
        tally = ClaimTally()
        count = 0
        reading = new_reading()
        again = Remittance835Reader.open(path, source=source, max_warnings=0)
        try:
            for claim in again:
                for denial in reading.read(claim, tally):
                    count += 1
                    yield denial
        except X12ParseError:
            # Passed the first read, failed the second: the file changed under us.
            reading.drop()
            return FileResult(source=source, kind="835", format="x12", status="failed",
                              denials=count,
                              errors=[f"{source}: the file changed while it was read; "
                                      f"{count} of its denials were already passed on"],
                              warnings=warnings)
        except BaseException:
            reading.drop()
            raise
    else:
        count = len(held)
    reading.done(found)
    if not too_many:
        yield from held
    _add_tally(totals, tally)
    return FileResult(source=source, kind="835", format="x12", status="read", claims=tally.claims,
                      service_lines=tally.service_lines, denials=count,
                      outcomes=len(reading.outcomes), ambiguous=len(reading.ambiguous),
                      warnings=warnings + reading.warnings())


def _warning_lines(reader: Remittance835Reader) -> list[str]:
    lines = [str(w) for w in reader.warnings]
    if reader.warnings_dropped:
        lines.append(f"{reader.source}: {reader.warnings_dropped} more warnings not listed")
    return lines


def _add_tally(totals: ClaimTally, tally: ClaimTally) -> None:
    for name in ("claims", "service_lines", "partly_paid_lines", "reversals", "corrections"):
        setattr(totals, name, getattr(totals, name) + getattr(tally, name))


def _read_queue_file(path: Path, format: FileFormat | None = None
                     ) -> tuple[FileResult, list[Denial]]:
    source = str(path)
    queue_format: QueueFormat | None = format if format != "x12" else None
    try:
        result = read_queue(path, source, queue_format)
    except QueueFileError as exc:
        return FileResult(source=source, kind="queue", format=format, status="failed",
                          errors=[str(exc)]), []
    except OSError as exc:
        return FileResult(source=source, kind="queue", format=format, status="failed",
                          errors=[f"{source}: cannot open the file ({exc.strerror})"]), []
    except UnicodeError:
        return FileResult(source=source, kind="queue", format=format, status="failed",
                          errors=[f"{source}: the file is not UTF-8 text"]), []
    status: Literal["read", "partial", "failed"] = "read"
    if result.row_errors:
        status = "partial" if result.denials else "failed"
    return FileResult(source=source, kind="queue", format=format, status=status,
                      rows=result.rows, denials=len(result.denials), errors=result.row_errors,
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
