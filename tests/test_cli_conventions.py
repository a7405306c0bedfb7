"""Conventions every ``appeals`` command keeps: --version, a light start, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.workflow import run_batch
from agent.cli import app
from tests.conftest import FIXTURES
from tests.test_workflow import INPUTS, _open, knee_chart


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


# Every bad path or file a user can hand a command: one line on stderr, never a traceback.

def _appeals(*args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, input="secret\n",
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})


def _one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def bad_paths(tmp_path: Path) -> Path:
    (tmp_path / "folder").mkdir()
    (tmp_path / "not-sqlite.db").write_text("these are not the droids\n", encoding="utf-8")
    return tmp_path


STORE_COMMANDS = (
    ["users", "add", "ann", "--role", "auditor"],
    ["audit", "verify"],
    ["review", "list"],
    ["review", "show", "lt_0"],
    ["run", str(FIXTURES / "835" / "blue-river-2026-09-02.835"), "--ehr",
     f"fhir-dir:{FIXTURES / 'fhir'}", "--out", "out"],
)


@pytest.mark.slow
@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("db", ["folder", "not-sqlite.db"])
def test_a_db_that_is_a_folder_or_not_sqlite_is_one_line(bad_paths: Path, command: list[str],
                                                         db: str) -> None:
    line = _one_line_error(_appeals(*command, "--db", db, cwd=bad_paths), 2)
    assert db in line


@pytest.mark.slow
@pytest.mark.parametrize(("name", "content", "said"), [
    ("missing.md", None, "no such file"),
    ("folder", None, "is a folder"),
    ("empty.md", b"  \n", "is empty"),
    ("latin1.md", "Dear reviewer, caf\u00e9".encode("latin-1"), "not UTF-8"),
])
def test_review_edit_with_an_unusable_file_is_one_line(bad_paths: Path, name: str,
                                                       content: bytes | None,
                                                       said: str) -> None:
    if content is not None:
        (bad_paths / name).write_bytes(content)
    line = _one_line_error(_appeals("review", "edit", "lt_0", "--file", name, cwd=bad_paths), 2)
    assert said in line and "unchanged" in line


@pytest.mark.slow
@pytest.mark.parametrize(("editor", "said"), [
    ("false", "exited with status 1"),
    ("/nonexistent/editor", "could not be started"),
])
def test_review_edit_with_a_failing_editor_is_one_line_and_changes_nothing(
        tmp_path: Path, editor: str, said: str) -> None:
    with _open(tmp_path, knee_chart(tmp_path / "fhir")) as workflow:
        run_batch(workflow, INPUTS)
        (letter,) = workflow.ctx.store.list_letters(None)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
    before = (tmp_path / "out" / letter.markdown).read_bytes()
    result = _appeals("review", "edit", letter.letter_id, "--db", "appeals.db", "--out", "out",
                      cwd=tmp_path, env={"EDITOR": editor, "APPEALS_USER": "ann"})
    line = _one_line_error(result, 1)
    assert said in line and "unchanged" in line
    assert (tmp_path / "out" / letter.markdown).read_bytes() == before
