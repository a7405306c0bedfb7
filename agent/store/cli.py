"""``appeals users`` and ``appeals audit``: who may act on letters, and whether the audit
trail is intact."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.store.migrations import StoreVersionError
from agent.store.records import Role
from agent.store.sqlite import SqliteStore, UserExistsError

users_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="The users who review letters (and log in to the web UI).")
audit_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="The hash-chained audit trail.")

DbOption = Annotated[Path, typer.Option(help="The store's SQLite file.")]


def register(app: typer.Typer) -> None:
    """Add ``users`` and ``audit`` to the ``appeals`` command."""
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def _open(db: Path, command: str) -> SqliteStore:
    try:
        return SqliteStore(db)
    except (StoreVersionError, OSError) as exc:
        typer.echo(f"appeals {command}: {exc}", err=True)
        raise typer.Exit(2) from None


@users_app.command("add")
def users_add_command(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).",
                                        metavar="NAME", show_default=False)],
    role: Annotated[Role, typer.Option(help="auditor, lead or admin.", show_default=False)],
    db: DbOption = Path("appeals.db"),
) -> None:
    """Add a user; the password is read as one line from standard input and stored as an
    argon2id hash. Exits 1 when the name exists, 2 on an invalid name or empty password."""
    password = _read_password()
    store = _open(db, "users add")
    try:
        store.add_user(name, role, password)
    except UserExistsError as exc:
        typer.echo(f"appeals users add: {exc}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"appeals users add: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"added {name} ({role}) to {db}")


@audit_app.command("verify")
def audit_verify_command(db: DbOption = Path("appeals.db")) -> None:
    """Check the audit trail's hash chain. Exits 0 when it holds, 1 naming the first
    broken or missing row, 2 when there is no database."""
    if not db.is_file():
        typer.echo(f"appeals audit verify: no database at {db}", err=True)
        raise typer.Exit(2)
    store = _open(db, "audit verify")
    try:
        report = store.verify_audit()
    finally:
        store.close()
    if not report.holds:
        typer.echo(f"appeals audit verify: {db}: {report.problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{db}: the audit chain holds: {report.rows} rows, head {report.head or '-'}")
