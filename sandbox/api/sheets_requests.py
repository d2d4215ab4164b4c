"""Sheets v4 `spreadsheets.batchUpdate` requests and developer metadata.

Requests run in order against the in-memory workbook; the first refusal
raises `GoogleError` ("Invalid requests[i].kind: ...") and nothing is saved,
so a batch is all or nothing like Google's. Replies come back in request
order, `{}` for requests that have none.

Every request the sandbox accepts changes what it stores and what
spreadsheets.get returns: merges (`mergeCells` / `unmergeCells`), the basic
filter (`setBasicFilter` / `clearBasicFilter`), cell formats
(`userEnteredFormat` through `updateCells` / `repeatCell`). A request it
does not implement (borders, column widths, conditional formats, banding,
filter views, charts...) is refused as a whole batch with 501 UNIMPLEMENTED
naming the request, never answered 200 and dropped.
"""
from __future__ import annotations

import copy
import functools
import math
import random
import unicodedata
from typing import Any, Callable

from .. import a1
from .. import fields as field_masks
from ..errors import GoogleError
from . import Call, handles
from .sheets_model import (
    Book,
    Tab,
    check_length,
    clean_sheet_props,
    grid_range_json,
    load,
    location_sheet,
    new_tab,
    spreadsheet_json,
    spreadsheet_properties,
)

MAX_CELLS = 10_000_000
_CELL_FIELDS = {"userEnteredValue": "u", "userEnteredFormat": "f", "dataValidation": "dv",
                "note": "note"}
# CellData fields Google computes: ignored on input, as Google ignores them.
_READ_ONLY_CELL_FIELDS = {"effectiveValue", "formattedValue", "effectiveFormat", "hyperlink",
                          "dataSourceFormula"}


class Refusal(Exception):
    """A request-level refusal; the dispatcher adds `requests[i].kind`."""


# -- helpers ---------------------------------------------------------------------
def require_tab(book: Book, sheet_id: Any) -> Tab:
    tab = book.tab_by_id(sheet_id if sheet_id is not None else 0)
    if tab is None:
        raise Refusal(f"No grid with id: {sheet_id if sheet_id is not None else 0}")
    return tab


