"""The personal invitation letter (giấy mời) as a PDF, made from a Google Doc
template (`mail.letter_template`) when send-invitations queues a letter.

Per letter: copy the template into google.drive_folder_id, replace the
personal placeholders in one batchUpdate, export the copy as PDF, delete the
copy. That is 4 API calls a letter, and it cannot be fewer: Google has no bulk
export, and a PDF is made from a whole document. The batchUpdate counts
against the Docs write quota (60 a minute per user), so letters are paced
under it; the copies and exports are Drive calls, whose quota is far higher.
A letter that cannot be made is that invitee's problem (`Vấn đề`); the others
go on. A template that is missing or holds an unknown placeholder stops the
run before anything is queued (and `check` reports it).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from workspace.clients import Workspace
from workspace.config import Config
from workspace.docs import DocNotFound, DocsAdapter
from workspace.errors import HoithaoError
from workspace.pacing import Pacer

from .normalise import clean_text

# Placeholder in the Doc -> the invitee's field ("key" is the invitee code,
# "registration_link" their own pre-filled form link, "salutation" the line
# after `Kính gửi:` as the mail prints it), then the letter's own lines as staff
# set them in `Văn bản` (row giay-moi): "number" (`125/GM-SGDĐT`), "issued_on"
# (`ngày 04 tháng 11 năm 2024`), "signer", "authority" (`KT. GIÁM ĐỐC` and
# `PHÓ GIÁM ĐỐC`, a paragraph each) and "recipients" (`- Như trên;` … `- Lưu:
# VT, VP.`, a paragraph each). Typed exactly, braces included and without
# spaces: replaceAllText matches text, not a template language.
PLACEHOLDERS: dict[str, str] = {
    "{{danh_xung}}": "honorific", "{{ho_ten}}": "full_name", "{{chuc_vu}}": "position",
    "{{don_vi}}": "unit", "{{kinh_gui}}": "salutation", "{{ma_khach_moi}}": "key",
    "{{duong_dan_dang_ky}}": "registration_link",
    "{{so_ky_hieu}}": "number", "{{ngay_ban_hanh}}": "issued_on", "{{nguoi_ky}}": "signer",
    "{{chuc_vu_nguoi_ky}}": "authority", "{{noi_nhan}}": "recipients",
}
# Without these, the PDF would not say what the message says: `check` warns.
ISSUE_PLACEHOLDERS = ("{{so_ky_hieu}}", "{{ngay_ban_hanh}}")
DOCS_WRITES_PER_MINUTE = 60   # Google Docs API: write requests per minute per user
_ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


def filename(invitee_key: str) -> str:
    """`Giay-moi-KM001.pdf`: ASCII only, so every mail client shows it as is."""
    return f"Giay-moi-{re.sub(r'[^A-Za-z0-9_-]+', '-', invitee_key).strip('-') or 'khach'}.pdf"


_MULTILINE = {"authority", "recipients"}   # a paragraph a line
_PADDED = {"number"}                      # a blank number keeps its room: "     /GM-SGDĐT"


def replacements(values: Mapping[str, str]) -> dict[str, str]:
    """Each placeholder and the invitee's value for it (pure; NFC, trimmed,
    on one line but for the letter's multi-line fields)."""
    out = {}
    for ph, f in PLACEHOLDERS.items():
        value = values.get(f) or ""
        if f in _MULTILINE:
            out[ph] = "\n".join(x for x in (clean_text(line) for line in str(value).split("\n")) if x)
        elif f in _PADDED:
            out[ph] = " ".join(clean_text(part) for part in str(value).split(" ")).rstrip()
        else:
            out[ph] = clean_text(value)
    return out


def unknown_placeholders(text: str) -> list[str]:
    """`{{…}}` in the template's text that is not one of PLACEHOLDERS (it would
    be printed as typed in every letter) (pure)."""
    return sorted({p for p in _ANY_PLACEHOLDER.findall(text) if p not in PLACEHOLDERS})


def template_findings(docs: DocsAdapter, doc_id: str) -> tuple[list[str], list[str]]:
    """What is wrong with the letter template (one line per fault), and what
    it lacks that the message prints (the letter's number and date, so the
    PDF and the message would disagree); one read of the Doc (2 calls)."""
    try:
        _, text = docs.template_text(doc_id)
    except DocNotFound as exc:
        return [f"mail.letter_template: {exc}; kiểm tra mã (lấy từ đường dẫn của Doc) và chia sẻ Doc "
                f"với tài khoản của công cụ, hoặc đặt \"\" nếu không đính kèm giấy mời PDF."], []
    except HoithaoError as exc:
        return [f"mail.letter_template: {exc}"], []
    problems, warnings = [], []
    unknown = unknown_placeholders(text)
    if unknown:
        problems.append(f"mail.letter_template: Doc mẫu có chỗ điền không biết {', '.join(unknown)}; "
                        f"các chỗ điền được dùng: {', '.join(PLACEHOLDERS)}")
    lacking = [p for p in ISSUE_PLACEHOLDERS if p not in text]
    if lacking:
        warnings.append(f"mail.letter_template: Doc mẫu không có {', '.join(lacking)}; giấy mời PDF sẽ không "
                        f"ghi Số và ngày ban hành như thư (trang Văn bản, dòng giay-moi).")
    return problems, warnings


def template_problems(docs: DocsAdapter, doc_id: str) -> list[str]:
    """What is wrong with the letter template, one line per fault (2 calls)."""
    return template_findings(docs, doc_id)[0]


def verify_template(docs: DocsAdapter, doc_id: str) -> None:
    """HoithaoError (the run stops before anything is queued) unless the template is usable."""
    problems = template_problems(docs, doc_id)
    if problems:
        raise HoithaoError("; ".join(problems) + " (`python run.py check` cho biết thêm)")


@dataclass
class LetterMaker:
    """Makes one invitee's PDF at a time, paced under the Docs write quota."""
    docs: DocsAdapter
    template_id: str
    folder_id: str = ""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    per_minute: int = DOCS_WRITES_PER_MINUTE   # 0: unpaced (the demo: a sandbox has no quota)
    leftovers: list[str] = field(default_factory=list)   # copies that could not be deleted

    def __post_init__(self) -> None:
        self.pacer = Pacer(self.per_minute, self.clock, self.sleep)

    def make(self, title: str, values: Mapping[str, str]) -> bytes:
        """The PDF of this invitee's letter; HoithaoError when it cannot be made.
        The copy is named `title` (the PDF's title is the Doc's name) and is
        deleted whatever happens; one that cannot be is remembered."""
        if self.per_minute:
            self.pacer.wait()
        copy_id = self.docs.copy(self.template_id, title, self.folder_id)
        try:
            self.pacer.record()
            self.docs.replace_all(copy_id, replacements(values))
            return self.docs.export_pdf(copy_id)
        finally:
            try:
                self.docs.delete(copy_id)
            except HoithaoError:
                self.leftovers.append(copy_id)

    def leftover_note(self) -> str | None:
        if not self.leftovers:
            return None
        return (f"{len(self.leftovers)} bản sao tạm của giấy mời chưa xoá được trong thư mục Drive "
                f"(tên dạng 'Giấy mời … - KM…'): xoá bằng tay.")


def check_letter_template(config: Config, ws: Workspace) -> tuple[list[str], list[str]]:
    """`check`: the configured letter template exists, is a Doc, and holds only
    known placeholders (problems), and the letter's own lines (warnings).
    Nothing to check when no template is configured."""
    doc_id = config.mail.letter_template.strip()
    if not doc_id:
        return [], []
    return template_findings(DocsAdapter(ws), doc_id)
