"""Deciding a denial from its chart: gather evidence for the playbook's facts, then act.

Rules already decided the denials that must not be appealed (``Triage.final``). For the
rest the playbook names the facts the chart must show; every one found → appeal (the
letter cites them); a required fact missing → the playbook's ``missing_action`` (usually
needs_review), listing what is missing so the auditor can look elsewhere in the chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.denials.model import Denial
from agent.ehr.model import ChartBundle
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.verify import verify_evidence
from agent.playbooks.model import Playbook
from agent.triage.model import Triage


@dataclass(slots=True)
class Decision:
    """The outcome for one denial after the chart was read."""

    triage: Triage
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def appeal(self) -> bool:
        """Whether a letter is to be drafted."""
        return self.triage.action == "appeal"


def decide(denial: Denial, triage: Triage, playbook: Playbook | None,
           chart: ChartBundle | None, extractors: ExtractorRegistry) -> Decision:
    """The final action for a denial, with the evidence that supports it."""
    if triage.final:
        return Decision(triage)
    if playbook is None:
        return Decision(_update(triage, "needs_review", "No playbook covers this denial "
                                "(codes and reasons); an auditor decides."))
    if chart is None or (not chart.documents and not chart.facts):
        problems = "; ".join(chart.problems) if chart and chart.problems else \
            "no chart was found"
        return Decision(_update(triage, "needs_review", f"Chart not available: {problems}."),
                        missing=[spec.description for spec in playbook.required_facts])
    evidence: list[Evidence] = []
    missing: list[str] = []
    for spec in playbook.facts:
        found = extractors.get(spec.extractor)(chart, denial)
        if found:
            evidence.extend(found)
        elif spec.required:
            missing.append(spec.description)
    verify_evidence(evidence, chart)
    if missing:
        action = playbook.missing_action
        reason = (f"{playbook.title}: the chart does not show {len(missing)} required "
                  f"fact(s); see missing evidence.")
        return Decision(_update(triage, action, reason), evidence, missing)
    reason = f"{playbook.title}: every required fact is documented; appeal with the quotes."
    return Decision(_update(triage, "appeal", reason), evidence)


def _update(triage: Triage, action: str, reason: str) -> Triage:
    return triage.model_copy(update={"action": action, "reason": reason})
