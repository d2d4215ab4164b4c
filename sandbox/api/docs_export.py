"""Exports of a document model: .docx (python-docx) and plain text.

The .docx keeps what a person opening it must see: paragraphs with their named
styles, alignment, spacing and indents; bold/italic/underline/strikethrough,
font family, size and colour of each run; bullets; tables (nested too); page
breaks; page size and margins. Plain text is what Google's "Plain text (.txt)"
download gives: a UTF-8 BOM, then one line per paragraph ended by CRLF.
"""
from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.shared import Pt, RGBColor

from . import docs_model as m
from .docs_styles import DOCUMENT_STYLE, named_font_size

_ALIGN = {"START": WD_ALIGN_PARAGRAPH.LEFT, "CENTER": WD_ALIGN_PARAGRAPH.CENTER,
          "END": WD_ALIGN_PARAGRAPH.RIGHT, "JUSTIFIED": WD_ALIGN_PARAGRAPH.JUSTIFY}
_STYLE_NAMES = {"NORMAL_TEXT": "Normal", "TITLE": "Title", "SUBTITLE": "Subtitle",
                **{f"HEADING_{n}": f"Heading {n}" for n in range(1, 7)}}


def _pt(dimension: dict[str, Any] | None) -> float | None:
    if not dimension or "magnitude" not in dimension:
        return None
    return float(dimension["magnitude"])


def _rgb(color: dict[str, Any] | None) -> RGBColor | None:
    rgb = ((color or {}).get("color") or {}).get("rgbColor")
    if rgb is None:
        return None
    return RGBColor(*(round(255 * float(rgb.get(c, 0))) for c in ("red", "green", "blue")))


def _prepare_styles(document: Any) -> None:
    """Make the template's styles look like Google's: Arial 11 body, black headings."""
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Arial", Pt(11)
    for named, name in _STYLE_NAMES.items():
        style = document.styles[name]
        style.font.name = "Arial"
        style.font.size = Pt(named_font_size(named))
        style.font.color.rgb = RGBColor(0, 0, 0)
        if named != "NORMAL_TEXT":
            style.font.bold = False   # Google's headings are not bold by default
            style.font.italic = named == "HEADING_6"


def _add_runs(paragraph: Any, par: dict[str, Any]) -> None:
    for run in par["runs"]:
        text = run["text"].rstrip("\n") if run is par["runs"][-1] else run["text"]
        style = run["style"]
        pieces = text.replace("\v", "\n").split(m.PAGE_BREAK)
        for n, piece in enumerate(pieces):
            if n:
                paragraph.add_run().add_break(WD_BREAK.PAGE)
            if not piece:
                continue
            out = paragraph.add_run(piece)   # python-docx turns "\n" and "\t" into w:br / w:tab
            font = out.font
            for key in ("bold", "italic", "underline", "strike"):
                value = style.get("strikethrough" if key == "strike" else key)
                if value is not None:
                    setattr(font, key, bool(value))
            if style.get("smallCaps") is not None:
                font.small_caps = bool(style["smallCaps"])
            family = (style.get("weightedFontFamily") or {}).get("fontFamily")
            if family:
                font.name = family
            size = _pt(style.get("fontSize"))
            if size:
                font.size = Pt(size)
            color = _rgb(style.get("foregroundColor"))
            if color is not None:
                font.color.rgb = color


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


def _fill(container: Any, content: list[dict[str, Any]], lists: dict[str, Any],
          reuse: Any = None) -> None:
    """Write `content` into a document or a table cell (`reuse`: the cell's own
    first paragraph, which python-docx creates and which must not stay empty)."""
    for elem in content:
        if "runs" in elem:
            paragraph = reuse if reuse is not None else container.add_paragraph()
            reuse = None
            _format_paragraph(paragraph, elem, lists)
            _add_runs(paragraph, elem)
            continue
        rows = elem["table"]["rows"]
        table = container.add_table(rows=len(rows), cols=len(rows[0]))
        table.style = "Table Grid"
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                target = table.cell(r, c)
                _fill(target, cell["content"], lists, reuse=target.paragraphs[0])


def to_docx(model: dict[str, Any], title: str) -> bytes:
    document = Document()
    _prepare_styles(document)
    # A Doc's title may be any length; a .docx title property holds 255 characters.
    document.core_properties.title = title[:255]
    style = {**DOCUMENT_STYLE, **model["documentStyle"]}
    section = document.sections[0]
    size = style["pageSize"]
    section.page_width, section.page_height = Pt(_pt(size["width"])), Pt(_pt(size["height"]))
    for side in ("top", "bottom", "left", "right"):
        value = _pt(style.get("margin" + side.capitalize()))
        setattr(section, f"{side}_margin", Pt(value if value is not None else 0))
    body = document.element.body
    for child in list(body):   # the template's empty first paragraph, if any
        if child.tag.endswith("}p"):
            body.remove(child)
    _fill(document, model["body"], model.get("lists") or {})
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _text_lines(content: list[dict[str, Any]], lists: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for elem in content:
        if "runs" in elem:
            text = "".join(r["text"] for r in elem["runs"])[:-1]
            text = text.replace(m.PAGE_BREAK, "").replace("\v", "\r\n")
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
