"""The ledger's promises: keys make queuing idempotent, SENDING is durable
before a send, a dead run's SENDING becomes UNKNOWN, one sender at a time; the
Gmail adapter hands a message over exactly once; and the confirmations follow
the confirmed list, a bad address costing one letter, never the job."""
from __future__ import annotations

import email
import email.policy
import io
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sandbox.api.forms_responses import submit_responses
from tests.conftest import open_ws, run_job_as_cli
from workflows import confirmations
from workflows.base import Job, JobContext, JobResult, NoOptions, run_job
from workspace import outbox
from workspace.clients import Workspace
from workspace.gmail import GmailAdapter, SendUnclear
from workspace.locks import Busy, Holder, HostLocks
from workspace.outbox import Ledger, NewMessage, message_key, open_ledger
from workspace.table import KeyedTable


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
    first, second = HostLocks(tmp_path / "locks"), HostLocks(tmp_path / "locks")  # two processes
    holder = Holder("send-outbox", "2024-10-01 08:00:00")
    with first.hold(["job-send-outbox"], holder):
        with pytest.raises(Busy), second.hold(["job-send-outbox"], holder):
            pass
        with first.hold(["job-send-outbox"]):      # re-entrant within the run that holds it
            pass
    with second.hold(["job-send-outbox"], holder):
        pass


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


def test_outbox_lock_is_a_file_of_its_own_beside_the_ledger(tmp_path: Path) -> None:
    holder = Holder("send-outbox", "2024-10-01 08:00:00", pid=1, host="may-chu")
    with HostLocks(tmp_path / "locks").hold(["tab-outbox"], holder):
        assert (tmp_path / "locks" / "tab-outbox.lock").exists()
        # The SQLite file's own locks are untouched: another connection still writes.
        with Ledger(tmp_path / "o.db") as second:
            assert second.queue([_msg(1)]) == 1
            # Another process (its own lock file descriptor) is refused and told who holds it.
            with pytest.raises(Busy) as busy, HostLocks(tmp_path / "locks").hold(
                    ["tab-outbox"], Holder("send-invitations", "x"), wait_s=0.2):
                pass
            assert busy.value.holder == holder


def test_readonly_ledger_creates_no_file_and_reads_an_existing_one(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db", readonly=True) as ledger:
        assert ledger.keys() == set() and ledger.due() == []
    assert list(tmp_path.iterdir()) == []
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1)])
    before = sorted(p.name for p in tmp_path.iterdir())
    with Ledger(tmp_path / "o.db", readonly=True) as ledger:
        assert [m.key for m in ledger.due()] == ["thu-moi:KM001:1"]
        with pytest.raises(sqlite3.OperationalError):
            ledger.queue([_msg(2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cancel_only_waiting_messages_and_requeue_only_for_its_reason(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1), _msg(2), _msg(3)])
        ledger.claim("thu-moi:KM003:1")
        assert not ledger.cancel("thu-moi:KM003:1", "x")  # handed over: too late to cancel
        assert ledger.cancel("thu-moi:KM001:1", "left the list")
        assert ledger.cancel("thu-moi:KM002:1", "staff")
        assert ledger.get("thu-moi:KM001:1").error == "left the list"
        fresh = NewMessage(**{**_msg(1).__dict__, "subject": "S1 (mới)"})
        assert ledger.requeue(fresh, "left the list")
        assert not ledger.requeue(_msg(2), "left the list")  # cancelled by a person: stays
        back = ledger.get("thu-moi:KM001:1")
        assert (back.state, back.subject, back.error) == (outbox.QUEUED, "S1 (mới)", "")
        assert ledger.get("thu-moi:KM002:1").state == outbox.CANCELLED


def test_replace_only_while_waiting_and_heads_show_the_latest_step(tmp_path: Path) -> None:
    with Ledger(tmp_path / "o.db") as ledger:
        ledger.queue([_msg(1), _msg(2)])
        fresh = NewMessage(**{**_msg(1).__dict__, "email": "moi@x.example", "recipient": "B"})
        assert ledger.replace(fresh)
        got = ledger.get("thu-moi:KM001:1")
        assert (got.email, got.recipient, got.state, got.version) == ("moi@x.example", "B",
                                                                      outbox.QUEUED, 2)
        ledger.claim("thu-moi:KM002:1")
        late = NewMessage(**{**_msg(2).__dict__, "email": "moi@x.example"})
        assert not ledger.replace(late)                     # SENDING: never changed
        assert ledger.get("thu-moi:KM002:1").email == "k2@x.example"
        ledger.mark_sent("thu-moi:KM002:1", "g1")
        ledger.queue([NewMessage(**{**late.__dict__, "key": message_key("thu-moi", "KM002", 2)})])
        heads = ledger.heads("thu-moi")
        assert {k: (h.step, h.email, h.state) for k, h in heads.items()} == {
            "KM001": (1, "moi@x.example", outbox.QUEUED),
            "KM002": (2, "moi@x.example", outbox.QUEUED)}


# -- confirmations against the sandbox ----------------------------------------------

def _ctx_run(config: Any, fn: Any, dry_run: bool = False) -> Any:
    """Run `fn(ctx)` inside a job (its own log row), with the real clients."""
    with open_ws(config) as ws:
        ctx = JobContext(config=config, ws=ws, dry_run=dry_run,
                         console=Console(file=io.StringIO(), width=200))
        box: dict[str, Any] = {}

        def job(c: JobContext, opts: NoOptions) -> JobResult:
            box["result"] = fn(c)
            return JobResult(figures=box["result"].figures(), notes=box["result"].notes())

        run_job(Job("test", NoOptions, job), ctx, NoOptions())
    return box["result"]


def _person(n: int, **over: str) -> dict[str, str]:
    return {"key": f"R{n:03d}", "honorific": "Bà", "full_name": f"Người Thứ {n}",
            "position": "Giáo viên", "unit": "Trường THPT Gia Định",
            "email": f"nguoi{n}@thpt.example", "checkin_code": f"HT24-{n:04d}", **over}


def _outbox_tab(config: Any) -> dict[str, dict[str, str]]:
    with open_ws(config) as ws:
        snap = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.outbox,
                          "outbox").read()
    return {r.key: r.values for r in snap.records}


