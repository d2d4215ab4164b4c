"""Registration confirmations: sync-registrations keeps the outbox's
confirmation letters in step with the confirmed people of `Đăng ký`
(queued, made again after a correction, cancelled, waiting again)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Collection, Iterable, Mapping

from workspace import outbox
from workspace.config import Config
from workspace.errors import TemplateError
from workspace.outbox import NewMessage, message_key, open_ledger

from .base import JobContext
from .letters import base_context, build_message, recipient_address, render
from .mail_mirror import mirror_if_free
from .normalise import clean_text
from .waitlist import WaitResult, moved_up, sync_waitlist, told_after

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
    waitlist: WaitResult = field(default_factory=WaitResult)

    def figures(self) -> dict[str, int]:
        out = {"thư xác nhận xếp hàng": self.queued + self.requeued, **self.waitlist.figures()}
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
        notes += self.waitlist.notes()
        notes += [f"Thư xác nhận của {key} đang ở trạng thái Không rõ (có thể đã gửi) tới địa chỉ cũ, "
                  f"nay người này đã sửa email: xử lý thư đó ở trang Hộp thư đi (send-outbox --resend "
                  f"hoặc --cancel), lần đồng bộ sau sẽ gửi thư tới địa chỉ mới nếu cần."
                  for key in sorted(self.unclear)]
        if self.mirror_note:
            notes.append(self.mirror_note)
        return notes


def confirmation(config: Config, person: Mapping[str, Any], today: dt.date, step: int = 1,
                 moved_up: bool = False) -> NewMessage:
    """One person's confirmation letter, ready to queue (pure); `step` 2, 3, …
    for a letter sent again to a corrected address; `moved_up` when they had
    been told they were on the waiting list. TemplateError (a Vietnamese
    sentence) when this person's letter cannot be made."""
    key = clean_text(person.get("key") or "")
    address, problem = recipient_address(person.get("email"))
    if problem:
        raise TemplateError(problem)
    code = clean_text(person.get("checkin_code") or "")
    if not code:
        raise TemplateError("Thiếu Mã check-in: không gửi được thư xác nhận.")
    context = base_context(config, person, today)
    context["checkin_code"] = code
    context["moved_up"] = moved_up
    rendered = render(CONFIRMATION, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=message_key(CONFIRMATION, key, step), kind=CONFIRMATION, email=address,
                      subject=rendered.subject, raw=build_message(config, name, address, rendered),
                      recipient=name, source="registrations", source_key=key)


def _compose(config: Config, people: Iterable[tuple[Mapping[str, Any], int]], today: dt.date,
             moved: Collection[str] = ()) -> tuple[list[NewMessage], dict[str, str]]:
    """Letters for (person, step) pairs, and who could not get one and why;
    `moved`: keys of people told they were waiting, now confirmed."""
    messages: list[NewMessage] = []
    skipped: dict[str, str] = {}
    for person, step in people:
        try:
            key = clean_text(person.get("key") or "")
            messages.append(confirmation(config, person, today, step, moved_up=key in moved))
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
        if head.email == outbox.ERASED:
            continue                       # erased on request: never written to again
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


def sync_confirmations(ctx: JobContext, people: Iterable[Mapping[str, Any]],
                       waiting: Iterable[Mapping[str, Any]] = (), held: Iterable[str] = ()) -> QueueResult:
    """Make the outbox's confirmations match `people`, every confirmed person
    (dicts: key = the response id, honorific, full_name, position, unit, email,
    checkin_code): one confirmation queued per person (idempotent: offering a
    person again is a no-op unless their email or name changed: a waiting
    letter is then made again, a sent or failed one to an old address gets a
    next step to the new one, a `Không rõ` one is left to a person), and the waiting (`Chờ gửi`/`Chờ duyệt`)
    confirmations of anyone not in `people` cancelled (`Đã huỷ`); one cancelled
    that way waits again if the person comes back. A person whose letter cannot
    be made is skipped and named in the notes; the others go on. The change is
    mirrored to `Hộp thư đi`. With ctx.dry_run nothing is written, no file made.
    `waiting`: everyone on a waiting list (waitlist.sync_waitlist: one letter each)."""
    config = ctx.config
    today = ctx.now().date()
    people = list(people)
    keys = {clean_text(p.get("key") or "") for p in people}
    waiting_approval = config.mail.approval_required
    with open_ledger(config, readonly=ctx.dry_run) as ledger:
        stale = [m for m in ledger.in_state(*outbox.CANCELLABLE)
                 if m.kind == CONFIRMATION and m.source_key not in keys]
        # Render only what changed: every confirmed person is offered on every
        # sync, and rendering them all again cost seconds per thousand people;
        # the ledger's stored address and name say whose letter is out of date.
        heads = ledger.heads(CONFIRMATION)
        todo, unclear = plan_confirmations(people, heads)
        moved = moved_up(ledger)
        # Confirmed, then cut by a lower quota and told so, now confirmed again:
        # a next letter says a place opened, with their code valid again.
        planned = {clean_text(p.get("key") or "") for step in todo.values() for p, _ in step}
        for person in people:
            key = clean_text(person.get("key") or "")
            head = heads.get(key)
            if key in moved and key not in planned and head is not None and head.state == outbox.SENT \
                    and told_after(ledger, key, head):
                todo["again"].append((person, head.step + 1))
        made = {step: _compose(config, todo[step], today, moved) for step in todo}
        skipped = {k: v for _, problems in made.values() for k, v in problems.items()}
        result = QueueResult(skipped=skipped, unclear=unclear)
        letters = {step: messages for step, (messages, _) in made.items()}
        # The waiting list first: a letter of someone moved up is cancelled before it goes.
        result.waitlist = sync_waitlist(ledger, config, waiting, today, dry_run=ctx.dry_run, held=held)
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
        # Also what an earlier run queued while another run held Hộp thư đi.
        if ledger.has_unmirrored():
            result.mirror_note = mirror_if_free(ctx, ledger)
    return result
