"""A Document (workspace.doc_model) as the Docs API requests that write it
into an empty body, all in one `batchUpdate`.

Indexes are computed, not looked up: the body of an empty Doc is one
paragraph ("\\n" at index 1), and content is inserted at the end of what was
written so far, so nothing already written moves. Inside a table, cells are
filled from the last to the first (Google's advice: inserting from the end
backwards keeps the earlier indexes valid), then styled with the final
indexes. Indexes count UTF-16 code units, as Google does.

Google's rules followed here (developers.google.com/docs/api/how-tos/...):
- `insertTable` puts a newline at the location and the table right after
  it: a table is always preceded by a paragraph (made 1 pt high here);
- the table's start, each row's start and each cell's start take one index
  each, and an empty cell holds one paragraph ("\\n");
- `insertPageBreak` inserts the break and a newline (two indexes);
- `updateTextStyle` needs a range that is not empty.
"""
from __future__ import annotations

from typing import Any

from .doc_model import Cell, Document, Page, PageBreak, Para, Table

BULLETS = "BULLET_DISC_CIRCLE_SQUARE"
_PARA_FIELDS = ("namedStyleType,alignment,indentFirstLine,indentStart,indentEnd,spaceAbove,"
                "spaceBelow,lineSpacing,keepWithNext,borderBottom")
_NO_LINE = {"width": {"magnitude": 0, "unit": "PT"}, "padding": {"magnitude": 0, "unit": "PT"},
            "dashStyle": "SOLID", "color": {}}
_LINE = {"width": {"magnitude": 0.75, "unit": "PT"}, "padding": {"magnitude": 1, "unit": "PT"},
         "dashStyle": "SOLID", "color": {"color": {"rgbColor": {}}}}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _pt(value: float) -> dict[str, Any]:
    return {"magnitude": round(value, 2), "unit": "PT"}


def _clean(text: str) -> str:
    """A line break inside a paragraph is Docs' vertical tab; other control
    characters are not written."""
    text = text.replace("\r\n", "\n").replace("\n", "\u000b")
    return "".join(c for c in text if c == "\u000b" or c >= " ")


def page_style(page: Page) -> dict[str, Any]:
    return {"updateDocumentStyle": {
        "documentStyle": {"pageSize": {"width": _pt(page.width), "height": _pt(page.height)},
                          "marginTop": _pt(page.top), "marginBottom": _pt(page.bottom),
                          "marginLeft": _pt(page.left), "marginRight": _pt(page.right)},
        "fields": "pageSize,marginTop,marginBottom,marginLeft,marginRight"}}


def _para_style(start: int, end: int, para: Para) -> dict[str, Any]:
    return {"updateParagraphStyle": {
        "range": {"startIndex": start, "endIndex": end},
        "paragraphStyle": {"namedStyleType": "NORMAL_TEXT", "alignment": para.align,
                           # Docs' first-line indent is measured from the margin,
                           # not from indentStart as in Word: the model's is relative.
                           "indentFirstLine": _pt(para.indent_start + para.indent_first),
                           "indentStart": _pt(para.indent_start), "indentEnd": _pt(para.indent_end),
                           "borderBottom": _LINE if para.rule else _NO_LINE,
                           "spaceAbove": _pt(para.space_before), "spaceBelow": _pt(para.space_after),
                           "lineSpacing": para.line_spacing, "keepWithNext": para.keep_with_next},
        "fields": _PARA_FIELDS}}


def _text_style(start: int, end: int, style: dict[str, Any], fields: str) -> dict[str, Any]:
    return {"updateTextStyle": {"range": {"startIndex": start, "endIndex": end},
                                "textStyle": style, "fields": fields}}


def _style_para(out: list[dict[str, Any]], para: Para, start: int, page: Page) -> int:
    """The style requests of a paragraph already inserted at `start`; its end."""
    text = _clean(para.text)
    end = start + utf16(text) + 1
    out.append(_para_style(start, end, para))
    # The whole paragraph, its newline too (so an empty one has its height).
    out.append(_text_style(start, end, {
        "weightedFontFamily": {"fontFamily": page.font}, "fontSize": _pt(para.size),
        "bold": para.bold, "italic": para.italic, "underline": False},
        "weightedFontFamily,fontSize,bold,italic,underline"))
    at = start
    for run in para.runs:
        length = utf16(_clean(run.text))
        style, fields = {}, []
        if run.bold and not para.bold:
            style["bold"], fields = True, fields + ["bold"]
        if run.italic and not para.italic:
            style["italic"], fields = True, fields + ["italic"]
        if run.underline:
            style["underline"], fields = True, fields + ["underline"]
        if run.size is not None and run.size != para.size:
            style["fontSize"], fields = _pt(run.size), fields + ["fontSize"]
        if fields and length:
            out.append(_text_style(at, at + length, style, ",".join(fields)))
        at += length
    if para.bullet:
        out.append({"createParagraphBullets": {"range": {"startIndex": start, "endIndex": end},
                                               "bulletPreset": BULLETS}})
    return end


