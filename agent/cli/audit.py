"""``appeals audit``: whether the store's hash-chained audit trail is intact."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.common import StoreOption, open_store

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The hash-chained audit trail.")


@app.command("verify")
def audit_verify_command(db: StoreOption = Path("appeals.db")) -> None:
    """Check the audit trail's hash chain.

    Exits 0 when it holds, 1 naming the first broken or missing row, 2 when there is no
    database.
    """
    if not db.is_file():
        typer.echo(f"appeals audit verify: no database at {db}", err=True)
        raise typer.Exit(2)
    store = open_store(db, "audit verify")
    try:
        report = store.verify_audit()
    finally:
        store.close()
    if not report.holds:
        typer.echo(f"appeals audit verify: {db}: {report.problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{db}: the audit chain holds: {report.rows} rows, head {report.head or '-'}")
