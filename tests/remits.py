"""Small 835 remittances built in the tests: a claim, its lines, a production date.

``remit([claim("PCN1", line("99213", "150.00", "0", ("CO", "50", "150.00")))],
produced="20260901")`` is one balanced 005010X221A1 interchange with one claim. Amounts are
strings as the 835 writes them; a line's adjustments are (group, CARC, amount) triplets.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

PAYER = "ACME HEALTH PLAN"
PAYER_ID = "ACME1"


def line(code: str, charge: str, paid: str, *adjustments: tuple[str, str, str],
         day: str = "20260810", modifiers: tuple[str, ...] = (), control: str | None = None,
         remarks: tuple[str, ...] = ()) -> tuple[str, Decimal, Decimal]:
    """One SVC loop (its segments as text), with its charge and payment."""
    procedure = ":".join(("HC", code, *modifiers))
    segments = [f"SVC*{procedure}*{charge}*{paid}**1", f"DTM*472*{day}"]
    segments += [f"CAS*{group}*{reason}*{amount}" for group, reason, amount in adjustments]
    if control:
        segments.append(f"REF*6R*{control}")
    segments += [f"LQ*HE*{code}" for code in remarks]
    return "~".join(segments), Decimal(charge), Decimal(paid)


def claim(claim_id: str, *lines: tuple[str, Decimal, Decimal], status: str = "1",
          icn: str | None = None, member: str = "M100") -> tuple[str, Decimal]:
    """One CLP loop with its lines; CLP03/04 are their sums. Returns it with CLP04."""
    charge = sum((x[1] for x in lines), Decimal(0))
    paid = sum((x[2] for x in lines), Decimal(0))
    head = [f"CLP*{claim_id}*{status}*{charge}*{paid}**12*{icn or 'ICN' + claim_id}*11*1",
            f"NM1*QC*1*DOE*JANE****MI*{member}"]
    return "~".join([*head, *(x[0] for x in lines)]), paid


def remit(claims: list[tuple[str, Decimal]], *, produced: str = "20260901",
          paid_on: str | None = None, payer: str = PAYER, payer_id: str = PAYER_ID,
          trace: str = "EFT1") -> str:
    """An interchange with one remittance of these claims, produced on ``produced``."""
    total = sum((c[1] for c in claims), Decimal(0))
    body = [f"BPR*I*{total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765"
            f"*{paid_on or produced}", f"TRN*1*{trace}*1512345678", f"DTM*405*{produced}",
            f"N1*PR*{payer}*XV*{payer_id}", "N1*PE*GOOD CLINIC*XX*1234567893", "LX*1"]
    for text, _ in claims:
        body += text.split("~")
    segments = ["ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     "
                f"*{produced[2:]}*1200*^*00501*000000001*0*P*:",
                f"GS*HP*SENDERID*RECEIVERID*{produced}*1200*1*X*005010X221A1",
                "ST*835*0001", *body, f"SE*{len(body) + 2}*0001", "GE*1*1",
                "IEA*1*000000001"]
    return "~".join(segments) + "~"


def write(folder: Path, name: str, text: str) -> str:
    """Write an 835 into ``folder``; its path as a string."""
    path = folder / name
    path.write_text(text, encoding="ascii")
    return str(path)
