"""`status`: the state of the event at a glance, read in two requests."""
from __future__ import annotations

from collections import Counter
from typing import Any

from workspace.clients import Workspace
from workspace.config import Config

from .base import NOT_RUN
from .registration_input import parse_quota, quota_problems

TABLES = ("invitees", "delegations", "registrations", "papers", "outbox", "runs")


def _count(text: str) -> int:
    """A count the jobs wrote (0 when a person typed something else there)."""
    value, readable = parse_quota(text)
    return value if readable and value is not None else 0


def collect(config: Config, ws: Workspace) -> dict[str, Any]:
    """Counts per status and per delegation, each job's last run, and the
    cells that cannot be read (located, in Vietnamese)."""
    snaps = dict(zip(TABLES, ws.coordinating_spreadsheet(config).read(*TABLES)))

    def by(name: str, field: str) -> dict[str, int]:
        return dict(Counter(r[field] or "(trống)" for r in snaps[name].records))

    delegations = []
    for r in snaps["delegations"].records:
        quota, readable = parse_quota(r.raw.get("quota", r["quota"]))
        delegations.append({"code": r.key, "name": r["name"], "quota": quota,
                            "quota_readable": readable, "registered": _count(r["registered"]),
                            "confirmed": _count(r["confirmed"]), "waitlisted": _count(r["waitlisted"])})
    last_runs: dict[str, dict[str, str]] = {}
    for r in snaps["runs"].records:
        if r["result"] != NOT_RUN:   # a run refused because another was running did nothing
            last_runs[r["job"]] = {"finished": r["finished"], "result": r["result"],
                                   "figures": r["figures"]}
    return {
        "event": config.event.name,
        "invitees": {"total": len(snaps["invitees"].records), "by_status": by("invitees", "invitation_status")},
        "registrations": {"total": len(snaps["registrations"].records),
                          "by_status": by("registrations", "status")},
        "delegations": delegations,
        "papers": {"total": len(snaps["papers"].records), "by_status": by("papers", "status")},
        "outbox": {"total": len(snaps["outbox"].records), "by_status": by("outbox", "status")},
        "last_runs": last_runs,
        "problems": quota_problems(snaps["delegations"].records, config.sheets.delegations),
    }
