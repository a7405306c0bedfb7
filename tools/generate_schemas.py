"""Regenerate the JSON Schemas published in docs/ from the pydantic models.

    python tools/generate_schemas.py

tests/test_schemas.py fails when a published schema is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.denials.queue import queue_json_schema
from agent.evidence.vocabulary import vocabulary_json_schema
from agent.manifest import manifest_json_schema
from agent.playbooks.model import playbook_json_schema
from evals.model import case_json_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCHEMAS = {"queue.schema.json": queue_json_schema,
           "manifest.schema.json": manifest_json_schema,
           "playbook.schema.json": playbook_json_schema,
           "vocabulary.schema.json": vocabulary_json_schema}
EVAL_SCHEMA = "evals/datasets/case.schema.json"
"""The eval case format's schema lives beside the datasets it validates."""


def render(name: str) -> str:
    """The text of a published schema file."""
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=True) + "\n"


def render_eval_schema() -> str:
    """The text of evals/datasets/case.schema.json."""
    return json.dumps(case_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name in SCHEMAS:
        (DOCS / name).write_text(render(name), encoding="utf-8")
        print(f"wrote docs/{name}")
    (ROOT / EVAL_SCHEMA).write_text(render_eval_schema(), encoding="utf-8")
    print(f"wrote {EVAL_SCHEMA}")


if __name__ == "__main__":
    main()
