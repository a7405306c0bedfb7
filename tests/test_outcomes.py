"""Outcomes: a later 835's line matched to the earlier denial it answers (docs/outcomes.md).

Remittances are built here (tests/remits.py) with their production dates: a denial in
January, then what a March remittance says of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

import agent.ingest
from agent.application.intake import StoreIntake
from agent.application.workflow import open_workflow, run_batch
from agent.cli import app
from agent.config import AppConfig
from agent.denials.model import Denial
from agent.ingest import IngestStream, ingest
from agent.manifest import Manifest
from agent.store.sqlite import SqliteStore
from tests.conftest import EXTERNAL, FIXTURES, ROOT, require_shared
from tests.remits import PAYER, claim, line, remit, write

JAN, MAR, APR = "20260105", "20260310", "20260402"
DAY = "20260810"
DENIED = line("99213", "150.00", "0", ("CO", "50", "150.00"), modifiers=("25",))
PAID = line("99214", "200.00", "160.00", ("CO", "45", "40.00"))
PHI = ("PCN1", "DOE", "JANE", "M100")
"""The claim id, patient name and member id the remittances carry: never in a message."""

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "appeals.db")
    yield opened
    opened.close()


def _jan(folder: Path, *claims: tuple[str, Decimal]) -> str:
    """January: PCN1's 99213-25 denied CO-50, PCN2 paid (and any other claims)."""
    return write(folder, "jan.835", remit([claim("PCN1", DENIED), claim("PCN2", PAID),
                                           *claims], produced=JAN))


def _mar(folder: Path, *claims: tuple[str, Decimal], name: str = "mar.835") -> str:
    return write(folder, name, remit(list(claims), produced=MAR, paid_on="20260312",
                                     trace="EFT2"))


def _read(store: SqliteStore, *files: str) -> tuple[list[Denial], IngestStream]:
    """Read into the store as `appeals ingest --db` does."""
    intake = StoreIntake(store, files)
    return list(intake), intake.stream


def _only(store: SqliteStore) -> str:
    (denial_id,) = store.list_denial_ids()
    return denial_id


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize(("paid", "adjustments", "outcome", "recovered"), [
    ("120.00", [("CO", "45", "30.00")], "overturned", "120.00"),
    ("100.00", [("CO", "45", "30.00"), ("PR", "2", "20.00")], "overturned", "100.00"),
    ("80.00", [("CO", "45", "30.00"), ("CO", "97", "40.00")], "partial", "80.00"),
    ("0", [("CO", "50", "150.00")], "upheld", "0"),
], ids=["paid in full", "paid, patient cost-sharing", "partly paid", "paid nothing"])
def test_a_later_835_records_what_came_of_the_denial(
        tmp_path: Path, store: SqliteStore, paid: str, adjustments: list[tuple[str, str, str]],
        outcome: str, recovered: str) -> None:
    _read(store, _jan(tmp_path))
    denial_id = _only(store)
    later = line("99213", "150.00", paid, *adjustments, modifiers=("25",))
    new, stream = _read(store, _mar(tmp_path, claim("PCN1", later)))
    assert new == []  # an outcome, never a second denial (even partly paid)
    assert stream.summary().outcomes == 1
    found = store.current_outcomes([denial_id])[denial_id]
    assert found.outcome.outcome == outcome
    assert found.outcome.recovered_amount == Decimal(recovered)
    assert found.outcome.decided_on == date(2026, 3, 10)  # the production date
    assert found.outcome.paid_on == date(2026, 3, 12)
    assert found.outcome.matched_by == "payer_claim_number"
    assert found.letter_id is None and found.letter_sent_on is None  # no letter yet
    (kept,) = [c for c in store.iter_claims() if c.production_date == date(2026, 3, 10)]
    assert kept.lines[0].outcome_of == denial_id and kept.lines[0].denial_id is None


def test_a_denial_nothing_later_answers_stays_open(tmp_path: Path, store: SqliteStore) -> None:
    _read(store, _jan(tmp_path))
    assert store.current_outcomes(store.list_denial_ids()) == {}


