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
import re
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


# A column beyond this is not a column of the coordinating spreadsheet (Sheets' own limit is 18,278).
MAX_COLUMNS = 18_278
MAX_ROWS = 10_000_000
ASCII_INT = re.compile(r"[0-9]{1,9}")
# A text that Sheets would read as something else when typed (a number, a date,
# a formula, TRUE/FALSE, a percentage, a phone number's leading + or 0): shown
# in the editor with the apostrophe that keeps it text, as Sheets shows it.
WOULD_PARSE = re.compile(r"\s*([=+'-]|[0-9.,:/%\s-]+$|(true|false)\s*$)", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
        col = int(column) if ASCII_INT.fullmatch(column) and int(column) < grid.width else None

        def matches(row: Row) -> bool:
            texts = [row.cells[col].text] if col is not None else row.texts()
            return any(needle in _fold(t) for t in texts)
        shown = [r for r in grid.rows if r.number <= max(grid.frozen, 1) or matches(r)]
    return render_template("sheets.html", grid=grid, title=grid.title, rows=shown, titles=titles, letters=[
        col_letter(i) for i in range(grid.width)], wanted=wanted, column=column,
        hidden=_data_rows(grid, grid.rows) - _data_rows(grid, shown))


def _data_rows(grid: Grid, rows: list[Row]) -> int:
    """How many of `rows` hold something, below the header (the spare rows are not counted)."""
    return sum(1 for r in rows if r.ident and r.number > max(grid.frozen, 1))


# -- changes -------------------------------------------------------------------
class Moved(Exception):
    """The row seen is no longer in the tab (deleted, or changed beyond recognition)."""




FIELD_NAMES = {"r": "Số dòng", "c": "Số cột"}


class Refused(Exception):
    """A change asked for with values no page of the console sends: the
    sentence says what, in Vietnamese; nothing is written."""


def _int(source: Any, name: str, low: int, high: int) -> int:
    text = source.get(name, "")
    if not isinstance(text, str) or not ASCII_INT.fullmatch(text) or not low <= int(text) <= high:
        raise Refused(f"{FIELD_NAMES.get(name, name)} không hợp lệ.")
    return int(text)


@dataclass
class Where:
    """A cell or row as the page saw it, and where it is now."""
    title: str
    number: int          # the row as seen
    ident: str
    col: int
    grid: Grid           # the tab as it is now
    target: int          # the row now


def _where(source: Any, need_col: bool = True) -> Where:
    """The change's tab, row and column, all read and checked before anything
    is written; the row found again as it is now (Moved when it is gone)."""
    title = _nfc(source.get("trang", ""))
    number = _int(source, "r", 1, MAX_ROWS)
    col = _int(source, "c", 0, MAX_COLUMNS - 1) if need_col else 0
    ident = source.get("id", "")
    grid = _grid(_spreadsheet(), title) if title else None
    if grid is None:
        raise Refused(f"Không có trang {title!r} trong bảng tính.")
    if need_col and col >= max(grid.width + 1, 26):
        raise Refused(f"Cột {col_letter(col)} nằm ngoài trang {title}.")
    return Where(title, number, ident, col, grid, _locate(grid, number, ident))


def _locate(grid: Grid, number: int, ident: str) -> int:
    """Where the row seen as `number` (with `ident`) is now: the same number if
    it still is that row, else the one row with that ident; Moved otherwise."""
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


def _answer(title: str, message: str, category: str = "", **view: str) -> Any:
    """Say `message` on the grid's page: the page is shown anew (a change made
    through htmx reloads the page, so the sentence is seen rather than lost)."""
    flash(message, category)
    if request.headers.get("HX-Request"):
        return "", 200, {"HX-Refresh": "true"}
    return redirect(url_for("sheets.index", trang=title, **{k: v for k, v in view.items() if v}))


def _moved_answer(title: str) -> Any:
    return _answer(title, "Dòng này đã đổi chỗ, đổi nội dung hoặc bị xoá từ khi trang được mở (có thể một "
                          "công việc vừa ghi, hoặc ai đó vừa sắp xếp): chưa ghi gì; xem lại bảng tính rồi làm lại.",
                   "error")


def _refused(title: str, why: Refused) -> Any:
    if _nfc(title) not in {t["properties"]["title"] for t in _tabs(_spreadsheet())}:
        title = ""        # the page to come back to: the first tab
    return _answer(title, f"Không thực hiện được: {why} Chưa ghi gì; tải lại trang rồi làm lại.", "error")


def _google_failed(title: str, exc: APIError) -> Any:
    status = getattr(exc.response, "status_code", "?")
    return _answer(title, f"Bảng tính diễn tập từ chối thay đổi này (mã {status}): chưa ghi gì. Tải lại trang "
                          "rồi làm lại; nếu vẫn bị từ chối, báo cho kỹ thuật viên.", "error")


def _view_args(source: Any) -> dict[str, str]:
    """The filter the page had, kept across a change."""
    return {"loc": source.get("loc", ""), "cot": source.get("cot", "")}


def _cell_value(sheet: Any, title: str, number: int, col: int) -> dict[str, Any]:
    a1 = f"{quote_tab(title)}!{col_letter(col)}{number}"
    meta = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": a1, "fields": GRID_FIELDS})
    values = [v for d in meta["sheets"][0].get("data", []) for r in d.get("rowData", [])
              for v in (r.get("values") or [])]
    return values[0] if values else {}


def typed_text(value: dict[str, Any]) -> str:
    """What a person would type to get this cell again: a formula as a formula,
    a text that would be read as a number or a date with its apostrophe."""
    entered = value.get("userEnteredValue") or {}
    if "formulaValue" in entered:
        return entered["formulaValue"]
    if "stringValue" in entered:
        text = entered["stringValue"]
        return "'" + text if text and WOULD_PARSE.match(text) else text
    return value.get("formattedValue", "")


def _as_seen(source: Any) -> Any:
    """The cell the page shows, if its row is still where the page shows it;
    else the answer to give instead (refused, gone, or moved: reload)."""
    try:
        where = _where(source)
    except Refused as why:
        return _refused(source.get("trang", ""), why)
    except Moved:
        return _moved_answer(source.get("trang", ""))
    return where if where.target == where.number else _shifted(where)


@bp.get("/o")
def edit_cell() -> Any:
    """The cell, as an editor (value as typed, and its note)."""
    where = _as_seen(request.args)
    if not isinstance(where, Where):
        return where
    value = _cell_value(_spreadsheet(), where.title, where.target, where.col)
    return render_template("sheets_edit.html", where=where, typed=typed_text(value), note=value.get("note", ""),
                           a1=f"{col_letter(where.col)}{where.target}")


def _row_of(grid: Grid, number: int) -> Row:
    return next((r for r in grid.rows if r.number == number), None) or Row(
        number, [Cell() for _ in range(grid.width)], "")


@bp.get("/o/xem")
def show_cell() -> Any:
    """The row again, as shown (after Huỷ)."""
    where = _as_seen(request.args)
    if not isinstance(where, Where):
        return where
    return render_template("_sheets_row.html", grid=where.grid, row=_row_of(where.grid, where.target))


def _shifted(where: Where) -> Any:
    """The row is elsewhere now (a sort, a row inserted above): the page is out of date."""
    return _answer(where.title, f"Bảng tính vừa thay đổi (dòng {where.number} nay là dòng {where.target}, có "
                                f"thể do sắp xếp hoặc một công việc vừa ghi): trang đã được tải lại, hãy bấm "
                                f"lại vào ô cần sửa.", **_view_args(request.values))


@bp.post("/o")
def save_cell() -> Any:
    """Type a value (and a note) into a cell, or tick / untick a tick box; the
    answer is the cell as it is now (or its row: see the end)."""
    title = request.form.get("trang", "")
    try:
        where = _where(request.form)
    except Refused as why:
        return _refused(title, why)
    except Moved:
        return _moved_answer(title)
    sheet = _spreadsheet()
    a1 = f"{quote_tab(where.title)}!{col_letter(where.col)}{where.target}"
    wrote = ""
    try:
        if request.form.get("kind") == "check":
            ticked = request.form.get("v") is not None      # an unticked box sends nothing
            sheet.values_update(a1, params={"valueInputOption": "USER_ENTERED"}, body={"values": [[ticked]]})
        else:
            typed = request.form.get("v", "")
            # Only what the person changed is written: saving a note leaves the value as it was.
            if "shown" not in request.form or typed != request.form["shown"]:
                sheet.values_update(a1, params={"valueInputOption": "USER_ENTERED"},
                                    body={"values": [[CONTROL.sub("", typed)]]})
                wrote = "giá trị"
            note = request.form.get("note")
            if note is not None and note != request.form.get("note_shown", ""):
                sheet.batch_update({"requests": [{"updateCells": {
                    "range": {"sheetId": where.grid.sheet_id, "startRowIndex": where.target - 1,
                              "endRowIndex": where.target, "startColumnIndex": where.col,
                              "endColumnIndex": where.col + 1},
                    "rows": [{"values": [{"note": CONTROL.sub("", note)}]}], "fields": "note"}}]})
    except APIError as exc:
        if wrote:
            return _answer(where.title, f"Đã ghi giá trị ô {col_letter(where.col)}{where.target} nhưng bảng tính "
                                        f"diễn tập từ chối ghi chú (mã {getattr(exc.response, 'status_code', '?')}): "
                                        f"tải lại trang rồi ghi lại ghi chú.", "error")
        return _google_failed(where.title, exc)
    if where.target != where.number or not request.headers.get("HX-Request"):
        # The row had moved: the grid on screen is out of date, show it anew.
        return _answer(where.title, f"Đã ghi ô {col_letter(where.col)}{where.target} (dòng đã đổi chỗ "
                                    f"từ dòng {where.number}).", **_view_args(request.form))
    grid = _grid(sheet, where.title) or where.grid
    row = _row_of(grid, where.target)
    if row.ident == where.ident:
        # The row keeps its name: only this cell changes on screen (an editor
        # open elsewhere in the row stays open).
        cell = row.cells[where.col] if where.col < len(row.cells) else Cell()
        return render_template("sheets_cell.html", grid=grid, row=row, col=where.col, cell=cell)
    # Its name changed (a key typed into a new row; any value of a tab without
    # a key column): the whole row, so its next change finds it.
    return render_template("_sheets_row.html", grid=grid, row=row), 200, {
        "HX-Retarget": "closest tr", "HX-Reswap": "outerHTML"}


@bp.post("/sap-xep")
def sort() -> Any:
    """Sort the rows below the frozen header by one column (Sheets' "Sắp xếp trang tính")."""
    title = _nfc(request.form.get("trang", ""))
    try:
        col = _int(request.form, "c", 0, MAX_COLUMNS - 1)
        grid = _grid(_spreadsheet(), title) if title else None
        if grid is None:
            raise Refused(f"Không có trang {title!r} trong bảng tính.")
        if col >= grid.width:
            raise Refused(f"Cột {col_letter(col)} nằm ngoài trang {title}.")
    except Refused as why:
        return _refused(title, why)
    order = "DESCENDING" if request.form.get("thu_tu") == "za" else "ASCENDING"
    try:
        _spreadsheet().batch_update({"requests": [{"sortRange": {
            "range": {"sheetId": grid.sheet_id, "startRowIndex": max(grid.frozen, 1)},
            "sortSpecs": [{"dimensionIndex": col, "sortOrder": order}]}}]})
    except APIError as exc:
        return _google_failed(grid.title, exc)
    return _answer(grid.title, f"Đã sắp xếp trang {grid.title} theo cột {col_letter(col)} "
                               f"({'Z → A' if order == 'DESCENDING' else 'A → Z'}).", **_view_args(request.form))


@bp.post("/dong")
def row_change() -> Any:
    """Insert a row above, or delete, the row seen."""
    title = request.form.get("trang", "")
    action = request.form.get("lam")
    try:
        if action not in ("chen", "xoa"):
            raise Refused("Thao tác với dòng không hợp lệ.")
        where = _where(request.form, need_col=False)
        if where.target <= max(where.grid.frozen, 1):
            raise Refused("Không chèn hoặc xoá được dòng tiêu đề.")
    except Refused as why:
        return _refused(title, why)
    except Moved:
        return _moved_answer(title)
    span = {"sheetId": where.grid.sheet_id, "dimension": "ROWS", "startIndex": where.target - 1,
            "endIndex": where.target}
    try:
        if action == "chen":
            # Inserted above: it takes the look (tick boxes included) of the row below it, as Sheets does.
            _spreadsheet().batch_update({"requests": [{"insertDimension": {"range": span,
                                                                           "inheritFromBefore": False}}]})
            said = f"Đã chèn một dòng trống phía trên dòng {where.target} của trang {where.title}."
        else:
            _spreadsheet().batch_update({"requests": [{"deleteDimension": {"range": span}}]})
            said = f"Đã xoá dòng {where.target} của trang {where.title}."
    except APIError as exc:
        return _google_failed(where.title, exc)
    return _answer(where.title, said, **_view_args(request.form))
