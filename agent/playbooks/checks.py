"""Named checks behind a playbook's ``not_appeal`` rules.

A check reads the denial, the chart and the evidence the playbook's extractors found, and
returns a short finding when its rule applies ("the notes document 41 minutes"), else
None. Findings go into the reason an auditor reads: codes, counts, classes, never names.
Built-in checks are registered exactly like a plug-in's would be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.config import AppConfig
from agent.denials.model import Denial
from agent.ehr.model import ChartBundle
from agent.evidence.model import Evidence
from agent.ncci import PtpTable


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may look at."""

    denial: Denial
    chart: ChartBundle
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    """Evidence found for each fact id of the playbook (empty list when none)."""
    ncci: PtpTable | None = None
    config: AppConfig | None = None

    def found(self, fact: str) -> list[Evidence]:
        """The evidence for one fact (empty when none was found)."""
        return self.evidence.get(fact, [])


Check = Callable[[CheckContext], str | None]


class CheckRegistry:
    """Named checks."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._claim_only: set[str] = set()

    def register(self, name: str, check: Check, claim_only: bool = False) -> None:
        """Add a check under ``name`` (names are unique).

        Args:
            name: The name playbooks refer to the check by.
            check: The check.
            claim_only: It reads only the claim (never the chart or the evidence), so it
                decides even when no chart is found.

        Raises:
            ValueError: A check is already registered under ``name``.
        """
        if name in self._checks:
            raise ValueError(f"check '{name}' is already registered")
        self._checks[name] = check
        if claim_only:
            self._claim_only.add(name)

    def claim_only(self, name: str) -> bool:
        """Whether the check reads only claim data."""
        return name in self._claim_only

    def get(self, name: str) -> Check:
        """The check called ``name``; KeyError names the known ones."""
        try:
            return self._checks[name]
        except KeyError:
            known = ", ".join(sorted(self._checks))
            raise KeyError(f"no check '{name}' (known: {known})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._checks)


MEDICARE_FILING_INDICATORS = frozenset({"MA", "MB"})
"""CLP06 values for Medicare Part A and Part B claims."""


def is_medicare(denial: Denial) -> bool:
    """Whether the claim was filed to Medicare Part A/B (CLP06 MA/MB)."""
    return denial.claim_filing_indicator in MEDICARE_FILING_INDICATORS


def medicare_claim(ctx: CheckContext) -> str | None:
    """The claim was filed to Medicare Part A/B (CLP06 MA/MB)."""
    indicator = ctx.denial.claim_filing_indicator
    if indicator in MEDICARE_FILING_INDICATORS:
        return f"claim filing indicator {indicator} (Medicare)"
    return None


def ncci_pair_unknown(ctx: CheckContext) -> str | None:
    """The loaded NCCI table cannot tell whether an edit pairs the claim's codes.

    Applies when a partner of the denied code has no edit in force and the table (a
    subset not cut for either code) cannot vouch for that: "no edit" would not be a fact.
    """
    procedure, table = ctx.denial.procedure, ctx.ncci
    day = ctx.denial.service_date
    if procedure is None or table is None or day is None:
        return None
    code = procedure.submitted_code
    unknown = table.pairing(code, ctx.denial.claim_procedure_codes, day).unknown_partners
    if not unknown:
        return None
    return (f"the loaded NCCI table does not cover {code} with {', '.join(unknown)}; import "
            "the CMS quarterly table (appeals ncci import) to know whether an edit applies")


def default_checks() -> CheckRegistry:
    """A registry with the built-in checks."""
    registry = CheckRegistry()
    registry.register("medicare_claim", medicare_claim, claim_only=True)
    registry.register("ncci_pair_unknown", ncci_pair_unknown, claim_only=True)
    return registry
