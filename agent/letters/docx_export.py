"""The final DOCX, written from the letter's Markdown (which holds the auditor's edits).

Reads the Markdown subset the letter templates produce: ``#``/``##`` headings, pipe
tables, numbered and bulleted lists, bold runs, hard line breaks and paragraphs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from docx import Document
from docx.document import Document as DocumentObject
from docx.text.paragraph import Paragraph

_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def markdown_to_docx(markdown: str, path: Path, title: str) -> None:
    """Write ``markdown`` as a DOCX file at ``path``."""
    document = Document()
    document.core_properties.title = title
    # Style objects resolved once: python-docx looks a style *name* up by XPath over the
    # whole styles part on every paragraph, which dominated the export time.
    styles = _Styles(document)
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|"):
            index = _table(document, lines, index, styles)
            continue
        _block(document, lines, index, styles)
        index += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))


class _Styles:
    """The few styles a letter uses, by style id.

    python-docx resolves a style given by name or object with a scan of the whole styles
    part (tens of milliseconds per letter); the ids of python-docx's default template are
    set directly instead (tests/test_letters.py checks the template defines them).
    """

    IDS: ClassVar[dict[str, str]] = {
        "bullet": "ListBullet", "number": "ListNumber", "table": "TableGrid",
        "heading1": "Heading1", "heading2": "Heading2"}

    def __init__(self, document: DocumentObject) -> None:
        self.document = document

    @staticmethod
    def paragraph(document: DocumentObject, style_id: str, text: str = "") -> Paragraph:
        """A new paragraph with the style id set directly."""
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().style = style_id
        return paragraph


def _block(document: DocumentObject, lines: list[str], index: int, styles: _Styles) -> None:
    line = lines[index]
    stripped = line.strip()
    if not stripped:
        return
    if stripped.startswith("# "):
        styles.paragraph(document, _Styles.IDS["heading1"], stripped[2:])
    elif stripped.startswith("## "):
        styles.paragraph(document, _Styles.IDS["heading2"], stripped[3:])
    elif stripped.startswith("- "):
        _runs(styles.paragraph(document, _Styles.IDS["bullet"]), stripped[2:])
    elif (numbered := _NUMBERED.match(stripped)) is not None:
        _runs(styles.paragraph(document, _Styles.IDS["number"]), numbered.group(2))
    elif line.startswith("   ") and document.paragraphs:
        # Continuation of a list item (the evidence source line).
        previous = document.paragraphs[-1]
        previous.add_run().add_break()
        _runs(previous, stripped)
    else:
        _runs(document.add_paragraph(), stripped)


def _runs(paragraph: Paragraph, text: str) -> None:
    """Add text with **bold** runs; a trailing two-space hard break is dropped."""
    text = text.rstrip()
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            paragraph.add_run(text[position:match.start()])
        paragraph.add_run(match.group(1)).bold = True
        position = match.end()
    if position < len(text):
        paragraph.add_run(text[position:])


def _table(document: DocumentObject, lines: list[str], index: int, styles: _Styles) -> int:
    rows: list[list[str]] = []
    while index < len(lines) and lines[index].startswith("|"):
        cells = [c.strip() for c in lines[index].strip().strip("|").split("|")]
        if not all(set(c) <= {"-", ":", " "} for c in cells):
            rows.append(cells)
        index += 1
    rows = [r for r in rows if any(r)] or [[""]]
    width = max(len(r) for r in rows)
    table = document.add_table(rows=len(rows), cols=width)
    table._tbl.tblPr.style = _Styles.IDS["table"]
    # row.cells once per row: table.cell(r, c) rebuilds the whole cell list on each call.
    for row, cells in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, cells, strict=False):
            _runs(cell.paragraphs[0], value)
    return index
