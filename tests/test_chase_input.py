"""Reading `Tham luận` and `Mốc thời gian` into obligations: deadlines from the
milestone, a row's own `Hạn nộp` for that row alone, unreadable cells as
`Vấn đề` sentences that never take away the deadline in force."""
from __future__ import annotations

import datetime as dt

import pytest

from workflows.chase_input import paper_obligations, parse_date

D = dt.date
MILESTONES = [
    {"key": "M01", "content": "Gửi tham luận", "due": "2024-10-25", "applies_to": "Tham luận",
     "remind_before": "7, 3, 1"},
    {"key": "M02", "content": "Báo cáo các phòng", "due": "25/10/2024",
     "applies_to": "Báo cáo các phòng", "remind_before": ""},
]


def _paper(key: str, **over: object) -> dict[str, object]:
    row: dict[str, object] = {"key": key, "author": "Tác giả", "email": f"{key.lower()}@truong.edu.vn",
                              "status": "Chờ nộp", "due": ""}
    row.update(over)
    return row


@pytest.mark.parametrize("value, day", [
    ("2024-10-25", D(2024, 10, 25)), ("25/10/2024", D(2024, 10, 25)), ("5/1/2025", D(2025, 1, 5)),
    ("30.10.2024", D(2024, 10, 30)), (45590, D(2024, 10, 25)), ("", None), (None, None)])
def test_dates_are_read_day_first(value: object, day: dt.date | None) -> None:
    assert parse_date(value) == day


@pytest.mark.parametrize("value", ["10/30/2024", "mai", "31/02/2024", True, -3, "2024-13-01"])
def test_dates_that_cannot_be_read_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value)


def test_rows_follow_their_milestone_and_a_typed_deadline_overrides_it_for_that_row() -> None:
    read = paper_obligations([_paper("TL-001"), _paper("TL-002", due="30/10/2024"),
                              _paper("TL-003", status="Đã nộp")],
                             MILESTONES, "Mốc thời gian", D(2024, 10, 25))
    by_key = {o.key: o for o in read.obligations}
    assert by_key["TL-001"].due == D(2024, 10, 25) and by_key["TL-001"].milestone == "M01"
    assert by_key["TL-001"].remind_before == (7, 3, 1)
    assert by_key["TL-002"].due == D(2024, 10, 30)
    assert by_key["TL-003"].submitted is True
    assert read.problems == {} and read.milestone_problems == []


def test_a_moved_milestone_moves_every_row_that_follows_it() -> None:
    moved = [dict(MILESTONES[0], due="30/10/2024"), MILESTONES[1]]
    read = paper_obligations([_paper("TL-001"), _paper("TL-002", due="28/10/2024")], moved,
                             "Mốc thời gian", D(2024, 10, 25))
    assert {o.key: o.due for o in read.obligations} == {"TL-001": D(2024, 10, 30),
                                                        "TL-002": D(2024, 10, 28)}


def test_unreadable_cells_are_problems_and_keep_the_deadline_in_force() -> None:
    bad = [dict(MILESTONES[0], remind_before="bảy ngày")]
    read = paper_obligations([_paper("TL-001", due="cuối tháng"), _paper("TL-002", email="khong-co"),
                              _paper("TL-003", head_email="truong phong@")],
                             bad, "Mốc thời gian", D(2024, 10, 25))
    by_key = {o.key: o for o in read.obligations}
    assert by_key["TL-001"].due == D(2024, 10, 25)
    assert "Hạn nộp 'cuối tháng'" in read.problems["TL-001"] and "25/10/2024" in read.problems["TL-001"]
    # No address: nobody to remind, but still owed (the organiser's list names it).
    assert by_key["TL-002"].person == "" and "Email" in read.problems["TL-002"]
    assert by_key["TL-003"].head is None and "lãnh đạo" in read.problems["TL-003"]
    assert by_key["TL-001"].remind_before is None      # config's days apply
    assert any("Nhắc trước" in p for p in read.milestone_problems)


def test_without_a_papers_milestone_the_config_deadline_applies_and_is_said() -> None:
    read = paper_obligations([_paper("TL-001")], [MILESTONES[1]], "Mốc thời gian", D(2024, 10, 25))
    assert read.obligations[0].due == D(2024, 10, 25)
    assert "deadlines.papers" in read.milestone_problems[0]


def test_only_rows_still_waiting_are_chased_and_an_unknown_status_is_said() -> None:
    read = paper_obligations([_paper("TL-001", status="Chưa nộp"), _paper("TL-002", status="đã nộp"),
                              _paper("TL-003", status="Chờ nộp", file="https://drive.google.com/x"),
                              _paper("TL-004", status=" chờ  nộp "), _paper("TL-005", status=""),
                              _paper("TL-006", status="", file="https://drive.google.com/y")],
                             MILESTONES, "Mốc thời gian", D(2024, 10, 25))
    by_key = {o.key: o.submitted for o in read.obligations}
    # `Chờ nộp` set by staff on a row with a file asks again; an empty status
    # with a file is a paper that came.
    assert by_key == {"TL-001": True, "TL-002": True, "TL-003": False, "TL-004": False,
                      "TL-005": False, "TL-006": True}
    assert "Chưa nộp" in read.problems["TL-001"] and "Chờ nộp" in read.problems["TL-001"]
    assert set(read.problems) == {"TL-001"}
