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
    listed: set[str] = set()
    invited: dict[str, dt.date] = {}
    escalated: dict[str, set[tuple[dt.date, bool]]] = {}
    days = [D(2024, 10, 1) + dt.timedelta(n) for n in range(41)]    # 01/10 to 10/11, each day once
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
            with open_ledger(config, readonly=True) as ledger:
                lists += [(day, key.split(":")[1].split("/")[0]) for key in ledger.keys(reminders.MISSING)
                          if key not in listed]
                listed.update(ledger.keys(reminders.MISSING))
        with open_ledger(config, readonly=True) as ledger:
            for key in set(ledger.keys(reminders.INVITE)) - listed:
                for code in ledger.get(key).source_key.split("+"):
                    assert code not in invited, code   # one invitation to write a row, ever
                    invited[code] = day
                listed.add(key)
        # The day's mail goes out in office hours, as the schedule would send it.
        at_nine = dt.datetime.combine(day, dt.time(9), ZoneInfo("Asia/Ho_Chi_Minh")).timestamp()
        run_job_as_cli(config, "send-outbox", no_pacing=True, clock=lambda: at_nine)
    with capsys.disabled():
        # The invitation to write shows as "mời"; "." is a day with nothing sent.
        shown = {code: dict(marks) for code, marks in observed.items()}
        for code, day in invited.items():
            shown.setdefault(code, {})[day] = "mời"
        print("\n" + schedule_table(shown, [d for d in days if d.isoweekday() < 6]))

    # Submitted before anything was due: never reminded.
    assert not {"TL01", "TL02", "TL03"} & set(observed)
    # TL04 arrives on 21/10, after its 7-days-before reminder (18/10 was before the run
    # window; nothing is due before it): reminded once, on 18/10.
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
    # The organiser's list once per milestone, the day after the last step of its
    # rows: the divisions' reports (M02, 25/10) first, then the papers (M01, 28/10).
    assert lists == [(D(2024, 11, 5), "M02"), (D(2024, 11, 7), "M01")]
    # Every row still owed was invited to write on the first day, once; none
    # that had arrived.
    assert invited == {code: D(2024, 10, 1) for code in
                       ["BC02", "BC03", "BC04"] + [f"TL{i:02d}" for i in range(4, 13)]}
    # The divisions' reports follow their own milestone (M02, 25/10, not moved);
    # the Department leader in charge is copied from 5 days late.
    assert observed["BC02"] == {D(2024, 10, 18): "-7", D(2024, 10, 22): "-3", D(2024, 10, 24): "-1",
                                D(2024, 10, 25): "0", D(2024, 10, 28): "+1", D(2024, 10, 31): "+2",
                                D(2024, 11, 4): "+3"}
    assert {(d, e) for d, e in escalated["BC02"] if e} == {(D(2024, 10, 31), True), (D(2024, 11, 4), True)}
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
    _chase(config, D(2024, 10, 21))     # the invitations to write (nobody is reminded that day)
    assert _reminders(config) == {}
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
        invites = {ledger.get(k).source_key: ledger.get(k) for k in ledger.keys(reminders.INVITE)}
    assert by_code["TL09"].state == CANCELLED and by_code["TL09"].error == reminders.ARRIVED
    assert by_code["TL10"].state == SENT
    # Its invitation to write, still waiting too, goes no further either.
    assert invites["TL09"].state == CANCELLED and invites["TL10"].state == SENT
    outbox_rows = {r.key: r for r in _table(config, "outbox").records}
    assert outbox_rows[by_code["TL09"].key]["status"] == "Đã huỷ"


