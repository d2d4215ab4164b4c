"""send-invitations: `Khách mời` -> the outbox (send-outbox sends).

read:   the tabs (`Khách mời`, `Đăng ký`, `Văn bản` when there is one: 2 calls), the
        registration form's link (1 call), the ledger
decide: who is invited (ticked `Gửi thư mời`, or --all not yet invited), which
        rows have a problem and why, each letter rendered (pure; a letter that
        cannot be made is that row's problem, never the whole run's); with
        mail.letter_template, each letter's PDF made from that Doc and
        attached (letter_pdf: 4 API calls a letter, paced)
write:  the ledger (queue; a second time is a no-op), then the mirror: `Vấn đề`
        and `Trạng thái thư mời` in one write, `Hộp thư đi` in one write
locks:  the job's own, and the tabs it writes (`Khách mời`, `Hộp thư đi`), for
        the whole run: it never overlaps with send-outbox
The letter's number, date, signer and recipients are what staff set in
`Văn bản` (row `giay-moi`), the same in the message and in the PDF; a letter
undated there, dated after the event, or sent after the event is said so.
Also: --preview N prints N letters and changes nothing (--preview-dir DIR
also writes each as HTML, and PDF with a letter template, to open); --test-to
ADDR sends one letter exactly as a guest gets it (PDF included) to ADDR only
and records nothing. --dry-run, --preview and --test-to create no ledger file
(the ledger is only read, if it exists).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

from workspace.config import Config
from workspace.doc_layout import Issue
from workspace.docs import DocsAdapter
from workspace.errors import HoithaoError, TemplateError, UsageError
from workspace.forms import FormsAdapter
from workspace.gmail import GmailAdapter, SendRefused, SendUnclear
from workspace.outbox import NewMessage, message_key, open_ledger
from workspace.private import make_private_dirs, write_new_private
from workspace.table import Record, Snapshot, is_error_value, ticked

from . import issuing, letter_pdf, letters
from .base import Change, Job, JobContext, JobResult
from .mail_mirror import mirror
from .normalise import clean_text
from .registrations import CONFIRMED, WAITLISTED, WITHDRAWN_NOTE

KIND = "thu-moi"
NOT_SENT = "Chưa gửi"
REGISTERED_FIRST = "Đã đăng ký"   # registered through the form before any letter went
# The invitee's cells a letter prints, and what staff call them.
LETTER_FIELDS = (("honorific", "Danh xưng"), ("full_name", "Họ và tên"), ("position", "Chức vụ"),
                 ("unit", "Đơn vị"), ("email", "Email"))


@dataclass(frozen=True)
class Options:
    """What the command's flags set."""
    all_invitees: bool = False        # --all: everyone not yet invited
    preview: int = 0                  # --preview N: print N letters (a dry run)
    test_to: str | None = None        # --test-to ADDR: one sample to ADDR only
    preview_dir: str | None = None    # --preview-dir DIR: also write them there (HTML, PDF)
    no_pacing: bool = False           # the demo: a sandbox has no Docs quota to protect

    def __post_init__(self) -> None:
        if self.preview < 0:
            raise UsageError("--preview cần một số không âm (số thư muốn xem trước).")
        if self.preview and self.test_to:
            raise UsageError("Chọn một trong hai: --preview (xem trước) hoặc --test-to (gửi thử).")
        if self.preview_dir is not None:
            if not self.preview:
                raise UsageError("--preview-dir đi cùng --preview N (số thư muốn ghi ra thư mục).")
            folder = Path(self.preview_dir).expanduser()
            try:
                taken = folder.exists() and (not folder.is_dir() or any(folder.iterdir()))
            except OSError as exc:
                raise UsageError(f"--preview-dir: không đọc được {folder} ({exc.strerror}).") from None
            if taken:
                raise UsageError(f"--preview-dir: {folder} đã có (là một tệp, hoặc thư mục không trống); "
                                 f"chọn một thư mục mới (công cụ không ghi đè tệp có sẵn).")


