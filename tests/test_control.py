"""`Điều khiển` (issue #12): staff start a job with a tick, see the server's
heartbeat and a red line after repeated failures; a lease in the tab keeps
two machines (two data folders, one spreadsheet) from running one job at
once, and a dead machine's lease is taken over with a note in Nhật ký.
Real processes, real clients, the sandbox over HTTP."""
from __future__ import annotations

import datetime as dt
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.conftest import ROOT, child_env, open_ws, run_cli, run_job_as_cli
from tests.test_job_locks import NO_LETTER_PDF, SEEDED_RESPONSES, _race, _tabs
from workflows import control
from workflows.jobs import load_config
from workspace.errors import HoithaoError, JobBusy
from workspace.lease import LeaseHolder
from workspace.table import Snapshot

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SUCCEEDED, NOT_RUN, TAKEN_OVER = "Thành công", "Không chạy", "Tiếp quản"
FROM_SHEET = "bảng tính"


def _machine(seeded: Path, name: str, **env: str) -> dict[str, str]:
    """The environment of machine `name`: its own lock folder and ledger (its
    own data folder), the one shared spreadsheet."""
    return {"HOITHAO_LOCKS__DIR": f"locks-{name}", "HOITHAO_MAIL__LEDGER": f"outbox-{name}.db",
            "HOITHAO_CONTROL__SERVER_NAME": name, "HOITHAO_CONTROL__SETTLE_S": "0.3", **NO_LETTER_PDF,
            **env}


def _config(seeded: Path, env: dict[str, str]) -> Any:
    return load_config(seeded / "config.yaml", environ=env)


def _prepare(config: Any, server: str = "may-a") -> None:
    from workflows.jobs import JOBS

    with open_ws(config) as ws:
        assert control.prepare(config, ws, [n for n, j in JOBS.items() if j.run], server) is True


def _control(config: Any) -> dict[str, dict[str, str]]:
    return {r["key"]: r for r in _tabs(config, "control")["control"]}


def _runs(config: Any, job: str) -> list[dict[str, str]]:
    return [r for r in _tabs(config, "runs")["runs"] if r["job"] == job]


def _staff_ticks(config: Any, job: str, value: str = "TRUE") -> None:
    """A person ticks `Chạy ngay` on the job's row (typed, as the UI sends it)."""
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id).worksheet("Điều khiển")
        values = sheet.get_all_values()
        row = next(i for i, r in enumerate(values, start=1) if r and r[0] == job)
        col = values[0].index("Chạy ngay") + 1
        sheet.update_cell(row, col, value)


