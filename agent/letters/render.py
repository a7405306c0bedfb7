"""Drafting a letter: the Jinja base letter around a playbook's argument part.

Templates live in ``templates/`` and render with ``StrictUndefined``: a value missing from
the context is an error, never a blank in a letter sent to a payer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from agent.codes import CodeTable
from agent.config import DEFAULT_DEADLINES, DeadlineRule, LetterSettings
from agent.denials.model import Denial
from agent.ehr.model import PatientRecord
from agent.evidence.model import Evidence
from agent.ncci import PtpEdit, PtpTable, partner_codes
from agent.playbooks.checks import is_medicare
from agent.playbooks.model import Playbook
from agent.resources import resource_dir
from agent.triage.deadlines import deadline_rule


@dataclass(frozen=True, slots=True)
class LetterInput:
    """What one letter is written from: the denied lines of one claim in one group."""

    letter_id: str
    group_id: str
    denials: tuple[Denial, ...]
    playbook: Playbook
    evidence: tuple[Evidence, ...]
    patient: PatientRecord | None
    diagnoses: tuple[str, ...] = ()
    procedures: tuple[tuple[str, str], ...] = ()
    """The chart's own names of the claim's procedures: (code, name) from its Procedure
    resources, for the argument to name a procedure as the chart does."""


@dataclass(frozen=True, slots=True)
class NarrativeParagraph:
    """A paragraph of a model-written argument that passed the guardrails.

    It carries the facts it rests on (the letter numbers their evidence).
    """

    text: str
    facts: tuple[str, ...]


def letter_id_for(group_id: str, denial: Denial) -> str:
    """Stable id of the letter that covers this denial's claim within its group."""
    key = "\x1f".join((group_id, denial.claim_id, denial.payer_claim_number or ""))
    return "lt_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


PAYER_POLICY_SLOT = "auditor to cite the payer's policy: name, number and section"
"""The source a payer-policy citation shows when the payer table names no policy for the
playbook; approval is refused while it is there."""


