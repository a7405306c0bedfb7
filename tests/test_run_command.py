"""``appeals run`` as a command-line tool: --as-of, Ctrl-C, a run that reads nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.store.lease import writer_lease
from agent.store.sqlite import SqliteStore
from tests.conftest import FIXTURES

BLUE_RIVER = str(FIXTURES / "835" / "blue-river-2026-09-02.835")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "run", *args, "--ehr",
                           f"fhir-dir:{FIXTURES / 'fhir'}", "--db", "appeals.db", "--out",
                           "out"], cwd=tmp_path, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_as_of_dates_the_letters(tmp_path: Path) -> None:
    done = _run(tmp_path, BLUE_RIVER, "--as-of", "2026-09-21")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    letters = [tmp_path / "out" / d["letter"]["markdown"] for d in manifest["denials"]
               if d["letter"]["markdown"]]
    assert letters and all("\n2026-09-21\n" in p.read_text(encoding="utf-8")
                           for p in letters)
    bad = _run(tmp_path, BLUE_RIVER, "--as-of", "21/09/2026")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_a_run_that_reads_nothing_leaves_the_last_manifest(tmp_path: Path) -> None:
    assert _run(tmp_path, BLUE_RIVER, "--as-of", "2026-09-21").returncode == 0
    manifest = tmp_path / "out" / "manifest.json"
    before = manifest.read_bytes()
    (tmp_path / "garbage.835").write_text("ISA*this is not an 835~", encoding="utf-8")
    nothing = _run(tmp_path, "garbage.835", "--as-of", "2026-09-21")
    assert nothing.returncode == 2
    assert "garbage.835" in nothing.stderr and "left as the last run wrote it" in nothing.stderr
    assert manifest.read_bytes() == before


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_and_exits_130(tmp_path: Path) -> None:
    # The run waits for the writer lease this test holds, so the interrupt always lands
    # inside the run, whatever the machine's speed.
    store = SqliteStore(tmp_path / "appeals.db")
    try:
        with writer_lease(store, "a test holding the store"):
            process = subprocess.Popen(
                [sys.executable, "-m", "agent", "run", BLUE_RIVER, "--ehr",
                 f"fhir-dir:{FIXTURES / 'fhir'}", "--db", "appeals.db", "--out", "out",
                 "--wait", "120"], cwd=tmp_path, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            _wait_until_it_opens(process, tmp_path / "appeals.db")
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
    finally:
        store.close()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "run the same command again to resume" in stderr
    resumed = _run(tmp_path, BLUE_RIVER, "--as-of", "2026-09-21")
    assert resumed.returncode == 0, resumed.stderr


def _wait_until_it_opens(process: subprocess.Popen[str], db: Path) -> None:
    """Until the process has the database open (it then waits for the lease)."""
    deadline = time.monotonic() + 60
    fds = Path(f"/proc/{process.pid}/fd")
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if any(os.path.realpath(fd) == str(db.resolve()) for fd in fds.iterdir()):
                time.sleep(0.5)  # past open_workflow, into the lease's wait
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the run never opened its database")


@pytest.mark.slow
def test_some_inputs_unreadable_exits_1_and_the_rest_is_worked(tmp_path: Path) -> None:
    (tmp_path / "garbage.835").write_text("ISA*this is not an 835~", encoding="utf-8")
    partial = _run(tmp_path, BLUE_RIVER, "garbage.835", "--as-of", "2026-09-21", "--json")
    assert partial.returncode == 1
    assert "garbage.835" in partial.stderr
    summary = json.loads(partial.stdout)  # --json: stdout is the summary alone
    assert summary["denials"] > 0 and len(summary["input_errors"]) == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["summary"] == summary and manifest["schema_version"] == "1.2"


@pytest.mark.slow
def test_an_ehr_source_with_skipped_files_or_nothing_in_it_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty-ehr"
    empty.mkdir()
    (empty / "broken.json").write_text("{not json", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "agent", "run", BLUE_RIVER, "--ehr",
                           f"fhir-dir:{empty}", "--db", "appeals.db", "--out", "out",
                           "--as-of", "2026-09-21", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["ehr_warnings"]
    assert any("broken.json" in w for w in warnings)
    assert any("holds no FHIR resources" in w for w in warnings)
    assert all(f"warning: {w}" in done.stderr for w in warnings)
