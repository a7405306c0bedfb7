"""Conventions every ``appeals`` command keeps: --version, and a light start."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from typer.testing import CliRunner

from agent.cli import app


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"appeals {version('denial-appeal-agent')}"


def test_the_command_line_loads_without_the_graphs_or_the_model_client() -> None:
    # What `appeals --help`, `ingest`, `codes`, `users` and `audit` need must not pull in
    # LangGraph or the openai client: those are imported by the commands that use them.
    # (How fast it starts is measured in benchmarks/cli_startup.py, never timed here.)
    code = ("import sys, agent.cli; "
            "print(' '.join(m for m in ('langgraph', 'openai', 'agent.application') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""
