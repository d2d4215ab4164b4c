"""Reading what staff keep in `Tham luận` and `Mốc thời gian` into the
obligations the reminder policy works on (workflows.chase_policy).

A row follows the milestone whose `Áp dụng cho` names its kind of writing
(`Tham luận` for papers); a `Hạn nộp` typed on the row overrides the
milestone's deadline for that row alone. A cell that cannot be read becomes a
`Vấn đề` sentence for the row, never a crash, and never takes away what was
given: an unreadable `Hạn nộp` leaves the milestone's deadline in force.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .chase_policy import Obligation, parse_days
from .normalise import normalise_email

# `Trạng thái` of `Tham luận` (SPEC section 2); a row is chased only while waiting.
STATUSES = ("Chờ nộp", "Đã nộp", "Đang thẩm định", "Được chọn", "Không được chọn")
WAITING = ("", "chờ nộp")
PAPERS = "Tham luận"

_EPOCH = dt.date(1899, 12, 30)   # serial 0 of a spreadsheet date
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def fold(text: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text or "")).split()).casefold()


KNOWN = frozenset(fold(s) for s in STATUSES) | {""}


def parse_date(value: Any) -> dt.date | None:
    """A date as a sheet cell holds it: a serial number, `2024-10-25`, or
    `25/10/2024` as Vietnamese write it (day first). None for an empty cell;
    ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if not 1 <= value <= 2_958_465:   # 01/01/1900 .. 31/12/9999
            raise ValueError(value)
        return _EPOCH + dt.timedelta(days=int(value))
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]) if len(text) >= 10 and text[4] == "-" else \
            _dmy(text)
    except (ValueError, IndexError):
        raise ValueError(value) from None


def _dmy(text: str) -> dt.date:
    match = _DMY.match(text)
    if not match:
        raise ValueError(text)
    day, month, year = (int(g) for g in match.groups())
    return dt.date(year, month, day)


def cell_date(day: dt.date) -> str:
    """25/10/2024: how a date is shown to staff in a sentence (letters use letters.vn_date)."""
    return day.strftime("%d/%m/%Y")


@dataclass
class Milestone:
    key: str
    content: str
    due: dt.date | None
    remind_before: tuple[int, ...] | None


@dataclass
class ChaseInput:
    obligations: list[Obligation] = field(default_factory=list)
    # row key -> the `Vấn đề` sentence for it (rows that cannot be chased as they are)
    problems: dict[str, str] = field(default_factory=dict)
    # sentences about `Mốc thời gian` itself (for the log and the console)
    milestone_problems: list[str] = field(default_factory=list)


def read_milestones(records: Iterable[Mapping[str, Any]], tab: str) -> tuple[dict[str, Milestone], list[str]]:
    """Milestones by their `Áp dụng cho` (folded), and sentences about unreadable cells."""
    found: dict[str, Milestone] = {}
    problems = []
    for record in records:
        key = str(record.get("key") or "").strip()
        if not key:
            continue
        due = None
        try:
            due = parse_date(record.get("due"))
        except ValueError:
            problems.append(f"Trang '{tab}', mốc {key}: không đọc được hạn '{record.get('due')}'; ghi "
                            f"ngày theo dạng 25/10/2024.")
        remind = None
        try:
            remind = parse_days(str(record.get("remind_before") or ""))
        except ValueError:
            problems.append(f"Trang '{tab}', mốc {key}: cột Nhắc trước (ngày) phải là các số ngày cách "
                            f"nhau bằng dấu phẩy, ví dụ 7, 3, 1; tạm dùng số ngày trong config.yaml.")
        applies = fold(record.get("applies_to"))
        if applies and applies not in found:
            found[applies] = Milestone(key, str(record.get("content") or ""), due, remind)
    return found, problems


def paper_obligations(papers: Iterable[Mapping[str, Any]], milestones: Iterable[Mapping[str, Any]],
                      milestones_tab: str, default_due: dt.date) -> ChaseInput:
    """Every paper row as an obligation of its author, with the row's problems."""
    by_kind, milestone_problems = read_milestones(milestones, milestones_tab)
    milestone = by_kind.get(fold(PAPERS))
    out = ChaseInput(milestone_problems=milestone_problems)
    if milestone is None:
        out.milestone_problems.append(
            f"Trang '{milestones_tab}' không có mốc nào Áp dụng cho '{PAPERS}': tạm dùng hạn "
            f"{cell_date(default_due)} trong config.yaml (deadlines.papers).")
    base_due = (milestone.due if milestone and milestone.due else default_due)
    for record in papers:
        key = str(record.get("key") or "").strip()
        if not key:
            continue
        status = str(record.get("status") or "").strip()
        # Chased only while waiting: an empty or `Chờ nộp` status and no file yet.
        # Any other status (a later stage, or one staff typed) stops the reminders.
        submitted = fold(status) not in WAITING or bool(str(record.get("file") or "").strip())
        if fold(status) not in KNOWN and not str(record.get("file") or "").strip():
            out.problems[key] = (f"Trạng thái '{status[:40]}' không phải một trong: "
                                 f"{', '.join(STATUSES)}; công cụ không nhắc dòng này cho tới khi "
                                 f"sửa (để trống hoặc ghi Chờ nộp nếu chưa nộp).")
        due = base_due
        try:
            typed = parse_date(record.get("due"))
        except ValueError:
            typed = None
            if not submitted:   # once the paper is in, its deadline no longer matters
                out.problems[key] = (f"Không đọc được Hạn nộp '{record.get('due')}': ghi ngày theo dạng "
                                     f"25/10/2024, hoặc để trống để theo mốc; tạm dùng hạn "
                                     f"{cell_date(base_due)}.")
        if typed is not None:
            due = typed
        email, email_problem = normalise_email(str(record.get("email") or ""))
        if not email or email_problem:
            if not submitted:
                out.problems[key] = ("Thiếu hoặc sai Email của tác giả nên không nhắc được: sửa ô "
                                     "Email của dòng này.")
            continue
        head, head_problem = normalise_email(str(record.get("head_email") or ""))
        if record.get("head_email") and head_problem and not submitted:
            out.problems.setdefault(key, "Email lãnh đạo đơn vị không đúng dạng nên thư nhắc quá hạn "
                                         "không gửi kèm (Cc) được: sửa ô đó.")
        out.obligations.append(Obligation(
            key=key, person=email, milestone=milestone.key if milestone else PAPERS, due=due,
            submitted=submitted, head=head if head and not head_problem else None,
            remind_before=milestone.remind_before if milestone else None))
    return out
