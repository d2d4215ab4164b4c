"""`schedule` through simulated days: the timetable in Vietnam time on a server
in another zone, a job missed while the server was down run once at start,
one failing job not stopping the others, a stop request ending the loop;
`check` reading each entry as `schedule` will. The clock is moved by
time-machine (the `schedule` library reads datetime.now)."""
from __future__ import annotations

import collections
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.conftest import ROOT, child_env, run_cli
from workflows import scheduler
from workflows.base import NOT_RUN, SUCCEEDED, Stop
from workflows.jobs import load_config
from workspace.errors import ConfigError, HoithaoError

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TIMETABLE = {"sync-registrations": "every 10 minutes", "send-outbox": "every 5 minutes",
             "chase-submissions": "every day at 07:30", "generate-docs": "every monday at 08:00"}


@pytest.fixture
def server_in_utc() -> Iterator[None]:
    """The server's own zone is UTC, as on most hosts: the timetable must not care."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def _travel(start: dt.datetime) -> Any:
    """The clock at `start`, standing still (the test moves it). Given as a
    timestamp: a datetime with a zone would set the process's zone to it, and
    the server would no longer be in UTC."""
    return time_machine.travel(start.timestamp(), tick=False)


def _config(**schedule: str) -> Any:
    config = load_config(ROOT / "config.yaml", environ={})
    return config.model_copy(update={"schedule": schedule or dict(TIMETABLE)})


class Day:
    """serve() on a moving clock: each sleep moves time on instead of waiting;
    every run is recorded with its Vietnam time; the loop stops at `until`."""

    def __init__(self, traveller: Any, until: dt.datetime, fail: str = ""):
        self.traveller, self.until, self.fail = traveller, until, fail
        self.runs: list[tuple[str, dt.datetime]] = []
        self.said: list[str] = []
        self.stop = Stop()

    def run(self, name: str) -> None:
        self.runs.append((name, dt.datetime.now(VN).replace(second=0, microsecond=0)))
        if name == self.fail:
            raise HoithaoError(f"{name} hỏng (thử)")

    def sleep(self, seconds: float) -> None:
        self.traveller.shift(dt.timedelta(seconds=seconds))
        if dt.datetime.now(VN) >= self.until:
            self.stop.request("hết ngày thử")

    def serve(self, config: Any, last: dict[str, dt.datetime]) -> None:
        scheduler.serve(config, self.run, last, self.stop, self.said.append, sleep=self.sleep)

    def of(self, name: str) -> list[dt.datetime]:
        return [at for n, at in self.runs if n == name]


def test_a_day_runs_each_job_at_its_vietnam_time_on_a_utc_server(server_in_utc: None) -> None:
    start = dt.datetime(2024, 11, 3, 23, 50, tzinfo=VN)          # a Sunday, 16:50 UTC
    until = dt.datetime(2024, 11, 4, 23, 50, tzinfo=VN)
    last = {name: start - dt.timedelta(minutes=1) for name in TIMETABLE}   # all ran just before
    with _travel(start) as traveller:
        assert time.tzname == ("UTC", "UTC")      # the server's own zone, inside the travel too
        day = Day(traveller, until)
        day.serve(_config(), last)
    # Timed jobs at their Vietnam time, once each.
    assert day.of("chase-submissions") == [dt.datetime(2024, 11, 4, 7, 30, tzinfo=VN)]
    assert day.of("generate-docs") == [dt.datetime(2024, 11, 4, 8, 0, tzinfo=VN)]
    # Interval jobs every N minutes, all day, never two at once (one list, in order).
    # (The last ran at 23:49: next at 00:00, then every 10 minutes until the day ends at 23:50.)
    midnight = dt.datetime(2024, 11, 4, 0, 0, tzinfo=VN)
    assert day.of("sync-registrations") == [midnight + dt.timedelta(minutes=10 * k) for k in range(143)]
    assert day.of("send-outbox") == [start + dt.timedelta(minutes=5 * k) for k in range(1, 288)]
    assert [at for _, at in day.runs] == sorted(at for _, at in day.runs)
    # What the engineer on call reads at start: Vietnam time, with the zone.
    chase = next(line for line in day.said if line.startswith("chase-submissions"))
    assert chase == ("chase-submissions: every day at 07:30; lần chạy tới 07:30 thứ Hai, 04/11/2024 "
                     "(giờ Asia/Ho_Chi_Minh, UTC+07:00)"), day.said
    assert not any("lỡ" in line or "chạy bù" in line for line in day.said)


def test_a_run_missed_while_the_server_was_down_runs_once_at_start(server_in_utc: None) -> None:
    start = dt.datetime(2024, 11, 6, 9, 15, tzinfo=VN)           # down since Saturday evening
    last = {"chase-submissions": dt.datetime(2024, 11, 2, 7, 30, 4, tzinfo=VN),
            "sync-registrations": start - dt.timedelta(minutes=3),
            "send-outbox": start - dt.timedelta(hours=2)}
    with _travel(start) as traveller:
        day = Day(traveller, start + dt.timedelta(minutes=2))
        day.serve(_config(**{k: v for k, v in TIMETABLE.items() if k != "generate-docs"}), last)
    # Four missed mornings, one catch-up run, at start; then none until tomorrow 07:30.
    assert day.of("chase-submissions") == [dt.datetime(2024, 11, 6, 9, 15, tzinfo=VN)]
    assert any("chase-submissions: lượt 07:30 thứ Tư, 06/11/2024" in line and "chạy bù một lần" in line
               for line in day.said), day.said
    # send-outbox's 5 minutes have long passed: now; sync ran 3 minutes ago: at its time.
    assert day.of("send-outbox")[0] == start.replace(second=0)
    assert day.of("sync-registrations") == []


def test_a_job_never_run_is_not_caught_up_and_a_failing_job_stops_no_other(
        server_in_utc: None, caplog: pytest.LogCaptureFixture) -> None:
    start = dt.datetime(2024, 11, 4, 6, 0, tzinfo=VN)
    with _travel(start) as traveller:
        day = Day(traveller, start + dt.timedelta(hours=3), fail="chase-submissions")
        day.serve(_config(**{"chase-submissions": "every day at 07:30",
                             "sync-registrations": "every 30 minutes"}), {})
    assert day.of("chase-submissions") == [dt.datetime(2024, 11, 4, 7, 30, tzinfo=VN)]
    # Never run before: an interval job runs at start; then every 30 minutes, the failure notwithstanding.
    assert day.of("sync-registrations") == [start + dt.timedelta(minutes=30 * k) for k in range(6)]
    assert "Lượt chase-submissions theo lịch không thành công: chase-submissions hỏng (thử)" in caplog.text


def test_a_stop_request_ends_the_loop_after_the_job_in_hand(server_in_utc: None) -> None:
    start = dt.datetime(2024, 11, 4, 7, 29, tzinfo=VN)
    with _travel(start) as traveller:
        day = Day(traveller, start + dt.timedelta(days=1))
        asked = day.run

        def run(name: str) -> None:      # SIGTERM arrives while this job runs
            asked(name)
            day.stop.request("SIGTERM")
        day.run = run  # type: ignore[method-assign]
        day.serve(_config(**{"chase-submissions": "every day at 07:30",
                             "send-outbox": "every day at 07:30"}), {})
    # The first due job ran to its end; the one due with it waits for the next start.
    assert [n for n, _ in day.runs] == ["chase-submissions"]


def test_last_runs_come_from_nhat_ky_any_machine_but_not_refused_runs() -> None:
    rows = [{"job": "chase-submissions", "started": "2024-11-04 07:30:02", "result": SUCCEEDED},
            {"job": "chase-submissions", "started": "2024-11-05 07:30:01", "result": NOT_RUN},
            {"job": "chase-submissions", "started": "sửa tay", "result": SUCCEEDED},
            {"job": "send-outbox", "started": "2024-11-05 07:35:00", "result": "Lỗi"}]
    assert scheduler.last_runs(rows, "Asia/Ho_Chi_Minh") == {
        "chase-submissions": dt.datetime(2024, 11, 4, 7, 30, 2, tzinfo=VN),
        "send-outbox": dt.datetime(2024, 11, 5, 7, 35, tzinfo=VN)}


@pytest.mark.parametrize("text", ["every 0 minutes", "every day at 25:00", "every 2 monday",
                                  "mỗi ngày lúc 07:30", "every minutes", "every 10 minute at 07:30",
                                  "every hour at 00:30", "every 2 hours at 15:00", "every monday"])
def test_an_entry_schedule_would_refuse_is_a_located_problem(text: str) -> None:
    config = _config(**{"send-outbox": text})
    problems = scheduler.problems(config)
    assert len(problems) == 1 and problems[0].startswith(f"schedule.send-outbox: '{text}'"), problems
    with pytest.raises(ConfigError):
        scheduler.build(config, lambda name: None)


def test_check_reads_the_timetable_as_schedule_does(seeded: Path) -> None:
    path = seeded / "config.yaml"
    text = path.read_text(encoding="utf-8")
    assert 'send-outbox: "every 5 minutes"' in text
    path.write_text(text.replace('send-outbox: "every 5 minutes"', 'send-outbox: "every day at 7h30"'),
                    encoding="utf-8")
    out = run_cli("--config", str(path), "check", env=child_env())
    assert out.returncode == 1
    assert "✗ schedule.send-outbox: 'every day at 7h30' không phải một lịch chạy" in out.stdout, out.stdout


def test_every_shipped_entry_reads() -> None:
    config = load_config(ROOT / "config.yaml", environ={})
    assert config.schedule and scheduler.problems(config) == []
    counts = collections.Counter(scheduler.name_of(j) for j in scheduler.build(config, print).get_jobs())
    assert set(counts) == set(config.schedule) and set(counts.values()) == {1}
