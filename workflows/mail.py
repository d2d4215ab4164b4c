"""Letters: templates rendered into messages, pure and safe; and the
registration confirmations sync-registrations keeps in step with `Đăng ký`.

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
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from workspace import outbox
from workspace.config import Config
from workspace.errors import HoithaoError, TemplateError
from workspace.outbox import Ledger, NewMessage, message_key

from .check import TEMPLATE_CHECKS
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
    tail = " ".join(x for x in (words["position"], words["unit"]) if x)
    return f"{head}, {tail}" if tail else head


def person_context(person: Mapping[str, Any]) -> dict[str, str]:
    out = {f: clean_text(person.get(f) or "")
           for f in ("honorific", "full_name", "position", "unit", "email")}
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
        # The place-and-date line of an administrative document: where and when it is issued.
        "place": e.place, "issued_on": vn_day(dt.datetime.now(ZoneInfo(config.timezone)).date()),
    }


def base_context(config: Config, person: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": event_context(config), "sender": {"name": config.mail.sender_name},
            "recipient": person_context(person)}


def prefilled_link(base: str, invitee_code: str) -> str:
    """The invitee's own registration link (base from FormsAdapter.prefill_url)."""
    return base + quote(invitee_code, safe="")


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
        raise HoithaoError("google.sender_mailbox is empty in the config: set the address "
                           "letters are sent from")
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
    return msg.as_bytes()


def open_ledger(config: Config, clock: Callable[[], float] = time.time,
                readonly: bool = False) -> Ledger:
    """The outbox ledger the config names (mail.ledger, relative to the config
    file); `readonly` (dry runs) creates and changes no file."""
    domain = config.google.sender_mailbox.rpartition("@")[2] or "hoithao.local"
    return Ledger(config.resolve(config.mail.ledger), clock=clock, msgid_domain=domain,
                  readonly=readonly)


# -- registration confirmations (called by sync-registrations) ---------------------

CONFIRMATION = "xac-nhan"
# `Lỗi` of a confirmation cancelled because its person left `Đã xác nhận`; such a
# message (and only such) waits again when the person is confirmed again.
NOT_CONFIRMED = ("Huỷ tự động: người đăng ký không còn ở trạng thái Đã xác nhận nên thư xác "
                 "nhận chưa gửi được huỷ.")


@dataclass
class QueueResult:
    """What happened to the confirmations; `figures()` and `notes()` go into the
    calling job's result (keys only, never names or addresses)."""
    queued: int = 0
    already: int = 0
    requeued: int = 0
    cancelled: int = 0
    replaced: int = 0         # waiting letters made again for a corrected address or name
    skipped: dict[str, str] = field(default_factory=dict)   # response id -> Vietnamese problem
    unclear: list[str] = field(default_factory=list)        # letter `Không rõ`, address changed
    mirror_note: str | None = None

    def figures(self) -> dict[str, int]:
        out = {"thư xác nhận xếp hàng": self.queued + self.requeued}
        if self.replaced:
            out["thư xác nhận làm lại"] = self.replaced
        if self.cancelled:
            out["thư xác nhận huỷ"] = self.cancelled
        if self.skipped:
            out["thư xác nhận không tạo được"] = len(self.skipped)
        return out

    def notes(self) -> list[str]:
        notes = [f"Không tạo được thư xác nhận cho {key}: {problem}"
                 for key, problem in sorted(self.skipped.items())]
        notes += [f"Thư xác nhận của {key} đang ở trạng thái Không rõ (có thể đã gửi) tới địa chỉ cũ, "
                  f"nay người này đã sửa email: xử lý thư đó ở trang Hộp thư đi (send-outbox --resend "
                  f"hoặc --cancel), lần đồng bộ sau sẽ gửi thư tới địa chỉ mới nếu cần."
                  for key in sorted(self.unclear)]
        if self.mirror_note:
            notes.append(self.mirror_note)
        return notes


def confirmation(config: Config, person: Mapping[str, Any], step: int = 1) -> NewMessage:
    """One person's confirmation letter, ready to queue (pure); `step` 2, 3, …
    for a letter sent again to a corrected address. TemplateError (a Vietnamese
    sentence) when this person's letter cannot be made."""
    key = clean_text(person.get("key") or "")
    address, problem = recipient_address(person.get("email"))
    if problem:
        raise TemplateError(problem)
    code = clean_text(person.get("checkin_code") or "")
    if not code:
        raise TemplateError("Thiếu Mã check-in: không gửi được thư xác nhận.")
    context = base_context(config, person)
    context["checkin_code"] = code
    rendered = render(CONFIRMATION, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=message_key(CONFIRMATION, key, step), kind=CONFIRMATION, email=address,
                      subject=rendered.subject, raw=build_message(config, name, address, rendered),
                      recipient=name, source="registrations", source_key=key)


def _compose(config: Config, people: Iterable[tuple[Mapping[str, Any], int]]
             ) -> tuple[list[NewMessage], dict[str, str]]:
    """Letters for (person, step) pairs, and who could not get one and why."""
    messages: list[NewMessage] = []
    skipped: dict[str, str] = {}
    for person, step in people:
        try:
            messages.append(confirmation(config, person, step))
        except TemplateError as exc:  # this person's letter only: the others still go
            skipped[clean_text(person.get("key") or "")] = str(exc)
    return messages, skipped


