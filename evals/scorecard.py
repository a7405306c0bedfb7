"""The scorecard: every evaluator's score per playbook and overall, dev and holdout apart,
and the gate that fails the run below its thresholds."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from evals.evaluators import EVALUATORS
from evals.runner import CaseResult

GATE: dict[str, float] = {
    "citation_validity": 1.0,
    "action_correct": 0.95,
    "playbook_correct": 0.95,
    "evidence_recall": 0.90,
    "no_letter_when_not_appealable": 1.0,
    "no_forbidden_content": 1.0,
}
"""The minimum score of each gated evaluator over a split's cases (template-only in CI).
A gated evaluator that scores nothing while the split has cases fails."""

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
                                             "reason (its first words) -> letters.")


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

    split: Literal["all", "dev", "holdout"]
    cases: int
    cases_by_split: dict[str, int]
    seconds: float
    evaluators: list[str]
    overall: dict[str, dict[str, Score]] = Field(description="split (all, dev, holdout) -> "
                                                 "evaluator -> score.")
    by_playbook: dict[str, dict[str, dict[str, Score]]] = Field(
        description="expected playbook -> split -> evaluator -> score.")
    drafting: Drafting
    gate: list[GateLine] = Field(description="The thresholds over each split with cases "
                                 "(dev, holdout, all); the exit status follows `split`.")
    passed: bool = Field(description="The gate over the selected split.")
    passed_by_split: dict[str, bool] = Field(description="The gate over each split.")
    failures: list[Failure]
    case_lines: list[CaseLine]


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
               gate: dict[str, float], due: dict[str, int] | None = None) -> list[GateLine]:
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
    """How many cases each letter evaluator should score: those expecting a letter (and,
    for no_forbidden_content, naming what must not appear)."""
    appeals = [r for r in results if r.loaded.case.expect.action == "appeal"]
    due = {name: len(appeals) for name in LETTER_EVALUATORS}
    due["no_forbidden_content"] = sum(1 for r in appeals if r.loaded.case.expect.must_not_contain)
    return due


def drafting(results: Sequence[CaseResult], mode: Literal["template", "llm"]) -> Drafting:
    """How the cases' letters were drafted."""
    reasons: Counter[str] = Counter()
    for result in results:
        reasons.update(" ".join(r.split(":", 1)[0].split()[:6]) for r in result.fallbacks)
    return Drafting(mode=mode, letters=sum(r.letters for r in results),
                    by_llm=sum(r.llm_letters for r in results),
                    fallbacks=sum(len(r.fallbacks) for r in results),
                    fallback_reasons=dict(reasons.most_common()))


def build_scorecard(results: Sequence[CaseResult], split: SplitLabel, seconds: float,
                    gate: dict[str, float] | None = None,
                    mode: Literal["template", "llm"] = "template") -> Scorecard:
    """Aggregate the case results and apply the gate to each split; the selected split
    (every result given) decides ``passed``."""
    gate = GATE if gate is None else gate
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
    return Scorecard(
        split=split, cases=len(results), cases_by_split=counts, seconds=round(seconds, 2),
        evaluators=[e.name for e in EVALUATORS], overall=overall,
        by_playbook={name: _by_split(groups[name]) for name in sorted(groups)},
        drafting=drafting(results, mode), gate=lines,
        passed=by_split.get("all", False), passed_by_split=by_split,
        failures=failures,
        case_lines=[CaseLine(case=r.loaded.case.id, source=r.loaded.source,
                             split=r.loaded.case.split, playbook=group_of(r),
                             passed=all(c.passed for c in r.checks),
                             seconds=round(r.seconds, 3),
                             checks={c.evaluator: f"{c.hits}/{c.total}" for c in r.checks})
                    for r in results])
