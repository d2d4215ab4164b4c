"""Exports of a document model: .docx (python-docx) and plain text.

The .docx keeps what a person opening it must see, as Google's own "Microsoft
Word (.docx)" download does:
- the page: size, margins, header and footer distances;
- paragraphs: named style, alignment (justified too), space before and after,
  line spacing (Google's percentage as Word's "multiple"), start, end and
  first-line indents (Google's first-line indent is absolute, Word's relative
  to the start indent), keep-with-next, page break before, borders (a rule
  under a paragraph is its bottom border), and the paragraph mark's font
  size (an empty paragraph is as high as its mark);
- runs: font family on every script slot (ascii, hAnsi, eastAsia, cs: Word
  picks the slot per character, and leaving one to the theme shows Calibri or
  another face for some Vietnamese letters), size (complex-script size too),
  bold, italic, underline, strikethrough, small caps, colour;
- bullets and numbers (Word's list styles); page breaks;
- tables (nested too): a fixed layout with each column's width (FIXED_WIDTH,
  or the rest of the width shared by the EVENLY_DISTRIBUTED ones), and each
  cell's borders (none where the width is 0), paddings, background and
  vertical alignment, as `updateTableCellStyle` set them;
- headers and footers, with a PAGE field where the Doc has a page-number
  AutoText, and Word's "different first page" when `useFirstPageHeaderFooter`
  is on (the first-page header then holds what the Doc's does).
Plain text is what Google's "Plain text (.txt)" download gives: a UTF-8 BOM,
then one line per paragraph ended by CRLF.
"""
from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from . import docs_model as m
from .docs_styles import CELL_STYLE, DOCUMENT_STYLE, named_font_size

_ALIGN = {"START": WD_ALIGN_PARAGRAPH.LEFT, "CENTER": WD_ALIGN_PARAGRAPH.CENTER,
          "END": WD_ALIGN_PARAGRAPH.RIGHT, "JUSTIFIED": WD_ALIGN_PARAGRAPH.JUSTIFY}
_STYLE_NAMES = {"NORMAL_TEXT": "Normal", "TITLE": "Title", "SUBTITLE": "Subtitle",
                **{f"HEADING_{n}": f"Heading {n}" for n in range(1, 7)}}
_VALIGN = {"TOP": WD_CELL_VERTICAL_ALIGNMENT.TOP, "MIDDLE": WD_CELL_VERTICAL_ALIGNMENT.CENTER,
           "BOTTOM": WD_CELL_VERTICAL_ALIGNMENT.BOTTOM}
_DASH = {"SOLID": "single", "DOT": "dotted", "DASH": "dashed"}
# Children that come after each element we add, in the schema's order
# (ECMA-376 Part 1, 17.3.1.26 pPr, 17.3.2.28 rPr, 17.4.70 tcPr).
_AFTER_PBDR = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
               "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi",
               "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
               "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
               "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
               "w:rPr", "w:sectPr", "w:pPrChange")
_AFTER_SZCS = ("w:highlight", "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign",
               "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath")
_AFTER_TCBORDERS = ("w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign",
                    "w:hideMark")
_AFTER_SHD = _AFTER_TCBORDERS[1:]
_AFTER_TCMAR = _AFTER_TCBORDERS[3:]


def _pt(dimension: dict[str, Any] | None) -> float | None:
    """A Dimension in points; a Dimension without magnitude is 0 (proto3 leaves
    zero out), no Dimension at all is None."""
    if not dimension:
        return None
    return float(dimension.get("magnitude") or 0)


def _rgb(color: dict[str, Any] | None) -> RGBColor | None:
    rgb = ((color or {}).get("color") or {}).get("rgbColor")
    if rgb is None:
        return None
    return RGBColor(*(round(255 * float(rgb.get(c, 0))) for c in ("red", "green", "blue")))


def _hex(color: dict[str, Any] | None) -> str:
    rgb = _rgb(color)
    return str(rgb) if rgb is not None else "auto"


def _set_fonts(rpr: Any, family: str) -> None:
    """`family` on every script slot of a run's (or style's) rPr."""
    fonts = rpr.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), family)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def _set_cs_size(rpr: Any, points: float) -> None:
    """w:szCs, the size Word uses for complex-script text, as w:sz."""
    old = rpr.find(qn("w:szCs"))
    if old is not None:
        rpr.remove(old)
    size = OxmlElement("w:szCs")
    size.set(qn("w:val"), str(round(points * 2)))
    rpr.insert_element_before(size, *_AFTER_SZCS)


