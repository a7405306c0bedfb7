"""Synthetic 835s for the KPI report: remittances with denials, then the ones that answer them.

Five payers send weekly remittances from January to April 2026 (claims of one to three
lines, each line paid under the contract with coinsurance, denied for a reason drawn from
a realistic mix, partly paid, or $0 for the deductible alone). About half of the denied
lines are answered by the payer's remittance 45 days later: paid in full (overturned),
partly paid, or denied again (upheld); one answer in ten comes as a reversal of the
original claim followed by its correction. Every line and claim balances (charge = paid
+ adjustments), every remittance's BPR02 is the sum of its payments, and lines carry
their control numbers (REF*6R), so the reader warns about nothing and matches every
answer.

The same ``(denials, seed)`` always gives the same files, written once under
``benchmarks/.data/`` (gitignored).

    python benchmarks/synth_outcomes.py 100000
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / ".data"
GENERATOR_VERSION = 2
TERMINATOR = "~\n"
START = date(2026, 1, 5)
WEEKS = 16
ANSWER_AFTER = timedelta(days=45)

PAYERS = (("NORTHWIND HEALTH PLAN", "NWH01"), ("LAKESHORE MUTUAL", "LSM02"),
          ("PRAIRIE CARE PLAN", "PCP04"), ("HARBOR BENEFITS", "HBB05"),
          ("MEDICARE PART B - SYNTHETIC MAC", "MBX03"))
PROCEDURES = (("99213", 15000, ("", "25")), ("99214", 22000, ("", "25")),
              ("72148", 120000, ("",)), ("29881", 250000, ("RT", "LT")),
              ("29877", 180000, ("RT",)), ("90837", 20000, ("",)), ("93306", 45000, ("",)),
              ("20610", 21000, ("RT", "LT")), ("97110", 4500, ("GP",)),
              ("64483", 127500, ("",)), ("90834", 15000, ("",)), ("00840", 90000, ("P3",)))
REASONS = (("197", 18), ("97", 18), ("50", 14), ("27", 10), ("11", 6), ("151", 5),
           ("29", 5), ("252", 5), ("185", 4), ("22", 5), ("4", 5), ("16", 5))
"""Denial CARCs (group CO) and their weights."""
KINDS = (("paid", 50), ("denied", 36), ("partial", 9), ("deductible", 5))
FATES = (("overturned", 45), ("partial", 20), ("upheld", 35))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def money(cents: int) -> str:
    """``-123.45`` from cents."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass(slots=True)
class Line:
    """One service line, in cents; ``fate`` is what the later remittance says of a denial."""

    code: str
    modifier: str
    charge: int
    paid: int
    adjustments: list[tuple[str, str, int]]
    day: date
    control: str = ""
    """REF*6R: the same on the line's answer as on the line."""
    reason: str | None = None
    fate: str | None = None


@dataclass(slots=True)
class Claim:
    """One claim of a remittance."""

    number: int
    lines: list[Line]
    status: str = "1"

    @property
    def pcn(self) -> str:
        """CLP01."""
        return f"SYN{self.number:07d}"

    @property
    def icn(self) -> str:
        """CLP07."""
        return f"ICN{self.number:09d}"


@dataclass(slots=True)
class Remittance:
    """One payer's 835 of one day."""

    payer: tuple[str, str]
    produced: date
    claims: list[Claim] = field(default_factory=list)
    answers: list[tuple[Claim, bool]] = field(default_factory=list)
    """Earlier claims this remittance answers (their denied lines with a fate), and
    whether as a reversal and its correction."""


def _line(rng: random.Random, used: set[str], day: date) -> Line:
    code, charge, modifiers = rng.choice([p for p in PROCEDURES if p[0] not in used])
    used.add(code)
    allowed = charge * rng.randint(60, 90) // 100
    kind = _pick(rng, KINDS)
    line = Line(code, rng.choice(modifiers), charge, 0, [], day)
    if kind == "paid":
        share = allowed // 5
        line.paid = allowed - share
        line.adjustments = [("CO", "45", charge - allowed), ("PR", "2", share)]
    elif kind == "deductible":
        line.adjustments = [("CO", "45", charge - allowed), ("PR", "1", allowed)]
    else:
        line.reason = _pick(rng, REASONS)
        line.fate = _pick(rng, FATES) if rng.random() < 0.5 else None
        if kind == "denied":
            line.adjustments = [("CO", line.reason, charge)]
        else:
            line.paid = allowed // 2
            line.adjustments = [("CO", "45", charge - allowed),
                                ("CO", line.reason, allowed - line.paid)]
    return line