class LetterRenderer:
    """Renders letters from ``templates/`` with StrictUndefined.

    ``settings`` give the letterhead and signature; ``payers`` is the payer table
    (``AppConfig.deadlines``), whose first match for the claim's payer gives the appeal
    address, fax, portal and level name the letter shows when they are known.
    """

    def __init__(self, settings: LetterSettings, codes: CodeTable,
                 templates: Path | None = None, ncci: PtpTable | None = None,
                 payers: Sequence[DeadlineRule] = DEFAULT_DEADLINES) -> None:
        self.settings = settings
        self.codes = codes
        self.ncci = ncci
        self.payers = tuple(payers)
        self._templates = templates or resource_dir("templates")

    @cached_property
    def env(self) -> jinja2.Environment:
        """The Jinja environment (Markdown output: no HTML autoescaping)."""
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self._templates)),
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
            trim_blocks=True, lstrip_blocks=True)
        env.filters["continued"] = continued
        env.filters["literal"] = literal
        env.filters["refs"] = refs
        env.filters["by_value"] = by_value
        return env

    def render(self, letter: LetterInput, letter_date: date,
               narrative: Sequence[NarrativeParagraph] | None = None) -> str:
        """The Markdown letter.

        The argument is the playbook's template part, or the checked ``narrative`` when
        the model wrote one.
        """
        context = self.context(letter, letter_date)
        if narrative:
            facts = context["facts"]
            context["narrative"] = [
                {"text": " ".join(p.text.split()),
                 "evidence": sorted({n for fact in p.facts for n in facts.get(fact, [])})}
                for p in narrative]
            argument = self.env.get_template("arguments/_narrative.md.j2").render(context)
            context["argument"] = argument.strip()
        else:
            argument = self.env.get_template(letter.playbook.argument_template).render(
                context)
            context["argument"] = " ".join(argument.split())
        return self.env.get_template("letters/appeal.md.j2").render(context)

    def context(self, letter: LetterInput, letter_date: date) -> dict[str, Any]:
        """Everything the templates may use (documented in templates/README.md)."""
        first = letter.denials[0]
        numbers: dict[str, list[int]] = {}
        values: dict[str, list[str]] = {}
        readings: dict[str, list[tuple[int, str | None]]] = {}
        documents: dict[str, dict[str, dict[str, Any]]] = {}
        for index, item in enumerate(letter.evidence, start=1):
            numbers.setdefault(item.fact, []).append(index)
            readings.setdefault(item.fact, []).append((index, item.value))
            documents.setdefault(item.fact, {}).setdefault(item.document_id, {
                "title": item.document_title or "clinical note",
                "date": item.document_date.isoformat() if item.document_date else None,
                "numbers": []})["numbers"].append(index)
            if item.value is not None:
                values.setdefault(item.fact, []).append(item.value)
        patient_name = first.patient.name
        if letter.patient and letter.patient.family_name and not patient_name:
            given = " ".join(letter.patient.given_names)
            patient_name = f"{letter.patient.family_name}, {given}".strip(", ")
        birth = first.patient.date_of_birth or (letter.patient.birth_date if letter.patient
                                                else None)
        rendering = first.rendering_provider
        settings = self.settings
        return {
            "letter_date": letter_date.isoformat(),
            "practice": {
                "name": settings.practice_name, "address_lines": list(settings.address_lines),
                "phone": settings.contact_phone, "fax": settings.fax, "npi": settings.npi,
                "tax_id": settings.tax_id,
            },
            "payer": {"name": first.payer.name or "the payer", "id": first.payer.id},
            "appeal": self._appeal(first),
            "provider": {
                "practice_name": settings.practice_name,
                "npi": first.payee.npi if first.payee else None,
                "rendering_name": rendering.name if rendering else None,
                "rendering_npi": rendering.npi if rendering else None,
            },
            "patient": {"name": patient_name, "member_id": first.patient.member_id or "",
                        "date_of_birth": birth.isoformat() if birth else None},
            "claim": {"claim_id": first.claim_id,
                      "payer_claim_number": first.payer_claim_number,
                      "received_date": first.received_date.isoformat()
                      if first.received_date else None,
                      "service_date": first.service_date.isoformat() if first.service_date
                      else "not given"},
            "diagnoses": list(letter.diagnoses),
            "procedure_names": dict(letter.procedures),
            "lines": [self._line(d) for d in letter.denials],
            "total_denied": _money(sum((d.denied_amount for d in letter.denials),
                                       Decimal(0))),
            "remark_descriptions": self._remarks(letter.denials),
            "service_phrase": _service_phrase(letter.denials),
            "facts": {spec.id: numbers.get(spec.id, []) for spec in letter.playbook.facts},
            "values": {spec.id: values.get(spec.id, []) for spec in letter.playbook.facts},
            "readings": {spec.id: readings.get(spec.id, [])
                         for spec in letter.playbook.facts},
            "documents": {spec.id: list(documents.get(spec.id, {}).values())
                          for spec in letter.playbook.facts},
            "claim_codes": list(first.claim_procedure_codes),
            "ncci": self._ncci(first),
            "filing_indicator": first.claim_filing_indicator,
            "evidence": [{"quote": e.quote, "source": _source(e)} for e in letter.evidence],
            "citations": self._citations(letter.playbook, first),
            "request": letter.playbook.request.strip(),
            "attachments": list(letter.playbook.attachments),
            "contact": {"name": settings.contact_name, "phone": settings.contact_phone,
                        "email": settings.contact_email},
            "signature": {"name": settings.signature_name, "title": settings.signature_title,
                          "credentials": settings.signature_credentials},
        }

    def _citations(self, playbook: Playbook, denial: Denial) -> list[dict[str, str]]:
        """The playbook's citations for this claim, each with the source it is cited by.

        Medicare law only on Medicare claims (``Citation.applies_to``); a payer-policy
        citation takes the payer row's policy for the playbook, else an auditor slot that
        blocks approval until it is filled (agent/letters/unfinished.py).
        """
        rule = deadline_rule(denial, self.payers)
        cited = []
        for citation in playbook.citations_for(is_medicare(denial)):
            source = citation.source
            if citation.kind == "payer_policy":
                source = (rule.policies.get(playbook.id) if rule else None) or \
                    PAYER_POLICY_SLOT
            cited.append({"statement": citation.statement, "source": source or ""})
        return cited

    def _appeal(self, denial: Denial) -> dict[str, Any]:
        """Where this payer takes appeals: the first payer-table row that matches it.

        The same match as the appeal deadline's (:func:`agent.triage.deadlines.
        deadline_rule`); each value is None (an empty address) when the row does not say.
        """
        rule = deadline_rule(denial, self.payers)
        return {"address_lines": list(rule.appeals_address) if rule else [],
                "fax": rule.appeals_fax if rule else None,
                "portal_url": rule.appeals_portal_url if rule else None,
                "level_name": rule.level_name if rule else None}

    def _line(self, denial: Denial) -> dict[str, Any]:
        procedure = denial.procedure
        reasons = [f"{a.label} {self.codes.carc(a.reason).description}"
                   for a in denial.adjustments]
        units = procedure.units if procedure and procedure.units is not None else None
        return {
            "procedure": procedure.display if procedure else "claim",
            "units": f"{units.normalize():f}" if units is not None else "1",
            "billed": _money(denial.billed), "paid": _money(denial.paid),
            "denied": _money(denial.denied_amount), "reasons": reasons,
        }

    def _ncci(self, denial: Denial) -> dict[str, Any]:
        """The NCCI procedure-to-procedure facts for the denied code and the claim's codes.

        The value is ``{code, partners, edit, known}``. ``edit`` is the first edit of
        :attr:`agent.ncci.PtpPairing.edits` (in either column order), None when no active
        edit pairs them; ``known`` says whether the loaded table can vouch for that (a
        subset cannot for codes it was not cut for), so a letter says "no edit" only when
        it is true.
        """
        code = denial.procedure.submitted_code if denial.procedure else ""
        if self.ncci is None:
            partners = partner_codes(code, denial.claim_procedure_codes)
            return {"code": code, "partners": list(partners), "edit": None, "known": False}
        pairing = self.ncci.pairing(code, denial.claim_procedure_codes, denial.service_date)
        edit = _edit_context(pairing.edits[0].edit) if pairing.edits else None
        return {"code": code, "partners": list(pairing.partners), "edit": edit,
                "known": pairing.known}

    def _remarks(self, denials: Sequence[Denial]) -> list[str]:
        codes = dict.fromkeys(code for d in denials for code in d.remarks)
        return [f"{code}: {self.codes.rarc(code).description}" for code in codes]


