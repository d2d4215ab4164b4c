"""Letters: templates rendered into messages, pure and safe. No clock, no
ledger, no Google: the date a letter is issued is passed in.

Templates live in `templates/mail/<name>.subject.txt`, `<name>.txt` and
`<name>.html`. They run in Jinja2's sandbox with `StrictUndefined` (an unknown
placeholder is an error, never a blank) and the HTML part is autoescaped.
Values from sheets and forms are data: `{{ 7*7 }}` typed into a form prints
as typed. Headers are built by the `email` package under a strict policy, so
a CR/LF in a name cannot add a header.
"""
from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from workspace.config import Config
from workspace.doc_layout import Issue, number_line, place_date, recipient_lines
from workspace.errors import HoithaoError, TemplateError

from .normalise import clean_text, normalise_email

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
PARTS = ("subject.txt", "txt", "html")
# Strict (a defect is an error, CR/LF in a header value refused), CRLF line ends.
# Lines up to RFC 5322's 998: the email package's folding at 78 splits an
# encoded display name wrongly ("Sở GDĐT TP.HCM" reads back as "TP.H CM", and a
# name holding ": …@…" can turn into an address), so headers are not folded.
POLICY = email.policy.SMTP.clone(raise_on_defect=True, max_line_length=998)

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")

# Each template, what it is called in `Hộp thư đi` (Loại), and what it may use
# beyond `event`, `sender` and `recipient` (the documented context).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # `letter`: what staff set for the invitation in `Văn bản` (issued_context).
    "thu-moi": ("Thư mời", ("registration_link", "invitee_code", "letter")),
    # `moved_up`: the person waited on the list and a place opened.
    "xac-nhan": ("Xác nhận đăng ký", ("checkin_code", "moved_up")),
    # `waiting`: delegation (its name), place (1: first in line), place_words ("thứ nhất").
    "danh-sach-cho": ("Danh sách chờ", ("waiting",)),
    # Reminders list everything the person owes that is due that day (`items`:
    # code, title, content, due, days_left, days_overdue, link).
    "nhac-truoc-han": ("Nhắc trước hạn", ("items",)),
    "nhac-qua-han": ("Nhắc quá hạn", ("items",)),
    "nhac-bao-cao": ("Nhắc hạn (báo cáo lãnh đạo)", ("items", "head", "head_phrase")),
    "danh-sach-thieu": ("Danh sách chưa nộp", ("milestone", "missing")),
    # `items`: code, title, topic, report, noun, due, link.
    "moi-viet": ("Thư mời viết", ("items",)),
    "nhan-tham-luan": ("Xác nhận nhận tham luận", ("paper",)),
    "ket-qua-tham-luan": ("Kết quả thẩm định tham luận", ("paper",)),
    # To a reviewer: `paper` (code, title, topic, links), `review_by`; the reminder
    # lists `papers` still without a verdict and `days_left`.
    "de-nghi-phan-bien": ("Đề nghị thẩm định", ("paper", "review_by")),
    "nhac-phan-bien": ("Nhắc hạn thẩm định", ("papers", "review_by", "days_left")),
    # To the engineer on call: `alert` (job, failures, run_id, started, error).
    "canh-bao": ("Cảnh báo vận hành", ("alert",)),
}
COMMON = ("event", "sender", "recipient")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# -- words and dates ----------------------------------------------------------

