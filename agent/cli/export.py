"""``appeals export``: what the store holds, as files other tools read."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import open_store, refuse

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Export the store: the worklist of every denial as CSV or .xlsx.")


class ExportFormatChoice(enum.StrEnum):
    """The file formats ``export worklist --format`` writes."""

    csv = "csv"
    xlsx = "xlsx"


@app.command("worklist")
def worklist_command(
    format: Annotated[ExportFormatChoice, typer.Option(
        "--format", help="csv (UTF-8, comma-separated) or xlsx (one sheet).",
        show_default=False)],
    out: Annotated[Path, typer.Option(help="The file to write (replaced if it exists).",
                                      show_default=False)],
    db: Annotated[Path, typer.Option(help="The store's SQLite file.")] = Path("appeals.db"),
) -> None:
    """Write one row per stored denial: its triage, letter and outcome.

    Columns: denial_id, claim_id, payer, procedure, reasons, action, reason,
    missing_evidence, appeal_deadline, denied_amount, letter_id, letter_status, outcome,
    recovered_amount, then payer_claim_number, service_date, outcome_date, letter_sent_on,
    letter_sent_via (docs/outcomes.md#the-worklist-export). Exits 2 when the store or the
    destination cannot be used.
    """
    from agent.application.export import export_worklist

    if not db.is_file():
        raise refuse("export worklist", f"no database at {db} (run `appeals run` first)", 2)
    store = open_store(db, "export worklist")
    try:
        count = export_worklist(store, out, format.value)
    except OSError as exc:
        raise refuse("export worklist", f"{out}: cannot be written "
                     f"({exc.strerror or type(exc).__name__})", 2) from None
    finally:
        store.close()
    typer.echo(f"{out}: {count} denials ({format.value})")
