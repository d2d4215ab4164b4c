"""PDF export of a document model (Drive's "Download > PDF"), with fpdf2.

What a reader of the PDF must see: the paragraphs in order, each run's bold,
italic, underline, size and colour, alignment, indents and spacing, bullets
and numbers, page breaks, page size and margins; a table as a grid of its
cells' text. Vietnamese needs a Unicode font, and PDF's 14 standard fonts have
none: the DejaVu fonts (Debian/Ubuntu package `fonts-dejavu-core`) stand in
for Google's Arial (Sans) and Times New Roman (Serif). Without them the export
fails as a Google conversion failure does (500, saying which package to
install), never with text drawn in the wrong glyphs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout

from ..errors import GoogleError
from . import docs_model as m
from .docs_styles import DOCUMENT_STYLE, named_font_size

# Where the fonts are looked for, in order (a module attribute: tests point it elsewhere).
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts")]
FONT_PACKAGE = "fonts-dejavu-core"
_FILES = {"sans": {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf",
                   "I": "DejaVuSans-Oblique.ttf", "BI": "DejaVuSans-BoldOblique.ttf"},
          "serif": {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf",
                    "I": "DejaVuSerif-Italic.ttf", "BI": "DejaVuSerif-BoldItalic.ttf"}}
_SERIF = ("times", "serif", "georgia", "garamond", "cambria", "merriweather", "lora", "roman")
# A4 in points: a Vietnamese office's page (Decree 30/2020), used when the document
# does not set its own page size.
A4 = (595.28, 841.89)
_ALIGN = {"START": Align.L, "CENTER": Align.C, "END": Align.R, "JUSTIFIED": Align.J}


def _pt(dimension: dict[str, Any] | None) -> float | None:
    if not dimension or dimension.get("magnitude") is None:
        return None
    return float(dimension["magnitude"])


def find_fonts() -> dict[str, dict[str, Path]]:
    """Each family's four faces, from the first folder of FONT_DIRS that has them;
    GoogleError 500 (naming the package to install) when no folder does."""
    for folder in FONT_DIRS:
        found = {family: {style: folder / name for style, name in faces.items()}
                 for family, faces in _FILES.items()}
        if all(path.is_file() for faces in found.values() for path in faces.values()):
            return found
    raise GoogleError(500, f"The sandbox cannot convert this document to PDF: no Unicode font "
                           f"found (looked for DejaVuSans.ttf in "
                           f"{', '.join(str(d) for d in FONT_DIRS)}). Install the package "
                           f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}).",
                      reason="internalError")


def _family(style: dict[str, Any]) -> str:
    name = ((style.get("weightedFontFamily") or {}).get("fontFamily") or "").lower()
    return "serif" if any(word in name for word in _SERIF) else "sans"


def _rgb(style: dict[str, Any]) -> tuple[int, int, int]:
    rgb = ((style.get("foregroundColor") or {}).get("color") or {}).get("rgbColor") or {}
    return tuple(round(255 * float(rgb.get(c, 0))) for c in ("red", "green", "blue"))  # type: ignore[return-value]


class _Writer:
    """Lays the model out page by page."""

    def __init__(self, model: dict[str, Any], title: str):
        fonts = find_fonts()
        own = model.get("documentStyle") or {}
        style = {**DOCUMENT_STYLE, **own}
        size = own.get("pageSize") or {}
        width, height = _pt(size.get("width")), _pt(size.get("height"))
        self.pdf = FPDF(unit="pt", format=(width, height) if width and height else A4)
        self.pdf.set_title(title)
        self.pdf.set_creator("hoithao sandbox")
        for family, faces in fonts.items():
            for face, path in faces.items():
                self.pdf.add_font(family, face, str(path))
        margins = {side: _pt(style.get("margin" + side.capitalize())) or 0.0
                   for side in ("top", "bottom", "left", "right")}
        self.pdf.set_margins(margins["left"], margins["top"], margins["right"])
        self.pdf.set_auto_page_break(True, margins["bottom"])
        self.pdf.add_page()
        self.lists = model.get("lists") or {}
        self.counters: dict[tuple[str, int], int] = {}

    # -- text ---------------------------------------------------------------
    def _font(self, run_style: dict[str, Any], named: str) -> None:
        italic = run_style.get("italic")
        if italic is None:
            italic = named == "HEADING_6"   # Google's only italic named style
        face = ("B" if run_style.get("bold") else "") + ("I" if italic else "") + (
            "U" if run_style.get("underline") else "")
        size = _pt(run_style.get("fontSize")) or named_font_size(named)
        self.pdf.set_font(_family(run_style), face, size)
        self.pdf.set_text_color(*_rgb(run_style))

    def _bullet(self, par: dict[str, Any]) -> str:
        bullet = par.get("bullet")
        if not bullet:
            return ""
        list_id, level = bullet.get("listId", ""), bullet.get("nestingLevel", 0)
        levels = (self.lists.get(list_id, {}).get("listProperties") or {}).get(
            "nestingLevels") or [{}]
        spec = levels[min(level, len(levels) - 1)]
        if "glyphType" not in spec:
            return spec.get("glyphSymbol") or "•"
        n = self.counters.get((list_id, level), 0) + 1
        self.counters[(list_id, level)] = n
        for deeper in [k for k in self.counters if k[0] == list_id and k[1] > level]:
            del self.counters[deeper]   # a new item restarts the numbering below it
        return f"{n}."

    def paragraph(self, par: dict[str, Any]) -> None:
        """One paragraph; a page break inside it starts a new page there."""
        pstyle = par.get("style") or {}
        named = pstyle.get("namedStyleType", "NORMAL_TEXT")
        pieces: list[list[tuple[str, dict[str, Any]]]] = [[]]
        for run in par["runs"]:
            parts = run["text"].replace("\n", "").replace("\v", "\n").split(m.PAGE_BREAK)
            for n, text in enumerate(parts):
                if n:
                    pieces.append([])
                if text:
                    pieces[-1].append((text, run.get("style") or {}))
        bullet = self._bullet(par)
        for n, runs in enumerate(pieces):
            if n:
                self.pdf.add_page()
            self._lay_out(runs, pstyle, named, bullet if n == 0 else "")

    def _lay_out(self, runs: list[tuple[str, dict[str, Any]]], pstyle: dict[str, Any],
                 named: str, bullet: str) -> None:
        start = _pt(pstyle.get("indentStart")) or 0.0
        first = _pt(pstyle.get("indentFirstLine"))
        end = _pt(pstyle.get("indentEnd")) or 0.0
        if bullet and not start:
            start = 36.0
        line = float(pstyle.get("lineSpacing") or 115) / 100
        self._font(runs[0][1] if runs else {}, named)   # the region measures with the current font
        with self.pdf.text_columns(text_align=_ALIGN.get(pstyle.get("alignment"), Align.L),
                                   line_height=line, l_margin=self.pdf.l_margin + start,
                                   r_margin=self.pdf.r_margin + end) as cols:
            with cols.paragraph(top_margin=_pt(pstyle.get("spaceAbove")) or 0,
                                bottom_margin=_pt(pstyle.get("spaceBelow")) or 0,
                                first_line_indent=(first - start) if first is not None and not bullet
                                else 0, bullet_string=bullet) as par:
                if not runs:   # an empty paragraph still takes a line
                    self._font({}, named)
                    par.write(" ")
                for text, style in runs:
                    self._font(style, named)
                    # A tab has no glyph; Google's renderer moves to the next stop, here a gap.
                    par.write(text.replace("\t", "    "))

    # -- tables -------------------------------------------------------------
    def table(self, elem: dict[str, Any]) -> None:
        """A grid of each cell's text (nested tables flattened into it)."""
        self._font({}, "NORMAL_TEXT")
        with self.pdf.table(first_row_as_headings=False, line_height=13,
                            borders_layout=TableBordersLayout.ALL) as grid:
            for row in elem["table"]["rows"]:
                cells = grid.row()
                for cell in row:
                    cells.cell("\n".join(_text(cell["content"])))
        self.pdf.ln(6)

    def body(self, content: list[dict[str, Any]]) -> bytes:
        for elem in content:
            if "runs" in elem:
                self.paragraph(elem)
            else:
                self.table(elem)
        return bytes(self.pdf.output())


def _text(content: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for elem in content:
        if "runs" in elem:
            text = "".join(r["text"] for r in elem["runs"]).rstrip("\n")
            lines.append(text.replace(m.PAGE_BREAK, "").replace("\v", "\n"))
        else:
            for row in elem["table"]["rows"]:
                for cell in row:
                    lines.extend(_text(cell["content"]))
    return lines


def to_pdf(model: dict[str, Any], title: str) -> bytes:
    """The document as PDF bytes; GoogleError 500 when no Unicode font is installed."""
    return _Writer(model, title).body(model["body"])
