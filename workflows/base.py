"""What every job shares: its declaration, its context, its result, the locks
it holds and the run log row it leaves.

A job module declares `Options` (a frozen dataclass of what its command-line
flags set), `run(ctx, opts) -> JobResult`, and `JOB = Job(...)` naming the
tabs it writes. `run_job` is the one way any job runs (command, schedule,
demo, tests): it takes the job's locks, runs it, and appends its `Nhật ký` row.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table as RichTable

from workspace.clients import Workspace
from workspace.config import Config
from workspace.errors import ApiError, HoithaoError, JobBusy, NotBuiltYet
from workspace.lease import ChainedLocks, LeaseHolder, SheetLease
from workspace.locks import Busy, HostLocks, Locker, alive, this_process
from workspace.spreadsheet import Spreadsheet
from workspace.table import KeyedTable

from .normalise import sheet_time

log = logging.getLogger(__name__)

# How a run was started (the `Kích hoạt` column of Nhật ký).
MANUAL, SCHEDULED, DEMO, FROM_SHEET = "thủ công", "lịch", "demo", "bảng tính"
# What a run came to (the `Kết quả` column of Nhật ký).
SUCCEEDED, FAILED, NOT_RUN = "Thành công", "Lỗi", "Không chạy"
STOPPED = "Dừng giữa chừng"   # a stop was asked; what was done is written
TAKEN_OVER = "Tiếp quản"      # a note, not a run: a dead machine's lease was taken over
NOT_A_RUN = (NOT_RUN, TAKEN_OVER)   # rows of Nhật ký that say nothing about a job's work
LOCK_SLICE_S = 2.0             # a scheduled run waiting for a lock looks for a stop request this often


def make_console() -> Console:
    """Console output that never wraps a line in two (piped output is 80 wide)
    and never reads data as markup: a name like `[bold]` or `:smile:` prints
    as typed. Colour is given with `style=`, never with markup."""
    return Console(soft_wrap=True, highlight=False, markup=False, emoji=False)


def server_name(config: Config) -> str:
    """What this machine is called in `Điều khiển` (control.server_name, else its host name)."""
    return config.control.server_name or socket.gethostname()


def job_lock(name: str) -> str:
    """The lock every run of job `name` holds."""
    return f"job-{name}"


def tab_lock(table: str) -> str:
    """The lock every run writing the tab the config calls `table` holds."""
    return f"tab-{table}"


@dataclass
class Change:
    """One line of a job's plan, shown by --dry-run and in the summary."""
    key: str
    action: str
    detail: str = ""


@dataclass
class JobResult:
    figures: dict[str, int] = field(default_factory=dict)
    plan: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped: bool = False     # a stop request cut the run short: work is left for the next


@dataclass(frozen=True)
class NoOptions:
    """A job with no options of its own."""


