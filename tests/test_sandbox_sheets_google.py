"""Sheets v4 in the sandbox where it must answer as Google does: where
values.append lands, locale-aware USER_ENTERED parsing and formatted reads,
the Spreadsheet resource's defaults, merges and the basic filter, refusals,
error bodies, and a second real client (pygsheets). Driven by the real
gspread, googleapiclient and pygsheets over HTTP; each test names the Google
source it follows."""
from __future__ import annotations

import json
from typing import Any

import gspread
import pygsheets
import pytest
from googleapiclient.errors import HttpError

from sandbox.credentials import key_credentials
from workspace.google_errors import describe
from workspace.transport import new_http, redirect_session

# properties.defaultFormat exactly as recorded from the real API (gspread's
# tests/cassettes/SpreadsheetTest.test_timezone_and_locale.json, 2023; the same in a
# vi_VN spreadsheet recorded in Khuuxuanngoc/MakerLabCalculatorClock's result.js).
RECORDED_DEFAULT_FORMAT = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {"foregroundColor": {}, "fontFamily": "arial,sans,sans-serif", "fontSize": 10,
                   "bold": False, "italic": False, "strikethrough": False, "underline": False,
                   "foregroundColorStyle": {"rgbColor": {}}},
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, HttpError):
        return json.loads(exc.content)["error"]
    return exc.response.json()["error"]  # type: ignore[attr-defined]


@pytest.fixture
def sheets(service: Any) -> Any:
    return service("sheets", "v4").spreadsheets()


def _new_book(sheets: Any, title: str = "Sổ", **props: Any) -> str:
    return sheets.create(body={"properties": {"title": title, **props}}).execute()["spreadsheetId"]


def _put(sheets: Any, book: str, rng: str, rows: list[list[Any]], option: str = "RAW") -> None:
    sheets.values().update(spreadsheetId=book, range=rng, valueInputOption=option,
                           body={"values": rows}).execute()


def _get(sheets: Any, book: str, rng: str, **params: Any) -> list[list[Any]]:
    return sheets.values().get(spreadsheetId=book, range=rng, **params).execute().get("values", [])


def _batch(sheets: Any, book: str, *requests: dict[str, Any]) -> dict[str, Any]:
    return sheets.batchUpdate(spreadsheetId=book, body={"requests": list(requests)}).execute()


# -- values.append: where the rows land ---------------------------------------------------

# The sheet of Google's guide (developers.google.com/sheets/api/guides/values#append_values):
# two tables, A1:C2 and B4:D6.
GUIDE_SHEET = {"A1": "x", "B1": "y", "C1": "z", "A2": "x", "B2": "y", "C2": "z",
               "B4": "x", "C4": "y", "C5": "y", "D5": "z", "B6": "x", "C6": "y", "D6": "z"}
# range input -> (cell the appended values begin at, tableRange), from the guide's text.
GUIDE_CASES = {"Sheet1": ("B7", "Sheet1!B4:D6"), "Sheet1!B4": ("B7", "Sheet1!B4:D6"),
               "Sheet1!C5:D5": ("B7", "Sheet1!B4:D6"), "Sheet1!B2:D4": ("B7", "Sheet1!B4:D6"),
               "Sheet1!A3:G10": ("B7", "Sheet1!B4:D6"), "Sheet1!A1": ("A3", "Sheet1!A1:C2"),
               "Sheet1!E4": ("E4", None), "Sheet1!A4": ("A4", None)}


def test_append_lands_where_googles_guide_says(sheets) -> None:
    """Every range input of the guide's example lands where the guide says; the
    tables it touches are found and the last one taken; a cell in no table is
    written as it is, without a tableRange (the reference: "Empty if no table
    was found")."""
    book = _new_book(sheets)
    for cell, value in GUIDE_SHEET.items():
        _put(sheets, book, f"Sheet1!{cell}", [[value]])
    for rng, (begins, table) in GUIDE_CASES.items():
        res = sheets.values().append(spreadsheetId=book, range=rng, valueInputOption="RAW",
                                     body={"values": [["new"]]}).execute()
        assert res["updates"]["updatedRange"] == f"Sheet1!{begins}", rng
        assert res.get("tableRange") == table, rng
        sheets.values().clear(spreadsheetId=book, range=f"Sheet1!{begins}", body={}).execute()


