"""A Vietnamese administrative document (Decree 30/2020/NĐ-CP, Phụ lục I) in
the sandbox's Docs, written with the real googleapiclient as the product
writes one, then exported by `sandbox export` and read back as a person would
open it: the .docx with python-docx, the PDF with pypdf (and as a picture
where poppler's pdftoppm is installed).

The layout: A4, margins 20/20/30/15 mm; Times New Roman 13 pt; a two-column
borderless table on top (the parent body over the issuing body, a short rule,
`Số: …`; the national motto, `Độc lập - Tự do - Hạnh phúc` with a rule, the
place-and-date line in italic); the title bold and centred; the body justified
with a 1.27 cm first-line indent and 6 pt after each paragraph; a bullet list;
a page break; the signature block in the right column of a borderless table
with `Nơi nhận:` (12 pt bold italic, its list 11 pt) at the left; page
numbers centred in the header from page 2 (sandbox.api.docs.add_page_number_header,
what a person does in the editor: the API cannot insert a page number).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import docx
import pypdf
import pytest
from docx.oxml.ns import qn
from googleapiclient.errors import HttpError

from sandbox.api import docs_pdf
from tests.conftest import needs_fonts
from sandbox.api.docs import add_page_number_header
from sandbox.export import export

TITLE = "Kế hoạch tổ chức Hội thảo"
FONT = "Times New Roman"
A4 = {"width": {"magnitude": 595.28, "unit": "PT"}, "height": {"magnitude": 841.89, "unit": "PT"}}
MM = 72 / 25.4
MARGINS = {"marginTop": 20 * MM, "marginBottom": 20 * MM, "marginLeft": 30 * MM,
           "marginRight": 15 * MM}
TEXT_WIDTH = 595.28 - MARGINS["marginLeft"] - MARGINS["marginRight"]
# The top block overhangs the right margin a little (as Decree 30 templates do), so
# the parent body and the place-and-date line (13 pt) each hold on one line.
TOP_WIDTHS = [195.0, 287.0]
SIGN_WIDTHS = [TEXT_WIDTH * 0.45, TEXT_WIDTH * 0.55]
BLACK = {"color": {"rgbColor": {}}}
NO_BORDER = {"width": {"magnitude": 0, "unit": "PT"}, "dashStyle": "SOLID", "color": BLACK}
RULE = {"width": {"magnitude": 0.75, "unit": "PT"}, "padding": {"magnitude": 1, "unit": "PT"},
        "dashStyle": "SOLID", "color": BLACK}
BODY = [
    ("Căn cứ Kế hoạch năm học 2024 - 2025 của Sở Giáo dục và Đào tạo Thành phố Hồ Chí Minh về "
     "việc đẩy mạnh nghiên cứu khoa học và chuyển đổi số trong giáo dục; căn cứ đề nghị của các "
     "phòng chuyên môn, Sở Giáo dục và Đào tạo xây dựng kế hoạch tổ chức Hội thảo khoa học như "
     "sau."),
    ("Hội thảo nhằm trao đổi kinh nghiệm, giới thiệu các kết quả nghiên cứu mới về ứng dụng dữ "
     "liệu lớn trong quản lý giáo dục, tạo diễn đàn để cán bộ quản lý, giáo viên và các nhà khoa "
     "học cùng thảo luận, đề xuất giải pháp nâng cao chất lượng dạy và học."),
]
BULLETS = ["Thời gian: 08 giờ 00, ngày 22 tháng 11 năm 2024;",
           "Địa điểm: Hội trường A, Sở Giáo dục và Đào tạo;",
           "Thành phần: đại biểu các tỉnh, thành phố và các đơn vị trực thuộc."]
PAGE_TWO = ("Các phòng, ban và đơn vị liên quan căn cứ kế hoạch này triển khai thực hiện; trong "
            "quá trình thực hiện, nếu có vướng mắc, báo cáo về Văn phòng Sở để được hướng dẫn.")


def _pt(value: float) -> dict[str, Any]:
    return {"magnitude": round(value, 2), "unit": "PT"}


class Para:
    """One paragraph to write: its text and style (as the product's doc_render does)."""

    def __init__(self, text: str, *, size: float = 13, bold: bool = False, italic: bool = False,
                 align: str = "START", first: float = 0, after: float = 0, line: int = 100,
                 rule: float = 0):
        self.text, self.size, self.bold, self.italic = text, size, bold, italic
        self.align, self.first, self.after, self.line, self.rule = align, first, after, line, rule

    def requests(self, start: int, width: float) -> list[dict[str, Any]]:
        end = start + len(self.text.encode("utf-16-le")) // 2 + 1
        style: dict[str, Any] = {"alignment": self.align, "indentFirstLine": _pt(self.first),
                                 "spaceBelow": _pt(self.after), "lineSpacing": self.line}
        fields = "alignment,indentFirstLine,spaceBelow,lineSpacing"
        if self.rule:   # an empty, low paragraph whose bottom border is the rule
            side = (width - self.rule) / 2
            # Google's first-line indent is absolute: as far in as the start indent
            style.update({"borderBottom": RULE, "indentStart": _pt(side), "indentEnd": _pt(side),
                          "indentFirstLine": _pt(side)})
            fields += ",borderBottom,indentStart,indentEnd"
        return [{"updateParagraphStyle": {"range": {"startIndex": start, "endIndex": end},
                                          "paragraphStyle": style, "fields": fields}},
                {"updateTextStyle": {"range": {"startIndex": start, "endIndex": end},
                                     "textStyle": {"weightedFontFamily": {"fontFamily": FONT},
                                                   "fontSize": _pt(self.size),
                                                   "bold": self.bold, "italic": self.italic},
                                     "fields": "weightedFontFamily,fontSize,bold,italic"}}]


def _centre(text: str, size: float = 13, **kw: Any) -> Para:
    return Para(text, size=size, align="CENTER", **kw)


TOP_LEFT = [_centre("UBND THÀNH PHỐ HỒ CHÍ MINH", 12),
            _centre("SỞ GIÁO DỤC VÀ ĐÀO TẠO", 12, bold=True),
            _centre("", 4, rule=60, after=3),
            _centre("Số: 125/KH-SGDĐT")]
TOP_RIGHT = [_centre("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, bold=True),
             _centre("Độc lập - Tự do - Hạnh phúc", 13, bold=True),
             _centre("", 4, rule=170, after=3),
             _centre("Thành phố Hồ Chí Minh, ngày 05 tháng 01 năm 2025", 13, italic=True)]
SIGN_LEFT = [Para("Nơi nhận:", size=12, bold=True, italic=True),
             Para("- Như trên;", size=11), Para("- Lưu: VT, KHTC.", size=11)]
SIGN_RIGHT = [_centre("KT. GIÁM ĐỐC", 14, bold=True), _centre("PHÓ GIÁM ĐỐC", 14, bold=True),
              _centre(""), _centre(""), _centre(""), _centre("Nguyễn Văn Bình", 14, bold=True)]


# -- writing the document through the API ------------------------------------------


def _get(docs: Any, doc_id: str) -> dict[str, Any]:
    return docs.get(documentId=doc_id).execute()


def _update(docs: Any, doc_id: str, *requests: dict[str, Any]) -> dict[str, Any]:
    return docs.batchUpdate(documentId=doc_id, body={"requests": list(requests)}).execute()


def _end(docs: Any, doc_id: str) -> int:
    """Where the next paragraph goes: the start of the body's final (empty) paragraph."""
    return _get(docs, doc_id)["body"]["content"][-1]["endIndex"] - 1


def _paragraph(docs: Any, doc_id: str, para: Para) -> int:
    pos = _end(docs, doc_id)
    _update(docs, doc_id, {"insertText": {"location": {"index": pos}, "text": para.text + "\n"}},
            *para.requests(pos, TEXT_WIDTH))
    return pos


def _borderless_table(docs: Any, doc_id: str, columns: list[list[Para]],
                      widths: list[float]) -> int:
    """A one-row table whose cells hold `columns`; no borders, fixed widths. Its start."""
    pos = _end(docs, doc_id)
    _update(docs, doc_id, {"insertTable": {"rows": 1, "columns": len(columns),
                                           "location": {"index": pos}}})
    start = pos + 1
    table = next(e for e in _get(docs, doc_id)["body"]["content"] if e.get("startIndex") == start)
    cells = table["table"]["tableRows"][0]["tableCells"]
    # fill from the last cell to the first, so the earlier indexes stay valid
    _update(docs, doc_id, *[{"insertText": {"location": {"index": cell["content"][0]["startIndex"]},
                                            "text": "\n".join(p.text for p in paras)}}
                            for cell, paras in reversed(list(zip(cells, columns)))])
    cells = next(e for e in _get(docs, doc_id)["body"]["content"]
                 if e.get("startIndex") == start)["table"]["tableRows"][0]["tableCells"]
    styles = []
    for cell, paras, width in zip(cells, columns, widths):
        for element, para in zip(cell["content"], paras):
            styles += para.requests(element["startIndex"], width - 4)
    no_border = {"borderTop": NO_BORDER, "borderBottom": NO_BORDER, "borderLeft": NO_BORDER,
                 "borderRight": NO_BORDER}
    _update(docs, doc_id, *styles,
            *[{"updateTableColumnProperties": {
                "tableStartLocation": {"index": start}, "columnIndices": [c],
                "tableColumnProperties": {"widthType": "FIXED_WIDTH", "width": _pt(w)},
                "fields": "widthType,width"}} for c, w in enumerate(widths)],
            {"updateTableCellStyle": {
                "tableRange": {"tableCellLocation": {"tableStartLocation": {"index": start},
                                                     "rowIndex": 0, "columnIndex": 0},
                               "rowSpan": 1, "columnSpan": len(columns)},
                "tableCellStyle": {**no_border, "paddingTop": _pt(0), "paddingBottom": _pt(0),
                                   "paddingLeft": _pt(2), "paddingRight": _pt(2)},
                "fields": "borderTop,borderBottom,borderLeft,borderRight,paddingTop,"
                          "paddingBottom,paddingLeft,paddingRight"}})
    return start


def write_decree_document(docs: Any, store: Any) -> str:
    doc_id = docs.create(body={"title": TITLE}).execute()["documentId"]
    _update(docs, doc_id, {"updateDocumentStyle": {
        "documentStyle": {"pageSize": A4, **{k: _pt(v) for k, v in MARGINS.items()}},
        "fields": "pageSize," + ",".join(MARGINS)}})
    # the paragraph before the table (insertTable puts a newline there): 1 pt high
    _update(docs, doc_id, {"updateTextStyle": {"range": {"startIndex": 1, "endIndex": 2},
                                               "textStyle": {"fontSize": _pt(1)},
                                               "fields": "fontSize"}})
    _borderless_table(docs, doc_id, [TOP_LEFT, TOP_RIGHT], TOP_WIDTHS)
    _paragraph(docs, doc_id, Para("", after=6))
    _paragraph(docs, doc_id, _centre("KẾ HOẠCH", 14, bold=True))
    _paragraph(docs, doc_id, _centre("Tổ chức Hội thảo khoa học “Dữ liệu lớn trong giáo dục”",
                                     14, bold=True, after=12))
    for text in BODY:
        _paragraph(docs, doc_id, Para(text, align="JUSTIFIED", first=36, after=6))
    first = _end(docs, doc_id)
    for text in BULLETS:
        _paragraph(docs, doc_id, Para(text, align="JUSTIFIED", after=0))
    _update(docs, doc_id, {"createParagraphBullets": {
        "range": {"startIndex": first, "endIndex": _end(docs, doc_id) - 1},
        "bulletPreset": "BULLET_DISC_CIRCLE_SQUARE"}})
    _update(docs, doc_id, {"insertPageBreak": {"location": {"index": _end(docs, doc_id)}}})
    _paragraph(docs, doc_id, Para(PAGE_TWO, align="JUSTIFIED", first=36, after=6))
    _borderless_table(docs, doc_id, [SIGN_LEFT, SIGN_RIGHT], SIGN_WIDTHS)
    add_page_number_header(store, doc_id, text_style={
        "weightedFontFamily": {"fontFamily": FONT}, "fontSize": _pt(13)})
    return doc_id


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def docs(service) -> Any:
    return service("docs", "v1").documents()


@pytest.fixture
def exported(docs, sandbox, data_dir: Path, tmp_path: Path) -> dict[str, Any]:
    doc_id = write_decree_document(docs, sandbox.store)
    counts = export(data_dir, tmp_path / "out")
    folder = tmp_path / "out" / "docs"
    return {"doc_id": doc_id, "counts": counts, "docx": folder / f"{TITLE}.docx",
            "pdf": folder / f"{TITLE}.pdf", "doc": _get(docs, doc_id)}



def _error(excinfo: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(excinfo.value.content)["error"]


def _tables(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["table"] for e in doc["body"]["content"] if "table" in e]


def _text(content: list[dict[str, Any]]) -> str:
    return "".join(pe.get("textRun", {}).get("content", "")
                   for e in content if "paragraph" in e for pe in e["paragraph"]["elements"])


# -- what documents.get shows ------------------------------------------------------------


def test_documents_get_shows_the_layout_as_google_does(exported) -> None:
    doc = exported["doc"]
    style = doc["documentStyle"]
    assert style["pageSize"] == A4
    assert style["marginLeft"] == _pt(MARGINS["marginLeft"])
    top, sign = _tables(doc)
    assert top["tableStyle"]["tableColumnProperties"] == [
        {"widthType": "FIXED_WIDTH", "width": _pt(w)} for w in TOP_WIDTHS]
    cell = top["tableRows"][0]["tableCells"][0]["tableCellStyle"]
    # a width of 0 is left out of the JSON, as proto3 leaves out every zero
    assert cell["borderTop"] == {"width": {"unit": "PT"}, "dashStyle": "SOLID", "color": BLACK}
    assert cell["paddingTop"] == {"unit": "PT"} and cell["paddingLeft"] == _pt(2)
    assert cell["contentAlignment"] == "TOP" and cell["rowSpan"] == 1
    assert _text(top["tableRows"][0]["tableCells"][1]["content"]).startswith(
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n")
    assert "Nơi nhận:" in _text(sign["tableRows"][0]["tableCells"][0]["content"])
    # page numbers: the default header holds the PAGE_NUMBER auto text, the first page's is empty
    assert style["useFirstPageHeaderFooter"] is True
    header = doc["headers"][style["defaultHeaderId"]]
    assert header["headerId"] == style["defaultHeaderId"]
    [par] = header["content"]
    assert par["endIndex"] == 2 and "startIndex" not in par   # a header's indexes begin at 0
    assert par["paragraph"]["paragraphStyle"]["alignment"] == "CENTER"
    number, newline = par["paragraph"]["elements"]
    assert number == {"endIndex": 1, "autoText": {"type": "PAGE_NUMBER", "textStyle": {
        "weightedFontFamily": {"fontFamily": FONT, "weight": 400}, "fontSize": _pt(13)}}}
    assert newline["textRun"]["content"] == "\n"
    assert _text(doc["headers"][style["firstPageHeaderId"]]["content"]) == "\n"


# -- the .docx ------------------------------------------------------------------------------


def test_docx_export_keeps_page_fonts_tables_and_the_page_number(exported) -> None:
    assert exported["counts"]["docs"] == 1
    document = docx.Document(str(exported["docx"]))
    section = document.sections[0]
    assert (round(section.page_width.pt, 1), round(section.page_height.pt, 1)) == (595.3, 841.9)
    assert [round(getattr(section, f"{side}_margin").pt, 1)
            for side in ("top", "bottom", "left", "right")] == [56.7, 56.7, 85.0, 42.5]
    # every run in Times New Roman, on every script slot (so Word never falls back)
    runs = [r for p in document.paragraphs for r in p.runs if r.text.strip()]
    runs += [r for t in document.tables for c in t._cells for p in c.paragraphs for r in p.runs
             if r.text.strip()]
    for run in runs:
        fonts = run._r.rPr.rFonts
        assert {fonts.get(qn(f"w:{slot}")) for slot in ("ascii", "hAnsi", "eastAsia", "cs")} == {
            FONT}, run.text
    body = next(p for p in document.paragraphs if p.text.startswith("Căn cứ Kế hoạch"))
    assert body.alignment == 3   # JUSTIFY
    fmt = body.paragraph_format
    assert (fmt.first_line_indent.pt, fmt.space_after.pt, fmt.line_spacing) == (36, 6, 1.0)
    assert body.runs[0].font.size.pt == 13
    title = next(p for p in document.paragraphs if p.text == "KẾ HOẠCH")
    assert title.alignment == 1 and title.runs[0].bold and title.runs[0].font.size.pt == 14
    bullets = [p for p in document.paragraphs if p.style.name == "List Bullet"]
    assert [p.text for p in bullets] == BULLETS
    # the tables: fixed widths, no borders
    top, sign = document.tables
    for table, widths in ((top, TOP_WIDTHS), (sign, SIGN_WIDTHS)):
        tbl = table._tbl
        assert tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
        assert [int(c.get(qn("w:w"))) for c in tbl.tblGrid.findall(qn("w:gridCol"))] == [
            round(w * 20) for w in widths]
        for cell in table._cells:
            borders = cell._tc.tcPr.find(qn("w:tcBorders"))
            assert [b.get(qn("w:val")) for b in borders] == ["nil"] * 4
    left = top.cell(0, 0)
    assert [p.text for p in left.paragraphs][:2] == ["UBND THÀNH PHỐ HỒ CHÍ MINH",
                                                    "SỞ GIÁO DỤC VÀ ĐÀO TẠO"]
    assert left.paragraphs[1].runs[0].bold and not left.paragraphs[0].runs[0].bold
    rule = left.paragraphs[2]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert (rule.get(qn("w:val")), rule.get(qn("w:sz"))) == ("single", "6")   # 0.75 pt
    place = top.cell(0, 1).paragraphs[3]
    assert place.runs[0].italic and place.text.startswith("Thành phố Hồ Chí Minh, ngày 05")
    received = sign.cell(0, 0).paragraphs
    assert received[0].runs[0].bold and received[0].runs[0].italic
    assert (received[0].runs[0].font.size.pt, received[1].runs[0].font.size.pt) == (12, 11)
    with zipfile.ZipFile(exported["docx"]) as archive:
        xml = archive.read("word/document.xml").decode()
    assert 'w:type="page"' in xml
    # page numbers from page 2: a PAGE field in the header, an empty first-page header
    assert section.different_first_page_header_footer
    header_xml = section.header._element.xml
    assert "<w:instrText" in header_xml and " PAGE " in header_xml
    assert section.header.paragraphs[0].alignment == 1
    assert [p.text for p in section.first_page_header.paragraphs] == [""]


# -- the PDF ----------------------------------------------------------------------------




def _positions(page: Any) -> list[tuple[float, float, str]]:
    """(x, y from the page's bottom, text) of every piece of text drawn on `page`."""
    items: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            matrix = pypdf.mult(tm, cm)
            items.append((matrix[4], matrix[5], text.strip()))

    page.extract_text(visitor_text=visit)
    return items


def _at(items: list[tuple[float, float, str]], text: str) -> tuple[float, float]:
    found = [(x, y) for x, y, t in items if t.startswith(text)]
    assert found, f"{text!r} not drawn; drawn: {[t for _, _, t in items]}"
    return found[0]


@needs_fonts
def test_pdf_lays_the_top_block_side_by_side_and_numbers_pages_from_two(exported) -> None:
    reader = pypdf.PdfReader(str(exported["pdf"]))
    assert len(reader.pages) == 2
    first, second = (_positions(page) for page in reader.pages)
    height = float(reader.pages[0].mediabox.height)
    top_margin = height - MARGINS["marginTop"]
    # the two header blocks share their lines: left column, right column
    for left, right in (("UBND THÀNH PHỐ HỒ CHÍ MINH", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
                        ("SỞ GIÁO DỤC VÀ ĐÀO TẠO", "Độc lập - Tự do - Hạnh phúc"),
                        ("Số: 125/KH-SGDĐT", "Thành phố Hồ Chí Minh, ngày 05 tháng 01 năm 2025")):
        (lx, ly), (rx, ry) = _at(first, left), _at(first, right)
        assert abs(ly - ry) < 3, (left, ly, right, ry)
        assert lx < MARGINS["marginLeft"] + TOP_WIDTHS[0] <= rx
    # then the title, centred under the block, and the body from the left margin
    (tx, ty), (bx, by) = _at(first, "KẾ HOẠCH"), _at(first, "Căn cứ Kế hoạch")
    assert ty < _at(first, "Số: 125/KH-SGDĐT")[1] and by < ty
    assert MARGINS["marginLeft"] + 150 < tx < MARGINS["marginLeft"] + TEXT_WIDTH / 2
    assert bx == pytest.approx(MARGINS["marginLeft"] + 36, abs=0.5)   # the first-line indent
    # the paragraph's next line starts at the margin
    assert _at(first, "Chí Minh về việc")[0] == pytest.approx(MARGINS["marginLeft"], abs=0.5)
    # no number on page 1: nothing is drawn in its top margin
    assert all(y < top_margin for _, y, _ in first)
    # page 2: "2" centred in the top margin, then the signature block beside the recipients
    number = [(x, y) for x, y, t in second if t == "2"]
    assert len(number) == 1 and number[0][1] > top_margin
    assert abs(number[0][0] - (MARGINS["marginLeft"] + TEXT_WIDTH / 2)) < 10
    (nx, ny), (sx, sy) = _at(second, "Nơi nhận:"), _at(second, "KT. GIÁM ĐỐC")
    assert abs(ny - sy) < 3 and nx < MARGINS["marginLeft"] + SIGN_WIDTHS[0] <= sx
    assert _at(second, "Nguyễn Văn Bình")[1] < sy
    # Times New Roman where installed, else its metric twin Liberation Serif
    fonts = {reader.pages[0]["/Resources"]["/Font"][k].get_object()["/BaseFont"]
             for k in reader.pages[0]["/Resources"]["/Font"]}
    serif = docs_pdf.font_names()["serif"].replace(" ", "")
    assert len({f for f in fonts if f.split("+")[-1].startswith(serif)}) >= 3   # regular, bold, italic


@needs_fonts
@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="rendering the PDF as a picture needs poppler-utils' pdftoppm")
def test_pdf_page_one_as_a_picture_shows_the_two_blocks_side_by_side(exported,
                                                                      tmp_path: Path) -> None:
    from PIL import Image  # fpdf2's own dependency

    subprocess.run(["pdftoppm", "-r", "72", "-f", "1", "-l", "1", "-png", "-singlefile",
                    str(exported["pdf"]), str(tmp_path / "page1")], check=True, timeout=60)
    image = Image.open(tmp_path / "page1.png").convert("L")
    split = round(MARGINS["marginLeft"] + TOP_WIDTHS[0])   # 72 dpi: a pixel is a point
    top = round(MARGINS["marginTop"])

    def inked(x0: int, x1: int, y: int) -> bool:
        return any(image.getpixel((x, y)) < 128 for x in range(x0, x1))

    rows = range(top, top + 60)
    left = {y for y in rows if inked(round(MARGINS["marginLeft"]), split, y)}
    right = {y for y in rows if inked(split, image.width - 20, y)}
    assert len(left & right) > 15   # both blocks are drawn on the same lines
    # and nothing in the top margin of page 1 (no page number there)
    assert not any(inked(0, image.width, y) for y in range(top - 2))


# -- the requests, one by one, as Google answers them ---------------------------------------


@pytest.fixture
def drive(service) -> Any:
    return service("drive", "v3").files()


def _table_doc(docs: Any, rows: int = 2, columns: int = 2) -> tuple[str, int]:
    doc_id = docs.create(body={"title": "Bảng"}).execute()["documentId"]
    _update(docs, doc_id, {"insertTable": {"rows": rows, "columns": columns,
                                           "location": {"index": 1}}})
    return doc_id, 2


def test_update_table_cell_style_sets_borders_on_both_sides_of_a_shared_edge(docs) -> None:
    doc_id, start = _table_doc(docs)
    red = {"color": {"rgbColor": {"red": 1}}}
    dashed = {"width": _pt(2), "dashStyle": "DASH", "color": red}
    reply = _update(docs, doc_id, {"updateTableCellStyle": {
        "tableRange": {"tableCellLocation": {"tableStartLocation": {"index": start},
                                             "rowIndex": 0, "columnIndex": 0},
                       "rowSpan": 1, "columnSpan": 1},
        "tableCellStyle": {"borderRight": dashed, "contentAlignment": "MIDDLE",
                           "backgroundColor": red, "paddingLeft": _pt(8)},
        "fields": "borderRight,contentAlignment,backgroundColor,paddingLeft"}})
    assert reply["replies"] == [{}]
    cells = _tables(_get(docs, doc_id))[0]["tableRows"]
    first, second = cells[0]["tableCells"][0]["tableCellStyle"], cells[0]["tableCells"][1][
        "tableCellStyle"]
    assert first["borderRight"] == dashed and second["borderLeft"] == dashed   # shared edge
    assert first["contentAlignment"] == "MIDDLE" and first["backgroundColor"] == red
    assert first["paddingLeft"] == _pt(8) and second["paddingLeft"] == _pt(5)
    untouched = cells[1]["tableCells"][1]["tableCellStyle"]
    assert untouched["borderLeft"] == {"color": BLACK, "width": _pt(1), "dashStyle": "SOLID"}
    # the whole table by its start; a field in the mask but not in the style goes back
    _update(docs, doc_id, {"updateTableCellStyle": {
        "tableStartLocation": {"index": start},
        "tableCellStyle": {"borderTop": NO_BORDER}, "fields": "borderTop,backgroundColor"}})
    cells = _tables(_get(docs, doc_id))[0]["tableRows"]
    assert all(c["tableCellStyle"]["borderTop"]["width"] == {"unit": "PT"}
               for r in cells for c in r["tableCells"])
    assert cells[0]["tableCells"][0]["tableCellStyle"]["backgroundColor"] == {}


@pytest.mark.parametrize("request_body, message", [
    ({"tableStartLocation": {"index": 2}, "tableCellStyle": {"borderTop": {"width": _pt(1)}},
      "fields": "borderTop"}, "The borderTop color cannot be transparent"),
    ({"tableStartLocation": {"index": 3}, "tableCellStyle": {}, "fields": "paddingTop"},
     "No table found at the table start location with index 3."),
    ({"tableRange": {"tableCellLocation": {"tableStartLocation": {"index": 2}, "rowIndex": 1,
                                           "columnIndex": 1}, "rowSpan": 2, "columnSpan": 1},
      "tableCellStyle": {}, "fields": "paddingTop"}, "is outside the table"),
    ({"tableStartLocation": {"index": 2}, "tableCellStyle": {}, "fields": "rowSpan"},
     "Invalid field: rowSpan"),
    ({"tableStartLocation": {"index": 2}, "tableCellStyle": {}},
     "At least one field must be listed in 'fields'"),
])
def test_update_table_cell_style_refusals(docs, request_body, message) -> None:
    doc_id, _ = _table_doc(docs)
    with pytest.raises(HttpError) as err:
        _update(docs, doc_id, {"updateTableCellStyle": request_body})
    assert err.value.resp.status == 400 and _error(err)["status"] == "INVALID_ARGUMENT"
    assert _error(err)["message"].startswith("Invalid requests[0].updateTableCellStyle: ")
    assert message in _error(err)["message"]


def test_update_table_cell_style_with_both_ways_to_name_cells_is_a_oneof_error(docs) -> None:
    doc_id, start = _table_doc(docs)
    with pytest.raises(HttpError) as err:
        _update(docs, doc_id, {"updateTableCellStyle": {
            "tableStartLocation": {"index": start},
            "tableRange": {"tableCellLocation": {"tableStartLocation": {"index": start}},
                           "rowSpan": 1, "columnSpan": 1},
            "tableCellStyle": {}, "fields": "paddingTop"}})
    assert err.value.resp.status == 400
    assert _error(err)["message"] == (
        "Invalid value at 'requests[0].update_table_cell_style' (oneof), oneof field 'cells' is "
        "already set. Cannot set 'tableStartLocation'")


def test_update_table_column_properties(docs) -> None:
    doc_id, start = _table_doc(docs, columns=3)
    _update(docs, doc_id, {"updateTableColumnProperties": {
        "tableStartLocation": {"index": start}, "columnIndices": [0, 2],
        "tableColumnProperties": {"widthType": "FIXED_WIDTH", "width": _pt(120)},
        "fields": "widthType,width"}})
    props = _tables(_get(docs, doc_id))[0]["tableStyle"]["tableColumnProperties"]
    fixed = {"widthType": "FIXED_WIDTH", "width": _pt(120)}
    assert props == [fixed, {"widthType": "EVENLY_DISTRIBUTED"}, fixed]
    _update(docs, doc_id, {"updateTableColumnProperties": {   # no indices: every column
        "tableStartLocation": {"index": start},
        "tableColumnProperties": {"widthType": "EVENLY_DISTRIBUTED"}, "fields": "widthType"}})
    props = _tables(_get(docs, doc_id))[0]["tableStyle"]["tableColumnProperties"]
    assert [p["widthType"] for p in props] == ["EVENLY_DISTRIBUTED"] * 3
    for body, message in (
            ({"columnIndices": [0], "tableColumnProperties": {"widthType": "FIXED_WIDTH",
                                                               "width": _pt(4)}},
             "The column width must be at least 5 points."),
            ({"columnIndices": [3], "tableColumnProperties": {"widthType": "FIXED_WIDTH",
                                                               "width": _pt(50)}},
             "Column index 3 is out of bounds")):
        with pytest.raises(HttpError) as err:
            _update(docs, doc_id, {"updateTableColumnProperties": {
                "tableStartLocation": {"index": start}, "fields": "widthType,width", **body}})
        assert err.value.resp.status == 400 and message in _error(err)["message"]


def test_headers_and_footers_are_segments_with_their_own_indexes(docs) -> None:
    doc_id = docs.create(body={"title": "Có đầu trang"}).execute()["documentId"]
    reply = _update(docs, doc_id, {"createHeader": {"type": "DEFAULT"}},
                    {"createFooter": {"type": "DEFAULT"}})
    header_id = reply["replies"][0]["createHeader"]["headerId"]
    footer_id = reply["replies"][1]["createFooter"]["footerId"]
    assert header_id.startswith("kix.") and footer_id.startswith("kix.")
    doc = _get(docs, doc_id)
    assert doc["documentStyle"]["defaultHeaderId"] == header_id
    assert doc["documentStyle"]["defaultFooterId"] == footer_id
    assert doc["headers"][header_id]["content"] == [{"endIndex": 1, "paragraph": {
        "elements": [{"endIndex": 1, "textRun": {"content": "\n", "textStyle": {}}}],
        "paragraphStyle": {"namedStyleType": "NORMAL_TEXT", "direction": "LEFT_TO_RIGHT"}}}]
    _update(docs, doc_id,
            {"insertText": {"location": {"segmentId": header_id, "index": 0},
                            "text": "Sở GD&ĐT {{nam}}"}},
            {"insertText": {"endOfSegmentLocation": {"segmentId": footer_id},
                            "text": "Trang cuối"}},
            {"updateParagraphStyle": {"range": {"segmentId": header_id, "startIndex": 0,
                                                "endIndex": 5},
                                      "paragraphStyle": {"alignment": "END"},
                                      "fields": "alignment"}},
            {"updateTextStyle": {"range": {"segmentId": header_id, "startIndex": 0,
                                           "endIndex": 2},
                                 "textStyle": {"italic": True}, "fields": "italic"}},
            {"replaceAllText": {"containsText": {"text": "{{nam}}"}, "replaceText": "2024"}})
    doc = _get(docs, doc_id)
    [par] = doc["headers"][header_id]["content"]
    assert _text([par]) == "Sở GD&ĐT 2024\n"
    assert par["paragraph"]["paragraphStyle"]["alignment"] == "END"
    assert par["paragraph"]["elements"][0] == {"endIndex": 2, "textRun": {
        "content": "Sở", "textStyle": {"italic": True}}}
    assert _text(doc["footers"][footer_id]["content"]) == "Trang cuối\n"
    assert _text(doc["body"]["content"]) == "\n"   # the body is untouched
    for request, message in (
            ({"createHeader": {"type": "DEFAULT"}}, "A default header already exists."),
            ({"createHeader": {}}, "The header type must be DEFAULT."),
            ({"insertText": {"location": {"segmentId": "kix.khongco", "index": 0}, "text": "x"}},
             "The segment with ID kix.khongco was not found."),
            ({"insertPageBreak": {"location": {"segmentId": header_id, "index": 0}}},
             ("Page breaks cannot be inserted inside a table, equation, footnote, header or "
              "footer.")),
            ({"insertText": {"location": {"segmentId": header_id, "index": 14}, "text": "x"}},
             "Index 14 must be less than the end index of the referenced segment, 14.")):
        with pytest.raises(HttpError) as err:
            _update(docs, doc_id, request)
        assert err.value.resp.status == 400
        assert _error(err)["message"] == f"Invalid requests[0].{next(iter(request))}: {message}"


def test_first_page_header_comes_with_use_first_page_header_footer(docs) -> None:
    doc_id = docs.create(body={"title": "Trang đầu khác"}).execute()["documentId"]
    _update(docs, doc_id, {"updateDocumentStyle": {
        "documentStyle": {"useFirstPageHeaderFooter": True}, "fields": "useFirstPageHeaderFooter"}})
    style = _get(docs, doc_id)["documentStyle"]
    assert style["useFirstPageHeaderFooter"] is True
    first = style["firstPageHeaderId"]
    assert _text(_get(docs, doc_id)["headers"][first]["content"]) == "\n"
    _update(docs, doc_id, {"insertText": {"location": {"segmentId": first, "index": 0},
                                          "text": "Chỉ trang 1"}})
    assert _text(_get(docs, doc_id)["headers"][first]["content"]) == "Chỉ trang 1\n"
    assert "defaultHeaderId" not in _get(docs, doc_id)["documentStyle"]


def test_a_copy_keeps_headers_and_document_style(docs, drive, sandbox) -> None:
    template = docs.create(body={"title": "Mẫu kế hoạch"}).execute()["documentId"]
    _update(docs, template, {"updateDocumentStyle": {
        "documentStyle": {"pageSize": A4, "marginLeft": _pt(85)}, "fields": "pageSize,marginLeft"}})
    header_id = add_page_number_header(sandbox.store, template)
    copy = drive.copy(fileId=template, body={"name": "Kế hoạch 2024"}).execute()
    original, copied = _get(docs, template), _get(docs, copy["id"])
    assert copied["documentStyle"] == original["documentStyle"]
    assert copied["documentStyle"]["defaultHeaderId"] == header_id
    assert copied["headers"] == original["headers"]
    assert copied["headers"][header_id]["content"][0]["paragraph"]["elements"][0]["autoText"][
        "type"] == "PAGE_NUMBER"


def test_add_page_number_header_touches_the_doc_as_its_owner(docs, drive, sandbox) -> None:
    doc_id = docs.create(body={"title": "Số trang"}).execute()["documentId"]
    before = _get(docs, doc_id)
    version = int(drive.get(fileId=doc_id, fields="version").execute()["version"])
    add_page_number_header(sandbox.store, doc_id, first_page_different=False)
    after = _get(docs, doc_id)
    assert after["revisionId"] != before["revisionId"]
    assert int(drive.get(fileId=doc_id, fields="version").execute()["version"]) > version
    assert "useFirstPageHeaderFooter" not in after["documentStyle"]
    assert "firstPageHeaderId" not in after["documentStyle"]
    with pytest.raises(ValueError):
        add_page_number_header(sandbox.store, "khong-co")
