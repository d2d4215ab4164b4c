"""Sheets v4 model: workbooks (`Book`) of sheets (`Tab`) of typed cells, in SQLite.

Each request loads the whole workbook (`Book`), changes it in memory and
saves it back inside the request's transaction, so a refused request leaves
nothing behind.

Cells keep Google's `userEnteredValue` kinds (stringValue, numberValue,
boolValue, formulaValue). Formulas are never evaluated: read with
`valueRenderOption=FORMULA` they show their text; read with FORMATTED_VALUE
or UNFORMATTED_VALUE they show `#N/A`, which is what Google shows for a
formula it cannot compute (e.g. `=IMPORTXML(...)` of an unreachable URL). So
a formula is always distinguishable from text that merely starts with `=`.

No handlers here: `sheets` (create/get and the Drive hooks), `sheets_values`,
`sheets_requests` and `sheets_metadata` build on this module.
"""
from __future__ import annotations

import copy
import json
import random
import re
import sqlite3
from typing import Any

from .. import a1
from ..errors import GoogleError
from ..store import register_schema
from . import Call, drive

MIME = "application/vnd.google-apps.spreadsheet"
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
MAX_CELL_CHARS = 50_000

register_schema("""
CREATE TABLE IF NOT EXISTS sheets_books (
    id TEXT PRIMARY KEY,
    props TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sheets_tabs (
    book_id TEXT NOT NULL,
    sheet_id INTEGER NOT NULL,
    props TEXT NOT NULL,
    grid TEXT NOT NULL,
    protected TEXT NOT NULL,
    PRIMARY KEY (book_id, sheet_id)
);
""")


def not_found() -> GoogleError:
    return GoogleError(404, "Requested entity was not found.")


def bad_range(text: str) -> GoogleError:
    return GoogleError(400, f"Unable to parse range: {text}")


# -- the model ---------------------------------------------------------------
class Tab:
    """One sheet: properties, a sparse grid of cells, protected ranges.

    A cell is None or a dict with any of `u` (userEnteredValue, Google's
    shape), `dv` (dataValidation rule), `note`. Rows are trimmed lists."""

    def __init__(self, props: dict[str, Any], rows: list[list[Any]] | None = None,
                 protected: list[dict[str, Any]] | None = None):
        self.props = props
        self.rows: list[list[Any]] = rows or []
        self.protected = protected or []

    @property
    def sheet_id(self) -> int:
        return self.props["sheetId"]

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def grid(self) -> dict[str, Any]:
        return self.props["gridProperties"]

    @property
    def row_count(self) -> int:
        return self.grid["rowCount"]

    @property
    def col_count(self) -> int:
        return self.grid["columnCount"]

    def cell(self, r: int, c: int) -> dict[str, Any] | None:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    def set_cell(self, r: int, c: int, cell: dict[str, Any] | None) -> None:
        if cell is not None and not cell:
            cell = None
        if cell is None and self.cell(r, c) is None:
            return
        while len(self.rows) <= r:
            self.rows.append([])
        row = self.rows[r]
        while len(row) <= c:
            row.append(None)
        row[c] = cell

    def value(self, r: int, c: int) -> dict[str, Any] | None:
        cell = self.cell(r, c)
        return cell.get("u") if cell else None

    def set_value(self, r: int, c: int, value: dict[str, Any] | None) -> None:
        cell = dict(self.cell(r, c) or {})
        if value is None:
            cell.pop("u", None)
        else:
            cell["u"] = value
        self.set_cell(r, c, cell)

    def trim(self) -> None:
        for row in self.rows:
            while row and row[-1] is None:
                row.pop()
        while self.rows and not self.rows[-1]:
            self.rows.pop()

    def last_data_extent(self) -> tuple[int, int]:
        """(rows, columns) up to the last cell holding a value."""
        n_rows = n_cols = 0
        for r, row in enumerate(self.rows):
            for c, cell in enumerate(row):
                if cell and cell.get("u") is not None:
                    n_rows, n_cols = max(n_rows, r + 1), max(n_cols, c + 1)
        return n_rows, n_cols