def test_dry_run_plans_by_code_only_and_writes_nothing(seeded_server, seeded_config) -> None:
    config = seeded_config
    out = io.StringIO()
    result = _chase(config, D(2024, 10, 22), dry_run=True,
                    console=Console(file=out, width=200, markup=False, emoji=False))
    # Nobody has been invited to write yet: that comes first, reminders the next day.
    assert any(c.key == "TL07" and "thư mời viết" in c.action for c in result.plan)
    config.reminders.invite_to_write = False
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
    config.reminders.invite_to_write = False
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
    config.reminders.invite_to_write = False   # reminders only, from the first run
    _chase(config, D(2024, 10, 22))
    sunday_night = dt.datetime(2024, 10, 27, 21, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    held = run_job_as_cli(config, "send-outbox", no_pacing=True, clock=sunday_night.timestamp)
    assert held.figures["đã gửi"] == 5      # the seed's five receipts go; no reminder does
    assert any("giờ hành chính" in note for note in held.notes)
    with open_ledger(config, readonly=True) as ledger:
        waiting = [m for m in ledger.due() if m.kind in reminders.REMINDER_KINDS]
    assert len(waiting) == 8 + 3            # papers TL04-TL12 but TL05 (due 30/10), reports BC02-BC04
    sent = run_job_as_cli(config, "send-outbox", no_pacing=True, clock=OFFICE.timestamp)
    assert sent.figures["đã gửi"] == 11


def test_one_of_two_papers_arriving_cancels_the_letter_and_the_other_is_chased_alone(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    config.reminders.invite_to_write = False   # reminders only, from the first run
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
    config.reminders.invite_to_write = False   # reminders only, from the first run
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


def _messages(config, kind: str) -> list:
    with open_ledger(config, readonly=True) as ledger:
        return [ledger.get(k) for k in ledger.keys(kind)]


def _body(message) -> tuple[email.message.EmailMessage, str]:
    parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
    return parsed, parsed.get_body(("plain",)).get_content()


def test_one_invitation_to_write_then_one_letter_a_day_for_a_paper_and_a_report(
        seeded_server, seeded_config) -> None:
    """A division's head who also writes a paper: one invitation listing both,
    each with its own pre-filled link; one reminder a day listing both; the
    report's lateness copies the Department leader in charge. A row whose
    deadline has passed is not invited: it is reminded."""
    config = seeded_config
    bc02 = _table(config, "reports").by_key["BC02"]
    _set_cells(config, "papers", {("TL08", "email"): bc02["email"], ("TL12", "due"): "10/10/2024"})
    _chase(config, D(2024, 10, 14))
    [both] = [m for m in _messages(config, reminders.INVITE) if "BC02" in m.source_key]
    assert both.source_key == "BC02+TL08"
    parsed, body = _body(both)
    assert parsed["Subject"].startswith("Thư mời viết tham luận và đề nghị gửi báo cáo")
    # The report row gives the Danh xưng and the title; the shared word is said once.
    assert body.startswith(f"Kính gửi: {bc02['honorific']} {bc02['author']}, Trưởng phòng Giáo dục Tiểu học.")
    assert "kính mời" in body and "kính đề nghị" in body
    assert "=BC02" in body and "=TL08" in body and body.count("usp=pp_url") == 2
    invited = {code for m in _messages(config, reminders.INVITE) for code in m.source_key.split("+")}
    assert "TL12" not in invited and not {"TL01", "TL02", "TL03", "BC01"} & invited
    assert ("qua-han-1", reminders.OVERDUE) in _reminders(config)["TL12"]   # late already: reminded
    # Rerun, and the next day: nobody is invited twice.
    assert _chase(config, D(2024, 10, 14)).figures["thư mời viết xếp hàng"] == 0
    assert _chase(config, D(2024, 10, 15)).figures["thư mời viết xếp hàng"] == 0

    _chase(config, D(2024, 10, 18))    # 7 days before both deadlines: one letter with both
    [letter] = [m for m in _messages(config, reminders.BEFORE) if "BC02" in m.source_key]
    assert letter.source_key == "BC02+TL08"
    _, body = _body(letter)
    assert "(mã BC02)" in body and "(mã TL08)" in body

    _submit(seeded_server, config, [_paper(_table(config).by_key["TL08"])])
    _chase(config, D(2024, 10, 31))    # the report 6 days late: the leader in charge is copied
    [late] = [m for m in _messages(config, reminders.ESCALATED) if m.source_key == "BC02"]
    parsed, body = _body(late)
    assert bc02["head_email"] in str(parsed["Cc"])
    assert "Đồng kính gửi: Lãnh đạo Sở phụ trách." in body and "lãnh đạo Sở phụ trách để phối hợp" in body
    row = _table(config, "reports").by_key["BC02"]
    assert row["last_reminder"] == "2024-10-31" and str(row["reminder_count"]) == "2"


def test_invitations_can_be_switched_off(seeded_server, seeded_config) -> None:
    config = seeded_config
    config.reminders.invite_to_write = False
    result = _chase(config, D(2024, 10, 14))
    assert result.figures["thư mời viết xếp hàng"] == 0 and _messages(config, reminders.INVITE) == []


def test_the_invitation_stands_for_the_steps_due_when_it_goes(seeded_server, seeded_config) -> None:
    """First run on 18/10, the day of the 7-days-before step: writers get the
    invitation, and the -7 step is not sent after it; the next letter is -3."""
    config = seeded_config
    _chase(config, D(2024, 10, 18))
    assert _reminders(config) == {}
    _chase(config, D(2024, 10, 21))
    assert _reminders(config) == {}
    _chase(config, D(2024, 10, 22))
    assert _reminders(config)["TL07"] == [("truoc-3", reminders.BEFORE)]
