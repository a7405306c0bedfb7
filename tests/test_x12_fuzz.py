"""Property tests: whatever the 835 reader is given, it ends, and it fails only one way.

The property, for every input: iterating :class:`Remittance835Reader` either completes or
raises :class:`X12ParseError` whose message starts with the source name; it never raises
anything else and it terminates (a Hypothesis deadline per example, and a hard SIGALRM
limit so that a real hang fails the test instead of stalling CI).

Inputs: (a) random text and bytes; (b) the golden 835 truncated anywhere; (c) the golden
835 with random edits and delimiter swaps; (d) random sequences of plausible segments, and
claims assembled from real segments with some elements changed. Runs are derandomized so
CI is stable (about 300 examples a test); exhaustive (non-Hypothesis) sweeps cover every
truncation point, every single-character deletion and every delimiter substitution of the
golden file. ``--hypothesis-show-statistics`` shows how deep the inputs get.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import agent.x12.segments as x12_segments
from agent.x12 import Remittance835Reader, X12ParseError
from tests.x12_samples import (
    CLAIM_1,
    CLAIM_2_REVERSAL,
    CLAIM_3_DENIED,
    GOLDEN_BODY,
    HEADER,
    SECRET_FIRST,
    SECRET_ID,
    SECRET_NAME,
    TRAILER,
    golden_835,
    golden_segments,
    interchange,
    isa,
    render,
    simple_body,
    transaction,
)

SOURCE = "fuzz-case.835"
HARD_TIME_LIMIT = 20.0
"""Seconds one example may run before SIGALRM turns a hang into a failure."""

FUZZ_SCALE = max(1, int(os.environ.get("APPEALS_FUZZ_SCALE", "1")))
"""Examples per test, times 300 (``make stress`` sets 10: tens of thousands of files, and
new random ones each run rather than the derandomized set)."""

FUZZ = settings(
    max_examples=300 * FUZZ_SCALE,
    deadline=2000,
    derandomize=FUZZ_SCALE == 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class ReaderHung(Exception):
    """Raised by SIGALRM when one read takes longer than HARD_TIME_LIMIT."""


@contextmanager
def hard_time_limit(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():  # pragma: no cover - not POSIX, or a worker thread
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise ReaderHung(f"the reader did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def consume(reader: Remittance835Reader) -> X12ParseError | None:
    """Read everything; return the parse error, if any. Any other exception propagates."""
    error: X12ParseError | None = None
    try:
        with hard_time_limit(HARD_TIME_LIMIT):
            for claim in reader:
                # touch what a consumer touches, so lazy failures would surface here
                assert isinstance(claim.charge, Decimal) and isinstance(claim.paid, Decimal)
                for line in claim.lines:
                    assert isinstance(line.charge, Decimal)
                    _ = line.procedure.display, line.submitted_procedure, line.allowed_amount
                _ = claim.remarks, claim.service_date, claim.remittance.remittance_date
    except X12ParseError as raised:
        error = raised
        message = str(error)
        assert message.startswith(f"{SOURCE}: "), message
        assert error.source == SOURCE
        assert len(message) > len(SOURCE) + 2
    for warning in reader.warnings:
        assert str(warning).startswith(f"{SOURCE}: "), str(warning)
        assert warning.code
    return error


def check(text: str, *, record: bool = True) -> X12ParseError | None:
    reader = Remittance835Reader.from_text(text, SOURCE)
    error = consume(reader)
    if record:  # visible with --hypothesis-show-statistics: how deep the inputs get
        event("read" if error is None else "X12ParseError")
        event(f"claims read: {min(reader.stats.claims, 4)}"
              f"{'+' if reader.stats.claims > 4 else ''}")
    return error


GOLDEN_VARIANTS = {
    "tilde": golden_835(),
    "tilde-crlf": golden_835(after="\r\n"),
    "newline": golden_835(term="\n"),
    "bare": render(transaction(GOLDEN_BODY)),
    "pipes": render(golden_segments(component="^", repetition="+"), element="|",
                    component="^", term="\n"),
}
X12_CHARS = "ISAGSTEBPRNLXCVQMDKZ0123456789*:~^>|\n\r .-"
DELIMITERS = "*:~^>|\n\r!'"


# -- (a) random text and bytes --------------------------------------------------------


@FUZZ
@given(st.text(max_size=3000))
@example("")
@example("ISA")
@example("ST*")
@example("ISA*" + "*" * 15 + ":~")
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.binary(max_size=3000))
@example(b"\xef\xbb\xbfISA*")
@example(b"%PDF-1.7\n\x00\xff\xfe")
def test_random_bytes(data: bytes) -> None:
    check(data.decode("utf-8", errors="replace"))
    check(data.decode("latin-1"))


@FUZZ
@given(st.sampled_from([isa() + "~", isa() + "\n", "ST*835*0001~", "ST*835*0001\n",
                        isa() + "~GS*HP*S*R*20240101*1200*1*X*005010X221A1~ST*835*1~"]),
       st.text(alphabet=X12_CHARS, max_size=2000))
def test_random_text_after_a_valid_header(header: str, tail: str) -> None:
    """Random X12-ish characters behind a real ISA/ST, so the reader gets past detection."""
    check(header + tail)


@settings(FUZZ, max_examples=60 * FUZZ_SCALE)
@given(st.binary(max_size=2000), st.sampled_from(list(GOLDEN_VARIANTS.values())))
def test_random_bytes_through_open(junk: bytes, golden: str) -> None:
    """``open()`` decodes with errors='replace' and newline='': never a UnicodeDecodeError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "era.835"
        cut = len(junk) % (len(golden) + 1)
        path.write_bytes(golden.encode()[:cut] + junk)
        reader = Remittance835Reader.open(path, source=SOURCE)
        consume(reader)


