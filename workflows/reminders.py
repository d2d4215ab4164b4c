"""The reminders step of chase-submissions: `Tham luận` and `Mốc thời gian`
(workflows.chase_input) -> today's plan (workflows.chase_policy) -> letters
queued through the outbox, and the row's `Lần nhắc cuối` / `Số lần nhắc`.

The mail ledger is the memory: a reminder's key lists the steps it carries
(`nhac-qua-han:TL04/2024-10-30/qua-han-1+TL07/…:1`), so a step is never
queued twice, whatever happens to the sheet, and the organiser's list
(`danh-sach-thieu:M01/2024-10-30:1`) goes once per milestone and deadline.
Right before a reminder is sent, send-outbox asks `arrived()` whether what it
chases has arrived meanwhile and cancels it if so (`Đã huỷ`, with the reason).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote

from workspace import outbox
from workspace.config import Config
from workspace.errors import TemplateError
from workspace.outbox import Ledger, Message, NewMessage, message_key

from .chase_input import PROBLEM_PREFIXES, REPORT_KIND, WAITING, fold, paper_obligations, with_problem
from .chase_policy import (MissingList, Obligation, Plan, Reminder, code_of, from_config, plan, step_key,
                           steps)
from .letters import base_context, build_message, prefilled_link, recipient_address, render, vn_date

BEFORE, OVERDUE, ESCALATED = "nhac-truoc-han", "nhac-qua-han", "nhac-bao-cao"
REMINDER_KINDS = (BEFORE, OVERDUE, ESCALATED)
# The invitation to write (or to send a division's report), with the person's
# own pre-filled link: once per row, before any reminder.
INVITE = "moi-viet"
# Letters that ask for something: cancelled if it arrives before they leave.
CHASING_KINDS = REMINDER_KINDS + (INVITE,)
MISSING = "danh-sach-thieu"
# `Vấn đề` sentences of this step start so; only those are replaced or cleared by it.
PROBLEM_PREFIX = PROBLEM_PREFIXES[0]   # "Nhắc hạn: "
ARRIVED = "Huỷ tự động: nội dung thư đề nghị đã được nộp trước khi thư được gửi."
SUPERSEDED = "Huỷ tự động: đã có thư nhắc mới hơn cho nội dung này."


def _middle(key: str) -> str:
    """`kind:<middle>:step` -> middle."""
    return key.partition(":")[2].rpartition(":")[0]


def done_keys(ledger: Ledger) -> set[str]:
    """Every step and organiser's list already queued, in any state (a reminder
    staff cancelled is not queued again) but one: a reminder cancelled because
    something it listed arrived does not count, so what is still owed is
    planned again (alone) on the next run."""
    done: set[str] = set()
    for m in ledger.in_state(*outbox.LABELS):
        if m.kind in REMINDER_KINDS and not (m.state == outbox.CANCELLED and m.error == ARRIVED):
            done.update(_middle(m.key).split("+"))
    done.update(_middle(key) for key in ledger.keys(MISSING))
    return done


def reminder_counts(ledger: Ledger) -> dict[str, int]:
    """How many reminders each row has had queued, cancelled ones left out."""
    counts: dict[str, int] = {}
    live = [s for s in outbox.LABELS if s != outbox.CANCELLED]
    for m in ledger.in_state(*live):
        if m.kind in REMINDER_KINDS:
            for item in _middle(m.key).split("+"):
                code = code_of(item)
                counts[code] = counts.get(code, 0) + 1
    return counts


def codes_in(message: Message) -> list[str]:
    if message.kind == INVITE:
        return [code_of_invite(item) for item in _middle(message.key).rpartition("@")[0].split("+")]
    return [code_of(item) for item in _middle(message.key).split("+")]


def superseded(ledger: Ledger, messages: Iterable[NewMessage]) -> list[Message]:
    """Reminders still waiting for a row that gets a newer one now: the newer
    one says what is true today, so the older one must not go out too."""
    fresh = {code_of(item) for m in messages if m.kind in REMINDER_KINDS
             for item in _middle(m.key).split("+")}
    return [m for m in ledger.in_state(*outbox.CANCELLABLE)
            if m.kind in REMINDER_KINDS and set(codes_in(m)) & fresh]


@dataclass
class ChaseOutcome:
    plan: Plan = field(default_factory=Plan)
    messages: list[NewMessage] = field(default_factory=list)
    row_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)     # code -> why no letter
    invited: list[str] = field(default_factory=list)          # codes invited to write today
    milestone_problems: list[str] = field(default_factory=list)


def _item(row: Mapping[str, Any], step_days_late: int, due: dt.date, content: str, link: str,
          today: dt.date, report: bool = False) -> dict[str, Any]:
    return {"code": row["key"], "title": str(row.get("title") or ""),
            "content": content or ("Gửi báo cáo" if report else "Gửi tham luận"),
            "due": vn_date(due), "days_left": max((due - today).days, 0),
            "days_overdue": max((today - due).days, 0), "link": link, "late": step_days_late}


def _writer_context(config: Config, person: str, owed: list[Mapping[str, Any]], today: dt.date
                    ) -> tuple[str, dict[str, Any]]:
    """The address and the template context of one writer. The row that says
    most about them comes first: one with a `Danh xưng` (a report row)."""
    first = next((r for r in owed if str(r.get("honorific") or "").strip()), owed[0])
    address, problem = recipient_address(person)
    if problem:
        raise TemplateError(problem)
    context = base_context(config, {"honorific": first.get("honorific", ""),
                                    "full_name": first.get("author", ""),
                                    "position": first.get("position", ""), "unit": first.get("unit", ""),
                                    "email": address}, today)
    recipient = context["recipient"]
    if not recipient["honorific"]:   # Tham luận holds no Danh xưng: never guessed
        recipient["honorific"] = "Quý tác giả"
        recipient["salutation"] = "Tác giả " + recipient["salutation"]
    return address, context


def invited_codes(ledger: Ledger) -> dict[str, dt.date]:
    """Rows an invitation to write was queued for (in any state), and the day
    it was planned for: `moi-viet:<codes>@<day>:1`."""
    out: dict[str, dt.date] = {}
    for key in ledger.keys(INVITE):
        codes, _, day = _middle(key).rpartition("@")
        for item in codes.split("+"):
            out[code_of_invite(item)] = dt.date.fromisoformat(day)
    return out


def code_of_invite(item: str) -> str:
    return unquote(item)


def invitation(config: Config, person: str, owed: list[Obligation], rows: Mapping[str, Mapping[str, Any]],
               link_base: str, today: dt.date, report_keys: frozenset[str] | set[str]) -> NewMessage:
    """One writer's invitation to write, listing each thing they owe with its
    own pre-filled link (pure); TemplateError when it cannot be made."""
    owed = sorted(owed, key=lambda o: o.key)
    address, context = _writer_context(config, person, [rows[o.key] for o in owed], today)
    context["items"] = [{"code": o.key, "title": str(rows[o.key].get("title") or ""),
                         "topic": "" if o.key in report_keys else str(rows[o.key].get("topic") or ""),
                         "report": o.key in report_keys,
                         "noun": "báo cáo" if o.key in report_keys else "tham luận",
                         "due": vn_date(o.due), "link": prefilled_link(link_base, o.key)} for o in owed]
    rendered = render(INVITE, context)
    name = context["recipient"]["full_name"]
    middle = "+".join(quote(o.key, safe="") for o in owed) + f"@{today.isoformat()}"
    return NewMessage(key=message_key(INVITE, middle), kind=INVITE,
                      email=address, subject=rendered.subject,
                      raw=build_message(config, name, address, rendered), recipient=name,
                      source="papers", source_key="+".join(o.key for o in owed))


HEAD = ("Lãnh đạo đơn vị", "lãnh đạo đơn vị")
REPORT_HEAD = ("Lãnh đạo Sở phụ trách", "lãnh đạo Sở phụ trách")


def reminder_message(config: Config, reminder: Reminder, rows: Mapping[str, Mapping[str, Any]],
                     contents: Mapping[str, str], link_base: str, today: dt.date,
                     report_keys: frozenset[str] | set[str] = frozenset()) -> NewMessage:
    """One person's letter for today (pure); TemplateError when it cannot be made.
    `report_keys`: the codes that are divisions' reports (their head is the
    Department leader in charge, and the row may hold the recipient's Danh xưng)."""
    items = sorted((_item(rows[i.obligation.key], i.step.days_late, i.obligation.due,
                          contents.get(i.obligation.milestone, ""),
                          prefilled_link(link_base, i.obligation.key), today,
                          i.obligation.key in report_keys)
                    for i in reminder.items), key=lambda d: (-d["late"], d["code"]))
    if reminder.cc:   # escalated steps, and a head's address to copy
        kind = ESCALATED
    elif any(i.step.days_late > 0 for i in reminder.items):
        kind = OVERDUE
    else:
        kind = BEFORE
    address, context = _writer_context(config, reminder.person, [rows[i["code"]] for i in items], today)
    context["items"] = items
    escalated = [i for i in reminder.items if i.step.escalate and i.obligation.head]
    head = REPORT_HEAD if escalated and all(i.obligation.key in report_keys for i in escalated) else HEAD
    if kind == ESCALATED:
        context["head"], context["head_phrase"] = head
    rendered = render(kind, context)
    name = context["recipient"]["full_name"]
    cc = [(head[0], h) for h in reminder.cc]
    return NewMessage(key=message_key(kind, reminder.key), kind=kind, email=address,
                      subject=rendered.subject, raw=build_message(config, name, address, rendered, cc=cc),
                      recipient=name, source="papers",
                      source_key="+".join(i["code"] for i in items))