def test_append_after_a_gap_column_matches_googles_recorded_answers(gc) -> None:
    """gspread's recordings of the real API (tests/cassettes/WorksheetTest.
    test_append_row_with_empty_value*.json): a row with an empty middle cell on an
    empty sheet has no tableRange; appended again to the whole sheet it finds the
    last table, C1 alone, and lands at C2:E2 (gspread issue #537); appended to A1 it
    finds the table A1 and lands at A2:C2."""
    ws = gc.create("Khoảng trống").sheet1
    row = ["một", "", "ba"]
    first = ws.append_row(row)
    assert "tableRange" not in first and first["updates"]["updatedRange"] == "Sheet1!A1:C1"
    second = ws.append_row(row)
    assert (second["tableRange"], second["updates"]["updatedRange"]) == ("Sheet1!C1", "Sheet1!C2:E2")
    assert ws.row_values(2) == ["", "", "một", "", "ba"]
    other = gc.create("Khoảng trống 2").sheet1
    other.append_row(row)
    anchored = other.append_row(row, table_range="A1")
    assert (anchored["tableRange"], anchored["updates"]["updatedRange"]) == ("Sheet1!A1", "Sheet1!A2:C2")
    assert other.row_values(2) == row


def test_append_at_a1_with_a_gap_row_lands_in_the_gap(sheets) -> None:
    """The product appends at A1 with INSERT_ROWS. A blank row staff leave inside
    the data ends the table that holds A1 (the guide's `A1` case: "would start
    writing at A3, because that's in the A1:C2 table"), so the new row goes into
    the gap and the rows below move down; nothing is overwritten."""
    book = _new_book(sheets)
    _put(sheets, book, "Sheet1!A1", [["Mã", "Tên", "Đơn vị"], ["R1", "An", "THPT A"], [],
                                      ["R2", "Bình", "THPT B"]])
    res = sheets.values().append(spreadsheetId=book, range="Sheet1!A1", valueInputOption="RAW",
                                 insertDataOption="INSERT_ROWS",
                                 body={"values": [["R3", "Chi", "THPT C"]]}).execute()
    assert res["tableRange"] == "Sheet1!A1:C2"
    assert res["updates"]["updatedRange"] == "Sheet1!A3:C3"
    assert _get(sheets, book, "Sheet1!A1:C5") == [["Mã", "Tên", "Đơn vị"], ["R1", "An", "THPT A"],
                                                  ["R3", "Chi", "THPT C"], [], ["R2", "Bình", "THPT B"]]


def test_append_with_an_empty_anchor_cell_finds_the_table_around_it(sheets) -> None:
    """The anchor A1 is empty (the header starts at B1) but lies inside the
    table's rectangle A1:D3, so the row goes under the table, starting with its
    first column; a whole-sheet range lands at the same place. Google's guide does
    not cover an empty cell inside a table: this is the sandbox's reading of "in
    the table" (see sheets_values.find_table)."""
    book = _new_book(sheets)
    _put(sheets, book, "Sheet1!A1", [["", "Mã", "Tên", "Email"], ["1", "R1", "An", "an@x.vn"],
                                      ["2", "R2", "Bình", "binh@x.vn"]])
    res = sheets.values().append(spreadsheetId=book, range="Sheet1!A1", valueInputOption="RAW",
                                 body={"values": [["3", "R3", "Chi", "chi@x.vn"]]}).execute()
    assert (res["tableRange"], res["updates"]["updatedRange"]) == ("Sheet1!A1:D3", "Sheet1!A4:D4")
    whole = sheets.values().append(spreadsheetId=book, range="Sheet1", valueInputOption="RAW",
                                   body={"values": [["4"]]}).execute()
    assert (whole["tableRange"], whole["updates"]["updatedRange"]) == ("Sheet1!A1:D4", "Sheet1!A5")