def test_the_latest_decision_is_the_current_outcome(tmp_path: Path, store: SqliteStore) -> None:
    _read(store, _jan(tmp_path))
    denial_id = _only(store)
    upheld = line("99213", "150.00", "0", ("CO", "50", "150.00"), modifiers=("25",))
    paid = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",))
    april = write(tmp_path, "apr.835", remit([claim("PCN1", paid)], produced=APR))
    _read(store, april, _mar(tmp_path, claim("PCN1", upheld)))  # given out of order
    history = store.outcome_history(denial_id)
    assert [(o.outcome.outcome, o.outcome.decided_on) for o in history] == [
        ("overturned", date(2026, 4, 2)), ("upheld", date(2026, 3, 10))]
    assert store.current_outcomes([denial_id])[denial_id].outcome.outcome == "overturned"


def test_reading_the_later_835_again_records_nothing_new(tmp_path: Path,
                                                         store: SqliteStore) -> None:
    _read(store, _jan(tmp_path))
    march = _mar(tmp_path, claim("PCN1", line("99213", "150.00", "120.00",
                                             ("CO", "45", "30.00"), modifiers=("25",))))
    _read(store, march)
    first = store.outcome_history(_only(store))
    claims = list(store.iter_claims())
    _read(store, march)
    assert store.outcome_history(_only(store)) == first
    assert list(store.iter_claims()) == claims


# --------------------------------------------------------------------------- matching


def test_a_reversal_and_its_correction_are_followed(tmp_path: Path, store: SqliteStore) -> None:
    _read(store, _jan(tmp_path))
    denial_id = _only(store)
    # The payer takes back its January decision (CLP02 22, the same claim number) and
    # sends the corrected claim under a new claim number.
    reversal = claim("PCN1", line("99213", "-150.00", "0", ("CO", "50", "-150.00"),
                                  modifiers=("25",)), status="22", icn="ICNPCN1")
    corrected = claim("PCN1", line("99213", "150.00", "120.00", ("CO", "45", "30.00"),
                                   modifiers=("25",)), icn="ICN-NEW")
    new, stream = _read(store, _mar(tmp_path, reversal, corrected))
    assert new == []
    summary = stream.summary()
    assert (summary.reversals, summary.corrections, summary.outcomes) == (1, 1, 1)
    found = store.current_outcomes([denial_id])[denial_id].outcome
    assert (found.outcome, found.recovered_amount) == ("overturned", Decimal("120.00"))
    assert found.matched_by == "payer_claim_number"  # through the reversed claim's number
    assert found.payer_claim_number == "ICN-NEW"
    march = [c for c in store.iter_claims() if c.production_date == date(2026, 3, 10)]
    assert {(c.status, c.corrects) for c in march} == {("1", "ICNPCN1"), ("22", None)}
    (reversed_line,) = next(c for c in march if c.status == "22").lines
    assert reversed_line.outcome_of is None and reversed_line.denial_id is None


def test_production_date_decides_not_the_order_given(tmp_path: Path, store: SqliteStore) -> None:
    jan = _jan(tmp_path)
    march = _mar(tmp_path, claim("PCN1", line("99213", "150.00", "120.00",
                                             ("CO", "45", "30.00"), modifiers=("25",))))
    report = ingest([march, jan])  # no store: the batch alone
    (denial,) = report.denials
    (outcome,) = report.outcomes
    assert outcome.denial_id == denial.denial_id and outcome.outcome == "overturned"
    assert [f.source for f in report.files] == [jan, march]  # read by production date
    new, _ = _read(store, march, jan)
    assert [d.denial_id for d in new] == [denial.denial_id]
    assert store.current_outcomes([denial.denial_id])[denial.denial_id].outcome.outcome == \
        "overturned"


def test_same_day_remittances_answer_nothing(tmp_path: Path) -> None:
    jan = _jan(tmp_path)
    again = write(tmp_path, "jan-again.835", remit([claim("PCN1", line(
        "99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",)))],
        produced=JAN, trace="EFT9"))
    assert ingest([jan, again]).outcomes == []  # not later: no outcome