# -- (b) a valid 835 truncated --------------------------------------------------------


def _must_fail_before(variant: str, text: str) -> int:
    """Truncating before this offset must raise: the trailer that closes the file is gone."""
    if variant == "bare":
        return text.rindex("SE")
    return text.rindex("IEA")


@FUZZ
@given(st.sampled_from(sorted(GOLDEN_VARIANTS)), st.data())
def test_truncated_anywhere(variant: str, data: st.DataObject) -> None:
    text = GOLDEN_VARIANTS[variant]
    cut = data.draw(st.integers(0, len(text)), label="cut")
    error = check(text[:cut])
    if cut < _must_fail_before(variant, text):
        assert error is not None, f"truncated at {cut} of {len(text)} but read without error"


@pytest.mark.parametrize("variant", sorted(GOLDEN_VARIANTS))
def test_truncated_at_every_position(variant: str) -> None:
    text = GOLDEN_VARIANTS[variant]
    limit = _must_fail_before(variant, text)
    silently_read = []
    for cut in range(len(text) + 1):
        error = check(text[:cut], record=False)
        if error is None and cut < limit:
            silently_read.append(cut)
    assert silently_read == [], f"truncations read without an error: {silently_read[:10]}"


# -- (c) a valid 835 with random edits ------------------------------------------------

EDIT_CHARS = st.one_of(st.sampled_from(DELIMITERS), st.sampled_from("0123456789ABCZ. -"),
                       st.characters(codec="utf-8"))
EDITS = st.lists(
    st.tuples(st.sampled_from(["replace", "insert", "delete", "duplicate"]),
              st.floats(0, 1, exclude_max=True), EDIT_CHARS),
    min_size=1, max_size=4)


def apply_edits(text: str, edits: list[tuple[str, float, str]]) -> str:
    for kind, where, char in edits:
        if not text:
            break
        pos = int(where * len(text))
        if kind == "replace":
            text = text[:pos] + char + text[pos + 1:]
        elif kind == "insert":
            text = text[:pos] + char + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + 1:]
        else:  # duplicate a run of text (a repeated segment, a doubled element)
            text = text[:pos] + text[pos:pos + 40] + text[pos:]
    return text


@FUZZ
@given(st.sampled_from(sorted(GOLDEN_VARIANTS)), EDITS)
def test_random_edits(variant: str, edits: list[tuple[str, float, str]]) -> None:
    check(apply_edits(GOLDEN_VARIANTS[variant], edits))


@FUZZ
@given(st.sampled_from(sorted(GOLDEN_VARIANTS)), st.sampled_from(DELIMITERS),
       st.one_of(st.sampled_from(DELIMITERS), st.characters(codec="utf-8")),
       st.sampled_from(["all", "first", "last", "swap"]))
