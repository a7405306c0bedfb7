"""A playbook's vocabulary: the words an extractor looks for, kept as data beside the playbooks.

The files are ``specialty_playbooks/vocabularies/<name>.yaml``.

A vocabulary file has named lists; each list says what its terms stand for and holds the
terms (regular-expression fragments matched as whole words, case-insensitively: write
``tears?`` for "tear" and "tears"). An extractor declares the lists it reads; a file that
lacks one, or a term that does not compile, fails at load naming the file and the list.
How to add a term: docs/adding-a-playbook.md, "Vocabularies".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.notes.drugs import DrugVocabulary
from agent.resources import resource_dir
from agent.validation import first_error


class VocabularyError(ValueError):
    """A vocabulary file is missing or not valid: names the file and the list."""


class TermList(BaseModel):
    """One list and what it stands for: terms, and/or drug classes of the drug vocabulary.

    The drug vocabulary is agent/notes/data/drug_classes.yaml; a drug class stands for every
    brand, generic and class word of it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1, description="What the list's terms stand for.")
    terms: tuple[str, ...] = Field((), description=(
        "Regular-expression fragments matched as whole words, case-insensitively; a space "
        "matches any run of white space (a line wrap). Each stands for a meaning, never a "
        "phrase of one note."))
    drug_classes: tuple[str, ...] = Field((), description="Class ids of "
                                          "agent/notes/data/drug_classes.yaml.")
    values: dict[str, str] = Field(default_factory=dict, description=(
        "What a match of this list stands for, as its extractor reports or decides it "
        "(e.g. the ASA class a comorbidity is an example of, the procedure codes a "
        "service's words document): names and values the extractor documents."))

    @model_validator(mode="after")
    def _something(self) -> TermList:
        if not self.terms and not self.drug_classes:
            raise ValueError("a list needs terms or drug_classes")
        return self


class VocabularyFile(BaseModel):
    """A vocabulary file: specialty_playbooks/vocabularies/<name>.yaml.

    It is named by a playbook fact's ``vocabulary`` (docs/adding-a-playbook.md,
    "Vocabularies").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1, description="What the vocabulary is for.")
    lists: dict[str, TermList] = Field(description=(
        "Named lists; the extractor reading the file says which it needs."))


def vocabulary_json_schema() -> dict[str, object]:
    """The JSON Schema of a vocabulary file (published as docs/vocabulary.schema.json)."""
    schema = VocabularyFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://denial-appeal-agent.example/schemas/vocabulary.json"
    return schema


_NOTHING = re.compile(r"(?!)")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A loaded vocabulary: each list compiled once."""

    name: str
    patterns: dict[str, re.Pattern[str]]
    classes: dict[str, frozenset[str]] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    """List -> its ``values`` (what a match of it stands for)."""
    order: tuple[str, ...] = ()
    """The lists in the order the file writes them."""

    def pattern(self, name: str) -> re.Pattern[str]:
        """The whole-word pattern of the list ``name``.

        It matches nothing when the list has drug classes only.
        """
        if name not in self.patterns and name not in self.classes:
            raise VocabularyError(f"{self.name}.yaml: no list '{name}' (lists: "
                                  f"{', '.join(sorted({*self.patterns, *self.classes}))})")
        return self.patterns.get(name, _NOTHING)

    def drug_classes(self, name: str) -> frozenset[str]:
        """The drug classes of the list ``name`` (empty when it has none)."""
        self.pattern(name)
        return self.classes.get(name, frozenset())

    def spans(self, name: str, text: str) -> list[tuple[int, int]]:
        """Where the list ``name`` occurs in ``text``, in order.

        Its terms, and the names and class words of its drug classes (agent/notes/drugs.py).
        """
        found = [(m.start(), m.end()) for m in self.pattern(name).finditer(text)]
        wanted = self.classes.get(name)
        if wanted:
            found += [(d.start, d.end) for d in DrugVocabulary.default().find(text)
                      if d.classes & wanted]
        return sorted(set(found))

    def values(self, name: str) -> dict[str, str]:
        """What a match of the list ``name`` stands for (its ``values``; empty if none)."""
        self.pattern(name)
        return self.attributes.get(name, {})

    def lists_with(self, key: str) -> list[str]:
        """The lists that give a value for ``key``, in the order the file writes them."""
        return [name for name in self.order if key in self.attributes.get(name, {})]

    def require(self, *names: str) -> Vocabulary:
        """Itself, when it has every list in ``names``; else a VocabularyError."""
        for name in names:
            self.pattern(name)
        return self


def words(terms: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """Terms as one case-insensitive whole-word pattern (longest first).

    A space in a term matches any run of whitespace, so a phrase broken by a line wrap
    still matches.
    """
    ordered = sorted((_spaces(t) for t in terms), key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(ordered) + r")(?![A-Za-z0-9])",
                      re.IGNORECASE)


def _spaces(term: str) -> str:
    r"""``term`` with each space outside a character class written as ``\s+``.

    An optional space (`` ?``) is written as ``\s*``.
    """
    out, depth, escaped, skip = [], 0, False, False
    for index, char in enumerate(term):
        if skip:  # the quantifier of a space, already written
            skip = False
            continue
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            depth += 1
            out.append(char)
        elif char == "]" and depth:
            depth -= 1
            out.append(char)
        elif char == " " and not depth:
            following = term[index + 1:index + 2]
            out.append(r"\s*" if following in ("?", "*") else r"\s+")
            skip = following in ("?", "*", "+")
        else:
            out.append(char)
    return "".join(out)


def vocabulary_dir() -> Path:
    """Where the vocabulary files live."""
    return resource_dir("specialty_playbooks") / "vocabularies"


@cache
def load_vocabulary(name: str, directory: Path | None = None) -> Vocabulary:
    """The vocabulary ``<name>.yaml`` (from ``directory``, default the shipped ones)."""
    path = (directory or vocabulary_dir()) / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VocabularyError(f"{path.name}: no such vocabulary (in {path.parent})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise VocabularyError(f"{path.name}: not valid YAML{line}") from None
    try:
        data = VocabularyFile.model_validate(raw)
    except ValidationError as exc:
        raise VocabularyError(f"{path.name}: {first_error(exc)}") from None
    patterns, classes = {}, {}
    known = frozenset(DrugVocabulary.default().classes)
    for list_name, item in data.lists.items():
        for term in item.terms:
            try:
                re.compile(term)
            except re.error as exc:
                raise VocabularyError(f"{path.name}: lists.{list_name}: term '{term}' does "
                                      f"not compile ({exc})") from None
        unknown = sorted(set(item.drug_classes) - known)
        if unknown:
            raise VocabularyError(f"{path.name}: lists.{list_name}: unknown drug class(es) "
                                  f"{', '.join(unknown)} (agent/notes/data/drug_classes.yaml)")
        if item.terms:
            patterns[list_name] = words(item.terms)
        if item.drug_classes:
            classes[list_name] = frozenset(item.drug_classes)
    return Vocabulary(name, patterns, classes,
                      {n: dict(item.values) for n, item in data.lists.items() if item.values},
                      tuple(data.lists))
