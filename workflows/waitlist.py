"""Waiting-list letters: sync-registrations tells each person on a
delegation's waiting list, once, that they are on it and where; and when a
place opens, their confirmation says they were moved up (confirmations).

One letter per person (keyed by their first response id): once sent, a
person whose place in line changes is not written again; while it waits, it
is made again to say what is true. A letter still waiting when its person
leaves the list (moved up, withdrawn) is cancelled, never sent, and waits
again if they come back.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from workspace import outbox
from workspace.config import Config
from workspace.errors import TemplateError
from workspace.outbox import Ledger, NewMessage, message_key

from .letters import base_context, build_message, recipient_address, render
from .normalise import clean_text

WAITLIST = "danh-sach-cho"
NOT_WAITING = ("Huỷ tự động: người đăng ký không còn ở Danh sách chờ (đã được xác nhận hoặc đã rút) nên "
               "thư báo danh sách chờ chưa gửi được huỷ.")


@dataclass
class WaitResult:
    queued: int = 0
    cancelled: int = 0
    replaced: int = 0         # waiting letters made again: a new address, place or delegation
    skipped: dict[str, str] = field(default_factory=dict)   # response id -> Vietnamese problem

    def figures(self) -> dict[str, int]:
        out = {"thư danh sách chờ xếp hàng": self.queued}
        if self.cancelled:
            out["thư danh sách chờ huỷ"] = self.cancelled
        if self.replaced:
            out["thư danh sách chờ làm lại"] = self.replaced
        return out

    def notes(self) -> list[str]:
        return [f"Không tạo được thư danh sách chờ cho {key}: {problem}"
                for key, problem in sorted(self.skipped.items())]


_ORDINALS = ("nhất", "hai", "ba", "tư", "năm", "sáu", "bảy", "tám", "chín", "mười")


def place_words(place: int) -> str:
    """`thứ nhất`, `thứ tư`, `thứ 12`: a place in line as a letter writes it."""
    return f"thứ {_ORDINALS[place - 1]}" if 1 <= place <= len(_ORDINALS) else f"thứ {place}"


def waitlist_letter(config: Config, person: Mapping[str, Any], today: dt.date) -> NewMessage:
    """One person's waiting-list letter (pure); TemplateError (Vietnamese) when it cannot be made."""
    key = clean_text(person.get("key") or "")
    address, problem = recipient_address(person.get("email"))
    if problem:
        raise TemplateError(problem)
    context = base_context(config, person, today)
    place = int(person.get("place") or 1)
    context["waiting"] = {"delegation": clean_text(person.get("delegation") or ""), "place": place,
                          "place_words": place_words(place), "had_place": bool(person.get("had_place"))}
    rendered = render(WAITLIST, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=message_key(WAITLIST, key), kind=WAITLIST, email=address,
                      subject=rendered.subject, raw=build_message(config, name, address, rendered),
                      recipient=name, source="registrations", source_key=key)


def told_after(ledger: Ledger, key: str, confirmed: outbox.Head) -> bool:
    """Whether the person's waiting-list letter went after their (sent)
    confirmation: their place was cut, and they were told so."""
    told, sent = ledger.get(message_key(WAITLIST, key)), ledger.get(confirmed.key)
    return bool(told and sent and told.state == outbox.SENT and (told.sent_at or 0) > (sent.sent_at or 0))


def moved_up(ledger: Ledger) -> set[str]:
    """Whose waiting-list letter went: their confirmation says a place opened."""
    return {key for key, head in ledger.heads(WAITLIST).items() if head.state == outbox.SENT}


def _same(a: outbox.Message, b: NewMessage) -> bool:
    """The waiting letter says what it would say now: address, name, subject
    (the place) and text (the delegation)."""
    def text(raw: bytes) -> str:
        body = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
        return body.get_content() if body is not None else ""
    return (a.email, a.recipient, a.subject) == (b.email, b.recipient, b.subject) and \
        text(a.raw) == text(b.raw)


def sync_waitlist(ledger: Ledger, config: Config, waiting: Iterable[Mapping[str, Any]], today: dt.date,
                  dry_run: bool = False, held: Iterable[str] = ()) -> WaitResult:
    """One letter for each person waiting: queued the first time; a letter
    still waiting made again when what it says changed (an address, a place
    in line, another delegation); one cancelled because its person left the
    list waiting again when they are back. Letters of people no longer on a
    list are cancelled. `held`: people waiting whose place cannot be told now
    (their delegation's quota cannot be read): their letters are left alone."""
    waiting = list(waiting)
    keys = {clean_text(p.get("key") or "") for p in waiting} | set(held)
    heads = ledger.heads(WAITLIST)
    result = WaitResult()
    new: list[NewMessage] = []
    back: list[NewMessage] = []
    refresh: list[NewMessage] = []
    for person in waiting:
        key = clean_text(person.get("key") or "")
        head = heads.get(key)
        if head is not None and head.state not in outbox.CANCELLABLE and \
                not (head.state == outbox.CANCELLED and head.error == NOT_WAITING):
            continue            # sent (or being sent, or cancelled by a person): one letter per person
        try:
            letter = waitlist_letter(config, person, today)
        except TemplateError as exc:
            result.skipped[key] = str(exc)
            continue
        if head is None:
            new.append(letter)
        elif head.state == outbox.CANCELLED:
            back.append(letter)
        elif not _same(ledger.get(head.key), letter):
            refresh.append(letter)
    stale = [m for m in ledger.in_state(*outbox.CANCELLABLE) if m.kind == WAITLIST and m.source_key not in keys]
    approval = config.mail.approval_required
    if dry_run:
        result.queued, result.cancelled = len(new) + len(back), len(stale)
        result.replaced = len(refresh)
        return result
    result.queued = ledger.queue(new, awaiting_approval=approval)
    result.queued += sum(ledger.requeue(m, NOT_WAITING, approval) for m in back)
    result.replaced = sum(ledger.replace(m, approval) for m in refresh)
    result.cancelled = sum(ledger.cancel(m.key, NOT_WAITING) for m in stale)
    return result