def test_confirmation_with_a_non_ascii_address_is_skipped_and_the_others_queued(
        seeded_server, seeded_config) -> None:
    people = [_person(1), _person(2, email="bình.lê@gmail.com"), _person(3, email="a@sở.vn"),
              _person(4, checkin_code=""), _person(5, full_name="A\r\nBcc: x@evil.example")]
    result = _ctx_run(seeded_config, lambda ctx: confirmations.sync_confirmations(ctx, people))
    assert result.queued == 3 and set(result.skipped) == {"R002", "R004"}
    assert "trước dấu @" in result.skipped["R002"] and "Mã check-in" in result.skipped["R004"]
    notes = " ".join(result.notes())
    assert "R002" in notes and "bình" not in notes and "gmail" not in notes  # keys, no addresses
    with open_ledger(seeded_config) as ledger:
        letter = ledger.get(message_key(confirmations.CONFIRMATION, "R003"))
    msg = email.message_from_bytes(letter.raw, policy=email.policy.default)
    assert letter.email == "a@xn--s-lym.vn" and msg["To"].addresses[0].addr_spec == "a@xn--s-lym.vn"
    assert msg["Bcc"] is None
    assert _outbox_tab(seeded_config)[message_key(confirmations.CONFIRMATION, "R001")]["status"] == "Chờ gửi"


def test_sync_confirmations_cancels_the_no_longer_confirmed_and_takes_them_back(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    keys = {n: message_key(confirmations.CONFIRMATION, f"R{n:03d}") for n in (1, 2, 3)}
    first = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(1), _person(2),
                                                                       _person(3)]))
    assert first.queued == 3
    with open_ledger(config) as ledger:
        assert ledger.cancel(keys[3], "staff")             # a person cancelled R003 meanwhile
    again = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(1), _person(3)]))
    assert (again.queued, again.cancelled) == (0, 1)
    tab = _outbox_tab(config)
    assert tab[keys[2]]["status"] == "Đã huỷ" and "Đã xác nhận" in tab[keys[2]]["error"]
    dry = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(1), _person(2)]),
                   dry_run=True)
    assert (dry.requeued, dry.cancelled) == (1, 0)
    with open_ledger(config) as ledger:
        assert ledger.get(keys[2]).state == outbox.CANCELLED   # the dry run changed nothing
    back = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(1), _person(2),
                                                                      _person(3)]))
    assert (back.queued, back.requeued, back.cancelled) == (0, 1, 0)
    with open_ledger(config) as ledger:
        states = {n: ledger.get(k).state for n, k in keys.items()}
    # R002 waits again; R003, cancelled by a person, is not brought back by a sync.
    assert states == {1: outbox.QUEUED, 2: outbox.QUEUED, 3: outbox.CANCELLED}
    assert _outbox_tab(config)[keys[2]]["status"] == "Chờ gửi"
    assert len(_outbox_tab(config)) == 3


def test_registration_with_a_non_ascii_address_never_stops_the_sync(seeded_server,
                                                                     seeded_config) -> None:
    config = seeded_config
    form = config.google.forms.registration
    answers = [{"full_name": f"Người Thứ {n}", "honorific": "Bà", "position": "Giáo viên",
                "unit": "Trường THPT Gia Định", "delegation": "Sở GDĐT Thành phố Hồ Chí Minh",
                "email": address, "phone": f"0913{n:06d}", "consent": "Tôi đồng ý"}
               for n, address in ((1, "bình.lê@gmail.com"), (2, "a@sở.vn"),
                                  (3, "nguoi3@thpt.example"))]
    bad, idn, good = submit_responses(seeded_server.store, form.id,
                                      [{form.fields[k]: v for k, v in a.items()} for a in answers])
    result = run_job_as_cli(config, "sync-registrations", console=Console(file=io.StringIO()))
    with open_ws(config) as ws:
        snap = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.registrations,
                          "registrations").read()
    assert result.figures["dòng mới"] == 32
    assert "trước dấu @" in snap.by_key[bad]["problem"]
    assert snap.by_key[idn]["email"] == "a@xn--s-lym.vn" and not snap.by_key[idn]["problem"]
    with open_ledger(config) as ledger:
        queued = ledger.keys(confirmations.CONFIRMATION)
        assert ledger.get(message_key(confirmations.CONFIRMATION, idn)).email == "a@xn--s-lym.vn"
    assert {message_key(confirmations.CONFIRMATION, k) for k in (idn, good)} <= queued
    assert message_key(confirmations.CONFIRMATION, bad) not in queued


