"""The console's Biểu mẫu page in a real browser: the event's forms, filling
the registration form (the browser's own validation, the form's validation
server-side in Vietnamese), a letter's pre-filled link, and a paper upload;
every response is read back through the Forms API."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.browser import needs_chromium, screenshot
from tests.console_fixtures import sign_in

CONSENT = "Tôi đồng ý"
TECHNICAL = "Chi tiết kỹ thuật (tiếng Anh, cho kỹ thuật viên)"
# Words of the form's own (English) refusals: none may reach staff outside the technical note.
ENGLISH = re.compile(r"\b(response|responses|required|question|answered|option|options|takes|choice|file|"
                     r"bytes|accepts|accepting|the|is not|not of a type|got)\b", re.IGNORECASE)


# -- helpers -------------------------------------------------------------------
def _forms(server: Any) -> Any:
    """The Forms API as the event's contact (the forms' owner) sees it."""
    from sandbox.staff import staff_credentials
    from workspace.clients import Workspace

    state = server.state
    ws = Workspace(staff_credentials(state.store, server.sandbox.url, state.config.event.contact.email),
                   server.sandbox.url)
    return ws.service("forms", "v1").forms()


def _form_ids(server: Any) -> tuple[str, str]:
    forms = server.state.config.google.forms
    return forms.registration.id, forms.paper.id


def _responses(server: Any, form_id: str) -> list[dict[str, Any]]:
    return _forms(server).responses().list(formId=form_id).execute().get("responses", [])


def _question_ids(server: Any, form_id: str) -> dict[str, str]:
    """Question title -> questionId, as forms.get returns them."""
    form = _forms(server).get(formId=form_id).execute()
    return {i["title"]: i["questionItem"]["question"]["questionId"]
            for i in form["items"] if "questionItem" in i}


def _text_answers(response: dict[str, Any], ids: dict[str, str]) -> dict[str, list[str]]:
    by_id = {v: k for k, v in ids.items()}
    return {by_id[qid]: [a["value"] for a in answer["textAnswers"]["answers"]]
            for qid, answer in response.get("answers", {}).items() if "textAnswers" in answer}


def _fill_registration(page: Any, fields: dict[str, str], consent: bool = True) -> None:
    page.get_by_label(fields["full_name"]).fill("Phạm Thị Thu Hà")
    page.get_by_role("radio", name="Bà").check()
    page.get_by_label(fields["position"]).fill("Phó Hiệu trưởng")
    page.get_by_label(fields["unit"]).fill("Trường THPT Nguyễn Du")
    page.get_by_label(fields["delegation"]).select_option("Sở GDĐT Đồng Nai")
    # .last: a form collecting emails also shows Google's own "Email" box first.
    page.get_by_label(fields["email"]).last.fill("thuha.nd@example.edu.vn")
    page.get_by_label(fields["phone"]).fill("0903 123 456")
    if consent:
        page.get_by_role("checkbox", name=CONSENT).check()


def _send(page: Any) -> None:
    """Press Gửi and wait for the page the form answers with."""
    with page.expect_navigation():
        page.get_by_role("button", name="Gửi").click()


def _said_to_staff(page: Any) -> str:
    """The page's text as staff read it, without the collapsed technical note."""
    return page.evaluate("""() => { const copy = document.body.cloneNode(true);
        copy.querySelectorAll('details.technical').forEach(d => d.remove());
        return copy.innerText; }""")


def _technical_note(page: Any) -> str:
    """The form's own words, inside its collapsed note (closed, as it is first shown)."""
    note = page.locator(".form-card.problem details.technical")
    assert note.count() == 1 and note.get_attribute("open") is None
    assert note.locator("summary").inner_text().strip() == TECHNICAL
    return note.locator("code").text_content()


def _set_accepting(server: Any, form_id: str, accepting: bool) -> None:
    """Staff switch "Chấp nhận câu trả lời" off in the Forms editor."""
    from sandbox.api.forms_model import load, save

    with server.state.store.transaction() as db:
        doc, revision = load(db, form_id)
        doc["publishState"]["isAcceptingResponses"] = accepting
        save(db, form_id, doc, revision + 1)


