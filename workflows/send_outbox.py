"""send-outbox: the only code that sends mail. Every due message exactly once.

start:  (run_job holds the job's lock and those of `Hộp thư đi` and `Khách
        mời`: one sender, one mirror writer); SENDING rows of a run that died -> UNKNOWN;
        UNKNOWN resolved by looking the Message-ID up in the mailbox (where the
        config allows) or left for a person; ticked `Duyệt` approves; mirror
send:   for each due message, oldest first, paced under mail.per_minute and
        mail.daily_limit: commit SENDING (our Message-ID) -> Gmail once -> SENT
        / FAILED / UNKNOWN, or back to QUEUED when Gmail refused it for a rate
        or daily limit (the run then backs off or stops cleanly, exit 0)
mirror: every MIRROR_INTERVAL_S seconds and at the end, one write per table
        (on a clock, not per N messages: each mirror reads Hộp thư đi whole)

Staff actions: `--resend KEY` sends a Lỗi/Không rõ/Đã huỷ message again only
when its `Gửi lại` box (a staff tick column of Hộp thư đi, separate from
`Duyệt`, which an approved message already has ticked) is ticked: that box is
ticked for nothing but a resend, so a tick on a failed row is a decision made
about that failure. `--cancel KEY` cancels one message still waiting and sends
nothing. --dry-run creates and changes no file.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Callable, Collection
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from workspace import outbox
from workspace.errors import ApiError, HoithaoError, UsageError
from workspace.forms import FormsAdapter
from workspace.gmail import GmailAdapter, LookupNotAllowed, SendRefused, SendUnclear
from workspace.outbox import Ledger, Message, open_ledger
from workspace.pacing import Pacer
from workspace.table import ticked

from . import reminders, reviews, submissions, writings

# Letters that ask writers and reviewers for something leave only in office
# hours on working days (reminders.office_hours); the others at any time.
OFFICE_HOURS = reminders.CHASING_KINDS + (reviews.REQUEST, reviews.REMINDER)
from .base import Change, Job, JobContext, JobResult
from .mail_mirror import mirror

DAY_S = 86_400
MIRROR_INTERVAL_S = 30.0
MAX_RATE_REFUSALS = 3     # consecutive rate-limit refusals before the run gives up for now
BACKOFF_CAP_S = 32.0


@dataclass(frozen=True)
class Options:
    """What the command's flags set."""
    limit: int | None = None          # --limit N: send at most N messages
    resend: str | None = None         # --resend KEY: send a failed/unclear message again
    cancel: str | None = None         # --cancel KEY: cancel a message still waiting
    no_pacing: bool = False           # the demo: a sandbox has no quota to protect

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise UsageError("--limit cần một số từ 1 trở lên.")
        if self.resend and self.cancel:
            raise UsageError("Chọn một trong hai: --resend (gửi lại) hoặc --cancel (huỷ).")


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    stop: str = ""            # "daily", "rate", "network", "asked" (a stop request), or ""


def resolve_unknown(ctx: JobContext, ledger: Ledger, gmail: GmailAdapter,
                    sleep: Callable[[float], None], clock: Callable[[], float]) -> list[str]:
    """Settle UNKNOWN messages by their Message-ID: in the mailbox -> SENT, not
    there -> due again. Without the lookup they wait for a person. Returns notes."""
    unknown = ledger.in_state(outbox.UNKNOWN)
    if not unknown:
        return []
    advice = (f"{len(unknown)} thư 'Không rõ' (có thể đã gửi): xem thư đã gửi trong Gmail; nếu "
              f"chưa có, tích ô Gửi lại ở dòng đó trong Hộp thư đi rồi chạy "
              f"`python run.py send-outbox --resend MÃ_THƯ`.")
    if not ctx.config.mail.lookup_sent:
        return [advice]
    # Gmail may still be finishing a send whose answer was lost, and its search
    # index lags behind: let it settle (a miss would send again).
    newest = max(m.sending_at or 0 for m in unknown)
    wait = newest + ctx.config.mail.lookup_delay(ctx.config.google.backend) - clock()
    if wait > 0:
        sleep(wait)
    if ctx.stop():   # the wait was cut short: a lookup now could miss a sent letter
        return [advice]
    for m in unknown:
        try:
            found = gmail.find_by_message_id(m.message_id)
        except LookupNotAllowed:
            return [advice + " (Tài khoản chưa có quyền gmail.readonly để tự tra cứu.)"]
        if found:
            ledger.mark_sent(m.key, found)
        else:
            ledger.release(m.key, "không thấy trong thư đã gửi: sẽ gửi lại")
    return []


