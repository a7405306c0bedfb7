"""The final DOCX, built with python-docx from the letter's Markdown (auditor edits included).

markdown-it-py parses the Markdown as CommonMark plus GFM tables, and ``_Builder`` walks
its token stream into python-docx paragraphs, runs and tables:

- headings 1-6: Word's "Heading 1" to "Heading 6"; paragraphs; bold, italic and code spans;
- links: real hyperlinks (an external relationship to the URL, "Hyperlink" style); a link
  Word should not follow (no http, https, mailto, tel or ftp URL) is its text and its URL;
- block quotes: "Quote" paragraphs, indented per level;
- bullet and numbered lists, nested; each numbered list counts from its own start;
- line breaks: hard ones, and soft ones too (a line break in the Markdown stays one, so a
  verbatim chart quote keeps its lines);
- horizontal rules (a bottom border); fenced and indented code (monospace);
- tables: "Table Grid", a bold header row repeated on each page (left out when all its cells
  are empty, as in the letter's key/value claim table), and column widths from the longest
  text of each column, within the page width;
- HTML, as a block or inline: its text as written, never interpreted; images: their alt text.

Each page's footer reads "Page N of M" (PAGE and NUMPAGES fields). An optional letterhead
template (a .docx) gives the headers, footers, styles and page setup; its body is dropped.

Speed (the workflow benchmark's DOCX mode must keep 100 letters/s; python-docx's
``Document()`` and ``save()`` alone take over 10 ms a letter):

- A template is prepared once per process and file version (``_template``, keyed by path,
  mtime and size): body emptied, missing styles added, list definitions and the
  page-number footer added, stylesWithEffects.xml and the thumbnail dropped, and from
  python-docx's own template the 100 table styles no letter uses (395 of its 430 kB).
- Each letter parses only its three small changing parts (document, numbering, core
  properties); every other part stays bytes (``_part``). The file is a copy of the
  template's zip of those, compressed once, with the letter's parts appended
  (``_Template.write``).
- Paragraph and run properties are made once per look by python-docx and copied (a few
  hundred bytes each: ``_paragraph_properties``); paragraphs, runs and text are made by lxml
  in python-docx's element classes (``_child``).
- One markdown-it parser serves every letter (``_parser``).
"""

from __future__ import annotations

import copy
import functools
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple, cast

import docx
from docx.blkcntnr import BlockItemContainer
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.exceptions import PackageNotFoundError
from docx.opc.package import Unmarshaller
from docx.opc.packuri import PackURI
from docx.opc.part import Part, PartFactory
from docx.opc.pkgreader import PackageReader
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.numbering import CT_Numbering
from docx.oxml.text.font import CT_RPr
from docx.oxml.text.paragraph import CT_P
from docx.oxml.text.parfmt import CT_PPr
from docx.oxml.text.run import CT_R
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.package import Package
from docx.parts.document import DocumentPart
from docx.parts.numbering import NumberingPart
from docx.section import _Footer
from docx.shared import Pt, RGBColor, Twips
from docx.styles.styles import Styles
from docx.text.font import Font
from docx.text.paragraph import Paragraph
from docx.text.parfmt import ParagraphFormat
from docx.text.run import Run
from markdown_it import MarkdownIt
from markdown_it.token import Token

from agent.letters.files import atomic_file

# Characters XML 1.0 cannot hold (python-docx/lxml reject them with a ValueError too).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# URLs a hyperlink may point to; any other link keeps its URL as text after its own.
_FOLLOWABLE = re.compile(r"^(?:https?|mailto|tel|ftp):", re.IGNORECASE)
# Text python-docx can hold in one w:t (a tab or line break needs its own element).
_TEXT_ONLY = re.compile(r"[^\t\n\r]*")
_NUM_ID = f"{qn('w:numPr')}/{qn('w:numId')}"
_XML_SPACE = qn("xml:space")
_W_P, _W_R, _W_T, _W_BR = qn("w:p"), qn("w:r"), qn("w:t"), qn("w:br")
_W_TCW, _W_W = qn("w:tcW"), qn("w:w")
_ALIGNMENT = {"text-align:left": WD_ALIGN_PARAGRAPH.LEFT,
              "text-align:center": WD_ALIGN_PARAGRAPH.CENTER,
              "text-align:right": WD_ALIGN_PARAGRAPH.RIGHT}
# zlib level 1: the fastest; a letter's parts are small XML (a DOCX of about 17 kB).
_COMPRESS_LEVEL = 1
# Indentation, in twips (1/1440 inch): per quote level, per list level.
_QUOTE_INDENT = 720
_LIST_INDENT = 360
_CODE_FONT = "Courier New"
_CODE_SIZE = Pt(10)
_BULLETS = ("\u2022", "\u25e6", "\u25aa")
# Column widths (twips): a character's estimated width (11 pt text), a cell's left and right
# margins (Table Grid: 108 each, plus a little), and the fewest characters a column gets.
_CHAR_WIDTH = 115
_CELL_PADDING = 240
_MIN_CHARS = 4
_DEFAULT_BLOCK_WIDTH = 9360
_DEFAULT_TEMPLATE = Path(docx.__file__).resolve().parent / "templates" / "default.docx"
_EMU_PER_TWIP = 635
_STYLES_WITH_EFFECTS = "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"
# The styles the export applies, by name; a template that lacks one gets python-docx's.
_STYLE_NAMES = (
    *(f"Heading {level}" for level in range(1, 7)),
    "List Bullet", "List Bullet 2", "List Bullet 3", "List Number", "List Number 2",
    "List Number 3", "List Continue", "List Continue 2", "List Continue 3", "Quote",
    "Table Grid", "Footer")
