"""What came of a denial: a later 835's line for the same service, matched and judged.

A payer that reprocesses a denied claim (after an appeal, a corrected claim, or on its own)
reports it again in a later remittance: the same claim under its payer claim control number
(CLP07), often as a reversal (CLP02 = 22) of the first decision followed by the corrected
claim. :class:`OutcomeMatcher` finds, for each line of a later claim, the earlier denial it
answers; :func:`judge` says what the line means for it (docs/outcomes.md):

- ``overturned``: no denial reason is left on the line, only contractual reductions (CO-45
  and the others :class:`~agent.denials.from_835.DenialRules` expects) and patient
  cost-sharing (PR-1, PR-2, PR-3);
- ``partial``: paid, but a denial reason is still on it;
- ``upheld``: paid nothing, with a denial reason;
- ``open``: no later line yet (never recorded: it is what a denial without one has).

"Later" is by the 835s' production dates (DTM*405, else the payment date BPR16), never by
the order the files were given in. Where two earlier denials match one later line (or one
earlier denial two lines of a claim), nothing is recorded for it: the caller reports the
line, by file and segment only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.denials.from_835 import DenialRules, adjustment_refs
from agent.denials.model import AdjustmentRef, Denial, DenialSource
from agent.x12.models import Adjustment, ClaimPayment, ServiceLine

Outcome = Literal["open", "overturned", "partial", "upheld"]
"""Where a denial stands after the payer's later decisions (docs/outcomes.md)."""
OUTCOMES: tuple[Outcome, ...] = ("open", "overturned", "partial", "upheld")

Judged = Literal["overturned", "partial", "upheld"]
"""An outcome a later line can record (``open`` is the absence of one)."""

WHOLE_CLAIM = -1
"""The line index that stands for a claim as a whole (a claim-level denial's outcome)."""

_ZERO = Decimal(0)


