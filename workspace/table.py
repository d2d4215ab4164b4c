"""Keyed sheet tables: a tab read in one call into records by header, and a set
of changes written back in one batch.

Rows are found by their key, never by a remembered row number: staff sort,
filter, insert and delete rows at any time. Writing re-reads the tab first,
touches only the cells of the columns the job owns whose value really
changes, appends new keys at the end, and never deletes. Values are RAW, so a
`=FORMULA` typed into a form stays text.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import gspread

from .config import Table as TableConfig
from .errors import SheetSchemaError


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


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


@dataclass
class WriteResult:
    updated_cells: int = 0
    inserted_rows: int = 0
    missing_keys: list[str] = field(default_factory=list)  # rows deleted by staff meanwhile


class KeyedTable:
    """One tab of the coordinating spreadsheet, addressed by its key column."""

    def __init__(self, spreadsheet: gspread.Spreadsheet, config: TableConfig, name: str = ""):
        self.spreadsheet = spreadsheet
        self.config = config
        self.name = name or config.tab
        self.tab = unicodedata.normalize("NFC", config.tab)

    # -- reading -----------------------------------------------------------
    def read(self) -> Snapshot:
        """The whole tab in one request, as records keyed by the key column."""
        result = self.spreadsheet.values_get(
            quote_tab(self.tab), params={"valueRenderOption": "UNFORMATTED_VALUE",
                                         "dateTimeRenderOption": "FORMATTED_STRING"})
        return self._parse(result.get("values", []))

    def _parse(self, rows: list[list[Any]]) -> Snapshot:
        header = [cell_text(h).strip() for h in (rows[0] if rows else [])]
        positions = {label: i for i, label in reversed(list(enumerate(header))) if label}
        missing = [label for label in self.config.columns.values() if label not in positions]
        if missing:
            raise SheetSchemaError(
                f"tab '{self.tab}' has no column {', '.join(repr(m) for m in missing)}: add the "
                f"header(s) in row 1, or map the field to the right label in config.yaml "
                f"(sheets.{self.name}.columns)")
        columns = {f: positions[label] for f, label in self.config.columns.items()}
        key_col = columns["key"]
        snap = Snapshot(header=header, columns=columns, records=[])
        for n, raw in enumerate(rows[1:], start=2):
            cells = [cell_text(c) for c in raw]
            values = {f: (cells[i] if i < len(cells) else "") for f, i in columns.items()}
            key = values["key"].strip()
            if not key:
                if any(c.strip() for c in cells):
                    snap.blank_keys.append(n)
                continue
            record = Record(key=key, row=n, values=values)
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
        rows and append `inserts` (full records with a `key`), in at most one
        read and two write requests. Only cells whose text changes are written."""
        owned = set(owned)
        stray = {f for change in updates.values() for f in change} - owned
        if stray:
            raise ValueError(f"job tried to write columns it does not own: {sorted(stray)}")
        inserts = list(inserts)
        result = WriteResult()
        if not updates and not inserts:
            return result
        snap = self.read()  # re-read: rows may have moved since the job decided
        data = []
        for key, change in updates.items():
            record = snap.by_key.get(key)
            if record is None:
                result.missing_keys.append(key)
                continue
            for f, value in change.items():
                if cell_text(value) == record[f]:
                    continue
                a1 = f"{col_letter(snap.columns[f])}{record.row}"
                data.append({"range": f"{quote_tab(self.tab)}!{a1}", "values": [[_raw(value)]]})
        if data:
            self.spreadsheet.values_batch_update({"valueInputOption": "RAW", "data": data})
            result.updated_cells = len(data)
        new_rows = [r for r in inserts if cell_text(r.get("key")) not in snap.by_key]
        if new_rows:
            width = max(snap.columns.values()) + 1
            body = []
            for rec in new_rows:
                row: list[Any] = [""] * width
                for f, i in snap.columns.items():
                    if f in rec:
                        row[i] = _raw(rec[f])
                body.append(row)
            # Google finds the table that starts at A1 and appends below its last row.
            self.spreadsheet.values_append(
                f"{quote_tab(self.tab)}!A1",
                params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                body={"values": body})
            result.inserted_rows = len(new_rows)
        return result


    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records without looking for their keys (the run log: every run
        adds a row). One request for the header, one for the rows."""
        records = list(records)
        if not records:
            return 0
        header = self.spreadsheet.values_get(f"{quote_tab(self.tab)}!1:1").get("values", [[]])
        snap = self._parse(header[:1] or [[]])
        width = max(snap.columns.values()) + 1
        body = []
        for rec in records:
            row: list[Any] = [""] * width
            for f, i in snap.columns.items():
                row[i] = _raw(rec.get(f, ""))
            body.append(row)
        self.spreadsheet.values_append(
            f"{quote_tab(self.tab)}!A1",
            params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
            body={"values": body})
        return len(body)


def _raw(value: Any) -> Any:
    """A value as sent with valueInputOption=RAW (strings NFC, None empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    return value
