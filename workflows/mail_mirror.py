"""The ledger's picture in the spreadsheet: `Hộp thư đi` (one row per message,
upserted by `Mã thư`) and the source rows (`Khách mời`: `Trạng thái thư mời`,
`Ngày gửi`). Written in batches, one write per table, never per message; if a
write fails the ledger is still right and the next batch tries again."""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from workspace import outbox
from workspace.errors import HoithaoError
from workspace.locks import Busy
from workspace.outbox import Ledger, Message

from .base import JobContext, tab_lock
from .letters import KINDS
from .normalise import sheet_time

log = logging.getLogger(__name__)

# Hộp thư đi: everything but the tick boxes `Duyệt` and `Gửi lại`, which belong to staff.
OUTBOX_OWNED = ("kind", "recipient", "email", "subject", "status", "sent_at", "gmail_id",
                "attempts", "error")
INVITEES_OWNED = ("invitation_status", "sent_at", "problem")
# The tabs a mirror writes, and how long a job that only queues waits for
# their locks before leaving them to the run that holds them.
MIRROR_TABS = ("outbox", "invitees")
LOCK_WAIT_S = 5.0

# `Trạng thái thư mời` of an invitee, from the state of the invitation letter.
INVITATION_STATUS = {
    outbox.AWAITING_APPROVAL: "Đã xếp hàng", outbox.QUEUED: "Đã xếp hàng",
    outbox.SENDING: "Đã xếp hàng", outbox.UNKNOWN: "Đã xếp hàng", outbox.SENT: "Đã gửi",
    outbox.FAILED: "Lỗi", outbox.CANCELLED: "Chưa gửi"}


def outbox_rows(messages: Iterable[Message], tz: str) -> dict[str, dict[str, Any]]:
    """What each message's `Hộp thư đi` row should say (pure)."""
    return {m.key: {"key": m.key, "kind": KINDS.get(m.kind, (m.kind,))[0], "recipient": m.recipient,
                    "email": m.email, "subject": m.subject, "status": outbox.LABELS[m.state],
                    "sent_at": sheet_time(m.sent_at, tz), "gmail_id": m.gmail_id,
                    "attempts": m.attempts, "error": m.error}
            for m in messages}


def source_updates(messages: Iterable[Message], tz: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Changes to the recipients' own rows, by table then key (pure)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for m in messages:
        if m.kind == "thu-moi" and m.source == "invitees" and m.source_key:
            change = {"invitation_status": INVITATION_STATUS[m.state]}
            if m.state == outbox.SENT:
                change["sent_at"] = sheet_time(m.sent_at, tz)
            out.setdefault("invitees", {})[m.source_key] = change
    return out


def mirror_if_free(ctx: JobContext, ledger: Ledger) -> str | None:
    """mirror() for a job that queues or cancels messages but does not hold the
    locks of `Hộp thư đi` and `Khách mời` for its run (sync-registrations): it
    takes them for the mirror if they are free within a few seconds. When
    another run holds them (send-outbox sending), that run mirrors the ledger,
    whose every change is already committed. Returns a note or None."""
    try:
        with ctx.locks.hold([tab_lock(t) for t in MIRROR_TABS], wait_s=LOCK_WAIT_S):
            return mirror(ctx, ledger)
    except Busy:
        return ("Hộp thư đi đang được một lượt chạy khác cập nhật; các thư vừa xếp hàng sẽ hiện ở "
                "đó khi lượt ấy ghi bảng tính.")


def mirror(ctx: JobContext, ledger: Ledger,
           extra: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None) -> str | None:
    """Write every change the sheet has not seen yet (plus `extra` source-row
    changes, e.g. `Vấn đề`), one write per table; the caller holds the locks of
    MIRROR_TABS. Returns a Vietnamese note when the sheet could not be written
    (the ledger stays right), else None."""
    pending = ledger.unmirrored()
    tz = ctx.config.timezone
    sources = source_updates(pending, tz)
    for table, changes in (extra or {}).items():
        for key, change in changes.items():
            sources.setdefault(table, {}).setdefault(key, {}).update(change)
    if not pending and not sources:
        return None
    try:
        if pending:
            rows = outbox_rows(pending, tz)
            updates = {k: {f: v for f, v in r.items() if f != "key"} for k, r in rows.items()}
            # Existing keys take the updates, new keys are appended: one read, two writes at most.
            ctx.table("outbox").write(updates, rows.values(), owned=OUTBOX_OWNED)
        if "invitees" in sources:
            ctx.table("invitees").write(sources["invitees"], owned=INVITEES_OWNED)
    except HoithaoError as exc:  # the sheet is a mirror: never lose the ledger's work over it
        log.warning("mirror failed: %s", type(exc).__name__)
        return (f"Chưa cập nhật được trang Hộp thư đi; hộp thư đi trên máy chủ vẫn đúng, lần chạy "
                f"sau sẽ ghi lại. Lý do: {exc}")
    ledger.mark_mirrored({m.key: m.version for m in pending})
    return None
