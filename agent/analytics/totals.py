"""Grouped denial totals folded in Python: one query, read several ways.

The store totals the denials by several dimensions at once (one scan of the narrow rows);
:func:`fold` sums those totals over the dimensions a figure does not need, so the denial
mix and the prevention patterns share one query, and the overturns by playbook, payer and
reason another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agent.store.analytics import DenialTotal


def fold(totals: Iterable[DenialTotal], *positions: int) -> list[DenialTotal]:
    """The totals summed by the key values at ``positions`` (in that order), by key.

    ``fold(totals)`` with no position is one total of them all.
    """
    sums: dict[tuple[str | None, ...], list[int]] = {}
    for total in totals:
        key = tuple(total.key[p] for p in positions)
        found = sums.setdefault(key, [0, 0, 0])
        found[0] += total.denials
        found[1] += total.denied_cents
        found[2] += total.recovered_cents
    ordered = sorted(sums.items(), key=lambda item: tuple((v is None, v or "")
                                                          for v in item[0]))
    return [DenialTotal(key, *values) for key, values in ordered]


def where(totals: Sequence[DenialTotal], position: int, value: str) -> list[DenialTotal]:
    """The totals whose key has ``value`` at ``position``."""
    return [t for t in totals if t.key[position] == value]
