"""Keyed tables against the sandbox: rows found by key while staff sort, appends
never doubled, optional columns, tick boxes."""
from __future__ import annotations

import gspread
import pytest

from workspace.config import Table as TableConfig
from workspace.table import KeyedTable, read_many, ticked

COLUMNS = {"key": "Mã", "name": "Tên", "status": "Trạng thái", "notes": "Ghi chú"}


@pytest.fixture
def book(gc: gspread.Client) -> gspread.Spreadsheet:
    sh = gc.create("Bảng thử")
    ws = sh.sheet1
    ws.update_title("Danh sách")
    ws.update([["Mã", "Tên", "Trạng thái", "Ghi chú"],
               ["K3", "Cường", "", "ghi chú của K3"],
               ["K1", "An", "", ""],
               ["K2", "Bình", "", "ghi chú của K2"]], "A1", raw=True)
    return sh


def _table(sh: gspread.Spreadsheet, cls: type = KeyedTable) -> KeyedTable:
    return cls(sh, TableConfig(tab="Danh sách", columns=COLUMNS), "people")


class StaffSortsBetweenReadAndWrite(KeyedTable):
    """A member of staff sorts the tab by name, Z first, right after the job's
    first read: the write then aims at rows that have moved."""

    reads = 0

    def read(self):  # the job's own read, then the staff action in the real sheet
        snap = super().read()
        type(self).reads += 1
        if type(self).reads == 1:
            self.spreadsheet.worksheet("Danh sách").sort((2, "des"), range="A2:D4")
        return snap


def test_write_repairs_rows_moved_by_a_sort_during_the_write(book) -> None:
    StaffSortsBetweenReadAndWrite.reads = 0
    table = _table(book, StaffSortsBetweenReadAndWrite)
    table.write({"K1": {"status": "Đã xác nhận"}, "K3": {"status": "Danh sách chờ"}},
                owned={"status"})
    snap = _table(book).read()
    assert snap.by_key["K1"]["status"] == "Đã xác nhận"
    assert snap.by_key["K3"]["status"] == "Danh sách chờ"
    assert snap.by_key["K2"]["status"] == ""
    assert snap.by_key["K2"]["notes"] == "ghi chú của K2" and snap.by_key["K3"]["notes"] == "ghi chú của K3"
    assert [r.key for r in snap.records] == ["K3", "K2", "K1"]  # the staff's order stays


def test_write_refuses_columns_the_job_does_not_own(book) -> None:
    with pytest.raises(ValueError, match="notes"):
        _table(book).write({"K1": {"notes": "x"}}, owned={"status"})


def test_append_with_a_lost_answer_adds_each_row_once(sandbox, gc, book) -> None:
    sandbox.store.set_settings(fail_after_rate=1.0)  # every write applied, every answer lost
    try:
        result = _table(book).write({}, inserts=[{"key": "K4", "name": "Dũng"},
                                                 {"key": "K5", "name": "Giang"}])
    finally:
        sandbox.store.set_settings(fail_after_rate=None)
    assert result.inserted_rows == 2
    rows = book.sheet1.get_all_values()
    assert [r[0] for r in rows] == ["Mã", "K3", "K1", "K2", "K4", "K5"]


def test_missing_required_column_names_the_header_and_the_fix(book) -> None:
    table = KeyedTable(book, TableConfig(tab="Danh sách", columns={**COLUMNS, "email": "Email"}), "people")
    with pytest.raises(Exception, match="không có cột 'Email'.*config.yaml"):
        table.read()


def test_optional_column_may_be_missing(book) -> None:
    from workspace import config as config_module

    config_module.OPTIONAL_COLUMNS.setdefault("people_optional", set()).add("withdrawn")
    table = KeyedTable(book, TableConfig(tab="Danh sách", columns={**COLUMNS, "withdrawn": "Rút"}),
                       "people_optional")
    snap = table.read()
    assert "withdrawn" not in snap.columns and snap.by_key["K1"]["withdrawn"] == ""


def test_read_many_reads_several_tabs_in_one_request(sandbox, book) -> None:
    book.add_worksheet("Thứ hai", rows=10, cols=4).update([["Mã", "Tên", "Trạng thái", "Ghi chú"],
                                                             ["X1", "Hà", "", ""]], "A1")
    before = sandbox.store.last_request_seq()
    first, second = read_many([_table(book),
                               KeyedTable(book, TableConfig(tab="Thứ hai", columns=COLUMNS), "two")])
    calls = sandbox.store.requests(before)
    assert [c["method_id"] for c in calls] == ["sheets.spreadsheets.values.batchGet"]
    assert set(first.by_key) == {"K1", "K2", "K3"} and set(second.by_key) == {"X1"}


def test_duplicate_and_blank_keys_are_reported(book) -> None:
    book.sheet1.append_rows([["K1", "An again", "", ""], ["", "không mã", "", ""]],
                            value_input_option="RAW")
    snap = _table(book).read()
    assert snap.duplicate_keys == ["K1"] and snap.blank_keys == [6]


@pytest.mark.parametrize("value,expected", [(True, True), ("TRUE", True), ("x", True), ("Có", True),
                                            ("✓", True), ("1", True), (False, False), ("", False),
                                            ("FALSE", False), ("không", False)])
def test_ticked_reads_what_staff_type(value, expected) -> None:
    assert ticked(value) is expected


class StaffInsertsARowAfterTheRead(KeyedTable):
    """Staff insert a typed row above K1 right after the job's first read."""

    reads = 0

    def read(self):
        snap = super().read()
        type(self).reads += 1
        if type(self).reads == 1:
            sheet = self.spreadsheet.worksheet("Danh sách")
            sheet.insert_row(["K9", "Vãng lai", "", "thêm tay"], index=3, value_input_option="RAW")
        return snap


class StaffEditsAnotherRowAfterTheRead(KeyedTable):
    reads = 0

    def read(self):
        snap = super().read()
        type(self).reads += 1
        if type(self).reads == 1:
            self.spreadsheet.worksheet("Danh sách").update_acell("C4", "do nhân viên ghi")  # K2's row
        return snap


def test_write_takes_back_a_value_that_landed_on_a_row_inserted_meanwhile(book) -> None:
    result = _table(book, StaffInsertsARowAfterTheRead).write({"K1": {"status": "Đã xác nhận"}},
                                                             owned={"status"})
    snap = _table(book).read()
    assert snap.by_key["K1"]["status"] == "Đã xác nhận"
    assert snap.by_key["K9"]["status"] == "" and snap.by_key["K9"]["notes"] == "thêm tay"
    assert result.unsure_rows == ["K9"]


def test_write_never_touches_rows_it_did_not_write(book) -> None:
    _table(book, StaffEditsAnotherRowAfterTheRead).write({"K1": {"status": "Đã xác nhận"}},
                                                         owned={"status"})
    snap = _table(book).read()
    assert snap.by_key["K2"]["status"] == "do nhân viên ghi"
    assert snap.by_key["K1"]["status"] == "Đã xác nhận"


def test_a_repair_puts_numbers_back_as_numbers(book) -> None:
    book.sheet1.update([[7], [8], [9]], "C2:C4", raw=True)        # K3, K1, K2 hold numbers
    StaffSortsBetweenReadAndWrite.reads = 0
    _table(book, StaffSortsBetweenReadAndWrite).write({"K1": {"status": 6}}, owned={"status"})
    values = book.values_get("'Danh sách'!A2:C4", params={"valueRenderOption": "UNFORMATTED_VALUE"})
    by_key = {row[0]: row[2] for row in values["values"]}
    assert by_key == {"K1": 6, "K2": 9, "K3": 7}
