"""Letters: templates rendered into messages, pure and safe; and the seam that
queues registration confirmations.

Templates live in `templates/mail/<name>.subject.txt`, `<name>.txt` and
`<name>.html`. They run in Jinja2's sandbox with `StrictUndefined` (an unknown
placeholder is an error, never a blank) and the HTML part is autoescaped.
Values from sheets and forms are data: `{{ 7*7 }}` typed into a form prints
as typed. Headers are built by the `email` package under a strict policy, so
a CR/LF in a name cannot add a header.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import time
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from email_validator import EmailNotValidError, validate_email
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from workspace.config import Config
from workspace.errors import HoithaoError, TemplateError
from workspace.outbox import Ledger, NewMessage, message_key

from .check import TEMPLATE_CHECKS

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
    "thu-moi": ("Thư mời", ("registration_link", "invitee_code")),
    "xac-nhan": ("Xác nhận đăng ký", ("checkin_code",)),
    "nhac-truoc-han": ("Nhắc trước hạn", ("item", "days_left", "submission_link")),
    "nhac-qua-han": ("Nhắc quá hạn", ("item", "days_overdue", "submission_link")),
    "nhac-bao-cao": ("Nhắc hạn (báo cáo lãnh đạo)", ("item", "days_overdue", "submission_link",
                                                      "head")),
}
COMMON = ("event", "sender", "recipient")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# -- words and dates ----------------------------------------------------------

def clean(value: Any) -> str:
    """NFC, every run of whitespace (CR/LF and tabs included) one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", "" if value is None else str(value)).split())


def vn_date(day: dt.date) -> str:
    """`thứ Sáu, ngày 22 tháng 11 năm 2024` (Decree 30/2020: a day below 10 and the
    months 1 and 2 take a leading zero)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"{WEEKDAYS[day.weekday()]}, ngày {day.day:02d} tháng {month} năm {day.year}"


def vn_datetime(moment: dt.datetime) -> str:
    """`08 giờ 00, thứ Sáu, ngày 22 tháng 11 năm 2024`."""
    return f"{moment.hour:02d} giờ {moment.minute:02d}, {vn_date(moment.date())}"


def salutation(person: Mapping[str, Any]) -> str:
    """`Ông Nguyễn Văn A, Giám đốc Sở GDĐT Bà Rịa – Vũng Tàu`: honorific, name,
    title and unit exactly as in the data, nothing guessed."""
    head = " ".join(x for x in (clean(person.get("honorific")), clean(person.get("full_name"))) if x)
    tail = " ".join(x for x in (clean(person.get("position")), clean(person.get("unit"))) if x)
    return f"{head}, {tail}" if tail else head


def person_context(person: Mapping[str, Any]) -> dict[str, str]:
    out = {f: clean(person.get(f)) for f in ("honorific", "full_name", "position", "unit", "email")}
    out["salutation"] = salutation(person)
    return out


def event_context(config: Config) -> dict[str, Any]:
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
    }


def base_context(config: Config, person: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": event_context(config), "sender": {"name": config.mail.sender_name},
            "recipient": person_context(person)}


def prefilled_link(base: str, invitee_code: str) -> str:
    """The invitee's own registration link (base from FormsAdapter.prefill_url)."""
    return base + quote(invitee_code, safe="")


def email_problem(address: str) -> str | None:
    """A Vietnamese sentence when `address` cannot receive mail, else None."""
    if not address:
        return "Thiếu Email: nhập địa chỉ email rồi chạy lại."
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"Email không hợp lệ ({exc}): sửa lại địa chỉ rồi chạy lại."
    return None


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
    return Rendered(subject=clean(parts[0]), text=parts[1], html=parts[2])


def build_message(config: Config, to_name: str, to_email: str, rendered: Rendered,
                  cc: Iterable[tuple[str, str]] = ()) -> bytes:
    """The message's bytes (From, To, Cc, Reply-To, Subject, text + HTML parts),
    built under the strict policy: a header value with CR/LF is refused."""
    mailbox = config.google.sender_mailbox
    if not mailbox:
        raise HoithaoError("google.sender_mailbox is empty in the config: set the address "
                           "letters are sent from")
    msg = EmailMessage(policy=POLICY)
    try:
        msg["Subject"] = rendered.subject
        msg["From"] = Address(display_name=config.mail.sender_name, addr_spec=mailbox)
        msg["To"] = Address(display_name=to_name, addr_spec=to_email)
        cc = list(cc)
        if cc:
            msg["Cc"] = [Address(display_name=n, addr_spec=a) for n, a in cc]
        if config.mail.reply_to:
            msg["Reply-To"] = config.mail.reply_to
    except (ValueError, TypeError, IndexError) as exc:
        raise TemplateError(f"không tạo được tiêu đề thư ({exc}): tên, tiêu đề hay địa chỉ có "
                            f"ký tự không được phép (xuống dòng, …)") from None
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg.as_bytes()


