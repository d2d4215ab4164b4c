"""send-invitations: `Khách mời` -> the outbox (send-outbox sends).

read:   the tab (1 call), the registration form's link (1 call), the ledger
decide: who is invited (ticked `Gửi thư mời`, or --all not yet invited), which
        rows have a problem and why, each letter rendered (pure)
write:  the ledger (queue; a second time is a no-op), then the mirror: `Vấn đề`
        and `Trạng thái thư mời` in one write, `Hộp thư đi` in one write
Also: --preview N prints N letters and changes nothing; --test-to ADDR sends
one sample letter to ADDR only and records nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workspace.errors import HoithaoError
from workspace.forms import FormsAdapter
from workspace.gmail import GmailAdapter, SendRefused, SendUnclear
from workspace.outbox import NewMessage, message_key
from workspace.table import Record, Snapshot

from . import mail
from .base import Change, JobContext, JobResult
from .mail_mirror import mirror

KIND = "thu-moi"
TICKED = "TRUE"


@dataclass
class Plan:
    letters: list[tuple[Record, dict[str, Any]]] = field(default_factory=list)  # record, context
    problems: dict[str, str] = field(default_factory=dict)     # key -> Vấn đề
    cleared: list[str] = field(default_factory=list)           # keys whose Vấn đề is now fine
    already: list[str] = field(default_factory=list)           # ticked but already in the outbox


def row_problem(record: Record) -> str | None:
    """Why this invitee cannot be sent a letter, in Vietnamese, or None."""
    missing = [label for f, label in (("honorific", "Danh xưng (Ông/Bà)"), ("full_name", "Họ và tên"))
               if not mail.clean(record[f])]
    if missing:
        return (f"Thiếu {' và '.join(missing)}: điền vào bảng rồi chạy lại (thư mời không tự "
                f"đoán danh xưng hay tên).")
    return mail.email_problem(mail.clean(record["email"]).lower())


def select(snap: Snapshot, everyone: bool, queued: set[str]) -> Plan:
    """Who gets a letter now: ticked rows, or with `everyone` all not yet invited (pure)."""
    plan = Plan()
    for record in snap.records:
        ticked = record["send_invitation"].strip().upper() == TICKED
        in_outbox = message_key(KIND, record.key) in queued
        if not (ticked or everyone):
            continue
        if in_outbox:
            if ticked:
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
        plan.letters.append((record, {}))
    return plan


def letter(ctx: JobContext, record: Record, link_base: str) -> tuple[mail.Rendered, dict[str, Any]]:
    context = mail.base_context(ctx.config, record.values)
    context["invitee_code"] = record.key
    context["registration_link"] = mail.prefilled_link(link_base, record.key)
    return mail.render(KIND, context), context


def run(ctx: JobContext) -> JobResult:
    config = ctx.config
    preview = int(getattr(ctx, "preview", 0) or 0)
    test_to = getattr(ctx, "test_to", None)
    table = ctx.table("invitees")
    snap = table.read()
    form = config.google.forms.registration
    link_base = FormsAdapter(ctx.ws).prefill_url(form.id, form.fields["invitee_code"])
    with mail.open_ledger(config) as ledger:
        queued = ledger.keys(KIND)
        plan = select(snap, bool(getattr(ctx, "all_", False)), queued)
        if (preview or test_to) and not plan.letters:
            plan = select(snap, True, queued)  # nothing ticked: show whoever is not yet invited
        if preview:
            return _preview(ctx, plan, link_base, preview)
        if test_to:
            return _test_send(ctx, plan, link_base, test_to)

        result = JobResult()
        messages: list[NewMessage] = []
        for record, _ in plan.letters:
            rendered, context = letter(ctx, record, link_base)
            name = context["recipient"]["full_name"]
            address = context["recipient"]["email"].lower()
            raw = mail.build_message(config, name, address, rendered)
            messages.append(NewMessage(key=message_key(KIND, record.key), kind=KIND, email=address,
                                       subject=rendered.subject, raw=raw, recipient=name,
                                       source="invitees", source_key=record.key))
            result.plan.append(Change(record.key, "xếp hàng thư mời",
                                      "chờ duyệt" if config.mail.approval_required else ""))
        for key, problem in plan.problems.items():
            result.plan.append(Change(key, "bỏ qua", problem))
        result.figures = {"thư mời xếp hàng": len(messages), "bỏ qua vì có vấn đề": len(plan.problems),
                          "đã có trong hộp thư đi": len(plan.already)}
        if ctx.dry_run:
            return result
        added = ledger.queue(messages, awaiting_approval=config.mail.approval_required)
        result.figures["thư mời xếp hàng"] = added
        problems = {k: {"problem": v} for k, v in plan.problems.items()}
        problems.update({k: {"problem": ""} for k in plan.cleared})
        note = mirror(ctx, ledger, extra={"invitees": problems})
        if note:
            result.notes.append(note)
        if added:
            result.notes.append("Chạy `python run.py send-outbox` để gửi"
                                + (" (sau khi duyệt ở cột Duyệt của Hộp thư đi)."
                                   if config.mail.approval_required else "."))
        return result


def _preview(ctx: JobContext, plan: Plan, link_base: str, n: int) -> JobResult:
    ctx.dry_run = True  # a preview changes nothing, not even the run log
    shown = 0
    for record, _ in plan.letters[:n]:
        rendered, context = letter(ctx, record, link_base)
        ctx.console.rule(f"{record.key}: {rendered.subject}")
        ctx.console.print(f"Tới: {context['recipient']['email']}", markup=False)
        ctx.console.print(rendered.text, markup=False)
        shown += 1
    return JobResult(figures={"thư xem trước": shown, "bỏ qua vì có vấn đề": len(plan.problems)})


def _test_send(ctx: JobContext, plan: Plan, link_base: str, address: str) -> JobResult:
    problem = mail.email_problem(address.strip())
    if problem:
        raise HoithaoError(f"--test-to: {problem}")
    if not plan.letters:
        raise HoithaoError("--test-to: no invitee without a problem to build a sample letter from")
    record = plan.letters[0][0]
    rendered, context = letter(ctx, record, link_base)
    sample = mail.Rendered(subject=f"[Thư thử] {rendered.subject}", text=rendered.text,
                           html=rendered.html)
    raw = mail.build_message(ctx.config, context["recipient"]["full_name"], address.strip(), sample)
    if ctx.dry_run:
        return JobResult(plan=[Change(record.key, "gửi thư thử", "")], figures={"thư thử": 0})
    try:
        GmailAdapter(ctx.ws).send(raw)  # one sample, outside the outbox: nothing is recorded
    except (SendRefused, SendUnclear) as exc:
        raise HoithaoError(f"--test-to: the sample was not confirmed sent ({exc})") from None
    return JobResult(figures={"thư thử": 1},
                     notes=[f"Đã gửi 1 thư thử (mẫu của {record.key}) tới địa chỉ đã nhập."])
