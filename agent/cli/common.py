"""What several command groups share: the console they print with, opening the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.store.migrations import StoreVersionError
from agent.store.sqlite import SqliteStore


class Interrupted(BaseException):
    """Ctrl-C, raised by :func:`interrupt` (Click turns KeyboardInterrupt into exit 1)."""


def interrupt(signum: int, frame: object) -> None:
    """The SIGINT handler ``appeals`` installs: raise :class:`Interrupted`."""
    raise Interrupted


StoreOption = Annotated[Path, typer.Option("--db", help="The store's SQLite file.")]


def console() -> Console:
    """A console for stdout, 180 columns wide when piped or in CI.

    The width keeps ids in tables whole instead of squeezing them into 80 columns.
    """
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=180)
    return out


def open_store(db: Path, command: str) -> SqliteStore:
    """The store at ``db``; exit 2 with one line naming the command when it cannot open."""
    try:
        return SqliteStore(db)
    except (StoreVersionError, OSError) as exc:
        typer.echo(f"appeals {command}: {exc}", err=True)
        raise typer.Exit(2) from None


def refuse(command: str, problem: object, status: int) -> typer.Exit:
    """Print ``appeals COMMAND: problem`` on stderr; the exit to raise (README's rule)."""
    typer.echo(f"appeals {command}: {problem}", err=True)
    return typer.Exit(status)
