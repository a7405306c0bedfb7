"""The DOCX export: each Markdown construct becomes the Word construct an auditor expects.

Each test writes a DOCX with ``markdown_to_docx`` and reads it back with python-docx (and
its XML where python-docx has no reader), not with the export's own code; only the column
width rule is also tested on its own (``column_widths``).
"""

from __future__ import annotations

import gc
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.shared import Inches, Pt
from docx.text.paragraph import Paragraph

from agent.letters import docx_export
from agent.letters.docx_export import column_widths, markdown_to_docx

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_LETTERS = sorted(GOLDEN.glob("*.md"))
# python-docx's default template: US Letter less 1.25-inch margins.
PAGE_WIDTH_TWIPS = 6 * 1440
TWIPS = 635  # EMU per twip


def _docx(tmp_path: Path, markdown: str, **kwargs: Any) -> DocumentObject:
    path = tmp_path / "letter.docx"
    markdown_to_docx(markdown, path, title="Appeal", **kwargs)
    return Document(str(path))


def _runs(paragraph: Paragraph) -> list[tuple[str, bool, bool, str | None]]:
    return [(r.text, bool(r.bold), bool(r.italic), r.font.name) for r in paragraph.runs]


def _all_text(document: DocumentObject) -> str:
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _num(paragraph: Paragraph) -> tuple[int, int] | None:
    """(numId, ilvl) of a list paragraph, None for any other."""
    ids = paragraph._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")
    levels = paragraph._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
    return (int(ids[0]), int(levels[0])) if ids else None


def _list_format(document: DocumentObject, num_id: int, level: int) -> str:
    """The number format (decimal, bullet) a list paragraph shows, through numbering.xml."""
    numbering = document.part.numbering_part.element
    abstract = numbering.xpath(f'./w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val')[0]
    return str(numbering.xpath(f'./w:abstractNum[@w:abstractNumId="{abstract}"]'
                               f'/w:lvl[@w:ilvl="{level}"]/w:numFmt/@w:val')[0])


def _start(document: DocumentObject, num_id: int, level: int) -> int | None:
    numbering = document.part.numbering_part.element
    found = numbering.xpath(f'./w:num[@w:numId="{num_id}"]/w:lvlOverride[@w:ilvl="{level}"]'
                            "/w:startOverride/@w:val")
    return int(found[0]) if found else None


def _twips(length: int | None) -> int:
    return (length or 0) // TWIPS


def _grid(document: DocumentObject, index: int = 0) -> list[int]:
    return [int(w) for w in document.tables[index]._tbl.xpath("./w:tblGrid/w:gridCol/@w:w")]


# -- block constructs --------------------------------------------------------------------

def test_headings_of_every_level_take_word_heading_styles(tmp_path: Path) -> None:
    markdown = ("# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six\n\n"
                "Setext two\n----------\n")
    document = _docx(tmp_path, markdown)
    assert [(p.style.name if p.style else None, p.text) for p in document.paragraphs] == [
        ("Heading 1", "One"), ("Heading 2", "Two"), ("Heading 3", "Three"),
        ("Heading 4", "Four"), ("Heading 5", "Five"), ("Heading 6", "Six"),
        ("Heading 2", "Setext two")]


def test_bold_italic_and_code_spans_become_run_formatting(tmp_path: Path) -> None:
    document = _docx(tmp_path, "Plain *italic* **bold** ***both*** `x = 1` _u_ __s__\n")
    assert _runs(document.paragraphs[0]) == [
        ("Plain ", False, False, None), ("italic", False, True, None), (" ", False, False, None),
        ("bold", True, False, None), (" ", False, False, None), ("both", True, True, None),
        (" ", False, False, None), ("x = 1", False, False, "Courier New"),
        (" ", False, False, None), ("u", False, True, None), (" ", False, False, None),
        ("s", True, False, None)]


