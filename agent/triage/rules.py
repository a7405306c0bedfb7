"""Triage rules: what to do with a denial, decided from claim data before any model.

The rules run in :data:`RULES` order; the first that decides wins. A denial no rule
decides gets a *provisional* triage (``needs_review``, ``final=False``) whose category,
root cause and preventability come from :data:`CARC_TABLE`; the playbook and the chart
evidence then decide its action. docs/triage.md explains each rule and the table; the
billing facts come from docs/domain.md (#denial-codes and the sections it links).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from agent.codes import CodeTable
from agent.config import AppConfig
from agent.denials.from_835 import DenialRules
from agent.denials.model import AdjustmentRef, Denial
from agent.denials.outcomes import LineOutcome
from agent.ncci import PtpPairing, PtpTable
from agent.triage.deadlines import appeal_deadline
from agent.triage.model import Action, Category, DollarBucket, RootCause, Triage

RESUBMIT_RARCS = frozenset({"MA130", "N704"})
""""Resubmit, don't appeal" (docs/domain.md#resubmit-not-appeal)."""

REGISTRATION_RARCS = frozenset({"N30", "N479", "N382", "MA27", "MA61", "MA04"})
"""RARCs naming patient eligibility, identity or other coverage: N30 and N479 from
docs/domain.md#rarc; N382, MA27, MA61, MA04 by their X12 text (agent/data/carc_rarc.csv)."""

MEDICAL_NECESSITY_RARCS = frozenset({"N661", "N115", "N386"})
"""Documentation does not support necessity; decision based on an LCD / NCD
(docs/domain.md#medical-necessity-coverage)."""

BUNDLING_CARCS = frozenset({"97", "231", "234", "236"})
BUNDLING_RARCS = frozenset({"M15", "M80", "N20"})
"""Reasons that point at another same-day service: the NCCI table is worth a look."""

OTHER_PAYER_CARCS = frozenset({"22", "109"})


class CarcTriage(NamedTuple):
    """How a denial reason is classified when no rule decides."""

    category: Category
    root_cause: RootCause
    preventable: bool


_ADMIN: Category = "administrative"
_CLIN: Category = "clinical"

CARC_TABLE: Mapping[str, CarcTriage] = {
    # Coding and clinical content of the claim (docs/domain.md#carc, "Usual response").
    "4": CarcTriage(_CLIN, "coding", True),        # modifier inconsistent / missing
    "11": CarcTriage(_CLIN, "coding", True),       # diagnosis inconsistent with procedure
    "97": CarcTriage(_CLIN, "coding", True),       # included in another service (bundling)
    "146": CarcTriage(_CLIN, "coding", True),      # diagnosis invalid for the DOS
    "150": CarcTriage(_CLIN, "coding", True),      # level of service not supported
    "151": CarcTriage(_CLIN, "coding", True),      # number / frequency not supported
    "167": CarcTriage(_CLIN, "coding", True),      # diagnosis not covered
    "181": CarcTriage(_CLIN, "coding", True),      # procedure code invalid on the DOS
    "182": CarcTriage(_CLIN, "coding", True),      # modifier invalid on the DOS
    "189": CarcTriage(_CLIN, "coding", True),      # unlisted code when a specific one exists
    "231": CarcTriage(_CLIN, "coding", True),      # mutually exclusive procedures
    "234": CarcTriage(_CLIN, "coding", True),      # not paid separately
    "236": CarcTriage(_CLIN, "coding", True),      # incompatible with same-day service (NCCI)
    # Medical necessity and coverage judgements: appealed on the record, not a process slip.
    "50": CarcTriage(_CLIN, "documentation", False),  # not medically necessary
    "55": CarcTriage(_CLIN, "payer_policy", False),   # experimental / investigational
    "56": CarcTriage(_CLIN, "payer_policy", False),   # not proven effective
    "96": CarcTriage(_ADMIN, "payer_policy", False),  # non-covered; clinical with an MN RARC
    # Claim data and billing process.
    "5": CarcTriage(_ADMIN, "coding", True),       # code / bill type vs place of service
    "16": CarcTriage(_ADMIN, "coding", True),      # lacks information (non-CO groups)
    "18": CarcTriage(_ADMIN, "coding", True),      # exact duplicate
    "29": CarcTriage(_ADMIN, "payer_policy", True),  # timely filing (see docs/triage.md)
    "226": CarcTriage(_ADMIN, "documentation", True),  # requested information not sent
    "252": CarcTriage(_ADMIN, "documentation", True),  # attachment required
    # Registration and eligibility.
    "22": CarcTriage(_ADMIN, "registration_eligibility", True),   # other payer (COB)
    "27": CarcTriage(_ADMIN, "registration_eligibility", True),   # coverage terminated
    "31": CarcTriage(_ADMIN, "registration_eligibility", True),   # not identified as insured
    "109": CarcTriage(_ADMIN, "registration_eligibility", True),  # send to the correct payer
    "119": CarcTriage(_ADMIN, "registration_eligibility", True),  # benefit maximum reached
    "204": CarcTriage(_ADMIN, "registration_eligibility", True),  # not in the benefit plan
    "242": CarcTriage(_ADMIN, "registration_eligibility", True),  # not a network provider
    # Authorization and referral.
    "15": CarcTriage(_ADMIN, "authorization", True),   # auth number missing / invalid
    "39": CarcTriage(_ADMIN, "authorization", False),  # denied when auth was requested
    "197": CarcTriage(_ADMIN, "authorization", True),  # precertification absent
    "198": CarcTriage(_ADMIN, "authorization", True),  # precertification exceeded
    "284": CarcTriage(_ADMIN, "authorization", True),  # auth does not apply to the service
    "288": CarcTriage(_ADMIN, "authorization", True),  # referral absent
    # Provider enrollment.
    "183": CarcTriage(_ADMIN, "credentialing", True),  # referring provider not eligible
    "185": CarcTriage(_ADMIN, "credentialing", True),  # rendering provider not eligible
}
"""CARC → (category, root cause, preventable) for provisional triage (docs/triage.md)."""

UNKNOWN_CARC = CarcTriage(_CLIN, "payer_policy", False)
"""For a CARC not in :data:`CARC_TABLE` (or a denial with no stated reason)."""


def carc_triage(carc: str | None, remarks: Iterable[str] = ()) -> CarcTriage:
    """The table row of a CARC; CARC 96 is clinical when a medical-necessity RARC is sent."""
    if carc is None:
        return UNKNOWN_CARC
    row = CARC_TABLE.get(carc, UNKNOWN_CARC)
    if carc == "96" and MEDICAL_NECESSITY_RARCS.intersection(remarks):
        return CarcTriage(_CLIN, "payer_policy", False)
    return row


def dollar_bucket(amount: Decimal, threshold: Decimal) -> DollarBucket:
    """``high`` from ``threshold`` dollars up (the threshold itself is high)."""
    return "high" if amount >= threshold else "low"


@dataclass(frozen=True, slots=True)
class TriageContext:
    """What the rules read besides the denial."""

    config: AppConfig
    ncci: PtpTable
    codes: CodeTable
    denial_rules: DenialRules

    def decide(self, denial: Denial, *, action: Action, category: Category,
               preventable: bool, root_cause: RootCause, reason: str, rule: str,
               final: bool = True) -> Triage:
        """A :class:`Triage` with the fields every rule shares (bucket, deadline)."""
        deadline, _ = appeal_deadline(denial, self.config.deadlines)
        return Triage(action=action, category=category, preventable=preventable,
                      dollar_bucket=dollar_bucket(denial.denied_amount,
                                                  self.config.high_dollar_threshold),
                      root_cause=root_cause, appeal_deadline=deadline, reason=reason,
                      rule=rule, final=final)

    def carc_text(self, carc: str) -> str:
        """The first sentence of a CARC's X12 description."""
        return _first_sentence(self.codes.carc(carc).description)

    def rarc_text(self, rarc: str) -> str:
        """The first sentence of a RARC's X12 description."""
        return _first_sentence(self.codes.rarc(rarc).description)


Rule = Callable[[Denial, TriageContext], Triage | None]


def triage(denial: Denial, config: AppConfig, ncci: PtpTable, *,
           codes: CodeTable | None = None, denial_rules: DenialRules | None = None
           ) -> Triage:
    """Run the rules in order; a denial none decides gets a provisional triage."""
    context = TriageContext(config, ncci, codes or CodeTable.load_default(),
                            denial_rules or DenialRules())
    for rule in RULES:
        decided = rule(denial, context)
        if decided is not None:
            return decided
    return provisional(denial, context)


# --- the rules, in order -------------------------------------------------------------

def patient_cost_share_only(denial: Denial, ctx: TriageContext) -> Triage | None:
    """Deductible / coinsurance / copay (PR-1/2/3), with at most contractual reductions.

    Cost sharing is the plan's benefit design, not a denial error: bill the patient.
    A contractual reduction beside it (CO-45 on the same $0 line) changes nothing.
    """
    adjustments = _all_adjustments(denial)
    shares = [a for a in adjustments if a.label in ctx.denial_rules.patient_cost_share]
    if not shares or not all(ctx.denial_rules.is_expected_label(a.label)
                             for a in adjustments):
        return None
    others = [a for a in adjustments if a not in shares]
    reason = f"{_listing(shares, ctx)}: the patient's share under the plan, bill the patient"
    if others:
        reason += f" ({_labels_with_amounts(others)} contractual)"
    return ctx.decide(denial, action="patient_responsibility", category="administrative",
                      preventable=False, root_cause="payer_policy",
                      reason=reason + "; nothing to appeal.", rule="patient_cost_share_only")


def contractual_only(denial: Denial, ctx: TriageContext) -> Triage | None:
    """Only contractual reductions (``DenialRules.expected_adjustments``, e.g. CO-45)."""
    adjustments = _all_adjustments(denial)
    if not adjustments or not all(a.label in ctx.denial_rules.expected_adjustments
                                  for a in adjustments):
        return None
    return ctx.decide(denial, action="no_action", category="administrative",
                      preventable=False, root_cause="payer_policy",
                      reason=f"{_listing(adjustments, ctx)}: contractual reduction only; "
                             "no action unless the contracted rate was misapplied.",
                      rule="contractual_only")


def resubmit_corrected_claim(denial: Denial, ctx: TriageContext) -> Triage | None:
    """CO-16 (claim lacks information), or MA130 / N704 anywhere: fix and resubmit."""
    has_16 = any(a.group == "CO" and a.reason == "16" for a in _all_adjustments(denial))
    flags = [r for r in denial.remarks if r in RESUBMIT_RARCS]
    if not has_16 and not flags:
        return None
    details = [r for r in denial.remarks if r not in RESUBMIT_RARCS]
    if has_16:
        reason = f"CO-16 ({ctx.carc_text('16')}) with " + (
            f"{details[0]} ({ctx.rarc_text(details[0])})" if details
            else "no remark naming what is missing")
        if flags:
            reason += f"; {', '.join(flags)}: no appeal rights"
    else:
        reason = f"{flags[0]} ({ctx.rarc_text(flags[0])})"
    root: RootCause = ("registration_eligibility"
                       if REGISTRATION_RARCS.intersection(denial.remarks) else "coding")
    return ctx.decide(denial, action="corrected_claim", category="administrative",
                      preventable=True, root_cause=root,
                      reason=reason + ". Correct the claim and resubmit; do not appeal.",
                      rule="resubmit_corrected_claim")


def other_payer_liable(denial: Denial, ctx: TriageContext) -> Triage | None:
    """CARC 22 (coordination of benefits) or 109 (not this payer), any group."""
    hits = [a for a in _all_adjustments(denial) if a.reason in OTHER_PAYER_CARCS]
    if not hits:
        return None
    first = hits[0]
    reason = f"{first.label} ({ctx.carc_text(first.reason)})"
    if denial.remarks:
        reason += f" with {denial.remarks[0]} ({ctx.rarc_text(denial.remarks[0])})"
    return ctx.decide(denial, action="rebill_other_payer", category="administrative",
                      preventable=True, root_cause="registration_eligibility",
                      reason=reason + ": confirm coverage order and bill the primary or "
                                      "correct payer (with its EOB when secondary).",
                      rule="other_payer_liable")


def ncci_ptp_no_modifier(denial: Denial, ctx: TriageContext) -> Triage | None:
    """The denied code is column 2 of an active NCCI PTP edit with modifier indicator 0.

    Indicator 0 means no modifier bypasses the edit (docs/domain.md#ncci-ptp-edits), so an
    appeal arguing 59/XS cannot win: write the line off.
    """
    pairing = _pairing(denial, ctx)
    deciding = pairing.deciding if pairing is not None else None
    if deciding is None or deciding.edit.modifier_indicator != "0":
        return None
    found = deciding.edit
    modifiers = denial.procedure.submitted_modifiers if denial.procedure else ()
    billed = "-".join((found.column_2, *modifiers))
    reason = (f"{billed} billed with {found.column_1} on {denial.service_date}: NCCI PTP "
              f"edit, modifier indicator 0 (column 1 {found.column_1}, column 2 "
              f"{found.column_2}; {found.rationale or 'no rationale given'}); no modifier "
              f"bypasses the edit, write off {_money(denial.denied_amount)}.")
    return ctx.decide(denial, action="write_off", category="clinical", preventable=True,
                      root_cause="coding", reason=reason, rule="ncci_ptp_no_modifier")


RULES: tuple[Rule, ...] = (
    patient_cost_share_only,
    contractual_only,
    resubmit_corrected_claim,
    other_payer_liable,
    ncci_ptp_no_modifier,
)
"""The decisive rules in the order they run; the function name is the rule id."""


def provisional(denial: Denial, ctx: TriageContext) -> Triage:
    """No rule decided: classify by the main denial reason; the playbook decides the action.

    The main reason is the largest adjustment that is neither a contractual reduction
    nor patient cost sharing (the first one on a tie), line before claim level.
    """
    reason_adj = main_reason(denial, ctx.denial_rules)
    row = carc_triage(reason_adj.reason if reason_adj else None, denial.remarks)
    parts = [f"{reason_adj.label} {_money(reason_adj.amount)}: "
             f"{ctx.carc_text(reason_adj.reason)}" if reason_adj
             else "No denial reason stated"]
    if denial.remarks:
        rest = f" (also {', '.join(denial.remarks[1:])})" if len(denial.remarks) > 1 else ""
        parts.append(f"{denial.remarks[0]}: {ctx.rarc_text(denial.remarks[0])}{rest}")
    if denial.procedure is not None and denial.procedure.original_code:
        parts.append(f"billed {denial.procedure.original_code}, "
                     f"adjudicated as {denial.procedure.code}")
    note = _ncci_note(denial, ctx, reason_adj)
    if note:
        parts.append(note)
    return ctx.decide(denial, action="needs_review", category=row.category,
                      preventable=row.preventable, root_cause=row.root_cause,
                      reason="; ".join(parts) + ".", rule="provisional", final=False)


def main_reason(denial: Denial, rules: DenialRules) -> AdjustmentRef | None:
    """The adjustment that states the denial (see :func:`provisional`)."""
    reasons = [a for a in _all_adjustments(denial) if not rules.is_expected_label(a.label)]
    if not reasons:
        return None
    return max(reasons, key=lambda a: a.amount)  # max keeps the first of equals


# --- helpers -------------------------------------------------------------------------

def _all_adjustments(denial: Denial) -> list[AdjustmentRef]:
    return [*denial.adjustments, *denial.claim_adjustments]


def _pairing(denial: Denial, ctx: TriageContext) -> PtpPairing | None:
    """The NCCI pairing of the denied code with the claim's other codes.

    None without a procedure code or a date of service.
    """
    if denial.procedure is None or denial.service_date is None:
        return None
    return ctx.ncci.pairing(denial.procedure.submitted_code, denial.claim_procedure_codes,
                            denial.service_date)


def _ncci_note(denial: Denial, ctx: TriageContext, reason_adj: AdjustmentRef | None
               ) -> str | None:
    """What the NCCI table says about a bundling denial, for the auditor and playbook."""
    bundling = ((reason_adj is not None and reason_adj.reason in BUNDLING_CARCS)
                or bool(BUNDLING_RARCS.intersection(denial.remarks)))
    pairing = _pairing(denial, ctx)
    if not bundling or pairing is None or not pairing.partners:
        return None
    return _describe_pairing(pairing)


def _describe_pairing(pairing: PtpPairing) -> str:
    """The edit that denies the code, else one that denies its partner, else "no edit".

    Only the column 2 code of an edit is denied (docs/domain.md#ncci-ptp-edits).
    """
    deciding = pairing.deciding
    if deciding is not None:
        edit = deciding.edit
        return (f"NCCI PTP edit {edit.column_1}/{edit.column_2}, modifier indicator "
                f"{edit.modifier_indicator}: bypassable only with a documented distinct "
                "service")
    if pairing.reverse:
        reverse = pairing.reverse[0].edit
        return (f"NCCI PTP edit {reverse.column_1}/{reverse.column_2} denies "
                f"{reverse.column_2}, not {pairing.denied_code}")
    return (f"no NCCI PTP edit pairs {pairing.denied_code} with "
            f"{', '.join(pairing.partners)} on {pairing.date_of_service}")


def _listing(adjustments: Iterable[AdjustmentRef], ctx: TriageContext) -> str:
    return ", ".join(f"{a.label} {ctx.carc_text(a.reason).rstrip('.')} {_money(a.amount)}"
                     for a in adjustments)


def _labels_with_amounts(adjustments: Iterable[AdjustmentRef]) -> str:
    return ", ".join(f"{a.label} {_money(a.amount)}" for a in adjustments)


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _first_sentence(text: str, limit: int = 110) -> str:
    """Enough of an X12 description for one line."""
    sentence = text.split(". ", 1)[0].rstrip(".")
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rstrip() + "…"
    return sentence


# --- after the payer's later decision --------------------------------------------------

PAID_LATER = "paid_on_later_remittance"
"""The rule id of a denial the payer has since paid (docs/triage.md#paid-later)."""


def paid_later(decided: Triage, outcome: LineOutcome) -> Triage:
    """The triage of a denial a later remittance paid in full (an ``overturned`` outcome).

    Nothing is left to appeal: the action becomes ``no_action``, final. What the denial was
    (its category, root cause, preventability, deadline) stands, for the figures built on
    it (docs/kpis.md); only a denial reason left on the later line (``partial``) or a
    denial upheld keeps the denial to be worked.
    """
    when = f" of {outcome.decided_on.isoformat()}" if outcome.decided_on else ""
    return decided.model_copy(update={
        "action": "no_action", "final": True, "rule": PAID_LATER,
        "reason": f"Paid on a later remittance{when} (${outcome.recovered_amount:,.2f} more; "
                  "no denial reason left): nothing to appeal."})
