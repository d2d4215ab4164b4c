"""Google's defaults for a new document: document style, named styles, list levels.

Values are those a new Google document reports through documents.get; the
docx export reads them too (heading sizes, page size, margins).
"""
from __future__ import annotations

from typing import Any


def _pt(magnitude: float | None = None) -> dict[str, Any]:
    return {"magnitude": magnitude, "unit": "PT"} if magnitude is not None else {"unit": "PT"}


DOCUMENT_STYLE: dict[str, Any] = {
    "background": {"color": {}}, "pageNumberStart": 1,
    "marginTop": _pt(72), "marginBottom": _pt(72), "marginRight": _pt(72), "marginLeft": _pt(72),
    "pageSize": {"height": _pt(792), "width": _pt(612)},
    "marginHeader": _pt(36), "marginFooter": _pt(36), "useCustomHeaderFooterMargins": True,
}

# What documents.get shows for a cell of a new table: 5 pt paddings and a 1 pt
# solid black border on each side (the Docs editor's default table); a cell's
# own style (updateTableCellStyle) is laid over it. The exports read it too.
_BORDER = {"color": {"color": {"rgbColor": {}}}, "width": _pt(1), "dashStyle": "SOLID"}
CELL_STYLE: dict[str, Any] = {
    "rowSpan": 1, "columnSpan": 1, "backgroundColor": {},
    **{side: _BORDER for side in ("borderLeft", "borderRight", "borderTop", "borderBottom")},
    **{side: _pt(5) for side in ("paddingLeft", "paddingRight", "paddingTop", "paddingBottom")},
    "contentAlignment": "TOP"}

_GREY = {"color": {"rgbColor": {"red": 0.4, "green": 0.4, "blue": 0.4}}}
# namedStyleType -> (font size, space above, space below, extra text style)
_NAMED = {"NORMAL_TEXT": (11, None, None, {}), "TITLE": (26, None, 3, {}),
          "SUBTITLE": (15, None, 16, {"foregroundColor": _GREY}),
          "HEADING_1": (20, 20, 6, {}), "HEADING_2": (16, 18, 6, {}),
          "HEADING_3": (14, 16, 4, {"foregroundColor": {"color": {"rgbColor": {
              "red": 0.2627451, "green": 0.2627451, "blue": 0.2627451}}}}),
          "HEADING_4": (12, 14, 4, {"foregroundColor": _GREY}),
          "HEADING_5": (11, 12, 4, {"foregroundColor": _GREY}),
          "HEADING_6": (11, 12, 4, {"foregroundColor": _GREY, "italic": True})}


def _named_style(name: str) -> dict[str, Any]:
    size, above, below, extra = _NAMED[name]
    text: dict[str, Any] = {"fontSize": _pt(size), **extra}
    para: dict[str, Any] = {"namedStyleType": name, "direction": "LEFT_TO_RIGHT",
                            "spaceAbove": _pt(above), "spaceBelow": _pt(below)}
    if name == "NORMAL_TEXT":
        text = {"bold": False, "italic": False, "underline": False, "strikethrough": False,
                "smallCaps": False, "backgroundColor": {}, "foregroundColor": {"color": {
                    "rgbColor": {}}}, "fontSize": _pt(11), "baselineOffset": "NONE",
                "weightedFontFamily": {"fontFamily": "Arial", "weight": 400}}
        para.update({"alignment": "START", "lineSpacing": 115, "spacingMode": "COLLAPSE_LISTS",
                     "indentFirstLine": _pt(), "indentStart": _pt(), "indentEnd": _pt(),
                     "keepLinesTogether": False, "keepWithNext": False,
                     "avoidWidowAndOrphan": True, "shading": {"backgroundColor": {}},
                     "pageBreakBefore": False})
    else:
        para.update({"keepLinesTogether": True, "keepWithNext": True, "pageBreakBefore": False})
    return {"namedStyleType": name, "textStyle": text, "paragraphStyle": para}


NAMED_STYLES: dict[str, Any] = {"styles": [_named_style(name) for name in _NAMED]}


def named_font_size(name: str) -> float:
    return _NAMED.get(name, _NAMED["NORMAL_TEXT"])[0]


def nesting_levels(preset: str) -> list[dict[str, Any]]:
    """The nine nesting levels of a list made with `preset`."""
    numbered = preset.startswith("NUMBERED")
    symbols, types = ["●", "○", "■"], ["DECIMAL", "ALPHA", "ROMAN"]
    levels = []
    for n in range(9):
        level: dict[str, Any] = {"bulletAlignment": "START", "indentFirstLine": _pt(18 + 36 * n),
                                 "indentStart": _pt(36 + 36 * n),
                                 "textStyle": {"underline": False}, "startNumber": 1}
        if numbered:
            level.update({"glyphType": types[n % 3], "glyphFormat": f"%{n}."})
        else:
            level.update({"glyphSymbol": symbols[n % 3], "glyphFormat": f"%{n}"})
        levels.append(level)
    return levels
