"""``appeals codes``: what a CARC or RARC means, from the shipped code table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from agent.cli.common import console
from agent.codes import CodeTable


def codes_command(
    codes: Annotated[list[str], typer.Argument(help="CARC (e.g. 50, CO-50) or RARC (N115).",
                                               show_default=False)],
) -> None:
    """Describe adjustment reason and remark codes."""
    table_data = CodeTable.load_default()
    out = console()
    for raw in codes:
        code = raw.split("-", 1)[1] if "-" in raw else raw
        rarc = code[:1].isalpha() and len(code) > 2 and code[1:2].isalnum() and \
            not table_data.carc(code).known
        found = table_data.rarc(code) if rarc else table_data.carc(code)
        state = "" if found.known else " (not in the shipped code table)"
        ended = f" [ended {found.end_date}]" if found.end_date else ""
        out.print(f"[bold]{escape(raw)}[/bold] {found.kind.upper()}{escape(ended)}: "
                  f"{escape(found.description)}{state}")
