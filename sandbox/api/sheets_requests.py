"""Sheets v4 `spreadsheets.batchUpdate` requests and developer metadata.

Requests run in order against the in-memory workbook; the first refusal
raises `GoogleError` ("Invalid requests[i].kind: ...") and nothing is saved,
so a batch is all or nothing like Google's. Replies come back in request
order, `{}` for requests that have none. Purely cosmetic requests (borders,
merges, column widths, conditional formats...) are accepted and validated
for their sheet ids but do not change what the sandbox stores.
"""
from __future__ import annotations

import copy
import functools
import random
import unicodedata
from typing import Any, Callable

from .. import a1
from .. import fields as field_masks
from ..errors import GoogleError
from . import Call, handles
from .sheets_model import Book, Tab, check_length, load, location_sheet, new_tab, spreadsheet_json

MAX_CELLS = 10_000_000
COSMETIC = {"updateDimensionProperties", "autoResizeDimensions", "mergeCells", "unmergeCells",
            "updateBorders", "addConditionalFormatRule", "deleteConditionalFormatRule",
            "updateConditionalFormatRule", "setBasicFilter", "clearBasicFilter", "addBanding",
            "deleteBanding", "updateBanding", "addFilterView", "deleteFilterView",
            "updateEmbeddedObjectPosition"}
_CELL_FIELDS = {"userEnteredValue": "u", "dataValidation": "dv", "note": "note"}


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


def write_rows(tab: Tab, r0: int, c0: int, rows: list[dict[str, Any]], mask: str) -> None:
    """Apply RowData (updateCells) from (r0, c0) under a CellData field mask."""
    names = set(_CELL_FIELDS) if mask.strip() == "*" else \
        {part.strip().split(".")[0].split("(")[0] for part in mask.split(",") if part.strip()}
    for i, row in enumerate(rows):
        for j, data in enumerate(row.get("values") or []):
            r, c = r0 + i, c0 + j
            if r >= tab.row_count or c >= tab.col_count:
                raise Refusal(f"Range ({a1.format_range(tab.title, r, r + 1, c, c + 1)}) exceeds grid "
                              f"limits. Max rows: {tab.row_count}, max columns: {tab.col_count}")
            cell = dict(tab.cell(r, c) or {})
            for name in names & set(_CELL_FIELDS):
                value = data.get(name)
                if name == "userEnteredValue" and value is not None:
                    if len(value) != 1:
                        raise Refusal("A cell's userEnteredValue must hold exactly one value kind.")
                    for text in value.values():
                        if isinstance(text, str):
                            check_length(text)
                if value in (None, {}):
                    cell.pop(_CELL_FIELDS[name], None)
                else:
                    cell[_CELL_FIELDS[name]] = copy.deepcopy(value)
            tab.set_cell(r, c, cell)


def _apply_mask(target: dict[str, Any], source: dict[str, Any], mask: str) -> None:
    if not mask:
        raise Refusal("At least one field must be specified in 'fields'.")
    if mask.strip() == "*":
        target.update(copy.deepcopy({k: v for k, v in source.items() if k != "sheetId"}))
        return

    def walk(dst: dict[str, Any], src: dict[str, Any], node: dict[str, Any]) -> None:
        for key, sub in node.items():
            if sub is None or not isinstance(src.get(key, {}), dict):
                if key in src:
                    dst[key] = copy.deepcopy(src[key])
                else:
                    dst.pop(key, None)
            else:
                walk(dst.setdefault(key, {}), src.get(key) or {}, sub)

    walk(target, source, field_masks.parse(mask))


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


def delete_sheet(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab = require_tab(book, req.get("sheetId"))
    if len(book.tabs) == 1:
        raise Refusal("You can't remove all the sheets in a document.")
    book.tabs.remove(tab)
    book.metadata[:] = [md for md in book.metadata if location_sheet(md) != tab.sheet_id]
    return {}


def update_sheet_properties(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    props = req.get("properties") or {}
    tab = require_tab(book, props.get("sheetId"))
    updated = copy.deepcopy(tab.props)
    _apply_mask(updated, props, req.get("fields") or "")
    updated["sheetId"] = tab.sheet_id
    other = book.tab_by_title(updated.get("title", ""))
    if other is not None and other is not tab:
        raise Refusal(f'A sheet with the name "{updated["title"]}" already exists. '
                      f'Please enter another name.')
    tab.props = updated
    if updated.get("index", 0) != book.tabs.index(tab):
        book.tabs.remove(tab)
        book.tabs.insert(min(max(updated["index"], 0), len(book.tabs)), tab)
    for i, t in enumerate(book.tabs):
        t.props["index"] = i
    del tab.rows[tab.row_count:]  # a smaller grid drops what no longer fits
    for row in tab.rows:
        del row[tab.col_count:]
    return {}


def update_spreadsheet_properties(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    current = {"title": book.title, **book.props}
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


def insert_dimension_request(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    tab, dim, start, end = dimension_range(book, req.get("range") or {})
    insert_dimension(book, tab, dim, start, end - start)
    return {}


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


REQUESTS: dict[str, Callable[[Book, dict[str, Any], Call], dict[str, Any]]] = {
    "addSheet": add_sheet, "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "updateSpreadsheetProperties": update_spreadsheet_properties,
    "insertDimension": insert_dimension_request, "deleteDimension": delete_dimension_request,
    "appendDimension": append_dimension, "sortRange": sort_range, "updateCells": update_cells,
    "repeatCell": repeat_cell, "setDataValidation": set_data_validation,
    "addProtectedRange": add_protected_range, "deleteProtectedRange": delete_protected_range,
}  # sheets_metadata adds the developer-metadata requests


def _cosmetic(book: Book, req: dict[str, Any], call: Call) -> dict[str, Any]:
    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if "sheetId" in value:
                require_tab(book, value["sheetId"])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
    visit(req)
    return {}


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
        handler = REQUESTS.get(kind) or (_cosmetic if kind in COSMETIC else None)
        if handler is None:
            raise GoogleError(501, f"The sandbox does not implement {kind} requests.",
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
