"""Which parts of an 835 claim are denials, and the :class:`Denial` records for them.

The rule (also in docs/835.md):

1. A **reversal** (CLP02 = 22) takes back an earlier payment; it and the **correction**
   that follows it (a claim with the same CLP01 later in the same file) re-state an old
   claim. They are counted in the summary and never produce new denials.
2. Every service line of a **denied claim** (CLP02 = 4) is a denial.
3. Any line with a charge and **$0 paid** is a denial, whatever the reason: a $0 line
   adjusted only PR-1 (deductible) or CO-45 is still a denial record; triage later calls
   it patient responsibility or no action.
4. A **partly paid** line is a denial when its adjustments include a reason other than
   the expected ones (contractual reductions such as CO-45 or CO-253, prior-payer and
   excess-charge adjustments on secondary claims, and patient cost-sharing PR-1/2/3).
   Partly paid lines with only expected reasons are not denials; they appear only in the
   summary.
5. A claim with **no service lines** is judged by the same rules at claim level, on its
   claim-level adjustments.

The expected reasons are configuration (:class:`DenialRules`), not hard-coded policy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
    ProviderRef,
    denial_id,
)
from agent.x12.models import Adjustment, ClaimPayment, Entity, ServiceLine

_ZERO = Decimal(0)

CONTRACTUAL_REDUCTIONS = frozenset({
    "CO-45",   # charge exceeds fee schedule / contracted amount
    "CO-253",  # sequestration
    "CO-42",   # charges exceed fee schedule / maximum allowable
    "CO-A2",   # contractual adjustment (retired, still sent)
    "CO-131",  # claim-specific negotiated discount
    "CO-144",  # incentive adjustment
    "CO-94",   # processed in excess of charges
    "OA-23",   # impact of prior payer(s) adjudication (secondary claims)
    "OA-94",
    "PI-45",
})
"""Adjustments a partly paid line is expected to carry: not a denial on their own."""

PATIENT_COST_SHARE = frozenset({"PR-1", "PR-2", "PR-3"})
"""Deductible, coinsurance and copay."""


@dataclass(frozen=True, slots=True)
class DenialRules:
    """What counts as a denial on a partly paid line (see the module docstring)."""

    expected_adjustments: frozenset[str] = CONTRACTUAL_REDUCTIONS
    patient_cost_share: frozenset[str] = PATIENT_COST_SHARE

    def is_expected(self, adjustment: Adjustment) -> bool:
        """Whether this adjustment alone does not make a partly paid line a denial."""
        return self.is_expected_label(adjustment.label)

    def is_expected_label(self, label: str) -> bool:
        """Like :meth:`is_expected`, for a ``CO-45`` style label."""
        return label in self.expected_adjustments or label in self.patient_cost_share


@dataclass(slots=True)
class ClaimTally:
    """Counts for the ingest summary, kept as claims stream by."""

    claims: int = 0
    service_lines: int = 0
    denials: int = 0
    denied_dollars: Decimal = _ZERO
    partly_paid_lines: int = 0
    """Partly paid lines with only expected adjustments: not denials."""
    reversals: int = 0
    corrections: int = 0
    reversed_claim_ids: set[str] = field(default_factory=set)
    """CLP01 of reversals seen in the current file, to recognise their corrections."""


WHOLE_CLAIM = -1
"""In ``skip``: the claim as a whole (every line, or the claim-level denial)."""


def denials_from_claim(claim: ClaimPayment, rules: DenialRules, tally: ClaimTally,
                       skip: Collection[int] = ()) -> list[Denial]:
    """The denials in one claim (possibly none), updating ``tally``.

    ``skip`` holds the indexes (0-based) of lines that are not new denials whatever they
    say: outcomes of earlier denials (agent/denials/outcomes.py); :data:`WHOLE_CLAIM` skips
    them all.
    """
    tally.claims += 1
    tally.service_lines += len(claim.lines)
    if claim.is_reversal:
        tally.reversals += 1
        tally.reversed_claim_ids.add(claim.patient_control_number)
        return []
    if claim.patient_control_number in tally.reversed_claim_ids:
        tally.reversed_claim_ids.discard(claim.patient_control_number)
        tally.corrections += 1
        return []
    if WHOLE_CLAIM in skip:
        return []
    out: list[Denial] = []
    if claim.lines:
        codes = claim_codes(claim)
        for ordinal, line in enumerate(claim.lines, start=1):
            if skip and ordinal - 1 in skip:
                continue
            amount = _line_denied_amount(claim, line, rules)
            if amount is None:
                if _ZERO < line.paid < line.charge:
                    tally.partly_paid_lines += 1
                continue
            out.append(_line_denial(claim, line, ordinal, amount, codes))
    else:
        amount = _denied_amount(claim.is_denied, claim.charge, claim.paid, claim.adjustments,
                                rules)
        if amount is not None:
            out.append(_claim_denial(claim, amount))
    tally.denials += len(out)
    for denial in out:
        tally.denied_dollars += denial.denied_amount
    return out


def denials_from_claims(claims: Iterable[ClaimPayment], rules: DenialRules | None = None,
                        tally: ClaimTally | None = None) -> Iterator[Denial]:
    """Stream the denials of a stream of claims (one file's worth: reversals pair within)."""
    rules = rules or DenialRules()
    tally = tally if tally is not None else ClaimTally()
    for claim in claims:
        yield from denials_from_claim(claim, rules, tally)


def _line_denied_amount(claim: ClaimPayment, line: ServiceLine, rules: DenialRules
                        ) -> Decimal | None:
    return _denied_amount(claim.is_denied, line.charge, line.paid, line.adjustments, rules)


def _denied_amount(denied_claim: bool, charge: Decimal, paid: Decimal,
                   adjustments: list[Adjustment], rules: DenialRules) -> Decimal | None:
    """The dollars at stake when this is a denial, else None."""
    if denied_claim or (charge > _ZERO and paid == _ZERO):
        return charge - paid
    if paid > _ZERO:
        unexpected = [a for a in adjustments if not rules.is_expected(a) and a.amount > _ZERO]
        if unexpected:
            return sum((a.amount for a in unexpected), _ZERO)
    return None


def adjustment_refs(adjustments: list[Adjustment]) -> tuple[AdjustmentRef, ...]:
    """The reader's adjustments as the denial model's (built without validation: fast)."""
    return tuple(AdjustmentRef.model_construct(group=a.group, reason=a.reason, amount=a.amount,
                                               quantity=a.quantity) for a in adjustments)


def _member_id(claim: ClaimPayment) -> str | None:
    for entity in (claim.patient, claim.subscriber, claim.corrected_patient):
        if entity is not None and entity.identifier:
            return entity.identifier
    return None


def _patient(claim: ClaimPayment) -> PatientRef:
    person: Entity | None = claim.patient or claim.subscriber
    member_id = _member_id(claim)
    if person is None:
        return PatientRef(member_id=member_id)
    return PatientRef(member_id=member_id, last_name=person.last_name,
                      first_name=person.first_name, middle_name=person.middle_name)


def _provider(entity: Entity | None) -> ProviderRef | None:
    if entity is None:
        return None
    is_npi = entity.id_qualifier == "XX"
    return ProviderRef(name=entity.name, npi=entity.identifier if is_npi else None,
                       id=None if is_npi else entity.identifier)


def _common(claim: ClaimPayment, payer: PayerRef, patient: PatientRef,
            remarks: tuple[str, ...]) -> dict[str, Any]:
    """The fields a line denial and a claim denial share."""
    remit = claim.remittance
    payee = remit.payee
    payee_is_npi = payee.id_qualifier == "XX"
    return {
        "claim_id": claim.patient_control_number,
        "payer_claim_number": claim.payer_claim_control_number,
        "claim_status": claim.status,
        "claim_filing_indicator": claim.filing_indicator,
        "claim_frequency": claim.frequency_code,
        "payer": payer,
        "payee": ProviderRef(name=payee.name, npi=payee.identifier if payee_is_npi else None,
                             id=None if payee_is_npi else payee.identifier),
        "patient": patient,
        "rendering_provider": _provider(claim.service_provider),
        "remarks": remarks,
        "remittance_date": remit.remittance_date,
        "received_date": claim.received_date,
        "check_or_eft_number": remit.trace_number,
    }


def _source(claim: ClaimPayment, segment: int) -> DenialSource:
    return DenialSource(kind="835", file=claim.remittance.source, segment=segment,
                        transaction_control_number=claim.remittance.transaction_control_number)


def _payer(claim: ClaimPayment) -> PayerRef:
    return PayerRef(name=claim.remittance.payer.name, id=claim.remittance.payer.best_id)


def claim_codes(claim: ClaimPayment) -> tuple[str, ...]:
    """The submitted procedure codes of the claim's lines, each once, in line order.

    Computed once a claim: a claim of 20,000 lines does not give each line its copy.
    """
    return tuple(dict.fromkeys(x.submitted_procedure.code for x in claim.lines))


def _line_id(payer: str | None, claim: ClaimPayment, member_id: str | None,
             line: ServiceLine, ordinal: int, submitted: str, service_date: date | None
             ) -> str:
    return denial_id("835-line", payer, claim.patient_control_number,
                     claim.payer_claim_control_number, member_id,
                     line.line_control_number or ordinal, submitted, service_date)


def _claim_id(payer: str | None, claim: ClaimPayment, member_id: str | None) -> str:
    return denial_id("835-claim", payer, claim.patient_control_number,
                     claim.payer_claim_control_number, member_id, claim.statement_from)


def _line_denial(claim: ClaimPayment, line: ServiceLine, ordinal: int, amount: Decimal,
                 codes: tuple[str, ...]) -> Denial:
    submitted = line.submitted_procedure
    original = line.original_procedure
    procedure = ProcedureRef(
        qualifier=line.procedure.qualifier, code=line.procedure.code,
        modifiers=line.procedure.modifiers,
        units=line.units_paid if line.units_paid is not None else line.original_units,
        original_code=original.code if original else None,
        original_modifiers=original.modifiers if original else (),
        original_units=line.original_units)
    payer, patient = _payer(claim), _patient(claim)
    line_remarks = tuple(r.code for r in line.remarks)
    remarks = line_remarks + tuple(r.code for r in claim.remarks if r.code not in line_remarks)
    service_date = line.date_of_service or claim.statement_from
    return Denial(
        denial_id=_line_id(payer.id or payer.name, claim, patient.member_id, line, ordinal,
                           submitted.display, service_date),
        level="line", service_date=service_date, service_date_end=line.service_period_end,
        procedure=procedure, billed=line.charge, paid=line.paid, allowed=line.allowed_amount,
        denied_amount=amount, adjustments=adjustment_refs(line.adjustments),
        claim_adjustments=adjustment_refs(claim.adjustments),
        claim_procedure_codes=codes,
        line_control_number=line.line_control_number,
        source=_source(claim, line.segment_number),
        **_common(claim, payer, patient, remarks))


def _claim_denial(claim: ClaimPayment, amount: Decimal) -> Denial:
    payer, patient = _payer(claim), _patient(claim)
    return Denial(
        denial_id=_claim_id(payer.id or payer.name, claim, patient.member_id),
        level="claim", service_date=claim.statement_from, service_date_end=claim.statement_to,
        procedure=None, billed=claim.charge, paid=claim.paid, denied_amount=amount,
        adjustments=adjustment_refs(claim.adjustments),
        source=_source(claim, claim.segment_number),
        **_common(claim, payer, patient, tuple(r.code for r in claim.remarks)))
