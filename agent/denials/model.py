"""The ``Denial``: one denied service line (or claim) as the rest of the system sees it.

Whether it came from an 835 or from a practice's CSV/JSON queue, a denial carries the
same facts: who paid (or didn't), for whom, for what, how much, and the reasons as the
payer stated them. Triage, playbooks, letters and the manifest all read this model.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Decimal


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PayerRef(_Model):
    """The payer that issued the denial."""

    name: str | None = Field(None, description="N1*PR name, e.g. 'UNITED HEALTHCARE'.")
    id: str | None = Field(None, description="Payer id (N104, or REF*2U).")


class PatientRef(_Model):
    """The patient as the payer knows them."""

    member_id: str | None = Field(None, description="NM1*QC (else NM1*IL) NM109 member id.")
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    date_of_birth: date | None = Field(None, description="Not in an 835; from a queue or "
                                       "the chart.")

    @property
    def name(self) -> str | None:
        """``LAST, FIRST M`` as a biller writes it."""
        if not self.last_name:
            return self.first_name
        rest = " ".join(x for x in (self.first_name, self.middle_name) if x)
        return f"{self.last_name}, {rest}" if rest else self.last_name


class ProviderRef(_Model):
    """The rendering provider (NM1*82) or the payee."""

    name: str | None = None
    npi: str | None = Field(None, description="National Provider Identifier (NM108 = XX).")
    id: str | None = Field(None, description="Another identifier when no NPI was sent.")


class ProcedureRef(_Model):
    """The procedure of the denied line: what the payer adjudicated and what was billed."""

    qualifier: str = Field("HC", description="HC = CPT/HCPCS, AD = ADA dental, NU = revenue...")
    code: str = Field(description="The code the payer adjudicated (SVC01).")
    modifiers: tuple[str, ...] = ()
    units: Decimal | None = Field(None, description="Units paid (SVC05), else billed.")
    original_code: str | None = Field(None, description="The code submitted (SVC06) when "
                                      "the payer changed it, e.g. 90837 paid as 90834.")
    original_modifiers: tuple[str, ...] = ()
    original_units: Decimal | None = None

    @property
    def submitted_code(self) -> str:
        """The code as billed: playbooks and work queues use this one."""
        return self.original_code or self.code

    @property
    def submitted_modifiers(self) -> tuple[str, ...]:
        """The modifiers as billed."""
        return self.original_modifiers if self.original_code else self.modifiers

    @property
    def display(self) -> str:
        """``90834 (billed 90837)`` or ``29877-59-RT``."""
        adjudicated = "-".join((self.code, *self.modifiers))
        if self.original_code:
            billed = "-".join((self.original_code, *self.original_modifiers))
            return f"{adjudicated} (billed {billed})"
        return adjudicated


class AdjustmentRef(_Model):
    """One adjustment reason as the payer stated it (CAS group + CARC + amount)."""

    group: str = Field(description="CO, PR, OA, PI or CR.")
    reason: str = Field(description="The CARC, e.g. '50'.")
    amount: Money
    quantity: Decimal | None = None

    @property
    def label(self) -> str:
        """``CO-50``."""
        return f"{self.group}-{self.reason}"


class DenialSource(_Model):
    """Where the denial was read from, so an auditor can open the original."""

    kind: Literal["835", "queue"]
    file: str
    segment: int | None = Field(None, description="835: segment number of the SVC or CLP.")
    row: int | None = Field(None, description="Queue: 1-based data row.")
    transaction_control_number: str | None = Field(None, description="835: ST02.")


class Denial(_Model):
    """One denied service line (or a claim denied with no service lines)."""

    denial_id: str = Field(description="Stable id: the same denial read twice gets the same "
                           "id, whatever file it came from.")
    level: Literal["line", "claim"] = Field(description="'claim' only when the payer sent no "
                                            "service lines.")
    claim_id: str = Field(description="CLP01: the practice's patient control number.")
    payer_claim_number: str | None = Field(None, description="CLP07: the payer's claim "
                                           "control number (ICN) to quote in an appeal.")
    claim_status: str | None = Field(None, description="CLP02: 1/2/3 processed, 4 denied...")
    claim_filing_indicator: str | None = Field(None, description="CLP06: MB Medicare Part "
                                               "B, MC Medicaid, CI commercial...")
    claim_frequency: str | None = Field(None, description="CLP09: 1 original, 7 replacement.")
    payer: PayerRef
    payee: ProviderRef | None = None
    patient: PatientRef
    rendering_provider: ProviderRef | None = None
    service_date: date | None = None
    service_date_end: date | None = None
    procedure: ProcedureRef | None = Field(None, description="None for a claim-level denial.")
    billed: Money = Field(description="Charge of the line (claim charge for claim level).")
    paid: Money
    allowed: Money | None = Field(None, description="AMT*B6 allowed amount, when sent.")
    denied_amount: Money = Field(description="The dollars at stake: charge − paid for a $0 "
                                 "or denied line, else the amount of the denial reasons.")
    adjustments: tuple[AdjustmentRef, ...] = Field(description="The line's (or claim's) CAS.")
    claim_adjustments: tuple[AdjustmentRef, ...] = Field((), description="Claim-level CAS "
                                                         "of a line denial's claim.")
    remarks: tuple[str, ...] = Field((), description="RARC codes: LQ*HE of the line, then "
                                     "MOA/MIA of the claim.")
    claim_procedure_codes: tuple[str, ...] = Field((), description="The submitted "
                                                   "procedure codes of the lines on the "
                                                   "same claim, each once, in line order "
                                                   "(NCCI pairs, same-day work).")
    line_control_number: str | None = Field(None, description="REF*6R.")
    remittance_date: date | None = Field(None, description="DTM*405, else BPR16: appeal "
                                         "deadlines count from it.")
    received_date: date | None = Field(None, description="DTM*050: claim received by payer.")
    check_or_eft_number: str | None = Field(None, description="TRN02.")
    source: DenialSource = Field(description="Where the denial was first read (the input "
                                 "listed first, when several carried it).")
    merged_sources: tuple[DenialSource, ...] = Field(
        (), description="The other inputs that carried this same denial, in the order "
        "read: an 835's line and a worklist's row of it are one denial (see "
        "docs/queue-format.md). Empty when only `source` did.")
    merged_ids: tuple[str, ...] = Field(
        (), description="The ids `merged_sources` give the denial on their own, in the same "
        "order: a store that knows one of them from an earlier run knows this denial.")

    @property
    def reason_labels(self) -> list[str]:
        """``["CO-50", "PR-1"]``: every reason on the denial, line then claim level."""
        return [a.label for a in (*self.adjustments, *self.claim_adjustments)]

    @property
    def sources(self) -> tuple[DenialSource, ...]:
        """Every input that carried the denial: :attr:`source`, then the merged ones."""
        return (self.source, *self.merged_sources)


def denial_id(*parts: object) -> str:
    """A stable id from the facts that identify a denial (not from the file it came in)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts)
                            .encode("utf-8")).hexdigest()
    return f"dn_{digest[:20]}"