def _prepare_styles(document: Any) -> None:
    """Make the template's styles look like Google's: Arial 11 body, black
    headings, no space between paragraphs and 1.15 line spacing (NORMAL_TEXT's
    defaults), where python-docx's template has 10 pt after and Calibri."""
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Arial", Pt(11)
    fmt = normal.paragraph_format
    fmt.space_before, fmt.space_after, fmt.line_spacing = Pt(0), Pt(0), 1.15
    for named, name in _STYLE_NAMES.items():
        style = document.styles[name]
        style.font.name = "Arial"
        _set_fonts(style.element.get_or_add_rPr(), "Arial")
        style.font.size = Pt(named_font_size(named))
        style.font.color.rgb = RGBColor(0, 0, 0)
        if named != "NORMAL_TEXT":
            style.font.bold = False   # Google's headings are not bold by default
            style.font.italic = named == "HEADING_6"


def _style_run(out: Any, style: dict[str, Any]) -> None:
    font = out.font
    for key in ("bold", "italic", "underline", "strike"):
        value = style.get("strikethrough" if key == "strike" else key)
        if value is not None:
            setattr(font, key, bool(value))
    rpr = out._r.get_or_add_rPr()
    if style.get("bold") is not None:   # complex-script bold and italic follow
        rpr.get_or_add_bCs().val = bool(style["bold"])
    if style.get("italic") is not None:
        rpr.get_or_add_iCs().val = bool(style["italic"])
    if style.get("smallCaps") is not None:
        font.small_caps = bool(style["smallCaps"])
    family = (style.get("weightedFontFamily") or {}).get("fontFamily")
    if family:
        font.name = family
        _set_fonts(rpr, family)
    size = _pt(style.get("fontSize"))
    if size:
        font.size = Pt(size)
        _set_cs_size(rpr, size)
    color = _rgb(style.get("foregroundColor"))
    if color is not None:
        font.color.rgb = color


def _page_field(paragraph: Any, style: dict[str, Any], kind: str) -> None:
    """A PAGE (or NUMPAGES) field: begin, instruction, separate, a shown value, end."""
    instruction = " PAGE " if kind == "PAGE_NUMBER" else " NUMPAGES "
    for part in ("begin", "instr", "separate", "value", "end"):
        run = paragraph.add_run("1" if part == "value" else None)
        _style_run(run, style)
        if part == "instr":
            text = OxmlElement("w:instrText")
            text.set(qn("xml:space"), "preserve")
            text.text = instruction
            run._r.append(text)
        elif part != "value":
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), part)
            run._r.append(char)


def _add_runs(paragraph: Any, par: dict[str, Any]) -> None:
    for run in par["runs"]:
        text = run["text"].rstrip("\n") if run is par["runs"][-1] else run["text"]
        style = run["style"]
        piece = ""
        for ch in text.replace("\v", "\n") + "\0":
            if ch not in m.SPECIAL and ch != "\0":
                piece += ch
                continue
            if piece:   # python-docx turns "\n" and "\t" into w:br / w:tab
                _style_run(paragraph.add_run(piece), style)
                piece = ""
            if ch == m.PAGE_BREAK:
                paragraph.add_run().add_break(WD_BREAK.PAGE)
            elif ch in m.AUTO_TEXT:
                _page_field(paragraph, style, m.AUTO_TEXT[ch])


def _mark_size(paragraph: Any, par: dict[str, Any]) -> None:
    """The paragraph mark takes the newline's size: an empty paragraph (a rule's,
    the one before a table) is then as low as in Google."""
    size = _pt(par["runs"][-1]["style"].get("fontSize"))
    if not size:
        return
    ppr = paragraph._p.get_or_add_pPr()
    rpr = ppr.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        ppr.insert_element_before(rpr, "w:sectPr", "w:pPrChange")
    for tag in ("w:sz", "w:szCs"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), str(round(size * 2)))
        rpr.append(el)


def _border(tag: str, border: dict[str, Any] | None, space: bool) -> Any:
    """A w:top/w:left/... border element; width 0 (or none) is "nil"."""
    el = OxmlElement(tag)
    width = _pt((border or {}).get("width")) or 0
    if width <= 0:
        el.set(qn("w:val"), "nil")
        return el
    el.set(qn("w:val"), _DASH.get((border or {}).get("dashStyle", "SOLID"), "single"))
    el.set(qn("w:sz"), str(max(2, min(96, round(width * 8)))))   # eighths of a point
    el.set(qn("w:space"), str(round(_pt((border or {}).get("padding")) or 0) if space else 0))
    el.set(qn("w:color"), _hex((border or {}).get("color")))
    return el


