"""Published JSON Schemas match the models (regenerate: python tools/generate_schemas.py)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tools.generate_schemas import SCHEMAS, render


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_published_schema_is_current(name: str) -> None:
    published = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert published == render(name), f"docs/{name} is stale: python tools/generate_schemas.py"
