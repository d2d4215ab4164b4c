"""Two runs never overlap (issue #8, item 1): every run holds `job-<name>` and
`tab-<table>` for each tab it writes, as lock files in `locks/` beside the
config. A run started by hand that finds a lock taken exits 1 at once with one
Vietnamese line naming the holder and a `Không chạy` row in Nhật ký; a
scheduled run waits up to locks.scheduled_wait_s; the OS frees the lock of a
killed process. Real processes, real clients, the sandbox over HTTP."""
from __future__ import annotations

import collections
import email
import email.policy
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.api.forms_responses import submit_responses
from sandbox.api.gmail import sent_messages
from sandbox.seed_data import DELEGATIONS
from tests.conftest import (ROOT, child_env, mailbox_counts, open_ws, registration_answers, run_cli,
                            run_job_as_cli)
from workflows.jobs import load_config
from workspace.errors import JobBusy
from workspace.locks import Holder, HostLocks
from workspace.outbox import open_ledger

DELEGATION_NAMES = {code: name for code, name, _, _ in DELEGATIONS}
SEEDED_RESPONSES = 29        # the seeded registration form's responses
SEEDED_INVITEES = 78         # rows of the seeded Khách mời
NOT_RUN, SUCCEEDED = "Không chạy", "Thành công"
CONFIRMED = "Đã xác nhận"
MANUAL, SCHEDULED = "thủ công", "lịch"


# -- helpers ---------------------------------------------------------------------

def _config(seeded: Path, **env: str) -> Any:
    return load_config(seeded / "config.yaml",
                       environ={f"HOITHAO_{k.upper()}": v for k, v in env.items()})


# The races are about locks, not the PDF letter (test_letter_pdf's): without it
# an invitation makes no Doc and --all is not paced under the Docs quota.
NO_LETTER_PDF = {"HOITHAO_MAIL__LETTER_TEMPLATE": ""}


def _command(seeded: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "--config", str(seeded / "config.yaml"), *args]


def _tabs(config: Any, *names: str) -> dict[str, list[dict[str, str]]]:
    """Each table's rows (after the header) as {field: cell text}, fields named
    as the config names them."""
    out: dict[str, list[dict[str, str]]] = {}
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        for name in names:
            table = getattr(config.sheets, name)
            values = sh.worksheet(table.tab).get_all_values()
            header = values[0]
            index = {f: header.index(label) for f, label in table.columns.items() if label in header}
            out[name] = [{f: (row[i] if i < len(row) else "") for f, i in index.items()}
                         for row in values[1:]]
    return out


def _runs(config: Any, job: str) -> list[dict[str, str]]:
    return [r for r in _tabs(config, "runs")["runs"] if r["job"] == job]


@dataclass
class Finished:
    job: str
    pid: int
    returncode: int
    stdout: str
    stderr: str


