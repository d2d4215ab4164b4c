"""Who is reminded of what, on which day: the pure part of `chase-submissions`.

Everyone who writes for the workshop (an author's paper, a division's report)
owes one thing by a milestone's deadline (`Mốc thời gian`, or a `Hạn nộp` that
staff typed on the row). For each such obligation still outstanding, the
policy lays out its steps:

- before the deadline, on the milestone's `Nhắc trước (ngày)` days (config
  `reminders.before_days` when the milestone says none), e.g. 7, 3 and 1 days
  before: `truoc-7`, `truoc-3`, `truoc-1`;
- on the day (`dung-han`), unless `reminders.on_the_day` is off;
- after it, every `reminders.overdue_every_days` days, `reminders.overdue_limit`
  times: `qua-han-1`, `qua-han-2`, …; from `reminders.escalate_after_days`
  days late the unit's head is copied (Cc);
- after the last step, one list of who is still missing goes to the
  organiser's contact for that milestone and deadline — and reminders stop.

A step that falls on a day the Department does not work (weekends, the
holidays in `reminders.holidays`) moves to the working day before it when it
comes before or on the deadline (an early reminder is better than a late
one), and to the working day after it when it is overdue. Nothing is planned
on a day that is not a working day.

On a given day an obligation is due the latest step whose day has come, if
neither it nor a later step was done: a run that missed days does not send
the steps it missed one after another. Each step is done at most once per
deadline (its key holds the deadline, so a deadline staff move restarts the
steps still ahead of the new date), and a person owing several things gets
one message that day listing them all.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence
from urllib.parse import quote, unquote

from workspace.config import Reminders

ON_THE_DAY = "dung-han"


@dataclass(frozen=True)
class Calendar:
    """The Department's working days: ISO weekdays (Monday 1) and holidays."""
    working_weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[dt.date] = frozenset()

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.working_weekdays and day not in self.holidays

    def previous_working_day(self, day: dt.date) -> dt.date:
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day -= dt.timedelta(days=1)
        raise ValueError("no working day within a year")

    def next_working_day(self, day: dt.date) -> dt.date:
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        raise ValueError("no working day within a year")


@dataclass(frozen=True)
class Policy:
    before_days: tuple[int, ...] = (7, 3, 1)
    on_the_day: bool = True
    overdue_every_days: int = 3
    overdue_limit: int = 3
    escalate_after_days: int = 5


@dataclass(frozen=True)
class Obligation:
    """One thing one person owes by a deadline."""
    key: str                  # the row's key (a paper code, a division's code)
    person: str               # who is chased: a normalised email address ("" when none)
    milestone: str            # the milestone's key in `Mốc thời gian`
    due: dt.date
    submitted: bool
    head: str | None = None   # the unit's head, copied from escalation on
    remind_before: tuple[int, ...] | None = None   # the milestone's own days, if any


@dataclass(frozen=True)
class Step:
    name: str                 # "truoc-7", "dung-han", "qua-han-2"
    day: dt.date              # the working day it is planned for
    days_late: int            # negative before the deadline
    escalate: bool


@dataclass(frozen=True)
class Item:
    obligation: Obligation
    step: Step

    @property
    def key(self) -> str:
        """What the ledger remembers: this step, for this deadline, of this obligation."""
        return step_key(self.obligation, self.step.name)


@dataclass(frozen=True)
class Reminder:
    """One message to one person today, listing everything they owe that is due."""
    person: str
    items: tuple[Item, ...]

    @property
    def cc(self) -> tuple[str, ...]:
        heads = {i.obligation.head for i in self.items if i.step.escalate and i.obligation.head}
        return tuple(sorted(h for h in heads if h != self.person))

    @property
    def key(self) -> str:
        """Its items' keys: the ledger key's middle part (`nhac-nop:<this>:1`)."""
        return "+".join(sorted(i.key for i in self.items))


@dataclass(frozen=True)
class MissingList:
    """The organiser's list for one milestone and deadline, after the last step."""
    milestone: str
    due: dt.date
    missing: tuple[Obligation, ...]

    @property
    def key(self) -> str:
        return f"{self.milestone}/{self.due.isoformat()}"


@dataclass(frozen=True)
class Plan:
    reminders: tuple[Reminder, ...] = ()
    missing_lists: tuple[MissingList, ...] = ()
    # Steps passed over because a later one was due the same day (for the log).
    skipped: tuple[Item, ...] = field(default=())


def from_config(reminders: Reminders) -> tuple[Policy, Calendar]:
    """The policy and calendar that config.yaml's `reminders:` section describes."""
    policy = Policy(before_days=tuple(sorted(set(reminders.before_days), reverse=True)),
                    on_the_day=reminders.on_the_day,
                    overdue_every_days=reminders.overdue_every_days,
                    overdue_limit=reminders.overdue_limit,
                    escalate_after_days=reminders.escalate_after_days)
    return policy, Calendar(frozenset(reminders.working_weekdays), frozenset(reminders.holidays))


def step_key(obligation: Obligation, step_name: str) -> str:
    """`TL-001/2024-10-25/truoc-7`. The code is percent-encoded, so a `/`, `+`
    or `:` typed in it cannot break the ledger key it sits in."""
    return f"{quote(obligation.key, safe='')}/{obligation.due.isoformat()}/{step_name}"


def code_of(item_key: str) -> str:
    """The row code a step key belongs to (step_key's inverse for the code)."""
    return unquote(item_key.rsplit("/", 2)[0])