def test_links_are_hyperlinks_to_their_url(tmp_path: Path) -> None:
    markdown = ("See [the **policy**](https://payer.example/policy?id=1&v=2), "
                "<https://www.cms.gov/manual> and [write](mailto:appeals@payer.example).\n")
    document = _docx(tmp_path, markdown)
    paragraph = document.paragraphs[0]
    assert paragraph.text == ("See the policy, https://www.cms.gov/manual and write.")
    assert [(h.text, h.address) for h in paragraph.hyperlinks] == [
        ("the policy", "https://payer.example/policy?id=1&v=2"),
        ("https://www.cms.gov/manual", "https://www.cms.gov/manual"),
        ("write", "mailto:appeals@payer.example")]
    relationships = {r.rId: r for r in document.part.rels.values() if r.reltype == RT.HYPERLINK}
    r_ids = paragraph._p.xpath("./w:hyperlink/@r:id")
    assert [relationships[r_id].is_external for r_id in r_ids] == [True, True, True]
    link_runs = paragraph._p.xpath("./w:hyperlink/w:r")
    assert {run.xpath("string(./w:rPr/w:rStyle/@w:val)") for run in link_runs} == {"Hyperlink"}
    assert paragraph._p.xpath("./w:hyperlink/w:r[w:t='policy']/w:rPr/w:b")
    assert "Hyperlink" in [s.name for s in document.styles]


def test_a_link_word_should_not_follow_keeps_its_url_as_text(tmp_path: Path) -> None:
    document = _docx(tmp_path, "[Click](javascript:alert(1)) or [the notes](notes/visit.pdf).\n")
    paragraph = document.paragraphs[0]
    assert paragraph.text == "Click (javascript:alert(1)) or the notes (notes/visit.pdf)."
    assert paragraph.hyperlinks == []
    assert "](" not in paragraph.text


def test_block_quotes_are_indented_quote_paragraphs(tmp_path: Path) -> None:
    document = _docx(tmp_path, "> The payer **wrote**:\n>\n> > nested\n\nAfter.\n")
    assert [(p.style.name if p.style else None, p.text,
             _twips(p.paragraph_format.left_indent)) for p in document.paragraphs] == [
        ("Quote", "The payer wrote:", 720), ("Quote", "nested", 1440), ("Normal", "After.", 0)]


def test_bullets_and_numbered_lists_nest_and_each_list_counts_from_its_start(
        tmp_path: Path) -> None:
    markdown = ("- a\n- b\n  - b1\n  - b2\n    1. deep\n- c\n\n"
                "1. one\n2. two\n\nBetween.\n\n5. five\n6. six\n")
    document = _docx(tmp_path, markdown)
    items = [p for p in document.paragraphs if _num(p) is not None]
    assert [p.text for p in items] == ["a", "b", "b1", "b2", "deep", "c", "one", "two",
                                       "five", "six"]
    nums = [_num(p) for p in items]
    assert [level for _, level in (n for n in nums if n)] == [0, 0, 1, 1, 2, 0, 0, 0, 0, 0]
    formats = [_list_format(document, num_id, level) for num_id, level in
               (n for n in nums if n)]
    assert formats == ["bullet"] * 4 + ["decimal"] + ["bullet"] + ["decimal"] * 4
    assert [p.style.name if p.style else None for p in items[:6]] == [
        "List Bullet", "List Bullet", "List Bullet 2", "List Bullet 2", "List Number 3",
        "List Bullet"]
    indents = [_twips(p.paragraph_format.left_indent) for p in items[:5]]
    assert indents[0] < indents[2] < indents[4]
    assert all(_twips(p.paragraph_format.first_line_indent) < 0 for p in items)
    one, five = nums[6], nums[8]
    assert one and five and one[0] != five[0], "the second numbered list is its own list"
    assert _start(document, one[0], 0) == 1 and _start(document, five[0], 0) == 5


def test_a_numbered_list_may_start_at_zero(tmp_path: Path) -> None:
    document = _docx(tmp_path, "0. zero\n1. one\n")
    found = _num(document.paragraphs[0])
    assert found is not None and _start(document, found[0], 0) == 0


def test_a_list_item_s_later_paragraphs_are_indented_without_a_number(
        tmp_path: Path) -> None:
    document = _docx(tmp_path, "1. first\n\n   more about it\n2. second\n")
    first, more, second = document.paragraphs
    assert _num(first) is not None and _num(second) is not None and _num(more) is None
    assert more.style is not None and more.style.name == "List Continue"
    assert _twips(more.paragraph_format.left_indent) == \
        _twips(first.paragraph_format.left_indent)


def test_an_item_that_starts_with_a_nested_list_or_quote_is_numbered_first(
        tmp_path: Path) -> None:
    document = _docx(tmp_path, "1. - inner\n2. > quoted\n3.\n")
    texts = [(p.text, _num(p)) for p in document.paragraphs]
    assert [t for t, _ in texts] == ["", "inner", "", "quoted", ""]
    levels = [n[1] if n else None for _, n in texts]
    assert levels == [0, 1, 0, None, 0]