def _race(*runs: tuple[str, list[str], dict[str, str]]) -> list[Finished]:
    """Start every (job, command, env) at the same moment (a barrier releases
    all the threads that start them), then wait for all."""
    barrier = threading.Barrier(len(runs))
    finished: list[Finished | None] = [None] * len(runs)
    errors: list[BaseException] = []

    def start(i: int, job: str, cmd: list[str], env: dict[str, str]) -> None:
        try:
            barrier.wait(timeout=30)
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                out, err = proc.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            finished[i] = Finished(job, proc.pid, proc.returncode, out, err)
        except BaseException as exc:  # shown by the caller
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i, *run)) for i, run in enumerate(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [f for f in finished if f is not None]


def _refusals(finished: list[Finished]) -> int:
    """Each run exited 0, or exited 1 with exactly one stderr line saying which
    other run (by job and process id, on this host) holds the lock. At least
    one of them ran. Returns how many were refused."""
    host = socket.gethostname()
    refused = 0
    for run in finished:
        if run.returncode == 0:
            continue
        assert run.returncode == 1, (run.job, run.returncode, run.stderr)
        lines = run.stderr.splitlines()
        assert len(lines) == 1, (run.job, run.stderr)
        line = lines[0]
        assert line.startswith("hoithao: "), line
        assert "đang chạy" in line or "đang ghi trang" in line, line
        others = [o for o in finished if o is not run]
        assert any(f"tiến trình {o.pid} trên máy {host}" in line and o.job in line
                   for o in others), (line, [(o.job, o.pid) for o in others])
        refused += 1
    assert refused < len(finished), [(r.job, r.stderr) for r in finished]
    return refused


def _answers(n: int) -> dict[str, str]:
    """A valid registration (a new person each n), in HCM or the unlimited KHAC."""
    return registration_answers(n, ("HCM", "KHAC")[n % 2], full_name=f"Người Đăng Ký {n}",
                                honorific=("Ông", "Bà")[n % 2], email=f"nguoi.dk{n}@thpt.example")


def _submit(server: Any, config: Any, people: list[dict[str, str]]) -> list[str]:
    form = config.google.forms.registration
    return submit_responses(server.store, form.id,
                            [{form.fields[k]: v for k, v in p.items()} for p in people])


def _person_row(by_key: dict[str, dict[str, str]], first: str) -> dict[str, str]:
    """The confirmed row of the person whose first response is `first`."""
    row = by_key[first]
    if row["status"] == CONFIRMED:
        return row
    named = [r for k, r in by_key.items() if k in row["problem"] and r["status"] == CONFIRMED]
    assert len(named) == 1, (first, row["status"], row["problem"])
    return named[0]


def _letter_text(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg.get_body(("plain",)).get_content()


def _add_invitees(config: Any, round_no: int, n: int) -> None:
    """n new people at the end of Khách mời, copied from its first row with
    their own code, name, email and phone, and no status yet."""
    table = config.sheets.invitees
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet(table.tab)
        values = sheet.get_all_values()
        header, first = values[0], values[1]
        rows = []
        for i in range(n):
            row = dict(zip(header, first))
            row.update({table.columns["key"]: f"KM9{round_no}{i}",
                        table.columns["full_name"]: f"Khách Mời Mới {round_no} {i}",
                        table.columns["email"]: f"khach.moi.{round_no}.{i}@khach-moi.example",
                        table.columns["phone"]: f"0987{round_no:03d}{i:03d}"})
            for field in ("send_invitation", "invitation_status", "sent_at", "problem", "notes"):
                row[table.columns[field]] = ""
            rows.append([row.get(h, "") for h in header])
        sheet.spreadsheet.values_append(f"'{table.tab}'!A1", params={"valueInputOption": "RAW"},
                                        body={"values": rows})


def _check_invitations_and_outbox(config: Any, complete: bool = True) -> dict[str, Any]:
    """At most one `thu-moi` message per invitee code (exactly one: `complete`),
    one `Hộp thư đi` row per message."""
    tabs = _tabs(config, "invitees", "outbox")
    codes = [r["key"] for r in tabs["invitees"] if r["key"]]
    with open_ledger(config, readonly=True) as ledger:
        keys = ledger.keys()
        invitations = [ledger.get(k) for k in ledger.keys("thu-moi")]
    per_code = collections.Counter(m.source_key for m in invitations)
    assert set(per_code.values()) <= {1}, [c for c, n in per_code.items() if n > 1]
    assert set(per_code) == set(codes) if complete else set(per_code) <= set(codes)
    rows = collections.Counter(r["key"] for r in tabs["outbox"])
    # (Empty when the only send-invitations so far was refused: nothing queued.)
    assert set(rows.values()) <= {1}, [k for k, n in rows.items() if n > 1]
    assert set(rows) == keys
    return {"codes": codes, "messages": invitations}


# -- 1. two sync-registrations at once, ten rounds ----------------------------------

def test_sync_registrations_twice_at_once_keeps_one_row_per_response(seeded: Path,
                                                                     seeded_server: Any) -> None:
    config = _config(seeded)
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **NO_LETTER_PDF)
    cmd = _command(seeded, "sync-registrations")
    submitted: list[str] = []
    overlapped = 0
    for round_no in range(10):
        submitted += _submit(seeded_server, config, [_answers(round_no * 5 + i) for i in range(5)])
        finished = _race(("sync-registrations", cmd, env), ("sync-registrations", cmd, env))
        refused = _refusals(finished)
        overlapped += refused > 0

        rows = _tabs(config, "registrations")["registrations"]
        per_key = collections.Counter(r["key"] for r in rows)
        assert set(per_key.values()) == {1}, [k for k, n in per_key.items() if n > 1]
        assert set(submitted) <= set(per_key)
        assert len(per_key) == SEEDED_RESPONSES + len(submitted)
        by_key = {r["key"]: r for r in rows}
        confirmed = {k for k, r in by_key.items() if r["status"] == CONFIRMED}
        with open_ledger(config, readonly=True) as ledger:
            letters = [ledger.get(k) for k in ledger.keys("xac-nhan")]
        # A letter is keyed by the person's first response; a person who sent the
        # form again is the later row (the earlier one `Trùng lặp`, naming it).
        person = {m.key: _person_row(by_key, m.source_key) for m in letters}
        per_person = collections.Counter(r["key"] for r in person.values())
        assert set(per_person.values()) == {1}, per_person
        assert set(per_person) == confirmed
        for letter in letters:
            code = person[letter.key]["checkin_code"]
            assert code, letter.key
            assert code in _letter_text(letter.raw), (letter.key, code)
        assert set(submitted[-5:]) <= confirmed
    print(f"\nsync-registrations: {overlapped} of 10 rounds overlapped (one run refused)")
    runs = _runs(config, "sync-registrations")
    assert collections.Counter(r["result"] for r in runs) == {SUCCEEDED: 20 - overlapped,
                                                              NOT_RUN: overlapped}
    assert all(r["trigger"] == MANUAL for r in runs)
    assert all("đang chạy" in r["error"] for r in runs if r["result"] == NOT_RUN)


# -- 2. send-invitations twice, and send-invitations against send-outbox -------------

def test_send_invitations_twice_at_once_queues_one_letter_per_invitee(seeded: Path,
                                                                      seeded_server: Any) -> None:
    config = _config(seeded)
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **NO_LETTER_PDF)
    cmd = _command(seeded, "send-invitations", "--all")
    overlapped = refusals = 0
    for round_no in range(3):
        if round_no:
            _add_invitees(config, round_no, 4)
        finished = _race(("send-invitations", cmd, env), ("send-invitations", cmd, env))
        refused = _refusals(finished)
        overlapped += refused > 0
        refusals += refused
        state = _check_invitations_and_outbox(config)
        assert len(state["codes"]) == SEEDED_INVITEES + 4 * round_no
    print(f"\nsend-invitations ×2: {overlapped} of 3 rounds overlapped")
    assert sent_messages(seeded_server.store) == []
    runs = _runs(config, "send-invitations")
    assert collections.Counter(r["result"] for r in runs) == {SUCCEEDED: 6 - refusals,
                                                              NOT_RUN: refusals}


