"""Sheets v4 `spreadsheets.values.*`: reading and writing values by A1 range.

Shapes follow Google: reads omit trailing empty cells and rows (and `values`
altogether when nothing is there) and echo the range normalised
(`'Đăng ký'!A1:Z1000`); writes report updatedRange/Rows/Columns/Cells;
`append` finds the table in the range and writes after its last row,
growing the grid, where `update` refuses to write past the grid.
"""
from __future__ import annotations

from typing import Any

from .. import a1
from ..errors import GoogleError
from . import Call, handles, sheets_metadata, sheets_requests
from .sheets_model import Book, Tab, entered_value, load, render


def grid_limits(tab: Tab, text: str) -> GoogleError:
    return GoogleError(400, f"Range ({text}) exceeds grid limits. Max rows: {tab.row_count}, "
                            f"max columns: {tab.col_count}")


def bounds(tab: Tab, p: a1.A1Range) -> tuple[int, int, int, int]:
    """Concrete (r0, r1, c0, c1) of a parsed range; 400 when it leaves the grid."""
    r0, c0 = p.row_start or 0, p.col_start or 0
    r1 = tab.row_count if p.row_end is None else p.row_end
    c1 = tab.col_count if p.col_end is None else p.col_end
    if r0 >= tab.row_count or c0 >= tab.col_count or r1 > tab.row_count or c1 > tab.col_count:
        raise grid_limits(tab, a1.describe(tab.title, p))
    return r0, r1, c0, c1


def _trim(grid: list[list[Any]]) -> list[list[Any]]:
    out = []
    for line in grid:
        while line and line[-1] is None:
            line.pop()
        out.append(["" if v is None else v for v in line])
    while out and not out[-1]:
        out.pop()
    return out


def read(tab: Tab, r0: int, r1: int, c0: int, c1: int, major: str, option: str) -> dict[str, Any]:
    """A ValueRange of the block, shaped like values.get."""
    last_row = min(r1, len(tab.rows))
    if major == "COLUMNS":
        width = min(c1, max((len(tab.rows[r]) for r in range(r0, last_row)), default=0))
        grid = [[render(tab.value(r, c), option) for r in range(r0, last_row)] for c in range(c0, width)]
    else:
        grid = [[render(tab.value(r, c), option) for c in range(c0, min(c1, len(tab.rows[r])))]
                for r in range(r0, last_row)]
    out: dict[str, Any] = {"range": a1.format_range(tab.title, r0, r1, c0, c1), "majorDimension": major}
    values = _trim(grid)
    if values:
        out["values"] = values
    return out


def write(book: Book, tab: Tab, p: a1.A1Range, values: Any, major: str, option: str,
          grow: bool = False, anchor: tuple[int, int] | None = None) -> dict[str, Any]:
    """Write a ValueRange's values into the range; returns UpdateValuesResponse fields.

    `anchor` overrides the top-left cell (append); `grow` lets the grid grow
    instead of refusing to write past it (append does, update does not)."""
    if not isinstance(values, list) or any(not isinstance(v, list) for v in values):
        raise GoogleError(400, "Invalid values: expected a list of lists.")
    rows = values
    if major == "COLUMNS":
        width = max((len(col) for col in values), default=0)
        rows = [[col[i] if i < len(col) else None for col in values] for i in range(width)]
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=0)
    r0, c0 = anchor or (p.row_start or 0, p.col_start or 0)
    if anchor is None:
        if not p.whole_sheet and not p.single_cell:
            bounds(tab, p)  # the requested range itself must lie inside the grid
        r_lim = None if p.single_cell else p.row_end
        c_lim = None if p.single_cell else p.col_end
        if r_lim is not None and r0 + n_rows > r_lim or c_lim is not None and c0 + n_cols > c_lim:
            within = a1.format_range(tab.title, r0, r_lim or tab.row_count, c0, c_lim or tab.col_count)
            if r_lim is not None and r0 + n_rows > r_lim:
                where = f"row [{r_lim + 1}]"
            else:
                where = f"column [{a1.column_label(c_lim)}]"
            raise GoogleError(400, f"Requested writing within range [{within}], but tried writing to {where}")
    if r0 + max(n_rows, 1) > tab.row_count or c0 + max(n_cols, 1) > tab.col_count:
        if not grow:
            raise grid_limits(tab, a1.format_range(tab.title, r0, r0 + max(n_rows, 1),
                                                   c0, c0 + max(n_cols, 1)))
        tab.grid["rowCount"] = max(tab.row_count, r0 + n_rows)
        tab.grid["columnCount"] = max(tab.col_count, c0 + n_cols)
    cells = 0
    for i, row in enumerate(rows):
        for j, raw in enumerate(row):
            value = entered_value(raw, option)
            if value is False:
                continue  # null leaves the cell as it is
            tab.set_value(r0 + i, c0 + j, value)
            cells += 1
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if n_rows and n_cols:
        out.update({"updatedRange": a1.format_range(tab.title, r0, r0 + n_rows, c0, c0 + n_cols),
                    "updatedRows": n_rows, "updatedColumns": n_cols, "updatedCells": cells})
    else:
        out["updatedRange"] = a1.describe(tab.title, p)
    return out