@dataclass
class Plan:
    letters: list[Record] = field(default_factory=list)        # who gets a letter now
    problems: dict[str, str] = field(default_factory=dict)     # key -> Vấn đề
    cleared: list[str] = field(default_factory=list)           # keys whose Vấn đề is now fine
    already: list[str] = field(default_factory=list)           # ticked but already in the outbox
    registered: list[str] = field(default_factory=list)        # skipped by --all: registered already
    # Registered before any letter: `Trạng thái thư mời` says `Đã đăng ký`, not `Chưa gửi`.
    came: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)              # `Đã đăng ký` no longer true


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
           registered: Collection[str] = (), withdrew: Collection[str] = ()) -> Plan:
    """Who gets a letter now: ticked rows, or with `everyone` all not yet invited
    and not already registered (a letter asking someone to register who has is
    an embarrassment; a ticked box is staff's explicit wish and is honoured) (pure)."""
    plan = Plan()
    for record in snap.records:
        wanted = ticked(record["send_invitation"])
        in_outbox = message_key(KIND, record.key) in queued
        if record.key in registered and not in_outbox and not wanted \
                and record["invitation_status"] in ("", NOT_SENT):
            plan.came.append(record.key)
        elif record.key not in registered and not in_outbox and record["invitation_status"] == REGISTERED_FIRST:
            plan.gone.append(record.key)    # no longer registered: the sheet says so
        if not (wanted or everyone):
            continue
        if not wanted and (record.key in registered or record.key in withdrew):
            plan.registered.append(record.key)   # --all never asks them to register (again)
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


def letter(config: Config, record: Record, link_base: str, today: dt.date,
           issued: Mapping[str, Any]) -> letters.Rendered:
    """The invitee's letter, as staff issue it (`issued`: letters.issued_context)
    (pure); TemplateError when it cannot be rendered."""
    context = letters.base_context(config, record.values, today)
    context["letter"] = issued
    context["invitee_code"] = record.key
    context["registration_link"] = letters.prefilled_link(link_base, record.key)
    return letters.render(KIND, context)


def compose(config: Config, record: Record, link_base: str, today: dt.date, issued: Mapping[str, Any],
            attachments: Collection[tuple[str, bytes]] = ()) -> NewMessage:
    """The invitee's letter as a message to queue, with `attachments` (file
    name, PDF bytes) (pure); TemplateError, a Vietnamese sentence for `Vấn đề`,
    when this letter cannot be made."""
    address, problem = letters.recipient_address(record["email"])
    if problem:
        raise TemplateError(problem)
    rendered = letter(config, record, link_base, today, issued)
    name = clean_text(record["full_name"])
    return NewMessage(key=message_key(KIND, record.key), kind=KIND, email=address,
                      subject=rendered.subject, recipient=name, source="invitees",
                      source_key=record.key,
                      raw=letters.build_message(config, name, address, rendered,
                                                attachments=attachments))


def compose_all(config: Config, plan: Plan, link_base: str, today: dt.date,
                issued: Mapping[str, Any]) -> list[NewMessage]:
    """Every planned letter; a row whose letter fails moves to plan.problems (pure)."""
    messages: list[NewMessage] = []
    for record in plan.letters:
        try:
            messages.append(compose(config, record, link_base, today, issued))
        except TemplateError as exc:
            problem = f"Không tạo được thư mời: {exc}"
            if record["problem"] != problem:
                plan.problems[record.key] = problem
            if record.key in plan.cleared:
                plan.cleared.remove(record.key)
    return messages


def letter_values(config: Config, record: Record, link_base: str, issued: Mapping[str, Any]
                  ) -> dict[str, str]:
    """What the letter template's placeholders print for this invitee (pure)."""
    return {**record.values, "key": record.key, "salutation": letters.salutation(record.values),
            "registration_link": letters.prefilled_link(link_base, record.key),
            # Blank, the number keeps its room to be written by hand.
            "number": str(issued["number"]).removeprefix("Số: "),
            "issued_on": issued["date"], "signer": issued["signer"],
            "authority": "\n".join(issued["authority"]), "recipients": "\n".join(issued["recipients"])}


def letter_title(record: Record) -> str:
    """The PDF's title (the name of the Doc it is exported from)."""
    return f"{issuing.LETTER_NAME} - {record.key}"


def maker(ctx: JobContext, docs: DocsAdapter, paced: bool = True) -> letter_pdf.LetterMaker:
    config = ctx.config
    return letter_pdf.LetterMaker(docs, config.mail.letter_template.strip(), config.google.drive_folder_id,
                                  sleep=ctx.sleep, clock=ctx.clock,
                                  per_minute=letter_pdf.DOCS_WRITES_PER_MINUTE if paced else 0)


