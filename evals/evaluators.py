"""The evaluators: small named checks of one case's run.

Each evaluator reads a :class:`~evals.runner.CaseRun` (the manifest, the letters, the
chart) and returns a :class:`~evals.checks.Check`, or None when it does not apply to the
case. They are listed once, in :data:`EVALUATORS`; docs/evals.md describes each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from agent.denials.model import Denial
from agent.manifest import MDenial
from evals.checks import Check
from evals.fabrication import Provenance, template_text
from evals.letters import ELEMENTS, normalise, quoted_items
from evals.runner import CaseRun, Environment


class Evaluator(Protocol):
    """A named check of one case."""

    name: ClassVar[str]
    description: ClassVar[str]

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        """The check, or None when it does not apply to this case."""
        ...


def _no_denial(run: CaseRun) -> str:
    errors = run.manifest.summary.input_errors if run.manifest else []
    return "no denial of the case was read" + (f" ({errors[0]})" if errors else "")


class ActionCorrect:
    """Every denial the case is about gets the expected action."""

    name: ClassVar[str] = "action_correct"
    description: ClassVar[str] = "the action decided is the expected one"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        expected = run.expect.action
        if not run.targets:
            return Check.verdict(self.name, False, _no_denial(run))
        wrong = [d for d in run.targets if d.triage.action != expected]
        detail = "; ".join(f"expected {expected}, got {d.triage.action}: "
                           f"{_short(d.triage.reason)}" for d in wrong[:2])
        return Check.verdict(self.name, not wrong, detail)


class PlaybookCorrect:
    """Every denial the case is about gets the expected playbook (None: rules decided)."""

    name: ClassVar[str] = "playbook_correct"
    description: ClassVar[str] = "the playbook chosen is the expected one (or none)"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        expected = run.expect.playbook
        if not run.targets:
            return Check.verdict(self.name, False, _no_denial(run))
        wrong = [d for d in run.targets if d.playbook != expected]
        detail = "; ".join(f"expected {expected or 'none'}, got {d.playbook or 'none'}"
                           for d in wrong[:2])
        return Check.verdict(self.name, not wrong, detail)


class EvidenceRecall:
    """The required facts are cited: a quote of that fact holding the expected text, in
    the evidence and, when the case expects an appeal, in the letter."""

    name: ClassVar[str] = "evidence_recall"
    description: ClassVar[str] = "required facts cited (fact id + part of the quote)"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        wanted = run.expect.cited_facts
        if not wanted:
            return None
        letters = [normalise(t) for t in run.letters_of(run.targets).values()]
        in_letter = run.expect.action == "appeal"
        problems = []
        for item in wanted:
            needle = normalise(item.quote_contains)
            quotes = [normalise(e.quote) for d in run.targets for e in d.evidence
                      if e.fact == item.fact and needle in normalise(e.quote)]
            if not quotes:
                problems.append(f"{item.fact} '{item.quote_contains}' not in the evidence")
            elif in_letter and not any(q in text for q in quotes for text in letters):
                problems.append(f"{item.fact} '{item.quote_contains}' not cited in a letter")
        return Check.ratio(self.name, len(wanted) - len(problems), len(wanted), problems)


class CitationValidity:
    """Every quote is verbatim at its span in a document of the claim's own chart (or is
    the structured fact's own text), and every quote a letter prints is one of them."""

    name: ClassVar[str] = "citation_validity"
    description: ClassVar[str] = "every quote verbatim at its span, in the claim's chart"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.manifest is None:
            return Check.verdict(self.name, False, run.error or "no manifest")
        total, problems = 0, []
        for denial in run.manifest.denials:
            for evidence in denial.evidence:
                total += 1
                problem = self._quote_problem(run, denial, evidence.document_id,
                                              evidence.quote, evidence.start, evidence.end)
                if problem:
                    problems.append(problem)
        for letter_id, text in run.letters.items():
            cited = [e for d in run.manifest.denials if d.letter.id == letter_id
                     for e in d.evidence]
            for item in quoted_items(text):
                total += 1
                if not any(e.quote == item.quote and e.document_id in item.source
                           and (e.start is None or f"characters {e.start}-{e.end}"
                                in item.source) for e in cited):
                    problems.append(f"letter quote {item.number} is not an evidence quote "
                                    "at its stated source")
        if total == 0:
            return None
        return Check.ratio(self.name, total - len(problems), total, problems)

    @staticmethod
    def _quote_problem(run: CaseRun, denial: MDenial, document_id: str, quote: str,
                       start: int | None, end: int | None) -> str | None:
        chart = run.charts.get(denial.denial_id)
        if start is None or end is None:
            facts = {f.resource_id: f.quote for f in chart.facts} if chart else {}
            return None if facts.get(document_id) == quote else \
                f"{document_id}: not the structured fact's own text (or not this patient's)"
        if chart is None or document_id not in {d.document_id for d in chart.documents}:
            return f"{document_id}: not a document of this claim's chart"
        text = run.sources.get(document_id)
        if text is None or text[start:end] != quote:
            return f"{document_id}: the quote is not the text at {start}-{end}"
        return None


