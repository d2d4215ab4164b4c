"""Sheets v4 model: workbooks (`Book`) of sheets (`Tab`) of typed cells, in SQLite.

Each request loads the whole workbook (`Book`), changes it in memory and
saves it back inside the request's transaction, so a refused request leaves
nothing behind.

Cells keep Google's `userEnteredValue` kinds (stringValue, numberValue,
boolValue, formulaValue) and, when one was set, their `userEnteredFormat`
(only `numberFormat` changes what a value reads as).

Formulas are never evaluated: read with `valueRenderOption=FORMULA` they
show their text; read with FORMATTED_VALUE or UNFORMATTED_VALUE they show
`#N/A`, which is what Google shows for a formula it cannot compute (e.g.
`=IMPORTXML(...)` of an unreachable URL). So a formula is always
distinguishable from text that merely starts with `=`.

USER_ENTERED input is parsed for the spreadsheet's `locale`, as Google parses
what a person types (developers.google.com/sheets/api/reference/rest/v4/
ValueInputOption: "The values will be parsed as if the user typed them into
the UI. Numbers will stay as numbers, but strings may be converted to
numbers, dates, etc."):

- numbers with the locale's separators (en_US `1,234.5`, vi_VN `1.234,5`);
  a grouped number gets the NUMBER format `#,##0` (`#,##0.00` with decimals)
  so it reads back grouped, as the Sheets UI shows it;
- percentages: `15%` is 0.15 with the PERCENT format `0%` (`0.00%` when
  typed with decimals);
- dates in the locale's order (en_US month/day/year, vi_VN and en_GB
  day/month/year; `yyyy-mm-dd` everywhere) become a date serial number
  (days since 1899-12-30, Google's epoch: ValueRenderOption/
  DateTimeRenderOption "SERIAL_NUMBER") with a DATE format: `M/d/yyyy` in
  en_US, `dd/MM/yyyy` in vi_VN and en_GB (the locales' short date forms).
  Dates without a year and times are not parsed (they stay text);
- a number too large for a double (`1e400`) stays the text typed, never
  infinity: Google's reference is silent, and spreadsheets keep such input as
  text (Excel documents the same for a typed number past 1E+308). A
  leading-zero phone number (`0912…`) becomes a number, as Google makes it
  (RAW keeps the text).

Locales other than en_US, en_GB and vi_VN parse and format as en_US.
FORMATTED_VALUE applies a cell's number format (DATE / TIME / DATE_TIME
patterns, NUMBER / PERCENT / CURRENCY / SCIENTIFIC patterns) with the
locale's separators; without a format numbers read in Google's "General"
form with the locale's decimal separator.

No handlers here: `sheets` (create/get and the Drive hooks), `sheets_values`,
`sheets_requests` and `sheets_metadata` build on this module.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import math
import random
import re
import sqlite3
from dataclasses import dataclass
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
CREATE TABLE IF NOT EXISTS sheets_tab_extras (
    book_id TEXT NOT NULL,
    sheet_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (book_id, sheet_id)
);
""")

# What Google answers for a spreadsheet nobody has restyled, copied from recorded
# spreadsheets.get responses (gspread's tests/cassettes, e.g.
# SpreadsheetTest.test_timezone_and_locale.json, 2023): the same in every locale.
DEFAULT_FORMAT: dict[str, Any] = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {"foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10,
                   "bold": False, "italic": False, "strikethrough": False, "underline": False,
                   "foregroundColorStyle": {"rgbColor": {}}},
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}


def _theme_color(kind: str, red: float | None = None, green: float | None = None,
                 blue: float | None = None) -> dict[str, Any]:
    rgb = {k: v for k, v in (("red", red), ("green", green), ("blue", blue)) if v is not None}
    return {"colorType": kind, "color": {"rgbColor": rgb}}


