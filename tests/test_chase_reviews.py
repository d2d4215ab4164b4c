"""chase-submissions, its review step, on the seeded workshop with the real
clients: staff name reviewers in `Người phản biện`; each arrived paper's file
is shared with them (Drive reader, through a batch request) and one review
request each goes through the outbox; reminders before the council's
deadline; the verdict typed in `Kết luận` moves the row on. The seed: TL01
and TL02 submitted through the paper form; M03 (Hội đồng thẩm định) is due
31/10/2024 with reminders 3 and 1 days before."""
from __future__ import annotations

import datetime as dt
import email
import email.policy

from tests.conftest import mailbox_counts, run_job_as_cli
from tests.test_chase_submissions import _set_cells, _table
from workflows import decisions, reviews
from workspace.outbox import AWAITING_APPROVAL, SENT, open_ledger

D = dt.date
ONE = "phanbien.mot@dhsp-hcm.example"
TWO = "phanbien.hai@dhqg-hcm.example"
REVIEWERS = f"PGS.TS. Trần Văn Một <{ONE}>\nTS. Lê Thị Hai ({TWO})"


def _fresh(config) -> None:
    """The seed names reviewers for TL01 and TL02: this file names its own."""
    _set_cells(config, "papers", {("TL01", "reviewer"): "", ("TL02", "reviewer"): ""})


def _chase(config, day: dt.date, **kw):
    config.reminders.invite_to_write = False   # this file is about the review step
    return run_job_as_cli(config, "chase-submissions", today=day, **kw)


def _messages(config, kind: str) -> list:
    with open_ledger(config, readonly=True) as ledger:
        return [ledger.get(k) for k in ledger.keys(kind)]


def _readers(server, config, file_id: str) -> set[str]:
    """Who may read the file, as Drive lists its permissions to its owner."""
    from sandbox.seed import _staff_credentials
    from workspace.clients import Workspace

    with Workspace(_staff_credentials(server, config.event.contact.email), server.url) as staff:
        found = staff.service("drive", "v3").permissions().list(
            fileId=file_id, fields="permissions(emailAddress,role)").execute()
    return {p["emailAddress"] for p in found["permissions"] if p["role"] == "reader"}


def test_reviewers_get_the_file_shared_and_one_request_each(seeded_server, seeded_config) -> None:
    config = seeded_config
    _fresh(config)
    _chase(config, D(2024, 10, 22))                 # the seeded papers are recorded
    _set_cells(config, "papers", {("TL01", "reviewer"): REVIEWERS,
                                  ("TL02", "reviewer"): f"{ONE}; Ông Ba, không có địa chỉ"})
    result = _chase(config, D(2024, 10, 23))
    assert result.figures["đề nghị thẩm định xếp hàng"] == 3
    rows = _table(config).by_key
    assert rows["TL01"]["status"] == rows["TL02"]["status"] == reviews.IN_REVIEW
    assert rows["TL01"]["reviewer"] == REVIEWERS             # staff's cell, untouched
    # The entry without an address is said; the other reviewer still got the paper.
    assert rows["TL02"]["problem"].startswith(reviews.PROBLEM_PREFIX) and "Ông Ba" in rows["TL02"]["problem"]
    file_one = reviews.file_ids(rows["TL01"]["file"])[0]
    assert {ONE, TWO} <= _readers(seeded_server, config, file_one)
    assert ONE in _readers(seeded_server, config, reviews.file_ids(rows["TL02"]["file"])[0])

    requests = _messages(config, reviews.REQUEST)
    assert sorted((m.source_key, m.email) for m in requests) == sorted([("TL01", ONE), ("TL01", TWO), ("TL02", ONE)])
    for m in requests:
        assert ONE not in m.key and TWO not in m.key       # the ledger key names no address
    letter = email.message_from_bytes(next(m for m in requests if m.email == TWO).raw,
                                      policy=email.policy.default)
    body = letter.get_body(("plain",)).get_content()
    assert body.startswith("Kính gửi: TS. Lê Thị Hai.")
    assert f"https://drive.google.com/file/d/{file_one}/view" in body
    assert "ngày 31 tháng 10 năm 2024" in body and "(mã TL01)" not in body and "TL01" in body

    # A rerun requests nothing again; fixing the cell clears the sentence.
    again = _chase(config, D(2024, 10, 23))
    assert again.figures["đề nghị thẩm định xếp hàng"] == 0 and len(_messages(config, reviews.REQUEST)) == 3
    _set_cells(config, "papers", {("TL02", "reviewer"): ONE})
    _chase(config, D(2024, 10, 24))
    assert _table(config).by_key["TL02"]["problem"] == ""