def test_send_invitations_against_send_outbox_sends_nothing_twice(seeded: Path,
                                                                  seeded_server: Any) -> None:
    config = _config(seeded)
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **NO_LETTER_PDF)
    send_env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url, HOITHAO_MAIL__PER_MINUTE="600")
    invite = _command(seeded, "send-invitations", "--all")
    send = _command(seeded, "send-outbox")
    overlapped = 0

    def mailbox() -> collections.Counter:
        return mailbox_counts(seeded_server.store)

    for round_no in range(3):
        if round_no:
            _add_invitees(config, round_no, 4)
        finished = _race(("send-invitations", invite, env), ("send-outbox", send, send_env))
        refused = _refusals(finished)
        overlapped += refused > 0
        # send-outbox may have run first and send-invitations been refused: the
        # newest invitees may not be invited yet, but nobody twice.
        _check_invitations_and_outbox(config, complete=refused == 0)
        box = mailbox()
        assert set(box.values()) <= {1}, [a for a, n in box.items() if n > 1]
        with open_ledger(config, readonly=True) as ledger:
            assert ledger.counts().get("SENDING", 0) == 0
            assert ledger.counts().get("SENT", 0) == sum(box.values())
    print(f"\nsend-invitations vs send-outbox: {overlapped} of 3 rounds overlapped")

    for args, run_env in ((invite, env), (send, send_env)):   # whatever a refusal left
        last = run_cli(*args[2:], env=run_env)
        assert last.returncode == 0, last.stderr
    state = _check_invitations_and_outbox(config)
    box = mailbox()
    assert box == {m.email: 1 for m in state["messages"]}
    assert len(box) == SEEDED_INVITEES + 8
    outbox_rows = _tabs(config, "outbox")["outbox"]
    assert {r["status"] for r in outbox_rows} == {"Đã gửi"}


