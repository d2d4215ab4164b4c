"""Sheets v4 `spreadsheets.values.*`: reading and writing values by A1 range.

Shapes follow Google: reads omit trailing empty cells and rows (and `values`
altogether when nothing is there) and echo the range normalised
(`'Đăng ký'!A1:Z1000`); writes report updatedRange/Rows/Columns/Cells;
`update` refuses to write past the grid where `append` grows it.

Reads honour `valueRenderOption` and, for cells with a date/time number
format read unformatted, `dateTimeRenderOption` (FORMATTED_STRING gives the
date as shown). USER_ENTERED writes are parsed for the spreadsheet's locale
(see `sheets_model`).

`append` finds its table as Google's guide describes it
(developers.google.com/sheets/api/guides/values#append_values: "The input
range is used to search for existing data and find a 'table' within that
range. Values are appended to the next row of the table, starting with the
first column of the table"), see `find_table`.
"""
from __future__ import annotations

import json

from typing import Any

from .. import a1
from ..errors import GoogleError
from . import Call, handles, sheets_metadata, sheets_requests
from .sheets_model import Book, Tab, load, parse_entered, render


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


def read(tab: Tab, r0: int, r1: int, c0: int, c1: int, major: str, option: str,
         book: Book | None = None, date_option: str | None = None) -> dict[str, Any]:
    """A ValueRange of the block, shaped like values.get."""
    loc = book.locale if book is not None else None

    def shown(r: int, c: int) -> Any:
        return render(tab.value(r, c), option, tab.number_format(r, c), loc, date_option)

    last_row = min(r1, len(tab.rows))
    if major == "COLUMNS":
        width = min(c1, max((len(tab.rows[r]) for r in range(r0, last_row)), default=0))
        grid = [[shown(r, c) for r in range(r0, last_row)] for c in range(c0, width)]
    else:
        grid = [[shown(r, c) for c in range(c0, min(c1, len(tab.rows[r])))]
                for r in range(r0, last_row)]
    out: dict[str, Any] = {"range": a1.format_range(tab.title, r0, r1, c0, c1), "majorDimension": major}
    values = _trim(grid)
    if values:
        out["values"] = values
    return out


def _read_params(params: dict[str, Any]) -> tuple[str, str, str | None]:
    """(majorDimension, valueRenderOption, dateTimeRenderOption) of a read request."""
    return (params.get("majorDimension") or "ROWS", params.get("valueRenderOption") or "FORMATTED_VALUE",
            params.get("dateTimeRenderOption"))


def write(book: Book, tab: Tab, p: a1.A1Range, values: Any, major: str, option: str,
          grow: bool = False, anchor: tuple[int, int] | None = None) -> dict[str, Any]:
    """Write a ValueRange's values into the range; returns UpdateValuesResponse fields.

    `anchor` overrides the top-left cell (append); `grow` lets the grid grow
    instead of refusing to write past it (append does, update does not)."""
    if not isinstance(values, list) or any(not isinstance(v, list) for v in values):
        raise GoogleError(400, "Invalid values: expected a list of lists.")
    for i, row in enumerate(values):
        for j, raw in enumerate(row):
            if isinstance(raw, (list, dict)):
                # A cell holds a scalar; Google names the protobuf value it got.
                kind = "list_value" if isinstance(raw, list) else "struct_value"
                raise GoogleError(400, f"Invalid values[{i}][{j}]: {kind} {json.dumps(raw)}")
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
    loc = book.locale
    for i, row in enumerate(rows):
        for j, raw in enumerate(row):
            value, number_format = parse_entered(raw, option, loc)
            if value is False:
                continue  # null leaves the cell as it is
            tab.set_value(r0 + i, c0 + j, value, number_format)
            cells += 1
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if n_rows and n_cols:
        out.update({"updatedRange": a1.format_range(tab.title, r0, r0 + n_rows, c0, c0 + n_cols),
                    "updatedRows": n_rows, "updatedColumns": n_cols, "updatedCells": cells})
    else:
        out["updatedRange"] = a1.describe(tab.title, p)
    return out


def _with_data(out: dict[str, Any], book: Book, tab: Tab, include: Any, option: str | None,
               date_option: str | None = None) -> None:
    if include and out.get("updatedRows"):
        p = a1.parse(out["updatedRange"])
        out["updatedData"] = read(tab, p.row_start, p.row_end, p.col_start, p.col_end, "ROWS",
                                  option or "FORMATTED_VALUE", book, date_option)


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
    major, option, date_option = _read_params(call.params)
    return read(tab, *bounds(tab, p), major, option, book, date_option)


