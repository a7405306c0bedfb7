"""Denial rates by payer and the first-pass resolution rate, over the claims read from 835s.

The denominator is the claims a payer decided for the first time: every claim kept from an
835 (paid ones too) except reversals, the corrections that follow them and the claims
that answer an earlier denial (its outcome). A claim is denied when its remittance denied
any of it (agent.store.claims.denied_cents: cost-sharing and contractual reductions
alone are not denials). docs/kpis.md#denial-rate-by-payer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from agent.analytics.figures import Rate, dollars
from agent.store.analytics import ClaimTotal

ALL_PAYERS = "All payers"


@dataclass(frozen=True, slots=True)
class PayerClaims:
    """A payer's claims read from 835s, and its denial rates."""

    payer: str
    claims_read: int
    reversals: int
    corrections: int
    reprocessed: int
    """Claims answering an earlier denial (its outcome), not counted again."""
    claims: int
    """Claims adjudicated for the first time: the rates' denominator."""
    denied_claims: int
    billed: Decimal
    denied: Decimal

    @property
    def claim_rate(self) -> Rate:
        """Denied claims over claims adjudicated."""
        return Rate.of(self.denied_claims, self.claims)

    @property
    def dollar_rate(self) -> Rate:
        """Dollars denied over dollars billed on those claims."""
        return Rate.of(self.denied, self.billed)

    @property
    def first_pass(self) -> Rate:
        """Claims resolved on the first pass (no denial) over claims adjudicated."""
        return Rate.of(self.claims - self.denied_claims, self.claims)


@dataclass(frozen=True, slots=True)
class ClaimRates:
    """Every payer's rates (most claims first) and all payers together."""

    payers: tuple[PayerClaims, ...]
    total: PayerClaims


def _payer(total: ClaimTotal) -> PayerClaims:
    return PayerClaims(payer=total.payer or "(payer not named)",
                       claims_read=total.claims_read, reversals=total.reversals,
                       corrections=total.corrections, reprocessed=total.reprocessed,
                       claims=total.adjudicated, denied_claims=total.denied,
                       billed=dollars(total.billed_cents), denied=dollars(total.denied_cents))


def claim_rates(totals: Sequence[ClaimTotal]) -> ClaimRates:
    """The rates of the store's per-payer claim totals (``Store.claim_totals``)."""
    payers = sorted((_payer(t) for t in totals), key=lambda p: (-p.claims, p.payer))
    total = PayerClaims(
        payer=ALL_PAYERS, claims_read=sum(p.claims_read for p in payers),
        reversals=sum(p.reversals for p in payers),
        corrections=sum(p.corrections for p in payers),
        reprocessed=sum(p.reprocessed for p in payers), claims=sum(p.claims for p in payers),
        denied_claims=sum(p.denied_claims for p in payers),
        billed=dollars(sum(t.billed_cents for t in totals)),
        denied=dollars(sum(t.denied_cents for t in totals)))
    return ClaimRates(tuple(payers), total)
