"""`sandbox seed`: the 2024 workshop, built in a sandbox through the same
client libraries and API calls the product uses against Google."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from google.oauth2 import credentials as user_credentials

from workspace.auth import ALL_SCOPES
from workspace.clients import Workspace
from workspace.config import TICK_BOXES, Config
from workspace.private import make_private_dirs

from . import letter_template, seed_data
from .api import forms_responses as forms_api
from .api.docs import add_page_number_header
from .api.forms import add_file_upload_question
from .oauth import create_authorized_user, create_service_account
from .server import SandboxServer
from .store import seed_refusal, write_marker

SERVICE_ACCOUNT = "hoithao-sandbox@hoithao-sandbox.iam.gserviceaccount.com"
CONSENT_TEXT = (  # the fallback when config.yaml's privacy.consent_text is empty
    "Thông tin cá nhân (họ tên, chức vụ, đơn vị, email, số điện thoại) được Ban Tổ chức thu "
    "thập để đăng ký, xác nhận, đón tiếp đại biểu và ghi tên đại biểu, tác giả tham luận "
    "trong chương trình, kỷ yếu Hội thảo; được lưu trữ đến hết năm 2025 và xoá sau thời hạn "
    "đó; không chuyển cho bên thứ ba, theo Nghị định 13/2023/NĐ-CP về bảo vệ dữ liệu cá nhân."
    " Ông/Bà có thể yêu cầu xem, sửa hoặc xoá dữ liệu của mình qua Văn phòng Sở.")
CONSENT_OPTION = "Tôi đồng ý"
DOC_TITLES = {"opening_speech": "Mẫu - Phát biểu khai mạc",
              "lead_in_report": "Mẫu - Báo cáo đề dẫn",
              "proceedings": "Mẫu - Kỷ yếu Hội thảo",
              "programme": "Mẫu - Chương trình Hội thảo",
              "results_report": "Mẫu - Báo cáo kết quả Hội thảo"}


class SeedError(Exception):
    """The folder cannot be seeded (the message says why and what to do)."""


def _text(title: str, required: bool = True) -> dict[str, Any]:
    return {"title": title, "questionItem": {"question": {"required": required, "textQuestion": {}}}}


def _choice(title: str, options: list[str], kind: str = "RADIO", required: bool = True) -> dict[str, Any]:
    return {"title": title, "questionItem": {"question": {
        "required": required, "choiceQuestion": {"type": kind, "options": [{"value": o} for o in options]}}}}


def _registration_items(config: Config) -> list[dict[str, Any]]:
    f = config.google.forms.registration.fields
    names = [name for _, name, _, _ in seed_data.DELEGATIONS]
    return [_text(f["full_name"]), _choice(f["honorific"], ["Ông", "Bà"]), _text(f["position"]),
            _text(f["unit"]), _choice(f["delegation"], names, "DROP_DOWN"), _text(f["email"]),
            _text(f["phone"]), _text(f["invitee_code"], required=False),
            _choice(f["consent"], [CONSENT_OPTION], "CHECKBOX")]


def _paper_items(config: Config) -> list[dict[str, Any]]:
    f = config.google.forms.paper.fields
    return [_text(f["author"]), _text(f["email"]), _text(f["unit"]),
            # Not required: a division's report (sent through the same form) has none;
            # a paper without one gets a Vấn đề from chase-submissions.
            _choice(f["topic"], config.event.topics, "DROP_DOWN", required=False), _text(f["title"]),
            _text(f["paper_code"], required=False)]   # the file question: _add_file_question


def _add_file_question(ws: Workspace, server: SandboxServer, config: Config, form_id: str,
                       folder_id: str) -> None:
    """The paper form's `Tệp tham luận`: a file-upload question, added as staff
    add one in the Forms editor (the Forms API cannot create one). The folder
    Forms makes for the uploads is moved into the workshop's folder, so the
    tool's account sees the papers as it sees the rest."""
    add_file_upload_question(server.store, form_id, config.google.forms.paper.fields["file"],
                             index=5, types=["DOCUMENT", "PDF"], max_files=1,
                             max_file_size=10 << 20)
    form = ws.service("forms", "v1").forms().get(formId=form_id).execute()
    upload_folder = next(i["questionItem"]["question"]["fileUploadQuestion"]["folderId"]
                         for i in form["items"]
                         if "fileUploadQuestion" in i.get("questionItem", {}).get("question", {}))
    drive = ws.service("drive", "v3")
    responses = drive.files().get(fileId=upload_folder, fields="parents").execute()["parents"][0]
    drive.files().update(fileId=responses, addParents=folder_id, removeParents="root").execute()