def missing_message(config: Config, missing: MissingList, rows: Mapping[str, Mapping[str, Any]],
                    content: str, today: dt.date, report_keys: frozenset[str] | set[str] = frozenset()
                    ) -> NewMessage:
    """The organiser's list of who is still missing after the last step (pure)."""
    contact = config.event.contact
    address, problem = recipient_address(contact.email)
    if problem:
        raise TemplateError(problem)
    context = base_context(config, {"full_name": contact.name, "email": address}, today)
    # contact.name is written for use mid-sentence ("ông …"): a line starts upper case.
    context["recipient"]["salutation"] = context["recipient"]["salutation"][:1].upper() + \
        context["recipient"]["salutation"][1:]
    context["milestone"] = {"key": missing.milestone, "content": content, "due": vn_date(missing.due)}
    context["missing"] = [{"code": o.key, "title": str(rows[o.key].get("title") or ""),
                           "author": str(rows[o.key].get("author") or ""),
                           "unit": str(rows[o.key].get("unit") or "")} for o in missing.missing]
    reports = all(o.key in report_keys for o in missing.missing)
    context["milestone"]["content"] = content or ("Gửi báo cáo" if reports else "Gửi tham luận")
    rendered = render(MISSING, context)
    return NewMessage(key=message_key(MISSING, missing.key), kind=MISSING, email=address,
                      subject=rendered.subject, raw=build_message(config, contact.name, address, rendered),
                      recipient=contact.name, source="milestones", source_key=missing.milestone)


