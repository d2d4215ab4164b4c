"""Where the sandbox must refuse, or answer, exactly as Google does: error
bodies per API, auth and scopes, quotas, malformed input, the request log,
and concurrent writers. Driven by the real gspread and googleapiclient."""
from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from typing import Any

import gspread
import pytest
from google.auth.crypt import RSASigner
from google.oauth2 import service_account
from googleapiclient.errors import HttpError

from sandbox.api import HANDLERS
from sandbox.oauth import create_service_account
from sandbox.server import MAX_JSON_BODY
from workspace.transport import redirect_session

SHEETS_READ_QUOTA = ("Quota exceeded for quota metric 'Read requests' and limit 'Read requests "
                     "per minute per user' of service 'sheets.googleapis.com' for consumer "
                     "'project_number:000000000000'.")


def _raw(server: Any, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """One plain HTTP request (for what no client library would send)."""
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path, body=body, headers={"Authorization": "Bearer t", **(headers or {})})
    resp = conn.getresponse()
    status, payload = resp.status, json.loads(resp.read())
    conn.close()
    return status, payload


def _gspread_for(server: Any, creds: Any) -> gspread.Client:
    client = gspread.Client(auth=creds)
    redirect_session(client.http_client.session, server.url)
    return client


def _creds(server: Any, rsa_key_pem: str, rsa_key: Any, scopes: list[str]) -> Any:
    info = create_service_account(server.store, "sa@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    signer = RSASigner(rsa_key, key_id=info["private_key_id"])
    return service_account.Credentials(signer, info["client_email"], server.url + "/token",
                                       scopes=scopes)


# -- error bodies ---------------------------------------------------------------
def test_every_api_error_has_code_message_and_status(sandbox, service, gc) -> None:
    """Docs and Forms keep `errors[]` here; Sheets v4 sends code, message and
    status only (see sandbox/errors.py for Google's body)."""
    with pytest.raises(gspread.exceptions.APIError) as sheets_err:
        gc.http_client.values_get("khong-ton-tai", "A1")
    body = sheets_err.value.response.json()["error"]
    assert body == {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    for name, version, call in (("docs", "v1", lambda s: s.documents().get(documentId="x")),
                                ("forms", "v1", lambda s: s.forms().get(formId="x"))):
        with pytest.raises(HttpError) as exc:
            call(service(name, version)).execute()
        assert exc.value.status_code == 404
        error = json.loads(exc.value.content)["error"]
        assert {"code", "message", "status", "errors"} <= error.keys()
        assert exc.value.error_details[0]["message"] == "Requested entity was not found."


def test_drive_and_gmail_errors_keep_the_errors_array(service) -> None:
    with pytest.raises(HttpError) as exc:
        service("drive", "v3").files().get(fileId="khong-co").execute()
    assert exc.value.error_details == [{
        "message": "File not found: khong-co.", "domain": "global", "reason": "notFound",
        "location": "fileId", "locationType": "parameter"}]
    with pytest.raises(HttpError) as exc:
        service("gmail", "v1").users().messages().get(userId="me", id="18c0ffee00000000").execute()
    assert exc.value.error_details[0]["reason"] == "notFound"


def test_missing_and_invalid_tokens_are_distinct_401s(make_sandbox) -> None:
    server = make_sandbox(require_auth=True)
    status, body = _raw(server, "GET", "/drive/v3/files/abc", headers={"Authorization": ""})
    assert status == 401
    assert body["error"]["message"].startswith("Request is missing required authentication credential.")
    assert body["error"]["errors"] == [{"message": "Login Required.", "domain": "global",
                                        "reason": "required", "location": "Authorization",
                                        "locationType": "header"}]
    status, body = _raw(server, "GET", "/v4/spreadsheets/abc", headers={"Authorization": "Bearer nope"})
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert "errors" not in body["error"]  # Sheets v4: the reason is in details[] only
    assert body["error"]["details"][0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    assert body["error"]["details"][0]["metadata"] == {"service": "sheets.googleapis.com"}


def test_send_only_scope_cannot_search_the_mailbox(sandbox, rsa_key_pem, rsa_key, service) -> None:
    creds = _creds(sandbox, rsa_key_pem, rsa_key, ["https://www.googleapis.com/auth/gmail.send"])
    gmail = service("gmail", "v1", creds=creds)
    raw = "VG86IGFAYi5jb20NClN1YmplY3Q6IHgNCg0KaGk="  # To: a@b.com / Subject: x / hi
    assert gmail.users().messages().send(userId="me", body={"raw": raw}).execute()["id"]
    with pytest.raises(HttpError) as exc:
        gmail.users().messages().list(userId="me", q="rfc822msgid:abc@x").execute()
    err = json.loads(exc.value.content)["error"]
    assert (err["code"], err["status"], err["message"]) == (
        403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
    assert err["errors"][0]["reason"] == "insufficientPermissions"
    assert err["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def _book_with_read_quota(make_sandbox: Any, rsa_key_pem: str, rsa_key: Any,
                          reads_left: int) -> tuple[Any, gspread.Spreadsheet]:
    """A new spreadsheet whose owner may make `reads_left` more Sheets reads this minute."""
    server = make_sandbox()
    creds = _creds(server, rsa_key_pem, rsa_key, ["https://www.googleapis.com/auth/spreadsheets",
                                                  "https://www.googleapis.com/auth/drive"])
    book = _gspread_for(server, creds).create("Quota")
    spent = sum(1 for r in server.store.requests() if r["api"] == "sheets" and r["kind"] == "read")
    server.options.quotas = {"sheets": {"read": spent + reads_left, "write": 60}}
    return server, book


def test_sheets_read_quota_429_is_googles_body(make_sandbox, rsa_key_pem, rsa_key) -> None:
    server, book = _book_with_read_quota(make_sandbox, rsa_key_pem, rsa_key, 2)
    book.values_get("A1")
    book.values_get("A1")
    with pytest.raises(gspread.exceptions.APIError) as exc:
        book.values_get("A1")
    assert exc.value.code == 429 and str(exc.value) == f"APIError: [429]: {SHEETS_READ_QUOTA}"
    error = exc.value.response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert "errors" not in error  # Sheets v4: the reason is in details[] (ErrorInfo) only
    info = error["details"][0]
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"]["quota_metric"] == "sheets.googleapis.com/read_requests"
    assert info["metadata"]["quota_limit"] == "ReadRequestsPerMinutePerUser"
    assert info["metadata"]["quota_limit_value"] == str(server.options.quotas["sheets"]["read"])
    assert exc.value.response.headers["Retry-After"]


# -- malformed input and sandbox bugs -----------------------------------------------
def test_malformed_json_is_a_logged_400(sandbox) -> None:
    status, body = _raw(sandbox, "POST", "/v4/spreadsheets/abc:batchUpdate", b"{not json",
                        {"Content-Type": "application/json"})
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["message"].startswith("Invalid JSON payload received.")
    last = sandbox.store.requests()[-1]
    assert (last["method_id"], last["status"]) == ("sheets.spreadsheets.batchUpdate", 400)


def test_oversized_body_is_a_400_and_the_connection_survives(sandbox) -> None:
    host, port = sandbox.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    big = b'{"requests": [], "x": "' + b"a" * (MAX_JSON_BODY + 10) + b'"}'
    conn.request("POST", "/v4/spreadsheets/abc:batchUpdate", body=big,
                 headers={"Authorization": "Bearer t", "Content-Type": "application/json"})
    resp = conn.getresponse()
    error = json.loads(resp.read())["error"]
    assert resp.status == 400
    assert error["message"] == f"Request payload size exceeds the limit: {MAX_JSON_BODY} bytes."
    conn.request("GET", "/v4/spreadsheets/abc", headers={"Authorization": "Bearer t"})
    assert conn.getresponse().status == 404  # same keep-alive connection, next request parsed
    conn.close()


def test_handler_exception_is_a_google_500_and_is_flagged(make_sandbox, monkeypatch) -> None:
    def broken(call: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setitem(HANDLERS, "sheets.spreadsheets.getByDataFilter", broken)
    server = make_sandbox()
    status, body = _raw(server, "POST", "/v4/spreadsheets/abc:getByDataFilter", b"{}",
                        {"Content-Type": "application/json"})
    seen, server._httpd.last_internal_error = server.last_internal_error, None  # or the fixture fails
    assert isinstance(seen, KeyError)
    assert (status, body["error"]["message"], body["error"]["status"]) == (
        500, "Internal error encountered.", "INTERNAL")
    assert "errors" not in body["error"]  # a Sheets route: Google's Sheets v4 body has no errors[]


# -- the request log --------------------------------------------------------------
def test_every_request_is_logged_once_with_its_status(make_sandbox, rsa_key_pem, rsa_key) -> None:
    server, book = _book_with_read_quota(make_sandbox, rsa_key_pem, rsa_key, 3)
    since = server.store.last_request_seq()
    _raw(server, "GET", f"/v4/spreadsheets/{book.id}", headers={"Authorization": ""})  # 401
    for _ in range(4):  # 3 allowed, the 4th is the quota's 429
        try:
            book.values_get("A1")
        except gspread.exceptions.APIError:
            pass
    log = server.store.requests(since)
    seen = Counter((r["method_id"], r["status"]) for r in log)
    assert seen == Counter({("sheets.spreadsheets.get", 401): 1,
                            ("sheets.spreadsheets.values.get", 200): 3,
                            ("sheets.spreadsheets.values.get", 429): 1})
    assert all(r["api"] == "sheets" for r in log)


def test_injected_faults_are_logged_like_any_answer(make_sandbox, rsa_key_pem, rsa_key) -> None:
    server = make_sandbox(fail_rate=1.0, seed=7)
    since = server.store.last_request_seq()
    statuses = [_raw(server, "GET", "/v4/spreadsheets/abc")[0] for _ in range(5)]
    log = server.store.requests(since)
    assert [r["status"] for r in log] == statuses and set(statuses) <= {429, 500, 503}
    assert {r["method_id"] for r in log} == {"sheets.spreadsheets.get"}


# -- concurrent writers ---------------------------------------------------------------
def _append_many(client: gspread.Client, book_id: str, who: str, n: int,
                 failures: list[BaseException]) -> None:
    try:
        ws = client.open_by_key(book_id).sheet1
        for i in range(n):
            ws.append_row([who, i], value_input_option="RAW", table_range="A1")
    except BaseException as exc:  # surfaced by the test
        failures.append(exc)


def test_concurrent_appends_from_two_servers_lose_nothing(make_sandbox, tmp_path, rsa_key_pem,
                                                          rsa_key) -> None:
    # Two servers over one folder stand for two processes sharing the data.
    first = make_sandbox(tmp_path / "shared")
    second = make_sandbox(tmp_path / "shared")
    scopes = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]
    clients = [_gspread_for(s, _creds(s, rsa_key_pem, rsa_key, scopes)) for s in (first, second)]
    book = clients[0].create("Đồng thời")
    book.sheet1.update([["Ai", "Số"]], "A1")
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_append_many, args=(c, book.id, f"w{i}", 12, failures))
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures
    rows = book.sheet1.get_all_values()[1:]
    assert len(rows) == 24
    assert sorted(rows) == sorted([f"w{w}", str(i)] for w in (0, 1) for i in range(12))


# -- Sheets shapes the product leans on -------------------------------------------------
def test_sort_range_below_a_header_keeps_the_header(gc) -> None:
    ws = gc.create("Sắp xếp").sheet1
    ws.update([["Tên", "Điểm"], ["Chi", "7"], ["An", "9"], ["Bình", ""]], "A1",
              value_input_option="USER_ENTERED")
    ws.sort((2, "des"), range="A2:B4")
    assert ws.get_all_values()[:4] == [["Tên", "Điểm"], ["An", "9"], ["Chi", "7"], ["Bình", ""]]


def test_get_with_fields_returns_only_the_fields_asked(gc) -> None:
    book = gc.create("Trường")
    book.add_worksheet("Đăng ký", rows=10, cols=5)
    meta = book.fetch_sheet_metadata(params={"fields": "sheets.properties(title,sheetId)"})
    assert meta == {"sheets": [{"properties": {"sheetId": 0, "title": "Sheet1"}},
                               {"properties": {"sheetId": book.worksheet("Đăng ký").id,
                                               "title": "Đăng ký"}}]}


def test_unformatted_values_keep_json_types(gc) -> None:
    book = gc.create("Kiểu")
    book.sheet1.update([[True, 3.5, 12, "012"]], "A1", value_input_option="RAW")
    got = book.values_get("A1:D1", params={"valueRenderOption": "UNFORMATTED_VALUE"})
    assert got["values"] == [[True, 3.5, 12, "012"]]
    assert book.values_get("A1:D1")["values"] == [["TRUE", "3.5", "12", "012"]]