def test_hard_soft_and_backslash_line_breaks_are_word_line_breaks(tmp_path: Path) -> None:
    document = _docx(tmp_path, "two spaces  \nbackslash\\\nsoft\nend\n")
    paragraph = document.paragraphs[0]
    assert paragraph.text == "two spaces\nbackslash\nsoft\nend"
    assert len(paragraph._p.xpath(".//w:br")) == 3


def test_spaces_inside_a_line_are_kept(tmp_path: Path) -> None:
    # A 277CA acknowledgement quoted from the chart lines its columns up with spaces.
    document = _docx(tmp_path, '1. "LOMT-30001      03/05/2026   520.00"\n')
    paragraph = document.paragraphs[0]
    assert paragraph.text == '"LOMT-30001      03/05/2026   520.00"'
    assert paragraph._p.xpath("./w:r/w:t/@xml:space") == ["preserve"]


@pytest.mark.parametrize("rule", ["---", "***", "___"])
def test_a_horizontal_rule_is_a_bottom_border(tmp_path: Path, rule: str) -> None:
    document = _docx(tmp_path, f"above\n\n{rule}\n\nbelow\n")
    above, line, below = document.paragraphs
    assert line.text == ""
    assert line._p.xpath("./w:pPr/w:pBdr/w:bottom/@w:val") == ["single"]
    assert not above._p.xpath(".//w:pBdr") and not below._p.xpath(".//w:pBdr")


def test_fenced_and_indented_code_is_monospace_and_keeps_its_lines(tmp_path: Path) -> None:
    document = _docx(tmp_path, "```text\nline 1\n\tindented *not em*\n```\n\n    four spaces\n")
    fenced, indented = document.paragraphs
    assert fenced.text == "line 1\n\tindented *not em*"
    assert indented.text == "four spaces"
    for paragraph in (fenced, indented):
        assert {r.font.name for r in paragraph.runs} == {"Courier New"}
        assert {r.font.size for r in paragraph.runs} == {Pt(10)}
        assert not any(r.italic for r in paragraph.runs)
        assert _twips(paragraph.paragraph_format.left_indent) > 0


def test_html_is_written_as_its_text_and_an_image_as_its_alt_text(tmp_path: Path) -> None:
    markdown = ("<div>\n<b>raw</b> *kept*\n</div>\n\n"
                "Inline <span style=\"x\">tag</span> &amp; ![Knee X-ray](xray.png) shown.\n")
    document = _docx(tmp_path, markdown)
    block, inline = document.paragraphs
    assert block.text == "<div>\n<b>raw</b> *kept*\n</div>"
    assert inline.text == 'Inline <span style="x">tag</span> & Knee X-ray shown.'
    assert not any(r.bold for p in document.paragraphs for r in p.runs)
    assert not document.element.xpath("//w:drawing") and not document.inline_shapes


# -- tables --------------------------------------------------------------------------------

SERVICES = (
    "| Procedure | Units | Billed | Denial as stated |\n"
    "|---|:---:|---:|---|\n"
    "| 20610-RT | 1 | $410.00 | CO-50 These are non-covered services because this is not "
    "deemed a 'medical necessity' by the payer. |\n")


def test_a_table_has_a_bold_repeated_header_row_and_the_column_alignment(
        tmp_path: Path) -> None:
    document = _docx(tmp_path, SERVICES)
    (table,) = document.tables
    assert table.style is not None and table.style.name == "Table Grid"
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["Procedure", "Units", "Billed", "Denial as stated"],
        ["20610-RT", "1", "$410.00", "CO-50 These are non-covered services because this is "
         "not deemed a 'medical necessity' by the payer."]]
    header, body = table.rows
    assert header._tr.xpath("./w:trPr/w:tblHeader") and not body._tr.xpath(".//w:tblHeader")
    assert all(r.bold for c in header.cells for p in c.paragraphs for r in p.runs)
    assert not any(r.bold for c in body.cells for p in c.paragraphs for r in p.runs)
    assert [c.paragraphs[0].alignment for c in body.cells] == [None, 1, 2, None]


