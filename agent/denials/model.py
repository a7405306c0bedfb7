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
    source: DenialSource

    @property
    def reason_labels(self) -> list[str]:
        """``["CO-50", "PR-1"]``: every reason on the denial, line then claim level."""
        return [a.label for a in (*self.adjustments, *self.claim_adjustments)]


def denial_id(*parts: object) -> str:
    """A stable id from the facts that identify a denial (not from the file it came in)."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts)
                            .encode("utf-8")).hexdigest()
    return f"dn_{digest[:20]}"