# -- without a browser: the refusals in Vietnamese -----------------------------
@pytest.mark.parametrize("message, sentence, about", [
    ("response 1: required question 'Đồng ý xử lý dữ liệu cá nhân' is not answered",
     "Câu hỏi «Đồng ý xử lý dữ liệu cá nhân» là câu hỏi bắt buộc", "Đồng ý xử lý dữ liệu cá nhân"),
    ("response 1: 'Ngài' is not an option of question 'Danh xưng' (options: ['Bà', 'Ông'])",
     "Câu trả lời «Ngài» không có trong các lựa chọn của câu hỏi «Danh xưng»", "Danh xưng"),
    ("response 1: question 'Danh xưng' takes one choice, got ['Ông', 'Bà']",
     "Câu hỏi «Danh xưng» chỉ nhận một lựa chọn", "Danh xưng"),
    ("response 1: question 'Tệp tham luận' takes at most 1 file(s), got 2",
     "Câu hỏi «Tệp tham luận» chỉ nhận tối đa 1 tệp", "Tệp tham luận"),
    ("response 1: file 'a.docx' is 11534336 bytes, more than the 10485760 bytes question "
     "'Tệp tham luận' accepts", "Tệp «a.docx» (11 MB) vượt quá dung lượng tối đa 10 MB", "Tệp tham luận"),
    ("response 1: file 'anh.png' (image/png) is not of a type question 'Tệp tham luận' accepts "
     "(DOCUMENT, PDF)", "Tệp «anh.png» không thuộc loại tệp mà câu hỏi «Tệp tham luận» chấp nhận",
     "Tệp tham luận"),
    ("form \"Đăng ký 'X'\" is not accepting responses", "Biểu mẫu «Đăng ký 'X'» không còn nhận", None),
    ("something new", "Câu trả lời chưa được ghi lại", None),
])
def test_refusals_are_explained_in_vietnamese(message: str, sentence: str, about: str | None) -> None:
    from rehearsal.pages.forms import explain

    got, named = explain(message)
    assert got.startswith(sentence) and got.endswith(".")
    assert named == about


@pytest.mark.parametrize("message, detail", [
    ("response 1: 'Ngài' is not an option of question 'Danh xưng' (options: ['Bà', 'Ông'])",
     "Các lựa chọn có sẵn: «Bà», «Ông»."),
    ("response 1: question 'Danh xưng' takes one choice, got ['Ông', 'Bà']", "Đã chọn: «Ông», «Bà»."),
    ("response 1: question 'Tệp tham luận' takes at most 1 file(s), got 2", "Đã chọn 2 tệp."),
    ("response 1: file 'anh.png' (image/png) is not of a type question 'Tệp tham luận' accepts "
     "(DOCUMENT, PDF)", "Tệp đã chọn có kiểu image/png; câu hỏi này nhận: Tài liệu, PDF."),
    ("response 1: required question 'Họ và tên' is not answered", ""),
    ("something new", "Biểu mẫu từ chối vì một lý do chưa được dịch sang tiếng Việt; kỹ thuật viên xem "
                      "được nguyên văn trong phần chi tiết kỹ thuật."),
])
def test_what_a_refusal_says_besides_is_vietnamese_its_original_kept_apart(message: str, detail: str) -> None:
    from rehearsal.pages.forms import refusal

    found = refusal(message)
    assert found.detail == detail
    assert not ENGLISH.search(found.sentence + " " + found.detail)
    assert found.technical == message.removeprefix("response 1: ")


