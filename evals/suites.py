"""The eval suites: which folder of datasets, which gate, and whether the gate decides.

- ``cases``: evals/datasets, notes written for the project (the default). Its gate is
  enforced over all the cases run: ``appeals eval`` exits 1 below it and
  tests/test_evals.py runs it in CI.
- ``real-notes``: evals/real_notes, denials on real transcribed notes (MTSamples) that
  nobody on the project wrote, read from the shared folder (evals/corpus.py). Its gate is
  enforced on the dev split (tests/test_evals_real_notes.py runs it in CI); the holdout
  is run once, at the end of a piece of work, and reported, never tuned on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EVALS = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Suite:
    """A set of dataset files scored together against one gate."""

    name: str
    title: str
    folder: Path
    gate: Mapping[str, float]
    """Minimum score of each gated evaluator over a split's cases."""
    enforced_on: str | None
    """The split whose gate decides the exit status (``all``: every case run); the gate
    over other splits is reported and ignored, and so is the whole gate when a run does
    not hold that split (None: never enforced)."""
    marker: str
    """The name of the generated section in a Markdown report (``<!-- NAME:start -->``)."""
    json_suffix: str
    """Added to the report's file name for the JSON written beside it."""

    @property
    def markers(self) -> tuple[str, str]:
        """The start and end markers of the suite's section in a Markdown report."""
        return f"<!-- {self.marker}:start -->", f"<!-- {self.marker}:end -->"

    def json_beside(self, report: Path) -> Path:
        """The JSON file written beside a Markdown report (``evals.md`` ->
        ``evals-real-notes.json``; a report already named for the suite keeps its name)."""
        if self.json_suffix.strip("-") in report.stem:
            return report.with_suffix(".json")
        return report.with_name(report.stem + self.json_suffix + ".json")


GATE: dict[str, float] = {
    "citation_validity": 1.0,
    "action_correct": 0.95,
    "playbook_correct": 0.95,
    "evidence_recall": 0.90,
    "no_letter_when_not_appealable": 1.0,
    "no_forbidden_content": 1.0,
}
"""The gate of the ``cases`` suite (template-only in CI). A gated evaluator that scores
nothing while the split has cases fails."""

REAL_NOTES_GATE: dict[str, float] = {
    "citation_validity": 1.0,
    "action_correct": 0.90,
    "evidence_recall": 0.85,
    "no_false_appeal": 1.0,
    "no_false_write_off": 1.0,
}
"""The gate of the ``real-notes`` suite: the two ``no_false_*`` evaluators at 100% are
the counts that must be 0 (appeals where the outcome is not to appeal; write-offs or
corrected claims where an appeal or a review was expected)."""

CASES = Suite(name="cases", title="Cases written for the project", folder=EVALS / "datasets",
              gate=GATE, enforced_on="all", marker="scorecard", json_suffix="")
REAL_NOTES = Suite(name="real-notes", title="Real notes", folder=EVALS / "real_notes",
                   gate=REAL_NOTES_GATE, enforced_on="dev", marker="scorecard:real-notes",
                   json_suffix="-real-notes")

SUITES: dict[str, Suite] = {suite.name: suite for suite in (CASES, REAL_NOTES)}


class SuiteError(Exception):
    """The datasets given do not belong to one suite."""


def suite_for(name: str | None, datasets: Sequence[Path] = ()) -> Suite:
    """The suite named, or the one whose folder holds every dataset given (default
    ``cases``)."""
    if name is not None:
        if name not in SUITES:
            raise SuiteError(f"--suite is one of {', '.join(SUITES)}")
        return SUITES[name]
    found = {_suite_of(path).name for path in datasets}
    if len(found) > 1:
        raise SuiteError("the datasets belong to different suites (evals/datasets and "
                         "evals/real_notes are scored apart): run them separately")
    return SUITES[found.pop()] if found else CASES


def _suite_of(path: Path) -> Suite:
    resolved = path.resolve()
    for suite in SUITES.values():
        if resolved == suite.folder or suite.folder in resolved.parents:
            return suite
    return CASES
