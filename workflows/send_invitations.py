"""send-invitations: `Khách mời` -> the outbox (send-outbox sends).

read:   the tab (1 call), the registration form's link (1 call), the ledger
decide: who is invited (ticked `Gửi thư mời`, or --all not yet invited), which
        rows have a problem and why, each letter rendered (pure; a letter that
        cannot be made is that row's problem, never the whole run's); with
        mail.letter_template, each letter's PDF made from that Doc and
        attached (letter_pdf: 4 API calls a letter, paced)
write:  the ledger (queue; a second time is a no-op), then the mirror: `Vấn đề`
        and `Trạng thái thư mời` in one write, `Hộp thư đi` in one write
locks:  the job's own, and the tabs it writes (`Khách mời`, `Hộp thư đi`), for
        the whole run: it never overlaps with send-outbox
Also: --preview N prints N letters and changes nothing; --test-to ADDR sends
one sample letter to ADDR only and records nothing. --dry-run, --preview and
--test-to create no file (the ledger is only read, if it exists).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Collection

from workspace.config import Config
from workspace.docs import DocsAdapter
from workspace.errors import HoithaoError, TemplateError, UsageError
from workspace.forms import FormsAdapter
from workspace.gmail import GmailAdapter, SendRefused, SendUnclear
from workspace.outbox import NewMessage, message_key, open_ledger
from workspace.table import Record, Snapshot, is_error_value, ticked

from . import letter_pdf, letters
from .base import Change, Job, JobContext, JobResult
from .mail_mirror import mirror
from .normalise import clean_text
from .registrations import CONFIRMED, WAITLISTED

KIND = "thu-moi"
# The invitee's cells a letter prints, and what staff call them.
LETTER_FIELDS = (("honorific", "Danh xưng"), ("full_name", "Họ và tên"), ("position", "Chức vụ"),
                 ("unit", "Đơn vị"), ("email", "Email"))


@dataclass(frozen=True)
class Options:
    """What the command's flags set."""
    all_invitees: bool = False        # --all: everyone not yet invited
    preview: int = 0                  # --preview N: print N letters (a dry run)
    test_to: str | None = None        # --test-to ADDR: one sample to ADDR only

    def __post_init__(self) -> None:
        if self.preview < 0:
            raise UsageError("--preview cần một số không âm (số thư muốn xem trước).")
        if self.preview and self.test_to:
            raise UsageError("Chọn một trong hai: --preview (xem trước) hoặc --test-to (gửi thử).")


@dataclass
class Plan:
    letters: list[Record] = field(default_factory=list)        # who gets a letter now
    problems: dict[str, str] = field(default_factory=dict)     # key -> Vấn đề
    cleared: list[str] = field(default_factory=list)           # keys whose Vấn đề is now fine
    already: list[str] = field(default_factory=list)           # ticked but already in the outbox
    registered: list[str] = field(default_factory=list)        # skipped by --all: registered already


def row_problem(record: Record) -> str | None:
    """Why this invitee cannot be sent a letter, in Vietnamese, or None."""
    broken = [(label, record[f]) for f, label in LETTER_FIELDS if is_error_value(record[f])]
    if broken:
        cells = ", ".join(f"{label} ({value})" for label, value in broken)
        return (f"Ô {cells} đang hiện lỗi của công thức, không phải một giá trị: sửa công thức hoặc "
                f"gõ thẳng giá trị vào ô rồi chạy lại (thư mời không in một lỗi).")
    missing = [label for f, label in (("honorific", "Danh xưng (Ông/Bà)"), ("full_name", "Họ và tên"))
               if not clean_text(record[f])]
    if missing:
        return (f"Thiếu {' và '.join(missing)}: điền vào bảng rồi chạy lại (thư mời không tự "
                f"đoán danh xưng hay tên).")
    return letters.recipient_address(record["email"])[1]


def select(snap: Snapshot, everyone: bool, queued: set[str],
           registered: Collection[str] = ()) -> Plan:
    """Who gets a letter now: ticked rows, or with `everyone` all not yet invited
    and not already registered (a letter asking someone to register who has is
    an embarrassment; a ticked box is staff's explicit wish and is honoured) (pure)."""
    plan = Plan()
    for record in snap.records:
        wanted = ticked(record["send_invitation"])
        in_outbox = message_key(KIND, record.key) in queued
        if not (wanted or everyone):
            continue
        if not wanted and record.key in registered:
            plan.registered.append(record.key)
            continue
        if in_outbox:
            if wanted:
                plan.already.append(record.key)
            continue
        if record["invitation_status"] == "Đã gửi":
            continue  # the sheet says it went (an older ledger): never a second letter
        problem = row_problem(record)
        if problem:
            if record["problem"] != problem:
                plan.problems[record.key] = problem
            continue
        if record["problem"]:
            plan.cleared.append(record.key)
        plan.letters.append(record)
    return plan