def _cell_text(cell: Cell) -> str:
    return "\n".join(_clean(p.text) for p in cell.paras)


def _table(out: list[dict[str, Any]], table: Table, pos: int, page: Page) -> int:
    rows, cols = len(table.rows), max(len(r) for r in table.rows)
    out.append({"insertTable": {"rows": rows, "columns": cols, "location": {"index": pos}}})
    # The paragraph the table needs before it: as small as a paragraph can be.
    out.append(_para_style(pos, pos + 1, Para([], align="START", size=1, space_after=0,
                                              line_spacing=100)))
    out.append(_text_style(pos, pos + 1, {"fontSize": _pt(1)}, "fontSize"))
    start = pos + 1
    # Empty cells: row r starts at start + 1 + r * (1 + 2 * cols); a cell's
    # paragraph is one after the cell's own start.
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    for r, c in reversed(cells):
        cell = table.rows[r][c] if c < len(table.rows[r]) else Cell([])
        text = _cell_text(cell)
        if text:
            index = start + 1 + r * (1 + 2 * cols) + 1 + 2 * c + 1
            out.append({"insertText": {"location": {"index": index}, "text": text}})
    # Then the styles, with the final indexes.
    at = start + 1
    for r in range(rows):
        at += 1   # the row's start
        for c in range(cols):
            at += 1   # the cell's start
            cell = table.rows[r][c] if c < len(table.rows[r]) else Cell([])
            for para in (cell.paras or [Para([])]):
                at = _style_para(out, para, at, page)
    for c, width in enumerate(table.widths[:cols]):
        out.append({"updateTableColumnProperties": {
            "tableStartLocation": {"index": start}, "columnIndices": [c],
            "tableColumnProperties": {"widthType": "FIXED_WIDTH", "width": _pt(width)},
            "fields": "widthType,width"}})
    border = {"width": _pt(0 if not table.borders else 0.5), "dashStyle": "SOLID",
              "color": {"color": {"rgbColor": {}}}}
    padding = _pt(0 if not table.borders else 3)
    out.append({"updateTableCellStyle": {
        "tableRange": {"tableCellLocation": {"tableStartLocation": {"index": start},
                                             "rowIndex": 0, "columnIndex": 0},
                       "rowSpan": rows, "columnSpan": cols},
        "tableCellStyle": {"borderTop": border, "borderBottom": border, "borderLeft": border,
                           "borderRight": border, "paddingLeft": padding, "paddingRight": padding,
                           "paddingTop": _pt(1), "paddingBottom": _pt(1)},
        "fields": "borderTop,borderBottom,borderLeft,borderRight,paddingLeft,paddingRight,"
                  "paddingTop,paddingBottom"}})
    return at


def requests(doc: Document, start: int = 1) -> list[dict[str, Any]]:
    """Every request that writes `doc` into a body that is empty from `start`
    (one empty paragraph there): the page, then each block in order."""
    out: list[dict[str, Any]] = [page_style(doc.page)]
    pos = start
    for block in doc.blocks:
        if isinstance(block, Para):
            text = _clean(block.text)
            out.append({"insertText": {"location": {"index": pos}, "text": text + "\n"}})
            pos = _style_para(out, block, pos, doc.page)
        elif isinstance(block, Table):
            pos = _table(out, block, pos, doc.page)
        elif isinstance(block, PageBreak):
            out.append({"insertPageBreak": {"location": {"index": pos}}})
            pos += 2
    return out


def clear(end_index: int) -> list[dict[str, Any]]:
    """Requests that empty a body whose last index (its final newline's end)
    is `end_index`: everything but the final newline, which cannot go."""
    if end_index <= 2:
        return []
    return [{"deleteContentRange": {"range": {"startIndex": 1, "endIndex": end_index - 1}}}]