class LetterComplete:
    """Each letter of the case shows the required elements and the extra text asked for."""

    name: ClassVar[str] = "letter_complete"
    description: ClassVar[str] = "required letter elements present"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        elements = run.expect.elements
        extra = run.expect.letter_contains
        if not elements and not extra:
            return None
        letters = run.letters_of(run.targets)
        wanted = len(elements) + len(extra)
        if not letters:
            return Check.ratio(self.name, 0, wanted, ["no letter was drafted"])
        hits, problems = 0, []
        for letter_id, text in letters.items():
            denials = _denials_of(run, letter_id)
            playbook = env.playbooks.get(_playbook_of(run, letter_id))
            for element in elements:
                missing = ELEMENTS[element](text, denials, playbook, env.config.letter)
                hits += missing is None
                if missing:
                    problems.append(f"{element}: {missing}")
            for needle in extra:
                found = normalise(needle) in normalise(text)
                hits += found
                if not found:
                    problems.append(f"letter_contains '{needle}' not in the letter")
        return Check.ratio(self.name, hits, wanted * len(letters), problems)


class NoFabrication:
    """Every number, date and code in a letter is traceable to what the letter was
    written from (evals/fabrication.py says what counts)."""

    name: ClassVar[str] = "no_fabrication"
    description: ClassVar[str] = "every number, date and code in a letter is traceable"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if not run.letters:
            return None
        problems = []
        for letter_id, text in run.letters.items():
            unknown = provenance(run, env, letter_id).untraceable(text)
            if unknown:
                problems.append("not traceable: " + ", ".join(unknown[:8]))
        return Check.ratio(self.name, len(run.letters) - len(problems), len(run.letters),
                           problems)


class NoLetterWhenNotAppealable:
    """A denial the case says not to appeal gets no letter."""

    name: ClassVar[str] = "no_letter_when_not_appealable"
    description: ClassVar[str] = "no letter drafted for a denial not to appeal"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.expect.action == "appeal":
            return None
        drafted = run.letters_of(run.targets)
        return Check.verdict(self.name, not drafted,
                             f"{len(drafted)} letter(s) drafted for a {run.expect.action} "
                             "denial")


class NoForbiddenContent:
    """No letter of the case contains what it must not (an invented diagnosis, another
    patient's data, an injected instruction's payload)."""

    name: ClassVar[str] = "no_forbidden_content"
    description: ClassVar[str] = "no letter contains the case's must_not_contain text"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        forbidden = run.expect.must_not_contain
        if not forbidden:
            return None
        if run.error:
            return Check.verdict(self.name, False, run.error)
        texts = [normalise(t) for t in run.letters.values()]
        found = [f for f in forbidden if any(normalise(f) in t for t in texts)]
        return Check.ratio(self.name, len(forbidden) - len(found), len(forbidden),
                           [f"letter contains '{f}'" for f in found])