def decide(config: Config, papers: Iterable[Mapping[str, Any]], milestones: Iterable[Mapping[str, Any]],
           done: set[str], counts: Mapping[str, int], link_base: str, today: dt.date,
           reports: Iterable[Mapping[str, Any]] = (), invited: Mapping[str, dt.date] | None = None
           ) -> ChaseOutcome:
    """Today's reminders and the rows' job-owned cells (pure). `reports`: the
    divisions' reports (workflows.writings), chased like papers by their own
    milestone; someone owing both gets one letter listing both."""
    paper_rows = {str(r["key"]): r for r in papers}
    report_rows = {str(r["key"]): r for r in reports if str(r["key"]) not in paper_rows}
    rows = {**paper_rows, **report_rows}
    milestone_rows = list(milestones)
    read = paper_obligations(paper_rows.values(), milestone_rows, config.sheets.milestones.tab,
                             config.deadlines.papers)
    if report_rows:
        more = paper_obligations(report_rows.values(), milestone_rows, config.sheets.milestones.tab,
                                 config.deadlines.division_reports, REPORT_KIND)
        read.obligations += more.obligations
        read.problems.update(more.problems)
        read.milestone_problems += [p for p in more.milestone_problems if p not in read.milestone_problems]
    contents = {str(m.get("key") or ""): str(m.get("content") or "") for m in milestone_rows}
    policy, calendar = from_config(config.reminders)
    # One reminder a person a day, across runs too: a row reminded today marks its author.
    reminded_today = {o.person for o in read.obligations
                      if str(rows[o.key].get("last_reminder") or "") == today.isoformat()}
    out = ChaseOutcome(milestone_problems=read.milestone_problems)
    # Invitations to write first: every row still owed, with an address, whose
    # deadline has not passed, that has had neither an invitation nor a
    # reminder. Someone invited today gets no reminder today.
    invited_on = dict(invited or {})
    if config.reminders.invite_to_write and calendar.is_working_day(today):
        fresh: dict[str, list[Obligation]] = {}
        for o in read.obligations:
            if not o.submitted and o.person and o.due >= today and o.key not in invited_on \
                    and not counts.get(o.key):
                fresh.setdefault(o.person, []).append(o)
        for person, owed in sorted(fresh.items()):
            try:
                out.messages.append(invitation(config, person, owed, rows, link_base, today,
                                               set(report_rows)))
            except TemplateError as exc:
                for o in owed:
                    out.skipped[o.key] = str(exc)
                continue
            out.invited.extend(o.key for o in owed)
            invited_on.update({o.key: today for o in owed})
            reminded_today.add(person)   # one letter a day: anything else they owe waits
    # The invitation stands for every step due by the day it went: those are
    # not sent after it (the next reminder is the next step).
    done = set(done)
    for o in read.obligations:
        day = invited_on.get(o.key)
        if day is not None:
            done.update(step_key(o, st.name) for st in steps(o, policy, calendar) if st.day <= day)
    out.plan = plan(read.obligations, policy, calendar, today, done, reminded_today)
    reminded: dict[str, int] = dict(counts)
    for reminder in out.plan.reminders:
        try:
            out.messages.append(reminder_message(config, reminder, rows, contents, link_base, today,
                                                 set(report_rows)))
        except TemplateError as exc:
            for item in reminder.items:
                out.skipped[item.obligation.key] = str(exc)
            continue
        for item in reminder.items:
            code = item.obligation.key
            reminded[code] = reminded.get(code, 0) + 1
            out.row_updates.setdefault(code, {}).update(
                {"last_reminder": today.isoformat(), "reminder_count": reminded[code]})
    for missing in out.plan.missing_lists:
        try:
            out.messages.append(missing_message(config, missing, rows,
                                                contents.get(missing.milestone, ""), today,
                                                set(report_rows)))
        except TemplateError as exc:
            out.milestone_problems.append(f"Không tạo được danh sách chưa nộp gửi Ban Tổ chức: {exc}")
    # `Vấn đề`: this step's own sentences only (others, e.g. a wrong topic, stay).
    for code, row in rows.items():
        current = str(row.get("problem") or "")
        wanted = with_problem(current, PROBLEM_PREFIX, read.problems.get(code))
        if wanted != current:
            out.row_updates.setdefault(code, {})["problem"] = wanted
    return out


def in_office_hours(config: Config, now: dt.datetime) -> bool:
    """Whether a reminder may leave now: a working day, within reminders.office_hours."""
    _, calendar = from_config(config.reminders)
    start, end = config.reminders.window()
    return calendar.is_working_day(now.date()) and start <= now.time() < end


def arrived(messages: Iterable[Message], statuses: Mapping[str, str]) -> list[Message]:
    """Reminders waiting to be sent that list something which has arrived since,
    and invitations to write all of whose items have (pure): `statuses` maps a
    row's code to its `Trạng thái`. Any status but empty or `Chờ nộp` counts as
    arrived; what else a cancelled reminder listed is planned again."""
    out = []
    for m in messages:
        if m.kind not in CHASING_KINDS:
            continue
        here = [fold(statuses[code]) not in WAITING for code in codes_in(m) if code in statuses]
        # An invitation still asks for what has not come; a reminder must not
        # say that something which came is missing.
        if here and (all(here) if m.kind == INVITE else any(here)):
            out.append(m)
    return out
