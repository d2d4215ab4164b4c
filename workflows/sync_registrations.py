"""sync-registrations: registration form responses -> the `Đăng ký` tab, the
counts in `Đoàn`, and confirmations for the outbox (SPEC 3.1).

read:   the form's questions and every response (paginated); `Đăng ký`,
        `Khách mời` and `Đoàn` in one batch call
decide: workflows.registrations (pure): cleaning, identity, duplicates,
        quotas, waiting list, withdrawals, check-in codes
write:  changed cells of the job's own columns + new rows in `Đăng ký`,
        changed counts in `Đoàn` (each: one re-read, at most two writes)
queue:  every confirmed person offered to the mail ledger (issue #5)

The number of API calls does not depend on the number of responses (beyond
Forms' pages of 5,000).
"""
from __future__ import annotations

import importlib
from typing import Any, Iterable, Mapping

from workspace.forms import FormsAdapter
from workspace.table import Snapshot, cell_text, quote_tab

from .base import Change, JobContext, JobResult
from .registrations import (CONFIRMED, DUPLICATE, INVALID, WAITLISTED, Outcome, build_lookup,
                            decide)

# The columns this job writes; everything else (Ghi chú, Rút đăng ký, …) belongs to staff.
OWNED = ("submitted_at", "full_name", "honorific", "position", "unit", "delegation", "email",
         "phone", "invitee_code", "status", "problem", "checkin_code")
COUNTS = ("registered", "confirmed", "waitlisted")
TABLES = ("registrations", "invitees", "delegations")


def plan_rows(wanted: Mapping[str, Mapping[str, str]], snap: Snapshot, labels: Mapping[str, str]
              ) -> tuple[dict[str, dict[str, str]], list[dict[str, str]], list[Change]]:
    """Updates for existing rows (only fields whose text differs), new rows, and
    the plan. The plan names columns and statuses only, never personal data."""
    updates: dict[str, dict[str, str]] = {}
    inserts: list[dict[str, str]] = []
    plan: list[Change] = []
    for key, rec in wanted.items():
        current = snap.by_key.get(key)
        if current is None:
            inserts.append({"key": key, **rec})
            plan.append(Change(key, "thêm dòng mới", f"{labels['status']}: {rec['status'] or '(trống)'}"))
            continue
        diff = {f: v for f, v in rec.items() if f in OWNED and cell_text(v) != current[f]}
        if not diff:
            continue
        updates[key] = diff
        parts = []
        if "status" in diff:
            parts.append(f"{labels['status']}: {current['status'] or '(trống)'} → "
                         f"{diff['status'] or '(trống)'}")
        others = [labels.get(f, f) for f in OWNED if f in diff and f != "status"]
        if others:
            parts.append(", ".join(others))
        plan.append(Change(key, "cập nhật", "; ".join(parts)))
    return updates, inserts, plan


def plan_counts(counts: Mapping[str, Mapping[str, int]], snap: Snapshot, labels: Mapping[str, str]
                ) -> tuple[dict[str, dict[str, int]], list[Change]]:
    """Changed counts per delegation row of `Đoàn`, and the plan."""
    updates: dict[str, dict[str, int]] = {}
    plan: list[Change] = []
    for record in snap.records:
        wanted = counts.get(record.key, {f: 0 for f in COUNTS})
        diff = {f: wanted[f] for f in COUNTS if cell_text(wanted[f]) != record[f]}
        if diff:
            updates[record.key] = diff
            plan.append(Change(record.key, "cập nhật số liệu đoàn", ", ".join(
                f"{labels[f]}: {record[f] or '(trống)'} → {v}" for f, v in diff.items())))
    return updates, plan


def confirmations_to_queue(outcome: Outcome) -> list[dict[str, str]]:
    """Every confirmed person, every run, as the mail ledger takes them (key,
    honorific, full_name, position, unit, email, checkin_code). The ledger keys
    a confirmation by `key`, the person's first response id, so offering a
    person again (next run, after an edit or a resubmission) is a no-op;
    offering all, not only the new ones, makes a crash between the sheet write
    and the queue harmless."""
    return [{"key": c.key, "honorific": c.honorific, "full_name": c.full_name,
             "position": c.position, "unit": c.unit, "email": c.email,
             "checkin_code": c.checkin_code}
            for c in outcome.confirmations if c.email and c.checkin_code]