def test_sharing_calls_do_not_grow_with_the_papers(seeded_server, seeded_config) -> None:
    """Two reviewers on one paper, then on three more: one Drive batch request
    each time, whose inner calls are the grants (Google counts those against
    the Drive quota one by one, as it counts each letter sent); every other
    request is the same."""
    config = seeded_config
    _fresh(config)
    _chase(config, D(2024, 10, 22))
    arrived = [r.key for r in _table(config).records if r["status"] == "Đã nộp"]
    assert len(arrived) == 4
    counts, grants = [], []
    for codes in (arrived[:1], arrived[1:]):
        _set_cells(config, "papers", {(c, "reviewer"): REVIEWERS for c in codes})
        before = seeded_server.store.last_request_seq()
        _chase(config, D(2024, 10, 22))    # the same day: no reminder is new
        calls = seeded_server.store.requests(before)
        grants.append(sum(1 for r in calls if r["method_id"] == "drive.permissions.create"))
        counts.append(sorted(r["method_id"] or r["kind"] for r in calls
                             if r["method_id"] != "drive.permissions.create"))
    print(f"\nrequests besides the grants: {len(counts[0])} and {len(counts[1])}; grants {grants}")
    assert counts[0] == counts[1] and counts[0].count("batch") == 1
    assert grants == [2, 6]


def test_reviewers_are_reminded_before_the_deadline_until_the_verdict(seeded_server, seeded_config) -> None:
    config = seeded_config
    _fresh(config)
    _chase(config, D(2024, 10, 22))
    _set_cells(config, "papers", {("TL01", "reviewer"): REVIEWERS, ("TL02", "reviewer"): ONE})
    _chase(config, D(2024, 10, 23))
    for day in (24, 25, 26, 27):
        _chase(config, D(2024, 10, day))
    assert _messages(config, reviews.REMINDER) == []          # too early
    _chase(config, D(2024, 10, 28))                            # 3 days before 31/10
    first = _messages(config, reviews.REMINDER)
    assert sorted((m.email, m.source_key) for m in first) == sorted([(ONE, "TL01+TL02"), (TWO, "TL01")])
    body = email.message_from_bytes(next(m for m in first if m.email == ONE).raw,
                                    policy=email.policy.default).get_body(("plain",)).get_content()
    assert "(mã TL01)" in body and "(mã TL02)" in body and "còn 3 ngày" in body
    _chase(config, D(2024, 10, 28))
    assert len(_messages(config, reviews.REMINDER)) == 2      # once a step

    # The council's verdict on TL01 comes in: only TL02 is still owed, by ONE.
    _set_cells(config, "papers", {("TL01", "decision"): "Được chọn"})
    _chase(config, D(2024, 10, 30))                            # 1 day before
    later = [m for m in _messages(config, reviews.REMINDER) if m not in first]
    assert [(m.email, m.source_key) for m in later] == [(ONE, "TL02")]
    assert _table(config).by_key["TL01"]["status"] == decisions.ACCEPTED
    for day in (31,):
        _chase(config, D(2024, 10, day))
    _chase(config, D(2024, 11, 1))
    assert len(_messages(config, reviews.REMINDER)) == 3      # nothing after the deadline


def test_the_verdict_after_review_gives_one_decision_letter_after_approval(seeded_server, seeded_config
                                                                          ) -> None:
    config = seeded_config
    _fresh(config)
    _chase(config, D(2024, 10, 22))
    _set_cells(config, "papers", {("TL01", "reviewer"): REVIEWERS})
    _chase(config, D(2024, 10, 23))
    assert _table(config).by_key["TL01"]["status"] == reviews.IN_REVIEW
    _set_cells(config, "papers", {("TL01", "decision"): "Không được chọn"})
    _chase(config, D(2024, 11, 1))
    assert _table(config).by_key["TL01"]["status"] == decisions.REJECTED
    [waiting] = _messages(config, decisions.LETTER)
    assert waiting.state == AWAITING_APPROVAL
    _set_cells(config, "outbox", {(waiting.key, "approve"): True})
    run_job_as_cli(config, "send-outbox", no_pacing=True,
                   clock=lambda: dt.datetime(2024, 11, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=7))
                                             ).timestamp())
    assert [m.state for m in _messages(config, decisions.LETTER)] == [SENT]
    before = mailbox_counts(seeded_server.store)
    _chase(config, D(2024, 11, 1))
    run_job_as_cli(config, "send-outbox", no_pacing=True)
    assert mailbox_counts(seeded_server.store) == before and len(_messages(config, decisions.LETTER)) == 1


