"""Waiting-list letters: sync-registrations tells each person on a
delegation's waiting list, once, that they are on it and where; and when a
place opens, their confirmation says they were moved up (confirmations).

One letter per person, ever (keyed by their first response id): a person
whose place in line changes is not written again. A letter still waiting when
its person leaves the list (moved up, withdrawn) is cancelled, never sent.
"""
from __future__ import annotations

import datetime as dt
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
    skipped: dict[str, str] = field(default_factory=dict)   # response id -> Vietnamese problem

    def figures(self) -> dict[str, int]:
        out = {"thư danh sách chờ xếp hàng": self.queued}
        if self.cancelled:
            out["thư danh sách chờ huỷ"] = self.cancelled
        return out

    def notes(self) -> list[str]:
        return [f"Không tạo được thư danh sách chờ cho {key}: {problem}"
                for key, problem in sorted(self.skipped.items())]


def waitlist_letter(config: Config, person: Mapping[str, Any], today: dt.date) -> NewMessage:
    """One person's waiting-list letter (pure); TemplateError (Vietnamese) when it cannot be made."""
    key = clean_text(person.get("key") or "")
    address, problem = recipient_address(person.get("email"))
    if problem:
        raise TemplateError(problem)
    context = base_context(config, person, today)
    context["waiting"] = {"delegation": clean_text(person.get("delegation") or ""),
                          "place": int(person.get("place") or 1)}
    rendered = render(WAITLIST, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=message_key(WAITLIST, key), kind=WAITLIST, email=address,
                      subject=rendered.subject, raw=build_message(config, name, address, rendered),
                      recipient=name, source="registrations", source_key=key)


def moved_up(ledger: Ledger) -> set[str]:
    """Whose waiting-list letter went: their confirmation says a place opened."""
    return {key for key, head in ledger.heads(WAITLIST).items() if head.state == outbox.SENT}


def sync_waitlist(ledger: Ledger, config: Config, waiting: Iterable[Mapping[str, Any]], today: dt.date,
                  dry_run: bool = False) -> WaitResult:
    """One letter queued for each waiting person who never had one; waiting
    letters of people no longer on a list cancelled."""
    waiting = list(waiting)
    keys = {clean_text(p.get("key") or "") for p in waiting}
    heads = ledger.heads(WAITLIST)
    result = WaitResult()
    letters = []
    for person in waiting:
        key = clean_text(person.get("key") or "")
        if key in heads:
            continue            # one letter per person, ever
        try:
            letters.append(waitlist_letter(config, person, today))
        except TemplateError as exc:
            result.skipped[key] = str(exc)
    stale = [m for m in ledger.in_state(*outbox.CANCELLABLE) if m.kind == WAITLIST and m.source_key not in keys]
    if dry_run:
        result.queued, result.cancelled = len(letters), len(stale)
        return result
    result.queued = ledger.queue(letters, awaiting_approval=config.mail.approval_required)
    result.cancelled = sum(ledger.cancel(m.key, NOT_WAITING) for m in stale)
    return result
