"""``appeals config``: the configuration a run would use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The run configuration.")


@app.command("show")
def config_show_command(
    config: Annotated[Path | None, typer.Option(help="TOML configuration file.")] = None,
) -> None:
    """Print the configuration in effect: defaults, the file, the environment.

    The API key is masked.
    """
    import json

    from pydantic import ValidationError

    from agent.config import AppConfig
    from agent.llm.settings import LLMSettings

    try:
        app_config = AppConfig.load(config)
        settings = LLMSettings.load(config)
    except (OSError, ValueError, ValidationError) as exc:
        typer.echo(f"appeals config show: {exc}", err=True)
        raise typer.Exit(2) from None
    shown = app_config.model_dump(mode="json")
    shown["llm"] = settings.masked()
    shown["llm"]["configured"] = settings.configured
    sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
