"""The personal invitation letter as a PDF: the sandbox's Drive PDF export of a
Doc (Vietnamese, fonts), and send-invitations attaching each invitee's letter
made from `mail.letter_template` (copy, fill, export, delete)."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
from pathlib import Path
from typing import Any

import pypdf
import pytest
from googleapiclient.errors import HttpError
from rich.console import Console

from sandbox.api import docs_pdf
from sandbox.api.gmail import sent_messages
from tests.conftest import needs_fonts, child_env, open_ws, run_cli, run_job_as_cli
from workflows import letter_pdf
from workflows.jobs import load_config as load
from workspace.docs import DocsAdapter
from workspace.outbox import open_ledger
from workspace.errors import HoithaoError
from workspace.retry import RetryPolicy

PDF = "application/pdf"
VIETNAMESE = "Kính gửi Ông Nguyễn Văn A, Giám đốc Sở GDĐT Bà Rịa – Vũng Tàu"
TEMPLATE_TEXT = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
                 "GIẤY MỜI\n"
                 "Kính gửi: {{danh_xung}} {{ho_ten}}, {{chuc_vu}} {{don_vi}}\n"
                 "Mã khách mời: {{ma_khach_moi}}\n"
                 "Đăng ký tại: {{duong_dan_dang_ky}}\n")



def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _new_doc(docs: Any, title: str, text: str, *more: dict[str, Any]) -> str:
    doc_id = docs.create(body={"title": title}).execute()["documentId"]
    docs.batchUpdate(documentId=doc_id, body={"requests": [
        {"insertText": {"location": {"index": 1}, "text": text}}, *more]}).execute()
    return doc_id


# -- the sandbox's export ---------------------------------------------------------

@needs_fonts
def test_pdf_export_of_a_vietnamese_doc_reads_back_in_order_on_a4(service) -> None:
    docs, drive = service("docs", "v1").documents(), service("drive", "v3").files()
    doc_id = _new_doc(docs, "Giấy mời", f"GIẤY MỜI\n{VIETNAMESE}\nTrân trọng kính mời.\n",
                      {"updateTextStyle": {"range": {"startIndex": 1, "endIndex": 9},
                                           "textStyle": {"bold": True,
                                                         "fontSize": {"magnitude": 14, "unit": "PT"}},
                                           "fields": "bold,fontSize"}},
                      {"updateParagraphStyle": {"range": {"startIndex": 1, "endIndex": 9},
                                                "paragraphStyle": {"alignment": "CENTER"},
                                                "fields": "alignment"}})
    data = drive.export(fileId=doc_id, mimeType=PDF).execute()
    assert data.startswith(b"%PDF")
    text = _pdf_text(data)
    assert text.index("GIẤY MỜI") < text.index(VIETNAMESE) < text.index("Trân trọng kính mời.")
    box = pypdf.PdfReader(io.BytesIO(data)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4


@needs_fonts
def test_pdf_export_keeps_the_docs_own_page_size_and_prints_table_cells(service) -> None:
    docs, drive = service("docs", "v1").documents(), service("drive", "v3").files()
    doc_id = _new_doc(docs, "Bảng", "Danh sách đoàn\n",
                      {"updateDocumentStyle": {"documentStyle": {"pageSize": {
                          "width": {"magnitude": 612, "unit": "PT"},
                          "height": {"magnitude": 792, "unit": "PT"}}}, "fields": "pageSize"}},
                      {"insertTable": {"rows": 2, "columns": 2, "endOfSegmentLocation": {}}})
    body = docs.get(documentId=doc_id).execute()["body"]["content"]
    table = next(e for e in body if "table" in e)
    first_cell = table["table"]["tableRows"][0]["tableCells"][0]["content"][0]["startIndex"]
    docs.batchUpdate(documentId=doc_id, body={"requests": [
        {"insertText": {"location": {"index": first_cell}, "text": "Đoàn Bà Rịa – Vũng Tàu"}}]}).execute()
    data = drive.export(fileId=doc_id, mimeType=PDF).execute()
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (612, 792)
    assert "Đoàn Bà Rịa – Vũng Tàu" in page.extract_text()


def test_pdf_export_without_a_unicode_font_fails_like_google_and_names_the_package(
        service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs, drive = service("docs", "v1").documents(), service("drive", "v3").files()
    doc_id = _new_doc(docs, "Giấy mời", VIETNAMESE + "\n")
    monkeypatch.setattr(docs_pdf, "FONT_DIRS", [tmp_path])   # a machine without fonts-dejavu-core
    with pytest.raises(HttpError) as excinfo:
        drive.export(fileId=doc_id, mimeType=PDF).execute()
    assert excinfo.value.resp.status == 500
    error = json.loads(excinfo.value.content)["error"]
    assert "fonts-dejavu-core" in error["message"] and error["status"] == "INTERNAL"


# -- send-invitations with a letter template ------------------------------------------

def _config(data: Path, **env: str) -> Any:
    return load(data / "config.yaml", environ={f"HOITHAO_{k.upper()}": v for k, v in env.items()})


def _job(config: Any, name: str, **options: Any) -> Any:
    options.setdefault("sleep", lambda s: None)
    return run_job_as_cli(config, name, console=Console(file=io.StringIO(), width=200),
                          policy=RetryPolicy(sleep=lambda s: None), **options)


def _template(config: Any, text: str = TEMPLATE_TEXT) -> str:
    with open_ws(config) as ws:
        return _new_doc(ws.service("docs", "v1").documents(), "Mẫu giấy mời", text)


def _tick(config: Any, keys: list[str]) -> dict[str, dict[str, str]]:
    """Tick `Gửi thư mời` for `keys`; every invitee's row by key."""
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Khách mời")
        rows = sheet.get_all_values()
        header = rows[0]
        column = chr(65 + header.index("Gửi thư mời"))
        for n, row in enumerate(rows[1:], start=2):
            if row[0] in keys:
                sheet.update([[True]], f"{column}{n}", raw=True)
        return {r[0]: dict(zip(header, r)) for r in rows[1:]}


