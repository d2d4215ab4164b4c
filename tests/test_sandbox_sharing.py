"""Identity and sharing: a caller holding a token the sandbox issued sees only
the files it owns or that are shared with it, and is answered as Google
answers (Sheets/Docs/Forms 403 PERMISSION_DENIED "The caller does not have
permission"; Drive 404 "File not found"), through the real gspread and
googleapiclient. The product's sentence names the file and the account."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gspread
import pytest
import yaml
from google.auth.crypt import RSASigner
from google.oauth2 import service_account
from googleapiclient.errors import HttpError

from sandbox.oauth import create_service_account
from tests.conftest import SCOPES, child_env, run_cli
from workspace.transport import redirect_session

OTHER = "nguoi-khac@hoithao-sandbox.iam.gserviceaccount.com"


@pytest.fixture
def other(sandbox: Any, rsa_key_pem: str, rsa_key: Any) -> service_account.Credentials:
    """A second service account: a different Google identity on the same sandbox."""
    info = create_service_account(sandbox.store, OTHER, private_pem=rsa_key_pem)
    signer = RSASigner(rsa_key, key_id=info["private_key_id"])
    return service_account.Credentials(signer, OTHER, sandbox.url + "/token", scopes=SCOPES)


def _gc(sandbox: Any, creds: Any) -> gspread.Client:
    client = gspread.Client(auth=creds)
    redirect_session(client.http_client.session, sandbox.url)
    return client


def _error(exc: HttpError) -> dict[str, Any]:
    return json.loads(exc.content)["error"]


def _share(service: Any, file_id: str, role: str, email: str = OTHER) -> dict[str, Any]:
    return service("drive", "v3").permissions().create(
        fileId=file_id, sendNotificationEmail=False,
        body={"type": "user", "role": role, "emailAddress": email}).execute()


def test_a_file_not_shared_is_answered_as_google_answers(sandbox: Any, gc: gspread.Client,
                                                         service: Any, other: Any) -> None:
    sheet = gc.create("Điều phối")
    doc = service("docs", "v1").documents().create(body={"title": "Phát biểu"}).execute()
    form = service("forms", "v1").forms().create(body={"info": {"title": "Đăng ký"}}).execute()

    # gspread turns the Sheets 403 into PermissionError, caused by the APIError.
    with pytest.raises(PermissionError) as caught:
        _gc(sandbox, other).open_by_key(sheet.id)
    cause = caught.value.__cause__
    assert isinstance(cause, gspread.exceptions.APIError)
    assert cause.response.status_code == 403
    body = cause.response.json()["error"]
    assert (body["message"], body["status"]) == ("The caller does not have permission",
                                                 "PERMISSION_DENIED")

    for name, version, call in (
            ("sheets", "v4", lambda s: s.spreadsheets().values().get(spreadsheetId=sheet.id,
                                                                      range="A1:B2")),
            ("docs", "v1", lambda s: s.documents().get(documentId=doc["documentId"])),
            ("forms", "v1", lambda s: s.forms().get(formId=form["formId"]))):
        with pytest.raises(HttpError) as err:
            call(service(name, version, other)).execute()
        assert err.value.resp.status == 403, name
        assert _error(err.value)["status"] == "PERMISSION_DENIED", name

    # Drive does not reveal that the file exists.
    drive = service("drive", "v3", other)
    with pytest.raises(HttpError) as err:
        drive.files().get(fileId=sheet.id).execute()
    assert err.value.resp.status == 404
    assert _error(err.value)["message"] == f"File not found: {sheet.id}."
    assert drive.files().list().execute()["files"] == []
    # A spreadsheet that does not exist at all keeps Sheets' own 404.
    with pytest.raises(HttpError) as err:
        service("sheets", "v4", other).spreadsheets().get(spreadsheetId="x" * 44).execute()
    assert err.value.resp.status == 404


def test_reader_reads_but_cannot_write_and_a_writer_is_the_last_modifying_user(
        sandbox: Any, gc: gspread.Client, service: Any, other: Any) -> None:
    sheet = gc.create("Điều phối")
    sheet.sheet1.update([["Mã", "Họ tên"]], "A1")
    perm = _share(service, sheet.id, "reader")
    assert perm["role"] == "reader" and perm["type"] == "user"

    theirs = _gc(sandbox, other).open_by_key(sheet.id)
    assert theirs.sheet1.get_all_values() == [["Mã", "Họ tên"]]
    with pytest.raises(gspread.exceptions.APIError) as err:
        theirs.sheet1.update([["x"]], "A2")
    assert err.value.response.status_code == 403
    with pytest.raises(HttpError) as herr:
        service("drive", "v3", other).files().update(fileId=sheet.id, body={"name": "x"}).execute()
    assert herr.value.resp.status == 403
    assert _error(herr.value)["errors"][0]["reason"] == "insufficientFilePermissions"

    drive = service("drive", "v3")
    fields = "version,modifiedTime,lastModifyingUser,shared"
    before = drive.files().get(fileId=sheet.id, fields=fields).execute()
    assert before["shared"] is True
    _share(service, sheet.id, "writer")   # sharing again changes the role, not the list
    perms = drive.permissions().list(fileId=sheet.id, fields="permissions(role,emailAddress)").execute()
    assert sorted((p["emailAddress"], p["role"]) for p in perms["permissions"]) == [
        ("hoithao@hoithao-sandbox.iam.gserviceaccount.com", "owner"), (OTHER, "writer")]

    shared_version = drive.files().get(fileId=sheet.id, fields=fields).execute()["version"]
    theirs.sheet1.update([["HT-001", "Nguyễn Văn An"]], "A2")
    after = drive.files().get(fileId=sheet.id, fields=fields).execute()
    assert int(after["version"]) > int(shared_version) > int(before["version"])
    assert after["lastModifyingUser"]["emailAddress"] == OTHER
    assert after["modifiedTime"] >= before["modifiedTime"]


def test_a_folder_shared_shares_what_is_inside(sandbox: Any, service: Any, other: Any) -> None:
    drive = service("drive", "v3")
    folder = drive.files().create(body={"name": "Hội thảo", "mimeType":
                                        "application/vnd.google-apps.folder"}).execute()["id"]
    inside = drive.files().create(body={"name": "ghi-chu.txt", "parents": [folder]}).execute()["id"]
    outside = drive.files().create(body={"name": "rieng.txt"}).execute()["id"]
    _share(service, folder, "writer")

    theirs = service("drive", "v3", other)
    listed = {f["id"] for f in theirs.files().list().execute()["files"]}
    assert listed == {folder, inside}
    assert theirs.files().get(fileId=inside, fields="owners").execute()["owners"][0][
        "emailAddress"] == "hoithao@hoithao-sandbox.iam.gserviceaccount.com"
    # An editor of the folder may add files to it, not to a folder it cannot see.
    theirs.files().create(body={"name": "moi.txt", "parents": [folder]}).execute()
    with pytest.raises(HttpError) as err:
        theirs.files().create(body={"name": "moi.txt", "parents": [outside]}).execute()
    assert err.value.resp.status == 404
    # Only the owner deletes a file in My Drive.
    with pytest.raises(HttpError) as err:
        theirs.files().delete(fileId=inside).execute()
    assert err.value.resp.status == 403


def test_permissions_delete_and_the_owner_rules(sandbox: Any, gc: gspread.Client, service: Any,
                                                other: Any) -> None:
    drive = service("drive", "v3")
    doc = service("docs", "v1").documents().create(body={"title": "Báo cáo"}).execute()["documentId"]
    perm = _share(service, doc, "writer")
    service("docs", "v1", other).documents().get(documentId=doc).execute()

    drive.permissions().delete(fileId=doc, permissionId=perm["id"]).execute()
    with pytest.raises(HttpError) as err:
        service("docs", "v1", other).documents().get(documentId=doc).execute()
    assert err.value.resp.status == 403

    owner = drive.permissions().list(fileId=doc).execute()["permissions"]
    assert [p["role"] for p in owner] == ["owner"]
    with pytest.raises(HttpError) as err:
        drive.permissions().delete(fileId=doc, permissionId=owner[0]["id"]).execute()
    assert err.value.resp.status == 403
    with pytest.raises(HttpError) as err:
        _share(service, doc, "owner")
    assert _error(err.value)["message"] == ("The transferOwnership parameter must be enabled when "
                                            "the permission role is 'owner'.")
    with pytest.raises(HttpError) as err:
        drive.permissions().create(fileId=doc, body={"type": "user", "role": "writer"}).execute()
    assert err.value.resp.status == 400


def test_anyone_with_the_link_reads_but_does_not_find(sandbox: Any, service: Any, other: Any) -> None:
    drive = service("drive", "v3")
    doc = service("docs", "v1").documents().create(body={"title": "Chương trình"}).execute()["documentId"]
    link = drive.permissions().create(fileId=doc, body={"type": "anyone", "role": "reader"}).execute()
    assert link["id"] == "anyoneWithLink"
    theirs = service("docs", "v1", other)
    assert theirs.documents().get(documentId=doc).execute()["title"] == "Chương trình"
    with pytest.raises(HttpError) as err:
        theirs.documents().batchUpdate(documentId=doc, body={"requests": [
            {"insertText": {"location": {"index": 1}, "text": "x"}}]}).execute()
    assert err.value.resp.status == 403
    assert service("drive", "v3", other).files().list().execute()["files"] == []


def test_a_development_token_sees_everything_unless_auth_is_required(
        make_sandbox: Any, tmp_path: Path) -> None:
    import requests

    server = make_sandbox()
    created = requests.post(server.url + "/v4/spreadsheets", json={"properties": {"title": "A"}},
                            headers={"Authorization": "Bearer user:a@so.example"}).json()
    seen = requests.get(f"{server.url}/v4/spreadsheets/{created['spreadsheetId']}",
                        headers={"Authorization": "Bearer local-dev"})
    assert seen.status_code == 200
    strict = make_sandbox(tmp_path / "strict", require_auth=True)
    refused = requests.get(f"{strict.url}/v4/spreadsheets/x",
                           headers={"Authorization": "Bearer local-dev"})
    assert refused.status_code == 401


def test_the_seed_shares_the_workshop_folder_with_the_tool(seeded_server: Any,
                                                          seeded_config: Any) -> None:
    from workspace.clients import Workspace

    with Workspace.open(seeded_config) as ws:
        drive = ws.service("drive", "v3")
        sheet = drive.files().get(fileId=seeded_config.google.spreadsheet_id,
                                  fields="owners,parents").execute()
        assert sheet["owners"][0]["emailAddress"] == seeded_config.event.contact.email
        folder = seeded_config.google.drive_folder_id
        assert sheet["parents"] == [folder]
        perms = drive.permissions().list(fileId=folder,
                                         fields="permissions(role,emailAddress)").execute()
        account = ws.credentials.service_account_email
        assert {"role": "writer", "emailAddress": account} in perms["permissions"]
        for form in (seeded_config.google.forms.registration.id, seeded_config.google.forms.paper.id):
            assert drive.files().get(fileId=form, fields="parents").execute()["parents"] == [folder]


def test_the_product_names_the_file_and_the_account_to_share_it_with(
        seeded: Path, seeded_server: Any) -> None:
    from sandbox.seed import _staff_credentials
    from workspace.clients import Workspace

    config_path = seeded / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    staff = Workspace(_staff_credentials(seeded_server, config["event"]["contact"]["email"]),
                      seeded_server.url)
    private = staff.gspread.create("Bảng tính chưa chia sẻ").id   # in staff's My Drive only
    config["google"]["spreadsheet_id"] = private
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    account = json.loads((seeded / "credentials" / "service-account.json").read_text())["client_email"]

    done = run_cli("--config", str(config_path), "sync-registrations",
                   env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert private in out and account in out
    assert "chưa được chia sẻ" in out and "Người chỉnh sửa" in out
    assert "Traceback" not in out


def test_capabilities_say_what_the_caller_may_do(sandbox: Any, service: Any, other: Any) -> None:
    drive = service("drive", "v3")
    doc = service("docs", "v1").documents().create(body={"title": "Kỷ yếu"}).execute()["documentId"]
    fields = "ownedByMe,capabilities(canEdit,canShare,canDelete)"
    mine = drive.files().get(fileId=doc, fields=fields).execute()
    assert mine == {"ownedByMe": True,
                    "capabilities": {"canEdit": True, "canShare": True, "canDelete": True}}
    _share(service, doc, "reader")
    theirs = service("drive", "v3", other).files().get(fileId=doc, fields=fields).execute()
    assert theirs == {"ownedByMe": False,
                      "capabilities": {"canEdit": False, "canShare": False, "canDelete": False}}


def test_check_names_a_file_the_tool_may_only_read(seeded: Path, seeded_server: Any) -> None:
    from sandbox.seed import _staff_credentials
    from workspace.clients import Workspace

    config_path = seeded / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    account = json.loads((seeded / "credentials" / "service-account.json").read_text())["client_email"]
    staff = Workspace(_staff_credentials(seeded_server, config["event"]["contact"]["email"]),
                      seeded_server.url)
    drive = staff.service("drive", "v3")
    folder = drive.files().create(body={"name": "Mẫu chỉ xem", "mimeType":
                                        "application/vnd.google-apps.folder"}).execute()["id"]
    drive.permissions().create(fileId=folder, body={"type": "user", "role": "reader",
                                                    "emailAddress": account}).execute()
    config["google"]["drive_folder_id"] = folder
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    done = run_cli("--config", str(config_path), "check",
                   env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("✗ google.drive_folder_id"))
    assert "chỉ được xem" in line and folder in line and account in line


def test_a_drive_file_token_reaches_only_what_its_app_created(sandbox: Any, gc: gspread.Client,
                                                             service: Any, rsa_key_pem: str,
                                                             rsa_key: Any) -> None:
    """drive.file: "only the specific Google Drive files you use with this app" -
    a file shared with the account through the Share button is not one of them
    (the Sheets API, under its own scope, still reaches it)."""
    info = create_service_account(sandbox.store, "hep@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    narrow = service_account.Credentials(
        RSASigner(rsa_key, key_id=info["private_key_id"]), info["client_email"],
        sandbox.url + "/token", scopes=["https://www.googleapis.com/auth/drive.file",
                                        "https://www.googleapis.com/auth/spreadsheets"])
    shared = gc.create("Chia sẻ qua nút Chia sẻ")
    _share(service, shared.id, "writer", info["client_email"])
    drive = service("drive", "v3", narrow)
    with pytest.raises(HttpError) as err:
        drive.files().get(fileId=shared.id).execute()
    assert err.value.resp.status == 404
    assert _gc(sandbox, narrow).open_by_key(shared.id).title == "Chia sẻ qua nút Chia sẻ"
    own = drive.files().create(body={"name": "tự tạo.txt"}).execute()["id"]
    assert [f["id"] for f in drive.files().list().execute()["files"]] == [own]


def test_only_the_owner_trashes_a_file(sandbox: Any, service: Any, other: Any) -> None:
    doc = service("docs", "v1").documents().create(body={"title": "Của tôi"}).execute()["documentId"]
    _share(service, doc, "writer")
    with pytest.raises(HttpError) as err:
        service("drive", "v3", other).files().update(fileId=doc, body={"trashed": True}).execute()
    assert err.value.resp.status == 403
    assert service("drive", "v3").files().update(fileId=doc, body={"trashed": True},
                                                 fields="trashed").execute()["trashed"] is True


def test_a_missing_scope_is_not_called_a_sharing_problem(sandbox: Any, gc: gspread.Client,
                                                         service: Any, rsa_key_pem: str,
                                                         rsa_key: Any) -> None:
    from workspace.google_errors import to_api_error

    sheet = gc.create("Điều phối")
    info = create_service_account(sandbox.store, "thieu@hoithao-sandbox.iam.gserviceaccount.com",
                                  private_pem=rsa_key_pem)
    no_sheets = service_account.Credentials(
        RSASigner(rsa_key, key_id=info["private_key_id"]), info["client_email"],
        sandbox.url + "/token", scopes=["https://www.googleapis.com/auth/documents"])
    with pytest.raises(HttpError) as err:
        service("sheets", "v4", no_sheets).spreadsheets().get(spreadsheetId=sheet.id).execute()
    error = to_api_error(err.value)
    assert error is not None and error.kind == "http" and error.code == 403
    assert "phạm vi quyền (scope)" in str(error) and "chia sẻ" not in str(error)


@pytest.mark.parametrize("reason, message, kind, phrase", [
    ("SERVICE_DISABLED", "Google Sheets API has not been used in project 1 before or it is "
     "disabled.", "http", "chưa được bật"),
    ("storageQuotaExceeded", "The user's Drive storage quota has been exceeded.", "http", None),
    ("insufficientParentPermissions", "Insufficient permissions for the specified parent.",
     "read_only_folder", "thư mục Drive đích"),
])
def test_google_403s_are_told_apart(reason: str, message: str, kind: str, phrase: str | None) -> None:
    """Bodies as Google sends them (ErrorInfo in details[] for the newer APIs, errors[] for Drive)."""
    import httplib2

    from workspace.google_errors import to_api_error

    body = {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED",
                      "errors": [{"reason": reason, "domain": "global", "message": message}],
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                   "reason": reason, "domain": "googleapis.com"}]}}
    exc = HttpError(httplib2.Response({"status": 403}), json.dumps(body).encode(),
                    uri="https://www.googleapis.com/drive/v3/files/1AbCdEfGhIjKlMnOp/copy")
    error = to_api_error(exc)
    assert error is not None and error.kind == kind
    assert "chưa được chia sẻ" not in str(error)
    if phrase:
        assert phrase in str(error)
