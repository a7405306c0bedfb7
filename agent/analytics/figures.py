"""The small values every KPI is made of: a rate that may not be available, dollars."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_HUNDREDTH = Decimal("0.01")


def dollars(cents: int) -> Decimal:
    """Cents as dollars with two places: ``127550`` is ``1275.50``."""
    return (Decimal(cents) / 100).quantize(_HUNDREDTH)


@dataclass(frozen=True, slots=True)
class Rate:
    """``part`` of ``whole`` (claims, denials or dollars); not available when whole is 0."""

    part: Decimal
    whole: Decimal

    @classmethod
    def of(cls, part: int | Decimal, whole: int | Decimal) -> Rate:
        """The rate of two counts or two amounts."""
        return cls(Decimal(part), Decimal(whole))

    @property
    def percent(self) -> Decimal | None:
        """The rate in percent to two places (half up); None when there is nothing to count."""
        if self.whole == 0:
            return None
        return (self.part * 100 / self.whole).quantize(_HUNDREDTH, ROUND_HALF_UP)