# -- in the browser --------------------------------------------------------------
@needs_chromium
def test_the_event_forms_are_listed(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    registration, paper = _form_ids(server)
    sign_in(browser_page, server, "/bieu-mau")
    page = browser_page
    for key, form_id in (("registration", registration), ("paper", paper)):
        tile = page.locator(f"[data-form={key}]")
        title = _forms(server).get(formId=form_id).execute()["info"]["title"]
        assert tile.get_by_role("link", name=title).get_attribute("href") == f"/bieu-mau/{form_id}"
        assert tile.locator(".count").get_attribute("data-responses") == str(len(_responses(server, form_id)))
        assert "Đang nhận câu trả lời" in tile.inner_text()
    _set_accepting(server, paper, False)
    page.reload()
    assert "Không nhận câu trả lời" in page.locator("[data-form=paper]").inner_text()
    page.locator("[data-form=paper]").get_by_role("link", name="Điền biểu mẫu").click()
    expect(page.locator(".form-card.closed")).to_contain_text("không còn nhận câu trả lời")
    assert page.get_by_role("button", name="Gửi").count() == 0


@needs_chromium
def test_fill_and_submit_the_registration_form(seeded: Path, open_console: Any, browser_page: Any,
                                               tmp_path: Path) -> None:
    server = open_console(seeded)
    registration, _ = _form_ids(server)
    fields = server.state.config.google.forms.registration.fields
    before = len(_responses(server, registration))
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, server, f"/bieu-mau/{registration}")

    # The form as a delegate sees it: title, the consent text, every question.
    title = page.locator(".form-card.title")
    assert "Nghị định 13/2023/NĐ-CP" in title.inner_text()
    assert page.get_by_label(fields["full_name"]).get_attribute("required") is not None
    assert page.get_by_label(fields["invitee_code"]).get_attribute("required") is None
    assert page.get_by_role("checkbox", name=CONSENT).get_attribute("required") is not None
    screenshot(page, tmp_path, "console-bieu-mau-trong.png", full_page=False)

    _fill_registration(page, fields)
    _send(page)
    expect(page.get_by_text("Câu trả lời của bạn đã được ghi lại.")).to_be_visible()

    responses = _responses(server, registration)
    assert len(responses) == before + 1
    ids = _question_ids(server, registration)
    assert _text_answers(responses[-1], ids) == {
        fields["full_name"]: ["Phạm Thị Thu Hà"], fields["honorific"]: ["Bà"],
        fields["position"]: ["Phó Hiệu trưởng"], fields["unit"]: ["Trường THPT Nguyễn Du"],
        fields["delegation"]: ["Sở GDĐT Đồng Nai"], fields["email"]: ["thuha.nd@example.edu.vn"],
        fields["phone"]: ["0903 123 456"], fields["consent"]: [CONSENT]}

    page.get_by_role("link", name="Gửi câu trả lời khác").click()
    assert page.get_by_label(fields["full_name"]).input_value() == ""


@needs_chromium
def test_the_browser_stops_a_form_without_consent(seeded: Path, open_console: Any,
                                                 browser_page: Any) -> None:
    server = open_console(seeded)
    registration, _ = _form_ids(server)
    fields = server.state.config.google.forms.registration.fields
    before = len(_responses(server, registration))
    page = browser_page
    sign_in(page, server, f"/bieu-mau/{registration}")
    _fill_registration(page, fields, consent=False)
    page.get_by_role("button", name="Gửi").click()
    consent = page.get_by_role("checkbox", name=CONSENT)
    assert consent.evaluate("e => e.validity.valueMissing")
    assert page.url.endswith(f"/bieu-mau/{registration}")
    # A required text left blank is stopped the same way.
    consent.check()
    page.get_by_label(fields["phone"]).fill("")
    page.get_by_role("button", name="Gửi").click()
    assert page.get_by_label(fields["phone"]).evaluate("e => e.validity.valueMissing")
    assert page.get_by_text("Câu trả lời của bạn đã được ghi lại.").count() == 0
    assert len(_responses(server, registration)) == before


