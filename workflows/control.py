"""`Điều khiển`: what staff see of the server, and how they start a job.

One row per job: `Chạy ngay` (staff tick it), `Lần chạy cuối`, `Kết quả`,
`Mã lượt chạy`, `Lần chạy tới`, the lease (workspace.lease) and `Cảnh báo`
(a red row after mail.alert_after_failures failed runs in a row). One row
per server, keyed `máy chủ: NAME`, says when it was last alive.

- `prepare` (schedule, at start): the tab, a row per job, tick boxes.
- `poll` (schedule, every control.poll_s): the server's heartbeat, each
  job's next run, and the ticked jobs to run now. A tick is cleared as its
  run starts, so a tick made while the job runs stays for the next run; a
  job another machine is running keeps its tick until that run ends.
- `record` (every run, any machine, when the tab exists): the run's row.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from workspace.clients import Workspace
from workspace.config import Config
from workspace.errors import HoithaoError
from workspace.lease import LeaseHolder, holder_of, is_stale
from workspace.table import KeyedTable, Snapshot, ticked

log = logging.getLogger(__name__)

SERVER_PREFIX = "máy chủ: "
OWNED_BY_RUN = ("last_run", "result", "run_id", "warning")
OWNED_BY_POLL = ("run_now", "result", "next_run", "heartbeat")
PICKUP = "Đang chạy theo yêu cầu trong bảng tính, trên máy "
NOT_SCHEDULED = "không theo lịch (chạy khi đánh dấu Chạy ngay hoặc chạy lệnh)"


def server_key(server: str) -> str:
    return f"{SERVER_PREFIX}{server}"


def alive_text(moment: dt.datetime) -> str:
    """`Máy chủ hoạt động lúc 08:05 ngày 22 tháng 11 năm 2024`."""
    return f"Máy chủ hoạt động lúc {moment:%H:%M} ngày {moment:%d} tháng {moment:%m} năm {moment:%Y}"


def prepare(config: Config, ws: Workspace, jobs: Iterable[str], server: str) -> bool:
    """The tab (made with its tick boxes when missing) with a row for every
    job and for this server; True when the tab was made. Rows staff added or
    reordered are left as they are."""
    sheet = ws.coordinating_spreadsheet(config)
    made = sheet.ensure_tab("control")
    table = sheet.table("control")
    snap = table.read()
    missing = [name for name in jobs if name not in snap.by_key]
    if server_key(server) not in snap.by_key:
        missing.append(server_key(server))
    table.write({}, [{"key": name, "run_now": False} for name in missing])
    # After the rows: an appended row is inserted, and takes no validation.
    table.checkboxes("run_now")
    return made


Stale = Callable[[LeaseHolder], bool]


def poll(config: Config, ws: Workspace, server: str, next_runs: Mapping[str, str],
         runnable: Iterable[str], now: dt.datetime, stale: Stale,
         sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """One look at the tab: write this server's heartbeat and each job's next
    run, clear the ticks of the jobs to run now, and return them in the tab's
    order. `stale(lease)`: the lease's machine is taken to be dead. A tick is
    this server's only if, read back after control.settle_s, its row still
    names this server: of two schedulers clearing one tick, one runs it."""
    table = ws.coordinating_spreadsheet(config).table("control")
    snap = table.read()
    updates, inserts, due = decide(snap, server, next_runs, set(runnable), now, stale)
    table.write(updates, inserts, owned=OWNED_BY_POLL)
    if not due:
        return []
    sleep(config.control.settle(config.google.backend))
    try:
        check = table.read().by_key
    except HoithaoError:
        return due      # cleared: run them rather than lose a person's request
    # Another scheduler's pickup written after ours: the tick is its. Anything
    # else there (a run's own result) leaves the tick ours.
    return [name for name in due if name not in check or not (
        check[name]["result"].startswith(PICKUP) and check[name]["result"] != updates[name]["result"])]


def decide(snap: Snapshot, server: str, next_runs: Mapping[str, str], runnable: set[str],
           now: dt.datetime, stale: Stale) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
    """What `poll` writes and runs (pure)."""
    updates: dict[str, dict[str, Any]] = {}
    inserts: list[dict[str, Any]] = []
    beat = {"heartbeat": now.strftime("%Y-%m-%d %H:%M:%S"), "result": alive_text(now)}
    if server_key(server) in snap.by_key:
        updates[server_key(server)] = beat
    else:
        inserts.append({"key": server_key(server), "run_now": False, **beat})
    for name in runnable:
        record = snap.by_key.get(name)
        wanted = next_runs.get(name, NOT_SCHEDULED)
        if record is not None and record["next_run"] != wanted:
            updates.setdefault(name, {})["next_run"] = wanted
    due = []
    for record in snap.records:
        if not ticked(record.raw.get("run_now", record["run_now"])):
            continue
        change = updates.setdefault(record.key, {})
        if record.key in runnable:
            lease = holder_of(record)
            if lease is not None and not stale(lease):
                continue    # running on another machine: the tick waits for the next look
            change.update(run_now=False, result=f"{PICKUP}{server} (từ {now:%H:%M:%S} ngày "
                                                f"{now:%d/%m/%Y})")
            due.append(record.key)
        elif record.key.startswith(SERVER_PREFIX):
            change["run_now"] = False
        else:
            change.update(run_now=False, result=(
                f"Không có công việc tên «{record.key}»: các công việc chạy được là "
                f"{', '.join(sorted(runnable))}."))
    return {k: v for k, v in updates.items() if v}, inserts, due


def result_text(outcome: str, figures: Mapping[str, int], error: str) -> str:
    """`Thành công (dòng mới: 3, …)`, `Lỗi: …`: the run's outcome in one cell."""
    if error:
        return f"{outcome}: {error}"[:500]
    shown = ", ".join(f"{k}: {v}" for k, v in figures.items())
    return f"{outcome} ({shown})" if shown else outcome


