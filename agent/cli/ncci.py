"""``appeals ncci``: import a CMS quarterly NCCI procedure-to-procedure table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="NCCI procedure-to-procedure tables.")


@app.command("import")
def ncci_import_command(
    source: Annotated[Path, typer.Argument(help="A CMS quarterly PTP table (TXT, CSV or "
                                           "ZIP), as downloaded from CMS.",
                                           show_default=False)],
    dest: Annotated[Path, typer.Argument(help="Where to write it in the project's layout.",
                                         show_default=False)],
) -> None:
    """Validate and import a full quarterly NCCI PTP table.

    List DEST in the configuration's ncci_ptp_files to use it instead of the shipped
    subset. Exits 2 when SOURCE is missing or not a PTP table (nothing usable), 1 when
    DEST cannot be written.
    """
    from agent.ncci import PtpFormatError, import_ptp_table

    if not source.is_file():
        typer.echo(f"appeals ncci import: {source}: no such file", err=True)
        raise typer.Exit(2)
    try:
        rows = import_ptp_table(source, dest)
    except PtpFormatError as exc:
        typer.echo(f"appeals ncci import: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"appeals ncci import: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{dest}: {rows:,} edits; add it to ncci_ptp_files in your configuration")