def test_without_the_payer_claim_number_claim_id_date_and_procedure_match(
        tmp_path: Path, store: SqliteStore) -> None:
    _read(store, _jan(tmp_path))
    denial_id = _only(store)
    paid = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",))
    other_day = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",),
                     day="20260811")
    other_code = line("99215", "150.00", "120.00", ("CO", "45", "30.00"))
    _read(store, _mar(tmp_path, claim("PCN1", other_day, other_code, icn="REPROCESSED")))
    assert store.current_outcomes([denial_id]) == {}  # another day, another code
    _read(store, _mar(tmp_path, claim("PCN1", paid, icn="REPROCESSED"), name="mar2.835"))
    found = store.current_outcomes([denial_id])[denial_id].outcome
    assert found.matched_by == "claim_id" and found.outcome == "overturned"


def test_an_ambiguous_match_records_nothing_and_is_reported(tmp_path: Path,
                                                            store: SqliteStore) -> None:
    # Two lines of the same code and day (no line control numbers): two denials that a
    # later line of that code and day matches alike.
    jan = write(tmp_path, "jan.835", remit([claim("PCN1", DENIED, DENIED)], produced=JAN))
    _read(store, jan)
    assert len(store.list_denial_ids()) == 2
    later = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",))
    new, stream = _read(store, _mar(tmp_path, claim("PCN1", later)))
    assert new == [] and stream.summary().ambiguous == 1
    assert store.current_outcomes(store.list_denial_ids()) == {}
    (warning,) = [w for w in stream.warnings if "earlier denial" in w]
    assert warning.startswith(f"{tmp_path / 'mar.835'}: segment ")
    assert "no outcome was recorded" in warning and "\n" not in warning
    assert not any(secret in warning for secret in PHI)


def test_line_control_numbers_tell_same_code_lines_apart(tmp_path: Path,
                                                         store: SqliteStore) -> None:
    first = line("99213", "150.00", "0", ("CO", "50", "150.00"), control="L1")
    second = line("99213", "150.00", "0", ("CO", "50", "150.00"), control="L2")
    _read(store, write(tmp_path, "jan.835", remit([claim("PCN1", first, second)],
                                                  produced=JAN)))
    paid = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), control="L2")
    _read(store, _mar(tmp_path, claim("PCN1", paid)))
    outcomes = store.current_outcomes(store.list_denial_ids())
    assert len(outcomes) == 1
    (records,) = [store.get_denials([i]) for i in outcomes]
    assert records[0].denial.line_control_number == "L2"


def test_a_claim_level_denial_is_answered_by_the_claim(tmp_path: Path,
                                                       store: SqliteStore) -> None:
    no_lines = ("CLP*PCN7*4*300.00*0**12*ICN7*11*1~NM1*QC*1*DOE*JANE****MI*M100~"
                "CAS*CO*29*300.00~DTM*232*20260810", Decimal(0))
    _read(store, write(tmp_path, "jan.835", remit([no_lines], produced=JAN)))
    denial_id = _only(store)
    paid = line("99213", "300.00", "250.00", ("CO", "45", "50.00"))
    new, _ = _read(store, _mar(tmp_path, claim("PCN7", paid, icn="ICN7")))
    assert new == []
    found = store.current_outcomes([denial_id])[denial_id].outcome
    assert (found.outcome, found.recovered_amount, found.line) == \
        ("overturned", Decimal("250.00"), 0)


# --------------------------------------------------------------------------- claims kept


