"""chase-submissions: papers arriving through the paper form -> `Tham luận`,
and a receipt for each through the outbox (SPEC 3.4, issue 10); then the
reminders before, on and after each deadline (workflows.reminders, policy in
workflows.chase_policy).

read:   the paper form's questions and every response (paginated); `Tham
        luận` in one request
decide: workflows.submissions (pure): which row each response belongs to
        (pre-filled code, else the row made for it before, else email), the
        file link and its history, `Đã nộp`, `Ngày nộp`, `Vấn đề`, new rows
        for people not on the list, one receipt per submission
write:  changed cells of the job's own columns (Trạng thái, Ngày nộp, Tệp,
        Các lần nộp trước, Vấn đề) + new rows (workspace.table: re-read,
        write, verify, one append); staff columns are never written
queue:  a receipt (`nhan-tham-luan`, Vietnamese) for every submission whose
        ledger key `nhan-tham-luan:<response id>-<lastSubmittedTime>:1` is not
        in the ledger yet: an edited or new submission gets its own, a rerun
        none; mirrored to `Hộp thư đi` (the job holds that tab's lock)
locks:  the job's own, `Tham luận` and `Hộp thư đi` (Job.writes)

`--today YYYY-MM-DD` (default: today in the event's time zone) is the date
the receipts are issued on, and the day the reminders will plan for.
`--dry-run` prints codes and counts only, never names or addresses.
The number of API calls does not depend on the number of responses or rows
(beyond Forms' pages of 5,000).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from workspace.config import Config
from workspace.errors import HoithaoError, TemplateError, UsageError
from workspace.forms import FormsAdapter
from workspace import outbox
from workspace.outbox import LABELS, NewMessage, message_key, open_ledger
from workspace.sharing import share_as_readers

from . import decisions, reminders, reviews, writings as writings_tabs
from .base import Change, Job, JobContext, JobResult
from .chase_input import PAPERS, REPORTS, fold, parse_date, read_milestones
from .letters import base_context, build_message, recipient_address, render, vn_date
from .mail_mirror import mirror_if_free
from .submissions import OWNED, RECEIPT, SUBMITTED, Outcome, Receipt, decide
from .sync_registrations import sheet_notes



@dataclass(frozen=True)
class Options:
    """`--today`: the day the run acts as (rehearsals and tests); None is today
    in the event's time zone."""
    today: dt.date | None = None

    def __post_init__(self) -> None:
        if self.today is not None and not isinstance(self.today, dt.date):
            raise UsageError("--today cần một ngày dạng YYYY-MM-DD, ví dụ 2024-10-20.")


def parse_today(text: str | None) -> dt.date | None:
    """`--today` as typed on the command line; UsageError (exit 2) when it is no date."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--today cần một ngày dạng YYYY-MM-DD, ví dụ 2024-10-20 (đã nhận «{text[:20]}»)."
                         ) from None


def recorded_submissions(config: Config) -> set[str]:
    """Submissions recorded before: those whose receipt the ledger holds."""
    if not config.resolve(config.mail.ledger).exists():
        return set()
    with open_ledger(config, readonly=True) as ledger:
        return {key.partition(":")[2].rpartition(":")[0] for key in ledger.keys(RECEIPT)}


def receipt_key(r: Receipt) -> str:
    """One receipt per submission: the response and the version Forms gives it."""
    return message_key(RECEIPT, f"{r.response_id}-{r.version}")


@dataclass(frozen=True)
class Dates:
    """The deadlines as `Mốc thời gian` says now (staff may have moved them)."""
    papers: dt.date
    review: dt.date
    reports: dt.date


def deadlines(config: Config, milestones: list[dict]) -> Dates:
    """The papers', the divisions' reports' and the review council's deadlines
    from `Mốc thời gian`, config's `deadlines` where it says none."""
    found, _ = read_milestones(milestones, config.sheets.milestones.tab)

    def due(applies_to: str, default: dt.date) -> dt.date:
        milestone = found.get(fold(applies_to))
        return milestone.due if milestone and milestone.due else default
    return Dates(due(PAPERS, config.deadlines.papers), due(reviews.REVIEW, config.deadlines.review),
                 due(REPORTS, config.deadlines.division_reports))