def approvals(ctx: JobContext, ledger: Ledger, resend: str | None) -> list[str]:
    """Ticked `Duyệt` releases messages awaiting approval; --resend KEY re-queues
    one FAILED/UNKNOWN/CANCELLED message whose `Gửi lại` box a person has ticked."""
    waiting = ledger.in_state(outbox.AWAITING_APPROVAL)
    if not waiting and not resend:
        return []
    snap = ctx.table("outbox").read()
    approved = {r.key for r in snap.records if ticked(r["approve"])}
    ledger.approve(m.key for m in waiting if m.key in approved)
    if not resend:
        return []
    _message_in(ledger, resend, "--resend", outbox.RESENDABLE, "gửi lại")
    label = ctx.config.sheets.outbox.columns["resend"]
    if "resend" not in snap.columns:
        raise HoithaoError(f"--resend: trang Hộp thư đi chưa có cột '{label}': thêm cột này (ô đánh "
                           f"dấu) sau cột cuối, đánh dấu ở dòng của {resend}, rồi chạy lại lệnh.")
    row = snap.by_key.get(resend)
    if row is None or not ticked(row["resend"]):
        raise HoithaoError(f"--resend: đánh dấu ô '{label}' ở dòng của {resend} trong trang Hộp thư "
                           f"đi trước (quyết định gửi lại bằng văn bản), rồi chạy lại lệnh.")
    ledger.resend(resend)
    return [f"{resend}: gửi lại theo yêu cầu; bỏ tích ô {label} ở dòng đó (một dấu tích chỉ cho "
            f"một lần gửi lại)."]


def _message_in(ledger: Any, key: str, option: str, states: Collection[str], verb: str) -> Any:
    """The ledger's message `key`, if it is in one of `states`; else a plain error."""
    message = ledger.get(key)
    if message is None:
        raise HoithaoError(f"{option}: hộp thư đi không có thư {key!r}: chép mã thư từ cột 'Mã thư' "
                           f"của trang Hộp thư đi.")
    if message.state not in states:
        allowed = " hoặc ".join(f"'{outbox.LABELS[st]}'" for st in states)
        raise HoithaoError(f"{option}: thư {key} đang '{outbox.LABELS[message.state]}'; chỉ thư "
                           f"{allowed} mới {verb} được.")
    return message


def cancel(ctx: JobContext, key: str) -> JobResult:
    """--cancel KEY: a message still waiting (Chờ gửi/Chờ duyệt) -> Đã huỷ."""
    with open_ledger(ctx.config, readonly=ctx.dry_run) as ledger:
        message = _message_in(ledger, key, "--cancel", outbox.CANCELLABLE, "huỷ")
        plan = [Change(key, "huỷ", outbox.LABELS[message.state])]
        if ctx.dry_run:
            return JobResult(plan=plan, figures={"huỷ": 1})
        cancelled = ledger.cancel(key, "Huỷ theo yêu cầu (send-outbox --cancel).")
        if not cancelled:  # changed between the check and now
            raise HoithaoError(f"--cancel: thư {key} không còn chờ gửi; xem trang Hộp thư đi.")
        result = JobResult(plan=plan, figures={"huỷ": 1})
        note = mirror(ctx, ledger)
        if note:
            result.notes.append(note)
        return result