def test_delimiter_swaps(variant: str, old: str, new: str, how: str) -> None:
    text = GOLDEN_VARIANTS[variant]
    if how == "all":
        text = text.replace(old, new)
    elif how == "first":
        text = text.replace(old, new, 1)
    elif how == "last":
        head, sep, tail = text.rpartition(old)
        text = head + new + tail if sep else text
    else:
        text = text.translate(str.maketrans(old + new, new + old)) if len(new) == 1 else text
    check(text)


def test_every_single_character_deletion() -> None:
    text = GOLDEN_VARIANTS["tilde"]
    for pos in range(len(text)):
        check(text[:pos] + text[pos + 1:], record=False)


@pytest.mark.parametrize("char", ["*", ":", "~", "^", "\n", "9", "-", "."])
def test_every_single_character_replacement(char: str) -> None:
    text = GOLDEN_VARIANTS["tilde"]
    for pos in range(len(text)):
        check(text[:pos] + char + text[pos + 1:], record=False)


# -- (d) random sequences of plausible segments ---------------------------------------

SEGMENT_IDS = ["ISA", "GS", "ST", "BPR", "TRN", "CUR", "REF", "DTM", "N1", "N3", "N4", "PER",
               "RDM", "LX", "TS3", "TS2", "CLP", "CAS", "NM1", "MIA", "MOA", "AMT", "QTY",
               "SVC", "LQ", "PLB", "SE", "GE", "IEA", "N2", "K3", "ZZ", "XYZ", "Nm1", "A", ""]
PLAUSIBLE_VALUES = [
    "", "835", "837", "0001", "1", "2", "4", "22", "99", "HP", "005010X221A1", "004010X091A1",
    "00501", "HC:99213", "HC:99213:25:59:RT:LT", "HC>99213", "HC", "99213", "NU:0450",
    "HC:1:2:3:4:5:6:7:8", ":", "100.00", "-5", "0", ".5", "-.25", "12.3.4", "1e5", "NaN",
    "abc", "20240101", "20241341", "2024", "240101", "CO", "PR", "OA", "PI", "CR", "XX", "45",
    "A2", "HE", "RX", "N115", "MA130", "I", "H", "C", "ACH", "CHK", "QC", "IL", "74", "82",
    "TT", "PE", "MI", "405", "472", "150", "151", "232", "233", "050", "036", "6R", "B6",
    "EV", "WO:PCN1", "L6", "WO", SECRET_NAME, SECRET_ID, " ", "99999999999999999999",
]
# Any Unicode text as well, superscript and other non-ASCII digits included.
_ANY_CHAR = st.characters(codec="utf-8")
VALUES = st.one_of(st.sampled_from(PLAUSIBLE_VALUES),
                   st.text(alphabet="0123456789.-ABCXZ: ", max_size=10),
                   st.text(alphabet=_ANY_CHAR, max_size=8))


def mutate_element(segment: str, index: int, value: str, truncate: bool) -> str:
    """A real segment with one element replaced by a plausible value (or cut after it)."""
    elements = segment.split("*")
    index = 1 + index % max(len(elements) - 1, 1)
    if index >= len(elements):
        elements.append(value)
    else:
        elements[index] = value
    return "*".join(elements[: index + 1] if truncate else elements)


RANDOM_SEGMENT = st.builds(lambda sid, values: "*".join([sid, *values]),
                           st.sampled_from(SEGMENT_IDS), st.lists(VALUES, max_size=22))
REAL_SEGMENT = st.sampled_from([*GOLDEN_BODY, isa(), isa(component=">"), isa(version="00401")])
MUTATED_SEGMENT = st.builds(mutate_element, st.sampled_from(GOLDEN_BODY), st.integers(0, 30),
                            VALUES, st.booleans())
SEGMENTS = st.lists(st.one_of(RANDOM_SEGMENT, REAL_SEGMENT, MUTATED_SEGMENT), max_size=60)

_FIRST_SVC = CLAIM_1.index(next(s for s in CLAIM_1 if s.startswith("SVC*")))
CLPS = [s for s in GOLDEN_BODY if s.startswith("CLP*")]
SVCS = [s for s in GOLDEN_BODY if s.startswith("SVC*")]
CLAIM_LEVEL = [*CLAIM_1[4:_FIRST_SVC], *CLAIM_2_REVERSAL[2:]]
LINE_LEVEL = [s for s in [*CLAIM_1[_FIRST_SVC:], *CLAIM_3_DENIED] if not s.startswith(
    ("SVC*", "CLP*", "NM1*"))]