def receipt(config: Config, r: Receipt, today: dt.date, dates: Dates | None = None) -> NewMessage:
    """One submission's receipt, ready to queue (pure); TemplateError (a
    Vietnamese sentence) when it cannot be made."""
    address, problem = recipient_address(r.email)
    if problem:
        raise TemplateError(problem)
    context = base_context(config, {"honorific": r.honorific, "full_name": r.author,
                                    "position": r.position, "unit": r.unit, "email": address}, today)
    received = dt.date.fromisoformat(r.day)
    dates = dates or Dates(config.deadlines.papers, config.deadlines.review,
                           config.deadlines.division_reports)
    review = dates.review
    due = _date(r.due) or (dates.reports if r.report else dates.papers)
    # A date already past when the paper came is left out of the letter.
    context["paper"] = {"code": r.code, "title": r.title, "topic": r.topic,
                        "noun": "báo cáo" if r.report else "tham luận",
                        "received_on": vn_date(received),
                        "review_by": vn_date(review) if received <= review else "",
                        "resubmit_by": vn_date(due) if received <= due else "", "again": r.again}
    rendered = render(RECEIPT, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=receipt_key(r), kind=RECEIPT, email=address, subject=rendered.subject,
                      raw=build_message(config, name, address, rendered), recipient=name,
                      source="papers", source_key=r.code)


def _date(value: object) -> dt.date | None:
    """A `Hạn nộp` the tool can read, else None."""
    try:
        return parse_date(value)
    except ValueError:
        return None


def plan_changes(outcome: Outcome, labels: dict[str, str]) -> list[Change]:
    """The plan: codes, statuses and column labels, never personal data."""
    plan: list[Change] = []
    new = set(outcome.newly_submitted)
    again = set(outcome.resubmitted)
    for row in outcome.inserts:
        plan.append(Change(row["key"], "thêm dòng mới (không khớp danh sách)",
                           f"{labels['status']}: {row['status']}; {labels['problem']}: cần Ban Tổ "
                           f"chức xác nhận"))
    for key, diff in outcome.updates.items():
        if key in new:
            plan.append(Change(key, "đã nộp", f"{labels['status']} → {SUBMITTED}; "
                                             f"{labels['submitted_at']}, {labels['file']}"))
        elif key in again:
            plan.append(Change(key, "nộp lại", f"{labels['file']} mới; tệp cũ ghi vào "
                                              f"{labels['file_history']}"))
        else:
            plan.append(Change(key, "cập nhật", ", ".join(labels[f] for f in OWNED if f in diff)))
    return plan


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    if opts.today is not None and not ctx.dry_run and config.google.backend != "sandbox":
        # On live data a rehearsed day would send real letters and mark real steps done.
        raise UsageError("--today chỉ dùng để tập dượt: trên sandbox, hoặc kèm --dry-run với dữ liệu "
                         "thật.")
    today = opts.today or ctx.now().date()
    form = config.google.forms.paper
    if not form.id:
        raise HoithaoError("google.forms.paper.id trong config.yaml đang trống: điền mã biểu mẫu gửi "
                           "tham luận (trong đường dẫn /forms/d/<mã>/edit).")
    responses = FormsAdapter(ctx.ws).responses(form.id, form.fields)
    tabs, (milestones,) = writings_tabs.read(ctx, "milestones")
    dates = deadlines(config, [{**m.values, "key": m.key} for m in milestones.records])
    table = config.sheets.papers
    labels = {**table.columns, "tab": table.tab}
    outcome = decide(responses, tabs.rows(), config.event.topics, config.timezone, labels,
                     reports=tabs.report_keys, recorded=recorded_submissions(config))

    plan = plan_changes(outcome, labels)
    notes, duplicates, blanks = sheet_notes(tabs.snapshots, {
        name: {"tab": config.sheets.table(name).tab, "key": config.sheets.table(name).columns["key"]}
        for name in tabs.snapshots})
    notes += tabs.notes(config.sheets.reports.tab, table.tab)
    result = JobResult(plan=plan, notes=notes, figures={
        "phản hồi": len(responses),
        "tham luận mới nộp": sum(1 for k in outcome.newly_submitted if k not in tabs.report_keys),
        "nộp lại": len(outcome.resubmitted), "không khớp danh sách": len(outcome.unmatched),
        "dòng cập nhật": len(outcome.updates), "dòng có vấn đề": len(outcome.problems),
        "dòng trùng mã bị bỏ qua": duplicates, "dòng thiếu mã bị bỏ qua": blanks})
    if tabs.has_reports:
        result.figures["báo cáo mới nộp"] = sum(1 for k in outcome.newly_submitted if k in tabs.report_keys)
    if not ctx.dry_run and (outcome.updates or outcome.inserts):
        split = tabs.split(outcome.updates)
        # A submission matching no row is a paper: new rows go to Tham luận.
        missing = ctx.table("papers").write(split.get("papers", {}), outcome.inserts,
                                            owned=OWNED).missing_keys
        missing += writings_tabs.write(ctx, tabs, split.get("reports", {}), OWNED)
        if missing:
            result.notes.append(f"{len(missing)} dòng đã bị xoá trong lúc chạy "
                                f"({', '.join(missing[:10])}); lần chạy sau sẽ ghi lại.")
    _queue_receipts(ctx, outcome.receipts, today, result, dates)
    papers, steps = _chase(ctx, today, result, outcome, tabs.has_reports)
    _reviews(ctx, today, result, papers, steps)
    _decisions(ctx, today, result, papers)
    return result


