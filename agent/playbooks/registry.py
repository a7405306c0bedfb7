"""Loading the playbooks, checking what they name, and picking one for a denial.

A playbook is picked from claim data only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import jinja2
import yaml
from pydantic import ValidationError

from agent.denials.model import Denial
from agent.evidence.vocabulary import VocabularyError, load_vocabulary, vocabulary_dir
from agent.ncci import PairedEdit, PtpTable
from agent.playbooks.model import Match, Playbook
from agent.resources import resource_dir
from agent.triage.model import Category
from agent.validation import first_error


class PlaybookError(Exception):
    """A playbook file is not valid: names the file and the field."""


class PlaybookSet:
    """The playbooks of a run, in selection order."""

    def __init__(self, playbooks: Iterable[Playbook], sources: dict[str, Path] | None = None,
                 vocabularies: Path | None = None, templates: Path | None = None) -> None:
        """Hold ``playbooks``; ``sources`` maps an id to its YAML file, when loaded from one.

        ``vocabularies`` and ``templates`` are the folders the fingerprints read (default:
        the shipped ones).
        """
        self.playbooks = tuple(sorted(playbooks, key=lambda p: (p.order, p.id)))
        ids = [p.id for p in self.playbooks]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise PlaybookError(f"duplicate playbook id(s): {', '.join(sorted(duplicates))}")
        self._by_id = {p.id: p for p in self.playbooks}
        self._sources = dict(sources or {})
        self._vocabularies = vocabularies
        self._templates = templates
        self._fingerprints: dict[str, str] = {}

    @classmethod
    def load(cls, directory: Path | None = None) -> PlaybookSet:
        """Every ``*.yaml`` in ``specialty_playbooks/`` (or ``directory``)."""
        directory = directory or resource_dir("specialty_playbooks")
        paths = playbook_paths(directory)
        return cls((load_playbook(path) for path in paths),
                   sources={path.stem: path for path in paths})

    def get(self, playbook_id: str) -> Playbook:
        """The playbook with this id."""
        return self._by_id[playbook_id]

    def fingerprint(self, playbook_id: str) -> str:
        """A hash of what the playbook decides and writes with.

        That is its YAML (or, for a playbook built in code, its model), the vocabulary
        files its facts name and the templates its letters are rendered from: the argument
        template, the shared argument parts (``arguments/_*``) and the letter templates. A
        denial decided with another fingerprint is decided again on the next run.
        """
        if playbook_id not in self._fingerprints:
            self._fingerprints[playbook_id] = _fingerprint(
                self.get(playbook_id), self._sources.get(playbook_id),
                self._vocabularies or vocabulary_dir(),
                self._templates or resource_dir("templates"))
        return self._fingerprints[playbook_id]

    def select(self, denial: Denial, category: Category, ncci: PtpTable | None = None
               ) -> Playbook | None:
        """The first playbook (in order) whose match covers the denial, or None."""
        for playbook in self.playbooks:
            if matches(playbook, denial, category, ncci):
                return playbook
        return None


def _fingerprint(playbook: Playbook, source: Path | None, vocabularies: Path,
                 templates: Path) -> str:
    digest = hashlib.sha256()

    def part(name: str, data: bytes) -> None:
        digest.update(f"{name}\x1f{len(data)}\x1f".encode())
        digest.update(data)

    part("playbook", source.read_bytes() if source else
         playbook.model_dump_json().encode("utf-8"))
    for name in sorted({f.vocabulary for f in playbook.facts if f.vocabulary}):
        path = vocabularies / f"{name}.yaml"
        part(f"vocabulary/{name}", path.read_bytes() if path.is_file() else b"")
    shared = sorted([*templates.glob("letters/*.j2"), *templates.glob("arguments/_*.j2")])
    for path in [templates / playbook.argument_template, *shared]:
        part(path.relative_to(templates).as_posix(),
             path.read_bytes() if path.is_file() else b"")
    return "sha256:" + digest.hexdigest()


def playbook_paths(directory: Path) -> list[Path]:
    """The playbook files a run loads from ``directory``: every ``*.yaml``, sorted."""
    return sorted(directory.glob("*.yaml"))


def load_playbook(path: Path) -> Playbook:
    """Read and validate one playbook file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path.name}: not valid YAML ({exc.__class__.__name__})") from None
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError(f"{path.name}: {first_error(exc)}") from None
    if playbook.id != path.stem:
        raise PlaybookError(f"{path.name}: id '{playbook.id}' must match the file name")
    return playbook


class Names(Protocol):
    """Named things a playbook may refer to (an ExtractorRegistry, a CheckRegistry)."""

    def names(self) -> list[str]:
        """Registered names, sorted."""
        ...