SPREADSHEET_THEME: dict[str, Any] = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        _theme_color("TEXT"),
        _theme_color("BACKGROUND", 1, 1, 1),
        _theme_color("ACCENT1", 0.25882354, 0.52156866, 0.95686275),
        _theme_color("ACCENT2", 0.91764706, 0.2627451, 0.20784314),
        _theme_color("ACCENT3", 0.9843137, 0.7372549, 0.015686275),
        _theme_color("ACCENT4", 0.20392157, 0.65882355, 0.3254902),
        _theme_color("ACCENT5", 1, 0.42745098, 0.003921569),
        _theme_color("ACCENT6", 0.27450982, 0.7411765, 0.7764706),
        _theme_color("LINK", 0.06666667, 0.33333334, 0.8),
    ],
}

# New spreadsheets: the creator's account settings. The sandbox's callers are
# service accounts, whose spreadsheets Google creates as en_US / Etc/GMT (every
# recorded service-account response above shows exactly that).
DEFAULT_LOCALE, DEFAULT_TIME_ZONE = "en_US", "Etc/GMT"


def not_found() -> GoogleError:
    return GoogleError(404, "Requested entity was not found.")


def bad_range(text: str) -> GoogleError:
    return GoogleError(400, f"Unable to parse range: {text}")


