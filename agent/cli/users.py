"""``appeals users``: who may act on letters (and, later, log in to the web UI)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import StoreOption, open_store, refuse
from agent.store.records import Role
from agent.store.sqlite import UserExistsError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The users who review letters (and log in to the web UI).")

def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


@app.command("add")
def users_add_command(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ -).",
                                        metavar="NAME", show_default=False)],
    role: Annotated[Role, typer.Option(help="auditor, lead or admin.", show_default=False)],
    db: StoreOption = Path("appeals.db"),
) -> None:
    """Add a user who may review letters.

    The password is read as one line from standard input and stored as an argon2id hash.
    Exits 1 when the name exists, 2 on an invalid name or empty password.
    """
    password = _read_password()
    store = open_store(db, "users add")
    try:
        store.add_user(name, role, password)
    except UserExistsError as exc:
        raise refuse("users add", exc, 1) from None
    except ValueError as exc:
        raise refuse("users add", exc, 2) from None
    finally:
        store.close()
    typer.echo(f"added {name} ({role}) to {db}")