def with_letters(ctx: JobContext, docs: DocsAdapter, plan: Plan, messages: list[NewMessage],
                 link_base: str, issued: Mapping[str, Any], result: JobResult,
                 paced: bool = True) -> list[NewMessage]:
    """Each message rebuilt with the invitee's PDF letter (`Giay-moi-KM001.pdf`)
    attached, made from mail.letter_template (4 API calls a letter, paced under
    the Docs write quota: see letter_pdf). A row whose PDF cannot be made moves
    to plan.problems and is not queued; the others go on."""
    config = ctx.config
    pdfs = maker(ctx, docs, paced)
    today = ctx.now().date()
    records = {r.key: r for r in plan.letters}
    out: list[NewMessage] = []
    for message in messages:
        if ctx.stop():   # the letters made so far are queued; the rest on the next run
            result.stopped = True
            result.notes.append(f"Đã dừng theo yêu cầu: {len(out)} thư mời có giấy mời được xếp hàng, "
                                f"những người còn lại được mời ở lần chạy sau.")
            break
        record = records[message.source_key]
        try:
            pdf = pdfs.make(letter_title(record), letter_values(config, record, link_base, issued))
            out.append(compose(config, record, link_base, today, issued,
                               [(letter_pdf.filename(record.key), pdf)]))
        except HoithaoError as exc:
            problem = (f"Không tạo được giấy mời PDF từ mẫu (mail.letter_template): {exc}. Kiểm tra "
                       f"mẫu bằng `python run.py check` rồi chạy lại send-invitations.")
            if record["problem"] != problem:
                plan.problems[record.key] = problem
            if record.key in plan.cleared:
                plan.cleared.remove(record.key)
    note = pdfs.leftover_note()
    if note:
        result.notes.append(note)
    return out


def letter_notes(config: Config, issue: Issue, today: dt.date, problems: list[str]) -> list[str]:
    """What is worth a look about the letter before it goes out (Vietnamese);
    `problems`: the row's cells that cannot be used, said first."""
    where = f"trang '{config.sheets.documents.tab}', dòng Mã văn bản {issuing.LETTER}"
    notes = list(problems)
    if issue.date is None:
        if not any(issuing.LABELS["issued_on"] in p for p in problems):
            notes.append(f"Giấy mời chưa có Ngày ban hành ({where}): thư ghi ngày chạy lệnh, "
                         f"{today:%d/%m/%Y}.")
    else:
        notes += issuing.date_warnings(config, {"key": issuing.LETTER, "name": "Giấy mời",
                                                "issued_on": issue.date.isoformat()})
    if not issue.number:
        notes.append(f"Giấy mời chưa có Số ({where}): thư để trống chỗ ghi số.")
    past = issuing.past_event(config, today)
    if past:
        notes.append(past)
    return notes


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    if opts.preview and not ctx.dry_run:
        raise ValueError("a preview is a dry run: build the context with dry_run=True")
    # `Văn bản` (optional) holds the letter's number and date as staff issue it.
    with_documents = config.sheets.documents.tab in ctx.spreadsheet.tab_titles()
    snap, registrations, *documents = ctx.spreadsheet.read(
        "invitees", "registrations", *(["documents"] if with_documents else []))
    row = next(({**r.values, "key": r.key} for d in documents for r in d.records
                if r.key == issuing.LETTER), None)
    today = ctx.now().date()
    issue, cell_problems = issuing.letter_issue(config, row)
    if cell_problems and not (ctx.dry_run or opts.test_to):
        # Queued once, a letter is never made again: no letter from a broken cell.
        raise HoithaoError(" ".join(cell_problems) + " Chưa xếp hàng thư mời nào; sửa rồi chạy lại.")
    issued = letters.issued_context(config, issue, today)
    registered = {r["invitee_code"] for r in registrations.records
                  if r["status"] in (CONFIRMED, WAITLISTED) and r["invitee_code"]}
    withdrew = {r["invitee_code"] for r in registrations.records
                if not r["status"] and r["invitee_code"] and r["problem"].startswith(WITHDRAWN_NOTE[:40])}
    form = config.google.forms.registration
    link_base = FormsAdapter(ctx.ws).prefill_url(form.id, form.fields["invitee_code"])
    # Only a real run writes the ledger; the others read it (or nothing) and create no file.
    readonly = ctx.dry_run or bool(opts.test_to)
    with open_ledger(config, readonly=readonly) as ledger:
        queued = ledger.keys(KIND)
        plan = select(snap, opts.all_invitees, queued, registered, withdrew)
        if (opts.preview or opts.test_to) and not plan.letters:
            plan = select(snap, True, queued, registered, withdrew)  # nothing ticked: whoever is not yet invited
        if opts.preview:
            result = _preview(ctx, plan, link_base, opts, today, issued)
        elif opts.test_to:
            result = _test_send(ctx, plan, link_base, opts.test_to, today, issued)
        else:
            result = _queue(ctx, opts, ledger, plan, link_base, today, issued)
    result.notes[:0] = letter_notes(config, issue, today, cell_problems)
    return result


