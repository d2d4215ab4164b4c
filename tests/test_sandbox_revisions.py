"""Revisions and edits that Google refuses, driven by the real googleapiclient:
Docs revision ids and writeControl, edits by a second identity as Drive sees
them, grapheme clusters in Docs indexes, Forms file upload questions, and the
Drive files.get parameters the product sends.

Google's references: WriteControl and documents.batchUpdate
(developers.google.com/docs/api/reference/rest/v1/documents/batchUpdate), the
structural edit rules (developers.google.com/docs/api/concepts/rules-behavior),
DeleteContentRangeRequest, FileUploadQuestion / FileUploadAnswer
(developers.google.com/forms/api/reference/rest/v1/forms and .../forms.responses),
and the discovery documents in googleapiclient/discovery_cache/documents/."""
from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from google.auth.crypt import RSASigner
from google.oauth2 import service_account
from googleapiclient.errors import HttpError

from sandbox.api.forms import NO_FILE_UPLOAD, add_file_upload_question
from sandbox.api.forms_responses import submit_responses
from sandbox.clock import parse_rfc3339
from sandbox.oauth import create_service_account
from tests.conftest import SCOPES

OWNER = "hoithao@hoithao-sandbox.iam.gserviceaccount.com"   # the `credentials` fixture
OTHER = "bientap@hoithao-sandbox.iam.gserviceaccount.com"
FOLDER = "application/vnd.google-apps.folder"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def error_of(exc: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(exc.value.content)["error"]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.fixture
def docs(service: Any) -> Any:
    return service("docs", "v1").documents()


@pytest.fixture
def files(service: Any) -> Any:
    return service("drive", "v3").files()


@pytest.fixture
def other_service(sandbox: Any, service: Any, rsa_key_pem: str, rsa_key: Any) -> Any:
    """`other_service("docs", "v1")`: the API as a second service account of the same sandbox."""
    info = create_service_account(sandbox.store, OTHER, private_pem=rsa_key_pem)
    creds = service_account.Credentials(RSASigner(rsa_key, key_id=info["private_key_id"]),
                                        info["client_email"], sandbox.url + "/token",
                                        scopes=SCOPES, project_id=info["project_id"])
    return lambda name, version: service(name, version, creds)


def new_doc(docs: Any, text: str = "") -> str:
    doc_id = docs.create(body={"title": "Thư mời hội thảo"}).execute()["documentId"]
    if text:
        update(docs, doc_id, insert(text, 1))
    return doc_id


def update(docs: Any, doc_id: str, *requests: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return docs.batchUpdate(documentId=doc_id, body={"requests": list(requests), **extra}).execute()


def insert(text: str, index: int) -> dict[str, Any]:
    return {"insertText": {"location": {"index": index}, "text": text}}


def delete(start: int, end: int) -> dict[str, Any]:
    return {"deleteContentRange": {"range": {"startIndex": start, "endIndex": end}}}


def body_text(docs: Any, doc_id: str) -> str:
    doc = docs.get(documentId=doc_id).execute()
    return "".join(pe.get("textRun", {}).get("content", "")
                   for e in doc["body"]["content"] if "paragraph" in e
                   for pe in e["paragraph"]["elements"])


# -- Docs: revision ids and writeControl ------------------------------------------------

def test_revision_id_changes_with_every_write_and_is_returned_by_get_and_batch_update(docs) -> None:
    created = docs.create(body={"title": "Kế hoạch"}).execute()
    doc_id, seen = created["documentId"], [created["revisionId"]]
    assert docs.get(documentId=doc_id).execute()["revisionId"] == seen[0]  # reading changes nothing
    for text in ("Một", "Hai", "Ba"):
        reply = update(docs, doc_id, insert(text, 1))
        after = reply["writeControl"]["requiredRevisionId"]
        assert after == docs.get(documentId=doc_id).execute()["revisionId"]
        seen.append(after)
    assert len(set(seen)) == 4   # each write is a new revision, never an old one again


def test_stale_required_revision_is_refused_with_googles_400(docs) -> None:
    doc_id = new_doc(docs, "Giữ nguyên")
    stale = docs.get(documentId=doc_id).execute()["revisionId"]
    update(docs, doc_id, insert("Đã sửa ", 1), writeControl={"requiredRevisionId": stale})
    with pytest.raises(HttpError) as exc:
        update(docs, doc_id, insert("Lần hai ", 1), writeControl={"requiredRevisionId": stale})
    assert exc.value.resp.status == 400
    error = error_of(exc)
    assert error["message"] == f"The required revision ID '{stale}' does not match the latest revision."
    assert error["status"] == "FAILED_PRECONDITION"
    assert body_text(docs, doc_id) == "Đã sửa Giữ nguyên\n"   # the refused batch left no trace


def test_target_revision_is_accepted_and_an_unknown_one_refused(docs) -> None:
    doc_id = new_doc(docs, "Chương trình")
    target = docs.get(documentId=doc_id).execute()["revisionId"]
    update(docs, doc_id, insert("Dự thảo: ", 1))   # a collaborator's change after our read
    # Google merges the write into the collaborator's changes: no refusal for a recent target.
    reply = update(docs, doc_id, {"insertText": {"endOfSegmentLocation": {}, "text": " 2024"}},
                   writeControl={"targetRevisionId": target})
    assert body_text(docs, doc_id) == "Dự thảo: Chương trình 2024\n"
    assert reply["writeControl"]["requiredRevisionId"] == docs.get(documentId=doc_id).execute()["revisionId"]
    with pytest.raises(HttpError) as exc:
        update(docs, doc_id, insert("x", 1), writeControl={"targetRevisionId": "ALnotarevision"})
    assert exc.value.resp.status == 400 and "ALnotarevision" in error_of(exc)["message"]
    assert body_text(docs, doc_id) == "Dự thảo: Chương trình 2024\n"


def test_required_and_target_revision_together_are_refused(docs) -> None:
    doc_id = new_doc(docs)
    current = docs.get(documentId=doc_id).execute()["revisionId"]
    with pytest.raises(HttpError) as exc:
        update(docs, doc_id, insert("x", 1),
               writeControl={"requiredRevisionId": current, "targetRevisionId": current})
    assert exc.value.resp.status == 400
    assert error_of(exc)["message"] == ("Invalid value at 'write_control' (oneof), oneof field "
                                        "'control' is already set. Cannot set 'targetRevisionId'")
    assert docs.get(documentId=doc_id).execute()["revisionId"] == current


def test_an_edit_by_another_identity_moves_drive_version_time_and_editor(docs, service,
                                                                        other_service) -> None:
    """Drive's view of a Doc a collaborator edits: lastModifyingUser is the
    collaborator, version and modifiedTime move (files.get fields=...)."""
    doc_id = new_doc(docs, "Bản của ban tổ chức")
    drive = service("drive", "v3")
    fields = "version,modifiedTime,lastModifyingUser"
    before = drive.files().get(fileId=doc_id, fields=fields).execute()
    assert before["lastModifyingUser"]["emailAddress"] == OWNER
    # Shared as Google shares a file: a caller sees only its own files and those shared with it.
    permission = drive.permissions().create(
        fileId=doc_id, body={"type": "user", "role": "writer", "emailAddress": OTHER}).execute()
    assert permission["role"] == "writer"
    other_docs = other_service("docs", "v1").documents()
    update(other_docs, doc_id, {"insertText": {"endOfSegmentLocation": {}, "text": " (đã duyệt)"}})
    after = drive.files().get(fileId=doc_id, fields=fields).execute()
    assert after["lastModifyingUser"]["emailAddress"] == OTHER
    assert int(after["version"]) > int(before["version"])
    assert parse_rfc3339(after["modifiedTime"]) > parse_rfc3339(before["modifiedTime"])
    assert body_text(docs, doc_id) == "Bản của ban tổ chức (đã duyệt)\n"


# -- Docs: grapheme clusters -------------------------------------------------------------
# "Việt" as NFD: V i e U+0323 U+0302 t. In the body (which starts at index 1), "e" is at
# 3, the two combining marks at 4 and 5, and "t" at 6: 4 and 5 are inside the cluster "ệ".
VIET = unicodedata.normalize("NFD", "Việt Nam")
INSIDE_CLUSTER = "The insertion index cannot be within a grapheme cluster."
BAD_DELETION = "Invalid deletion range. Cannot delete the requested range."


def test_nfd_letter_and_its_marks_are_one_cluster_for_edits(docs) -> None:
    assert [unicodedata.combining(c) > 0 for c in VIET[:6]] == [False, False, False, True, True,
                                                                 False]
    doc_id = new_doc(docs, VIET)
    for index in (4, 5):
        with pytest.raises(HttpError) as exc:
            update(docs, doc_id, insert("x", index))
        assert exc.value.resp.status == 400
        assert error_of(exc)["message"] == f"Invalid requests[0].insertText: {INSIDE_CLUSTER}"
    for start, end in ((2, 4), (2, 5), (4, 7), (5, 6)):   # a range starting or ending inside "ệ"
        with pytest.raises(HttpError) as exc:
            update(docs, doc_id, delete(start, end))
        assert exc.value.resp.status == 400
        assert error_of(exc)["message"] == f"Invalid requests[0].deleteContentRange: {BAD_DELETION}"
    assert body_text(docs, doc_id) == VIET + "\n"   # nothing refused was applied
    # at the cluster's edges both edits work
    update(docs, doc_id, insert("[", 3), insert("]", 7))
    assert body_text(docs, doc_id) == unicodedata.normalize("NFD", "Vi[ệ]t Nam") + "\n"
    update(docs, doc_id, delete(4, 7))   # the whole cluster "ệ"
    assert body_text(docs, doc_id) == "Vi[]t Nam\n"


def test_emoji_sequences_are_clusters_not_only_surrogate_pairs(docs) -> None:
    thumbs = "\U0001F44D\U0001F3FD"   # a thumbs-up with a skin tone: 4 code units, one cluster
    doc_id = new_doc(docs, f"A{thumbs}B")
    assert utf16(thumbs) == 4
    with pytest.raises(HttpError) as exc:   # between the two code points, not inside a pair
        update(docs, doc_id, insert("x", 2 + 2))
    assert error_of(exc)["message"] == f"Invalid requests[0].insertText: {INSIDE_CLUSTER}"
    with pytest.raises(HttpError) as exc:
        update(docs, doc_id, delete(2, 4))   # the thumb without its skin tone
    assert error_of(exc)["message"] == f"Invalid requests[0].deleteContentRange: {BAD_DELETION}"
    update(docs, doc_id, insert("<", 2), insert(">", 7))
    assert body_text(docs, doc_id) == f"A<{thumbs}>B\n"


# -- Forms: file upload questions ------------------------------------------------------------

@pytest.fixture
def forms(service: Any) -> Any:
    return service("forms", "v1").forms()


def new_form(forms: Any, title: str = "Gửi tham luận") -> str:
    form_id = forms.create(body={"info": {"title": title}}).execute()["formId"]
    forms.batchUpdate(formId=form_id, body={"requests": [{"createItem": {"location": {"index": 0},
        "item": {"title": "Họ và tên", "questionItem": {"question": {
            "required": True, "textQuestion": {}}}}}}]}).execute()
    return form_id


def test_creating_a_file_upload_question_through_the_api_is_refused(forms) -> None:
    """FileUploadQuestion: "The API currently does not support creating file upload questions"."""
    form_id = new_form(forms)
    revision = forms.get(formId=form_id).execute()["revisionId"]
    upload = {"title": "Tệp tham luận", "questionItem": {"question": {
        "fileUploadQuestion": {"folderId": "root", "maxFiles": 1}}}}
    with pytest.raises(HttpError) as exc:
        forms.batchUpdate(formId=form_id, body={"requests": [
            {"createItem": {"item": upload, "location": {"index": 1}}}]}).execute()
    assert exc.value.resp.status == 400
    assert error_of(exc)["message"] == f"Invalid requests[0].createItem: {NO_FILE_UPLOAD}"
    with pytest.raises(HttpError) as exc:   # nor by turning a question into one
        forms.batchUpdate(formId=form_id, body={"requests": [{"updateItem": {
            "item": {"questionItem": {"question": {"fileUploadQuestion": {"folderId": "root"}}}},
            "location": {"index": 0}, "updateMask": "questionItem"}}]}).execute()
    assert exc.value.resp.status == 400 and NO_FILE_UPLOAD in error_of(exc)["message"]
    got = forms.get(formId=form_id).execute()
    assert got["revisionId"] == revision and [i["title"] for i in got["items"]] == ["Họ và tên"]


def test_file_upload_question_made_in_the_editor_takes_a_file_into_its_drive_folder(
        forms, service, sandbox) -> None:
    form_id = new_form(forms, "Gửi tham luận 2024")
    qid = add_file_upload_question(sandbox.store, form_id, "Tệp tham luận",
                                   types=["DOCUMENT", "PDF"])
    form = forms.get(formId=form_id).execute()
    [item] = [i for i in form["items"] if i["title"] == "Tệp tham luận"]
    question = item["questionItem"]["question"]
    assert question["questionId"] == qid and question["required"] is True
    upload = question["fileUploadQuestion"]
    assert upload == {"folderId": upload["folderId"], "maxFiles": 1, "maxFileSize": "10485760",
                      "types": ["DOCUMENT", "PDF"]}
    # Forms made the folders in the owner's My Drive: the form's, then the question's inside it.
    drive = service("drive", "v3").files()
    fields = "name,mimeType,parents,owners"
    folder = drive.get(fileId=upload["folderId"], fields=fields).execute()
    assert folder["name"] == "Tệp tham luận (File responses)" and folder["mimeType"] == FOLDER
    form_folder = drive.get(fileId=folder["parents"][0], fields=fields).execute()
    assert form_folder["name"] == "Gửi tham luận 2024 (File responses)"
    assert form_folder["parents"] == ["root"] and form_folder["owners"][0]["emailAddress"] == OWNER

    [rid] = submit_responses(sandbox.store, form_id, [{
        "Họ và tên": "Trần Thị Bình", "respondentEmail": "binh@thpt.example",
        "Tệp tham luận": {"name": "tham-luan.docx", "content": "Nội dung".encode()}}])
    got = forms.responses().get(formId=form_id, responseId=rid).execute()
    [answer] = got["answers"][qid]["fileUploadAnswers"]["answers"]
    assert set(answer) == {"fileId", "fileName", "mimeType"}   # FileUploadAnswer's fields
    assert answer["fileName"] == "tham-luan - binh.docx" and answer["mimeType"] == DOCX
    stored = drive.get(fileId=answer["fileId"], fields="name,mimeType,parents,owners,size").execute()
    assert stored["name"] == answer["fileName"] and stored["mimeType"] == DOCX
    assert stored["parents"] == [upload["folderId"]]
    assert stored["owners"][0]["emailAddress"] == OWNER and stored["size"] == str(len("Nội dung".encode()))
    assert drive.get_media(fileId=answer["fileId"]).execute() == "Nội dung".encode()
    # A second question gets its own folder inside the same form folder.
    second = add_file_upload_question(sandbox.store, form_id, "Ảnh chân dung", types=["IMAGE"],
                                      required=False, index=1)
    form = forms.get(formId=form_id).execute()
    assert [i["title"] for i in form["items"]] == ["Họ và tên", "Ảnh chân dung", "Tệp tham luận"]
    other = form["items"][1]["questionItem"]["question"]
    assert other["questionId"] == second and "required" not in other
    other_folder = drive.get(fileId=other["fileUploadQuestion"]["folderId"], fields=fields).execute()
    assert other_folder["parents"] == folder["parents"]


def test_uploads_are_held_to_the_questions_limits(forms, service, sandbox) -> None:
    form_id = new_form(forms)
    add_file_upload_question(sandbox.store, form_id, "Tệp tham luận", max_file_size=1 << 20,
                             types=["DOCUMENT"])
    base = {"Họ và tên": "Lê Văn Cường"}
    cases = [([{"name": "a.docx", "content": b"1"}, {"name": "b.docx", "content": b"2"}],
              "at most 1 file"),
             ({"name": "lon.docx", "content": b"x" * ((1 << 20) + 1)}, "more than the 1048576"),
             ({"name": "anh.png", "content": b"\x89PNG"}, "not of a type")]
    for value, message in cases:
        with pytest.raises(ValueError, match=message):
            submit_responses(sandbox.store, form_id, [{**base, "Tệp tham luận": value}])
    assert forms.responses().list(formId=form_id).execute() == {}
    folder = forms.get(formId=form_id).execute()["items"][1]["questionItem"]["question"][
        "fileUploadQuestion"]["folderId"]
    listed = service("drive", "v3").files().list(q=f"'{folder}' in parents").execute()
    assert listed["files"] == []   # a refused response uploads nothing
    # what the editor cannot set, the function refuses too
    for kwargs in ({"max_files": 3}, {"max_file_size": 5 << 20}, {"types": ["EBOOK"]}):
        with pytest.raises(ValueError):
            add_file_upload_question(sandbox.store, form_id, "Khác", **kwargs)


def test_forms_write_control_is_a_union_too(forms) -> None:
    """Forms' WriteControl has the same union field `control`: a recent
    targetRevisionId is accepted, an unknown one or both fields are a 400."""
    form_id = new_form(forms)
    old = forms.get(formId=form_id).execute()["revisionId"]
    rename = {"updateFormInfo": {"info": {"title": "Gửi bài"}, "updateMask": "title"}}
    forms.batchUpdate(formId=form_id, body={"requests": [rename]}).execute()
    reply = forms.batchUpdate(formId=form_id, body={"requests": [rename],
                                                    "writeControl": {"targetRevisionId": old}}).execute()
    assert reply["writeControl"]["requiredRevisionId"] == forms.get(formId=form_id).execute()["revisionId"]
    for control in ({"targetRevisionId": "99999999"},
                    {"targetRevisionId": old, "requiredRevisionId": old}):
        with pytest.raises(HttpError) as exc:
            forms.batchUpdate(formId=form_id, body={"requests": [rename],
                                                    "writeControl": control}).execute()
        assert exc.value.resp.status == 400
    assert "oneof field 'control' is already set" in error_of(exc)["message"]


# -- Drive: files.get parameters ---------------------------------------------------------------

def test_files_get_takes_supports_all_drives_and_list_takes_include_items(files) -> None:
    """drive.v3.json: files.get has supportsAllDrives (and the deprecated
    supportsTeamDrives); includeItemsFromAllDrives belongs to files.list."""
    made = files.create(body={"name": "Danh sách đại biểu",
                              "mimeType": "application/vnd.google-apps.spreadsheet"}).execute()
    got = files.get(fileId=made["id"], fields="id,name", supportsAllDrives=True).execute()
    assert got == {"id": made["id"], "name": "Danh sách đại biểu"}
    with pytest.raises(TypeError):   # the client refuses it before anything is sent
        files.get(fileId=made["id"], includeItemsFromAllDrives=True)
    listed = files.list(q="name = 'Danh sách đại biểu'", supportsAllDrives=True,
                        includeItemsFromAllDrives=True, fields="files(id)").execute()
    assert listed["files"] == [{"id": made["id"]}]