def _wait_for(what: str, probe: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not seen within {timeout} s: {what}")


# -- the tab, made by schedule's start ----------------------------------------------

def test_prepare_makes_the_tab_with_tick_boxes_a_row_per_job_and_one_for_the_server(
        seeded: Path, seeded_server: Any) -> None:
    config = _config(seeded, _machine(seeded, "may-a"))
    _prepare(config)
    rows = _control(config)
    assert {"sync-registrations", "send-invitations", "send-outbox", "chase-submissions",
            "generate-docs", "máy chủ: may-a"} <= set(rows)
    assert all(r["run_now"] == "FALSE" for r in rows.values())
    with open_ws(config) as ws:
        meta = ws.spreadsheet(config.google.spreadsheet_id).fetch_sheet_metadata(
            {"includeGridData": "true", "ranges": "'Điều khiển'!B2"})
    cell = meta["sheets"][0]["data"][0]["rowData"][0]["values"][0]
    assert cell["dataValidation"]["condition"]["type"] == "BOOLEAN"
    with open_ws(config) as ws:   # a second start changes nothing
        assert control.prepare(config, ws, ["sync-registrations"], "may-a") is False
    assert _control(config) == rows


# -- what `poll` decides (pure) -----------------------------------------------------------

def _snap(*rows: dict[str, Any]) -> Snapshot:
    from workspace.config import DEFAULT_TABLES, Table
    from workspace.table import KeyedTable

    fields = DEFAULT_TABLES["control"][1]
    header = list(fields.values())
    table = KeyedTable(None, Table(tab="Điều khiển", columns=fields), "control")  # type: ignore[arg-type]
    return table.parse([header] + [[row.get(f, "") for f in fields] for row in rows])


NOW = dt.datetime(2024, 11, 22, 8, 0, tzinfo=TZ)


def _never_stale(lease: LeaseHolder) -> bool:
    return False


def test_poll_runs_ticked_jobs_clears_their_ticks_and_beats_for_the_server() -> None:
    snap = _snap({"key": "sync-registrations", "run_now": True, "next_run": "2024-11-22 08:10:00"},
                 {"key": "send-outbox", "run_now": False},
                 {"key": "máy chủ: may-a", "run_now": False})
    updates, inserts, due = control.decide(
        snap, "may-a", {"sync-registrations": "2024-11-22 08:10:00", "send-outbox": "2024-11-22 08:05:00"},
        {"sync-registrations", "send-outbox", "send-invitations"}, NOW, _never_stale)
    assert due == ["sync-registrations"]
    assert updates["sync-registrations"]["run_now"] is False
    assert updates["sync-registrations"]["result"].startswith("Đang chạy theo yêu cầu trong bảng tính")
    assert "next_run" not in updates["sync-registrations"]          # unchanged: not written
    assert updates["send-outbox"] == {"next_run": "2024-11-22 08:05:00"}
    assert updates["máy chủ: may-a"] == {"heartbeat": "2024-11-22 08:00:00",
                                         "result": "Máy chủ hoạt động lúc 08:00 ngày 22 tháng 11 năm 2024"}
    assert inserts == []


def test_a_tick_on_a_job_another_machine_runs_is_kept_until_that_run_ends() -> None:
    lease = {"holder": "máy may-b, tiến trình 42 (#abcdef)", "since": "2024-11-22 07:58:00",
             "heartbeat": "2024-11-22 07:59:30"}
    snap = _snap({"key": "send-outbox", "run_now": "TRUE", **lease})
    updates, _, due = control.decide(snap, "may-a", {}, {"send-outbox"}, NOW, _never_stale)
    assert due == [] and "run_now" not in updates.get("send-outbox", {})
    # …unless that machine is taken to be dead: then the tick runs here.
    _, _, due = control.decide(snap, "may-a", {}, {"send-outbox"}, NOW, lambda lease: True)
    assert due == ["send-outbox"]


def test_a_tick_on_a_row_that_is_no_job_is_cleared_with_a_sentence_and_a_new_server_gets_a_row() -> None:
    snap = _snap({"key": "gui-thu", "run_now": "x"})
    updates, inserts, due = control.decide(snap, "may-a", {}, {"send-outbox"}, NOW, _never_stale)
    assert due == []
    assert updates["gui-thu"]["run_now"] is False
    assert updates["gui-thu"]["result"].startswith("Không có công việc tên «gui-thu»")
    assert [i["key"] for i in inserts] == ["máy chủ: may-a"]


# -- a tick through the real `schedule` ----------------------------------------------------

def test_a_tick_runs_the_job_from_the_sheet_within_a_minute_and_is_cleared_with_its_run_id(
        seeded: Path, seeded_server: Any) -> None:
    # Nothing on the timetable is due at start: only the tick runs anything.
    path = seeded / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"] = {"chase-submissions": "every day at 03:00"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = _machine(seeded, "may-a", HOITHAO_CONTROL__POLL_S="2")
    config = _config(seeded, env)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(path), "schedule"],
                            cwd=ROOT, env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rows = _wait_for("the Điều khiển tab", lambda: "Điều khiển" in _titles(config) and _control(config))
        assert rows["máy chủ: may-a"]["run_now"] == "FALSE"
        _wait_for("the server's heartbeat",
                  lambda: _control(config)["máy chủ: may-a"]["result"].startswith("Máy chủ hoạt động lúc"))
        assert _control(config)["chase-submissions"]["next_run"].endswith(" 03:00:00")
        assert _control(config)["send-outbox"]["next_run"].startswith("không theo lịch")
        ticked_at = time.monotonic()
        _staff_ticks(config, "sync-registrations")
        (run,) = _wait_for("the ticked run in Nhật ký", lambda: [
            r for r in _runs(config, "sync-registrations") if r["result"] == SUCCEEDED], timeout=60)
        assert time.monotonic() - ticked_at < 60
        assert run["trigger"] == FROM_SHEET
        row = _wait_for("the run's row", lambda: (lambda r: r if r["run_id"] else None)(
            _control(config)["sync-registrations"]))
        assert row["run_now"] == "FALSE"
        assert row["run_id"] == run["key"] and row["last_run"] == run["started"]
        assert row["result"].startswith(SUCCEEDED) and f"dòng mới: {SEEDED_RESPONSES}" in row["result"]
        assert row["holder"] == row["since"] == row["heartbeat"] == ""      # the lease let go
        assert len(_tabs(config, "registrations")["registrations"]) == SEEDED_RESPONSES
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "sync-registrations: chạy theo yêu cầu trong bảng tính" in out, out
    assert "Đã dừng chạy theo lịch." in out


