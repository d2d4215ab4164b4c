"""The reminder policy of chase-submissions, day by day: a simulated month
(01/10/2024 to 10/11/2024, each day run once, then once more) with papers
arriving on various days and a deadline moved in `Mốc thời gian` mid-month.
Pure code: the job's wiring to the sheet and the outbox is tested with it."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from workflows.chase_policy import (Calendar, Obligation, Policy, parse_days, plan,
                                    schedule_table, short, steps)

D = dt.date
POLICY = Policy(before_days=(7, 3, 1), on_the_day=True, overdue_every_days=3, overdue_limit=2,
                escalate_after_days=5)
CALENDAR = Calendar()   # Monday to Friday
HEAD = "truong-phong@hcm.edu.vn"

# writer -> (what they owe: [(key, milestone)], the day their work arrives or None)
WRITERS = {
    "an": ([("TL-001", "M01")], D(2024, 10, 5)),     # early: never reminded
    "binh": ([("TL-002", "M01")], D(2024, 10, 23)),  # after the first reminder
    "chi": ([("TL-003", "M01")], D(2024, 11, 2)),    # late, before the first overdue step
    "dung": ([("TL-004", "M01")], None),             # never: overdue, escalated, listed
    "em": ([("TL-005", "M01"), ("BC-01", "M02")], None),  # owes a paper and a report
}


def _due(milestone: str, today: dt.date) -> dt.date:
    if milestone == "M02":
        return D(2024, 10, 25)
    # Staff move the papers' deadline from 25/10 to 30/10 on Sunday 20/10.
    return D(2024, 10, 30) if today >= D(2024, 10, 20) else D(2024, 10, 25)


def _obligations(today: dt.date) -> list[Obligation]:
    out = []
    for writer, (owed, arrives) in WRITERS.items():
        for key, milestone in owed:
            out.append(Obligation(key=key, person=f"{writer}@example.edu.vn", milestone=milestone,
                                  due=_due(milestone, today),
                                  submitted=arrives is not None and arrives <= today,
                                  head=HEAD if writer in ("dung", "em") else None))
    return out


def _simulate() -> tuple[dict[str, dict[dt.date, str]], list[tuple[dt.date, tuple[str, ...]]], list]:
    done: set[str] = set()
    observed: dict[str, dict[dt.date, str]] = {w: {} for w in WRITERS}
    lists = []
    cc_seen = []
    day = D(2024, 10, 1)
    while day <= D(2024, 11, 10):
        today_plan = plan(_obligations(day), POLICY, CALENDAR, day, done)
        for reminder in today_plan.reminders:
            writer = reminder.person.split("@")[0]
            assert day not in observed[writer], "two messages to one person in one day"
            observed[writer][day] = "+".join(i.step.name for i in reminder.items)
            if reminder.cc:
                cc_seen.append((day, writer, reminder.cc))
            done.update(i.key for i in reminder.items)
        for missing in today_plan.missing_lists:
            lists.append((day, missing.milestone, tuple(o.key for o in missing.missing)))
            done.add(missing.key)
        # The same day run again plans nothing new.
        again = plan(_obligations(day), POLICY, CALENDAR, day, done)
        assert again.reminders == () and again.missing_lists == ()
        day += dt.timedelta(days=1)
    return observed, lists, cc_seen


def test_a_simulated_month_sends_exactly_what_the_policy_says() -> None:
    observed, lists, cc_seen = _simulate()
    days = [D(2024, 10, 1) + dt.timedelta(n) for n in range(41)]
    marks = {w: {d: "&".join(short(n) for n in m.split("+")) for d, m in by_day.items()}
             for w, by_day in observed.items()}
    print("\n" + schedule_table(marks, [d for d in days if CALENDAR.is_working_day(d)]))

    assert observed["an"] == {}
    # Reminded once for the first deadline; the move to 30/10 restarts the steps
    # ahead of the new date, and the paper arrives on the day the next one is due.
    assert observed["binh"] == {D(2024, 10, 18): "truoc-7"}
    assert observed["chi"] == {
        D(2024, 10, 18): "truoc-7", D(2024, 10, 23): "truoc-7",
        # 27/10 is a Sunday: the 3-days-before step moves to Friday 25/10.
        D(2024, 10, 25): "truoc-3", D(2024, 10, 29): "truoc-1", D(2024, 10, 30): "dung-han"}
    assert observed["dung"] == {
        D(2024, 10, 18): "truoc-7", D(2024, 10, 23): "truoc-7", D(2024, 10, 25): "truoc-3",
        D(2024, 10, 29): "truoc-1", D(2024, 10, 30): "dung-han",
        # 02/11 is a Saturday: the first overdue step waits for Monday 04/11.
        D(2024, 11, 4): "qua-han-1", D(2024, 11, 5): "qua-han-2"}
    # One message a day for someone owing two things, listing both when both are due.
    assert observed["em"] == {
        D(2024, 10, 18): "truoc-7+truoc-7", D(2024, 10, 22): "truoc-3", D(2024, 10, 23): "truoc-7",
        D(2024, 10, 24): "truoc-1", D(2024, 10, 25): "dung-han+truoc-3",
        D(2024, 10, 28): "qua-han-1", D(2024, 10, 29): "truoc-1", D(2024, 10, 30): "dung-han",
        D(2024, 10, 31): "qua-han-2", D(2024, 11, 4): "qua-han-1", D(2024, 11, 5): "qua-han-2"}
    # Escalation (the head in Cc) from 5 days late, counted on the day the step goes
    # out: the first overdue step of 30/10 waits for Monday 04/11, 5 days late.
    assert cc_seen == [(D(2024, 10, 31), "em", (HEAD,)), (D(2024, 11, 4), "dung", (HEAD,)),
                       (D(2024, 11, 4), "em", (HEAD,)), (D(2024, 11, 5), "dung", (HEAD,)),
                       (D(2024, 11, 5), "em", (HEAD,))]
    # After the last step, the organiser's list once per milestone; then silence.
    assert lists == [(D(2024, 11, 1), "M02", ("BC-01",)),
                     (D(2024, 11, 6), "M01", ("TL-004", "TL-005"))]
    assert not any(day > D(2024, 11, 5) for marks in observed.values() for day in marks)


def test_nothing_is_planned_for_someone_who_has_submitted_or_on_a_day_off() -> None:
    late = Obligation("TL-009", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)
    assert plan([late], POLICY, CALENDAR, D(2024, 10, 28), set()).reminders
    assert plan([late], POLICY, CALENDAR, D(2024, 10, 27), set()).reminders == ()   # Sunday
    done = Obligation("TL-009", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=True)
    assert plan([done], POLICY, CALENDAR, D(2024, 10, 28), set()) .reminders == ()


def test_a_run_that_missed_days_sends_only_the_latest_step() -> None:
    owed = Obligation("TL-010", "y@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)
    first = plan([owed], POLICY, CALENDAR, D(2024, 10, 24), set())   # the server was down until now
    [reminder] = first.reminders
    assert [i.step.name for i in reminder.items] == ["truoc-1"]
    assert sorted(i.step.name for i in first.skipped) == ["truoc-3", "truoc-7"]


def test_holidays_move_steps_to_working_days() -> None:
    tet = Calendar(holidays=frozenset(D(2025, 1, 25) + dt.timedelta(n) for n in range(9)))
    owed = Obligation("TL-011", "z@example.edu.vn", "M09", D(2025, 2, 3), submitted=False)
    planned = {s.name: s.day for s in steps(owed, POLICY, tet)}
    # 7, 3 and 1 days before all fall in Tết: they move to Friday 24/01, where
    # the last of them stands for all three; 09/02 is a Sunday.
    assert planned == {"truoc-1": D(2025, 1, 24), "dung-han": D(2025, 2, 3),
                       "qua-han-1": D(2025, 2, 6), "qua-han-2": D(2025, 2, 10)}


@pytest.mark.parametrize("text, days", [("7, 3, 1", (7, 3, 1)), ("3;1", (3, 1)), ("", None),
                                        ("1, 7, 7", (7, 1)), ("0", ()), (0, ()), (None, None)])
def test_milestone_days_are_read(text: str, days: tuple[int, ...] | None) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["bảy", "7, -1", "0, 3", "3, 100"])
def test_milestone_days_that_cannot_be_read_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_days(text)


def test_no_early_reminders_when_the_days_are_empty() -> None:
    owed = Obligation("TL-011", "z@example.edu.vn", "M01", D(2024, 10, 25), submitted=False,
                      remind_before=())
    assert [s.name for s in steps(owed, POLICY, CALENDAR)][:2] == ["dung-han", "qua-han-1"]
    plain = Obligation("TL-012", "w@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)
    assert steps(plain, Policy(before_days=()), CALENDAR)[0].name == "dung-han"


def test_an_obligation_without_an_address_is_listed_never_reminded() -> None:
    nobody = Obligation("TL-013", "", "M01", D(2024, 10, 25), submitted=False)
    for day in range(15, 31):
        assert not plan([nobody], POLICY, CALENDAR, D(2024, 10, day), set()).reminders
    after = plan([nobody], POLICY, CALENDAR, D(2024, 11, 8), set())
    assert [o.key for m in after.missing_lists for o in m.missing] == ["TL-013"]


def test_the_policy_comes_from_config_yaml() -> None:
    from tests.conftest import ROOT
    from workflows.chase_policy import from_config
    from workspace.config import load

    policy, calendar = from_config(load(ROOT / "config.yaml", environ={}).reminders)
    assert policy == Policy(before_days=(7, 3, 1), on_the_day=True, overdue_every_days=3,
                            overdue_limit=3, escalate_after_days=5)
    assert not calendar.is_working_day(D(2025, 1, 29))       # Tết
    assert not calendar.is_working_day(D(2024, 10, 27))      # a Sunday
    assert calendar.is_working_day(D(2024, 10, 25))


def test_a_wrong_working_day_in_config_is_told_in_vietnamese(tmp_path: Any) -> None:
    from tests.conftest import ROOT
    from workspace.config import load
    from workspace.errors import ConfigError

    text = (ROOT / "config.yaml").read_text(encoding="utf-8").replace(
        "working_weekdays: [1, 2, 3, 4, 5]", "working_weekdays: [0, 1]")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "config.yaml", environ={})
    assert "reminders.working_weekdays" in str(err.value) and "thứ Hai" in str(err.value)


@pytest.mark.parametrize("hours, phrase", [("17:00-07:30", "trước giờ kết thúc"),
                                           ("8h-17h", "07:30-17:00")])
def test_office_hours_that_cannot_be_used_are_told_in_vietnamese(tmp_path: Any, hours: str,
                                                                 phrase: str) -> None:
    from tests.conftest import ROOT
    from workspace.config import load
    from workspace.errors import ConfigError

    text = (ROOT / "config.yaml").read_text(encoding="utf-8").replace(
        'office_hours: "07:30-17:00"', f'office_hours: "{hours}"')
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "config.yaml", environ={})
    assert "reminders.office_hours" in str(err.value) and phrase in str(err.value)


def test_codes_with_separators_are_remembered_and_found_again() -> None:
    from workflows.chase_policy import code_of, step_key

    owed = [Obligation("TL+01", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=False),
            Obligation("TL/02", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)]
    done: set[str] = set()
    first = plan(owed, POLICY, CALENDAR, D(2024, 10, 22), done)
    [reminder] = first.reminders
    assert "+" in reminder.key and all(code_of(i.key) in ("TL+01", "TL/02") for i in reminder.items)
    assert reminder.key.count("+") == 1 and ":" not in reminder.key
    done.update(reminder.key.split("+"))
    assert plan(owed, POLICY, CALENDAR, D(2024, 10, 23), done).reminders == ()
    assert code_of(step_key(owed[1], "truoc-3")) == "TL/02"


def test_someone_reminded_earlier_today_waits_for_the_next_working_day() -> None:
    owed = Obligation("TL-020", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)
    assert plan([owed], POLICY, CALENDAR, D(2024, 10, 22), set(),
                reminded_today={"x@example.edu.vn"}).reminders == ()
    assert plan([owed], POLICY, CALENDAR, D(2024, 10, 23), set()).reminders


def test_without_overdue_steps_the_list_goes_after_the_deadline_not_on_it() -> None:
    quiet = Policy(before_days=(3,), on_the_day=False, overdue_every_days=3, overdue_limit=0,
                   escalate_after_days=5)
    owed = Obligation("TL-021", "x@example.edu.vn", "M01", D(2024, 10, 25), submitted=False)
    assert plan([owed], quiet, CALENDAR, D(2024, 10, 25), set()).missing_lists == ()
    assert plan([owed], quiet, CALENDAR, D(2024, 10, 28), set()).missing_lists