class LineOutcome(BaseModel):
    """A later 835's line (or claim) recorded as the outcome of an earlier denial."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    denial_id: str = Field(description="The earlier denial this line answers.")
    outcome: Judged
    recovered_amount: Decimal = Field(description="What the later line paid beyond what "
                                      "the denied line had paid (never below 0).")
    decided_on: date | None = Field(description="The later 835's production date (DTM*405, "
                                    "else its payment date): the outcome's date.")
    paid_on: date | None = Field(None, description="BPR16: the check or EFT date.")
    billed: Decimal
    paid: Decimal
    adjustments: tuple[AdjustmentRef, ...] = Field(description="The later line's CAS (with "
                                                   "every line's, for a whole claim).")
    remarks: tuple[str, ...] = ()
    claim_status: str = Field(description="CLP02 of the later claim.")
    payer_claim_number: str | None = Field(None, description="CLP07 of the later claim.")
    claim_key: str = Field(description="The kept claim it was read in (appeal_claims).")
    line: int = Field(description="1-based line of that claim; 0 for the claim as a whole.")
    source: DenialSource = Field(description="The later 835 and the segment of the line.")
    matched_by: Literal["payer_claim_number", "claim_id"] = Field(
        description="payer_claim_number: the payer's claim number (or, for a correction, "
        "the reversed claim's); claim_id: the patient control number, date of service and "
        "procedure.")


def judge(adjustments: Iterable[tuple[str, Decimal]], paid: Decimal, claim_denied: bool,
          earlier_paid: Decimal, rules: DenialRules) -> tuple[Judged, Decimal]:
    """What a later line means for the earlier denial, and the dollars recovered.

    Args:
        adjustments: the later line's adjustments as (``CO-45`` label, amount).
        paid: what the later line paid.
        claim_denied: the later claim's status is denied (CLP02 = 4).
        earlier_paid: what the denied line had paid.
        rules: which adjustments are not denial reasons (contractual, cost-sharing).
    """
    denial_left = claim_denied or any(amount > _ZERO and not rules.is_expected_label(label)
                                      for label, amount in adjustments)
    recovered = max(paid - earlier_paid, _ZERO)
    if not denial_left:
        return "overturned", recovered
    if paid > _ZERO:
        return "partial", recovered
    return "upheld", _ZERO


def _key(value: str | None) -> str | None:
    """How ids are compared: trimmed, any case (as the store's worklist keys them)."""
    return value.strip().casefold() or None if value else None


ProcedureKey = tuple[str, tuple[str, ...]]
"""A procedure code and its modifiers (sorted), in capitals."""


def _procedure_key(code: str, modifiers: Iterable[str]) -> ProcedureKey:
    return code.upper(), tuple(sorted(m.upper() for m in modifiers))


def _line_keys(line: ServiceLine) -> frozenset[ProcedureKey]:
    keys = {_procedure_key(line.procedure.code, line.procedure.modifiers)}
    if line.original_procedure is not None:
        original = line.original_procedure
        keys.add(_procedure_key(original.code, original.modifiers))
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class EarlierDenial:
    """What matching needs of a denial read before: its keys, date and what it had paid."""

    denial_id: str
    ids: frozenset[str]
    """Its id and the ids its other sources give it (``merged_ids``): one denial."""
    payer_id: str | None
    payer_name: str | None
    claim_key: str | None
    pcn_key: str | None
    level: Literal["line", "claim"]
    service_date: date | None
    procedures: frozenset[ProcedureKey]
    line_control_number: str | None
    decided_on: date | None
    """The remittance date of the denial (its 835's production date)."""
    paid: Decimal
    stored: bool
    """Read from the store (an earlier run) rather than from this batch."""

    @classmethod
    def of(cls, denial: Denial, *, stored: bool) -> EarlierDenial:
        """The matching keys of ``denial``."""
        procedures: set[ProcedureKey] = set()
        if denial.procedure is not None:
            p = denial.procedure
            procedures.add(_procedure_key(p.code, p.modifiers))
            if p.original_code:
                procedures.add(_procedure_key(p.original_code, p.original_modifiers))
        return cls(denial_id=denial.denial_id,
                   ids=frozenset((denial.denial_id, *denial.merged_ids)),
                   payer_id=_key(denial.payer.id), payer_name=_key(denial.payer.name),
                   claim_key=_key(denial.claim_id), pcn_key=_key(denial.payer_claim_number),
                   level=denial.level, service_date=denial.service_date,
                   procedures=frozenset(procedures),
                   line_control_number=_key(denial.line_control_number),
                   decided_on=denial.remittance_date, paid=denial.paid, stored=stored)


class DenialFinder(Protocol):
    """The denials a store already holds, as :class:`OutcomeMatcher` looks them up."""

    def keys(self) -> tuple[Mapping[str, date | None], Mapping[str, date | None]]:
        """The stored denials' claim id keys and payer claim number keys (see ``_key``).

        Each with the earliest remittance date of the denials that carry it (None when
        one has none): a later 835 is looked up only where a denial came before it.
        """
        ...

    def find(self, claim_keys: Sequence[str], pcn_keys: Sequence[str]) -> list[EarlierDenial]:
        """The stored denials with one of these claim id or payer claim number keys."""
        ...


@dataclass(slots=True)
class ClaimMatch:
    """What a later claim's lines answer: outcomes, ambiguous lines, lines used up."""

    outcomes: list[tuple[int, LineOutcome]] = field(default_factory=list)
    """(line index, or :data:`WHOLE_CLAIM`; its outcome)."""
    ambiguous: list[int] = field(default_factory=list)
    """Segment numbers of the lines (or claim) that match more than one way."""
    consumed: set[int] = field(default_factory=set)
    """Line indexes (:data:`WHOLE_CLAIM` for all) that are not new denials."""


class OutcomeMatcher:
    """Finds the earlier denials a later claim answers (see the module docstring).

    Earlier denials come from the store (``finder``) and from the batch being read
    (:meth:`remember`, for the 835s read before this one). A claim none of whose ids the
    earlier denials carry costs two set look-ups.
    """

    def __init__(self, rules: DenialRules, finder: DenialFinder | None = None) -> None:
        self.rules = rules
        self.finder = finder
        claim_keys, pcn_keys = finder.keys() if finder is not None else ({}, {})
        self._stored_claims = claim_keys
        self._stored_pcns = pcn_keys
        self._batch_claims: dict[str, list[EarlierDenial]] = {}
        self._batch_pcns: dict[str, list[EarlierDenial]] = {}

    def remember(self, denial: Denial) -> None:
        """A denial of this batch, which a later 835 of the batch may answer."""
        if denial.remittance_date is None:
            return  # cannot be ordered: never "earlier"
        earlier = EarlierDenial.of(denial, stored=False)
        if earlier.claim_key:
            self._batch_claims.setdefault(earlier.claim_key, []).append(earlier)
        if earlier.pcn_key:
            self._batch_pcns.setdefault(earlier.pcn_key, []).append(earlier)

    def match(self, claim: ClaimPayment, key: str, corrects: str | None = None
              ) -> ClaimMatch | None:
        """What the lines of ``claim`` (kept under ``key``) answer; None when nothing.

        ``corrects`` is the payer claim number of the reversal the claim follows (a
        correction answers the claim that reversal took back).
        """
        if not (self._stored_claims or self._stored_pcns or self._batch_claims or
                self._batch_pcns):
            return None  # nothing read before: the first remittances of a store
        later_on = claim.remittance.remittance_date
        if later_on is None or claim.is_reversal:
            return None
        claim_key = _key(claim.patient_control_number)
        icns = {k for k in (_key(claim.payer_claim_control_number), _key(corrects)) if k}
        in_store = _before(self._stored_claims, claim_key, later_on) or \
            any(_before(self._stored_pcns, icn, later_on) for icn in icns)
        in_batch = claim_key in self._batch_claims or any(k in self._batch_pcns
                                                          for k in icns)
        if not (in_store or in_batch):
            return None
        found = self._candidates(claim, claim_key, icns, later_on, in_store)
        if not found:
            return None
        result = ClaimMatch()
        matcher = _ClaimMatcher(self.rules, claim, key, claim_key, icns, later_on)
        if not matcher.whole_claim(found, result):
            matcher.lines(found, result)
        return result if result.consumed else None

    def _candidates(self, claim: ClaimPayment, claim_key: str | None, icns: set[str],
                    later_on: date, in_store: bool) -> list[EarlierDenial]:
        """Earlier denials of the same payer with one of the claim's ids, each once."""
        found: list[EarlierDenial] = []
        if in_store and self.finder is not None:
            found += self.finder.find([claim_key] if claim_key else [], sorted(icns))
        if claim_key:
            found += self._batch_claims.get(claim_key, ())
        for icn in sorted(icns):
            found += self._batch_pcns.get(icn, ())
        payer = claim.remittance.payer
        payer_id, payer_name = _key(payer.best_id), _key(payer.name)
        out: list[EarlierDenial] = []
        for candidate in sorted(found, key=lambda c: not c.stored):  # the store's id wins
            if candidate.decided_on is None or candidate.decided_on >= later_on:
                continue
            if payer_id and candidate.payer_id:
                if payer_id != candidate.payer_id:
                    continue
            elif payer_name != candidate.payer_name:
                continue
            if not any(candidate.ids & other.ids for other in out):
                out.append(candidate)
        return out


class _ClaimMatcher:
    """Matching one later claim against its candidates (split out to stay readable)."""

    def __init__(self, rules: DenialRules, claim: ClaimPayment, key: str,
                 claim_key: str | None, icns: set[str], later_on: date) -> None:
        self.rules = rules
        self.claim = claim
        self.key = key
        self.claim_key = claim_key
        self.icns = icns
        self.later_on = later_on

    def whole_claim(self, found: list[EarlierDenial], result: ClaimMatch) -> bool:
        """A claim-level denial answered by the claim as a whole; True when one matched."""
        claim = self.claim
        claim_level = [c for c in found if c.level == "claim"]
        picked = [c for c in claim_level if c.pcn_key in self.icns]
        by: Literal["payer_claim_number", "claim_id"] = "payer_claim_number"
        if not picked:
            by = "claim_id"
            picked = [c for c in claim_level if c.claim_key == self.claim_key and
                      c.service_date is not None and c.service_date == claim.service_date]
        if not picked:
            return False
        result.consumed.add(WHOLE_CLAIM)
        if len(picked) > 1:
            result.ambiguous.append(claim.segment_number)
            return True
        every = [*claim.adjustments, *(a for line in claim.lines for a in line.adjustments)]
        remarks = tuple(dict.fromkeys(r.code for r in claim.remarks))
        result.outcomes.append((WHOLE_CLAIM, self._outcome(
            picked[0], by, 0, claim.segment_number, claim.charge, claim.paid, every, remarks)))
        return True

    def lines(self, found: list[EarlierDenial], result: ClaimMatch) -> None:
        """Each line's earlier denial: by payer claim number, else by claim id and date."""
        claim = self.claim
        candidates = [c for c in found if c.level == "line"]
        picks: dict[int, tuple[list[EarlierDenial], Literal["payer_claim_number",
                                                            "claim_id"]]] = {}
        for index, line in enumerate(claim.lines):
            keys = _line_keys(line)
            day = line.date_of_service or claim.statement_from
            control = _key(line.line_control_number)
            by_icn = [c for c in candidates if c.pcn_key in self.icns and
                      _same_line(c, keys, day, control, strict=False)]
            if by_icn:
                picks[index] = (by_icn, "payer_claim_number")
                continue
            by_id = [c for c in candidates if c.claim_key == self.claim_key and
                     _same_line(c, keys, day, control, strict=True)]
            if by_id:
                picks[index] = (by_id, "claim_id")
        answered = Counter(hits[0].denial_id for hits, _ in picks.values() if len(hits) == 1)
        for index, (hits, by) in picks.items():
            line = claim.lines[index]
            result.consumed.add(index)
            if len(hits) > 1 or answered[hits[0].denial_id] > 1:
                result.ambiguous.append(line.segment_number)
                continue
            remarks = tuple(dict.fromkeys((*(r.code for r in line.remarks),
                                           *(r.code for r in claim.remarks))))
            result.outcomes.append((index, self._outcome(
                hits[0], by, index + 1, line.segment_number, line.charge, line.paid,
                line.adjustments, remarks)))

    def _outcome(self, earlier: EarlierDenial, by: Literal["payer_claim_number", "claim_id"],
                 line: int, segment: int, billed: Decimal, paid: Decimal,
                 adjustments: Sequence[Adjustment], remarks: tuple[str, ...]) -> LineOutcome:
        claim = self.claim
        remit = claim.remittance
        outcome, recovered = judge(((a.label, a.amount) for a in adjustments), paid,
                                   claim.is_denied, earlier.paid, self.rules)
        return LineOutcome(
            denial_id=earlier.denial_id, outcome=outcome, recovered_amount=recovered,
            decided_on=self.later_on, paid_on=remit.payment_date, billed=billed, paid=paid,
            adjustments=adjustment_refs(list(adjustments)), remarks=remarks,
            claim_status=claim.status, payer_claim_number=claim.payer_claim_control_number,
            claim_key=self.key, line=line,
            source=DenialSource(kind="835", file=remit.source, segment=segment,
                                transaction_control_number=remit.transaction_control_number),
            matched_by=by)


def _before(first: Mapping[str, date | None], key: str | None, later_on: date) -> bool:
    """Whether a stored denial with ``key`` came before ``later_on``."""
    if key is None or key not in first:
        return False
    day = first[key]
    return day is not None and day < later_on


def _same_line(earlier: EarlierDenial, keys: frozenset[ProcedureKey], day: date | None,
               control: str | None, *, strict: bool) -> bool:
    """Whether a later line is the service line ``earlier`` denied.

    The line control numbers decide when both have one, else the procedure (as billed or
    as adjudicated, with its modifiers); the dates of service must agree, and must both be
    known when ``strict`` (matching without the payer's claim number).
    """
    if earlier.line_control_number and control:
        if earlier.line_control_number != control:
            return False
    elif earlier.procedures.isdisjoint(keys):
        return False
    if earlier.service_date is not None and day is not None:
        return earlier.service_date == day
    return not strict