def vn_day(day: dt.date) -> str:
    """`ngày 22 tháng 11 năm 2024` (Decree 30/2020: a day below 10 and the
    months 1 and 2 take a leading zero)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def vn_date(day: dt.date) -> str:
    """`thứ Sáu, ngày 22 tháng 11 năm 2024`."""
    return f"{WEEKDAYS[day.weekday()]}, {vn_day(day)}"


def vn_datetime(moment: dt.datetime) -> str:
    """`08 giờ 00, thứ Sáu, ngày 22 tháng 11 năm 2024`."""
    return f"{moment.hour:02d} giờ {moment.minute:02d}, {vn_date(moment.date())}"


def salutation(person: Mapping[str, Any]) -> str:
    """`Ông Nguyễn Văn A, Giám đốc Sở GDĐT Bà Rịa – Vũng Tàu`: honorific, name,
    title and unit exactly as in the data, nothing guessed."""
    words = {f: clean_text(person.get(f) or "")
             for f in ("honorific", "full_name", "position", "unit")}
    head = " ".join(x for x in (words["honorific"], words["full_name"]) if x)
    position, unit = words["position"], words["unit"]
    # "Trưởng phòng" of "Phòng Giáo dục Trung học" is written "Trưởng phòng Giáo
    # dục Trung học": the word the two share is said once.
    if position and unit.split(" ", 1)[0].casefold() == position.rsplit(" ", 1)[-1].casefold() \
            and " " in unit:
        unit = unit.split(" ", 1)[1]
    tail = " ".join(x for x in (position, unit) if x)
    return f"{head}, {tail}" if tail else head


def person_context(person: Mapping[str, Any]) -> dict[str, str]:
    out = {f: clean_text(person.get(f) or "")
           for f in ("honorific", "full_name", "position", "unit", "email")}
    out["salutation"] = salutation(person)
    return out


def event_context(config: Config, today: dt.date) -> dict[str, Any]:
    """The event as templates see it; `today` is the date letters are issued on."""
    e = config.event
    starts = e.starts_at.astimezone(ZoneInfo(config.timezone))
    return {
        "name": e.name, "kind": e.kind, "short_name": e.short_name or e.name,
        "starts_at": vn_datetime(starts), "start_time": f"{starts.hour:02d} giờ {starts.minute:02d}",
        "start_date": vn_date(starts.date()), "duration": e.duration, "venue": e.venue,
        "address": e.address, "organiser": e.organiser,
        "organiser_short": e.organiser_short or e.organiser, "parent_body": e.parent_body,
        "website": e.website, "papers_due": vn_date(config.deadlines.papers),
        "contact": e.contact.model_dump(), "signer": e.signer.model_dump(),
        # The place-and-date line of an administrative document: where and when it is issued.
        "place": e.place, "issued_on": vn_day(today),
    }


def issued_context(config: Config, issue: Issue, today: dt.date) -> dict[str, Any]:
    """An issued letter's own lines: the top-left block (`parent_lines` over
    `body_lines`, as documents print them), `number` (`Số: 125/GM-SGDĐT`), `place_date`
    (`Thành phố Hồ Chí Minh, ngày 04 tháng 11 năm 2024`: the day staff set, else
    `today`), `date`, `authority` (lines), `signer`, `recipients` (`- Như trên;`
    … `- Lưu: VT, VP.`)."""
    day = issue.date or today
    e, d = config.event, config.documents
    return {"parent_lines": list(d.parent_lines) or ([e.parent_body.upper()] if e.parent_body else []),
            "body_lines": list(d.body_lines) or [e.organiser.upper()],
            "number": number_line(issue.number, issue.symbol), "date": vn_day(day),
            "place_date": place_date(config.event.place, day, day.year) if config.event.place
            else vn_day(day),
            "authority": [line.upper() for line in issue.authority if line.strip()],
            "signer": issue.signer, "recipients": recipient_lines(issue.recipients)}


def base_context(config: Config, person: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    return {"event": event_context(config, today), "sender": {"name": config.mail.sender_name},
            "recipient": person_context(person)}


def prefilled_link(base: str, invitee_code: str) -> str:
    """The invitee's own registration link (base from FormsAdapter.prefill_url)."""
    return base + quote(invitee_code, safe="")


def split_address(text: str) -> tuple[str, str] | None:
    """`Nguyễn Hà Nguyên <hanguyen@hcm.edu.vn>` -> (name, address); a bare
    address has no name. None unless `text` is exactly one address."""
    text = (text or "").strip()
    if not text or "\n" in text or "\r" in text:
        return None
    header = email.policy.default.header_factory("To", text)
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        return None
    return clean_text(addresses[0].display_name), addresses[0].addr_spec


MISSING_EMAIL = "Thiếu Email: nhập địa chỉ email vào bảng rồi chạy lại."


def recipient_address(value: str | None) -> tuple[str, str | None]:
    """The address a letter goes to (normalise.normalise_email: ASCII, the
    domain in punycode) and None, or what is typed and a Vietnamese problem."""
    address, problem = normalise_email(value or "")
    if not address:
        return "", MISSING_EMAIL
    return address, problem


# -- rendering ------------------------------------------------------------------

def environment(template_dir: Path = TEMPLATE_DIR) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(template_dir), encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False,
                                            default_for_string=False),
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


_ENV: SandboxedEnvironment | None = None


