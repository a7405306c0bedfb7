"""``appeals run``: run the batch, with progress while it runs and the summary an auditor reads."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from agent.cli.common import Interrupted, console

if TYPE_CHECKING:  # imported where used: `appeals --help` does not load the graphs
    from agent.llm.settings import LLMSettings
    from agent.manifest import Manifest


def run_command(
    inputs: Annotated[list[Path], typer.Argument(help="835 files, denial worklists (CSV, "
                                                 "JSON, xlsx) or folders of them.",
                                                 show_default=False)],
    ehr: Annotated[str | None, typer.Option(
        "--ehr", help="EHR source, e.g. fhir-dir:PATH. Needed only for denials whose "
        "playbook reads the chart; without it they wait in needs_review and the run says "
        "how many.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(help="Letters and manifest.json go here.")] =
    Path("appeals-out"),
    db: Annotated[Path, typer.Option(help="SQLite file for checkpoints and the audit "
                                     "trail.")] = Path("appeals.db"),
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Draft each argument with a "
                                      "model (OPENAI_API_KEY / OPENAI_BASE_URL or [llm] in "
                                      "--config); checked, with the template as fallback.")
                   ] = False,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="With --llm: stop "
                                                   "calling the model once the run's "
                                                   "estimated spend reaches this many USD "
                                                   "(needs the model's prices in the "
                                                   "configuration).", show_default=False)
                        ] = None,
    auto_approve: Annotated[bool, typer.Option(help="Approve every draft as it is made. "
                                               "For tests and benchmarks only.")] = False,
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
    wait: Annotated[float, typer.Option(help="When another run holds the database, wait up "
                                        "to this many seconds for it (default: exit 1).")
                    ] = 0.0,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="The day the run counts as today: the letters' date and which appeal "
        "deadlines have passed (default: today).", show_default=False)] = None,
    include_late: Annotated[bool, typer.Option(
        "--include-late/--no-include-late", help="Also draft appeals whose deadline has "
        "passed (default: flag them, no draft).")] = False,
    redraft: Annotated[bool, typer.Option(
        "--redraft/--no-redraft", help="With --llm: draft again the pending letters that "
        "fell back to the template (the old drafts are kept, superseded).")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the run's summary as JSON (the manifest's summary) instead "
        "of tables; progress and problems go to stderr.")] = False,
) -> None:
    """Triage every denial, gather the chart, and draft the letters an auditor reviews.

    Exits 0 when the batch completes, whatever was decided; 1 when another run holds the
    database, or when some inputs could not be read (the rest were worked; the manifest
    lists them); 2 on a usage error or when no input could be read; 130 when interrupted
    (run it again to resume).
    """
    settings = llm_settings(llm, max_cost, config)
    if redraft and settings is None:
        typer.secho("appeals run --redraft: no model is on (--llm with a key or base URL), "
                    "so no letter is drafted again.", err=True, fg="yellow")
    request = RunRequest(inputs=[str(p) for p in inputs], ehr=ehr, out=out, db=db,
                         auto_approve=auto_approve, config_path=config, llm=settings,
                         wait=wait, today=as_of.date() if as_of else None,
                         include_late=include_late, redraft=redraft, as_json=as_json)
    raise typer.Exit(run_and_report(request, console()))


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What ``appeals run`` was asked to do."""

    inputs: list[str]
    ehr: str | None
    """The EHR source; None: the denials that need a chart wait for a run with one."""
    out: Path
    db: Path
    auto_approve: bool = False
    config_path: Path | None = None
    llm: LLMSettings | None = None
    wait: float = 0.0
    """Seconds to wait for another run's writer lease (0: exit 1 at once)."""
    today: date | None = None
    """``--as-of``; None: the machine's date."""
    include_late: bool = False
    redraft: bool = False
    as_json: bool = False
    """Print the summary as JSON on stdout; everything else goes to stderr."""