def _titles(config: Any) -> list[str]:
    with open_ws(config) as ws:
        return [w.title for w in ws.spreadsheet(config.google.spreadsheet_id).worksheets()]


# -- two machines, one spreadsheet ------------------------------------------------------

def _command(seeded: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "--config", str(seeded / "config.yaml"), *args]


def _apart(runs: list[dict[str, str]]) -> None:
    """No two runs' [start, end] overlap (to the second)."""
    spans = sorted((r["started"], r["finished"]) for r in runs)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start, spans


@pytest.fixture
def slow_server(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The seeded sandbox answering each request after 100 ms, as Google takes
    about as long: a run lasts seconds, so two overlapping runs show in
    Nhật ký's times, and a claim's read-to-write gap is Google-like."""
    from sandbox.server import Options, SandboxServer

    server = SandboxServer(seeded, options=Options(seed=99, latency_ms=100)).start()
    monkeypatch.setenv("HOITHAO_GOOGLE_URL", server.url)
    yield server
    server.stop()


def test_two_machines_never_run_one_job_at_once(seeded: Path, slow_server: Any) -> None:
    a, b = (_machine(seeded, name, HOITHAO_CONTROL__SETTLE_S="1") for name in ("may-a", "may-b"))
    config = _config(seeded, a)
    _prepare(config)
    url = {"HOITHAO_GOOGLE_URL": slow_server.url}
    # By hand, at the same moment: one runs; the other runs after it, or is
    # refused with one sentence naming the machine that holds the job.
    finished = _race(*[("sync-registrations", _command(seeded, "sync-registrations"), child_env(**url, **env))
                       for env in (a, b, a, b)])
    refused = [f for f in finished if f.returncode != 0]
    for run in refused:
        assert run.returncode == 1, run.stderr
        (line,) = run.stderr.splitlines()
        assert line.startswith("hoithao: Một lượt sync-registrations khác đang chạy"), line
        # Named by the lease (the other machine), or by the host lock (a run of
        # the same machine, here both on this host).
        assert any(f"trên máy {m}." in line for m in ("may-a", "may-b", socket.gethostname())), line
    assert len(refused) < len(finished)
    runs = _runs(config, "sync-registrations")
    assert sorted(r["result"] for r in runs) == sorted([SUCCEEDED] * (4 - len(refused)) + [NOT_RUN] * len(refused))
    _apart([r for r in runs if r["result"] == SUCCEEDED])
    assert len(_tabs(config, "registrations")["registrations"]) == SEEDED_RESPONSES
    # From the timetable (they wait their turn): all run, one after the other.
    timed = {"HOITHAO_SCHEDULED": "1", "HOITHAO_LOCKS__SCHEDULED_WAIT_S": "120"}
    finished = _race(*[("sync-registrations", _command(seeded, "sync-registrations"),
                        child_env(**url, **env, **timed)) for env in (a, b, a, b)])
    assert [f.returncode for f in finished] == [0, 0, 0, 0], [f.stderr for f in finished]
    runs = _runs(config, "sync-registrations")[len(runs):]
    assert [(r["trigger"], r["result"]) for r in runs] == [("lịch", SUCCEEDED)] * 4
    _apart(runs)
    assert len(_tabs(config, "registrations")["registrations"]) == SEEDED_RESPONSES
    assert _control(config)["sync-registrations"]["holder"] == ""


def test_two_schedulers_on_two_machines_take_turns(seeded: Path, slow_server: Any) -> None:
    """Two `schedule` processes, each its own data folder (locks, ledger), one
    spreadsheet: both find sync-registrations never run and start it at
    once; the lease makes one wait for the other."""
    path = seeded / "config.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["schedule"] = {"sync-registrations": "every 10 minutes"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    machines = [_machine(seeded, name, HOITHAO_CONTROL__SETTLE_S="1", HOITHAO_CONTROL__POLL_S="2")
                for name in ("may-a", "may-b")]
    config = _config(seeded, machines[0])
    _prepare(config)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(path), "schedule"],
                              cwd=ROOT, env=child_env(HOITHAO_GOOGLE_URL=slow_server.url, **env),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for env in machines]
    try:
        runs = _wait_for("both machines' runs", lambda: (lambda rs: rs if len(rs) == 2 else None)(
            [r for r in _runs(config, "sync-registrations") if r["result"] == SUCCEEDED]), timeout=120)
        servers = _wait_for("both servers' heartbeats", lambda: (lambda rows: rows if all(
            rows.get(f"máy chủ: {m}", {}).get("heartbeat") for m in ("may-a", "may-b")) else None)(
            _control(config)))
    finally:
        outputs = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            outputs.append(proc.communicate(timeout=60))
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert [r["trigger"] for r in runs] == ["lịch", "lịch"]
    _apart(runs)
    assert len(_tabs(config, "registrations")["registrations"]) == SEEDED_RESPONSES
    assert servers["sync-registrations"]["holder"] == ""


def test_a_dead_machines_lease_is_taken_over_with_a_note_in_nhat_ky(seeded: Path, seeded_server: Any
                                                                     ) -> None:
    a = _machine(seeded, "may-a", HOITHAO_CONTROL__HEARTBEAT_S="0.5")
    b = _machine(seeded, "may-b", HOITHAO_CONTROL__LEASE_STALE_S="4")
    config_a, config_b = _config(seeded, a), _config(seeded, b)
    _prepare(config_a)
    script = textwrap.dedent("""
        import sys, time
        from tests.conftest import open_ws
        from workflows.base import JobContext
        from workflows.jobs import JOBS, load_config
        from workspace.locks import this_process
        config = load_config(sys.argv[1])
        ws = open_ws(config).__enter__()
        ctx = JobContext(config=config, ws=ws)
        job = JOBS["sync-registrations"]
        held = ctx.locks.hold(job.locks(), this_process(job.name, "2024-11-22 08:00:00"))
        held.__enter__()   # kept referenced: held (and beating) until the process ends
        print("held", flush=True)
        time.sleep(300)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script, str(seeded / "config.yaml")], cwd=ROOT,
                              env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **a),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        time.sleep(1.5)
        beating = _control(config_a)["sync-registrations"]
        assert beating["holder"].startswith(f"máy may-a, tiến trình {holder.pid} (#")
        assert beating["since"] == "2024-11-22 08:00:00" and beating["heartbeat"] > beating["since"]
        # Alive (its heartbeat is fresh): machine B is refused, told who and since when.
        with pytest.raises(JobBusy) as busy:
            run_job_as_cli(config_b, "sync-registrations")
        assert f"tiến trình {holder.pid} trên máy may-a" in str(busy.value)
        assert "2024-11-22 08:00:00" in str(busy.value)
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=10) == -signal.SIGKILL
        last_beat = _control(config_a)["sync-registrations"]["heartbeat"]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # Dead: once its heartbeat is older than lease_stale_s, a scheduled run of
    # machine B (which waits) takes the lease over and runs.
    result = run_job_as_cli(config_b, "sync-registrations", trigger="lịch")
    assert result.figures["dòng mới"] == SEEDED_RESPONSES
    runs = _runs(config_b, "sync-registrations")
    assert [r["result"] for r in runs] == [NOT_RUN, TAKEN_OVER, SUCCEEDED]
    note = runs[1]["error"]
    assert note.startswith("Máy may-b tiếp quản quyền chạy công việc sync-registrations từ máy may-a, "
                           f"tiến trình {holder.pid}"), note
    assert f"nhịp cuối lúc {last_beat}" in note and "control.lease_stale_s" in note
    row = _control(config_b)["sync-registrations"]
    assert row["holder"] == "" and row["run_id"] == runs[2]["key"]