def test_table_columns_fit_their_text_within_the_page(tmp_path: Path) -> None:
    document = _docx(tmp_path, SERVICES)
    grid = _grid(document)
    assert sum(grid) <= PAGE_WIDTH_TWIPS and sum(grid) > PAGE_WIDTH_TWIPS - 10
    procedure, units, billed, reason = grid
    assert reason == max(grid) and reason > PAGE_WIDTH_TWIPS / 2
    # Short columns keep room for their text on one line (11 pt: about 0.08 inch a character).
    assert procedure >= 0.08 * 1440 * len("Procedure") and billed >= 0.08 * 1440 * 7
    assert units >= 0.08 * 1440 * 5
    table = document.tables[0]
    assert table._tbl.xpath("./w:tblPr/w:tblLayout/@w:type") == ["fixed"]
    for row in table.rows:
        assert [_twips(c.width) for c in row.cells] == grid


def test_a_key_value_table_drops_its_empty_header_and_is_not_squeezed(tmp_path: Path) -> None:
    markdown = ("| | |\n|---|---|\n| Patient | SORENSEN, HAROLD |\n"
                "| Patient account (claim) number | LOM26-10601 |\n"
                "| Diagnoses on the chart | Type 2 diabetes mellitus; Chronic kidney disease "
                "stage 3; Essential (primary) hypertension |\n")
    document = _docx(tmp_path, markdown)
    (table,) = document.tables
    assert [row.cells[0].text for row in table.rows] == [
        "Patient", "Patient account (claim) number", "Diagnoses on the chart"]
    key, value = _grid(document)
    # "Patient account (claim) number" on one line needs about 2.2 inches at 11 pt.
    assert key >= 2.25 * 1440 and value >= 2.5 * 1440
    assert key + value <= PAGE_WIDTH_TWIPS


def test_column_widths_fill_the_page_when_the_text_fits() -> None:
    widths = column_widths([["Units", "1"], ["Billed", "$410.00"]], 8640)
    assert 8638 <= sum(widths) <= 8640
    assert widths[0] < widths[1]


def test_column_widths_give_the_long_column_what_the_short_ones_leave() -> None:
    short = ["20610-RT", "Procedure"]
    long = ["CO-50 " + "word " * 60]
    widths = column_widths([short, ["$410.00"], long], 8640)
    assert widths[0] >= 240 + 115 * len("Procedure") and widths[1] >= 240 + 115 * 7
    assert widths[2] == max(widths) and sum(widths) <= 8640


def test_column_widths_keep_a_long_word_whole_when_the_page_allows() -> None:
    words = ["Supercalifragilistic"]
    many = ["a b c d e f g h i j k l m n o p q r s t u v w x y z " * 4]
    widths = column_widths([words, many, many, many], 8640)
    assert widths[0] >= 240 + 115 * len(words[0])
    assert sum(widths) <= 8640


# -- the page --------------------------------------------------------------------------

def _footer_instructions(document: DocumentObject) -> list[str]:
    footer = document.sections[0].footer
    return [t.strip() for t in footer._element.xpath(".//w:instrText/text()")]


def test_every_page_footer_reads_page_n_of_m(tmp_path: Path) -> None:
    document = _docx(tmp_path, "# Letter\n")
    footer = document.sections[0].footer
    assert not footer.is_linked_to_previous
    assert _footer_instructions(document) == ["PAGE", "NUMPAGES"]
    assert [p.text for p in footer.paragraphs if p.text] == ["Page 1 of 1"]
    kinds = footer._element.xpath(".//w:fldChar/@w:fldCharType")
    assert kinds == ["begin", "separate", "end"] * 2


def test_nothing_of_one_letter_reaches_the_next(tmp_path: Path) -> None:
    # The template is prepared once per process; each letter starts from it afresh.
    first = _docx(tmp_path, "1. a\n\n[link](https://example.org/first)\n\n3. b\n")
    second = _docx(tmp_path, "plain\n")
    assert [h.address for h in first.paragraphs[1].hyperlinks] == ["https://example.org/first"]
    assert not [r for r in second.part.rels.values() if r.reltype == RT.HYPERLINK]
    nums = len(second.part.numbering_part.element.xpath("./w:num"))
    assert len(first.part.numbering_part.element.xpath("./w:num")) == nums + 2
    assert [p.text for p in second.paragraphs] == ["plain"]


