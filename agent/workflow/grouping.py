"""Work queues: denials of one payer, reasons, submitted procedure and playbook together."""

from __future__ import annotations

import hashlib

from agent.denials.from_835 import DenialRules
from agent.denials.model import Denial
from agent.denials.reasons import denial_reasons


def group_key(denial: Denial, playbook_id: str | None, rules: DenialRules
              ) -> tuple[str, tuple[str, ...], str | None, str | None]:
    """(payer, group-CARC reasons, submitted code without modifiers, playbook)."""
    payer = denial.payer.id or denial.payer.name or "unknown payer"
    reasons = tuple(sorted({a.label for a in denial_reasons(denial, rules)}))
    code = denial.procedure.submitted_code if denial.procedure else None
    return payer, reasons, code, playbook_id


def group_id_for(key: tuple[str, tuple[str, ...], str | None, str | None]) -> str:
    """A stable id: the same work queue gets the same id on every run."""
    payer, reasons, code, playbook = key
    text = "\x1f".join((payer, ",".join(reasons), code or "", playbook or ""))
    return "grp_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
