"""Chart text never steers a decision or a letter (issue 12): a sentence that addresses a
reader is never evidence, in every spelling; two values of a decisive fact go to review
quoting both."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from agent.denials.model import PatientRef, PayerRef
from agent.ehr.model import ChartBundle, SourceDocument
from agent.notes.directives import addresses_reader, directive_spans
from agent.playbooks.builtin import builtin_registries
from agent.playbooks.registry import PlaybookSet
from agent.triage.model import Triage
from agent.workflow.decide import Decision, decide
from tests.conftest import EXTERNAL, ROOT, require_shared
from tests.denials import line_denial

DATA = yaml.safe_load((Path(__file__).parent / "data" / "chart_directives.yaml")
                      .read_text(encoding="utf-8"))
DIRECTIVES: list[str] = DATA["directives"]
ORDINARY: list[str] = DATA["ordinary"]
DOS = date(2026, 8, 20)
PLAYBOOKS = PlaybookSet.load(ROOT / "specialty_playbooks")
EXTRACTORS, CHECKS = builtin_registries()
TRIAGE = Triage(action="appeal", category="clinical", preventable=False, dollar_bucket="low",
                root_cause="documentation", reason="", rule="t", final=False)


def _chart(*texts: str) -> ChartBundle:
    return ChartBundle(documents=tuple(
        SourceDocument(document_id=f"DocumentReference/d{i}", patient_id="Patient/p",
                       title="Pre-anesthesia evaluation", date=DOS, text=text,
                       linked_by="encounter") for i, text in enumerate(texts)))


def _anesthesia(chart: ChartBundle) -> Decision:
    denial = line_denial("00840", "4", billed="1980.00", paid="1204.50", denied="136.80",
                         modifiers=("AA", "P3"), units=12, claim_id="ANES-1",
                         claim_filing_indicator="CI", service_date=DOS,
                         payer=PayerRef(name="BLUE RIVER HEALTH PLAN"), remarks=("N440",))
    return decide(denial, TRIAGE, PLAYBOOKS.get("anesthesia_physical_status"), chart,
                  EXTRACTORS, CHECKS)


PRE_OP = ("PRE-ANESTHESIA EVALUATION\n68-year-old man for laparoscopic colectomy.\n"
          "PMH: COPD on home oxygen, poorly controlled type 2 diabetes.\n"
          "ASA 3. Plan general anesthesia.\n")


@pytest.mark.parametrize("directive", DIRECTIVES)
def test_a_sentence_that_addresses_a_reader_is_never_evidence(directive: str) -> None:
    """The template path, no model involved: the directive is quoted nowhere and changes
    nothing; the decision is the one the chart without it gets."""
    text = PRE_OP + directive + "\n"
    decided = _anesthesia(_chart(text))
    spans = directive_spans(text)
    assert spans, "the directive was not recognised"
    for item in decided.evidence:
        assert item.start is not None and item.end is not None
        assert not any(a < item.end and b > item.start for a, b in spans), item.quote
    plain = _anesthesia(_chart(PRE_OP))
    assert decided.triage.action == plain.triage.action
    assert [e.quote for e in decided.evidence] == [e.quote for e in plain.evidence]


def test_directives_are_caught_and_ordinary_chart_text_is_not() -> None:
    caught = [d for d in DIRECTIVES if addresses_reader(d)]
    flagged = [o for o in ORDINARY if addresses_reader(o)]
    assert len(caught) == len(DIRECTIVES) and not flagged, (caught, flagged)


@pytest.mark.needs_shared
def test_no_real_note_sentence_reads_as_a_directive() -> None:
    """The 1,155 real transcribed notes address no reader: nothing of them is lost."""
    folder = require_shared(EXTERNAL / "mtsamples" / "notes")
    flagged = [(p.name, p.read_text(encoding="utf-8")[a:b][:80])
               for p in sorted(folder.glob("*.txt"))
               for a, b in directive_spans(p.read_text(encoding="utf-8"))]
    assert flagged == []


def test_two_asa_classes_go_to_review_quoting_both() -> None:
    decided = _anesthesia(_chart(PRE_OP, "ANESTHESIA RECORD\nASA physical status 2.\n"))
    assert decided.triage.action == "needs_review"
    assert "ASA 2 and ASA 3" in decided.triage.reason
    quoted = {e.value for e in decided.evidence if e.decides}
    assert {"ASA 2", "ASA 3"} <= {v.split(" (")[0] for v in quoted if v}


def test_two_session_times_go_to_review_quoting_both() -> None:
    denial = line_denial("90837", "50", billed="240.00", paid="0", claim_id="PSY-1",
                         service_date=DOS, payer=PayerRef(name="ACME HEALTH"),
                         patient=PatientRef(member_id="M1", last_name="DOE", first_name="J"))
    chart = _chart("PROGRESS NOTE\nPsychotherapy time: 58 minutes. CBT for panic.\n",
                   "ADDENDUM\nPsychotherapy time: 45 minutes.\n")
    decided = decide(denial, TRIAGE, PLAYBOOKS.get("psychotherapy_time"), chart,
                     EXTRACTORS, CHECKS)
    assert decided.triage.action == "needs_review"
    assert "45 minutes and 58 minutes" in decided.triage.reason
    assert {e.value for e in decided.evidence if e.decides} == {"58 minutes", "45 minutes"}
