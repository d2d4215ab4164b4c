"""Drive v3 in the sandbox, driven by the real googleapiclient over HTTP."""
from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from sandbox.clock import parse_rfc3339

FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"


@pytest.fixture
def files(service) -> Any:
    # building a resource pretty-prints its schema: do it once per test
    return service("drive", "v3").files()


def error_of(excinfo: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(excinfo.value.content)["error"]


def upload(files: Any, name: str, data: bytes, mime: str = "text/csv",
           parents: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if parents:
        body["parents"] = parents
    return files.create(body=body, media_body=MediaInMemoryUpload(data, mimetype=mime),
                        fields="id,name,mimeType,size,md5Checksum,parents,version").execute()


def names(result: dict[str, Any]) -> list[str]:
    return sorted(f["name"] for f in result["files"])


def test_create_metadata_only_returns_default_fields(files) -> None:
    made = files.create(body={"name": "Hồ sơ hội thảo", "mimeType": FOLDER}).execute()
    assert set(made) == {"kind", "id", "name", "mimeType"}
    assert made["kind"] == "drive#file" and made["mimeType"] == FOLDER
    meta = files.get(fileId=made["id"], fields="name,parents,trashed,version,owners").execute()
    assert meta["parents"] == ["root"] and meta["trashed"] is False and meta["version"] == "1"
    assert meta["owners"][0]["emailAddress"].endswith("iam.gserviceaccount.com")


def test_multipart_upload_then_download(files) -> None:
    data = "Mã,Họ và tên\nKM01,Nguyễn Văn Á\n".encode("utf-8")
    made = upload(files, "danh-sach.csv", data)
    assert made["mimeType"] == "text/csv" and made["size"] == str(len(data))
    assert made["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert files.get_media(fileId=made["id"]).execute() == data


def test_list_filters_with_q(files) -> None:
    folder = files.create(body={"name": "Tham luận", "mimeType": FOLDER}).execute()["id"]
    upload(files, "Bài của O'Brien.pdf", b"%PDF-1.4", "application/pdf", [folder])
    upload(files, "Bài khác.pdf", b"%PDF-1.4", "application/pdf", [folder])
    upload(files, "Bài của O'Brien.pdf", b"%PDF-1.4", "application/pdf")   # same name, elsewhere
    files.create(body={"name": "Thư mời", "mimeType": DOC, "parents": [folder]}).execute()

    q = "name = 'Bài của O\\'Brien.pdf'"
    assert names(files.list(q=q).execute()) == ["Bài của O'Brien.pdf"] * 2
    in_folder = files.list(q=f"{q} and '{folder}' in parents and trashed = false").execute()
    assert len(in_folder["files"]) == 1
    pdfs = files.list(q=f"mimeType = 'application/pdf' and '{folder}' in parents").execute()
    assert names(pdfs) == ["Bài của O'Brien.pdf", "Bài khác.pdf"]
    docs = files.list(q=f"mimeType = '{DOC}'", fields="files(id,name,parents)").execute()
    assert [(f["name"], f["parents"]) for f in docs["files"]] == [("Thư mời", [folder])]
    assert names(files.list(q=f"'{folder}' in parents and not name contains 'khác'").execute()) == [
        "Bài của O'Brien.pdf", "Thư mời"]


def test_list_includes_trashed_files_unless_asked_not_to(files) -> None:
    kept = upload(files, "a.txt", b"a", "text/plain")["id"]
    gone = upload(files, "b.txt", b"b", "text/plain")["id"]
    files.update(fileId=gone, body={"trashed": True}).execute()
    assert {f["id"] for f in files.list().execute()["files"]} == {kept, gone}   # as in Google
    assert [f["id"] for f in files.list(q="trashed = false").execute()["files"]] == [kept]
    assert [f["id"] for f in files.list(q="trashed = true").execute()["files"]] == [gone]


def test_list_paginates_with_next_page_token(files) -> None:
    made = {upload(files, f"tep-{n}.txt", b"x", "text/plain")["id"] for n in range(5)}
    seen, token, pages = [], None, 0
    while True:
        page = files.list(pageSize=2, pageToken=token, q="trashed = false",
                          fields="nextPageToken,files(id)").execute()
        pages += 1
        assert len(page["files"]) <= 2
        seen += [f["id"] for f in page["files"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == made


def test_invalid_q_is_refused(files) -> None:
    for q in ("name = ", "name = 'x' and", "colour = 'red'", "name = 'unterminated"):
        with pytest.raises(HttpError) as err:
            files.list(q=q).execute()
        assert err.value.resp.status == 400, q
        assert error_of(err)["errors"][0]["location"] == "q"


def test_copy_makes_an_independent_file(files) -> None:
    source = upload(files, "mau.txt", b"ban goc", "text/plain")
    copy = files.copy(fileId=source["id"], body={"name": "ban-sao.txt"},
                      fields="id,name,mimeType,md5Checksum").execute()
    assert copy["id"] != source["id"] and copy["name"] == "ban-sao.txt"
    assert copy["md5Checksum"] == source["md5Checksum"]
    files.update(fileId=source["id"], media_body=MediaInMemoryUpload(b"sua", mimetype="text/plain")
                 ).execute()
    assert files.get_media(fileId=copy["id"]).execute() == b"ban goc"
    default = files.copy(fileId=source["id"]).execute()
    assert default["name"] == "Copy of mau.txt"


def test_update_renames_moves_and_replaces_content(files) -> None:
    a = files.create(body={"name": "A", "mimeType": FOLDER}).execute()["id"]
    b = files.create(body={"name": "B", "mimeType": FOLDER}).execute()["id"]
    made = upload(files, "cu.txt", b"v1", "text/plain", [a])
    moved = files.update(fileId=made["id"], body={"name": "moi.txt"}, addParents=b,
                         removeParents=a, fields="name,parents,version").execute()
    assert moved["name"] == "moi.txt" and moved["parents"] == [b]
    assert int(moved["version"]) > int(made["version"])
    new = files.update(fileId=made["id"], media_body=MediaInMemoryUpload(b"v2-longer",
                                                                         mimetype="text/plain"),
                       fields="size,md5Checksum").execute()
    assert new == {"size": "9", "md5Checksum": hashlib.md5(b"v2-longer").hexdigest()}
    assert files.get_media(fileId=made["id"]).execute() == b"v2-longer"
    with pytest.raises(HttpError) as err:
        files.update(fileId=made["id"], body={"mimeType": "image/png"}).execute()
    assert err.value.resp.status == 403


def test_delete_then_get_is_404(files) -> None:
    made = upload(files, "xoa.txt", b"x", "text/plain")
    assert files.delete(fileId=made["id"]).execute() == ""
    with pytest.raises(HttpError) as err:
        files.get(fileId=made["id"]).execute()
    assert err.value.resp.status == 404
    body = error_of(err)
    assert body["message"] == f"File not found: {made['id']}."
    assert body["errors"][0]["reason"] == "notFound"


def test_edit_by_another_person_moves_modified_time_version_and_editor(service, files) -> None:
    made = upload(files, "chuong-trinh.txt", b"v1", "text/plain")
    fields = "modifiedTime,version,lastModifyingUser"
    before = files.get(fileId=made["id"], fields=fields).execute()
    time.sleep(0.01)   # modifiedTime has millisecond resolution
    ana = service("drive", "v3", creds=Credentials(token="user:ana@hcm.edu.vn")).files()
    ana.update(fileId=made["id"], media_body=MediaInMemoryUpload(b"v2", mimetype="text/plain")
               ).execute()
    after = files.get(fileId=made["id"], fields=fields).execute()
    assert after["lastModifyingUser"]["emailAddress"] == "ana@hcm.edu.vn"
    assert before["lastModifyingUser"]["emailAddress"] != "ana@hcm.edu.vn"
    assert int(after["version"]) > int(before["version"])
    assert parse_rfc3339(after["modifiedTime"]) > parse_rfc3339(before["modifiedTime"])


def test_downloading_a_google_doc_is_refused(files) -> None:
    doc = files.create(body={"name": "Thư mời", "mimeType": DOC}).execute()
    with pytest.raises(HttpError) as err:
        files.get_media(fileId=doc["id"]).execute()
    assert err.value.resp.status == 403
    assert error_of(err)["errors"][0]["reason"] == "fileNotDownloadable"


def test_export_refusals(files) -> None:
    doc = files.create(body={"name": "Thư mời", "mimeType": DOC}).execute()
    with pytest.raises(HttpError) as err:
        files.export(fileId=doc["id"], mimeType="application/x-unknown").execute()
    assert err.value.resp.status == 400
    assert error_of(err)["message"] == "The requested conversion is not supported."
    binary = upload(files, "a.txt", b"a", "text/plain")
    with pytest.raises(HttpError) as err:
        files.export(fileId=binary["id"], mimeType="text/plain").execute()
    assert err.value.resp.status == 403
    assert error_of(err)["errors"][0]["reason"] == "fileNotExportable"
    assert files.export(fileId=doc["id"], mimeType="text/plain").execute() == "\ufeff".encode()
