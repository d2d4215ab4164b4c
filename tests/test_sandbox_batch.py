"""Google's HTTP batch endpoint in the sandbox (`POST /batch/drive/v3`, and
`/batch` for Gmail), driven by the real googleapiclient
(`service.new_batch_http_request()`), and by hand for what no client sends.

Reference: https://developers.google.com/drive/api/guides/performance#batch-requests
Each inner request is served as if it had come on its own; the batch answers
200 with one `application/http` part per inner request, in order."""
from __future__ import annotations

import email.parser
import email.policy
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from google.auth.crypt import RSASigner
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload

from sandbox.oauth import create_service_account
from tests.conftest import SCOPES
from workspace.transport import new_http

ACCOUNT = "hoithao@hoithao-sandbox.iam.gserviceaccount.com"
READERS = ["an.nguyen@example.edu.vn", "binh.tran@example.edu.vn"]


class Collected:
    """A batch callback that keeps (response, exception) by request id."""

    def __init__(self) -> None:
        self.got: dict[str, tuple[Any, HttpError | None]] = {}

    def __call__(self, request_id: str, response: Any, exception: HttpError | None) -> None:
        self.got[request_id] = (response, exception)

    def ok(self, request_id: str) -> Any:
        response, exception = self.got[request_id]
        assert exception is None, exception
        return response

    def error(self, request_id: str) -> tuple[int, dict[str, Any]]:
        response, exception = self.got[request_id]
        assert response is None and isinstance(exception, HttpError), response
        return exception.resp.status, json.loads(exception.content)["error"]


def _client(server: Any, name: str, version: str, creds: Any) -> Any:
    http = AuthorizedHttp(creds, http=new_http(server.url))
    return build(name, version, http=http, static_discovery=True, cache_discovery=False)


def _dev_drive(server: Any, who: str = "user:an@so.example") -> Any:
    """Drive for a development token (accepted unless the sandbox requires auth)."""
    return _client(server, "drive", "v3", Credentials(token=who))


def _account(server: Any, rsa_key_pem: str, rsa_key: Any) -> service_account.Credentials:
    info = create_service_account(server.store, ACCOUNT, private_pem=rsa_key_pem)
    return service_account.Credentials(RSASigner(rsa_key, key_id=info["private_key_id"]), ACCOUNT,
                                       server.url + "/token", scopes=SCOPES)


def _post_batch(server: Any, body: bytes, boundary: str = "b0undary", path: str = "/batch/drive/v3",
                headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(server.url + path, data=body, timeout=30, headers={
        "Content-Type": f"multipart/mixed; boundary={boundary}", **(headers or {})})


def _batch_body(*parts: str, boundary: str = "b0undary") -> bytes:
    """A batch body by hand, CRLF line breaks: each part's text after its part headers."""
    out = ""
    for part in parts:
        out += f"--{boundary}\r\n{part}\r\n"
    return (out + f"--{boundary}--\r\n").encode()


def _answers(resp: requests.Response) -> list[tuple[str | None, int, dict[str, str], bytes]]:
    """(Content-ID, status, headers, body) of each part of a batch answer,
    read with the standard library's MIME parser."""
    assert resp.status_code == 200, resp.text
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + resp.headers["Content-Type"].encode() + b"\r\n\r\n" + resp.content)
    assert msg.get_content_type() == "multipart/mixed"
    out = []
    for part in msg.iter_parts():
        assert part.get_content_type() == "application/http"
        head, _, body = part.get_payload(decode=True).partition(b"\r\n\r\n")
        status_line, *lines = head.decode().split("\r\n")
        version, status, _reason = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = dict(line.split(": ", 1) for line in lines)
        assert int(headers["Content-Length"]) == len(body)
        out.append((part["Content-ID"], int(status), headers, body))
    return out


# -- through the real client ------------------------------------------------------