def test_a_lease_this_process_failed_to_let_go_does_not_block_its_next_run(seeded: Path,
                                                                           seeded_server: Any) -> None:
    import os

    config = _config(seeded, _machine(seeded, "may-a"))
    _prepare(config)
    with open_ws(config) as ws:
        ws.coordinating_spreadsheet(config).table("control").write(
            {"sync-registrations": {"holder": f"máy may-a, tiến trình {os.getpid()} (#cccccc)",
                                    "since": "2024-11-22 08:00:00", "heartbeat": NOW.strftime("%Y-%m-%d %H:%M:%S")}},
            owned=("holder", "since", "heartbeat"))
    run_job_as_cli(config, "sync-registrations", clock=lambda: NOW.timestamp() + 5)
    runs = _runs(config, "sync-registrations")
    assert [r["result"] for r in runs] == [TAKEN_OVER, SUCCEEDED]
    assert "chưa trả lại được quyền chạy" in runs[0]["error"]


def test_a_run_killed_on_this_machine_leaves_no_lease_that_blocks_the_next_run_here(
        seeded: Path, seeded_server: Any) -> None:
    """The host lock is free, so a lease naming this machine is a killed run's."""
    env = _machine(seeded, "may-a")
    config = _config(seeded, env)
    _prepare(config)
    with open_ws(config) as ws:
        ws.coordinating_spreadsheet(config).table("control").write(
            {"sync-registrations": {"holder": "máy may-a, tiến trình 999999 (#aaaaaa)",
                                    "since": "2024-11-22 08:00:00", "heartbeat": NOW.strftime("%Y-%m-%d %H:%M:%S")}},
            owned=("holder", "since", "heartbeat"))
    run_job_as_cli(config, "sync-registrations", clock=lambda: NOW.timestamp() + 5)
    runs = _runs(config, "sync-registrations")
    assert [r["result"] for r in runs] == [TAKEN_OVER, SUCCEEDED]
    assert "tiến trình 999999 của lượt đó không còn chạy trên máy này" in runs[0]["error"]