def _paragraph_borders(paragraph: Any, pstyle: dict[str, Any]) -> None:
    sides = [(side, pstyle.get("border" + side.capitalize()))
             for side in ("top", "left", "bottom", "right")]
    if not any((_pt((b or {}).get("width")) or 0) > 0 for _, b in sides):
        return
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    for side, border in sides:
        if (_pt((border or {}).get("width")) or 0) > 0:
            borders.append(_border(f"w:{side}", border, space=True))
    ppr.insert_element_before(borders, *_AFTER_PBDR)


def _format_paragraph(paragraph: Any, par: dict[str, Any], lists: dict[str, Any]) -> None:
    pstyle = par["style"]
    named = pstyle.get("namedStyleType", "NORMAL_TEXT")
    style_name = _STYLE_NAMES.get(named, "Normal")
    bullet = par.get("bullet")
    if bullet and named == "NORMAL_TEXT":
        levels = lists.get(bullet.get("listId"), {}).get("listProperties", {}).get(
            "nestingLevels") or [{}]
        numbered = "glyphType" in levels[0]
        level = bullet.get("nestingLevel", 0)
        style_name = ("List Number" if numbered else "List Bullet") + (
            f" {min(level + 1, 3)}" if level else "")
    paragraph.style = style_name
    fmt = paragraph.paragraph_format
    if pstyle.get("alignment") in _ALIGN:
        paragraph.alignment = _ALIGN[pstyle["alignment"]]
    if _pt(pstyle.get("spaceAbove")) is not None:
        fmt.space_before = Pt(_pt(pstyle["spaceAbove"]))
    if _pt(pstyle.get("spaceBelow")) is not None:
        fmt.space_after = Pt(_pt(pstyle["spaceBelow"]))
    if pstyle.get("lineSpacing"):
        fmt.line_spacing = float(pstyle["lineSpacing"]) / 100
    if not bullet:
        start, first = _pt(pstyle.get("indentStart")), _pt(pstyle.get("indentFirstLine"))
        if start is not None:
            fmt.left_indent = Pt(start)
        if first is not None:   # Google's first-line indent is absolute, Word's relative
            fmt.first_line_indent = Pt(first - (start or 0))
        end = _pt(pstyle.get("indentEnd"))
        if end is not None:
            fmt.right_indent = Pt(end)
    if pstyle.get("pageBreakBefore"):
        fmt.page_break_before = True
    if pstyle.get("keepWithNext") is not None:
        fmt.keep_with_next = bool(pstyle["keepWithNext"])
    _paragraph_borders(paragraph, pstyle)


def _cell_properties(target: Any, style: dict[str, Any], width: float) -> None:
    """tcW, tcBorders, shd, tcMar and vAlign of a cell from its Docs style."""
    tcpr = target._tc.get_or_add_tcPr()
    target.width = Pt(width)
    borders = OxmlElement("w:tcBorders")
    for side in ("top", "left", "bottom", "right"):
        borders.append(_border(f"w:{side}", style.get("border" + side.capitalize()), space=False))
    tcpr.insert_element_before(borders, *_AFTER_TCBORDERS)
    background = _rgb(style.get("backgroundColor"))
    if background is not None:
        shading = OxmlElement("w:shd")
        shading.set(qn("w:val"), "clear")
        shading.set(qn("w:color"), "auto")
        shading.set(qn("w:fill"), str(background))
        tcpr.insert_element_before(shading, *_AFTER_SHD)
    margins = OxmlElement("w:tcMar")
    for side in ("top", "left", "bottom", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(round((_pt(style.get("padding" + side.capitalize())) or 0) * 20)))
        el.set(qn("w:type"), "dxa")   # twentieths of a point
        margins.append(el)
    tcpr.insert_element_before(margins, *_AFTER_TCMAR)
    if style.get("contentAlignment") in _VALIGN:
        target.vertical_alignment = _VALIGN[style["contentAlignment"]]


def _fixed_layout(table: Any, widths: list[float]) -> None:
    """A fixed table layout (Word keeps the widths instead of fitting the text)
    with the grid's and the table's widths."""
    table.autofit = False
    tblpr = table._tbl.tblPr
    width = tblpr.find(qn("w:tblW"))
    if width is None:
        width = OxmlElement("w:tblW")
        tblpr.append(width)
    width.set(qn("w:w"), str(round(sum(widths) * 20)))
    width.set(qn("w:type"), "dxa")
    for col, w in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        col.set(qn("w:w"), str(round(w * 20)))