class Book:
    """A whole spreadsheet, loaded for one request."""

    def __init__(self, book_id: str, title: str, props: dict[str, Any], tabs: list[Tab],
                 metadata: list[dict[str, Any]]):
        self.id = book_id
        self.title = title
        self.props = props
        self.tabs = tabs
        self.metadata = metadata

    @classmethod
    def load(cls, db: sqlite3.Connection, book_id: str) -> "Book":
        row = db.execute("SELECT props, metadata FROM sheets_books WHERE id = ?",
                         (book_id,)).fetchone()
        meta = drive.get_meta(db, book_id)
        if row is None or meta is None:
            raise not_found()
        tabs = [Tab(json.loads(t["props"]), json.loads(t["grid"]), json.loads(t["protected"]))
                for t in db.execute("SELECT props, grid, protected FROM sheets_tabs WHERE book_id = ?",
                                    (book_id,))]
        tabs.sort(key=lambda t: t.props["index"])
        return cls(book_id, meta["name"], json.loads(row["props"]), tabs,
                   json.loads(row["metadata"]))

    def save(self, db: sqlite3.Connection, call: Call | None = None) -> None:
        """Write the workbook back; with `call`, also record the edit in Drive."""
        db.execute("INSERT INTO sheets_books(id, props, metadata) VALUES (?, ?, ?) "
                   "ON CONFLICT(id) DO UPDATE SET props = excluded.props, metadata = excluded.metadata",
                   (self.id, _dump(self.props), _dump(self.metadata)))
        db.execute("DELETE FROM sheets_tabs WHERE book_id = ?", (self.id,))
        for i, tab in enumerate(self.tabs):
            tab.props["index"] = i
            tab.trim()
            db.execute("INSERT INTO sheets_tabs(book_id, sheet_id, props, grid, protected) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (self.id, tab.sheet_id, _dump(tab.props), _dump(tab.rows), _dump(tab.protected)))
        meta = drive.get_meta(db, self.id)
        if meta is not None and meta["name"] != self.title:
            meta["name"] = self.title
            db.execute("UPDATE drive_files SET meta = ? WHERE id = ?", (_dump(meta), self.id))
        if call is not None:
            drive.touch(db, self.id, call)

    # -- lookups ---------------------------------------------------------
    def tab_by_title(self, title: str) -> Tab | None:
        return next((t for t in self.tabs if t.title == title), None)

    def tab_by_id(self, sheet_id: Any) -> Tab | None:
        return next((t for t in self.tabs if t.sheet_id == sheet_id), None)

    def new_sheet_id(self) -> int:
        used = {t.sheet_id for t in self.tabs}
        while True:  # Google gives added sheets large pseudo-random ids
            candidate = random.randint(1, 2_000_000_000)
            if candidate not in used:
                return candidate

    def resolve(self, text: str) -> tuple[Tab, a1.A1Range]:
        """The sheet and bounds a range names; 400 "Unable to parse range" otherwise."""
        try:
            parsed = a1.parse(text)
        except a1.A1Error:
            raise bad_range(text) from None
        tab = self.tabs[0] if parsed.sheet is None else self.tab_by_title(parsed.sheet)
        if tab is None:
            raise bad_range(text)
        return tab, parsed


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def new_tab(sheet_id: int, title: str, index: int, props: dict[str, Any] | None = None) -> Tab:
    """A sheet with Google's defaults (1000 x 26 grid) overlaid by `props`."""
    base: dict[str, Any] = {"sheetId": sheet_id, "title": title, "index": index, "sheetType": "GRID",
                            "gridProperties": {"rowCount": DEFAULT_ROWS, "columnCount": DEFAULT_COLUMNS}}
    for key, value in (props or {}).items():
        if key == "gridProperties":
            base["gridProperties"].update(value)
        elif key not in ("sheetId", "index"):
            base[key] = copy.deepcopy(value)
    return Tab(base)


def load(call: Call) -> Book:
    return Book.load(call.db, call.params["spreadsheetId"])


# -- cell values ---------------------------------------------------------------
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def check_length(text: str) -> None:
    if len(text) > MAX_CELL_CHARS:
        raise GoogleError(400, "Your input contains more than the maximum of 50000 characters "
                               "in a single cell.")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def entered_value(raw: Any, option: str) -> dict[str, Any] | None | bool:
    """userEnteredValue for one input value; None clears, False means skip (null)."""
    if raw is None:
        return False
    if isinstance(raw, bool):
        return {"boolValue": raw}
    if isinstance(raw, (int, float)):
        return {"numberValue": raw}
    text = str(raw)
    check_length(text)
    if text == "":
        return None
    if option == "RAW":
        return {"stringValue": text}
    if text.startswith("'"):
        return {"stringValue": text[1:]}
    if text.startswith("=") and len(text) > 1:
        return {"formulaValue": text}
    if text.upper() in ("TRUE", "FALSE"):
        return {"boolValue": text.upper() == "TRUE"}
    candidate = text.strip()
    if _GROUPED.match(candidate):  # en_US thousands separators: "1,234" is 1234
        candidate = candidate.replace(",", "")
    if _NUMBER.match(candidate):
        return {"numberValue": _number(candidate)}
    return {"stringValue": text}


def format_number(value: int | float) -> str:
    """Google's "General" display of a number."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return str(value)
    return ("%.15g" % value).replace("e+", "E+").replace("e-", "E-")


def render(value: dict[str, Any] | None, option: str) -> Any:
    """A cell value as values.get reports it under `valueRenderOption`."""
    if value is None:
        return None
    if "formulaValue" in value:
        return value["formulaValue"] if option == "FORMULA" else "#N/A"
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return value["boolValue"] if option != "FORMATTED_VALUE" else ("TRUE" if value["boolValue"] else "FALSE")
    if "numberValue" in value:
        number = value["numberValue"]
        if option == "FORMATTED_VALUE":
            return format_number(number)
        return int(number) if isinstance(number, float) and number.is_integer() else number
    return None


def cell_data(cell: dict[str, Any] | None) -> dict[str, Any]:
    """CellData as spreadsheets.get(includeGridData) shows it."""
    if not cell:
        return {}
    out: dict[str, Any] = {}
    value = cell.get("u")
    if value is not None:
        out["userEnteredValue"] = value
        if "formulaValue" in value:
            out["effectiveValue"] = {"errorValue": {"type": "N_A", "message":
                                                    "Formulas are not evaluated in the sandbox."}}
        else:
            out["effectiveValue"] = value
        out["formattedValue"] = render(value, "FORMATTED_VALUE")
    if cell.get("dv"):
        out["dataValidation"] = cell["dv"]
    if cell.get("note"):
        out["note"] = cell["note"]
    return out


# -- the Spreadsheet resource (spreadsheets.get) -------------------------------
def location_sheet(md: dict[str, Any]) -> int | None:
    """The sheetId a piece of developer metadata is anchored in (None: the spreadsheet)."""
    loc = md["location"]
    if loc["locationType"] == "SHEET":
        return loc["sheetId"]
    if loc["locationType"] in ("ROW", "COLUMN"):
        return loc["dimensionRange"]["sheetId"]
    return None


def _metadata_at(book: Book, kind: str, sheet_id: int | None = None) -> list[dict[str, Any]]:
    out = []
    for md in book.metadata:
        loc = md["location"]
        if loc["locationType"] == kind and (sheet_id is None or loc.get("sheetId") == sheet_id):
            out.append(md)
    return out


def _grid_data(book: Book, tab: Tab, r0: int, r1: int, c0: int, c1: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r0:
        data["startRow"] = r0
    if c0:
        data["startColumn"] = c0
    rows = []
    for r in range(r0, min(r1, len(tab.rows))):
        values = [cell_data(tab.cell(r, c)) for c in range(c0, min(c1, len(tab.rows[r])))]
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    while rows and not rows[-1]:
        rows.pop()
    if rows:
        data["rowData"] = rows

    def dim_meta(dim: str, start: int, end: int, size: int) -> list[dict[str, Any]]:
        out = []
        for i in range(start, end):
            entry: dict[str, Any] = {"pixelSize": size}
            found = [md for md in book.metadata if md["location"]["locationType"] == dim[:-1]
                     and md["location"]["dimensionRange"]["sheetId"] == tab.sheet_id
                     and md["location"]["dimensionRange"]["startIndex"] <= i
                     < md["location"]["dimensionRange"]["endIndex"]]
            if found:
                entry["developerMetadata"] = found
            out.append(entry)
        return out

    data["rowMetadata"] = dim_meta("ROWS", r0, r1, 21)
    data["columnMetadata"] = dim_meta("COLUMNS", c0, c1, 100)
    return data


def spreadsheet_json(book: Book, ranges: list[str] | None = None,
                     grid: bool = False) -> dict[str, Any]:
    """The Spreadsheet resource as spreadsheets.get returns it."""
    wanted: dict[int, list[a1.A1Range]] = {}
    for text in ranges or []:
        tab, parsed = book.resolve(text)
        wanted.setdefault(tab.sheet_id, []).append(parsed)
    sheets = []
    for tab in book.tabs:
        if ranges and tab.sheet_id not in wanted:
            continue  # `ranges` filters the sheet list itself
        sheet: dict[str, Any] = {"properties": copy.deepcopy(tab.props)}
        if tab.protected:
            sheet["protectedRanges"] = copy.deepcopy(tab.protected)
        found = _metadata_at(book, "SHEET", tab.sheet_id)
        if found:
            sheet["developerMetadata"] = found
        if grid:
            spans = wanted.get(tab.sheet_id) or [a1.A1Range(tab.title)]
            sheet["data"] = [_grid_data(book, tab, p.row_start or 0, min(p.row_end or tab.row_count, tab.row_count),
                                        p.col_start or 0, min(p.col_end or tab.col_count, tab.col_count))
                             for p in spans]
        sheets.append(sheet)
    out: dict[str, Any] = {"spreadsheetId": book.id,
                           "properties": {"title": book.title, **book.props},
                           "sheets": sheets,
                           "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit"}
    found = _metadata_at(book, "SPREADSHEET")
    if found:
        out["developerMetadata"] = found
    return out