def test_a_drive_batch_shares_files_and_answers_each_call(sandbox: Any, service: Any) -> None:
    drive = service("drive", "v3")
    paper = drive.files().create(body={"name": "Tham luận — Nguyễn Văn An"}).execute()
    letter = drive.files().create(body={"name": "Thư mời"}).execute()
    before = sandbox.store.last_request_seq()

    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    for email_address in READERS:
        batch.add(drive.permissions().create(
            fileId=paper["id"], sendNotificationEmail=False, fields="id,role,emailAddress",
            body={"type": "user", "role": "reader", "emailAddress": email_address}),
            request_id=f"share {email_address}")
    batch.add(drive.permissions().create(
        fileId=letter["id"], sendNotificationEmail=False,
        body={"type": "user", "role": "writer", "emailAddress": READERS[0]}), request_id="letter")
    batch.add(drive.files().get(fileId=paper["id"], fields="id,name"), request_id="get")
    batch.add(drive.files().get(fileId="khong-co"), request_id="missing")
    batch.execute()

    for email_address in READERS:
        made = collected.ok(f"share {email_address}")
        assert (made["role"], made["emailAddress"]) == ("reader", email_address)
        assert set(made) == {"id", "role", "emailAddress"}  # `fields` applied per call
    assert collected.ok("letter")["role"] == "writer"
    assert collected.ok("get") == {"id": paper["id"], "name": "Tham luận — Nguyễn Văn An"}
    status, error = collected.error("missing")
    assert status == 404
    assert error["message"] == "File not found: khong-co."
    assert error["errors"][0]["reason"] == "notFound"

    # The permissions really exist, as a single call sees them.
    perms = drive.permissions().list(fileId=paper["id"],
                                     fields="permissions(role,emailAddress)").execute()
    for email_address in READERS:
        assert {"role": "reader", "emailAddress": email_address} in perms["permissions"]

    # One log line per inner call (they count as calls), then the batch itself.
    log = sandbox.store.requests(before)
    assert [r["method_id"] for r in log] == ["drive.permissions.create"] * 3 + [
        "drive.files.get", "drive.files.get", None, "drive.permissions.list"]
    assert [r["status"] for r in log[:5]] == [200, 200, 200, 200, 404]
    assert all(r["principal"] == ACCOUNT for r in log[:5])
    assert (log[5]["path"], log[5]["kind"], log[5]["units"]) == ("/batch/drive/v3", "batch", 0)


def test_sharing_rules_apply_to_each_inner_call(sandbox: Any, service: Any, rsa_key_pem: str,
                                                rsa_key: Any) -> None:
    owner = service("drive", "v3")
    private = owner.files().create(body={"name": "Chưa chia sẻ"}).execute()
    shared = owner.files().create(body={"name": "Đã chia sẻ"}).execute()
    other_email = "nguoi-khac@hoithao-sandbox.iam.gserviceaccount.com"
    owner.permissions().create(fileId=shared["id"], sendNotificationEmail=False, body={
        "type": "user", "role": "reader", "emailAddress": other_email}).execute()
    info = create_service_account(sandbox.store, other_email, private_pem=rsa_key_pem)
    other = service("drive", "v3", service_account.Credentials(
        RSASigner(rsa_key, key_id=info["private_key_id"]), other_email, sandbox.url + "/token",
        scopes=SCOPES))

    collected = Collected()
    batch = other.new_batch_http_request(callback=collected)
    batch.add(other.files().get(fileId=private["id"]), request_id="private")
    batch.add(other.files().get(fileId=shared["id"], fields="name"), request_id="shared")
    batch.execute()
    assert collected.error("private")[0] == 404  # Drive does not reveal that it exists
    assert collected.ok("shared") == {"name": "Đã chia sẻ"}


