"""Notes as practices export them: the text of a plain, HTML, PDF, RTF or C-CDA document.

:func:`extract_text` turns a document's bytes into the text evidence offsets index. The
text is deterministic for the same bytes (the same extraction gives the same offsets), so
every quote stays checkable against it; the original's hash travels with it
(``original_hash``), so the stored text can be traced to the file it came from.

- ``text/plain``, ``text/markdown``: UTF-8 (a byte-order mark dropped), with replacement
  characters for bytes that are not UTF-8.
- ``text/html``, ``application/xhtml+xml``: the text of the body (lxml), one line per
  block element (paragraphs, headings, list items, table rows, ``<br>``), table cells
  joined by a tab, runs of spaces collapsed as a browser shows them, ``<pre>`` kept as
  written; scripts, styles and comments dropped.
- ``application/pdf``: the text layer of each page (pypdf), pages joined by a blank
  line. A PDF with no text layer (a scan) is reported as such, never guessed: no OCR.
- ``application/rtf``, ``text/rtf``: the text (striprtf).
- C-CDA (``application/xml``, ``text/xml``, ``application/hl7-cda+xml`` whose root is an
  HL7 v3 ``ClinicalDocument``): the narrative of every section, each as its title then
  its text (paragraphs, list items, table rows on their own lines), sections separated
  by a blank line; coded entries are not read. XML is parsed without DTDs, entities or
  network access.

Anything else is reported as unsupported. Problems name the media type, never the text.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

# No lxml stubs: python-docx's own typing of lxml disagrees with lxml-stubs.
from lxml import etree, html  # type: ignore[import-untyped]

PLAIN = frozenset({"text/plain", "text/markdown"})
HTML = frozenset({"text/html", "application/xhtml+xml"})
PDF = frozenset({"application/pdf"})
RTF = frozenset({"application/rtf", "text/rtf"})
CDA = frozenset({"application/xml", "text/xml", "application/hl7-cda+xml"})
SUPPORTED = PLAIN | HTML | PDF | RTF | CDA
"""Media types :func:`extract_text` reads."""

SUFFIXES = {".txt": "text/plain", ".md": "text/markdown", ".html": "text/html",
            ".htm": "text/html", ".xhtml": "application/xhtml+xml", ".pdf": "application/pdf",
            ".rtf": "application/rtf", ".xml": "application/xml"}
"""The media type of an exported file, by its suffix (lower case)."""

_HL7 = "urn:hl7-org:v3"
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                     "table", "ul", "ol", "dl", "dt", "dd", "section", "article", "header",
                     "footer", "blockquote", "pre", "hr", "caption", "thead", "tbody",
                     "paragraph", "list", "item", "title", "text"})
_CELLS = frozenset({"td", "th"})
_SKIPPED = frozenset({"script", "style", "head", "noscript", "template"})
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class Extracted:
    """A document's text (None when it has none to read) and where it came from."""

    text: str | None
    media_type: str
    original_hash: str
    """``sha256:`` of the original bytes."""
    problem: str | None = None
    """Why there is no text (no PHI): a scanned PDF, an unsupported type, a bad file."""


