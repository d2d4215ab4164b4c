"""Sheets v4 in the sandbox, driven by the real gspread and googleapiclient."""
from __future__ import annotations

import gspread
import pytest
import requests
from googleapiclient.errors import HttpError

from sandbox.a1 import A1Error, parse

REG = "Đăng ký"
GUESTS = "Khách mời"
OUTBOX = "Hộp thư đi"


@pytest.fixture
def book(gc: gspread.Client) -> gspread.Spreadsheet:
    """A spreadsheet with the three Vietnamese tabs, 20 x 8 each."""
    sh = gc.create("Hội thảo 2024")
    sh.sheet1.update_title(REG)
    sh.add_worksheet(GUESTS, rows=20, cols=8)
    sh.add_worksheet(OUTBOX, rows=20, cols=8)
    return sh


def _error(exc: gspread.exceptions.APIError) -> dict:
    return exc.response.json()["error"]


# -- A1 notation ---------------------------------------------------------------
def test_a1_parse_quoted_open_and_bare_forms() -> None:
    p = parse(f"'{REG}'!A2:F")
    assert (p.sheet, p.row_start, p.row_end, p.col_start, p.col_end) == (REG, 1, None, 0, 6)
    assert parse("'It''s'!A1").sheet == "It's"
    assert parse(GUESTS).whole_sheet and parse(GUESTS).sheet == GUESTS
    assert parse("2:5").col_start is None and parse("A:A").row_start is None
    assert parse("B2").sheet is None and parse("B2").single_cell
    for bad in ("", "'unterminated", "Sheet1!", "Sheet1!A1:B2:C3"):
        with pytest.raises(A1Error):
            parse(bad)


# -- spreadsheets.create / get / open ------------------------------------------
def test_create_then_open_by_key_has_google_defaults(gc) -> None:
    sh = gc.create("Hội thảo")
    again = gc.open_by_key(sh.id)
    ws = again.sheet1
    assert (ws.title, ws.id, ws.row_count, ws.col_count) == ("Sheet1", 0, 1000, 26)
    meta = again.fetch_sheet_metadata()
    assert meta["properties"]["title"] == "Hội thảo"
    assert meta["properties"]["locale"] == "en_US"
    assert meta["sheets"][0]["properties"]["sheetType"] == "GRID"
    assert meta["spreadsheetUrl"].endswith(f"/d/{sh.id}/edit")


def test_open_by_title_and_openall_go_through_drive(gc, book) -> None:
    gc.create("Khác")
    assert gc.open("Hội thảo 2024").id == book.id
    assert {s.title for s in gc.openall()} == {"Hội thảo 2024", "Khác"}
    with pytest.raises(gspread.SpreadsheetNotFound):
        gc.open("Không có")


def test_add_worksheet_lists_vietnamese_tabs_in_order(gc, book) -> None:
    titles = [ws.title for ws in gc.open_by_key(book.id).worksheets()]
    assert titles == [REG, GUESTS, OUTBOX]
    guests = book.worksheet(GUESTS)
    assert (guests.row_count, guests.col_count) == (20, 8) and guests.id != 0


