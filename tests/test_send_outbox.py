"""send-invitations and send-outbox against the sandbox: exactly one message
per recipient through crashes (SIGKILL), injected failures and the daily limit;
bad addresses cost one row, never the run; staff resend and cancel; dry runs
write nothing."""
from __future__ import annotations

import collections
import datetime as dt
import email
import email.policy
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from rich.console import Console

from sandbox.api.gmail import sent_messages
from sandbox.server import Options, SandboxServer
from tests.conftest import ROOT, child_env, mailbox_counts, open_ws, run_cli, run_job_as_cli
from workflows import letters
from workflows.jobs import load_config as load
from workspace import outbox
from workspace.errors import HoithaoError
from workspace.outbox import NewMessage, message_key, open_ledger
from workspace.retry import RetryPolicy


TODAY = dt.date(2024, 10, 1)


def _config(data: Path, **env: str) -> Any:
    """The seeded config; without the letter PDF unless `mail__letter_template`
    is given (these tests are about the outbox; test_letter_pdf is about the PDF)."""
    env.setdefault("mail__letter_template", "")
    return load(data / "config.yaml", environ={f"HOITHAO_{k.upper()}": v for k, v in env.items()})


def _job(config: Any, name: str, **options: Any) -> tuple[Any, str]:
    out = io.StringIO()
    options.setdefault("sleep", lambda s: None)
    # Transient errors retried without real waits (the sandbox injects them on purpose).
    result = run_job_as_cli(config, name, console=Console(file=out, width=200),
                            policy=RetryPolicy(sleep=lambda s: None), **options)
    return result, out.getvalue()


def _mailbox(server: SandboxServer) -> collections.Counter:
    return mailbox_counts(server.store)


def _queue_many(config: Any, n: int) -> list[str]:
    """n distinct recipients queued straight into the ledger (the seed has 78 invitees)."""
    rendered = letters.render("xac-nhan", letters.sample_context(config, "xac-nhan", TODAY))
    addresses = [f"dai.bieu{i:03d}@khach-moi.example" for i in range(n)]
    with open_ledger(config) as ledger:
        ledger.queue(NewMessage(key=message_key("xac-nhan", f"R{i:03d}"), kind="xac-nhan", email=a,
                                subject=rendered.subject, raw=letters.build_message(
                                    config, f"Đại biểu {i}", a, rendered), recipient=f"Đại biểu {i}")
                     for i, a in enumerate(addresses))
    return addresses


def _values(server_url: str, config: Any, tab: str) -> list[list[Any]]:
    with open_ws(config) as ws:
        return ws.spreadsheet(config.google.spreadsheet_id).worksheet(tab).get_all_values()


