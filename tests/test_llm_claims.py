"""Model replies read as claims: attacks rejected, careful expert replies accepted.

The replies are data (tests/data/llm_replies/attacks.yaml, experts.yaml), written apart
from the checks, each with the verdict its evidence decides; the letters they are checked
against are tests/data/llm_replies/letters.yaml. Both rates are asserted, so a check that
rejects everything fails as surely as one that accepts everything.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.codes import CodeTable
from agent.denials.model import PatientRef
from agent.ehr.model import ChartBundle, SourceDocument
from agent.evidence.model import Evidence
from agent.letters.render import LetterInput
from agent.llm.claims import read_claims
from agent.llm.guardrails import check_reply
from agent.llm.prompt import LetterMaterial, Prompt
from agent.llm.schema import DraftReply
from agent.playbooks.registry import load_playbook
from tests.denials import line_denial

DATA = Path(__file__).parent / "data" / "llm_replies"
PLAYBOOKS = Path(__file__).parents[1] / "specialty_playbooks"
MIN_RATE = 0.95


def _read(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@cache
def material(name: str) -> LetterMaterial:
    """One fixed letter of letters.yaml, its evidence quoted from one note."""
    spec = _read("letters.yaml")[name]
    document_id = f"DocumentReference/{name}"
    text, evidence = "", []
    for item in spec["evidence"]:
        start = len(text)
        text += item["quote"] + "\n"
        evidence.append(Evidence(quote=item["quote"], document_id=document_id, start=start,
                                 end=start + len(item["quote"]), fact=item["fact"],
                                 value=item.get("value"), document_date=spec["document_date"],
                                 document_title=spec["document"]))
    denial = line_denial(spec["code"], spec["carc"], modifiers=tuple(spec.get("modifiers", ())),
                         units=1, service_date=spec["service_date"], claim_id="CLM-TEST-1",
                         patient=PatientRef(member_id="MBR-TEST-1", last_name="QUILLFEATHER",
                                            first_name="ODALYS",
                                            date_of_birth=date(1961, 3, 9)),
                         claim_procedure_codes=(spec["code"],))
    assert denial.billed == Decimal(100)
    letter = LetterInput(letter_id="lt_test", group_id="grp_test", denials=(denial,),
                         playbook=load_playbook(PLAYBOOKS / f"{spec['playbook']}.yaml"),
                         evidence=tuple(evidence), patient=None,
                         diagnoses=tuple(spec["diagnoses"]))
    chart = ChartBundle(documents=(SourceDocument(
        document_id=document_id, patient_id="pt-test", title=spec["document"],
        date=spec["document_date"], text=text, linked_by="encounter"),))
    return LetterMaterial(letter, chart)


def _problems(item: dict[str, Any]) -> list[str]:
    reply = DraftReply.model_validate({"paragraphs": item["paragraphs"],
                                       "proposed_evidence": []})
    checked = check_reply(reply, material(item["letter"]), Prompt([], {}, False), 0,
                          CodeTable.load_default())
    return checked.problems


def _rate(name: str, rejected: bool) -> tuple[float, list[str]]:
    items = _read(name)
    wrong = []
    for item in items:
        problems = _problems(item)
        if bool(problems) != rejected:
            wrong.append(f"{item['id']}: {problems[:2] if problems else 'accepted'}")
    return 1 - len(wrong) / len(items), wrong


def test_the_sets_are_large_enough_and_cover_every_letter() -> None:
    letters = set(_read("letters.yaml"))
    for name in ("attacks.yaml", "experts.yaml"):
        items = _read(name)
        assert len(items) >= 30, name
        assert len({i["id"] for i in items}) == len(items), name
        assert {i["letter"] for i in items} == letters, name


def test_attack_replies_are_rejected() -> None:
    rate, wrong = _rate("attacks.yaml", rejected=True)
    print(f"attack rejection {rate:.1%}; accepted:", *wrong, sep="\n  ")
    assert rate >= MIN_RATE, wrong


def test_careful_expert_replies_are_accepted() -> None:
    rate, wrong = _rate("experts.yaml", rejected=False)
    print(f"expert acceptance {rate:.1%}; rejected:", *wrong, sep="\n  ")
    assert rate >= MIN_RATE, wrong


@pytest.mark.parametrize(("text", "expected"), [
    ("Completed physical therapy with no improvement.", False),
    ("Physical therapy did not improve the pain.", False),
    ("Physical therapy gave only temporary relief.", False),
    ("Physical therapy resulted in improvement.", True),
    ("The patient tolerated naproxen.", True),
    ("Naproxen was not tolerated.", False),
])
def test_outcomes_are_read_with_their_polarity(text: str, expected: bool) -> None:
    outcomes = [o for c in read_claims(text, ["x"]) for o in c.outcomes]
    assert outcomes and {o.positive for o in outcomes} == {expected}


@pytest.mark.parametrize(("text", "kind", "token"), [
    ("The patient is ASA IV.", "asa", "asa:4"),
    ("The patient is ASA \u2074.", "asa", "asa:4"),
    ("Physical status P4 was billed.", "asa", "asa:4"),
    ("The session lasted fifty-eight minutes.", "minutes", "minutes:58"),
    ("The session lasted \uff15\uff18 min.", "minutes", "minutes:58"),
    ("The line was denied CO-4.", "other", "code:CARC4"),
])
def test_values_are_read_with_their_kind(text: str, kind: str, token: str) -> None:
    values = [v for c in read_claims(text, ["x"]) for v in c.values]
    assert any(v.kind == kind and v.token == token for v in values), values
