"""The scorecard: every evaluator's score per playbook and overall, dev and holdout apart,
and the gate that fails the run below its thresholds (on dev, and on all where the suite
gates it; the holdout's gate is reported, never gated)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from evals.evaluators import EVALUATORS, NOT_TO_WRITE_OFF
from evals.runner import CaseResult
from evals.suites import CASES, GATE, Suite

__all__ = ["GATE", "Scorecard", "build_scorecard"]

NO_PLAYBOOK = "(rules, no playbook)"
"""The group of cases that rules decide before any playbook."""

SplitLabel = Literal["all", "dev", "holdout"]


class Score(BaseModel):
    """One evaluator over a set of cases."""

    hits: int = 0
    total: int = 0
    cases: int = Field(0, description="Cases the evaluator applied to.")
    failed_cases: int = 0

    @property
    def rate(self) -> float | None:
        """hits / total, or None when the evaluator applied to nothing."""
        return self.hits / self.total if self.total else None


class Failure(BaseModel):
    """A check a case failed."""

    case: str
    source: str
    split: str
    playbook: str
    evaluator: str
    detail: str


class GateLine(BaseModel):
    """One threshold of the gate over one split."""

    split: str = Field(description="all, dev or holdout.")
    evaluator: str
    threshold: float
    rate: float | None = Field(description="None: nothing was scored (a failure when the "
                               "split has cases).")
    passed: bool


class Drafting(BaseModel):
    """How the letters were drafted."""

    mode: Literal["template", "llm"] = Field(description="llm: appeals eval --llm.")
    letters: int = Field(0, description="Letters drafted.")
    by_llm: int = Field(0, description="Letters whose argument the model wrote (manifest "
                        "letter.drafted_by = llm).")
    fallbacks: int = Field(0, description="Letters that fell back to the template argument "
                           "(manifest letter.llm_fallback).")
    fallback_reasons: dict[str, int] = Field(default_factory=dict, description="Fallback "
                                             "code ('rejected: values') -> letters.")


class CaseLine(BaseModel):
    """A case's outcome, for the JSON report."""

    case: str
    source: str
    split: str
    playbook: str
    passed: bool
    seconds: float
    checks: dict[str, str] = Field(description="evaluator -> 'hits/total'.")


class Scorecard(BaseModel):
    """What ``appeals eval`` reports (also written as JSON)."""

    suite: str = Field(CASES.name, description="cases or real-notes (evals/suites.py).")
    enforced: bool = Field(True, description="Whether any gate of this run decides the exit "
                           "status (false: a holdout-only run, reported, not gated).")
    gated_on: list[str] = Field(default_factory=lambda: list(CASES.gated), description="The "
                                "splits the suite's gate decides on (evals/suites.py); never "
                                "the holdout.")
    gated_splits: list[str] = Field(default_factory=list, description="The splits of this "
                                    "run whose gate decides the exit status: dev when the run "
                                    "holds dev cases, all when the split run is all and the "
                                    "suite gates it.")
    split: Literal["all", "dev", "holdout"]
    cases: int
    cases_by_split: dict[str, int]
    corpus_notes: int = Field(0, description="Distinct corpus notes the cases read.")
    variants: int = Field(0, description="Cases that are hard-wrapped variants of another.")
    skipped: dict[str, int] = Field(default_factory=dict, description="Corpus -> cases not "
                                    "run because the corpus is absent.")
    seconds: float
    evaluators: list[str]
    overall: dict[str, dict[str, Score]] = Field(description="split (all, dev, holdout) -> "
                                                 "evaluator -> score.")
    by_playbook: dict[str, dict[str, dict[str, Score]]] = Field(
        description="expected playbook -> split -> evaluator -> score.")
    by_variant: dict[str, dict[str, dict[str, Score]]] = Field(
        default_factory=dict, description="original / hard-wrapped -> split -> evaluator -> "
        "score (only when the cases have wrapped variants).")
    drafting: Drafting
    gate: list[GateLine] = Field(description="The thresholds over each split with cases "
                                 "(dev, holdout, all); the exit status follows "
                                 "`gated_splits`.")
    passed: bool = Field(description="The gate that decides: over every split of "
                         "`gated_splits`, or over the selected split when none decides.")
    passed_by_split: dict[str, bool] = Field(description="The gate over each split.")
    failures: list[Failure]
    case_lines: list[CaseLine]

    @property
    def failed_gates(self) -> list[str]:
        """The splits whose gate decides this run's exit status and failed."""
        return [s for s in self.gated_splits if not self.passed_by_split.get(s, False)]


def group_of(result: CaseResult) -> str:
    """The playbook group of a case (its expected playbook)."""
    return result.loaded.case.expect.playbook or NO_PLAYBOOK


def _scores(results: Iterable[CaseResult]) -> dict[str, Score]:
    scores = {e.name: Score() for e in EVALUATORS}
    for result in results:
        for check in result.checks:
            score = scores.setdefault(check.evaluator, Score())
            score.hits += check.hits
            score.total += check.total
            score.cases += 1
            score.failed_cases += not check.passed
    return scores


def _by_split(results: Sequence[CaseResult]) -> dict[str, dict[str, Score]]:
    out = {"all": _scores(results)}
    for split in ("dev", "holdout"):
        chosen = [r for r in results if r.loaded.case.split == split]
        if chosen:
            out[split] = _scores(chosen)
    return out


LETTER_EVALUATORS = frozenset({"citation_validity", "evidence_recall", "letter_complete",
                               "no_fabrication", "no_forbidden_content"})
"""Evaluators that score letters: they have something to score only where a case expects
an appeal."""