class _Writer:
    def __init__(self, lists: dict[str, Any]):
        self.lists = lists

    def fill(self, container: Any, content: list[dict[str, Any]], width: float,
             reuse: Any = None) -> None:
        """Write `content` into a document, a header or a table cell `width`
        points wide (`reuse`: the container's own first paragraph, which
        python-docx creates and which must not stay empty)."""
        for elem in content:
            if "runs" in elem:
                paragraph = reuse if reuse is not None else container.add_paragraph()
                reuse = None
                _format_paragraph(paragraph, elem, self.lists)
                _add_runs(paragraph, elem)
                _mark_size(paragraph, elem)
                continue
            self.table(container, elem, width)

    def table(self, container: Any, elem: dict[str, Any], available: float) -> None:
        rows = elem["table"]["rows"]
        n_rows, n_cols = m.table_size(elem)
        widths = m.column_widths(elem, available)
        try:
            table = container.add_table(rows=n_rows, cols=n_cols)
        except TypeError:   # a header's or footer's add_table also wants the width
            table = container.add_table(rows=n_rows, cols=n_cols, width=Pt(sum(widths)))
        _fixed_layout(table, widths)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                target = table.cell(r, c)
                style = {**CELL_STYLE, **(cell.get("style") or {})}
                _cell_properties(target, style, widths[c])
                inner = widths[c] - (_pt(style.get("paddingLeft")) or 0) - (
                    _pt(style.get("paddingRight")) or 0)
                self.fill(target, cell["content"], inner, reuse=target.paragraphs[0])


def _header_footer(writer: _Writer, part: Any, segment: dict[str, Any] | None,
                   width: float) -> None:
    part.is_linked_to_previous = False
    if segment is not None:
        writer.fill(part, segment["content"], width, reuse=part.paragraphs[0])


def to_docx(model: dict[str, Any], title: str) -> bytes:
    document = Document()
    _prepare_styles(document)
    # A Doc's title may be any length; a .docx title property holds 255 characters.
    document.core_properties.title = title[:255]
    style = {**DOCUMENT_STYLE, **model["documentStyle"]}
    section = document.sections[0]
    size = style["pageSize"]
    section.page_width, section.page_height = Pt(_pt(size["width"])), Pt(_pt(size["height"]))
    margins = {}
    for side in ("top", "bottom", "left", "right"):
        margins[side] = _pt(style.get("margin" + side.capitalize())) or 0.0
        setattr(section, f"{side}_margin", Pt(margins[side]))
    section.header_distance = Pt(_pt(style.get("marginHeader")) or 0)
    section.footer_distance = Pt(_pt(style.get("marginFooter")) or 0)
    body = document.element.body
    for child in list(body):   # the template's empty first paragraph, if any
        if child.tag.endswith("}p"):
            body.remove(child)
    writer = _Writer(model.get("lists") or {})
    text_width = _pt(size["width"]) - margins["left"] - margins["right"]
    writer.fill(document, model["body"], text_width)
    headers, footers = model.get("headers") or {}, model.get("footers") or {}
    if style.get("defaultHeaderId") in headers:
        _header_footer(writer, section.header, headers[style["defaultHeaderId"]], text_width)
    if style.get("defaultFooterId") in footers:
        _header_footer(writer, section.footer, footers[style["defaultFooterId"]], text_width)
    if style.get("useFirstPageHeaderFooter"):
        section.different_first_page_header_footer = True
        _header_footer(writer, section.first_page_header,
                       headers.get(style.get("firstPageHeaderId", "")), text_width)
        _header_footer(writer, section.first_page_footer,
                       footers.get(style.get("firstPageFooterId", "")), text_width)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _text_lines(content: list[dict[str, Any]], lists: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for elem in content:
        if "runs" in elem:
            text = "".join(r["text"] for r in elem["runs"])[:-1]
            for ch in m.SPECIAL:
                text = text.replace(ch, "")
            text = text.replace("\v", "\r\n")
            if elem.get("bullet"):
                text = "    " * elem["bullet"].get("nestingLevel", 0) + "* " + text
            lines.append(text)
        else:
            for row in elem["table"]["rows"]:
                for cell in row:
                    lines.extend(_text_lines(cell["content"], lists))
    return lines


def to_text(model: dict[str, Any]) -> bytes:
    lines = _text_lines(model["body"], model.get("lists") or {})
    return ("\ufeff" + "\r\n".join(lines)).encode("utf-8")
