"""The lease: a job's lock that also covers other machines.

Host locks (workspace.locks) keep two runs on one machine apart. A second
server, or a manual run on a laptop, shares only the spreadsheet, so the
job's row in `Điều khiển` carries a lease: who runs it (`Đang chạy trên`),
since when (`Giữ từ`) and its last heartbeat (`Nhịp cuối`), which a thread
renews every control.heartbeat_s while the run lasts.

Sheets has no compare-and-set. A run takes a free lease by writing its own
holder text (which ends in a random mark), waiting control.settle_s, and
reading the row back: of two machines writing at once, the last write stands
and only its writer finds its own text. The wait is longer than one run's
read-to-write gap, which is what makes the read-back decide.

A lease is free when its holder cell is empty (a person may empty it by hand
to free a lease), when its heartbeat is older than control.lease_stale_s (the
machine is taken to be dead: `on_takeover` is told), or when it names this
machine: the host lock, taken first, says no other run of this job is alive
here, so such a row is a killed run's.

With no `Điều khiển` tab there is nothing to share and the lease holds
nothing (one machine); `schedule` makes the tab.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from .errors import ApiError, HoithaoError, SheetSchemaError
from .locks import Busy, Holder, alive
from .table import KeyedTable, Record, Snapshot, cell_text

log = logging.getLogger(__name__)

LEASE_FIELDS = ("holder", "since", "heartbeat")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_HOLDER = re.compile(r"^máy (?P<host>.+), tiến trình (?P<pid>\d+) \(#(?P<mark>[0-9a-f]+)\)$")


@dataclass(frozen=True)
class LeaseHolder:
    """A lease as its row shows it."""
    text: str
    host: str
    pid: int
    since: str
    heartbeat: str

    def holder(self, job: str) -> Holder:
        return Holder(job=job, since=self.since or "(không rõ)", pid=self.pid, host=self.host)


def holder_of(record: Record | None) -> LeaseHolder | None:
    """The lease a row shows; None when its holder cell is empty."""
    if record is None or not record["holder"].strip():
        return None
    text = record["holder"].strip()
    m = _HOLDER.match(text)
    host, pid = (m.group("host"), int(m.group("pid"))) if m else (text, 0)
    return LeaseHolder(text, host, pid, record["since"].strip(), record["heartbeat"].strip())


def is_stale(lease: LeaseHolder, now: float, tz: ZoneInfo, stale_s: float) -> bool:
    """The lease's machine is taken to be dead: no heartbeat (nor start)
    within stale_s seconds; a cell nobody can read counts as none."""
    def age(text: str) -> float | None:
        try:
            moment = dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=tz)
        except ValueError:
            return None
        return now - moment.timestamp()

    seconds = age(lease.heartbeat)
    if seconds is None:
        seconds = age(lease.since)
    return seconds is None or seconds > stale_s


def holder_text(server: str, pid: int, mark: str) -> str:
    """`máy may-chu-1, tiến trình 4242 (#9f3a1c)`: readable, and unique to one run."""
    return f"máy {server}, tiến trình {pid} (#{mark})"


class SheetLease:
    """A `Locker` over the `Điều khiển` tab for names `job-*` (others pass)."""

    def __init__(self, table: KeyedTable, exists: Callable[[], bool],
                 beat_table: Callable[[], KeyedTable], server: str,
                 timezone: str, heartbeat_s: float, stale_s: float, settle_s: float,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 on_takeover: Callable[[str, LeaseHolder], None] = lambda job, old: None):
        self.table = table
        self._exists = exists              # the spreadsheet has the tab (one look at its tabs)
        self._beat_table = beat_table      # a table on a client of its own: used from another thread
        self.server = server
        self.tz = ZoneInfo(timezone)
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.settle_s = settle_s
        # A waiting run reads the tab this often: 10 s on Google (settle 2 s),
        # well inside the per-user read quota while the running job reads too.
        self.poll_s = max(settle_s * 5, 1.0)
        self.clock = clock
        self.sleep = sleep
        self.on_takeover = on_takeover
        self.active: bool | None = None    # None: not known yet; False: the spreadsheet has no tab
        self.lost = threading.Event()      # another machine took this run's lease over
        self._next_look = 0.0              # monotonic time before which the tab is not read again
        self._busy: dict[str, LeaseHolder] = {}   # the holder last seen, per job

    # -- times ------------------------------------------------------------------
    def now_text(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), self.tz).strftime(TIME_FORMAT)

    def stale(self, lease: LeaseHolder) -> bool:
        return is_stale(lease, self.clock(), self.tz, self.stale_s)

    # -- reading ----------------------------------------------------------------
    def _read(self) -> Snapshot | None:
        """The tab, or None when the spreadsheet has none (asked once, from the
        list of tabs: reading a missing range would be a refused request)."""
        if self.active is None:
            self.active = self._exists()
        if not self.active:
            return None
        try:
            return self.table.read()
        except SheetSchemaError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, ApiError) and cause.kind == "missing_tab"):
                raise      # the tab is there but its header is wrong: the run must say so
            self.active = False   # deleted meanwhile
            return None

    # -- the Locker ---------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, names: Sequence[str], holder: Holder | None = None,
             wait_s: float = 0) -> Iterator[None]:
        jobs = sorted({n.removeprefix("job-") for n in names if n.startswith("job-")})
        if not jobs or holder is None or self.active is False:
            yield
            return
        deadline = time.monotonic() + max(wait_s, 0)
        mine = holder_text(self.server, holder.pid, secrets.token_hex(3))
        taken: list[str] = []
        beating = threading.Event()
        beat: threading.Thread | None = None
        try:
            for job in jobs:
                try:
                    if not self._take(job, mine, holder, deadline):
                        break   # no tab: nothing to share
                except Busy:
                    raise
                except BaseException:
                    self._let_go([job], mine)   # a claim written but not confirmed must not stay
                    raise
                taken.append(job)
            if taken:
                beat = threading.Thread(target=self._beat, args=(taken, mine, beating), daemon=True,
                                        name="hoithao-lease-heartbeat")
                beat.start()
            yield
        finally:
            beating.set()
            if beat is not None:
                beat.join(timeout=30)
            if taken:
                self._let_go(taken, mine)

    def _take(self, job: str, mine: str, holder: Holder, deadline: float) -> bool:
        """Take the job's lease (True), or find there is no tab (False); Busy
        when another machine keeps it past the deadline. The tab is read at
        most every poll_s, however often a waiting run asks (its waits come in
        slices, so that a stop request is seen)."""
        while True:
            wait = self._next_look - time.monotonic()
            if wait > 0:
                left = deadline - time.monotonic()
                if wait > left:   # no look before the deadline: busy, as last seen
                    self.sleep(max(left, 0))
                    seen = self._busy.get(job)
                    raise Busy(f"job-{job}", seen.holder(job) if seen else None)
                self.sleep(wait)
                if time.monotonic() < self._next_look - 0.05:   # woken early: a stop request
                    seen = self._busy.get(job)
                    raise Busy(f"job-{job}", seen.holder(job) if seen else None)
            snap = self._read()
            self._next_look = time.monotonic() + self.poll_s
            if snap is None:
                return False
            row = snap.by_key.get(job)
            other = holder_of(row)
            if other is not None and other.text != mine and not self._free(other):
                self._busy[job] = other
                if time.monotonic() >= deadline:
                    raise Busy(f"job-{job}", other.holder(job))
                continue
            # One write, to the row just read (no repair rounds: a claim that
            # lands elsewhere is found and undone below).
            claim = {"holder": mine, "since": holder.since, "heartbeat": self.now_text()}
            if row is None:
                self.table.write({}, [{"key": job, "run_now": False, **claim}])
            else:
                self.table.put(snap, {row.row: claim})
            self.sleep(self.settle_s)
            check = self._read()
            if check is None:
                return False
            now_holder = holder_of(check.by_key.get(job))
            if now_holder is not None and now_holder.text == mine:
                self._busy.pop(job, None)
                if other is not None:
                    self.on_takeover(job, other)
                return True
            self._undo_stray(snap, check, mine)
            # Another machine wrote after this one: its claim stands.
            if now_holder is not None:
                self._busy[job] = now_holder
            if time.monotonic() >= deadline:
                raise Busy(f"job-{job}", now_holder.holder(job) if now_holder else None)

    def _undo_stray(self, before: Snapshot, after: Snapshot, mine: str) -> None:
        """A claim of ours that landed on another row (staff sorted between the
        read and the write) is taken back: that row's lease cells get what its
        key held before (every row, duplicate keys too)."""
        undo = {}
        for row, key in after.row_keys.items():
            if cell_text(after.cells.get((row, "holder"))).strip() != mine:
                continue
            earlier = before.by_key.get(key)
            undo[row] = {f: (earlier.raw.get(f, "") if earlier is not None else "") for f in LEASE_FIELDS}
        if undo:
            self.table.put(after, undo)

    def _free(self, other: LeaseHolder) -> bool:
        """A lease that is not another live run's: stale, or this machine's
        (same name) with its process gone (the host lock, taken first, says
        no run of this job is alive in this lock folder; another config on
        this host has its own folder, so the process is what tells)."""
        if self.stale(other):
            return True
        if other.host != self.server or other.pid <= 0:
            return False
        # This process's own leftover (a run whose letting go failed): the
        # host lock, held now, says no other run of it is alive here.
        return other.pid == os.getpid() or not alive(other.pid)

    def _beat(self, jobs: list[str], mine: str, done: threading.Event) -> None:
        """Renew the heartbeat until the run ends; on its own client. A lease
        found taken over sets `lost` (the run then stops as on a stop request)."""
        table: KeyedTable | None = None
        last_ok = time.monotonic()
        while not done.wait(self.heartbeat_s):
            # Cut off from the sheet for so long that another machine may take
            # it for dead: stop, as if it had.
            if time.monotonic() - last_ok > max(self.stale_s - self.heartbeat_s, self.heartbeat_s):
                self.lost.set()
            try:
                table = table or self._beat_table()
                snap = table.read()
                ours = [j for j in jobs if snap.by_key.get(j) is not None
                        and snap.by_key[j]["holder"].strip() == mine]
                if len(ours) < len(jobs):
                    self.lost.set()
                    log.warning("lease of %s taken over by another machine",
                                ", ".join(sorted(set(jobs) - set(ours))))
                if ours:
                    table.write({j: {"heartbeat": self.now_text()} for j in ours}, owned=LEASE_FIELDS)
                    last_ok = time.monotonic()
            except Exception as exc:   # noqa: BLE001 - a thread's failure: the next beat tries again
                log.info("heartbeat not written: %s", type(exc).__name__)

    def _let_go(self, jobs: list[str], mine: str) -> None:
        """Empty the lease cells still ours, read just before (a lease taken
        over stays the taker's)."""
        try:
            snap = self._read()
            if snap is None:
                return
            ours = {snap.by_key[j].row: {f: "" for f in LEASE_FIELDS} for j in jobs
                    if snap.by_key.get(j) is not None and snap.by_key[j]["holder"].strip() == mine}
            if ours:
                self.table.put(snap, ours)
        except HoithaoError as exc:   # the lease then goes stale and is taken over
            log.warning("lease not let go: %s", exc)


class ChainedLocks:
    """Several lockers held in order (the host's, then the lease); all or none."""

    def __init__(self, *lockers: Any):
        self.lockers = lockers

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], holder: Holder | None = None,
             wait_s: float = 0) -> Iterator[None]:
        deadline = time.monotonic() + max(wait_s, 0)
        with contextlib.ExitStack() as stack:
            for locker in self.lockers:
                stack.enter_context(locker.hold(names, holder, max(deadline - time.monotonic(), 0)))
            yield