def test_a_letter_leaves_no_reference_cycle_for_the_garbage_collector(tmp_path: Path) -> None:
    # In a run's process a full collection costs a third of a second: each letter's
    # objects are freed as soon as it is written.
    markdown = (GOLDEN / "medical_necessity.md").read_text(encoding="utf-8") + \
        "\nSee [the policy](https://payer.example/policy).\n"
    markdown_to_docx(markdown, tmp_path / "first.docx", title="t")
    gc.collect()
    gc.disable()
    try:
        markdown_to_docx(markdown, tmp_path / "letter.docx", title="t")
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_the_package_lists_each_member_once_with_its_content_type(tmp_path: Path) -> None:
    path = tmp_path / "letter.docx"
    markdown_to_docx("# Letter\n\nSee [x](https://example.org).\n", path, title="t")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        types = archive.read("[Content_Types].xml").decode()
    assert len(names) == len(set(names))
    for name in names:
        if not name.endswith(".rels") and name != "[Content_Types].xml":
            assert f'PartName="/{name}"' in types or name.rsplit(".", 1)[1] in types, name
    assert "docProps/thumbnail.jpeg" not in names and "word/stylesWithEffects.xml" not in names


def test_the_core_properties_carry_the_title(tmp_path: Path) -> None:
    document = _docx(tmp_path, "text\n")
    assert document.core_properties.title == "Appeal"


def _letterhead(path: Path, header: str, *, drop: tuple[str, ...] = (),
                footer_page_field: bool = False, no_numbering: bool = False) -> Path:
    template = Document()
    section = template.sections[0]
    section.header.paragraphs[0].text = header
    section.left_margin = section.right_margin = Inches(1)
    template.styles["Normal"].font.name = "Georgia"
    template.add_paragraph("Template body text that no letter shows")
    template.add_table(rows=1, cols=1).cell(0, 0).text = "template table"
    for name in drop:
        template.styles.element.remove(template.styles[name].element)
    if footer_page_field:
        paragraph = section.footer.paragraphs[0]
        paragraph.text = "Lakeside Orthopedics, page "
        run = paragraph.add_run()
        field = run._r.makeelement(qn("w:fldSimple"), {qn("w:instr"): "PAGE"})
        run._r.addnext(field)
    if no_numbering:
        r_id = next(r.rId for r in template.part.rels.values() if r.reltype == RT.NUMBERING)
        template.part.drop_rel(r_id)
    template.save(str(path))
    return path


LETTER = ("# Request for reconsideration\n\n> Quoted\n\n- item [link](https://example.org)\n"
          "\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_a_letterhead_template_gives_its_header_styles_and_margins_and_no_body(
        tmp_path: Path) -> None:
    template = _letterhead(tmp_path / "letterhead.docx", "Lakeside Orthopedics, 1 Main St")
    document = _docx(tmp_path, LETTER, template=template)
    section = document.sections[0]
    assert [p.text for p in section.header.paragraphs] == ["Lakeside Orthopedics, 1 Main St"]
    assert section.left_margin == Inches(1)
    assert document.styles["Normal"].font.name == "Georgia"
    text = _all_text(document)
    assert "Template body" not in text and "template table" not in text
    assert document.paragraphs[0].text == "Request for reconsideration"
    assert document.paragraphs[0].style is not None
    assert document.paragraphs[0].style.name == "Heading 1"
    assert _footer_instructions(document) == ["PAGE", "NUMPAGES"]
    # Wider text block (1-inch margins): the table fills 6.5 inches.
    assert sum(_grid(document)) > 6 * 1440


def test_a_template_lacking_styles_or_numbering_gets_them(tmp_path: Path) -> None:
    template = _letterhead(tmp_path / "bare.docx", "Letterhead",
                           drop=("Quote", "List Bullet", "Table Grid", "Heading 1"),
                           no_numbering=True)
    document = _docx(tmp_path, LETTER, template=template)
    names = [p.style.name if p.style else None for p in document.paragraphs]
    assert names[:3] == ["Heading 1", "Quote", "List Bullet"]
    item = document.paragraphs[2]
    found = _num(item)
    assert found is not None and _list_format(document, *found) == "bullet"
    assert document.tables[0].style is not None
    assert document.tables[0].style.name == "Table Grid"
    _assert_every_style_and_list_is_defined(document)


