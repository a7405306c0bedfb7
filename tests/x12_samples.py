"""A small, valid 005010X221A1 835 builder shared by the X12 reader tests.

Segments are written with ``*`` element separators and ``:`` component separators and
rendered with ``~`` terminators; :func:`render` can swap any of them. No element value
contains a delimiter, so a plain ``str.replace`` is enough to change delimiters.

The golden remittance balances at every level (lines, claims, BPR02 = payments - PLB), so
any warning the reader emits for it is a regression. The patient name and member id are
the sentinels :data:`SECRET_NAME` / :data:`SECRET_ID`: tests assert they never leak into
error or warning messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SECRET_NAME = "ZZSECRETNAME"
SECRET_ID = "ZZSECRETID"
SECRET_FIRST = "ZZSECRETFIRST"

ISA_CONTROL = "000000001"


def isa(*, version: str = "00501", repetition: str = "^", component: str = ":",
        control: str = ISA_CONTROL) -> str:
    """A fixed-width ISA segment (ISA06/ISA08 padded to 15 characters)."""
    return ("ISA*00*          *00*          *ZZ*SENDERID       *ZZ*RECEIVERID     "
            f"*240315*1200*{repetition}*{version}*{control}*0*P*{component}")


def transaction(body: Sequence[str], *, control: str = "0001",
                version: str | None = "005010X221A1", se_count: int | None = None,
                transaction_id: str = "835") -> list[str]:
    """ST + body + SE, with SE01 counting ST..SE unless ``se_count`` overrides it."""
    st = f"ST*{transaction_id}*{control}" + (f"*{version}" if version else "")
    count = len(body) + 2 if se_count is None else se_count
    return [st, *body, f"SE*{count}*{control}"]


def interchange(*transactions: Sequence[str], isa_version: str = "00501",
                gs_version: str = "005010X221A1", component: str = ":",
                repetition: str = "^", control: str = ISA_CONTROL) -> list[str]:
    """ISA/GS + transactions + GE/IEA (one functional group)."""
    segments = [isa(version=isa_version, repetition=repetition, component=component,
                    control=control),
                f"GS*HP*SENDERID*RECEIVERID*20240315*1200*1*X*{gs_version}"]
    for tx in transactions:
        segments.extend(tx)
    segments += [f"GE*{len(transactions)}*1", f"IEA*1*{control}"]
    return segments


def render(segments: Iterable[str], *, term: str = "~", after: str = "", element: str = "*",
           component: str = ":", final_terminator: bool = True) -> str:
    """Join segments into X12 text. ``after`` follows every terminator (e.g. CR/LF)."""
    segments = list(segments)
    if element != "*" or component != ":":
        segments = [s.replace("*", "\0").replace(":", component).replace("\0", element)
                    for s in segments]
    text = "".join(s + term + after for s in segments)
    if not final_terminator:
        text = text[: len(text) - len(term + after)]
    return text


# -- the golden remittance ------------------------------------------------------------

HEADER = [
    "BPR*I*187.50*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765"
    "*20240316",
    "TRN*1*EFT12345*1512345678",
    "REF*EV*RECEIVER77",
    "DTM*405*20240314",
    "N1*PR*ACME HEALTH PLAN*XV*PAYER01",
    "N3*1 PAYER WAY*SUITE 100",
    "N4*SPRINGFIELD*IL*62701",
    "REF*2U*99999",
    "PER*CX*CLAIMS DEPT*TE*8005551212*EM*claims@example.com",
    "PER*BL*TECH SUPPORT*TE*8005551213",
    "N1*PE*GOOD CLINIC*XX*1234567893",
    "N3*9 MAIN ST",
    "N4*CHICAGO*IL*60601",
    "REF*TJ*123456789",
]

CLAIM_1 = [
    "LX*1",
    "TS3*1234567893*11*20241231*2*525.00",
    "TS2*100.00*50.00",
    # charge 525 - paid 300 = 225 = claim CAS 25 + line CAS 120 + 80
    "CLP*PCN001*1*525.00*300.00*40.00*MB*PAYERICN001*13*1*01*470*1.2345*0.5*Y",
    "CAS*CO*45*10.00*1*253*2.00**A2*3.00*2*B7*1.00**23*4.00**94*5.00*3",
    f"NM1*QC*1*{SECRET_NAME}*{SECRET_FIRST}*Q***MI*{SECRET_ID}",
    "NM1*IL*1*DOE*JOHN****MI*SUB123",
    "NM1*74*1*DOE*JANIE****C*CORR456",
    "NM1*82*1*SMITH*ALAN****XX*1999999984",
    "NM1*TT*2*CROSSOVER PLAN*****PI*CO789",
    "NM1*PR*2*PRIMARY PLAN*****PI*PR555",
    "MIA*0***12.50*MA01***************N1*N2*N3*N4*N5",
    "MOA*10*5.00*MA130*MA27*N10*N20*N30*7.00*8.00",
    "DTM*232*20240101",
    "DTM*233*20240105",
    "DTM*050*20240110",
    "DTM*036*20241231",
    "REF*1L*GROUP77",
    "REF*EA*MRN55",
    "AMT*AU*460.00",
    "QTY*CA*4",
    "SVC*HC:99214:25:59:RT:LT*300.00*180.00*0450*1*HC:99215:GT*2",
    "DTM*472*20240102",
    "CAS*CO*45*100.00",
    "CAS*PR*2*20.00",
    "REF*6R*LINE001",
    "REF*LU*LOC1",
    "AMT*B6*200.00",
    "QTY*ZK*1",
    "LQ*HE*N115",
    "LQ*RX*75",
    "SVC*HC:97110*200.00*120.00**2",
    "DTM*150*20240103",
    "DTM*151*20240104",
    "CAS*CO*45*80.00",
    "REF*6R*LINE002",
    "AMT*B6*120.00",
    "LQ*HE*M80",
]

CLAIM_2_REVERSAL = [
    "LX*2",
    "CLP*PCN002*22*-150.00*-100.00**12*PAYERICN002*11*8",
    "CAS*CO*45*-50.00",
    f"NM1*QC*1*{SECRET_NAME}*{SECRET_FIRST}****MI*{SECRET_ID}",
]

CLAIM_3_DENIED = [
    "CLP*PCN003*4*250.00*0*0*12*PAYERICN003*11*1",
    f"NM1*QC*1*{SECRET_NAME}*{SECRET_FIRST}****MI*{SECRET_ID}",
    "SVC*HC:J1234:JW*250.00*0**1",
    "DTM*472*20240201",
    "CAS*CO*50*250.00",
    "LQ*HE*N115",
]

# paid 300 - 100 + 0 = 200; PLB 15.00 - 2.50 = 12.50; BPR02 = 187.50
TRAILER = ["PLB*1234567893*20241231*WO:PCN009*15.00*L6*-2.50"]

GOLDEN_BODY = [*HEADER, *CLAIM_1, *CLAIM_2_REVERSAL, *CLAIM_3_DENIED, *TRAILER]


def golden_segments(**interchange_options: str) -> list[str]:
    """The golden remittance as a list of segments, ISA first and IEA last."""
    return interchange(transaction(GOLDEN_BODY), **interchange_options)


def golden_835(**render_options: object) -> str:
    """The golden remittance as X12 text (``~`` terminators unless told otherwise)."""
    return render(golden_segments(), **render_options)  # type: ignore[arg-type]


def simple_body(claim_id: str = "PCN001", charge: str = "100.00", paid: str = "80.00",
                adjustment: str = "20.00") -> list[str]:
    """A minimal balanced remittance body: one claim with one service line."""
    return [
        f"BPR*I*{paid}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765"
        "*20240316",
        "TRN*1*EFT12345*1512345678",
        "DTM*405*20240314",
        "N1*PR*ACME HEALTH PLAN",
        "N1*PE*GOOD CLINIC*XX*1234567893",
        f"CLP*{claim_id}*1*{charge}*{paid}*0*12*ICN{claim_id}*11*1",
        f"NM1*QC*1*{SECRET_NAME}*{SECRET_FIRST}****MI*{SECRET_ID}",
        f"SVC*HC:99213*{charge}*{paid}",
        "DTM*472*20240102",
        f"CAS*CO*45*{adjustment}",
    ]


def simple_835(**render_options: object) -> str:
    """A minimal valid enveloped 835 with one balanced claim."""
    return render(interchange(transaction(simple_body())), **render_options)  # type: ignore[arg-type]
