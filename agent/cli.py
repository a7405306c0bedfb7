"""The ``appeals`` command line.

Commands print results on stdout and problems on stderr, one line each in the form
``FILE: segment N (ID): what is wrong``; problem lines never carry patient data.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.codes import CodeTable
from agent.console import console
from agent.denials.model import Denial
from agent.ingest import FileResult, IngestReport, IngestStream
from agent.review import cli as review_cli
from agent.store import cli as store_cli

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Denial appeal agent: read payer denials and draft appeal letters.")


@app.callback()
def _root() -> None:
    """Denial appeal agent: read payer denials and draft appeal letters."""


_console = console


@app.command("ingest")
def ingest_command(
    files: Annotated[list[Path], typer.Argument(help="835 files and/or CSV/JSON denial "
                                                "queues.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON "
                                          "instead of tables.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 2 when any file or row "
                                         "could not be read.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many denials in the table "
                                       "(0 = all); --json always has all.")] = 500,
) -> None:
    """Read denials from 835 remittances and denial queues; print them with a summary.

    Exit status: 0 when every file was read, 1 when some failed and the rest were read,
    2 when nothing could be read (or, with --strict, when anything failed).
    """
    def report_errors(result: FileResult) -> None:
        for line in result.errors:
            typer.echo(line, err=True)  # one line each, never wrapped: tools grep these

    stream = IngestStream(files, on_file=report_errors)
    if as_json:
        _write_json(stream)
    else:
        out = _console()
        _print_denials(out, stream, limit)
        _print_summary(out, stream.report([]))
        for line in stream.warnings:
            typer.secho(f"warning: {line}", err=True, fg="yellow")
    status = stream.exit_status
    if strict and stream.errors:
        status = 2
    raise typer.Exit(status)


def _money(value: object) -> str:
    return f"{value:,.2f}"


_JSON_HEAD = '{\n  "denials": ['


def _write_json(stream: IngestStream) -> None:
    """Write the report as it streams: the same text ``IngestReport.model_dump_json(indent=2)``
    gives for the whole report, one denial at a time."""
    write = sys.stdout.write
    write(_JSON_HEAD)
    separator = "\n"
    for denial in stream:
        write(separator + textwrap.indent(denial.model_dump_json(indent=2), "    "))
        separator = ",\n"
    if separator != "\n":
        write("\n  ")
    rest = stream.report([]).model_dump_json(indent=2)
    write(rest[len(_JSON_HEAD):] + "\n")  # "]," then files, summary, errors, warnings


_PAGE = 1_000
"""With --limit 0, rows are printed a table of this many at a time as they are read."""


def _print_denials(out: Console, denials: Iterable[Denial], limit: int) -> None:
    shown: list[Denial] = []
    total = printed = 0
    for denial in denials:
        total += 1
        if limit <= 0 and len(shown) == _PAGE:
            out.print(_denials_table(f"Denials {printed + 1:,}-{printed + _PAGE:,}", shown))
            printed += _PAGE
            shown = []
        if limit <= 0 or len(shown) < limit:
            shown.append(denial)
    title = f"Denials ({total})" if not printed else \
        f"Denials {printed + 1:,}-{printed + len(shown):,} of {total:,}"
    out.print(_denials_table(title, shown))
    if limit > 0 and len(shown) < total:
        out.print(f"... {total - len(shown)} more denials not shown "
                  "(use --limit 0 or --json)")


def _denials_table(title: str, denials: list[Denial]) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (("Payer claim #", "left"), ("Patient ctrl #", "left"),
                          ("Payer", "left"), ("DOS", "left"), ("Procedure", "left"),
                          ("Billed", "right"), ("Paid", "right"), ("Reasons", "left"),
                          ("RARC", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for d in denials:
        # Text(), not str: payer data is never read as console markup.
        table.add_row(*(Text(cell) for cell in (
            d.payer_claim_number or "", d.claim_id, d.payer.name or d.payer.id or "",
            d.service_date.isoformat() if d.service_date else "",
            d.procedure.display if d.procedure else "(claim)",
            _money(d.billed), _money(d.paid), " ".join(d.reason_labels),
            " ".join(d.remarks))))
    return table


def _print_summary(out: Console, report: IngestReport) -> None:
    s = report.summary
    failed = f", {s.files_failed} failed" if s.files_failed else ""
    out.print(f"\n[bold]Summary[/bold]: {s.files} file(s){failed}; {s.claims} claims, "
              f"{s.service_lines} service lines; [bold]{s.denials} denials[/bold], "
              f"${_money(s.denied_amount)} denied")
    extras = []
    if s.partly_paid_lines:
        extras.append(f"{s.partly_paid_lines} partly paid lines with only contractual or "
                      "cost-sharing adjustments (not denials)")
    if s.reversals or s.corrections:
        extras.append(f"{s.reversals} reversals and {s.corrections} corrections (not new "
                      "denials)")
    if s.duplicates:
        extras.append(f"{s.duplicates} duplicate denials kept once")
    for extra in extras:
        out.print(f"  {extra}")
    if s.top_reasons:
        table = Table(title="Top reasons", title_justify="left")
        table.add_column("Reason")
        table.add_column("Description", max_width=70)
        table.add_column("Denials", justify="right")
        table.add_column("Denied $", justify="right")
        for r in s.top_reasons:
            table.add_row(*(Text(c) for c in (r.reason, r.description, str(r.denials),
                                              _money(r.denied_amount))))
        out.print(table)


@app.command("codes")
def codes_command(
    codes: Annotated[list[str], typer.Argument(help="CARC (e.g. 50, CO-50) or RARC (N115).",
                                               show_default=False)],
) -> None:
    """Describe adjustment reason and remark codes."""
    table_data = CodeTable.load_default()
    out = _console()
    for raw in codes:
        code = raw.split("-", 1)[1] if "-" in raw else raw
        rarc = code[:1].isalpha() and len(code) > 2 and code[1:2].isalnum() and \
            not table_data.carc(code).known
        found = table_data.rarc(code) if rarc else table_data.carc(code)
        state = "" if found.known else " (not in the shipped code table)"
        ended = f" [ended {found.end_date}]" if found.end_date else ""
        out.print(f"[bold]{escape(raw)}[/bold] {found.kind.upper()}{escape(ended)}: "
                  f"{escape(found.description)}{state}")


@app.command("run")
def run_command(
    inputs: Annotated[list[Path], typer.Argument(help="835 files and/or CSV/JSON denial "
                                                 "queues.", show_default=False)],
    ehr: Annotated[str, typer.Option("--ehr", help="EHR source, e.g. fhir-dir:PATH.",
                                     show_default=False)],
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
) -> None:
    """Triage every denial, gather the chart, and draft the letters an auditor reviews.

    Exits 0 when the batch completes, whatever was decided; non-zero on a usage error or
    when no input could be read.
    """
    from agent.workflow.cli_run import llm_settings, run_and_report

    settings = llm_settings(llm, max_cost, config)
    raise typer.Exit(run_and_report([str(p) for p in inputs], ehr, out, db, auto_approve,
                                    config, _console(), settings, wait))


@app.command("eval")
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
        "../shared/data/external beside the checkout).", show_default=False)] = None,
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

    Exits 0 when the gate passes (or the suite's gate is not yet enforced), 1 below the
    gate, 2 on a usage error.
    """
    try:
        from evals.cli import command
    except ImportError:
        typer.echo("appeals eval: the evals/ package is not importable; run it from a "
                   "checkout installed with `make test` (pip install -e .).", err=True)
        raise typer.Exit(2) from None
    from agent.config import AppConfig
    from agent.llm.settings import LLMSettings

    raise typer.Exit(command(datasets or [], split, llm, report, json_path, keep, verbose,
                             AppConfig.load(config),
                             LLMSettings.load(config) if llm else None, suite=suite,
                             corpora=corpus))


