"""sync-registrations: registration form responses -> the `Đăng ký` tab, the
counts in `Đoàn`, and confirmations for the outbox (SPEC 3.1).

read:   the form's questions and every response (paginated); `Đăng ký`,
        `Khách mời` and `Đoàn` in one batch call
decide: workflows.registrations (pure): cleaning, staff corrections,
        identity, duplicates, quotas, waiting list, withdrawals, check-in codes
write:  changed cells of the job's own columns + new rows in `Đăng ký`,
        changed counts in `Đoàn` (workspace.table: re-read, write, verify)
queue:  every confirmed person handed to the mail ledger
        (workflows.confirmations), which queues the new ones and cancels
        unsent letters of people no longer confirmed; `Hộp thư đi` is mirrored
        when no other run holds it (that run mirrors it otherwise)
locks:  the job's own, and the tabs it writes (`Đăng ký`, `Đoàn`)

`Rút đăng ký` is optional: on a sheet without it (SPEC 2's exact layout)
withdrawals are off and a note says how to turn them on.

The number of API calls does not depend on the number of responses (beyond
Forms' pages of 5,000).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from workspace.forms import FormsAdapter
from workspace.outbox import ERASED
from workspace.table import Record, Snapshot, cell_text, ticked

from . import confirmations
from .base import Change, Job, JobContext, JobResult
from .normalise import clean_text
from .registration_input import Lookup
from .registrations import (CONFIRMED, DUPLICATE, INVALID, WAITLISTED, Outcome, build_lookup,
                            decide)

# The columns this job writes; everything else (Ghi chú, Rút đăng ký, …) belongs to staff.
OWNED = ("submitted_at", "full_name", "honorific", "position", "unit", "delegation", "email",
         "phone", "invitee_code", "status", "problem", "checkin_code", "consent")
COUNTS = ("registered", "confirmed", "waitlisted")
# What `privacy erase` empties in a person's row (the name becomes ERASED).
ERASABLE = ("full_name", "honorific", "position", "email", "phone")
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


def _delegation_of(record: Record, lookup: Lookup) -> str | None:
    """The `Mã đoàn` of a row's `Đoàn` cell (a code or a name)."""
    return lookup.aliases.get(clean_text(record["delegation"]).casefold())


def hold_places(lookup: Lookup, gone: Mapping[str, Record]) -> Lookup:
    """The lookup with each delegation's quota less the places of confirmed
    erased people whose form response a person has deleted (pure): their place
    stays theirs, so nobody moves up and no count changes."""
    held = Counter(_delegation_of(r, lookup) for r in gone.values() if r["status"] == CONFIRMED)
    delegations = {code: (dataclasses.replace(d, quota=max(d.quota - held[code], 0))
                          if held.get(code) and d.quota is not None else d)
                   for code, d in lookup.delegations.items()}
    return dataclasses.replace(lookup, delegations=delegations)


def keep_erased(outcome: Outcome, erased: Mapping[str, Record], gone: Mapping[str, Record],
                lookup: Lookup) -> Outcome:
    """An erased person (`privacy erase`: `Họ và tên` reads ERASED) keeps their
    row as erased, their status and place, and gets no letter (pure). The form
    response the Forms API cannot delete is never copied again; once a person
    deletes it by hand (`gone`), the row still counts as its status says (its
    place was held by hold_places)."""
    for key, record in erased.items():
        row = outcome.rows.get(key)
        if row is not None:
            row.update({f: record[f] for f in (*ERASABLE, "problem") if f in row})
    for record in gone.values():
        counts = outcome.counts.get(_delegation_of(record, lookup) or "")
        # Counted as decide counts a person: not a withdrawn row, nor a duplicate.
        if counts is None or record["status"] in ("", DUPLICATE):
            continue
        counts["registered"] += 1
        counts["confirmed"] += record["status"] == CONFIRMED
        counts["waitlisted"] += record["status"] == WAITLISTED
    rows = {c.key: c.row_key for c in (*outcome.confirmations, *outcome.waiting)}
    out = {key for key, row_key in rows.items() if key in erased or row_key in erased}
    outcome.confirmations = [c for c in outcome.confirmations if c.key not in out]
    outcome.waiting = [w for w in outcome.waiting if w.key not in out]
    return outcome


