"""Bảng tính: every tab of the coordinating spreadsheet as a grid, changed as
a person changes it in Google Sheets: a typed cell is USER_ENTERED, a tick box
writes TRUE or FALSE, a note is the cell's note, sorting is Sheets' own
sortRange below the frozen header, rows are inserted and deleted with
insertDimension and deleteDimension. Every change goes through the Sheets
API of the sandbox as the event's contact, so a rehearsal takes the paths
the jobs see in production, sorting mid-run included.

The grid on screen is a snapshot, while a job may sort or write the sheet
meanwhile: each change names the row as it was seen (its key in a keyed tab,
else all its values) and is made on that row wherever it is now, or refused
with a sentence asking to reload, never made on another row."""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from gspread.exceptions import APIError

from workspace.table import col_letter, quote_tab

from ..state import console

bp = Blueprint("sheets", __name__, url_prefix="/bang-tinh")

# Empty rows shown below the data, to type a new row into (as Sheets shows more rows).
SPARE_ROWS = 3
GRID_FIELDS = ("sheets(properties(sheetId,title,index,gridProperties(rowCount,columnCount,frozenRowCount)),"
               "data(rowData(values(formattedValue,userEnteredValue,dataValidation(condition(type)),note,"
               "effectiveFormat(backgroundColor,horizontalAlignment)))))")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _fold(text: str) -> str:
    return " ".join(_nfc(text).split()).casefold()


@dataclass
class Cell:
    text: str = ""
    check: bool | None = None      # a tick box: ticked or not
    note: str = ""
    background: str = ""
    align: str = ""
    number: bool = False


@dataclass
class Row:
    number: int                    # the sheet's row number (1 = header)
    cells: list[Cell]
    ident: str = ""                # what names this row across a sort (see module doc)

    def texts(self) -> list[str]:
        return [c.text for c in self.cells]


@dataclass
class Grid:
    sheet_id: int
    title: str
    frozen: int
    width: int
    rows: list[Row] = field(default_factory=list)
    key_col: int | None = None     # the key column of a keyed tab


def _key_titles() -> dict[str, str]:
    """Tab title -> its key column's title, for the tabs the config knows."""
    sheets = console().config.sheets
    out = {}
    for name in sheets.names():
        table = sheets.table(name)
        if "key" in table.columns:
            out[_nfc(table.tab)] = table.columns["key"]
    return out


def _colour(fmt: dict[str, Any]) -> str:
    bg = fmt.get("backgroundColor")
    if not bg:
        return ""
    rgb = tuple(round(255 * float(bg.get(k, 0))) for k in ("red", "green", "blue"))
    return "" if rgb == (255, 255, 255) else "#%02x%02x%02x" % rgb


def _cell(value: dict[str, Any]) -> Cell:
    entered = value.get("userEnteredValue") or {}
    fmt = value.get("effectiveFormat") or {}
    cell = Cell(text=value.get("formattedValue", ""), note=value.get("note", ""), background=_colour(fmt),
                align=(fmt.get("horizontalAlignment") or "").lower(), number="numberValue" in entered)
    if ((value.get("dataValidation") or {}).get("condition") or {}).get("type") == "BOOLEAN":
        cell.check = entered.get("boolValue") is True or cell.text.upper() == "TRUE"
    return cell


def _ident(texts: list[str], key_col: int | None) -> str:
    if key_col is not None and key_col < len(texts) and texts[key_col].strip():
        return "k:" + _nfc(texts[key_col].strip())
    if not any(t.strip() for t in texts):
        return ""
    return "v:" + hashlib.sha256("\x1f".join(_nfc(t) for t in texts).encode()).hexdigest()[:20]


def _spreadsheet() -> Any:
    state = console()
    return state.staff().spreadsheet(state.config.google.spreadsheet_id)


def _tabs(sheet: Any) -> list[dict[str, Any]]:
    return sheet.fetch_sheet_metadata(params={"fields": "sheets(properties(sheetId,title,index))"})["sheets"]


