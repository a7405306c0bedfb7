"""``appeals review``: list, show, approve, edit and reject letters (any process, any time)."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from agent.cli.common import console
from agent.review.actions import ReviewError, content_hash

if TYPE_CHECKING:  # imported where used: `appeals --help` does not load the graphs
    from agent.application.reviews import Decided, ReviewService
    from agent.application.workflow import Workflow

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Review drafted letters: list, show, approve, edit, reject, mark sent.")

class LetterStatusChoice(enum.StrEnum):
    """The statuses ``review list --status`` takes (those of the store's letters)."""

    pending_review = "pending_review"
    approved = "approved"
    rejected = "rejected"
    sent = "sent"
    superseded = "superseded"


DbOption = Annotated[Path, typer.Option(help="The run's SQLite file.")]
OutOption = Annotated[Path, typer.Option(help="The run's output directory.")]
ConfigOption = Annotated[Path | None, typer.Option(help="TOML configuration file ([review] "
                                                   "user = NAME; the [letter] practice "
                                                   "settings approvals are checked against).")]
IfHashOption = Annotated[str | None, typer.Option(
    "--if-hash", help="Act only if the letter's text still has this hash (`text_hash` of "
    "`review show --meta`); default: the file on disk, checked against the stored hash.")]


@dataclass(frozen=True, slots=True)
class _Session:
    service: ReviewService
    user: str
    workflow: Workflow


@contextmanager
def _service(db: Path, out: Path, config_path: Path | None = None,
             acting: bool = False) -> Iterator[_Session]:
    """The review service on ``db``.

    With ``acting``, also the configured user, checked against the store (exit 2 when
    there is none).
    """
    if not db.is_file():
        typer.echo(f"appeals review: no database at {db} (run `appeals run` first)", err=True)
        raise typer.Exit(2)
    from agent.application.reviews import ReviewService
    from agent.application.workflow import open_workflow
    from agent.config import AppConfig
    from agent.playbooks.registry import PlaybookError
    from agent.review.identity import IdentityError, configured_user, reviewer

    with ExitStack() as stack:
        try:
            config = AppConfig.load(config_path)
            workflow = stack.enter_context(open_workflow(db, out, None, config))
        except (PlaybookError, OSError, ValueError) as exc:  # one line, not a trace
            typer.echo(f"appeals review: {exc}", err=True)
            raise typer.Exit(2) from None
        user = ""
        if acting:
            try:
                user = reviewer(workflow.ctx.store, configured_user(config)).name
            except IdentityError as exc:
                typer.echo(f"appeals review: {exc}", err=True)
                raise typer.Exit(2) from None
        yield _Session(ReviewService.over(workflow), user, workflow)


def _act(db: Path, out: Path, config: Path | None,
         action: Callable[[_Session], Decided]) -> tuple[Decided, str]:
    """Run one review action as the configured user; exit 1 with one line when refused."""
    with _service(db, out, config, acting=True) as session:
        try:
            return action(session), session.user
        except ReviewError as exc:
            raise _fail(exc) from None


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"appeals review: {exc}", err=True)
    return typer.Exit(1)