def letter(config: Config, record: Record, link_base: str, today: dt.date) -> letters.Rendered:
    """The invitee's letter, issued `today` (pure); TemplateError when it cannot be rendered."""
    context = letters.base_context(config, record.values, today)
    context["invitee_code"] = record.key
    context["registration_link"] = letters.prefilled_link(link_base, record.key)
    return letters.render(KIND, context)


def compose(config: Config, record: Record, link_base: str, today: dt.date,
            attachments: Collection[tuple[str, bytes]] = ()) -> NewMessage:
    """The invitee's letter as a message to queue, with `attachments` (file
    name, PDF bytes) (pure); TemplateError, a Vietnamese sentence for `Vấn đề`,
    when this letter cannot be made."""
    address, problem = letters.recipient_address(record["email"])
    if problem:
        raise TemplateError(problem)
    rendered = letter(config, record, link_base, today)
    name = clean_text(record["full_name"])
    return NewMessage(key=message_key(KIND, record.key), kind=KIND, email=address,
                      subject=rendered.subject, recipient=name, source="invitees",
                      source_key=record.key,
                      raw=letters.build_message(config, name, address, rendered,
                                                attachments=attachments))


def compose_all(config: Config, plan: Plan, link_base: str, today: dt.date) -> list[NewMessage]:
    """Every planned letter; a row whose letter fails moves to plan.problems (pure)."""
    messages: list[NewMessage] = []
    for record in plan.letters:
        try:
            messages.append(compose(config, record, link_base, today))
        except TemplateError as exc:
            problem = f"Không tạo được thư mời: {exc}"
            if record["problem"] != problem:
                plan.problems[record.key] = problem
            if record.key in plan.cleared:
                plan.cleared.remove(record.key)
    return messages


def with_letters(ctx: JobContext, docs: DocsAdapter, plan: Plan, messages: list[NewMessage],
                 link_base: str, result: JobResult) -> list[NewMessage]:
    """Each message rebuilt with the invitee's PDF letter (`Giay-moi-KM001.pdf`)
    attached, made from mail.letter_template (4 API calls a letter, paced under
    the Docs write quota: see letter_pdf). A row whose PDF cannot be made moves
    to plan.problems and is not queued; the others go on."""
    config = ctx.config
    maker = letter_pdf.LetterMaker(docs, config.mail.letter_template.strip(),
                                   config.google.drive_folder_id, sleep=ctx.sleep, clock=ctx.clock)
    today = ctx.now().date()
    records = {r.key: r for r in plan.letters}
    out: list[NewMessage] = []
    for message in messages:
        record = records[message.source_key]
        values = {**record.values, "key": record.key,
                  "registration_link": letters.prefilled_link(link_base, record.key)}
        try:
            pdf = maker.make(record.key, values)
            out.append(compose(config, record, link_base, today,
                               [(letter_pdf.filename(record.key), pdf)]))
        except HoithaoError as exc:
            problem = (f"Không tạo được giấy mời PDF từ mẫu (mail.letter_template): {exc}. Kiểm tra "
                       f"mẫu bằng `python run.py check` rồi chạy lại send-invitations.")
            if record["problem"] != problem:
                plan.problems[record.key] = problem
            if record.key in plan.cleared:
                plan.cleared.remove(record.key)
    note = maker.leftover_note()
    if note:
        result.notes.append(note)
    return out


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    if opts.preview and not ctx.dry_run:
        raise ValueError("a preview is a dry run: build the context with dry_run=True")
    snap, registrations = ctx.spreadsheet.read("invitees", "registrations")
    registered = {r["invitee_code"] for r in registrations.records
                  if r["status"] in (CONFIRMED, WAITLISTED) and r["invitee_code"]}
    form = config.google.forms.registration
    link_base = FormsAdapter(ctx.ws).prefill_url(form.id, form.fields["invitee_code"])
    today = ctx.now().date()
    # Only a real run writes the ledger; the others read it (or nothing) and create no file.
    readonly = ctx.dry_run or bool(opts.test_to)
    with open_ledger(config, readonly=readonly) as ledger:
        queued = ledger.keys(KIND)
        plan = select(snap, opts.all_invitees, queued, registered)
        if (opts.preview or opts.test_to) and not plan.letters:
            plan = select(snap, True, queued, registered)  # nothing ticked: whoever is not yet invited
        if opts.preview:
            return _preview(ctx, plan, link_base, opts.preview, today)
        if opts.test_to:
            return _test_send(ctx, plan, link_base, opts.test_to, today)

        result = JobResult()
        messages = compose_all(config, plan, link_base, today)
        template_id = config.mail.letter_template.strip()
        if template_id and messages:
            docs = DocsAdapter(ctx.ws)
            letter_pdf.verify_template(docs, template_id)  # a bad template stops the run here
            if not ctx.dry_run:  # making a PDF copies a Doc: a dry run only says it would
                messages = with_letters(ctx, docs, plan, messages, link_base, result)
        result.plan = [Change(m.source_key, "xếp hàng thư mời",
                              "chờ duyệt" if config.mail.approval_required else "")
                       for m in messages]
        result.plan += [Change(key, "bỏ qua", problem) for key, problem in plan.problems.items()]
        result.figures = {"thư mời xếp hàng": len(messages), "bỏ qua vì có vấn đề": len(plan.problems),
                          "đã có trong hộp thư đi": len(plan.already),
                          "đã đăng ký, không mời lại": len(plan.registered)}
        if ctx.dry_run:
            return result
        added = ledger.queue(messages, awaiting_approval=config.mail.approval_required)
        result.figures["thư mời xếp hàng"] = added
        problems = {k: {"problem": v} for k, v in plan.problems.items()}
        problems.update({k: {"problem": ""} for k in plan.cleared})
        # This run holds the locks of Khách mời and Hộp thư đi (JOB.writes).
        note = mirror(ctx, ledger, extra={"invitees": problems})
        if note:
            result.notes.append(note)
        if added and ctx.trigger != "demo":
            result.notes.append(f"Chạy `python run.py --config {config.source} send-outbox` để gửi"
                                + (" (sau khi duyệt ở cột Duyệt của Hộp thư đi)."
                                   if config.mail.approval_required else "."))
        return result


