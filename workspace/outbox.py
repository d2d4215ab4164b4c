"""The outbox ledger: an SQLite file on the server, the authority on what was sent.

A message's key says what it is (`thu-moi:KM001:1` = kind, recipient key,
step), so queuing it twice is a no-op. States:

    QUEUED / AWAITING_APPROVAL -> SENDING -> SENT | FAILED | UNKNOWN
    (any not yet sent) -> CANCELLED

SENDING is committed, with a Message-ID of our own, *before* the message is
handed to Gmail; a SENDING row found when a run starts belongs to a run that
died mid-send and becomes UNKNOWN: it is looked up in the mailbox by that
Message-ID (where the scope allows) or left for a person, never re-sent
blindly. `Hộp thư đi` and the source rows mirror this file; when the mirror
fails, this file is still right and the next run mirrors again. Every change
is an SQLite transaction, so jobs may queue while a sender sends; who may
send or mirror at a time is decided by the run's locks (workspace.locks).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from .config import Config


QUEUED = "QUEUED"
AWAITING_APPROVAL = "AWAITING_APPROVAL"
SENDING = "SENDING"
SENT = "SENT"
FAILED = "FAILED"
UNKNOWN = "UNKNOWN"
CANCELLED = "CANCELLED"

# How each state reads in `Hộp thư đi` (SPEC section 2).
LABELS = {AWAITING_APPROVAL: "Chờ duyệt", QUEUED: "Chờ gửi", SENDING: "Đang gửi", SENT: "Đã gửi",
          FAILED: "Lỗi", UNKNOWN: "Không rõ", CANCELLED: "Đã huỷ"}
# States a person may send again with `send-outbox --resend KEY`.
RESENDABLE = (FAILED, UNKNOWN, CANCELLED)
# States a message may be cancelled from (it has not been handed to Gmail).
CANCELLABLE = (QUEUED, AWAITING_APPROVAL)

# What stands for a name or an address the tool erased (privacy erase/purge):
# a message whose address reads so is settled, never sent or sent again.
ERASED = "(đã xoá)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',      -- the table the recipient comes from (invitees, ...)
    source_key TEXT NOT NULL DEFAULT '',  -- the recipient's key in that table
    recipient TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw BLOB NOT NULL,                    -- the rendered message, without Message-ID and Date
    state TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    gmail_id TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    queued_at REAL NOT NULL,
    sending_at REAL,
    sent_at REAL,
    version INTEGER NOT NULL DEFAULT 1,   -- bumped on every change
    mirrored INTEGER NOT NULL DEFAULT 0   -- the version last written to the sheet
);
CREATE INDEX IF NOT EXISTS messages_state ON messages(state, queued_at, key);
CREATE INDEX IF NOT EXISTS messages_sent ON messages(sent_at);
"""


@dataclass(frozen=True)
class NewMessage:
    """A rendered message to queue."""
    key: str
    kind: str
    email: str
    subject: str
    raw: bytes
    recipient: str = ""
    source: str = ""
    source_key: str = ""


@dataclass(frozen=True)
class Message:
    key: str
    kind: str
    source: str
    source_key: str
    recipient: str
    email: str
    subject: str
    raw: bytes
    state: str
    message_id: str
    gmail_id: str
    attempts: int
    error: str
    queued_at: float
    sending_at: float | None
    sent_at: float | None
    version: int

    def wire_bytes(self) -> bytes:
        """The exact bytes handed to Gmail: our Message-ID and a Date, then the message."""
        head = (f"Message-ID: {self.message_id}\r\n"
                f"Date: {email.utils.format_datetime(_utc(self.sending_at or time.time()))}\r\n")
        return head.encode("ascii") + self.raw


@dataclass(frozen=True)
class Head:
    """A message's key, addressee and state, without its body (Ledger.heads)."""
    key: str
    source_key: str
    recipient: str
    email: str
    state: str
    error: str

    @property
    def step(self) -> int:
        """The step the key ends with (`xac-nhan:R001:2` -> 2)."""
        tail = self.key.rpartition(":")[2]
        return int(tail) if tail.isdigit() else 1


class NotWaiting(ValueError):
    """The message is not waiting to be sent any more (cancelled, sent, …)."""


