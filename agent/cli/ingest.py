"""``appeals ingest``: read 835 remittances and denial queues; print the denials found.

Problems go to stderr, one line each in the form ``FILE: segment N (ID): what is wrong``;
problem lines never carry patient data.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.cli.common import console, open_store, refuse
from agent.denials.model import Denial
from agent.ingest import FileResult, IngestReport, IngestStream


def ingest_command(
    files: Annotated[list[Path], typer.Argument(help="835 files, denial queues (CSV, JSON "
                                                "or .xlsx) and/or folders of them.",
                                                show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON "
                                          "instead of tables.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 2 when any file or row "
                                         "could not be read.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many denials in the table "
                                       "(0 = all); --json always has all.")] = 500,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Also keep what is read in this store: every claim (paid ones too), "
        "the denials found (untriaged until a run), and the outcomes of earlier denials "
        "that later 835s answer. Without it, ingest only reads.", show_default=False)
                  ] = None,
) -> None:
    """Read denials from 835 remittances and denial queues; print them with a summary.

    A file's type is told from its content, not its name; a folder stands for the files
    directly in it. A line that an 835 and a worklist both carry is one denial. A later
    835's line that answers an earlier denial of the batch (or, with --db, of the store) is
    its outcome, not a new denial (docs/outcomes.md).

    Exit status: 0 when every file was read, 1 when some failed and the rest were read (or
    another run holds --db), 2 when nothing could be read (or, with --strict, when anything
    failed).
    """
    def report_errors(result: FileResult) -> None:
        for line in result.errors:
            typer.echo(line, err=True)  # one line each, never wrapped: tools grep these

    if db is None:
        stream = IngestStream(files, on_file=report_errors)
        _show(stream, stream, as_json, limit)
    else:
        stream = _into_store(db, files, as_json, limit, report_errors)
    status = stream.exit_status
    if strict and stream.errors:
        status = 2
    raise typer.Exit(status)


def _show(denials: Iterable[Denial], stream: IngestStream, as_json: bool, limit: int) -> None:
    """Print the denials as they are read (``denials`` iterates ``stream``), then the rest."""
    if as_json:
        _write_json(denials, stream)
        return
    out = console()
    _print_denials(out, denials, limit)
    _print_summary(out, stream.report([]))
    for line in stream.warnings:
        typer.secho(f"warning: {line}", err=True, fg="yellow")


def _into_store(db: Path, files: list[Path], as_json: bool, limit: int,
                on_file: Callable[[FileResult], None]) -> IngestStream:
    """``ingest --db``: read into the store under its writer lease; the stream read."""
    from agent.application.intake import StoreIntake
    from agent.store.lease import LeaseHeldError, LeaseLostError, writer_lease

    store = open_store(db, "ingest")
    try:
        with writer_lease(store, "appeals ingest"):
            intake = StoreIntake(store, files, on_file=on_file)
            _show(intake, intake.stream, as_json, limit)
    except (LeaseHeldError, LeaseLostError) as exc:
        raise refuse("ingest", f"{db}: {exc}", 1) from None
    finally:
        store.close()
    s = intake.stream.summary()
    kept = (f"kept in {db}: {s.claims} claims read, {intake.saved} denials, {s.outcomes} "
            "outcomes of earlier denials")
    if as_json:
        typer.echo(kept, err=True)
    else:
        console().print(Text(kept))
    return intake.stream


def _money(value: object) -> str:
    return f"{value:,.2f}"


_JSON_HEAD = '{\n  "denials": ['


def _write_json(denials: Iterable[Denial], stream: IngestStream) -> None:
    """Write the JSON report as it streams, one denial at a time.

    The text is the same as ``IngestReport.model_dump_json(indent=2)`` gives for the whole
    report. ``denials`` iterates ``stream`` (itself, or a reader keeping them in a store).
    """
    write = sys.stdout.write
    write(_JSON_HEAD)
    separator = "\n"
    for denial in denials:
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
    if s.merged:
        extras.append(f"{s.merged} denials found in both an 835 and a worklist, merged "
                      "(the 835's amounts and codes kept)")
    if s.outcomes:
        extras.append(f"{s.outcomes} lines of later remittances are outcomes of earlier "
                      "denials (not new denials)")
    if s.ambiguous:
        extras.append(f"{s.ambiguous} lines match more than one earlier denial: no outcome "
                      "recorded (each is named in a warning)")
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
