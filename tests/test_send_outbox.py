"""send-invitations and send-outbox against the sandbox: exactly one message
per recipient through crashes (SIGKILL), injected failures and the daily limit."""
from __future__ import annotations

import collections
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

import pytest
from rich.console import Console

from sandbox.api.gmail import sent_messages
from sandbox.server import Options, SandboxServer
from tests.conftest import ROOT, child_env, run_cli
from workflows import mail, send_invitations, send_outbox
from workflows.base import JobContext, run_job
from workspace import outbox
from workspace.clients import Workspace
from workspace.config import load
from workspace.outbox import NewMessage, message_key
from workspace.retry import RetryPolicy


def _config(data: Path, **env: str) -> Any:
    return load(data / "config.yaml", environ={f"HOITHAO_{k.upper()}": v for k, v in env.items()})


def _job(config: Any, module: Any, **options: Any) -> tuple[Any, str]:
    out = io.StringIO()
    # Transient errors retried without real waits (the sandbox injects them on purpose).
    with Workspace.open(config, policy=RetryPolicy(sleep=lambda s: None)) as ws:
        ctx = JobContext(config=config, ws=ws, console=Console(file=out, width=200),
                         dry_run=options.pop("dry_run", False))
        options.setdefault("sleep", lambda s: None)
        for key, value in options.items():
            setattr(ctx, key, value)
        result = run_job(module.__name__, module.run, ctx)
    return result, out.getvalue()


def _mailbox(server: SandboxServer) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for _, raw in sent_messages(server.store):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for addr in msg["To"].addresses:
            counts[addr.addr_spec] += 1
    return counts


def _queue_many(config: Any, n: int) -> list[str]:
    """n distinct recipients queued straight into the ledger (the seed has 78 invitees)."""
    rendered = mail.render("xac-nhan", mail.sample_context(config, "xac-nhan"))
    addresses = [f"dai.bieu{i:03d}@khach-moi.example" for i in range(n)]
    with mail.open_ledger(config) as ledger:
        ledger.queue(NewMessage(key=message_key("xac-nhan", f"R{i:03d}"), kind="xac-nhan", email=a,
                                subject=rendered.subject, raw=mail.build_message(
                                    config, f"Đại biểu {i}", a, rendered), recipient=f"Đại biểu {i}")
                     for i, a in enumerate(addresses))
    return addresses


def _values(server_url: str, config: Any, tab: str) -> list[list[Any]]:
    with Workspace.open(config) as ws:
        return ws.spreadsheet(config.google.spreadsheet_id).worksheet(tab).get_all_values()