class Stop:
    """A stop request (SIGTERM, SIGINT): the job in hand finishes its step,
    writes what it did, and ends; the timetable's loop ends after it.
    Called, it says whether a stop was asked; `wait()` is a sleep that a stop
    cuts short."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._asked = False
        self.why = ""

    def request(self, why: str = "") -> None:
        self._asked = True
        self.why = self.why or why
        self._event.set()

    def request_from_signal(self, why: str) -> None:
        """From a signal handler: a plain flag now; the event (whose lock the
        interrupted code may hold) set from a thread of its own."""
        self._asked = True
        self.why = self.why or why
        threading.Thread(target=self._event.set, daemon=True).start()

    def __call__(self) -> bool:
        return self._asked or self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(max(seconds, 0))


class StopOrLost:
    """A context's stop: asked (SIGTERM, SIGINT), or the run's lease lost."""

    LOST = ("máy khác đã tiếp quản quyền chạy công việc này vì lượt này quá control.lease_stale_s "
            "không ghi được nhịp")

    def __init__(self, stop: Callable[[], bool], lost: Callable[[], bool]):
        self._stop = stop._stop if isinstance(stop, StopOrLost) else stop   # never wrapped twice
        self._lost = lost

    def __call__(self) -> bool:
        return self._stop() or self._lost()

    @property
    def lost(self) -> bool:
        return self._lost()

    @property
    def why(self) -> str:
        return getattr(self._stop, "why", "") or (self.LOST if self._lost() else "")


@dataclass(frozen=True)
class JobContext:
    """Everything a run is given; frozen, so nothing is set on it on the way."""
    config: Config
    ws: Workspace
    dry_run: bool = False
    trigger: str = MANUAL
    console: Console = field(default_factory=make_console)
    clock: Callable[[], float] = time.time            # wall time, seconds
    sleep: Callable[[float], None] = time.sleep
    locker: Locker | None = None                      # None: lock files on this host (locks.dir)
    # True once a stop is asked (SIGTERM, SIGINT): a job ends at the end of the
    # step in hand (the message being sent, the batch being written), writes
    # what it did and returns, noting it was stopped.
    stop: Callable[[], bool] = lambda: False

    def __post_init__(self) -> None:
        # A run whose lease another machine took over (it was taken for dead)
        # stops as on a stop request: two machines never go on together.
        object.__setattr__(self, "stop", StopOrLost(self.stop, self._lease_lost))

    def _lease_lost(self) -> bool:
        return "lease" in self.__dict__ and self.lease.lost.is_set()

    @cached_property
    def locks(self) -> Locker:
        """The host's lock files, then the job's lease in `Điều khiển` (which
        holds nothing when the spreadsheet has no such tab)."""
        if self.locker is not None:
            return self.locker
        return ChainedLocks(HostLocks(self.config.resolve(self.config.locks.dir)), self.lease)

    @cached_property
    def lease(self) -> SheetLease:
        control = self.config.control
        tab = self.config.sheets.control.tab
        return SheetLease(
            self.table("control"), lambda: tab in self.spreadsheet.tab_titles(),
            lambda: self.ws.twin().coordinating_spreadsheet(self.config).table("control"),
            server_name(self.config), self.config.timezone, control.heartbeat_s,
            control.lease_stale_s, control.settle(self.config.google.backend),
            clock=self.clock, sleep=self.sleep,
            on_takeover=lambda job, old: _took_over(self, job, old))

    def lease_active(self) -> bool:
        """The spreadsheet has `Điều khiển` (known once a run has held its locks)."""
        return self.locker is None and "lease" in self.__dict__ and self.lease.active is True

    @cached_property
    def spreadsheet(self) -> Spreadsheet:
        return self.ws.coordinating_spreadsheet(self.config)

    def table(self, name: str) -> KeyedTable:
        return self.spreadsheet.table(name)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), ZoneInfo(self.config.timezone))


@dataclass(frozen=True)
class Job:
    """A job as the command line, the schedule and the demo know it."""
    name: str
    options: type                                        # the frozen Options dataclass
    run: Callable[[JobContext, Any], JobResult] | None   # None: not built yet
    writes: tuple[str, ...] = ()                         # tabs (sheets.* names) held for the run
    summary: str = ""                                    # one Vietnamese line for --help
    doing: str = ""                                      # told to a run that must wait ("gửi thư")

    def locks(self) -> list[str]:
        return [job_lock(self.name)] + [tab_lock(t) for t in self.writes]


def not_built(name: str) -> NotBuiltYet:
    """The refusal of a command whose job is not built yet (exit 2)."""
    return NotBuiltYet(f"Lệnh `{name}` chưa được xây dựng; không đọc, ghi hay gửi gì.")


def run_job(job: Job, ctx: JobContext, opts: Any) -> JobResult:
    """Run one job under its locks; unless --dry-run, append its row to the run
    log, also when it fails or could not start. A run log that cannot be
    written is a note, not a failure of a job that did its work."""
    if not isinstance(opts, job.options):
        raise TypeError(f"{job.name} takes {job.options.__qualname__}, not {type(opts).__qualname__}")
    if job.run is None:
        raise not_built(job.name)
    started = ctx.now()
    t0 = time.monotonic()
    run_id = f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    error: Exception | None = None
    outcome = SUCCEEDED
    result = JobResult()
    # A run from the timetable or from a tick in Điều khiển waits its turn; one by hand never does.
    wait_s = ctx.config.locks.scheduled_wait_s if ctx.trigger in (SCHEDULED, FROM_SHEET) else 0
    try:
        with contextlib.ExitStack() as held:
            if not ctx.dry_run:  # a dry run only reads: nothing to keep apart from other runs
                holder = this_process(job.name, sheet_time(started.timestamp(), ctx.config.timezone),
                                      job.doing)
                held.push(_hold(job, ctx, holder, wait_s))   # entered there
                started = ctx.now()   # Nhật ký's start: when the work began, after any wait
            result = job.run(ctx, opts)
            if result.stopped:
                outcome = STOPPED
    except JobBusy as exc:
        error, outcome = exc, NOT_RUN
    except HoithaoError as exc:
        error, outcome = exc, FAILED
    except Exception as exc:  # a bug of ours: the log says so, the caller shows the traceback
        error, outcome = exc, FAILED
    log.info("%s finished in %.1f s: %s", job.name, time.monotonic() - t0, result.figures)
    unreachable = isinstance(error, ApiError) and error.kind == "network"
    if not ctx.dry_run and not unreachable:   # with no connection the log cannot be written either
        note = _log_run(ctx, job, run_id, started, outcome, result, error)
        failures = None
        if note:
            result.notes.append(note)
        elif outcome == FAILED:
            # The run's own error is what the console shows; the alert is in Hộp thư đi.
            failures = _alert(ctx, job, run_id, started, error)
        if outcome != NOT_RUN and ctx.lease_active():
            _record(ctx, job, run_id, started, outcome, result, error, failures)
    if error is not None:
        raise error
    return result


def _alert(ctx: JobContext, job: Job, run_id: str, started: dt.datetime, error: Exception | None
           ) -> int | None:
    """The alert after a streak of failures (workflows.alerts); one more read of
    `Nhật ký`, only when a run has failed. Never a failure of its own. Returns
    the streak's length (None when Nhật ký could not be read)."""
    from . import alerts   # it uses the letters; they do not use this module

    try:
        runs = [{**r.values, "key": r.key} for r in ctx.table("runs").read().records]
    except HoithaoError as exc:
        log.warning("alert not queued: %s", type(exc).__name__)
        return None
    try:
        text = str(error) if isinstance(error, HoithaoError) else f"Lỗi nội bộ ({type(error).__name__})"
        if alerts.after_failure(ctx.config, runs, job.name, run_id,
                                sheet_time(started.timestamp(), ctx.config.timezone), text,
                                FAILED, NOT_A_RUN + (STOPPED,), started.date()):
            log.info("%s: alert queued after repeated failures", job.name)
    except Exception as exc:   # an alert that cannot be made must not hide the run's own error
        log.warning("alert not queued: %s", type(exc).__name__)
    return alerts.streak(runs, job.name, FAILED, NOT_A_RUN + (STOPPED,))