def _grid(sheet: Any, title: str) -> Grid | None:
    """The tab as the person sees it: one spreadsheets.get with grid data."""
    try:
        meta = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": quote_tab(title),
                                                  "fields": GRID_FIELDS})
    except APIError as exc:
        if exc.response.status_code == 400:
            return None
        raise
    found = meta["sheets"][0]
    props = found["properties"]
    raw_rows = [(r.get("values") or []) for d in found.get("data", []) for r in d.get("rowData", [])]
    rows = [[_cell(v) for v in values] for values in raw_rows]
    while rows and not any(c.text or c.check or c.note for c in rows[-1]):
        rows.pop()
    width = max([len(r) for r in rows] + [1])
    # Trailing columns with nothing in them at all are not shown.
    while width > 1 and not any(len(r) >= width and (r[width - 1].text or r[width - 1].check is not None)
                                for r in rows):
        width -= 1
    frozen = props.get("gridProperties", {}).get("frozenRowCount", 0)
    header = [c.text.strip() for c in rows[0]] if rows else []
    key_title = _key_titles().get(_nfc(props["title"]))
    key_col = header.index(key_title) if key_title and key_title in header else None
    grid = Grid(sheet_id=props["sheetId"], title=props["title"], frozen=frozen, width=width, key_col=key_col)
    # A tick box column: its tick boxes continue into the spare rows, as Sheets shows them.
    check_cols = {i for r in rows[1:] for i, c in enumerate(r) if c.check is not None}
    spare = min(SPARE_ROWS, max(0, props.get("gridProperties", {}).get("rowCount", 0) - len(rows)))
    for n in range(len(rows) + spare):
        cells = (rows[n] if n < len(rows) else []) + [Cell() for _ in range(width)]
        cells = cells[:width]
        if n >= len(rows):
            for i in check_cols:
                cells[i] = Cell(check=False)
        texts = [c.text for c in cells]
        grid.rows.append(Row(number=n + 1, cells=cells, ident=_ident(texts, key_col)))
    return grid


@bp.get("")
def index() -> Any:
    sheet = _spreadsheet()
    tabs = sorted(_tabs(sheet), key=lambda s: s["properties"].get("index", 0))
    titles = [t["properties"]["title"] for t in tabs]
    title = request.args.get("trang") or (titles[0] if titles else "")
    if title not in titles:
        abort(404)
    grid = _grid(sheet, title)
    if grid is None:
        abort(404)
    wanted = request.args.get("loc", "").strip()
    column = request.args.get("cot", "")
    shown = grid.rows
    if wanted:
        needle = _fold(wanted)
        col = int(column) if column.isdigit() and int(column) < grid.width else None

        def matches(row: Row) -> bool:
            texts = [row.cells[col].text] if col is not None else row.texts()
            return any(needle in _fold(t) for t in texts)
        shown = [r for r in grid.rows if r.number <= max(grid.frozen, 1) or matches(r)]
    return render_template("sheets.html", grid=grid, title=grid.title, rows=shown, titles=titles, letters=[
        col_letter(i) for i in range(grid.width)], wanted=wanted, column=column,
        hidden=len(grid.rows) - len(shown))


# -- changes -------------------------------------------------------------------
class Moved(Exception):
    """The row seen is no longer in the tab (deleted, or changed beyond recognition)."""


def _locate(sheet: Any, title: str, number: int, ident: str) -> int:
    """Where the row seen as `number` (with `ident`) is now: the same number if
    it still is that row, else the one row with that ident; Moved otherwise."""
    grid = _grid(sheet, title)
    if grid is None:
        raise Moved()
    by_number = {r.number: r for r in grid.rows}
    here = by_number.get(number)
    if here is not None and here.ident == ident:
        return number
    if ident:
        found = [r.number for r in grid.rows if r.ident == ident]
        if len(found) == 1:
            return found[0]
    elif number > len(grid.rows):     # a blank row below everything shown: still blank
        return number
    raise Moved()


def _form_int(name: str) -> int:
    try:
        return int(request.form[name])
    except (KeyError, ValueError):
        abort(400)


def _moved_answer(title: str) -> Any:
    message = ("Dòng này đã đổi chỗ, đổi nội dung hoặc bị xoá từ khi trang được mở (có thể một công việc "
               "vừa ghi, hoặc ai đó vừa sắp xếp): chưa ghi gì; xem lại bảng tính rồi làm lại.")
    flash(message, "error")
    if request.headers.get("HX-Request"):
        return "", 200, {"HX-Refresh": "true"}
    return redirect(url_for("sheets.index", trang=title))


@bp.get("/o")
def edit_cell() -> Any:
    """The cell, as an editor (value as typed, and its note)."""
    title = request.args.get("trang", "")
    try:
        number, col = int(request.args["r"]), int(request.args["c"])
    except (KeyError, ValueError):
        abort(400)
    sheet = _spreadsheet()
    a1 = f"{quote_tab(title)}!{col_letter(col)}{number}"
    meta = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": a1, "fields": GRID_FIELDS})
    values = [v for d in meta["sheets"][0].get("data", []) for r in d.get("rowData", [])
              for v in (r.get("values") or [])]
    value = values[0] if values else {}
    entered = value.get("userEnteredValue") or {}
    typed = entered.get("formulaValue") or value.get("formattedValue", "")
    return render_template("sheets_edit.html", title=title, number=number, col=col,
                           ident=request.args.get("id", ""), typed=typed, note=value.get("note", ""),
                           a1=f"{col_letter(col)}{number}")


