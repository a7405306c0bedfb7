"""A letter's authorities are primary sources, by section (docs/authorities.md).

Every shipped citation names its kind; Medicare law is cited on Medicare claims only; the
payer's own policy is a slot the practice fills (no source in the YAML); every other kind
names its document and section, never a web site or a note to the auditor.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli import app
from agent.codes import CodeTable
from agent.config import LetterSettings
from agent.denials.model import (
    AdjustmentRef,
    Denial,
    DenialSource,
    PatientRef,
    PayerRef,
    ProcedureRef,
)
from agent.evidence.model import Evidence
from agent.letters.render import LetterInput, LetterRenderer
from agent.playbooks.model import (
    MEDICARE_ONLY_KINDS,
    Citation,
    CitationKind,
    Playbook,
)
from agent.playbooks.registry import PlaybookError, PlaybookSet, load_playbook
from tests.conftest import ROOT

SHIPPED = ROOT / "specialty_playbooks"
AUTHORITIES = ROOT / "docs" / "authorities.md"
SCHEMA = ROOT / "docs" / "playbook.schema.json"

SECONDARY_SITES = ("anesthesiabilling.org", "empr.com", "med.uth.edu", "premera.com",
                   "bonfirerevenue.com", "medprecisionbilling.com", "mckesson.com",
                   "aapc.com", "mirahealth.care", "americanmedicalcoding.com", "codingmcw",
                   "medlearn.com", "tadchievlaw.com", "glaucomaphysician.net", "headway.co",
                   "esaic.org")
"""Sites docs/domain.md says facts were read on: none of them is an authority."""

WEB_ADDRESS = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|care|co|io)"
                         r"\b", re.IGNORECASE)
"""A source names a document and its section, never a web address (any site's)."""


def _citations() -> list[tuple[str, Citation]]:
    return [(playbook.id, citation) for playbook in PlaybookSet.load(SHIPPED).playbooks
            for citation in playbook.citations]


def _params() -> list[Any]:
    return [pytest.param(playbook, citation, id=f"{playbook}-{citation.kind}-{number}")
            for number, (playbook, citation) in enumerate(_citations())]


def _citation(**fields: Any) -> Citation:
    return Citation.model_validate({"statement": "A rule.", **fields})


def test_the_shipped_playbooks_load_and_every_one_cites() -> None:
    playbooks = PlaybookSet.load(SHIPPED).playbooks
    assert len(playbooks) == len(list(SHIPPED.glob("*.yaml")))
    assert all(playbook.citations for playbook in playbooks)


@pytest.mark.parametrize(("playbook", "citation"), _params())
def test_a_shipped_source_names_a_document_not_a_site_or_a_note(playbook: str,
                                                                citation: Citation) -> None:
    source = citation.source or ""
    assert not WEB_ADDRESS.search(source), f"{playbook}: {source}"
    texts = f"{citation.statement} {source}".lower()
    assert not [site for site in SECONDARY_SITES if site in texts], playbook
    assert "(auditor to" not in texts and "auditor" not in source.lower(), playbook
    # The statement is letter text: a note to the auditor would keep the letter from
    # being approved even once the practice has named the payer's policy.
    assert "auditor" not in citation.statement.lower(), f"{playbook}: {citation.statement}"


def test_shipped_citations_keep_their_kinds_rules() -> None:
    for playbook, citation in _citations():
        if citation.kind == "payer_policy":
            assert citation.source is None, playbook
        else:
            assert citation.source and citation.source.strip(), playbook
        if citation.kind in MEDICARE_ONLY_KINDS:
            assert citation.applies_to == "medicare", playbook


def test_the_medicare_statute_is_cited_on_medicare_claims_only() -> None:
    statute = [(playbook, c) for playbook, c in _citations() if "1862" in (c.source or "")]
    assert {playbook for playbook, _ in statute} == {"medical_necessity",
                                                     "coverage_determination"}
    assert all(c.kind == "statute" and c.applies_to == "medicare" for _, c in statute)


@pytest.mark.parametrize("kind", sorted(MEDICARE_ONLY_KINDS))
@pytest.mark.parametrize("applies_to", [None, "any", "non_medicare"])
def test_statute_and_regulation_must_be_medicare_only(kind: str, applies_to: str | None
                                                      ) -> None:
    fields = {"kind": kind, "source": "Social Security Act §1862(a)(1)(A)"}
    if applies_to is not None:
        fields["applies_to"] = applies_to
    with pytest.raises(ValidationError, match="applies_to must be 'medicare'"):
        _citation(**fields)
    assert _citation(**fields | {"applies_to": "medicare"}).applies_to == "medicare"


def test_a_payer_policy_citation_has_no_source() -> None:
    assert _citation(kind="payer_policy").source is None
    with pytest.raises(ValidationError, match="payer_policy citation has no source"):
        _citation(kind="payer_policy", source="Payer medical policy 12.3, section 4")


@pytest.mark.parametrize("kind", [k for k in get_args(CitationKind) if k != "payer_policy"])
def test_every_other_kind_needs_a_source(kind: str) -> None:
    extra = {"applies_to": "medicare"} if kind in MEDICARE_ONLY_KINDS else {}
    for missing in ({}, {"source": None}, {"source": "  "}):
        with pytest.raises(ValidationError, match="needs a source"):
            _citation(kind=kind, **extra, **missing)
    assert _citation(kind=kind, source="Document, section 1", **extra).source


@pytest.mark.parametrize("source", ["Payer reimbursement policy (auditor to cite policy "
                                    "number and section)",
                                    "Payer anesthesia fee schedule (Auditor to cite)"])
def test_a_note_to_the_auditor_is_not_a_source(source: str) -> None:
    with pytest.raises(ValidationError, match="not a note to the auditor"):
        _citation(kind="cms_manual", source=source)


def test_the_model_stays_strict() -> None:
    with pytest.raises(ValidationError, match="kind"):
        Citation.model_validate({"statement": "A rule.", "source": "Document, section 1"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        _citation(kind="cpt", source="AMA CPT 2024, 99213", url="https://example.com")
    with pytest.raises(ValidationError, match="kind"):
        _citation(kind="blog", source="A billing company's page")
    with pytest.raises(ValidationError, match="applies_to"):
        _citation(kind="cpt", source="AMA CPT 2024, 99213", applies_to="commercial")


@pytest.mark.parametrize(("applies_to", "medicare", "expected"), [
    ("any", True, True), ("any", False, True),
    ("medicare", True, True), ("medicare", False, False),
    ("non_medicare", True, False), ("non_medicare", False, True)])
def test_applies_says_which_claims_a_citation_fits(applies_to: str, medicare: bool,
                                                   expected: bool) -> None:
    citation = _citation(kind="cpt", source="AMA CPT 2024, 99213", applies_to=applies_to)
    assert citation.applies(medicare) is expected


def test_a_bad_citation_fails_the_file_naming_the_field(tmp_path: Path) -> None:
    text = (SHIPPED / "medical_necessity.yaml").read_text(encoding="utf-8")
    broken = text.replace("    applies_to: medicare\n", "", 1)
    assert broken != text
    path = tmp_path / "medical_necessity.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"^medical_necessity\.yaml: citations\.0: a "
                       r"statute citation states Medicare law"):
        load_playbook(path)


def test_the_published_schema_says_the_same() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for path in sorted(SHIPPED.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    data = yaml.safe_load((SHIPPED / "medical_necessity.yaml").read_text(encoding="utf-8"))
    for bad in ({"kind": "statute", "statement": "x", "source": "SSA §1862"},
                {"kind": "payer_policy", "statement": "x", "source": "Policy 1"},
                {"kind": "cpt", "statement": "x"},
                {"kind": "cpt", "statement": "x", "source": None}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data | {"citations": [bad]}, schema)
        with pytest.raises(ValidationError):
            Playbook.model_validate(data | {"citations": [bad]})


def test_appeals_playbooks_check_passes() -> None:
    result = CliRunner().invoke(app, ["playbooks", "check"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output


def _table_rows() -> set[tuple[str, str, str, str]]:
    text = AUTHORITIES.read_text(encoding="utf-8")
    table = text.split("## Citations per playbook", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("playbook", "---"):
            rows.add((cells[0], cells[1], cells[2], cells[3]))
    return rows


def test_docs_authorities_lists_every_shipped_citation() -> None:
    rows = _table_rows()
    expected = set()
    for playbook, citation in _citations():
        source = " ".join((citation.source or "").split())
        expected.add((playbook, citation.kind, citation.applies_to, source))
    listed = {(p, k, a, "" if k == "payer_policy" else s) for p, k, a, s in rows}
    assert listed == expected, "docs/authorities.md and the playbooks' citations differ"
    assert all(s.startswith("(") for _, k, _, s in rows if k == "payer_policy")


# --- the letter: agent/letters/render.py (LetterRenderer.context, "citations") -------------
#
# The renderer leaves out a citation whose applies_to does not fit the claim, and fills a
# payer_policy citation's source from the payer table (or leaves a slot for the auditor).

def _letter_for(filing_indicator: str) -> str:
    denial = Denial(
        denial_id="dn_cite", level="line", claim_id="CLM-1", payer_claim_number="PCN-1",
        claim_filing_indicator=filing_indicator, payer=PayerRef(name="A PAYER", id="1"),
        patient=PatientRef(member_id="M1", last_name="DOE", first_name="JO"),
        service_date=date(2026, 8, 18), procedure=ProcedureRef(code="20610", units=Decimal(1)),
        billed=Decimal("100.00"), paid=Decimal("0"), denied_amount=Decimal("100.00"),
        adjustments=(AdjustmentRef(group="CO", reason="50", amount=Decimal("100.00")),),
        source=DenialSource(kind="835", file="era.835", segment=1))
    evidence = tuple(Evidence(quote=quote, document_id="DocumentReference/d1", start=0,
                              end=len(quote), fact=fact, document_date=date(2026, 8, 18),
                              document_title="Office note")
                     for fact, quote in (("objective_finding", "Large effusion."),
                                         ("conservative_treatment", "NSAIDs failed.")))
    letter = LetterInput(letter_id="lt_cite", group_id="grp_cite", denials=(denial,),
                         playbook=PlaybookSet.load(SHIPPED).get("medical_necessity"),
                         evidence=evidence, patient=None)
    return LetterRenderer(LetterSettings(), CodeTable.load_default()).render(
        letter, date(2026, 9, 20))


def _guidelines(letter: str) -> str:
    return letter.split("## Guidelines and policy", 1)[1].split("\n## ", 1)[0]


def test_a_letter_cites_medicare_law_on_a_medicare_claim_only() -> None:
    assert "§1862(a)(1)(A)" in _guidelines(_letter_for("MB"))
    assert "§1862(a)(1)(A)" not in _guidelines(_letter_for("CI"))


def test_a_payer_policy_citation_is_never_printed_as_none() -> None:
    cited = _guidelines(_letter_for("CI"))
    assert "The payer's own medical policy" in cited and "None" not in cited
