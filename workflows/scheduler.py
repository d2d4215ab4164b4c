"""`schedule`: run each job on the timetable in config.yaml, for ever.

The timetable is written in the `schedule` library's words: "every 10
minutes", "every hour", "every day at 07:30", "every monday at 08:00". One
job failing is logged and the others go on; the next tick tries again.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Callable

import schedule

from workspace.config import Config
from workspace.errors import ConfigError, HoithaoError

log = logging.getLogger(__name__)

_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"}
_DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_SPEC = re.compile(r"^every(?:\s+(?P<n>\d+))?\s+(?P<unit>[a-z]+)(?:\s+at\s+(?P<at>\d{1,2}:\d{2}))?$")


def plan(scheduler: schedule.Scheduler, text: str, timezone: str, key: str) -> schedule.Job:
    """Turn one timetable entry into a `schedule` job (not yet bound to work)."""
    m = _SPEC.match(" ".join(text.lower().split()))
    bad = ConfigError([f"{key}: '{text}' không phải một lịch chạy; viết ví dụ 'every 10 minutes', "
                       f"'every hour', 'every day at 07:30' hoặc 'every monday at 08:00'."])
    if not m:
        raise bad
    n = int(m.group("n") or 1)
    unit, at = m.group("unit"), m.group("at")
    if unit in _DAYS:
        if n != 1:
            raise bad
        job = getattr(scheduler.every(), unit)
    elif unit in _UNITS:
        if (unit.endswith("s") and m.group("n") is None) or (not unit.endswith("s") and n != 1):
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


def build(config: Config, run: Callable[[str], None]) -> schedule.Scheduler:
    """A scheduler with every configured job; `run(name)` does one run of a job."""
    scheduler = schedule.Scheduler()
    for name, text in config.schedule.items():
        plan(scheduler, text, config.timezone, f"schedule.{name}").do(_guarded, run, name)
    return scheduler


def _guarded(run: Callable[[str], None], name: str) -> None:
    try:
        run(name)
    except Exception as exc:  # one job's failure must not stop the timetable
        # The schedule's console is read by the engineer on call: Vietnamese, and
        # a HoithaoError's message is already the sentence that says what to do.
        log.error("Lượt %s theo lịch không thành công: %s", name,
                  str(exc) if isinstance(exc, HoithaoError) else f"lỗi nội bộ ({type(exc).__name__})")


def loop(scheduler: schedule.Scheduler, stop: Callable[[], bool] = lambda: False) -> None:
    """Run due jobs until `stop()` says so; sleep until the next one (at most 60 s)."""
    while not stop():
        scheduler.run_pending()
        idle = scheduler.idle_seconds
        time.sleep(min(max(idle if idle is not None else 60, 1), 60))
