"""A1 notation as the Sheets API reads and writes it.

`parse` turns `'Đăng ký'!A2:F`, `Sheet1!A:A`, `2:5`, `B3`, `'It''s'` into an
`A1Range`: an optional sheet title and zero-based, half-open row/column
bounds where `None` means "open on that side". `format_range` produces the
normalised text Google echoes back (`'Đăng ký'!A2:F1000`, `Sheet1!A1`).
Whether a title exists is decided by the caller, which owns the sheets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_COLUMNS = 18_278  # ZZZ: the widest column label Sheets accepts

_CELL = re.compile(r"^([A-Za-z]{1,3})?([1-9][0-9]{0,8})?$")
_SIMPLE_TITLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOKS_LIKE_REF = re.compile(r"^(?:[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*)$")


class A1Error(ValueError):
    """The text is not a range Sheets can parse."""


@dataclass(frozen=True)
class A1Range:
    """A parsed range; rows/cols zero-based, end exclusive, None = unbounded."""
    sheet: str | None
    row_start: int | None = None
    row_end: int | None = None
    col_start: int | None = None
    col_end: int | None = None
    single_cell: bool = False

    @property
    def whole_sheet(self) -> bool:
        return (self.row_start, self.row_end, self.col_start, self.col_end) == (None,) * 4


def column_index(label: str) -> int:
    """`A` -> 0, `Z` -> 25, `AA` -> 26."""
    n = 0
    for ch in label.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def column_label(index: int) -> str:
    """0 -> `A`, 26 -> `AA` (inverse of `column_index`)."""
    n, out = index + 1, ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def quote_title(title: str) -> str:
    """The sheet title as Google writes it in a range: bare when it is a plain
    ASCII identifier that cannot be mistaken for a cell, otherwise quoted."""
    if _SIMPLE_TITLE.match(title) and not _LOOKS_LIKE_REF.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _split_sheet(text: str) -> tuple[str | None, str | None]:
    """(sheet title or None, reference part or None) of a range text."""
    if text.startswith("'"):
        i, title = 1, []
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if text[i + 1:i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                rest = text[i + 1:]
                name = "".join(title)
                if not name:
                    raise A1Error(text)
                if rest == "":
                    return name, None
                if rest.startswith("!") and len(rest) > 1:
                    return name, rest[1:]
                raise A1Error(text)
            title.append(ch)
            i += 1
        raise A1Error(text)
    if "!" in text:
        name, _, ref = text.rpartition("!")
        if not name or not ref or "'" in name:
            raise A1Error(text)
        return name, ref
    return None, text


def _parse_ref(ref: str) -> tuple[int | None, int | None, int | None, int | None, bool]:
    parts = ref.split(":")
    if len(parts) == 1:
        m = _CELL.match(parts[0])
        if not m or not m.group(1) or not m.group(2):
            raise A1Error(ref)
        col, row = column_index(m.group(1)), int(m.group(2)) - 1
        return row, row + 1, col, col + 1, True
    if len(parts) != 2:
        raise A1Error(ref)
    a, b = (_CELL.match(p) for p in parts)
    if not a or not b or not parts[0] or not parts[1]:
        raise A1Error(ref)
    ac, ar = a.group(1), a.group(2)
    bc, br = b.group(1), b.group(2)
    # Forms Sheets accepts: A1:B2, A:B, 2:5, A2:B (rows open), A:B5 is refused.
    if ac and ar and bc and br:
        rows = sorted((int(ar) - 1, int(br) - 1))
        cols = sorted((column_index(ac), column_index(bc)))
        return rows[0], rows[1] + 1, cols[0], cols[1] + 1, False
    if ac and not ar and bc and not br:
        cols = sorted((column_index(ac), column_index(bc)))
        return None, None, cols[0], cols[1] + 1, False
    if ar and not ac and br and not bc:
        rows = sorted((int(ar) - 1, int(br) - 1))
        return rows[0], rows[1] + 1, None, None, False
    if ac and ar and bc and not br:  # A2:F -> rows from 2 on, columns A..F
        cols = sorted((column_index(ac), column_index(bc)))
        return int(ar) - 1, None, cols[0], cols[1] + 1, False
    if ac and ar and br and not bc:  # A2:5 -> rows 2..5 from column A on
        rows = sorted((int(ar) - 1, int(br) - 1))
        return rows[0], rows[1] + 1, column_index(ac), None, False
    raise A1Error(ref)


def is_reference(text: str) -> bool:
    """True when `text` reads as a cell or range reference (so not a sheet name)."""
    try:
        _parse_ref(text)
    except A1Error:
        return False
    return True


def parse(text: str) -> A1Range:
    """Parse a range in A1 notation; raises `A1Error` for text Sheets refuses.

    A bare word that is not a reference (`Khách mời`) is a whole-sheet range;
    a bare reference (`A1`, `A2:F`) has `sheet=None` (the first sheet)."""
    if not text or text != text.strip():
        raise A1Error(text)
    sheet, ref = _split_sheet(text)
    if ref is None:
        return A1Range(sheet)
    if sheet is None:
        if not is_reference(ref):
            return A1Range(ref)  # a sheet title on its own
    r0, r1, c0, c1, single = _parse_ref(ref)
    if (c1 or 0) > MAX_COLUMNS:
        raise A1Error(text)
    return A1Range(sheet, r0, r1, c0, c1, single)


def format_range(title: str, row_start: int, row_end: int, col_start: int, col_end: int) -> str:
    """`'Title'!A1:C3`, or `Title!B2` for a single cell (bounds are concrete)."""
    start = f"{column_label(col_start)}{row_start + 1}"
    if row_end - row_start == 1 and col_end - col_start == 1:
        return f"{quote_title(title)}!{start}"
    return f"{quote_title(title)}!{start}:{column_label(col_end - 1)}{row_end}"


def describe(title: str, parsed: A1Range) -> str:
    """The parsed range written back normalised, open ends kept open (`Sheet1!A2:F`)."""
    p = parsed
    if p.whole_sheet:
        return quote_title(title)
    if p.single_cell:
        return f"{quote_title(title)}!{column_label(p.col_start)}{p.row_start + 1}"
    if p.row_start is None:  # A:B
        return f"{quote_title(title)}!{column_label(p.col_start)}:{column_label(p.col_end - 1)}"
    if p.col_start is None:  # 2:5
        return f"{quote_title(title)}!{p.row_start + 1}:{p.row_end}"
    start = f"{column_label(p.col_start)}{p.row_start + 1}"
    end = (column_label(p.col_end - 1) if p.col_end is not None else "") + \
          (str(p.row_end) if p.row_end is not None else "")
    return f"{quote_title(title)}!{start}:{end}"