def test_more_than_100_calls_are_refused_whole(sandbox: Any, service: Any) -> None:
    drive = service("drive", "v3")
    before = sandbox.store.last_request_seq()
    batch = drive.new_batch_http_request()
    for i in range(101):
        batch.add(drive.files().get(fileId=f"tep-{i}"))
    with pytest.raises(HttpError) as exc:
        batch.execute()
    assert exc.value.resp.status == 400
    assert json.loads(exc.value.content) == {"error": {
        "code": 400, "message": "Inner request count exceeds the limit. Received: 101, Limit: 100",
        "status": "INVALID_ARGUMENT"}}
    # Nothing was served (the client fetched its first token on the way).
    assert [r["kind"] for r in sandbox.store.requests(before) if r["api"] != "oauth"] == ["batch"]

    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    for i in range(100):
        batch.add(drive.files().get(fileId=f"tep-{i}"))
    batch.execute()
    assert len(collected.got) == 100
    assert all(exc is not None and exc.resp.status == 404 for _, exc in collected.got.values())


def test_inner_calls_count_against_the_quota(make_sandbox: Any) -> None:
    server = make_sandbox(quotas={"drive": {"read": 3, "write": 3}})
    drive = _dev_drive(server)
    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    for i in range(5):
        batch.add(drive.files().list(pageSize=1), request_id=str(i))
    batch.execute()
    for i in range(3):
        assert "files" in collected.ok(str(i))
    for i in (3, 4):
        status, error = collected.error(str(i))
        assert (status, error["status"]) == (429, "RESOURCE_EXHAUSTED")
        assert error["message"].startswith("Quota exceeded for quota metric 'Queries'")
        assert collected.got[str(i)][1].resp["retry-after"] == "1"
    # The quota is spent: a single call is refused too.
    with pytest.raises(HttpError) as exc:
        drive.files().list(pageSize=1).execute()
    assert exc.value.resp.status == 429


def test_injected_faults_hit_inner_calls_and_the_batch_still_answers(make_sandbox: Any) -> None:
    server = make_sandbox(fail_rate=1.0, seed=7)
    drive = _dev_drive(server)
    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    for i in range(4):
        batch.add(drive.files().create(body={"name": f"Tệp {i}"}), request_id=str(i))
    batch.execute()
    assert {collected.error(str(i))[0] for i in range(4)} <= {429, 500, 503}
    # Each call was refused on its own, before any work; the batch answered 200.
    log = server.store.requests()
    assert [(r["method_id"], r["status"] in (429, 500, 503)) for r in log[:-1]] == [
        ("drive.files.create", True)] * 4
    assert (log[-1]["kind"], log[-1]["status"]) == ("batch", 200)


def test_the_client_refreshes_a_stale_token_and_resends_the_refused_calls(
        make_sandbox: Any, rsa_key_pem: str, rsa_key: Any) -> None:
    server = make_sandbox(require_auth=True)
    creds = _account(server, rsa_key_pem, rsa_key)
    # A token the sandbox never issued, that the client believes valid for an hour.
    creds.token = "het-hieu-luc"
    creds.expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(tzinfo=None)
    drive = _client(server, "drive", "v3", creds)
    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    batch.add(drive.files().create(body={"name": "Danh sách"}, fields="name"), request_id="create")
    batch.add(drive.files().list(pageSize=1, fields="files(name)"), request_id="list")
    batch.execute()
    assert collected.ok("create") == {"name": "Danh sách"}
    assert "files" in collected.ok("list")
    # Each inner call was refused 401 on its own, then served after the refresh.
    calls = [(r["method_id"], r["status"]) for r in server.store.requests()
             if r["api"] == "drive" and r["kind"] != "batch"]
    assert calls == [("drive.files.create", 401), ("drive.files.list", 401),
                     ("drive.files.create", 200), ("drive.files.list", 200)]
    assert creds.token != "het-hieu-luc"


