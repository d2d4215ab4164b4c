"""Keyed sheet tables: a tab read in one call into records by header, and a set
of changes written back in one batch.

Rows are found by their key, never by a remembered row number: staff sort,
filter, insert and delete rows at any time, also while a job runs. Writing
re-reads the tab first, touches only the cells of the columns the job owns
whose value really changes, then reads the tab again to verify that every
written cell sits beside its key (a sort between the two requests would
have moved rows under the write) and repairs what moved. New keys are
appended at the end, never twice (an append whose answer is lost is checked
by re-reading the keys, not repeated blindly); nothing is ever deleted.
Values are RAW, so a `=FORMULA` typed into a form stays text. Every failure
of a Google call leaves as an ApiError (workspace.google_errors).
"""
from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import gspread

from .config import OPTIONAL_COLUMNS, TICK_BOXES
from .config import Table as TableConfig
from .errors import ApiError, SheetSchemaError
from .google_errors import google_call
from .retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger(__name__)
# The rows an append wrote, from its answer's updatedRange ("'Đăng ký'!A12:Q15").
UPDATED_ROWS = re.compile(r"![A-Z]+(\d+)(?::[A-Z]+(\d+))?$")

# What staff type into a tick-box column instead of ticking it, all meaning yes.
_TICKED = {"true", "x", "có", "co", "yes", "y", "1", "✓", "✔", "☑"}
_REPAIR_ROUNDS = 3
# Passed as a copy each time: gspread adds its own keys (`ranges`) to the dict it is given.
_READ_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING"}


def ticked(value: Any) -> bool:
    """A staff tick box is ticked (TRUE), or holds what people type instead (x, có, 1, ✓)."""
    if isinstance(value, bool):
        return value
    return " ".join(unicodedata.normalize("NFC", str(value or "")).split()).casefold() in _TICKED


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


# What a cell shows when its formula fails (Google Sheets' error values).
ERROR_VALUES = frozenset({"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NUM!", "#NULL!",
                          "#ERROR!", "#SPILL!", "#CALC!"})


def is_error_value(value: Any) -> bool:
    """A cell whose formula failed (`#N/A`, `#REF!`, …): it holds no usable value."""
    return isinstance(value, str) and value.strip().upper() in ERROR_VALUES


