"""The ``appeals`` command line: one module per command group, assembled here.

Commands print results on stdout and problems on stderr, one line each in the form
``FILE: segment N (ID): what is wrong``; problem lines never carry patient data.

This package is the presentation layer (docs/architecture.md): it parses options, calls
the application layer (:mod:`agent.application`) or a domain package, and prints.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from agent.cli import audit, codes, config, ingest, ncci, playbooks, review, run, users
from agent.cli import eval as eval_group

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Denial appeal agent: read payer denials and draft appeal letters.")


def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            installed = version("denial-appeal-agent")
        except PackageNotFoundError:  # run from a checkout that was never installed
            installed = "unknown (not installed)"
        typer.echo(f"appeals {installed}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Denial appeal agent: read payer denials and draft appeal letters."""


app.command("ingest")(ingest.ingest_command)
app.command("codes")(codes.codes_command)
app.command("run")(run.run_command)
app.command("eval")(eval_group.eval_command)
app.add_typer(review.app, name="review")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(config.app, name="config")
app.add_typer(ncci.app, name="ncci")
app.add_typer(playbooks.app, name="playbooks")


def main() -> None:
    """Entry point of the ``appeals`` console script."""
    app()