def gate_lines(scores: dict[str, Score], split: str, cases: int,
               gate: Mapping[str, float], due: dict[str, int] | None = None) -> list[GateLine]:
    """The gate over one split's scores: a gated evaluator that scored nothing fails when
    the split has cases it should have scored (``due``: per evaluator; default every
    case)."""
    lines = []
    for name, threshold in gate.items():
        rate = scores.get(name, Score()).rate
        owed = (due or {}).get(name, cases)
        passed = rate >= threshold if rate is not None else owed == 0
        lines.append(GateLine(split=split, evaluator=name, threshold=threshold, rate=rate,
                              passed=passed))
    return lines


def _due(results: Sequence[CaseResult]) -> dict[str, int]:
    """How many cases each evaluator that applies to some cases only should score: the
    letter evaluators those expecting a letter (no_forbidden_content: naming what must
    not appear), the no_false_* evaluators those expecting another outcome."""
    appeals = [r for r in results if r.loaded.case.expect.action == "appeal"]
    due = {name: len(appeals) for name in LETTER_EVALUATORS}
    due["no_forbidden_content"] = sum(1 for r in appeals if r.loaded.case.expect.must_not_contain)
    due["no_false_appeal"] = len(results) - len(appeals)
    due["no_false_write_off"] = sum(r.loaded.case.expect.action in NOT_TO_WRITE_OFF
                                    for r in results)
    return due


def drafting(results: Sequence[CaseResult], mode: Literal["template", "llm"]) -> Drafting:
    """How the cases' letters were drafted."""
    reasons: Counter[str] = Counter()
    for result in results:
        reasons.update(" ".join(r.split()[:4]) for r in result.fallbacks)
    return Drafting(mode=mode, letters=sum(r.letters for r in results),
                    by_llm=sum(r.llm_letters for r in results),
                    fallbacks=sum(len(r.fallbacks) for r in results),
                    fallback_reasons=dict(reasons.most_common()))


WRAPPED_TAG = "variant:wrapped"
"""The tag of a hard-wrapped variant (evals/loader.py)."""


def _by_variant(results: Sequence[CaseResult]) -> dict[str, dict[str, dict[str, Score]]]:
    wrapped = [r for r in results if WRAPPED_TAG in r.loaded.case.tags]
    if not wrapped:
        return {}
    original = [r for r in results if WRAPPED_TAG not in r.loaded.case.tags]
    return {"original": _by_split(original), "hard-wrapped": _by_split(wrapped)}


def _corpus_notes(results: Sequence[CaseResult]) -> int:
    return len({(n.source.corpus, n.source.id) for r in results
                if r.loaded.case.chart is not None
                for n in r.loaded.case.chart.notes if n.source is not None})


def gated_splits(suite: Suite, split: SplitLabel, counts: Mapping[str, int]) -> list[str]:
    """The splits of a run whose gate decides its exit status: ``dev`` when the run holds
    dev cases, ``all`` when the whole selection ran (dev cases among them) and the suite
    gates it. Never the holdout: a run of holdout cases only is reported, not gated."""
    if not counts.get("dev"):
        return []
    return [name for name in ("dev", "all") if name in suite.gated
            and (name == "dev" or split == "all")]


def build_scorecard(results: Sequence[CaseResult], split: SplitLabel, seconds: float,
                    gate: Mapping[str, float] | None = None,
                    mode: Literal["template", "llm"] = "template", suite: Suite = CASES,
                    skipped: Mapping[str, int] | None = None) -> Scorecard:
    """Aggregate the case results and apply the gate (default: the suite's) to each split;
    the splits of :func:`gated_splits` decide ``passed`` (the selected split when none
    does: a holdout-only run)."""
    gate = suite.gate if gate is None else gate
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        groups[group_of(result)].append(result)
    overall = _by_split(results)
    counts = {s: sum(r.loaded.case.split == s for r in results) for s in ("dev", "holdout")}
    sizes = {"all": len(results), **counts}
    lines = [line for name in ("dev", "holdout", "all") if name in overall
             for line in gate_lines(overall[name], name, sizes[name], gate,
                                    _due([r for r in results
                                          if name == "all" or r.loaded.case.split == name]))]
    by_split = {name: bool(sizes[name]) and all(line.passed for line in lines
                                                if line.split == name)
                for name in ("dev", "holdout", "all") if name in overall}
    failures = [Failure(case=r.loaded.case.id, source=r.loaded.source,
                        split=r.loaded.case.split, playbook=group_of(r),
                        evaluator=c.evaluator, detail=c.detail)
                for r in results for c in r.checks if not c.passed]
    gated = gated_splits(suite, split, counts)
    return Scorecard(
        suite=suite.name, enforced=bool(gated), gated_on=list(suite.gated),
        gated_splits=gated, split=split, cases=len(results),
        cases_by_split=counts, corpus_notes=_corpus_notes(results),
        variants=sum(WRAPPED_TAG in r.loaded.case.tags for r in results),
        skipped=dict(skipped or {}), seconds=round(seconds, 2),
        evaluators=[e.name for e in EVALUATORS], overall=overall,
        by_playbook={name: _by_split(groups[name]) for name in sorted(groups)},
        by_variant=_by_variant(results),
        drafting=drafting(results, mode), gate=lines,
        passed=(all(by_split.get(name, False) for name in gated) if gated
                else by_split.get(split, by_split.get("all", False))),
        passed_by_split=by_split,
        failures=failures,
        case_lines=[CaseLine(case=r.loaded.case.id, source=r.loaded.source,
                             split=r.loaded.case.split, playbook=group_of(r),
                             passed=all(c.passed for c in r.checks),
                             seconds=round(r.seconds, 3),
                             checks={c.evaluator: f"{c.hits}/{c.total}" for c in r.checks})
                    for r in results])
