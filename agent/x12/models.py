"""The 835 remittance advice as typed records, named after the X12 segments they come from.

These are slotted dataclasses rather than pydantic models on purpose: the reader builds
millions of them and per-object validation would cost more than the parsing itself. They
are still the public model: pydantic validates and serialises them at the edges through
``TypeAdapter`` (see :mod:`agent.x12.serialize`), and every field is typed.

Money is :class:`~decimal.Decimal` (never float), dates are :class:`~datetime.date`.
Loop and segment names follow the 005010X221A1 implementation guide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(slots=True)
class Adjustment:
    """One CAS triplet: why part of a charge was not paid, and who carries it."""

    group: str
    """CAS01 claim adjustment group code: CO contractual (provider absorbs it), PR patient
    responsibility, OA other, PI payer-initiated reduction, CR correction/reversal."""
    reason: str
    """CAS02/05/08/11/14/17: the Claim Adjustment Reason Code (CARC), e.g. ``50`` not
    medically necessary, ``97`` bundled, ``45`` contractual fee-schedule reduction."""
    amount: Decimal
    """CAS03/06/...: the dollars adjusted for this reason (negative adds money back)."""
    quantity: Decimal | None = None
    """CAS04/07/...: units adjusted, when the payer says (e.g. units denied)."""

    @property
    def label(self) -> str:
        """``CO-50`` style label billers use."""
        return f"{self.group}-{self.reason}"


@dataclass(slots=True)
class Remark:
    """A remittance advice remark code (RARC) or NCPDP reject code that explains a denial."""

    code: str
    """The code itself, e.g. ``N115`` (LCD-based decision) or ``MA130`` (resubmit)."""
    source: str
    """Where it came from: ``HE`` (LQ*HE, line RARC), ``RX`` (LQ*RX, NCPDP reject reason),
    ``MOA`` (outpatient claim remark) or ``MIA`` (inpatient claim remark)."""


@dataclass(frozen=True, slots=True)
class Procedure:
    """A composite procedure identifier (SVC01 or SVC06)."""

    qualifier: str
    """Product/service id qualifier: HC (CPT/HCPCS), AD (ADA dental), ER, IV, N4 (NDC), NU
    (revenue code), WK, ZZ..."""
    code: str
    """The procedure code, e.g. ``90837`` or ``D0120``."""
    modifiers: tuple[str, ...] = ()
    """Up to four procedure modifiers, e.g. ``("59", "RT")``."""
    description: str | None = None
    """SVC01-7 / SVC06-7 free-text description, sent for unlisted or NOC codes."""

    @property
    def display(self) -> str:
        """``29877-59-RT`` style: the code with its modifiers, as on a claim form."""
        return "-".join((self.code, *self.modifiers))


@dataclass(slots=True)
class Reference:
    """A REF segment: an identifier the payer attached (qualifier + value)."""

    qualifier: str
    """REF01, e.g. ``6R`` line item control number, ``1L`` group/policy, ``EA`` medical
    record number, ``1B``/``BD``/``G2`` provider ids."""
    value: str
    """REF02."""


@dataclass(slots=True)
class MonetaryAmount:
    """An AMT segment: a supplemental amount (AMT*AU coverage amount, AMT*B6 allowed, ...)."""

    qualifier: str
    amount: Decimal


@dataclass(slots=True)
class Quantity:
    """A QTY segment: a supplemental quantity (QTY*CA covered days, ...)."""

    qualifier: str
    quantity: Decimal


@dataclass(slots=True)
class Entity:
    """An NM1 (or N1) party: a person or organisation with an identifier.

    In the claim loop: ``QC`` patient, ``IL`` insured/subscriber, ``74`` corrected patient
    or insured name, ``82`` rendering provider, ``TT`` crossover carrier, ``PR`` corrected
    priority payer.
    """

    entity_code: str
    """NM101 (or N101): what role this party plays."""
    last_name: str | None = None
    """NM103: last name, or organisation name when NM102 is 2."""
    first_name: str | None = None
    """NM104."""
    middle_name: str | None = None
    """NM105."""
    is_organization: bool = False
    """NM102 = 2 (non-person entity)."""
    id_qualifier: str | None = None
    """NM108: MI member id, XX NPI, FI tax id, HN HIC number, MR medical record..."""
    identifier: str | None = None
    """NM109: the identifier itself (member id for QC/IL, NPI for 82 when qualifier XX)."""

    @property
    def name(self) -> str | None:
        """The name as a biller writes it: ``LAST, FIRST M`` or the organisation name."""
        if self.is_organization or not self.first_name:
            return self.last_name or None
        parts = [self.first_name] + ([self.middle_name] if self.middle_name else [])
        return f"{self.last_name}, {' '.join(parts)}" if self.last_name else " ".join(parts)


@dataclass(slots=True)
class Address:
    """N3/N4: a street address."""

    lines: tuple[str, ...] = ()
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(slots=True)
class Contact:
    """PER: a contact at the payer (``CX`` claims, ``BL`` technical, ``IC`` website)."""

    function: str
    name: str | None = None
    communications: tuple[tuple[str, str], ...] = ()
    """(qualifier, number) pairs: TE telephone, EM e-mail, UR web address, FX fax..."""


@dataclass(slots=True)
class Party:
    """Loop 1000A/1000B: the payer (N1*PR) or the payee (N1*PE) of the remittance."""

    entity_code: str
    name: str | None = None
    id_qualifier: str | None = None
    """N103: XV CMS plan id, XX NPI, FI federal tax id, PI payer id..."""
    identifier: str | None = None
    """N104."""
    address: Address | None = None
    references: list[Reference] = field(default_factory=list)
    """REF: additional ids (2U payer id, TJ tax id, PQ payee id, EO submitter id...)."""
    contacts: list[Contact] = field(default_factory=list)

    @property
    def best_id(self) -> str | None:
        """The payer's id as a biller would quote it: N104, else REF*2U, else None."""
        if self.identifier:
            return self.identifier
        for ref in self.references:
            if ref.qualifier in ("2U", "EO", "HI", "NF"):
                return ref.value
        return None


