"""PDF export of a document model (Drive's "Download > PDF"), with fpdf2.

What a reader of the PDF must see, laid out as Google lays the Doc out:
- the page size and margins; the header in the top margin (`marginHeader`
  from the top) and the footer in the bottom one, a page-number AutoText
  drawn as the page's number, the first page's own header when
  `useFirstPageHeaderFooter` is on (so numbers can start on page 2);
- paragraphs in order: alignment (justified too), start, end and first-line
  indents, space above and below, line spacing (Google's 100 is "single":
  1.15 times the font size, the height of a Times New Roman or Arial line),
  borders (a rule under a paragraph), bullets and numbers, page breaks;
- each run's font, bold, italic, underline, size and colour;
- tables as real side-by-side columns: each column its width (FIXED_WIDTH, or
  a share of the rest), each cell its paddings, background, vertical
  alignment and borders (none where the width is 0); a row that does not fit
  on the page goes to the next one whole (one taller than a page is drawn
  cell after cell, the row's width each).
Vietnamese needs a Unicode font, and PDF's 14 standard fonts have none. A Doc
in Times New Roman is drawn in Times New Roman where it is installed, else in
Liberation Serif (metric-compatible with Times: the same line breaks; Debian
`fonts-liberation2`, or `fonts-liberation` from 2.x, which cover Vietnamese),
else DejaVu Serif; Arial and every other family in Arial, Liberation Sans or
DejaVu Sans. DejaVu Sans (`fonts-dejavu-core`) also stands in for any glyph a
chosen font lacks. Without any of them the export fails as a Google conversion
failure does (500, saying which package to install), never with text drawn in
the wrong glyphs.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align

from ..errors import GoogleError
from . import docs_model as m
from .docs_styles import CELL_STYLE, DOCUMENT_STYLE, named_font_size

# Where the fonts are looked for, in order (a module attribute: tests point it elsewhere).
FONT_DIRS = [Path("/usr/share/fonts/truetype/msttcorefonts"),
             Path("/usr/share/fonts/truetype/liberation2"),
             Path("/usr/share/fonts/truetype/liberation"),
             Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts")]
FONT_PACKAGE = "fonts-dejavu-core"
METRIC_PACKAGE = "fonts-liberation2"


def _faces(regular: str, bold: str, italic: str, bold_italic: str) -> dict[str, str]:
    return {"": regular, "B": bold, "I": italic, "BI": bold_italic}


# Each family's candidates, best first: (name, the four faces' file names).
_CANDIDATES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "serif": [
        ("Times New Roman", _faces("Times_New_Roman.ttf", "Times_New_Roman_Bold.ttf",
                                   "Times_New_Roman_Italic.ttf", "Times_New_Roman_Bold_Italic.ttf")),
        ("Times New Roman", _faces("times.ttf", "timesbd.ttf", "timesi.ttf", "timesbi.ttf")),
        ("Liberation Serif", _faces("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf",
                                    "LiberationSerif-Italic.ttf",
                                    "LiberationSerif-BoldItalic.ttf")),
        ("DejaVu Serif", _faces("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
                                "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf"))],
    "sans": [
        ("Arial", _faces("Arial.ttf", "Arial_Bold.ttf", "Arial_Italic.ttf",
                         "Arial_Bold_Italic.ttf")),
        ("Arial", _faces("arial.ttf", "arialbd.ttf", "ariali.ttf", "arialbi.ttf")),
        ("Liberation Sans", _faces("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf",
                                   "LiberationSans-Italic.ttf", "LiberationSans-BoldItalic.ttf")),
        ("DejaVu Sans", _faces("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
                               "DejaVuSans-BoldOblique.ttf"))],
}
_FALLBACK = "DejaVu Sans"
_SERIF = ("times", "serif", "georgia", "garamond", "cambria", "merriweather", "lora", "roman")
# Letters a font must have to draw Vietnamese (Liberation 1.07 lacks most of them).
_VIETNAMESE = "ơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĐđ"
# A4 in points: a Vietnamese office's page (Decree 30/2020), used when the document
# does not set its own page size.
A4 = (595.28, 841.89)
_ALIGN = {"START": Align.L, "CENTER": Align.C, "END": Align.R, "JUSTIFIED": Align.J}
# A "single" line is 1.15 font sizes high: (ascent + descent + line gap) / em of
# Times New Roman and Arial, and of their Liberation twins.
_SINGLE = 1.15
_DASHES = {"DOT": (1.0, 2.0), "DASH": (4.0, 3.0)}


def _pt(dimension: dict[str, Any] | None) -> float | None:
    """A Dimension in points: None when absent, 0 when its magnitude is left out."""
    if not dimension:
        return None
    return float(dimension.get("magnitude") or 0)


@functools.cache
def _covers_vietnamese(path: Path) -> bool:
    from fontTools.ttLib import TTFont  # fpdf2's own dependency

    try:
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap() or {}
    except (OSError, ValueError, KeyError, AssertionError):   # not a font fontTools can read
        return False
    return all(ord(ch) in cmap for ch in _VIETNAMESE)


def _find(family: str) -> tuple[str, dict[str, Path]] | None:
    for name, faces in _CANDIDATES[family]:
        for folder in FONT_DIRS:
            found = {face: folder / file for face, file in faces.items()}
            if all(path.is_file() for path in found.values()) and _covers_vietnamese(found[""]):
                return name, found
    return None


def font_names() -> dict[str, str]:
    """The font each family is drawn in on this machine ({"serif": "Liberation Serif", ...})."""
    find_fonts()
    return {family: chosen[0] for family in _CANDIDATES if (chosen := _find(family))}


def find_fonts() -> dict[str, dict[str, Path]]:
    """Each family's four faces (the best candidate found in FONT_DIRS); GoogleError
    500 (naming the packages to install) when a family has none."""
    found = {family: _find(family) for family in _CANDIDATES}
    if all(found.values()):
        return {family: chosen[1] for family, chosen in found.items() if chosen}
    raise GoogleError(500, f"The sandbox cannot convert this document to PDF: no Unicode font "
                           f"with Vietnamese letters found (looked for Liberation Serif and "
                           f"DejaVuSans.ttf in {', '.join(str(d) for d in FONT_DIRS)}). Install "
                           f"the packages {FONT_PACKAGE} and {METRIC_PACKAGE} (apt-get install "
                           f"{FONT_PACKAGE} {METRIC_PACKAGE}).", reason="internalError")


def _fallback_faces() -> dict[str, Path] | None:
    for name, faces in _CANDIDATES["sans"]:
        if name != _FALLBACK:
            continue
        for folder in FONT_DIRS:
            found = {face: folder / file for face, file in faces.items()}
            if all(path.is_file() for path in found.values()):
                return found
    return None


def _family(style: dict[str, Any]) -> str:
    name = ((style.get("weightedFontFamily") or {}).get("fontFamily") or "").lower()
    return "serif" if any(word in name for word in _SERIF) else "sans"


def _rgb(color: dict[str, Any] | None) -> tuple[int, int, int] | None:
    rgb = ((color or {}).get("color") or {}).get("rgbColor")
    if rgb is None:
        return None
    return tuple(round(255 * float(rgb.get(c, 0))) for c in ("red", "green", "blue"))  # type: ignore[return-value]


Frame = tuple[float, float]   # the left and right x of what a paragraph is laid in


class _PDF(FPDF):
    """fpdf2 calls header() on each new page and footer() as a page ends."""
    writer: _Writer | None = None

    def header(self) -> None:
        if self.writer is not None:
            self.writer.page_header()

    def footer(self) -> None:
        if self.writer is not None:
            self.writer.page_footer()


class _Writer:
    """Lays the model out page by page."""

    def __init__(self, model: dict[str, Any], title: str):
        fonts = find_fonts()
        own = model.get("documentStyle") or {}
        self.style = style = {**DOCUMENT_STYLE, **own}
        size = own.get("pageSize") or {}
        width, height = _pt(size.get("width")), _pt(size.get("height"))
        page = (width, height) if width and height else A4
        self.pdf = self.real = _PDF(unit="pt", format=page)
        self.pdf.set_title(title)
        self.pdf.set_creator("hoithao sandbox")
        # Each face is read when a run first uses it (reading a font file is
        # most of the time a short letter takes); the fallback (a glyph the
        # document's font lacks) at once, its regular face for every style.
        self.faces = fonts
        fallback = _fallback_faces()
        if fallback is not None:
            self.pdf.add_font("fallback", "", str(fallback[""]))
            self.pdf.set_fallback_fonts(["fallback"], exact_match=False)
        self.margins = {side: _pt(style.get("margin" + side.capitalize())) or 0.0
                        for side in ("top", "bottom", "left", "right")}
        self.pdf.set_margins(self.margins["left"], self.margins["top"], self.margins["right"])
        self.pdf.c_margin = 0   # no inner cell margin: a line holds the frame's whole width
        self.pdf.set_auto_page_break(True, self.margins["bottom"])
        # A page as wide and very long, sharing the fonts, to measure what a
        # table's cell or a footer takes before drawing it.
        self.scratch = FPDF(unit="pt", format=(page[0], 100000))
        self.scratch.fonts.update(self.pdf.fonts)   # the same fonts (and each face added later)
        if fallback is not None:
            self.scratch.set_fallback_fonts(["fallback"], exact_match=False)
        self.scratch.set_margins(0, 0, 0)
        self.scratch.c_margin = 0
        self.scratch.set_auto_page_break(False)
        self.lists = model.get("lists") or {}
        self.counters: dict[tuple[str, int], int] = {}
        self.headers, self.footers = model.get("headers") or {}, model.get("footers") or {}
        self.pdf.writer = self
        self.pdf.add_page()

    @property
    def body_frame(self) -> Frame:
        return self.margins["left"], self.pdf.w - self.margins["right"]

    # -- headers and footers -------------------------------------------------------
    def _segment(self, kind: str) -> dict[str, Any] | None:
        """The header or footer this page shows (kind "Header"/"Footer")."""
        parts = self.headers if kind == "Header" else self.footers
        if self.style.get("useFirstPageHeaderFooter") and self.pdf.page_no() == 1:
            return parts.get(self.style.get(f"firstPage{kind}Id", ""))
        return parts.get(self.style.get(f"default{kind}Id", ""))

    def page_header(self) -> None:
        """The header's content from `marginHeader` below the page's top; the body
        starts under it when it is taller than the top margin."""
        header = self._segment("Header")
        if header is None:
            return
        pdf = self.pdf
        saved = pdf.t_margin
        pdf.t_margin = 0   # the header lies in the top margin
        pdf.y = _pt(self.style.get("marginHeader")) or 0
        try:
            self.content(header["content"], self.body_frame)
        finally:
            pdf.t_margin = saved
        pdf.y = max(saved, pdf.y)

    def page_footer(self) -> None:
        """The footer's content, its bottom `marginFooter` above the page's bottom."""
        footer = self._segment("Footer")
        if footer is None:
            return
        frame = self.body_frame
        height = self.measure(lambda: self.content(footer["content"], frame))
        pdf = self.pdf
        saved = pdf.b_margin
        pdf.b_margin = 0   # the footer lies in the bottom margin
        pdf.y = pdf.h - (_pt(self.style.get("marginFooter")) or 0) - height
        try:
            self.content(footer["content"], frame)
        finally:
            pdf.b_margin = saved

    # -- measuring -------------------------------------------------------------
    @contextmanager
    def _on(self, pdf: FPDF) -> Iterator[None]:
        saved, self.pdf = self.pdf, pdf
        counters = dict(self.counters)
        try:
            yield
        finally:
            self.pdf, self.counters = saved, counters

    def measure(self, draw: Callable[[], None]) -> float:
        """The height `draw()` takes, drawn on the scratch page (nothing is drawn here)."""
        with self._on(self.scratch):
            self.scratch.add_page()
            self.scratch.set_xy(0, 0)
            draw()
            return self.scratch.y

    # -- text ---------------------------------------------------------------
    def _font(self, run_style: dict[str, Any], named: str) -> None:
        italic = run_style.get("italic")
        if italic is None:
            italic = named == "HEADING_6"   # Google's only italic named style
        face = ("B" if run_style.get("bold") else "") + ("I" if italic else "") + (
            "U" if run_style.get("underline") else "")
        size = _pt(run_style.get("fontSize")) or named_font_size(named)
        family = _family(run_style)
        base = face.replace("U", "")
        key = family + base
        if key not in self.real.fonts:
            self.real.add_font(family, base, str(self.faces[family][base]))
            self.scratch.fonts[key] = self.real.fonts[key]
        self.pdf.set_font(family, face, size)
        self.pdf.set_text_color(*(_rgb(run_style.get("foregroundColor")) or (0, 0, 0)))

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

    def _page_number(self) -> str:
        return str(self.pdf.page_no() + int(self.style.get("pageNumberStart") or 1) - 1)

    def paragraph(self, par: dict[str, Any], frame: Frame, breaks: bool) -> None:
        """One paragraph; a page break inside it starts a new page there (`breaks`:
        only in the body, where Google allows them)."""
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
        mark = par["runs"][-1].get("style") or {}   # the newline's style: an empty line's size
        bullet = self._bullet(par)
        for n, runs in enumerate(pieces):
            if n and breaks:
                self.pdf.add_page()
            self._lay_out(runs, pstyle, named, bullet if n == 0 else "", frame, mark,
                          first=n == 0, last=n == len(pieces) - 1)

    def _lay_out(self, runs: list[tuple[str, dict[str, Any]]], pstyle: dict[str, Any],
                 named: str, bullet: str, frame: Frame, mark: dict[str, Any],
                 first: bool = True, last: bool = True) -> None:
        pdf = self.pdf
        start = _pt(pstyle.get("indentStart")) or 0.0
        first_line = _pt(pstyle.get("indentFirstLine"))
        end = _pt(pstyle.get("indentEnd")) or 0.0
        if bullet and not start:
            start = 36.0
        line = float(pstyle.get("lineSpacing") or 115) / 100 * _SINGLE
        left, right = frame[0] + start, frame[1] - end
        above = (_pt(pstyle.get("spaceAbove")) or 0) if first else 0
        below = (_pt(pstyle.get("spaceBelow")) or 0) if last else 0
        top_border, bottom_border = pstyle.get("borderTop"), pstyle.get("borderBottom")
        if first and self._border_width(top_border):
            pdf.y += above
            above = 0
            self._rule(left, right, pdf.y, top_border)
            pdf.y += self._border_width(top_border) + (_pt(top_border.get("padding")) or 0)
        has_bottom = last and self._border_width(bottom_border)
        self._font(runs[0][1] if runs else mark, named)   # the region measures with the current font
        pdf.x = left   # a region starts its first line at the current x when it lies inside
        number = self._page_number()   # inside a text region fpdf2 sets the page to 0
        with pdf.text_columns(text_align=_ALIGN.get(pstyle.get("alignment"), Align.L),
                              line_height=line, l_margin=left, r_margin=pdf.w - right) as cols:
            with cols.paragraph(top_margin=above, bottom_margin=0 if has_bottom else below,
                                first_line_indent=(first_line - start)
                                if first_line is not None and not bullet else 0,
                                bullet_string=bullet) as text:
                if not runs:   # an empty paragraph still takes a line, as high as its mark
                    self._font(mark, named)
                    text.write(" ")
                for piece, style in runs:
                    self._font(style, named)
                    for ch, name in m.AUTO_TEXT.items():
                        if name == "PAGE_NUMBER":
                            piece = piece.replace(ch, number)
                        else:   # the page count is not known yet: left out
                            piece = piece.replace(ch, "")
                    # A tab has no glyph; Google's renderer moves to the next stop, here a gap.
                    text.write(piece.replace("\t", "    "))
        if has_bottom:
            pdf.y += _pt(bottom_border.get("padding")) or 0
            self._rule(left, right, pdf.y, bottom_border)
            pdf.y += self._border_width(bottom_border) + below

    @staticmethod
    def _border_width(border: dict[str, Any] | None) -> float:
        return (_pt((border or {}).get("width")) or 0) if border else 0

    def _rule(self, x0: float, x1: float, y: float, border: dict[str, Any],
              vertical: bool = False, y1: float = 0) -> None:
        """A border line from (x0, y) to (x1, y), or from (x0, y) to (x0, y1)."""
        pdf = self.pdf
        pdf.set_line_width(self._border_width(border))
        pdf.set_draw_color(*(_rgb(border.get("color")) or (0, 0, 0)))
        dash, gap = _DASHES.get(border.get("dashStyle", "SOLID"), (0, 0))
        pdf.set_dash_pattern(dash=dash, gap=gap)
        if vertical:
            pdf.line(x0, y, x0, y1)
        else:
            pdf.line(x0, y, x1, y)
        pdf.set_dash_pattern()

    # -- tables -------------------------------------------------------------
    def table(self, elem: dict[str, Any], frame: Frame) -> None:
        """Rows of side-by-side cells, each column its width, each cell its
        paddings, background, vertical alignment and borders."""
        widths = m.column_widths(elem, frame[1] - frame[0])
        for row in elem["table"]["rows"]:
            self._row(row, widths, frame[0])

    def _row(self, row: list[dict[str, Any]], widths: list[float], x: float) -> None:
        pdf = self.pdf
        styles = [{**CELL_STYLE, **(cell.get("style") or {})} for cell in row]
        frames, heights, xs = [], [], []
        for cell, style, width in zip(row, styles, widths):
            inner = (x + (_pt(style.get("paddingLeft")) or 0),
                     x + width - (_pt(style.get("paddingRight")) or 0))
            frames.append(inner)
            xs.append((x, x + width))
            heights.append(self.measure(lambda c=cell, f=inner: self.content(c["content"], f)))
            x += width
        pads = [(_pt(s.get("paddingTop")) or 0, _pt(s.get("paddingBottom")) or 0) for s in styles]
        height = max(h + top + bottom for h, (top, bottom) in zip(heights, pads))
        if height > pdf.page_break_trigger - pdf.t_margin and self.pdf is self.real:
            # Taller than a page (Google splits such a row across pages): every
            # cell's content in turn, the row's width each, so nothing is lost.
            for cell, style in zip(row, styles):
                self.content(cell["content"], (xs[0][0] + (_pt(style.get("paddingLeft")) or 0),
                                               xs[-1][1] - (_pt(style.get("paddingRight")) or 0)))
            return
        if pdf.y + height > pdf.page_break_trigger and pdf.y > pdf.t_margin + 1:
            pdf.add_page()   # the row goes whole to the next page
        top = pdf.y
        for (x0, x1), style in zip(xs, styles):
            background = _rgb(style.get("backgroundColor"))
            if background is not None:
                pdf.set_fill_color(*background)
                pdf.rect(x0, top, x1 - x0, height, style="F")
        for cell, style, inner, h, (pad_top, pad_bottom) in zip(row, styles, frames, heights,
                                                                pads):
            room = height - pad_top - pad_bottom - h
            offset = {"MIDDLE": room / 2, "BOTTOM": room}.get(style.get("contentAlignment"), 0)
            pdf.y = top + pad_top + offset
            self.content(cell["content"], inner)
        bottom = top + height
        for (x0, x1), style in zip(xs, styles):
            for side in ("Top", "Bottom", "Left", "Right"):
                border = style.get("border" + side)
                if not self._border_width(border):
                    continue
                if side in ("Top", "Bottom"):
                    self._rule(x0, x1, top if side == "Top" else bottom, border)
                else:
                    self._rule(x0 if side == "Left" else x1, 0, top, border, vertical=True,
                               y1=bottom)
        pdf.y = bottom

    def content(self, content: list[dict[str, Any]], frame: Frame, breaks: bool = False) -> None:
        for elem in content:
            if "runs" in elem:
                self.paragraph(elem, frame, breaks)
            else:
                self.table(elem, frame)

    def body(self, content: list[dict[str, Any]]) -> bytes:
        self.content(content, self.body_frame, breaks=True)
        return bytes(self.pdf.output())


def to_pdf(model: dict[str, Any], title: str) -> bytes:
    """The document as PDF bytes; GoogleError 500 when no Unicode font is installed."""
    return _Writer(model, title).body(model["body"])