def grid_bounds(book: Book, grid_range: dict[str, Any]) -> tuple[Tab, int, int, int, int]:
    """Tab and concrete bounds of a GridRange (missing ends = the whole grid)."""
    tab = require_tab(book, grid_range.get("sheetId"))
    r0, c0 = grid_range.get("startRowIndex", 0), grid_range.get("startColumnIndex", 0)
    r1 = grid_range.get("endRowIndex", tab.row_count)
    c1 = grid_range.get("endColumnIndex", tab.col_count)
    if min(r0, c0) < 0 or r1 > tab.row_count or c1 > tab.col_count or r0 > r1 or c0 > c1:
        text = a1.format_range(tab.title, r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
        raise Refusal(f"Range ({text}) exceeds grid limits. Max rows: {tab.row_count}, "
                      f"max columns: {tab.col_count}")
    return tab, r0, r1, c0, c1


def _shift_insert(x: int, at: int, n: int) -> int:
    return x + n if x >= at else x


def _shift_delete(x: int, start: int, end: int) -> int:
    return x if x <= start else (start if x <= end else x - (end - start))


def _move_spans(book: Book, tab: Tab, dim: str, fn: Callable[[int], int]) -> None:
    """Renumber row/column-anchored metadata and protected ranges after a shift."""
    kind = "ROW" if dim == "ROWS" else "COLUMN"
    kept = []
    for md in book.metadata:
        loc = md["location"]
        if loc["locationType"] == kind and loc["dimensionRange"]["sheetId"] == tab.sheet_id:
            span = loc["dimensionRange"]
            span["startIndex"], span["endIndex"] = fn(span["startIndex"]), fn(span["endIndex"])
            if span["startIndex"] == span["endIndex"]:
                continue  # its rows were deleted, so is the metadata
        kept.append(md)
    book.metadata[:] = kept
    prefix = "Row" if dim == "ROWS" else "Column"
    for pr in tab.protected:
        rng = pr.get("range", {})
        for key in (f"start{prefix}Index", f"end{prefix}Index"):
            if key in rng:
                rng[key] = fn(rng[key])


def _move_blocks(tab: Tab, dim: str, start_fn: Callable[[int], int],
                 end_fn: Callable[[int], int]) -> None:
    """Shift merges and the basic filter's range with inserted/deleted rows or
    columns (Google moves them with the cells: a merge below an insert moves
    down, one the insert falls inside grows, one whose cells are deleted goes)."""
    i0, i1 = (0, 1) if dim == "ROWS" else (2, 3)
    kept = []
    for m in tab.merges:
        m[i0], m[i1] = start_fn(m[i0]), end_fn(m[i1])
        if m[i1] > m[i0] and (m[1] - m[0]) * (m[3] - m[2]) > 1:
            kept.append(m)
    tab.merges[:] = kept
    if tab.basic_filter:
        rng = tab.basic_filter["range"]
        prefix = "Row" if dim == "ROWS" else "Column"
        a, b = start_fn(rng[f"start{prefix}Index"]), end_fn(rng[f"end{prefix}Index"])
        if b <= a:
            tab.basic_filter = None
        else:
            rng[f"start{prefix}Index"], rng[f"end{prefix}Index"] = a, b


def insert_dimension(book: Book, tab: Tab, dim: str, start: int, count: int) -> None:
    """Insert `count` empty rows/columns before index `start`, growing the grid."""
    limit = tab.row_count if dim == "ROWS" else tab.col_count
    if start < 0 or count <= 0 or start > limit:
        raise Refusal(f"Invalid dimension range: startIndex {start}, endIndex {start + count}, "
                      f"the sheet has {limit} {dim.lower()}.")
    if dim == "ROWS":
        if start < len(tab.rows):
            tab.rows[start:start] = [[] for _ in range(count)]
        tab.grid["rowCount"] += count
    else:
        for row in tab.rows:
            if start < len(row):
                row[start:start] = [None] * count
        tab.grid["columnCount"] += count
    _move_spans(book, tab, dim, lambda x: _shift_insert(x, start, count))
    # A block ending right where the rows go in does not grow: its end moves only past the insert.
    _move_blocks(tab, dim, lambda x: _shift_insert(x, start, count),
                 lambda x: x + count if x > start else x)


def delete_dimension(book: Book, tab: Tab, dim: str, start: int, end: int) -> None:
    limit = tab.row_count if dim == "ROWS" else tab.col_count
    if start < 0 or end <= start or end > limit:
        raise Refusal(f"Invalid dimension range: startIndex {start}, endIndex {end}, "
                      f"the sheet has {limit} {dim.lower()}.")
    if end - start >= limit:
        raise Refusal(f"You can't delete all the {dim.lower()} on the sheet.")
    if dim == "ROWS":
        del tab.rows[start:end]
        tab.grid["rowCount"] -= end - start
    else:
        for row in tab.rows:
            del row[start:end]
        tab.grid["columnCount"] -= end - start
    _move_spans(book, tab, dim, lambda x: _shift_delete(x, start, end))
    _move_blocks(tab, dim, lambda x: _shift_delete(x, start, end), lambda x: _shift_delete(x, start, end))


def _unsupported_cell_field(name: str) -> GoogleError:
    return GoogleError(501, f"The sandbox does not store CellData.{name}.", status="UNIMPLEMENTED",
                       reason="notImplemented")


def write_rows(tab: Tab, r0: int, c0: int, rows: list[dict[str, Any]], mask: str) -> None:
    """Apply RowData (updateCells) from (r0, c0) under a CellData field mask."""
    everything = mask.strip() == "*"
    selected = {} if everything else field_masks.parse(mask)
    for name in selected:
        if name not in _CELL_FIELDS and name not in _READ_ONLY_CELL_FIELDS:
            raise _unsupported_cell_field(name)
    names = set(_CELL_FIELDS) if everything else set(selected) & set(_CELL_FIELDS)
    for i, row in enumerate(rows):
        for j, data in enumerate(row.get("values") or []):
            if everything:
                for name, value in data.items():
                    if name not in _CELL_FIELDS and name not in _READ_ONLY_CELL_FIELDS and value:
                        raise _unsupported_cell_field(name)
            r, c = r0 + i, c0 + j
            if r >= tab.row_count or c >= tab.col_count:
                raise Refusal(f"Range ({a1.format_range(tab.title, r, r + 1, c, c + 1)}) exceeds grid "
                              f"limits. Max rows: {tab.row_count}, max columns: {tab.col_count}")
            cell = dict(tab.cell(r, c) or {})
            for name in names:
                value = data.get(name)
                if name == "userEnteredValue" and value is not None:
                    if len(value) != 1:
                        raise Refusal("A cell's userEnteredValue must hold exactly one value kind.")
                    for kind, item in value.items():
                        if isinstance(item, str):
                            check_length(item)
                        if isinstance(item, float) and not math.isfinite(item):
                            raise Refusal(f"Invalid {kind}: numbers must be finite.")
                key = _CELL_FIELDS[name]
                sub = None if everything else selected.get(name)
                if name == "userEnteredFormat" and sub:
                    merged = copy.deepcopy(cell.get(key) or {})
                    _walk_mask(merged, value or {}, sub)
                    value = merged
                if value in (None, {}):
                    cell.pop(key, None)
                else:
                    cell[key] = copy.deepcopy(value)
            tab.set_cell(r, c, cell)


def _walk_mask(dst: dict[str, Any], src: dict[str, Any], node: dict[str, Any]) -> None:
    """Copy the fields a parsed mask names from `src` into `dst` (absent: removed)."""
    for key, sub in node.items():
        if key == "*" and sub is None:
            dst.clear()
            dst.update(copy.deepcopy(src))
        elif sub is None or not isinstance(src.get(key, {}), dict):
            if key in src:
                dst[key] = copy.deepcopy(src[key])
            else:
                dst.pop(key, None)
        else:
            _walk_mask(dst.setdefault(key, {}), src.get(key) or {}, sub)
            if not dst[key]:
                del dst[key]


def _apply_mask(target: dict[str, Any], source: dict[str, Any], mask: str) -> None:
    if not mask:
        raise Refusal("At least one field must be specified in 'fields'.")
    if mask.strip() == "*":
        target.update(copy.deepcopy({k: v for k, v in source.items() if k != "sheetId"}))
        return
    _walk_mask(target, source, field_masks.parse(mask))


# -- Vietnamese-aware ordering for sortRange ------------------------------------
def _text_key(text: str) -> tuple[str, str]:
    """Primary: base letters (đ sorts after d); secondary: the accents."""
    folded = text.casefold().replace("đ", "d\U0010ffff")
    base = "".join(ch for ch in unicodedata.normalize("NFD", folded) if not unicodedata.combining(ch))
    return base, unicodedata.normalize("NFD", folded)


def _sort_rank(value: dict[str, Any] | None) -> tuple[int, Any]:
    if value is None:
        return (9, 0)
    if "numberValue" in value:
        return (0, value["numberValue"])
    if "stringValue" in value:
        return (1, _text_key(value["stringValue"]))
    if "boolValue" in value:
        return (2, value["boolValue"])
    return (3, value.get("formulaValue", ""))


# -- the requests ---------------------------------------------------------------
def add_sheet(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    props = req.get("properties") or {}
    title = props.get("title")
    if title is None:
        n = len(book.tabs) + 1
        while book.tab_by_title(f"Sheet{n}"):
            n += 1
        title = f"Sheet{n}"
    if book.tab_by_title(title) is not None:
        raise Refusal(f'A sheet with the name "{title}" already exists. Please enter another name.')
    sheet_id = props.get("sheetId", book.new_sheet_id())
    if book.tab_by_id(sheet_id) is not None:
        raise Refusal(f"Duplicate sheet ID: {sheet_id}")
    index = min(max(props.get("index", len(book.tabs)), 0), len(book.tabs))
    tab = new_tab(sheet_id, title, index, props)
    book.tabs.insert(index, tab)
    for i, t in enumerate(book.tabs):
        t.props["index"] = i
    return {"addSheet": {"properties": copy.deepcopy(tab.props)}}


# Google keeps at least one sheet visible. The Sheets UI and Apps Script refuse
# hiding the last one with this sentence (Sheet.hideSheet()); the REST wording is
# not in Google's reference, so the sandbox uses the same sentence, in the
# "Invalid requests[i].kind: ..." frame every batchUpdate refusal has.
HIDE_ALL = "You can't hide all the sheets in a document."


def delete_sheet(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab = require_tab(book, req.get("sheetId"))
    if len(book.tabs) == 1:
        raise Refusal("You can't remove all the sheets in a document.")
    if not tab.hidden and not any(not t.hidden for t in book.tabs if t is not tab):
        raise Refusal(HIDE_ALL)  # what would be left is hidden sheets only
    book.tabs.remove(tab)
    book.metadata[:] = [md for md in book.metadata if location_sheet(md) != tab.sheet_id]
    return {}


def update_sheet_properties(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    props = req.get("properties") or {}
    tab = book.tab_by_id(props.get("sheetId", 0))
    if tab is None:  # Google's words for this request (an API answer quoted in blinkk/rootjs#554)
        raise Refusal(f"No sheet with id: {props.get('sheetId', 0)}")
    updated = copy.deepcopy(tab.props)
    _apply_mask(updated, props, req.get("fields") or "")
    updated["sheetId"] = tab.sheet_id
    other = book.tab_by_title(updated.get("title", ""))
    if other is not None and other is not tab:
        raise Refusal(f'A sheet with the name "{updated["title"]}" already exists. '
                      f'Please enter another name.')
    if updated.get("hidden") and not any(not t.hidden for t in book.tabs if t is not tab):
        raise Refusal(HIDE_ALL)
    tab.props = clean_sheet_props(updated)
    if updated.get("index", 0) != book.tabs.index(tab):
        book.tabs.remove(tab)
        book.tabs.insert(min(max(updated["index"], 0), len(book.tabs)), tab)
    for i, t in enumerate(book.tabs):
        t.props["index"] = i
    del tab.rows[tab.row_count:]  # a smaller grid drops what no longer fits
    for row in tab.rows:
        del row[tab.col_count:]
    tab.merges[:] = [m for m in tab.merges if m[1] <= tab.row_count and m[3] <= tab.col_count]
    return {}


def update_spreadsheet_properties(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    """Any SpreadsheetProperties field the mask names: `title`, `locale` (which
    changes how USER_ENTERED input is parsed and numbers are shown from then
    on), `timeZone`, `autoRecalc`, `defaultFormat`, `spreadsheetTheme`..."""
    current = spreadsheet_properties(book)
    _apply_mask(current, req.get("properties") or {}, req.get("fields") or "")
    book.title = current.pop("title", book.title)
    book.props = current
    return {}


def dimension_range(book: Book, span: dict[str, Any]) -> tuple[Tab, str, int, int]:
    tab = require_tab(book, span.get("sheetId"))
    dim = span.get("dimension")
    if dim not in ("ROWS", "COLUMNS"):
        raise Refusal("range.dimension must be ROWS or COLUMNS.")
    return tab, dim, span.get("startIndex", 0), span.get("endIndex", 0)


# What an inserted row or column takes from its neighbour: its look, not its content.
_INHERITED = ("f", "dv")


def insert_dimension_request(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    """InsertDimensionRequest. The new rows (columns) take the format and data
    validation of the one before them (`inheritFromBefore`) or after them, as
    Sheets does: a row inserted in a column of tick boxes has a tick box.
    https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/request#insertdimensionrequest
    """
    tab, dim, start, end = dimension_range(book, req.get("range") or {})
    if req.get("inheritFromBefore") and start == 0:
        # The reference: "True to inherit from the dimensions before (in which
        # case the start index must be greater than 0)". The wording is ours.
        raise Refusal("Cannot insert with inheritFromBefore true at start index 0: there is nothing before it.")
    count = end - start
    insert_dimension(book, tab, dim, start, count)
    source = start - 1 if req.get("inheritFromBefore") else end
    if 0 <= source < (tab.row_count if dim == "ROWS" else tab.col_count):
        _inherit(tab, dim, source, start, count)
    return {}


def _inherit(tab: Tab, dim: str, source: int, start: int, count: int) -> None:
    if dim == "ROWS":
        row = tab.rows[source] if source < len(tab.rows) else []
        for c, cell in enumerate(row):
            look = {k: cell[k] for k in _INHERITED if cell and k in cell}
            for r in range(start, start + count):
                if look:
                    tab.set_cell(r, c, {**(tab.cell(r, c) or {}), **copy.deepcopy(look)})
        return
    for r, row in enumerate(tab.rows):
        cell = row[source] if source < len(row) else None
        look = {k: cell[k] for k in _INHERITED if cell and k in cell}
        for c in range(start, start + count):
            if look:
                tab.set_cell(r, c, {**(tab.cell(r, c) or {}), **copy.deepcopy(look)})


def delete_dimension_request(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, dim, start, end = dimension_range(book, req.get("range") or {})
    delete_dimension(book, tab, dim, start, end)
    return {}


def append_dimension(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab = require_tab(book, req.get("sheetId"))
    length = req.get("length", 0)
    if length <= 0:
        raise Refusal("length must be greater than zero.")
    key = "rowCount" if req.get("dimension") == "ROWS" else "columnCount"
    tab.grid[key] += length
    return {}


def sort_range(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = grid_bounds(book, req.get("range") or {})
    specs = req.get("sortSpecs") or []
    for spec in specs:
        if not c0 <= spec.get("dimensionIndex", 0) < c1:
            raise Refusal(f"Sort dimension index {spec.get('dimensionIndex', 0)} is outside the range.")
    rows = [[tab.cell(r, c) for c in range(c0, c1)] for r in range(r0, r1)]

    def compare(a: list[Any], b: list[Any]) -> int:
        for spec in specs:
            i = spec.get("dimensionIndex", 0) - c0
            ka, kb = _sort_rank((a[i] or {}).get("u")), _sort_rank((b[i] or {}).get("u"))
            if ka == kb:
                continue
            if ka[0] == 9 or kb[0] == 9:  # blanks go last in both directions
                return 1 if ka[0] == 9 else -1
            less = ka < kb
            if spec.get("sortOrder") == "DESCENDING":
                less = not less
            return -1 if less else 1
        return 0

    rows.sort(key=functools.cmp_to_key(compare))  # stable, like Sheets
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            tab.set_cell(r0 + i, c0 + j, cell)
    return {}


def update_cells(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    if "range" in req:
        tab, r0, _, c0, _ = grid_bounds(book, req["range"])
    else:
        start = req.get("start") or {}
        tab = require_tab(book, start.get("sheetId"))
        r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
    if not req.get("fields"):
        raise Refusal("At least one field must be specified in 'fields'.")
    write_rows(tab, r0, c0, req.get("rows") or [], req["fields"])
    return {}


def repeat_cell(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = grid_bounds(book, req.get("range") or {})
    if not req.get("fields"):
        raise Refusal("At least one field must be specified in 'fields'.")
    row = {"values": [req.get("cell") or {}] * (c1 - c0)}
    write_rows(tab, r0, c0, [row] * (r1 - r0), req["fields"])
    return {}


def set_data_validation(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = grid_bounds(book, req.get("range") or {})
    row = {"values": [{"dataValidation": req.get("rule")}] * (c1 - c0)}
    write_rows(tab, r0, c0, [row] * (r1 - r0), "dataValidation")
    return {}


def add_protected_range(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    pr = copy.deepcopy(req.get("protectedRange") or {})
    tab, *_ = grid_bounds(book, pr.setdefault("range", {}))
    pr["range"].setdefault("sheetId", tab.sheet_id)
    used = {p["protectedRangeId"] for t in book.tabs for p in t.protected}
    pr["protectedRangeId"] = pr.get("protectedRangeId") or random.randint(1, 2_000_000_000)
    if pr["protectedRangeId"] in used:
        raise Refusal(f"Duplicate protected range ID: {pr['protectedRangeId']}")
    pr["requestingUserCanEdit"] = True  # the caller made it, so the caller may edit it
    tab.protected.append(pr)
    return {"addProtectedRange": {"protectedRange": copy.deepcopy(pr)}}


def delete_protected_range(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    for tab in book.tabs:
        for pr in tab.protected:
            if pr["protectedRangeId"] == req.get("protectedRangeId"):
                tab.protected.remove(pr)
                return {}
    raise Refusal(f"No protected range with id: {req.get('protectedRangeId')}")


# -- merges -------------------------------------------------------------------------
# Shapes and rules from the real API: MERGE_ROWS over A1:B2 stores A1:B1 and
# A2:B2, a MERGE_ALL over them replaces both (gspread tests/cassettes/
# CellTest.test_merge_cells.json); a merge that only partly lies in the range
# refuses the request with "You must select all cells in a merged range to merge
# or unmerge them." and one across the frozen edge with "You can't merge frozen
# and non-frozen rows." (or columns); both quoted from live API answers in public
# code. Only the top-left value of a merge is kept, as the Sheets UI warns.
MERGE_PARTIAL = "You must select all cells in a merged range to merge or unmerge them."


def _overlaps(a: list[int] | tuple[int, ...], b: list[int] | tuple[int, ...]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _inside(inner: list[int] | tuple[int, ...], outer: list[int] | tuple[int, ...]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer[2] <= inner[2] and inner[3] <= outer[3]


def _release(tab: Tab, box: tuple[int, int, int, int]) -> None:
    """Drop the merges inside `box`; refuse if one lies only partly inside."""
    for m in tab.merges:
        if _overlaps(m, box) and not _inside(m, box):
            raise Refusal(MERGE_PARTIAL)
    tab.merges[:] = [m for m in tab.merges if not _overlaps(m, box)]


def merge_cells(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = grid_bounds(book, req.get("range") or {})
    kind = req.get("mergeType") or "MERGE_ALL"
    if kind == "MERGE_ROWS":
        pieces = [(r, r + 1, c0, c1) for r in range(r0, r1)]
    elif kind == "MERGE_COLUMNS":
        pieces = [(r0, r1, c, c + 1) for c in range(c0, c1)]
    else:
        pieces = [(r0, r1, c0, c1)]
    frozen_rows = tab.grid.get("frozenRowCount", 0)
    frozen_cols = tab.grid.get("frozenColumnCount", 0)
    _release(tab, (r0, r1, c0, c1))
    for p in pieces:
        if (p[1] - p[0]) * (p[3] - p[2]) < 2:
            continue  # one cell is not a merge
        if p[0] < frozen_rows < p[1]:
            raise Refusal("You can't merge frozen and non-frozen rows.")
        if p[2] < frozen_cols < p[3]:
            raise Refusal("You can't merge frozen and non-frozen columns.")
        tab.merges.append(list(p))
        for r in range(p[0], p[1]):
            for c in range(p[2], p[3]):
                if (r, c) != (p[0], p[2]):
                    tab.set_value(r, c, None)
    tab.merges.sort()
    return {}


def unmerge_cells(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, r0, r1, c0, c1 = grid_bounds(book, req.get("range") or {})
    _release(tab, (r0, r1, c0, c1))
    return {}


# -- the basic filter -------------------------------------------------------------------
def set_basic_filter(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    """Store the sheet's basic filter (replacing any), its range made concrete
    as Google shows it; its sortSpecs sort the rows under the header row."""
    spec = copy.deepcopy(req.get("filter") or {})
    tab, r0, r1, c0, c1 = grid_bounds(book, spec.get("range") or {})
    for sort in spec.get("sortSpecs") or []:
        if not c0 <= sort.get("dimensionIndex", 0) < c1:
            raise Refusal(f"Sort dimension index {sort.get('dimensionIndex', 0)} is outside the range.")
    stored: dict[str, Any] = {"range": grid_range_json(tab.sheet_id, r0, r1, c0, c1)}
    for key in ("sortSpecs", "criteria", "filterSpecs"):
        if spec.get(key):
            stored[key] = spec[key]
    tab.basic_filter = stored
    if spec.get("sortSpecs") and r1 - r0 > 1:
        sort_range(book, {"range": {"sheetId": tab.sheet_id, "startRowIndex": r0 + 1, "endRowIndex": r1,
                                    "startColumnIndex": c0, "endColumnIndex": c1},
                          "sortSpecs": spec["sortSpecs"]}, call)
    return {}


def clear_basic_filter(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab = require_tab(book, req.get("sheetId"))
    tab.basic_filter = None
    return {}


REQUESTS: dict[str, Callable[[Book, dict[str, Any], Call], dict[str, Any]]] = {
    "addSheet": add_sheet, "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "updateSpreadsheetProperties": update_spreadsheet_properties,
    "insertDimension": insert_dimension_request, "deleteDimension": delete_dimension_request,
    "appendDimension": append_dimension, "sortRange": sort_range, "updateCells": update_cells,
    "repeatCell": repeat_cell, "setDataValidation": set_data_validation,
    "addProtectedRange": add_protected_range, "deleteProtectedRange": delete_protected_range,
    "mergeCells": merge_cells, "unmergeCells": unmerge_cells,
    "setBasicFilter": set_basic_filter, "clearBasicFilter": clear_basic_filter,
}  # sheets_metadata adds the developer-metadata requests


def check_cell_limit(book: Book) -> None:
    if sum(t.row_count * t.col_count for t in book.tabs) > MAX_CELLS:
        raise GoogleError(400, "This action would increase the number of cells in the workbook "
                               f"above the limit of {MAX_CELLS} cells.")


@handles("sheets.spreadsheets.batchUpdate")
def batch_update(call: Call) -> dict[str, Any]:
    body = call.body or {}
    requests = body.get("requests") or []
    if not requests:
        raise GoogleError(400, "Must specify at least one request.")
    book = load(call)
    replies = []
    for i, req in enumerate(requests):
        kinds = [k for k, v in req.items() if v is not None]
        if len(kinds) != 1:
            raise GoogleError(400, f"Invalid requests[{i}]: exactly one kind of request must be set.")
        kind = kinds[0]
        handler = REQUESTS.get(kind)
        if handler is None:
            raise GoogleError(501, f"Invalid requests[{i}].{kind}: the sandbox does not implement "
                                   f"{kind} requests, so nothing in this batch was applied.",
                              status="UNIMPLEMENTED", reason="notImplemented")
        try:
            replies.append(handler(book, req[kind], call))
        except Refusal as why:
            raise GoogleError(400, f"Invalid requests[{i}].{kind}: {why}") from None
    check_cell_limit(book)
    book.save(call.db, call)
    out: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        out["updatedSpreadsheet"] = spreadsheet_json(book, body.get("responseRanges"),
                                                     bool(body.get("responseIncludeGridData")))
    return out
