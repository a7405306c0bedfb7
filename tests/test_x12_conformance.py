"""Every real 835 in ../shared/data/external is read, with the right counts and amounts.

The expected counts were taken from the files themselves (CLP and SVC segments, non-empty
CAS reason slots), not from this reader. For the three keironstoddart files, line facts are
compared with that project's own expected-output CSVs.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from agent.x12 import Remittance835Reader
from agent.x12.models import ClaimPayment, ServiceLine
from tests.conftest import EXTERNAL, external_835_files

# file (relative to external/) -> (claims, service lines, CAS reason/amount triplets)
EXPECTED_COUNTS = {
    "badx12/835/X221-era-sample.edi": (1, 5, 5),
    "badx12/835/X221-multiple-claims-single-check.edi": (9, 33, 39),
    "keironstoddart-edi-835-parser/835/blue_cross_nc_sample.txt": (1, 3, 3),
    "keironstoddart-edi-835-parser/835/emedny_sample.txt": (3, 10, 4),
    "keironstoddart-edi-835-parser/835/united_healthcare_legacy_sample.txt": (2, 5, 7),
    "linuxforhealth-x12/835/cob-contractural-adjustment.835": (1, 1, 2),
    "linuxforhealth-x12/835/managed-care.835": (2, 2, 5),
    "linuxforhealth-x12/835/medicare-part-a.835": (2, 0, 2),
    "linuxforhealth-x12/835/secondary-payment.835": (2, 2, 5),
    "linuxforhealth-x12/835/tertiary-payment.835": (1, 1, 1),
    "tigershark/835/835-example-2.txt": (2, 2, 2),
    "tigershark/835/835-example.txt": (2, 2, 2),
    "pyx12/835_mult_loops.txt": (1, 3, 3),
}

# Warnings each file must raise, and no others: every tolerance is said out loud.
EXPECTED_WARNINGS = {
    "keironstoddart-edi-835-parser/835/blue_cross_nc_sample.txt":
        {"no_envelope", "version_unknown", "extra_elements", "svc_no_amounts", "se_count"},
    "linuxforhealth-x12/835/cob-contractural-adjustment.835": {"component_separator"},
    "linuxforhealth-x12/835/managed-care.835": {"payment_date"},
    "linuxforhealth-x12/835/secondary-payment.835": {"component_separator"},
    "linuxforhealth-x12/835/tertiary-payment.835": {"svc_composite_split"},
    "tigershark/835/835-example.txt": {"version_4010", "se_count", "payment_unbalanced"},
    "tigershark/835/835-example-2.txt":
        {"version_4010", "se_count", "payment_unbalanced", "envelope_count"},
}


def _name(path: Path) -> str:
    return path.relative_to(EXTERNAL).as_posix()


def _read(path: Path) -> tuple[Remittance835Reader, list[ClaimPayment]]:
    reader = Remittance835Reader.open(path, source=_name(path))
    return reader, list(reader)


@pytest.mark.needs_shared
def test_every_external_file_is_listed() -> None:
    assert {_name(p) for p in external_835_files()} == set(EXPECTED_COUNTS)


@pytest.mark.needs_shared
@pytest.mark.parametrize("path", external_835_files(), ids=_name)
def test_external_835_is_read_with_right_counts(path: Path) -> None:
    reader, claims = _read(path)
    claims_n, lines_n, adjustments_n = EXPECTED_COUNTS[_name(path)]
    assert len(claims) == claims_n
    assert sum(len(c.lines) for c in claims) == lines_n
    assert sum(len(c.adjustments) + sum(len(ln.adjustments) for ln in c.lines)
               for c in claims) == adjustments_n
    assert reader.stats.claims == claims_n
    assert {w.code for w in reader.warnings} == EXPECTED_WARNINGS.get(_name(path), set())


@pytest.mark.needs_shared
@pytest.mark.parametrize("path", external_835_files(), ids=_name)
def test_external_835_claims_balance_unless_warned(path: Path) -> None:
    reader, claims = _read(path)
    unbalanced = {w.code for w in reader.warnings} & {"claim_unbalanced", "line_unbalanced"}
    assert not unbalanced
    for claim in claims:
        line_adjusted = sum((a.amount for ln in claim.lines for a in ln.adjustments),
                            Decimal(0))
        claim_adjusted = sum((a.amount for a in claim.adjustments), Decimal(0))
        assert claim.charge - claim.paid == line_adjusted + claim_adjusted


# -- keironstoddart expected output --------------------------------------------------

KEIRON = EXTERNAL / "keironstoddart-edi-835-parser"


def _keiron_rows(name: str) -> list[dict[str, str]]:
    with open(KEIRON / "expected_output" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def _their_adjustments(row: dict[str, str]) -> list[tuple[str, str, Decimal]]:
    out = []
    for i in range(6):
        if row.get(f"adj_{i}_code"):
            out.append((row[f"adj_{i}_group"], row[f"adj_{i}_code"],
                        Decimal(row[f"adj_{i}_amount"])))
    return out


def _our_lines(name: str) -> list[tuple[ClaimPayment, ServiceLine]]:
    _, claims = _read(KEIRON / "835" / f"{name}.txt")
    return [(c, ln) for c in claims for ln in c.lines]


def _money(text: str) -> Decimal | None:
    return Decimal(text) if text else None


@pytest.mark.parametrize("name", ["blue_cross_nc_sample", "emedny_sample",
                                  "united_healthcare_legacy_sample"])
@pytest.mark.needs_shared
def test_lines_agree_with_keironstoddart_expected_output(name: str) -> None:
    rows = _keiron_rows(name)
    ours = _our_lines(name)
    assert len(ours) == len(rows)
    for row, (claim, line) in zip(rows, ours, strict=True):
        assert claim.patient_control_number == row["marker"]
        assert line.procedure.code == row["code"]
        assert line.procedure.qualifier == row["qualifier"]
        assert (line.procedure.modifiers[:1] or ("",))[0] == row["modifier"]
        assert line.allowed_amount == _money(row["allowed_amount"])
        assert line.date_of_service is not None
        assert line.date_of_service.isoformat() == row["start_date"]
        refs = [(q, v) for q, v in ((row.get("ref_0_qual"), row.get("ref_0_value")),) if q]
        if refs:
            assert (refs[0][0], line.line_control_number) == ("6R", refs[0][1])
        if row.get("rem_0_code"):
            assert [(r.source, r.code) for r in line.remarks] == [(row["rem_0_qual"],
                                                                   row["rem_0_code"])]
        if name == "blue_cross_nc_sample" and line.segment_number == 28:
            # SVC*HC:59426******742*742**1 has no charge or payment in SVC02/SVC03; their
            # parser leaves both blank and reads the stray 742 as units. We read 0.00/0.00
            # (nothing charged, nothing paid) and warn; the 742 is the AMT*B6 allowed amount.
            assert (row["charge_amount"], row["paid_amount"]) == ("", "")
            assert (line.charge, line.paid) == (Decimal(0), Decimal(0))
            continue
        assert line.charge == Decimal(row["charge_amount"])
        assert line.paid == Decimal(row["paid_amount"])
        ours_adj = [(a.group, a.reason, a.amount) for a in line.adjustments]
        theirs = _their_adjustments(row)
        if ours_adj != theirs:
            # Their parser keeps only the first reason of a CAS segment with several
            # (CAS*PR*2*5.13**1*110 is PR-2 5.13 *and* PR-1 110.00). The file balances only
            # with both: 328.50 - 29.05 = 5.13 + 110.00 + 184.32.
            assert name == "united_healthcare_legacy_sample"
            assert ours_adj == [("PR", "2", Decimal("5.13")), ("PR", "1", Decimal("110")),
                                ("CO", "45", Decimal("184.32"))]
            assert theirs == [("PR", "2", Decimal("5.13")), ("CO", "45", Decimal("184.32"))]
            assert line.charge - line.paid == sum(a for _, _, a in ours_adj)


@pytest.mark.needs_shared
def test_svc06_submitted_procedure_is_kept() -> None:
    (_claim, line), *_ = _our_lines("blue_cross_nc_sample")
    assert line.procedure.code == "59430"
    assert line.original_procedure is not None
    assert line.original_procedure.code == "59410"
    assert line.submitted_procedure.code == "59410"


@pytest.mark.needs_shared
def test_4010_file_with_pipe_separator_reads_names_and_amounts() -> None:
    reader, claims = _read(EXTERNAL / "tigershark" / "835" / "835-example.txt")
    assert reader.remittances[0].version == "004010X091A1"
    assert claims[0].subscriber is not None and claims[0].subscriber.identifier == "123111111"
    assert claims[0].lines[0].procedure.code == "88888"
    assert claims[1].adjustments[0].label == "PR-1"
    assert claims[1].adjustments[0].amount == Decimal("145.00")