@handles("sheets.spreadsheets.values.batchGet")
def values_batch_get(call: Call) -> dict[str, Any]:
    book = load(call)
    out: dict[str, Any] = {"spreadsheetId": book.id}
    ranges = call.params.get("ranges") or []
    if ranges:
        found = []
        major, option, date_option = _read_params(call.params)
        for text in ranges:
            tab, p = book.resolve(text)
            found.append(read(tab, *bounds(tab, p), major, option, book, date_option))
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
    _with_data(out, book, tab, call.params.get("includeValuesInResponse"),
               call.params.get("responseValueRenderOption"), call.params.get("responseDateTimeRenderOption"))
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
        _with_data(out, book, tab, body.get("includeValuesInResponse"),
                   body.get("responseValueRenderOption"), body.get("responseDateTimeRenderOption"))
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


def tables(tab: Tab) -> list[tuple[int, int, int, int]]:
    """The sheet's tables, as (r0, r1, c0, c1): rectangles of data with nothing
    around them, found by growing each group of touching cells (diagonals
    included) until every cell next to its bounding box is empty. Empty rows
    and empty columns separate tables."""
    filled = {(r, c) for r, row in enumerate(tab.rows) for c, cell in enumerate(row)
              if cell and cell.get("u") is not None}
    boxes: list[list[int]] = []
    seen: set[tuple[int, int]] = set()
    for start in sorted(filled):
        if start in seen:
            continue
        seen.add(start)
        stack, box = [start], [start[0], start[0] + 1, start[1], start[1] + 1]
        while stack:
            r, c = stack.pop()
            box = [min(box[0], r), max(box[1], r + 1), min(box[2], c), max(box[3], c + 1)]
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nxt = (r + dr, c + dc)
                    if nxt in filled and nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
        boxes.append(box)
    changed = True
    while changed:  # bounding boxes that touch or overlap are one table
        changed = False
        joined: list[list[int]] = []
        for b in sorted(boxes):
            for a in joined:
                if a[0] <= b[1] and b[0] <= a[1] and a[2] <= b[3] and b[2] <= a[3]:
                    a[:] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])]
                    changed = True
                    break
            else:
                joined.append(b)
        boxes = joined
    return [tuple(b) for b in boxes]  # type: ignore[misc]


def find_table(tab: Tab, r0: int, r1: int, c0: int, c1: int) -> tuple[int, int, int, int] | None:
    """The table values.append appends to, for the search range [r0, r1) x [c0, c1).

    Google's guide (developers.google.com/sheets/api/guides/values#append_values)
    gives a sheet with the tables A1:C2 and B4:D6 and says where appended values
    begin: at B7 for `Sheet1` ("determine that the table at B4:D6 is the last
    table"), for `B4` and `C5:D5` (in that table), for `B2:D4` and `A3:G10`
    ("the last table in the range"); at A3 for `A1` (in A1:C2); at E4 for `E4`
    and at A4 for `A4` ("not in any table"). So: the tables the range touches
    are found, the last one is taken, and with none the values go at the
    range's first cell. The real API recorded by gspread (tests/cassettes/
    WorksheetTest.test_append_row_with_empty_value*.json) shows the same with a
    gap column: after A1 and C1 are filled (B1 empty), appending to `Sheet1`
    gives tableRange `Sheet1!C1` and writes C2:E2, appending to `Sheet1!A1`
    gives tableRange `Sheet1!A1` and writes A2:C2; an empty sheet gives no
    tableRange at all.

    Where the guide is silent the sandbox decides: a table is a rectangle of
    data surrounded by empty cells (a gap row or a gap column splits it); a
    cell inside a table's rectangle is "in" it even when that cell is empty
    (an empty anchor cell in a header row finds its table); "last" is the
    table that ends lowest, then furthest right."""
    found = [t for t in tables(tab) if t[0] < r1 and r0 < t[1] and t[2] < c1 and c0 < t[3]]
    if not found:
        return None
    return max(found, key=lambda t: (t[1], t[3], t[0], t[2]))


@handles("sheets.spreadsheets.values.append")
def values_append(call: Call) -> dict[str, Any]:
    option, book, body, tab, p = _write_target(call)
    r0, r1, c0, c1 = bounds(tab, p)
    table = find_table(tab, r0, r1, c0, c1)
    result: dict[str, Any] = {"spreadsheetId": book.id}
    if table is None:
        at_row, at_col = r0, c0
    else:
        at_row, at_col = table[1], table[2]
        result["tableRange"] = a1.format_range(tab.title, table[0], table[1], table[2], table[3])
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
    _with_data(updates, book, tab, call.params.get("includeValuesInResponse"),
               call.params.get("responseValueRenderOption"), call.params.get("responseDateTimeRenderOption"))
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
    major, option, date_option = _read_params(body)
    for f in body.get("dataFilters") or []:
        for tab, r0, r1, c0, c1 in filter_blocks(book, f):
            found.append({"valueRange": read(tab, r0, r1, c0, c1, major, option, book, date_option),
                          "dataFilters": [f]})
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if found:
        out["valueRanges"] = found
    return out