def llm_settings(enabled: bool, max_cost: float | None, config_path: Path | None
                 ) -> LLMSettings | None:
    """The model settings for ``appeals run``: None unless ``--llm``.

    Without a key or a base URL the run is template-only, and says so on stderr.
    """
    if not enabled:
        return None
    from pydantic import ValidationError

    from agent.llm.settings import LLMSettings

    try:
        settings = LLMSettings.load(config_path, max_cost=max_cost)
    except (OSError, ValueError, ValidationError) as exc:
        typer.echo(f"appeals run: the [llm] settings are not valid: {exc}", err=True)
        raise typer.Exit(2) from None
    if not settings.configured:
        typer.secho("appeals run --llm: no API key or base URL is configured (set "
                    "OPENAI_API_KEY, OPENAI_BASE_URL or [llm] in --config); every letter is "
                    "drafted from the templates.", err=True, fg="yellow")
        return None
    return settings


def run_and_report(request: RunRequest, console: Console) -> int:
    """Run the batch with a progress bar; print the summary; return the exit status.

    The run holds the store's writer lease throughout (waiting up to ``request.wait``
    seconds for it): another writer on the same database makes it exit 1, naming that
    writer. Ctrl-C stops it with exit 130; the same command resumes it.
    """
    from agent.application.workflow import open_workflow, run_batch
    from agent.config import AppConfig
    from agent.ehr.protocols import EHRSourceError
    from agent.playbooks.registry import PlaybookError
    from agent.store.lease import LeaseHeldError, LeaseLostError, LeasePolicy, writer_lease

    db = request.db
    manifest_path = request.out / "manifest.json"
    before = _stamp(manifest_path)
    try:
        config = AppConfig.load(request.config_path)
        with open_workflow(db, request.out, request.ehr, config, today=request.today,
                           llm=request.llm, include_late=request.include_late,
                           redraft=request.redraft) as workflow, \
                writer_lease(workflow.ctx.store, "appeals run",
                             LeasePolicy(wait=request.wait)), \
                _progress(Console(stderr=True) if request.as_json else console) as progress:
            phases = _Phases(progress)

            def on_repair(line: str) -> None:
                typer.secho(line, err=True, fg="yellow")  # "repaired: ..."

            manifest = run_batch(workflow, request.inputs, request.auto_approve,
                                 phases.on_progress, on_repair)
    except (KeyboardInterrupt, Interrupted):
        typer.secho("appeals run: interrupted; what was done is kept: run the same command "
                    "again to resume", err=True, fg="yellow")
        return 130
    except (LeaseHeldError, LeaseLostError) as exc:
        typer.secho(f"appeals run: {db}: {exc}", err=True, fg="red")
        return 1
    except (EHRSourceError, PlaybookError, OSError, ValueError) as exc:
        # One line whatever its length (a playbook error lists the known names).
        typer.secho(f"appeals run: {exc}", err=True, fg="red")
        return 2
    summary = manifest.summary
    for error in summary.input_errors:
        typer.secho(error, err=True, fg="red")  # one line per file, as `ingest` prints them
    for warning in (*summary.input_warnings, *summary.ehr_warnings):
        typer.secho(f"warning: {warning}", err=True, fg="yellow")
    if summary.needs_ehr:
        typer.secho(f"appeals run: {summary.needs_ehr} denial(s) need the chart and no EHR "
                    "source was given: they are in needs_review; run again with --ehr "
                    "SOURCE to decide them and draft their letters", err=True, fg="yellow")
    if request.as_json:
        sys.stdout.write(summary.model_dump_json(indent=2) + "\n")
    else:
        print_summary(console, manifest, request.out)
    if before is not None and _stamp(manifest_path) == before:
        typer.secho(f"appeals run: no input could be read; {manifest_path} is left as the "
                    "last run wrote it", err=True, fg="yellow")
    if summary.denials == 0 and summary.input_errors:
        return 2  # nothing usable to work on
    return 1 if summary.input_errors else 0


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_ino


_NEXT_PHASE = {"ingest": "Triage", "triage": "Choosing playbooks",
               "pick_playbook": "Forming work queues"}
"""The phase that starts when a graph node (the key) finishes."""