def test_a_verdict_before_the_reminder_leaves_cancels_it(seeded_server, seeded_config) -> None:
    """Reminders queued on 28/10 wait; the council decides TL01 before they are
    sent: both letters naming TL01 are cancelled, and the next day ONE is
    reminded of TL02 alone."""
    config = seeded_config
    _fresh(config)
    _chase(config, D(2024, 10, 22))
    _set_cells(config, "papers", {("TL01", "reviewer"): REVIEWERS, ("TL02", "reviewer"): ONE})
    _chase(config, D(2024, 10, 23))
    _chase(config, D(2024, 10, 28))
    _set_cells(config, "papers", {("TL01", "decision"): "Được chọn"})
    nine = dt.datetime(2024, 10, 28, 9, tzinfo=dt.timezone(dt.timedelta(hours=7))).timestamp()
    run_job_as_cli(config, "send-outbox", no_pacing=True, clock=lambda: nine)
    first = _messages(config, reviews.REMINDER)
    assert {(m.email, m.state, m.error) for m in first} == {(ONE, "CANCELLED", reviews.DECIDED),
                                                            (TWO, "CANCELLED", reviews.DECIDED)}
    _chase(config, D(2024, 10, 29))
    again = [m for m in _messages(config, reviews.REMINDER) if m.key not in {f.key for f in first}]
    assert [(m.email, m.source_key) for m in again] == [(ONE, "TL02")]


def test_reviewers_as_staff_really_type_them_and_a_reviewer_without_a_google_account(
        seeded_server, seeded_config) -> None:
    """Two reviewers on one line separated by a comma both get the paper; one
    whose address has no Google account is shared with through Google's own
    invitation (Drive refuses a silent share then); a `Tệp` holding no usable
    link is said in `Vấn đề`, the run goes on."""
    config = seeded_config
    seeded_server.store.set_settings(no_account_domains=["truong-khong-tk.example"])
    _fresh(config)
    _chase(config, D(2024, 10, 22))
    _set_cells(config, "papers", {
        ("TL01", "reviewer"): f"Ông A <{ONE}>, Bà B <b@truong-khong-tk.example>",
        ("TL02", "reviewer"): TWO, ("TL02", "file"): "https://[dán đường dẫn vào đây]"})
    before = seeded_server.store.last_request_seq()
    result = _chase(config, D(2024, 10, 23))
    creates = [r["status"] for r in seeded_server.store.requests(before)
               if r["method_id"] == "drive.permissions.create"]
    assert sorted(creates) == [200, 200, 400]     # the silent share refused, then invited
    requests = sorted((m.source_key, m.email) for m in _messages(config, reviews.REQUEST))
    assert requests == [("TL01", "b@truong-khong-tk.example"), ("TL01", ONE)]
    assert result.figures["đề nghị thẩm định xếp hàng"] == 2
    rows = _table(config).by_key
    file_one = reviews.file_ids(rows["TL01"]["file"])[0]
    assert {ONE, "b@truong-khong-tk.example"} <= _readers(seeded_server, config, file_one)
    assert "đường dẫn Drive" in rows["TL02"]["problem"]


def test_reading_reviewers() -> None:
    found, bad = reviews.read_reviewers("PGS.TS. Một <m@x.vn>; hai@y.vn\nÔng Ba, không có địa chỉ\n"
                                        "Bà Bốn (bon@z.vn), Ông Năm - nam@z.vn")
    assert [(r.name, r.email) for r in found] == [("PGS.TS. Một", "m@x.vn"), ("", "hai@y.vn"),
                                                  ("Bà Bốn", "bon@z.vn"), ("Ông Năm", "nam@z.vn")]
    assert bad == ["Ông Ba", "không có địa chỉ"] or bad == ["Ông Ba, không có địa chỉ"]
    assert reviews.file_ids("https://[x] https://drive.google.com/open?id=1AbCdEfGhIjKl") == ["1AbCdEfGhIjKl"]