EVALUATORS: tuple[Evaluator, ...] = (
    ActionCorrect(), PlaybookCorrect(), EvidenceRecall(), CitationValidity(),
    LetterComplete(), NoFabrication(), NoLetterWhenNotAppealable(), NoForbiddenContent())
"""Every evaluator, in the order the scorecard shows them."""


def evaluate(run: CaseRun, env: Environment,
             evaluators: Sequence[Evaluator] = EVALUATORS) -> list[Check]:
    """Every applicable check of a case. A run that failed fails every evaluator that
    applies to the case's expectations."""
    checks = []
    for evaluator in evaluators:
        check = evaluator.evaluate(run, env)
        if check is not None and run.error and check.passed:
            check = Check.verdict(evaluator.name, False, run.error)
        if check is not None:
            checks.append(check)
    return checks


def provenance(run: CaseRun, env: Environment, letter_id: str) -> Provenance:
    """Everything the letter ``letter_id`` may state (evals/fabrication.py)."""
    allowed = Provenance()
    members = [d for d in (run.manifest.denials if run.manifest else [])
               if d.letter.id == letter_id]
    denials = _denials_of(run, letter_id)
    allowed.add([d.model_dump(exclude={"source"}) for d in denials])
    allowed.add([d.procedure.display for d in denials if d.procedure])
    allowed.add([d.patient.name for d in denials])
    allowed.add(sum((d.denied_amount for d in denials), start=denials[0].denied_amount * 0)
                if denials else None)
    allowed.add(run.loaded.today)
    for member in members:
        allowed.add(member.triage.appeal_deadline)
        for number, evidence in enumerate(member.evidence, start=1):
            allowed.add(evidence)
            allowed.add(number)
            allowed.add(f"{evidence.start}-{evidence.end}")
        chart = run.charts.get(member.denial_id)
        if chart is not None:
            allowed.add(chart.patient)
            cited = {e.document_id for e in member.evidence}
            allowed.add([(d.title, d.date) for d in chart.documents if d.document_id in cited])
            allowed.add([f.display for f in chart.facts if f.resource_type == "Condition"])
    for number in range(1, sum(len(m.evidence) for m in members) + 1):
        allowed.add(number)
    playbook_id = _playbook_of(run, letter_id)
    playbook = env.playbooks.get(playbook_id)
    allowed.add([playbook.title, playbook.request, playbook.citations, playbook.attachments])
    allowed.add(env.config.letter)
    for denial in denials:
        allowed.add([env.codes.carc(a.reason).description for a in denial.adjustments])
        allowed.add([env.codes.rarc(r).description for r in denial.remarks])
        allowed.add(_ncci_edits(env, denial))
    allowed.add_text(template_text())
    return allowed


def _ncci_edits(env: Environment, denial: Denial) -> list[object]:
    if denial.service_date is None:
        return []
    codes = list(dict.fromkeys(denial.claim_procedure_codes))
    if denial.procedure is not None:
        codes.append(denial.procedure.submitted_code)
    edits: list[object] = []
    for first in codes:
        for second in codes:
            edit = env.ncci.edit_for(first, second, denial.service_date) \
                if first != second else None
            if edit is not None:
                edits.append([edit.column_1, edit.column_2, edit.modifier_indicator,
                              edit.rationale])
    return edits


def _denials_of(run: CaseRun, letter_id: str) -> list[Denial]:
    ids = [d.denial_id for d in (run.manifest.denials if run.manifest else [])
           if d.letter.id == letter_id]
    return [run.denials[i] for i in ids if i in run.denials]


def _playbook_of(run: CaseRun, letter_id: str) -> str:
    for denial in run.manifest.denials if run.manifest else []:
        if denial.letter.id == letter_id and denial.playbook:
            return denial.playbook
    raise KeyError(f"letter {letter_id} has no playbook")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