def test_media_and_other_apis_are_refused_inside_a_drive_batch(sandbox: Any, service: Any) -> None:
    drive, gmail = service("drive", "v3"), service("gmail", "v1")
    doc = drive.files().create(body={"name": "Ghi chú"}).execute()
    collected = Collected()
    batch = drive.new_batch_http_request(callback=collected)
    # A non-resumable upload is one request, which the client lets into a batch.
    batch.add(drive.files().create(body={"name": "a.txt"}, media_body=MediaIoBaseUpload(
        io.BytesIO(b"noi dung"), "text/plain", resumable=False)), request_id="upload")
    batch.add(drive.files().get_media(fileId=doc["id"]), request_id="download")
    batch.add(gmail.users().getProfile(userId="me"), request_id="gmail")
    batch.add(drive.files().get(fileId=doc["id"], fields="name"), request_id="drive")
    batch.execute()
    status, error = collected.error("upload")
    assert status == 404 and error["message"].startswith("The requested URL /upload/drive/v3/files")
    assert collected.error("download")[0] == 400
    status, error = collected.error("gmail")
    assert status == 404 and "/gmail/v1/users/me/profile" in error["message"]
    assert collected.ok("drive") == {"name": "Ghi chú"}
    names = [f["name"] for f in drive.files().list(fields="files(name)").execute()["files"]]
    assert "a.txt" not in names


def test_gmail_batches_at_its_own_batch_path(sandbox: Any, service: Any) -> None:
    gmail = service("gmail", "v1")
    assert gmail.new_batch_http_request()._batch_uri == "https://gmail.googleapis.com/batch"
    collected = Collected()
    batch = gmail.new_batch_http_request(callback=collected)
    batch.add(gmail.users().getProfile(userId="me"), request_id="profile")
    batch.add(gmail.users().messages().get(userId="me", id="18c0ffee00000000"), request_id="missing")
    batch.add(service("sheets", "v4").spreadsheets().get(spreadsheetId="x"), request_id="sheets")
    batch.execute()
    assert collected.ok("profile")["emailAddress"] == ACCOUNT
    assert collected.error("missing")[0] == 404
    assert collected.error("sheets")[0] == 404
    log = [r for r in sandbox.store.requests() if r["kind"] == "batch"]
    assert [(r["api"], r["path"]) for r in log] == [("gmail", "/batch")]


# -- the wire format, by hand ------------------------------------------------------

def test_the_answer_echoes_content_ids_in_order_with_google_wire_shape(sandbox: Any) -> None:
    auth = {"Authorization": "Bearer user:an@so.example"}
    made = requests.post(sandbox.url + "/drive/v3/files", json={"name": "Tệp"}, headers=auth,
                         timeout=10).json()
    # The example of Google's guide: Content-IDs with and without angle brackets,
    # a part without one, a full URL, a JSON body with its own Content-Type.
    body = _batch_body(
        "Content-Type: application/http\r\nContent-ID: <item1:12930812@barnyard.example.com>\r\n\r\n"
        f"GET /drive/v3/files/{made['id']}?fields=name HTTP/1.1\r\n",
        "Content-Type: application/http\r\nContent-ID: item2\r\n\r\n"
        f"PATCH https://www.googleapis.com/drive/v3/files/{made['id']}?fields=name HTTP/1.1\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n\r\n"
        '{"name": "Tệp đã đổi tên"}',
        "Content-Type: application/http\r\n\r\n"
        "DELETE /drive/v3/files/khong-co HTTP/1.1\r\n")
    resp = _post_batch(sandbox, body, headers=auth)
    assert resp.headers["Content-Type"].startswith("multipart/mixed; boundary=batch_")
    answers = _answers(resp)
    assert [(cid, status) for cid, status, _, _ in answers] == [
        ("<response-item1:12930812@barnyard.example.com>", 200), ("<response-item2>", 200),
        (None, 404)]
    assert json.loads(answers[0][3]) == {"name": "Tệp"}
    assert json.loads(answers[1][3]) == {"name": "Tệp đã đổi tên"}
    assert answers[1][2]["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(answers[2][3])["error"]["code"] == 404


def test_the_outer_authorization_applies_unless_a_call_has_its_own(sandbox: Any) -> None:
    before = sandbox.store.last_request_seq()
    body = _batch_body(
        "Content-Type: application/http\r\n\r\nGET /drive/v3/files HTTP/1.1\r\n",
        "Content-Type: application/http\r\n\r\nGET /drive/v3/files HTTP/1.1\r\n"
        "Authorization: Bearer user:binh@so.example\r\n")
    answers = _answers(_post_batch(sandbox, body,
                                   headers={"Authorization": "Bearer user:an@so.example"}))
    assert [status for _, status, _, _ in answers] == [200, 200]
    assert [r["principal"] for r in sandbox.store.requests(before)] == [
        "an@so.example", "binh@so.example", None]


def test_an_unauthenticated_inner_call_is_refused_as_a_single_call_is(make_sandbox: Any) -> None:
    server = make_sandbox(require_auth=True)
    single = [requests.get(server.url + "/drive/v3/files", timeout=10, headers=headers)
              for headers in ({}, {"Authorization": "Bearer tu-dat-ra"})]
    body = _batch_body(
        "Content-Type: application/http\r\nContent-ID: <khong-token>\r\n\r\n"
        "GET /drive/v3/files HTTP/1.1\r\n",
        "Content-Type: application/http\r\nContent-ID: <token-la>\r\n\r\n"
        "GET /drive/v3/files HTTP/1.1\r\nAuthorization: Bearer tu-dat-ra\r\n")
    answers = _answers(_post_batch(server, body))
    assert [(status, json.loads(content)) for _, status, _, content in answers] == [
        (r.status_code, r.json()) for r in single]
    assert [status for _, status, _, _ in answers] == [401, 401]


@pytest.mark.parametrize("content_type, body", [
    ("multipart/mixed; boundary=b0undary", b""),
    ("multipart/mixed; boundary=b0undary", b"--khac\r\n\r\nGET /drive/v3/files\r\n--khac--\r\n"),
    ("application/json", b'{"requests": []}'),
    ("multipart/mixed", _batch_body("Content-Type: application/http\r\n\r\nGET /drive/v3/files")),
])
def test_an_empty_or_foreign_body_is_400(sandbox: Any, content_type: str, body: bytes) -> None:
    resp = requests.post(sandbox.url + "/batch/drive/v3", data=body, timeout=10,
                         headers={"Content-Type": content_type, "Authorization": "Bearer t"})
    assert resp.status_code == 400
    assert resp.json() == {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                     "message": "Invalid multipart request with 0 mime parts."}}


