"""``appeals review``: list, show, approve, edit and reject letters (any process, any time)."""

from __future__ import annotations

import getpass
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agent.config import AppConfig
from agent.console import console
from agent.playbooks.registry import PlaybookError
from agent.review.actions import ReviewError
from agent.review.service import ReviewService
from agent.workflow.run import open_workflow

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Review drafted letters: list, show, approve, edit, reject.")

DbOption = Annotated[Path, typer.Option(help="The run's SQLite file.")]
OutOption = Annotated[Path, typer.Option(help="The run's output directory.")]
ReviewerOption = Annotated[str | None, typer.Option(help="Who is reviewing (default: the "
                                                    "login name).")]


@contextmanager
def _service(db: Path, out: Path) -> Iterator[ReviewService]:
    if not db.is_file():
        typer.echo(f"appeals review: no database at {db} (run `appeals run` first)", err=True)
        raise typer.Exit(2)
    with ExitStack() as stack:
        try:
            workflow = stack.enter_context(open_workflow(db, out, None, AppConfig()))
        except PlaybookError as exc:  # a playbook the run refuses: one line, not a trace
            typer.echo(f"appeals review: {exc}", err=True)
            raise typer.Exit(2) from None
        yield ReviewService(workflow.ctx.review, workflow.review)


def _reviewer(name: str | None) -> str:
    return name or os.environ.get("APPEALS_REVIEWER") or getpass.getuser()


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"appeals review: {exc}", err=True)
    return typer.Exit(1)


@app.command("list")
def list_command(db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                 all_letters: Annotated[bool, typer.Option("--all", help="Include approved "
                                                           "and rejected.")] = False) -> None:
    """Letters waiting for review (or all of them)."""
    with _service(db, out) as service:
        letters = service.list(None if all_letters else "pending_review")
    table = Table(title=f"Letters ({len(letters)})", title_justify="left")
    for column in ("Letter", "Status", "Claim", "Work queue", "Markdown"):
        table.add_column(column, no_wrap=True)
    for letter in letters:
        table.add_row(letter.letter_id, letter.status, Text(letter.claim_id), letter.group_id,
                      letter.markdown)
    console().print(table)


@app.command("show")
def show_command(letter_id: str, db: DbOption = Path("appeals.db"),
                 out: OutOption = Path("appeals-out")) -> None:
    """Print a letter and its audit trail."""
    with _service(db, out) as service:
        try:
            view = service.show(letter_id)
        except ReviewError as exc:
            raise _fail(exc) from None
    typer.echo(view.markdown)
    typer.echo(f"--- {view.letter.letter_id}: {view.letter.status}")
    for entry in view.audit:
        typer.echo(f"{entry.at.isoformat()} {entry.action} by {entry.actor} "
                   f"({entry.hash_before} -> {entry.hash_after})")


@app.command("approve")
def approve_command(letter_id: str, db: DbOption = Path("appeals.db"),
                    out: OutOption = Path("appeals-out"),
                    reviewer: ReviewerOption = None) -> None:
    """Approve a letter as it stands and write its DOCX."""
    with _service(db, out) as service:
        try:
            letter = service.approve(letter_id, _reviewer(reviewer))
        except ReviewError as exc:
            raise _fail(exc) from None
    typer.echo(f"{letter.letter_id}: approved; {out / (letter.docx or '')}")


@app.command("reject")
def reject_command(letter_id: str,
                   reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).",
                                                       show_default=False)],
                   db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                   reviewer: ReviewerOption = None) -> None:
    """Reject a letter; no DOCX is written."""
    with _service(db, out) as service:
        try:
            letter = service.reject(letter_id, _reviewer(reviewer), reason)
        except ReviewError as exc:
            raise _fail(exc) from None
    typer.echo(f"{letter.letter_id}: rejected")


@app.command("edit")
def edit_command(letter_id: str,
                 file: Annotated[Path | None, typer.Option(help="The edited Markdown; "
                                                           "without it, $EDITOR opens the "
                                                           "letter.")] = None,
                 db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                 reviewer: ReviewerOption = None) -> None:
    """Replace a letter's text (from --file or $EDITOR); it stays pending until approved."""
    with _service(db, out) as service:
        try:
            current = service.show(letter_id).markdown
            text = file.read_text(encoding="utf-8") if file else _edit_in_editor(current)
            if text == current:
                typer.echo(f"{letter_id}: no change")
                return
            letter = service.edit(letter_id, _reviewer(reviewer), text)
        except ReviewError as exc:
            raise _fail(exc) from None
    typer.echo(f"{letter.letter_id}: edited; still pending review")


def _edit_in_editor(text: str) -> str:
    editor = os.environ.get("EDITOR")
    if not editor:
        raise ReviewError("no --file given and $EDITOR is not set")
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False,
                                     encoding="utf-8") as f:
        f.write(text)
        name = f.name
    try:
        subprocess.run([*editor.split(), name], check=True)
        return Path(name).read_text(encoding="utf-8")
    finally:
        os.unlink(name)
