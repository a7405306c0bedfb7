"""Deterministic generator of large synthetic 005010X221A1 835 remittance files.

The files look like a busy professional (physician/behavioural health) payer remittance:
one ISA/GS/ST interchange with a full header (BPR, TRN, DTM*405, N1*PR with N3/N4/PER,
N1*PE with N3/N4/REF), one LX, then N claims of about three service lines each. Every
line balances (charge - paid = sum of its CAS), every claim balances (charge - paid =
claim CAS + line CAS), BPR02 = sum of CLP04 - sum of PLB amounts and SE01 counts the
transaction's segments, so a correct reader emits no warning at all.

Amounts are handled as integer cents. The same ``(claims, seed)`` always gives the same
bytes. Segments end with ``~`` and a newline.

Run ``python benchmarks/synth835.py 10000`` to (re)write one file and print its path.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

DATA_DIR = Path(__file__).resolve().parent / ".data"
"""Where generated files live (gitignored)."""

DEFAULT_SEED = 835
GENERATOR_VERSION = 1
"""Bump when the output changes, so stale files are regenerated."""

TERMINATOR = "~\n"

# (code, charge in cents, unit-based, modifiers to pick from)
PROCEDURES: tuple[tuple[str, int, bool, tuple[str, ...]], ...] = (
    ("99213", 15000, False, ("", "", "25")),
    ("99214", 22000, False, ("", "", "25")),
    ("99203", 18000, False, ("",)),
    ("99204", 27000, False, ("",)),
    ("90837", 20000, False, ("", "95", "GT")),
    ("90834", 15000, False, ("", "95")),
    ("90791", 25000, False, ("",)),
    ("97110", 4500, True, ("GP", "GP:59")),
    ("97140", 4200, True, ("GP", "GP:59")),
    ("36415", 2500, False, ("",)),
    ("80053", 6000, False, ("", "QW")),
    ("85025", 3500, False, ("",)),
    ("93000", 8000, False, ("",)),
    ("71046", 12000, False, ("", "26")),
    ("20610", 21000, False, ("RT", "LT", "RT:59")),
    ("J1885", 1200, True, ("",)),
    ("G0439", 19000, False, ("",)),
)

# Downcodes the payer makes: billed (SVC06) -> paid as (SVC01).
DOWNCODES = {"90837": "90834", "99214": "99213", "99204": "99203"}

LAST_NAMES = ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
              "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON",
              "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON")
FIRST_NAMES = ("JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA",
               "DAVID", "ELIZABETH", "WILLIAM", "BARBARA", "RICHARD", "SUSAN", "JOSEPH",
               "JESSICA", "THOMAS", "SARAH", "CHARLES", "KAREN", "DANIEL", "NANCY")
MIDDLE_INITIALS = ("", "", "A", "B", "C", "J", "L", "M", "R")

FILING_INDICATORS = ("12", "12", "12", "13", "14", "15", "HM", "MB", "MC")
"""CLP06 codes of 005010X221A1 (BL and CI are 837-only: not valid in an 835)."""
PLACES_OF_SERVICE = ("11", "11", "11", "02", "10", "22")

LINE_DENIALS = ("50", "97", "16", "197", "4", "11", "18", "151", "B7", "96", "234")
"""CARCs (group CO) for a line denied on an otherwise paid claim."""
CLAIM_DENIALS = ("29", "27", "16", "197", "50", "109", "31")
"""CARCs (group CO) for a claim denied outright (CLP02 = 4)."""
DENIAL_REMARKS = {"16": "M51", "50": "N115", "97": "M15", "197": "N54", "4": "M78",
                  "11": "M76", "29": "N211", "109": "N418", "234": "N20", "96": "N130"}
"""LQ*HE remark codes sent with some denials."""


@dataclass(slots=True)
class Line:
    """One adjudicated service line, in cents."""

    code: str
    modifiers: tuple[str, ...]
    charge: int
    paid: int
    units: int
    service_date: date
    adjustments: list[tuple[str, str, int]]
    """(group, reason, cents) triplets; they add up to charge - paid."""
    original_code: str | None = None
    allowed: int | None = None
    remark: str | None = None


@dataclass(slots=True)
class Claim:
    """One claim with its lines and claim-level adjustments, in cents."""

    number: int
    status: str
    lines: list[Line]
    claim_adjustments: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def charge(self) -> int:
        """CLP03: the sum of the line charges."""
        return sum(line.charge for line in self.lines)

    @property
    def paid(self) -> int:
        """CLP04: line payments less claim-level adjustments."""
        return sum(line.paid for line in self.lines) - sum(a[2] for a in self.claim_adjustments)

    @property
    def patient_responsibility(self) -> int:
        """CLP05: every PR adjustment of the claim and its lines."""
        adjustments = [a for line in self.lines for a in line.adjustments]
        return sum(a[2] for a in adjustments + self.claim_adjustments if a[0] == "PR")


def money(cents: int) -> str:
    """An X12 ``R`` amount: no insignificant trailing zeros (``150``, ``80.5``, ``-3.25``)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}".rstrip("0")


