"""Convert medspaCy's ConText rules (resources/en/context_rules.json) into the note
reader's data file, agent/notes/data/context_rules.json.

medspaCy (https://github.com/medspacy/medspacy, MIT licence) ships its English ConText
rules as spaCy token patterns. The note reader matches with regular expressions instead
(medspaCy itself took ~60 ms a note here), so each rule's token pattern becomes one
regular expression with the same meaning: a token's ``LOWER`` value or ``IN`` list is an
alternative, ``"OP": "?"`` makes the token optional, and a rule without a pattern matches
its literal. Categories and directions are kept as they are.

    python tools/convert_context_rules.py PATH/TO/medspacy/resources/en/context_rules.json \
        --version 1.3.1

Project additions are not written here: they live in agent/notes/data/context_rules_extra.yaml.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "agent" / "notes" / "data" / "context_rules.json"


def _alternatives(token: dict[str, Any]) -> list[str]:
    value = token.get("LOWER", token.get("TEXT"))
    if isinstance(value, dict):
        items = value.get("IN")
        if not isinstance(items, list):
            raise ValueError(f"unsupported token pattern: {token}")
        return [str(v) for v in items]
    if isinstance(value, str):
        return [value]
    raise ValueError(f"unsupported token pattern: {token}")


def _words(text: str) -> str:
    return r"\s+".join(re.escape(w) for w in text.split())


def pattern_regex(pattern: list[dict[str, Any]]) -> str:
    """One regular expression (case-insensitive, no boundaries) for a token pattern."""
    out = ""
    for index, token in enumerate(pattern):
        alternatives = _alternatives(token)
        body = "(?:" + "|".join(_words(a) for a in sorted(alternatives, key=len,
                                                           reverse=True)) + ")"
        glued = any(a.startswith("n'") or not a[:1].isalnum()
                    for a in alternatives)  # n't attaches to its verb
        # After only optional tokens the space may be absent too ("rule out" with no modal
        # before it): the reader checks whole words at the cue's edges.
        only_optional_before = all(t.get("OP") == "?" for t in pattern[:index])
        separator = "" if index == 0 else (
            r"\s*" if glued or only_optional_before else r"\s+")
        optional = token.get("OP") == "?"
        if token.get("OP") not in (None, "?"):
            raise ValueError(f"unsupported operator in {token}")
        out += f"(?:{separator}{body})?" if optional else f"{separator}{body}"
    return out


def convert(source: Path, version: str) -> dict[str, Any]:
    """The data file's content for medspaCy's rules at ``source``."""
    rules = json.loads(source.read_text(encoding="utf-8"))["context_rules"]
    converted = []
    for rule in rules:
        pattern = rule.get("pattern")
        regex = pattern_regex(pattern) if pattern else _words(rule["literal"])
        converted.append({"literal": rule["literal"], "category": rule["category"],
                          "direction": rule["direction"], "regex": regex})
    return {
        "source": "medspaCy resources/en/context_rules.json "
                  "(https://github.com/medspacy/medspacy)",
        "version": version,
        "license": "MIT (Copyright (c) 2020 medspacy)",
        "converted_by": "tools/convert_context_rules.py (token patterns as regular "
                        "expressions; categories and directions unchanged)",
        "context_rules": converted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--version", required=True, help="the medspaCy release it came from")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = convert(args.source, args.version)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(data['context_rules'])} rules)")


if __name__ == "__main__":
    main()
