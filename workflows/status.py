"""`status`: the state of the event at a glance, read in three requests."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import schedule

from workspace.clients import Workspace
from workspace.config import Config
from workspace.errors import ConfigError
from workspace.locks import HostLocks
from workspace.outbox import LABELS, UNKNOWN
from workspace.table import ticked

from . import control
from .base import NOT_A_RUN, job_lock
from .registration_input import parse_quota, quota_problems
from .registrations import INVALID, WITHDRAWN_NOTE

SCHEMA = 2   # `status --json`: a key is only ever added; a change of meaning bumps this
WITHDRAWN = "Đã rút"
UNKNOWN_LABEL = LABELS[UNKNOWN]

TABLES = ("invitees", "delegations", "registrations", "papers", "outbox", "runs")


def _count(text: str) -> int:
    """A count the jobs wrote (0 when a person typed something else there)."""
    value, readable = parse_quota(text)
    return value if readable and value is not None else 0


def _next_runs(config: Config, now: dt.datetime, last: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """When each timetabled job runs next (ISO 8601 in the event's zone): a
    timed one at its next time; an interval one its interval after its last
    run (at once when that has passed), as `schedule` goes on."""
    from . import scheduler   # its timetable, read exactly as `schedule` reads it

    out = {}
    tz = ZoneInfo(config.timezone)
    timetable = schedule.Scheduler()
    for name, text in config.schedule.items():
        try:
            job = scheduler.plan(timetable, text, config.timezone, f"schedule.{name}")
        except ConfigError:
            continue    # `check` names it
        job.do(lambda: None)
        moment = scheduler.next_run(job, config.timezone)
        if job.at_time is None and name in last:
            try:
                finished = dt.datetime.strptime(last[name]["finished"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
            except ValueError:
                pass   # a cell typed over: the timetable's own next time
            else:
                moment = max(finished + dt.timedelta(**{job.unit: job.interval}), now)
        out[name] = moment.isoformat(timespec="seconds")
    return out


def _running(config: Config, names: list[str]) -> dict[str, dict[str, Any]]:
    """The runs holding a job's lock on this machine now (their holder notes)."""
    locks = HostLocks(config.resolve(config.locks.dir))
    out = {}
    for name in names:
        holder = locks.holder(job_lock(name)) if locks.folder.exists() else None
        if holder is not None:
            out[name] = {"since": holder.since, "host": holder.host, "pid": holder.pid}
    return out


def collect(config: Config, ws: Workspace, jobs: list[str] | None = None) -> dict[str, Any]:
    """Counts per status and per delegation, each job's last and next run,
    documents, and the cells that cannot be read (located, in Vietnamese).
    The shape is stable (SCHEMA); README documents it for monitoring."""
    sheet = ws.coordinating_spreadsheet(config)
    titles = set(sheet.tab_titles())
    names = list(TABLES) + [n for n in ("documents", "control") if config.sheets.table(n).tab in titles]
    snaps = dict(zip(names, sheet.read(*names)))

    def label(r: Any, name: str, field: str) -> str:
        # Withdrawn: ticked on this row, or on another row of the same person
        # (the sync empties the kept row's status and says why in Vấn đề).
        if name == "registrations" and not r[field] and (
                ticked(r["withdrawn"]) or r["problem"].startswith(WITHDRAWN_NOTE[:40])):
            return WITHDRAWN
        return r[field] or "(trống)"

    def by(name: str, field: str) -> dict[str, int]:
        return dict(Counter(label(r, name, field) for r in snaps[name].records))

    delegations = []
    for r in snaps["delegations"].records:
        quota, readable = parse_quota(r.raw.get("quota", r["quota"]))
        delegations.append({"code": r.key, "name": r["name"], "quota": quota,
                            "quota_readable": readable, "registered": _count(r["registered"]),
                            "confirmed": _count(r["confirmed"]), "waitlisted": _count(r["waitlisted"])})
    last_runs: dict[str, dict[str, str]] = {}
    for r in snaps["runs"].records:
        if r["result"] not in NOT_A_RUN:   # a refused run did nothing; a takeover is a note
            last_runs[r["job"]] = {"finished": r["finished"], "result": r["result"],
                                   "figures": r["figures"]}
    jobs = jobs if jobs is not None else sorted(set(config.schedule) | set(last_runs))
    next_runs = _next_runs(config, dt.datetime.now(ZoneInfo(config.timezone)).replace(microsecond=0),
                           last_runs)
    running = _running(config, jobs)
    leases: dict[str, dict[str, str]] = {}
    servers: list[dict[str, str]] = []
    for r in snaps["control"].records if "control" in snaps else []:
        if r.key.startswith(control.SERVER_PREFIX):
            servers.append({"name": r.key.removeprefix(control.SERVER_PREFIX), "heartbeat": r["heartbeat"]})
        elif r["holder"].strip():
            leases[r.key] = {"holder": r["holder"].strip(), "since": r["since"], "heartbeat": r["heartbeat"]}
    outbox_status = by("outbox", "status")
    problems = quota_problems(snaps["delegations"].records, config.sheets.delegations)
    # Rows a person must act on: in `Đăng ký` the invalid ones (a duplicate's or
    # a withdrawal's note needs nothing); elsewhere any row with a `Vấn đề`.
    flagged = {config.sheets.table(name).tab: sum(
        1 for r in snaps[name].records
        if r["problem"] and (name != "registrations" or r["status"] == INVALID))
        for name in ("invitees", "registrations", "papers", "documents") if name in snaps}
    return {
        "schema": SCHEMA,
        "event": config.event.name,
        "invitees": {"total": len(snaps["invitees"].records), "by_status": by("invitees", "invitation_status")},
        "registrations": {"total": len(snaps["registrations"].records),
                          "by_status": by("registrations", "status")},
        "delegations": delegations,
        "papers": {"total": len(snaps["papers"].records), "by_status": by("papers", "status")},
        "outbox": {"total": len(snaps["outbox"].records), "by_status": outbox_status,
                   "needs_person": outbox_status.get(UNKNOWN_LABEL, 0)},
        "documents": [{"code": r.key, "name": r["name"], "version": r["version"], "written_at": r["written_at"],
                       "link": r["link"], "problem": r["problem"]}
                      for r in snaps["documents"].records] if "documents" in snaps else [],
        "jobs": {name: {"last_run": last_runs.get(name), "next_run": next_runs.get(name),
                        "running": running.get(name), "lease": leases.get(name)} for name in jobs},
        "servers": servers,
        "last_runs": last_runs,
        "problems": problems,
        "problem_rows": flagged,
        "problem_count": len(problems) + sum(flagged.values()),
    }