@bp.get("/o/xem")
def show_cell() -> Any:
    """The cell again, as shown (after Huỷ)."""
    title = request.args.get("trang", "")
    try:
        number, col = int(request.args["r"]), int(request.args["c"])
    except (KeyError, ValueError):
        abort(400)
    grid = _grid(_spreadsheet(), title)
    if grid is None:
        abort(404)
    row = next((r for r in grid.rows if r.number == number), None)
    cell = row.cells[col] if row is not None and col < len(row.cells) else Cell()
    return render_template("sheets_cell.html", title=title, row=row or Row(number, [], ""), col=col,
                           cell=cell, frozen=grid.frozen, sid=grid.sheet_id)


@bp.post("/o")
def save_cell() -> Any:
    """Type a value (and a note) into a cell, or tick / untick a tick box."""
    title = request.form.get("trang", "")
    number, col = _form_int("r"), _form_int("c")
    ident = request.form.get("id", "")
    sheet = _spreadsheet()
    try:
        target = _locate(sheet, title, number, ident)
    except Moved:
        return _moved_answer(title)
    a1 = f"{quote_tab(title)}!{col_letter(col)}{target}"
    if request.form.get("kind") == "check":
        value: Any = request.form.get("v") is not None      # an unticked box sends nothing
        sheet.values_update(a1, params={"valueInputOption": "USER_ENTERED"}, body={"values": [[value]]})
    else:
        sheet.values_update(a1, params={"valueInputOption": "USER_ENTERED"},
                            body={"values": [[request.form.get("v", "")]]})
        if "note" in request.form:
            sheet_id = _form_int("sid")
            sheet.batch_update({"requests": [{"updateCells": {
                "range": {"sheetId": sheet_id, "startRowIndex": target - 1, "endRowIndex": target,
                          "startColumnIndex": col, "endColumnIndex": col + 1},
                "rows": [{"values": [{"note": request.form.get("note", "")}]}], "fields": "note"}}]})
    if target != number or not request.headers.get("HX-Request"):
        # The row had moved: the grid on screen is out of date, show it anew.
        if request.headers.get("HX-Request"):
            return "", 200, {"HX-Refresh": "true"}
        return redirect(url_for("sheets.index", trang=title))
    grid = _grid(sheet, title)
    row = next((r for r in grid.rows if r.number == target), None) if grid else None
    cell = row.cells[col] if row is not None and col < len(row.cells) else Cell()
    return render_template("sheets_cell.html", title=title, row=row or Row(target, [], ident), col=col,
                           cell=cell, frozen=grid.frozen if grid else 1, sid=grid.sheet_id if grid else 0)


@bp.post("/sap-xep")
def sort() -> Any:
    """Sort the rows below the frozen header by one column (Sheets' "Sắp xếp trang tính")."""
    title = request.form.get("trang", "")
    sheet_id, col = _form_int("sid"), _form_int("c")
    order = "DESCENDING" if request.form.get("thu_tu") == "za" else "ASCENDING"
    sheet = _spreadsheet()
    grid = _grid(sheet, title)
    if grid is None:
        abort(404)
    sheet.batch_update({"requests": [{"sortRange": {
        "range": {"sheetId": sheet_id, "startRowIndex": max(grid.frozen, 1)},
        "sortSpecs": [{"dimensionIndex": col, "sortOrder": order}]}}]})
    flash(f"Đã sắp xếp trang {title} theo cột {col_letter(col)} "
          f"({'Z → A' if order == 'DESCENDING' else 'A → Z'}).")
    return redirect(url_for("sheets.index", trang=title))


@bp.post("/dong")
def row_change() -> Any:
    """Insert a row above, or delete, the row seen."""
    title = request.form.get("trang", "")
    sheet_id, number = _form_int("sid"), _form_int("r")
    action = request.form.get("lam")
    if action not in ("chen", "xoa"):
        abort(400)
    sheet = _spreadsheet()
    try:
        target = _locate(sheet, title, number, request.form.get("id", ""))
    except Moved:
        return _moved_answer(title)
    span = {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": target - 1, "endIndex": target}
    if action == "chen":
        # Inserted above: it takes the look (tick boxes included) of the row below it, as Sheets does.
        sheet.batch_update({"requests": [{"insertDimension": {"range": span, "inheritFromBefore": False}}]})
        flash(f"Đã chèn một dòng trống phía trên dòng {target} của trang {title}.")
    else:
        sheet.batch_update({"requests": [{"deleteDimension": {"range": span}}]})
        flash(f"Đã xoá dòng {target} của trang {title}.")
    return redirect(url_for("sheets.index", trang=title))
