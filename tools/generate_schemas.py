"""Regenerate the JSON Schemas published in docs/ from the pydantic models.

    python tools/generate_schemas.py

tests/test_schemas.py fails when a published schema is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.denials.queue import queue_json_schema
from agent.manifest import manifest_json_schema
from agent.playbooks.model import playbook_json_schema

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMAS = {"queue.schema.json": queue_json_schema,
           "manifest.schema.json": manifest_json_schema,
           "playbook.schema.json": playbook_json_schema}


def render(name: str) -> str:
    """The text of a published schema file."""
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name in SCHEMAS:
        (DOCS / name).write_text(render(name), encoding="utf-8")
        print(f"wrote docs/{name}")


if __name__ == "__main__":
    main()
