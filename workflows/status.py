"""`status`: the state of the event at a glance, read in two requests."""
from __future__ import annotations

from collections import Counter
from typing import Any

from workspace.clients import Workspace
from workspace.config import Config
from workspace.table import KeyedTable, read_many

TABLES = ("invitees", "delegations", "registrations", "papers", "outbox", "runs")


def _int(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


def collect(config: Config, ws: Workspace) -> dict[str, Any]:
    """Counts per status and per delegation, and each job's last run."""
    sh = ws.spreadsheet(config.google.spreadsheet_id)
    tables = [KeyedTable(sh, getattr(config.sheets, name), name) for name in TABLES]
    snaps = dict(zip(TABLES, read_many(tables)))

    def by(name: str, field: str) -> dict[str, int]:
        return dict(Counter(r[field] or "(trống)" for r in snaps[name].records))

    delegations = [{"code": r.key, "name": r["name"], "quota": _int(r["quota"]),
                    "registered": _int(r["registered"]) or 0, "confirmed": _int(r["confirmed"]) or 0,
                    "waitlisted": _int(r["waitlisted"]) or 0} for r in snaps["delegations"].records]
    last_runs: dict[str, dict[str, str]] = {}
    for r in snaps["runs"].records:
        last_runs[r["job"]] = {"finished": r["finished"], "result": r["result"], "figures": r["figures"]}
    return {
        "event": config.event.name,
        "invitees": {"total": len(snaps["invitees"].records), "by_status": by("invitees", "invitation_status")},
        "registrations": {"total": len(snaps["registrations"].records),
                          "by_status": by("registrations", "status")},
        "delegations": delegations,
        "papers": {"total": len(snaps["papers"].records), "by_status": by("papers", "status")},
        "outbox": {"total": len(snaps["outbox"].records), "by_status": by("outbox", "status")},
        "last_runs": last_runs,
    }