def quote_tab(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def cell_text(value: Any) -> str:
    """How a value reads in the sheet, for comparing old and new."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value))


@dataclass
class Record:
    key: str
    row: int                      # 1-based sheet row at read time (for messages only)
    values: dict[str, str]
    raw: dict[str, Any] = field(default_factory=dict)   # unformatted: numbers stay numbers

    def __getitem__(self, field_name: str) -> str:
        return self.values.get(field_name, "")


@dataclass
class Snapshot:
    header: list[str]
    columns: dict[str, int]        # field -> 0-based column index
    records: list[Record]
    by_key: dict[str, Record] = field(default_factory=dict)
    blank_keys: list[int] = field(default_factory=list)   # rows with data but no key
    duplicate_keys: list[str] = field(default_factory=list)
    row_keys: dict[int, str] = field(default_factory=dict)  # sheet row -> its key ("" for none)
    cells: dict[tuple[int, str], Any] = field(default_factory=dict)  # (row, field) -> raw value


@dataclass
class WriteResult:
    updated_cells: int = 0
    inserted_rows: int = 0
    missing_keys: list[str] = field(default_factory=list)  # rows deleted by staff meanwhile
    # Rows added by someone while the job wrote, onto which a value of the job's
    # landed: it was emptied again, but what the cell held before is unknown.
    unsure_rows: list[str] = field(default_factory=list)


class KeyedTable:
    """One tab of the coordinating spreadsheet, addressed by its key column."""

    def __init__(self, spreadsheet: gspread.Spreadsheet, config: TableConfig, name: str = ""):
        self.spreadsheet = spreadsheet
        self.config = config
        self.name = name or config.tab
        self.tab = unicodedata.normalize("NFC", config.tab)
        self.optional = OPTIONAL_COLUMNS.get(self.name, set())

    @property
    def policy(self) -> RetryPolicy:
        # gspread 6 keeps the HTTP client (ours, carrying the policy) as `.client`.
        return getattr(getattr(self.spreadsheet, "client", None), "policy", DEFAULT_POLICY)

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        """Around this tab's Google calls: failures leave as ApiError, and a tab
        that is not in the spreadsheet as a SheetSchemaError naming it."""
        try:
            with google_call(what):
                yield
        except ApiError as exc:
            if exc.kind != "missing_tab":
                raise
            raise self.missing() from exc

    def missing(self) -> SheetSchemaError:
        """The located problem of a tab that is not in the spreadsheet."""
        return SheetSchemaError(
            f"Bảng tính không có trang '{self.tab}': thêm lại trang này (dòng 1 là tiêu đề các "
            f"cột) hoặc sửa sheets.{self.name}.tab trong config.yaml; chạy `python run.py check` "
            f"để kiểm tra mọi trang.")

    # -- reading -----------------------------------------------------------
    def read(self) -> Snapshot:
        """The whole tab in one request, as records keyed by the key column."""
        with self._call(f"đọc trang {self.tab}"):
            result = self.spreadsheet.values_get(quote_tab(self.tab), params=dict(_READ_PARAMS))
        return self.parse(result.get("values", []))

    def parse(self, rows: list[list[Any]]) -> Snapshot:
        """Records from the tab's values (header row first); a missing required
        header is a SheetSchemaError that says how to fix it."""
        header = [cell_text(h).strip() for h in (rows[0] if rows else [])]
        positions = {label: i for i, label in reversed(list(enumerate(header))) if label}
        missing = [label for f, label in self.config.columns.items()
                   if label not in positions and f not in self.optional]
        if missing:
            raise SheetSchemaError(
                f"Trang '{self.tab}' không có cột {', '.join(repr(m) for m in missing)}: thêm tiêu "
                f"đề ở dòng 1, hoặc sửa tên cột trong config.yaml (sheets.{self.name}.columns).")
        mapped = set(self.config.columns.values())
        twice = {label: [col_letter(i) for i, h in enumerate(header) if h == label]
                 for label in mapped if header.count(label) > 1}
        if twice:
            where = "; ".join(f"'{label}' ở các cột {', '.join(cols)}" for label, cols in sorted(twice.items()))
            raise SheetSchemaError(
                f"Trang '{self.tab}' có tiêu đề cột lặp lại ({where}): đổi tên hoặc xoá cột thừa để "
                f"chỉ còn một cột mỗi tên, rồi chạy lại (công cụ không đoán cột nào đúng).")
        columns = {f: positions[label] for f, label in self.config.columns.items() if label in positions}
        snap = Snapshot(header=header, columns=columns, records=[])
        for n, raw in enumerate(rows[1:], start=2):
            cells = [cell_text(c) for c in raw]
            values = {f: (cells[i] if i < len(cells) else "") for f, i in columns.items()}
            raw_values = {f: (raw[i] if i < len(raw) else "") for f, i in columns.items()}
            key = values["key"].strip()
            snap.row_keys[n] = key
            for f, value in raw_values.items():
                snap.cells[(n, f)] = value
            if not key:
                if any(c.strip() for c in cells):
                    snap.blank_keys.append(n)
                continue
            record = Record(key=key, row=n, values=values, raw=raw_values)
            if key in snap.by_key:
                snap.duplicate_keys.append(key)
                continue
            snap.records.append(record)
            snap.by_key[key] = record
        return snap

    # -- writing -----------------------------------------------------------
    def write(self, updates: Mapping[str, Mapping[str, Any]], inserts: Iterable[Mapping[str, Any]] = (),
              owned: Iterable[str] = ()) -> WriteResult:
        """Apply `updates` (key -> {field: value}) to the owned columns of existing
        rows and append `inserts` (full records with a `key`). Requests: one read,
        then one write and one verifying read (a repair round more only if staff
        moved rows meanwhile), and one append. Only cells whose text changes are
        written, and only those cells are ever repaired: other rows are not touched."""
        owned = set(owned)
        stray = {f for change in updates.values() for f in change} - owned
        if stray:
            raise ValueError(f"job tried to write columns it does not own: {sorted(stray)}")
        inserts = list(inserts)
        if not updates and not inserts:
            return WriteResult()
        with self._call(f"ghi trang {self.tab}"):
            return self._write(updates, inserts)

    def _write(self, updates: Mapping[str, Mapping[str, Any]], inserts: list[Mapping[str, Any]]
               ) -> WriteResult:
        result = WriteResult()
        snap = self.read()  # re-read: rows may have moved since the job decided
        result.missing_keys = [k for k in updates if k not in snap.by_key]
        first = snap
        targets = {(key, f): _raw(value) for key, change in updates.items() if key in snap.by_key
                   for f, value in change.items() if f in snap.columns}
        for _ in range(_REPAIR_ROUNDS):
            writes = [(snap.by_key[key].row, f, key, value) for (key, f), value in targets.items()
                      if key in snap.by_key and cell_text(value) != snap.by_key[key][f]]
            if not writes:
                break
            self._put([(row, f, value) for row, f, _, value in writes], snap.columns)
            result.updated_cells += len(writes)
            snap = self.read()  # verify: a sort between read and write moves rows under us
            # A value that landed on a row which moved away from its key is taken
            # back: the cell gets what that row's own key held before (known from
            # the first read), or is emptied on a row without a key. Only cells
            # still holding the job's value are touched: a later edit stays.
            undo = []
            for row, f, key, value in writes:
                now = snap.row_keys.get(row)
                if now is None or now == key or cell_text(snap.cells.get((row, f))) != cell_text(value):
                    continue
                if now in first.by_key:
                    undo.append((row, f, first.by_key[now].raw.get(f, "")))
                else:  # a row added meanwhile: its cell in the job's column is emptied
                    undo.append((row, f, ""))
                    if now:
                        result.unsure_rows.append(now)
            if undo:
                self._put(undo, snap.columns)
                snap = self.read()
        else:
            if any(key in snap.by_key and cell_text(v) != snap.by_key[key][f] for (key, f), v in targets.items()):
                raise ApiError(f"Trang '{self.tab}' liên tục thay đổi trong lúc công việc ghi vào; "
                               f"không mất dữ liệu nào: chạy lại công việc khi không ai đang sắp xếp "
                               f"trang này.")
        new = [r for r in inserts if cell_text(r.get("key")) not in snap.by_key]
        result.inserted_rows = self._append(snap.columns, new)
        return result

    def _put(self, cells: list[tuple[int, str, Any]], columns: Mapping[str, int]) -> None:
        """Write (row, field, value) cells in one request, RAW."""
        data = [{"range": f"{quote_tab(self.tab)}!{col_letter(columns[f])}{row}", "values": [[_raw(v)]]}
                for row, f, v in cells]
        self.spreadsheet.values_batch_update({"valueInputOption": "RAW", "data": data})

    def put(self, snap: Snapshot, rows: Mapping[int, Mapping[str, Any]]) -> None:
        """Write these cells (row number -> field -> value) of rows read in
        `snap`, in one request, with no check or repair: for a caller that
        reads back what it wrote (a lease) and must not overwrite twice."""
        cells = [(row, f, v) for row, change in rows.items() for f, v in change.items()]
        if cells:
            with self._call(f"ghi trang {self.tab}"):
                self._put(cells, snap.columns)

    # -- looks -------------------------------------------------------------
    def checkboxes(self, field_name: str) -> None:
        """Make the column of `field_name` tick boxes below the header, as Insert >
        Checkbox does: a BOOLEAN data validation."""
        with self._call(f"tạo ô đánh dấu ở trang {self.tab}"):
            snap = self.parse(self.spreadsheet.values_get(f"{quote_tab(self.tab)}!1:1").get("values", []))
            col = snap.columns[field_name]
            sheet_id = self.spreadsheet.worksheet(self.tab).id
            self.spreadsheet.batch_update({"requests": [{"setDataValidation": {
                # No end row: to the end of the grid (GridRange's unbounded side).
                "range": {"sheetId": sheet_id, "startRowIndex": 1,
                          "startColumnIndex": col, "endColumnIndex": col + 1},
                "rule": {"condition": {"type": "BOOLEAN"}, "showCustomUi": True}}}]})

    def shade(self, keys: Mapping[str, bool]) -> None:
        """Paint the rows of these keys red (True), or back to plain (False): a
        line staff cannot miss. Found by key just before; a row's format moves
        with it when staff sort."""
        with self._call(f"tô màu trang {self.tab}"):
            snap = self.read()
            sheet_id = self.spreadsheet.worksheet(self.tab).id
            requests = []
            for key, on in keys.items():
                record = snap.by_key.get(key)
                if record is None:
                    continue
                fmt = ({"backgroundColor": {"red": 0.96, "green": 0.8, "blue": 0.8},
                        "textFormat": {"foregroundColor": {"red": 0.6, "green": 0.0, "blue": 0.0},
                                       "bold": True}} if on else {})
                requests.append({"repeatCell": {
                    "range": {"sheetId": sheet_id, "startRowIndex": record.row - 1,
                              "endRowIndex": record.row, "startColumnIndex": 0,
                              "endColumnIndex": max(len(snap.header), 1)},
                    "cell": {"userEnteredFormat": fmt},
                    "fields": "userEnteredFormat(backgroundColor,textFormat)"}})
            if requests:
                self.spreadsheet.batch_update({"requests": requests})

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records without comparing them with the rows already there (the
        run log: every run adds a row). One request for the header, one for the rows."""
        records = list(records)
        if not records:
            return 0
        with self._call(f"ghi trang {self.tab}"):
            header = self.spreadsheet.values_get(f"{quote_tab(self.tab)}!1:1").get("values", [[]])
            snap = self.parse(header[:1] or [[]])
            return self._append(snap.columns, records)

    def _append(self, columns: Mapping[str, int], records: list[Mapping[str, Any]]) -> int:
        """Append rows once, then give the new rows the tab's tick boxes (TICK_BOXES)."""
        rows: list[int] = []
        count = self._append_once(columns, records, rows)
        ticks = [columns[f] for f in TICK_BOXES.get(self.name, ()) if f in columns]
        if rows and ticks:
            self._tick_boxes(ticks, min(rows), max(rows))
        return count

    def _tick_boxes(self, cols: Sequence[int], first: int, last: int) -> None:
        """Tick boxes in these columns of sheet rows first..last, the rows just
        appended (one request, whatever their number): rows inserted by
        INSERT_ROWS may come in without the column's tick boxes, and staff tick
        the rows a job adds. Only those rows: a rule staff set elsewhere in the
        column stays theirs. Best effort: the rows are in, so a refusal here is
        logged and the job goes on (the box can be added by hand, Chèn > Hộp kiểm)."""
        try:
            with self._call(f"tạo ô đánh dấu ở trang {self.tab}"):
                sheet_id = self.spreadsheet.worksheet(self.tab).id
                self.spreadsheet.batch_update({"requests": [{"setDataValidation": {
                    "range": {"sheetId": sheet_id, "startRowIndex": first - 1, "endRowIndex": last,
                              "startColumnIndex": c, "endColumnIndex": c + 1},
                    "rule": {"condition": {"type": "BOOLEAN"}, "showCustomUi": True}}} for c in cols]})
        except (ApiError, SheetSchemaError, gspread.exceptions.WorksheetNotFound) as exc:
            log.warning("tick boxes not added to the rows appended to a tab: %s", exc)

    def _append_once(self, columns: Mapping[str, int], records: list[Mapping[str, Any]],
                     rows: list[int]) -> int:
        """Append rows once. A refused append is tried again by the retry policy
        (Google did not apply it); after an unclear answer (5xx, a timeout) the
        keys are read back and only the rows still missing are sent again.
        The sheet rows the records landed on are added to `rows` where known."""
        if not records:
            return 0
        width = max(columns.values()) + 1
        pending = []
        for rec in records:
            row: list[Any] = [""] * width
            for f, i in columns.items():
                if f in rec:
                    row[i] = _raw(rec[f])
            pending.append((cell_text(rec.get("key")), row))
        policy = self.policy
        for attempt in range(policy.attempts):
            try:
                with self._call(f"thêm dòng vào trang {self.tab}"):
                    # Google finds the table that starts at A1 and appends below its last row.
                    answer = self.spreadsheet.values_append(
                        f"{quote_tab(self.tab)}!A1",
                        params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                        body={"values": [row for _, row in pending]})
                landed = UPDATED_ROWS.search((answer.get("updates") or {}).get("updatedRange", ""))
                if landed:
                    rows.extend((int(landed.group(1)), int(landed.group(2) or landed.group(1))))
                elif rows:
                    # Some arrived on an earlier, unclear attempt: find them all by key.
                    rows[:] = self._rows_of([cell_text(r.get("key")) for r in records])
                return len(records)
            except ApiError as exc:
                if not exc.ambiguous or attempt == policy.attempts - 1:
                    raise
            log.info("append to a tab had no clear answer; checking which rows arrived")
            policy.sleep(policy.delay(attempt))
            present = self.read().by_key
            rows[:] = [present[key].row for key, _ in pending if key in present] + rows
            pending = [(key, row) for key, row in pending if key not in present]
            if not pending:
                return len(records)
        raise AssertionError("unreachable")

    def _rows_of(self, keys: Sequence[str]) -> list[int]:
        by_key = self.read().by_key
        return [by_key[k].row for k in keys if k in by_key]


def read_many(tables: Sequence[KeyedTable]) -> list[Snapshot]:
    """Several tabs of one spreadsheet in a single request."""
    if not tables:
        return []
    sheet = tables[0].spreadsheet
    try:
        with google_call("đọc bảng tính"):
            result = sheet.values_batch_get([quote_tab(t.tab) for t in tables],
                                            params=dict(_READ_PARAMS))
    except ApiError as exc:
        # Google names the range it could not parse: the tab that is missing.
        named = [t for t in tables if exc.kind == "missing_tab" and quote_tab(t.tab) in str(exc)]
        if named:
            raise named[0].missing() from exc
        raise
    return [t.parse(vr.get("values", [])) for t, vr in zip(tables, result["valueRanges"])]


def _raw(value: Any) -> Any:
    """A value as sent with valueInputOption=RAW (strings NFC, None empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    return value