def steps(obligation: Obligation, policy: Policy, calendar: Calendar) -> list[Step]:
    """Every step of the obligation, in order, on working days."""
    due = obligation.due
    before = obligation.remind_before if obligation.remind_before is not None else policy.before_days
    out: list[Step] = []
    for days in sorted({d for d in before if d > 0}, reverse=True):
        out.append(Step(f"truoc-{days}", calendar.previous_working_day(due - dt.timedelta(days)),
                        -days, False))
    if policy.on_the_day:
        out.append(Step(ON_THE_DAY, calendar.previous_working_day(due), 0, False))
    for n in range(1, policy.overdue_limit + 1):
        late = n * policy.overdue_every_days
        out.append(Step(f"qua-han-{n}", calendar.next_working_day(due + dt.timedelta(late)), late,
                        late >= policy.escalate_after_days))
    # Two steps moved onto the same working day: the later one stands for both.
    kept: list[Step] = []
    for step in out:
        if kept and kept[-1].day >= step.day:
            kept.pop()
        kept.append(step)
    return kept


def last_day(obligation: Obligation, policy: Policy, calendar: Calendar) -> dt.date:
    """The day of the last step: after it, the organiser is told, and reminders stop."""
    planned = steps(obligation, policy, calendar)
    return planned[-1].day if planned else obligation.due


def due_item(obligation: Obligation, policy: Policy, calendar: Calendar, today: dt.date,
             done: set[str] | frozenset[str]) -> tuple[Item | None, list[Item]]:
    """The step due today (if any) and the earlier ones it passes over."""
    if obligation.submitted:
        return None, []
    planned = steps(obligation, policy, calendar)
    arrived = [s for s in planned if s.day <= today]
    if not arrived:
        return None, []
    latest = arrived[-1]
    if latest is planned[-1] and today >= latest.day + dt.timedelta(policy.overdue_every_days):
        return None, []   # past the last step: the organiser has the list, reminders stop
    later_done = any(step_key(obligation, s.name) in done for s in planned[planned.index(latest):])
    if later_done:
        return None, []
    skipped = [Item(obligation, s) for s in arrived[:-1] if step_key(obligation, s.name) not in done]
    # A step sent late (a missed day, a deadline moved into the past) speaks of
    # today: its lateness, and the escalation, follow the real number of days.
    late = (today - obligation.due).days
    latest = replace(latest, days_late=late, escalate=late >= policy.escalate_after_days)
    return Item(obligation, latest), skipped


def plan(obligations: Iterable[Obligation], policy: Policy, calendar: Calendar, today: dt.date,
         done: set[str] | frozenset[str], reminded_today: Iterable[str] = ()) -> Plan:
    """What to queue today. `done` holds the keys of steps and lists already queued
    (from the mail ledger), so running the same day twice plans nothing new;
    `reminded_today` the people a reminder already went to today (an earlier run):
    what they owe waits for the next working day."""
    if not calendar.is_working_day(today):
        return Plan()
    obligations = list(obligations)
    busy = set(reminded_today)
    by_person: dict[str, list[Item]] = {}
    skipped: list[Item] = []
    for obligation in obligations:
        item, passed = due_item(obligation, policy, calendar, today, done)
        skipped.extend(passed)
        # No address (the row's `Email` is empty or wrong): nobody to remind,
        # but the obligation is still owed and stays on the organiser's list.
        if item is not None and obligation.person and obligation.person not in busy:
            by_person.setdefault(obligation.person, []).append(item)
    reminders = tuple(Reminder(person, tuple(sorted(items, key=lambda i: i.obligation.key)))
                      for person, items in sorted(by_person.items()))
    groups: dict[tuple[str, dt.date], list[Obligation]] = {}
    for obligation in obligations:
        groups.setdefault((obligation.milestone, obligation.due), []).append(obligation)
    lists = []
    for (milestone, due), members in sorted(groups.items()):
        missing = tuple(sorted((o for o in members if not o.submitted), key=lambda o: o.key))
        if not missing:
            continue
        candidate = MissingList(milestone, due, missing)
        if candidate.key in done:
            continue
        if today > max(max(last_day(o, policy, calendar), o.due) for o in missing):
            lists.append(candidate)
    return Plan(reminders, tuple(lists), tuple(skipped))


def parse_days(text: str) -> tuple[int, ...] | None:
    """A milestone's `Nhắc trước (ngày)` cell ("7, 3, 1"); None when empty; ()
    for "0" (no reminder before the deadline). Raises ValueError on anything
    else (the job turns it into a `Vấn đề`)."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    if text in ("0", "0.0"):
        return ()
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    days = []
    for part in parts:
        if not part.isdigit() or not 0 < int(part) <= 60:
            raise ValueError(part)
        days.append(int(part))
    return tuple(sorted(set(days), reverse=True))


def short(step_name: str) -> str:
    """A step in two or three characters: -7 before, 0 on the day, +2 overdue."""
    if step_name == ON_THE_DAY:
        return "0"
    kind, _, n = step_name.rpartition("-")
    return ("-" if kind == "truoc" else "+") + n


def schedule_table(observed: dict[str, dict[dt.date, str]], days: Sequence[dt.date]) -> str:
    """A writer × day table of what was sent, each cell its steps' short marks
    joined by `&` (for tests and reports)."""
    width = max((len(w) for w in observed), default=6)
    cell = max([5] + [len(m) for marks in observed.values() for m in marks.values()])
    head = " " * width + " | " + " ".join(d.strftime("%d/%m").ljust(cell) for d in days)
    rows = [head]
    for writer in sorted(observed):
        cells = [(observed[writer].get(day) or ".").ljust(cell) for day in days]
        rows.append(writer.ljust(width) + " | " + " ".join(cells))
    return "\n".join(rows)
