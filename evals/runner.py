"""Running a case through the real workflow and collecting what the evaluators read.

Each case gets its own temporary directory: the materialised inputs and chart, a fresh
SQLite database and the output directory. The agent runs exactly as ``appeals run``
does (``open_workflow`` + ``run_batch``); the evaluators then read ``manifest.json`` and
the letters it points to.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.codes import CodeTable
from agent.config import AppConfig
from agent.denials.model import Denial
from agent.ehr.model import ChartBundle, ChartRequest
from agent.ehr.registry import open_adapter
from agent.llm.settings import LLMSettings
from agent.manifest import Manifest, MDenial
from agent.ncci import PtpTable
from agent.playbooks.registry import PlaybookSet
from agent.workflow.run import open_workflow, run_batch
from evals.checks import Check
from evals.fhir import note_text
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
    sources: dict[str, str]
    """The text of every note written to the chart, by ``DocumentReference/id``."""
    charts: dict[str, ChartBundle]
    """The chart the EHR adapter gives for each denial, by denial id."""
    denials: dict[str, Denial]
    """Each denial as the agent read it, by denial id."""
    resources: list[dict[str, object]]
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


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's checks."""

    loaded: LoadedCase
    checks: list[Check]
    seconds: float
    error: str | None = None


def run_case(loaded: LoadedCase, settings: RunSettings) -> CaseRun:
    """Materialise the case, run the workflow over it, and read what it wrote."""
    if settings.keep is not None:
        work = settings.keep / loaded.case.id
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        return _run_in(loaded, settings, work)
    with tempfile.TemporaryDirectory(prefix="appeals-eval-") as tmp:
        return _run_in(loaded, settings, Path(tmp))


def _run_in(loaded: LoadedCase, settings: RunSettings, work: Path) -> CaseRun:
    case = loaded.case
    out = work / "out"
    try:
        written = materialise(case, work)
    except (OSError, TypeError, ValueError) as exc:
        return CaseRun(loaded, None, [], {}, {}, {}, {}, [],
                       error=f"the case could not be written: {type(exc).__name__}")
    try:
        manifest = _run_agent(written, settings, work, loaded)
    except Exception as exc:  # a crash is a failed case, not a failed eval run
        return CaseRun(loaded, None, [], {}, _sources(written), {}, {},
                       written.resources, error=f"the run failed: {type(exc).__name__}")
    letters = {d.letter.id: (out / d.letter.markdown).read_text(encoding="utf-8")
               for d in manifest.denials if d.letter.id and d.letter.markdown}
    code = case.expect.procedure_code
    targets = [d for d in manifest.denials if code is None or
               (d.procedure is not None and (d.procedure.original_code or d.procedure.code)
                == code)]
    denials = {d.denial_id: d for d in written.denials}
    return CaseRun(loaded, manifest, targets, letters, _sources(written),
                   _charts(written, denials.values(), settings.config), denials,
                   written.resources)


def _run_agent(written: Materialised, settings: RunSettings, work: Path,
               loaded: LoadedCase) -> Manifest:
    with open_workflow(work / "appeals.db", work / "out", written.ehr_source,
                       settings.config, today=loaded.today, llm=settings.llm) as workflow:
        return run_batch(workflow, written.inputs)


def _sources(written: Materialised) -> dict[str, str]:
    out = {}
    for resource in written.resources:
        if resource.get("resourceType") == "DocumentReference":
            text = note_text(resource)
            if text is not None:
                out[f"DocumentReference/{resource.get('id')}"] = text
    return out


def _charts(written: Materialised, denials: Iterable[Denial], config: AppConfig
            ) -> dict[str, ChartBundle]:
    adapter = open_adapter(written.ehr_source)
    charts = {}
    for denial in denials:
        member_ids = tuple(i for i in (denial.patient.member_id,) if i)
        charts[denial.denial_id] = adapter.chart_for(ChartRequest(
            member_ids=member_ids, claim_id=denial.claim_id,
            service_date=denial.service_date, window_days=config.document_window_days))
    return charts


Evaluate = Callable[[CaseRun], list[Check]]


def run_cases(cases: Iterable[LoadedCase], settings: RunSettings, evaluate: Evaluate,
              on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run and evaluate every case, in order."""
    results = []
    for loaded in cases:
        started = time.perf_counter()
        run = run_case(loaded, settings)
        checks = evaluate(run)
        result = CaseResult(loaded, checks, time.perf_counter() - started, run.error)
        if on_case is not None:
            on_case(result)
        results.append(result)
    return results