def test_add_worksheet_with_duplicate_title_is_400(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.add_worksheet(GUESTS, rows=5, cols=5)
    assert _error(err.value)["message"] == (
        f'Invalid requests[0].addSheet: A sheet with the name "{GUESTS}" already exists. '
        f'Please enter another name.')


def test_get_with_grid_data_and_ranges_filters_sheets(book, service) -> None:
    book.worksheet(GUESTS).update([["Mã", "Tên"], ["K1", "An"]], "A1")
    sheets = service("sheets", "v4")
    got = sheets.spreadsheets().get(spreadsheetId=book.id, ranges=[f"'{GUESTS}'!A1:B2"],
                                    includeGridData=True).execute()
    assert [s["properties"]["title"] for s in got["sheets"]] == [GUESTS]
    rows = got["sheets"][0]["data"][0]["rowData"]
    assert rows[1]["values"][1]["userEnteredValue"] == {"stringValue": "An"}
    assert len(got["sheets"][0]["data"][0]["rowMetadata"]) == 2


# -- values --------------------------------------------------------------------
def test_get_all_values_round_trips_vietnamese_text(book) -> None:
    ws = book.worksheet(REG)
    rows = [["Mã phản hồi", "Họ và tên", "Đơn vị"], ["R1", "Nguyễn Thị Ánh", "Trường THPT Lê Quý Đôn"]]
    res = ws.update(rows, "A1")
    assert res["updatedRange"] == f"'{REG}'!A1:C2"
    assert (res["updatedRows"], res["updatedColumns"], res["updatedCells"]) == (2, 3, 6)
    assert ws.get_all_values() == rows


def test_values_get_omits_trailing_empties_and_echoes_normalised_range(book) -> None:
    ws = book.worksheet(GUESTS)
    ws.update([["a", "", ""], ["", "", ""], ["b"]], "A1")
    res = book.values_get(f"'{GUESTS}'!A1:C")
    assert res == {"range": f"'{GUESTS}'!A1:C20", "majorDimension": "ROWS",
                   "values": [["a"], [], ["b"]]}
    empty = book.values_get(f"'{GUESTS}'!E5:F6")
    assert "values" not in empty and empty["range"] == f"'{GUESTS}'!E5:F6"
    cols = book.values_get(f"'{GUESTS}'!A1:A3", params={"majorDimension": "COLUMNS"})
    assert cols["values"] == [["a", "", "b"]]


def test_raw_keeps_formula_text_and_leading_zero(book) -> None:
    ws = book.worksheet(REG)
    ws.update([['=IMPORTXML("http://x","//a")', "0912345678"]], "A1", raw=True)
    assert ws.get("A1:B1", value_render_option="FORMULA") == [['=IMPORTXML("http://x","//a")', "0912345678"]]
    assert ws.get("A1:B1", value_render_option="UNFORMATTED_VALUE") == [
        ['=IMPORTXML("http://x","//a")', "0912345678"]]


def test_user_entered_parses_numbers_booleans_and_formulas(book) -> None:
    ws = book.worksheet(REG)
    ws.update([['=IMPORTXML("http://x","//a")', "0912345678", "TRUE", "'0912", "12.50", "chữ"]],
              "A1", raw=False)
    assert ws.get("A1:F1", value_render_option="FORMULA") == [
        ['=IMPORTXML("http://x","//a")', 912345678, True, "0912", 12.5, "chữ"]]
    # A formula is not plain text: it is not evaluated and shows as an error value.
    assert ws.get("A1:F1") == [["#N/A", "912345678", "TRUE", "0912", "12.5", "chữ"]]


def test_raw_json_numbers_stay_numbers(book) -> None:
    ws = book.worksheet(REG)
    ws.update([[12, 3.5, True]], "A1", raw=True)
    assert ws.get("A1:C1", value_render_option="UNFORMATTED_VALUE") == [[12, 3.5, True]]
    assert ws.get("A1:C1") == [["12", "3.5", "TRUE"]]


def test_append_rows_goes_after_the_table(book) -> None:
    ws = book.worksheet(OUTBOX)
    ws.update([["Mã thư", "Email"], ["T1", "a@x.vn"]], "A1")
    res = ws.append_rows([["T2", "b@x.vn"], ["T3", "c@x.vn"]])
    assert res["tableRange"] == f"'{OUTBOX}'!A1:B2"
    assert res["updates"]["updatedRange"] == f"'{OUTBOX}'!A3:B4"
    assert ws.col_values(1) == ["Mã thư", "T1", "T2", "T3"]


def test_append_insert_rows_grows_the_grid_and_keeps_rows_below(book) -> None:
    ws = book.worksheet(OUTBOX)
    ws.update([["h"], ["1"]], "A1")
    ws.update([["dưới"]], "A5")
    book.values_append(f"'{OUTBOX}'!A1", params={"valueInputOption": "RAW",
                                                 "insertDataOption": "INSERT_ROWS"},
                       body={"values": [["2"]]})
    assert ws.col_values(1) == ["h", "1", "2", "", "", "dưới"]
    assert book.worksheet(OUTBOX).row_count == 21


def test_append_past_the_last_row_grows_the_grid(book) -> None:
    ws = book.worksheet(OUTBOX)
    ws.update([[str(i)] for i in range(20)], "A1")
    ws.append_rows([["x"], ["y"]])
    assert gspread_row_count(book, OUTBOX) == 22
    assert ws.acell("A22").value == "y"


def gspread_row_count(book: gspread.Spreadsheet, title: str) -> int:
    """The row count as the server has it (gspread's Worksheet caches its own)."""
    return book.fetch_sheet_metadata()["sheets"][[ws.title for ws in book.worksheets()].index(title)][
        "properties"]["gridProperties"]["rowCount"]


def test_insert_and_delete_rows_shift_data(book) -> None:
    ws = book.worksheet(GUESTS)
    ws.update([["K1"], ["K2"], ["K3"]], "A1")
    ws.insert_rows([["K1.5"]], row=2)
    assert ws.col_values(1) == ["K1", "K1.5", "K2", "K3"]
    ws.delete_rows(1, 2)
    assert ws.col_values(1) == ["K2", "K3"]
    assert gspread_row_count(book, GUESTS) == 19


def test_inserted_rows_take_the_look_of_their_neighbour_not_its_content(book) -> None:
    """InsertDimensionRequest.inheritFromBefore: the new row's format and data
    validation come from the row before it (true) or after it (false), so a
    row inserted in a column of tick boxes has a tick box; values and notes do not."""
    ws = book.worksheet(GUESTS)
    ws.update([["Mã", "Gửi"], ["K1", True], ["K2", False]], "A1", raw=True)
    book.batch_update({"requests": [
        {"setDataValidation": {"range": {"sheetId": ws.id, "startRowIndex": 1, "endRowIndex": 3,
                                         "startColumnIndex": 1, "endColumnIndex": 2},
                               "rule": {"condition": {"type": "BOOLEAN"}}}},
        {"repeatCell": {"range": {"sheetId": ws.id, "startRowIndex": 0, "endRowIndex": 1},
                        "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                        "fields": "userEnteredFormat.textFormat.bold"}}]})
    ws.insert_rows([["K1.5"]], row=3, inherit_from_before=True)     # after K1: K1's look
    ws.insert_rows([["K0"]], row=2)                                 # before K1: K1's look (after)
    meta = book.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": f"'{GUESTS}'!A1:B5",
                                             "fields": "sheets(data(rowData(values(userEnteredValue,"
                                                       "dataValidation,userEnteredFormat))))"})
    rows = meta["sheets"][0]["data"][0]["rowData"]
    assert ws.col_values(1)[:5] == ["Mã", "K0", "K1", "K1.5", "K2"]
    for r in (1, 3):
        tick = rows[r]["values"][1]
        assert tick["dataValidation"]["condition"]["type"] == "BOOLEAN" and "userEnteredValue" not in tick
        assert "userEnteredFormat" not in rows[r]["values"][0]       # the header's bold stayed there
    with pytest.raises(gspread.exceptions.APIError) as refused:     # nothing before row 1
        book.batch_update({"requests": [{"insertDimension": {"inheritFromBefore": True, "range": {
            "sheetId": ws.id, "dimension": "ROWS", "startIndex": 0, "endIndex": 1}}}]})
    assert refused.value.response.status_code == 400


def test_sort_puts_numbers_before_text_and_blanks_last(book) -> None:
    ws = book.worksheet(GUESTS)
    ws.update([["Tên", "Điểm"], ["Đức", "b"], ["An", 3], ["Dung", ""], ["Bình", 1]], "A1")
    ws.sort((2, "asc"), range="A2:B5")
    assert ws.get_all_values() == [["Tên", "Điểm"], ["Bình", "1"], ["An", "3"], ["Đức", "b"],
                                   ["Dung", ""]]
    ws.sort((1, "asc"), range="A2:B5")
    assert ws.col_values(1) == ["Tên", "An", "Bình", "Dung", "Đức"]


def test_batch_update_values_and_batch_get_with_raw_client(book, service) -> None:
    sheets = service("sheets", "v4").spreadsheets()
    res = sheets.values().batchUpdate(spreadsheetId=book.id, body={
        "valueInputOption": "RAW",
        "data": [{"range": f"'{REG}'!A1", "values": [["x"]]},
                 {"range": f"'{GUESTS}'!B2", "values": [["y", "z"]]}]}).execute()
    assert (res["totalUpdatedCells"], res["totalUpdatedSheets"]) == (3, 2)
    got = sheets.values().batchGet(spreadsheetId=book.id,
                                   ranges=[f"'{REG}'!A1:B2", f"'{GUESTS}'!B2:C2"]).execute()
    assert [v.get("values") for v in got["valueRanges"]] == [[["x"]], [["y", "z"]]]
    assert got["valueRanges"][0]["range"] == f"'{REG}'!A1:B2"


def test_clear_and_batch_clear_remove_values(book, service) -> None:
    ws = book.worksheet(REG)
    ws.update([["a", "b"], ["c", "d"]], "A1")
    sheets = service("sheets", "v4").spreadsheets()
    res = sheets.values().clear(spreadsheetId=book.id, range=f"'{REG}'!A1:A2", body={}).execute()
    assert res["clearedRange"] == f"'{REG}'!A1:A2"
    assert ws.get_all_values() == [["", "b"], ["", "d"]]
    sheets.values().batchClear(spreadsheetId=book.id, body={"ranges": [f"'{REG}'"]}).execute()
    assert book.values_get(f"'{REG}'") == {"range": f"'{REG}'!A1:Z1000", "majorDimension": "ROWS"}


def test_batch_update_is_all_or_nothing(book, service) -> None:
    sheets = service("sheets", "v4").spreadsheets()
    with pytest.raises(HttpError) as err:
        sheets.batchUpdate(spreadsheetId=book.id, body={"requests": [
            {"addSheet": {"properties": {"title": "Mốc thời gian"}}},
            {"deleteSheet": {"sheetId": 424242}}]}).execute()
    assert err.value.resp.status == 400
    assert "Invalid requests[1].deleteSheet: No grid with id: 424242" in str(err.value)
    titles = [s["properties"]["title"] for s in sheets.get(spreadsheetId=book.id).execute()["sheets"]]
    assert "Mốc thời gian" not in titles


def test_checkbox_validation_via_repeat_cell(book, service) -> None:
    ws = book.worksheet(OUTBOX)
    book.batch_update({"requests": [{"repeatCell": {
        "range": {"sheetId": ws.id, "startRowIndex": 1, "endRowIndex": 3,
                  "startColumnIndex": 6, "endColumnIndex": 7},
        "cell": {"dataValidation": {"condition": {"type": "BOOLEAN"}},
                 "userEnteredValue": {"boolValue": False}},
        "fields": "dataValidation,userEnteredValue"}}]})
    got = service("sheets", "v4").spreadsheets().get(
        spreadsheetId=book.id, ranges=[f"'{OUTBOX}'!G2"], includeGridData=True).execute()
    cell = got["sheets"][0]["data"][0]["rowData"][0]["values"][0]
    assert cell["dataValidation"]["condition"]["type"] == "BOOLEAN"
    assert ws.get("G2:G3", value_render_option="UNFORMATTED_VALUE") == [[False], [False]]


def test_developer_metadata_tags_a_row_and_follows_inserts(book) -> None:
    ws = book.worksheet(REG)
    ws.update([["Mã"], ["R1"], ["R2"]], "A1")
    created = book.batch_update({"requests": [{"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": "formResponseId", "metadataValue": "resp-2",
        "location": {"dimensionRange": {"sheetId": ws.id, "dimension": "ROWS",
                                        "startIndex": 2, "endIndex": 3}},
        "visibility": "DOCUMENT"}}}]})
    md_id = created["replies"][0]["createDeveloperMetadata"]["developerMetadata"]["metadataId"]
    ws.insert_rows([["mới"]], row=2)  # staff insert a row above
    url = f"https://sheets.googleapis.com/v4/spreadsheets/{book.id}/developerMetadata:search"
    found = book.client.request("post", url, json={"dataFilters": [{"developerMetadataLookup": {
        "metadataKey": "formResponseId", "metadataValue": "resp-2"}}]}).json()
    (match,) = found["matchedDeveloperMetadata"]
    span = match["developerMetadata"]["location"]["dimensionRange"]
    assert match["developerMetadata"]["metadataId"] == md_id
    assert (span["startIndex"], span["endIndex"]) == (3, 4)
    assert ws.row_values(span["startIndex"] + 1) == ["R2"]
    none = book.client.request("post", url, json={"dataFilters": [{"developerMetadataLookup": {
        "metadataKey": "formResponseId", "metadataValue": "other"}}]}).json()
    assert none == {}
    ws.delete_rows(span["startIndex"] + 1)  # deleting the tagged row deletes its metadata
    gone = book.client.request("post", url, json={"dataFilters": [{"developerMetadataLookup": {
        "metadataId": md_id}}]}).json()
    assert gone == {}


def test_delete_developer_metadata_by_key(book) -> None:
    spec = {"metadataKey": "phiên bản", "metadataValue": "1", "location": {"spreadsheet": True},
            "visibility": "DOCUMENT"}
    book.batch_update({"requests": [{"createDeveloperMetadata": {"developerMetadata": spec}}]})
    assert book.fetch_sheet_metadata()["developerMetadata"][0]["metadataKey"] == "phiên bản"
    res = book.batch_update({"requests": [{"deleteDeveloperMetadata": {"dataFilter": {
        "developerMetadataLookup": {"metadataKey": "phiên bản"}}}}]})
    deleted = res["replies"][0]["deleteDeveloperMetadata"]["deletedDeveloperMetadata"]
    assert [d["metadataValue"] for d in deleted] == ["1"]
    assert "developerMetadata" not in book.fetch_sheet_metadata()


def test_developer_metadata_without_visibility_is_400(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.batch_update({"requests": [{"createDeveloperMetadata": {"developerMetadata": {
            "metadataKey": "k", "location": {"spreadsheet": True}}}}]})
    assert err.value.response.status_code == 400


def test_drive_copy_export_and_delete_cover_spreadsheets(gc, book, service) -> None:
    book.worksheet(REG).update([["Mã", "Tên"], ["R1", "Ánh"]], "A1")
    drive = service("drive", "v3")
    copy = drive.files().copy(fileId=book.id, body={"name": "Bản sao"}).execute()
    assert gc.open_by_key(copy["id"]).worksheet(REG).get_all_values()[1] == ["R1", "Ánh"]
    csv = drive.files().export(fileId=book.id, mimeType="text/csv").execute()
    assert csv.decode("utf-8") == "Mã,Tên\r\nR1,Ánh\r\n"
    drive.files().delete(fileId=copy["id"]).execute()
    with pytest.raises(gspread.SpreadsheetNotFound):
        gc.open_by_key(copy["id"])


def test_write_bumps_drive_version(book, service) -> None:
    drive = service("drive", "v3")
    before = int(drive.files().get(fileId=book.id, fields="version").execute()["version"])
    book.worksheet(REG).update([["x"]], "A1")
    after = int(drive.files().get(fileId=book.id, fields="version").execute()["version"])
    assert after == before + 1


def test_worksheet_batch_update_resize_and_freeze(book) -> None:
    ws = book.worksheet(GUESTS)
    ws.batch_update([{"range": "A1:B1", "values": [["Mã khách mời", "Email"]]},
                     {"range": "A2", "values": [["K1"]]}])
    ws.resize(rows=50, cols=4)
    ws.freeze(rows=1)
    props = book.fetch_sheet_metadata()["sheets"][1]["properties"]
    assert props["gridProperties"] == {"rowCount": 50, "columnCount": 4, "frozenRowCount": 1}
    assert ws.get_all_values() == [["Mã khách mời", "Email"], ["K1", ""]]


def test_rename_spreadsheet_updates_drive_name(gc, book, service) -> None:
    book.update_title("Hội thảo 2025")
    name = service("drive", "v3").files().get(fileId=book.id).execute()["name"]
    assert name == "Hội thảo 2025"
    assert gc.open("Hội thảo 2025").id == book.id


def test_create_with_raw_client_and_read_by_metadata_filter(service) -> None:
    sheets = service("sheets", "v4").spreadsheets()
    made = sheets.create(body={"properties": {"title": "Sổ", "timeZone": "Asia/Ho_Chi_Minh"},
                               "sheets": [{"properties": {"title": REG}},
                                          {"properties": {"title": OUTBOX,
                                                          "gridProperties": {"rowCount": 10}}}]}).execute()
    assert [s["properties"]["sheetId"] for s in made["sheets"]][0] == 0
    assert made["sheets"][1]["properties"]["gridProperties"] == {"rowCount": 10, "columnCount": 26}
    sid = made["spreadsheetId"]
    sheets.values().update(spreadsheetId=sid, range=f"'{REG}'!A1", valueInputOption="RAW",
                           body={"values": [["Mã"], ["R1"], ["R2"]]}).execute()
    sheets.batchUpdate(spreadsheetId=sid, body={"requests": [{"createDeveloperMetadata": {
        "developerMetadata": {"metadataKey": "formResponseId", "metadataValue": "r2",
                              "location": {"dimensionRange": {"sheetId": 0, "dimension": "ROWS",
                                                              "startIndex": 2, "endIndex": 3}},
                              "visibility": "DOCUMENT"}}}]}).execute()
    got = sheets.values().batchGetByDataFilter(spreadsheetId=sid, body={"dataFilters": [
        {"developerMetadataLookup": {"metadataValue": "r2"}}]}).execute()
    (only,) = got["valueRanges"]
    assert only["valueRange"] == {"range": f"'{REG}'!A3:Z3", "majorDimension": "ROWS",
                                  "values": [["R2"]]}


def test_protected_range_is_listed_with_its_sheet(book) -> None:
    ws = book.worksheet(OUTBOX)
    res = book.batch_update({"requests": [{"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": ws.id, "startColumnIndex": 5, "endColumnIndex": 6},
        "description": "Trạng thái do hệ thống ghi", "warningOnly": True}}}]})
    made = res["replies"][0]["addProtectedRange"]["protectedRange"]
    assert made["protectedRangeId"] and made["warningOnly"] is True
    assert book.list_protected_ranges(ws.id) == [made]