# -- locale: what typed values become and how they read -------------------------------------

def test_update_spreadsheet_properties_sets_locale_and_time_zone(sheets) -> None:
    """New spreadsheets are en_US / Etc/GMT, as Google makes them for a service
    account (recorded responses in gspread's cassettes); updateSpreadsheetProperties
    changes both, as in gspread's test_timezone_and_locale recording."""
    book = _new_book(sheets)
    props = sheets.get(spreadsheetId=book).execute()["properties"]
    assert (props["locale"], props["timeZone"], props["autoRecalc"]) == ("en_US", "Etc/GMT", "ON_CHANGE")
    _batch(sheets, book, {"updateSpreadsheetProperties": {
        "properties": {"locale": "vi_VN", "timeZone": "Asia/Ho_Chi_Minh"}, "fields": "locale,timeZone"}})
    props = sheets.get(spreadsheetId=book).execute()["properties"]
    assert (props["locale"], props["timeZone"]) == ("vi_VN", "Asia/Ho_Chi_Minh")
    assert props["defaultFormat"] == RECORDED_DEFAULT_FORMAT  # untouched by a mask that does not name it


def test_vi_vn_date_number_and_percent_typed_read_back_as_in_sheets(sheets) -> None:
    """ValueInputOption USER_ENTERED: "parsed as if the user typed them into the
    UI". In vi_VN a date is day/month/year and becomes a serial number (days since
    1899-12-30; 22/11/2024 is 45618) with a DATE format; `,` is the decimal mark
    and `.` groups thousands; `15%` is 0.15 with a PERCENT format. FORMATTED_VALUE
    shows the format, UNFORMATTED_VALUE the number, and dateTimeRenderOption
    FORMATTED_STRING the date as shown."""
    book = _new_book(sheets, locale="vi_VN", timeZone="Asia/Ho_Chi_Minh")
    typed = ["22/11/2024", "1.234,5", "15%", "12,5", "0912345678", "1e400", "12.5"]
    _put(sheets, book, "Sheet1!A1", [typed], option="USER_ENTERED")
    assert _get(sheets, book, "Sheet1!A1:G1") == [
        ["22/11/2024", "1.234,50", "15%", "12,5", "912345678", "1e400", "12.5"]]
    assert _get(sheets, book, "Sheet1!A1:G1", valueRenderOption="UNFORMATTED_VALUE") == [
        [45618, 1234.5, 0.15, 12.5, 912345678, "1e400", "12.5"]]
    assert _get(sheets, book, "Sheet1!A1:C1", valueRenderOption="UNFORMATTED_VALUE",
                dateTimeRenderOption="FORMATTED_STRING") == [["22/11/2024", 1234.5, 0.15]]
    cells = sheets.get(spreadsheetId=book, ranges=["Sheet1!A1:C1"], includeGridData=True).execute()[
        "sheets"][0]["data"][0]["rowData"][0]["values"]
    assert cells[0]["userEnteredValue"] == {"numberValue": 45618}
    assert cells[0]["userEnteredFormat"]["numberFormat"] == {"type": "DATE", "pattern": "dd/MM/yyyy"}
    assert cells[0]["formattedValue"] == "22/11/2024"
    assert cells[2]["userEnteredFormat"]["numberFormat"] == {"type": "PERCENT", "pattern": "0%"}


def test_en_us_keeps_its_reading_and_raw_keeps_text(sheets) -> None:
    """en_US: month/day/year, `,` groups and `.` is decimal; a day/month date is not
    a date there and stays text; a leading-zero phone becomes a number with
    USER_ENTERED and stays text with RAW; `1e400` is never stored as infinity."""
    book = _new_book(sheets)
    _put(sheets, book, "Sheet1!A1", [["11/22/2024", "1,234.5", "15%", "12.50", "22/11/2024", "0912345678",
                                      "1e400"]], option="USER_ENTERED")
    _put(sheets, book, "Sheet1!A2", [["0912345678", "15%"]])
    assert _get(sheets, book, "Sheet1!A1:G2") == [
        ["11/22/2024", "1,234.50", "15%", "12.5", "22/11/2024", "912345678", "1e400"],
        ["0912345678", "15%"]]
    assert _get(sheets, book, "Sheet1!A1:G1", valueRenderOption="UNFORMATTED_VALUE") == [
        [45618, 1234.5, 0.15, 12.5, "22/11/2024", 912345678, "1e400"]]