def open_ledger(config: Config, clock: Callable[[], float] = time.time) -> Ledger:
    """The outbox ledger the config names (mail.ledger, relative to the config file)."""
    domain = config.google.sender_mailbox.rpartition("@")[2] or "hoithao.local"
    return Ledger(config.resolve(config.mail.ledger), clock=clock, msgid_domain=domain)


# -- the seam for sync-registrations ----------------------------------------------

@dataclass
class QueueResult:
    queued: int = 0
    already: int = 0
    skipped: dict[str, str] | None = None   # key -> Vietnamese problem


def queue_confirmations(ctx: Any, people: Iterable[Mapping[str, Any]]) -> QueueResult:
    """Queue one registration confirmation (with the check-in code) per person:
    dicts with key (the response id), honorific, full_name, position, unit, email,
    checkin_code. Idempotent: a person already queued is not queued again.
    Nothing is written with ctx.dry_run. send-outbox sends and mirrors them."""
    config: Config = ctx.config
    result = QueueResult(skipped={})
    messages: list[NewMessage] = []
    for person in people:
        key = clean(person.get("key"))
        address = clean(person.get("email")).lower()
        problem = email_problem(address)
        if not problem and not clean(person.get("checkin_code")):
            problem = "Thiếu Mã check-in: không gửi được thư xác nhận."
        if problem:
            result.skipped[key] = problem
            continue
        context = base_context(config, person)
        context["checkin_code"] = clean(person.get("checkin_code"))
        rendered = render("xac-nhan", context)
        raw = build_message(config, context["recipient"]["full_name"], address, rendered)
        messages.append(NewMessage(key=message_key("xac-nhan", key), kind="xac-nhan",
                                   email=address, subject=rendered.subject, raw=raw,
                                   recipient=context["recipient"]["full_name"],
                                   source="registrations", source_key=key))
    if ctx.dry_run:
        result.queued = len(messages)
        return result
    with open_ledger(config) as ledger:
        result.queued = ledger.queue(messages, awaiting_approval=config.mail.approval_required)
    result.already = len(messages) - result.queued
    return result


# -- `run.py check` -------------------------------------------------------------

def sample_context(config: Config, name: str) -> dict[str, Any]:
    """The documented context of template `name`, filled with sample values."""
    context = base_context(config, {"honorific": "Ông", "full_name": "Nguyễn Văn A",
                                    "position": "Giám đốc", "unit": "Sở GDĐT Bà Rịa – Vũng Tàu",
                                    "email": "nguyen.va@example.com"})
    samples = {"registration_link": "https://docs.google.com/forms/d/e/x/viewform?entry.1=KM001",
               "invitee_code": "KM001", "checkin_code": "HT24-7Q3K", "days_left": 3,
               "days_overdue": 2, "submission_link": "https://docs.google.com/forms/d/e/y/viewform",
               "item": {"code": "TL01", "title": "Tên tham luận", "content": "Gửi tham luận",
                        "due": vn_date(config.deadlines.papers)},
               "head": {"salutation": "Bà Trần Thị B, Hiệu trưởng Trường Đại học Sài Gòn",
                        "full_name": "Trần Thị B"}}
    context.update({k: samples[k] for k in KINDS[name][1]})
    return context


def check_templates(config: Config, template_dir: Path = TEMPLATE_DIR) -> list[str]:
    """Every mail template parsed, checked against its documented context and
    rendered with sample data; one problem line per fault."""
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
                problems.append(f"templates/mail/{file}: missing")
                continue
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"templates/mail/{file} line {exc.lineno}: {exc.message}")
                continue
            if unknown:
                problems.append(f"templates/mail/{file}: unknown placeholder(s) "
                                f"{', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
        if not any(p.startswith(f"templates/mail/{name}.") for p in problems):
            try:
                render(name, sample_context(config, name), env)
            except TemplateError as exc:
                problems.append(f"templates/mail/{name}: {exc}")
    return problems


TEMPLATE_CHECKS.append(check_templates)
