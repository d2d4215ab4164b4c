"""Locks that keep two runs from overlapping.

A run holds named locks for its whole length: one named after its job, and
one per tab it writes (`tab-outbox`, `tab-registrations`, …), so that two
runs of one job, or two jobs writing the same tab, never interleave their
writes. `HostLocks` keeps them as lock files in a folder on this machine
(filelock: `flock` on POSIX), which the operating system releases when the
process ends, even by SIGKILL; a lock is re-entrant within one process.

Jobs never see this module: `workflows.base.run_job` asks the context's
`Locker` for the names the job declares. A lease that also covers a second
machine (a row in the spreadsheet) is another `Locker`, chained after the
host's, with no change to any job.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from filelock import FileLock, Timeout


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: shown to the run that has to wait or give up."""
    job: str
    since: str          # local time, as the sheet writes it
    pid: int = 0
    host: str = ""
    doing: str = ""     # what the run is doing, in a few Vietnamese words ("gửi thư")


class Busy(Exception):
    """A lock is held by another run (its holder, when known)."""

    def __init__(self, name: str, holder: Holder | None):
        super().__init__(name)
        self.name = name
        self.holder = holder


class Locker(Protocol):
    """What `run_job` needs of a lock: hold these names for a while."""

    def hold(self, names: Sequence[str], holder: Holder | None = None,
             wait_s: float = 0) -> contextlib.AbstractContextManager[None]:
        """Hold every lock in `names`, waiting up to `wait_s` seconds in all;
        Busy (nothing held) when one stays taken. `holder` None: the run that
        already holds locks here (a job writing one more tab on its way)."""
        ...


class HostLocks:
    """Lock files in `folder` (created mode 700, files mode 600)."""

    def __init__(self, folder: Path, poll_s: float = 0.05):
        self.folder = Path(folder)
        self.poll_s = poll_s
        self._locks: dict[str, FileLock] = {}
        self._current: Holder | None = None     # the run holding locks here now

    def _lock(self, name: str) -> FileLock:
        if name not in self._locks:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            # One instance per name: flock locks belong to an open file, so a
            # second instance in this process would wait for the first.
            self._locks[name] = FileLock(self.folder / f"{name}.lock", mode=0o600,
                                         fallback_to_soft=False, preserve_lock_file=True)
        return self._locks[name]

    def _holder_path(self, name: str) -> Path:
        return self.folder / f"{name}.holder.json"

    def holder(self, name: str) -> Holder | None:
        """Who holds `name`, as its holder wrote it on taking it (and removes
        on letting go); None when that cannot be told: no note yet, or the note
        of a process of this host that is gone (killed while holding it)."""
        try:
            holder = Holder(**json.loads(self._holder_path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if holder.host == socket.gethostname() and holder.pid and not alive(holder.pid):
            return None
        return holder

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], holder: Holder | None = None,
             wait_s: float = 0) -> Iterator[None]:
        holder = holder or self._current or this_process("hoithao", time.strftime("%Y-%m-%d %H:%M:%S"))
        deadline = time.monotonic() + max(wait_s, 0)
        taken: list[tuple[str, FileLock, bool]] = []
        outer = self._current
        try:
            # One order within a hold, so two runs waiting for each other's locks
            # cannot deadlock; a run taking more locks later (a mirror) waits
            # only briefly for them.
            for name in sorted(set(names)):
                lock = self._lock(name)
                first = not lock.is_locked
                try:
                    lock.acquire(timeout=max(deadline - time.monotonic(), 0),
                                 poll_interval=self.poll_s)
                except Timeout:
                    found = self._wait_for_holder(name)
                    # No note: the other run may have finished between our
                    # attempt and our look (it removes its note as it lets go).
                    # The lock is then free: take it rather than name nobody.
                    try:
                        if found is not None:
                            raise Timeout(str(lock.lock_file))
                        lock.acquire(timeout=0, poll_interval=self.poll_s)
                    except Timeout:
                        raise Busy(name, found or self.holder(name)) from None
                taken.append((name, lock, first))
                if first:
                    self._write_holder(name, holder)
            self._current = holder
            yield
        finally:
            self._current = outer
            for name, lock, first in reversed(taken):
                if first:  # the note goes while the lock is still ours: never the next holder's
                    self._holder_path(name).unlink(missing_ok=True)
                lock.release()

    def _wait_for_holder(self, name: str, patience_s: float = 2.0) -> Holder | None:
        """The holder of a lock this run could not take. Its note is written
        just after the lock is taken: a run refused in between waits a moment
        for it rather than name nobody."""
        deadline = time.monotonic() + patience_s
        while True:
            holder = self.holder(name)
            if holder is not None or time.monotonic() >= deadline:
                return holder
            time.sleep(self.poll_s)

    def _write_holder(self, name: str, holder: Holder) -> None:
        path = self._holder_path(name)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(holder), fh, ensure_ascii=False)
        os.replace(tmp, path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, another user's
        return True
    return True


def this_process(job: str, since: str, doing: str = "") -> Holder:
    return Holder(job=job, since=since, pid=os.getpid(), host=socket.gethostname(), doing=doing)
