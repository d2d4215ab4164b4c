"""Forms v1 in the sandbox, driven by the real googleapiclient; respondents
are played by `submit_responses`."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from sandbox.api.forms import add_file_upload_question
from sandbox.api.forms_responses import submit_responses
from sandbox.clock import parse_rfc3339

ITEMS = [
    {"title": "Họ và tên", "questionItem": {"question": {"required": True, "textQuestion": {}}}},
    {"title": "Danh xưng", "questionItem": {"question": {"required": True, "choiceQuestion": {
        "type": "RADIO", "options": [{"value": "Ông"}, {"value": "Bà"}]}}}},
    {"title": "Phiên tham dự", "questionItem": {"question": {"choiceQuestion": {
        "type": "CHECKBOX", "options": [{"value": "Sáng"}, {"value": "Chiều"}]}}}},
    {"title": "Ghi chú", "questionItem": {"question": {"textQuestion": {"paragraph": True}}}},
]
# Added as a person does in the Forms editor: the API cannot create file upload questions.
UPLOAD_TITLE = "Tệp tham luận"


def _error(exc: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(exc.value.content)["error"]


@pytest.fixture
def forms(service: Any) -> Any:
    return service("forms", "v1")


@pytest.fixture
def form(forms: Any, sandbox: Any) -> dict[str, Any]:
    """A registration form with five questions (the last a file upload added in
    the editor); returns the form as get() shows it."""
    created = forms.forms().create(body={"info": {"title": "Đăng ký tham dự hội thảo"}}).execute()
    requests = [{"createItem": {"item": item, "location": {"index": i}}}
                for i, item in enumerate(ITEMS)]
    forms.forms().batchUpdate(formId=created["formId"], body={"requests": requests}).execute()
    add_file_upload_question(sandbox.store, created["formId"], UPLOAD_TITLE, required=False,
                             types=["DOCUMENT"])
    return forms.forms().get(formId=created["formId"]).execute()


def _qid(form: dict[str, Any], title: str) -> str:
    return next(i["questionItem"]["question"]["questionId"] for i in form["items"]
                if i["title"] == title)


def _all(forms: Any, form_id: str, **kw: Any) -> list[dict[str, Any]]:
    out, token = [], None
    while True:
        page = forms.forms().responses().list(formId=form_id, pageToken=token, **kw).execute()
        out += page.get("responses", [])
        token = page.get("nextPageToken")
        if not token:
            return out


def test_create_returns_form_and_registers_drive_file(forms, service) -> None:
    created = forms.forms().create(body={"info": {"title": "Gửi tham luận",
                                                  "documentTitle": "Tham luận 2024"}}).execute()
    assert created["info"] == {"title": "Gửi tham luận", "documentTitle": "Tham luận 2024"}
    assert created["revisionId"] and created["responderUri"].endswith("/viewform")
    meta = service("drive", "v3").files().get(fileId=created["formId"],
                                              fields="name,mimeType").execute()
    assert meta == {"name": "Tham luận 2024", "mimeType": "application/vnd.google-apps.form"}


def test_create_with_items_is_400(forms) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().create(body={"info": {"title": "x"}, "items": [ITEMS[0]]}).execute()
    assert exc.value.status_code == 400 and _error(exc)["status"] == "INVALID_ARGUMENT"
    with pytest.raises(HttpError) as exc:
        forms.forms().create(body={"info": {"title": "x", "description": "d"}}).execute()
    assert exc.value.status_code == 400


def test_unknown_field_is_400(forms) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().create(body={"info": {"title": "x", "subtitle": "y"}}).execute()
    assert exc.value.status_code == 400 and "subtitle" in _error(exc)["message"]


def test_batch_update_replies_with_item_and_question_ids(forms) -> None:
    created = forms.forms().create(body={"info": {"title": "Khảo sát"}}).execute()
    result = forms.forms().batchUpdate(formId=created["formId"], body={
        "includeFormInResponse": True,
        "requests": [{"createItem": {"item": ITEMS[1], "location": {"index": 0}}},
                     {"updateFormInfo": {"info": {"description": "Mô tả"},
                                         "updateMask": "description"}}]}).execute()
    reply = result["replies"][0]["createItem"]
    assert len(reply["itemId"]) == 8 and len(reply["questionId"]) == 1
    item = result["form"]["items"][0]
    assert item["itemId"] == reply["itemId"]
    assert item["questionItem"]["question"]["questionId"] == reply["questionId"][0]
    assert item["questionItem"]["question"]["choiceQuestion"]["type"] == "RADIO"
    assert result["form"]["info"]["description"] == "Mô tả"
    assert result["writeControl"]["requiredRevisionId"] == result["form"]["revisionId"]
    assert result["form"]["revisionId"] != created["revisionId"]


def test_batch_update_delete_and_out_of_range_is_all_or_nothing(forms, form) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().batchUpdate(formId=form["formId"], body={"requests": [
            {"deleteItem": {"location": {"index": 0}}},
            {"deleteItem": {"location": {"index": 99}}}]}).execute()
    assert exc.value.status_code == 400
    assert len(forms.forms().get(formId=form["formId"]).execute()["items"]) == len(ITEMS) + 1
    forms.forms().batchUpdate(formId=form["formId"], body={"requests": [
        {"deleteItem": {"location": {"index": 3}}}]}).execute()
    titles = [i["title"] for i in forms.forms().get(formId=form["formId"]).execute()["items"]]
    assert "Ghi chú" not in titles and len(titles) == len(ITEMS)


def test_unknown_form_is_404(forms) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().get(formId="1nosuchform").execute()
    assert exc.value.status_code == 404 and _error(exc)["status"] == "NOT_FOUND"
    with pytest.raises(HttpError) as exc:
        forms.forms().responses().list(formId="1nosuchform").execute()
    assert exc.value.status_code == 404


def test_submitted_responses_read_back_with_google_shape(forms, form, sandbox) -> None:
    [rid] = submit_responses(sandbox.store, form["formId"], [{
        "Họ và tên": "Nguyễn Văn An", "Danh xưng": "Ông", "Phiên tham dự": ["Sáng", "Chiều"],
        "Ghi chú": "   ", "respondentEmail": "an@example.edu.vn"}])
    assert rid.startswith("ACYDBN")
    got = forms.forms().responses().get(formId=form["formId"], responseId=rid).execute()
    assert got["formId"] == form["formId"] and got["respondentEmail"] == "an@example.edu.vn"
    name_q, checkbox_q = _qid(form, "Họ và tên"), _qid(form, "Phiên tham dự")
    assert got["answers"][name_q] == {"questionId": name_q,
                                      "textAnswers": {"answers": [{"value": "Nguyễn Văn An"}]}}
    assert [a["value"] for a in got["answers"][checkbox_q]["textAnswers"]["answers"]] == ["Sáng", "Chiều"]
    assert _qid(form, "Ghi chú") not in got["answers"]  # blank optional answer left out
    assert got["createTime"].endswith("Z") and got["createTime"] == got["lastSubmittedTime"]


def test_submit_refusals_name_the_question(form, sandbox) -> None:
    base = {"Họ và tên": "B", "Danh xưng": "Bà"}
    with pytest.raises(ValueError, match="Họ tên"):
        submit_responses(sandbox.store, form["formId"], [{**base, "Họ tên": "x"}])
    with pytest.raises(ValueError, match="Danh xưng"):
        submit_responses(sandbox.store, form["formId"], [{**base, "Danh xưng": "Cô"}])
    with pytest.raises(ValueError, match="Họ và tên"):
        submit_responses(sandbox.store, form["formId"], [{"Danh xưng": "Ông"}])
    # all or nothing: a bad second response keeps the first out too
    with pytest.raises(ValueError, match="response 2"):
        submit_responses(sandbox.store, form["formId"], [base, {"Danh xưng": "Ông"}])
    with sandbox.store.transaction(write=False) as db:
        assert db.execute("SELECT COUNT(*) FROM forms_responses").fetchone()[0] == 0


def test_ten_thousand_responses_fast_and_fully_paginated(forms, form, sandbox) -> None:
    people = [{"Họ và tên": f"Người {i}", "Danh xưng": "Ông" if i % 2 else "Bà",
               "Phiên tham dự": ["Sáng"]} for i in range(10_000)]
    started = time.perf_counter()
    ids = submit_responses(sandbox.store, form["formId"], people)
    elapsed = time.perf_counter() - started
    print(f"submit_responses: 10,000 responses in {elapsed:.2f} s")
    assert elapsed < 10 and len(set(ids)) == 10_000
    got = _all(forms, form["formId"], pageSize=3000)
    assert [r["responseId"] for r in got] == ids
    assert "formId" not in got[0]
    times = [parse_rfc3339(r["createTime"]) for r in got]
    stamps = [r["lastSubmittedTime"] for r in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert times == sorted(times)
    default_page = forms.forms().responses().list(formId=form["formId"]).execute()
    assert len(default_page["responses"]) == 5000 and "nextPageToken" in default_page


def test_filter_timestamp_returns_only_later_responses(forms, form, sandbox) -> None:
    answer = {"Họ và tên": "A", "Danh xưng": "Ông"}
    first = submit_responses(sandbox.store, form["formId"], [answer, answer])
    cut = forms.forms().responses().get(formId=form["formId"],
                                        responseId=first[-1]).execute()["lastSubmittedTime"]
    later = submit_responses(sandbox.store, form["formId"], [answer])
    after = _all(forms, form["formId"], filter=f"timestamp > {cut}")
    assert [r["responseId"] for r in after] == later
    at_or_after = _all(forms, form["formId"], filter=f"timestamp >= {cut}")
    assert [r["responseId"] for r in at_or_after] == first[-1:] + later
    assert _all(forms, form["formId"], filter="timestamp > 2000-01-01T00:00:00Z") != []


@pytest.mark.parametrize("bad", ["timestamp < 2024-10-01T00:00:00Z", "timestamp > yesterday",
                                 "createTime > 2024-10-01T00:00:00Z",
                                 "timestamp > 2024-10-01T00:00:00+07:00"])
def test_malformed_filter_is_400(forms, form, bad) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().responses().list(formId=form["formId"], filter=bad).execute()
    assert exc.value.status_code == 400


def test_edit_keeps_id_and_create_time_and_moves_last_submitted(forms, form, sandbox) -> None:
    [rid] = submit_responses(sandbox.store, form["formId"], [{"Họ và tên": "Cũ", "Danh xưng": "Bà"}])
    before = forms.forms().responses().get(formId=form["formId"], responseId=rid).execute()
    submit_responses(sandbox.store, form["formId"], [{"Họ và tên": "Khác", "Danh xưng": "Ông"}])
    assert submit_responses(sandbox.store, form["formId"], [{"Họ và tên": "Mới", "Danh xưng": "Ông"}],
                            edit_response_id=rid) == [rid]
    after = forms.forms().responses().get(formId=form["formId"], responseId=rid).execute()
    assert after["createTime"] == before["createTime"]
    assert after["lastSubmittedTime"] > before["lastSubmittedTime"]
    name_q = _qid(form, "Họ và tên")
    assert after["answers"][name_q]["textAnswers"]["answers"] == [{"value": "Mới"}]
    edited = _all(forms, form["formId"], filter=f"timestamp > {before['lastSubmittedTime']}")
    assert rid in [r["responseId"] for r in edited]
    with pytest.raises(ValueError):
        submit_responses(sandbox.store, form["formId"], [{"Họ và tên": "x", "Danh xưng": "Ông"}],
                         edit_response_id="ACYDBNnope")


def test_file_upload_answer_is_a_drive_file(forms, form, sandbox, service) -> None:
    [rid] = submit_responses(sandbox.store, form["formId"], [{
        "Họ và tên": "Lê Chi", "Danh xưng": "Bà", "respondentEmail": "chi@example.edu.vn",
        UPLOAD_TITLE: {"name": "bai-viet.docx", "content": "Nội dung tham luận"}}])
    got = forms.forms().responses().get(formId=form["formId"], responseId=rid).execute()
    [upload] = got["answers"][_qid(form, UPLOAD_TITLE)]["fileUploadAnswers"]["answers"]
    # Forms stores an upload under the original name followed by the respondent's name
    assert upload["fileName"] == "bai-viet - chi.docx"
    assert upload["mimeType"].endswith("wordprocessingml.document")
    content = service("drive", "v3").files().get_media(fileId=upload["fileId"]).execute()
    assert content.decode("utf-8") == "Nội dung tham luận"


def test_unknown_response_is_404(forms, form) -> None:
    with pytest.raises(HttpError) as exc:
        forms.forms().responses().get(formId=form["formId"], responseId="ACYDBNnope").execute()
    assert exc.value.status_code == 404


def test_drive_delete_removes_form(forms, form, service) -> None:
    service("drive", "v3").files().delete(fileId=form["formId"]).execute()
    with pytest.raises(HttpError) as exc:
        forms.forms().get(formId=form["formId"]).execute()
    assert exc.value.status_code == 404