_HYPERLINK_STYLE = "Hyperlink"
# The parts a letter changes: parsed for each letter. Every other part keeps its bytes.
_PARSED_PARTS = frozenset({CT.WML_DOCUMENT_MAIN, CT.WML_NUMBERING, CT.OPC_CORE_PROPERTIES})


def markdown_to_docx(markdown: str, path: Path, title: str,
                     template: Path | None = None) -> None:
    """Write ``markdown`` as a DOCX file at ``path``, atomically (temp file, then rename).

    Args:
        markdown: The letter, as CommonMark with GFM tables.
        path: Where the DOCX goes; it is replaced whole or not at all, and is mode 0600.
        title: The document's title (its core properties).
        template: A letterhead .docx whose headers, footers, styles and page setup the
            letter takes (its body is dropped); python-docx's default template if None.

    Raises:
        ValueError: The letter or title holds a character XML cannot represent, or the
            template is not a Word document.
    """
    for value in (markdown, title):
        if _NOT_XML.search(value) is not None:
            raise ValueError("the letter holds a character XML cannot represent")
    prepared = _template_for(template)
    package = prepared.new_package()
    try:
        _Builder(cast(DocumentPart, package.main_document_part), prepared).build(
            _parser().parse(markdown))
        package.core_properties.title = title
        with atomic_file(path) as handle:
            prepared.write(package, handle)
    finally:
        package.release()


def check_template(path: Path) -> None:
    """Prepare the letterhead template at ``path`` now, so that a bad one is told apart.

    :func:`markdown_to_docx` then finds it prepared (the cache is keyed by the file's
    version).

    Raises:
        OSError: The file cannot be read.
        ValueError: It is not a Word document.
    """
    _template_for(path)


class _Parser(MarkdownIt):
    """markdown-it that parses every link: ``_Inline`` decides what each becomes.

    markdown-it leaves a javascript: or data: link as its source text; parsed, its text
    and URL are written as plain text instead of a raw ``[text](url)``.
    """

    def validateLink(self, url: str) -> bool:
        """Accept every URL (none is followed unless ``_FOLLOWABLE``)."""
        return True


@functools.cache
def _parser() -> MarkdownIt:
    """CommonMark plus GFM tables, built once per process (parsing leaves it unchanged)."""
    return _Parser("commonmark").enable("table")


# -- the template, prepared once per process and file version --------------------------

@dataclass(frozen=True)
class _Template:
    """A template made ready for letters: its parts' bytes and what the builder needs."""

    reader: PackageReader
    """The prepared template's parts, from which each letter's package is made."""
    archive: bytes
    """A zip of every member no letter changes, compressed once (``_constant_members``)."""
    styles: dict[str, str]
    """Style id by style name, for every name of ``_STYLE_NAMES`` and "Hyperlink"."""
    bullet_num_id: int
    """The ``w:num`` every bulleted list uses."""
    ordered_abstract_id: int
    """The ``w:abstractNum`` of numbered lists (each list gets its own ``w:num``)."""
    block_width: int
    """Page width less the margins, in twips."""

    def new_package(self) -> _LetterPackage:
        """A fresh package from the template's parts: only the changing parts are parsed."""
        package = _LetterPackage()
        Unmarshaller.unmarshal(self.reader, package, _part)  # type: ignore[no-untyped-call]
        return package

    def write(self, package: _LetterPackage, handle: IO[bytes]) -> None:
        """Write ``package`` as a zip: the template's, plus the letter's parts.

        python-docx's ``save`` would serialize and compress every part again. A letter
        adds no part (its hyperlinks are external relationships) and changes only the
        parsed ones, so those (with their relationships) are added to a copy of the
        template's zip of the others (``zipfile``'s append mode).
        """
        buffer = io.BytesIO(self.archive)
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED,
                             compresslevel=_COMPRESS_LEVEL) as archive:
            # Not package.iter_parts(): its recursive closure is one more reference cycle.
            for part in package.changing:
                archive.writestr(part.partname.membername, part.blob)
                if len(part.rels):
                    archive.writestr(part.partname.rels_uri.membername, part.rels.xml)
        handle.write(buffer.getbuffer())