def _edit_context(edit: PtpEdit) -> dict[str, Any]:
    """An NCCI PTP edit as the templates read it."""
    return {"column_1": edit.column_1, "column_2": edit.column_2,
            "modifier_indicator": edit.modifier_indicator, "rationale": edit.rationale}


_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>&])")
_LINE_START_SPECIAL = re.compile(r"^([ \t]*)([#+\-=>|]|\d+(?=[.)]))", re.MULTILINE)


def literal(text: str) -> str:
    r"""Chart text as Markdown that shows it exactly, never as formatting.

    Every character Markdown could read as markup is backslash-escaped (``*`` ``_`` ``[``
    ``]`` ``<`` ``>`` ``&`` backticks and backslashes anywhere; ``#`` ``-`` ``+`` ``=`` ``>``
    ``|`` and a list number at a line's start), so a note's ``* bullets`` or ``1.`` lines
    are quoted, not turned into a list. Removing the added backslashes gives the text back
    (``evals/letters.py:unescape``).
    """
    escaped = _INLINE_SPECIAL.sub(r"\\\1", text)
    return _LINE_START_SPECIAL.sub(_escape_line_start, escaped)


def _escape_line_start(match: re.Match[str]) -> str:
    lead, mark = match.group(1), match.group(2)
    return f"{lead}{mark}\\" if mark.isdigit() else f"{lead}\\{mark}"


def refs(numbers: Sequence[int]) -> str:
    """Evidence numbers as a letter cites them.

    ``evidence 4``, ``evidence 2 and 3``, ``evidence 1, 3 and 6``; a run of three or more
    consecutive numbers reads ``evidence 1 to 5``.
    """
    ordered = sorted(set(numbers))
    if not ordered:
        return ""
    runs: list[list[int]] = []
    for n in ordered:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{run[0]} to {run[-1]}")
        else:
            parts.extend(str(n) for n in run)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"evidence {listed}"


def by_value(readings: Sequence[tuple[int, str | None]],
             split: str | None = None) -> list[dict[str, Any]]:
    """The evidence numbers of one fact grouped by what each was read as.

    ``readings`` is a fact's ``readings`` list (evidence number, value or None); a value
    that names several things (``"worsening chronic condition, medication change"``)
    counts for each when ``split`` is given; evidence read as nothing groups under ``""``.
    Groups keep the order of first appearance:
    ``[{"value": "new order", "numbers": [2, 3]}, ...]``.
    """
    grouped: dict[str, list[int]] = {}
    for n, value in readings:
        parts = value.split(split) if split and value else [value or ""]
        for part in parts:
            grouped.setdefault(part.strip(), []).append(n)
    return [{"value": value, "numbers": found} for value, found in grouped.items()]


def continued(text: str, indent: int = 3) -> str:
    """A multi-line quote kept inside its Markdown list item.

    Each line break is followed by the item's indentation (the DOCX export turns it back
    into a line break).
    """
    return text.replace("\n", "\n" + " " * indent)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _service_phrase(denials: Sequence[Denial]) -> str:
    codes = [d.procedure.display for d in denials if d.procedure]
    if not codes:
        return "service"
    return "service " + ", ".join(codes) if len(codes) == 1 else "services " + ", ".join(codes)


def _source(evidence: Evidence) -> str:
    parts = [evidence.document_title or "Clinical note"]
    if evidence.document_date:
        parts.append(evidence.document_date.isoformat())
    location = evidence.document_id
    if evidence.start is not None:
        location += f", characters {evidence.start}-{evidence.end}"
    parts.append(location)
    return ", ".join(parts)
