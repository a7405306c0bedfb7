"""Loading the playbooks and picking one for a denial (from claim data only)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from agent.denials.model import Denial
from agent.playbooks.model import Playbook
from agent.resources import resource_dir
from agent.triage.model import Category


class PlaybookError(Exception):
    """A playbook file is not valid: names the file and the field."""


class PlaybookSet:
    """The playbooks of a run, in selection order."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self.playbooks = tuple(sorted(playbooks, key=lambda p: (p.order, p.id)))
        ids = [p.id for p in self.playbooks]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise PlaybookError(f"duplicate playbook id(s): {', '.join(sorted(duplicates))}")
        self._by_id = {p.id: p for p in self.playbooks}

    @classmethod
    def load(cls, directory: Path | None = None) -> PlaybookSet:
        """Every ``*.yaml`` in ``specialty_playbooks/`` (or ``directory``)."""
        directory = directory or resource_dir("specialty_playbooks")
        return cls(load_playbook(path) for path in sorted(directory.glob("*.yaml")))

    def get(self, playbook_id: str) -> Playbook:
        """The playbook with this id."""
        return self._by_id[playbook_id]

    def select(self, denial: Denial, category: Category) -> Playbook | None:
        """The first playbook whose match covers the denial, or None."""
        for playbook in self.playbooks:
            if matches(playbook, denial, category):
                return playbook
        return None


def load_playbook(path: Path) -> Playbook:
    """Read and validate one playbook file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path.name}: not valid YAML ({exc.__class__.__name__})") from None
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise PlaybookError(f"{path.name}: {where}: {first['msg']}") from None
    if playbook.id != path.stem:
        raise PlaybookError(f"{path.name}: id '{playbook.id}' must match the file name")
    return playbook


def matches(playbook: Playbook, denial: Denial, category: Category) -> bool:
    """Whether the playbook's match covers the denial (claim data only)."""
    match = playbook.match
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
    return not (match.category and category not in match.category)