class _LetterPackage(Package):
    """python-docx's Package for one letter, which knows the parts the letter may change.

    It indexes no image part: a letter adds no image, and the index would hold a
    letterhead's images (which refer to their package) in one more reference cycle.
    """

    def __init__(self) -> None:
        super().__init__()
        self.changing: list[Part] = []
        """The parts ``_part`` parsed: the only ones a letter changes."""

    def after_unmarshal(self) -> None:
        """Index nothing."""

    def release(self) -> None:
        """Let go of the parts, which refer to their package.

        Freed at once, not left in reference cycles for the garbage collector: in a run's
        process (hundreds of MB of objects), each full collection costs a third of a
        second, and each letter's cycles would bring the next one nearer.
        """
        self.rels.related_parts.clear()
        self.rels.clear()
        self.changing.clear()


def _part(partname: PackURI, content_type: str, reltype: str, blob: bytes,
          package: Package) -> Part:
    """One part of a new letter: parsed if the letter changes it, else the template's bytes."""
    if content_type not in _PARSED_PARTS:
        return Part(partname, content_type, blob, package)
    part = cast(Part, PartFactory(partname, content_type, reltype, blob, package))
    if isinstance(package, _LetterPackage):
        package.changing.append(part)
    return part


def _template_for(path: Path | None) -> _Template:
    """The prepared template at ``path`` (python-docx's default if None), cached."""
    if path is None:
        return _template(_DEFAULT_TEMPLATE, 0, 0)  # inside the python-docx package
    source = path.resolve()
    status = source.stat()
    return _template(source, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=8)
def _template(source: Path, mtime_ns: int, size: int) -> _Template:
    """Prepare the template at ``source`` (the cache key holds its version).

    A package python-docx cannot read, or whose parts are not the XML it expects, is a
    ``ValueError``: python-docx raises whatever its parsing meets (lxml's syntax error, a
    ``SyntaxError``; an ``AttributeError`` on a main part that is not a ``w:document``...).
    """
    try:
        return _prepare(docx.Document(str(source)), source)
    except (KeyError, ValueError, AttributeError, TypeError, IndexError, SyntaxError,
            zipfile.BadZipFile, PackageNotFoundError) as error:  # lxml's: SyntaxErrors
        raise ValueError(f"the letter template {source} is not a Word document") from error


