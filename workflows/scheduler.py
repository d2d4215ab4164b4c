"""`schedule`: run each job on the timetable in config.yaml until stopped.

The timetable is written in the `schedule` library's words: "every 10
minutes", "every hour", "every day at 07:30", "every monday at 08:00". Times
are the event's (config.timezone, Asia/Ho_Chi_Minh), whatever the server's
own zone, and are printed so, with the zone.

- One job at a time, in timetable order when several are due.
- A job missed while the server was down runs once at start: a timed one
  ("every day at 07:30") when its last run (in `Nhật ký`, so any machine's
  run counts) is older than its latest due time; an interval one when its
  last run is older than its interval. Never N times for N missed days.
- One job failing is logged and the loop goes on; the next due time tries again.
- A stop request (SIGTERM, SIGINT) lets the running job finish its step and
  write what it did; the loop then ends.

Between jobs, at least every control.poll_s seconds, `tick` looks at the
`Điều khiển` tab (workflows.control): the server's heartbeat, and the jobs
staff ticked `Chạy ngay`, run at once with trigger `bảng tính`.

`check` reads each entry with `plan()`, exactly as `schedule` will.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

import schedule

from workspace.config import Config
from workspace.errors import ConfigError, HoithaoError

from .base import NOT_A_RUN, STOPPED, Stop

log = logging.getLogger(__name__)

_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"}
_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_SPEC = re.compile(r"^every(?:\s+(?P<n>\d+))?\s+(?P<unit>[a-z]+)(?:\s+at\s+(?P<at>\d{1,2}:\d{2}))?$")
_WEEKDAYS_VN = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


def plan(scheduler: schedule.Scheduler, text: str, timezone: str, key: str) -> schedule.Job:
    """Turn one timetable entry into a `schedule` job (not yet bound to work);
    ConfigError naming the key otherwise."""
    m = _SPEC.match(" ".join(str(text).lower().split()))
    bad = ConfigError([f"{key}: '{text}' không phải một lịch chạy; viết ví dụ 'every 10 minutes', "
                       f"'every hour', 'every day at 07:30' hoặc 'every monday at 08:00'."])
    if not m:
        raise bad
    n = int(m.group("n") or 1)
    unit, at = m.group("unit"), m.group("at")
    # A time of day belongs to days and weekdays only (the library reads "at"
    # on hours as MM:SS), and a weekday needs one (else: the hour it started).
    if at and unit not in _DAYS and unit not in ("day", "days"):
        raise bad
    if unit in _DAYS:
        if n != 1 or not at:
            raise bad
        job = getattr(scheduler.every(), unit)
    elif unit in _UNITS:
        if (unit.endswith("s") and m.group("n") is None) or (not unit.endswith("s") and n != 1):
            raise bad
        if n < 1:        # "every 0 minutes" would never leave the scheduler's loop
            raise bad
        job = getattr(scheduler.every(n), unit)
    else:
        raise bad
    if at:
        try:
            job = job.at(f"{int(at.split(':')[0]):02d}:{at.split(':')[1]}", timezone)
        except schedule.ScheduleValueError:
            raise bad from None
    return job


def problems(config: Config) -> list[str]:
    """Every timetable entry read as `schedule` will read it; one line per fault."""
    out = []
    scratch = schedule.Scheduler()
    for name, text in config.schedule.items():
        try:
            plan(scratch, text, config.timezone, f"schedule.{name}")
        except ConfigError as exc:
            out += exc.problems
    return out


def build(config: Config, run: Callable[[str], None], stop: Callable[[], bool] = lambda: False
          ) -> schedule.Scheduler:
    """A scheduler with every configured job; `run(name)` does one run of a job
    (none once `stop()` says so). ConfigError listing every entry that cannot be read."""
    faults = problems(config)
    if faults:
        raise ConfigError(faults)
    scheduler = schedule.Scheduler()
    for name, text in config.schedule.items():
        plan(scheduler, text, config.timezone, f"schedule.{name}").do(guarded, run, name, stop)
    return scheduler


def next_runs(scheduler: schedule.Scheduler, timezone: str) -> dict[str, dt.datetime]:
    """Each job's next run, in the event's zone."""
    return {name_of(job): next_run(job, timezone) for job in scheduler.get_jobs()}


def name_of(job: schedule.Job) -> str:
    return job.job_func.args[1]


def guarded(run: Callable[[str], None], name: str, stop: Callable[[], bool] = lambda: False) -> None:
    if stop():
        return          # stopping: a job due at the same moment waits for the next start
    try:
        run(name)
    except Exception as exc:  # one job's failure must not stop the timetable
        failed(name, exc)


def failed(name: str, exc: Exception, why: str = "theo lịch") -> None:
    """A run's failure on the schedule's console, read by the engineer on call:
    Vietnamese, and a HoithaoError's message is already the sentence that says
    what to do (the run's Nhật ký row has it too)."""
    log.error("Lượt %s %s không thành công: %s", name, why,
              str(exc) if isinstance(exc, HoithaoError) else f"lỗi nội bộ ({type(exc).__name__})")


# -- times, in the event's zone -----------------------------------------------

def next_run(job: schedule.Job, timezone: str) -> dt.datetime:
    """When the job runs next, in the event's zone (`schedule` keeps a naive
    time of the server's own zone)."""
    return job.next_run.astimezone(ZoneInfo(timezone))


def when(moment: dt.datetime, timezone: str) -> str:
    """`07:30 thứ Ba, 01/10/2024 (giờ Asia/Ho_Chi_Minh, UTC+07:00)`."""
    local = moment.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return (f"{local:%H:%M} {_WEEKDAYS_VN[local.weekday()]}, {local:%d/%m/%Y} "
            f"(giờ {timezone}, UTC{offset[:3]}:{offset[3:]})")


def _period(job: schedule.Job) -> dt.timedelta:
    return dt.timedelta(**{job.unit: job.interval})


@dataclass(frozen=True)
class Missed:
    name: str
    due: dt.datetime | None      # the due time it missed (None: an interval job never run)


def missed(scheduler: schedule.Scheduler, last_runs: Mapping[str, dt.datetime], now: dt.datetime,
           timezone: str) -> list[Missed]:
    """The jobs to run once at start, in timetable order (pure but for the
    scheduler's next runs). `last_runs`: each job's latest start, any machine."""
    out = []
    for job in scheduler.get_jobs():
        name, period, last = name_of(job), _period(job), last_runs.get(name_of(job))
        if job.at_time is not None:
            due = next_run(job, timezone) - period   # the latest due time before now
            if last is not None and last < due <= now:
                out.append(Missed(name, due))
        elif last is None or now - last >= period:
            out.append(Missed(name, None))
    return out


def last_runs(rows: Iterable[Mapping[str, str]], timezone: str) -> dict[str, dt.datetime]:
    """Each job's latest start in `Nhật ký` (a run refused by a lock did not run)."""
    tz = ZoneInfo(timezone)
    out: dict[str, dt.datetime] = {}
    for row in rows:
        if row.get("result") in NOT_A_RUN + (STOPPED,):
            continue    # refused by a lock, a takeover's note, or cut short: its work is still to do
        try:
            started = dt.datetime.strptime(str(row.get("started") or "").strip(),
                                           "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
        except ValueError:
            continue    # a cell staff typed over: not a run the timetable can trust
        job = str(row.get("job") or "")
        if job and (job not in out or started > out[job]):
            out[job] = started
    return out


# -- the loop ----------------------------------------------------------------

def loop(scheduler: schedule.Scheduler, stop: Stop,
         tick: Callable[[schedule.Scheduler], None] = lambda timetable: None,
         sleep: Callable[[float], None] | None = None, wake_s: float = 60) -> None:
    """Run due jobs, one at a time, until a stop is requested; wake at least
    every `wake_s` seconds and call `tick(scheduler)` (the `Điều khiển` tab's
    heartbeat and ticks). `sleep` (a stop cuts it short) is the tests' clock."""
    sleep = sleep or stop.wait
    while not stop():
        scheduler.run_pending()   # one at a time, in order; each checks the stop first
        if stop():
            break
        tick(scheduler)
        if stop():
            break
        idle = scheduler.idle_seconds
        sleep(min(max(idle if idle is not None else wake_s, 1), wake_s))


def serve(config: Config, run: Callable[[str], None], last: Mapping[str, dt.datetime], stop: Stop,
          say: Callable[[str], None],
          tick: Callable[[schedule.Scheduler], None] = lambda timetable: None,
          sleep: Callable[[float], None] | None = None) -> None:
    """The `schedule` command: the timetable said in the event's time, each job
    missed while the server was down run once, then the loop until a stop.
    `last`: each job's latest start (last_runs of `Nhật ký`)."""
    tz = config.timezone
    timetable = build(config, run, stop)
    now = dt.datetime.now(ZoneInfo(tz))
    for job in timetable.get_jobs():
        name = name_of(job)
        say(f"{name}: {config.schedule[name]}; lần chạy tới {when(next_run(job, tz), tz)}")
    for late in missed(timetable, last, now, tz):
        if stop():
            return
        if late.due is not None:
            say(f"{late.name}: lượt {when(late.due, tz)} bị lỡ (máy chủ không chạy lúc đó); chạy bù một lần.")
        elif late.name in last:
            say(f"{late.name}: đã quá một chu kỳ kể từ lần chạy trước; chạy ngay.")
        else:
            say(f"{late.name}: chưa có lần chạy nào trong Nhật ký; chạy ngay.")
        guarded(run, late.name, stop)
    loop(timetable, stop, tick, sleep, wake_s=config.control.poll_s)