@dataclass(slots=True)
class ProviderAdjustment:
    """A PLB adjustment: money the payer took or gave at the provider level (not per claim).

    A positive amount *reduces* the payment (e.g. ``WO`` overpayment recovery), a negative
    one increases it (``L6`` interest).
    """

    provider_id: str
    fiscal_period_end: date | None
    reason: str
    """PLB03-1 adjustment reason: WO, L6 interest, FB forwarding balance, CS, 72 ..."""
    reference: str | None
    """PLB03-2: the claim or account the adjustment refers to, when given."""
    amount: Decimal


@dataclass(slots=True)
class ProviderSummary:
    """LX/TS3: a provider-level summary at the top of a claim group (institutional)."""

    assigned_number: str
    """LX01: groups the claims that follow it."""
    provider_id: str | None = None
    facility_type: str | None = None
    fiscal_period_end: date | None = None
    claim_count: Decimal | None = None
    total_charge: Decimal | None = None


@dataclass(slots=True)
class Remittance:
    """One 835 transaction set (ST..SE): a payment (or notice) from one payer to one payee.

    The reader yields claims as it reads them; each claim points back to its remittance.
    Provider-level adjustments (PLB) come after the claims in the file, so they are filled
    in when the reader reaches them.
    """

    source: str
    """The file (or stream name) the remittance was read from."""
    transaction_control_number: str
    """ST02, unique within the interchange."""
    version: str
    """GS08 (or ST03): ``005010X221A1``; older ``004010X091A1`` files are read with a warning."""
    interchange_control_number: str | None = None
    """ISA13."""
    interchange_sender: str | None = None
    """ISA06 (usually the payer or its clearinghouse)."""
    interchange_receiver: str | None = None
    """ISA08."""
    handling_code: str | None = None
    """BPR01: I remittance with payment, H notification only, C payment without detail..."""
    payment_amount: Decimal | None = None
    """BPR02: the total actually paid by this check or EFT."""
    credit_debit: str | None = None
    """BPR03: C credit, D debit."""
    payment_method: str | None = None
    """BPR04: CHK check, ACH, FWT wire, BOP, NON (no payment)."""
    payment_date: date | None = None
    """BPR16: the check issue or EFT effective date."""
    trace_number: str | None = None
    """TRN02: the check or EFT trace number that ties this remittance to the deposit."""
    trace_originator: str | None = None
    """TRN03: the payer's originating company id."""
    production_date: date | None = None
    """DTM*405: the date the payer produced the remittance (the adjudication date)."""
    receiver_id: str | None = None
    """REF*EV: the receiver identifier."""
    payer: Party = field(default_factory=lambda: Party("PR"))
    payee: Party = field(default_factory=lambda: Party("PE"))
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    provider_summaries: list[ProviderSummary] = field(default_factory=list)

    @property
    def remittance_date(self) -> date | None:
        """The date a deadline counts from: DTM*405 production date, else BPR16."""
        return self.production_date or self.payment_date


