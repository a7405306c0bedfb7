"""What an evaluator returns: a named check with a score over the items it looked at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one evaluator on one case.

    ``hits`` of ``total`` items passed (a yes/no check has one item); the case passes the
    check when every item did. ``detail`` says what failed, for the person fixing it.
    """

    evaluator: str
    hits: int
    total: int
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether every item passed."""
        return self.hits == self.total

    @classmethod
    def verdict(cls, evaluator: str, passed: bool, detail: str = "") -> Check:
        """A yes/no check."""
        return cls(evaluator, int(passed), 1, "" if passed else detail)

    @classmethod
    def ratio(cls, evaluator: str, hits: int, total: int, problems: list[str]) -> Check:
        """A check over several items; ``problems`` name the items that failed."""
        return cls(evaluator, hits, total, "; ".join(problems[:5]) +
                   (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))