def test_every_claim_read_is_kept_paid_ones_too(tmp_path: Path, store: SqliteStore) -> None:
    jan = _jan(tmp_path)
    (denial,), _ = _read(store, jan)
    kept = {c.claim_id: c for c in store.iter_claims()}
    assert set(kept) == {"PCN1", "PCN2"}
    paid = kept["PCN2"]
    assert (paid.payer_name, paid.payer_id, paid.status) == (PAYER, "ACME1", "1")
    assert (paid.charge, paid.paid) == (Decimal("200.00"), Decimal("160.00"))
    assert paid.production_date == paid.payment_date == date(2026, 1, 5)
    assert paid.service_date == date(2026, 8, 10) and paid.source == jan
    assert paid.payer_claim_number == "ICNPCN2"
    (paid_line,) = paid.lines
    assert (paid_line.procedure, paid_line.charge, paid_line.paid) == \
        ("99214", Decimal("200.00"), Decimal("160.00"))
    assert paid_line.adjustments == ["CO-45:40.00"] and paid_line.denial_id is None
    (denied_line,) = kept["PCN1"].lines
    assert denied_line.procedure == "99213-25" and denied_line.denial_id == denial.denial_id
    assert denied_line.denied_amount == Decimal("150.00")
    # No patient name or member id is kept with the claims.
    raw = store.connection.execute("SELECT * FROM appeal_claims").fetchall()
    assert not any(secret in str(raw) for secret in ("DOE", "JANE", "M100"))
    _read(store, jan)  # read again: the same rows
    assert {c.claim_id: c for c in store.iter_claims()} == kept


def test_a_file_that_does_not_read_to_its_end_keeps_nothing(tmp_path: Path,
                                                            store: SqliteStore) -> None:
    text = Path(_jan(tmp_path)).read_text()
    broken = write(tmp_path, "broken.835", text[:text.index("SE*")])
    _, stream = _read(store, broken)
    assert stream.files[0].status == "failed"
    assert list(store.iter_claims()) == []
    assert store.connection.execute("SELECT count(*) FROM appeal_claims").fetchone()[0] == 0


def test_a_large_later_file_read_twice_skips_the_same_lines(
        tmp_path: Path, store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent.ingest, "HELD_DENIALS", 1)  # every file is read twice
    _read(store, _jan(tmp_path))
    denial_id = _only(store)
    paid = line("99213", "150.00", "120.00", ("CO", "45", "30.00"), modifiers=("25",))
    new, stream = _read(store, _mar(tmp_path, claim("PCN1", paid), claim("PCN5", DENIED),
                                    claim("PCN6", DENIED)))
    assert sorted(d.claim_id for d in new) == ["PCN5", "PCN6"]
    assert stream.summary().outcomes == 1 and stream.files[0].denials == 2
    assert store.current_outcomes([denial_id])[denial_id].outcome.outcome == "overturned"
    kept = {line.denial_id for c in store.iter_claims() for line in c.lines if line.denial_id}
    assert {d.denial_id for d in new} <= kept


@pytest.mark.parametrize("held", [1_000, 1], ids=["held", "read twice"])
def test_kept_lines_name_the_denials_they_are(tmp_path: Path, store: SqliteStore,
                                              monkeypatch: pytest.MonkeyPatch,
                                              held: int) -> None:
    monkeypatch.setattr(agent.ingest, "HELD_DENIALS", held)
    files = sorted(str(p) for p in (FIXTURES / "835").glob("*.835"))
    new, stream = _read(store, *files)
    lines = [line for c in store.iter_claims() for line in c.lines]
    assert len(lines) == sum(f.service_lines for f in stream.files)
    assert sorted(x.denial_id for x in lines if x.denial_id) == \
        sorted(d.denial_id for d in new if d.level == "line")


@pytest.mark.needs_shared
def test_real_835s_are_kept_claim_by_claim(tmp_path: Path) -> None:
    folder = require_shared(EXTERNAL)
    files = sorted(str(p) for p in folder.rglob("*") if p.is_file()
                   and p.suffix.lower() in (".835", ".edi", ".txt") and "835" in str(p))
    files = [f for f in files if agent.ingest.input_kind(Path(f)) == "835"]
    assert files
    store = SqliteStore(tmp_path / "real.db")
    try:
        _, stream = _read(store, *files)
        read = sum(f.claims for f in stream.files if f.status == "read")
        assert read and len(list(store.iter_claims())) <= read
        assert all(c.lines or c.charge is not None for c in store.iter_claims())
    finally:
        store.close()


# --------------------------------------------------------------------------- runs


def _run(tmp_path: Path, inputs: list[str]) -> Manifest:
    with open_workflow(tmp_path / "appeals.db", tmp_path / "out", None, AppConfig(),
                       today=date(2026, 3, 20)) as workflow:
        return run_batch(workflow, inputs)