def usually_real(pool: list[str]) -> st.SearchStrategy[str]:
    """A segment of the pool; one time in eight with one element changed or cut."""
    mutated = st.builds(mutate_element, st.sampled_from(pool), st.integers(0, 30), VALUES,
                        st.booleans())
    return st.tuples(st.integers(0, 7), st.sampled_from(pool), mutated).map(
        lambda choice: choice[2] if choice[0] == 0 else choice[1])


LINE = st.builds(lambda svc, rest: [svc, *rest], usually_real(SVCS),
                 st.lists(usually_real(LINE_LEVEL), max_size=6))
CLAIM = st.builds(lambda clp, rest, lines: [clp, *rest, *(s for line in lines for s in line)],
                  usually_real(CLPS), st.lists(usually_real(CLAIM_LEVEL), max_size=8),
                  st.lists(LINE, max_size=4))
TRANSACTION_BODY = st.builds(
    lambda header, claims, plb: [*header, *(s for claim in claims for s in claim), *plb],
    st.lists(usually_real(simple_body()[:5] + HEADER), min_size=1, max_size=8),
    st.lists(CLAIM, max_size=5), st.lists(usually_real(TRAILER), max_size=2))


@FUZZ
@given(SEGMENTS, st.sampled_from(["raw", "transaction", "interchange", "isa-prefix"]),
       st.sampled_from(["~", "\n", "~\r\n"]))
def test_random_segment_sequences(segments: list[str], wrap: str, term: str) -> None:
    if wrap == "transaction":
        segments = transaction(segments)
    elif wrap == "interchange":
        segments = interchange(transaction(segments))
    elif wrap == "isa-prefix":
        segments = [isa(), *segments]
    check(render(segments, term=term))


@FUZZ
@given(st.lists(TRANSACTION_BODY, min_size=1, max_size=3), st.sampled_from(["~", "\n"]))
def test_mostly_valid_claims_inside_valid_envelopes(bodies: list[list[str]], term: str) -> None:
    """Claims built from real segments, in loop order, one segment in eight changed: this
    reaches the claim, line and balancing code far more often than random segments do."""
    transactions = [transaction(body, control=f"{i:04d}") for i, body in enumerate(bodies, 1)]
    check(render(interchange(*transactions), term=term))


# -- secrets never leak (apart from the documented segment-id bug) ---------------------


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete"]),
                          st.floats(0, 1, exclude_max=True),
                          st.sampled_from("*:~^9.-A ")), min_size=1, max_size=3))
def test_edits_around_phi_keep_messages_clean(edits: list[tuple[str, float, str]]) -> None:
    """Edits confined to the claim's amounts and codes must not put PHI in a message.

    The edits never touch the segment that carries the name and member id, nor the
    separators in front of it (a stray terminator there is the segment-id bug documented
    in test_x12_malformed.py).
    """
    segments = golden_segments()
    index = next(i for i, s in enumerate(segments) if s.startswith("CLP*PCN001"))
    clp = segments[index]
    segments[index] = apply_edits(clp, edits)
    reader = Remittance835Reader.from_text(render(segments), SOURCE)
    error = consume(reader)
    messages = [str(w) for w in reader.warnings] + ([str(error)] if error else [])
    for message in messages:
        for secret in (SECRET_NAME, SECRET_ID, SECRET_FIRST):
            assert secret not in message


# -- the segment splitter's shortcuts give the plain answer ------------------------------


@FUZZ
@given(st.text(alphabet="~* \tA\r", max_size=400), st.integers(0, 3))
def test_padding_check_agrees_with_plain_searches(buffer: str, spaces_first: int) -> None:
    """``_padded`` visits spaces one by one (up to a limit) instead of searching for
    ``"~ "`` and ``" ~"``; both must always agree."""
    buffer = "X " * (spaces_first * 40) + buffer  # sometimes past the visiting limit
    plain = ("~ " in buffer or " ~" in buffer or buffer.startswith(" ") or "\t" in buffer)
    assert x12_segments._padded(buffer, "~") == plain
