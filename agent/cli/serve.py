"""``appeals serve``: the auditor's web workbench over a run's store and output folder."""

from __future__ import annotations

import ipaddress
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import refuse

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        # uvicorn's access log prints each request line, query string included: off. The
        # workbench logs its own line (agent/web/security.py): the route, never the query.
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "agent.web": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
"""Where the server logs, and what: never a query string, a concrete path or PHI."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    db: Annotated[Path, typer.Option("--db", help="The run's SQLite file.")] = Path("appeals.db"),
    out: Annotated[Path, typer.Option("--out", help="The run's output directory.")
                   ] = Path("appeals-out"),
    host: Annotated[str, typer.Option(help="Address to listen on; the default serves this "
                                      "machine only. Put TLS in front of any other.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    config: Annotated[Path | None, typer.Option(help="TOML configuration file (its "
                                                "practice settings, which approvals are "
                                                "checked against).")] = None,
    idle_minutes: Annotated[float, typer.Option(
        "--idle-minutes", min=1, help="Sign a session out after this many minutes without "
        "a request.")] = 15.0,
) -> None:
    """Serve the web workbench: worklist, letters beside their chart evidence, review.

    Users sign in as the store's users (`appeals users add NAME --role auditor|lead|admin`).
    The server logs one line per request without its query string; see docs/web.md.
    """
    if not db.is_file():
        raise refuse("serve", f"no database at {db} (run `appeals run` first)", 2)
    from datetime import timedelta

    import uvicorn

    from agent.application.accounts import AccountService
    from agent.application.workbench import Workbench
    from agent.application.workflow import open_workflow
    from agent.config import AppConfig
    from agent.playbooks.registry import PlaybookError
    from agent.web.app import create_app

    with ExitStack() as stack:
        try:
            settings = AppConfig.load(config)
            workflow = stack.enter_context(open_workflow(db, out, None, settings))
        except (PlaybookError, OSError, ValueError) as exc:  # one line, not a trace
            raise refuse("serve", exc, 2) from None
        accounts = AccountService(workflow.ctx.store, idle=timedelta(minutes=idle_minutes))
        app = create_app(Workbench.over(workflow, accounts), accounts)
        if not workflow.ctx.store.list_users():
            typer.echo("appeals serve: no user can sign in yet; add one with `appeals users "
                       f"add NAME --role admin --db {db}`", err=True)
        if not _loopback(host):
            typer.echo(f"appeals serve: listening on {host}, not only this machine: put TLS "
                       "in front (docs/web.md)", err=True)
        typer.echo(f"Workbench on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
        uvicorn.run(app, host=host, port=port, access_log=False, log_config=LOG_CONFIG,
                    server_header=False, proxy_headers=True)
