"""``appeals ncci``: import a CMS quarterly NCCI procedure-to-procedure table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import refuse

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
        raise refuse("ncci import", f"{source}: no such file", 2)
    try:
        rows = import_ptp_table(source, dest)
    except PtpFormatError as exc:
        raise refuse("ncci import", exc, 2) from None
    except OSError as exc:
        raise refuse("ncci import", exc, 1) from None
    typer.echo(f"{dest}: {rows:,} edits; add it to ncci_ptp_files in your configuration")