@pytest.mark.parametrize("part, says", [
    ("Content-Type: text/plain\r\n\r\nGET /drive/v3/files HTTP/1.1\r\n",
     "part 1 is not of type application/http"),
    ("Content-Type: application/http\r\n\r\n", "part 1 holds no HTTP request"),
    ("Content-Type: application/http\r\n\r\nGET /drive/v3/files HTTP/1.1 extra\r\n",
     "part 1 does not start with an HTTP request line"),
    ("Content-Type: application/http\r\n\r\nFETCH /drive/v3/files HTTP/1.1\r\n",
     "part 1 uses the method FETCH"),
    ("Content-Type: application/http\r\n\r\nGET drive/v3/files HTTP/1.1\r\n",
     "part 1 requests drive/v3/files, which is not a path"),
])
def test_a_malformed_part_refuses_the_whole_batch(sandbox: Any, part: str, says: str) -> None:
    before = sandbox.store.last_request_seq()
    ok = "Content-Type: application/http\r\n\r\nGET /drive/v3/files HTTP/1.1\r\n"
    resp = _post_batch(sandbox, _batch_body(part, ok), headers={"Authorization": "Bearer t"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == f"Invalid batch request: {says}."
    assert [r["kind"] for r in sandbox.store.requests(before)] == ["batch"]


def test_a_nested_batch_and_a_get_on_the_batch_path_are_refused(sandbox: Any) -> None:
    nested = _batch_body(
        "Content-Type: application/http\r\n\r\n"
        "POST /batch/drive/v3 HTTP/1.1\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n"
        "--inner\r\nContent-Type: application/http\r\n\r\nGET /drive/v3/files\r\n--inner--")
    answers = _answers(_post_batch(sandbox, nested, headers={"Authorization": "Bearer t"}))
    assert [status for _, status, _, _ in answers] == [404]
    assert requests.get(sandbox.url + "/batch/drive/v3", timeout=10,
                        headers={"Authorization": "Bearer t"}).status_code == 405