def plan_confirmations(people: Iterable[Mapping[str, Any]], heads: Mapping[str, outbox.Head]
                       ) -> tuple[dict[str, list[tuple[Mapping[str, Any], int]]], list[str]]:
    """What each offered person's confirmation needs, from the ledger's heads
    (latest step per person) without rendering anything (pure):
    - `new`: no letter yet (step 1);
    - `back`: the letter was cancelled because they left `Đã xác nhận`;
    - `replace`: a waiting letter whose address or name is no longer theirs;
    - `again`: a sent or failed letter went to an address they have since
      corrected: a next step goes to the new one.
    The rest are settled (nothing rendered). Also the keys of people whose
    letter is `Không rõ` (maybe sent) to an old address: left to a person."""
    todo: dict[str, list[tuple[Mapping[str, Any], int]]] = {
        "new": [], "back": [], "replace": [], "again": []}
    unclear: list[str] = []
    for person in people:
        key = clean_text(person.get("key") or "")
        head = heads.get(key)
        if head is None:
            todo["new"].append((person, 1))
            continue
        if head.state == outbox.CANCELLED:
            if head.error == NOT_CONFIRMED:
                todo["back"].append((person, head.step))
            continue                       # cancelled by a person: theirs to undo
        address, problem = recipient_address(person.get("email"))
        moved = not problem and address != head.email
        if head.state in outbox.CANCELLABLE:
            if moved or clean_text(person.get("full_name") or "") != head.recipient:
                todo["replace"].append((person, head.step))
        elif moved and head.state in (outbox.SENT, outbox.FAILED):
            todo["again"].append((person, head.step + 1))
        elif moved and head.state == outbox.UNKNOWN:
            unclear.append(key)
    return todo, unclear


def queue_confirmations(ctx: Any, people: Iterable[Mapping[str, Any]]) -> QueueResult:
    """Queue one registration confirmation (with the check-in code) per person;
    nothing cancelled, nothing mirrored (send-outbox mirrors). The older seam:
    sync-registrations moves to sync_confirmations."""
    return _confirm(ctx, people, sync=False)


def sync_confirmations(ctx: Any, people: Iterable[Mapping[str, Any]]) -> QueueResult:
    """Make the outbox's confirmations match `people`, every confirmed person
    (dicts: key = the response id, honorific, full_name, position, unit, email,
    checkin_code): one confirmation queued per person (idempotent: offering a
    person again is a no-op unless their email or name changed: a waiting
    letter is then made again, a sent or failed one to an old address gets a
    next step to the new one, a `Không rõ` one is left to a person), and the waiting (`Chờ gửi`/`Chờ duyệt`)
    confirmations of anyone not in `people` cancelled (`Đã huỷ`); one cancelled
    that way waits again if the person comes back. A person whose letter cannot
    be made is skipped and named in the notes; the others go on. The change is
    mirrored to `Hộp thư đi`. With ctx.dry_run nothing is written, no file made."""
    return _confirm(ctx, people, sync=True)


def _confirm(ctx: Any, people: Iterable[Mapping[str, Any]], sync: bool) -> QueueResult:
    config: Config = ctx.config
    people = list(people)
    keys = {clean_text(p.get("key") or "") for p in people}
    waiting_approval = config.mail.approval_required
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        stale = [m for m in ledger.in_state(*outbox.CANCELLABLE)
                 if sync and m.kind == CONFIRMATION and m.source_key not in keys]
        # Render only what changed: every confirmed person is offered on every
        # sync, and rendering them all again cost seconds per thousand people;
        # the ledger's stored address and name say whose letter is out of date.
        todo, unclear = plan_confirmations(people, ledger.heads(CONFIRMATION))
        made = {step: _compose(config, todo[step]) for step in todo}
        skipped = {k: v for _, problems in made.values() for k, v in problems.items()}
        result = QueueResult(skipped=skipped, unclear=unclear)
        letters = {step: messages for step, (messages, _) in made.items()}
        if ctx.dry_run:
            result.queued = len(letters["new"]) + len(letters["again"])
            result.requeued = len(letters["back"])
            result.replaced = len(letters["replace"])
            result.cancelled = len(stale)
            return result
        result.queued = ledger.queue(letters["new"] + letters["again"],
                                     awaiting_approval=waiting_approval)
        result.requeued = sum(ledger.requeue(m, NOT_CONFIRMED, waiting_approval)
                              for m in letters["back"])
        # A letter the sender took meanwhile is not changed; the next sync sees
        # it sent to the old address and sends the next step.
        result.replaced = sum(ledger.replace(m, waiting_approval) for m in letters["replace"])
        result.cancelled = sum(ledger.cancel(m.key, NOT_CONFIRMED) for m in stale)
        result.already = len(people) - len(skipped) - result.queued - result.requeued
        if sync and (result.queued or result.requeued or result.replaced or result.cancelled):
            from .mail_mirror import mirror_if_free  # mail_mirror imports this module
            result.mirror_note = mirror_if_free(ctx, ledger)
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
