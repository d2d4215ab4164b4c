"""chase-submissions, its reminders step, on the seeded 2024 workshop with the
real clients: a rehearsed month run day by day with `--today`, a deadline
moved in `Mốc thời gian`, papers arriving on various days, a paper arriving
between a reminder being queued and sent. The seed: TL01-TL03 submitted,
TL05 has its own deadline (30/10), the others follow milestone M01 (25/10)."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from zoneinfo import ZoneInfo

from rich.console import Console

from tests.conftest import run_job_as_cli
from tests.test_chase_submissions import _paper, _set_cells, _submit, _table
from workflows import reminders
from workflows.chase_policy import schedule_table, short
from workspace.outbox import CANCELLED, SENT, open_ledger

D = dt.date
# Tuesday 22/10/2024, 09:00 in Ho Chi Minh City: office hours on a working day.
OFFICE = dt.datetime(2024, 10, 22, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
HEAD = "hieu-truong@dhsg.example"


def _chase(config, day: dt.date, **kw):
    return run_job_as_cli(config, "chase-submissions", today=day, **kw)


def _items(config) -> set[tuple[str, str, str, str]]:
    """(code, deadline, step, message kind) of every reminder in the ledger."""
    out = set()
    with open_ledger(config, readonly=True) as ledger:
        for kind in reminders.REMINDER_KINDS:
            for key in ledger.keys(kind):
                for item in key.partition(":")[2].rpartition(":")[0].split("+"):
                    code, due, step = item.split("/")
                    out.add((code, due, step, kind))
    return out


def _reminders(config) -> dict[str, list[tuple[str, str]]]:
    """code -> [(step, message kind)] of every reminder in the ledger."""
    out: dict[str, list[tuple[str, str]]] = {}
    for code, _due, step, kind in sorted(_items(config)):
        out.setdefault(code, []).append((step, kind))
    return out


def test_a_rehearsed_month_sends_what_the_policy_says_and_nothing_twice(
        seeded_server, seeded_config, capsys) -> None:
    config = seeded_config
    _set_cells(config, "papers", {("TL07", "head_email"): HEAD})
    arrivals = {D(2024, 10, 21): "TL04", D(2024, 10, 29): "TL06"}
    observed: dict[str, dict[dt.date, str]] = {}
    lists: list[tuple[dt.date, str]] = []
    escalated: dict[str, set[tuple[dt.date, bool]]] = {}
    days = [D(2024, 10, 14) + dt.timedelta(n) for n in range(27)]   # to 09/11
    for day in days:
        if day in arrivals:
            row = _table(config).by_key[arrivals[day]]
            _submit(seeded_server, config, [_paper(row)])
        if day == D(2024, 10, 22):   # staff move the papers' deadline to 28/10
            _set_cells(config, "milestones", {("M01", "due"): "28/10/2024"})
        before = _items(config)
        first = _chase(config, day)
        again = _chase(config, day)
        assert again.figures["thư nhắc xếp hàng"] == 0, day
        assert again.figures["danh sách chưa nộp gửi Ban Tổ chức"] == 0, day
        new = _items(config) - before
        for code, _due, step, kind in new:
            assert code not in observed or day not in observed[code], (code, day)
            observed.setdefault(code, {})[day] = short(step)
            escalated.setdefault(code, set()).add((day, kind == reminders.ESCALATED))
        if first.figures["danh sách chưa nộp gửi Ban Tổ chức"]:
            lists.append((day, "M01"))
        # The day's mail goes out in office hours, as the schedule would send it.
        at_nine = dt.datetime.combine(day, dt.time(9), ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
        run_job_as_cli(config, "send-outbox", no_pacing=True, clock=lambda: at_nine)
    with capsys.disabled():
        print("\n" + schedule_table(observed, [d for d in days if d.isoweekday() < 6]))

    # Submitted before anything was due: never reminded.
    assert not {"TL01", "TL02", "TL03"} & set(observed)
    # TL04 arrives on 21/10, after its 7-days-before reminder (18/10 was before the run
    # window; the first run on 14/10 finds nothing due yet): reminded once, on 18/10.
    assert observed["TL04"] == {D(2024, 10, 18): "-7"}
    # TL07 never arrives. Moved on 22/10 to Monday 28/10, its steps restart: -7
    # (21/10, already passed) goes out on 22/10 with the new date; -3 (25/10) and
    # -1 (Sunday 27/10, so Friday 25/10) fall on one day, where -1 stands for both;
    # then the day itself and every 3 days after (03/11 is a Sunday: 04/11).
    assert observed["TL07"] == {D(2024, 10, 18): "-7", D(2024, 10, 22): "-7",
                                D(2024, 10, 25): "-1", D(2024, 10, 28): "0",
                                D(2024, 10, 31): "+1", D(2024, 11, 4): "+2",
                                D(2024, 11, 6): "+3"}
    # TL05 follows its own deadline (30/10), not the milestone's.
    assert observed["TL05"] == {D(2024, 10, 23): "-7", D(2024, 10, 25): "-3",
                                D(2024, 10, 29): "-1", D(2024, 10, 30): "0",
                                D(2024, 11, 4): "+1", D(2024, 11, 5): "+2", D(2024, 11, 8): "+3"}
    # TL06 arrives on 29/10: nothing after.
    assert max(observed["TL06"]) == D(2024, 10, 28)
    # The head is copied only from 5 days late (+2 and +3 here, not +1), and only
    # where staff gave the head's address.
    assert sorted(escalated["TL07"]) == [
        (D(2024, 10, 18), False), (D(2024, 10, 22), False), (D(2024, 10, 25), False),
        (D(2024, 10, 28), False), (D(2024, 10, 31), False), (D(2024, 11, 4), True),
        (D(2024, 11, 6), True)]
    assert not any(flag for _, flag in escalated["TL08"])
    # The organiser's list once, the day after the last step of the milestone's rows.
    assert lists == [(D(2024, 11, 7), "M01")]
    row = _table(config).by_key["TL07"]
    assert row["last_reminder"] == "2024-11-06" and str(row["reminder_count"]) == "7"
    # Every reminder went out once, none to a writer after their paper arrived.
    with open_ledger(config, readonly=True) as ledger:
        states = {m.state for kind in reminders.REMINDER_KINDS for m in
                  (ledger.get(k) for k in ledger.keys(kind))}
    assert states == {SENT}


def test_escalation_copies_the_unit_head(seeded_server, seeded_config) -> None:
    config = seeded_config
    _set_cells(config, "papers", {("TL08", "head_email"): HEAD})
    _chase(config, D(2024, 10, 31))        # 6 days after 25/10: from 5 days late, escalated
    with open_ledger(config, readonly=True) as ledger:
        [key] = [k for k in ledger.keys(reminders.ESCALATED) if "TL08/" in k]
        message = email.message_from_bytes(ledger.get(key).raw, policy=email.policy.default)
    assert HEAD in str(message["Cc"])
    body = message.get_body(("plain",)).get_content()
    assert "Đồng kính gửi" in body and "đã quá 6 ngày" in body and "TL08" in body


def test_a_paper_arriving_after_its_reminder_was_queued_cancels_it(seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config, D(2024, 10, 22))
    queued = _reminders(config)
    assert ("truoc-3", reminders.BEFORE) in queued["TL09"]
    # TL09's paper arrives; chase-submissions has not run since.
    _submit(seeded_server, config, [_paper(_table(config).by_key["TL09"])])
    run_job_as_cli(config, "send-outbox", no_pacing=True, clock=lambda: OFFICE.timestamp())
    with open_ledger(config, readonly=True) as ledger:
        by_code = {}
        for kind in reminders.REMINDER_KINDS:
            for key in ledger.keys(kind):
                m = ledger.get(key)
                by_code[m.source_key] = m
    assert by_code["TL09"].state == CANCELLED and by_code["TL09"].error == reminders.ARRIVED
    assert by_code["TL10"].state == SENT
    outbox_rows = {r.key: r for r in _table(config, "outbox").records}
    assert outbox_rows[by_code["TL09"].key]["status"] == "Đã huỷ"


def test_dry_run_plans_by_code_only_and_writes_nothing(seeded_server, seeded_config) -> None:
    config = seeded_config
    out = io.StringIO()
    result = _chase(config, D(2024, 10, 22), dry_run=True,
                    console=Console(file=out, width=200, markup=False, emoji=False))
    assert any(c.key == "TL07" and "truoc-3" in c.action for c in result.plan)
    assert _reminders(config) == {}
    text = out.getvalue()
    assert "@" not in text
    assert all(str(r["last_reminder"]) == "" for r in _table(config).records)


def test_an_unreadable_deadline_is_a_problem_and_the_milestone_stays_in_force(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    _set_cells(config, "papers", {("TL11", "due"): "cuối tháng"})
    _chase(config, D(2024, 10, 22))
    row = _table(config).by_key["TL11"]
    assert row["problem"].startswith(reminders.PROBLEM_PREFIX) and "cuối tháng" in row["problem"]
    assert ("truoc-3", reminders.BEFORE) in _reminders(config)["TL11"]
    # Fixed by staff: the sentence goes on the next run.
    _set_cells(config, "papers", {("TL11", "due"): ""})
    _chase(config, D(2024, 10, 23))
    assert _table(config).by_key["TL11"]["problem"] == ""


def test_reminders_wait_for_office_hours_on_a_working_day(seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config, D(2024, 10, 22))
    sunday_night = dt.datetime(2024, 10, 27, 21, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    held = run_job_as_cli(config, "send-outbox", no_pacing=True, clock=sunday_night.timestamp)
    assert held.figures["đã gửi"] == 4      # the seed's four receipts go; no reminder does
    assert any("giờ hành chính" in note for note in held.notes)
    with open_ledger(config, readonly=True) as ledger:
        waiting = [m for m in ledger.due() if m.kind in reminders.REMINDER_KINDS]
    assert len(waiting) == 8
    sent = run_job_as_cli(config, "send-outbox", no_pacing=True, clock=OFFICE.timestamp)
    assert sent.figures["đã gửi"] == 8


def test_one_of_two_papers_arriving_cancels_the_letter_and_the_other_is_chased_alone(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    tl04 = _table(config).by_key["TL04"]
    _set_cells(config, "papers", {("TL06", "email"): tl04["email"]})   # one author, two papers
    _chase(config, D(2024, 10, 22))
    [both] = [k for k in _keys(config) if "TL04/" in k and "TL06/" in k]
    _submit(seeded_server, config, [_paper(tl04)])
    run_job_as_cli(config, "send-outbox", no_pacing=True, clock=OFFICE.timestamp)
    with open_ledger(config, readonly=True) as ledger:
        assert ledger.get(both).state == CANCELLED and ledger.get(both).error == reminders.ARRIVED
    _chase(config, D(2024, 10, 23))    # the next day: TL06 alone, its step not lost
    alone = [k for k in _keys(config) if "TL06/" in k and "TL04/" not in k]
    assert len(alone) == 1 and "truoc-3" in alone[0]


def test_letters_speak_to_the_author_as_the_data_allows(seeded_server, seeded_config) -> None:
    config = seeded_config
    _chase(config, D(2024, 10, 22))
    with open_ledger(config, readonly=True) as ledger:
        [key] = [k for k in ledger.keys(reminders.BEFORE) if "TL08/" in k]
        message = email.message_from_bytes(ledger.get(key).raw, policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Kính gửi: Tác giả ") and "nhắc Quý tác giả hạn gửi" in body
    assert "(mã TL08)" in body and "còn 3 ngày" in body and "thứ Sáu, ngày 25 tháng 10 năm 2024" in body
    assert "Đồng kính gửi" not in body and message["Cc"] is None
    assert "usp=pp_url" in body and body.rstrip().endswith("Ban Tổ chức Hội thảo - Sở GDĐT TP.HCM")


def _keys(config) -> list[str]:
    with open_ledger(config, readonly=True) as ledger:
        return [k for kind in reminders.REMINDER_KINDS for k in ledger.keys(kind)]