@needs_chromium
def test_a_refusal_by_the_form_is_explained_and_keeps_what_was_typed(
        seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    registration, _ = _form_ids(server)
    fields = server.state.config.google.forms.registration.fields
    before = len(_responses(server, registration))
    page = browser_page
    sign_in(page, server, f"/bieu-mau/{registration}")
    _fill_registration(page, fields, consent=False)
    page.get_by_label(fields["invitee_code"]).fill("KM007")
    page.evaluate("document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required'))")
    _send(page)

    problem = page.locator(".form-card.problem")
    assert problem.locator(".sentence").inner_text() == (
        f"Câu hỏi «{fields['consent']}» là câu hỏi bắt buộc: vui lòng trả lời câu hỏi này rồi gửi lại.")
    assert "required question" in _technical_note(page)
    assert not ENGLISH.search(_said_to_staff(page))
    assert page.locator(".form-card.has-error").get_by_role("checkbox", name=CONSENT).count() == 1
    assert page.get_by_label(fields["full_name"]).input_value() == "Phạm Thị Thu Hà"
    assert page.get_by_label(fields["invitee_code"]).input_value() == "KM007"
    assert page.get_by_label(fields["delegation"]).input_value() == "Sở GDĐT Đồng Nai"
    assert page.get_by_role("radio", name="Bà").is_checked()
    assert len(_responses(server, registration)) == before

    # A value outside the choices (a tampered page) is refused by the form too.
    page.get_by_role("checkbox", name=CONSENT).check()
    page.get_by_role("radio", name="Bà").evaluate("e => { e.value = 'Ngài'; }")
    _send(page)
    assert page.locator(".form-card.problem .sentence").inner_text().startswith(
        f"Câu trả lời «Ngài» không có trong các lựa chọn của câu hỏi «{fields['honorific']}»")
    assert page.locator(".form-card.problem .detail").inner_text() == "Chi tiết: Các lựa chọn có sẵn: «Bà», «Ông»."
    assert "is not an option of question" in _technical_note(page)
    assert not ENGLISH.search(_said_to_staff(page)), _said_to_staff(page)
    assert page.get_by_role("checkbox", name=CONSENT).is_checked()
    assert page.get_by_label(fields["phone"]).input_value() == "0903 123 456"
    assert len(_responses(server, registration)) == before


@needs_chromium
def test_a_letters_prefilled_link_opens_the_form_filled(seeded: Path, open_console: Any,
                                                       browser_page: Any) -> None:
    from workflows.letters import prefilled_link

    server = open_console(seeded)
    registration, _ = _form_ids(server)
    fields = server.state.config.google.forms.registration.fields
    form = _forms(server).get(formId=registration).execute()
    ids = _question_ids(server, registration)
    # The link in a letter, as workspace.forms.prefill_url builds it, opened in the console.
    base = f"{form['responderUri']}?usp=pp_url&entry.{int(ids[fields['invitee_code']], 16)}="
    link = prefilled_link(base, "KM001")
    path = "/bieu-mau/" + link.split("/forms/d/", 1)[1]
    path += f"&entry.{int(ids[fields['consent']], 16)}={quote(CONSENT)}"
    page = browser_page
    sign_in(page, server, path)
    assert page.get_by_label(fields["invitee_code"]).input_value() == "KM001"
    assert page.get_by_role("checkbox", name=CONSENT).is_checked()
    assert page.get_by_label(fields["full_name"]).input_value() == ""

    _fill_registration(page, fields)
    _send(page)
    expect(page.get_by_text("Câu trả lời của bạn đã được ghi lại.")).to_be_visible()
    answers = _text_answers(_responses(server, registration)[-1], ids)
    assert answers[fields["invitee_code"]] == ["KM001"] and answers[fields["consent"]] == [CONSENT]
    page.get_by_role("link", name="Gửi câu trả lời khác").click()
    expect(page).to_have_url(re.compile(r"/bieu-mau/e/[^/]+/viewform$"))


@needs_chromium
def test_the_paper_form_takes_a_file(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    _, paper = _form_ids(server)
    fields = server.state.config.google.forms.paper.fields
    page = browser_page
    sign_in(page, server, f"/bieu-mau/{paper}")
    upload = page.get_by_label(fields["file"])
    assert upload.get_attribute("type") == "file" and upload.get_attribute("multiple") is None
    assert ".docx" in upload.get_attribute("accept") and ".pdf" in upload.get_attribute("accept")
    page.get_by_label(fields["author"]).fill("Trần Minh Khoa")
    page.get_by_label(fields["email"]).fill("khoa.tm@example.edu.vn")
    page.get_by_label(fields["unit"]).fill("Trường Đại học Sư phạm")
    page.get_by_label(fields["topic"]).select_option(index=2)
    page.get_by_label(fields["title"]).fill("Học liệu số mở trong trường phổ thông")
    content = b"PK\x03\x04 tham luan"
    upload.set_input_files(files=[{"name": "tham-luan-khoa.docx", "buffer": content,
                                   "mimeType": "application/vnd.openxmlformats-officedocument"
                                               ".wordprocessingml.document"}])
    _send(page)
    expect(page.get_by_text("Câu trả lời của bạn đã được ghi lại.")).to_be_visible()

    response = _responses(server, paper)[-1]
    qid = _question_ids(server, paper)[fields["file"]]
    (answer,) = response["answers"][qid]["fileUploadAnswers"]["answers"]
    assert answer["fileName"].startswith("tham-luan-khoa - ") and answer["fileName"].endswith(".docx")
    from sandbox.staff import staff_credentials
    from workspace.clients import Workspace

    state = server.state
    with Workspace(staff_credentials(state.store, server.sandbox.url, state.config.event.contact.email),
                   server.sandbox.url) as ws:
        drive = ws.service("drive", "v3")
        meta = drive.files().get(fileId=answer["fileId"], fields="name,size").execute()
        assert meta["name"] == answer["fileName"] and int(meta["size"]) == len(content)
        assert drive.files().get_media(fileId=answer["fileId"]).execute() == content


@needs_chromium
def test_a_wrong_file_type_is_refused_by_the_form(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    _, paper = _form_ids(server)
    fields = server.state.config.google.forms.paper.fields
    before = len(_responses(server, paper))
    page = browser_page
    sign_in(page, server, f"/bieu-mau/{paper}")
    page.get_by_label(fields["author"]).fill("Trần Minh Khoa")
    page.get_by_label(fields["email"]).fill("khoa.tm@example.edu.vn")
    page.get_by_label(fields["unit"]).fill("Trường Đại học Sư phạm")
    page.get_by_label(fields["title"]).fill("Học liệu số mở")
    page.get_by_label(fields["file"]).set_input_files(files=[{"name": "anh.png", "buffer": b"\x89PNG",
                                                              "mimeType": "image/png"}])
    _send(page)
    sentence = page.locator(".form-card.problem .sentence").inner_text()
    assert sentence.startswith(f"Tệp «anh.png» không thuộc loại tệp mà câu hỏi «{fields['file']}» chấp nhận")
    assert page.locator(".form-card.problem .detail").inner_text().startswith(
        "Chi tiết: Tệp đã chọn có kiểu image/png; câu hỏi này nhận: ")
    assert "is not of a type question" in _technical_note(page)
    assert not ENGLISH.search(_said_to_staff(page)), _said_to_staff(page)
    assert page.get_by_label(fields["title"]).input_value() == "Học liệu số mở"
    expect(page.get_by_text("Vui lòng chọn lại tệp")).to_be_visible()
    assert len(_responses(server, paper)) == before


@needs_chromium
def test_a_form_collecting_emails_asks_for_one_first(seeded: Path, open_console: Any,
                                                     browser_page: Any) -> None:
    server = open_console(seeded)
    registration, _ = _form_ids(server)
    fields = server.state.config.google.forms.registration.fields
    _forms(server).batchUpdate(formId=registration, body={"requests": [{"updateSettings": {
        "settings": {"emailCollectionType": "RESPONDER_INPUT"}, "updateMask": "emailCollectionType"}}]}).execute()
    page = browser_page
    sign_in(page, server, f"/bieu-mau/{registration}")
    first = page.locator("form.gform .form-card.item").first
    assert first.get_attribute("data-question") == "emailAddress"
    email = first.get_by_role("textbox")
    assert email.get_attribute("type") == "email" and email.get_attribute("required") is not None
    email.fill("thuha@example.edu.vn")
    _fill_registration(page, fields)
    _send(page)
    expect(page.get_by_text("Câu trả lời của bạn đã được ghi lại.")).to_be_visible()
    assert _responses(server, registration)[-1]["respondentEmail"] == "thuha@example.edu.vn"


@needs_chromium
def test_unknown_forms_are_not_found(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    sign_in(browser_page, server)
    for path in ("/bieu-mau/khong-co-bieu-mau-nay", "/bieu-mau/e/1FAIpQLSkhongco/viewform",
                 "/bieu-mau/khong-co/da-gui",
                 # Too long for a form id: the client would ask the Forms API by POST, which it refuses.
                 "/bieu-mau/" + "x" * 3000, "/bieu-mau/e/" + "x" * 3000 + "/viewform",
                 "/bieu-mau/%00", "/bieu-mau/e/x'y/viewform", "/bieu-mau/a%20b/da-gui"):
        answer = browser_page.goto(server.base_url + path)
        assert answer.status == 404, path
        assert "Không có trang này" in browser_page.locator("main").inner_text(), path
