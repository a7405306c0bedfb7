"""The 835 reader on malformed, hostile and merely untidy input.

Every structural problem must surface as :class:`X12ParseError` whose message reads
``FILE: segment N (ID): what is wrong`` (or ``FILE: what is wrong`` when no segment
applies) and never quotes element values; untidy-but-readable files must be read, with
the documented :class:`ParseWarning` code. A golden, fully balanced remittance checks the
values the reader extracts from every segment it handles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import agent.x12.segments as x12_segments
from agent.x12 import ParseWarning, Remittance835Reader, X12ParseError
from agent.x12.models import ClaimPayment
from tests.x12_samples import (
    CLAIM_1,
    GOLDEN_BODY,
    SECRET_FIRST,
    SECRET_ID,
    SECRET_NAME,
    golden_835,
    golden_segments,
    interchange,
    isa,
    render,
    simple_body,
    transaction,
)

SOURCE = "remit-under-test.835"
SEGMENT_ERROR = re.compile(rf"^{re.escape(SOURCE)}: segment \d+ \([A-Z0-9]+\): .+")
FILE_ERROR = re.compile(rf"^{re.escape(SOURCE)}: .+")
SECRETS = (SECRET_NAME, SECRET_ID, SECRET_FIRST)


# -- helpers --------------------------------------------------------------------------


def read(text: str) -> tuple[Remittance835Reader, list[ClaimPayment]]:
    reader = Remittance835Reader.from_text(text, SOURCE)
    return reader, list(reader)


def parse_error(text: str) -> X12ParseError:
    with pytest.raises(X12ParseError) as info:
        read(text)
    return info.value


def assert_no_secrets(*messages: str) -> None:
    for message in messages:
        for secret in SECRETS:
            assert secret not in message, f"PHI sentinel {secret!r} leaked into: {message}"


def assert_segment_error(text: str, segment_id: str, *fragments: str,
                         segment_number: int | None = None) -> X12ParseError:
    """The text must fail with a segment-level error naming ``segment_id``."""
    error = parse_error(text)
    message = str(error)
    assert SEGMENT_ERROR.match(message), message
    assert error.source == SOURCE
    assert error.segment_id == segment_id, message
    assert f"({segment_id}): " in message
    if segment_number is not None:
        assert error.segment_number == segment_number, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)
    assert_no_secrets(message)
    return error


def assert_file_error(text: str, *fragments: str) -> X12ParseError:
    error = parse_error(text)
    message = str(error)
    assert FILE_ERROR.match(message), message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)
    assert_no_secrets(message)
    return error


def replaced(segments: list[str], prefix: str, new: str | None, *, nth: int = 0) -> list[str]:
    """``segments`` with the ``nth`` segment starting with ``prefix`` replaced (or deleted)."""
    hits = [i for i, s in enumerate(segments) if s.startswith(prefix)]
    index = hits[nth]
    return segments[:index] + ([] if new is None else [new]) + segments[index + 1:]


def inserted_after(segments: list[str], prefix: str, new: str, *, nth: int = 0) -> list[str]:
    hits = [i for i, s in enumerate(segments) if s.startswith(prefix)]
    index = hits[nth] + 1
    return [*segments[:index], new, *segments[index:]]


def golden_with(prefix: str, new: str | None, *, nth: int = 0) -> tuple[str, int]:
    """The golden file with one segment replaced; also returns its 1-based segment number.

    The SE count is recomputed so that only the replaced segment is wrong.
    """
    body = replaced(GOLDEN_BODY, prefix, new, nth=nth)
    segments = interchange(transaction(body))
    number = segments.index(new) + 1 if new is not None else 0
    return render(segments), number


def simple_with(prefix: str, new: str, *, nth: int = 0) -> tuple[str, int]:
    body = replaced(simple_body(), prefix, new, nth=nth)
    segments = interchange(transaction(body))
    return render(segments), segments.index(new) + 1


def codes(reader: Remittance835Reader) -> list[str]:
    return [w.code for w in reader.warnings]


def assert_warnings_well_formed(warnings: list[ParseWarning]) -> None:
    for warning in warnings:
        text = str(warning)
        assert text.startswith(f"{SOURCE}: "), text
        if warning.segment_number is not None:
            assert SEGMENT_ERROR.match(text), text
        assert re.fullmatch(r"[a-z0-9_]+", warning.code), warning.code
        assert_no_secrets(text, warning.message)


# -- not X12, empty, truncated, no ISA ------------------------------------------------


@pytest.mark.parametrize("text", [
    "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "claim_id,patient,charge,paid\nPCN001,DOE JANE,100.00,80.00\n",
    '{"claims": [{"id": "PCN001", "charge": 100.0}]}',
    "<html><body>835</body></html>",
    "\x00\x01\x02\x03binary\xff\xfe",
    "HELLO*WORLD~",
    "IS*00*~",
], ids=["pdf", "csv", "json", "html", "binary", "not-isa", "short-is"])
def test_not_x12(text: str) -> None:
    error = assert_file_error(text, "not an X12 file")
    assert error.segment_number in (None, 1)


@pytest.mark.parametrize("text", ["", "   ", "\r\n\r\n", "\ufeff", "\ufeff \n\t"],
                         ids=["empty", "spaces", "blank-lines", "bom", "bom-whitespace"])
def test_empty_file(text: str) -> None:
    error = assert_file_error(text, "empty")
    assert error.segment_number is None
    assert str(error) == f"{SOURCE}: the file is empty"


def _cut_after(text: str, marker: str) -> str:
    return text[: text.index(marker) + len(marker)]


def test_truncated_in_the_middle_of_a_claim() -> None:
    text = _cut_after(golden_835(), "CAS*CO*45*100.00~")
    assert_segment_error(text, "CAS", "truncated", "no SE")


def test_truncated_in_the_middle_of_a_segment() -> None:
    text = _cut_after(golden_835(), "SVC*HC:99214:25:59:RT:LT*300.00*18")
    assert_segment_error(text, "SVC", "truncated")


def test_truncated_before_se() -> None:
    text = golden_835()
    text = text[: text.index("~SE*") + 1]
    assert_segment_error(text, "PLB", "truncated", "no SE")


def test_truncated_before_ge() -> None:
    text = golden_835()
    text = text[: text.index("~GE*") + 1]
    assert_segment_error(text, "SE", "truncated", "GE/IEA")


def test_truncated_before_iea() -> None:
    text = golden_835()
    text = text[: text.index("~IEA*") + 1]
    error = assert_segment_error(text, "GE", "truncated", "GE/IEA")
    assert error.segment_number == len(golden_segments()) - 1


def test_truncated_inside_isa() -> None:
    assert_segment_error(golden_835()[:60], "ISA", "fewer than 16 elements")
    assert_segment_error(isa(), "ISA", "terminator")


def test_missing_isa_file_starts_at_gs() -> None:
    text = render(golden_segments()[1:])
    assert_segment_error(text, "GS", "missing ISA", segment_number=1)


def test_missing_isa_file_starts_at_bpr() -> None:
    text = render(GOLDEN_BODY)
    assert_segment_error(text, "BPR", "missing ISA", segment_number=1)


def test_no_transaction_set_at_all() -> None:
    text = render([isa(), "GS*HP*S*R*20240315*1200*1*X*005010X221A1", "GE*0*1", "IEA*1*1"])
    assert_file_error(text, "no 835 transaction set")


# -- wrong element counts -------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "segment", "fragment"), [
    ("CLP*PCN001", "CLP*PCN001*1", "CLP03"),
    ("CLP*PCN001", "CLP*PCN001", "CLP03"),
    ("CAS*CO*45*100.00", "CAS*CO*45", "CAS03"),
    ("CAS*CO*45*100.00", "CAS*CO", "CAS03"),
    ("CAS*CO*45*100.00", "CAS*CO*45*100.00*1*253", "CAS06"),
    ("CAS*CO*45*100.00", "CAS*CO**5.00", "CAS02"),
    ("SVC*HC:97110", "SVC*HC:97110*200.00", "SVC03"),
    ("SVC*HC:97110", "SVC*HC:97110**120.00", "SVC02"),
    ("SVC*HC:97110", "SVC*HC*200.00*120.00", "SVC01"),
    ("SVC*HC:97110", "SVC*:97110*200.00*120.00", "SVC01"),
    ("SVC*HC:97110", "SVC*HC:97110:1:2:3:4:5:6:7*200.00*120.00", "SVC01"),
    ("SVC*HC:99214", "SVC*HC:99214*300.00*180.00*0450*1*HC", "SVC06"),
    ("BPR*", "BPR*I", "BPR02"),
    ("TRN*", "TRN*1", "TRN02"),
    ("N1*PR", "N1", "N101"),
    ("DTM*472", "DTM*472", "DTM02"),
    ("REF*6R", "REF*6R", "REF02"),
    ("AMT*B6", "AMT*B6", "AMT02"),
    ("QTY*CA", "QTY*CA", "QTY02"),
    ("NM1*IL", "NM1", "NM101"),
    ("LQ*HE*N115", "LQ*HE", "remark code"),
    ("PLB*", "PLB*1234567893*20241231", "PLB"),
    ("PLB*", "PLB*1234567893*20241231*WO:PCN009*15.00*L6", "PLB06"),
])
def test_wrong_element_count(prefix: str, segment: str, fragment: str) -> None:
    text, number = golden_with(prefix, segment)
    assert_segment_error(text, segment.split("*")[0], fragment, segment_number=number)


def test_se_without_count() -> None:
    segments = golden_segments()
    segments = replaced(segments, "SE*", "SE")
    assert_segment_error(render(segments), "SE", "SE01", segment_number=len(segments) - 2)


def test_st_without_control_number() -> None:
    segments = replaced(golden_segments(), "ST*", "ST*835")
    assert_segment_error(render(segments), "ST", "ST02", segment_number=3)


def test_gs_with_too_few_elements() -> None:
    segments = replaced(golden_segments(), "GS*", "GS*HP*SENDERID")
    assert_segment_error(render(segments), "GS", "eight elements", segment_number=2)


def test_second_isa_with_too_few_elements() -> None:
    first = golden_segments()
    second = replaced(golden_segments(), "ISA*", isa().rsplit("*", 2)[0])
    assert_segment_error(render(first + second), "ISA", "16 elements",
                         segment_number=len(first) + 1)


# -- bad amounts and dates ------------------------------------------------------------

BAD_AMOUNTS = ["12.3.4", "1e5", "NaN", "abc", "Infinity", "-", ".", "+5", "1,000.00", " 5",
               "0x10", "١٢"]
AMOUNT_SITES = [
    ("CLP*PCN001", "CLP*PCN001*1*{}*300.00*40.00*MB", "CLP03"),
    ("CLP*PCN001", "CLP*PCN001*1*525.00*{}*40.00*MB", "CLP04"),
    ("CLP*PCN001", "CLP*PCN001*1*525.00*300.00*{}*MB", "CLP05"),
    ("CLP*PCN001", "CLP*PCN001*1*525.00*300.00*40.00*MB*X*13*1*01*470*{}", "CLP12"),
    ("SVC*HC:97110", "SVC*HC:97110*{}*120.00", "SVC02"),
    ("SVC*HC:97110", "SVC*HC:97110*200.00*{}", "SVC03"),
    ("SVC*HC:97110", "SVC*HC:97110*200.00*120.00**{}", "SVC05"),
    ("CAS*CO*45*100.00", "CAS*CO*45*{}", "CAS03"),
    ("CAS*CO*45*100.00", "CAS*CO*45*100.00*{}", "CAS04"),
    ("BPR*", "BPR*I*{}*C*ACH", "BPR02"),
    ("AMT*B6", "AMT*B6*{}", "AMT02"),
    ("QTY*CA", "QTY*CA*{}", "QTY02"),
    ("PLB*", "PLB*1234567893*20241231*WO:PCN009*{}", "PLB04"),
    ("TS3*", "TS3*1234567893*11*20241231*2*{}", "TS3"),
]


@pytest.mark.parametrize("value", BAD_AMOUNTS)
@pytest.mark.parametrize(("prefix", "template", "element"), AMOUNT_SITES,
                         ids=[site[2] for site in AMOUNT_SITES])
def test_bad_amount(prefix: str, template: str, element: str, value: str) -> None:
    segment = template.format(value)
    text, number = golden_with(prefix, segment)
    error = assert_segment_error(text, segment.split("*")[0], element, segment_number=number)
    if len(value) >= 3:
        assert value not in str(error)


BAD_DATES = ["20241341", "2024", "20240230", "2024-01-01", "abcdefgh", "00000000", "202401011",
             "２０２４０１０１"]
DATE_SITES = [
    ("DTM*472", "DTM*472*{}", "DTM02"),
    ("DTM*232", "DTM*232*{}", "DTM02"),
    ("DTM*405", "DTM*405*{}", "DTM02"),
    ("DTM*150", "DTM*150*{}", "DTM02"),
    ("PLB*", "PLB*1234567893*{}*WO:PCN009*15.00", "PLB02"),
    ("TS3*", "TS3*1234567893*11*{}*2*525.00", "TS3"),
]


@pytest.mark.parametrize("value", BAD_DATES)
@pytest.mark.parametrize(("prefix", "template", "element"), DATE_SITES,
                         ids=[f"{site[0]}-{site[2]}" for site in DATE_SITES])
def test_bad_date(prefix: str, template: str, element: str, value: str) -> None:
    segment = template.format(value)
    text, number = golden_with(prefix, segment)
    error = assert_segment_error(text, segment.split("*")[0], element, "valid date"
                                 if element != "TS3" else "invalid", segment_number=number)
    assert value not in str(error)


def test_bad_bpr16_payment_date_is_only_a_warning() -> None:
    bpr = GOLDEN_BODY[0].replace("*20240316", "*20241341")
    reader, claims = read(render(interchange(transaction([bpr, *GOLDEN_BODY[1:]]))))
    assert codes(reader) == ["payment_date"]
    assert reader.remittances[0].payment_date is None
    assert reader.remittances[0].production_date == date(2024, 3, 14)
    assert len(claims) == 3
    assert_warnings_well_formed(reader.warnings)


# -- SE counts ------------------------------------------------------------------------


def test_se_count_declares_more_segments_than_present_is_an_error() -> None:
    actual = len(GOLDEN_BODY) + 2
    segments = interchange(transaction(GOLDEN_BODY, se_count=actual + 1))
    error = assert_segment_error(render(segments), "SE", "SE01", "missing",
                                 segment_number=len(segments) - 2)
    assert str(actual) in error.message  # counts are not PHI; the actual count helps


def test_se_count_declares_fewer_segments_than_present_is_a_warning() -> None:
    segments = interchange(transaction(GOLDEN_BODY, se_count=len(GOLDEN_BODY)))
    reader, claims = read(render(segments))
    assert codes(reader) == ["se_count"]
    assert reader.warnings[0].segment_id == "SE"
    assert reader.warnings[0].segment_number == len(segments) - 2
    assert [c.patient_control_number for c in claims] == ["PCN001", "PCN002", "PCN003"]
    assert_warnings_well_formed(reader.warnings)


def test_se_count_wrong_in_a_bare_transaction_is_a_warning() -> None:
    reader, claims = read(render(transaction(simple_body(), se_count=99)))
    assert codes(reader) == ["no_envelope", "se_count"]
    assert len(claims) == 1


# -- structure: transaction type, placement -------------------------------------------


def test_st_837_is_not_an_835() -> None:
    segments = interchange(transaction(GOLDEN_BODY, transaction_id="837",
                                       version="005010X222A1"))
    assert_segment_error(render(segments), "ST", "not an 835", segment_number=3)


@pytest.mark.parametrize(("segment", "fragment"), [
    ("CLP*PCN009*1*10.00*10.00", "outside a transaction set"),
    ("BPR*I*10.00*C*ACH", "outside a transaction set"),
    ("N1*PR*ACME", "outside a transaction set"),
    ("LX*1", "outside a transaction set"),
    ("PLB*1234567893*20241231*WO*1.00", "outside a transaction set"),
    ("DTM*405*20240101", "outside a transaction set"),
    ("REF*EV*X", "outside a transaction set"),
    ("N2*EXTRA NAME", "outside an 835 transaction set"),
    ("NM1*QC*1*DOE", "outside a claim"),
    ("SVC*HC:99213*10*10", "before any CLP"),
    ("CAS*CO*45*1.00", "outside a claim"),
    ("MOA***MA01", "outside a claim"),
    ("MIA*0", "outside a claim"),
    ("LQ*HE*N115", "outside a service line"),
    ("TS3*1*11*20241231", "must follow LX"),
    ("SE*2*0001", "without a matching ST"),
])
def test_segment_outside_a_transaction(segment: str, fragment: str) -> None:
    """Between SE and GE: no transaction set is open."""
    segments = inserted_after(golden_segments(), "SE*", segment)
    number = next(i for i, s in enumerate(segments) if s.startswith("SE*")) + 2
    assert_segment_error(render(segments), segment.split("*")[0], fragment,
                         segment_number=number)


@pytest.mark.parametrize(("segment", "fragment"), [
    ("CAS*CO*45*1.00", "outside a claim"),
    ("NM1*QC*1*DOE", "outside a claim"),
    ("SVC*HC:99213*10*10", "before any CLP"),
    ("LQ*HE*N115", "outside a service line"),
])
def test_claim_segment_in_the_remittance_header(segment: str, fragment: str) -> None:
    segments = interchange(transaction(inserted_after(GOLDEN_BODY, "TRN*", segment)))
    assert_segment_error(render(segments), segment.split("*")[0], fragment,
                         segment_number=segments.index(segment) + 1)


def test_lq_before_any_svc() -> None:
    body = inserted_after(GOLDEN_BODY, "CLP*PCN001", "LQ*HE*N115")
    segments = interchange(transaction(body))
    assert_segment_error(render(segments), "LQ", "outside a service line",
                         segment_number=segments.index(CLAIM_1[3]) + 2)


def test_lq_in_the_next_claim_before_its_svc() -> None:
    """The previous claim's service line must not absorb the next claim's LQ."""
    body = inserted_after(GOLDEN_BODY, "CLP*PCN003", "LQ*HE*N115")
    assert_segment_error(render(interchange(transaction(body))), "LQ", "service line")


@pytest.mark.parametrize("segment", ["LQ*XX*N115", "LQ**N115", "LQ*he*N115"])
def test_lq_with_bad_qualifier(segment: str) -> None:
    text, number = golden_with("LQ*HE*M80", segment)
    assert_segment_error(text, "LQ", "HE or RX", segment_number=number)


@pytest.mark.parametrize("group", ["XX", "co", "C0", "CO ", "PRX", "ZZSECRETID"])
def test_cas01_group_code_invalid(group: str) -> None:
    text, number = golden_with("CAS*CO*45*100.00", f"CAS*{group}*45*100.00")
    error = assert_segment_error(text, "CAS", "CAS01", segment_number=number)
    if group == SECRET_ID:
        assert group not in str(error)


def test_ts3_after_a_claim() -> None:
    body = inserted_after(GOLDEN_BODY, "CLP*PCN003", "TS3*1*11*20241231")
    assert_segment_error(render(interchange(transaction(body))), "TS3", "must follow LX")


def test_header_segment_inside_a_claim() -> None:
    body = inserted_after(GOLDEN_BODY, "CLP*PCN003", "N1*PR*ACME")
    assert_segment_error(render(interchange(transaction(body))), "N1", "header")


def test_st_before_previous_se() -> None:
    segments = golden_segments()
    segments = replaced(segments, "SE*", "ST*835*0002")
    assert_segment_error(render(segments), "ST", "missing SE")


def test_st_outside_functional_group() -> None:
    segments = replaced(golden_segments(), "GS*", None)
    assert_segment_error(render(segments), "ST", "missing GS", segment_number=2)


def test_ge_before_se() -> None:
    segments = replaced(golden_segments(), "SE*", None)
    assert_segment_error(render(segments), "GE", "before SE")


def test_iea_before_ge() -> None:
    segments = replaced(golden_segments(), "GE*", None)
    assert_segment_error(render(segments), "IEA", "before GE")


def test_gs_outside_interchange() -> None:
    first = golden_segments()
    assert_segment_error(render([*first, *first[1:]]), "GS", "missing ISA",
                         segment_number=len(first) + 1)


def test_second_interchange_with_other_delimiters() -> None:
    first = golden_segments()
    second = golden_segments(component=">")
    assert_segment_error(render(first + second), "ISA", "delimiters",
                         segment_number=len(first) + 1)


@pytest.mark.parametrize("segment", ["Nm1*QC*1", "N-1*QC", "N1X2*PR", "1*2*3"])
def test_invalid_segment_id(segment: str) -> None:
    text, _ = golden_with("NM1*IL", segment)
    error = parse_error(text)
    assert str(error).startswith(f"{SOURCE}: segment ")
    assert "not a valid segment id" in str(error)


def test_isa_declaring_bad_delimiters() -> None:
    bad_component = isa(component="*")
    assert_segment_error(render([bad_component, *golden_segments()[1:]]), "ISA", "ISA16")
    same_terminator = isa(component="~")
    assert_segment_error(render([same_terminator, *golden_segments()[1:]]), "ISA")


def test_segment_longer_than_a_megabyte() -> None:
    text = isa() + "~GS*" + "A" * (x12_segments.MAX_SEGMENT + 10)
    assert_file_error(text, "longer than 1 MB")


# -- PHI never appears in messages ----------------------------------------------------


def _collect_messages(text: str) -> list[str]:
    reader = Remittance835Reader.from_text(text, SOURCE)
    messages: list[str] = []
    try:
        list(reader)
    except X12ParseError as error:
        messages += [str(error), error.message, error.segment_id or "", error.source]
    messages += [str(w) for w in reader.warnings]
    messages += [w.message + (w.segment_id or "") for w in reader.warnings]
    return messages


QC = f"NM1*QC*1*{SECRET_NAME}*{SECRET_FIRST}*Q***MI*{SECRET_ID}"
CLP1 = CLAIM_1[3].replace("PCN001", SECRET_ID)
PHI_CORRUPTIONS: dict[str, Callable[[list[str]], list[str]]] = {
    "nm1-no-entity-code": lambda s: replaced(s, "NM1*QC", QC.replace("NM1*QC", "NM1*")),
    "nm1-too-many-elements": lambda s: replaced(s, "NM1*QC", QC + "*X*Y*Z*W*" + SECRET_ID),
    "nm1-before-clp": lambda s: inserted_after(s, "TRN*", QC),
    "nm1-after-se": lambda s: inserted_after(s, "SE*", QC),
    "nm1-merged-into-clp": lambda s: replaced(replaced(s, "NM1*QC", None), CLP1, CLP1 + QC),
    "clp01-secret-bad-charge": lambda s: replaced(s, CLP1, f"CLP*{SECRET_ID}*1*{SECRET_NAME}"
                                                  "*300.00"),
    "clp01-secret-missing-paid": lambda s: replaced(s, CLP1, f"CLP*{SECRET_ID}*1*525.00"),
    "clp-status-is-a-name": lambda s: replaced(s, CLP1, CLP1.replace("*1*525", f"*{SECRET_NAME}"
                                                                     "*525")),
    "clp-unbalanced": lambda s: replaced(s, CLP1, CLP1.replace("*525.00*", "*999.00*")),
    "ref-no-qualifier": lambda s: replaced(s, "REF*EA", f"REF**{SECRET_ID}"),
    "amount-is-a-name": lambda s: replaced(s, "AMT*B6", f"AMT*B6*{SECRET_NAME}"),
    "date-is-an-id": lambda s: replaced(s, "DTM*472", f"DTM*472*{SECRET_ID}"),
    "cas-group-is-a-name": lambda s: replaced(s, "CAS*CO*45*100", f"CAS*{SECRET_NAME}*45*1"),
    "cas-reason-without-amount": lambda s: replaced(s, "CAS*CO*45*100", f"CAS*CO*{SECRET_ID}"),
    "svc-procedure-is-a-name": lambda s: replaced(s, "SVC*HC:97110", f"SVC*{SECRET_NAME}*1*1"),
    "svc-units-is-an-id": lambda s: replaced(s, "SVC*HC:97110", f"SVC*HC:1*1*1**{SECRET_ID}"),
    "svc-line-unbalanced": lambda s: replaced(s, "SVC*HC:97110", "SVC*HC:97110*999*1"),
    "lq-qualifier-is-an-id": lambda s: replaced(s, "LQ*HE*N115", f"LQ*{SECRET_ID}*N115"),
    "plb-amount-is-an-id": lambda s: replaced(s, "PLB*", f"PLB*1*20241231*WO*{SECRET_ID}"),
    "ts3-date-is-an-id": lambda s: replaced(s, "TS3*", f"TS3*1*11*{SECRET_ID}"),
    "st01-is-an-id": lambda s: replaced(s, "ST*", f"ST*{SECRET_ID}*0001"),
    "se01-is-an-id": lambda s: replaced(s, "SE*", f"SE*{SECRET_ID}*0001"),
    "isa-wrong-size-second": lambda s: [*s, isa().replace("SENDERID", SECRET_ID)[:80]],
    "truncated-after-nm1": lambda s: s[: s.index(QC) + 1],
    "truncated-inside-nm1": lambda s: [*s[: s.index(QC)], QC[:-3]],
}


def _secret_segments() -> list[str]:
    """The golden file with secrets also in CLP01, REF*EA and the NM1*IL."""
    body = replaced(GOLDEN_BODY, "CLP*PCN001", CLP1)
    body = replaced(body, "REF*EA", f"REF*EA*{SECRET_ID}")
    body = replaced(body, "NM1*IL", f"NM1*IL*1*{SECRET_NAME}*{SECRET_FIRST}****MI*{SECRET_ID}")
    return interchange(transaction(body))


@pytest.mark.parametrize("corruption", list(PHI_CORRUPTIONS), ids=list(PHI_CORRUPTIONS))
def test_messages_never_quote_phi(corruption: str) -> None:
    segments = PHI_CORRUPTIONS[corruption](_secret_segments())
    messages = _collect_messages(render(segments))
    assert messages, "the corruption was not reported at all"
    assert_no_secrets(*messages)


def test_secret_segments_read_cleanly() -> None:
    """The baseline for the PHI cases: without corruption, nothing is reported."""
    assert _collect_messages(render(_secret_segments())) == []


@pytest.mark.parametrize("where", ["before-name", "before-member-id", "clp-id-lost"])
def test_stray_terminator_before_phi_does_not_leak_it(where: str) -> None:
    segments = _secret_segments()
    if where == "before-name":
        segments = replaced(segments, QC, QC.replace(f"*{SECRET_NAME}", f"~{SECRET_NAME}"))
    elif where == "before-member-id":
        segments = replaced(segments, QC, QC.replace(f"*{SECRET_ID}", f"~{SECRET_ID}"))
    else:  # the segment lost its id (and its separator): it now starts with CLP01
        segments = replaced(segments, CLP1, CLP1.removeprefix("CLP*"))
    messages = _collect_messages(render(segments))
    assert messages
    assert_no_secrets(*messages)


def test_invalid_segment_id_is_not_quoted() -> None:
    text, number = golden_with("NM1*IL", "doe, jane*1")
    error = parse_error(text)
    assert error.segment_number == number
    assert not error.segment_id or re.fullmatch(r"[A-Z0-9]{2,3}", error.segment_id)
    assert "doe" not in str(error)


# -- regressions: inputs that once raised something other than X12ParseError ----------


def _with_count(segment_id: str, count: str) -> str:
    """The golden file with SE01, GE01 or IEA01 replaced."""
    segments = golden_segments()
    old = next(s for s in segments if s.startswith(segment_id + "*"))
    return render(replaced(segments, old, f"{segment_id}*{count}*" + old.split("*")[2]))


def _reads_or_parse_error(text: str) -> None:
    try:
        read(text)
    except X12ParseError as error:
        assert str(error).startswith(f"{SOURCE}: ")


@pytest.mark.parametrize("segment_id", ["SE", "GE", "IEA"])
def test_unicode_superscript_digit_in_a_count(segment_id: str) -> None:
    _reads_or_parse_error(_with_count(segment_id, "²"))


@pytest.mark.parametrize("segment_id", ["SE", "GE", "IEA"])
def test_huge_count(segment_id: str) -> None:
    _reads_or_parse_error(_with_count(segment_id, "9" * 5000))


@pytest.mark.parametrize("site", ["CLP03", "SVC02", "CAS03"])
def test_amount_with_a_million_digits(site: str) -> None:
    huge = "9" * 1_000_001
    if site == "CLP03":
        body = simple_body(charge=huge)
    elif site == "SVC02":
        body = replaced(simple_body(), "SVC*", f"SVC*HC:99213*{huge}*80.00")
    else:
        body = replaced(simple_body(), "CAS*", f"CAS*CO*45*{huge}")
    _reads_or_parse_error(render(interchange(transaction(body))))


# -- tolerated input: read, with the documented warning -------------------------------


def assert_golden_read(text: str, expected_codes: list[str]) -> list[ClaimPayment]:
    reader, claims = read(text)
    assert codes(reader) == expected_codes
    assert [c.patient_control_number for c in claims] == ["PCN001", "PCN002", "PCN003"]
    assert claims[0].lines[0].procedure.modifiers == ("25", "59", "RT", "LT")
    assert claims[0].lines[1].remarks[0].code == "M80"
    assert reader.remittances[0].provider_adjustments[0].reference == "PCN009"
    assert_warnings_well_formed(reader.warnings)
    return claims


@pytest.mark.parametrize("after", ["\n", "\r\n", "\r", "\r\n\r\n", "\n  "])
def test_line_breaks_after_terminators(after: str) -> None:
    assert_golden_read(golden_835(after=after), [])


@pytest.mark.parametrize("segment", [" S", "S ", "\tS\t", " S \r\n", "  S  "],
                         ids=["space-before", "space-after", "tabs", "spaces-crlf", "both"])
def test_segments_padded_with_spaces_or_tabs(segment: str) -> None:
    first, *rest = golden_segments()  # ISA's own terminator follows ISA16 directly
    text = first + "~" + "".join(f"{segment.replace('S', s)}~" for s in rest)
    assert_golden_read(text, [])


@pytest.mark.parametrize("spaces", [0, 20, 5000], ids=["none", "some", "many"])
def test_padding_found_after_many_spaces(spaces: int) -> None:
    # The padding check visits spaces one by one up to a limit, then searches instead:
    # padding after a payer name with no, some or many spaces in it is found either way.
    name = "ACME HEALTH PLAN"
    text = golden_835().replace(name, "ACME" + " X" * spaces)
    assert_golden_read(text.replace("~CLP*PCN002", "~ CLP*PCN002"), [])
    assert_golden_read(text.replace("~LX*2", " ~LX*2"), [])
    assert_golden_read(text.replace("~LX*2", "\t~LX*2"), [])


@pytest.mark.parametrize("term", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_breaks_as_terminators(term: str) -> None:
    assert_golden_read(golden_835(term=term), [])


def test_bare_cr_as_terminators() -> None:
    assert_golden_read(golden_835(term="\r"), [])


def test_bom_and_leading_blank_lines() -> None:
    assert_golden_read("\ufeff\r\n\r\n" + golden_835(after="\r\n"), [])


@pytest.mark.parametrize(("element", "component", "term"), [
    ("|", "^", "\n"), ("^", ">", "~"), ("\x1d", ":", "\x1c"), ("!", "<", "'")])
def test_other_delimiters(element: str, component: str, term: str) -> None:
    segments = golden_segments(component=component, repetition="+")
    text = render(segments, element=element, component=component, term=term)
    assert_golden_read(text, [])


@pytest.mark.parametrize(("element", "component", "term"), [
    ("\x1d", "\x1f", "\x1c"), ("*", "\x1f", "~")], ids=["gs-us-fs", "star-us-tilde"])
def test_control_character_component_separator(element: str, component: str,
                                                term: str) -> None:
    segments = golden_segments(component=component, repetition="+")
    text = render(segments, element=element, component=component, term=term)
    assert_golden_read(text, [])


def test_several_interchanges_groups_and_transactions() -> None:
    tx1 = transaction(GOLDEN_BODY, control="0001")
    tx2 = transaction(simple_body("PCN101"), control="0002")
    tx3 = transaction(simple_body("PCN201"), control="0003")
    first = interchange(tx1, tx2, control="000000001")
    second = interchange(tx3, control="000000002")
    # a second functional group inside the second interchange
    group = ["GS*HP*SENDERID*RECEIVERID*20240315*1200*2*X*005010X221A1",
             *transaction(simple_body("PCN301"), control="0004"), "GE*1*2"]
    second = second[:-1] + group + ["IEA*2*000000002"]
    reader, claims = read(render(first + second, after="\n"))
    assert [c.patient_control_number for c in claims] == [
        "PCN001", "PCN002", "PCN003", "PCN101", "PCN201", "PCN301"]
    assert reader.warnings == []
    assert reader.stats.interchanges == 2
    assert reader.stats.transactions == 4
    assert [r.transaction_control_number for r in reader.remittances] == [
        "0001", "0002", "0003", "0004"]
    assert [r.interchange_control_number for r in reader.remittances] == [
        "000000001", "000000001", "000000002", "000000002"]
    assert [c.ordinal for c in claims] == [1, 2, 3, 4, 5, 6]


def test_envelope_counts_that_disagree_are_warnings() -> None:
    segments = replaced(replaced(golden_segments(), "GE*", "GE*3*1"), "IEA*", "IEA*2*000000001")
    reader, claims = read(render(segments))
    assert codes(reader) == ["envelope_count", "envelope_count"]
    assert len(claims) == 3


def test_bare_transaction_without_envelope() -> None:
    for term in ("~", "\n", "~\r\n"):
        reader, claims = read(render(transaction(GOLDEN_BODY), term=term))
        assert codes(reader) == ["no_envelope"]
        assert reader.warnings[0].segment_number == 1
        assert len(claims) == 3
        assert claims[0].lines[0].procedure.code == "99214"
        assert reader.remittances[0].interchange_control_number is None
        assert_warnings_well_formed(reader.warnings)


def test_component_separator_other_than_isa16() -> None:
    body = [s.replace(":", ">") if s.startswith(("SVC*", "PLB*")) else s for s in GOLDEN_BODY]
    reader, claims = read(render(interchange(transaction(body), component=":")))
    assert codes(reader) == ["component_separator"]
    assert reader.warnings[0].segment_id == "SVC"
    line = claims[0].lines[0]
    assert line.procedure.code == "99214"
    assert line.procedure.modifiers == ("25", "59", "RT", "LT")
    assert line.original_procedure is not None
    assert line.original_procedure.code == "99215"
    assert reader.remittances[0].provider_adjustments[0].reference == "PCN009"


def test_version_4010() -> None:
    segments = interchange(transaction(GOLDEN_BODY, version=None), isa_version="00401",
                           repetition="U", gs_version="004010X091A1")
    reader, claims = read(render(segments))
    assert codes(reader) == ["version_4010"]
    assert reader.remittances[0].version == "004010X091A1"
    assert len(claims) == 3


def test_unknown_version_is_a_warning() -> None:
    segments = interchange(transaction(GOLDEN_BODY, version="005010X999"))
    reader, _ = read(render(segments))
    assert codes(reader) == ["version"]


def test_claim_unbalanced() -> None:
    # line: 100 - 80 = 20 (balanced); claim: 100 - 70 = 30 but adjustments add up to 20
    body = replaced(simple_body(), "CLP*", "CLP*PCN001*1*100.00*70.00*0*12*ICN*11*1")
    body = replaced(body, "BPR*", "BPR*I*70.00*C*ACH")
    segments = interchange(transaction(body))
    reader, claims = read(render(segments))
    assert codes(reader) == ["claim_unbalanced"]
    warning = reader.warnings[0]
    assert (warning.segment_id, warning.segment_number) == ("CLP", segments.index(body[5]) + 1)
    assert "claim #1" in warning.message
    assert claims[0].paid == Decimal("70.00")
    assert_warnings_well_formed(reader.warnings)


def test_line_unbalanced() -> None:
    body = replaced(simple_body(), "CAS*", "CAS*CO*45*15.00")
    segments = interchange(transaction(body))
    reader, claims = read(render(segments))
    assert "line_unbalanced" in codes(reader)
    warning = reader.warnings[codes(reader).index("line_unbalanced")]
    assert (warning.segment_id, warning.segment_number) == ("SVC", segments.index(body[7]) + 1)
    assert "line 1" in warning.message
    assert claims[0].lines[0].adjustments[0].amount == Decimal("15.00")
    assert_warnings_well_formed(reader.warnings)


def test_payment_unbalanced() -> None:
    body = replaced(GOLDEN_BODY, "BPR*", "BPR*I*200.00*C*ACH")  # PLB 12.50 not subtracted
    reader, claims = read(render(interchange(transaction(body))))
    assert codes(reader) == ["payment_unbalanced"]
    assert reader.warnings[0].segment_id == "SE"
    assert len(claims) == 3
    assert_warnings_well_formed(reader.warnings)


def test_transaction_without_bpr() -> None:
    body = replaced(simple_body(), "BPR*", None)
    reader, claims = read(render(interchange(transaction(body))))
    assert codes(reader) == ["no_bpr"]
    assert len(claims) == 1


def test_final_iea_without_terminator() -> None:
    assert_golden_read(golden_835(final_terminator=False), [])
    assert_golden_read(golden_835(final_terminator=False, after="\r\n") + "\r\n", [])


def test_extra_elements_are_a_warning() -> None:
    text, number = golden_with("DTM*472", "DTM*472*20240102*X*X*X*X*X")
    reader, claims = read(text)
    assert codes(reader) == ["extra_elements"]
    assert (reader.warnings[0].segment_id, reader.warnings[0].segment_number) == ("DTM", number)
    assert claims[0].lines[0].service_date == date(2024, 1, 2)


def test_svc_composite_split_with_the_element_separator() -> None:
    text, _ = golden_with("SVC*HC:97110", "SVC*HC*97110*200.00*120.00**2")
    reader, claims = read(text)
    assert codes(reader) == ["svc_composite_split"]
    line = claims[0].lines[1]
    assert (line.procedure.qualifier, line.procedure.code) == ("HC", "97110")
    assert (line.charge, line.paid, line.units_paid) == (
        Decimal("200.00"), Decimal("120.00"), Decimal("2"))


def test_svc_without_amounts_is_informational() -> None:
    body = inserted_after(GOLDEN_BODY, "LQ*HE*M80", "SVC*HC:99999")
    reader, claims = read(render(interchange(transaction(body))))
    assert codes(reader) == ["svc_no_amounts"]
    assert claims[0].lines[2].charge == claims[0].lines[2].paid == Decimal(0)


def test_unknown_claim_status_is_a_warning() -> None:
    text, _ = golden_with("CLP*PCN003", "CLP*PCN003*99*250.00*0*0*12*PAYERICN003*11*1")
    reader, claims = read(text)
    assert codes(reader) == ["claim_status"]
    assert claims[2].status == "99"


def test_unknown_segments_inside_a_transaction_are_skipped() -> None:
    body = inserted_after(GOLDEN_BODY, "N1*PR", "N2*MORE PAYER NAME")
    body = inserted_after(body, "CLP*PCN003", "K3*FREE FORM")
    assert_golden_read(render(interchange(transaction(body))), [])


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_segments_straddling_read_chunks(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(x12_segments, "CHUNK_SIZE", chunk)
    monkeypatch.setattr(x12_segments, "_HEAD_SIZE", max(chunk, 120))
    text = golden_835(after="\r\n") + golden_835().replace("000000001", "000000002")
    reader, claims = read(text)
    assert reader.warnings == []
    assert len(claims) == 6
    assert claims[3].lines[0].procedure.modifiers == ("25", "59", "RT", "LT")


def test_open_reads_a_file_with_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "era.835"
    raw = golden_835(after="\r\n").encode("ascii").replace(b"GOOD CLINIC", b"GOOD CL\xffNIC")
    path.write_bytes(raw)
    reader = Remittance835Reader.open(path)
    claims = list(reader)
    assert len(claims) == 3
    assert claims[0].remittance.payee.name == "GOOD CL\ufffdNIC"
    assert reader.source == str(path)


# -- the golden file: every value the reader extracts ---------------------------------


def test_golden_values() -> None:  # one long, flat checklist on purpose
    reader, claims = read(golden_835())
    assert reader.warnings == []
    stats = reader.stats
    assert (stats.interchanges, stats.transactions, stats.claims, stats.service_lines,
            stats.adjustments, stats.segments) == (1, 1, 3, 3, 11, len(golden_segments()))

    (remit,) = reader.remittances
    assert remit.source == SOURCE
    assert remit.transaction_control_number == "0001"
    assert remit.version == "005010X221A1"
    assert (remit.interchange_control_number, remit.interchange_sender,
            remit.interchange_receiver) == ("000000001", "SENDERID", "RECEIVERID")
    # BPR, TRN, REF*EV, DTM*405
    assert (remit.handling_code, remit.payment_amount, remit.credit_debit,
            remit.payment_method) == ("I", Decimal("187.50"), "C", "ACH")
    assert remit.payment_date == date(2024, 3, 16)
    assert (remit.trace_number, remit.trace_originator) == ("EFT12345", "1512345678")
    assert remit.receiver_id == "RECEIVER77"
    assert remit.production_date == date(2024, 3, 14)
    assert remit.remittance_date == date(2024, 3, 14)
    # N1*PR + N3/N4/REF/PER
    payer = remit.payer
    assert (payer.name, payer.id_qualifier, payer.identifier) == (
        "ACME HEALTH PLAN", "XV", "PAYER01")
    assert payer.address is not None
    assert payer.address.lines == ("1 PAYER WAY", "SUITE 100")
    assert (payer.address.city, payer.address.state, payer.address.postal_code) == (
        "SPRINGFIELD", "IL", "62701")
    assert [(r.qualifier, r.value) for r in payer.references] == [("2U", "99999")]
    assert [(c.function, c.name, c.communications) for c in payer.contacts] == [
        ("CX", "CLAIMS DEPT", (("TE", "8005551212"), ("EM", "claims@example.com"))),
        ("BL", "TECH SUPPORT", (("TE", "8005551213"),))]
    # N1*PE + N3/N4/REF
    payee = remit.payee
    assert (payee.name, payee.id_qualifier, payee.identifier) == (
        "GOOD CLINIC", "XX", "1234567893")
    assert payee.address is not None and payee.address.lines == ("9 MAIN ST",)
    assert (payee.address.city, payee.address.state, payee.address.postal_code) == (
        "CHICAGO", "IL", "60601")
    assert [(r.qualifier, r.value) for r in payee.references] == [("TJ", "123456789")]
    # LX/TS3/TS2
    assert [s.assigned_number for s in remit.provider_summaries] == ["1", "2"]
    ts3 = remit.provider_summaries[0]
    assert (ts3.provider_id, ts3.facility_type, ts3.fiscal_period_end, ts3.claim_count,
            ts3.total_charge) == ("1234567893", "11", date(2024, 12, 31), Decimal(2),
                                  Decimal("525.00"))
    # PLB
    assert [(a.provider_id, a.fiscal_period_end, a.reason, a.reference, a.amount)
            for a in remit.provider_adjustments] == [
        ("1234567893", date(2024, 12, 31), "WO", "PCN009", Decimal("15.00")),
        ("1234567893", date(2024, 12, 31), "L6", None, Decimal("-2.50"))]

    first, reversal, denied = claims
    assert all(c.remittance is remit for c in claims)
    # CLP, all 14 elements
    assert (first.patient_control_number, first.status, first.charge, first.paid,
            first.patient_responsibility, first.filing_indicator,
            first.payer_claim_control_number, first.facility_type, first.frequency_code,
            first.drg_code, first.drg_weight, first.discharge_fraction) == (
        "PCN001", "1", Decimal("525.00"), Decimal("300.00"), Decimal("40.00"), "MB",
        "PAYERICN001", "13", "1", "470", Decimal("1.2345"), Decimal("0.5"))
    assert (first.header_number, first.ordinal) == ("1", 1)
    assert first.segment_number == golden_segments().index(CLAIM_1[3]) + 1
    # CAS with 6 triplets
    assert [(a.label, a.amount, a.quantity) for a in first.adjustments] == [
        ("CO-45", Decimal("10.00"), Decimal(1)), ("CO-253", Decimal("2.00"), None),
        ("CO-A2", Decimal("3.00"), Decimal(2)), ("CO-B7", Decimal("1.00"), None),
        ("CO-23", Decimal("4.00"), None), ("CO-94", Decimal("5.00"), Decimal(3))]
    # NM1 QC/IL/74/82/TT/PR
    assert first.patient is not None
    assert (first.patient.last_name, first.patient.first_name, first.patient.middle_name,
            first.patient.id_qualifier, first.patient.identifier,
            first.patient.is_organization) == (
        SECRET_NAME, SECRET_FIRST, "Q", "MI", SECRET_ID, False)
    assert first.patient.name == f"{SECRET_NAME}, {SECRET_FIRST} Q"
    assert first.subscriber is not None and first.subscriber.identifier == "SUB123"
    assert first.corrected_patient is not None
    assert (first.corrected_patient.first_name, first.corrected_patient.id_qualifier,
            first.corrected_patient.identifier) == ("JANIE", "C", "CORR456")
    assert first.service_provider is not None
    assert (first.service_provider.id_qualifier, first.service_provider.identifier) == (
        "XX", "1999999984")
    assert first.crossover_carrier is not None
    assert first.crossover_carrier.is_organization
    assert first.crossover_carrier.name == "CROSSOVER PLAN"
    assert first.crossover_carrier.identifier == "CO789"
    assert first.corrected_priority_payer is not None
    assert (first.corrected_priority_payer.name, first.corrected_priority_payer.identifier) == (
        "PRIMARY PLAN", "PR555")
    # MIA/MOA
    assert [(r.code, r.source) for r in first.inpatient_remarks] == [
        ("MA01", "MIA"), ("N1", "MIA"), ("N2", "MIA"), ("N3", "MIA"), ("N4", "MIA"),
        ("N5", "MIA")]
    assert [r.code for r in first.outpatient_remarks] == ["MA130", "MA27", "N10", "N20", "N30"]
    assert [r.code for r in first.remarks][:2] == ["MA130", "MA27"]
    # DTM 232/233/050/036
    assert (first.statement_from, first.statement_to, first.received_date,
            first.coverage_expiration) == (date(2024, 1, 1), date(2024, 1, 5),
                                           date(2024, 1, 10), date(2024, 12, 31))
    # REF, AMT, QTY
    assert [(r.qualifier, r.value) for r in first.references] == [
        ("1L", "GROUP77"), ("EA", "MRN55")]
    assert first.reference("EA") == "MRN55" and first.reference("F8") is None
    assert [(a.qualifier, a.amount) for a in first.amounts] == [("AU", Decimal("460.00"))]
    assert [(q.qualifier, q.quantity) for q in first.quantities] == [("CA", Decimal(4))]
    assert first.service_date == date(2024, 1, 2)
    assert not first.is_reversal and not first.is_denied

    # SVC with 4 modifiers and SVC06; DTM 472; CAS; REF 6R; AMT B6; QTY; LQ HE/RX
    line1, line2 = first.lines
    assert (line1.procedure.qualifier, line1.procedure.code, line1.procedure.modifiers) == (
        "HC", "99214", ("25", "59", "RT", "LT"))
    assert line1.procedure.display == "99214-25-59-RT-LT"
    assert (line1.charge, line1.paid, line1.revenue_code, line1.units_paid,
            line1.original_units) == (Decimal("300.00"), Decimal("180.00"), "0450", Decimal(1),
                                      Decimal(2))
    assert line1.original_procedure is not None
    assert (line1.original_procedure.code, line1.original_procedure.modifiers) == (
        "99215", ("GT",))
    assert line1.submitted_procedure is line1.original_procedure
    assert line1.service_date == line1.date_of_service == date(2024, 1, 2)
    assert [(a.label, a.amount) for a in line1.adjustments] == [
        ("CO-45", Decimal("100.00")), ("PR-2", Decimal("20.00"))]
    assert line1.line_control_number == "LINE001"
    assert [(r.qualifier, r.value) for r in line1.references] == [("LU", "LOC1")]
    assert line1.allowed_amount == Decimal("200.00")
    assert [(q.qualifier, q.quantity) for q in line1.quantities] == [("ZK", Decimal(1))]
    assert [(r.code, r.source) for r in line1.remarks] == [("N115", "HE"), ("75", "RX")]
    # DTM 150/151
    assert (line2.procedure.code, line2.procedure.modifiers, line2.units_paid) == (
        "97110", (), Decimal(2))
    assert line2.submitted_procedure is line2.procedure
    assert line2.service_date is None
    assert (line2.service_period_start, line2.service_period_end) == (
        date(2024, 1, 3), date(2024, 1, 4))
    assert line2.date_of_service == date(2024, 1, 3)
    assert line2.allowed_amount == Decimal("120.00")
    assert line2.line_control_number == "LINE002"

    # reversal CLP02=22 with negative amounts
    assert reversal.is_reversal
    assert (reversal.status, reversal.charge, reversal.paid, reversal.frequency_code) == (
        "22", Decimal("-150.00"), Decimal("-100.00"), "8")
    assert reversal.patient_responsibility is None
    assert [(a.label, a.amount) for a in reversal.adjustments] == [("CO-45", Decimal("-50.00"))]
    assert reversal.header_number == "2" and reversal.lines == []

    assert denied.is_denied and denied.paid == Decimal(0)
    assert denied.header_number == "2"
    (denied_line,) = denied.lines
    assert (denied_line.procedure.code, denied_line.procedure.modifiers) == ("J1234", ("JW",))
    assert [a.label for a in denied_line.adjustments] == ["CO-50"]
    assert [r.code for r in denied_line.remarks] == ["N115"]


def test_file_wrapped_at_a_fixed_width_is_read() -> None:
    # Some systems wrap an 835 at 80 columns, splitting segments mid-element; CR/LF are
    # never data in X12, so the reader mends the lines.
    text = golden_835(after="")
    wrapped = "\r\n".join(text[i:i + 80] for i in range(0, len(text), 80))
    assert [c.patient_control_number for c in read(wrapped)[1]] == \
        [c.patient_control_number for c in read(text)[1]]