def _staff_credentials(server: SandboxServer, email: str) -> Any:
    """The signed-in account of a member of staff (an installed-app token)."""
    info = create_authorized_user(server.store, email, token_uri=server.url + "/token")
    # from_authorized_user_info always sets Google's token endpoint: point it back here.
    return user_credentials.Credentials.from_authorized_user_info(info, ALL_SCOPES).with_token_uri(
        info["token_uri"])


def _create_form(ws: Workspace, title: str, description: str, items: list[dict[str, Any]],
                 folder_id: str) -> str:
    forms = ws.service("forms", "v1")
    form = forms.forms().create(body={"info": {"title": title, "documentTitle": title}}).execute()
    requests = [{"updateFormInfo": {"info": {"description": description}, "updateMask": "description"}}]
    requests += [{"createItem": {"item": item, "location": {"index": i}}} for i, item in enumerate(items)]
    forms.forms().batchUpdate(formId=form["formId"], body={"requests": requests}).execute()
    # New forms land in the owner's My Drive; staff keep them in the workshop's folder.
    ws.service("drive", "v3").files().update(fileId=form["formId"], addParents=folder_id,
                                             removeParents="root").execute()
    return form["formId"]


def _table_rows(config: Config, name: str, records: list[dict[str, Any]]) -> list[list[Any]]:
    columns = config.sheets.table(name).columns
    header = list(columns.values())
    return [header] + [[rec.get(field, "") for field in columns] for rec in records]


def _build_spreadsheet(ws: Workspace, config: Config, folder_id: str,
                       tables: dict[str, list[dict[str, Any]]]) -> str:
    sh = ws.gspread.create("Điều phối Hội thảo Dữ liệu lớn và AI 2024", folder_id=folder_id)
    names = list(tables)
    first = sh.sheet1
    requests: list[dict[str, Any]] = [{"updateSheetProperties": {
        "properties": {"sheetId": first.id, "title": config.sheets.table(names[0]).tab,
                       "gridProperties": {"frozenRowCount": 1}},
        "fields": "title,gridProperties.frozenRowCount"}},
        # The Department's spreadsheet speaks Vietnamese: what staff type is read
        # as they write it (22/11/2024 is a date, 1.234,5 a number).
        {"updateSpreadsheetProperties": {
            "properties": {"locale": "vi_VN", "timeZone": "Asia/Ho_Chi_Minh"},
            "fields": "locale,timeZone"}}]
    for i, name in enumerate(names[1:], start=1):
        requests.append({"addSheet": {"properties": {
            "title": config.sheets.table(name).tab, "index": i,
            "gridProperties": {"rowCount": 1000, "columnCount": 26, "frozenRowCount": 1}}}})
    reply = sh.batch_update({"requests": requests})
    sheet_ids = {names[0]: first.id}
    for name, r in zip(names[1:], reply["replies"][2:]):
        sheet_ids[name] = r["addSheet"]["properties"]["sheetId"]
    # Tick boxes where staff decide ("Gửi thư mời", "Duyệt", "Gửi lại", "Rút đăng ký") and record ("Có mặt").
    boxes = []
    for name, field in ((n, f) for n, fs in TICK_BOXES.items() if n in sheet_ids for f in fs):
        col = list(config.sheets.table(name).columns).index(field)
        boxes.append({"repeatCell": {
            "range": {"sheetId": sheet_ids[name], "startRowIndex": 1, "endRowIndex": 1000,
                      "startColumnIndex": col, "endColumnIndex": col + 1},
            "cell": {"dataValidation": {"condition": {"type": "BOOLEAN"}}},
            "fields": "dataValidation"}})
    sh.batch_update({"requests": boxes})
    data = [{"range": f"'{config.sheets.table(name).tab}'!A1",
             "values": _table_rows(config, name, records)} for name, records in tables.items()]
    sh.values_batch_update({"valueInputOption": "RAW", "data": data})
    return sh.id