def test_a_style_added_to_a_template_takes_an_id_of_its_own(tmp_path: Path) -> None:
    template = Document()
    template.styles["Quote"].name = "Pull Quote"  # its id stays "Quote"
    path = tmp_path / "renamed.docx"
    template.save(str(path))
    document = _docx(tmp_path, "> quoted\n", template=path)
    quote = document.paragraphs[0]
    assert quote.style is not None and quote.style.name == "Quote"
    assert quote.style.style_id != "Quote"
    ids = [s.style_id for s in document.styles]
    assert len(ids) == len(set(ids))
    assert document.styles["Pull Quote"].style_id == "Quote"


def test_a_template_footer_with_a_page_number_keeps_its_own(tmp_path: Path) -> None:
    template = _letterhead(tmp_path / "numbered.docx", "Letterhead", footer_page_field=True)
    document = _docx(tmp_path, LETTER, template=template)
    footer = document.sections[0].footer
    assert footer._element.xpath(".//w:fldSimple/@w:instr") == ["PAGE"]
    assert not footer._element.xpath(".//w:instrText")


def test_a_changed_template_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "letterhead.docx"
    _letterhead(path, "First letterhead")
    first = _docx(tmp_path, "text\n", template=path)
    _letterhead(path, "Second letterhead, longer")
    later = os.stat(path).st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(later, later))
    second = _docx(tmp_path, "text\n", template=path)
    assert first.sections[0].header.paragraphs[0].text == "First letterhead"
    assert second.sections[0].header.paragraphs[0].text == "Second letterhead, longer"


def test_a_template_that_is_not_a_word_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "letterhead.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a package")
    with pytest.raises(ValueError, match="not a Word document"):
        markdown_to_docx("text\n", tmp_path / "letter.docx", title="t", template=path)
    assert not (tmp_path / "letter.docx").exists()


# -- the file --------------------------------------------------------------------------------

