"""``appeals eval``: score the agent on the eval cases.

The ``evals`` package ships beside ``agent`` in the wheel, with its datasets, so the
command runs from any install, not only from a checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def eval_command(
    datasets: Annotated[list[Path] | None, typer.Argument(
        help="Dataset files or folders (default: the suite's folder, evals/datasets).",
        show_default=False)] = None,
    split: Annotated[str, typer.Option(help="dev, holdout or all.")] = "all",
    suite: Annotated[str | None, typer.Option(
        help="cases (evals/datasets) or real-notes (evals/real_notes); default: the suite "
        "whose folder holds the datasets given, else cases.", show_default=False)] = None,
    corpus: Annotated[Path | None, typer.Option(
        help="The folder holding the note corpora of the real-note cases (default: "
        "APPEALS_CORPUS_DIR, else ../shared/data/external beside the checkout; an "
        "installed package has no default). Without the corpus those cases are skipped, "
        "and one line says so.", show_default=False)] = None,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Draft the arguments with the "
                                      "configured model (docs/llm.md).")] = False,
    report: Annotated[Path | None, typer.Option(help="Write the Markdown scorecard here "
                                                "(and the JSON beside it).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON "
                                                   "scorecard here.")] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep each case's inputs, chart and "
                                              "output under this folder.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="One line per case.")] =
    False,
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
) -> None:
    """Score the agent on the eval cases (evals/): a table per playbook and overall.

    Exits 1 when the gate fails on a split it decides on (dev; all too for the cases
    suite), naming the split on stderr; 0 otherwise. The holdout's gate is printed, never
    the exit status. Exits 2 on a usage error (no such dataset, an unknown split or
    suite, a bad case file).
    """
    try:
        from evals.cli import command
    except ModuleNotFoundError as exc:
        if exc.name not in ("evals", "evals.cli"):
            raise
        typer.echo("appeals eval: the evals package is missing from this install; "
                   "reinstall denial-appeal-agent (its wheel ships agent and evals).",
                   err=True)
        raise typer.Exit(2) from None
    from agent.config import AppConfig
    from agent.llm.settings import LLMSettings

    raise typer.Exit(command(datasets or [], split, llm, report, json_path, keep, verbose,
                             AppConfig.load(config),
                             LLMSettings.load(config) if llm else None, suite=suite,
                             corpora=corpus))