def test_a_number_format_set_with_repeat_cell_is_stored_and_applied(sheets) -> None:
    """userEnteredFormat written by repeatCell is kept, returned by spreadsheets.get
    and applied to FORMATTED_VALUE (patterns per developers.google.com/sheets/api/
    guides/formats); the value itself does not change."""
    book = _new_book(sheets)
    _put(sheets, book, "Sheet1!A1", [[0.256, 45618.75, 1234567.891]])
    fmt = [("PERCENT", "0.0%"), ("DATE_TIME", "dd/MM/yyyy HH:mm"), ("NUMBER", "#,##0.00")]
    _batch(sheets, book, *[{"repeatCell": {
        "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": i,
                  "endColumnIndex": i + 1},
        "cell": {"userEnteredFormat": {"numberFormat": {"type": t, "pattern": p}}},
        "fields": "userEnteredFormat.numberFormat"}} for i, (t, p) in enumerate(fmt)])
    assert _get(sheets, book, "Sheet1!A1:C1") == [["25.6%", "22/11/2024 18:00", "1,234,567.89"]]
    assert _get(sheets, book, "Sheet1!A1:C1", valueRenderOption="UNFORMATTED_VALUE") == [
        [0.256, 45618.75, 1234567.891]]
    got = sheets.get(spreadsheetId=book, ranges=["Sheet1!A1"], includeGridData=True).execute()
    cell = got["sheets"][0]["data"][0]["rowData"][0]["values"][0]
    assert cell["userEnteredFormat"] == {"numberFormat": {"type": "PERCENT", "pattern": "0.0%"}}


# -- the Spreadsheet resource ---------------------------------------------------------------

def test_get_has_default_format_and_theme_and_leaves_out_zero_fields(gc, sheets) -> None:
    """defaultFormat and spreadsheetTheme as in every recorded response (gspread
    tests/cassettes, e.g. SpreadsheetTest.test_timezone_and_locale.json); after a
    freeze is undone, frozenRowCount/frozenColumnCount are left out as Google leaves
    them out (WorksheetTest.test_freeze.json), while `sheetId: 0` and `index: 0` stay."""
    sh = gc.create("Mặc định")
    sh.add_worksheet("Khác", rows=10, cols=5)
    ws = sh.sheet1
    ws.freeze(rows=1, cols=1)
    ws.freeze(rows=0, cols=0)
    got = sheets.get(spreadsheetId=sh.id).execute()
    props = got["properties"]
    assert props["defaultFormat"] == RECORDED_DEFAULT_FORMAT
    theme = props["spreadsheetTheme"]
    assert theme["primaryFontFamily"] == "Arial"
    colors = {c["colorType"]: c["color"]["rgbColor"] for c in theme["themeColors"]}
    assert list(colors) == ["TEXT", "BACKGROUND", "ACCENT1", "ACCENT2", "ACCENT3", "ACCENT4", "ACCENT5",
                            "ACCENT6", "LINK"]
    assert (colors["TEXT"], colors["LINK"]) == ({}, {"red": 0.06666667, "green": 0.33333334, "blue": 0.8})
    first = got["sheets"][0]["properties"]
    assert first == {"sheetId": 0, "title": "Sheet1", "index": 0, "sheetType": "GRID",
                     "gridProperties": {"rowCount": 1000, "columnCount": 26}}
    assert "hidden" not in got["sheets"][1]["properties"]


# -- merges and the basic filter ------------------------------------------------------------

