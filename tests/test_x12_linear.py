"""The 835 reader does work in proportion to the segments it reads, whatever their shape.

No clocks: each case reads a file of one shape at scale n and at 10n and counts the
function calls made (Python and built-in, by :mod:`cProfile`). Linear reading gives a
ratio near 10; one quadratic step (the ``list.index`` of the line balance check, which
compared every earlier line of the claim, or re-joining a tuple per repeated segment)
gives a ratio near 100. The shapes stress what grows in one place: one claim with many
lines, many adjustments or remarks, many claims, many transaction sets, repeated header
segments.
"""

from __future__ import annotations

import cProfile
import io
from collections.abc import Callable

import pytest

from agent.x12 import ParseWarning, Remittance835Reader
from tests.x12_samples import interchange, render, transaction

SCALE = 200
"""Units (lines, claims...) of the 1x file; the 10x file has ten times as many."""
MAX_RATIO = 12.0
"""Work at 10x over work at 1x: ~10 when linear (a little less, the envelope is fixed)."""

_HEADER = ["BPR*I*0*C*ACH", "TRN*1*EFT1*1512345678", "DTM*405*20240314", "N1*PR*PLAN",
           "N1*PE*CLINIC*XX*1234567893"]
_CLAIM = "CLP*PCN{n}*4*{charge}*0*0*12*ICN{n}*11*1"
_PATIENT = "NM1*QC*1*DOE*JANE****MI*M{n}"


def _file(*transactions: list[str]) -> str:
    return render(interchange(*transactions))


def one_claim_unbalanced_lines(n: int) -> str:
    """The issue's file: one claim, n lines, none balanced (a warning each)."""
    lines = ["SVC*HC:99213*10.00*0"] * n
    return _file(transaction([*_HEADER, _CLAIM.format(n=1, charge=f"{10 * n}.00"),
                              _PATIENT.format(n=1), *lines]))


def one_claim_full_lines(n: int) -> str:
    """One claim, n balanced lines with the segments a line can carry."""
    body = [*_HEADER, _CLAIM.format(n=1, charge=f"{10 * n}.00"), _PATIENT.format(n=1)]
    for i in range(n):
        body += [f"SVC*HC:99213:{i % 90 + 10:02d}*10.00*0**1", "DTM*472*20240102",
                 "CAS*CO*50*6.00*1*97*4.00", f"REF*6R*L{i}", "AMT*B6*10.00", "QTY*ZK*1",
                 "LQ*HE*N115"]
    return _file(transaction(body))


def many_claims(n: int) -> str:
    """n denied claims of two lines each in one transaction set."""
    body = list(_HEADER)
    for i in range(n):
        body += [_CLAIM.format(n=i, charge="20.00"), _PATIENT.format(n=i),
                 "SVC*HC:99213*10.00*0", "CAS*CO*50*10.00",
                 "SVC*HC:97110*10.00*0", "CAS*CO*97*10.00"]
    return _file(transaction(body))


def many_transactions(n: int) -> str:
    """n transaction sets of one claim each."""
    return _file(*(transaction([*_HEADER, _CLAIM.format(n=i, charge="10.00"),
                                _PATIENT.format(n=i), "CAS*CO*50*10.00"],
                               control=f"{i + 1:04d}") for i in range(n)))


def claim_level_segments(n: int) -> str:
    """One claim with n claim-level adjustments, remarks, references and amounts."""
    body = [*_HEADER, _CLAIM.format(n=1, charge=f"{n}.00"), _PATIENT.format(n=1)]
    for i in range(n):
        body += ["CAS*CO*50*1.00", "MOA***MA130*N10", f"REF*EA*R{i}", "AMT*AU*1.00",
                 "DTM*232*20240101"]
    return _file(transaction(body))


def repeated_header_segments(n: int) -> str:
    """A payer loop that repeats N3, PER and REF, and n provider adjustments and LX."""
    body = ["BPR*I*0*C*ACH", "TRN*1*EFT1*1512345678", "N1*PR*PLAN"]
    body += ["N3*1 PAYER WAY*SUITE 100", "PER*CX*CLAIMS*TE*8005551212", "REF*2U*9"] * n
    body += ["N1*PE*CLINIC*XX*1234567893"]
    for i in range(n):
        body += [f"LX*{i + 1}", _CLAIM.format(n=i, charge="10.00"), "CAS*CO*50*10.00"]
    body += ["PLB*1234567893*20241231*WO:X*1.00*WO:Y*-1.00"] * n
    return _file(transaction(body))


SHAPES: dict[str, Callable[[int], str]] = {
    "one claim, unbalanced lines": one_claim_unbalanced_lines,
    "one claim, full lines": one_claim_full_lines,
    "many claims": many_claims,
    "many transaction sets": many_transactions,
    "claim-level segments": claim_level_segments,
    "repeated header segments": repeated_header_segments,
}


def read_all(text: str) -> int:
    """Read every claim (the reader checks balances as each claim ends)."""
    reader = Remittance835Reader.from_text(text)
    return sum(1 for _ in reader) + len(reader.warnings)


def calls(action: Callable[[], object]) -> int:
    """Function calls (Python and built-in) made by ``action``: the work it does."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        action()
    finally:
        profiler.disable()
    return sum(entry.callcount for entry in profiler.getstats())


def work_ratio(build: Callable[[int], str], read: Callable[[str], object] = read_all,
               scale: int = SCALE) -> float:
    """Work reading the 10x file over work reading the 1x file (caches warmed first)."""
    small, large = build(scale), build(10 * scale)
    read(small)  # value caches (amounts, dates, procedures) filled on both sides alike
    return calls(lambda: read(large)) / calls(lambda: read(small))


@pytest.mark.parametrize("shape", SHAPES)
def test_reading_is_linear_in_segments(shape: str) -> None:
    ratio = work_ratio(SHAPES[shape])
    assert ratio < MAX_RATIO, f"{shape}: 10x the input cost {ratio:.1f}x the work"


def test_the_counter_sees_quadratic_work() -> None:
    """The measure itself: a read that compares each line with those before it (what the
    balance check did) is caught."""
    def quadratic_read(text: str) -> int:
        reader = Remittance835Reader.from_text(text)
        claims = list(reader)
        return sum(claim.lines.index(line) for claim in claims for line in claim.lines)

    assert work_ratio(one_claim_unbalanced_lines, quadratic_read) > 5 * MAX_RATIO


def test_unbalanced_lines_are_numbered_in_claim_order() -> None:
    reader = Remittance835Reader.from_text(one_claim_unbalanced_lines(3))
    list(reader)
    numbered = [w.message.split(":")[0] for w in reader.warnings if w.code == "line_unbalanced"]
    assert numbered == ["claim #1 line 1", "claim #1 line 2", "claim #1 line 3"]


def test_repeated_address_lines_are_capped_with_a_warning() -> None:
    reader = Remittance835Reader.from_text(repeated_header_segments(5))
    list(reader)
    payer = reader.remittances[0].payer
    assert payer.address is not None and len(payer.address.lines) == 4
    assert sum(w.code == "address_lines" for w in reader.warnings) == 3


def test_max_warnings_keeps_the_first_and_counts_the_rest() -> None:
    seen: list[ParseWarning] = []
    reader = Remittance835Reader(io.StringIO(one_claim_unbalanced_lines(10)), "<text>",
                                 on_warning=seen.append, max_warnings=4)
    list(reader)
    assert len(reader.warnings) == 4 and reader.warnings == seen[:4]
    assert reader.warnings_dropped == len(seen) - 4 > 0