def ymd(day: date) -> str:
    """CCYYMMDD."""
    return day.strftime("%Y%m%d")


def npi(rng: random.Random) -> str:
    """A random 10-digit NPI with a valid Luhn check digit (prefix 80840)."""
    body = "1" + "".join(str(rng.randrange(10)) for _ in range(8))
    digits = [int(c) for c in "80840" + body]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


# -- adjudication ---------------------------------------------------------------------

def patient_share(rng: random.Random, allowed: int) -> list[tuple[str, str, int]]:
    """0-2 PR triplets (deductible, coinsurance, copay) that add up to at most ``allowed``."""
    roll = rng.random()
    if roll < 0.35:
        return []
    if roll < 0.55:
        return [("PR", "3", min(allowed, rng.choice((2000, 3000, 4000))))]
    if roll < 0.8:
        return [("PR", "2", allowed // 5)]
    deductible = min(allowed // 2, rng.randrange(1000, 5001, 100))
    return [("PR", "1", deductible), ("PR", "2", (allowed - deductible) // 5)]


def paid_line(rng: random.Random, line: Line, secondary: bool) -> None:
    """Adjudicate a payable line: CO-45 fee-schedule cut, patient share, maybe more."""
    allowed = line.charge * rng.randrange(55, 86) // 100
    adjustments = [("CO", "45", line.charge - allowed)]
    roll = rng.random()
    if secondary:
        adjustments.append(("OA", "23", allowed * rng.randrange(60, 81) // 100))
    elif roll < 0.05 and line.units > 1:
        # Units reduced: one unit's worth denied as excess frequency, then cost sharing.
        per_unit = allowed // line.units
        adjustments.append(("CO", "151", per_unit))
        adjustments += patient_share(rng, allowed - per_unit)[:1]
    elif roll < 0.09:
        share = patient_share(rng, allowed)[:1]
        remaining = allowed - sum(a[2] for a in share)
        adjustments += [*share, ("CO", "253", remaining // 50)]
    else:
        adjustments += patient_share(rng, allowed)
    line.adjustments = [a for a in adjustments if a[2] > 0] or adjustments[:1]
    line.paid = line.charge - sum(a[2] for a in line.adjustments)
    line.allowed = allowed


def denied_line(rng: random.Random, line: Line, reason: str | None = None) -> None:
    """Deny a line in full: one CO triplet for the whole charge, sometimes a remark."""
    if reason is None and rng.random() < 0.2:
        # $0 paid because everything allowed went to the deductible.
        allowed = line.charge * rng.randrange(55, 86) // 100
        line.adjustments = [("CO", "45", line.charge - allowed), ("PR", "1", allowed)]
        line.paid, line.allowed = 0, allowed
        return
    reason = reason or rng.choice(LINE_DENIALS)
    line.adjustments = [("CO", reason, line.charge)]
    line.paid = 0
    if reason in DENIAL_REMARKS and rng.random() < 0.7:
        line.remark = DENIAL_REMARKS[reason]


def make_line(rng: random.Random, start: date) -> Line:
    """A billed line: procedure, modifiers, units, charge and date (not yet adjudicated)."""
    code, unit_charge, unit_based, modifier_choices = rng.choice(PROCEDURES)
    units = rng.randint(2, 4) if unit_based else 1
    modifier = rng.choice(modifier_choices)
    line = Line(code=code, modifiers=tuple(m for m in modifier.split(":") if m),
                charge=unit_charge * units, paid=0, units=units,
                service_date=start + timedelta(days=rng.choice((0, 0, 0, 1, 7))),
                adjustments=[])
    if code in DOWNCODES and rng.random() < 0.15:
        line.original_code, line.code = code, DOWNCODES[code]
    return line


def make_claim(rng: random.Random, number: int, service_start: date) -> Claim:
    """One adjudicated claim: 1-5 lines (about 3), status 1/2/4, balanced."""
    lines = [make_line(rng, service_start) for _ in range(rng.choice((1, 2, 3, 3, 3, 4, 5)))]
    roll = rng.random()
    if roll < 0.07:
        reason = rng.choice(CLAIM_DENIALS)
        for line in lines:
            denied_line(rng, line, reason)
        return Claim(number, "4", lines)
    secondary = roll < 0.12
    for line in lines:
        if not secondary and rng.random() < 0.12:
            denied_line(rng, line)
        else:
            paid_line(rng, line, secondary)
    claim = Claim(number, "2" if secondary else "1", lines)
    line_paid = sum(line.paid for line in lines)
    if not secondary and line_paid > 1000 and rng.random() < 0.05:
        claim.claim_adjustments = [("CO", "253", line_paid // 50)]
    return claim


# -- rendering ------------------------------------------------------------------------

def cas_segments(adjustments: list[tuple[str, str, int]]) -> list[str]:
    """CAS segments, one per group code, each with up to six (reason, amount) triplets."""
    by_group: dict[str, list[str]] = {}
    for group, reason, cents in adjustments:
        by_group.setdefault(group, []).append(f"{reason}*{money(cents)}")
    return ["CAS*" + group + "*" + "**".join(triplets) for group, triplets in by_group.items()]


def line_segments(line: Line, control: str) -> list[str]:
    """Loop 2110: SVC, DTM*472, CAS, REF*6R, AMT*B6, LQ*HE."""
    procedure = ":".join(("HC", line.code, *line.modifiers))
    svc = f"SVC*{procedure}*{money(line.charge)}*{money(line.paid)}**{line.units}"
    if line.original_code:
        svc += f"*HC:{line.original_code}"
    out = [svc, f"DTM*472*{ymd(line.service_date)}", *cas_segments(line.adjustments),
           f"REF*6R*{control}"]
    if line.allowed is not None:
        out.append(f"AMT*B6*{money(line.allowed)}")
    if line.remark:
        out.append(f"LQ*HE*{line.remark}")
    return out


def claim_segments(rng: random.Random, claim: Claim, icn: str) -> list[str]:
    """Loop 2100: CLP, claim CAS, NM1*QC, NM1*82, DTM*232/233 (and 050), then its lines."""
    member = f"{rng.choice('ABCHJKMW')}{rng.randrange(10**8, 10**9)}{rng.randrange(10, 99)}"
    pcn = f"PCN{claim.number:07d}"
    out = [f"CLP*{pcn}*{claim.status}*{money(claim.charge)}*{money(claim.paid)}*"
           f"{money(claim.patient_responsibility)}*{rng.choice(FILING_INDICATORS)}*{icn}*"
           f"{rng.choice(PLACES_OF_SERVICE)}*1",
           *cas_segments(claim.claim_adjustments),
           f"NM1*QC*1*{rng.choice(LAST_NAMES)}*{rng.choice(FIRST_NAMES)}*"
           f"{rng.choice(MIDDLE_INITIALS)}***MI*{member}",
           f"NM1*82*1*{rng.choice(LAST_NAMES)}*{rng.choice(FIRST_NAMES)}****XX*{npi(rng)}"]
    dates = sorted(line.service_date for line in claim.lines)
    out += [f"DTM*232*{ymd(dates[0])}", f"DTM*233*{ymd(dates[-1])}"]
    if rng.random() < 0.3:
        out.append(f"DTM*050*{ymd(dates[-1] + timedelta(days=rng.randint(3, 40)))}")
    for number, line in enumerate(claim.lines, start=1):
        out += line_segments(line, f"{claim.number}L{number}")
    return out


@dataclass(slots=True)
class Totals:
    """What the header and trailer need once all claims are written."""

    segments: int = 0
    paid: int = 0
    provider_adjustments: list[tuple[str, int]] = field(default_factory=list)
    """(PLB reason[:reference], cents): positive reduces the payment."""


def write_claims(out: TextIO, rng: random.Random, claims: int, produced: date) -> Totals:
    """Write the claims (LX loop) and collect the totals; some claims spawn a PLB entry."""
    totals = Totals()
    out.write("LX*1" + TERMINATOR)
    totals.segments += 1
    for number in range(1, claims + 1):
        start = produced - timedelta(days=rng.randint(14, 120))
        claim = make_claim(rng, number, start)
        icn = f"{rng.randrange(10**12, 10**13)}"
        segments = claim_segments(rng, claim, icn)
        out.write(TERMINATOR.join(segments) + TERMINATOR)
        totals.segments += len(segments)
        totals.paid += claim.paid
        roll = rng.random()
        if roll < 0.002 and claim.paid > 0:
            totals.provider_adjustments.append((f"WO:{icn}", claim.paid // 4 or 1))
        elif roll < 0.004:
            totals.provider_adjustments.append((f"L6:{icn}", -rng.randrange(10, 500)))
    if claims and not totals.provider_adjustments:
        totals.provider_adjustments.append(("L6", -rng.randrange(10, 500)))
    return totals


def plb_segments(provider_id: str, period_end: date,
                 adjustments: list[tuple[str, int]]) -> list[str]:
    """PLB segments carrying up to six adjustments each."""
    out = []
    for i in range(0, len(adjustments), 6):
        pairs = "*".join(f"{reason}*{money(c)}" for reason, c in adjustments[i:i + 6])
        out.append(f"PLB*{provider_id}*{ymd(period_end)}*{pairs}")
    return out


def header_segments(rng: random.Random, totals: Totals, produced: date,
                    payee_npi: str) -> list[str]:
    """ST through LX's predecessors: BPR, TRN, DTM*405, payer and payee loops."""
    payment = totals.paid - sum(c for _, c in totals.provider_adjustments)
    trace = f"EFT{rng.randrange(10**9, 10**10)}"
    return [
        "ST*835*0001",  # ST03 is "not used" in 005010X221A1
        f"BPR*I*{money(payment)}*C*ACH*CCP*01*999999999*DA*123456789*1512345678**01*"
        f"999988880*DA*98765*{ymd(produced + timedelta(days=2))}",
        f"TRN*1*{trace}*1512345678",
        f"DTM*405*{ymd(produced)}",
        "N1*PR*SYNTHETIC HEALTH PLAN",
        "N3*100 PAYER PLAZA*SUITE 500",
        "N4*SPRINGFIELD*IL*627010001",
        "REF*2U*SYN01",
        "PER*CX*PROVIDER SERVICES*TE*8005551212",
        "PER*BL*EDI SUPPORT*TE*8005551213*EM*edi@example.com",
        "PER*IC**UR*www.example.com/providers",
        f"N1*PE*SYNTHETIC BEHAVIORAL GROUP*XX*{payee_npi}",
        "N3*200 CLINIC ROAD",
        "N4*SPRINGFIELD*IL*627020002",
        "REF*TJ*371234567",
    ]


def write_file(path: Path, claims: int, seed: int = DEFAULT_SEED) -> Path:
    """Write a balanced 835 with ``claims`` claims to ``path`` (atomically) and return it.

    The claims are written to a temporary body file first (memory stays flat at any size),
    then the header, which needs the totals, is written in front of them.
    """
    rng = random.Random(f"{seed}:{claims}")
    produced = date(2024, 6, 14)
    payee_npi = npi(rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+", encoding="ascii", newline="") as body:
        totals = write_claims(body, rng, claims, produced)
        header = header_segments(rng, totals, produced, payee_npi)
        trailer = plb_segments(payee_npi, date(2024, 12, 31), totals.provider_adjustments)
        se_count = len(header) + totals.segments + len(trailer) + 1
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="ascii", newline="") as out:
            for segment in envelope_head(produced):
                out.write(segment + TERMINATOR)
            out.write(TERMINATOR.join(header) + TERMINATOR)
            body.seek(0)
            while chunk := body.read(1 << 20):
                out.write(chunk)
            for segment in [*trailer, f"SE*{se_count}*0001", "GE*1*1", "IEA*1*000000001"]:
                out.write(segment + TERMINATOR)
    os.replace(tmp_name, path)
    return path


def envelope_head(produced: date) -> list[str]:
    """ISA (fixed width) and GS."""
    return [
        "ISA*00*          *00*          *ZZ*SYNPAYER       *ZZ*SYNPROVIDER    *"
        f"{produced:%y%m%d}*1200*^*00501*000000001*0*P*:",
        f"GS*HP*SYNPAYER*SYNPROVIDER*{ymd(produced)}*1200*1*X*005010X221A1",
    ]


def data_path(claims: int, seed: int = DEFAULT_SEED) -> Path:
    """Where the file for ``claims`` claims lives."""
    return DATA_DIR / f"synth-{claims}-s{seed}-v{GENERATOR_VERSION}.835"


def ensure_file(claims: int, seed: int = DEFAULT_SEED) -> Path:
    """The generated file for ``claims`` claims, written only when it is missing."""
    path = data_path(claims, seed)
    if not path.exists():
        write_file(path, claims, seed)
    return path


def iter_sizes(text: str) -> Iterator[int]:
    """Parse ``1000,10k,100000`` into integers."""
    for part in text.split(","):
        part = part.strip().lower()
        if part:
            yield int(part[:-1]) * 1000 if part.endswith("k") else int(part)


def main() -> None:
    """Command line: write the files for the given sizes (always rewriting them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", help="claim counts, comma separated (e.g. 1000,10k)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    for claims in iter_sizes(args.sizes):
        path = write_file(data_path(claims, args.seed), claims, args.seed)
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