def test_runs_record_outcomes_and_the_manifest_says_so(tmp_path: Path) -> None:
    jan = _jan(tmp_path)
    first = _run(tmp_path, [jan])
    assert first.schema_version == "1.2"
    assert [d.outcome for d in first.denials] == ["open"]
    (denial,) = first.denials
    march = _mar(tmp_path, claim("PCN1", line("99213", "150.00", "120.00",
                                             ("CO", "45", "30.00"), modifiers=("25",))),
                 claim("PCN9", line("99215", "210.00", "0", ("CO", "97", "210.00"))))
    second = _run(tmp_path, [march])
    # The summary counts this run's own denials (PCN9's); PCN1's outcome is listed apart.
    assert [d.claim_id for d in second.denials] == ["PCN9"] and second.summary.denials == 1
    assert [d.outcome for d in second.denials] == ["open"]
    written = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(written, json.loads((ROOT / "docs" / "manifest.schema.json")
                                            .read_text(encoding="utf-8")))
    assert written["schema_version"] == "1.2"
    assert written["outcomes"] == [{"denial_id": denial.denial_id, "outcome": "overturned",
                                    "recovered_amount": "120.00", "date": "2026-03-10"}]
    assert all("outcome" in d for d in written["denials"])
    both = _run(tmp_path, [march, jan])  # one run over both: the denial is its own
    (pcn1,) = [d for d in both.denials if d.claim_id == "PCN1"]
    assert (pcn1.outcome, pcn1.recovered_amount, pcn1.outcome_date) == \
        ("overturned", Decimal("120.00"), date(2026, 3, 10))
    assert both.outcomes == [] and both.summary.denials == 2