def _queue(ctx: JobContext, opts: Options, ledger: Any, plan: Plan, link_base: str, today: dt.date,
           issued: Mapping[str, Any]) -> JobResult:
    config = ctx.config
    result = JobResult()
    messages = compose_all(config, plan, link_base, today, issued)
    template_id = config.mail.letter_template.strip()
    if template_id and messages:
        docs = DocsAdapter(ctx.ws)
        letter_pdf.verify_template(docs, template_id)  # a bad template stops the run here
        if not ctx.dry_run:  # making a PDF copies a Doc: a dry run only says it would
            messages = with_letters(ctx, docs, plan, messages, link_base, issued, result,
                                    paced=not opts.no_pacing)
    result.plan = [Change(m.source_key, "xếp hàng thư mời",
                          "chờ duyệt" if config.mail.approval_required else "")
                   for m in messages]
    result.plan += [Change(key, "bỏ qua", problem) for key, problem in plan.problems.items()]
    result.figures = {"thư mời xếp hàng": len(messages), "bỏ qua vì có vấn đề": len(plan.problems),
                      "đã có trong hộp thư đi": len(plan.already),
                      "đã đăng ký, không mời lại": len(plan.registered)}
    if plan.came:
        result.figures["ghi 'Đã đăng ký' (đăng ký trước khi được mời)"] = len(plan.came)
    if ctx.dry_run:
        return result
    added = ledger.queue(messages, awaiting_approval=config.mail.approval_required)
    result.figures["thư mời xếp hàng"] = added
    problems = {k: {"problem": v} for k, v in plan.problems.items()}
    problems.update({k: {"problem": ""} for k in plan.cleared})
    for key in plan.came:
        problems.setdefault(key, {})["invitation_status"] = REGISTERED_FIRST
    for key in plan.gone:
        if message_key(KIND, key) not in {m.key for m in messages}:
            problems.setdefault(key, {})["invitation_status"] = NOT_SENT
    # This run holds the locks of Khách mời and Hộp thư đi (JOB.writes).
    note = mirror(ctx, ledger, extra={"invitees": problems})
    if note:
        result.notes.append(note)
    if added and ctx.trigger != "demo":
        result.notes.append(f"Chạy `python run.py --config {config.source} send-outbox` để gửi"
                            + (" (sau khi duyệt ở cột Duyệt của Hộp thư đi)."
                               if config.mail.approval_required else "."))
    return result


def _sample(ctx: JobContext, plan: Plan, link_base: str, today: dt.date, issued: Mapping[str, Any],
            n: int) -> list[tuple[Record, letters.Rendered]]:
    """Up to n rendered letters; a row whose letter fails becomes a problem."""
    out: list[tuple[Record, letters.Rendered]] = []
    for record in plan.letters:
        if len(out) == n:
            break
        try:
            out.append((record, letter(ctx.config, record, link_base, today, issued)))
        except TemplateError as exc:
            plan.problems[record.key] = f"Không tạo được thư mời: {exc}"
    return out


def _pdf_maker(ctx: JobContext) -> letter_pdf.LetterMaker | None:
    """What makes letters' PDFs as the real run does, the template checked
    once (None without a template); paced like the real run."""
    template_id = ctx.config.mail.letter_template.strip()
    if not template_id:
        return None
    docs = DocsAdapter(ctx.ws)
    letter_pdf.verify_template(docs, template_id)
    return maker(ctx, docs)


