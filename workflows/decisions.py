"""The decisions step of chase-submissions: the review council's verdict,
typed by staff in `Kết luận`, -> `Trạng thái` (`Được chọn` / `Không được
chọn`) and one decision letter per author through the outbox, always waiting
for a staff tick in `Duyệt` (`Hộp thư đi`) before it goes.

A verdict staff change before the letter is approved replaces the waiting
letter (the old one is cancelled with the reason); after it was sent, the new
letter waits for approval like the first, and the run says so. A `Kết luận`
the tool cannot read is reported in the run's notes and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from workspace.config import Config
from workspace.errors import TemplateError
from workspace.outbox import CANCELLABLE, CANCELLED, Head, Message, NewMessage, message_key

from .chase_input import fold
from .normalise import clean_text
from .letters import base_context, build_message, recipient_address, render, vn_date

LETTER = "ket-qua-tham-luan"
ACCEPTED, REJECTED = "Được chọn", "Không được chọn"
_VERDICTS = {fold(w): ACCEPTED for w in (ACCEPTED, "Chọn", "Đạt")} | \
    {fold(w): REJECTED for w in (REJECTED, "Không chọn", "Không đạt")}
# Statuses a verdict may move a row from (a paper that has arrived).
_DECIDABLE = {fold(s) for s in ("Đã nộp", "Đang thẩm định", ACCEPTED, REJECTED)}
CHANGED = "Huỷ tự động: Kết luận đã đổi trước khi thư được duyệt; thư theo kết luận mới đang chờ duyệt."


def verdict(text: Any) -> str | None:
    """`Được chọn`, `Không được chọn`, or None for an empty cell; ValueError otherwise."""
    folded = fold(text)
    if not folded:
        return None
    if folded not in _VERDICTS:
        raise ValueError(str(text))
    return _VERDICTS[folded]


def slug(value: str) -> str:
    return "chon" if value == ACCEPTED else "khong-chon"


def letter_key(code: str, value: str) -> str:
    """The ledger key of a row's decision letter for a verdict."""
    return message_key(LETTER, f"{code}/{slug(value)}")


@dataclass
class DecisionOutcome:
    status_updates: dict[str, dict[str, str]] = field(default_factory=dict)
    letters: list[NewMessage] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)     # keys of waiting letters now outdated
    revived: list[NewMessage] = field(default_factory=list)    # cancelled by CHANGED, wanted again
    refreshed: list[NewMessage] = field(default_factory=list)  # still waiting, content changed
    notes: list[str] = field(default_factory=list)


def letter(config: Config, row: Mapping[str, Any], value: str, today: dt.date) -> NewMessage:
    """One author's decision letter (pure); TemplateError when it cannot be made."""
    address, problem = recipient_address(str(row.get("email") or ""))
    if problem:
        raise TemplateError(problem)
    context = base_context(config, {"honorific": row.get("honorific", ""),
                                    "full_name": row.get("author", ""), "unit": row.get("unit", ""),
                                    "email": address}, today)
    context["paper"] = {"code": row["key"], "title": str(row.get("title") or ""),
                        "topic": str(row.get("topic") or ""), "accepted": value == ACCEPTED,
                        "slot": clean_text(str(row.get("slot") or "")),
                        "decided_on": vn_date(today)}
    rendered = render(LETTER, context)
    name = context["recipient"]["full_name"]
    return NewMessage(key=letter_key(str(row["key"]), value), kind=LETTER,
                      email=address, subject=rendered.subject,
                      raw=build_message(config, name, address, rendered), recipient=name,
                      source="papers", source_key=str(row["key"]))


def _plain(raw: bytes) -> str:
    """A letter's plain-text part (what changes when its content does; the
    headers carry a fresh Message-ID each time a letter is made)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",))
    return body.get_content() if body is not None else ""


def decide(config: Config, rows: Iterable[Mapping[str, Any]], heads: Mapping[str, Head],
           known: set[str], today: dt.date, letters: Mapping[str, Message] | None = None
           ) -> DecisionOutcome:
    """Statuses and letters for every row with a verdict (pure). `heads`: the
    latest decision letter per row code; `known`: every decision letter key;
    `letters`: those letters by key (to bring back one a verdict changed away
    from and back to, and to rewrite one still waiting whose content changed,
    e.g. staff filled `Phiên trình bày` after the verdict)."""
    out = DecisionOutcome()
    letters = letters or {}
    for row in rows:
        code = str(row["key"])
        try:
            value = verdict(row.get("decision"))
        except ValueError:
            # What staff typed is not repeated here: the console and Nhật ký carry no names.
            out.notes.append(f"{code}: không đọc được ô Kết luận: ghi {ACCEPTED} hoặc {REJECTED}.")
            continue
        if value is None:
            continue
        if fold(row.get("status")) not in _DECIDABLE or not str(row.get("file") or "").strip():
            out.notes.append(f"{code}: có Kết luận nhưng tham luận chưa nộp: chưa gửi thư kết quả.")
            continue
        if str(row.get("status") or "").strip() != value:
            out.status_updates[code] = {"status": value}
        key = letter_key(code, value)
        head = heads.get(code)
        # The row's other letters still waiting say another verdict: outdated.
        others = [k for k, m in letters.items()
                  if m.source_key == code and k != key and m.state in CANCELLABLE]
        if head is not None and head.key != key and head.key not in others:
            others.append(head.key)
        if key in known:
            old = letters.get(key)
            if old is None:
                continue
            changed_back = old.state == CANCELLED and old.error == CHANGED
            if not changed_back and old.state not in CANCELLABLE:
                continue    # sent, being sent, or cancelled by staff: left as it is
            try:
                fresh = letter(config, row, value, today)
            except TemplateError as exc:
                out.notes.append(f"Không tạo được thư kết quả cho {code}: {exc}")
                continue
            if changed_back:
                out.revived.append(fresh)
                out.replaced += others
            elif _plain(fresh.raw) != _plain(old.raw):
                out.refreshed.append(fresh)
            continue
        out.replaced += others
        try:
            out.letters.append(letter(config, row, value, today))
        except TemplateError as exc:
            out.notes.append(f"Không tạo được thư kết quả cho {code}: {exc}")
    return out
