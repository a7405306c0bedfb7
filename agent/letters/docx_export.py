"""The final DOCX, written from the letter's Markdown (which holds the auditor's edits).

Reads the Markdown subset the letter templates produce: ``#``/``##`` headings, pipe
tables, numbered and bulleted lists, bold runs, hard line breaks and paragraphs.

The DOCX is python-docx's default template with only ``word/document.xml`` and
``docProps/core.xml`` replaced: the template's parts are read once per process and the
body is written as WordprocessingML text, which is several times faster than building
it through python-docx's object model (tests/test_letters.py reads the result back with
python-docx).
"""

from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import escape

import docx

from agent.letters.files import atomic_file

_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# Characters XML 1.0 cannot hold (python-docx/lxml reject them with a ValueError too).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DOCUMENT = "word/document.xml"
_CORE = "docProps/core.xml"
_EMUS_PER_TWIP = 635
_EMUS_PER_INCH = 914400
_TWIPS_PER_INCH = 1440
# zlib level 3: about a quarter of the default level's time on the 430 kB styles parts,
# which dominate the export, for a file about a third larger (still around 60 kB).
_COMPRESS_LEVEL = 3


def markdown_to_docx(markdown: str, path: Path, title: str) -> None:
    """Write ``markdown`` as a DOCX file at ``path`` (atomically: temp file, then rename)."""
    for value in (markdown, title):
        if _NOT_XML.search(value) is not None:
            raise ValueError("the letter holds a character XML cannot represent")
    template = _template()
    body = _body(markdown.splitlines(), template.block_width_emu)
    document = template.document_head + body + template.document_tail
    core = template.core.replace("<dc:title/>", f"<dc:title>{escape(title)}</dc:title>", 1)
    with atomic_file(path) as handle, \
            zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED,
                            compresslevel=_COMPRESS_LEVEL) as archive:
        for name, data in template.parts:
            if name == _DOCUMENT:
                archive.writestr(name, document.encode("utf-8"))
            elif name == _CORE:
                archive.writestr(name, core.encode("utf-8"))
            else:
                archive.writestr(name, data)


class _Styles:
    """The few styles a letter uses, by style id.

    The ids are those of python-docx's default template (tests/test_letters.py checks
    the template defines them).
    """

    IDS: ClassVar[dict[str, str]] = {
        "bullet": "ListBullet", "number": "ListNumber", "table": "TableGrid",
        "heading1": "Heading1", "heading2": "Heading2"}


@dataclass(frozen=True)
class _Template:
    """python-docx's default template, read once: every part plus the document's frame."""

    parts: tuple[tuple[str, bytes], ...]
    document_head: str
    document_tail: str
    core: str
    block_width_emu: int


@functools.cache
def _template() -> _Template:
    """Read python-docx's default template (cached: the parts are read-only bytes)."""
    source = Path(docx.__file__).resolve().parent / "templates" / "default.docx"
    with zipfile.ZipFile(source) as archive:
        parts = tuple((info.filename, archive.read(info)) for info in archive.infolist())
    contents = dict(parts)
    document = contents[_DOCUMENT].decode("utf-8")
    body_open = document.index("<w:body>") + len("<w:body>")
    section = document.index("<w:sectPr", body_open)
    core = contents[_CORE].decode("utf-8")
    # The template's body holds only its section properties (page size and margins), and
    # its title is empty; the export relies on both.
    if document[body_open:section].strip() or "<dc:title/>" not in core:
        raise RuntimeError(f"unexpected python-docx template: {source}")
    return _Template(parts=parts, document_head=document[:body_open],
                     document_tail=document[section:], core=core,
                     block_width_emu=_block_width_emu(document[section:]))


def _block_width_emu(section: str) -> int:
    """Page width less the left and right margins, in EMU, as python-docx computes it."""
    width = re.search(r'<w:pgSz\b[^>]*\bw:w="(\d+)"', section)
    left = re.search(r'<w:pgMar\b[^>]*\bw:left="(\d+)"', section)
    right = re.search(r'<w:pgMar\b[^>]*\bw:right="(\d+)"', section)
    if width is None or left is None or right is None:
        return 6 * _EMUS_PER_INCH
    twips = int(width.group(1)) - int(left.group(1)) - int(right.group(1))
    return twips * _EMUS_PER_INCH // _TWIPS_PER_INCH