def test_merges_are_stored_returned_and_validated(sheets) -> None:
    """As recorded from the real API (gspread tests/cassettes/CellTest.
    test_merge_cells.json): MERGE_ROWS over A1:B2 gives one merge per row, shown
    without `sheetId` 0; MERGE_ALL over them replaces both. Only the top-left value
    survives. A merge partly inside the range, or across the frozen edge, is
    refused with Google's sentences; rows inserted above move the merge down."""
    book = _new_book(sheets)
    _put(sheets, book, "Sheet1!A1", [["a", "b"], ["c", "d"]])
    whole = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 2, "startColumnIndex": 0, "endColumnIndex": 2}
    _batch(sheets, book, {"mergeCells": {"range": whole, "mergeType": "MERGE_ROWS"}})
    merges = sheets.get(spreadsheetId=book).execute()["sheets"][0]["merges"]
    assert merges == [{"startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0, "endColumnIndex": 2},
                      {"startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 0, "endColumnIndex": 2}]
    assert _get(sheets, book, "Sheet1!A1:B2") == [["a"], ["c"]]
    _batch(sheets, book, {"mergeCells": {"range": whole, "mergeType": "MERGE_ALL"}})
    assert sheets.get(spreadsheetId=book).execute()["sheets"][0]["merges"] == [
        {"startRowIndex": 0, "endRowIndex": 2, "startColumnIndex": 0, "endColumnIndex": 2}]
    with pytest.raises(HttpError) as err:
        _batch(sheets, book, {"unmergeCells": {"range": {**whole, "endColumnIndex": 1}}})
    assert _error(err.value)["message"] == ("Invalid requests[0].unmergeCells: You must select all cells "
                                            "in a merged range to merge or unmerge them.")
    _batch(sheets, book, {"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS",
                                                        "startIndex": 0, "endIndex": 1}}})
    assert sheets.get(spreadsheetId=book).execute()["sheets"][0]["merges"] == [
        {"startRowIndex": 1, "endRowIndex": 3, "startColumnIndex": 0, "endColumnIndex": 2}]
    _batch(sheets, book, {"unmergeCells": {"range": {"sheetId": 0}}})
    assert "merges" not in sheets.get(spreadsheetId=book).execute()["sheets"][0]
    _batch(sheets, book, {"updateSheetProperties": {
        "properties": {"sheetId": 0, "gridProperties": {"frozenRowCount": 1}},
        "fields": "gridProperties.frozenRowCount"}})
    with pytest.raises(HttpError) as err:
        _batch(sheets, book, {"mergeCells": {"range": whole, "mergeType": "MERGE_ALL"}})
    assert _error(err.value)["message"] == (
        "Invalid requests[0].mergeCells: You can't merge frozen and non-frozen rows.")


def test_basic_filter_is_stored_sorts_and_clears(sheets) -> None:
    """setBasicFilter stores Sheet.basicFilter (its range made concrete) and its
    sortSpecs sort the rows under the header; clearBasicFilter removes it
    (developers.google.com/sheets/api/reference/rest/v4/spreadsheets/sheets#BasicFilter)."""
    book = _new_book(sheets)
    sheet_id = _batch(sheets, book, {"addSheet": {"properties": {"title": "Lọc"}}})[
        "replies"][0]["addSheet"]["properties"]["sheetId"]
    _put(sheets, book, "'Lọc'!A1", [["Tên", "Điểm"], ["Chi", "7"], ["An", "9"], ["Bình", "8"]])
    _batch(sheets, book, {"setBasicFilter": {"filter": {
        "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 4},
        "sortSpecs": [{"dimensionIndex": 0, "sortOrder": "ASCENDING"}]}}})
    tab = sheets.get(spreadsheetId=book).execute()["sheets"][1]
    assert tab["basicFilter"] == {
        "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 4, "startColumnIndex": 0,
                  "endColumnIndex": 26},
        "sortSpecs": [{"dimensionIndex": 0, "sortOrder": "ASCENDING"}]}
    assert _get(sheets, book, "'Lọc'!A1:A4") == [["Tên"], ["An"], ["Bình"], ["Chi"]]
    _batch(sheets, book, {"clearBasicFilter": {"sheetId": sheet_id}})
    assert "basicFilter" not in sheets.get(spreadsheetId=book).execute()["sheets"][1]


