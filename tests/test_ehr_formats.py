"""Notes as practices export them: plain text, HTML, PDF, RTF and C-CDA read to text.

The same bytes always give the same text (the offsets evidence points at) and the
original's hash; what cannot be read is said, never guessed (a scanned PDF is not OCR'd).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from agent.ehr.fhir_dir import FhirDirAdapter
from agent.ehr.formats import extract_text
from agent.ehr.model import ChartRequest
from tests.charts import encounter, note, patient, write_chart
from tests.documents import cda, pdf, rtf

LINES = ["HPI: L knee pain x 6 mo.", "Meloxicam 15 mg daily x 3 mo - minimal relief.",
         "PE: moderate effusion (L)."]


def test_a_pdf_s_text_layer_is_read_line_by_line() -> None:
    data = pdf(LINES)
    read = extract_text(data, "application/pdf")
    assert read.text == "\n".join(LINES) + "\n"
    assert read.original_hash == "sha256:" + hashlib.sha256(data).hexdigest()
    assert extract_text(data, "application/pdf") == read  # same bytes, same offsets


def test_a_scanned_pdf_is_reported_never_guessed() -> None:
    read = extract_text(pdf(None), "application/pdf")
    assert read.text is None and "no text layer" in (read.problem or "")


@pytest.mark.parametrize("data", [b"%PDF-1.4 truncated", b"not a pdf at all"])
def test_a_broken_pdf_is_a_problem_not_an_exception(data: bytes) -> None:
    read = extract_text(data, "application/pdf")
    assert read.text is None and "could not be read" in (read.problem or "")


def test_html_reads_as_a_browser_shows_it() -> None:
    page = (b"<html><head><title>t</title><style>p{color:red}</style>"
            b"<script>alert('x')</script></head><body><h1>Ortho   visit</h1>"
            b"<p>HPI: L knee pain.<br>Tried   <b>PT</b> x 6\nwks.</p>"
            b"<ul><li>Meloxicam</li><li>Ice</li></ul>"
            b"<table><tr><th>BP</th><td>128/82</td></tr></table>"
            b"<pre>  A/P:  inject\n    L knee</pre><!-- hidden --></body></html>")
    read = extract_text(page, "text/html; charset=utf-8")
    assert read.text == ("Ortho visit\nHPI: L knee pain.\nTried PT x 6 wks.\nMeloxicam\n"
                         "Ice\nBP 128/82\n  A/P:  inject\n    L knee\n")
    assert read.media_type == "text/html"


def test_rtf_reads_its_paragraphs() -> None:
    read = extract_text(rtf(["HPI: knee pain {chronic}.", "PT x 6 wks failed."]),
                        "application/rtf")
    assert read.text == "HPI: knee pain {chronic}.\nPT x 6 wks failed.\n"


def test_a_c_cda_reads_each_section_s_title_and_narrative() -> None:
    read = extract_text(cda([("Assessment and Plan", "L knee OA; PT &amp; NSAIDs failed."),
                             ("Vital Signs", "BP 128/82")]), "application/xml")
    assert read.text == ("Assessment and Plan\nL knee OA; PT & NSAIDs failed.\n\n"
                         "Vital Signs\nBP 128/82\n")


def test_xml_entities_and_dtds_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    data = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
            '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody>'
            "<component><section><title>Plan</title><text>&x; see</text></section>"
            "</component></structuredBody></component></ClinicalDocument>").encode()
    read = extract_text(data, "text/xml")
    assert "TOP SECRET" not in (read.text or "")


@pytest.mark.parametrize(("data", "media_type", "problem"), [
    (b"<note>hi</note>", "application/xml", "not a C-CDA ClinicalDocument"),
    (b"\x89PNG", "image/png", "media type image/png is not read"),
    (b"   \n", "text/plain", "with no text"),
])
def test_what_cannot_be_read_says_why(data: bytes, media_type: str, problem: str) -> None:
    read = extract_text(data, media_type)
    assert read.text is None and problem in (read.problem or "")


def test_plain_text_keeps_every_character() -> None:
    text = "A/P:\r\n  inject L knee \N{EM DASH} 40 mg\n"
    assert extract_text(("\ufeff" + text).encode(), "text/plain").text == text


def test_the_fhir_folder_reads_pdf_and_html_notes_and_reports_a_scan(tmp_path: Path) -> None:
    def attached(doc_id: str, data: bytes, content_type: str) -> dict[str, object]:
        resource = note(doc_id, "p1", "", "2026-08-06", encounter_id="e1")
        resource["content"] = [{"attachment": {
            "contentType": content_type, "data": base64.b64encode(data).decode()}}]
        return resource

    write_chart(tmp_path, [
        patient("p1", "M1"), encounter("e1", "CLAIM-1", "p1"),
        attached("pdf", pdf(LINES), "application/pdf"),
        attached("web", b"<p>A/P: inject <i>L</i> knee.</p>", "text/html"),
        attached("scan", pdf(None), "application/pdf")])
    chart = FhirDirAdapter(tmp_path).chart_for(ChartRequest(member_ids=("M1",),
                                                            claim_id="CLAIM-1"))
    texts = {d.document_id: d for d in chart.documents}
    assert texts["DocumentReference/pdf"].text == "\n".join(LINES) + "\n"
    assert texts["DocumentReference/pdf"].content_type == "application/pdf"
    assert texts["DocumentReference/pdf"].original_hash == \
        "sha256:" + hashlib.sha256(pdf(LINES)).hexdigest()
    assert texts["DocumentReference/web"].text == "A/P: inject L knee.\n"
    assert "DocumentReference/scan" not in texts
    assert any("DocumentReference/scan" in p and "no text layer" in p for p in chart.problems)