def media_type_of(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def extract_text(data: bytes, content_type: str | None) -> Extracted:
    """The text of a document's bytes, by its media type (module docstring)."""
    media_type = media_type_of(content_type)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        text = _extract(data, media_type)
    except _Unreadable as exc:
        return Extracted(None, media_type, digest, str(exc))
    except Exception as exc:  # a library's own error on a bad file: said, never raised
        return Extracted(None, media_type, digest,
                         f"a document ({media_type or 'no media type'}) that could not be "
                         f"read ({type(exc).__name__})")
    if text is None or not text.strip():
        problem = ("a PDF with no text layer (a scan?): not read, no OCR is attempted"
                   if media_type in PDF else f"a document ({media_type}) with no text")
        return Extracted(None, media_type, digest, problem)
    return Extracted(text, media_type, digest)


class _Unreadable(Exception):
    """A document this module does not read; the message says why."""


def _extract(data: bytes, media_type: str) -> str | None:
    if media_type in PLAIN:
        return _utf8(data)
    if media_type in HTML:
        return _html_text(data)
    if media_type in PDF:
        return _pdf_text(data)
    if media_type in RTF:
        from striprtf.striprtf import rtf_to_text
        text: str = rtf_to_text(_utf8(data), errors="ignore")  # type: ignore[no-untyped-call]
        return _tidy(text)
    if media_type in CDA:
        return _cda_text(data)
    raise _Unreadable(f"media type {media_type or '(none)'} is not read "
                      f"(supported: {', '.join(sorted(SUPPORTED))})")


def _utf8(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def _tidy(text: str) -> str:
    """Unix line ends, no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n")
             .split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n") + "\n"


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise _Unreadable("an encrypted PDF: not read")
    pages = [page.extract_text() or "" for page in reader.pages]
    return _tidy("\n\n".join(p.strip("\n") for p in pages if p.strip()))


def _html_text(data: bytes) -> str:
    root = html.document_fromstring(data)
    body = root.find("body")
    parts: list[str] = []
    _walk(body if body is not None else root, parts, pre=False)
    return _tidy(_collapse("".join(parts)))


def _walk(element: etree._Element, parts: list[str], pre: bool) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    local = etree.QName(tag).localname.lower() if tag else ""
    if not tag or local in _SKIPPED:  # comments, processing instructions, scripts
        if element.tail:
            parts.append(_keep(element.tail, pre))
        return
    inside_pre = pre or local == "pre"
    if local in _BLOCKS:
        parts.append(_BREAK)
    if element.text:
        parts.append(_keep(element.text, inside_pre))
    for child in element:
        _walk(child, parts, inside_pre)
    if local in _CELLS:
        parts.append(" ")
    elif local in _BLOCKS:
        parts.append(_BREAK)
    if element.tail:
        parts.append(_keep(element.tail, pre))


_PRE_OPEN, _PRE_CLOSE = "\x00", "\x01"  # mark <pre> text so collapsing leaves it alone
_BREAK = "\x02"
"""A block element's edge: one line break, however many meet."""
_BREAKS = re.compile(f" *{_BREAK}[{_BREAK} ]*")
_WHITESPACE = re.compile(r"\s+")


def _keep(text: str, pre: bool) -> str:
    return f"{_PRE_OPEN}{text}{_PRE_CLOSE}" if pre else text


def _collapse(text: str) -> str:
    """Whitespace as a browser shows it.

    Outside ``<pre>`` every run of spaces and source line breaks is one space, and each
    block edge one line break; ``<pre>`` text stays as written.
    """
    out: list[str] = []
    for index, piece in enumerate(re.split(f"[{_PRE_OPEN}{_PRE_CLOSE}]", text)):
        if index % 2:  # inside <pre>
            out.append(piece)
        else:
            out.append(_BREAKS.sub("\n", _WHITESPACE.sub(" ", piece)))
    return "".join(out).replace(_BREAK, "\n")


def _cda_text(data: bytes) -> str:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True)
    root = etree.fromstring(data, parser)
    if etree.QName(root).namespace != _HL7 or etree.QName(root).localname != \
            "ClinicalDocument":
        raise _Unreadable("an XML document that is not a C-CDA ClinicalDocument: not read")
    sections = []
    for section in root.iter(f"{{{_HL7}}}section"):
        title = section.find(f"{{{_HL7}}}title")
        narrative = section.find(f"{{{_HL7}}}text")
        parts: list[str] = []
        if title is not None:
            _walk(title, parts, pre=False)
        if narrative is not None:
            _walk(narrative, parts, pre=False)
        text = _collapse("".join(parts)).strip("\n")
        if text.strip():
            sections.append(text)
    return _tidy("\n\n".join(sections))
