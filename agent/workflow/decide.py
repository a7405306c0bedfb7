"""Deciding a denial from its chart: gather evidence for the playbook's facts, then act.

Rules already decided the denials that must not be appealed (``Triage.final``). For the
rest the playbook names the facts the chart must show and the checks that say "don't
appeal" (the chart contradicts the claim, a payer rule); every fact found → appeal (the
letter cites them); a required fact missing → the playbook's ``missing_action`` (usually
needs_review), listing what is missing so the auditor can look elsewhere in the chart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.config import AppConfig
from agent.denials.model import Denial
from agent.ehr.model import ChartBundle
from agent.evidence.extractors import ExtractorRegistry
from agent.evidence.model import Evidence
from agent.evidence.quality import admissible
from agent.evidence.verify import verify_evidence
from agent.evidence.vocabulary import Vocabulary, load_vocabulary
from agent.ncci import PtpTable
from agent.playbooks.checks import CheckContext, CheckRegistry
from agent.playbooks.model import FactSpec, NotAppealRule, Playbook
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
           chart: ChartBundle | None, extractors: ExtractorRegistry,
           checks: CheckRegistry | None = None, ncci: PtpTable | None = None,
           config: AppConfig | None = None, supplied: Sequence[Evidence] = ()) -> Decision:
    """The final action for a denial, with the evidence that supports it.

    Order: the playbook's facts are extracted; its ``not_appeal`` rules run in order (the
    first that fires decides: documentation that contradicts the claim, payer rules);
    then a missing required fact sends the denial to the playbook's ``missing_action``;
    otherwise it is appealed with the evidence.

    ``supplied`` is evidence an auditor selected in the chart for a fact: it counts for
    that fact beside what the extractors found, read with the fact's extractor for its
    value, and goes through the same checks (never a status flip).
    """
    if triage.final:
        return Decision(triage)
    if playbook is None:
        return Decision(_update(triage, "needs_review", "No playbook covers this denial "
                                "(codes and reasons); an auditor decides."))
    registry = checks or CheckRegistry()
    if chart is None or (not chart.documents and not chart.facts):
        # Rules on claim data alone (a Medicare claim, the NCCI table) still decide.
        context = CheckContext(denial=denial, chart=chart or ChartBundle(), ncci=ncci,
                               config=config)
        for rule in playbook.not_appeal:
            if registry.claim_only(rule.check):
                decided = _apply(playbook, rule, registry.get(rule.check)(context), triage)
                if decided is not None:
                    missing = [spec.description for spec in playbook.required_facts]
                    return Decision(decided, [], missing if decided.action ==
                                    "needs_review" else [])
        problems = "; ".join(chart.problems) if chart and chart.problems else \
            "no chart was found"
        return Decision(_update(triage, "needs_review", f"Chart not available: {problems}."),
                        missing=[spec.description for spec in playbook.required_facts])
    by_fact: dict[str, list[Evidence]] = {}
    texts = {d.document_id: d.text for d in chart.documents}
    for spec in playbook.facts:
        vocabulary = load_vocabulary(spec.vocabulary) if spec.vocabulary else None
        # Every quote is about the patient and whole sentences or a whole clause,
        # whichever extractor found it.
        by_fact[spec.id] = admissible(
            extractors.run(spec.extractor, chart, denial, vocabulary), texts)
        by_fact[spec.id] += _supplied_for(spec, supplied, by_fact[spec.id], chart, denial,
                                          extractors, vocabulary)
    evidence = [e for spec in playbook.facts for e in by_fact[spec.id]]
    verify_evidence(evidence, chart)
    missing = [spec.description for spec in playbook.facts
               if spec.required and not by_fact[spec.id]]
    if playbook.not_appeal:
        context = CheckContext(denial=denial, chart=chart, evidence=by_fact, ncci=ncci,
                               config=config)
        for rule in playbook.not_appeal:
            decided = _apply(playbook, rule, registry.get(rule.check)(context), triage)
            if decided is not None:
                # The quotes the check decided on are marked; an auditor who reviews it
                # also needs to know what else is missing.
                decisive = [e for fact in rule.quotes for e in by_fact[fact]]
                grounds = [e.model_copy(update={"decides": True}) if e in decisive else e
                           for e in evidence]
                return Decision(decided, grounds,
                                missing if rule.action == "needs_review" else [])
    if missing:
        action = playbook.missing_action
        reason = f"{playbook.title}: the chart does not show: " + "; ".join(missing) + "."
        return Decision(_update(triage, action, reason), evidence, missing)
    reason = f"{playbook.title}: every required fact is documented; appeal with the quotes."
    return Decision(_update(triage, "appeal", reason), evidence)


def _supplied_for(spec: FactSpec, supplied: Sequence[Evidence], found: list[Evidence],
                  chart: ChartBundle, denial: Denial, extractors: ExtractorRegistry,
                  vocabulary: Vocabulary | None) -> list[Evidence]:
    """The auditor's quotes for this fact that the extractors did not find.

    Each takes the value the fact's extractor reads in it (the rest of its document
    blanked, so offsets hold), if any.
    """
    spans = {(e.document_id, e.start, e.end) for e in found}
    added = []
    for item in supplied:
        if item.fact != spec.id or (item.document_id, item.start, item.end) in spans:
            continue
        added.append(item if item.value is not None else item.model_copy(
            update={"value": _value_in(item, spec, chart, denial, extractors, vocabulary)}))
    return added


def _value_in(item: Evidence, spec: FactSpec, chart: ChartBundle, denial: Denial,
              extractors: ExtractorRegistry, vocabulary: Vocabulary | None) -> str | None:
    """What the fact's extractor reads in the quote alone; None when it reads nothing."""
    if item.start is None or item.end is None:
        return None
    documents = []
    for document in chart.documents:
        if document.document_id == item.document_id:
            text = document.text
            blanked = (re.sub(r"[^\n]", " ", text[:item.start]) + text[item.start:item.end]
                       + re.sub(r"[^\n]", " ", text[item.end:]))
            documents.append(document.model_copy(update={"text": blanked}))
    alone = chart.model_copy(update={"documents": tuple(documents)})
    try:
        read = extractors.run(spec.extractor, alone, denial, vocabulary)
    except (ValueError, KeyError):
        return None
    inside = [e for e in read if e.value is not None and e.start is not None
              and e.end is not None and e.start < item.end and item.start < e.end]
    return inside[0].value if inside else None


def _apply(playbook: Playbook, rule: NotAppealRule, detail: str | None,
           triage: Triage) -> Triage | None:
    """The triage a fired ``not_appeal`` rule gives (None when its check found nothing)."""
    if detail is None:
        return None
    reason = f"{playbook.title}: " + rule.reason.replace("{detail}", detail)
    return triage.model_copy(update={"action": rule.action, "reason": reason,
                                     "root_cause": rule.root_cause})


def _update(triage: Triage, action: str, reason: str) -> Triage:
    return triage.model_copy(update={"action": action, "reason": reason})
