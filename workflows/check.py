"""`check`: everything that can be verified before a job runs, reported all at
once (config, credentials, spreadsheet tabs and headers, cells the jobs
cannot read, forms, templates), each line in Vietnamese naming its config key
or its cell."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from workspace.auth import check_key_file
from workspace.clients import Workspace
from workspace.config import OPTIONAL_TABLES, Config
from workspace.errors import HoithaoError
from workspace.forms import FormsAdapter
from workspace.sharing import file_access
from workspace.spreadsheet import Spreadsheet

from . import generate_docs, issuing, letter_pdf, letters, scheduler
from .normalise import clean_text
from .registration_input import quota_problems


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # worth a look, not a failure

    def warn(self, what: str) -> None:
        self.warnings.append(what)

    def ok(self, what: str) -> None:
        self.passed.append(what)

    def fail(self, what: str) -> None:
        self.problems.append(what)


def _credentials(config: Config, report: Report) -> None:
    key = "google.service_account_file" if config.google.auth == "service_account" \
        else "google.oauth_token_file"
    path = config.resolve(config.google.service_account_file if config.google.auth == "service_account"
                          else config.google.oauth_token_file)
    if config.google.backend == "sandbox" and config.google.auth == "service_account" \
            and not path.exists():
        report.fail(f"{key}: không thấy {path}: chạy `python run.py sandbox seed --data THƯ_MỤC` rồi "
                    f"dùng THƯ_MỤC/config.yaml.")
        return
    try:
        check_key_file(path)
        report.ok(f"tệp khoá: {path.name} có, quyền 600")
    except HoithaoError as exc:
        report.fail(f"{key}: {exc}")


def _spreadsheet(config: Config, ws: Workspace, report: Report) -> None:
    try:
        sheet = ws.coordinating_spreadsheet(config)
        titles = set(sheet.tab_titles())
    except HoithaoError as exc:
        report.fail(f"google.spreadsheet_id: {exc}")
        return
    report.ok(f"bảng tính: mở được '{sheet.title}'")
    tables = list(config.sheets.names())
    for name in tables:
        tab = config.sheets.table(name).tab
        if tab not in titles and name == "control":
            report.ok(f"trang '{tab}' (không bắt buộc): chưa có; lệnh `schedule` tạo trang này khi chạy "
                      f"lần đầu.")
        elif tab not in titles and name in OPTIONAL_TABLES:
            report.ok(f"trang '{tab}' (không bắt buộc): chưa có, nên phần việc dùng trang này tắt; "
                      f"thêm trang với dòng tiêu đề như README mô tả để bật.")
        elif tab not in titles:
            report.fail(f"sheets.{name}.tab: bảng tính không có trang '{tab}': thêm trang này hoặc "
                        f"sửa tên trong config.yaml.")
    present = [name for name in tables if config.sheets.table(name).tab in titles]
    if not present:
        return
    headers = sheet.header_rows([config.sheets.table(n).tab for n in present])
    readable = []
    for name, header in zip(present, headers):
        table = config.sheets.table(name)
        try:
            sheet.table(name).parse([header])
            report.ok(f"trang '{table.tab}': đủ {len(table.columns)} cột, không cột nào trùng tên")
            readable.append(name)
        except HoithaoError as exc:
            report.fail(f"sheets.{name}.columns: {exc}")
    if "delegations" in readable:
        _cells(config, sheet, report)


def _cells(config: Config, sheet: Spreadsheet, report: Report) -> None:
    """Cells a job reads as numbers or codes and cannot use as they are."""
    try:
        (delegations,) = sheet.read("delegations")
    except HoithaoError as exc:
        report.fail(f"sheets.delegations: {exc}")
        return
    problems = quota_problems(delegations.records, config.sheets.delegations)
    for problem in problems:
        report.fail(problem)
    if not problems:
        report.ok(f"trang '{config.sheets.delegations.tab}': mọi ô Chỉ tiêu đọc được")


def _documents(config: Config, ws: Workspace, report: Report) -> None:
    """The `Văn bản` tab's issue dates: one after the event is worth a look;
    a document without a template Doc will have no page numbers."""
    missing = [n for n in generate_docs.FILES if not config.google.doc_templates.get(n)]
    if missing:
        report.warn(f"google.doc_templates: chưa có Google Doc mẫu cho {', '.join(missing)}, nên các văn "
                    f"bản này không có số trang (Google Docs API không chèn được số trang): tạo một Doc "
                    f"trống, chèn số trang ở giữa lề trên từ trang 2 (Chèn > Số trang), rồi ghi mã Doc "
                    f"vào google.doc_templates.")
    sheet = ws.coordinating_spreadsheet(config)
    no_date = (f"trang '{config.sheets.documents.tab}': giấy mời chưa có Số và Ngày ban hành (thêm dòng "
               f"có Mã văn bản {issuing.LETTER}); nếu để trống, thư mời ghi ngày chạy lệnh xếp thư.")
    if config.sheets.documents.tab not in sheet.tab_titles():
        report.warn(no_date)
        return
    try:
        snap, = sheet.read("documents")
    except HoithaoError as exc:
        report.fail(f"sheets.documents: {exc}")
        return
    for record in snap.records:
        for line in issuing.date_warnings(config, {**record.values, "key": record.key}):
            report.warn(line)
    letter = next((r for r in snap.records if r.key == issuing.LETTER), None)
    if letter is None or not str(letter["issued_on"] or "").strip():
        report.warn(no_date)
    else:   # a broken cell stops the mail-out: a failure here
        for problem in issuing.letter_issue(config, {**letter.values, "key": letter.key})[1]:
            report.fail(problem)


def _forms(config: Config, ws: Workspace, report: Report) -> None:
    adapter = FormsAdapter(ws)
    for name in ("registration", "paper"):
        form = getattr(config.google.forms, name)
        if not form.id:
            report.fail(f"google.forms.{name}.id: đang trống; điền mã biểu mẫu (trong đường dẫn "
                        f"chỉnh sửa của biểu mẫu).")
            continue
        try:
            adapter.question_ids(form.id, form.fields)
            report.ok(f"biểu mẫu '{name}': có đủ mọi câu hỏi trong config")
        except HoithaoError as exc:
            report.fail(f"google.forms.{name}: {exc}")
            continue
        if name == "registration":
            _consent(config, adapter, form.id, report)


def _consent(config: Config, adapter: FormsAdapter, form_id: str, report: Report) -> None:
    """The registration form shows the consent text of config, word for word."""
    privacy = config.privacy
    if not privacy.consent_text.strip() or not privacy.consent_version.strip():
        report.fail("privacy.consent_text, privacy.consent_version: đang trống; ghi nguyên văn điều khoản "
                    "đồng ý mà biểu mẫu đăng ký hiển thị và phiên bản của nó (Nghị định 13/2023/NĐ-CP).")
        return
    wanted = clean_text(privacy.consent_text)   # NFC, no zero-width or soft hyphen, one space
    try:
        shown = clean_text(adapter.shown_text(form_id))
    except HoithaoError as exc:
        report.fail(f"google.forms.registration: {exc}")
        return
    if wanted not in shown:
        report.fail(f"google.forms.registration: biểu mẫu đăng ký không hiển thị nguyên văn điều khoản "
                    f"đồng ý (privacy.consent_text, phiên bản {privacy.consent_version}): chép điều khoản "
                    f"vào phần mô tả của biểu mẫu hoặc của câu hỏi đồng ý, hoặc sửa config cho khớp.")
    else:
        report.ok(f"biểu mẫu 'registration': hiển thị điều khoản đồng ý phiên bản {privacy.consent_version}")


_LABELS = {"spreadsheet": "bảng tính", "folder": "thư mục Drive", "form": "biểu mẫu",
           "template": "văn bản mẫu"}


def _sharing(config: Config, ws: Workspace, report: Report) -> None:
    """Every file the config names is shared with the tool's account: for editing
    where the jobs write (the spreadsheet, the folder), for viewing at least
    elsewhere. Files the spreadsheet and form checks open report their own failures."""
    g = config.google
    # (config key, file id, kind, report its own errors, must be editable): the
    # templates are only read and copied, so viewing them is enough.
    files = [("google.spreadsheet_id", g.spreadsheet_id, "spreadsheet", False, True),
             ("google.drive_folder_id", g.drive_folder_id, "folder", True, True),
             ("google.forms.registration.id", g.forms.registration.id, "form", False, False),
             ("google.forms.paper.id", g.forms.paper.id, "form", False, False)]
    files += [(f"google.doc_templates.{k}", v, "template", True, False)
              for k, v in (g.doc_templates or {}).items()]
    account = ws.account or "tài khoản của công cụ"
    for key, file_id, kind, report_errors, edits in files:
        if not file_id:
            continue
        try:
            access = file_access(ws, file_id)
        except HoithaoError as exc:
            if report_errors:
                report.fail(f"{key}: {exc}")
            continue
        label = _LABELS[kind]
        if access.can_edit or not edits:
            report.ok(f"chia sẻ: {label} '{access.name}' " + ("sửa được" if access.can_edit
                                                              else "xem được"))
        else:
            report.fail(f"{key}: tài khoản {account} chỉ được xem {label} '{access.name}' (mã "
                        f"{file_id}): mở {label} đó trên Google, bấm Chia sẻ, đổi quyền của {account} "
                        f"thành Người chỉnh sửa, rồi chạy lại.")


def run_check(config: Config, open_workspace: Callable[[Config], Workspace],
              today: dt.date) -> Report:
    """Every check that can run; a failing one never stops the others.
    `open_workspace` opens the session (the command line's choice of backend)."""
    report = Report()
    report.ok(f"cấu hình: {config.source} hợp lệ")
    past = issuing.past_event(config, today)
    if past:
        report.warn(past)
    _credentials(config, report)
    for problem in letters.check_templates(config, today):
        report.fail(problem)
    for problem in generate_docs.check_templates(config, today):
        report.fail(problem)
    # The timetable read exactly as `schedule` will read it.
    for problem in scheduler.problems(config):
        report.fail(problem)
    if any(p.startswith(("google.service_account_file", "google.oauth_token_file"))
           for p in report.problems):
        return report  # cannot sign in: the remote checks would only repeat it
    try:
        ws = open_workspace(config)
    except HoithaoError as exc:
        report.fail(f"google: {exc}")
        return report
    with ws:
        problems, warnings = letter_pdf.check_letter_template(config, ws)
        for problem in problems:
            report.fail(problem)
        for line in warnings:
            report.warn(line)
        _spreadsheet(config, ws, report)
        _documents(config, ws, report)
        _forms(config, ws, report)
        _sharing(config, ws, report)
    return report