def _preview(ctx: JobContext, plan: Plan, link_base: str, opts: Options, today: dt.date,
             issued: Mapping[str, Any]) -> JobResult:
    """N letters printed; with --preview-dir, each written there as HTML (and
    PDF when a letter template is set: a temporary copy of the template in
    Drive, deleted at once, as for the real letter) to open."""
    samples = _sample(ctx, plan, link_base, today, issued, opts.preview)
    folder = Path(opts.preview_dir).expanduser().resolve() if opts.preview_dir else None
    pdfs = _pdf_maker(ctx) if folder is not None else None
    files = 0
    if folder is not None:
        try:
            make_private_dirs(folder)   # the letters hold names and addresses
        except OSError as exc:
            raise UsageError(f"--preview-dir: không tạo được thư mục {folder} ({exc.strerror}).") from None
    for record, rendered in samples:
        ctx.console.rule(f"{record.key}: {rendered.subject}")
        ctx.console.print(f"Tới: {clean_text(record['email'])}")
        ctx.console.print(rendered.text)
        if folder is None:
            continue
        stem = letter_pdf.filename(record.key)[:-4]
        try:
            write_new_private(folder / f"{stem}.html", rendered.html.encode("utf-8"))
            files += 1
            if pdfs is not None:
                pdf = pdfs.make(letter_title(record), letter_values(ctx.config, record, link_base, issued))
                write_new_private(folder / f"{stem}.pdf", pdf)
                files += 1
        except OSError as exc:
            raise UsageError(f"--preview-dir: không ghi được vào {folder} ({exc.strerror}); chọn "
                             f"một thư mục mới.") from None
    result = JobResult(figures={"thư xem trước": len(samples), "bỏ qua vì có vấn đề": len(plan.problems)},
                       plan=[Change(k, "bỏ qua", p) for k, p in plan.problems.items()])
    if folder is not None:
        result.figures["tệp đã ghi"] = files
        kinds = "HTML và PDF" if ctx.config.mail.letter_template.strip() else "HTML"
        result.notes.append(f"Đã ghi {files} tệp ({kinds}) vào {folder}: mở tệp .html bằng trình "
                            f"duyệt để xem thư như người nhận.")
        note = pdfs.leftover_note() if pdfs is not None else None
        if note:
            result.notes.append(note)
    return result


def _test_send(ctx: JobContext, plan: Plan, link_base: str, address: str, today: dt.date,
               issued: Mapping[str, Any]) -> JobResult:
    """One letter, exactly as a guest gets it (PDF included), addressed to the
    tester's address and name; nothing recorded."""
    parsed = letters.split_address(address)
    to, problem = letters.recipient_address(parsed[1]) if parsed else ("", "")
    if parsed is None or problem or not to:
        raise UsageError("--test-to: ghi đúng một địa chỉ email, ví dụ hanguyen@hcm.edu.vn hoặc "
                         "'Nguyễn Hà Nguyên <hanguyen@hcm.edu.vn>'" + (f" ({problem})." if problem else "."))
    tester = parsed[0]
    samples = _sample(ctx, plan, link_base, today, issued, 1)
    if not samples:
        raise HoithaoError("--test-to: không có khách mời nào đủ thông tin để làm thư mẫu: sửa các "
                           "dòng có Vấn đề trong trang Khách mời rồi thử lại.")
    record, rendered = samples[0]
    rendered = letters.Rendered(subject=f"[Thư thử] {rendered.subject}", text=rendered.text,
                                html=rendered.html)
    if ctx.dry_run:
        return JobResult(plan=[Change(record.key, "gửi thư thử", "")], figures={"thư thử": 0})
    pdfs = _pdf_maker(ctx)
    attachments = [] if pdfs is None else [(letter_pdf.filename(record.key), pdfs.make(
        letter_title(record), letter_values(ctx.config, record, link_base, issued)))]
    raw = letters.build_message(ctx.config, tester, to, rendered, attachments=attachments)
    try:
        GmailAdapter(ctx.ws).send(raw)  # one sample, outside the outbox: nothing is recorded
    except (SendRefused, SendUnclear) as exc:
        raise HoithaoError(f"--test-to: Gmail chưa xác nhận đã nhận thư thử ({exc}); xem thư mục Thư "
                           f"đã gửi của hộp thư trước khi thử lại.") from None
    notes = [f"Đã gửi 1 thư thử (mẫu của {record.key}" + (", kèm giấy mời PDF" if attachments else "")
             + ") tới địa chỉ đã nhập."]
    leftover = pdfs.leftover_note() if pdfs is not None else None
    return JobResult(figures={"thư thử": 1}, notes=notes + ([leftover] if leftover else []))


JOB = Job("send-invitations", Options, run, writes=("invitees", "outbox"),
          summary="Xếp hàng thư mời cho khách mời được đánh dấu Gửi thư mời (hoặc --all: mọi "
                  "người chưa được mời) vào Hộp thư đi.",
          doing="xếp hàng thư mời")
