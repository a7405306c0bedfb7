"""The workbench's templates and static files (htmx included) ship in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agent.web.render import STATIC, TEMPLATES
from tests.conftest import ROOT


@pytest.mark.slow
def test_the_wheel_ships_the_templates_and_static_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--wheel-dir", str(tmp_path),
                    str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"agent/web/{p.relative_to(TEMPLATES.parent).as_posix()}"
              for folder in (TEMPLATES, STATIC) for p in folder.rglob("*") if p.is_file()}
    assert {"agent/web/static/htmx.min.js", "agent/web/templates/letter.html"} <= wanted
    assert wanted <= names