def _reviews(ctx: JobContext, today: dt.date, result: JobResult, rows: list[dict],
             steps: list[dict]) -> None:
    """The review step (workflows.reviews): each arrived paper's file shared
    with the reviewers in `Người phản biện` (Drive reader, in batch requests),
    then one review request each through the outbox, and reminders before the
    council's deadline. Only a file that was shared is asked to be reviewed;
    what could not be shared is said in the row's `Vấn đề`. `rows`: `Tham
    luận` as the reminders step read it (that step writes no status)."""
    config = ctx.config
    by_code = {r["key"]: r for r in rows}
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        requests = [m for m in ledger.in_state(*LABELS) if m.kind == reviews.REQUEST]
        live = {m.key for m in requests if m.state not in (outbox.CANCELLED, outbox.FAILED)}
        out = reviews.assign(rows, {m.key for m in requests}, live)
        _, due, _ = reviews.review_milestone(config, steps)
        grants = [(f, a.reviewer.email) for a in out.assignments for f in a.files]
        shared = {g: None for g in grants} if ctx.dry_run or not grants else \
            share_as_readers(ctx.ws, grants)
        messages: list[NewMessage] = []
        in_review = {a.code for a in out.requested}
        problems = dict(out.problems)
        unshared: dict[str, list[str]] = {}
        for a in out.assignments:
            errors = sorted({e for e in (shared.get((f, a.reviewer.email)) for f in a.files) if e})
            if errors:
                unshared.setdefault(a.code, []).append(a.reviewer.name or a.reviewer.email)
                continue
            try:
                messages.append(reviews.request_message(config, a, by_code[a.code], due, today))
            except TemplateError as exc:
                result.notes.append(f"Không tạo được đề nghị thẩm định cho {a.code}: {exc}")
                continue
            in_review.add(a.code)
            result.plan.append(Change(a.code, "chia sẻ tệp và xếp hàng đề nghị thẩm định", ""))
        for code, names in unshared.items():
            problems[code] = " ".join(x for x in (problems.get(code), (
                f"chưa chia sẻ được tệp trong ô Tệp cho {', '.join(names)} nên chưa gửi đề nghị thẩm "
                f"định: kiểm tra tệp còn trên Drive và thư mục nhận tệp của biểu mẫu đã chia sẻ với tài "
                f"khoản của công cụ (quyền Người chỉnh sửa); lần chạy sau thử lại.")) if x)
        reminder_msgs, skipped = reviews.reminders(config, out.requested, by_code, steps,
                                                   reviews.done_steps(ledger.in_state(*LABELS)),
                                                   today)
        for m in reminder_msgs:
            result.plan.append(Change(m.source_key, "nhắc người phản biện trước hạn thẩm định", ""))
        cells = reviews.row_cells(rows, problems, in_review)
        for code, change in cells.items():
            if "status" in change:
                result.plan.append(Change(code, "đang thẩm định", f"Trạng thái → {reviews.IN_REVIEW}"))
        if not ctx.dry_run:
            if cells:
                ctx.table("papers").write(cells, owned=("status", "problem"))
            ledger.queue(messages + reminder_msgs, awaiting_approval=config.mail.approval_required)
            if ledger.has_unmirrored():
                note = mirror_if_free(ctx, ledger)
                if note:
                    result.notes.append(note)
    result.figures["đề nghị thẩm định xếp hàng"] = len(messages)
    result.figures["thư nhắc người phản biện"] = len(reminder_msgs)
    if len(problems):
        result.figures["tham luận chưa gửi được người phản biện"] = len(problems)
    result.notes += [f"Không tạo được thư nhắc người phản biện ({code}): {why}"
                     for code, why in sorted(skipped.items())]