def _record(ctx: JobContext, job: Job, run_id: str, started: dt.datetime, outcome: str,
            result: JobResult, error: Exception | None, failures: int | None) -> None:
    """The run's row in `Điều khiển`: last run, result, run id, and the red
    line after repeated failures (ended by a success). Never a failure."""
    from . import control

    started_text = sheet_time(started.timestamp(), ctx.config.timezone)
    warning: str | None = None
    if outcome == SUCCEEDED:
        warning = ""
    elif outcome == FAILED and failures is not None:
        warning = (control.warning_text(failures, started_text, run_id)
                   if failures >= ctx.config.mail.alert_after_failures else "")
    control.quietly("dòng của lượt chạy", control.record, ctx.table("control"), job.name, run_id,
                    started_text, outcome, result.figures, _error_text(ctx, outcome, error), warning)


def _took_over(ctx: JobContext, job: str, old: LeaseHolder) -> None:
    """The `Nhật ký` note of a lease taken over from a run taken to be dead."""
    now = ctx.now()
    here = server_name(ctx.config)
    if old.host == here and old.pid == os.getpid():
        why = "lượt trước của chính tiến trình này đã xong nhưng chưa trả lại được quyền chạy"
    elif old.host == here and old.pid > 0 and not alive(old.pid):
        why = f"tiến trình {old.pid} của lượt đó không còn chạy trên máy này (đã dừng đột ngột)"
    else:
        minutes = ctx.config.control.lease_stale_s / 60
        why = (f"nhịp cuối lúc {old.heartbeat or '(không có)'}, quá {minutes:g} phút không có nhịp "
               f"mới (control.lease_stale_s), nên coi như máy đó đã ngừng")
    row = {"key": f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}", "job": job, "trigger": ctx.trigger,
           "started": sheet_time(now.timestamp(), ctx.config.timezone),
           "finished": sheet_time(now.timestamp(), ctx.config.timezone), "result": TAKEN_OVER,
           "figures": "", "error": f"Máy {here} tiếp quản quyền chạy công việc {job} từ {old.text} "
                                   f"(giữ từ {old.since or '(không rõ)'}): {why}."}
    try:
        ctx.table("runs").append([row])
    except HoithaoError as exc:
        log.warning("takeover note not written: %s", type(exc).__name__)