def test_ingest_with_db_writes_and_plain_ingest_does_not(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    jan = _jan(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPEALS_DB", str(tmp_path / "from-env.db"))  # not a default of ingest
    plain = runner.invoke(app, ["ingest", jan])
    assert plain.exit_code == 0, plain.output
    assert not list(tmp_path.glob("*.db"))
    db = tmp_path / "kept.db"
    kept = runner.invoke(app, ["ingest", jan, "--db", str(db)])
    assert kept.exit_code == 0, kept.output
    assert f"kept in {db}: 2 claims read, 1 denials" in kept.stdout
    store = SqliteStore(db)
    try:
        assert {c.claim_id for c in store.iter_claims()} == {"PCN1", "PCN2"}
        (record,) = store.get_denials(store.list_denial_ids())
        assert record.triage is None  # triaged by the next run over it
    finally:
        store.close()
    march = _mar(tmp_path, claim("PCN1", line("99213", "150.00", "0", ("CO", "50", "150.00"),
                                             modifiers=("25",))))
    as_json = runner.invoke(app, ["ingest", march, "--db", str(db), "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["denials"] == [] and data["summary"]["outcomes"] == 1
    assert data["outcomes"][0]["outcome"] == "upheld"
    assert "kept in" in as_json.stderr


def test_ingest_with_db_waits_for_no_other_writer(tmp_path: Path) -> None:
    from agent.store.lease import writer_lease

    db = tmp_path / "kept.db"
    store = SqliteStore(db)
    try:
        with writer_lease(store, "a test holding the store"):
            held = runner.invoke(app, ["ingest", _jan(tmp_path), "--db", str(db)])
    finally:
        store.close()
    assert held.exit_code == 1 and "in use by another writer" in held.stderr


def test_a_run_without_ehr_works_when_no_denial_needs_a_chart(tmp_path: Path) -> None:
    owed = write(tmp_path, "owed.835", remit([claim("PCN3", line(
        "99213", "150.00", "0", ("PR", "1", "150.00")))], produced=JAN))
    out, db = tmp_path / "out", tmp_path / "appeals.db"
    done = runner.invoke(app, ["run", owed, "--db", str(db), "--out", str(out),
                               "--as-of", "2026-03-20"])
    assert done.exit_code == 0, done.output
    assert "--ehr" not in done.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["summary"]["needs_ehr"] == 0
    assert [d["triage"]["action"] for d in manifest["denials"]] == ["patient_responsibility"]


def test_a_run_without_ehr_says_what_happens_to_a_denial_that_needs_one(tmp_path: Path) -> None:
    necessity = write(tmp_path, "mn.835", remit([claim("PCN4", line(
        "99213", "150.00", "0", ("CO", "50", "150.00")))], produced=JAN))
    out, db = tmp_path / "out", tmp_path / "appeals.db"
    done = runner.invoke(app, ["run", necessity, "--db", str(db), "--out", str(out),
                               "--as-of", "2026-03-20"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.stderr.split())
    assert "1 denial(s) need the chart and no EHR source was given" in said
    assert "run again with --ehr SOURCE" in said
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["summary"]["needs_ehr"] == 1
    (denial,) = manifest["denials"]
    assert denial["triage"]["action"] == "needs_review" and denial["error"] == "NoEHRSource"
    assert "--ehr" in denial["triage"]["reason"] and denial["letter"]["status"] == "not_drafted"


def test_a_run_without_ehr_leaves_what_a_run_with_one_decided(tmp_path: Path) -> None:
    from tests.practice import practice_config
    from tests.test_workflow import INPUTS, TODAY, _open, knee_chart

    with _open(tmp_path, knee_chart(tmp_path / "fhir")) as workflow:
        before = run_batch(workflow, INPUTS)
    with open_workflow(tmp_path / "appeals.db", tmp_path / "out", None, practice_config(),
                       today=TODAY) as workflow:
        after = run_batch(workflow, INPUTS)
    assert after.summary.needs_ehr == 0
    assert [(d.denial_id, d.triage.action, d.letter.id, d.letter.status)
            for d in after.denials] == [(d.denial_id, d.triage.action, d.letter.id,
                                         d.letter.status) for d in before.denials]


# --------------------------------------------------------------------------- paid later

MEDICARE = {"payer": "MEDICARE PART B - GREAT LAKES MAC", "payer_id": "15102"}
KNEE = "LOM26-10601"
"""The demo's knee injection denied CO-50 (medicare-b-2026-09-09.835, produced 2026-09-05):
its chart (tests/test_workflow.py:knee_chart) makes it an appeal with a draft."""


def _knee_paid(folder: Path, produced: str = "20260915") -> str:
    """A later Medicare remittance that pays the knee injection (CO-45 only)."""
    paid = line("20610", "410.00", "328.00", ("CO", "45", "82.00"), day="20260818",
                modifiers=("RT",))
    return write(folder, f"paid-{produced}.835", remit(
        [claim(KNEE, paid, icn="2226245001230", member="1EG4TE5MK73")], produced=produced,
        trace=f"EFT{produced}", **MEDICARE))


def _knee_run(tmp_path: Path, inputs: list[str]) -> Manifest:
    from tests.test_workflow import _open, knee_chart

    with _open(tmp_path, knee_chart(tmp_path / "fhir")) as workflow:
        return run_batch(workflow, inputs)


def test_a_denial_a_later_835_of_the_same_run_paid_gets_no_letter(tmp_path: Path) -> None:
    from tests.test_workflow import INPUTS

    alone = _knee_run(tmp_path / "alone", INPUTS)
    (appealed,) = [d for d in alone.denials if d.claim_id == KNEE]
    assert appealed.triage.action == "appeal" and appealed.letter.status == "pending_review"
    both = _knee_run(tmp_path / "both", [_knee_paid(tmp_path), *INPUTS])
    (knee,) = [d for d in both.denials if d.claim_id == KNEE]
    assert (knee.outcome, knee.recovered_amount) == ("overturned", Decimal("328.00"))
    assert knee.triage.action == "no_action"
    assert knee.triage.reason == ("Paid on a later remittance of 2026-09-15 ($328.00 more; no "
                                  "denial reason left): nothing to appeal.")
    # What the denial was stands, for the figures: clinical, documentation, not preventable.
    assert (knee.triage.category, knee.triage.root_cause, knee.triage.preventable) == (
        appealed.triage.category, appealed.triage.root_cause, appealed.triage.preventable)
    assert knee.letter.status == "not_drafted"
    others = {d.denial_id: (d.triage.action, d.letter.status) for d in alone.denials
              if d.claim_id != KNEE}
    assert {d.denial_id: (d.triage.action, d.letter.status) for d in both.denials
            if d.claim_id != KNEE} == others


def test_a_pending_draft_is_withdrawn_when_a_later_run_reads_the_payment(
        tmp_path: Path) -> None:
    from tests.test_workflow import INPUTS

    first = _knee_run(tmp_path, INPUTS)
    (knee,) = [d for d in first.denials if d.claim_id == KNEE]
    letter_id = knee.letter.id
    assert letter_id and knee.letter.status == "pending_review"
    later = _knee_run(tmp_path, [_knee_paid(tmp_path)])
    assert later.denials == [] and [o.denial_id for o in later.outcomes] == [knee.denial_id]
    assert later.summary.letters_superseded == 1
    with closing(SqliteStore(tmp_path / "appeals.db")) as store:
        letter = store.get_letter(letter_id)
        assert letter is not None and letter.status == "superseded"
        assert letter.superseded_by is None
        (record,) = store.get_denials([knee.denial_id])
        assert record.letter_id is None and record.triage is not None
        assert record.triage.action == "no_action"
        (entry,) = [e for e in store.audit_trail(letter_id) if e.action == "superseded"]
        assert entry.note == "paid on a later remittance: no longer to be appealed"
    # Read again, nothing changes and nothing is drafted.
    again = _knee_run(tmp_path, [_knee_paid(tmp_path), *INPUTS])
    (same,) = [d for d in again.denials if d.claim_id == KNEE]
    assert same.triage.action == "no_action" and same.letter.status == "not_drafted"
    assert again.summary.letters_superseded == 0


def test_an_approved_letter_stands_when_the_payer_pays(tmp_path: Path) -> None:
    from tests.test_workflow import INPUTS

    first = _knee_run(tmp_path, INPUTS)
    (knee,) = [d for d in first.denials if d.claim_id == KNEE]
    with closing(SqliteStore(tmp_path / "appeals.db")) as store:
        letter = store.get_letter(knee.letter.id or "")
        assert letter is not None
        store.save_letter(letter.model_copy(update={"status": "approved"}))
    _knee_run(tmp_path, [_knee_paid(tmp_path)])
    with closing(SqliteStore(tmp_path / "appeals.db")) as store:
        kept = store.get_letter(knee.letter.id or "")
        assert kept is not None and kept.status == "approved"  # the auditor's decision
        (record,) = store.get_denials([knee.denial_id])
        assert record.triage is not None and record.triage.action == "no_action"
        assert record.letter_id == kept.letter_id


def test_a_payment_taken_back_puts_the_denial_back_to_work(tmp_path: Path) -> None:
    from tests.test_workflow import INPUTS

    paid = _knee_run(tmp_path, [_knee_paid(tmp_path), *INPUTS])
    (knee,) = [d for d in paid.denials if d.claim_id == KNEE]
    assert knee.triage.action == "no_action" and knee.letter.status == "not_drafted"
    # Two weeks later the payer reverses the payment and denies the line again.
    reversal = line("20610", "-410.00", "-328.00", ("CO", "45", "-82.00"), day="20260818",
                    modifiers=("RT",))
    denied = line("20610", "410.00", "0", ("CO", "50", "410.00"), day="20260818",
                  modifiers=("RT",))
    taken_back = write(tmp_path, "taken-back.835", remit(
        [claim(KNEE, reversal, status="22", icn="2226245001230", member="1EG4TE5MK73"),
         claim(KNEE, denied, status="4", icn="2226245009999", member="1EG4TE5MK73")],
        produced="20260929", trace="EFT0929", **MEDICARE))
    again = _knee_run(tmp_path, [taken_back])
    (outcome,) = [o for o in again.outcomes if o.denial_id == knee.denial_id]
    assert outcome.outcome == "upheld"
    with closing(SqliteStore(tmp_path / "appeals.db")) as store:
        (record,) = store.get_denials([knee.denial_id])
    assert record.triage is not None and record.triage.action == "appeal"
    assert record.letter_id is not None  # decided from its chart again, and drafted