def _with_data(out: dict[str, Any], tab: Tab, call: Call, include: Any, option: str | None) -> None:
    if include and out.get("updatedRows"):
        p = a1.parse(out["updatedRange"])
        out["updatedData"] = read(tab, p.row_start, p.row_end, p.col_start, p.col_end, "ROWS",
                                  option or "FORMATTED_VALUE")


def _input_option(value: Any) -> str:
    if not value or value == "INPUT_VALUE_OPTION_UNSPECIFIED":
        raise GoogleError(400, "'valueInputOption' is required but not specified")
    return value


def _check_body_range(body: dict[str, Any], url_range: str, book: Book) -> None:
    if body.get("range") and body["range"] != url_range:
        t1, p1 = book.resolve(body["range"])
        t2, p2 = book.resolve(url_range)
        if (t1.sheet_id, p1) != (t2.sheet_id, p2):
            raise GoogleError(400, f"Requested range [{url_range}] doesn't match the range in the "
                                   f"body [{body['range']}]")


@handles("sheets.spreadsheets.values.get")
def values_get(call: Call) -> dict[str, Any]:
    book = load(call)
    tab, p = book.resolve(call.params["range"])
    return read(tab, *bounds(tab, p), call.params.get("majorDimension") or "ROWS",
                call.params.get("valueRenderOption") or "FORMATTED_VALUE")


@handles("sheets.spreadsheets.values.batchGet")
def values_batch_get(call: Call) -> dict[str, Any]:
    book = load(call)
    out: dict[str, Any] = {"spreadsheetId": book.id}
    ranges = call.params.get("ranges") or []
    if ranges:
        found = []
        for text in ranges:
            tab, p = book.resolve(text)
            found.append(read(tab, *bounds(tab, p), call.params.get("majorDimension") or "ROWS",
                              call.params.get("valueRenderOption") or "FORMATTED_VALUE"))
        out["valueRanges"] = found
    return out


def _write_target(call: Call) -> tuple[Any, Any, dict[str, Any], Any, Any]:
    """What update and append both start from: the input option, the spreadsheet,
    the body (its range checked against the URL's) and the resolved range."""
    option = _input_option(call.params.get("valueInputOption"))
    book = load(call)
    body = call.body or {}
    _check_body_range(body, call.params["range"], book)
    tab, p = book.resolve(call.params["range"])
    return option, book, body, tab, p


@handles("sheets.spreadsheets.values.update")
def values_update(call: Call) -> dict[str, Any]:
    option, book, body, tab, p = _write_target(call)
    out = write(book, tab, p, body.get("values") or [], body.get("majorDimension") or "ROWS", option)
    _with_data(out, tab, call, call.params.get("includeValuesInResponse"),
               call.params.get("responseValueRenderOption"))
    book.save(call.db, call)
    return out


@handles("sheets.spreadsheets.values.batchUpdate")
def values_batch_update(call: Call) -> dict[str, Any]:
    body = call.body or {}
    option = _input_option(body.get("valueInputOption"))
    book = load(call)
    responses, sheets = [], set()
    for i, item in enumerate(body.get("data") or []):
        try:
            tab, p = book.resolve(item.get("range") or "")
            out = write(book, tab, p, item.get("values") or [], item.get("majorDimension") or "ROWS",
                        option)
        except GoogleError as err:
            if err.code != 400:
                raise
            raise GoogleError(400, f"Invalid data[{i}]: {err.message}") from None
        _with_data(out, tab, call, body.get("includeValuesInResponse"),
                   body.get("responseValueRenderOption"))
        sheets.add(tab.sheet_id)
        responses.append(out)
    result: dict[str, Any] = {"spreadsheetId": book.id}
    if responses:
        result.update({
            "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
            "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
            "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
            "totalUpdatedSheets": len(sheets), "responses": responses})
    book.save(call.db, call)
    return result


def _has_data(tab: Tab, r: int, c0: int, c1: int) -> bool:
    if r >= len(tab.rows):
        return False
    row = tab.rows[r]
    return any(row[c] and row[c].get("u") is not None for c in range(c0, min(c1, len(row))))


