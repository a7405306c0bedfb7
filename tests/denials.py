"""Building a denied service line for unit tests: the fields a test does not care about are
filled in once here, the ones it does are passed by name."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
)


def line_denial(code: str, carc: str = "50", *, billed: str | int = 100,
                paid: str | int = 0, denied: str | int | None = None,
                modifiers: tuple[str, ...] = (), units: int | None = None,
                original_code: str | None = None, **fields: Any) -> Denial:
    """A line of ``code`` denied CO-``carc``; the denied amount is billed − paid unless
    given, and is the adjustment's amount. ``fields`` set any other Denial field."""
    charge, payment = Decimal(str(billed)), Decimal(str(paid))
    amount = Decimal(str(denied)) if denied is not None else charge - payment
    values: dict[str, Any] = {
        "denial_id": "dn_test", "level": "line", "claim_id": "C1",
        "payer": PayerRef(name="ACME"), "patient": PatientRef(member_id="M1"),
        "procedure": ProcedureRef(code=code, modifiers=modifiers, original_code=original_code,
                                  units=Decimal(units) if units is not None else None),
        "billed": charge, "paid": payment, "denied_amount": amount,
        "adjustments": (AdjustmentRef(group="CO", reason=carc, amount=amount),),
        "source": DenialSource(kind="queue", file="q.csv", row=1),
    }
    values.update(fields)
    return Denial(**values)