def _decisions(ctx: JobContext, today: dt.date, result: JobResult, rows: list[dict]) -> None:
    """The decisions step (workflows.decisions): `Kết luận` -> `Trạng thái` and a
    decision letter per author, waiting for staff's `Duyệt` in `Hộp thư đi`.
    `rows`: `Tham luận` as the reminders step read it (that step writes no status)."""
    config = ctx.config
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        keys = ledger.keys(decisions.LETTER)
        out = decisions.decide(config, rows, ledger.heads(decisions.LETTER), keys, today,
                               {k: m for k in keys if (m := ledger.get(k)) is not None})
        for code, cells in out.status_updates.items():
            result.plan.append(Change(code, "ghi kết luận", f"Trạng thái → {cells['status']}"))
        for m in out.letters + out.revived:
            result.plan.append(Change(m.source_key, "xếp hàng thư kết quả (chờ duyệt)", ""))
        for m in out.refreshed:
            result.plan.append(Change(m.source_key, "viết lại thư kết quả đang chờ (nội dung đổi)", ""))
        if not ctx.dry_run:
            if out.status_updates:
                ctx.table("papers").write(out.status_updates, owned=("status",))
            for key in out.replaced:
                ledger.cancel(key, decisions.CHANGED)
            # Every decision letter waits for a staff tick, whatever mail.approval_required says.
            ledger.queue(out.letters, awaiting_approval=True)
            for m in out.revived:
                ledger.requeue(m, decisions.CHANGED, awaiting_approval=True)
            for m in out.refreshed:
                ledger.replace(m, awaiting_approval=True)
            if ledger.has_unmirrored():
                note = mirror_if_free(ctx, ledger)
                if note:
                    result.notes.append(note)
    result.figures["thư kết quả chờ duyệt"] = len(out.letters) + len(out.revived)
    result.notes += out.notes