def send_due(ctx: JobContext, ledger: Ledger, gmail: GmailAdapter, batch: list[Message],
             pacer: Pacer | None, sleep: Callable[[float], None],
             clock: Callable[[], float] = time.monotonic) -> Tally:
    """Send `batch` one by one; SENDING is committed before each hand-over;
    the sheet is mirrored every MIRROR_INTERVAL_S seconds of `clock`."""
    tally = Tally()
    refusals = 0
    mirrored_at = clock()
    progress = Progress(TextColumn("Gửi thư"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=ctx.console, transient=False)
    with progress:
        task = progress.add_task("send", total=len(batch))
        for m in batch:
            if ctx.stop():
                tally.stop = "asked"
                break
            if pacer:
                pacer.wait()
                if ctx.stop():      # asked while waiting for the pace: this one waits too
                    tally.stop = "asked"
                    break
            try:
                claimed = ledger.claim(m.key)
            except outbox.NotWaiting:   # cancelled or made again by a sync meanwhile
                progress.advance(task)
                continue
            try:
                gmail_id = gmail.send(claimed.wire_bytes())
            except SendUnclear as exc:
                ledger.mark_unknown(m.key, str(exc))
                tally.unknown += 1
                if exc.network:  # the connection itself failed: do not risk the next ones
                    tally.stop = "network"
                    break
            except SendRefused as exc:
                if exc.kind in ("daily", "rate"):
                    ledger.release(m.key, str(exc))
                    refusals += 1
                    if exc.kind == "daily" or refusals >= MAX_RATE_REFUSALS:
                        tally.stop = exc.kind
                        break
                    sleep(min(exc.retry_after or 2 ** refusals, BACKOFF_CAP_S))
                elif exc.kind == "network":   # nothing left this machine: try the next run
                    ledger.release(m.key, str(exc))
                    tally.stop = "network"
                    break
                elif exc.kind == "account":   # the sender cannot send: no use going on
                    ledger.release(m.key, str(exc))
                    mirror(ctx, ledger)
                    raise ApiError(f"Gmail không nhận gửi thư từ hộp thư này: kiểm tra "
                                   f"google.sender_mailbox và tệp khoá (quyền gửi thư, uỷ quyền của "
                                   f"tài khoản), rồi chạy lại send-outbox [chi tiết: {exc}]",
                                   code=exc.code, reason=exc.reason) from None
                else:                         # this message's own problem (a bad recipient, …)
                    ledger.mark_failed(m.key, str(exc))
                    tally.failed += 1
            else:
                ledger.mark_sent(m.key, gmail_id)
                tally.sent += 1
                refusals = 0
            if pacer:
                pacer.record()
            progress.advance(task)
            if clock() - mirrored_at >= MIRROR_INTERVAL_S:
                mirror(ctx, ledger)
                mirrored_at = clock()
    return tally


def next_batch(config: Any, ledger: Ledger, limit: int | None, clock: Callable[[], float],
               hold_reminders: bool = False) -> tuple[list[Message], list[Message], int]:
    """What a run sends now: every due message, the ones taken (oldest first,
    under the daily limit and --limit), and the room left in the last 24 hours.
    Reminders wait for office hours on a working day (reminders.office_hours)."""
    due = ledger.due()
    now = dt.datetime.fromtimestamp(clock(), ZoneInfo(config.timezone))
    if hold_reminders or not reminders.in_office_hours(config, now):
        due = [m for m in due if m.kind not in OFFICE_HOURS]
    room = max(0, config.mail.daily_limit - ledger.sent_since(clock() - DAY_S))
    take = min(len(due), room, limit or len(due))
    return due, due[:take], room


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    clock, sleep = ctx.clock, ctx.sleep
    if opts.cancel:
        return cancel(ctx, opts.cancel)
    with open_ledger(config, clock, readonly=ctx.dry_run) as ledger:
        if ctx.dry_run:
            return _plan(ledger, config, opts.limit, clock)
        result = JobResult()
        recovered = ledger.recover()
        gmail = GmailAdapter(ctx.ws)
        result.notes += resolve_unknown(ctx, ledger, gmail, sleep, clock)
        result.notes += approvals(ctx, ledger, opts.resend)
        try:
            arrived = cancel_arrived(ctx, ledger)
            hold = False
        except HoithaoError as exc:   # reminders wait; every other letter still goes
            arrived, hold = 0, True
            result.notes.append(f"Chưa kiểm tra được tham luận đã nộp nên thư nhắc hạn chờ lần chạy "
                                f"sau: {exc}")
        mirror(ctx, ledger)

        due, batch, room = next_batch(config, ledger, opts.limit, clock, hold)
        held = sum(1 for m in ledger.due() if m.kind in OFFICE_HOURS) - \
            sum(1 for m in due if m.kind in OFFICE_HOURS)
        if held and not hold:
            result.notes.append(f"{held} thư nhắc hạn, mời viết hoặc gửi người phản biện chờ đến giờ hành chính ngày làm việc "
                                f"({config.reminders.office_hours}) mới gửi, ở lần chạy sau.")
        pacer = None if opts.no_pacing else Pacer(config.mail.per_minute, clock, sleep)
        tally = send_due(ctx, ledger, gmail, batch, pacer, sleep, clock)
        if not tally.stop and len(batch) < len(due) and len(batch) == room:
            tally.stop = "daily"
        note = mirror(ctx, ledger)
        if note:
            result.notes.append(note)

        counts = ledger.counts()
        left = counts.get(outbox.QUEUED, 0)
        result.figures = {"đã gửi": tally.sent, "lỗi": tally.failed,
                          "không rõ": counts.get(outbox.UNKNOWN, 0),
                          "chờ duyệt": counts.get(outbox.AWAITING_APPROVAL, 0), "còn lại": left}
        if recovered:
            result.figures["gián đoạn lần trước"] = recovered
        if arrived:
            result.figures["thư nhắc huỷ vì đã nộp"] = arrived
        if tally.stop == "daily" and left:
            result.notes.append(f"Còn {left} thư sẽ gửi ở lần chạy sau: đã đến giới hạn gửi "
                                f"trong ngày của hộp thư ({config.mail.daily_limit} thư/24 giờ).")
        elif tally.stop == "network" and left:
            result.notes.append(f"Mất kết nối tới Gmail giữa chừng nên lượt này dừng; còn {left} thư sẽ "
                                f"gửi ở lần chạy sau (thư đang gửi dở, nếu có, ở trạng thái Không rõ).")
        elif tally.stop == "rate" and left:
            result.notes.append(f"Gmail yêu cầu gửi chậm lại; còn {left} thư sẽ gửi ở lần chạy sau.")
        elif tally.stop == "asked":
            result.stopped = True
            result.notes.append(f"Đã dừng theo yêu cầu sau {tally.sent} thư; trang Hộp thư đi ghi đúng "
                                f"những thư đã gửi, còn {left} thư sẽ gửi ở lần chạy sau.")
        return result


def cancel_arrived(ctx: JobContext, ledger: Ledger) -> int:
    """A reminder still waiting whose paper has arrived since it was queued,
    or a reminder to a reviewer whose paper has its `Kết luận` now, is
    cancelled (`Đã huỷ`, with the reason), never sent: the reason is checked
    against `Tham luận` and `Báo cáo các phòng` right before sending (one
    read, only when one waits)."""
    waiting = [m for m in ledger.in_state(*outbox.CANCELLABLE)
               if m.kind in reminders.CHASING_KINDS or m.kind == reviews.REMINDER]
    if not waiting:
        return 0
    config = ctx.config
    tabs, _ = writings.read(ctx)
    rows = tabs.rows()
    statuses = {key: str(row.get("status") or "").strip() for key, row in rows.items()}
    # A paper already in the form but not yet in the sheet (chase-submissions
    # has not run since) counts as arrived too: the same matching decides.
    form = config.google.forms.paper
    if form.id:
        responses = FormsAdapter(ctx.ws).responses(form.id, form.fields)
        labels = {**config.sheets.papers.columns, "tab": config.sheets.papers.tab}
        recorded = {key.partition(":")[2].rpartition(":")[0] for key in ledger.keys(submissions.RECEIPT)}
        outcome = submissions.decide(responses, rows, config.event.topics, config.timezone, labels,
                                     reports=tabs.report_keys, recorded=recorded)
        statuses.update({code: submissions.SUBMITTED for code in outcome.newly_submitted})
    cancelled = sum(ledger.cancel(m.key, reminders.ARRIVED) for m in reminders.arrived(waiting, statuses))
    # A reviewer reminder for a paper the council has decided meanwhile.
    return cancelled + sum(ledger.cancel(m.key, reviews.DECIDED) for m in reviews.decided(waiting, rows))


def _plan(ledger: Ledger, config: Any, limit: int | None, clock: Callable[[], float]) -> JobResult:
    """--dry-run: what a run would send now; nothing is written or sent."""
    due, batch, _ = next_batch(config, ledger, limit, clock)
    counts = ledger.counts()
    plan = [Change(m.key, "gửi", outbox.LABELS[m.state]) for m in batch]
    return JobResult(plan=plan, figures={
        "sẽ gửi": len(batch), "còn lại sau lần chạy": len(due) - len(batch),
        "chờ duyệt": counts.get(outbox.AWAITING_APPROVAL, 0),
        "không rõ": counts.get(outbox.UNKNOWN, 0) + counts.get(outbox.SENDING, 0)})


JOB = Job("send-outbox", Options, run, writes=("outbox", "invitees"),
          summary="Gửi mọi thư đến lượt trong Hộp thư đi, mỗi thư đúng một lần, trong giới hạn gửi "
                  "của Gmail.",
          doing="gửi thư")