@app.command("list")
def list_command(
    db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
    all_letters: Annotated[bool, typer.Option("--all", help="Every status (default: "
                                              "pending_review).")] = False,
    status: Annotated[LetterStatusChoice | None, typer.Option(
        help="Only letters of this status.", show_default=False)] = None,
    payer: Annotated[str | None, typer.Option(help="Payer id, or a part of its name "
                                              "(any case).", show_default=False)] = None,
    playbook: Annotated[str | None, typer.Option(help="Playbook id.", show_default=False)
                        ] = None,
    queue: Annotated[str | None, typer.Option(help="Work queue id (grp_...).",
                                              show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a "
                                          "table.")] = False,
) -> None:
    """Letters waiting for review (or of --status, or all), filtered by payer, playbook, queue."""
    from agent.application.reviews import WorklistFilter

    wanted = WorklistFilter(status=status.value if status else None if all_letters
                            else "pending_review", payer=payer, playbook=playbook, queue=queue)
    with _service(db, out) as session:
        rows = session.service.worklist(wanted)
    if as_json:
        sys.stdout.write(json.dumps([row.as_json() for row in rows], indent=2,
                                    ensure_ascii=False) + "\n")
        return
    table = Table(title=f"Letters ({len(rows)})", title_justify="left")
    for column in ("Letter", "Status", "Claim", "Payer", "Playbook", "Deadline", "Work queue",
                   "Markdown"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        letter = row.letter
        table.add_row(letter.letter_id, letter.status, Text(letter.claim_id),
                      Text(row.payer_name or row.payer_id or ""), row.playbook_id or "",
                      row.appeal_deadline.isoformat() if row.appeal_deadline else "",
                      letter.group_id, letter.markdown)
    console().print(table)


@app.command("show")
def show_command(letter_id: str, db: DbOption = Path("appeals.db"),
                 out: OutOption = Path("appeals-out"),
                 meta: Annotated[bool, typer.Option(
                     "--meta", help="Print the letter's metadata as JSON instead of its "
                     "text: status, claim, queue, payer, playbook, paths, the stored hash and "
                     "the hash of the text on disk (what --if-hash takes), why it cannot be "
                     "approved yet, and the audit trail.")] = False,
                 config: ConfigOption = None) -> None:
    """Print a letter's Markdown exactly as it is on disk (or its metadata with --meta).

    The text alone goes to stdout, so `review show X > f.md` then `review edit X --file
    f.md` is a round trip; a file changed outside the tool is said on stderr.
    """
    with _service(db, out, config) as session:
        try:
            view = session.service.show(letter_id)
        except ReviewError as exc:
            raise _fail(exc) from None
    if meta:
        sys.stdout.write(json.dumps(view.as_json(), indent=2, ensure_ascii=False) + "\n")
        return
    _write_exactly(view.markdown)
    if view.seen_hash != view.letter.content_hash:
        typer.echo(f"appeals review show: {letter_id}: the file changed outside the tool "
                   f"(stored {view.letter.content_hash}); take it in with `appeals review "
                   f"edit {letter_id} --file {out / view.letter.markdown}`", err=True)


def _write_exactly(text: str) -> None:
    """``text`` on stdout as UTF-8, byte for byte (no newline added, none translated)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a stream without bytes (some test harnesses)
        sys.stdout.write(text)
        return
    buffer.write(text.encode("utf-8"))
    buffer.flush()


@app.command("approve")
def approve_command(letter_id: str, db: DbOption = Path("appeals.db"),
                    out: OutOption = Path("appeals-out"), if_hash: IfHashOption = None,
                    config: ConfigOption = None) -> None:
    """Approve a letter as it stands and write its DOCX (as the configured user).

    Refused (exit 1, each problem named) while the letter is not finished: a placeholder
    for the auditor left in its text, or a practice field ([letter] in --config) still the
    shipped placeholder.
    """
    decided, user = _act(db, out, config,
                         lambda session: session.service.approve(letter_id, session.user,
                                                                 if_hash))
    for line in decided.repaired:
        typer.echo(f"{letter_id}: already approved; {line}")
    if not decided.repaired:
        typer.echo(f"{letter_id}: approved by {user}; {out / (decided.letter.docx or '')}")


@app.command("reject")
def reject_command(letter_id: str,
                   reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).",
                                                       show_default=False)],
                   db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                   if_hash: IfHashOption = None, config: ConfigOption = None) -> None:
    """Reject a letter; no DOCX is written."""
    decided, user = _act(db, out, config,
                         lambda session: session.service.reject(letter_id, session.user,
                                                                reason, if_hash))
    typer.echo(f"{decided.letter.letter_id}: rejected by {user}")


class ChannelChoice(enum.StrEnum):
    """How a letter went to the payer (``review sent --channel``)."""

    mail = "mail"
    fax = "fax"
    portal = "portal"


@app.command("sent")
def sent_command(letter_id: str,
                 sent_on: Annotated[datetime, typer.Option(
                     "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
                     help="The day it went to the payer (not after today).",
                     show_default=False)],
                 channel: Annotated[ChannelChoice, typer.Option(
                     help="How it went: mail, fax or portal.", show_default=False)],
                 note: Annotated[str | None, typer.Option(help="Anything else worth keeping, "
                                                          "e.g. a fax confirmation number "
                                                          "(kept in the audit trail).",
                                                          show_default=False)] = None,
                 db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                 config: ConfigOption = None) -> None:
    """Record that an approved letter was sent to the payer; it never changes after that.

    The day and the channel are kept on the letter (outcome rates count sent appeals) and
    in the audit trail. Exits 1 when the letter is not approved, 2 for a day after today.
    """
    day = sent_on.date()
    if day > date.today():
        typer.echo(f"appeals review sent: --date {day} is after today", err=True)
        raise typer.Exit(2)
    decided, user = _act(db, out, config,
                         lambda session: session.service.mark_sent(
                             letter_id, session.user, note, day, channel.value))
    typer.echo(f"{decided.letter.letter_id}: marked sent by {user} on {day} by "
               f"{channel.value}")


@app.command("edit")
def edit_command(letter_id: str,
                 file: Annotated[Path | None, typer.Option(help="The edited Markdown (may be "
                                                           "the letter's own file, changed "
                                                           "outside the tool); without it, "
                                                           "$EDITOR opens the letter.")] = None,
                 db: DbOption = Path("appeals.db"), out: OutOption = Path("appeals-out"),
                 if_hash: IfHashOption = None, config: ConfigOption = None) -> None:
    """Replace a letter's text (from --file or $EDITOR); it stays pending until approved.

    Exits 2 when the file cannot be read as UTF-8 text or is empty, 1 when the editor fails
    or the letter changed since it was shown; the letter is unchanged then.
    """
    if file is not None:
        text = _read_edit(file)  # before opening the store: a bad path is a usage error
    with _service(db, out, config, acting=True) as session:
        try:
            view = session.service.show(letter_id)
            started = if_hash or view.letter.content_hash  # what the reviewer started from
            if file is None:
                text = _edit_in_editor(view.markdown)
            if content_hash(_with_newline(text)) == view.letter.content_hash:
                typer.echo(f"{letter_id}: no change")
                return
            decided = session.service.edit(letter_id, session.user, text, started)
        except ReviewError as exc:
            raise _fail(exc) from None
    typer.echo(f"{decided.letter.letter_id}: edited by {session.user}; still pending review")


def _read_edit(file: Path) -> str:
    """The edited Markdown in ``file``; exit 2 with one line when it cannot be used."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "is a folder, not a file"
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    else:
        if text.strip():
            return text
        problem = "is empty (to drop a letter, reject it with a reason)"
    typer.echo(f"appeals review edit: {file}: {problem}; the letter is unchanged", err=True)
    raise typer.Exit(2)


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _edit_in_editor(text: str) -> str:
    editor = os.environ.get("EDITOR")
    if not editor:
        raise ReviewError("no --file given and $EDITOR is not set")
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False,
                                     encoding="utf-8") as f:
        f.write(text)
        name = f.name
    try:
        try:
            subprocess.run([*editor.split(), name], check=True)
        except OSError as exc:
            raise ReviewError(f"$EDITOR ({editor}) could not be started: "
                              f"{exc.strerror or type(exc).__name__}; the letter is "
                              "unchanged") from None
        except subprocess.CalledProcessError as exc:
            raise ReviewError(f"$EDITOR ({editor}) exited with status {exc.returncode}; "
                              "the letter is unchanged") from None
        try:
            edited = Path(name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ReviewError("the editor saved text that is not UTF-8; the letter is "
                              "unchanged") from None
        if not edited.strip():
            raise ReviewError("the editor saved an empty letter; the letter is unchanged "
                              "(to drop a letter, reject it with a reason)")
        return edited
    finally:
        os.unlink(name)