# -- the model ---------------------------------------------------------------
class Tab:
    """One sheet: properties, a sparse grid of cells, protected ranges, merges
    and the basic filter.

    A cell is None or a dict with any of `u` (userEnteredValue, Google's
    shape), `f` (userEnteredFormat), `dv` (dataValidation rule), `note`. Rows
    are trimmed lists. Merges are concrete (r0, r1, c0, c1) lists."""

    def __init__(self, props: dict[str, Any], rows: list[list[Any]] | None = None,
                 protected: list[dict[str, Any]] | None = None,
                 extras: dict[str, Any] | None = None):
        self.props = props
        self.rows: list[list[Any]] = rows or []
        self.protected = protected or []
        extras = extras or {}
        self.merges: list[list[int]] = extras.get("merges") or []
        self.basic_filter: dict[str, Any] | None = extras.get("basicFilter")

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

    @property
    def hidden(self) -> bool:
        return bool(self.props.get("hidden"))

    def extras(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.merges:
            out["merges"] = self.merges
        if self.basic_filter:
            out["basicFilter"] = self.basic_filter
        return out

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

    def number_format(self, r: int, c: int) -> dict[str, Any] | None:
        cell = self.cell(r, c)
        return (cell.get("f") or {}).get("numberFormat") if cell else None

    def set_value(self, r: int, c: int, value: dict[str, Any] | None,
                  number_format: dict[str, Any] | None = None) -> None:
        """Set a cell's value; `number_format` is what typing it implies, kept
        only where the cell has no number format yet (as in the Sheets UI)."""
        cell = dict(self.cell(r, c) or {})
        if value is None:
            cell.pop("u", None)
        else:
            cell["u"] = value
            if number_format and not (cell.get("f") or {}).get("numberFormat"):
                cell["f"] = {**(cell.get("f") or {}), "numberFormat": dict(number_format)}
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

    @property
    def locale(self) -> Locale:
        return locale_for(self.props.get("locale"))

    @classmethod
    def load(cls, db: sqlite3.Connection, book_id: str) -> Book:
        row = db.execute("SELECT props, metadata FROM sheets_books WHERE id = ?",
                         (book_id,)).fetchone()
        meta = drive.get_meta(db, book_id)
        if row is None or meta is None:
            raise not_found()
        extras = {r["sheet_id"]: json.loads(r["data"]) for r in
                  db.execute("SELECT sheet_id, data FROM sheets_tab_extras WHERE book_id = ?",
                             (book_id,))}
        tabs = [Tab(json.loads(t["props"]), json.loads(t["grid"]), json.loads(t["protected"]),
                    extras.get(t["sheet_id"]))
                for t in db.execute("SELECT sheet_id, props, grid, protected FROM sheets_tabs "
                                    "WHERE book_id = ?", (book_id,))]
        tabs.sort(key=lambda t: t.props["index"])
        return cls(book_id, meta["name"], json.loads(row["props"]), tabs,
                   json.loads(row["metadata"]))

    def save(self, db: sqlite3.Connection, call: Call | None = None) -> None:
        """Write the workbook back; with `call`, also record the edit in Drive."""
        db.execute("INSERT INTO sheets_books(id, props, metadata) VALUES (?, ?, ?) "
                   "ON CONFLICT(id) DO UPDATE SET props = excluded.props, metadata = excluded.metadata",
                   (self.id, _dump(self.props), _dump(self.metadata)))
        db.execute("DELETE FROM sheets_tabs WHERE book_id = ?", (self.id,))
        db.execute("DELETE FROM sheets_tab_extras WHERE book_id = ?", (self.id,))
        for i, tab in enumerate(self.tabs):
            tab.props["index"] = i
            tab.trim()
            db.execute("INSERT INTO sheets_tabs(book_id, sheet_id, props, grid, protected) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (self.id, tab.sheet_id, _dump(tab.props), _dump(tab.rows), _dump(tab.protected)))
            if tab.extras():
                db.execute("INSERT INTO sheets_tab_extras(book_id, sheet_id, data) VALUES (?, ?, ?)",
                           (self.id, tab.sheet_id, _dump(tab.extras())))
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


# Fields Google leaves out of SheetProperties / GridProperties when they are zero
# or false: a recorded response after `frozenRowCount: 0, frozenColumnCount: 0`
# shows neither (gspread tests/cassettes/WorksheetTest.test_freeze.json), while
# `sheetId: 0` and `index: 0` are always shown (every recorded response).
_OMITTED_WHEN_FALSE = ("hidden", "rightToLeft")
_GRID_OMITTED_WHEN_ZERO = ("frozenRowCount", "frozenColumnCount", "hideGridlines",
                           "rowGroupControlAfter", "columnGroupControlAfter")


def clean_sheet_props(props: dict[str, Any]) -> dict[str, Any]:
    """SheetProperties as Google shows them (zero/false fields left out), in place."""
    for key in _OMITTED_WHEN_FALSE:
        if key in props and not props[key]:
            del props[key]
    grid = props.get("gridProperties") or {}
    for key in _GRID_OMITTED_WHEN_ZERO:
        if key in grid and not grid[key]:
            del grid[key]
    return props


def new_tab(sheet_id: int, title: str, index: int, props: dict[str, Any] | None = None) -> Tab:
    """A sheet with Google's defaults (1000 x 26 grid) overlaid by `props`."""
    base: dict[str, Any] = {"sheetId": sheet_id, "title": title, "index": index, "sheetType": "GRID",
                            "gridProperties": {"rowCount": DEFAULT_ROWS, "columnCount": DEFAULT_COLUMNS}}
    for key, value in (props or {}).items():
        if key == "gridProperties":
            base["gridProperties"].update(value)
        elif key not in ("sheetId", "index"):
            base[key] = copy.deepcopy(value)
    return Tab(clean_sheet_props(base))


def load(call: Call) -> Book:
    return Book.load(call.db, call.params["spreadsheetId"])


def spreadsheet_properties(book: Book) -> dict[str, Any]:
    """SpreadsheetProperties as spreadsheets.get shows them, Google's defaults filled in."""
    props = copy.deepcopy(book.props)
    out: dict[str, Any] = {"title": book.title,
                           "locale": props.pop("locale", DEFAULT_LOCALE),
                           "autoRecalc": props.pop("autoRecalc", "ON_CHANGE"),
                           "timeZone": props.pop("timeZone", DEFAULT_TIME_ZONE),
                           "defaultFormat": props.pop("defaultFormat", copy.deepcopy(DEFAULT_FORMAT)),
                           "spreadsheetTheme": props.pop("spreadsheetTheme",
                                                         copy.deepcopy(SPREADSHEET_THEME))}
    props.pop("title", None)
    out.update(props)
    return out


# -- locales -----------------------------------------------------------------------
@dataclass(frozen=True)
class Locale:
    decimal: str
    group: str
    day_first: bool
    date_pattern: str


_LOCALES = {
    "en_US": Locale(".", ",", False, "M/d/yyyy"),
    "en_GB": Locale(".", ",", True, "dd/MM/yyyy"),
    "vi_VN": Locale(",", ".", True, "dd/MM/yyyy"),
}


def locale_for(name: Any) -> Locale:
    return _LOCALES.get(str(name or DEFAULT_LOCALE), _LOCALES["en_US"])


# -- cell values: parsing what a person types -------------------------------------------
EPOCH = dt.date(1899, 12, 30)  # serial 0 in Sheets (and Lotus 1-2-3)


def check_length(text: str) -> None:
    if len(text) > MAX_CELL_CHARS:
        raise GoogleError(400, "Your input contains more than the maximum of 50000 characters "
                               "in a single cell.")


def _number(text: str) -> int | float | None:
    value = float(text)
    if not math.isfinite(value):
        return None  # 1e400: not a number Sheets can hold, so it stays text
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


def _number_patterns(loc: Locale) -> tuple[re.Pattern[str], re.Pattern[str]]:
    d, g = re.escape(loc.decimal), re.escape(loc.group)
    plain = re.compile(rf"^[+-]?(?:\d+(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?$")
    grouped = re.compile(rf"^[+-]?\d{{1,3}}(?:{g}\d{{3}})+(?:{d}\d+)?$")
    return plain, grouped


def _parse_number(text: str, loc: Locale) -> tuple[int | float, bool, bool] | None:
    """(value, grouped, has decimals) of a number typed in `loc`, or None."""
    plain, grouped = _number_patterns(loc)
    is_grouped = bool(grouped.match(text))
    if not is_grouped and not plain.match(text):
        return None
    canonical = text.replace(loc.group, "") if is_grouped else text
    canonical = canonical.replace(loc.decimal, ".")
    value = _number(canonical)
    if value is None:
        return None
    return value, is_grouped, "." in canonical


_DATE = re.compile(r"^(\d{1,4})([/-])(\d{1,2})\2(\d{1,4})$")


def _parse_date(text: str, loc: Locale) -> tuple[int, str] | None:
    """(serial, pattern) of a date typed in `loc`, or None."""
    m = _DATE.match(text)
    if not m:
        return None
    a, sep, b, c = m.group(1), m.group(2), m.group(3), m.group(4)
    if len(a) == 4:               # 2024-11-22 or 2024/11/22: year first everywhere
        year, month, day, pattern = int(a), int(b), int(c), "yyyy-mm-dd" if sep == "-" else "yyyy/mm/dd"
        if len(c) > 2:
            return None
    else:
        if len(c) not in (2, 4) or len(b) > 2:
            return None
        first, second = int(a), int(b)
        day, month = (first, second) if loc.day_first else (second, first)
        year = int(c)
        if len(c) == 2:           # two-digit years: 00-29 are 2000s, 30-99 the 1900s
            year += 2000 if year < 30 else 1900
        pattern = loc.date_pattern
    try:
        moment = dt.date(year, month, day)
    except ValueError:
        return None
    return (moment - EPOCH).days, pattern


def parse_entered(raw: Any, option: str, locale: Locale | None = None
                  ) -> tuple[dict[str, Any] | None | bool, dict[str, Any] | None]:
    """(userEnteredValue, numberFormat typing it implies) for one input value.

    The value is None to clear the cell and False for null (leave it as it is)."""
    loc = locale or _LOCALES["en_US"]
    if raw is None:
        return False, None
    if isinstance(raw, bool):
        return {"boolValue": raw}, None
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise GoogleError(400, "Invalid JSON payload received. Numbers must be finite.")
        return {"numberValue": raw}, None
    text = str(raw)
    check_length(text)
    if text == "":
        return None, None
    if option == "RAW":
        return {"stringValue": text}, None
    if text.startswith("'"):
        return {"stringValue": text[1:]}, None
    if text.startswith("=") and len(text) > 1:
        return {"formulaValue": text}, None
    if text.upper() in ("TRUE", "FALSE"):
        return {"boolValue": text.upper() == "TRUE"}, None
    candidate = text.strip()
    if candidate.endswith("%"):
        parsed = _parse_number(candidate[:-1].rstrip(), loc)
        if parsed is not None:
            value, _, decimals = parsed
            scaled = _number(repr(value / 100))
            if scaled is not None:
                return {"numberValue": scaled}, {"type": "PERCENT",
                                                 "pattern": "0.00%" if decimals else "0%"}
        return {"stringValue": text}, None
    parsed = _parse_number(candidate, loc)
    if parsed is not None:
        value, grouped, decimals = parsed
        fmt = {"type": "NUMBER", "pattern": "#,##0.00" if decimals else "#,##0"} if grouped else None
        return {"numberValue": value}, fmt
    date = _parse_date(candidate, loc)
    if date is not None:
        return {"numberValue": date[0]}, {"type": "DATE", "pattern": date[1]}
    return {"stringValue": text}, None


# -- cell values: how they read ---------------------------------------------------------
def format_number(value: float, loc: Locale | None = None) -> str:
    """Google's "General" display of a number."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return str(value)
    text = ("%.15g" % value).replace("e+", "E+").replace("e-", "E-")
    return text.replace(".", loc.decimal) if loc else text


_DATE_TYPES = ("DATE", "TIME", "DATE_TIME")


def _default_pattern(kind: str, loc: Locale) -> str:
    return {"DATE": loc.date_pattern, "TIME": "h:mm:ss am/pm",
            "DATE_TIME": loc.date_pattern + " H:mm:ss", "PERCENT": "0.00%",
            "SCIENTIFIC": "0.00E+00", "CURRENCY": "#,##0.00"}.get(kind, "#,##0.00")


def _group(digits: str, sep: str) -> str:
    out = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def _literal(text: str) -> str:
    """A pattern's literal text: quotes and escapes removed, `[$₫]` as `₫`."""
    text = re.sub(r"\[\$([^\]-]*)(?:-[^\]]*)?\]", r"\1", text)
    text = re.sub(r'"([^"]*)"', r"\1", text)
    return re.sub(r"\\(.)", r"\1", text).replace("_", "").replace("*", "")


_CORE = re.compile(r"[#0?,]*[0#?](?:\.[0#?]*)?(?:[eE][+-]0+)?|\.[0#?]+")


def _format_with_pattern(value: float, pattern: str, loc: Locale) -> str:
    """A number under a NUMBER / PERCENT / CURRENCY / SCIENTIFIC pattern."""
    sections = pattern.split(";")
    negative = value < 0
    section = sections[0]
    if negative and len(sections) > 1 and sections[1]:
        section, value = sections[1], -value
        negative = False
    elif value == 0 and len(sections) > 2 and sections[2]:
        section = sections[2]
    unquoted = re.sub(r'"[^"]*"', "", section)
    value = abs(value) * (100 ** unquoted.count("%"))
    m = _CORE.search(re.sub(r'"[^"]*"', lambda q: "\x00" * len(q.group()), section))
    if m is None:
        return ("-" if negative else "") + _literal(section)
    core = m.group()
    prefix, suffix = _literal(section[:m.start()]), _literal(section[m.end():])
    exponent = None
    sci = re.search(r"[eE]([+-])(0+)$", core)
    if sci:
        core = core[:sci.start()]
        exponent = 0 if value == 0 else math.floor(math.log10(value))
        value = value / (10 ** exponent)
    int_part, _, frac_part = core.partition(".")
    min_dec = frac_part.count("0")
    max_dec = len(frac_part)
    text = f"{value:.{max_dec}f}"
    whole, _, frac = text.partition(".")
    while len(frac) > min_dec and frac.endswith("0"):
        frac = frac[:-1]
    min_int = int_part.replace(",", "").count("0")
    whole = whole.lstrip("0") or ""
    whole = whole.rjust(min_int, "0")
    if "," in int_part:
        whole = _group(whole, loc.group)
    number = whole + (loc.decimal + frac if frac else "")
    if exponent is not None:
        sign = "-" if exponent < 0 else "+"
        number += "E" + sign + str(abs(exponent)).rjust(len(sci.group(2)), "0")
    return ("-" if negative else "") + prefix + number + suffix


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DATE_TOKEN = re.compile(r'"[^"]*"|\\.|am/pm|AM/PM|a/p|A/P|y+|Y+|M+|m+|d+|D+|h+|H+|s+|S+|.', re.DOTALL)


def _format_date(serial: float, pattern: str) -> str:
    """A serial number under a DATE / TIME / DATE_TIME pattern (Google's tokens:
    developers.google.com/sheets/api/guides/formats#date_and_time_format_patterns)."""
    whole = math.floor(serial)
    seconds = round((serial - whole) * 86400)
    if seconds >= 86400:
        whole, seconds = whole + 1, seconds - 86400
    day = EPOCH + dt.timedelta(days=whole)
    hour, minute, second = seconds // 3600, seconds // 60 % 60, seconds % 60
    tokens = _DATE_TOKEN.findall(pattern)
    twelve = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    kinds = []
    for t in tokens:
        low = t.lower()
        kinds.append("h" if low[0] == "h" else "s" if low[0] == "s" else None)
    out = []
    for i, t in enumerate(tokens):
        low = t.lower()
        if t.startswith('"'):
            out.append(t[1:-1])
        elif t.startswith("\\"):
            out.append(t[1:])
        elif low in ("am/pm", "a/p"):
            label = "AM" if hour < 12 else "PM"
            out.append(label if low == "am/pm" else label[0])
        elif low[0] == "y":
            out.append(f"{day.year % 100:02d}" if len(t) <= 2 else f"{day.year:04d}")
        elif t[0] == "M" or (t[0] == "m" and not _is_minute(kinds, i)):
            n = len(t)
            out.append(str(day.month) if n == 1 else f"{day.month:02d}" if n == 2 else
                       _MONTHS[day.month - 1][:3] if n == 3 else _MONTHS[day.month - 1])
        elif t[0] == "m":
            out.append(str(minute) if len(t) == 1 else f"{minute:02d}")
        elif low[0] == "d":
            n = len(t)
            out.append(str(day.day) if n == 1 else f"{day.day:02d}" if n == 2 else
                       _DAYS[day.weekday()][:3] if n == 3 else _DAYS[day.weekday()])
        elif low[0] == "h":
            shown = (hour % 12 or 12) if twelve else hour
            out.append(str(shown) if len(t) == 1 else f"{shown:02d}")
        elif low[0] == "s":
            out.append(str(second) if len(t) == 1 else f"{second:02d}")
        else:
            out.append(t)
    return "".join(out)


def _is_minute(kinds: list[str | None], i: int) -> bool:
    """`m` is minutes right after an hour or right before seconds, else the month."""
    before = next((k for k in reversed(kinds[:i]) if k), None)
    after = next((k for k in kinds[i + 1:] if k), None)
    return before == "h" or after == "s"


def is_date_format(number_format: dict[str, Any] | None) -> bool:
    return bool(number_format) and number_format.get("type") in _DATE_TYPES


def format_value(number: float, number_format: dict[str, Any] | None, loc: Locale) -> str:
    """A number as FORMATTED_VALUE shows it under the cell's number format."""
    if not number_format or number_format.get("type") in (None, "NUMBER_FORMAT_TYPE_UNSPECIFIED",
                                                          "TEXT"):
        return format_number(number, loc)
    kind = number_format.get("type")
    pattern = number_format.get("pattern") or _default_pattern(kind, loc)
    if kind in _DATE_TYPES:
        try:
            return _format_date(number, pattern)
        except (OverflowError, ValueError):
            # A number no calendar date holds (a phone number typed over a date):
            # shown as the number, never an error for the whole tab.
            return format_number(number, loc)
    return _format_with_pattern(number, pattern, loc)


def render(value: dict[str, Any] | None, option: str, number_format: dict[str, Any] | None = None,
           loc: Locale | None = None, date_option: str | None = None) -> Any:
    """A cell value as values.get reports it under `valueRenderOption` (and, for
    dates under UNFORMATTED_VALUE / FORMULA, `dateTimeRenderOption`)."""
    loc = loc or _LOCALES["en_US"]
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
        if option == "FORMATTED_VALUE" or (date_option == "FORMATTED_STRING"
                                           and is_date_format(number_format)):
            return format_value(number, number_format, loc)
        return int(number) if isinstance(number, float) and number.is_integer() else number
    return None


def cell_data(cell: dict[str, Any] | None, loc: Locale | None = None) -> dict[str, Any]:
    """CellData as spreadsheets.get(includeGridData) shows it."""
    if not cell:
        return {}
    out: dict[str, Any] = {}
    value = cell.get("u")
    number_format = (cell.get("f") or {}).get("numberFormat")
    if value is not None:
        out["userEnteredValue"] = value
        if "formulaValue" in value:
            out["effectiveValue"] = {"errorValue": {"type": "N_A", "message":
                                                    "Formulas are not evaluated in the sandbox."}}
        else:
            out["effectiveValue"] = value
        out["formattedValue"] = render(value, "FORMATTED_VALUE", number_format, loc)
    if cell.get("f"):
        out["userEnteredFormat"] = copy.deepcopy(cell["f"])
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


def grid_range_json(sheet_id: int, r0: int, r1: int, c0: int, c1: int) -> dict[str, Any]:
    """A concrete GridRange as Google writes it: `sheetId` 0 left out, the
    indexes always there (recorded `merges`: gspread tests/cassettes/
    CellTest.test_merge_cells.json)."""
    out: dict[str, Any] = {"sheetId": sheet_id} if sheet_id else {}
    out.update({"startRowIndex": r0, "endRowIndex": r1, "startColumnIndex": c0, "endColumnIndex": c1})
    return out


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
    loc = book.locale
    rows = []
    for r in range(r0, min(r1, len(tab.rows))):
        values = [cell_data(tab.cell(r, c), loc) for c in range(c0, min(c1, len(tab.rows[r])))]
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


def sheet_json(book: Book, tab: Tab) -> dict[str, Any]:
    """A Sheet without grid data."""
    sheet: dict[str, Any] = {"properties": clean_sheet_props(copy.deepcopy(tab.props))}
    if tab.merges:
        sheet["merges"] = [grid_range_json(tab.sheet_id, *m) for m in tab.merges]
    if tab.protected:
        sheet["protectedRanges"] = copy.deepcopy(tab.protected)
    if tab.basic_filter:
        sheet["basicFilter"] = copy.deepcopy(tab.basic_filter)
    found = _metadata_at(book, "SHEET", tab.sheet_id)
    if found:
        sheet["developerMetadata"] = found
    return sheet


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
        sheet = sheet_json(book, tab)
        if grid:
            spans = wanted.get(tab.sheet_id) or [a1.A1Range(tab.title)]
            data = [_grid_data(book, tab, p.row_start or 0, min(p.row_end or tab.row_count, tab.row_count),
                               p.col_start or 0, min(p.col_end or tab.col_count, tab.col_count))
                    for p in spans]
            sheet = {"properties": sheet.pop("properties"), "data": data, **sheet}
        sheets.append(sheet)
    out: dict[str, Any] = {"spreadsheetId": book.id,
                           "properties": spreadsheet_properties(book),
                           "sheets": sheets,
                           "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit"}
    found = _metadata_at(book, "SPREADSHEET")
    if found:
        out["developerMetadata"] = found
    return out
