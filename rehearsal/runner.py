"""Chạy việc: a job started from the console is the command line's own
command (`python run.py --config DATA/config.yaml JOB`), run as a separate
process against the console's sandbox, so a rehearsal takes exactly the path
a terminal or the server takes: the same locks, the same `Nhật ký` row, the
same summary."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

RUN_PY = Path(__file__).resolve().parent.parent / "run.py"
# What a run may print before the console keeps only its end (a summary is short).
MAX_OUTPUT = 200_000
# After its process ends, how long a run's output may still trickle in (from a
# process it started that still holds the pipe) before the run counts as done.
DRAIN_S = 5.0


@dataclass
class Run:
    number: int
    job: str
    dry_run: bool
    started: dt.datetime
    finished: dt.datetime | None = None
    exit_code: int | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)
    follower: threading.Thread | None = field(default=None, repr=False)
    # The newest lines printed, at most about MAX_OUTPUT characters in all.
    _lines: deque[str] = field(default_factory=deque, repr=False)
    _size: int = field(default=0, repr=False)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line)
        while self._size > MAX_OUTPUT and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())

    @property
    def running(self) -> bool:
        return self.exit_code is None

    @property
    def state(self) -> str:
        if self.exit_code is None:
            return "running"
        return "ok" if self.exit_code == 0 else "failed"


class Busy(Exception):
    """Another run started from the console has not finished."""

    def __init__(self, run: Run):
        super().__init__(run.job)
        self.run = run


class Runner:
    """Runs started from the console, one at a time, newest first."""

    def __init__(self, config_path: Path, sandbox_url: str, env: dict[str, str] | None = None,
                 timezone: str = "Asia/Ho_Chi_Minh"):
        self.config_path = config_path
        self.zone = ZoneInfo(timezone)      # times shown as the event's, like Nhật ký's
        self.sandbox_url = sandbox_url
        self.env = env if env is not None else dict(os.environ)
        self._lock = threading.Lock()
        self._runs: list[Run] = []

    def runs(self) -> list[Run]:
        with self._lock:
            return list(reversed(self._runs))

    def get(self, number: int) -> Run | None:
        with self._lock:
            return next((r for r in self._runs if r.number == number), None)

    def start(self, job: str, dry_run: bool = False) -> Run:
        """Start `job`; raises Busy while an earlier run is going."""
        with self._lock:
            current = next((r for r in self._runs if r.running), None)
            if current is not None:
                raise Busy(current)
            command = [sys.executable, str(RUN_PY), "--config", str(self.config_path), job]
            if dry_run:
                command.append("--dry-run")
            env = {**self.env, "HOITHAO_GOOGLE_URL": self.sandbox_url, "NO_COLOR": "1",
                   "COLUMNS": "110", "TERM": "dumb", "PYTHONIOENCODING": "utf-8"}
            env.pop("HOITHAO_SCHEDULED", None)    # a run from the console is a manual run
            run = Run(number=len(self._runs) + 1, job=job, dry_run=dry_run,
                      started=dt.datetime.now(self.zone))
            run.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                                           errors="replace", env=env, cwd=str(RUN_PY.parent),
                                           start_new_session=True)
            self._runs.append(run)
        run.follower = threading.Thread(target=self._follow, args=(run,), name=f"run-{run.number}", daemon=True)
        run.follower.start()
        return run

    def _follow(self, run: Run) -> None:
        assert run.process is not None
        reader = threading.Thread(target=self._read, args=(run,), name=f"run-{run.number}-out", daemon=True)
        reader.start()
        code = run.process.wait()
        # The run is over when its process is; a process it left behind holding
        # the pipe does not keep it "running" for ever.
        reader.join(DRAIN_S)
        with self._lock:
            run.finished = dt.datetime.now(self.zone)
            run.exit_code = code

    def _read(self, run: Run) -> None:
        assert run.process is not None and run.process.stdout is not None
        for line in run.process.stdout:
            with self._lock:
                run.add(line)

    def stop(self, timeout: float = 30) -> None:
        """Ask a running job to stop as the server's SIGTERM does (it finishes
        its step and writes its `Nhật ký` row), then wait for it; after
        `timeout` its whole process group is killed.

        SIGTERM rather than SIGINT: a console started in the background by a
        shell ignores SIGINT, and its children would inherit that."""
        for run in self.runs():
            if run.running and run.process is not None:
                try:
                    os.killpg(run.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    run.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(run.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    run.process.wait()
            if run.follower is not None:
                run.follower.join(DRAIN_S + 1)      # its end and output recorded
