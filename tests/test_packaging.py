"""The package works installed from a wheel (non-editable), resources included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.resources import resource_dir
from tests.conftest import ROOT


def test_resources_are_found_in_a_checkout() -> None:
    assert (resource_dir("templates") / "README.md").is_file()
    assert (resource_dir("specialty_playbooks") / "README.md").is_file()


@pytest.mark.slow
def test_wheel_ships_code_tables_templates_and_playbooks(tmp_path: Path) -> None:
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index",
                    "--wheel-dir", str(wheel_dir), str(ROOT)], check=True)
    (wheel,) = wheel_dir.glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)], check=True)
    probe = (
        "import agent, agent.resources as r, agent.codes as c\n"
        f"assert agent.__file__.startswith({str(target)!r}), agent.__file__\n"
        "print(r.resource_dir('templates'))\n"
        "print(r.resource_dir('specialty_playbooks'))\n"
        "print(c.CodeTable.load_default().carc('97').description)\n"
        "from agent.notes.drugs import DrugVocabulary\n"
        "print(DrugVocabulary.default().generic_of('Motrin'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0] == str(target / "agent" / "_resources" / "templates")
    assert out[1] == str(target / "agent" / "_resources" / "specialty_playbooks")
    assert out[2].startswith("The benefit for this service is included")
    assert out[3] == "ibuprofen"  # agent/notes/data/drug_names.csv and drug_classes.yaml
