"""The coordinating spreadsheet as jobs see it: tabs by the config's names,
read in bulk. Our own type, so that no gspread object reaches `workflows/`;
every failure leaves as an ApiError."""
from __future__ import annotations

from typing import Any, Sequence

import gspread

from .config import Sheets
from .google_errors import google_call
from .table import KeyedTable, Snapshot, quote_tab, read_many


class Spreadsheet:
    """One spreadsheet and the config's map of its tabs (`sheets:`)."""

    def __init__(self, spreadsheet: gspread.Spreadsheet, sheets: Sheets):
        self._spreadsheet = spreadsheet
        self._sheets = sheets

    @property
    def title(self) -> str:
        return self._spreadsheet.title

    def table(self, name: str) -> KeyedTable:
        """The tab the config calls `name` (invitees, registrations, …)."""
        return KeyedTable(self._spreadsheet, self._sheets.table(name), name)

    def read(self, *names: str) -> list[Snapshot]:
        """Several tabs, by config name, in one request."""
        return read_many([self.table(name) for name in names])

    def ensure_tab(self, name: str) -> bool:
        """The tab the config calls `name`, made (with its header row) when the
        spreadsheet lacks it; True when it was made. Nothing existing is touched."""
        table = self._sheets.table(name)
        if table.tab in self.tab_titles():
            return False
        header = list(table.columns.values())
        with google_call(f"tạo trang {table.tab}"):
            sheet = self._spreadsheet.add_worksheet(table.tab, rows=100, cols=max(len(header), 10))
            sheet.update([header], "A1", value_input_option="RAW")
        return True

    def tab_titles(self) -> list[str]:
        """The titles of every tab, as they are now."""
        with google_call("đọc danh sách trang"):
            return [w.title for w in self._spreadsheet.worksheets()]

    def header_rows(self, tabs: Sequence[str]) -> list[list[Any]]:
        """Row 1 of each tab (by title), in one request."""
        with google_call("đọc dòng tiêu đề"):
            found = self._spreadsheet.values_batch_get([f"{quote_tab(t)}!1:1" for t in tabs])
        return [(vr.get("values") or [[]])[0] for vr in found["valueRanges"]]
