"""The ledger's promises: keys make queuing idempotent, SENDING is durable
before a send, a dead run's SENDING becomes UNKNOWN, one sender at a time; and
the Gmail adapter hands a message over exactly once."""
from __future__ import annotations

import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from workspace import outbox
from workspace.clients import Workspace
from workspace.gmail import GmailAdapter, SendUnclear
from workspace.outbox import Ledger, NewMessage, OutboxBusy, message_key


def _msg(i: int) -> NewMessage:
    return NewMessage(key=message_key("thu-moi", f"KM{i:03d}"), kind="thu-moi",
                      email=f"k{i}@x.example", subject=f"S{i}", raw=b"To: k@x.example\r\n\r\nhi\r\n",
                      source="invitees", source_key=f"KM{i:03d}")


def test_queue_twice_is_a_no_op(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        assert ledger.queue([_msg(1), _msg(2)]) == 2
        assert ledger.queue([_msg(1), _msg(2), _msg(3)]) == 1
        assert ledger.counts() == {outbox.QUEUED: 3}
        assert message_key("thu-moi", "KM001") == "thu-moi:KM001:1"


def test_claim_is_on_disk_with_our_message_id_before_the_send(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db", msgid_domain="hcm.edu.vn") as ledger:
        ledger.queue([_msg(1)])
        claimed = ledger.claim("thu-moi:KM001:1")
        # Another connection (a later process) sees SENDING and the Message-ID already.
        other = sqlite3.connect(tmp_path / "o.db")
        state, mid = other.execute("SELECT state, message_id FROM messages").fetchone()
        assert state == outbox.SENDING and mid == claimed.message_id and mid.endswith("@hcm.edu.vn>")
        assert claimed.wire_bytes().startswith(f"Message-ID: {mid}\r\n".encode())
        with pytest.raises(ValueError):
            ledger.claim("thu-moi:KM001:1")  # not due any more


def test_sending_found_at_start_becomes_unknown_and_never_due(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1), _msg(2)])
        ledger.claim("thu-moi:KM001:1")
    with Ledger(tmp_path / "o.db") as ledger:  # "restart"
        assert ledger.recover() == 1
        assert ledger.get("thu-moi:KM001:1").state == outbox.UNKNOWN
        assert [m.key for m in ledger.due()] == ["thu-moi:KM002:1"]
        assert ledger.sent_since(0) == 1  # it may have gone: it counts against the day


def test_resend_only_from_failed_unknown_or_cancelled(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1), _msg(2)])
        ledger.claim("thu-moi:KM001:1")
        ledger.mark_sent("thu-moi:KM001:1", "abc")
        assert not ledger.resend("thu-moi:KM001:1")
        ledger.claim("thu-moi:KM002:1")
        ledger.mark_failed("thu-moi:KM002:1", "Invalid To header")
        assert ledger.resend("thu-moi:KM002:1")
        again = ledger.get("thu-moi:KM002:1")
        assert again.state == outbox.QUEUED and again.message_id == "" and again.attempts == 1


def test_approval_moves_only_ticked_messages(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1), _msg(2)], awaiting_approval=True)
        assert ledger.due() == []
        assert ledger.approve(["thu-moi:KM002:1", "nope"]) == 1
        assert [m.key for m in ledger.due()] == ["thu-moi:KM002:1"]


def test_only_one_sender_at_a_time(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as first, Ledger(tmp_path / "o.db") as second:
        first.lock()
        with pytest.raises(OutboxBusy):
            second.lock()
        first.unlock()
        second.lock()


def test_unmirrored_until_marked_with_the_version_seen(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1)])
        seen = {m.key: m.version for m in ledger.unmirrored()}
        ledger.claim("thu-moi:KM001:1")  # changes after the mirror read
        ledger.mark_mirrored(seen)
        assert [m.key for m in ledger.unmirrored()] == ["thu-moi:KM001:1"]


def test_send_is_never_replayed_when_the_connection_drops(tmp_path: Path) -> None:
    """A server that reads the request and hangs up without answering: httplib2
    would silently send the POST again; our adapter sends once and says unclear.
    (A raw socket stands in for Gmail at the HTTP boundary.)"""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    requests: list[bytes] = []

    def serve() -> None:
        listener.settimeout(3)
        try:
            while True:
                conn, _ = listener.accept()
                conn.settimeout(2)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(
                        b"content-length")][0].split(b":")[1])
                    while len(body) < length:
                        body += conn.recv(65536)
                    requests.append(head.split(b"\r\n")[0])
                finally:
                    conn.close()
        except OSError:
            return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    from google.oauth2.credentials import Credentials
    ws = Workspace(Credentials(token="t"), f"http://127.0.0.1:{listener.getsockname()[1]}")
    with pytest.raises(SendUnclear):
        GmailAdapter(ws, timeout=5).send(b"To: a@x.example\r\nSubject: s\r\n\r\nhi\r\n")
    listener.close()
    thread.join(timeout=5)
    assert len(requests) == 1 and requests[0].startswith(b"POST ")