@handles("sheets.spreadsheets.values.append")
def values_append(call: Call) -> dict[str, Any]:
    option, book, body, tab, p = _write_target(call)
    r0, r1, c0, c1 = bounds(tab, p)
    if p.single_cell:
        c1 = tab.col_count  # a table anchored at one cell extends to its right
    # The table: the first row holding data in the range, and the rows under it
    # (even past the range's end) until an empty row.
    first = next((r for r in range(r0, min(r1, len(tab.rows))) if _has_data(tab, r, c0, c1)), None)
    result: dict[str, Any] = {"spreadsheetId": book.id}
    if first is None:
        at_row, at_col = r0, c0
    else:
        end = first
        while _has_data(tab, end + 1, c0, c1):
            end += 1
        cols = [c for r in range(first, end + 1) for c in range(c0, min(c1, len(tab.rows[r])))
                if tab.rows[r][c] and tab.rows[r][c].get("u") is not None]
        at_row, at_col = end + 1, min(cols)
        result["tableRange"] = a1.format_range(tab.title, first, end + 1, min(cols), max(cols) + 1)
    values = body.get("values") or []
    major = body.get("majorDimension") or "ROWS"
    n_rows = len(values) if major == "ROWS" else max((len(v) for v in values), default=0)
    if call.params.get("insertDataOption") == "INSERT_ROWS" and n_rows:
        try:
            sheets_requests.insert_dimension(book, tab, "ROWS", min(at_row, tab.row_count), n_rows)
        except sheets_requests.Refusal as why:
            raise GoogleError(400, str(why)) from None
    updates = write(book, tab, p, values, major, option, grow=True, anchor=(at_row, at_col))
    sheets_requests.check_cell_limit(book)
    _with_data(updates, tab, call, call.params.get("includeValuesInResponse"),
               call.params.get("responseValueRenderOption"))
    result["updates"] = updates
    book.save(call.db, call)
    return result


def _clear(book: Book, text: str) -> str:
    tab, p = book.resolve(text)
    r0, r1, c0, c1 = bounds(tab, p)
    for r in range(r0, min(r1, len(tab.rows))):
        for c in range(c0, min(c1, len(tab.rows[r]))):
            tab.set_value(r, c, None)  # values only: validation and notes stay
    return a1.format_range(tab.title, r0, r1, c0, c1)


@handles("sheets.spreadsheets.values.clear")
def values_clear(call: Call) -> dict[str, Any]:
    book = load(call)
    cleared = _clear(book, call.params["range"])
    book.save(call.db, call)
    return {"spreadsheetId": book.id, "clearedRange": cleared}


@handles("sheets.spreadsheets.values.batchClear")
def values_batch_clear(call: Call) -> dict[str, Any]:
    book = load(call)
    cleared = [_clear(book, text) for text in (call.body or {}).get("ranges") or []]
    book.save(call.db, call)
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if cleared:
        out["clearedRanges"] = cleared
    return out


def filter_blocks(book: Book, f: dict[str, Any]) -> list[tuple[Tab, int, int, int, int]]:
    """The blocks of cells a DataFilter selects (a1Range, gridRange or metadata lookup)."""
    if "a1Range" in f:
        tab, p = book.resolve(f["a1Range"])
        return [(tab, *bounds(tab, p))]
    if "gridRange" in f:
        try:
            return [sheets_requests.grid_bounds(book, f["gridRange"])]
        except sheets_requests.Refusal as why:
            raise GoogleError(400, str(why)) from None
    blocks = []
    for match in sheets_metadata.search_metadata(book, [f]):
        loc = match["developerMetadata"]["location"]
        if loc["locationType"] == "SHEET":
            tab = book.tab_by_id(loc["sheetId"])
            blocks.append((tab, 0, tab.row_count, 0, tab.col_count))
        elif loc["locationType"] in ("ROW", "COLUMN"):
            span = loc["dimensionRange"]
            tab = book.tab_by_id(span["sheetId"])
            if loc["locationType"] == "ROW":
                blocks.append((tab, span["startIndex"], span["endIndex"], 0, tab.col_count))
            else:
                blocks.append((tab, 0, tab.row_count, span["startIndex"], span["endIndex"]))
    return blocks


@handles("sheets.spreadsheets.values.batchGetByDataFilter")
def values_batch_get_by_data_filter(call: Call) -> dict[str, Any]:
    book = load(call)
    body = call.body or {}
    found = []
    for f in body.get("dataFilters") or []:
        for tab, r0, r1, c0, c1 in filter_blocks(book, f):
            found.append({"valueRange": read(tab, r0, r1, c0, c1, body.get("majorDimension") or "ROWS",
                                             body.get("valueRenderOption") or "FORMATTED_VALUE"),
                          "dataFilters": [f]})
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if found:
        out["valueRanges"] = found
    return out