def _template_doc(ws: Workspace, server: SandboxServer, config: Config, title: str, folder_id: str) -> str:
    docs = ws.service("docs", "v1")
    doc = docs.documents().create(body={"title": title}).execute()
    e = config.event
    text = (f"{e.parent_body.upper()}\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            f"{e.organiser.upper()}\tĐộc lập - Tự do - Hạnh phúc\n\n"
            f"{title.replace('Mẫu - ', '').upper()}\n{e.kind} \"{e.name}\"\n\n{{{{noi_dung}}}}\n")
    docs.documents().batchUpdate(documentId=doc["documentId"], body={"requests": [
        {"insertText": {"location": {"index": 1}, "text": text}},
        {"updateDocumentStyle": {"documentStyle": {
            "pageSize": {"width": {"magnitude": 595.3, "unit": "PT"},
                         "height": {"magnitude": 841.9, "unit": "PT"}},
            "marginTop": {"magnitude": 56.7, "unit": "PT"}, "marginBottom": {"magnitude": 56.7, "unit": "PT"},
            "marginLeft": {"magnitude": 85.05, "unit": "PT"}, "marginRight": {"magnitude": 42.5, "unit": "PT"}},
            "fields": "pageSize,marginTop,marginBottom,marginLeft,marginRight"}},
    ]}).execute()
    ws.service("drive", "v3").files().update(fileId=doc["documentId"], addParents=folder_id,
                                             removeParents="root").execute()
    # Page numbers centred in the top margin from page 2 (Decree 30), as staff add
    # them in the Docs editor: the API cannot. generate-docs copies this Doc.
    add_page_number_header(server.store, doc["documentId"], first_page_different=True, text_style={
        "weightedFontFamily": {"fontFamily": "Times New Roman"},
        "fontSize": {"magnitude": 13, "unit": "PT"}})
    return doc["documentId"]


def _config_text(source: Path, google: dict[str, Any], letter_template: str = "") -> str:
    """The source config with its `google:` section (the last one) replaced,
    and mail.letter_template naming the seeded letter template."""
    text = source.read_text(encoding="utf-8")
    if letter_template:
        text, found = re.subn(r'^(  letter_template:).*$', rf'\1 "{letter_template}"', text, count=1,
                              flags=re.M)
        if not found:
            raise SeedError(f"{source}: không thấy khoá mail.letter_template để ghi mẫu giấy mời")
    head = re.split(r"^# --- Google Workspace.*$|^google:\s*$", text, maxsplit=1, flags=re.M)[0]
    note = ("# --- Google Workspace: the sandbox in this folder (written by `sandbox seed`) ---\n"
            "# Each key is explained in the project's config.yaml.\n")
    body = yaml.safe_dump({"google": google}, allow_unicode=True, sort_keys=False, width=100)
    return head.rstrip() + "\n\n" + note + body


