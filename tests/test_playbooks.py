"""Playbooks are validated data; selection uses claim data only."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.denials.model import (
    Denial,
)
from agent.playbooks.model import Match
from agent.playbooks.registry import PlaybookError, PlaybookSet, load_playbook
from tests.denials import line_denial

SHIPPED = Path(__file__).resolve().parents[1] / "specialty_playbooks"


def denial(code: str, reason: str, modifiers: tuple[str, ...] = ()) -> Denial:
    return line_denial(code, reason, modifiers=modifiers)

def test_shipped_playbooks_load_and_validate() -> None:
    playbooks = PlaybookSet.load(SHIPPED)
    assert "medical_necessity" in [p.id for p in playbooks.playbooks]
    medical = playbooks.get("medical_necessity")
    assert [f.id for f in medical.required_facts] == ["objective_finding",
                                                      "conservative_treatment"]


# Rules that decide without the chart's words: payer rules on the claim and the NCCI
# table, and the E/M write-off, decided on the whole assessment and plan (its reason says
# how many items, all the procedure's own).
NO_CHART_QUOTE = {"medicare_pays_no_physical_status_units", "ncci_indicator_0",
                  "no_separate_service"}


def test_a_write_off_or_corrected_claim_on_the_chart_quotes_what_decided_it() -> None:
    for playbook in PlaybookSet.load(SHIPPED).playbooks:
        for rule in playbook.not_appeal:
            if rule.action in ("write_off", "corrected_claim") \
                    and rule.id not in NO_CHART_QUOTE:
                assert rule.quotes, f"{playbook.id}: rule {rule.id} quotes no fact"


@pytest.mark.parametrize(("reason", "expected"), [("50", "medical_necessity"),
                                                  ("151", "medical_necessity"),
                                                  ("97", None), ("29", "timely_filing")])
def test_selection_by_carc(reason: str, expected: str | None) -> None:
    chosen = PlaybookSet.load(SHIPPED).select(denial("20610", reason), "clinical")
    assert (chosen.id if chosen else None) == expected


def test_code_ranges() -> None:
    match = Match(procedure_codes=("00100-01999", "20610"))
    assert match.covers_code("00840") and match.covers_code("20610")
    assert not match.covers_code("02000") and not match.covers_code("20611")
    with pytest.raises(ValueError, match="not a code range"):
        Match(procedure_codes=("001-019",))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_invalid_playbook_names_the_file_and_field(tmp_path: Path) -> None:
    text = (SHIPPED / "medical_necessity.yaml").read_text().replace("order: 900",
                                                                    "order: soon")
    with pytest.raises(PlaybookError, match=r"^medical_necessity.yaml: order: "):
        load_playbook(_write(tmp_path, "medical_necessity.yaml", text))


def test_playbook_id_must_match_its_file(tmp_path: Path) -> None:
    text = (SHIPPED / "medical_necessity.yaml").read_text()
    with pytest.raises(PlaybookError, match="must match the file name"):
        load_playbook(_write(tmp_path, "other.yaml", text))


def test_yaml_syntax_error_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="not valid YAML"):
        load_playbook(_write(tmp_path, "bad.yaml", "id: [unclosed"))