def _prepare(document: Document, source: Path) -> _Template:
    """The template ``document`` (read from ``source``) made ready for letters."""
    document.element.body.clear_content()
    styles = _ensure_styles(document.styles)
    if source == _DEFAULT_TEMPLATE:
        _drop_unused_table_styles(document.styles, keep=styles["Table Grid"])
    numbering = _numbering(document)
    ordered, bullet = _add_list_definitions(numbering.element)
    _drop_styles_with_effects(document)
    _drop_thumbnail(document)
    _add_page_numbers(document)
    _ = document.core_properties  # made now if missing: a letter must add no part
    section = document.sections[-1]
    width = (section.page_width or 0) - (section.left_margin or 0) - (section.right_margin or 0)
    buffer = io.BytesIO()
    document.save(buffer)
    reader = PackageReader.from_file(io.BytesIO(buffer.getvalue()))  # type: ignore[no-untyped-call]
    return _Template(reader=reader, archive=_constant_members(document, buffer),
                     styles=styles, bullet_num_id=bullet, ordered_abstract_id=ordered,
                     block_width=width // _EMU_PER_TWIP if width > 0 else _DEFAULT_BLOCK_WIDTH)


def _constant_members(document: Document, saved: IO[bytes]) -> bytes:
    """A zip of the members of ``saved`` (the prepared template) that no letter changes.

    Compressed once, at zlib's best level: the letters' files are the smaller for it.
    """
    changed = set()
    for part in document.part.package.iter_parts():
        if part.content_type in _PARSED_PARTS:
            changed |= {part.partname.membername, part.partname.rels_uri.membername}
    constant = io.BytesIO()
    with zipfile.ZipFile(saved) as source, \
            zipfile.ZipFile(constant, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for member in source.infolist():
            if member.filename not in changed:
                archive.writestr(member.filename, source.read(member))
    return constant.getvalue()


def _ensure_styles(styles: Styles) -> dict[str, str]:
    """Add the styles the export uses that ``styles`` lacks; their ids by name.

    A missing style is copied from python-docx's default template, less any list numbering
    of its own (list paragraphs carry theirs). A missing "Hyperlink" character style is
    made: blue, underlined.
    """
    defaults: Styles | None = None
    for name in _STYLE_NAMES:
        if name not in styles:
            if defaults is None:
                defaults = docx.Document().styles
            element = copy.deepcopy(defaults[name].element)
            for numbering in element.findall(f"{qn('w:pPr')}/{qn('w:numPr')}"):
                numbering.getparent().remove(numbering)
            style_id, number = element.styleId, 1
            while styles.element.get_by_id(element.styleId) is not None:  # taken by another
                number += 1
                element.styleId = f"{style_id}{number}"
            styles.element.append(element)
    if _HYPERLINK_STYLE not in styles:
        hyperlink = styles.add_style(  # type: ignore[no-untyped-call]
            _HYPERLINK_STYLE, WD_STYLE_TYPE.CHARACTER)
        hyperlink.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
        hyperlink.font.underline = True
        hyperlink.priority = 99
        hyperlink.unhide_when_used = True
    return {name: styles[name].style_id for name in (*_STYLE_NAMES, _HYPERLINK_STYLE)}


def _drop_unused_table_styles(styles: Styles, keep: str) -> None:
    """Drop the table styles a letter never uses, but the default one and ``keep``'s.

    python-docx's default template defines 100 table styles: 395 of its styles part's
    430 kB, which each letter would compress again. Word offers its built-in table styles
    whether the file defines them or not.
    """
    element = styles.element
    needed = {keep}
    style = element.get_by_id(keep)
    while style is not None and style.basedOn_val is not None:
        needed.add(style.basedOn_val)
        style = element.get_by_id(style.basedOn_val)
    for style in list(element.style_lst):
        if style.type == WD_STYLE_TYPE.TABLE and not style.default \
                and style.styleId not in needed:
            element.remove(style)


def _numbering(document: Document) -> NumberingPart:
    """The document's numbering part, added when the template has none."""
    part = document.part
    try:
        return cast(NumberingPart, part.part_related_by(RT.NUMBERING))
    except KeyError:
        numbering = NumberingPart(part.package.next_partname("/word/numbering%d.xml"),
                                  CT.WML_NUMBERING, OxmlElement("w:numbering"), part.package)
        part.relate_to(numbering, RT.NUMBERING)
        return numbering


def _add_list_definitions(numbering: BaseOxmlElement) -> tuple[int, int]:
    """Add the abstract definitions of numbered and bulleted lists (nine levels each).

    Returns:
        The numbered lists' ``abstractNumId`` and the bulleted lists' ``numId``.
    """
    ids = [int(value) for value in numbering.xpath("./w:abstractNum/@w:abstractNumId")]
    ordered_id = max(ids, default=-1) + 1
    bullet_id = ordered_id + 1
    definitions = (_abstract_num(ordered_id, ordered=True),
                   _abstract_num(bullet_id, ordered=False))
    first_num = numbering.find(qn("w:num"))
    for definition in definitions:
        if first_num is None:
            numbering.append(definition)
        else:
            first_num.addprevious(definition)
    bullet_num = numbering.add_num(bullet_id)
    return ordered_id, int(bullet_num.numId)


def _abstract_num(abstract_id: int, ordered: bool) -> BaseOxmlElement:
    """A nine-level list definition: decimal numbers, or bullets."""
    abstract = _element("w:abstractNum", abstractNumId=str(abstract_id))
    abstract.append(_element("w:multiLevelType", val="multilevel"))
    for level in range(9):
        lvl = _element("w:lvl", ilvl=str(level))
        lvl.append(_element("w:start", val="1"))
        lvl.append(_element("w:numFmt", val="decimal" if ordered else "bullet"))
        lvl.append(_element("w:lvlText", val=f"%{level + 1}." if ordered
                            else _BULLETS[level % len(_BULLETS)]))
        lvl.append(_element("w:lvlJc", val="left"))
        properties = _element("w:pPr")
        properties.append(_element("w:ind", left=str(_LIST_INDENT * (level + 1)),
                                   hanging=str(_LIST_INDENT)))
        lvl.append(properties)
        abstract.append(lvl)
    return abstract


def _element(tag: str, **attributes: str) -> BaseOxmlElement:
    """A WordprocessingML element with ``w:`` attributes."""
    return OxmlElement(tag, attrs={qn(f"w:{name}"): value for name, value in attributes.items()})


def _drop_styles_with_effects(document: Document) -> None:
    """Drop stylesWithEffects.xml, which would double the export's largest cost.

    It is a copy of styles.xml that only Word 2010 reads, and Word 2010 falls back to
    styles.xml without it.
    """
    part = document.part
    for r_id, relationship in list(part.rels.items()):
        if relationship.reltype == _STYLES_WITH_EFFECTS:
            part.drop_rel(r_id)


def _drop_thumbnail(document: Document) -> None:
    """Drop the template's thumbnail: it pictures the template, not the letter."""
    relationships = document.part.package.rels
    for r_id, relationship in list(relationships.items()):
        if relationship.reltype == RT.THUMBNAIL:
            del relationships[r_id]


def _add_page_numbers(document: Document) -> None:
    """Put "Page N of M" in each footer the template's pages use, unless it has a page number."""
    section = document.sections[-1]
    footers = [section.footer]
    if section.different_first_page_header_footer:
        footers.append(section.first_page_footer)
    if document.settings.odd_and_even_pages_header_footer:
        footers.append(section.even_page_footer)
    for footer in footers:
        if not _shows_page_number(footer):
            _page_number_paragraph(footer)


def _shows_page_number(footer: _Footer) -> bool:
    element = footer.part.element
    instructions = [*(node.text or "" for node in element.iter(qn("w:instrText"))),
                    *(node.get(qn("w:instr")) or "" for node in element.iter(qn("w:fldSimple")))]
    return any("PAGE" in instruction.split() for instruction in instructions)


def _page_number_paragraph(footer: _Footer) -> None:
    paragraphs = footer.paragraphs
    paragraph = paragraphs[-1] if paragraphs and not paragraphs[-1].text \
        and not paragraphs[-1].runs else footer.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Page ")
    _field(paragraph, "PAGE")
    paragraph.add_run(" of ")
    _field(paragraph, "NUMPAGES")


def _field(paragraph: Paragraph, instruction: str) -> None:
    """A Word field (begin, instruction, separator, placeholder result, end) in runs."""
    paragraph.add_run()._r.append(_element("w:fldChar", fldCharType="begin"))
    code = OxmlElement("w:instrText", attrs={qn("xml:space"): "preserve"})
    code.text = f" {instruction} "
    paragraph.add_run()._r.append(code)
    paragraph.add_run()._r.append(_element("w:fldChar", fldCharType="separate"))
    paragraph.add_run("1")
    paragraph.add_run()._r.append(_element("w:fldChar", fldCharType="end"))


# -- how paragraphs and runs look: python-docx's properties, made once ---------------

class _ParagraphLook(NamedTuple):
    """What a paragraph's ``w:pPr`` says."""

    style_id: str | None = None
    left: int = 0
    """Left indent, in twips."""
    hanging: int = 0
    """Hanging indent (room for a list item's number), in twips."""
    level: int | None = None
    """List level, for a numbered or bulleted item (its list is set per paragraph)."""
    alignment: WD_ALIGN_PARAGRAPH | None = None
    rule: bool = False
    """A bottom border: a horizontal rule."""


class _RunLook(NamedTuple):
    """What a run's ``w:rPr`` says."""

    bold: bool = False
    italic: bool = False
    code: bool = False
    small: bool = False
    style_id: str | None = None


_PLAIN = _RunLook()


@functools.lru_cache(maxsize=1024)
def _paragraph_properties(look: _ParagraphLook) -> CT_PPr | None:
    """The ``w:pPr`` python-docx writes for ``look``, made once and copied into paragraphs.

    python-docx places each property by walking the schema's sequence, at tens of
    microseconds a property: set on each paragraph, it took most of the export's time.
    """
    paragraph = cast(CT_P, OxmlElement("w:p"))
    if look.rule:
        borders = _element("w:pBdr")
        borders.append(_element("w:bottom", val="single", sz="6", space="1", color="auto"))
        paragraph.get_or_add_pPr().append(borders)
    if look.style_id is not None:
        paragraph.style = look.style_id
    if look.level is not None:
        numbering = paragraph.get_or_add_pPr().get_or_add_numPr()
        numbering.get_or_add_ilvl().val = look.level
        numbering.get_or_add_numId().val = 0
    properties = ParagraphFormat(paragraph)
    if look.left:
        properties.left_indent = Twips(look.left)
    if look.hanging:
        properties.first_line_indent = Twips(-look.hanging)
    if look.alignment is not None:
        properties.alignment = look.alignment
    return paragraph.pPr


@functools.lru_cache(maxsize=256)
def _run_properties(look: _RunLook) -> CT_RPr | None:
    """The ``w:rPr`` python-docx writes for ``look``, made once and copied into runs."""
    run = cast(CT_R, OxmlElement("w:r"))
    if look.style_id is not None:
        run.style = look.style_id
    font = Font(run)
    if look.bold:
        font.bold = True
    if look.italic:
        font.italic = True
    if look.code:
        font.name = _CODE_FONT
    if look.small:
        font.size = _CODE_SIZE
    return run.rPr


def _child(parent: BaseOxmlElement, tag: str) -> BaseOxmlElement:
    """A new last child of ``parent``, of python-docx's class for ``tag``.

    lxml makes it in the parent's document, whose parser gives python-docx's element
    classes (CT_P, CT_R, CT_Text). python-docx's own ``add_p``, ``add_r`` and ``add_t``
    make the same elements at several times the cost (they look the tag's namespace up
    and the schema's sequence through), and a letter makes a few hundred.
    """
    child: BaseOxmlElement = parent.makeelement(tag)
    parent.append(child)
    return child


def _set_look(paragraph: Paragraph, look: _ParagraphLook, num_id: int | None = None) -> None:
    """Give ``paragraph`` (which has no properties yet) the properties of ``look``."""
    properties = _paragraph_properties(look)
    if properties is not None:
        properties = copy.deepcopy(properties)
        if num_id is not None:
            properties.find(_NUM_ID).set(qn("w:val"), str(num_id))
        paragraph._p.insert(0, properties)


def _add_run(paragraph: Paragraph, parent: BaseOxmlElement, text: str,
             look: _RunLook) -> CT_R:
    """A run of ``text`` at the end of ``parent`` (the paragraph or one of its hyperlinks)."""
    element = cast(CT_R, _child(parent, _W_R))
    properties = _run_properties(look)
    if properties is not None:
        element.append(copy.deepcopy(properties))
    if text and _TEXT_ONLY.fullmatch(text):
        t = _child(element, _W_T)
        t.text = text
        # Word drops leading and trailing spaces, and may fold runs of spaces, unless told.
        if text[0].isspace() or text[-1].isspace() or "  " in text:
            t.set(_XML_SPACE, "preserve")
    elif text:
        # python-docx writes tabs and line breaks as w:tab and w:br.
        Run(element, paragraph).text = text
    return element


# -- the body, from markdown-it's tokens ------------------------------------------------

@dataclass
class _List:
    """An open list: its ``w:num`` and whether its current item still needs its number."""

    num_id: int
    ordered: bool
    level: int
    item_open: bool = False


@dataclass
class _Quote:
    """An open block quote."""


@dataclass
class _Cell:
    inline: Token
    alignment: WD_ALIGN_PARAGRAPH | None


@dataclass
class _Row:
    header: bool
    cells: list[_Cell] = field(default_factory=list)


class _Builder:
    """Adds the blocks of a token stream to a document."""

    def __init__(self, part: DocumentPart, template: _Template) -> None:
        self.part = part
        # The body as python-docx's Document wraps it; its add_table, unlike the Document's,
        # looks up no table style (which would parse the template's styles for each letter).
        self.body_element = part.element.body
        self.body = BlockItemContainer(self.body_element, part)
        self.template = template
        self.styles = template.styles
        self.containers: list[_List | _Quote] = []
        self._numbering: CT_Numbering | None = None

    def build(self, tokens: Sequence[Token]) -> None:
        """Add every block of ``tokens`` (markdown-it's block-level stream)."""
        # The section properties end the body: set aside, so that each block is appended.
        body = self.body_element
        section = body.sectPr
        if section is not None:
            body.remove(section)
        index = 0
        while index < len(tokens):
            handler = _BLOCK_HANDLERS.get(tokens[index].type)
            index = index + 1 if handler is None else handler(self, tokens, index)
        if section is not None:
            body.append(section)

    # blocks

    def _heading(self, tokens: Sequence[Token], index: int) -> int:
        paragraph = self._paragraph(self.styles[f"Heading {tokens[index].tag[1:]}"])
        _Inline(paragraph, self.styles).add(tokens[index + 1])
        return index + 3

    def _paragraph_block(self, tokens: Sequence[Token], index: int) -> int:
        _Inline(self._paragraph(), self.styles).add(tokens[index + 1])
        return index + 3

    def _list_open(self, tokens: Sequence[Token], index: int) -> int:
        self._number_open_item()
        token = tokens[index]
        level = sum(isinstance(c, _List) for c in self.containers)
        ordered = token.type == "ordered_list_open"
        if ordered:
            # Each numbered list is its own w:num, so it counts from its own start.
            num = self._numbering_element().add_num(  # type: ignore[no-untyped-call]
                self.template.ordered_abstract_id)
            start = token.attrGet("start")  # markdown-it gives it unless it is 1
            num.add_lvlOverride(ilvl=level).add_startOverride(1 if start is None else int(start))
            num_id = int(num.numId)
        else:
            num_id = self.template.bullet_num_id
        self.containers.append(_List(num_id=num_id, ordered=ordered, level=level))
        return index + 1

    def _item_open(self, tokens: Sequence[Token], index: int) -> int:
        cast(_List, self.containers[-1]).item_open = True
        return index + 1

    def _item_close(self, tokens: Sequence[Token], index: int) -> int:
        self._number_open_item()  # an empty item still takes its number
        return index + 1

    def _quote_open(self, tokens: Sequence[Token], index: int) -> int:
        self._number_open_item()
        self.containers.append(_Quote())
        return index + 1

    def _close(self, tokens: Sequence[Token], index: int) -> int:
        self.containers.pop()
        return index + 1

    def _rule(self, tokens: Sequence[Token], index: int) -> int:
        self._number_open_item()
        self._new_paragraph(_ParagraphLook(left=self._indent(), rule=True))
        return index + 1

    def _code(self, tokens: Sequence[Token], index: int) -> int:
        paragraph = self._paragraph(extra_indent=_LIST_INDENT)
        _add_run(paragraph, paragraph._p, tokens[index].content.rstrip("\n"),
                 _RunLook(code=True, small=True))
        return index + 1

    def _html(self, tokens: Sequence[Token], index: int) -> int:
        paragraph = self._paragraph()
        _add_run(paragraph, paragraph._p, tokens[index].content.rstrip("\n"), _RunLook())
        return index + 1

    def _table(self, tokens: Sequence[Token], index: int) -> int:
        rows: list[_Row] = []
        header = False
        while tokens[index].type != "table_close":
            token = tokens[index]
            if token.type in ("thead_open", "thead_close"):
                header = token.type == "thead_open"
            elif token.type == "tr_open":
                rows.append(_Row(header=header))
            elif token.type in ("th_open", "td_open"):
                rows[-1].cells.append(_Cell(
                    inline=tokens[index + 1],
                    alignment=_ALIGNMENT.get(str(token.attrGet("style") or ""))))
            index += 1
        # GFM needs a header row; a key/value table leaves its cells empty.
        rows = [row for row in rows if not row.header or any(_plain(c.inline) for c in row.cells)]
        if rows:
            self._number_open_item()
            self._add_table(rows)
        return index + 1

    # helpers

    def _paragraph(self, style_id: str | None = None, extra_indent: int = 0) -> Paragraph:
        """A new paragraph, styled, numbered and indented for the lists and quotes it is in."""
        indent = self._indent() + extra_indent
        innermost = self.containers[-1] if self.containers else None
        if isinstance(innermost, _List) and innermost.item_open:
            innermost.item_open = False
            kind = "Number" if innermost.ordered else "Bullet"
            style_id = style_id or self.styles[f"List {kind}{_level_suffix(innermost.level)}"]
            return self._new_paragraph(_ParagraphLook(
                style_id=style_id, left=indent, hanging=_LIST_INDENT, level=innermost.level),
                num_id=innermost.num_id)
        if isinstance(innermost, _List):
            style_id = style_id or self.styles[f"List Continue{_level_suffix(innermost.level)}"]
        elif isinstance(innermost, _Quote):
            style_id = style_id or self.styles["Quote"]
        return self._new_paragraph(_ParagraphLook(style_id=style_id, left=indent))

    def _number_open_item(self) -> None:
        """Number a list item that starts with no paragraph (a list, quote, rule, table)."""
        innermost = self.containers[-1] if self.containers else None
        if isinstance(innermost, _List) and innermost.item_open:
            self._paragraph()

    def _new_paragraph(self, look: _ParagraphLook, num_id: int | None = None) -> Paragraph:
        """A paragraph at the end of the body (whose section properties are set aside)."""
        paragraph = Paragraph(cast(CT_P, _child(self.body_element, _W_P)), self.body)
        _set_look(paragraph, look, num_id)
        return paragraph

    def _indent(self) -> int:
        """The left indent (twips) of the lists and quotes a paragraph is in."""
        return sum(_LIST_INDENT if isinstance(c, _List) else _QUOTE_INDENT
                   for c in self.containers)

    def _numbering_element(self) -> CT_Numbering:
        if self._numbering is None:
            self._numbering = self.part.numbering_part.element
        return self._numbering

    def _add_table(self, rows: list[_Row]) -> None:
        columns = max(len(row.cells) for row in rows)
        table = self.body.add_table(len(rows), columns, Twips(self.template.block_width))
        tbl = table._tbl
        tbl.tblStyle_val = self.styles["Table Grid"]
        table.autofit = False
        texts = [[_plain(row.cells[c].inline) if c < len(row.cells) else "" for row in rows]
                 for c in range(columns)]
        widths = column_widths(texts, self.template.block_width)
        for grid_column, width in zip(tbl.tblGrid.gridCol_lst, widths, strict=True):
            grid_column.w = Twips(width)
        # python-docx gave every cell an even share (w:tcW, in twips); each gets its
        # column's. Cells are reached through the XML: python-docx's _Row.cells works out
        # each row's grid (merged cells), which no table of this export has.
        for number, cell_width in enumerate(tbl.iter(_W_TCW)):
            cell_width.set(_W_W, str(widths[number % columns]))
        paragraphs = list(tbl.iter(_W_P))
        for number, (row, tr) in enumerate(zip(rows, tbl.tr_lst, strict=True)):
            if row.header:
                tr.get_or_add_trPr().append(_element("w:tblHeader"))
            for column, cell in enumerate(row.cells):
                paragraph = Paragraph(paragraphs[number * columns + column], table)
                if cell.alignment is not None:
                    _set_look(paragraph, _ParagraphLook(alignment=cell.alignment))
                _Inline(paragraph, self.styles, bold=row.header).add(cell.inline)


_BLOCK_HANDLERS: dict[str, Callable[[_Builder, Sequence[Token], int], int]] = {
    "heading_open": _Builder._heading, "paragraph_open": _Builder._paragraph_block,
    "bullet_list_open": _Builder._list_open, "ordered_list_open": _Builder._list_open,
    "bullet_list_close": _Builder._close, "ordered_list_close": _Builder._close,
    "list_item_open": _Builder._item_open, "list_item_close": _Builder._item_close,
    "blockquote_open": _Builder._quote_open, "blockquote_close": _Builder._close,
    "hr": _Builder._rule, "code_block": _Builder._code, "fence": _Builder._code,
    "html_block": _Builder._html, "table_open": _Builder._table}
"""What each block token becomes (the others, such as closing tokens, are passed over)."""


def _level_suffix(level: int) -> str:
    """Word's list styles go three deep: "List Bullet", "List Bullet 2", "List Bullet 3"."""
    return "" if level == 0 else f" {min(level + 1, 3)}"


def _plain(inline: Token) -> str:
    """The text an inline token shows (markers, link URLs and breaks left out)."""
    return "".join(_texts(inline.children or ()))


def _texts(tokens: Sequence[Token]) -> Iterator[str]:
    for token in tokens:
        if token.type in ("text", "code_inline", "html_inline"):
            yield token.content
        elif token.type in ("softbreak", "hardbreak"):
            yield " "
        elif token.type == "image":
            yield from _texts(token.children or ())


def column_widths(texts: Sequence[Sequence[str]], available: int) -> list[int]:
    """Column widths (twips) that fit each column's longest text within ``available``.

    Each column wants room for its longest cell text on one line. When all fit, the widths
    grow in proportion to fill the page. Otherwise the columns that want no more than an
    even share of what is left keep their width, and the others share the rest in
    proportion to their text, never narrower than their longest word when that is possible.

    Args:
        texts: Each column's cell texts.
        available: The page width less the margins, in twips.

    Returns:
        One width per column, summing to ``available`` (to within rounding).
    """
    want = [_CELL_PADDING + _CHAR_WIDTH * max([_MIN_CHARS, *(len(t) for t in column)])
            for column in texts]
    if sum(want) <= available:
        return [available * w // sum(want) for w in want]
    widths = list(want)
    remaining, open_columns = available, sorted(range(len(want)), key=want.__getitem__)
    while open_columns and want[open_columns[0]] <= remaining / len(open_columns):
        remaining -= want[open_columns.pop(0)]
    total = sum(want[c] for c in open_columns)
    for c in open_columns:
        widths[c] = remaining * want[c] // total
    floors = [_CELL_PADDING + _CHAR_WIDTH * max([_MIN_CHARS, *(len(w) for t in column
                                                              for w in t.split())])
              for column in texts]
    return _respect_floors(widths, floors)


def _respect_floors(widths: list[int], floors: list[int]) -> list[int]:
    """Widen columns narrower than their longest word, taking from the columns above theirs."""
    deficit = sum(max(0, f - w) for w, f in zip(widths, floors, strict=True))
    surplus = sum(max(0, w - f) for w, f in zip(widths, floors, strict=True))
    if deficit == 0 or surplus < deficit:
        return widths
    return [f if w < f else w - (w - f) * deficit // surplus
            for w, f in zip(widths, floors, strict=True)]


class _Inline:
    """Adds an inline token's children to a paragraph as runs (and hyperlinks)."""

    def __init__(self, paragraph: Paragraph, styles: dict[str, str], bold: bool = False) -> None:
        self.paragraph = paragraph
        self.styles = styles
        self.bold = int(bold)
        self.italic = 0
        self.link: BaseOxmlElement | None = None
        # One entry per open link: None for a hyperlink, else the URL to show after its text.
        self.links: list[str | None] = []

    def add(self, inline: Token) -> None:
        """Add the runs of ``inline`` (an ``inline`` token) to the paragraph."""
        children = inline.children or ()
        if len(children) == 1 and children[0].type == "text":  # most paragraphs and cells
            self.text(children[0])
        else:
            self._add_all(children)

    def _add_all(self, tokens: Sequence[Token]) -> None:
        for token in tokens:
            handler = _INLINE_HANDLERS.get(token.type)
            if handler is not None:
                handler(self, token)

    def _run(self, text: str = "", code: bool = False) -> CT_R:
        if self.link is None and not (self.bold or self.italic or code):
            return _add_run(self.paragraph, self.paragraph._p, text, _PLAIN)
        look = _RunLook(bold=self.bold > 0, italic=self.italic > 0, code=code,
                        style_id=None if self.link is None else self.styles[_HYPERLINK_STYLE])
        parent = self.paragraph._p if self.link is None else self.link
        return _add_run(self.paragraph, parent, text, look)

    def text(self, token: Token) -> None:
        if token.content:
            self._run(token.content)

    def code(self, token: Token) -> None:
        self._run(token.content, code=True)

    def line_break(self, token: Token) -> None:
        _child(self._run(), _W_BR)

    def strong(self, token: Token) -> None:
        self.bold += token.nesting

    def emphasis(self, token: Token) -> None:
        self.italic += token.nesting

    def link_open(self, token: Token) -> None:
        url = str(token.attrGet("href") or "")
        if self.link is None and _FOLLOWABLE.match(url):
            r_id = self.paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
            self.link = OxmlElement("w:hyperlink", attrs={qn("r:id"): r_id})
            self.paragraph._p.append(self.link)
            self.links.append(None)
        else:
            self.links.append(url)

    def link_close(self, token: Token) -> None:
        url = self.links.pop()
        if url is None:
            self.link = None
        elif url:
            self._run(f" ({url})")

    def image(self, token: Token) -> None:
        self._add_all(token.children or ())


_INLINE_HANDLERS: dict[str, Callable[[_Inline, Token], None]] = {
    "text": _Inline.text, "html_inline": _Inline.text, "code_inline": _Inline.code,
    "softbreak": _Inline.line_break, "hardbreak": _Inline.line_break,
    "strong_open": _Inline.strong, "strong_close": _Inline.strong,
    "em_open": _Inline.emphasis, "em_close": _Inline.emphasis,
    "link_open": _Inline.link_open, "link_close": _Inline.link_close, "image": _Inline.image}