def render(name: str, context: Mapping[str, Any], env: SandboxedEnvironment | None = None) -> Rendered:
    """Subject, text and HTML of template `name`; TemplateError (naming the template
    and the placeholder) instead of a blank."""
    global _ENV
    if env is None:
        if _ENV is None:
            _ENV = environment()
        env = _ENV
    try:
        parts = [env.get_template(f"{name}.{part}").render(**context) for part in PARTS]
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"mẫu thư templates/mail/{exc.name} không có") from None
    except (jinja2.UndefinedError, jinja2.TemplateError) as exc:
        raise TemplateError(f"mẫu thư '{name}': {exc}; sửa mẫu trong templates/mail/ "
                            f"(chạy `python run.py check` để kiểm tra)") from None
    return Rendered(subject=clean_text(parts[0]), text=parts[1], html=parts[2])


def build_message(config: Config, to_name: str, to_email: str, rendered: Rendered,
                  cc: Iterable[tuple[str, str]] = (),
                  attachments: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """The message's bytes (From, To, Cc, Reply-To, Subject, text + HTML parts,
    then each (file name, PDF bytes) of `attachments` as an application/pdf part),
    built under the strict policy: a header value with CR/LF is refused, and so
    is an address that is not ASCII (pass recipient_address()'s result: the
    email package would mangle a Unicode domain). TemplateError per letter;
    HoithaoError when the config has no sending mailbox (no letter can go)."""
    mailbox = config.google.sender_mailbox
    if not mailbox:
        raise HoithaoError("google.sender_mailbox trong config.yaml đang trống: điền địa chỉ hộp "
                           "thư dùng để gửi thư.")
    cc = list(cc)
    if not all(a.isascii() for a in (to_email, *(a for _, a in cc))):
        raise TemplateError("địa chỉ email có ký tự ngoài ASCII: sửa địa chỉ (phần trước @ chỉ "
                            "dùng chữ không dấu) rồi chạy lại")
    msg = EmailMessage(policy=POLICY)
    try:
        msg["Subject"] = rendered.subject
        msg["From"] = Address(display_name=config.mail.sender_name, addr_spec=mailbox)
        msg["To"] = Address(display_name=to_name, addr_spec=to_email)
        if cc:
            msg["Cc"] = [Address(display_name=n, addr_spec=a) for n, a in cc]
        if config.mail.reply_to:
            msg["Reply-To"] = config.mail.reply_to
    except (ValueError, TypeError, IndexError) as exc:
        # The exception's text may quote the name or address: only its type is kept.
        raise TemplateError(f"không tạo được tiêu đề thư ({type(exc).__name__}): tên, tiêu đề hay "
                            f"địa chỉ có ký tự không được phép (xuống dòng, …)") from None
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    for name, data in attachments:   # the message becomes multipart/mixed around the two parts
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    raw = msg.as_bytes()
    garbled = misread(raw, to_name, rendered.subject)
    if garbled:
        raise TemplateError(f"{garbled} quá dài cho một dòng tiêu đề thư (chuẩn thư điện tử RFC 5322 "
                            f"giới hạn mỗi dòng {MAX_LINE} ký tự, và tên dài hơn thế bị cắt rời khi "
                            f"đọc): rút gọn ô đó trong bảng tính rồi chạy lại.")
    return raw


# RFC 5322, 2.1.1: no line of a message may be longer than 998 characters; the
# email package folds a longer header, and a display name folded so reads back
# with spaces inside its words.
MAX_LINE = 998


def misread(raw: bytes, to_name: str, subject: str) -> str | None:
    """What reads back other than it was written (a header too long to carry
    whole), as staff call it; None when the recipient's name and the subject
    read back exactly."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    lines = head.splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        return "Một dòng tiêu đề thư"
    if not any(line[:1] in (b" ", b"\t") for line in lines):
        return None   # no header had to be folded: each reads back as written
    parsed = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head)
    to = parsed["To"].addresses if parsed["To"] else ()
    if not to or to[0].display_name != to_name:
        return "Họ và tên người nhận"
    if str(parsed["Subject"] or "") != subject:
        return "Tiêu đề thư"
    return None


# -- `check` -------------------------------------------------------------

def sample_context(config: Config, name: str, today: dt.date) -> dict[str, Any]:
    """The documented context of template `name`, filled with sample values."""
    context = base_context(config, {"honorific": "Ông", "full_name": "Nguyễn Văn A",
                                    "position": "Giám đốc",
                                    "unit": "Sở Giáo dục và Đào tạo tỉnh Bà Rịa - Vũng Tàu",
                                    "email": "nguyen.va@example.com"}, today)
    samples = {"registration_link": "https://docs.google.com/forms/d/e/x/viewform?entry.1=KM001",
               "invitee_code": "KM001", "checkin_code": "HT24-7Q3K", "moved_up": True,
               "waiting": {"delegation": "Sở GDĐT Bình Dương", "place": 2, "place_words": "thứ hai",
                           "had_place": True},
               "alert": {"job": "send-outbox", "failures": 3, "run_id": "20241104-073000-ab12",
                         "started": "2024-11-04 07:30:00", "error": "Không kết nối được tới Google."},
               "items": [{"code": "TL01", "title": "Tên tham luận", "content": "Gửi tham luận",
                          "topic": config.event.topics[0], "report": False, "noun": "tham luận",
                          "due": vn_date(config.deadlines.papers), "days_left": 3,
                          "days_overdue": 0, "link": "https://docs.google.com/forms/d/e/y/viewform"},
                         {"code": "BC01", "title": "Tên báo cáo", "content": "Gửi báo cáo",
                          "topic": "", "report": True, "noun": "báo cáo",
                          "due": vn_date(config.deadlines.papers), "days_left": 0,
                          "days_overdue": 6, "link": "https://docs.google.com/forms/d/e/y/viewform"}],
               "head": "Lãnh đạo đơn vị", "head_phrase": "lãnh đạo đơn vị",
               "milestone": {"key": "M01", "content": "Gửi nội dung tham luận về Văn phòng Sở",
                             "due": vn_date(config.deadlines.papers)},
               "missing": [{"code": "TL04", "title": "Tên tham luận", "author": "Nguyễn Văn A",
                            "unit": "Trường Đại học Sài Gòn"}],
               "paper": {"code": "TL01", "title": "Tên tham luận", "topic": config.event.topics[0],
                         "accepted": True, "decided_on": vn_date(today), "noun": "tham luận",
                         "slot": "Phiên 2, 14 giờ 00 ngày 22/11/2024, Hội trường A",
                         "received_on": vn_date(today), "review_by": vn_date(config.deadlines.review),
                         "resubmit_by": vn_date(config.deadlines.papers), "again": False,
                         "links": ["https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view"]},
               "papers": [{"code": "TL01", "title": "Tên tham luận", "topic": config.event.topics[0],
                           "links": ["https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp/view"]}],
               "review_by": vn_date(config.deadlines.review), "days_left": 3,
               "letter": issued_context(config, Issue(number="125", symbol="GM-SGDĐT", date=today,
                                                      authority=["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"],
                                                      signer=config.event.signer.name,
                                                      recipients=["Như trên", "Lưu: VT, VP"]), today)}
    context.update({k: samples[k] for k in KINDS[name][1]})
    return context


def check_templates(config: Config, today: dt.date, template_dir: Path = TEMPLATE_DIR) -> list[str]:
    """Every mail template parsed, checked against its documented context and
    rendered with sample data; one problem line per fault (Vietnamese)."""
    env = environment(template_dir)
    problems: list[str] = []
    for name, (_, extra) in KINDS.items():
        allowed = set(COMMON) | set(extra)
        for part in PARTS:
            file = f"{name}.{part}"
            try:
                source = env.loader.get_source(env, file)[0]  # type: ignore[union-attr]
                unknown = meta.find_undeclared_variables(env.parse(source)) - allowed
            except jinja2.TemplateNotFound:
                problems.append(f"templates/mail/{file}: không có tệp mẫu này; thêm lại tệp (xem các "
                                f"mẫu khác trong templates/mail/).")
                continue
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"templates/mail/{file} dòng {exc.lineno}: sai cú pháp mẫu, sửa dòng đó "
                                f"(chi tiết: {exc.message})")
                continue
            if unknown:
                problems.append(f"templates/mail/{file}: chỗ điền không biết {', '.join(sorted(unknown))}; "
                                f"các chỗ điền được dùng: {', '.join(sorted(allowed))}")
        if not any(p.startswith(f"templates/mail/{name}.") for p in problems):
            try:
                render(name, sample_context(config, name, today), env)
            except TemplateError as exc:
                problems.append(f"templates/mail/{name}: {exc}")
    return problems
