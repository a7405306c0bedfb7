"""The playbook model: ``specialty_playbooks/<id>.yaml`` validated by pydantic.

A playbook says which denials it takes (``match``, from claim data only), which facts the
chart must show (each found by a named extractor), what to do when they are missing, the
argument (a Jinja part in ``templates/``), the guideline citations and the attachments.
Adding a simple playbook needs no Python: docs/adding-a-playbook.md.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.triage.model import Action, RootCause

_RANGE = re.compile(r"^([0-9A-Z]{5})-([0-9A-Z]{5})$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Strict):
    """Which denials the playbook takes.

    Fields are ANDed; values within a field ORed; an empty field matches anything.
    """

    procedure_codes: tuple[str, ...] = Field((), description="Submitted codes or ranges "
                                             "such as '00100-01999'.")
    modifiers: tuple[str, ...] = Field((), description="Any of these on the denied line.")
    carc: tuple[str, ...] = Field((), description="Any of these CARCs on the denial.")
    rarc: tuple[str, ...] = Field((), description="Any of these RARCs on the denial.")
    category: tuple[Literal["clinical", "administrative"], ...] = ()
    ncci_partner_on_claim: bool = Field(False, description="Only when another code on the "
                                        "claim forms an active NCCI procedure-to-procedure "
                                        "edit with the denied code.")

    @field_validator("procedure_codes")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if "-" in item and not _RANGE.match(item):
                raise ValueError(f"'{item}' is not a code range like 00100-01999")
        return value

    def covers_code(self, code: str) -> bool:
        """Whether a submitted procedure code is in ``procedure_codes``."""
        if not self.procedure_codes:
            return True
        for item in self.procedure_codes:
            found = _RANGE.match(item)
            if found and len(code) == 5 and found.group(1) <= code <= found.group(2):
                return True
            if item == code:
                return True
        return False


class FactSpec(_Strict):
    """A fact the chart must show for the appeal, and how to find it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(description="Shown to the auditor when it is missing.")
    extractor: str = Field(description="Name of a registered extractor "
                           "(agent.evidence.extractors).")
    vocabulary: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$", description="Name of "
                                   "the vocabulary file the extractor reads "
                                   "(specialty_playbooks/vocabularies/<name>.yaml): the "
                                   "terms it looks for, kept as data (format: "
                                   "docs/vocabulary.schema.json). Only for extractors that "
                                   "read one; they say which lists it must have.")
    required: bool = True
    llm_proposals: bool = Field(False, description="Whether the model may propose more "
                                "quotes for this fact (each located verbatim and checked). "
                                "Only for descriptive clinical facts, never for facts whose "
                                "proof has a form (an auth number, a filing record, a time).")


class NotAppealRule(_Strict):
    """A reason not to appeal, decided by a named check on the claim and the chart.

    Checks are Python (agent.playbooks.checks); the rule gives the action and the reason
    shown to the auditor. ``{detail}`` in the reason is replaced by the check's finding
    (codes, minutes, classes: never patient data).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    check: str = Field(description="Name of a registered check.")
    action: Action
    root_cause: RootCause
    reason: str
    quotes: tuple[str, ...] = Field((), description=(
        "Facts of this playbook whose quotes are what the check decided on (a stated ASA "
        "class, stated minutes): when the rule fires, those evidence items are marked "
        "`decides`, so the auditor sees the chart's own words behind a write-off or a "
        "corrected claim. Empty for a payer rule that needs no chart."))


class Citation(_Strict):
    """A guideline or policy statement the argument relies on, with its source."""

    statement: str
    source: str


class Playbook(_Strict):
    """One denial type: what it matches, what it needs, how it argues."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    specialty: str = "general"
    order: int = Field(description="Selection order: the lowest matching order wins.")
    match: Match | tuple[Match, ...] = Field(description="A match, or a list of matches of "
                                             "which any may apply.")
    facts: tuple[FactSpec, ...] = Field(min_length=1)
    not_appeal: tuple[NotAppealRule, ...] = Field((), description="Checked in order after "
                                                  "the facts are extracted; the first that "
                                                  "fires decides (documentation that "
                                                  "contradicts the claim, payer rules).")
    missing_action: Action = Field("needs_review", description="What to do when a required "
                                   "fact is missing (the auditor may find it elsewhere).")
    argument_template: str = Field(description="Jinja part under templates/, e.g. "
                                   "'arguments/medical_necessity.md.j2'.")
    request: str = Field(description="The specific request, e.g. 'reprocess and pay'.")
    citations: tuple[Citation, ...] = ()
    attachments: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _quoted_facts_exist(self) -> Playbook:
        known = {fact.id for fact in self.facts}
        for rule in self.not_appeal:
            unknown = sorted(set(rule.quotes) - known)
            if unknown:
                raise ValueError(f"not_appeal rule '{rule.id}' quotes unknown fact(s) "
                                 f"{', '.join(unknown)} (facts: {', '.join(sorted(known))})")
        return self

    @property
    def matches(self) -> tuple[Match, ...]:
        """The match alternatives (one or several)."""
        return self.match if isinstance(self.match, tuple) else (self.match,)

    @property
    def required_facts(self) -> tuple[FactSpec, ...]:
        """The facts without which the playbook does not appeal."""
        return tuple(f for f in self.facts if f.required)


def playbook_json_schema() -> dict[str, object]:
    """The JSON Schema of a playbook file (published as docs/playbook.schema.json)."""
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://denial-appeal-agent.example/schemas/playbook.json"
    return schema
