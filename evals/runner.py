"""Running a case through the real workflow and collecting what the evaluators read.

Each case gets its own temporary directory: the materialised inputs and chart, a fresh
SQLite database and the output directory. The agent runs exactly as ``appeals run``
does (``open_workflow`` + ``run_batch``); the evaluators then read ``manifest.json`` and
the letters it points to, and judge citations against the case's own resources
(:class:`~evals.chart.CaseChart`), never through the agent's EHR adapter.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.application.workflow import open_workflow, run_batch
from agent.codes import CodeTable
from agent.config import AppConfig
from agent.denials.model import Denial
from agent.llm.settings import LLMSettings
from agent.manifest import Manifest, MDenial
from agent.ncci import PtpTable
from agent.playbooks.registry import PlaybookSet
from evals.chart import CaseChart
from evals.checks import Check
from evals.loader import LoadedCase
from evals.materialise import Materialised, materialise
from evals.model import Expectation


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How the agent is run for every case."""

    config: AppConfig = field(default_factory=AppConfig)
    llm: LLMSettings | None = None
    """Model drafting settings (``appeals eval --llm``); None = template-only."""
    keep: Path | None = None
    """Keep each case's directory (inputs, chart, output) under this folder."""


@dataclass(frozen=True, slots=True)
class Environment:
    """What every evaluator may consult besides the run: the agent's own tables."""

    config: AppConfig
    playbooks: PlaybookSet
    codes: CodeTable
    ncci: PtpTable

    @classmethod
    def load(cls, config: AppConfig) -> Environment:
        """The tables a run with ``config`` uses."""
        ncci = PtpTable.load(config.ncci_ptp_files) if config.ncci_ptp_files else \
            PtpTable.default()
        return cls(config, PlaybookSet.load(), CodeTable.load_default(), ncci)


@dataclass(frozen=True, slots=True)
class CaseRun:
    """One case after the agent ran: what the evaluators judge."""

    loaded: LoadedCase
    manifest: Manifest | None
    targets: list[MDenial]
    """The manifest's denials the case is about (``expect.procedure_code``, else all)."""
    letters: dict[str, str]
    """Markdown of every letter drafted in the case, by letter id."""
    chart: CaseChart
    """The case's FHIR resources as written (never the agent's adapter's view of them)."""
    denials: dict[str, Denial]
    """Each denial as the evaluators read the case's input, by denial id."""
    error: str | None = None
    """Why the run failed (the evaluators then fail the case)."""

    @property
    def expect(self) -> Expectation:
        """The case's expectations."""
        return self.loaded.case.expect

    def letters_of(self, denials: Iterable[MDenial]) -> dict[str, str]:
        """The letters drafted for these denials, by letter id."""
        return {d.letter.id: self.letters[d.letter.id] for d in denials
                if d.letter.id and d.letter.id in self.letters}

    def members(self, letter_id: str) -> list[MDenial]:
        """The manifest's denials a letter covers."""
        return [d for d in (self.manifest.denials if self.manifest else [])
                if d.letter.id == letter_id]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's checks, and how its letters were drafted."""

    loaded: LoadedCase
    checks: list[Check]
    seconds: float
    error: str | None = None
    letters: int = 0
    """Letters drafted in the case."""
    llm_letters: int = 0
    """... of which the model wrote the argument (manifest ``letter.drafted_by``)."""
    fallbacks: tuple[str, ...] = ()
    """Why the template argument was used instead of the model's (``letter.llm_fallback``)."""


def describe(exc: BaseException) -> str:
    """An exception for a detail line: its type and message."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message[:300]}" if message else type(exc).__name__


def run_case(loaded: LoadedCase, settings: RunSettings) -> CaseRun:
    """Materialise the case, run the workflow over it, and read what it wrote. Any
    failure is the case's (``CaseRun.error``), never the eval run's."""
    try:
        if settings.keep is not None:
            work = settings.keep / loaded.case.id
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            return _run_in(loaded, settings, work)
        with tempfile.TemporaryDirectory(prefix="appeals-eval-") as tmp:
            return _run_in(loaded, settings, Path(tmp))
    except Exception as exc:  # a bug anywhere is a failed case, not a failed eval run
        return failed_run(loaded, f"the case could not be run: {describe(exc)}")


def failed_run(loaded: LoadedCase, error: str) -> CaseRun:
    """A case whose run produced nothing to judge."""
    return CaseRun(loaded, None, [], {}, CaseChart(()), {}, error=error)


def _run_in(loaded: LoadedCase, settings: RunSettings, work: Path) -> CaseRun:
    case = loaded.case
    out = work / "out"
    try:
        written = materialise(case, work)
    except Exception as exc:
        return failed_run(loaded, f"the case could not be written: {describe(exc)}")
    chart = CaseChart(written.resources, settings.config.document_window_days)
    denials = {d.denial_id: d for d in written.denials}
    try:
        manifest = _run_agent(written, settings, work, loaded)
    except Exception as exc:  # a crash is a failed case, not a failed eval run
        return CaseRun(loaded, None, [], {}, chart, denials,
                       error=f"the run failed: {describe(exc)}")
    try:
        letters = {d.letter.id: (out / d.letter.markdown).read_text(encoding="utf-8")
                   for d in manifest.denials if d.letter.id and d.letter.markdown}
    except Exception as exc:
        return CaseRun(loaded, manifest, _targets(manifest, case.expect), {}, chart, denials,
                       error=f"a letter could not be read: {describe(exc)}")
    return CaseRun(loaded, manifest, _targets(manifest, case.expect), letters, chart,
                   denials)


def _targets(manifest: Manifest, expect: Expectation) -> list[MDenial]:
    code = expect.procedure_code
    return [d for d in manifest.denials if code is None or
            (d.procedure is not None and (d.procedure.original_code or d.procedure.code)
             == code)]


def _run_agent(written: Materialised, settings: RunSettings, work: Path,
               loaded: LoadedCase) -> Manifest:
    with open_workflow(work / "appeals.db", work / "out", written.ehr_source,
                       settings.config, today=loaded.today, llm=settings.llm) as workflow:
        return run_batch(workflow, written.inputs)


Evaluate = Callable[[CaseRun], list[Check]]


def run_cases(cases: Iterable[LoadedCase], settings: RunSettings, evaluate: Evaluate,
              on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run and evaluate every case, in order."""
    results = []
    for loaded in cases:
        started = time.perf_counter()
        run = run_case(loaded, settings)
        checks = evaluate(run)
        drafted = {d.letter.id: d.letter for d in
                   (run.manifest.denials if run.manifest else []) if d.letter.id}
        result = CaseResult(
            loaded, checks, time.perf_counter() - started, run.error, letters=len(drafted),
            llm_letters=sum(m.drafted_by == "llm" for m in drafted.values()),
            fallbacks=tuple(m.llm_fallback for m in drafted.values() if m.llm_fallback))
        if on_case is not None:
            on_case(result)
        results.append(result)
    return results