def _chase(ctx: JobContext, today: dt.date, result: JobResult, outcome: Outcome,
           has_reports: bool) -> tuple[list[dict], list[dict]]:
    """The reminders step (workflows.reminders): reads the tabs again, after
    the submissions step wrote them, so a paper that came today stops its
    reminders today (in a dry run, what that step would write is laid over
    what is read). Returns `Tham luận`'s and `Mốc thời gian`'s rows as read."""
    config = ctx.config
    form = config.google.forms.paper
    tabs, (milestones,) = writings_tabs.read(ctx, "milestones", has_reports=has_reports)
    rows, reports = tabs.papers, tabs.reports
    if ctx.dry_run:
        rows = [{**row, **outcome.updates.get(row["key"], {})} for row in rows] + \
            [dict(row) for row in outcome.inserts]
        reports = [{**row, **outcome.updates.get(row["key"], {})} for row in reports]
    steps = [{**r.values, "key": r.key} for r in milestones.records]
    link_base = FormsAdapter(ctx.ws).prefill_url(form.id, form.fields["paper_code"])
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        chase = reminders.decide(config, rows, steps, reminders.done_keys(ledger),
                                 reminders.reminder_counts(ledger), link_base, today, reports,
                                 reminders.invited_codes(ledger))
        for code in chase.invited:
            result.plan.append(Change(code, "xếp hàng thư mời viết (kèm đường dẫn riêng)", ""))
        for reminder in chase.plan.reminders:
            for item in reminder.items:
                escalated = " (Cc lãnh đạo đơn vị)" if item.step.escalate and reminder.cc else ""
                result.plan.append(Change(item.obligation.key, f"nhắc {item.step.name}",
                                          f"hạn {item.obligation.due:%d/%m/%Y}{escalated}"))
        for missing in chase.plan.missing_lists:
            result.plan.append(Change(missing.milestone, "gửi danh sách chưa nộp cho Ban Tổ chức",
                                      ", ".join(o.key for o in missing.missing)))
        if not ctx.dry_run:
            if chase.row_updates:
                writings_tabs.write(ctx, tabs, chase.row_updates,
                                    ("last_reminder", "reminder_count", "problem"))
            # An older reminder still waiting for a row that gets a newer one now
            # would say what is no longer true: it goes no further.
            for old in reminders.superseded(ledger, chase.messages):
                ledger.cancel(old.key, reminders.SUPERSEDED)
            queued = ledger.queue(chase.messages, awaiting_approval=config.mail.approval_required)
            # A step planned again after its letter was cancelled because the
            # row's paper had come (and staff then set the row back to Chờ nộp)
            # has the same key: that letter waits again, freshly written.
            queued += sum(ledger.requeue(m, reminders.ARRIVED,
                                         awaiting_approval=config.mail.approval_required)
                          for m in chase.messages if m.kind in reminders.CHASING_KINDS)
            if ledger.has_unmirrored():
                note = mirror_if_free(ctx, ledger)
                if note:
                    result.notes.append(note)
        else:
            queued = len(chase.messages)
    result.figures["thư mời viết xếp hàng"] = sum(1 for m in chase.messages if m.kind == reminders.INVITE)
    result.figures["thư nhắc xếp hàng"] = sum(1 for m in chase.messages
                                              if m.kind in reminders.REMINDER_KINDS)
    result.figures["danh sách chưa nộp gửi Ban Tổ chức"] = len(chase.plan.missing_lists)
    if chase.plan.skipped:
        result.figures["bước nhắc bỏ qua (đã có bước sau)"] = len(chase.plan.skipped)
    if queued < len(chase.messages):
        result.notes.append(f"{len(chase.messages) - queued} thư nhắc đã có trong Hộp thư đi.")
    result.notes += chase.milestone_problems
    result.notes += [f"Không tạo được thư nhắc cho {code}: {problem}"
                     for code, problem in sorted(chase.skipped.items())]
    # What this step writes is what the later steps see (the review step's
    # `Vấn đề` part goes beside this step's, never over it).
    rows = [{**row, **chase.row_updates.get(row["key"], {})} for row in rows]
    return rows, steps


def _queue_receipts(ctx: JobContext, receipts: list[Receipt], today: dt.date, result: JobResult,
                    dates: Dates) -> None:
    """Every current submission is offered every run (a crash between the sheet
    write and here heals next run); the ledger's keys say which are new, and
    only those are rendered. With ctx.dry_run nothing is written."""
    config = ctx.config
    skipped: dict[str, str] = {}
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        known = ledger.keys(RECEIPT)
        messages = []
        for r in receipts:
            if receipt_key(r) in known:
                continue
            try:
                messages.append(receipt(config, r, today, dates))
            except TemplateError as exc:   # this letter only: the others still go
                skipped[r.code] = str(exc)
        result.plan += [Change(m.source_key, "xếp hàng thư xác nhận đã nhận tham luận", "")
                        for m in messages]
        if ctx.dry_run:
            queued = len(messages)
        else:
            queued = ledger.queue(messages, awaiting_approval=config.mail.approval_required)
            if ledger.has_unmirrored():
                note = mirror_if_free(ctx, ledger)
                if note:
                    result.notes.append(note)
    result.figures["thư xác nhận xếp hàng"] = queued
    if skipped:
        result.figures["thư xác nhận không tạo được"] = len(skipped)
        result.notes += [f"Không tạo được thư xác nhận đã nhận tham luận {code}: {problem}"
                         for code, problem in sorted(skipped.items())]


JOB = Job("chase-submissions", Options, run, writes=("papers", "reports", "outbox"),
          summary="Ghi nhận tham luận và báo cáo của các phòng gửi qua biểu mẫu vào trang Tham luận "
                  "và Báo cáo các phòng (Đã nộp, Ngày nộp, Tệp), xếp hàng thư xác nhận đã nhận, thư "
                  "mời viết kèm đường dẫn riêng, thư nhắc hạn nộp theo Mốc thời gian (trước hạn, đúng "
                  "hạn, quá hạn, báo lãnh đạo; danh sách chưa nộp cho Ban Tổ chức), đề nghị phản biện "
                  "gửi Người phản biện, và thư kết quả theo Kết luận của Hội đồng thẩm định (chờ Duyệt).",
          doing="ghi nhận tham luận đã nộp")