# -- 3. the refusal, deterministically; a killed holder frees its lock --------------

def test_sync_registrations_refused_while_its_lock_is_held(seeded: Path, seeded_server: Any) -> None:
    config = _config(seeded)
    locks = config.resolve(config.locks.dir)
    assert locks == seeded / "locks"
    before = _tabs(config, "registrations")["registrations"]
    holder = Holder("sync-registrations", "2024-10-01 08:00:00", pid=424242, host="may-chu-khac")
    with HostLocks(locks).hold(["job-sync-registrations"], holder):
        out = run_cli(*_command(seeded, "sync-registrations")[2:],
                      env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 1, (out.returncode, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("hoithao: Một lượt sync-registrations khác đang chạy"), lines[0]
    assert "2024-10-01 08:00:00" in lines[0] and "tiến trình 424242 trên máy may-chu-khac" in lines[0]
    assert _tabs(config, "registrations")["registrations"] == before == []
    runs = _runs(config, "sync-registrations")
    assert [(r["trigger"], r["result"]) for r in runs] == [(MANUAL, NOT_RUN)]
    assert runs[0]["error"] == lines[0].removeprefix("hoithao: ")
    ledger = config.resolve(config.mail.ledger)
    if ledger.exists():
        with open_ledger(config, readonly=True) as book:
            assert book.keys() == set()


def test_send_outbox_refused_while_invitations_write_the_outbox_tab(seeded: Path,
                                                                    seeded_server: Any) -> None:
    config = _config(seeded)
    holder = Holder("send-invitations", "2024-10-01 08:00:00", pid=4343, host="may-chu-khac")
    with HostLocks(config.resolve(config.locks.dir)).hold(["tab-outbox"], holder):
        out = run_cli(*_command(seeded, "send-outbox")[2:],
                      env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 1, (out.returncode, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("hoithao: Lượt send-invitations đang ghi trang «Hộp thư đi»"), lines[0]
    assert "tiến trình 4343 trên máy may-chu-khac" in lines[0]
    assert [r["result"] for r in _runs(config, "send-outbox")] == [NOT_RUN]


def test_sync_registrations_runs_after_its_holder_is_killed(seeded: Path, seeded_server: Any) -> None:
    config = _config(seeded)
    env = child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **NO_LETTER_PDF)
    script = textwrap.dedent("""
        import sys, time
        from workspace.locks import HostLocks, this_process
        names = ["job-sync-registrations", "tab-registrations", "tab-delegations"]
        locks = HostLocks(sys.argv[1])
        held = locks.hold(names, this_process("sync-registrations", "2024-10-01 08:00:00"))
        held.__enter__()   # kept referenced: held until the process ends
        print("held", flush=True)
        time.sleep(300)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script, str(config.resolve(config.locks.dir))],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = run_cli(*_command(seeded, "sync-registrations")[2:], env=env)
        assert refused.returncode == 1 and f"tiến trình {holder.pid} trên máy" in refused.stderr, \
            refused.stderr
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=10) == -signal.SIGKILL
        out = run_cli(*_command(seeded, "sync-registrations")[2:], env=env)
        assert out.returncode == 0, out.stderr
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert len(_tabs(config, "registrations")["registrations"]) == SEEDED_RESPONSES
    assert [r["result"] for r in _runs(config, "sync-registrations")] == [NOT_RUN, SUCCEEDED]


# -- 4. a scheduled run waits ---------------------------------------------------------

def test_scheduled_sync_waits_while_held_and_runs_after_release(seeded: Path,
                                                                seeded_server: Any) -> None:
    config = _config(seeded, locks__scheduled_wait_s="30")
    assert config.locks.scheduled_wait_s == 30
    other = HostLocks(config.resolve(config.locks.dir))   # its own instance: another "process"
    taken = threading.Event()
    released: list[float] = []

    def hold() -> None:
        with other.hold(["job-sync-registrations"],
                        Holder("sync-registrations", "2024-10-01 08:00:00", pid=1, host="h")):
            taken.set()
            time.sleep(1.0)
        released.append(time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert taken.wait(10)
        started = time.monotonic()
        result = run_job_as_cli(config, "sync-registrations", trigger=SCHEDULED)
        ended = time.monotonic()
    finally:
        thread.join()
    assert started < released[0] <= ended      # held when it started, done only after release
    assert result.figures["dòng mới"] == SEEDED_RESPONSES
    runs = _runs(config, "sync-registrations")
    assert [(r["trigger"], r["result"]) for r in runs] == [(SCHEDULED, SUCCEEDED)]


def test_scheduled_sync_gives_up_after_its_wait_and_says_so(seeded: Path, seeded_server: Any) -> None:
    config = _config(seeded, locks__scheduled_wait_s="0.5")
    holder = Holder("sync-registrations", "2024-10-01 08:00:00", pid=777, host="may-chu-khac")
    with HostLocks(config.resolve(config.locks.dir)).hold(["job-sync-registrations"], holder):
        started = time.monotonic()
        with pytest.raises(JobBusy) as busy:
            run_job_as_cli(config, "sync-registrations", trigger=SCHEDULED)
        waited = time.monotonic() - started
    assert waited >= 0.5
    message = str(busy.value)
    assert message.startswith("Một lượt sync-registrations khác đang chạy"), message
    assert "tiến trình 777 trên máy may-chu-khac" in message
    assert "đã chờ" in message, message
    assert _tabs(config, "registrations")["registrations"] == []
    runs = _runs(config, "sync-registrations")
    assert [(r["trigger"], r["result"]) for r in runs] == [(SCHEDULED, NOT_RUN)]
    assert "đã chờ" in runs[0]["error"]


def test_a_stop_request_ends_a_scheduled_runs_wait_for_a_lock(seeded: Path, seeded_server: Any) -> None:
    """systemctl stop while a scheduled run waits for another's lock: it gives
    up within seconds (not the 15 minutes it would wait), and says why."""
    from workflows.base import Stop

    config = _config(seeded, locks__scheduled_wait_s="60")
    holder = Holder("sync-registrations", "2024-10-01 08:00:00", pid=778, host="may-chu-khac")
    stop = Stop()
    threading.Timer(0.5, stop.request, args=("SIGTERM",)).start()
    with HostLocks(config.resolve(config.locks.dir)).hold(["job-sync-registrations"], holder):
        started = time.monotonic()
        with pytest.raises(JobBusy) as busy:
            run_job_as_cli(config, "sync-registrations", trigger=SCHEDULED, stop=stop)
        waited = time.monotonic() - started
    assert 0.5 <= waited < 10, waited
    assert "có yêu cầu dừng trong lúc chờ" in str(busy.value)
    runs = _runs(config, "sync-registrations")
    assert [(r["trigger"], r["result"]) for r in runs] == [(SCHEDULED, NOT_RUN)]


# -- 5. sync-registrations while send-outbox holds Hộp thư đi --------------------------

def test_sync_queues_confirmations_while_another_run_holds_the_outbox_tab(
        seeded: Path, seeded_server: Any) -> None:
    """send-outbox holds `Hộp thư đi` and `Khách mời` while it sends: a sync at
    that moment still does its work and queues the confirmations (the ledger
    takes them), leaves the tab to the holder, and says so; the next run that
    holds the tab writes them there."""
    config = _config(seeded)
    sender = Holder("send-outbox", "2024-10-01 08:00:00", pid=4343, host="may-chu-khac",
                    doing="gửi thư")
    with HostLocks(seeded / "locks").hold(["tab-outbox", "tab-invitees"], sender):
        out = run_cli("--config", str(seeded / "config.yaml"), "sync-registrations",
                      env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
        assert out.returncode == 0, out.stderr
        assert "Hộp thư đi đang được một lượt chạy khác cập nhật" in out.stdout
        tabs = _tabs(config, "registrations", "outbox")
        assert len(tabs["registrations"]) == SEEDED_RESPONSES
        assert tabs["outbox"] == []                  # the holder's tab was left alone
        with open_ledger(config, readonly=True) as ledger:
            queued = ledger.keys("xac-nhan")
        confirmed = [r for r in tabs["registrations"] if r["status"] == CONFIRMED]
        assert queued and len(queued) <= len(confirmed)
    run = run_cli("--config", str(seeded / "config.yaml"), "sync-registrations",
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert run.returncode == 0, run.stderr
    assert "Hộp thư đi đang được" not in run.stdout
    rows = {r["key"] for r in _tabs(config, "outbox")["outbox"]}
    assert rows == queued                                # mirrored once the tab was free
