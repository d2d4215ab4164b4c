"""The invitation letter (giấy mời) template the seed ships: a Google Doc laid
out as Decree 30/2020 asks (workspace.doc_layout, the layout generate-docs
uses), holding the placeholders send-invitations fills for each invitee
(`{{kinh_gui}}`, `{{so_ky_hieu}}`, `{{ngay_ban_hanh}}`, …). In production staff
write this Doc themselves; the seeded one is a model of it."""
from __future__ import annotations

from workspace.clients import Workspace
from workspace.config import Config
from workspace.doc_layout import Issue, signature_band, top_block
from workspace.doc_model import MM, Document, Para, Run
from workspace.doc_render import requests as render_requests

TITLE = "Mẫu - Giấy mời"
FIRST_LINE = 10 * MM     # 1 cm (Decree 30: 1-1.27 cm)


def _body(text: list[Run] | str, **style: object) -> Para:
    runs = [Run(text)] if isinstance(text, str) else text
    options: dict[str, object] = {"indent_first": FIRST_LINE, "space_after": 6, "line_spacing": 115}
    options.update(style)
    return Para(runs, **options)  # type: ignore[arg-type]


def document(config: Config) -> Document:
    """The letter template (pure)."""
    e, d = config.event, config.documents
    doc = Document(TITLE)
    page = doc.page
    # The letter's own lines are placeholders too: staff set them in `Văn bản`
    # (row giay-moi), and the message prints the same.
    issue = Issue(number="{{so_ky_hieu}}", date_text=f"{e.place}, {{{{ngay_ban_hanh}}}}" if e.place
                  else "{{ngay_ban_hanh}}",
                  authority=["{{chuc_vu_nguoi_ky}}"], signer="{{nguoi_ky}}", recipients=["{{noi_nhan}}"])
    contact = e.contact
    rule = Para([], align="CENTER", size=4, space_after=12, line_spacing=100, rule=True)
    rule.indent_start = rule.indent_end = page.text_width / 3
    doc.blocks = [
        top_block(list(d.parent_lines) or e.parent_body, list(d.body_lines) or e.organiser, issue,
                  e.place, e.starts_at.year, page),
        Para([], space_after=6),
        Para([Run("GIẤY MỜI")], align="CENTER", bold=True, space_after=0, line_spacing=100),
        Para([Run(f"Tham dự {e.kind} “{e.name}”")], align="CENTER", bold=True, space_after=2,
             line_spacing=100),
        rule,
        _body([Run("Kính gửi: ", bold=False), Run("{{kinh_gui}}.")], align="CENTER", indent_first=0,
              space_after=12),
        _body(f"{e.organiser} trân trọng kính mời {{{{danh_xung}}}} đến dự {e.kind} “{e.name}”."),
        _body([Run("Thời gian: ", bold=True), Run(f"{_when(config)} (thời lượng {e.duration}).")]),
        _body([Run("Địa điểm: ", bold=True), Run(f"{e.venue}, {e.address}.")]),
        _body("Để Ban Tổ chức chuẩn bị chu đáo, kính đề nghị {{danh_xung}} xác nhận tham dự qua đường "
              "dẫn đăng ký dành riêng cho {{danh_xung}} (mã khách mời: {{ma_khach_moi}}):",
              space_after=2),
        # The link on a line of its own, at the left: a long address is not justified.
        _body("{{duong_dan_dang_ky}}", align="START", size=12, indent_first=0, space_after=6),
        # An address cannot break: justified, its line would be stretched.
        *([_body(f"Chương trình và tài liệu Hội thảo được đăng tải tại {e.website}.", align="START")]
          if e.website else []),
        _body(f"Mọi chi tiết xin liên hệ {contact.name}, {contact.title}; điện thoại {contact.phone}; "
              f"email {contact.email}."),
        _body("Sự hiện diện của {{danh_xung}} góp phần vào thành công của Hội thảo. Trân trọng kính "
              "mời./."),
        Para([], space_after=0),
        signature_band(issue, page, as_given=True),
    ]
    return doc


def _when(config: Config) -> str:
    """`08 giờ 00, thứ Sáu, ngày 22 tháng 11 năm 2024`, as the letters print it."""
    weekdays = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
    start = config.event.starts_at
    month = f"{start.month:02d}" if start.month < 3 else str(start.month)
    return (f"{start.hour:02d} giờ {start.minute:02d}, {weekdays[start.weekday()]}, "
            f"ngày {start.day:02d} tháng {month} năm {start.year}")


def create(ws: Workspace, config: Config, folder_id: str) -> str:
    """The template Doc, made in the folder (3 calls); its id."""
    doc = document(config)
    docs = ws.service("docs", "v1").documents()
    doc_id = docs.create(body={"title": doc.title}).execute()["documentId"]
    docs.batchUpdate(documentId=doc_id, body={"requests": render_requests(doc)}).execute()
    ws.service("drive", "v3").files().update(fileId=doc_id, addParents=folder_id,
                                             removeParents="root").execute()
    return doc_id
