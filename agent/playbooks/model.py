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
_PLACEHOLDER = re.compile(r"\bauditor\b", re.IGNORECASE)
"""A source that speaks to the auditor ("auditor to cite ...") is a placeholder."""


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


CitationKind = Literal["cms_manual", "ncci_policy_manual", "cpt", "cms_mln", "statute",
                       "regulation", "professional_society", "payer_policy"]
"""What kind of primary source a citation names (docs/authorities.md):

- ``cms_manual``: a CMS manual, by chapter and section;
- ``ncci_policy_manual``: the NCCI Policy Manual for Medicare Services, by chapter and
  section;
- ``cpt``: CPT guideline or descriptor text as the AMA publishes it, by edition and codes;
- ``cms_mln``: a CMS MLN article or Change Request, by number;
- ``statute`` and ``regulation``: Medicare law (the Social Security Act, 42 CFR), by
  section; only ever ``applies_to: medicare``;
- ``professional_society``: a society's own published classification (the ASA's);
- ``payer_policy``: the payer's own policy, which the practice names per payer and
  playbook in its configuration; such a citation carries no ``source`` in the YAML.
"""

MEDICARE_ONLY_KINDS: frozenset[str] = frozenset({"statute", "regulation"})
"""Kinds that state Medicare law: they bind Medicare claims only."""

Applicability = Literal["any", "medicare", "non_medicare"]
"""Which claims a citation may be cited on: every claim, Medicare Part A/B claims only,
or every claim except those."""


class Citation(_Strict):
    """A guideline or policy statement the argument relies on, with its primary source.

    Only primary sources are cited, each named with its section (docs/authorities.md):
    never a billing company's or a coding site's summary. A ``payer_policy`` citation is a
    slot: its source is the payer's own policy, named per payer and playbook in the
    practice's configuration, so the YAML gives none. Every other kind names its
    document and section in ``source``. Medicare law (``statute``, ``regulation``) is
    cited on Medicare claims only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={
        # What the validator enforces, for editors that read the schema.
        "allOf": [
            {"if": {"properties": {"kind": {"const": "payer_policy"}}, "required": ["kind"]},
             "then": {"not": {"required": ["source"]}},
             "else": {"required": ["source"], "properties": {"source": {"type": "string"}}}},
            {"if": {"properties": {"kind": {"enum": [k for k in sorted(MEDICARE_ONLY_KINDS)]}},
                    "required": ["kind"]},
             "then": {"required": ["applies_to"],
                      "properties": {"applies_to": {"const": "medicare"}}}},
        ]})

    kind: CitationKind = Field(description="The kind of primary source (docs/"
                               "authorities.md).")
    statement: str = Field(min_length=1, description="What the source says, as the letter "
                           "states it.")
    source: str | None = Field(None, min_length=1, description="The document and its "
                               "section, as docs/domain.md names them. Required for every "
                               "kind except payer_policy, which must have none: the "
                               "practice names the payer's policy in its configuration.")
    applies_to: Applicability = Field("any", description="Which claims it is cited on: "
                                      "'medicare' (Medicare Part A/B only; required for "
                                      "statute and regulation), 'non_medicare' or 'any'.")

    @model_validator(mode="after")
    def _source_fits_kind(self) -> Citation:
        if self.kind == "payer_policy":
            if self.source is not None:
                raise ValueError("a payer_policy citation has no source: the practice "
                                 "names the payer's policy in its configuration")
        elif self.source is None or not self.source.strip():
            raise ValueError(f"a {self.kind} citation needs a source naming the document "
                             "and its section")
        elif _PLACEHOLDER.search(self.source):
            raise ValueError("a source names a document, not a note to the auditor: "
                             f"'{self.source}'")
        if self.kind in MEDICARE_ONLY_KINDS and self.applies_to != "medicare":
            raise ValueError(f"a {self.kind} citation states Medicare law: applies_to must "
                             f"be 'medicare', not '{self.applies_to}'")
        return self

    def applies(self, medicare: bool) -> bool:
        """Whether the citation may be cited on a claim.

        Args:
            medicare: Whether the claim was filed to Medicare Part A/B.

        Returns:
            True for ``any``; otherwise whether the claim is (``medicare``) or is not
            (``non_medicare``) a Medicare claim.
        """
        if self.applies_to == "any":
            return True
        return medicare == (self.applies_to == "medicare")


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

    def citations_for(self, medicare: bool) -> tuple[Citation, ...]:
        """The citations a letter on this claim may carry (Medicare law on Medicare only)."""
        return tuple(c for c in self.citations if c.applies(medicare))

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