def test_invitations_go_exactly_once_and_the_sheet_mirrors_them(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    result, _ = _job(config, send_invitations, all_=True)
    assert result.figures["thư mời xếp hàng"] == 78
    again, _ = _job(config, send_invitations, all_=True)
    assert again.figures["thư mời xếp hàng"] == 0
    before = seeded_server.store.requests(0)
    sent, _ = _job(config, send_outbox)
    calls = seeded_server.store.requests(before[-1]["seq"] if before else 0)
    assert sent.figures["đã gửi"] == 78 and sent.figures["còn lại"] == 0
    sheets_calls = [c for c in calls if c["api"] == "sheets"]
    assert len(sheets_calls) <= 30, "mirror writes per batch, not per message"
    box = _mailbox(seeded_server)
    assert len(box) == 78 and set(box.values()) == {1}
    assert _job(config, send_outbox)[0].figures["đã gửi"] == 0
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
    with Workspace.open(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Khách mời")
        sheet.update([[""]], "B2", raw=True)                       # KM001: no honorific
        sheet.update([["khong-phai-email"]], "H3", raw=True)       # KM002: bad email
        sheet.update([[True]], "J4", raw=True)                     # KM003: ticked
        sheet.update([[True]], "J3", raw=True)                     # KM002: ticked
        sheet.update([[True]], "J2", raw=True)                     # KM001: ticked
    result, _ = _job(config, send_invitations)
    assert result.figures["thư mời xếp hàng"] == 1 and result.figures["bỏ qua vì có vấn đề"] == 2
    rows = {r[0]: r for r in _values(seeded_server.url, config, "Khách mời")}
    header = rows["Mã khách mời"]
    problem = header.index("Vấn đề")
    assert "Danh xưng" in rows["KM001"][problem]
    assert "Email không hợp lệ" in rows["KM002"][problem]
    assert rows["KM003"][problem] == "" and rows["KM003"][header.index("Trạng thái thư mời")] == "Đã xếp hàng"


def test_preview_prints_letters_and_changes_nothing(seeded: Path, seeded_server) -> None:
    out = run_cli("--config", str(seeded / "config.yaml"), "send-invitations", "--preview", "2",
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Kính gửi:") == 2 and "08 giờ 00, thứ Sáu" in out.stdout
    assert not (seeded / "outbox.db").exists() or not mail.open_ledger(_config(seeded)).keys()
    assert sent_messages(seeded_server.store) == []
    assert len(_values(seeded_server.url, _config(seeded), "Nhật ký")) == 1


def test_test_to_sends_one_sample_and_records_nothing(seeded: Path, seeded_server) -> None:
    config = _config(seeded)
    result, _ = _job(config, send_invitations, test_to="thu.nghiem@hcm.edu.vn")
    assert result.figures["thư thử"] == 1
    assert _mailbox(seeded_server) == {"thu.nghiem@hcm.edu.vn": 1}
    with mail.open_ledger(config) as ledger:
        assert ledger.keys() == set()


def test_approval_required_sends_only_ticked_messages(seeded: Path, seeded_server) -> None:
    config = _config(seeded, mail__approval_required="true")
    _job(config, send_invitations, all_=True)
    assert _job(config, send_outbox)[0].figures["đã gửi"] == 0
    with Workspace.open(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Hộp thư đi")
        rows = sheet.get_all_values()
        assert {r[5] for r in rows[1:]} == {"Chờ duyệt"}
        row = next(i for i, r in enumerate(rows, start=1) if r[0] == "thu-moi:KM005:1")
        sheet.update([[True]], f"G{row}", raw=True)
    result, _ = _job(config, send_outbox)
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
                _job(config, send_outbox)
            except Exception:  # an injected failure in a sheet or token call: run again
                pass
            with mail.open_ledger(config) as ledger:
                counts = ledger.counts()
            if set(counts) == {outbox.SENT}:
                break
        assert counts == {outbox.SENT: 60}
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
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
    result, _ = _job(config, send_outbox)
    assert result.figures["đã gửi"] == 50 and result.figures["còn lại"] == 70
    assert any("Còn 70 thư" in n and "lần chạy sau" in n for n in result.notes)
    assert _job(config, send_outbox)[0].figures["đã gửi"] == 0
    tomorrow = time.time() + 86_401
    assert _job(config, send_outbox, clock=lambda: tomorrow)[0].figures["đã gửi"] == 50


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
            child = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
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
        with mail.open_ledger(config) as ledger:
            assert ledger.counts() == {outbox.SENT: 200}
        box = _mailbox(server)
        assert {a: box[a] for a in addresses} == {a: 1 for a in addresses}
        assert sum(box.values()) == 200
    finally:
        server.stop()


def test_exported_eml_opens_with_vietnamese_subject_and_both_parts(seeded: Path, seeded_server,
                                                                    tmp_path: Path) -> None:
    from sandbox.export import export

    config = _config(seeded)
    _job(config, send_invitations, all_=True)
    _job(config, send_outbox, limit=3)
    counts = export(seeded, tmp_path / "out")  # its own server over the same folder
    assert counts["mail"] == 3
    first = sorted((tmp_path / "out" / "mail").glob("*.eml"))[0]
    msg = email.message_from_bytes(first.read_bytes(), policy=email.policy.default)
    assert str(msg["Subject"]).startswith("Thư mời tham dự Hội thảo khoa học \"Dữ liệu lớn")
    assert msg["Message-ID"] and msg["Reply-To"] == config.mail.reply_to
    types = {p.get_content_type() for p in msg.walk() if not p.is_multipart()}
    assert types == {"text/plain", "text/html"}
    assert "Kính gửi:" in msg.get_body(("plain",)).get_content()