def test_lookup_waits_a_minute_on_google_unless_the_config_says_otherwise() -> None:
    from workspace.config import Mail

    assert Mail().lookup_delay("google") == 60 and Mail().lookup_delay("sandbox") == 2
    assert Mail(lookup_after_s=90).lookup_delay("google") == 90


def test_sync_confirmations_remakes_only_the_waiting_letter_whose_address_or_name_changed(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    keys = {n: message_key(confirmations.CONFIRMATION, f"R{n:03d}") for n in (1, 2, 3)}
    _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(n) for n in (1, 2, 3)]))
    people = [_person(1, email="nguoi1.moi@thpt.example"), _person(2, full_name="Trần Thị Hai"),
              _person(3, position="Tổ trưởng")]        # Chức vụ is not compared: nothing to do
    dry = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, people), dry_run=True)
    assert (dry.replaced, dry.queued) == (2, 0)
    with open_ledger(config) as ledger:
        assert ledger.get(keys[1]).email == "nguoi1@thpt.example"      # the dry run changed nothing
    result = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, people))
    assert (result.replaced, result.queued, result.requeued) == (2, 0, 0)
    assert result.figures()["thư xác nhận làm lại"] == 2
    with open_ledger(config) as ledger:
        one, two, three = (ledger.get(keys[n]) for n in (1, 2, 3))
    to = email.message_from_bytes(one.raw, policy=email.policy.default)["To"].addresses[0]
    assert (one.email, to.addr_spec, one.state) == ("nguoi1.moi@thpt.example",
                                                   "nguoi1.moi@thpt.example", outbox.QUEUED)
    shown = email.message_from_bytes(two.raw, policy=email.policy.default)["To"].addresses[0]
    assert (two.recipient, shown.display_name) == ("Trần Thị Hai", "Trần Thị Hai")
    assert three.version == 1                                # not rendered, not touched
    tab = _outbox_tab(config)
    assert tab[keys[1]]["email"] == "nguoi1.moi@thpt.example" and len(tab) == 3
    again = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, people))
    assert (again.replaced, again.queued) == (0, 0)          # settled: nothing rendered again


def test_sync_confirmations_sends_a_next_step_when_the_letter_went_to_an_old_address(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    keys = {n: message_key(confirmations.CONFIRMATION, f"R{n:03d}") for n in (1, 2, 3, 4)}
    _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, [_person(n) for n in (1, 2, 3, 4)]))
    with open_ledger(config) as ledger:
        for n in (1, 2, 3, 4):
            ledger.claim(keys[n])
        ledger.mark_sent(keys[1], "g1")
        ledger.mark_failed(keys[2], "refused")
        ledger.mark_unknown(keys[3], "cut")
        ledger.mark_sent(keys[4], "g4")
    people = [_person(n, email=f"moi{n}@thpt.example") for n in (1, 2, 3)]
    people.append(_person(4, full_name="Tên Đã Sửa"))       # sent to the right address: enough
    result = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, people))
    assert (result.queued, result.replaced, result.unclear) == (2, 0, ["R003"])
    notes = " ".join(result.notes())
    assert "R003" in notes and "Không rõ" in notes and "moi3" not in notes
    with open_ledger(config) as ledger:
        for n in (1, 2):
            assert ledger.get(keys[n]).email == f"nguoi{n}@thpt.example"   # history kept
            step2 = ledger.get(message_key(confirmations.CONFIRMATION, f"R{n:03d}", 2))
            assert (step2.email, step2.state, step2.source_key) == (f"moi{n}@thpt.example",
                                                                   outbox.QUEUED, f"R{n:03d}")
        assert ledger.get(message_key(confirmations.CONFIRMATION, "R003", 2)) is None
        assert ledger.get(message_key(confirmations.CONFIRMATION, "R004", 2)) is None
    assert _outbox_tab(config)[message_key(confirmations.CONFIRMATION, "R001", 2)]["status"] == "Chờ gửi"
    again = _ctx_run(config, lambda ctx: confirmations.sync_confirmations(ctx, people))
    assert (again.queued, again.replaced) == (0, 0)          # the next step is the head now


def test_a_ledger_made_world_readable_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "outbox.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(path, 0o644)
    with Ledger(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
