"""Conventions every ``appeals`` command keeps: --version, a light start, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.workflow import run_batch
from agent.cli import app
from agent.cli.defaults import CommandDefaults
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
    ["report", "--out", "report.html"],
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
@pytest.mark.parametrize(("command", "said"), [
    (["run", str(FIXTURES / "835" / "blue-river-2026-09-02.835"), "--ehr",
      f"fhir-dir:{FIXTURES / 'fhir'}", "--db", "a.db", "--out", "not-sqlite.db"],
     "not-sqlite.db is a file, not a folder"),
    (["run", str(FIXTURES / "835" / "blue-river-2026-09-02.835"), "--ehr",
      f"fhir-dir:{FIXTURES / 'fhir'}", "--db", "a.db", "--config", "missing.toml"],
     "missing.toml"),
    (["run", str(FIXTURES / "835" / "blue-river-2026-09-02.835"), "--ehr",
      "fhir-dir:missing-folder", "--db", "a.db"], "missing-folder"),
    (["config", "show", "--config", "missing.toml"], "missing.toml"),
    (["ingest", "missing.835"], "missing.835"),
    (["playbooks", "check", "missing.yaml"], "missing.yaml"),
    (["ncci", "import", "missing.csv", "out.csv"], "missing.csv"),
])
def test_a_bad_path_or_file_anywhere_is_one_line(bad_paths: Path, command: list[str],
                                                 said: str) -> None:
    assert said in _one_line_error(_appeals(*command, cwd=bad_paths), 2)


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


# Option defaults: the command line, then APPEALS_*, then [defaults] of the configuration.

def test_defaults_come_from_the_environment_over_the_configuration_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("APPEALS_")]:
        monkeypatch.delenv(name)
    assert CommandDefaults.load() == CommandDefaults()  # no ./appeals.toml: no defaults
    (tmp_path / "appeals.toml").write_text(
        '[defaults]\ndb = "file.db"\nout = "file-out"\nas_of = "2026-09-20"\n'
        '[review]\nuser = "ann"\n', encoding="utf-8")
    monkeypatch.setenv("APPEALS_DB", "env.db")
    monkeypatch.setenv("APPEALS_INCLUDE_LATE", "true")
    loaded = CommandDefaults.load()
    assert loaded.db == Path("env.db") and loaded.out == Path("file-out")
    assert loaded.as_of == date(2026, 9, 20) and loaded.include_late is True
    assert loaded.config == Path("appeals.toml")  # the run configuration comes from it too
    chosen = tmp_path / "other.toml"
    chosen.write_text('[defaults]\nehr = "fhir-dir:charts"\n', encoding="utf-8")
    monkeypatch.setenv("APPEALS_CONFIG", str(chosen))
    monkeypatch.delenv("APPEALS_DB")
    other = CommandDefaults.load()
    assert other.ehr == "fhir-dir:charts" and other.db is None and other.config == chosen
    commands = loaded.default_map()
    assert commands["run"]["db"] == "env.db" and commands["run"]["include_late"] is True
    assert commands["review"]["approve"] == {"db": "env.db", "out": "file-out",
                                             "config": "appeals.toml"}


def test_a_default_reaches_the_command_and_the_command_line_wins(tmp_path: Path) -> None:
    defaults = CommandDefaults(db=tmp_path / "from-defaults.db").default_map()
    result = CliRunner().invoke(app, ["review", "list"], default_map=defaults)
    assert result.exit_code == 2 and "from-defaults.db" in result.output
    given = CliRunner().invoke(app, ["review", "list", "--db", str(tmp_path / "given.db")],
                               default_map=defaults)
    assert given.exit_code == 2 and "given.db" in given.output


@pytest.mark.slow
def test_run_with_everything_in_appeals_toml(tmp_path: Path) -> None:
    (tmp_path / "appeals.toml").write_text(
        f'[defaults]\ndb = "kept.db"\nout = "kept-out"\nehr = "fhir-dir:{FIXTURES / "fhir"}"\n'
        'as_of = "2026-09-20"\n', encoding="utf-8")
    done = _appeals("run", str(FIXTURES / "835" / "blue-river-2026-09-02.835"), "--json",
                    cwd=tmp_path, env={"APPEALS_AS_OF": "2026-09-22"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["as_of"] == "2026-09-22"  # the environment beat the file
    assert (tmp_path / "kept.db").is_file() and (tmp_path / "kept-out" / "manifest.json").exists()
    bad = _appeals("review", "list", cwd=tmp_path, env={"APPEALS_WAIT": "soon"})
    line = _one_line_error(bad, 2)
    assert "wait" in line and "APPEALS_" in line