def _answer(line: Line) -> Line:
    """What the later remittance says of a denied line."""
    allowed = line.charge * 3 // 4
    if line.fate == "overturned":
        share = allowed // 5
        return Line(line.code, line.modifier, line.charge, allowed - share,
                    [("CO", "45", line.charge - allowed), ("PR", "2", share)], line.day,
                    line.control)
    if line.fate == "partial":
        paid = max(allowed // 2, line.paid + 100)
        return Line(line.code, line.modifier, line.charge, paid,
                    [("CO", "45", line.charge - allowed),
                     ("CO", str(line.reason), allowed - paid)], line.day, line.control)
    return Line(line.code, line.modifier, line.charge, line.paid, line.adjustments, line.day,
                line.control)


def _negated(line: Line) -> Line:
    return Line(line.code, line.modifier, -line.charge, -line.paid,
                [(g, r, -c) for g, r, c in line.adjustments], line.day, line.control)


def plan(denials: int, seed: int) -> list[Remittance]:
    """The remittances, in order of production, until ``denials`` denied lines are written."""
    rng = random.Random(f"outcomes:{denials}:{seed}")
    weekly = max(1, denials // (WEEKS * len(PAYERS)))
    remittances: list[Remittance] = []
    answers: dict[tuple[int, date], Remittance] = {}
    number, written, week = 0, 0, 0
    while written < denials:
        produced = START + timedelta(weeks=week % WEEKS, days=week // WEEKS)
        for index, payer in enumerate(PAYERS):
            remittance = Remittance(payer, produced)
            in_remittance = 0
            while written < denials and in_remittance < weekly:
                number += 1
                used: set[str] = set()
                day = produced - timedelta(days=rng.randint(10, 70))
                claim = Claim(number, [_line(rng, used, day) for _ in range(rng.randint(1, 3))])
                for position, line in enumerate(claim.lines, 1):
                    line.control = f"{claim.pcn}L{position}"
                remittance.claims.append(claim)
                records = sum(1 for x in claim.lines if x.paid == 0 or x.reason)
                written += records
                in_remittance += records
                if any(x.fate for x in claim.lines):
                    later = answers.setdefault((index, produced), Remittance(
                        payer, produced + ANSWER_AFTER))
                    later.answers.append((claim, rng.random() < 0.1))
            remittances.append(remittance)
        week += 1
    return sorted([*remittances, *answers.values()], key=lambda r: r.produced)


def _claim_segments(claim: Claim, lines: list[Line], status: str) -> Iterator[str]:
    charge = sum(x.charge for x in lines)
    paid = sum(x.paid for x in lines)
    yield (f"CLP*{claim.pcn}*{status}*{money(charge)}*{money(paid)}**12*{claim.icn}*11*1")
    yield f"NM1*QC*1*PATIENT*SYNTHETIC****MI*M{claim.number:09d}"
    for line in lines:
        procedure = ":".join(x for x in ("HC", line.code, line.modifier) if x)
        yield f"SVC*{procedure}*{money(line.charge)}*{money(line.paid)}**1"
        yield f"DTM*472*{line.day:%Y%m%d}"
        for group, reason, cents in line.adjustments:
            yield f"CAS*{group}*{reason}*{money(cents)}"
        yield f"REF*6R*{line.control}"


def _body(remittance: Remittance) -> tuple[list[str], int]:
    segments: list[str] = ["LX*1"]
    total = 0
    for claim in remittance.claims:
        segments += _claim_segments(claim, claim.lines, "1")
        total += sum(x.paid for x in claim.lines)
    for claim, reversed_first in remittance.answers:
        answered = [(x, _answer(x)) for x in claim.lines if x.fate]
        if reversed_first:
            segments += _claim_segments(claim, [_negated(x) for x, _ in answered], "22")
            total -= sum(x.paid for x, _ in answered)
        later = [a for _, a in answered]
        segments += _claim_segments(claim, later, "1")
        total += sum(x.paid for x in later)
    return segments, total


def write(remittance: Remittance, path: Path) -> None:
    """One balanced 005010X221A1 interchange of the remittance."""
    name, payer_id = remittance.payer
    body, total = _body(remittance)
    produced = remittance.produced
    header = [f"BPR*I*{money(total)}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*"
              f"999988880*DA*98765*{produced:%Y%m%d}",
              f"TRN*1*EFT{payer_id}{produced:%Y%m%d}*1512345678", f"DTM*405*{produced:%Y%m%d}",
              f"N1*PR*{name}*XV*{payer_id}", "N1*PE*SYNTHETIC CLINIC*XX*1234567893"]
    segments = ["ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     *"
                f"{produced:%y%m%d}*1200*^*00501*000000001*0*P*:",
                f"GS*HP*SENDERID*RECEIVERID*{produced:%Y%m%d}*1200*1*X*005010X221A1",
                "ST*835*0001", *header, *body, f"SE*{len(header) + len(body) + 2}*0001",
                "GE*1*1", "IEA*1*000000001"]
    path.write_text(TERMINATOR.join(segments) + TERMINATOR, encoding="ascii")


def ensure(denials: int, seed: int) -> list[Path]:
    """The files for ``denials`` denied lines, in order of production; written when missing.

    A file's name ends in ``-first.835`` (new claims) or ``-answers.835`` (later decisions).
    """
    folder = DATA_DIR / f"outcomes-{denials}-s{seed}-v{GENERATOR_VERSION}"
    done = folder / "done"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for index, remittance in enumerate(plan(denials, seed)):
            kind = "answers" if remittance.answers else "first"
            write(remittance, folder / f"{index:04d}-{remittance.produced:%Y%m%d}-"
                                       f"{remittance.payer[1]}-{kind}.835")
        done.write_text("ok\n")
    return sorted(folder.glob("*.835"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("denials", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    files = ensure(args.denials, args.seed)
    print(f"{len(files)} files in {files[0].parent}")


if __name__ == "__main__":
    main()
