"""Gmail v1: one mailbox per principal, holding the messages it sent.

`users.messages.send` (JSON `raw` or a `message/rfc822` upload) parses the
message with the `email` package, refuses what Gmail refuses (no recipients,
a malformed address, more recipients than `gmail_max_recipients`, a mailbox
over its daily sending limit), adds the headers Gmail adds (Message-ID, Date,
From) and stores the exact bytes. `messages.list` understands the search
operators the product uses (`rfc822msgid:`, `to:`, `from:`, `subject:`...),
`messages.get` renders the four formats, and `sent_messages` hands every
accepted message to `sandbox export`.
"""
from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import json
import math
import sqlite3
from typing import Any

from ..clock import rfc3339
from ..errors import GoogleError
from ..store import Store, new_id, register_schema
from . import Call, handles
from .gmail_mime import (add_missing_headers, matches, parse_query, payload, recipients,
                         snippet)

register_schema("""
CREATE TABLE IF NOT EXISTS gmail_messages (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    mailbox TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    rfc822_id TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    internal_date INTEGER NOT NULL,
    sent_at REAL NOT NULL,
    label_ids TEXT NOT NULL,
    draft_id TEXT,
    raw BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS gmail_messages_box ON gmail_messages(mailbox, seq);
CREATE INDEX IF NOT EXISTS gmail_messages_rfc822 ON gmail_messages(mailbox, rfc822_id);
""")

MAX_RESULTS_CAP = 500


def _error(code: int, message: str, reason: str = "invalidArgument", **kw: Any) -> GoogleError:
    return GoogleError(code, message, reason=reason, **kw)


def not_found() -> GoogleError:
    return GoogleError(404, "Requested entity was not found.", reason="notFound")


def _mailbox(call: Call) -> str:
    """The mailbox `userId` names: "me" or the caller's own address; Gmail refuses
    any other (even an address of the same domain) without delegation."""
    user = call.params.get("userId") or "me"
    if user != "me" and user.lower() != call.principal.lower():
        raise _error(403, f"Delegation denied for {call.principal}", reason="forbidden")
    return call.principal


