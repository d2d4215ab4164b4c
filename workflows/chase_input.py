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
# `Trạng thái` of `Báo cáo các phòng`: a report is approved, not selected.
REPORT_STATUSES = ("Chờ nộp", "Đã nộp", "Đang thẩm định", "Đã duyệt")
WAITING = ("", "chờ nộp")
# `Áp dụng cho` in `Mốc thời gian` of the milestone each tab's rows follow.
PAPERS = "Tham luận"
REPORTS = "Báo cáo các phòng"

_EPOCH = dt.date(1899, 12, 30)   # serial 0 of a spreadsheet date
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def fold(text: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text or "")).split()).casefold()




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


# `Vấn đề` of a writing row is shared: the submissions step's sentences come
# first, then each later step's own, behind its prefix; a step rewrites only
# its part.
PROBLEM_PREFIXES = ("Nhắc hạn: ", "Phản biện: ")


def problem_parts(cell: Any) -> dict[str, str]:
    """A `Vấn đề` cell as {"": the unprefixed sentences, prefix: that step's}."""
    text = str(cell or "")
    marks = sorted((text.find(p), p) for p in PROBLEM_PREFIXES if p in text)
    parts = {"": text[:marks[0][0]].strip() if marks else text.strip()}
    for i, (at, prefix) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        parts[prefix] = text[at + len(prefix):end].strip()
    return parts


def join_problem(parts: Mapping[str, str]) -> str:
    out = [parts.get("", "")] + [p + parts[p] for p in PROBLEM_PREFIXES if parts.get(p)]
    return " ".join(x for x in out if x)


def with_problem(cell: Any, prefix: str, sentence: str | None) -> str:
    """The cell with `prefix`'s part set to `sentence` (gone when None)."""
    parts = problem_parts(cell)
    parts[prefix] = sentence or ""
    return join_problem(parts)


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
            remind = parse_days(record.get("remind_before"))
        except ValueError:
            problems.append(f"Trang '{tab}', mốc {key}: cột Nhắc trước (ngày) phải là các số ngày cách "
                            f"nhau bằng dấu phẩy, ví dụ 7, 3, 1 (0 nếu không nhắc trước hạn); tạm dùng số ngày "
                            f"trong config.yaml.")
        applies = fold(record.get("applies_to"))
        if applies and applies not in found:
            found[applies] = Milestone(key, str(record.get("content") or ""), due, remind)
    return found, problems


@dataclass(frozen=True)
class Kind:
    """What one tab's rows owe: the milestone they follow (`Áp dụng cho`), the
    config key of its default deadline, and the statuses the tab knows."""
    applies_to: str
    default_key: str
    statuses: tuple[str, ...]


PAPER_KIND = Kind(PAPERS, "deadlines.papers", STATUSES)
REPORT_KIND = Kind(REPORTS, "deadlines.division_reports", REPORT_STATUSES)


def paper_obligations(papers: Iterable[Mapping[str, Any]], milestones: Iterable[Mapping[str, Any]],
                      milestones_tab: str, default_due: dt.date, kind: Kind = PAPER_KIND) -> ChaseInput:
    """Every row of a tab (papers, or the divisions' reports with REPORT_KIND) as
    an obligation of the person in its `Email`, with the row's problems. A row
    without a usable address is still owed: it cannot be reminded, and it is on
    the organiser's list after the last step."""
    by_kind, milestone_problems = read_milestones(milestones, milestones_tab)
    milestone = by_kind.get(fold(kind.applies_to))
    out = ChaseInput(milestone_problems=milestone_problems)
    if milestone is None:
        out.milestone_problems.append(
            f"Trang '{milestones_tab}' không có mốc nào Áp dụng cho '{kind.applies_to}': tạm dùng hạn "
            f"{cell_date(default_due)} trong config.yaml ({kind.default_key}).")
    base_due = (milestone.due if milestone and milestone.due else default_due)
    known = {fold(s) for s in kind.statuses} | {""}
    for record in papers:
        key = str(record.get("key") or "").strip()
        if not key:
            continue
        status = str(record.get("status") or "").strip()
        # Chased only while waiting: `Chờ nộp` (staff may set a row back to it
        # to ask again, file or not), or an empty status and no file yet. Any
        # other status (a later stage, or one staff typed) stops the reminders.
        has_file = bool(str(record.get("file") or "").strip())
        submitted = fold(status) not in WAITING or (not status and has_file)
        if fold(status) not in known and not str(record.get("file") or "").strip():
            out.problems[key] = (f"Trạng thái '{status[:40]}' không phải một trong: "
                                 f"{', '.join(kind.statuses)}; công cụ không nhắc dòng này cho tới khi "
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
                out.problems[key] = ("Thiếu hoặc sai Email nên không nhắc được (dòng vẫn có trong "
                                     "danh sách chưa nộp gửi Ban Tổ chức): sửa ô Email của dòng này.")
            email = ""
        head, head_problem = normalise_email(str(record.get("head_email") or ""))
        if record.get("head_email") and head_problem and not submitted:
            out.problems.setdefault(key, "Email lãnh đạo đơn vị không đúng dạng nên thư nhắc quá hạn "
                                         "không gửi kèm (Cc) được: sửa ô đó.")
        out.obligations.append(Obligation(
            key=key, person=email, milestone=milestone.key if milestone else kind.applies_to, due=due,
            submitted=submitted, head=head if head and not head_problem else None,
            remind_before=milestone.remind_before if milestone else None))
    return out
