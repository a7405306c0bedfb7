"""The final DOCX, written from the letter's Markdown (which holds the auditor's edits).

Reads the Markdown subset the letter templates produce: ``#``/``##`` headings, pipe
tables, numbered and bulleted lists, bold runs, hard line breaks and paragraphs.
"""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.text.paragraph import Paragraph

_NUMBERED = re.compile(r"^(\d+)\.\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def markdown_to_docx(markdown: str, path: Path, title: str) -> None:
    """Write ``markdown`` as a DOCX file at ``path``."""
    document = Document()
    document.core_properties.title = title
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|"):
            index = _table(document, lines, index)
            continue
        _block(document, lines, index)
        index += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))


def _block(document: DocumentObject, lines: list[str], index: int) -> None:
    line = lines[index]
    stripped = line.strip()
    if not stripped:
        return
    if stripped.startswith("# "):
        document.add_heading(stripped[2:], level=1)
    elif stripped.startswith("## "):
        document.add_heading(stripped[3:], level=2)
    elif stripped.startswith("- "):
        _runs(document.add_paragraph(style="List Bullet"), stripped[2:])
    elif (numbered := _NUMBERED.match(stripped)) is not None:
        _runs(document.add_paragraph(style="List Number"), numbered.group(2))
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


def _table(document: DocumentObject, lines: list[str], index: int) -> int:
    rows: list[list[str]] = []
    while index < len(lines) and lines[index].startswith("|"):
        cells = [c.strip() for c in lines[index].strip().strip("|").split("|")]
        if not all(set(c) <= {"-", ":", " "} for c in cells):
            rows.append(cells)
        index += 1
    rows = [r for r in rows if any(r)] or [[""]]
    width = max(len(r) for r in rows)
    table = document.add_table(rows=len(rows), cols=width)
    table.style = "Table Grid"
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            _runs(table.cell(r, c).paragraphs[0], value)
    return index
