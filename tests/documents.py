"""Exported notes built in the tests: a PDF with a text layer (or none), RTF, HTML, C-CDA."""

from __future__ import annotations


def pdf(lines: list[str] | None, padding: int = 0) -> bytes:
    """A one-page PDF whose text layer holds ``lines``; ``None``: a page with no text (as a
    scan without OCR is). ``padding`` bytes of image data make it as large as asked."""
    if lines is None:
        content = b"0 0 1 rg 72 600 200 100 re f"  # a filled box: ink, no text
    else:
        shown = b" 0 -16 Td ".join(b"(" + _pdf_string(line) + b") Tj" for line in lines)
        content = b"BT /F1 12 Tf 72 720 Td " + shown + b" ET"
    blob = (b"\x89scan-data-" * (padding // 11 + 1))[:padding]
    images = b" /XObject << /Im1 6 0 R >>" if padding else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >>" + images + b" >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if padding:
        objects.append(b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace "
                       b"/DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n" % len(blob)
                       + blob + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    return text.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(
        b")", b"\\)")


def rtf(paragraphs: list[str]) -> bytes:
    """An RTF document with one paragraph per item."""
    body = "\\par ".join(p.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
                         for p in paragraphs)
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0\\fswiss Helvetica;}}\\f0\\fs24 "
            + body + "\\par}").encode("ascii")


def cda(sections: list[tuple[str, str]]) -> bytes:
    """A C-CDA ClinicalDocument with one narrative section per (title, paragraph)."""
    parts = "".join(f"<component><section><title>{title}</title><text><paragraph>{text}"
                    "</paragraph></text></section></component>" for title, text in sections)
    return ('<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'
            "<component><structuredBody>" + parts + "</structuredBody></component>"
            "</ClinicalDocument>").encode("utf-8")