# One denial, two sources: an 835's line and a worklist's row of it.

MatchKey = tuple[str, date, str, tuple[str, ...]]
"""Patient control number, date of service, procedure code and its modifiers (sorted)."""


def match_keys(denial: Denial) -> tuple[MatchKey, ...]:
    """The keys under which another source's record of the same service line is found.

    One for the procedure as adjudicated and, when the payer changed the code, one for it
    as billed (a worklist may list either). A claim-level denial, or one without a date of
    service, has none: it never merges.
    """
    procedure = denial.procedure
    if procedure is None or denial.service_date is None:
        return ()
    claim_id, service_date = denial.claim_id.strip(), denial.service_date
    adjudicated = (claim_id, service_date, procedure.code.upper(),
                   tuple(sorted(m.upper() for m in procedure.modifiers)))
    if not procedure.original_code:
        return (adjudicated,)
    billed = (claim_id, service_date, procedure.original_code.upper(),
              tuple(sorted(m.upper() for m in procedure.original_modifiers)))
    return (adjudicated,) if billed == adjudicated else (adjudicated, billed)


def _same_text(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and " ".join(a.upper().split()) == \
        " ".join(b.upper().split())


def same_service_line(a: Denial, b: Denial) -> bool:
    """Whether two denials with a :func:`match_keys` key in common are one service line.

    The payer must be the same (by payer id when both have one, else by name, ignoring
    case and spacing) and so must the line control number when both have one.
    """
    if a.payer.id and b.payer.id:
        if not _same_text(a.payer.id, b.payer.id):
            return False
    elif not _same_text(a.payer.name, b.payer.name):
        return False
    if a.line_control_number and b.line_control_number:
        return _same_text(a.line_control_number, b.line_control_number)
    return True


def _filled(base: _Model, extra: _Model | None) -> dict[str, object]:
    """The fields ``base`` leaves empty that ``extra`` has."""
    if extra is None:
        return {}
    return {name: getattr(extra, name) for name in type(base).model_fields
            if getattr(base, name) is None and getattr(extra, name) is not None}


def merge_denials(remittance: Denial, worklist: Denial, *, worklist_first: bool) -> Denial:
    """One denial from an 835's record of a service line and a worklist's row of it.

    The 835 is the payer's own record: its amounts, codes, reasons, remarks and procedure
    (units too) are kept as they are, even when it leaves one out. Everything else it
    leaves empty is taken from the worklist: the date of birth (never in an 835), names,
    payer id, the payer's claim number, the line control number, dates, the rendering
    provider. The id and :attr:`Denial.source` are those of the input listed first; the
    other goes to :attr:`Denial.merged_sources` and :attr:`Denial.merged_ids`.

    Args:
        remittance: the denial as the 835 gives it.
        worklist: the same line as a worklist (queue) row gives it.
        worklist_first: whether the worklist was listed before the 835.
    """
    update: dict[str, object] = {
        name: getattr(worklist, name)
        for name in ("payer_claim_number", "claim_filing_indicator", "line_control_number",
                     "remittance_date", "received_date")
        if getattr(remittance, name) is None and getattr(worklist, name) is not None}
    update["payer"] = remittance.payer.model_copy(
        update=_filled(remittance.payer, worklist.payer))
    update["patient"] = remittance.patient.model_copy(
        update=_filled(remittance.patient, worklist.patient))
    provider = remittance.rendering_provider
    update["rendering_provider"] = worklist.rendering_provider if provider is None else \
        provider.model_copy(update=_filled(provider, worklist.rendering_provider))
    first, second = (worklist, remittance) if worklist_first else (remittance, worklist)
    update |= {"denial_id": first.denial_id, "source": first.source,
               "merged_sources": (*first.merged_sources, second.source,
                                  *second.merged_sources),
               "merged_ids": (*first.merged_ids, second.denial_id, *second.merged_ids)}
    return remittance.model_copy(update=update)


def disagreements(remittance: Denial, worklist: Denial) -> list[str]:
    """The fields where a worklist row says otherwise than the 835 (which is kept).

    Names only, never values: the list goes into a warning line.
    """
    # The procedure cannot differ: it is what the two were matched on.
    out = [name for name in ("billed", "paid") if getattr(remittance, name) !=
           getattr(worklist, name)]
    if None not in (remittance.allowed, worklist.allowed) and \
            remittance.allowed != worklist.allowed:
        out.append("allowed")
    if {(a.label, a.amount) for a in remittance.adjustments} != \
            {(a.label, a.amount) for a in worklist.adjustments}:
        out.append("adjustments")
    if not set(worklist.remarks) <= set(remittance.remarks):
        out.append("remarks")
    if remittance.payer_claim_number and worklist.payer_claim_number and \
            not _same_text(remittance.payer_claim_number, worklist.payer_claim_number):
        out.append("payer_claim_number")
    if remittance.patient.member_id and worklist.patient.member_id and \
            not _same_text(remittance.patient.member_id, worklist.patient.member_id):
        out.append("member_id")
    return out