@dataclass(slots=True)
class ServiceLine:
    """Loop 2110 (SVC): how the payer adjudicated one service line of the claim."""

    procedure: Procedure
    """SVC01: the procedure the payer adjudicated (may differ from what was billed)."""
    charge: Decimal
    """SVC02: the line's submitted charge."""
    paid: Decimal
    """SVC03: what the payer paid for the line."""
    revenue_code: str | None = None
    """SVC04: the NUBC revenue code (institutional claims)."""
    units_paid: Decimal | None = None
    """SVC05: units of service paid; absent means 1."""
    original_procedure: Procedure | None = None
    """SVC06: the procedure as submitted, sent only when the payer changed it (e.g. a 90837
    billed and paid as 90834). Appeals are about this code."""
    original_units: Decimal | None = None
    """SVC07: units submitted, when different from SVC05."""
    service_date: date | None = None
    """DTM*472: date of service."""
    service_period_start: date | None = None
    """DTM*150: service period start."""
    service_period_end: date | None = None
    """DTM*151: service period end."""
    adjustments: list[Adjustment] = field(default_factory=list)
    """Line-level CAS: why the line's charge was not paid in full."""
    line_control_number: str | None = None
    """REF*6R: the provider's line item control number, echoed from the claim."""
    references: list[Reference] = field(default_factory=list)
    """Other REF segments of the line (rendering provider ids, ambulatory codes...)."""
    amounts: list[MonetaryAmount] = field(default_factory=list)
    """AMT segments of the line (AMT*B6 allowed amount, KH late filing reduction...)."""
    quantities: list[Quantity] = field(default_factory=list)
    remarks: list[Remark] = field(default_factory=list)
    """LQ*HE / LQ*RX: remark codes for this line."""
    segment_number: int = 0
    """Where the SVC segment is in the file (1-based), for pointing an auditor at it."""

    @property
    def submitted_procedure(self) -> Procedure:
        """The procedure as billed: SVC06 when the payer changed it, else SVC01."""
        return self.original_procedure or self.procedure

    @property
    def allowed_amount(self) -> Decimal | None:
        """AMT*B6: the amount the payer allowed for the line."""
        for amt in self.amounts:
            if amt.qualifier == "B6":
                return amt.amount
        return None

    @property
    def date_of_service(self) -> date | None:
        """DTM*472, else the start of the DTM*150/151 period."""
        return self.service_date or self.service_period_start