app.add_typer(review_cli.app, name="review")
store_cli.register(app)  # appeals users, appeals audit


config_app = typer.Typer(no_args_is_help=True, help="The run configuration.")
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show_command(
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
) -> None:
    """Print the configuration in effect (defaults, the file, the environment); the API
    key is masked."""
    import json

    from pydantic import ValidationError

    from agent.config import AppConfig
    from agent.llm.settings import LLMSettings

    try:
        app_config = AppConfig.load(config)
        settings = LLMSettings.load(config)
    except (OSError, ValueError, ValidationError) as exc:
        typer.echo(f"appeals config show: {exc}", err=True)
        raise typer.Exit(2) from None
    shown = app_config.model_dump(mode="json")
    shown["llm"] = settings.masked()
    shown["llm"]["configured"] = settings.configured
    sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")


ncci_app = typer.Typer(no_args_is_help=True, help="NCCI procedure-to-procedure tables.")
app.add_typer(ncci_app, name="ncci")


@ncci_app.command("import")
def ncci_import_command(
    source: Annotated[Path, typer.Argument(help="A CMS quarterly PTP table (TXT, CSV or "
                                           "ZIP), as downloaded from CMS.",
                                           show_default=False)],
    dest: Annotated[Path, typer.Argument(help="Where to write it in the project's layout.",
                                         show_default=False)],
) -> None:
    """Validate and import a full quarterly NCCI PTP table; list DEST in the configuration's
    ncci_ptp_files to use it instead of the shipped subset."""
    from agent.ncci import PtpFormatError, import_ptp_table

    try:
        rows = import_ptp_table(source, dest)
    except (PtpFormatError, OSError) as exc:
        typer.echo(f"appeals ncci import: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{dest}: {rows:,} edits; add it to ncci_ptp_files in your configuration")


playbooks_app = typer.Typer(no_args_is_help=True, help="The playbooks "
                            "(specialty_playbooks/*.yaml).")
app.add_typer(playbooks_app, name="playbooks")


@playbooks_app.command("check")
def playbooks_check_command(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Playbook files, or folders whose *.yaml files are checked (default: the "
        "shipped playbooks).", metavar="PATH", show_default=False)] = None,
) -> None:
    """Check playbooks as a run loads them; one line per file.

    Checks the YAML, the schema, and every extractor, check and argument template a
    playbook names, against the built-in extractors and checks and the letters' templates
    folder. Prints `ok  FILE` or `FAIL FILE: field: what is wrong`.

    Exit status: 0 when every playbook is valid, 1 when any is not, 2 on a usage error
    (no such path, or a folder without playbooks).
    """
    from agent.playbooks.builtin import builtin_registries
    from agent.playbooks.registry import check_playbook_file, playbook_paths
    from agent.resources import resource_dir

    files: list[Path] = []
    for path in paths or [resource_dir("specialty_playbooks")]:
        found = playbook_paths(path) if path.is_dir() else [path] if path.is_file() else []
        if not found:
            what = "no playbooks (*.yaml) in" if path.is_dir() else "no such file or folder:"
            typer.echo(f"appeals playbooks check: {what} {path}", err=True)
            raise typer.Exit(2)
        files.extend(found)
    extractors, checks = builtin_registries()
    templates = resource_dir("templates")
    failed = 0
    for file in dict.fromkeys(files):  # a file named twice is checked once
        problem = check_playbook_file(file, extractors, checks, templates)
        typer.echo(f"ok  {file.name}" if problem is None else f"FAIL {problem}")
        failed += problem is not None
    raise typer.Exit(1 if failed else 0)


def main() -> None:
    """Entry point of the ``appeals`` console script."""
    app()
