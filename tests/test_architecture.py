"""The layers contracts in pyproject.toml name every top-level module of agent/.

``make lint`` (import-linter) checks that imports follow the layers; a module no layer
names would be checked by nothing, so adding one without placing it fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return {c["id"]: c["layers"] for c in contracts}


def _named(layers: list[str]) -> list[str]:
    return [name for layer in layers for name in re.split(r"\s*[:|]\s*", layer.strip())]


def _top_level_modules() -> set[str]:
    package = ROOT / "agent"
    found = {f"agent.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    found |= {f"agent.{p.name}" for p in package.iterdir()
              if p.is_dir() and (p / "__init__.py").is_file()}
    return found


def test_every_top_level_module_has_exactly_one_layer() -> None:
    named = _named(_contracts()["layers"])
    assert sorted(set(named)) == sorted(_top_level_modules())
    assert len(named) == len(set(named)), "a module is named in two layers"


def test_the_domain_contract_orders_every_domain_module() -> None:
    contracts = _contracts()
    domain_layer = _named(contracts["layers"][-1:])
    assert sorted(_named(contracts["domain"])) == sorted(domain_layer)

