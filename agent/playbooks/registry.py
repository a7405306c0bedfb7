"""Loading the playbooks and picking one for a denial (from claim data only)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from agent.denials.model import Denial
from agent.ncci import PtpEdit, PtpTable
from agent.playbooks.model import Match, Playbook
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

    def select(self, denial: Denial, category: Category, ncci: PtpTable | None = None
               ) -> Playbook | None:
        """The first playbook (in order) whose match covers the denial, or None."""
        for playbook in self.playbooks:
            if matches(playbook, denial, category, ncci):
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


def ncci_partner(denial: Denial, ncci: PtpTable | None) -> PtpEdit | None:
    """An active NCCI PTP edit between the denied code and another code on the claim."""
    if ncci is None or denial.procedure is None or denial.service_date is None:
        return None
    code = denial.procedure.submitted_code
    others = [c for c in denial.claim_procedure_codes if c != code]
    for other in others:
        edit = ncci.edit_for(code, other, denial.service_date)
        if edit is not None:
            return edit
    return None