# -- the red line ---------------------------------------------------------------------------------

def test_three_failures_in_a_row_make_the_jobs_row_red_and_a_success_ends_it(
        seeded: Path, seeded_server: Any) -> None:
    env = _machine(seeded, "may-a")
    good = _config(seeded, env)
    broken = _config(seeded, {**env, "HOITHAO_GOOGLE__FORMS__REGISTRATION__ID": "khong-co-bieu-mau-nay"})
    _prepare(good)

    def fail() -> None:
        with pytest.raises(HoithaoError):
            run_job_as_cli(broken, "sync-registrations")

    fail()
    fail()
    row = _control(good)["sync-registrations"]
    assert row["result"].startswith("Lỗi: ") and row["warning"] == ""
    assert not _red(good)
    fail()
    row = _control(good)["sync-registrations"]
    runs = _runs(good, "sync-registrations")
    assert row["warning"].startswith("3 lượt chạy liên tiếp bị lỗi") and runs[-1]["key"] in row["warning"]
    assert _red(good)
    run_job_as_cli(good, "sync-registrations")
    assert _control(good)["sync-registrations"]["warning"] == ""
    assert not _red(good)


def _red(config: Any) -> bool:
    """The sync-registrations row of Điều khiển is painted red."""
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id)
        values = sheet.worksheet("Điều khiển").get_all_values()
        row = next(i for i, r in enumerate(values) if r and r[0] == "sync-registrations")
        meta = sheet.fetch_sheet_metadata({"includeGridData": "true",
                                           "ranges": f"'Điều khiển'!A{row + 1}"})
    cell = meta["sheets"][0]["data"][0]["rowData"][0]["values"][0]
    return bool(cell.get("userEnteredFormat", {}).get("backgroundColor"))


def test_without_the_tab_a_run_holds_no_lease_and_writes_no_row(seeded: Path, seeded_server: Any) -> None:
    config = _config(seeded, _machine(seeded, "may-a"))
    run_job_as_cli(config, "sync-registrations")
    assert "Điều khiển" not in _titles(config)
    assert [r["result"] for r in _runs(config, "sync-registrations")] == [SUCCEEDED]


