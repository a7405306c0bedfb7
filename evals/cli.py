"""``appeals eval`` (and ``python -m evals``): load cases, run them, print the scorecard,
write the reports, exit by the gate.

Exit status: 1 when the gate fails on a split it decides on (dev; all too in the cases
suite), naming the split on stderr (``gate failed: dev``); 0 otherwise. The holdout's gate
is printed and published, never the exit status: a holdout-only failure exits 0. 2 on a
usage error: no such dataset, an unknown split or suite, a bad case file, ``--corpus`` not
a folder, ``--llm`` with no model configured.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.text import Text

from agent.cli.common import console
from agent.config import AppConfig
from agent.llm.settings import LLMSettings
from evals.evaluators import evaluate
from evals.loader import CaseFileError, load_selection
from evals.report import print_scorecard, write_json, write_markdown
from evals.runner import CaseResult, Environment, RunSettings, run_cases
from evals.scorecard import Scorecard, build_scorecard
from evals.suites import SUITES, Suite, SuiteError, suite_for

LLM_NOT_CONFIGURED = ("--llm needs a model: set OPENAI_API_KEY or OPENAI_BASE_URL, or [llm] "
                      "in --config (docs/llm.md)")

SplitChoice = Literal["dev", "holdout", "all"]
SPLITS: dict[str, SplitChoice] = {"dev": "dev", "holdout": "holdout", "all": "all"}


def run_eval(datasets: Sequence[Path] = (), split: SplitChoice = "all",
             settings: RunSettings | None = None, out: Console | None = None,
             verbose: bool = False, suite: Suite | None = None,
             corpora: Path | None = None) -> Scorecard:
    """Load the cases (the suite's folder by default: evals/datasets), run and score them.
    Cases whose corpus is absent are skipped: the scorecard counts them, and one line on
    ``out`` says so."""
    settings = settings or RunSettings()
    suite = suite or suite_for(None, datasets)
    selection = load_selection(datasets or [suite.folder], None if split == "all" else split,
                               corpora=corpora)
    skip_line = selection.skip_line()
    if skip_line and out is not None:
        out.print(Text(skip_line), soft_wrap=True)
    env = Environment.load(settings.config)
    started = time.perf_counter()

    def progress(result: CaseResult) -> None:
        if out is not None and verbose:
            status = "ok" if all(c.passed for c in result.checks) else "FAIL"
            out.print(Text(f"{status:4} {result.loaded.case.id} ({result.seconds:.2f} s)"))

    results = run_cases(selection.cases, settings, lambda run: evaluate(run, env), progress)
    return build_scorecard(results, split, time.perf_counter() - started,
                           mode="llm" if settings.llm is not None else "template",
                           suite=suite, skipped=selection.skipped)


def main(argv: Sequence[str] | None = None, config: AppConfig | None = None) -> int:
    """``python -m evals [DATASET...] [--split S] [--llm] [--report FILE.md] [--json FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    parser.add_argument("datasets", nargs="*", type=Path,
                        help="dataset files or folders (default: evals/datasets)")
    parser.add_argument("--split", choices=("dev", "holdout", "all"), default="all")
    parser.add_argument("--suite", choices=tuple(SUITES), help="cases (evals/datasets, the "
                        "default) or real-notes (evals/real_notes); default: the suite "
                        "whose folder holds the datasets given")
    parser.add_argument("--corpus", type=Path, help="the folder holding the note corpora "
                        "(default: APPEALS_CORPUS_DIR, else ../shared/data/external beside "
                        "the checkout)")
    parser.add_argument("--llm", action="store_true", help="draft the arguments with the "
                        "model configured by OPENAI_* / APPEALS_LLM_* (docs/llm.md)")
    parser.add_argument("--report", type=Path, help="write the Markdown scorecard here "
                        "(and the JSON beside it unless --json is given)")
    parser.add_argument("--json", type=Path, dest="json_path", help="write the JSON here")
    parser.add_argument("--keep", type=Path, help="keep each case's inputs, chart and "
                        "output under this folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    args = parser.parse_args(argv)
    return command(args.datasets, args.split, args.llm, args.report, args.json_path,
                   args.keep, args.verbose, config, LLMSettings.load() if args.llm else None,
                   suite=args.suite, corpora=args.corpus)


def command(datasets: Sequence[Path], split: str, llm: bool, report: Path | None,
            json_path: Path | None, keep: Path | None, verbose: bool,
            config: AppConfig | None = None, llm_settings: LLMSettings | None = None,
            suite: str | None = None, corpora: Path | None = None) -> int:
    """What both entry points do; returns the exit status. ``llm``: draft with the model
    of ``llm_settings``, which must be configured. Only the splits the suite gates decide
    (evals/suites.py: never the holdout), so a holdout-only run exits 0 whatever its gate
    says, and so does a selection whose every case was skipped (its corpus is absent: one
    line says so; reports are left as they are)."""
    if split not in SPLITS:
        print(f"appeals eval: --split is dev, holdout or all, not '{split}'", file=sys.stderr)
        return 2
    if corpora is not None and not corpora.is_dir():
        print(f"appeals eval: --corpus {corpora}: no such folder", file=sys.stderr)
        return 2
    try:
        chosen = suite_for(suite, datasets)
    except SuiteError as exc:
        print(f"appeals eval: {exc}", file=sys.stderr)
        return 2
    if llm and (llm_settings is None or not llm_settings.configured):
        print(f"appeals eval: {LLM_NOT_CONFIGURED}", file=sys.stderr)
        return 2
    out = console()
    settings = RunSettings(config=config or AppConfig(), keep=keep,
                           llm=llm_settings if llm else None)
    try:
        card = run_eval(datasets, SPLITS[split], settings, out, verbose, chosen, corpora)
    except CaseFileError as exc:
        print(f"appeals eval: {exc}", file=sys.stderr)
        return 2
    if not card.cases and card.skipped:
        return 0
    print_scorecard(card, out)
    if report is not None:
        write_markdown(card, report)
        json_path = json_path or chosen.json_beside(report)
    if json_path is not None:
        write_json(card, json_path)
    if card.failed_gates:
        print(f"appeals eval: gate failed: {', '.join(card.failed_gates)} (suite "
              f"{card.suite})", file=sys.stderr)
        return 1
    return 0