def _preview(ctx: JobContext, plan: Plan, link_base: str, n: int, today: dt.date) -> JobResult:
    shown = 0
    for record in plan.letters:
        if shown == n:
            break
        try:
            rendered = letter(ctx.config, record, link_base, today)
        except TemplateError as exc:
            plan.problems[record.key] = f"Không tạo được thư mời: {exc}"
            continue
        ctx.console.rule(f"{record.key}: {rendered.subject}")
        ctx.console.print(f"Tới: {clean_text(record['email'])}")
        ctx.console.print(rendered.text)
        shown += 1
    return JobResult(figures={"thư xem trước": shown, "bỏ qua vì có vấn đề": len(plan.problems)},
                     plan=[Change(k, "bỏ qua", p) for k, p in plan.problems.items()])


def _test_send(ctx: JobContext, plan: Plan, link_base: str, address: str, today: dt.date) -> JobResult:
    to, problem = letters.recipient_address(address)
    if problem:
        raise UsageError(f"--test-to: {problem}")
    sample = None
    for record in plan.letters:
        try:
            rendered = letter(ctx.config, record, link_base, today)
        except TemplateError:
            continue
        sample = record, letters.Rendered(subject=f"[Thư thử] {rendered.subject}", text=rendered.text,
                                          html=rendered.html)
        break
    if sample is None:
        raise HoithaoError("--test-to: không có khách mời nào đủ thông tin để làm thư mẫu: sửa các "
                           "dòng có Vấn đề trong trang Khách mời rồi thử lại.")
    record, rendered = sample
    raw = letters.build_message(ctx.config, clean_text(record["full_name"]), to, rendered)
    if ctx.dry_run:
        return JobResult(plan=[Change(record.key, "gửi thư thử", "")], figures={"thư thử": 0})
    try:
        GmailAdapter(ctx.ws).send(raw)  # one sample, outside the outbox: nothing is recorded
    except (SendRefused, SendUnclear) as exc:
        raise HoithaoError(f"--test-to: Gmail chưa xác nhận đã nhận thư thử ({exc}); xem thư mục Thư "
                           f"đã gửi của hộp thư trước khi thử lại.") from None
    return JobResult(figures={"thư thử": 1},
                     notes=[f"Đã gửi 1 thư thử (mẫu của {record.key}) tới địa chỉ đã nhập."])


JOB = Job("send-invitations", Options, run, writes=("invitees", "outbox"),
          summary="Xếp hàng thư mời cho khách mời được đánh dấu Gửi thư mời (hoặc --all: mọi "
                  "người chưa được mời) vào Hộp thư đi.",
          doing="xếp hàng thư mời")
