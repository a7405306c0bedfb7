"""The ``appeals`` command line: one module per command group, assembled here.

Commands print results on stdout and problems on stderr, one line each in the form
``FILE: segment N (ID): what is wrong``; problem lines never carry patient data.

This package is the presentation layer (docs/architecture.md): it parses options, calls
the application layer (:mod:`agent.application`) or a domain package, and prints.
"""

from __future__ import annotations

import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from pydantic import ValidationError

from agent.cli import (
    audit,
    codes,
    config,
    evidence,
    export,
    ingest,
    ncci,
    playbooks,
    report,
    review,
    run,
    serve,
    users,
)
from agent.cli import eval as eval_group
from agent.cli.common import Interrupted, interrupt
from agent.cli.defaults import CommandDefaults
from agent.validation import first_error

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
app.add_typer(evidence.app, name="evidence")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(export.app, name="export")
app.command("report")(report.report_command)
app.add_typer(config.app, name="config")
app.add_typer(ncci.app, name="ncci")
app.add_typer(playbooks.app, name="playbooks")
app.command("serve")(serve.serve_command)


def main() -> None:
    """Entry point of the ``appeals`` console script.

    Option defaults come from the environment and the configuration file
    (:class:`~agent.cli.defaults.CommandDefaults`); Ctrl-C exits 130 from any command.
    """
    try:
        defaults = CommandDefaults.load()
    except ValidationError as exc:  # one line: which setting, and why
        typer.echo(f"appeals: an option default (APPEALS_* or [defaults]) is not valid: "
                   f"{first_error(exc)}", err=True)
        sys.exit(2)
    except (OSError, ValueError) as exc:
        typer.echo(f"appeals: the configuration file cannot be read: {exc}", err=True)
        sys.exit(2)
    signal.signal(signal.SIGINT, interrupt)
    try:
        app(default_map=defaults.default_map())
    except Interrupted:
        typer.echo("appeals: interrupted", err=True)
        sys.exit(130)