def consent_text(answer: str, version: str) -> str:
    """`Tôi đồng ý (điều khoản 2024-09)`: what the person ticked, and the
    version of the text they were shown."""
    return f"{answer} (điều khoản {version})" if answer and version else answer


def record_consent(rows: dict[str, dict[str, str]], responses: Iterable[Any],
                   existing: Mapping[str, Mapping[str, str]], version: str) -> None:
    """Each row's `Đồng ý điều khoản`: a row keeps what it recorded while its
    response is unchanged (the text may have a new version since); a new or
    edited response records the version shown now; no consent, nothing (pure)."""
    answers = {r.response_id: clean_text(", ".join(r.answers.get("consent", []))) for r in responses}
    for key, row in rows.items():
        answer = answers.get(key, "")
        before = existing.get(key) or {}
        if not answer:
            row["consent"] = ""
        elif before.get("consent") and before.get("submitted_at") == row.get("submitted_at"):
            row["consent"] = before["consent"]
        else:
            row["consent"] = consent_text(answer, version)


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
    person again (next run, after an edit or a resubmission) is a no-op unless
    their email or name changed (confirmations.plan_confirmations);
    offering all, not only the new ones, makes a crash between the sheet write
    and the queue harmless."""
    return [{"key": c.key, "honorific": c.honorific, "full_name": c.full_name,
             "position": c.position, "unit": c.unit, "email": c.email,
             "checkin_code": c.checkin_code}
            for c in outcome.confirmations]


def sheet_notes(snaps: Mapping[str, Snapshot], labels: Mapping[str, Mapping[str, str]]
                ) -> tuple[list[str], int, int]:
    """Notes (Vietnamese) on rows the reads skipped: a key used twice (the later
    row is ignored) or data in a row without a key; and the two totals."""
    notes: list[str] = []
    duplicates = blanks = 0
    for name, snap in snaps.items():
        tab, key = labels[name]["tab"], labels[name]["key"]
        if snap.duplicate_keys:
            duplicates += len(snap.duplicate_keys)
            shown = ", ".join(snap.duplicate_keys[:5]) + (", …" if len(snap.duplicate_keys) > 5 else "")
            notes.append(f"Trang {tab}: {len(snap.duplicate_keys)} dòng có {key} đã dùng ở một dòng "
                         f"khác ({shown}) nên bị bỏ qua: xoá dòng thừa hoặc sửa lại mã.")
        if snap.blank_keys:
            blanks += len(snap.blank_keys)
            rows = ", ".join(map(str, snap.blank_keys[:10])) + (", …" if len(snap.blank_keys) > 10 else "")
            notes.append(f"Trang {tab}: {len(snap.blank_keys)} dòng có dữ liệu nhưng trống ô {key} "
                         f"(dòng {rows}) nên bị bỏ qua: điền mã hoặc xoá dòng.")
    return notes, duplicates, blanks


@dataclass(frozen=True)
class Options:
    """sync-registrations has no options of its own (--dry-run is the context's)."""


def _read(ctx: JobContext) -> dict[str, Snapshot]:
    """The three tabs in one request."""
    return dict(zip(TABLES, ctx.spreadsheet.read(*TABLES)))


def _records(snap: Snapshot) -> Iterable[dict[str, str]]:
    return ({**r.values, "key": r.key} for r in snap.records)


def run(ctx: JobContext, opts: Options) -> JobResult:
    config = ctx.config
    form = config.google.forms.registration
    responses = FormsAdapter(ctx.ws).responses(form.id, form.fields)
    snaps = _read(ctx)
    reg_labels = config.sheets.registrations.columns
    registrations = snaps["registrations"]
    lookup = build_lookup(_records(snaps["invitees"]), _records(snaps["delegations"]), reg_labels,
                          delegation_rows={r.key: r.row for r in snaps["delegations"].records},
                          delegation_tab=config.sheets.delegations.tab)
    erased = {r.key: r for r in registrations.records if r["full_name"] == ERASED}
    # An erased row's personal cells are no correction: its place is decided
    # from the response, as before the erasure, so no count moves.
    existing = {r.key: ({f: v for f, v in r.values.items() if f not in ERASABLE} if r.key in erased
                        else r.values) for r in registrations.records}
    withdrawn = {r.key for r in registrations.records if ticked(r["withdrawn"])}
    present = {r.response_id for r in responses}
    # An erased row whose response a person deleted keeps its place, unless
    # staff withdraw it (then it is no one's, as any withdrawal).
    gone = {key: record for key, record in erased.items()
            if key not in present and not ticked(record["withdrawn"])}
    outcome = keep_erased(decide(responses, hold_places(lookup, gone), existing, config.timezone,
                                 withdrawn=withdrawn), erased, gone, lookup)
    if "consent" in registrations.columns:
        record_consent(outcome.rows, responses, existing, config.privacy.consent_version)

    updates, inserts, plan = plan_rows(outcome.rows, registrations, reg_labels)
    count_updates, count_plan = plan_counts(outcome.counts, snaps["delegations"],
                                            config.sheets.delegations.columns)
    people = confirmations_to_queue(outcome)
    waiting = [dataclasses.asdict(w) for w in outcome.waiting]
    new_people = [c for c in outcome.confirmations if c.new]
    plan += count_plan
    plan += [Change(c.row_key, "xếp hàng thư xác nhận", "") for c in new_people]

    labels = {name: {"tab": config.sheets.table(name).tab,
                     "key": config.sheets.table(name).columns["key"]} for name in TABLES}
    skipped_notes, duplicate_keys, blank_keys = sheet_notes(snaps, labels)
    notes = list(outcome.notes) + skipped_notes
    if "consent" not in registrations.columns:
        notes.append(f"Trang {config.sheets.registrations.tab} chưa có cột «{reg_labels['consent']}»: "
                     f"thêm cột có tiêu đề này ở dòng 1 để ghi mỗi người đã đồng ý điều khoản phiên bản "
                     f"nào (Nghị định 13/2023/NĐ-CP).")
    if "withdrawn" not in registrations.columns:
        notes.append(f"Trang {config.sheets.registrations.tab} chưa có cột "
                     f"«{reg_labels['withdrawn']}»: muốn cho người đăng ký rút, thêm cột có tiêu đề "
                     f"này ở dòng 1 rồi đánh dấu ở dòng của người rút.")
    statuses = [row["status"] for row in outcome.rows.values()]
    result = JobResult(plan=plan, notes=notes, figures={
        "phản hồi": len(responses), "dòng mới": len(inserts), "dòng cập nhật": len(updates),
        CONFIRMED: statuses.count(CONFIRMED), WAITLISTED: statuses.count(WAITLISTED),
        DUPLICATE: statuses.count(DUPLICATE), INVALID: statuses.count(INVALID),
        "đã rút": statuses.count(""), "xác nhận mới": len(new_people),
        "đoàn cập nhật số liệu": len(count_updates),
        "dòng trùng mã bị bỏ qua": duplicate_keys, "dòng thiếu mã bị bỏ qua": blank_keys})
    if ctx.stop():   # asked to stop (or the lease is lost) before anything was written
        result.stopped = True
        return result
    if ctx.dry_run:
        # What the outbox would do (the mail module writes nothing in a dry run).
        _add_mail(result, confirmations.sync_confirmations(ctx, people, waiting, outcome.waiting_held))
        return result
    if updates or inserts:
        written = ctx.table("registrations").write(updates, inserts, owned=OWNED)
        if written.missing_keys:
            result.notes.append(f"{len(written.missing_keys)} dòng đã bị xoá khỏi bảng trong lúc "
                                f"đồng bộ; lần chạy sau sẽ thêm lại.")
    if count_updates:
        ctx.table("delegations").write(count_updates, owned=COUNTS)
    # Every run hands over every confirmed person: the ledger queues the new ones
    # (a crash between the sheet write and here is healed next run) and cancels
    # unsent letters of people no longer confirmed.
    _add_mail(result, confirmations.sync_confirmations(ctx, people, waiting, outcome.waiting_held))
    return result


def _add_mail(result: JobResult, handed: confirmations.QueueResult) -> None:
    result.figures.update(handed.figures())
    result.notes.extend(handed.notes())


JOB = Job("sync-registrations", Options, run, writes=("registrations", "delegations"),
          summary="Chép các phản hồi của biểu mẫu đăng ký vào trang Đăng ký, xếp chỗ theo chỉ tiêu "
                  "từng đoàn và xếp hàng thư xác nhận.",
          doing="đồng bộ phản hồi đăng ký")
