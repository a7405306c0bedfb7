"""Regenerate agent/notes/data/drug_names.csv from drug-named-entity-recognition's dictionary.

The PyPI package drug-named-entity-recognition 2.0.9 (MIT licence, Fast Data Science Ltd)
ships its drug dictionary in the wheel as
``drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2``: a bz2 pickle of plain dicts,
``drug_variant_to_canonical`` (variant -> [canonical]) among them. Its README says the
names come from DrugBank open data (CC0), MeSH, MedlinePlus, the NHS, PubChem and
Wikipedia. Unpack the wheel anywhere (``pip download drug-named-entity-recognition==2.0.9
--no-deps`` and unzip it) and run:

    python tools/build_drug_vocabulary.py PATH/TO/drug_ner_dictionary.pkl.bz2

Only the generics listed in agent/notes/data/drug_classes.yaml are kept (and the upstream
canonicals its ``upstream_aliases`` map onto them), so the file stays small: one row per
brand or synonym of those generics, plus each generic itself. Names that would match
ordinary words or that no note writes are dropped by the rules below (never by editing the
CSV); the run prints how many each rule dropped. Guide: docs/drug-vocabulary.md.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import io
import pickle
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "agent" / "notes" / "data"
OUT = DATA / "drug_names.csv"
CLASSES = DATA / "drug_classes.yaml"

PACKAGE = "drug-named-entity-recognition"
VERSION = "2.0.9"
# SHA-256 of drug_ner_dictionary.pkl.bz2 in the 2.0.9 wheel (its RECORD lists the same
# hash). Another version's dictionary needs this, the header and the docs updated together.
SHA256 = "ec10a1c7b633fc4bae8d0eecff053892c0e37f49e18eaf59c8a1e9f40fc80d9d"

MIN_LENGTH = 4
"""Shorter names ("pt", "ice", "all") are abbreviations or words far more often than drugs."""

STOP_WORDS = frozenset({
    # The kinds of words a note is full of, named by the issue, whatever the dictionary holds.
    "ice", "rest", "pt", "all", "may", "heat", "brace", "home", "care",
    # Kept generics' synonyms that are words, abbreviations, names or companies, found by
    # reading every kept name and counting each one's matches in the 1,155 MTSamples notes
    # (docs/drug-vocabulary.md): "Biomet" is a knee implant maker there, "lab vals" values.
    "biomet", "vals", "sone", "copal", "relif", "amias", "cambia", "genpharm", "chibret",
    "plan b", "t stat", "t-stat", "tstat", "pcp-gaba", "available generically",
    "fallback solo",
})
"""Exact names (lower case) never kept, whatever generic they would stand for."""

_ALLOWED = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '\-/])*[^\W\d_]")
"""Letters, with spaces, hyphens, apostrophes and slashes inside: no digits (chemical names,
strengths, "1a pharma"), no commas (MeSH's inverted "acid, acetylsalicylic"), no brackets."""

FUNCTION_WORDS = frozenset({"a", "an", "and", "or", "nor", "for", "with", "of", "the", "to",
                            "in", "on", "by", "from", "plus"})
"""A synonym with one of these is a phrase ("ears and nose", "capsules and granules", "nor
qd"), kept only when it is the package's own name of a combination ("amoxicillin and
clavulanic acid")."""

_CHEMICAL = re.compile(r"[α-ωΑ-Ω]|\b(?:alpha|beta|gamma|delta)-\w|-\w-|\bp-|\bo-|\bn-")
"""Systematic chemical names ("n-acetyl-p-aminophenol", "1-dehydro-6α-...")."""


class _PlainUnpickler(pickle.Unpickler):
    """Loads plain dicts, lists and strings only: the dictionary needs no class, so a
    pickle that asks for one is refused instead of run."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the dictionary")


@dataclass
class Vocabulary:
    """The rows to write and what the rules dropped."""

    rows: dict[str, str] = field(default_factory=dict)
    """Name (lower case) -> generic."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Rule -> how many upstream names it dropped."""
    conflicts: list[str] = field(default_factory=list)


def load_dictionary(path: Path) -> dict[str, Any]:
    """The package's dictionary, after checking it is the 2.0.9 file."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{path}: SHA-256 {digest} is not that of {PACKAGE} {VERSION}'s "
                         "dictionary; update SHA256, VERSION and the docs together")
    data = _PlainUnpickler(io.BytesIO(bz2.decompress(raw))).load()
    if not isinstance(data, dict) or "drug_variant_to_canonical" not in data:
        raise SystemExit(f"{path}: not a drug-named-entity-recognition dictionary")
    return data


def load_classes(path: Path) -> tuple[set[str], dict[str, str]]:
    """The generics of the class table and the upstream canonical -> generic aliases."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    generics = {g for spec in table["classes"].values() for g in spec.get("generics") or []}
    aliases = dict(table.get("upstream_aliases") or {})
    unknown = sorted(set(aliases.values()) - generics)
    if unknown:
        raise SystemExit(f"{path}: upstream_aliases name generics no class lists: {unknown}")
    return generics, aliases


def drop_reason(name: str, generic: str, canonical: bool = False) -> str | None:
    """Why an upstream name is not kept, or None to keep it. ``canonical``: the name is
    one of the package's canonical names, not only a synonym."""
    if len(name) < MIN_LENGTH:
        return "shorter than MIN_LENGTH"
    if name in STOP_WORDS:
        return "in STOP_WORDS"
    if not _ALLOWED.fullmatch(name):
        return "digits, commas or brackets"
    if _CHEMICAL.search(name):
        return "systematic chemical name"
    if not canonical and FUNCTION_WORDS.intersection(re.split(r"[ \-/]+", name)):
        return "a phrase (has a function word)"
    if re.search(rf"(?<![^\W_]){re.escape(generic)}(?![^\W_])", name) and name != generic:
        # "tramadol hydrochloride", "apo-doxazosin": the generic's own name inside it is
        # matched anyway, so the longer name adds nothing.
        return "contains its generic's name"
    return None


def build(dictionary: dict[str, Any], generics: set[str],
          aliases: dict[str, str]) -> Vocabulary:
    """Every kept name of the class table's generics, and each generic itself."""
    vocabulary = Vocabulary()
    for variant, canonicals in dictionary["drug_variant_to_canonical"].items():
        name = " ".join(str(variant).lower().split())
        targets = {c if c in generics else aliases.get(c) for c in canonicals} - {None}
        if not targets:
            continue
        if len(targets) > 1:
            vocabulary.conflicts.append(f"{name}: {sorted(t for t in targets if t)}")
            vocabulary.dropped["stands for several generics"] += 1
            continue
        generic = str(targets.pop())
        reason = drop_reason(name, generic, canonical=variant in canonicals)
        if reason:
            vocabulary.dropped[reason] += 1
            continue
        if vocabulary.rows.get(name, generic) != generic:
            vocabulary.conflicts.append(f"{name}: {vocabulary.rows[name]} / {generic}")
            vocabulary.dropped["stands for several generics"] += 1
            del vocabulary.rows[name]
            continue
        vocabulary.rows[name] = generic
    for generic in generics:
        if vocabulary.rows.get(generic, generic) != generic:
            raise SystemExit(f"the generic {generic!r} is also a name of "
                             f"{vocabulary.rows[generic]!r} upstream")
        vocabulary.rows[generic] = generic
    return vocabulary


def render(vocabulary: Vocabulary) -> str:
    """The CSV text: provenance comment lines, a header, rows sorted by name."""
    out = io.StringIO()
    out.write(
        "# Drug names (brands and synonyms) -> generic, read by agent/notes/drugs.py.\n"
        "# Generated by tools/build_drug_vocabulary.py; do not edit (docs/drug-vocabulary.md).\n"
        f"# Source: {PACKAGE} {VERSION} (PyPI; MIT licence, Copyright (c) 2023 Fast Data\n"
        "# Science Ltd), file drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2,\n"
        f"# SHA-256 {SHA256}.\n"
        "# Its README gives the names' sources: DrugBank open data (CC0), MeSH, MedlinePlus,\n"
        "# NHS, PubChem, Wikipedia. Kept: names of the generics in drug_classes.yaml.\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "generic"])
    for name in sorted(vocabulary.rows):
        writer.writerow([name, vocabulary.rows[name]])
    return out.getvalue()


def generate(pickle_path: Path, classes_path: Path = CLASSES) -> tuple[str, Vocabulary]:
    """The CSV text the script writes for this dictionary and class table."""
    generics, aliases = load_classes(classes_path)
    vocabulary = build(load_dictionary(pickle_path), generics, aliases)
    return render(vocabulary), vocabulary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pickle", type=Path, help="drug_ner_dictionary.pkl.bz2")
    parser.add_argument("--classes", type=Path, default=CLASSES)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text, vocabulary = generate(args.pickle, args.classes)
    args.out.write_text(text, encoding="utf-8")
    generics = set(vocabulary.rows.values())
    print(f"wrote {len(vocabulary.rows)} names of {len(generics)} generics to {args.out}")
    for reason, count in vocabulary.dropped.most_common():
        print(f"  dropped {count}: {reason}")
    for conflict in vocabulary.conflicts:
        print(f"  conflict: {conflict}", file=sys.stderr)


if __name__ == "__main__":
    main()