def test_the_file_is_replaced_atomically_and_private(tmp_path: Path) -> None:
    path = tmp_path / "out" / "letter.docx"
    path.parent.mkdir()
    path.write_bytes(b"previous export")
    markdown_to_docx("# Letter\n", path, title="t")
    assert Document(str(path)).paragraphs[0].text == "Letter"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["letter.docx"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "letter.docx"
    path.write_bytes(b"previous export")

    def half_then_fail(self: object, document: object, handle: Any) -> None:
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(docx_export._Template, "write", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        markdown_to_docx("# Letter\n", path, title="t")
    assert path.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["letter.docx"]


@pytest.mark.parametrize("bad", ["a\x00b", "form\x0cfeed", "\ufffe"])
def test_a_character_xml_cannot_hold_is_refused_before_writing(tmp_path: Path,
                                                              bad: str) -> None:
    with pytest.raises(ValueError, match="XML"):
        markdown_to_docx(f"# {bad}\n", tmp_path / "letter.docx", title="t")
    with pytest.raises(ValueError, match="XML"):
        markdown_to_docx("# ok\n", tmp_path / "letter.docx", title=bad)
    assert list(tmp_path.iterdir()) == []


def test_docx_escapes_text_keeps_bold_and_replaces_the_file_atomically(tmp_path: Path) -> None:
    # Moved from tests/test_letters.py.
    path = tmp_path / "out" / "letter.docx"
    path.parent.mkdir()
    path.write_bytes(b"previous export")
    markdown = "# A & B <C>\n\nPaid **$0.00** of \"$410\".  \n| x | y |\n|---|---|\n| 1 |\n"
    markdown_to_docx(markdown, path, title='Appeal <LOM26> & "x"')
    document = Document(str(path))
    assert [p.text for p in document.paragraphs] == ["A & B <C>", 'Paid $0.00 of "$410".']
    assert [(r.text, bool(r.bold)) for r in document.paragraphs[1].runs] == [
        ("Paid ", False), ("$0.00", True), (' of "$410".', False)]
    assert [[c.text for c in row.cells] for row in document.tables[0].rows] == [
        ["x", "y"], ["1", ""]]
    assert document.core_properties.title == 'Appeal <LOM26> & "x"'
    assert [p.name for p in path.parent.iterdir()] == ["letter.docx"]


# -- the real letters ------------------------------------------------------------------

def _assert_every_style_and_list_is_defined(document: DocumentObject) -> None:
    """Every style and list a paragraph, run or table names exists in the package."""
    defined = {s.style_id for s in document.styles}
    body = document.element.body
    used = set(body.xpath(".//w:pStyle/@w:val | .//w:rStyle/@w:val | .//w:tblStyle/@w:val"))
    assert used <= defined, used - defined
    numbering = document.part.numbering_part.element
    lists = set(numbering.xpath("./w:num/@w:numId"))
    assert set(body.xpath(".//w:numPr/w:numId/@w:val")) <= lists


@pytest.mark.parametrize("golden", GOLDEN_LETTERS, ids=[p.stem for p in GOLDEN_LETTERS])
def test_every_golden_letter_renders_as_word_constructs(tmp_path: Path, golden: Path) -> None:
    markdown = golden.read_text(encoding="utf-8")
    document = _docx(tmp_path, markdown)
    paragraphs = document.paragraphs
    styles = [p.style.name if p.style else None for p in paragraphs]
    lines = markdown.splitlines()
    assert (styles[0], paragraphs[0].text) == ("Heading 1", lines[0].removeprefix("# "))
    assert [p.text for p, s in zip(paragraphs, styles, strict=True) if s == "Heading 2"] == \
        [line.removeprefix("## ") for line in lines if line.startswith("## ")]
    assert len(document.tables) == sum(line.startswith("|---") for line in lines)
    # The claim table: its empty GFM header left out, keys wide enough for one line.
    claim = document.tables[0]
    assert claim.rows[0].cells[0].text == "Patient"
    assert _grid(document)[0] >= 0.08 * 1440 * len("Patient account (claim) number")
    # Each quoted evidence item is one numbered paragraph, its lines kept.
    quotes = [line for line in lines if re.match(r'^\d+\. "', line)]
    items = [p for p, s in zip(paragraphs, styles, strict=True) if s == "List Number"]
    assert len(items) == len(quotes)
    for line, item in zip(quotes, items, strict=True):
        assert item.text.startswith(line.split(". ", 1)[1].rstrip())
        assert "\nSource: " in item.text
    text = _all_text(document)
    for marker in ("**", "](", "  \n"):
        assert marker not in text
    for paragraph in paragraphs:
        assert not re.match(r"^(#|>|- |\d+\. |\|)", paragraph.text), paragraph.text
    assert _footer_instructions(document) == ["PAGE", "NUMPAGES"]
    _assert_every_style_and_list_is_defined(document)


EDITS = """
### Added by the auditor

The payer's *own* policy says **otherwise**: see [LCD L33394](https://www.cms.gov/lcd/33394)
and `CPT 20610`.

> Coverage is provided when *all* criteria are met.
> > Quoted within the quote.

* first point
* second point
  1. detail one
  2. detail two

| Criterion | Met | Where |
|---|:---:|---|
| Failed conservative care | yes | Ortho note, **2026-08-18** |

***

Signed,\
Dana
"""


def test_no_markdown_syntax_is_left_in_an_edited_letter(tmp_path: Path) -> None:
    golden = (GOLDEN / "medical_necessity.md").read_text(encoding="utf-8")
    document = _docx(tmp_path, golden + EDITS)
    text = _all_text(document)
    for marker in ("**", "](", "`", "\\", "|---", "***"):
        assert marker not in text, marker
    for paragraph in document.paragraphs:
        assert not re.match(r"^(#|>|[-*] |\d+\. |\|)", paragraph.text), paragraph.text
    styles = {p.text: p.style.name if p.style else None for p in document.paragraphs}
    assert styles["Added by the auditor"] == "Heading 3"
    assert styles["Coverage is provided when all criteria are met."] == "Quote"
    assert styles["detail one"] == "List Number 2"
    assert any(h.address == "https://www.cms.gov/lcd/33394"
               for p in document.paragraphs for h in p.hyperlinks)
    assert [c.text for c in document.tables[-1].rows[1].cells] == [
        "Failed conservative care", "yes", "Ortho note, 2026-08-18"]


def test_a_letter_uses_the_word_styles_of_its_constructs(tmp_path: Path) -> None:
    # Replaces tests/test_letters.py's check of the old writer's hard-coded style ids.
    document = _docx(tmp_path, (GOLDEN / "medical_necessity.md").read_text(encoding="utf-8"))
    names = {p.style.name for p in document.paragraphs if p.style is not None}
    assert {"Heading 1", "Heading 2", "List Number", "List Bullet"} <= names
    assert document.tables[0].style is not None
    assert document.tables[0].style.name == "Table Grid"
    _assert_every_style_and_list_is_defined(document)