def _decode_raw(text: str) -> bytes:
    """Google accepts both base64 alphabets, with or without padding, for bytes fields."""
    cleaned = "".join(text.split())
    try:
        return base64.b64decode(cleaned.replace("-", "+").replace("_", "/")
                                + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise _error(400, f"Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding "
                          f"failed for \"{shown}\"") from None


def _raw_from_call(call: Call, message: dict[str, Any] | None) -> bytes:
    if call.media is not None:
        raw = call.media
    elif message and message.get("raw"):
        raw = _decode_raw(message["raw"])
    else:
        raw = b""
    if not raw.strip():
        raise _error(400, "'raw' RFC822 payload message string or uploading message via "
                          "/upload/* URL required")
    return raw


def _new_message_id(db: sqlite3.Connection, call: Call) -> tuple[str, int]:
    """16 hex digits that grow with time, like Gmail's ids, and the store-wide sequence."""
    seq = call.store.next_counter(db, "gmail_message")
    value = (int(call.now * 1000) << 20) | (seq & 0xFFFFF)
    return f"{value:016x}"[-16:], seq


def _check_daily_limit(db: sqlite3.Connection, call: Call, mailbox: str) -> None:
    limit = int(call.settings.get("gmail_daily_limit") or 0)
    if limit <= 0:
        return
    window = float(call.settings.get("gmail_daily_window_s") or 86_400)
    since = call.now - window
    row = db.execute("SELECT COUNT(*), MIN(sent_at) FROM gmail_messages WHERE mailbox = ? AND "
                     "draft_id IS NULL AND sent_at > ?", (mailbox, since)).fetchone()
    if row[0] < limit:
        return
    retry_at = row[1] + window
    # What Gmail answers once a mailbox is over its daily sending limit.
    raise GoogleError(
        429, f"User-rate limit exceeded.  Retry after {rfc3339(retry_at, 3)} (Mail sending)",
        reason="rateLimitExceeded", domain="usageLimits",
        headers={"Retry-After": str(max(1, math.ceil(retry_at - call.now)))})


def _store_message(db: sqlite3.Connection, call: Call, mailbox: str, raw: bytes,
                   thread_id: str | None, *, draft_id: str | None = None,
                   check_limits: bool = True) -> dict[str, Any]:
    """Validate, complete and store one message; returns its Message resource."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    found = recipients(msg)  # raises "Invalid To header" on a malformed address
    if not found:
        raise _error(400, "Recipient address required")
    if check_limits:
        limit = int(call.settings.get("gmail_max_recipients") or 100)
        if len(found) > limit:
            raise _error(400, f"Too many recipients: {len(found)} exceeds the limit of "
                              f"{limit} recipients per message")
        _check_daily_limit(db, call, mailbox)
    raw, msg = add_missing_headers(raw, msg, mailbox, call.now,
                                   lambda: f"<{new_id(32)}@mail.gmail.com>")
    message_id, seq = _new_message_id(db, call)
    if thread_id:
        known = db.execute("SELECT 1 FROM gmail_messages WHERE mailbox = ? AND thread_id = ?",
                           (mailbox, thread_id)).fetchone()
        if not known:
            raise not_found()
    labels = ["DRAFT"] if draft_id else ["SENT"]
    rfc822_id = str(msg.get("Message-ID", "")).strip().strip("<>")
    from_addr = email.utils.parseaddr(str(msg.get("From", "")))[1].lower()
    db.execute(
        "INSERT INTO gmail_messages(id, seq, mailbox, thread_id, rfc822_id, from_addr, recipients,"
        " subject, internal_date, sent_at, label_ids, draft_id, raw)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, seq, mailbox, thread_id or message_id, rfc822_id, from_addr,
         json.dumps(found, ensure_ascii=False), str(msg.get("Subject", "")),
         int(call.now * 1000), call.now, json.dumps(labels), draft_id, raw))
    return {"id": message_id, "threadId": thread_id or message_id, "labelIds": labels}


@handles("gmail.users.messages.send")
def messages_send(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    body = call.body or {}
    raw = _raw_from_call(call, body)
    return _store_message(call.db, call, mailbox, raw, body.get("threadId"))


def _row(db: sqlite3.Connection, mailbox: str, message_id: str) -> sqlite3.Row:
    if not all(c in "0123456789abcdefABCDEF" for c in message_id) or len(message_id) > 16:
        raise _error(400, "Invalid id value")
    row = db.execute("SELECT * FROM gmail_messages WHERE mailbox = ? AND id = ?",
                     (mailbox, message_id.lower())).fetchone()
    if row is None:
        raise not_found()
    return row


def _history_id(row: sqlite3.Row) -> str:
    return str(1000 + int(row["seq"]))


def render(row: sqlite3.Row, fmt: str = "full", metadata_headers: list[str] | None = None) -> dict[str, Any]:
    """A stored message as `messages.get` shows it in format `fmt`."""
    raw = bytes(row["raw"])
    out: dict[str, Any] = {"id": row["id"], "threadId": row["thread_id"],
                           "labelIds": json.loads(row["label_ids"])}
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out["snippet"] = snippet(msg)
    out["sizeEstimate"] = len(raw)
    out["historyId"] = _history_id(row)
    out["internalDate"] = str(row["internal_date"])
    if fmt == "raw":
        out["raw"] = base64.urlsafe_b64encode(raw).decode("ascii")
    elif fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers or []}
        part = payload(msg, "", bodies=False)
        out["payload"] = {"mimeType": part["mimeType"],
                          "headers": [h for h in part["headers"]
                                      if not wanted or h["name"].lower() in wanted]}
    elif fmt == "full":
        out["payload"] = payload(msg, "")
    return out


@handles("gmail.users.messages.get")
def messages_get(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    row = _row(call.db, mailbox, call.params["id"])
    return render(row, call.params.get("format") or "full", call.params.get("metadataHeaders"))


@handles("gmail.users.messages.list")
def messages_list(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    terms = parse_query(call.params.get("q") or "")
    sql = "SELECT * FROM gmail_messages WHERE mailbox = ?"
    args: list[Any] = [mailbox]
    for negated, key, value in terms:  # the Message-ID lookup goes through the index
        if key == "rfc822msgid" and not negated:
            sql += " AND rfc822_id = ?"
            args.append(value.strip().strip("<>"))
    wanted_labels = [l.upper() for l in call.params.get("labelIds") or []]
    rows = call.db.execute(sql + " ORDER BY seq DESC", args).fetchall()
    found = []
    for row in rows:
        labels = json.loads(row["label_ids"])
        if any(l not in labels for l in wanted_labels):
            continue
        if all(matches(row, labels, key, value) != negated for negated, key, value in terms):
            found.append(row)
    size = call.params.get("maxResults") or 100
    size = min(max(int(size), 1), MAX_RESULTS_CAP)
    token = call.params.get("pageToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, binascii.Error):
            raise _error(400, "Invalid pageToken", reason="invalid", location="pageToken") from None
    page = found[start:start + size]
    result: dict[str, Any] = {}
    if page:  # Gmail omits `messages` altogether when nothing matches
        result["messages"] = [{"id": r["id"], "threadId": r["thread_id"]} for r in page]
    if start + size < len(found):
        result["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    result["resultSizeEstimate"] = len(found)
    return result


@handles("gmail.users.getProfile")
def get_profile(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    row = call.db.execute("SELECT COUNT(*), COUNT(DISTINCT thread_id), MAX(seq) FROM "
                          "gmail_messages WHERE mailbox = ?", (mailbox,)).fetchone()
    return {"emailAddress": mailbox, "messagesTotal": row[0], "threadsTotal": row[1],
            "historyId": str(1000 + (row[2] or 0))}


# -- drafts -----------------------------------------------------------------
@handles("gmail.users.drafts.create")
def drafts_create(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    message = (call.body or {}).get("message") or {}
    raw = _raw_from_call(call, message)
    draft_id = "r" + str(call.store.next_counter(call.db, "gmail_draft") * 7919 + 10**15)
    stored = _store_message(call.db, call, mailbox, raw, message.get("threadId"),
                            draft_id=draft_id, check_limits=False)
    return {"id": draft_id, "message": stored}


@handles("gmail.users.drafts.send")
def drafts_send(call: Call) -> dict[str, Any]:
    mailbox = _mailbox(call)
    body = call.body or {}
    draft_id = body.get("id")
    if not draft_id:
        raise _error(400, "Invalid draft")
    row = call.db.execute("SELECT * FROM gmail_messages WHERE mailbox = ? AND draft_id = ?",
                          (mailbox, draft_id)).fetchone()
    if row is None:
        raise not_found()
    message = body.get("message") or {}
    raw = _raw_from_call(call, message) if (call.media or message.get("raw")) else bytes(row["raw"])
    # Sending a draft turns it into a sent message: the draft is gone afterwards.
    call.db.execute("DELETE FROM gmail_messages WHERE id = ?", (row["id"],))
    return _store_message(call.db, call, mailbox, raw, row["thread_id"]
                          if row["thread_id"] != row["id"] else None)


# -- export -------------------------------------------------------------------
def sent_messages(store: Store) -> list[tuple[str, bytes]]:
    """(Gmail id, exact RFC 2822 bytes) of every message Gmail accepted for
    sending, in every mailbox, oldest first."""
    with store.transaction(write=False) as db:
        rows = db.execute("SELECT id, raw FROM gmail_messages WHERE draft_id IS NULL "
                          "ORDER BY seq").fetchall()
    return [(r["id"], bytes(r["raw"])) for r in rows]