def test_a_request_the_sandbox_does_not_implement_is_refused_by_name(sheets) -> None:
    """No request is answered 200 and dropped: one the sandbox cannot store is a
    501 naming it, and the batch around it is not applied (batchUpdate: "If any
    request is not valid then the entire request will fail and nothing will be
    applied")."""
    book = _new_book(sheets)
    with pytest.raises(HttpError) as err:
        _batch(sheets, book, {"addSheet": {"properties": {"title": "Mới"}}},
               {"updateBorders": {"range": {"sheetId": 0}, "top": {"style": "SOLID"}}})
    assert err.value.resp.status == 501
    assert "updateBorders" in _error(err.value)["message"]
    assert _error(err.value)["status"] == "UNIMPLEMENTED"
    assert [s["properties"]["title"] for s in sheets.get(spreadsheetId=book).execute()["sheets"]] == ["Sheet1"]


# -- refusals and error bodies ----------------------------------------------------------------

def test_hiding_or_deleting_the_last_visible_sheet_is_refused(sheets) -> None:
    """Google keeps one sheet visible ("You can't hide all the sheets in a
    document.", the Sheets wording for this rule); hiding one of two is fine and
    shows `hidden: true`."""
    book = _new_book(sheets)
    hide = {"updateSheetProperties": {"properties": {"sheetId": 0, "hidden": True}, "fields": "hidden"}}
    with pytest.raises(HttpError) as err:
        _batch(sheets, book, hide)
    assert err.value.resp.status == 400
    assert _error(err.value)["message"] == (
        "Invalid requests[0].updateSheetProperties: You can't hide all the sheets in a document.")
    other = _batch(sheets, book, {"addSheet": {"properties": {"title": "Ẩn"}}})[
        "replies"][0]["addSheet"]["properties"]["sheetId"]
    _batch(sheets, book, hide)
    assert sheets.get(spreadsheetId=book).execute()["sheets"][0]["properties"]["hidden"] is True
    with pytest.raises(HttpError) as err:
        _batch(sheets, book, {"deleteSheet": {"sheetId": other}})
    assert "You can't hide all the sheets in a document." in _error(err.value)["message"]


def test_sheets_error_bodies_have_no_errors_array(gc) -> None:
    """Sheets v4 answers {"error": {"code", "message", "status"}} with no `errors[]`
    (an API answer quoted in blinkk/rootjs#554: `{"code": 400, "message": "Invalid
    requests[0].updateSheetProperties: No sheet with id: 0", "status":
    "INVALID_ARGUMENT"}`); the product still tells a missing tab from the message."""
    book = gc.create("Lỗi")
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.values_get("'Không có'!A1")
    assert _error(err.value) == {"code": 400, "message": "Unable to parse range: 'Không có'!A1",
                                 "status": "INVALID_ARGUMENT"}
    assert describe(err.value).kind == "missing_tab"
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.batch_update({"requests": [{"updateSheetProperties": {
            "properties": {"sheetId": 77, "title": "x"}, "fields": "title"}}]})
    assert _error(err.value) == {
        "code": 400, "message": "Invalid requests[0].updateSheetProperties: No sheet with id: 77",
        "status": "INVALID_ARGUMENT"}