class _Phases:
    """The progress bar through every phase of a run, not only the work queues."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("Reading the inputs", total=None)
        self.queues = 0
        self.worked = 0

    def on_progress(self, node: str, update: dict[str, Any]) -> None:
        """Move the bar on when a graph node finishes."""
        if node in _NEXT_PHASE:
            self.progress.update(self.task, description=_NEXT_PHASE[node])
        elif node == "group":
            self.queues = len(update.get("group_ids", []))
            self.progress.update(self.task, description="Work queues", total=self.queues,
                                 completed=0)
            self._after_queues()
        elif node == "work_group":
            self.worked += 1
            self.progress.advance(self.task)
            self._after_queues()

    def _after_queues(self) -> None:
        if self.worked >= self.queues:  # then review threads, repairs and the manifest
            self.progress.update(self.task, description="Opening reviews, writing the "
                                 "manifest", total=None)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=console, transient=True)


def print_summary(console: Console, manifest: Manifest, out: Path) -> None:
    """Denials by action, letters, groups, dollars at stake, nearest deadlines."""
    s = manifest.summary
    console.print(f"\n[bold]Run {manifest.run_id}[/bold]: {s.denials} denials in {s.groups} "
                  f"work queues, ${s.dollars_at_stake:,.2f} at stake")
    table = Table(title="Denials by action", title_justify="left")
    table.add_column("Action")
    table.add_column("Denials", justify="right")
    for action, count in s.by_action.items():
        table.add_row(action, str(count))
    console.print(table)
    if s.llm is not None:
        cost = f", about ${s.llm.estimated_cost:,.2f}" if s.llm.estimated_cost is not None \
            else ""
        console.print(f"Model {s.llm.model}: {s.llm.letters_by_llm} arguments drafted, "
                      f"{s.llm.letters_by_template} from the template; {s.llm.requests} "
                      f"requests, {s.llm.tokens_in:,} tokens in, {s.llm.tokens_out:,} out"
                      f"{cost}")
        if s.llm.switched_to_template:
            console.print(Text(f"The model was switched off during the run: {s.llm.note}"),
                          style="yellow")
    statuses = ", ".join(f"{n} {status}" for status, n in s.letters_by_status.items())
    console.print(f"Letters: {s.letters_drafted} drafted ({statuses or 'none'}); "
                  f"written under {out / 'letters'}; manifest {out / 'manifest.json'}")
    if s.redecided or s.letters_superseded:
        why = ", ".join(f"{n} because the {reason}" for reason, n in s.redecided.items())
        # Drafts are also superseded with no denial decided again: --redraft, or changed
        # practice or payer settings (the audit trail says why, for each).
        decided = f"Decided again: {sum(s.redecided.values())} denials ({why}); " \
            if s.redecided else ""
        console.print(f"{decided}{s.letters_superseded} pending drafts superseded (kept, "
                      "marked superseded); approved and sent letters never change")
    outcomes = Counter(d.outcome for d in manifest.denials if d.outcome != "open")
    if outcomes or manifest.outcomes:
        earlier = f"; {len(manifest.outcomes)} of earlier runs' denials answered by a later " \
            "remittance (manifest outcomes)" if manifest.outcomes else ""
        mine = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        console.print(f"Outcomes: {mine or 'none of this run'}{earlier}")
    if s.past_deadline:
        late = f"; {s.late_not_drafted} appeals not drafted (--include-late drafts them)" \
            if s.late_not_drafted else ""
        console.print(Text(f"Past their appeal deadline on {s.as_of}: {s.past_deadline} "
                           f"denials{late}"), style="yellow")
    if s.nearest_deadlines:
        deadlines = Table(title="Nearest appeal deadlines", title_justify="left")
        for column in ("Deadline", "Claim", "Action", "Denial"):
            deadlines.add_column(column)
        for item in s.nearest_deadlines[:5]:
            deadlines.add_row(item.appeal_deadline.isoformat(), Text(item.claim_id),
                              item.action, item.denial_id)
        console.print(deadlines)