def _body(lines: list[str], block_width_emu: int) -> str:
    """The body's paragraphs and tables as WordprocessingML (without the sectPr)."""
    # Each paragraph is a list of fragments ending with "</w:p>", so a continuation line
    # can still add runs to the last one; a table is a single closed fragment.
    blocks: list[list[str]] = []
    last_paragraph: list[str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|"):
            index, table = _table(lines, index, block_width_emu)
            blocks.append([table])
            continue
        index += 1
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("# "):
            paragraph = _paragraph(_Styles.IDS["heading1"], _plain_run(stripped[2:]))
        elif stripped.startswith("## "):
            paragraph = _paragraph(_Styles.IDS["heading2"], _plain_run(stripped[3:]))
        elif stripped.startswith("- "):
            paragraph = _paragraph(_Styles.IDS["bullet"], *_runs(stripped[2:]))
        elif (numbered := _NUMBERED.match(stripped)) is not None:
            paragraph = _paragraph(_Styles.IDS["number"], *_runs(numbered.group(2)))
        elif line.startswith("   ") and last_paragraph is not None:
            # Continuation of a list item (the evidence source line): a line break, then
            # the text, inside the previous paragraph.
            last_paragraph[-1:-1] = ["<w:r><w:br/></w:r>", *_runs(stripped)]
            continue
        else:
            paragraph = _paragraph(None, *_runs(stripped))
        blocks.append(paragraph)
        last_paragraph = paragraph
    return "".join(fragment for block in blocks for fragment in block)


def _paragraph(style_id: str | None, *runs: str) -> list[str]:
    """A paragraph's fragments: opening tag with its style, runs, closing tag."""
    opening = "<w:p>" if style_id is None else (
        f'<w:p><w:pPr><w:pStyle w:val="{style_id}"/></w:pPr>')
    return [opening, *runs, "</w:p>"]


def _plain_run(text: str, bold: bool = False) -> str:
    """One run holding ``text`` (tabs become ``<w:tab/>``); empty text gives no run."""
    if not text:
        return ""
    pieces = "<w:tab/>".join(
        f'<w:t xml:space="preserve">{escape(piece)}</w:t>' if piece else ""
        for piece in text.split("\t"))
    properties = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f"<w:r>{properties}{pieces}</w:r>"


def _runs(text: str) -> list[str]:
    """Runs for text with **bold** spans; a trailing two-space hard break is dropped."""
    text = text.rstrip()
    runs: list[str] = []
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            runs.append(_plain_run(text[position:match.start()]))
        runs.append(_plain_run(match.group(1), bold=True))
        position = match.end()
    if position < len(text):
        runs.append(_plain_run(text[position:]))
    return runs


def _table(lines: list[str], index: int, block_width_emu: int) -> tuple[int, str]:
    """The pipe table starting at ``lines[index]``: the index after it, and its XML."""
    rows: list[list[str]] = []
    while index < len(lines) and lines[index].startswith("|"):
        cells = [c.strip() for c in lines[index].strip().strip("|").split("|")]
        if not all(set(c) <= {"-", ":", " "} for c in cells):
            rows.append(cells)
        index += 1
    rows = [r for r in rows if any(r)] or [[""]]
    width = max(len(r) for r in rows)
    # Column width as python-docx's add_table gives it: the block width split evenly.
    column = round(block_width_emu // width / _EMUS_PER_TWIP)
    cell_open = f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{column}"/></w:tcPr><w:p>'
    parts = [
        "<w:tbl><w:tblPr>",
        f'<w:tblStyle w:val="{_Styles.IDS["table"]}"/><w:tblW w:type="auto" w:w="0"/>',
        '<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0"'
        ' w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>',
        f'<w:gridCol w:w="{column}"/>' * width,
        "</w:tblGrid>",
    ]
    for cells in rows:
        parts.append("<w:tr>")
        for position in range(width):
            value = cells[position] if position < len(cells) else ""
            parts.extend((cell_open, *_runs(value), "</w:p></w:tc>"))
        parts.append("</w:tr>")
    parts.append("</w:tbl>")
    return index, "".join(parts)