def queue_confirmations(ctx: JobContext, people: list[dict[str, str]]) -> Any:
    """Hand the people to `workflows.mail.queue_confirmations(ctx, people)` (the
    mail ledger, issue #5). A seam while that module is built in parallel:
    returns None (nothing queued) if the module or the function is missing."""
    try:
        mail = importlib.import_module("workflows.mail")
    except ModuleNotFoundError as exc:
        if exc.name != "workflows.mail":
            raise
        return None
    fn = getattr(mail, "queue_confirmations", None)
    return None if fn is None else fn(ctx, people)


def _read(ctx: JobContext) -> dict[str, Snapshot]:
    """The three tabs in one request."""
    tables = {name: ctx.table(name) for name in TABLES}
    reply = ctx.spreadsheet.values_batch_get(
        [quote_tab(t.tab) for t in tables.values()],
        params={"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING"})
    return {name: tables[name]._parse(vr.get("values", []))
            for name, vr in zip(TABLES, reply.get("valueRanges", []))}


def _records(snap: Snapshot) -> Iterable[dict[str, str]]:
    return ({**r.values, "key": r.key} for r in snap.records)


def run(ctx: JobContext) -> JobResult:
    config = ctx.config
    form = config.google.forms.registration
    responses = FormsAdapter(ctx.ws).responses(form.id, form.fields)
    snaps = _read(ctx)
    reg_labels = config.sheets.registrations.columns
    lookup = build_lookup(_records(snaps["invitees"]), _records(snaps["delegations"]), reg_labels)
    existing = {r.key: r.values for r in snaps["registrations"].records}
    outcome = decide(responses, lookup, existing, config.timezone)

    updates, inserts, plan = plan_rows(outcome.rows, snaps["registrations"], reg_labels)
    count_updates, count_plan = plan_counts(outcome.counts, snaps["delegations"],
                                            config.sheets.delegations.columns)
    people = confirmations_to_queue(outcome)
    new_people = [c for c in outcome.confirmations if c.new]
    plan += count_plan
    plan += [Change(c.row_key, "xếp hàng thư xác nhận", "") for c in new_people]

    statuses = [row["status"] for row in outcome.rows.values()]
    result = JobResult(plan=plan, notes=list(outcome.notes), figures={
        "phản hồi": len(responses), "dòng mới": len(inserts), "dòng cập nhật": len(updates),
        CONFIRMED: statuses.count(CONFIRMED), WAITLISTED: statuses.count(WAITLISTED),
        DUPLICATE: statuses.count(DUPLICATE), INVALID: statuses.count(INVALID),
        "đã rút": statuses.count(""), "xác nhận mới": len(new_people),
        "đoàn cập nhật số liệu": len(count_updates)})
    if ctx.dry_run:
        return result
    if updates or inserts:
        written = ctx.table("registrations").write(updates, inserts, owned=OWNED)
        if written.missing_keys:
            result.notes.append(f"{len(written.missing_keys)} dòng đã bị xoá khỏi bảng trong lúc "
                                f"đồng bộ; lần chạy sau sẽ thêm lại.")
    if count_updates:
        ctx.table("delegations").write(count_updates, owned=COUNTS)
    if people:
        queued = queue_confirmations(ctx, people)
        if queued is not None and isinstance(getattr(queued, "queued", None), int):
            result.figures["thư xác nhận xếp hàng"] = queued.queued
        if queued is None:
            result.notes.append(f"Chưa có hộp thư đi (issue #5): thư xác nhận của {len(people)} người "
                                f"đã xác nhận chưa được xếp hàng; lần chạy đầu tiên khi có hộp thư "
                                f"đi sẽ xếp hàng cho họ.")
    return result