def test_a_sheets_quota_429_carries_its_reason_in_details_only(make_sandbox, tmp_path, rsa_key_pem,
                                                                rsa_key) -> None:
    """The per-minute quota answer: no `errors[]`, the reason in details[]
    (ErrorInfo RATE_LIMIT_EXCEEDED), which workspace.google_errors reads, so the
    product still treats it as refused-and-retryable."""
    from google.auth.crypt import RSASigner
    from google.oauth2 import service_account

    from sandbox.oauth import create_service_account

    server = make_sandbox(tmp_path / "quota")
    info = create_service_account(server.store, "sa@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    creds = service_account.Credentials(RSASigner(rsa_key, key_id=info["private_key_id"]),
                                        info["client_email"], server.url + "/token",
                                        scopes=["https://www.googleapis.com/auth/spreadsheets",
                                                "https://www.googleapis.com/auth/drive"])
    client = gspread.Client(auth=creds)
    redirect_session(client.http_client.session, server.url)
    book = client.create("Hạn mức")
    spent = sum(1 for r in server.store.requests() if r["api"] == "sheets" and r["kind"] == "read")
    server.options.quotas = {"sheets": {"read": spent, "write": 60}}
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.values_get("A1")
    body = _error(err.value)
    assert body["code"] == 429 and "errors" not in body
    assert body["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    failure = describe(err.value)
    assert (failure.code, failure.reason, failure.refused) == (429, "RATE_LIMIT_EXCEEDED", True)


# -- a second real client -------------------------------------------------------------------

def test_pygsheets_opens_the_seeded_spreadsheet_reads_every_tab_and_appends(
        seeded, seeded_server, seeded_config) -> None:
    """pygsheets reads `properties.defaultFormat` when it opens a spreadsheet (it
    failed on the sandbox before), lists and reads every tab, and appends a row
    through values.append with INSERT_ROWS. It is pointed at the sandbox only
    through the `http` argument pygsheets.authorize hands to its Client
    (workspace.transport.new_http), with the seeded folder's own key."""
    creds = key_credentials(seeded, seeded_server.url)
    client = pygsheets.authorize(custom_credentials=creds, http=new_http(seeded_server.url))
    sh = client.open_by_key(seeded_config.google.spreadsheet_id)
    reader = gspread.Client(auth=key_credentials(seeded, seeded_server.url))
    redirect_session(reader.http_client.session, seeded_server.url)
    same = reader.open_by_key(seeded_config.google.spreadsheet_id)
    titles = [ws.title for ws in sh.worksheets()]
    assert titles == [ws.title for ws in same.worksheets()]
    # Every tab but Điều khiển, which `schedule` makes.
    assert {seeded_config.sheets.table(name).tab for name in seeded_config.sheets.names()
            if name != "control"} <= set(titles)

    for ws in sh.worksheets():
        values = ws.get_all_values(include_tailing_empty=False, include_tailing_empty_rows=False)
        assert values and values[0], ws.title  # every tab has at least its header row
        assert values == same.values_get(f"'{ws.title}'").get("values", []), ws.title

    first = titles[0]
    before = same.worksheet(first).get_all_values()
    row = ["pygsheets"] + [""] * (len(before[0]) - 2) + ["thêm"]
    # Worksheet.append_table would append and then fail parsing the quoted title
    # Google returns in tableRange (pygsheets 2.0.6 bug, nithinmurali/pygsheets#561,
    # #574); its SheetAPIWrapper.values_append sends the same request.
    result = client.sheet.values_append(sh.id, [row], "ROWS", range=f"'{first}'!A1",
                                        insertDataOption="INSERT_ROWS")
    assert result["tableRange"].startswith(f"'{first}'!A1:")
    last_cell = gspread.utils.rowcol_to_a1(len(before) + 1, len(row))
    assert result["updates"]["updatedRange"] == f"'{first}'!A{len(before) + 1}:{last_cell}"
    after = same.worksheet(first).get_all_values()
    assert len(after) == len(before) + 1
    assert after[len(before)] == row


def test_a_value_that_is_not_a_scalar_is_refused(gc: Any) -> None:
    """Google refuses a list or an object where a cell value goes (its message
    names the protobuf value: list_value / struct_value), writing nothing."""
    sheet = gc.create("Giá trị").sheet1
    with pytest.raises(gspread.exceptions.APIError) as err:
        sheet.update([["a", ["b", "c"]]], "A1")
    assert err.value.response.status_code == 400
    assert "Invalid values[0][1]: list_value" in err.value.response.json()["error"]["message"]
    assert sheet.get_all_values() in ([], [[]])   # gspread pads an empty read
