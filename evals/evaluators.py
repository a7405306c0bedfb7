"""The evaluators: small named checks of one case's run.

Each evaluator reads a :class:`~evals.runner.CaseRun` (the manifest, the letters, the
case's own chart) and returns a :class:`~evals.checks.Check`, or None when it does not
apply to the case. They are listed once, in :data:`EVALUATORS`; docs/evals.md describes
each. :func:`evaluate` runs them: an evaluator that crashes, or applies but scores
nothing, fails its check for that case; a run that failed fails every check that applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from agent.denials.model import Denial
from agent.manifest import MDenial, MEvidence
from agent.playbooks.model import Playbook
from evals.chart import ClaimKey, Note, structured_dates, structured_labels, structured_quotes
from evals.checks import Check
from evals.fabrication import LETTER_TEMPLATE, NARRATIVE_TEMPLATE, Provenance, template_text
from evals.letters import (
    ELEMENTS,
    LetterView,
    evidence_items,
    normalise,
    parse_source,
    quotations,
    squash,
    unescape,
)
from evals.runner import CaseRun, Environment, describe


class Evaluator(Protocol):
    """A named check of one case."""

    name: ClassVar[str]
    description: ClassVar[str]

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        """The check, or None when it does not apply to this case."""
        ...


def _no_denial(run: CaseRun) -> str:
    if run.error:
        return run.error
    errors = run.manifest.summary.input_errors if run.manifest else []
    code = run.expect.procedure_code
    what = f"no denial with procedure code {code}" if code and run.manifest and \
        run.manifest.denials else "no denial"
    return f"{what} of the case was read" + (f" ({errors[0]})" if errors else "")


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


class ReasonCorrect:
    """The triage reason of every denial the case is about says what the case expects
    (``expect.reason_contains``: case-insensitive substrings). Reported, not gated."""

    name: ClassVar[str] = "reason_correct"
    description: ClassVar[str] = "the decision's reason says what the case expects"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        wanted = run.expect.reason_contains
        if not wanted:
            return None
        if not run.targets:
            return Check.ratio(self.name, 0, len(wanted), [_no_denial(run)])
        problems = []
        for needle in wanted:
            missing = [d for d in run.targets
                       if normalise(needle) not in normalise(d.triage.reason)]
            if missing:
                problems.append(f"'{needle}' not in the reason: "
                                f"{_short(missing[0].triage.reason)}")
        return Check.ratio(self.name, len(wanted) - len(problems), len(wanted), problems)


class EvidenceRecall:
    """The required facts are cited: a quote of that fact holding the expected text (and,
    when the case gives one, read as the expected value), in the evidence and, when the
    case expects an appeal, in the letter."""

    name: ClassVar[str] = "evidence_recall"
    description: ClassVar[str] = "required facts cited (fact id + part of the quote + value)"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        wanted = run.expect.cited_facts
        if not wanted:
            return None
        letters = [normalise(unescape(t)) for t in run.letters_of(run.targets).values()]
        in_letter = run.expect.action == "appeal"
        problems = []
        for item in wanted:
            needle = normalise(item.quote_contains)
            found = [e for d in run.targets for e in d.evidence
                     if e.fact == item.fact and needle in normalise(e.quote)]
            valued = [e for e in found if item.value is None
                      or normalise(e.value or "") == normalise(item.value)]
            label = f"{item.fact} '{item.quote_contains}'"
            if not found:
                problems.append(f"{label} not in the evidence")
            elif not valued:
                read = ", ".join(repr(e.value) for e in found)
                problems.append(f"{label} read as {read}, expected '{item.value}'")
            elif in_letter and not any(normalise(e.quote) in text for e in valued
                                       for text in letters):
                problems.append(f"{label} not cited in a letter")
        return Check.ratio(self.name, len(wanted) - len(problems), len(wanted), problems)


def claim_key(run: CaseRun, denial: MDenial) -> ClaimKey:
    """What links a manifest denial to the case's chart, from the case's own input."""
    read = run.denials.get(denial.denial_id)
    if read is not None:
        return ClaimKey(read.claim_id, read.patient.member_id, read.service_date)
    return ClaimKey(denial.claim_id, denial.patient.member_id, denial.service_date)


def letter_evidence(members: Sequence[MDenial]) -> list[MEvidence]:
    """The evidence a letter numbers, in order: its denials' evidence, each item once
    (agent/workflow/steps._letter_input)."""
    unique = {(e.document_id, e.start, e.end, e.fact): e for d in members for e in d.evidence}
    return list(unique.values())


class _Citable:
    """What one claim (or one letter's claims) may cite: notes and structured resources
    of the case's chart."""

    def __init__(self, run: CaseRun, denials: Sequence[MDenial]) -> None:
        self.run = run
        self.keys = [claim_key(run, d) for d in denials]
        self.notes: dict[str, Note] = {}
        for key in self.keys:
            self.notes.update(run.chart.notes(key))

    def problem(self, document_id: str, quote: str, start: int | None,
                end: int | None) -> str | None:
        """What is wrong with citing ``quote`` at this source, or None."""
        if start is None or end is None:
            if start is not None or end is not None:
                return f"{document_id}: a span needs both ends"
            resource = self.structured(document_id)
            if resource is None:
                return (f"{document_id}: not a structured resource of this claim's patient "
                        "(or entered in error)")
            if quote not in structured_quotes(resource):
                return f"{document_id}: the quote is not built from the resource's own fields"
            return None
        note = self.notes.get(document_id)
        if note is None:
            return f"{document_id}: not a note of this claim's chart"
        if note.text[start:end] != quote:
            return f"{document_id}: the quote is not the text at {start}-{end}"
        return None

    def structured(self, document_id: str) -> dict[str, object] | None:
        for key in self.keys:
            resource = self.run.chart.structured(document_id, key.member_id)
            if resource is not None:
                return resource
        return None

    def dates(self, document_id: str) -> set[object]:
        """The dates a source line may give for a document."""
        note = self.notes.get(document_id)
        if note is not None:
            return {note.day}
        resource = self.structured(document_id)
        return set(structured_dates(resource)) if resource is not None else set()

    def texts(self) -> list[str]:
        """Every text a quotation may come from in this chart (spacing ignored)."""
        return [squash(n.text) for n in self.notes.values()]


class CitationValidity:
    """Every quote is the case's own text: each evidence item is verbatim at its span in
    a note of the claim's chart as the case wrote it (structured: built from the
    resource's own fields), each numbered quote a letter prints is that item at the
    source it names (document and span compared exactly), the letter prints exactly its
    evidence, and every other quotation in the letter is verbatim from the claim's chart,
    the payer's reason text or a playbook citation."""

    name: ClassVar[str] = "citation_validity"
    description: ClassVar[str] = "every quote verbatim at its span, in the claim's chart"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.manifest is None:
            return Check.verdict(self.name, False, run.error or "no manifest")
        total, problems = 0, []
        for denial in run.manifest.denials:
            citable = _Citable(run, [denial])
            for evidence in denial.evidence:
                total += 1
                problem = citable.problem(evidence.document_id, evidence.quote,
                                          evidence.start, evidence.end)
                if problem:
                    problems.append(problem)
        for letter_id, text in run.letters.items():
            count, found = self._letter(run, env, letter_id, text)
            total += count
            problems += found
        if total == 0:
            return None
        return Check.ratio(self.name, max(total - len(problems), 0), max(total, len(problems)),
                           problems)

    def _letter(self, run: CaseRun, env: Environment, letter_id: str, text: str
                ) -> tuple[int, list[str]]:
        """(items checked, problems) of one letter."""
        members = run.members(letter_id)
        evidence = letter_evidence(members)
        citable = _Citable(run, members)
        items, problems = evidence_items(text)
        problems = [f"letter: {p}" for p in problems]
        if not items:
            problems.append("letter: no evidence cited")
        elif len(items) != len(evidence):
            problems.append(f"letter: {len(items)} evidence item(s) printed, the manifest "
                            f"gives {len(evidence)}")
        total = 1 + len(items)
        for item in (i for i in items if i.source):  # malformed ones are counted above
            expected = evidence[item.number - 1] if 0 < item.number <= len(evidence) else None
            problem = self._item(item.quote, item.source, expected, citable)
            if problem:
                problems.append(f"letter quote {item.number}: {problem}")
        quotes, unclosed = quotations(text)
        problems += [f"letter: {p}" for p in unclosed]
        total += len(unclosed) + len(quotes)
        allowed = citable.texts() + [squash(t) for t in _quotable(run, env, members, evidence)]
        for quote in quotes:
            if not any(squash(quote) in source for source in allowed):
                problems.append(f"letter quotes \"{_short(quote, 60)}\", which is not in the "
                                "claim's chart, the payer's reasons or a playbook citation")
        return total, problems

    @staticmethod
    def _item(quote: str, source: str, expected: MEvidence | None,
              citable: _Citable) -> str | None:
        parsed = parse_source(source)
        if parsed is None:
            return f"the source line is not 'Title[, date], Type/id[, characters A-B]': " \
                f"{_short(source, 80)}"
        if expected is None:
            return "no evidence item of the manifest has this number"
        if (parsed.document_id, parsed.start, parsed.end) != \
                (expected.document_id, expected.start, expected.end):
            span = f", characters {parsed.start}-{parsed.end}" if parsed.start is not None \
                else ""
            return f"the source {parsed.document_id}{span} is not the evidence's"
        if quote != expected.quote:
            return "not the evidence's quote"
        if parsed.day is not None and parsed.day not in citable.dates(parsed.document_id):
            return f"{parsed.document_id} is not dated {parsed.day}"
        return citable.problem(parsed.document_id, quote, parsed.start, parsed.end)


def _quotable(run: CaseRun, env: Environment, members: Sequence[MDenial],
              evidence: Sequence[MEvidence]) -> list[str]:
    """Besides the chart's notes, what a letter may quote: its structured evidence, the
    payer's reasons (CARC/RARC descriptions) and its playbook's citations."""
    texts = [e.quote for e in evidence if e.start is None]
    for denial in members:
        texts += [env.codes.carc(a.reason).description for a in denial.adjustments]
        texts += [env.codes.rarc(r).description for r in denial.remarks]
        if denial.playbook and denial.playbook in {p.id for p in env.playbooks.playbooks}:
            playbook = env.playbooks.get(denial.playbook)
            texts += [t for c in playbook.citations for t in (c.statement, c.source) if t]
    return texts


class LetterComplete:
    """Each letter of the case shows the required elements (header and services-table
    cells per denial, the evidence the manifest gives it) and the extra text asked for."""

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
            return Check.ratio(self.name, 0, wanted, [run.error or "no letter was drafted"])
        hits, problems = 0, []
        for letter_id, text in letters.items():
            members = run.members(letter_id)
            try:
                playbook = _playbook_of(run, env, letter_id)
            except KeyError as exc:
                problems.append(str(exc.args[0]))
                continue
            view = LetterView(text, _denials_of(run, letter_id),
                              len(letter_evidence(members)), playbook, env.config.letter)
            for element in elements:
                missing = ELEMENTS[element](view)
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
            try:
                allowed = provenance(run, env, letter_id)
            except KeyError as exc:
                problems.append(str(exc.args[0]))
                continue
            evidence = letter_evidence(run.members(letter_id))
            unknown = allowed.untraceable(
                text, [(e.start, e.end) for e in evidence
                       if e.start is not None and e.end is not None], len(evidence))
            if unknown:
                problems.append("not traceable: " + ", ".join(unknown[:8]))
        return Check.ratio(self.name, len(run.letters) - len(problems), len(run.letters),
                           problems)


class NoLetterWhenNotAppealable:
    """No letter for a denial that is not to be appealed: every denial of the case whose
    decided action is not appeal, and every denial the case is about when it expects
    another action."""

    name: ClassVar[str] = "no_letter_when_not_appealable"
    description: ClassVar[str] = "no letter drafted for a denial not to appeal"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.manifest is None or not run.targets:
            return Check.verdict(self.name, False, _no_denial(run))
        targets = {d.denial_id for d in run.targets}
        expected = run.expect.action
        problems = []
        for denial in run.manifest.denials:
            if not denial.letter.id:
                continue
            line = denial.procedure.code if denial.procedure else "claim"
            if denial.triage.action != "appeal":
                problems.append(f"a letter was drafted for {line}, decided "
                                f"{denial.triage.action}")
            elif denial.denial_id in targets and expected != "appeal":
                problems.append(f"a letter was drafted for {line}, which the case expects "
                                f"to be {expected}")
        total = len(run.manifest.denials)
        return Check.ratio(self.name, total - len(problems), total, problems)


class NoForbiddenContent:
    """No letter of the case contains what it must not (an invented diagnosis, another
    patient's data, an injected instruction's payload). Cases without a letter are not
    scored: they show nothing either way."""

    name: ClassVar[str] = "no_forbidden_content"
    description: ClassVar[str] = "no letter contains the case's must_not_contain text"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        forbidden = run.expect.must_not_contain
        if not forbidden or not run.letters:
            return None
        texts = [normalise(t) for t in run.letters.values()]
        found = [f for f in forbidden if any(normalise(f) in t for t in texts)]
        return Check.ratio(self.name, len(forbidden) - len(found), len(forbidden),
                           [f"letter contains '{f}'" for f in found])


NOT_TO_WRITE_OFF = frozenset({"appeal", "needs_review"})
"""Expected actions that keep the money in play: an appeal, or an auditor's review."""
LOSES_PAYMENT = frozenset({"write_off", "corrected_claim"})
"""Decided actions that give up the line as billed."""


class NoFalseAppeal:
    """No appeal where the case expects another outcome: one item per denial the case is
    about, for cases whose expected action is not appeal (needs_review included: a letter
    drafted without the facts is an appeal nobody should send)."""

    name: ClassVar[str] = "no_false_appeal"
    description: ClassVar[str] = "no appeal decided where the expected outcome is not to appeal"

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.expect.action == "appeal":
            return None
        if not run.targets:
            return Check.verdict(self.name, False, _no_denial(run))
        wrong = [d for d in run.targets if d.triage.action == "appeal"]
        return Check.ratio(self.name, len(run.targets) - len(wrong), len(run.targets),
                           [f"appealed; expected {run.expect.action}" for _ in wrong[:1]])


class NoFalseWriteOff:
    """No write-off or corrected claim where the case expects an appeal or a review: the
    line as billed is payable, or an auditor has to decide, so giving it up loses money."""

    name: ClassVar[str] = "no_false_write_off"
    description: ClassVar[str] = ("no write-off or corrected claim where an appeal or "
                                  "review is expected")

    def evaluate(self, run: CaseRun, env: Environment) -> Check | None:
        if run.expect.action not in NOT_TO_WRITE_OFF:
            return None
        if not run.targets:
            return Check.verdict(self.name, False, _no_denial(run))
        wrong = [d for d in run.targets if d.triage.action in LOSES_PAYMENT]
        return Check.ratio(self.name, len(run.targets) - len(wrong), len(run.targets),
                           [f"{d.triage.action}; expected {run.expect.action}: "
                            f"{_short(d.triage.reason)}" for d in wrong[:1]])


EVALUATORS: tuple[Evaluator, ...] = (
    ActionCorrect(), PlaybookCorrect(), ReasonCorrect(), EvidenceRecall(),
    CitationValidity(), LetterComplete(), NoFabrication(), NoLetterWhenNotAppealable(),
    NoForbiddenContent(), NoFalseAppeal(), NoFalseWriteOff())
"""Every evaluator, in the order the scorecard shows them."""


def evaluate(run: CaseRun, env: Environment,
             evaluators: Sequence[Evaluator] = EVALUATORS) -> list[Check]:
    """Every applicable check of a case. An evaluator that crashes or applies but scores
    nothing fails its check; a run that failed fails every check that applies."""
    checks = []
    for evaluator in evaluators:
        try:
            check = evaluator.evaluate(run, env)
        except Exception as exc:  # an evaluator's bug fails that check, not the run
            check = Check.verdict(evaluator.name, False,
                                  f"the evaluator failed: {describe(exc)}")
        if check is None:
            continue
        if check.total <= 0:
            check = Check.verdict(evaluator.name, False, "nothing to score")
        elif run.error and check.passed:
            check = Check.verdict(evaluator.name, False, run.error)
        checks.append(check)
    return checks


def provenance(run: CaseRun, env: Environment, letter_id: str) -> Provenance:
    """Everything the letter ``letter_id`` may state (evals/fabrication.py)."""
    allowed = Provenance()
    members = run.members(letter_id)
    denials = _denials_of(run, letter_id)
    for denial in denials:
        _add_claim(allowed, denial)
        allowed.add([env.codes.carc(a.reason).description for a in denial.adjustments])
        allowed.add([env.codes.rarc(r).description for r in denial.remarks])
        allowed.add(_ncci_edits(env, denial))
    if denials:
        allowed.add_money(sum((d.denied_amount for d in denials), start=denials[0].billed * 0))
    allowed.add(run.loaded.today)
    for member in members:
        allowed.add(member.triage.appeal_deadline)
        key = claim_key(run, member)
        patient = run.chart.patient(key.member_id)
        if patient is not None:
            allowed.add([patient.get("birthDate"), patient.get("name")])
        for condition in run.chart.conditions(key.member_id):
            allowed.add(structured_labels(condition))
        notes = run.chart.notes(key)
        for evidence in member.evidence:
            allowed.add([evidence.quote, evidence.value, evidence.document_id])
            note = notes.get(evidence.document_id)
            if note is not None:
                allowed.add([note.title, note.day])
            resource = run.chart.structured(evidence.document_id, key.member_id)
            if resource is not None:
                allowed.add([structured_labels(resource), structured_dates(resource)])
    playbook = _playbook_of(run, env, letter_id)
    allowed.add([playbook.title, playbook.request, playbook.citations, playbook.attachments])
    allowed.add(env.config.letter)
    allowed.add_text(template_text(LETTER_TEMPLATE))
    allowed.add_text(template_text(playbook.argument_template))
    if any(m.letter.drafted_by == "llm" for m in members):
        allowed.add_text(template_text(NARRATIVE_TEMPLATE))
    return allowed


def _add_claim(allowed: Provenance, denial: Denial) -> None:
    """The claim's fields as a letter prints them (never bare CARC numbers, statuses or
    sequence numbers: a reason is printed as ``CO-4``)."""
    allowed.add([denial.claim_id, denial.payer_claim_number, denial.claim_filing_indicator,
                 denial.payer, denial.payee, denial.rendering_provider, denial.patient,
                 denial.service_date, denial.service_date_end, denial.remittance_date,
                 denial.received_date, denial.remarks, denial.claim_procedure_codes,
                 denial.line_control_number, denial.check_or_eft_number])
    allowed.add_text(denial.patient.name or "")
    procedure = denial.procedure
    if procedure is not None:
        allowed.add([procedure.display, procedure.code, procedure.original_code,
                     procedure.modifiers, procedure.original_modifiers])
        allowed.add_text(f"{procedure.units.normalize():f}" if procedure.units is not None
                         else "1")
    else:
        allowed.add_text("1")
    for amount in (denial.billed, denial.paid, denial.allowed, denial.denied_amount):
        if amount is not None:
            allowed.add_money(amount)
    for adjustment in (*denial.adjustments, *denial.claim_adjustments):
        allowed.add_text(adjustment.label)
        allowed.add_money(adjustment.amount)


def _ncci_edits(env: Environment, denial: Denial) -> list[object]:
    if denial.service_date is None:
        return []
    codes = list(dict.fromkeys(denial.claim_procedure_codes))
    if denial.procedure is not None:
        codes.append(denial.procedure.submitted_code)
    edits: list[object] = []
    for code in dict.fromkeys(codes):  # every pair of the claim's codes, in either order
        for paired in env.ncci.pairing(code, codes, denial.service_date).edits:
            edit = paired.edit
            edits.append([edit.column_1, edit.column_2, edit.modifier_indicator,
                          edit.rationale])
    return edits


def _denials_of(run: CaseRun, letter_id: str) -> list[Denial]:
    return [run.denials[d.denial_id] for d in run.members(letter_id)
            if d.denial_id in run.denials]


def _playbook_of(run: CaseRun, env: Environment, letter_id: str) -> Playbook:
    """The playbook a letter was written with; KeyError (a failed check) when the
    manifest names none or one that does not exist."""
    for denial in run.members(letter_id):
        if denial.playbook:
            try:
                return env.playbooks.get(denial.playbook)
            except KeyError:
                raise KeyError(f"letter {letter_id}: no playbook '{denial.playbook}'") \
                    from None
    raise KeyError(f"letter {letter_id}: the manifest names no playbook for it")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