# -- refusals ------------------------------------------------------------------
def test_bad_range_is_400_unable_to_parse(book) -> None:
    """Sheets v4 answers without the old `errors[]` array (see sandbox/errors.py)."""
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.values_get(f"'{REG}'!A1:B2:C3")
    assert _error(err.value) == {
        "code": 400, "message": f"Unable to parse range: '{REG}'!A1:B2:C3", "status": "INVALID_ARGUMENT"}


def test_unknown_tab_is_400_unable_to_parse(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.values_get("'Không có'!A1")
    assert _error(err.value)["message"] == "Unable to parse range: 'Không có'!A1"


def test_unknown_spreadsheet_id_is_404(gc, sandbox) -> None:
    with pytest.raises(gspread.SpreadsheetNotFound):
        gc.open_by_key("nope")
    r = requests.get(f"{sandbox.url}/v4/spreadsheets/nope/values/A1", timeout=5,
                     headers={"Authorization": "Bearer t"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Requested entity was not found."
    assert r.json()["error"]["status"] == "NOT_FOUND"


def test_unknown_field_in_batch_update_request_is_400(book, service) -> None:
    with pytest.raises(HttpError) as err:
        service("sheets", "v4").spreadsheets().batchUpdate(spreadsheetId=book.id, body={
            "requests": [{"addSheet": {"properties": {"title": "x", "colour": 1}}}]}).execute()
    assert err.value.resp.status == 400
    assert 'Unknown name "colour"' in str(err.value)


def test_update_beyond_grid_is_400(book) -> None:
    ws = book.worksheet(GUESTS)
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.update([["x"]], "A21")
    assert _error(err.value)["message"] == (
        f"Range ('{GUESTS}'!A21) exceeds grid limits. Max rows: 20, max columns: 8")


def test_writing_past_the_requested_range_is_400(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.worksheet(REG).update([["a"], ["b"], ["c"]], "A1:B2")
    assert _error(err.value)["message"] == (
        f"Requested writing within range ['{REG}'!A1:B2], but tried writing to row [3]")


def test_cell_over_50000_characters_is_400(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.worksheet(REG).update([["x" * 50_001]], "A1")
    assert _error(err.value)["message"] == (
        "Your input contains more than the maximum of 50000 characters in a single cell.")


def test_missing_value_input_option_is_400(book) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        book.client.request("put", f"https://sheets.googleapis.com/v4/spreadsheets/{book.id}/values/A1",
                            json={"values": [["x"]]})
    assert _error(err.value)["message"] == "'valueInputOption' is required but not specified"