def _hold(job: Job, ctx: JobContext, holder: Any, wait_s: float) -> Any:
    """The job's locks; a scheduled run waits up to `wait_s` for them, in short
    slices so that a stop request ends the wait (the run is then not run)."""
    deadline = time.monotonic() + wait_s
    while True:
        slice_s = min(max(deadline - time.monotonic(), 0), LOCK_SLICE_S)
        try:
            hold = ctx.locks.hold(job.locks(), holder, wait_s=slice_s)
            hold.__enter__()
            return hold
        except Busy as busy:
            if ctx.stop():
                raise JobBusy(f"Lượt {job.name} không chạy: có yêu cầu dừng trong lúc chờ lượt khác "
                              f"xong.") from None
            if time.monotonic() >= deadline:
                raise JobBusy(busy_message(job, busy, ctx, wait_s)) from None


def _log_run(ctx: JobContext, job: Job, run_id: str, started: dt.datetime, outcome: str,
             result: JobResult, error: Exception | None) -> str | None:
    """Append the run's `Nhật ký` row; a Vietnamese note when it cannot be written."""
    text = _error_text(ctx, outcome, error)
    row = {"key": run_id, "job": job.name, "trigger": ctx.trigger,
           "started": sheet_time(started.timestamp(), ctx.config.timezone),
           "finished": sheet_time(ctx.clock(), ctx.config.timezone), "result": outcome,
           "figures": ", ".join(f"{k}: {v}" for k, v in result.figures.items()), "error": text}
    try:
        ctx.table("runs").append([row])
    except HoithaoError as exc:  # the job's own outcome matters more than its log line
        log.info("could not write the run log: %s", type(exc).__name__)
        return f"Không ghi được dòng Nhật ký của lượt chạy này ({run_id}): {exc}"
    return None


def _error_text(ctx: JobContext, outcome: str, error: Exception | None) -> str:
    """The `Lỗi` cell of a run: the error's sentence, or why it stopped."""
    if error is None or isinstance(error, HoithaoError):
        text = str(error or "")
    else:
        text = f"Lỗi nội bộ của công cụ ({type(error).__name__}); báo cho người quản trị kỹ thuật."
    if outcome == STOPPED and not text:
        if getattr(ctx.stop, "lost", False):
            text = f"Dừng giữa chừng: {StopOrLost.LOST}; phần còn lại do máy kia làm."
        else:
            why = getattr(ctx.stop, "why", "")
            text = f"Dừng theo yêu cầu ({why})" if why else "Dừng theo yêu cầu"
    return text


def busy_message(job: Job, busy: Busy, ctx: JobContext, waited_s: float) -> str:
    """Why this run did not start, and what to do (Vietnamese); who holds the
    lock comes last, in brackets."""
    holder = busy.holder
    doing = f" ({holder.doing})" if holder and holder.doing else ""
    if busy.name == job_lock(job.name):
        what = f"Một lượt {job.name} khác đang chạy{doing}"
        why = "lượt kia đang làm đúng việc này, kết quả sẽ có ở trang Nhật ký khi nó xong"
    else:
        table = busy.name.removeprefix("tab-")
        tab = ctx.config.sheets.table(table).tab if table in ctx.config.sheets.names() else table
        other = holder.job if holder else "khác"
        what = f"Lượt {other} đang ghi trang «{tab}»{doing}"
        why = "để hai lượt không ghi chồng lên nhau; chạy lại khi lượt kia xong"
    span = f"{waited_s / 60:.0f} phút" if waited_s >= 120 else f"{waited_s:.0f} giây"
    waited = f"; đã chờ {span} mà lượt đó chưa xong" if waited_s else ""
    who = (f" (Lượt kia bắt đầu lúc {holder.since}, tiến trình {holder.pid} trên máy "
           f"{holder.host}.)") if holder else ""
    return f"{what}{waited}, nên lượt {job.name} này không chạy: {why}.{who}"


def print_summary(console: Console, name: str, result: JobResult, dry_run: bool) -> None:
    """The plan (dry run only: a real run's changes are in the sheet), then the
    figures, as tables."""
    if dry_run and result.plan:
        table = RichTable(title=f"{name}: kế hoạch (chạy thử, không ghi gì)", title_justify="left")
        table.add_column("Mã")
        table.add_column("Việc")
        table.add_column("Chi tiết")
        for change in result.plan[:200]:
            table.add_row(change.key, change.action, change.detail)
        if len(result.plan) > 200:
            table.add_row("…", f"và {len(result.plan) - 200} thay đổi khác", "")
        console.print(table)
    figures = RichTable(title=f"{name}: tóm tắt", title_justify="left")
    figures.add_column("Số liệu")
    figures.add_column("", justify="right")
    for key, value in result.figures.items():
        figures.add_row(key, str(value))
    console.print(figures)
    for note in result.notes:
        console.print(note)