def _references(playbook: Playbook) -> Iterator[tuple[str, str, str]]:
    """Every registry name the playbook refers to, as (field, kind, name).

    Vocabularies are checked by ``_vocabulary_problems``.
    """
    for index, fact in enumerate(playbook.facts):
        yield f"facts[{index}].extractor", "extractor", fact.extractor
    for index, rule in enumerate(playbook.not_appeal):
        yield f"not_appeal[{index}].check", "check", rule.check


def reference_problems(playbook: Playbook, extractors: Names, checks: Names,
                       templates: Path) -> list[str]:
    """What the playbook names that a run would not find, each as ``field: what is wrong``.

    That is an extractor or a check that is not registered, an argument template that is
    not in ``templates`` (the folder the letters are rendered from), a vocabulary that is
    missing, invalid or lacks a list its extractor reads. Empty when all are found.
    Indexes count from 0, as in the schema errors.
    """
    known = {"extractor": extractors.names(), "check": checks.names()}
    problems = [f"{field}: no {kind} '{name}' (known: {', '.join(known[kind])})"
                for field, kind, name in _references(playbook) if name not in known[kind]]
    problems += _vocabulary_problems(playbook, extractors)
    try:
        # The letters' own lookup (a FileSystemLoader on the same folder), not a path join.
        jinja2.FileSystemLoader(str(templates)).get_source(jinja2.Environment(),
                                                          playbook.argument_template)
    except jinja2.TemplateNotFound:
        problems.append(f"argument_template: no template '{playbook.argument_template}' "
                        f"in {templates}")
    return problems


def _vocabulary_problems(playbook: Playbook, extractors: Names) -> list[str]:
    lists_of = getattr(extractors, "vocabulary_lists", None)
    problems = []
    for index, fact in enumerate(playbook.facts):
        if fact.vocabulary is None or fact.extractor not in extractors.names():
            continue  # an unknown extractor is reported once, as such
        field = f"facts[{index}].vocabulary"
        wanted = lists_of(fact.extractor) if lists_of is not None else None
        if wanted is None:
            problems.append(f"{field}: extractor '{fact.extractor}' reads no vocabulary")
            continue
        try:
            load_vocabulary(fact.vocabulary).require(*wanted)
        except VocabularyError as exc:
            problems.append(f"{field}: {exc}")
    return problems


def describe_problems(file_name: str, problems: list[str]) -> str:
    """One line for a file's problems: the first in full, then how many more."""
    more = len(problems) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{file_name}: {problems[0]}{extra}"


def validate_references(playbooks: Iterable[Playbook], extractors: Names, checks: Names,
                        templates: Path) -> None:
    """Check that every playbook names only what the run has.

    A run calls this at start-up: an unknown name would otherwise fail every denial the
    playbook takes, one by one, into needs_review.

    Raises:
        PlaybookError: Naming the file and the field, for the first playbook that names
            an extractor, check or argument template the run does not have.
    """
    for playbook in playbooks:
        problems = reference_problems(playbook, extractors, checks, templates)
        if problems:
            raise PlaybookError(describe_problems(f"{playbook.id}.yaml", problems))


def check_playbook_file(path: Path, extractors: Names, checks: Names, templates: Path
                        ) -> str | None:
    """Everything a run checks about one playbook file, as the one-line problem.

    The checks are the YAML, the schema and the names it refers to; None when the file is
    valid.
    """
    try:
        playbook = load_playbook(path)
    except PlaybookError as exc:
        return str(exc)
    problems = reference_problems(playbook, extractors, checks, templates)
    return describe_problems(path.name, problems) if problems else None


def matches(playbook: Playbook, denial: Denial, category: Category,
            ncci: PtpTable | None = None) -> bool:
    """Whether any of the playbook's matches covers the denial (claim data only)."""
    return any(_covers(match, denial, category, ncci) for match in playbook.matches)


def _covers(match: Match, denial: Denial, category: Category, ncci: PtpTable | None) -> bool:
    procedure = denial.procedure
    if match.procedure_codes and (procedure is None
                                  or not match.covers_code(procedure.submitted_code)):
        return False
    if match.modifiers and (procedure is None or not set(match.modifiers)
                            & set(procedure.submitted_modifiers)):
        return False
    reasons = {a.reason for a in (*denial.adjustments, *denial.claim_adjustments)}
    if match.carc and not reasons & set(match.carc):
        return False
    if match.rarc and not set(denial.remarks) & set(match.rarc):
        return False
    if match.category and category not in match.category:
        return False
    return not match.ncci_partner_on_claim or ncci_partner(denial, ncci) is not None


def ncci_partner(denial: Denial, ncci: PtpTable | None) -> PairedEdit | None:
    """An active NCCI PTP edit between the denied code and another code on the claim.

    Either column order counts; the first edit of :attr:`PtpPairing.edits` is returned
    (None without a table, a procedure code or a date of service).
    """
    if ncci is None or denial.procedure is None:
        return None
    pairing = ncci.pairing(denial.procedure.submitted_code, denial.claim_procedure_codes,
                           denial.service_date)
    return pairing.edits[0] if pairing.edits else None