def test_status_shows_the_lease_and_the_servers(seeded: Path, seeded_server: Any) -> None:
    import json

    env = _machine(seeded, "may-a")
    config = _config(seeded, env)
    _prepare(config)
    with open_ws(config) as ws:
        ws.coordinating_spreadsheet(config).table("control").write(
            {"send-outbox": {"holder": "máy may-b, tiến trình 7 (#abcdef)", "since": "2024-11-22 08:00:00",
                             "heartbeat": "2024-11-22 08:01:00"}}, owned=("holder", "since", "heartbeat"))
    out = run_cli("--config", str(seeded / "config.yaml"), "status", "--json",
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url, **env))
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["jobs"]["send-outbox"]["lease"] == {
        "holder": "máy may-b, tiến trình 7 (#abcdef)", "since": "2024-11-22 08:00:00",
        "heartbeat": "2024-11-22 08:01:00"}
    assert status["jobs"]["sync-registrations"]["lease"] is None
    assert status["servers"] == [{"name": "may-a", "heartbeat": ""}]


def test_a_run_whose_lease_is_taken_over_stops_as_on_a_stop_request(seeded: Path, seeded_server: Any
                                                                   ) -> None:
    from workflows.base import JobContext
    from workflows.jobs import JOBS
    from workspace.locks import this_process

    config = _config(seeded, _machine(seeded, "may-a", HOITHAO_CONTROL__HEARTBEAT_S="0.3"))
    _prepare(config)
    job = JOBS["sync-registrations"]
    with open_ws(config) as ws:
        ctx = JobContext(config=config, ws=ws)
        with ctx.locks.hold(job.locks(), this_process(job.name, "2024-11-22 08:00:00")):
            assert not ctx.stop()
            with open_ws(config) as other:      # machine B takes it over (it took A for dead)
                other.coordinating_spreadsheet(config).table("control").write(
                    {job.name: {"holder": "máy may-b, tiến trình 7 (#bbbbbb)"}}, owned=("holder",))
            _wait_for("the lost lease", ctx.stop, timeout=10)
            assert "máy khác đã tiếp quản quyền chạy công việc này" in ctx.stop.why
    assert _control(config)[job.name]["holder"] == "máy may-b, tiến trình 7 (#bbbbbb)"  # left to B


def test_of_two_schedulers_seeing_one_tick_one_runs_it(seeded: Path, slow_server: Any) -> None:
    import threading

    config = _config(seeded, _machine(seeded, "may-a", HOITHAO_CONTROL__SETTLE_S="1"))
    _prepare(config)
    _staff_ticks(config, "send-outbox")
    barrier = threading.Barrier(2)
    picked: dict[str, list[str]] = {}

    def look(server: str) -> None:
        with open_ws(config) as ws:
            barrier.wait(timeout=30)
            picked[server] = control.poll(config, ws, server, {}, ["send-outbox"], dt.datetime.now(TZ),
                                          _never_stale)

    threads = [threading.Thread(target=look, args=(name,)) for name in ("may-a", "may-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(picked.values()) == [[], ["send-outbox"]], picked
    row = _control(config)["send-outbox"]
    (winner,) = [name for name, due in picked.items() if due]
    assert row["run_now"] == "FALSE" and f"trên máy {winner}" in row["result"]


def test_a_tick_made_while_the_job_runs_stays_for_the_next_run(seeded: Path, seeded_server: Any) -> None:
    env = _machine(seeded, "may-a")
    config = _config(seeded, env)
    _prepare(config)
    _staff_ticks(config, "sync-registrations")

    def look() -> list[str]:
        with open_ws(config) as ws:
            return control.poll(config, ws, "may-a", {}, ["sync-registrations"], dt.datetime.now(TZ),
                                _never_stale)

    assert look() == ["sync-registrations"]                     # the scheduler takes the tick
    assert _control(config)["sync-registrations"]["run_now"] == "FALSE"
    _staff_ticks(config, "sync-registrations")                   # a person ticks again meanwhile
    run_job_as_cli(config, "sync-registrations", trigger=FROM_SHEET)
    row = _control(config)["sync-registrations"]
    assert row["run_now"] == "TRUE" and row["result"].startswith(SUCCEEDED)
    assert look() == ["sync-registrations"]                     # …and the next look runs it again
    # A ticked job the scheduler could not run (a stop, a lock kept past the wait) is ticked again.
    with open_ws(config) as ws:
        control.retick(config, ws, ["sync-registrations"], "Chưa chạy: máy chủ dừng.")
    row = _control(config)["sync-registrations"]
    assert (row["run_now"], row["result"]) == ("TRUE", "Chưa chạy: máy chủ dừng.")