@dataclass(slots=True)
class ClaimPayment:
    """Loop 2100 (CLP): how the payer adjudicated one claim, with its service lines."""

    remittance: Remittance
    """The transaction (payer, payee, check) this claim was paid or denied in."""
    patient_control_number: str
    """CLP01: the provider's own claim id (patient account number) as submitted."""
    status: str
    """CLP02 claim status: 1 processed as primary, 2 secondary, 3 tertiary, 4 denied,
    19/20/21 processed as primary/secondary/tertiary and forwarded, 22 reversal of previous
    payment, 23 not our claim (forwarded), 25 predetermination only."""
    charge: Decimal
    """CLP03: total claim charge."""
    paid: Decimal
    """CLP04: total paid on the claim."""
    patient_responsibility: Decimal | None = None
    """CLP05: what the patient owes (deductible, coinsurance, copay...)."""
    filing_indicator: str | None = None
    """CLP06 claim filing indicator: MA/MB Medicare A/B, MC Medicaid, 12 PPO, 13 POS, 14 EPO,
    15 indemnity, 16 HMO Medicare risk, BL Blue Cross/Blue Shield, CI commercial..."""
    payer_claim_control_number: str | None = None
    """CLP07: the payer's claim number (ICN/DCN) to quote in an appeal."""
    facility_type: str | None = None
    """CLP08: place of service (professional) or facility type code (institutional)."""
    frequency_code: str | None = None
    """CLP09: claim frequency: 1 original, 7 replacement, 8 void."""
    drg_code: str | None = None
    """CLP11: DRG code (inpatient)."""
    drg_weight: Decimal | None = None
    """CLP12."""
    discharge_fraction: Decimal | None = None
    """CLP13."""
    header_number: str | None = None
    """LX01 of the claim group this claim sits in, when the payer grouped claims."""
    adjustments: list[Adjustment] = field(default_factory=list)
    """Claim-level CAS: adjustments that apply to the claim as a whole."""
    patient: Entity | None = None
    """NM1*QC: the patient, with the member id the payer knows them by."""
    subscriber: Entity | None = None
    """NM1*IL: the insured, when different from the patient."""
    corrected_patient: Entity | None = None
    """NM1*74: the name or member id as the payer corrected it."""
    service_provider: Entity | None = None
    """NM1*82: the rendering provider (NPI when NM108 is XX)."""
    crossover_carrier: Entity | None = None
    """NM1*TT: the payer the claim was crossed over (forwarded) to."""
    corrected_priority_payer: Entity | None = None
    """NM1*PR: the payer that should have been billed first."""
    other_subscriber: Entity | None = None
    """NM1*GB: other subscriber."""
    inpatient_remarks: list[Remark] = field(default_factory=list)
    """MIA05/20-24: inpatient adjudication remark codes."""
    outpatient_remarks: list[Remark] = field(default_factory=list)
    """MOA03-07: outpatient adjudication remark codes (e.g. MA130, MA02)."""
    statement_from: date | None = None
    """DTM*232: claim statement period start."""
    statement_to: date | None = None
    """DTM*233: claim statement period end."""
    received_date: date | None = None
    """DTM*050: the date the payer received the claim (proof for timely filing)."""
    coverage_expiration: date | None = None
    """DTM*036: the patient's coverage ended on this date."""
    references: list[Reference] = field(default_factory=list)
    """REF segments of the claim (1L group number, EA medical record number, F8 original
    reference number for a correction, CE class of contract...)."""
    amounts: list[MonetaryAmount] = field(default_factory=list)
    """AMT segments of the claim (AU coverage amount, I interest, D prior payment...)."""
    quantities: list[Quantity] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    segment_number: int = 0
    """Where the CLP segment is in the file (1-based)."""
    ordinal: int = 0
    """1-based position of the claim in its file, for messages that must not carry PHI."""

    @property
    def remarks(self) -> list[Remark]:
        """Claim-level remark codes (MOA and MIA)."""
        return self.outpatient_remarks + self.inpatient_remarks

    @property
    def is_reversal(self) -> bool:
        """CLP02 = 22: the payer takes back a previous payment (its correction follows)."""
        return self.status == "22"

    @property
    def is_denied(self) -> bool:
        """CLP02 = 4: the whole claim was denied."""
        return self.status == "4"

    @property
    def service_date(self) -> date | None:
        """The claim's date of service: the first line's date, else the statement start."""
        for line in self.lines:
            if line.date_of_service:
                return line.date_of_service
        return self.statement_from

    def reference(self, qualifier: str) -> str | None:
        """The first REF value with this qualifier, or None."""
        for ref in self.references:
            if ref.qualifier == qualifier:
                return ref.value
        return None
