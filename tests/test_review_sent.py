"""`appeals review sent LETTER --date YYYY-MM-DD --channel mail|fax|portal` (a contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.application.reviews import ReviewService
from agent.application.workflow import run_batch
from agent.cli import app
from agent.store.records import AuditEntry, LetterRecord
from agent.store.sqlite import SqliteStore
from tests.practice import PRACTICE_TOML, draft_finished
from tests.test_workflow import INPUTS, _open, knee_chart

runner = CliRunner()


@pytest.fixture
def approved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    """One approved letter, the user ann, and the options every review command takes."""
    draft_finished(monkeypatch)
    with _open(tmp_path, knee_chart(tmp_path / "fhir")) as workflow:
        run_batch(workflow, INPUTS)
        workflow.ctx.store.add_user("ann", "auditor", "secret")
        service = ReviewService.over(workflow)
        (letter,) = service.list()
        service.approve(letter.letter_id, "ann")
    monkeypatch.setenv("APPEALS_USER", "ann")
    yield letter.letter_id, ["--db", str(tmp_path / "appeals.db"), "--out",
                             str(tmp_path / "out"), "--config", str(PRACTICE_TOML)]


def _letter(options: list[str], letter_id: str) -> tuple[LetterRecord, list[AuditEntry]]:
    store = SqliteStore(Path(options[1]))
    try:
        letter = store.get_letter(letter_id)
        assert letter is not None
        return letter, store.audit_trail(letter_id)
    finally:
        store.close()


def test_sent_records_the_day_and_channel_on_the_letter_and_in_the_audit(
        approved: tuple[str, list[str]]) -> None:
    letter_id, options = approved
    done = runner.invoke(app, ["review", "sent", letter_id, "--date", "2026-09-22",
                               "--channel", "fax", "--note", "confirmation 4411", *options])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == f"{letter_id}: marked sent by ann on 2026-09-22 by fax"
    letter, trail = _letter(options, letter_id)
    assert (letter.status, letter.sent_on, letter.sent_via) == ("sent", date(2026, 9, 22), "fax")
    last = trail[-1]
    assert (last.action, last.actor, last.note) == ("sent", "ann",
                                                    "sent 2026-09-22 by fax: confirmation 4411")
    manifest = json.loads((Path(options[3]) / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = [d["letter"] for d in manifest["denials"] if d["letter"]["id"] == letter_id]
    assert (entry["status"], entry["sent_on"], entry["sent_via"]) == ("sent", "2026-09-22",
                                                                     "fax")
    again = runner.invoke(app, ["review", "sent", letter_id, "--date", "2026-09-22",
                                "--channel", "mail", *options])
    assert again.exit_code == 1 and "only an approved letter" in again.stderr


@pytest.mark.parametrize("channel", ["mail", "portal"])
def test_each_channel_is_taken(approved: tuple[str, list[str]], channel: str) -> None:
    letter_id, options = approved
    done = runner.invoke(app, ["review", "sent", letter_id, "--date", "2026-09-21",
                               "--channel", channel, *options])
    assert done.exit_code == 0, done.output
    assert _letter(options, letter_id)[0].sent_via == channel


@pytest.mark.parametrize(("args", "said"), [
    (["--date", "2026-09-22"], "--channel"),
    (["--channel", "fax"], "--date"),
    (["--date", "2026-09-22", "--channel", "email"], "email"),
    (["--date", "22/09/2026", "--channel", "fax"], "22/09/2026"),
    (["--date", (date.today() + timedelta(days=2)).isoformat(), "--channel", "fax"],
     "after today"),
])
def test_a_missing_or_bad_date_or_channel_is_a_usage_error(
        approved: tuple[str, list[str]], args: list[str], said: str) -> None:
    letter_id, options = approved
    done = runner.invoke(app, ["review", "sent", letter_id, *args, *options])
    assert done.exit_code == 2 and said in done.stderr
    assert _letter(options, letter_id)[0].status == "approved"