def test_invitations_go_exactly_once_and_the_sheet_mirrors_them(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    result, _ = _job(config, "send-invitations", all_invitees=True)
    assert result.figures["thư mời xếp hàng"] == 78
    again, _ = _job(config, "send-invitations", all_invitees=True)
    assert again.figures["thư mời xếp hàng"] == 0
    before = seeded_server.store.requests(0)
    sent, _ = _job(config, "send-outbox")
    calls = seeded_server.store.requests(before[-1]["seq"] if before else 0)
    assert sent.figures["đã gửi"] == 78 and sent.figures["còn lại"] == 0
    sheets_calls = [c for c in calls if c["api"] == "sheets"]
    assert len(sheets_calls) <= 30, "mirror writes per batch, not per message"
    box = _mailbox(seeded_server)
    assert len(box) == 78 and set(box.values()) == {1}
    assert _job(config, "send-outbox")[0].figures["đã gửi"] == 0
    rows = _values(seeded_server.url, config, "Khách mời")
    header = rows[0]
    status = {r[0]: r[header.index("Trạng thái thư mời")] for r in rows[1:]}
    assert set(status.values()) == {"Đã gửi"}
    assert all(r[header.index("Ngày gửi")] for r in rows[1:])
    outbox_rows = _values(seeded_server.url, config, "Hộp thư đi")
    assert len(outbox_rows) == 79 and {r[5] for r in outbox_rows[1:]} == {"Đã gửi"}
    letter = next(raw for _, raw in sent_messages(seeded_server.store))
    text = email.message_from_bytes(letter, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "usp=pp_url&entry." in text and "KM0" in text


def test_rows_with_problems_are_skipped_with_a_reason(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Khách mời")
        sheet.update([[""]], "B2", raw=True)                       # KM001: no honorific
        sheet.update([["khong-phai-email"]], "H3", raw=True)       # KM002: bad email
        sheet.update([["bình.lê@gmail.com"]], "H5", raw=True)      # KM004: accents before @
        sheet.update([["a@sở.vn"]], "H6", raw=True)                # KM005: accented domain
        sheet.update([["x"]], "J6", raw=True)                      # KM005: ticked, typed
        for row in (2, 3, 4, 5):                                   # KM001…KM004: ticked
            sheet.update([[True]], f"J{row}", raw=True)
    result, _ = _job(config, "send-invitations")
    assert result.figures["thư mời xếp hàng"] == 2 and result.figures["bỏ qua vì có vấn đề"] == 3
    rows = {r[0]: r for r in _values(seeded_server.url, config, "Khách mời")}
    header = rows["Mã khách mời"]
    problem, status = header.index("Vấn đề"), header.index("Trạng thái thư mời")
    assert "Danh xưng" in rows["KM001"][problem]
    assert "Email không đúng định dạng" in rows["KM002"][problem]
    assert "trước dấu @" in rows["KM004"][problem] and rows["KM004"][status] != "Đã xếp hàng"
    for key in ("KM003", "KM005"):
        assert rows[key][problem] == "" and rows[key][status] == "Đã xếp hàng"
    sent, _ = _job(config, "send-outbox")
    assert sent.figures["đã gửi"] == 2
    assert _mailbox(seeded_server)["a@xn--s-lym.vn"] == 1


def test_preview_prints_letters_and_changes_nothing(seeded: Path, seeded_server) -> None:
    out = run_cli("--config", str(seeded / "config.yaml"), "send-invitations", "--preview", "2",
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Kính gửi:") == 2 and "08 giờ 00, thứ Sáu" in out.stdout
    assert not (seeded / "outbox.db").exists() or not open_ledger(_config(seeded)).keys()
    assert sent_messages(seeded_server.store) == []
    assert len(_values(seeded_server.url, _config(seeded), "Nhật ký")) == 1


def test_test_to_sends_one_sample_and_records_nothing(seeded: Path, seeded_server) -> None:
    """The test letter is the letter a guest gets (the seeded letter template's
    PDF attached), addressed to the tester's name and address."""
    config = load(seeded / "config.yaml", environ={})   # the seeded config: its letter template
    assert config.mail.letter_template
    result, _ = _job(config, "send-invitations", test_to="Trần Thử Nghiệm <thu.nghiem@hcm.edu.vn>")
    assert result.figures["thư thử"] == 1
    assert _mailbox(seeded_server) == {"thu.nghiem@hcm.edu.vn": 1}
    (_, raw), = sent_messages(seeded_server.store)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"].addresses[0].display_name == "Trần Thử Nghiệm"
    assert message["Subject"].startswith("[Thư thử] Thư mời tham dự")
    pdf = next(message.iter_attachments())
    assert pdf.get_filename().startswith("Giay-moi-KM") and pdf.get_content().startswith(b"%PDF")
    with open_ledger(config) as ledger:
        assert ledger.keys() == set()


def test_approval_required_sends_only_ticked_messages(seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__approval_required="true")
    _job(config, "send-invitations", all_invitees=True)
    assert _job(config, "send-outbox")[0].figures["đã gửi"] == 0
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Hộp thư đi")
        rows = sheet.get_all_values()
        assert {r[5] for r in rows[1:]} == {"Chờ duyệt"}
        row = next(i for i, r in enumerate(rows, start=1) if r[0] == "thu-moi:KM005:1")
        sheet.update([[True]], f"G{row}", raw=True)
    result, _ = _job(config, "send-outbox")
    assert result.figures["đã gửi"] == 1 and result.figures["chờ duyệt"] == 77
    assert len(_mailbox(seeded_server)) == 1


def test_failures_at_20_percent_still_one_message_per_recipient(seeded: Path) -> None:
    server = SandboxServer(seeded, options=Options(seed=5, fail_rate=0.2, fail_after_rate=0.2)).start()
    os.environ["HOITHAO_GOOGLE_URL"] = server.url
    try:
        config = _config(seeded, mail__lookup_sent="true", mail__lookup_after_s="0")
        addresses = _queue_many(config, 60)
        for _ in range(40):
            try:
                _job(config, "send-outbox")
            except Exception:  # an injected failure in a sheet or token call: run again
                pass
            with open_ledger(config) as ledger:
                counts, behind = ledger.counts(), ledger.unmirrored()
            if set(counts) == {outbox.SENT} and not behind:
                break
        assert counts == {outbox.SENT: 60} and behind == []
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
        # Appends whose answer was lost were not made twice: one row per message in the sheet.
        with open_ws(config, policy=RetryPolicy(sleep=lambda s: None)) as ws:
            tab = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Hộp thư đi")
            rows = collections.Counter(r[0] for r in tab.get_all_values()[1:])
        assert set(rows) == {message_key("xac-nhan", f"R{i:03d}") for i in range(60)}
        assert set(rows.values()) == {1}
    finally:
        os.environ.pop("HOITHAO_GOOGLE_URL", None)
        server.stop()


def test_daily_limit_stops_cleanly_and_the_next_window_sends_the_rest(seeded: Path) -> None:
    server = SandboxServer(seeded, options=Options(seed=3, gmail_daily_limit=50)).start()
    try:
        addresses = _queue_many(_config(seeded), 120)
        env = child_env(HOITHAO_GOOGLE_URL=server.url, HOITHAO_MAIL__PER_MINUTE="600")
        args = ("--config", str(seeded / "config.yaml"), "send-outbox")
        first = run_cli(*args, env=env)
        assert first.returncode == 0, first.stderr
        assert "Còn 70 thư sẽ gửi ở lần chạy sau" in first.stdout
        assert len(sent_messages(server.store)) == 50
        for day, expected in ((1, 100), (2, 120)):
            # The next day, on the sandbox's clock: the daily window has passed.
            server.store.set_settings(clock_offset_s=day * 86_401)
            out = run_cli(*args, env=env)
            assert out.returncode == 0, out.stderr
            assert len(sent_messages(server.store)) == expected
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
    finally:
        server.stop()


def test_our_daily_limit_stops_before_gmail_and_resumes_after_24h(seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__daily_limit="50")
    _queue_many(config, 120)
    result, _ = _job(config, "send-outbox")
    assert result.figures["đã gửi"] == 50 and result.figures["còn lại"] == 70
    assert any("Còn 70 thư" in n and "lần chạy sau" in n for n in result.notes)
    assert _job(config, "send-outbox")[0].figures["đã gửi"] == 0
    tomorrow = time.time() + 86_401
    assert _job(config, "send-outbox", clock=lambda: tomorrow)[0].figures["đã gửi"] == 50


def test_sigkill_at_random_moments_loses_nothing_and_sends_nothing_twice(seeded: Path) -> None:
    server = SandboxServer(seeded, options=Options(seed=11, latency_ms=5)).start()
    rng = random.Random(2024)
    try:
        config = _config(seeded)
        addresses = _queue_many(config, 200)
        db = seeded / "outbox.db"
        env = child_env(HOITHAO_GOOGLE_URL=server.url, HOITHAO_MAIL__PER_MINUTE="600",
                        HOITHAO_MAIL__LOOKUP_SENT="true", HOITHAO_MAIL__LOOKUP_AFTER_S="0.2")
        cmd = [sys.executable, str(ROOT / "run.py"), "--config", str(seeded / "config.yaml"),
               "send-outbox"]
        # Each killed run may send at most 8, so however fast the machine, 22 kills
        # (at most 176 sends) come before the mail-out is done.
        capped = cmd + ["--limit", "8"]

        def count(state: str) -> int:
            with sqlite3.connect(db) as con:
                return con.execute("SELECT COUNT(*) FROM messages WHERE state = ?",
                                   (state,)).fetchone()[0]

        def sent() -> int:
            return count("SENT")

        kills = mid_send = 0
        while kills < 22:
            start = sent()
            if start >= 190:
                break
            child = subprocess.Popen(capped, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while sent() == start and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.06))  # somewhere in the middle of a send
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            mid_send += count("SENDING")  # killed between "SENDING" and Gmail's answer
        final = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert kills >= 20 and mid_send >= 3, (kills, mid_send)
        with open_ledger(config) as ledger:
            assert ledger.counts() == {outbox.SENT: 200}
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
        assert sum(box.values()) == 200
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_request_mid_mail_out_writes_what_was_sent_and_nothing_goes_twice(seeded: Path,
                                                                                  sig: int) -> None:
    """Ctrl-C, or systemd stopping the service: the message in hand is finished,
    `Hộp thư đi` and `Nhật ký` say what was sent, the run exits 0, and the next
    run sends the rest, each once."""
    server = SandboxServer(seeded, options=Options(latency_ms=80)).start()
    try:
        config = _config(seeded)
        addresses = _queue_many(config, 60)   # seconds of sending left when the signal comes
        env = child_env(HOITHAO_GOOGLE_URL=server.url, HOITHAO_MAIL__PER_MINUTE="600")
        cmd = [sys.executable, str(ROOT / "run.py"), "--config", str(seeded / "config.yaml"), "send-outbox"]
        child = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        deadline = time.monotonic() + 60
        while sum(_mailbox(server).values()) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, (out, err)
        assert "Đã dừng theo yêu cầu" in out, out
        with open_ledger(config, readonly=True) as ledger:
            sent = ledger.counts().get(outbox.SENT, 0)
            assert ledger.counts().get(outbox.SENDING, 0) == 0     # the one in hand was finished
        assert 3 <= sent < 60, sent
        assert sum(_mailbox(server).values()) == sent
        rows = _values(server.url, config, "Hộp thư đi")
        state = rows[0].index("Trạng thái")
        assert collections.Counter(r[state] for r in rows[1:])["Đã gửi"] == sent
        runs = _values(server.url, config, "Nhật ký")
        last = dict(zip(runs[0], runs[-1]))
        assert last["Công việc"] == "send-outbox" and last["Kết quả"] == "Dừng giữa chừng", last
        assert f"đã gửi: {sent}" in last["Số liệu"], last
        final = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
    finally:
        server.stop()


def test_exported_eml_opens_with_vietnamese_subject_and_both_parts(seeded: Path, seeded_server,
                                                                    tmp_path: Path) -> None:
    from sandbox.export import export

    config = _config(seeded)
    _job(config, "send-invitations", all_invitees=True)
    _job(config, "send-outbox", limit=3)
    counts = export(seeded, tmp_path / "out")  # its own server over the same folder
    assert counts["mail"] == 3
    first = sorted((tmp_path / "out" / "mail").glob("*.eml"))[0]
    msg = email.message_from_bytes(first.read_bytes(), policy=email.policy.default)
    assert str(msg["Subject"]).startswith("Thư mời tham dự Hội thảo khoa học \"Dữ liệu lớn")
    assert msg["Message-ID"] and msg["Reply-To"] == config.mail.reply_to
    types = {p.get_content_type() for p in msg.walk() if not p.is_multipart()}
    assert types == {"text/plain", "text/html"}
    assert "Kính gửi:" in msg.get_body(("plain",)).get_content()


# -- staff actions, dry runs, the mirror's pace (review of issue #5) ----------------

def _tick(config: Any, key: str, label: str, value: Any = True) -> None:
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Hộp thư đi")
        rows = sheet.get_all_values()
        row = next(i for i, r in enumerate(rows, start=1) if r[0] == key)
        sheet.update([[value]], f"{chr(65 + rows[0].index(label))}{row}", raw=True)


def test_resend_needs_the_gui_lai_box_not_the_approval_tick(seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__approval_required="true")
    key = "thu-moi:KM006:1"
    _job(config, "send-invitations", all_invitees=True)
    _tick(config, key, "Duyệt")
    with open_ledger(config) as ledger:  # approved, then refused by Gmail for good
        ledger.approve([key])
        ledger.claim(key)
        ledger.mark_failed(key, "Gmail từ chối (400): Invalid To header")
    _job(config, "send-outbox")
    with pytest.raises(HoithaoError, match="Gửi lại"):
        _job(config, "send-outbox", resend=key)  # Duyệt is still ticked: that decided nothing
    _tick(config, key, "Gửi lại")
    result, _ = _job(config, "send-outbox", resend=key)
    assert result.figures["đã gửi"] == 1 and any("gửi lại theo yêu cầu" in n for n in result.notes)
    assert sum(_mailbox(seeded_server).values()) == 1
    with open_ledger(config) as ledger:
        assert ledger.get(key).state == outbox.SENT and ledger.get(key).attempts == 2


def test_resend_without_a_gui_lai_column_says_how_to_add_it(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    _queue_many(config, 1)
    key = message_key("xac-nhan", "R000")
    with open_ledger(config) as ledger:
        ledger.cancel(key, "x")
    with open_ws(config) as ws:  # a sheet laid out exactly as SPEC section 2, no extra column
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Hộp thư đi")
        sheet.update([[""]], f"{chr(65 + sheet.row_values(1).index('Gửi lại'))}1", raw=True)
    with pytest.raises(HoithaoError, match="chưa có cột 'Gửi lại'"):
        _job(config, "send-outbox", resend=key)
    assert _job(config, "send-outbox")[0].figures["đã gửi"] == 0  # the rest still runs


def test_cancel_stops_a_waiting_message_and_sends_nothing(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    _queue_many(config, 3)
    key = message_key("xac-nhan", "R001")
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url)
    args = ("--config", str(seeded / "config.yaml"), "send-outbox")
    out = run_cli(*args, "--cancel", key, env=env)
    assert out.returncode == 0, out.stderr
    assert sent_messages(seeded_server.store) == []
    rows = {r[0]: r for r in _values(seeded_server.url, config, "Hộp thư đi")}
    assert rows[key][5] == "Đã huỷ" and "--cancel" in rows[key][10]
    assert run_cli(*args, env=env).returncode == 0
    assert sorted(_mailbox(seeded_server)) == ["dai.bieu000@khach-moi.example",
                                               "dai.bieu002@khach-moi.example"]
    again = run_cli(*args, "--cancel", message_key("xac-nhan", "R000"), env=env)
    assert again.returncode == 1 and "chỉ thư 'Chờ gửi' hoặc 'Chờ duyệt'" in again.stdout + again.stderr


def test_dry_runs_create_and_change_no_file(seeded: Path, seeded_server) -> None:
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url)
    base = ("--config", str(seeded / "config.yaml"))

    def files() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in seeded.iterdir() if p.name.startswith("outbox")}

    for args in (("send-outbox", "--dry-run"), ("send-invitations", "--dry-run", "--all"),
                 ("send-invitations", "--preview", "1")):
        out = run_cli(*base, *args, env=env)
        assert out.returncode == 0, out.stderr
        assert files() == {}, args
    _queue_many(_config(seeded), 4)
    before = files()
    out = run_cli(*base, "send-outbox", "--dry-run", env=env)
    assert out.returncode == 0 and "sẽ gửi" in out.stdout
    assert files() == before and sent_messages(seeded_server.store) == []


def test_mirror_follows_the_clock_not_the_number_of_messages(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    _queue_many(config, 40)

    def outbox_reads(since: int) -> int:
        return sum(1 for r in seeded_server.store.requests(since)
                   if r["method_id"] == "sheets.spreadsheets.values.get"
                   and "Hộp thư đi" in unquote(r["path"]))

    start = seeded_server.store.last_request_seq()
    still = time.time()
    assert _job(config, "send-outbox", no_pacing=True, limit=20,
                clock=lambda: still)[0].figures["đã gửi"] == 20
    # No time passed: the mirror at the start and the one at the end (each a read and
    # a verifying read at most), whatever the number of messages.
    assert outbox_reads(start) <= 4
    start = seeded_server.store.last_request_seq()
    ticks = iter(range(10**6))
    # Every reading of the clock is 10 s later: a mirror every few messages.
    assert _job(config, "send-outbox", no_pacing=True,
                clock=lambda: still + 10 * next(ticks))[0].figures["đã gửi"] == 20
    assert 8 <= outbox_reads(start) <= 40


def test_all_skips_invitees_who_registered_but_honours_a_tick(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    _job(config, "sync-registrations")     # the seed's sample registrations use KM001…KM012
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Khách mời")
        header = sheet.row_values(1)
        sheet.update_cell(2, header.index("Gửi thư mời") + 1, "x")   # staff tick KM001 anyway
    result, _ = _job(config, "send-invitations", all_invitees=True)
    assert result.figures["đã đăng ký, không mời lại"] == 11
    assert result.figures["thư mời xếp hàng"] == 78 - 11
    with open_ledger(config, readonly=True) as ledger:
        queued = ledger.keys("thu-moi")
    assert message_key("thu-moi", "KM001") in queued
    assert message_key("thu-moi", "KM002") not in queued
    # The sheet tells the story: those who registered before any letter say so.
    rows = _values(seeded_server.url, config, "Khách mời")
    status = {r[0]: r[rows[0].index("Trạng thái thư mời")] for r in rows[1:]}
    assert [k for k, v in status.items() if v == "Đã đăng ký"] == [f"KM{i:03d}" for i in range(2, 13)]
    assert status["KM001"] == "Đã xếp hàng" and status["KM013"] == "Đã xếp hàng"
    assert result.figures["ghi 'Đã đăng ký' (đăng ký trước khi được mời)"] == 11
    again, _ = _job(config, "send-invitations", all_invitees=True)   # said once
    assert "ghi 'Đã đăng ký' (đăng ký trước khi được mời)" not in again.figures
    # KM002 withdraws: the sheet no longer says registered, and --all does not invite them.
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Đăng ký")
        head = sheet.row_values(1)
        row = next(i for i, r in enumerate(sheet.get_all_values(), start=1)
                   if r[head.index("Mã khách mời")] == "KM002")
        sheet.update_cell(row, head.index("Rút đăng ký") + 1, True)
    _job(config, "sync-registrations")
    third, _ = _job(config, "send-invitations", all_invitees=True)
    assert third.figures["thư mời xếp hàng"] == 0
    rows = _values(seeded_server.url, config, "Khách mời")
    assert {r[0]: r[rows[0].index("Trạng thái thư mời")] for r in rows[1:]}["KM002"] == "Chưa gửi"


def test_a_letter_cancelled_while_its_batch_is_sent_is_skipped_not_a_crash(
        seeded: Path, seeded_server) -> None:
    """sync-registrations may cancel a confirmation (the person left the
    confirmed list) while send-outbox sends the batch holding it."""
    from workflows import send_outbox
    from workflows.base import JobContext
    from workspace.gmail import GmailAdapter

    config = _config(seeded)
    addresses = _queue_many(config, 3)
    with open_ws(config) as ws, open_ledger(config) as ledger:
        batch = ledger.due()
        assert ledger.cancel(batch[1].key, "Huỷ tự động: người đăng ký không còn ở trạng thái Đã "
                                           "xác nhận nên thư xác nhận chưa gửi được huỷ.")
        ctx = JobContext(config=config, ws=ws, console=Console(file=io.StringIO()))
        tally = send_outbox.send_due(ctx, ledger, GmailAdapter(ws), batch, None, lambda s: None)
        assert ledger.get(batch[1].key).state == outbox.CANCELLED
    assert (tally.sent, tally.failed, tally.unknown) == (2, 0, 0)
    assert sorted(_mailbox(seeded_server)) == [addresses[0], addresses[2]]


def test_a_stop_during_the_wait_before_looking_up_unknown_messages_leaves_them_unknown(
        seeded: Path, seeded_server) -> None:
    """A lookup cut short could miss a letter Gmail is still filing, and send it
    again: a stop during that wait leaves `Không rõ` for the next run or a person."""
    from workflows import send_outbox
    from workflows.base import JobContext, Stop
    from workspace.gmail import GmailAdapter

    config = _config(seeded, mail__lookup_sent="true", mail__lookup_after_s="30")
    _queue_many(config, 1)
    stop = Stop()
    waited: list[float] = []

    def sleep(seconds: float) -> None:   # SIGTERM arrives while it waits
        waited.append(seconds)
        stop.request("SIGTERM")
    with open_ws(config) as ws, open_ledger(config) as ledger:
        message = ledger.due()[0]
        ledger.claim(message.key)
        ledger.mark_unknown(message.key, "mất câu trả lời (thử)")
        ctx = JobContext(config=config, ws=ws, console=Console(file=io.StringIO()), stop=stop, sleep=sleep)
        notes = send_outbox.resolve_unknown(ctx, ledger, GmailAdapter(ws), sleep, time.time)
        assert waited and notes and "Không rõ" in notes[0]
        assert ledger.get(message.key).state == outbox.UNKNOWN
