"""The eval suites: which folder of datasets, which gate, and which splits the gate decides on.

- ``cases``: evals/datasets, notes written for the project (the default). Its gate decides
  on the dev split and on all the cases together: ``appeals eval`` exits 1 when either is
  below it, and tests/test_evals.py runs it in CI.
- ``real-notes``: evals/real_notes, denials on real transcribed notes (MTSamples) that
  nobody on the project wrote, read from the shared folder (evals/corpus.py). Its gate
  decides on the dev split only (tests/test_evals_real_notes.py runs it in CI).

In neither suite does the holdout decide: it is run once, at the end of a piece of work,
and its gate is printed and published (docs/evals.md), never tuned on and never the exit
status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EVALS = Path(__file__).resolve().parent
"""The evals package: its datasets ship inside it, so a checkout and an installed wheel find
them the same way."""


@dataclass(frozen=True, slots=True)
class Suite:
    """A set of dataset files scored together against one gate."""

    name: str
    title: str
    folder: Path
    gate: Mapping[str, float]
    """Minimum score of each gated evaluator over a split's cases."""
    gated: tuple[str, ...]
    """The splits whose gate decides the exit status: ``dev``, and ``all`` (dev and holdout
    together) where the gate is meant for the whole set. Never ``holdout`` alone: the
    holdout's gate is reported, never gated. The gate over any other split is reported
    and ignored."""
    marker: str
    """The name of the generated section in a Markdown report (``<!-- NAME:start -->``)."""
    json_suffix: str
    """Added to the report's file name for the JSON written beside it."""

    def __post_init__(self) -> None:
        if not set(self.gated) <= {"dev", "all"}:
            raise ValueError(f"suite {self.name}: only dev and all may be gated, never the "
                             "holdout alone")

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
              gate=GATE, gated=("dev", "all"), marker="scorecard", json_suffix="")
REAL_NOTES = Suite(name="real-notes", title="Real notes", folder=EVALS / "real_notes",
                   gate=REAL_NOTES_GATE, gated=("dev",), marker="scorecard:real-notes",
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
