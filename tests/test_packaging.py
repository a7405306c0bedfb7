"""The package works installed from a wheel (non-editable), resources and evals included,
and a fresh clone's test run says in one line what it skipped (CI: a skip fails the run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.resources import resource_dir
from evals.loader import load_cases
from tests.conftest import REQUIRE_SHARED, ROOT, SHARED_SKIP


def test_resources_are_found_in_a_checkout() -> None:
    assert (resource_dir("templates") / "README.md").is_file()
    assert (resource_dir("specialty_playbooks") / "README.md").is_file()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline and installed into a folder of its own (the
    dependencies come from the test's environment)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel_dir, target = tmp / "wheel", tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index",
                    "--wheel-dir", str(wheel_dir), str(ROOT)], check=True)
    (wheel,) = wheel_dir.glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)], check=True)
    return target


def _env(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "APPEALS_CORPUS_DIR"}
    return {**env, "PYTHONPATH": str(target)}


@pytest.mark.slow
def test_wheel_ships_code_tables_templates_and_playbooks(installed: Path,
                                                         tmp_path: Path) -> None:
    target = installed
    probe = (
        "import agent, agent.resources as r, agent.codes as c\n"
        f"assert agent.__file__.startswith({str(target)!r}), agent.__file__\n"
        "print(r.resource_dir('templates'))\n"
        "print(r.resource_dir('specialty_playbooks'))\n"
        "print(c.CodeTable.load_default().carc('97').description)\n"
        "from agent.notes.drugs import DrugVocabulary\n"
        "print(DrugVocabulary.default().generic_of('Motrin'))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=_env(target),
                         check=True, capture_output=True, text=True).stdout.splitlines()
    assert out[0] == str(target / "agent" / "_resources" / "templates")
    assert out[1] == str(target / "agent" / "_resources" / "specialty_playbooks")
    assert out[2].startswith("The benefit for this service is included")
    assert out[3] == "ibuprofen"  # agent/notes/data/drug_names.csv and drug_classes.yaml


@pytest.mark.slow
def test_appeals_eval_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    """The evals ship in the wheel with their datasets and real-note case files: `appeals
    eval` run outside the checkout scores every case and passes the gate; the real-note
    cases, with no corpus given (an install has no shared folder beside it), are skipped
    in one line saying how to give one."""
    appeals = installed / "bin" / "appeals"
    for name in ("datasets/case.schema.json", "datasets/adversarial.yaml",
                 "real_notes/em_modifier_25.yaml", "README.md"):
        assert (installed / "evals" / name).is_file(), name
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(appeals), "eval", "--json", "card.json"], cwd=elsewhere,
                            env=_env(installed), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gate passed: dev, all" in result.stdout
    card = json.loads((elsewhere / "card.json").read_text(encoding="utf-8"))
    assert card["cases"] == len(load_cases()) and card["gated_splits"] == ["dev", "all"]
    result = subprocess.run([str(appeals), "eval", "--suite", "real-notes"], cwd=elsewhere,
                            env=_env(installed), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.strip()]
    assert line.startswith("skipped ") and "give --corpus DIR" in line, line


# --- a fresh clone, and CI ---------------------------------------------------------------

PROBES = '''
import pytest
from tests.conftest import EXTERNAL, require_shared

@pytest.mark.needs_shared
@pytest.mark.parametrize("n", [1, 2, 3])
def test_marked(n): pass

@pytest.mark.needs_shared
@pytest.mark.parametrize("path", [p for p in [EXTERNAL] if p.is_dir()])
def test_marked_with_no_parameters_without_the_folder(path): pass

def test_requires(): require_shared(EXTERNAL / "cms-northstar")

def test_runs(): pass
'''


def _pytest_in(clone: Path, *, require_shared: bool, extra: str = "") -> tuple[int, str]:
    """pytest over a copy of tests/conftest.py and the probes above, in ``clone``."""
    (clone / "tests").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tests" / "conftest.py", clone / "tests" / "conftest.py")
    (clone / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (clone / "tests" / "test_probes.py").write_text(PROBES + extra, encoding="utf-8")
    shutil.copy(ROOT / "pyproject.toml", clone / "pyproject.toml")
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_SHARED}
    if require_shared:
        env[REQUIRE_SHARED] = "1"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=clone, env=env, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_a_fresh_clone_skips_the_shared_tests_in_one_line(tmp_path: Path) -> None:
    code, out = _pytest_in(tmp_path / "clone", require_shared=False)
    assert code == 0, out
    (skipped,) = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert skipped.startswith(f"SKIPPED [5] tests/conftest.py: "
                              f"{tmp_path / 'shared' / 'data' / 'external'} is missing: "
                              f"{SHARED_SKIP}"), out
    assert "1 passed, 5 skipped" in out


@pytest.mark.slow
def test_ci_fails_a_run_with_a_skipped_test_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "shared" / "data" / "external" / "cms-northstar").mkdir(parents=True)
    code, out = _pytest_in(tmp_path / "clone", require_shared=True)
    assert code == 0, out  # every file there: nothing skips
    stray = "\ndef test_stray_skip(): pytest.skip('no reason CI accepts')\n"
    code, out = _pytest_in(tmp_path / "clone", require_shared=True, extra=stray)
    assert code == 1, out
    assert "APPEALS_REQUIRE_SHARED: skipped tests fail the run" in out
    assert "SKIPPED (not allowed in CI) tests/test_probes.py::test_stray_skip: no reason " \
        "CI accepts" in out
    # Without the shared folder CI stops at collection: the folder must be there.
    shutil.rmtree(tmp_path / "shared")
    code, out = _pytest_in(tmp_path / "clone", require_shared=True)
    assert code == 4 and "shared/data/external is missing" in out, out
