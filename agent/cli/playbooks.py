"""``appeals playbooks``: check playbooks as a run loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The playbooks (specialty_playbooks/*.yaml).")


@app.command("check")
def playbooks_check_command(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Playbook files, or folders whose *.yaml files are checked (default: the "
        "shipped playbooks).", metavar="PATH", show_default=False)] = None,
) -> None:
    """Check playbooks as a run loads them; one line per file.

    Checks the YAML, the schema, and every extractor, check and argument template a
    playbook names, against the built-in extractors and checks and the letters' templates
    folder. Prints `ok  FILE` or `FAIL FILE: field: what is wrong`.

    Exit status: 0 when every playbook is valid, 1 when any is not, 2 on a usage error
    (no such path, or a folder without playbooks).
    """
    from agent.playbooks.builtin import builtin_registries
    from agent.playbooks.registry import check_playbook_file, playbook_paths
    from agent.resources import resource_dir

    files: list[Path] = []
    for path in paths or [resource_dir("specialty_playbooks")]:
        found = playbook_paths(path) if path.is_dir() else [path] if path.is_file() else []
        if not found:
            what = "no playbooks (*.yaml) in" if path.is_dir() else "no such file or folder:"
            typer.echo(f"appeals playbooks check: {what} {path}", err=True)
            raise typer.Exit(2)
        files.extend(found)
    extractors, checks = builtin_registries()
    templates = resource_dir("templates")
    failed = 0
    for file in dict.fromkeys(files):  # a file named twice is checked once
        problem = check_playbook_file(file, extractors, checks, templates)
        typer.echo(f"ok  {file.name}" if problem is None else f"FAIL {problem}")
        failed += problem is not None
    raise typer.Exit(1 if failed else 0)