def seed(data_dir: Path, config: Config) -> Path:
    """Create `data_dir` holding the 2024 workshop; return the config file written."""
    data_dir = Path(data_dir).resolve()
    # Only a new or empty folder: never write over a person's files.
    refusal = seed_refusal(data_dir)
    if refusal:
        raise SeedError(refusal)
    make_private_dirs(data_dir)
    os.chmod(data_dir, 0o700)  # it will hold names and addresses (an empty folder given too)
    write_marker(data_dir)     # first, so that even a half-made sandbox can be reset
    server = SandboxServer(data_dir).start()
    try:
        creds_dir = data_dir / "credentials"
        creds_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(creds_dir, 0o700)
        info = create_service_account(server.store, SERVICE_ACCOUNT)
        key_path = creds_dir / "service-account.json"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
        # As in production, a member of staff owns the workshop's files and
        # shares the folder holding them with the tool's service account.
        staff = config.event.contact.email
        ws = Workspace(_staff_credentials(server, staff), server.url)

        drive = ws.service("drive", "v3")
        folder = drive.files().create(body={"name": "Hội thảo Dữ liệu lớn và AI 2024",
                                            "mimeType": "application/vnd.google-apps.folder"},
                                      fields="id").execute()["id"]
        drive.permissions().create(fileId=folder, sendNotificationEmail=False, body={
            "type": "user", "role": "writer", "emailAddress": info["client_email"]}).execute()

        people = seed_data.People()
        invitees = seed_data.invitees(people)
        for row in invitees:
            row["send_invitation"] = False
            row["invitation_status"] = "Chưa gửi"
        delegation_names = {code: name for code, name, _, _ in seed_data.DELEGATIONS}
        delegations = []
        for code, name, quota, _domain in seed_data.DELEGATIONS:
            contact = next((i for i in invitees if i["delegation"] == code), None)
            delegations.append({"key": code, "name": name, "quota": quota if quota is not None else "",
                                "registered": 0, "confirmed": 0, "waitlisted": 0,
                                "contact_name": contact["full_name"] if contact else "",
                                "contact_email": contact["email"] if contact else ""})
        papers = seed_data.papers(people, config.event.topics, config.deadlines.papers.isoformat())
        for paper in papers:
            paper["reminder_count"] = 0
            # Rows follow the papers' milestone in Mốc thời gian; one author was
            # given a later deadline of their own (Hạn nộp on that row alone).
            paper["due"] = "2024-10-30" if paper["key"] == "TL05" else ""
        milestones = [dict(zip(("key", "content", "due", "applies_to", "remind_before"), m))
                      for m in seed_data.MILESTONES]
        reports = seed_data.reports()
        tables = {"invitees": invitees, "delegations": delegations, "registrations": [],
                  "papers": papers, "reports": reports, "outbox": [], "milestones": milestones,
                  # Staff set the invitation's number and date here (send-invitations reads them).
                  "documents": [{"key": "giay-moi", "name": "Giấy mời tham dự Hội thảo", "number": "3125",
                                 "issued_on": "04/11/2024"}],
                  "runs": []}
        spreadsheet_id = _build_spreadsheet(ws, config, folder, tables)

        e = config.event
        consent = config.privacy.consent_text or CONSENT_TEXT   # the form shows what config says
        registration_id = _create_form(
            ws, f"Đăng ký tham dự {e.kind} \"{e.name}\"",
            f"{e.kind} do {e.organiser} tổ chức, {e.venue}, {e.address}.\n\n{consent}",
            _registration_items(config), folder)
        paper_id = _create_form(
            ws, f"Gửi tham luận {e.kind} \"{e.name}\"",
            f"Hạn gửi tham luận: {config.deadlines.papers:%d/%m/%Y}. Các phòng thuộc Sở gửi báo "
            f"cáo qua đường dẫn riêng trong thư mời viết (không chọn chủ đề).\n\n{consent}",
            _paper_items(config), folder)
        _add_file_question(ws, server, config, paper_id, folder)
        templates = {key: _template_doc(ws, server, config, title, folder) for key, title in DOC_TITLES.items()}
        letter = letter_template.create(ws, config, folder)

        fields = config.google.forms.registration.fields
        answers = [{fields[k]: v for k, v in r.items() if v != ""}
                   for r in seed_data.sample_registrations(people, invitees, delegation_names)]
        forms_api.submit_responses(server.store, registration_id, answers)
        fields = config.google.forms.paper.fields
        forms_api.submit_responses(server.store, paper_id, [
            {fields[k]: v for k, v in r.items() if v != ""}
            for r in seed_data.sample_papers(papers, people) + seed_data.sample_reports(reports)])

        google = config.google.model_dump(mode="json")
        google.update({
            "backend": "sandbox", "sandbox_data": ".", "auth": "service_account",
            "service_account_file": "credentials/service-account.json",
            # A service account has no mailbox of its own: it sends as the
            # conference mailbox through domain-wide delegation, as in production.
            "delegate_sender": True,
            "spreadsheet_id": spreadsheet_id, "drive_folder_id": folder, "doc_templates": templates})
        google["forms"]["registration"]["id"] = registration_id
        google["forms"]["paper"]["id"] = paper_id
        out = data_dir / "config.yaml"
        out.write_text(_config_text(config.source or Path("config.yaml"), google, letter), encoding="utf-8")
        return out
    finally:
        server.stop()