def message_key(kind: str, recipient_key: str, step: int = 1) -> str:
    """The key of a message: what it is, never when it was made."""
    return f"{kind}:{recipient_key}:{step}"


class Ledger:
    """The outbox file. Every change is its own durable transaction.

    `readonly=True` (dry runs, previews) never creates or changes a file: a
    missing ledger reads as an empty one (held in memory), an existing one is
    opened read-only."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time,
                 msgid_domain: str = "hoithao.local", readonly: bool = False):
        self.path = Path(path)
        self.clock = clock
        self.msgid_domain = msgid_domain
        self.readonly = readonly
        if readonly:
            self.db = _open_readonly(self.path)
            self.db.row_factory = sqlite3.Row
            return
        _create_private(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a SENDING row must be on disk before the message leaves.
        self.db.execute("PRAGMA synchronous=FULL")
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reading ------------------------------------------------------------------
    def get(self, key: str) -> Message | None:
        row = self.db.execute("SELECT * FROM messages WHERE key = ?", (key,)).fetchone()
        return _message(row) if row else None

    def keys(self, kind: str | None = None) -> set[str]:
        if kind is None:
            return {r[0] for r in self.db.execute("SELECT key FROM messages")}
        return {r[0] for r in self.db.execute("SELECT key FROM messages WHERE kind = ?", (kind,))}

    def heads(self, kind: str) -> dict[str, "Head"]:
        """The latest step of every `kind` message, by source key, without the
        message bodies: what a sync compares its people with before rendering."""
        out: dict[str, Head] = {}
        for row in self.db.execute("SELECT key, source_key, recipient, email, state, error "
                                   "FROM messages WHERE kind = ?", (kind,)):
            head = Head(*row)
            known = out.get(head.source_key)
            if known is None or head.step > known.step:
                out[head.source_key] = head
        return out

    def in_state(self, *states: str) -> list[Message]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(f"SELECT * FROM messages WHERE state IN ({marks}) "
                               f"ORDER BY queued_at, key", states).fetchall()
        return [_message(r) for r in rows]

    def due(self) -> list[Message]:
        """Messages waiting to be sent, oldest first (never an erased one)."""
        return [m for m in self.in_state(QUEUED) if m.email != ERASED]

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state")}

    def sent_since(self, moment: float) -> int:
        """Messages handed to Gmail since `moment` (the ledger's side of the daily limit);
        SENDING and UNKNOWN count too: they may have gone."""
        return self.db.execute("SELECT COUNT(*) FROM messages WHERE (state = ? AND sent_at > ?) OR "
                               "(state IN (?, ?) AND sending_at > ?)",
                               (SENT, moment, SENDING, UNKNOWN, moment)).fetchone()[0]

    def has_unmirrored(self) -> bool:
        """Whether any change has not been written to the sheet yet."""
        return self.db.execute("SELECT 1 FROM messages WHERE version != mirrored LIMIT 1"
                               ).fetchone() is not None

    def unmirrored(self) -> list[Message]:
        rows = self.db.execute("SELECT * FROM messages WHERE version != mirrored "
                               "ORDER BY queued_at, key").fetchall()
        return [_message(r) for r in rows]

    # -- changes ----------------------------------------------------------------
    def queue(self, messages: Iterable[NewMessage], awaiting_approval: bool = False) -> int:
        """Add messages not yet in the ledger; return how many were new."""
        state = AWAITING_APPROVAL if awaiting_approval else QUEUED
        added = 0
        with self._tx() as db:
            for m in messages:
                cur = db.execute(
                    "INSERT OR IGNORE INTO messages(key, kind, source, source_key, recipient, email,"
                    " subject, raw, state, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m.key, m.kind, m.source, m.source_key, m.recipient, m.email, m.subject,
                     m.raw, state, self.clock()))
                added += cur.rowcount
        return added

    def _move(self, key: str, from_states: tuple[str, ...], sets: str, args: tuple) -> bool:
        marks = ",".join("?" * len(from_states))
        with self._tx() as db:
            cur = db.execute(f"UPDATE messages SET {sets}, version = version + 1 "
                             f"WHERE key = ? AND state IN ({marks})", (*args, key, *from_states))
            return cur.rowcount == 1

    def claim(self, key: str) -> Message:
        """QUEUED -> SENDING with a fresh Message-ID, committed before anything is sent."""
        mid = email.utils.make_msgid(idstring="hoithao", domain=self.msgid_domain)
        if not self._move(key, (QUEUED,), "state = ?, message_id = ?, sending_at = ?, "
                          "attempts = attempts + 1", (SENDING, mid, self.clock())):
            raise NotWaiting(f"message {key} is not waiting to be sent")
        return self.get(key)  # type: ignore[return-value]

    def mark_sent(self, key: str, gmail_id: str) -> None:
        self._move(key, (SENDING, UNKNOWN), "state = ?, gmail_id = ?, sent_at = ?, error = ''",
                   (SENT, gmail_id, self.clock()))

    def mark_failed(self, key: str, error: str) -> None:
        self._move(key, (SENDING,), "state = ?, error = ?", (FAILED, error[:500]))

    def mark_unknown(self, key: str, error: str) -> None:
        self._move(key, (SENDING,), "state = ?, error = ?", (UNKNOWN, error[:500]))

    def release(self, key: str, error: str = "") -> None:
        """Back to QUEUED: Gmail certainly did not take it (refused, or not in the mailbox)."""
        self._move(key, (SENDING, UNKNOWN), "state = ?, error = ?", (QUEUED, error[:500]))

    def recover(self) -> int:
        """SENDING rows left by a run that died -> UNKNOWN (call under the lock)."""
        with self._tx() as db:
            cur = db.execute("UPDATE messages SET state = ?, version = version + 1, error = ? "
                             "WHERE state = ?", (UNKNOWN, "lần gửi bị ngắt giữa chừng", SENDING))
            return cur.rowcount

    def approve(self, keys: Iterable[str]) -> int:
        """AWAITING_APPROVAL -> QUEUED for the messages a person ticked."""
        return sum(self._move(k, (AWAITING_APPROVAL,), "state = ?", (QUEUED,)) for k in keys)

    def resend(self, key: str) -> bool:
        """A person's explicit decision: send a FAILED/UNKNOWN/CANCELLED message
        again (never one whose content was erased)."""
        found = self.get(key)
        if found is not None and found.email == ERASED:
            return False
        return self._move(key, RESENDABLE, "state = ?, error = '', message_id = '', gmail_id = ''",
                          (QUEUED,))

    def erase(self, changes: Mapping[str, tuple[str, bytes]], reason: str) -> int:
        """Replace the content of these messages (key -> (subject, raw)) and
        their addressee with ERASED, keeping key, kind and times (the
        exactly-once record). One not known to be sent (waiting, `Không rõ`,
        left `Đang gửi` by a killed run) is cancelled with `reason`: it is
        never handed to Gmail again. The old content is overwritten on disk
        (secure_delete, and the write-ahead log truncated); False from
        `checkpointed` when another process holding the ledger open kept
        the log from being truncated."""
        if not changes:
            return 0
        open_states = (*CANCELLABLE, UNKNOWN, SENDING)
        marks = ",".join("?" * len(open_states))
        self.db.execute("PRAGMA secure_delete=ON")
        with self._tx() as db:
            for key, (subject, raw) in changes.items():
                db.execute(f"UPDATE messages SET recipient = ?, email = ?, subject = ?, raw = ?, "
                           f"state = CASE WHEN state IN ({marks}) THEN ? ELSE state END, "
                           f"error = CASE WHEN state IN ({marks}) THEN ? ELSE error END, "
                           f"version = version + 1 WHERE key = ?",
                           (ERASED, ERASED, subject, raw, *open_states, CANCELLED, *open_states,
                            reason[:500], key))
        self._truncate_log()
        return len(changes)

    def _truncate_log(self) -> None:
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        self.checkpointed = not busy

    checkpointed = True   # the last erase's old pages left the write-ahead log

    def rewrite(self, changes: Mapping[str, tuple[str, bytes]]) -> None:
        """New subject and content for these messages (an erased person's name
        or copy removed), the old overwritten on disk."""
        if not changes:
            return
        self.db.execute("PRAGMA secure_delete=ON")
        with self._tx() as db:
            db.executemany("UPDATE messages SET subject = ?, raw = ?, version = version + 1 WHERE key = ?",
                           [(subject, raw, key) for key, (subject, raw) in changes.items()])
        self._truncate_log()

    def settled_before(self, moment: float) -> list[Message]:
        """Messages done with (sent, failed, cancelled, not waiting or being
        sent) whose last time is before `moment`, not yet erased."""
        rows = self.db.execute(
            "SELECT * FROM messages WHERE state NOT IN (?, ?, ?, ?) AND email != ? "
            "AND COALESCE(sent_at, sending_at, queued_at) < ? ORDER BY key",
            (QUEUED, AWAITING_APPROVAL, SENDING, UNKNOWN, ERASED, moment))
        return [_message(r) for r in rows]

    def cancel(self, key: str, reason: str = "") -> bool:
        """A message not yet handed to Gmail -> CANCELLED, with the reason shown
        in `Lỗi`; False when it is not waiting (sent, sending, …)."""
        return self._move(key, CANCELLABLE, "state = ?, error = ?", (CANCELLED, reason[:500]))

    def requeue(self, message: NewMessage, reason: str, awaiting_approval: bool = False) -> bool:
        """A message cancelled for `reason` (and only that reason) waits again,
        with freshly rendered content: e.g. a confirmation cancelled because the
        person left the confirmed list, who is now back on it."""
        state = AWAITING_APPROVAL if awaiting_approval else QUEUED
        with self._tx() as db:
            cur = db.execute("UPDATE messages SET state = ?, error = '', email = ?, subject = ?, "
                             "raw = ?, recipient = ?, version = version + 1 "
                             "WHERE key = ? AND state = ? AND error = ?",
                             (state, message.email, message.subject, message.raw,
                              message.recipient, message.key, CANCELLED, reason[:500]))
            return cur.rowcount == 1

    def replace(self, message: NewMessage, awaiting_approval: bool = False) -> bool:
        """A message still waiting (QUEUED or AWAITING_APPROVAL) gets freshly
        rendered content under the same key, e.g. a confirmation whose person
        corrected their email; False when it is not waiting any more (SENDING,
        sent, …): what was handed to Gmail is never changed."""
        state = AWAITING_APPROVAL if awaiting_approval else QUEUED
        marks = ",".join("?" * len(CANCELLABLE))
        with self._tx() as db:
            cur = db.execute(f"UPDATE messages SET state = ?, email = ?, subject = ?, raw = ?, "
                             f"recipient = ?, version = version + 1 "
                             f"WHERE key = ? AND state IN ({marks})",
                             (state, message.email, message.subject, message.raw,
                              message.recipient, message.key, *CANCELLABLE))
            return cur.rowcount == 1

    def mark_mirrored(self, versions: dict[str, int]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE messages SET mirrored = ? WHERE key = ?",
                           [(v, k) for k, v in versions.items()])


def _create_private(path: Path) -> None:
    """The ledger holds names, addresses and letters: a new one, and each folder
    made for it, is private (0600 / 0700) from the start, whatever the umask.
    SQLite gives the -wal and -shm files it adds the database file's own mode."""
    missing = []
    folder = path.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # A ledger made before ledgers were private: others lose read access
        # (it and its SQLite side files) when ours to change.
        for item in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
            try:
                if not item.is_symlink() and item.stat().st_mode & 0o077:
                    os.chmod(item, 0o600)
            except (FileNotFoundError, PermissionError):
                pass
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that writes nothing anywhere (see Ledger)."""
    if not path.exists():
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.executescript(_SCHEMA)
        return db
    if path.with_name(path.name + "-wal").exists():
        # A writer is (or was) at work: read through its journal; its files exist already.
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    # No journal: read the file as it is, without creating -wal/-shm files beside it.
    return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None)


def _utc(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc)


def _message(row: sqlite3.Row) -> Message:
    return Message(**{k: row[k] for k in row.keys() if k != "mirrored"})


def open_ledger(config: Config, clock: Callable[[], float] = time.time,
                readonly: bool = False) -> Ledger:
    """The outbox ledger the config names (mail.ledger, relative to the config
    file); `readonly` (dry runs) creates and changes no file."""
    domain = config.google.sender_mailbox.rpartition("@")[2] or "hoithao.local"
    return Ledger(config.resolve(config.mail.ledger), clock=clock, msgid_domain=domain,
                  readonly=readonly)