def _drive_files(config: Any) -> list[dict[str, Any]]:
    with open_ws(config) as ws:
        return ws.service("drive", "v3").files().list(
            q="trashed = false", fields="files(id,name)", pageSize=1000).execute()["files"]


def _queued(config: Any) -> dict[str, email.message.EmailMessage]:
    with open_ledger(config, readonly=True) as ledger:
        return {m.source_key: email.message_from_bytes(m.raw, policy=email.policy.default)
                for m in ledger.in_state("QUEUED") if m.kind == "thu-moi"}


@needs_fonts
def test_each_ticked_invitee_gets_their_own_pdf_letter_and_no_copy_is_left(
        seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    config = _config(seeded, mail__letter_template=_template(config))
    keys = ["KM001", "KM002", "KM003"]
    rows = _tick(config, keys)
    files_before = _drive_files(config)
    since = seeded_server.store.last_request_seq()
    result = _job(config, "send-invitations")
    calls = seeded_server.store.requests(since)
    assert result.figures["thư mời xếp hàng"] == 3
    queued = _queued(config)
    assert sorted(queued) == keys
    for key, message in queued.items():
        attachments = list(message.iter_attachments())
        assert [(a.get_filename(), a.get_content_type()) for a in attachments] == \
            [(f"Giay-moi-{key}.pdf", PDF)]
        data = attachments[0].get_content()
        assert data.startswith(b"%PDF")
        text = " ".join(_pdf_text(data).split())
        assert rows[key]["Họ và tên"] in text and f"Mã khách mời: {key}" in text
        assert "{{" not in text and "entry." in text         # every placeholder filled
        assert message.get_body(("plain",)) is not None      # the letter itself is still there
    # The copies are gone: Drive holds exactly what it held before.
    assert sorted(f["id"] for f in _drive_files(config)) == sorted(f["id"] for f in files_before)
    # 4 calls a letter (copy, fill, export, delete) and 2 to verify the template, once.
    doc_calls = [c["method_id"] for c in calls if c["api"] in ("docs", "drive")]
    assert doc_calls.count("drive.files.copy") == 3 and doc_calls.count("drive.files.delete") == 3
    assert doc_calls.count("docs.documents.batchUpdate") == 3
    assert doc_calls.count("drive.files.export") == 3 and len(doc_calls) == 14
    sent = _job(config, "send-outbox")
    assert sent.figures["đã gửi"] == 3
    mailed = [email.message_from_bytes(raw, policy=email.policy.default)
              for _, raw in sent_messages(seeded_server.store)]
    assert sorted(a.get_filename() for m in mailed for a in m.iter_attachments()) == \
        [f"Giay-moi-{k}.pdf" for k in keys]


@needs_fonts
def test_letter_pdfs_are_paced_under_the_docs_write_quota(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    template = _template(config)
    waits: list[float] = []
    with open_ws(config) as ws:
        maker = letter_pdf.LetterMaker(DocsAdapter(ws), template, config.google.drive_folder_id,
                                       sleep=waits.append, clock=lambda: 1000.0, per_minute=2)
        pdfs = [maker.make(f"KM00{n}", {"full_name": f"Người {n}", "key": f"KM00{n}"})
                for n in (1, 2, 3)]
    assert waits == [60.0]   # the third letter's edit waits for the minute to pass
    assert all(p.startswith(b"%PDF") for p in pdfs) and maker.leftovers == []


def test_missing_letter_template_is_reported_by_check_and_stops_the_job(
        seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__letter_template="khong-co-mau-nay")
    _tick(config, ["KM001"])
    out = run_cli("--config", str(seeded / "config.yaml"), "check",
                  env=child_env(HOITHAO_MAIL__LETTER_TEMPLATE="khong-co-mau-nay"))
    assert out.returncode == 1
    assert "mail.letter_template" in out.stdout and "khong-co-mau-nay" in out.stdout
    with pytest.raises(HoithaoError, match="mail.letter_template: không có Google Doc"):
        _job(config, "send-invitations")
    assert _queued(config) == {}   # nothing queued without its letter


def test_unknown_placeholder_in_the_letter_template_is_found_by_check(
        seeded: Path, seeded_server) -> None:
    template = _template(_config(seeded), TEMPLATE_TEXT + "Ngày: {{ ngay_gui }}\n")
    out = run_cli("--config", str(seeded / "config.yaml"), "check",
                  env=child_env(HOITHAO_MAIL__LETTER_TEMPLATE=template))
    assert out.returncode == 1
    assert "{{ ngay_gui }}" in out.stdout and "{{ho_ten}}" in out.stdout


def test_without_a_letter_template_invitations_have_no_attachment_and_touch_no_doc(
        seeded: Path, seeded_server) -> None:
    assert _config(seeded).mail.letter_template   # the seed ships one; this config sets none
    config = _config(seeded, mail__letter_template="")
    _tick(config, ["KM001", "KM002"])
    since = seeded_server.store.last_request_seq()
    assert _job(config, "send-invitations").figures["thư mời xếp hàng"] == 2
    assert not [c for c in seeded_server.store.requests(since) if c["api"] in ("docs", "drive")]
    assert all(list(m.iter_attachments()) == [] for m in _queued(config).values())


def test_letter_filename_is_ascii_and_carries_the_key() -> None:
    assert letter_pdf.filename("KM001") == "Giay-moi-KM001.pdf"
    assert letter_pdf.filename("KM 0/07") == "Giay-moi-KM-0-07.pdf"
    assert letter_pdf.unknown_placeholders("{{ho_ten}} {{ ho_ten }} {{ten}}") == \
        ["{{ ho_ten }}", "{{ten}}"]


@needs_fonts
def test_a_copy_whose_answer_is_lost_is_found_by_its_mark_and_no_copy_is_left(
        seeded: Path, seeded_server) -> None:
    """Every write's answer may be lost (the write applied, a 500/503 returned):
    the copy is looked up by the mark only it carries instead of made twice, the fill and
    the delete are repeated, and every letter is still made in the one run."""
    import os

    from sandbox.server import Options, SandboxServer

    keys = ["KM001", "KM002", "KM003", "KM004", "KM005", "KM006"]
    config = _config(seeded)
    config = _config(seeded, mail__letter_template=_template(config))
    _tick(config, keys)
    files_before = _drive_files(config)
    # The same data served again, now losing the answers of 35% of writes.
    faulty = SandboxServer(seeded, options=Options(fail_after_rate=0.35, seed=7)).start()
    os.environ["HOITHAO_GOOGLE_URL"] = faulty.url
    try:
        since = faulty.store.last_request_seq()
        result = _job(config, "send-invitations")
        lost = [r["method_id"] for r in faulty.store.requests(since) if r["status"] >= 500]
    finally:
        os.environ["HOITHAO_GOOGLE_URL"] = seeded_server.url
        faulty.stop()
    assert "drive.files.copy" in lost, lost           # the case this test is about happened
    assert result.figures["thư mời xếp hàng"] == len(keys)
    assert sorted(_queued(config)) == keys
    assert sorted(f["id"] for f in _drive_files(config)) == sorted(f["id"] for f in files_before)


# -- the seed's letter template: the Decree 30 layout, as staff issue it ---------------

def _set_letter_row(config: Any, **cells: str) -> None:
    """Staff type the invitation's cells in `Văn bản` (row giay-moi), as in the sheet."""
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet(config.sheets.documents.tab)
        rows = sheet.get_all_values()
        n = next(i for i, r in enumerate(rows, start=1) if r[0] == "giay-moi")
        for label, value in cells.items():
            column = chr(65 + rows[0].index(label))
            sheet.update([[value]], f"{column}{n}", raw=False)


def _positions(data: bytes, *keys: str) -> dict[str, tuple[float, float]]:
    where: dict[str, tuple[float, float]] = {}

    def visit(text: str, cm: Any, tm: Any, *_: Any) -> None:
        for key in keys:
            if key in text and key not in where:
                where[key] = (tm[4], tm[5])
    pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text(visitor_text=visit)
    return where


@needs_fonts
def test_the_seeded_letter_is_laid_out_as_decree_30_with_what_staff_set_in_van_ban(
        seeded: Path, seeded_server) -> None:
    config = _config(seeded)             # the seeded config names the seed's letter template
    assert config.mail.letter_template
    rows = _tick(config, ["KM001", "KM010"])
    # Staff move the issue date, a deputy signs; the message and the PDF both follow.
    _set_letter_row(config, **{"Ngày ban hành": "06/11/2024", "Số": "3127",
                               "Chức vụ người ký": "KT. Giám đốc\nPhó Giám đốc", "Người ký": "Lê Thị Hoa",
                               "Nơi nhận": "- Như trên;\nBan Giám đốc Sở;\nLưu: VT, VP."})
    result = _job(config, "send-invitations")
    assert result.figures["thư mời xếp hàng"] == 2
    assert not any("Ngày ban hành" in n for n in result.notes), result.notes
    for key, message in _queued(config).items():
        data = next(message.iter_attachments()).get_content()
        reader = pypdf.PdfReader(io.BytesIO(data))
        # The PDF's title is the letter's, never a temporary copy's name.
        assert reader.metadata.title == f"Giấy mời tham dự Hội thảo - {key}"
        pdf_text = " ".join(_pdf_text(data).split())
        mail_text = message.get_body(("plain",)).get_content()
        row = rows[key]
        salutation = f"Kính gửi: {row['Danh xưng']} {row['Họ và tên']}, {row['Chức vụ']} {row['Đơn vị']}."
        for text in (pdf_text, " ".join(mail_text.split())):
            assert "Số: 3127/GM-SGDĐT" in text
            assert "Thành phố Hồ Chí Minh, ngày 06 tháng 11 năm 2024" in text
            assert salutation in text, (salutation, text[:600])
            assert "Nơi nhận: - Như trên; - Ban Giám đốc Sở; - Lưu: VT, VP." in text
            assert "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC" in text and "Lê Thị Hoa" in text
            assert config.event.signer.name not in text and "{{" not in text
        where = _positions(data, "ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "GIẤY MỜI",
                           "Nơi nhận:", "KT. GIÁM ĐỐC")
        (lx, ly), (rx, ry) = where["ỦY BAN NHÂN DÂN"], where["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]
        assert rx > lx + 100 and abs(ry - ly) < 20            # the two header blocks side by side
        assert where["GIẤY MỜI"][1] < ly                      # the title under them (PDF y grows up)
        (nx, ny), (gx, gy) = where["Nơi nhận:"], where["KT. GIÁM ĐỐC"]
        assert gx > nx + 100 and abs(gy - ny) < 20            # Nơi nhận left, the authority right
    # The seed's units are the bodies' formal names (as salutations print them), never abbreviated.
    units = {r["Đơn vị"] for r in rows.values()}
    assert "Sở Giáo dục và Đào tạo tỉnh Bình Dương" in units and "Phòng Giáo dục và Đào tạo Quận 3" in units
    assert "Ủy ban nhân dân huyện Cần Giờ" in units
    assert not [u for u in units if "GDĐT" in u or "Sở GD" in u], units


def test_a_letter_undated_in_van_ban_or_dated_after_the_event_is_said_so(seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__letter_template="")
    _tick(config, ["KM001"])
    _set_letter_row(config, **{"Ngày ban hành": "25/11/2024"})
    result = _job(config, "send-invitations", dry_run=True)
    assert any("Ngày ban hành 25/11/2024 sau ngày diễn ra" in n for n in result.notes), result.notes
    out = run_cli("--config", str(seeded / "config.yaml"), "check", env=child_env())
    assert "! Văn bản Giấy mời tham dự Hội thảo: Ngày ban hành 25/11/2024 sau ngày diễn ra" in out.stdout
    _set_letter_row(config, **{"Ngày ban hành": ""})
    result = _job(config, "send-invitations", dry_run=True)
    assert any("Giấy mời chưa có Ngày ban hành" in n for n in result.notes), result.notes


@needs_fonts
def test_preview_dir_writes_each_letter_as_html_and_pdf_privately(seeded: Path, seeded_server,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "xem-truoc"
    out = run_cli("--config", str(seeded / "config.yaml"), "send-invitations", "--preview", "2",
                  "--preview-dir", str(folder), env=child_env())
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["Giay-moi-KM001.html", "Giay-moi-KM001.pdf", "Giay-moi-KM002.html",
                     "Giay-moi-KM002.pdf"], names   # nothing ticked: the first not yet invited
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600        # letters hold names and addresses
    assert folder.stat().st_mode & 0o777 == 0o700
    html = (folder / "Giay-moi-KM001.html").read_text(encoding="utf-8")
    assert "GIẤY MỜI" in html and "Số: 3125/GM-SGDĐT" in html
    assert (folder / "Giay-moi-KM001.pdf").read_bytes().startswith(b"%PDF")
    with open_ledger(_config(seeded), readonly=True) as ledger:   # a preview queues nothing
        assert ledger.keys("thu-moi") == set()
    # A folder holding anything is never written into (the files may be a person's).
    again = run_cli("--config", str(seeded / "config.yaml"), "send-invitations", "--preview", "1",
                    "--preview-dir", str(folder), env=child_env())
    assert again.returncode == 2 and "không trống" in again.stderr, (again.stdout, again.stderr)
    assert sorted(p.name for p in folder.iterdir()) == names


def test_a_broken_cell_in_the_letter_row_stops_the_mail_out_before_anything_is_queued(
        seeded: Path, seeded_server) -> None:
    """A letter once queued is never made again: a formula's error or an
    unreadable date in `Văn bản` must not reach every guest's letter."""
    config = _config(seeded, mail__letter_template="")
    _tick(config, ["KM001"])
    _set_letter_row(config, **{"Số": "=NA()", "Ngày ban hành": "31/02/2024"})
    with pytest.raises(HoithaoError) as excinfo:
        _job(config, "send-invitations")
    message = str(excinfo.value)
    assert "Ô Số (dòng giay-moi trang 'Văn bản') báo lỗi công thức #N/A" in message, message
    assert "Không đọc được Ngày ban hành «31/02/2024»" in message and "Chưa xếp hàng" in message
    assert _queued(config) == {}
    out = run_cli("--config", str(seeded / "config.yaml"), "check", env=child_env())
    assert out.returncode == 1 and "báo lỗi công thức #N/A" in out.stdout
    # A dry run says the same, and does not say the date is missing: it is there, unreadable.
    notes = _job(config, "send-invitations", dry_run=True).notes
    assert any("báo lỗi công thức" in n for n in notes) and not any("chưa có Ngày" in n for n in notes)
    # Fixed (a number typed as a number), the letters go.
    _set_letter_row(config, **{"Số": "3128", "Ngày ban hành": "05/11/2024"})
    assert _job(config, "send-invitations").figures["thư mời xếp hàng"] == 1
    text = _queued(config)["KM001"].get_body(("plain",)).get_content()
    assert "Số: 3128/GM-SGDĐT" in text and "ngày 05 tháng 11 năm 2024" in text


def test_a_blank_number_keeps_room_to_write_it_by_hand_and_is_said() -> None:
    from workflows import letters, send_invitations
    from workspace.doc_layout import Issue

    config = load(Path(__file__).resolve().parent.parent / "config.yaml", environ={})
    issued = letters.issued_context(config, Issue(symbol="GM-SGDĐT"), dt.date(2024, 11, 4))
    assert issued["number"] == "Số:      /GM-SGDĐT"
    record = type("R", (), {"values": {}, "key": "KM001"})()
    values = send_invitations.letter_values(config, record, "https://x/?e=", issued)
    assert letter_pdf.replacements(values)["{{so_ky_hieu}}"] == "     /GM-SGDĐT"
    notes = send_invitations.letter_notes(config, Issue(date=dt.date(2024, 11, 4)), dt.date(2024, 11, 4), [])
    assert any("Giấy mời chưa có Số" in n for n in notes)


def test_test_to_takes_exactly_one_address() -> None:
    from workflows.letters import split_address

    assert split_address("Nguyễn Hà Nguyên <hanguyen@hcm.edu.vn>") == ("Nguyễn Hà Nguyên", "hanguyen@hcm.edu.vn")
    assert split_address("hanguyen@hcm.edu.vn") == ("", "hanguyen@hcm.edu.vn")
    for bad in ("", "Tên không địa chỉ", "a@x.vn, b@y.vn", "Trần <x@y.vn> thêm", "a@b.vn\nBcc: c@d.vn"):
        assert split_address(bad) is None, bad
