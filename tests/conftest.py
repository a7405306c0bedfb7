"""Shared test fixtures: where the repository, its fixtures and ../shared are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared"
EXTERNAL = SHARED / "data" / "external"


def external_835_files() -> list[Path]:
    """Every real 835 file in ../shared/data/external (other parsers' test suites)."""
    if not EXTERNAL.is_dir():
        raise RuntimeError(f"{EXTERNAL} is missing: the tests read the real 835 files there "
                           "(CI and every developer have ../shared beside the checkout)")
    files = sorted(EXTERNAL.glob("*/835/*"))
    files += [EXTERNAL / "pyx12" / "835_mult_loops.txt"]
    return files


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