def warning_text(failures: int, started: str, run_id: str) -> str:
    return (f"{failures} lượt chạy liên tiếp bị lỗi (lần cuối bắt đầu lúc {started}, mã {run_id}): "
            f"xem trang Nhật ký và báo người trực kỹ thuật.")


def record(table: KeyedTable, job: str, run_id: str, started: str, outcome: str,
           figures: Mapping[str, int], error: str, warning: str | None) -> None:
    """Write the run's row (made when missing). `warning`: the red line's
    text ("" ends it), None to leave it as it is."""
    change: dict[str, Any] = {"last_run": started, "result": result_text(outcome, figures, error),
                              "run_id": run_id}
    if warning is not None:
        change["warning"] = warning
    snap = table.read()
    before = snap.by_key.get(job)
    if before is None:
        table.write({}, [{"key": job, "run_now": False, **change}])
    else:
        table.write({job: change}, owned=OWNED_BY_RUN)
    if warning is not None and bool(warning) != bool(before["warning"] if before else ""):
        table.shade({job: bool(warning)})


def next_run_text(moment: dt.datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S")


def stale_check(config: Config, clock: Callable[[], float]) -> Stale:
    """`stale(lease)` for `poll`: the lease's machine is taken to be dead."""
    tz = ZoneInfo(config.timezone)
    return lambda lease: is_stale(lease, clock(), tz, config.control.lease_stale_s)


def retick(config: Config, ws: Workspace, names: Iterable[str], why: str) -> None:
    """Tick again the jobs `poll` cleared but that did not run (a stop, a
    lock kept past the wait): a staff request is never lost."""
    names = list(names)
    if names:
        ws.coordinating_spreadsheet(config).table("control").write(
            {name: {"run_now": True, "result": why} for name in names}, owned=OWNED_BY_POLL)


def quietly(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A write to `Điều khiển` that must never fail the run or the timetable."""
    try:
        return fn(*args, **kwargs)
    except HoithaoError as exc:
        log.warning("Điều khiển: %s không ghi được: %s", what, exc)
        return None
