"""sync-registrations: registration form responses -> the `Đăng ký` tab.

read:   the form's questions and every response (paginated), the tab (1 call)
decide: one record per response, keyed by its response id (pure)
write:  changed cells of the job's own columns + new rows (1-2 calls)
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Iterable
from zoneinfo import ZoneInfo

from workspace.forms import FormsAdapter, Response
from workspace.table import Snapshot, cell_text

from .base import Change, JobContext, JobResult

# The columns this job writes; everything else (Ghi chú, …) belongs to staff.
OWNED = ("submitted_at", "full_name", "honorific", "position", "unit", "delegation", "email",
         "phone", "invitee_code", "status", "problem", "checkin_code")
COPIED = ("full_name", "honorific", "position", "unit", "delegation", "email", "phone",
          "invitee_code")


def local_time(rfc3339: str, tz: str) -> str:
    """`2024-10-01T01:02:03.456Z` -> `2024-10-01 08:02:03` in the event's time zone."""
    if not rfc3339:
        return ""
    moment = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def records_from_responses(responses: Iterable[Response], tz: str) -> dict[str, dict[str, str]]:
    """What each response should look like in the tab, by response id."""
    out: dict[str, dict[str, str]] = {}
    for r in responses:
        rec = {"key": r.response_id, "submitted_at": local_time(r.submitted, tz)}
        for field in COPIED:
            rec[field] = clean(", ".join(r.answers.get(field, [])))
        out[r.response_id] = rec
    return out


def decide(wanted: dict[str, dict[str, str]], snap: Snapshot) -> tuple[
        dict[str, dict[str, str]], list[dict[str, str]], list[Change]]:
    """Updates for existing rows (only fields whose text differs), new rows, and the plan."""
    updates: dict[str, dict[str, str]] = {}
    inserts: list[dict[str, str]] = []
    plan: list[Change] = []
    for key, rec in wanted.items():
        current = snap.by_key.get(key)
        if current is None:
            inserts.append(rec)
            plan.append(Change(key, "thêm dòng mới"))
            continue
        diff = {f: v for f, v in rec.items() if f != "key" and f in OWNED and cell_text(v) != current[f]}
        if diff:
            updates[key] = diff
            plan.append(Change(key, "cập nhật", ", ".join(sorted(diff))))
    return updates, inserts, plan


def run(ctx: JobContext) -> JobResult:
    form = ctx.config.google.forms.registration
    responses = FormsAdapter(ctx.ws).responses(form.id, form.fields)
    table = ctx.table("registrations")
    snap = table.read()
    wanted = records_from_responses(responses, ctx.config.timezone)
    updates, inserts, plan = decide(wanted, snap)
    result = JobResult(plan=plan, figures={
        "phản hồi": len(responses), "dòng mới": len(inserts), "dòng cập nhật": len(updates)})
    if not ctx.dry_run and (updates or inserts):
        written = table.write(updates, inserts, owned=OWNED)
        if written.missing_keys:
            result.notes.append(f"{len(written.missing_keys)} dòng đã bị xoá khỏi bảng trong lúc "
                                f"đồng bộ; lần chạy sau sẽ thêm lại.")
    return result
