"""Which paper arrived, for which row of `Tham luận`: the submissions step of
chase-submissions (SPEC 3.4). Pure: the paper form's responses and the tab
as read in, the cells to write, the rows to add and the receipts to queue out.

The rules:
- A response belongs to the row whose `Mã tham luận` is its pre-filled
  `paper_code` (NFC, spaces and case folded); else to the row the job made
  for this very response before (the code derived from its response id);
  else to the row with the same email (normalised as sync-registrations
  does). One email on several rows (an author writing two papers): the row
  whose title matches the submitted one (folded as names are), else the only
  one still waiting; still several, the response gets a row of its own
  whose `Vấn đề` names the candidates.
- A response matching no row becomes a new row, keyed by a code derived
  from its response id (`TL-` and 6 characters without look-alikes), so a
  rerun finds that row again and never adds a second; its `Vấn đề` asks staff
  to confirm it, and stays until staff clear the cell.
- A row's paper is its latest submission (lastSubmittedTime) that has a
  file: `Tệp` is its Drive link (`https://drive.google.com/open?id=…`, one
  a line if several), `Ngày nộp` its date in the event's time zone
  (YYYY-MM-DD, as the tab's other dates). Any other link the row held, or an
  earlier submission had, goes to `Các lần nộp trước` ("date link", one a
  line, oldest first), never lost. A submission without a file changes
  neither: it gets a `Vấn đề`.
- `Trạng thái` moves only from `Chờ nộp` (or empty) to `Đã nộp`; any other
  status (`Đang thẩm định`, `Được chọn`, …, or what staff typed) stays. A
  submission is recorded once (the ledger holds its receipt): if staff then
  set the row back to `Chờ nộp` or change `Tệp`, that stands until the
  writer sends a new version.
- The latest submission's topic must be one of the event's topics (NFC,
  whitespace, case folded); otherwise `Vấn đề` lists them. The sentence
  goes when the author submits again with a listed topic. A division's
  report (`Báo cáo các phòng`, workflows.writings) has no topic.
- `Vấn đề` of a row with responses is the job's (rewritten every run from
  the responses); rows without responses are not touched at all. `Tác
  giả`, `Email`, `Đơn vị`, `Chủ đề`, `Tên tham luận` are written only on a
  row the job adds; `Hạn nộp`, `Người phản biện`, `Kết luận`, `Ghi chú` never.
- Every row's current submission is a receipt, keyed by the response id and
  its lastSubmittedTime: the ledger queues each once, so an edited or new
  submission gets its own letter and a rerun none.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from .chase_input import cell_date, join_problem, problem_parts
from .normalise import clean_text, cut, normalise_email
from .registration_input import instant, name_key

if TYPE_CHECKING:
    from workspace.forms import Response

WAITING, SUBMITTED = "Chờ nộp", "Đã nộp"
RECEIPT = "nhan-tham-luan"   # the receipt's kind in the mail ledger
DRIVE_LINK = "https://drive.google.com/open?id={}"
NEW_CODE_PREFIX = "TL-"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L look-alikes
# The cells the step writes on an existing row; a new row gets the copied answers too.
OWNED = ("status", "submitted_at", "file", "file_history", "problem")
COPIED = ("author", "email", "unit", "topic", "title")
_LINK = re.compile(r"https?://\S+")


def fold(text: str) -> str:
    """NFC, control characters gone, whitespace collapsed, case folded."""
    return clean_text(text).casefold()


def new_code(response_id: str) -> str:
    """The code of the row made for a response that matched no row: derived
    from the response id, so the same response always names the same row."""
    digest = hashlib.sha256(response_id.encode("utf-8")).digest()
    return NEW_CODE_PREFIX + "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:6])


def local_date(rfc3339: str, tz: str) -> str:
    """`2024-10-20T17:30:00Z` -> `2024-10-21` (the day in the event's time zone)."""
    seconds = instant(rfc3339)[0]
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(seconds, ZoneInfo(tz)).date().isoformat()


def _links(text: str) -> list[str]:
    return _LINK.findall(text or "")


@dataclass
class Submission:
    """One response of the paper form, cleaned."""
    response_id: str
    submitted: str                    # lastSubmittedTime as Forms gives it
    order: tuple[int, int]
    day: str                          # YYYY-MM-DD in the event's time zone
    answers: dict[str, str]           # author, email (normalised when valid), unit, topic, title, code
    email_problem: str | None
    links: list[str]

    @property
    def version(self) -> str:
        """The submission's version for the ledger key: its lastSubmittedTime, digits only."""
        return re.sub(r"[^0-9]", "", self.submitted) or "0"

    @property
    def receipt_key(self) -> str:
        """What its receipt's ledger key holds: `<response id>-<version>`."""
        return f"{self.response_id}-{self.version}"


def read_submission(response: "Response", tz: str) -> Submission:
    answers = {f: cut(clean_text(", ".join(response.answers.get(f, []))))[0]
               for f in ("author", "email", "unit", "topic", "title", "paper_code")}
    email, problem = normalise_email(answers["email"])
    answers["email"] = email
    files = [f for f in response.answers.get("file", []) if f]
    return Submission(response.response_id, response.submitted, instant(response.submitted),
                      local_date(response.submitted, tz), answers, problem,
                      [DRIVE_LINK.format(f) for f in files])


@dataclass
class Receipt:
    """A receipt to queue: which submission, which row, who gets it."""
    response_id: str
    version: str
    code: str
    author: str
    email: str
    unit: str
    title: str
    topic: str
    day: str                  # YYYY-MM-DD
    again: bool               # the row held another file before
    due: str = ""             # the row's Hạn nộp, as the tab holds it
    report: bool = False      # a division's report (workflows.writings), not a paper
    honorific: str = ""       # the row's Danh xưng and Chức vụ (report rows have them)
    position: str = ""


@dataclass
class Outcome:
    updates: dict[str, dict[str, str]] = field(default_factory=dict)   # code -> owned cells
    inserts: list[dict[str, str]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    newly_submitted: list[str] = field(default_factory=list)   # codes: Chờ nộp -> Đã nộp
    resubmitted: list[str] = field(default_factory=list)       # codes: another file replaced the link
    unmatched: list[str] = field(default_factory=list)         # codes of rows added this run
    problems: list[str] = field(default_factory=list)          # codes whose Vấn đề is not empty


def topics_sentence(topics: Sequence[str], given: str) -> str:
    shown = "; ".join(f"{i}. {t}" for i, t in enumerate(topics, start=1))
    what = f"Chủ đề đã chọn khi gửi («{given[:80]}»)" if given else "Bài gửi chưa chọn chủ đề, và chủ đề"
    return (f"{what} không thuộc {len(topics)} chủ đề của Hội thảo ({shown}): đề nghị tác giả gửi "
            f"lại và chọn một chủ đề trong danh sách.")


def _confirm_sentence(labels: Mapping[str, str], candidates: Sequence[str]) -> str:
    if candidates:
        return (f"Tham luận gửi không kèm {labels['key']}, và email trùng với nhiều dòng "
                f"({', '.join(candidates)}) nên công cụ không đoán dòng nào: Ban Tổ chức xác nhận "
                f"tham luận này thuộc dòng nào, rồi xoá câu này.")
    return (f"Người gửi không có trong danh sách {labels['tab']} (không khớp {labels['key']} hay "
            f"Email): Ban Tổ chức xác nhận có nhận tham luận này không, rồi xoá câu này.")


class _Index:
    """The rows by code and by email, growing with the rows this run adds."""

    def __init__(self, rows: Mapping[str, Mapping[str, str]]):
        self.codes = {fold(k): k for k in rows}
        self.emails: dict[str, list[str]] = {}
        # A file already recorded on a row ties its submission to that row for good.
        self.links: dict[str, str] = {}
        for key, row in rows.items():
            self.add(key, row.get("email", ""))
            for link in _links(row.get("file", "")) + _links(row.get("file_history", "")):
                self.links.setdefault(link, key)

    def add(self, key: str, email: str) -> None:
        address, problem = normalise_email(email)
        if address and not problem:
            self.emails.setdefault(address, []).append(key)


def match(sub: Submission, rows: Mapping[str, Mapping[str, str]], index: _Index
          ) -> tuple[str | None, list[str]]:
    """The row a submission belongs to, or None and the rows its email made ambiguous."""
    code = index.codes.get(fold(sub.answers["paper_code"])) if sub.answers["paper_code"] else None
    if code:
        return code, []
    own = new_code(sub.response_id)
    if own in rows:
        return own, []
    # Matched before (by email): the row holding its file keeps it, whatever has
    # happened to the statuses or rows since.
    recorded = [index.links[link] for link in sub.links if link in index.links]
    if recorded:
        return recorded[0], []
    candidates = index.emails.get(sub.answers["email"], []) if not sub.email_problem else []
    if len(candidates) <= 1:
        return (candidates[0] if candidates else None), []
    title = name_key(sub.answers["title"])
    same_title = [k for k in candidates if title and name_key(rows[k].get("title", "")) == title]
    if len(same_title) == 1:
        return same_title[0], []
    waiting = [k for k in candidates if fold(rows[k].get("status", "")) in ("", fold(WAITING))]
    if len(waiting) == 1:
        return waiting[0], []
    return None, candidates


def decide(responses: Iterable["Response"], rows: Mapping[str, Mapping[str, str]],
           topics: Sequence[str], tz: str, labels: Mapping[str, str],
           reports: set[str] | frozenset[str] = frozenset(),
           recorded: set[str] | frozenset[str] = frozenset()) -> Outcome:
    """What the tab and the ledger should get. `rows`: code -> field -> text, as
    read (in the tab's order); `labels`: field -> header label, and `tab`;
    `reports`: the codes among `rows` that are divisions' reports (no topic);
    `recorded`: the submissions recorded before (`Submission.receipt_key`, from
    the ledger's receipts)."""
    subs = sorted((read_submission(r, tz) for r in responses), key=lambda s: (s.order, s.response_id))
    rows = {k: dict(v) for k, v in rows.items()}
    index = _Index(rows)
    allowed = {fold(t) for t in topics}
    groups: dict[str, list[Submission]] = {}
    added: dict[str, list[str]] = {}          # new code -> ambiguous candidates
    for sub in subs:
        key, candidates = match(sub, rows, index)
        if key is None:
            key = new_code(sub.response_id)
            a = sub.answers
            rows[key] = {"key": key, "author": a["author"], "email": a["email"], "unit": a["unit"],
                         "topic": a["topic"], "title": a["title"], "status": "", "file": "",
                         "file_history": "", "submitted_at": "", "problem": ""}
            added[key] = candidates
            index.codes[fold(key)] = key
            index.add(key, a["email"])
        groups.setdefault(key, []).append(sub)

    out = Outcome()
    for key, group in groups.items():
        row = rows[key]
        cells = _row_cells(row, group, None if key in reports else allowed, topics, labels,
                           key in added, added.get(key, []), recorded)
        current = next((s for s in reversed(group) if s.links), None)
        old_links = _links(row.get("file", ""))
        if key in added:
            out.inserts.append({**row, **cells})
            out.unmatched.append(key)
        else:
            diff = {f: v for f, v in cells.items() if v != row.get(f, "")}
            if diff:
                out.updates[key] = diff
        if "status" in cells and fold(row.get("status", "")) != fold(SUBMITTED) \
                and cells["status"] == SUBMITTED:
            out.newly_submitted.append(key)
        elif old_links and cells["file"] != row.get("file", ""):
            out.resubmitted.append(key)
        if cells["problem"]:
            out.problems.append(key)
        if current is not None:
            a = current.answers
            email = a["email"] if a["email"] and not current.email_problem else row.get("email", "")
            out.receipts.append(Receipt(
                current.response_id, current.version, key, a["author"] or row.get("author", ""),
                email, a["unit"] or row.get("unit", ""), a["title"] or row.get("title", ""),
                "" if key in reports else (a["topic"] or row.get("topic", "")), current.day,
                again=bool(cells["file_history"]), due=row.get("due", ""), report=key in reports,
                honorific=row.get("honorific", ""), position=row.get("position", "")))
    return out


def _row_cells(row: Mapping[str, str], group: list[Submission], allowed: set[str] | None,
               topics: Sequence[str], labels: Mapping[str, str], added: bool,
               candidates: Sequence[str], recorded: set[str] | frozenset[str] = frozenset()
               ) -> dict[str, str]:
    """The owned cells of one row from its submissions (oldest first)."""
    current = next((s for s in reversed(group) if s.links), None)
    latest = group[-1]
    file_now = row.get("file", "")
    history = [line for line in (row.get("file_history", "") or "").split("\n") if line.strip()]
    known = {link for line in history for link in _links(line)}
    cells = {"file": file_now, "submitted_at": row.get("submitted_at", ""),
             "status": row.get("status", "")}
    # A submission the tool recorded before (its receipt is in the ledger) is
    # not recorded again: what staff did since (`Chờ nộp` set back, `Tệp`
    # cleared or replaced) stands until the writer sends something new.
    if current is not None and current.receipt_key not in recorded:
        new_file = "\n".join(current.links)
        keep = set(current.links)
        # Every other link this row has seen, oldest first: what the tab held
        # (a form edit replaces a file, the API then shows only the new one),
        # then earlier submissions' files.
        earlier = [(row.get("submitted_at", ""), link) for link in _links(file_now)]
        earlier += [(s.day, link) for s in group if s is not current for link in s.links]
        for day, link in earlier:
            if link not in keep and link not in known:
                history.append(f"{day} {link}".strip())
                known.add(link)
        cells["file"] = new_file
        cells["submitted_at"] = current.day
        if fold(row.get("status", "")) in ("", fold(WAITING)):
            cells["status"] = SUBMITTED
    elif added:
        cells["status"] = WAITING
    cells["file_history"] = "\n".join(history)

    problems: list[str] = []
    if added:
        problems.append(_confirm_sentence(labels, candidates))
    else:
        # A row this job added: its request to confirm stays until staff clear it.
        kept = re.search(_CONFIRM_KEPT, row.get("problem", "") or "")
        if kept:
            problems.append(kept.group(0))
    if not latest.links:
        if current is not None or _links(file_now):
            kept_day = current.day if current is not None else row.get("submitted_at", "")
            since = f" gửi ngày {_vn(kept_day)}" if kept_day else " đã có"
            problems.append(f"Lần gửi ngày {_vn(latest.day)} không kèm tệp tham luận nên {labels['file']} "
                            f"vẫn là tệp{since}: nếu tác giả muốn thay tệp, đề nghị gửi lại qua biểu "
                            f"mẫu, kèm tệp.")
        else:
            problems.append(f"Tác giả đã gửi biểu mẫu ngày {_vn(latest.day)} nhưng không kèm tệp tham "
                            f"luận nên chưa tính là đã nộp: đề nghị tác giả gửi lại, kèm tệp.")
    topic = latest.answers["topic"]
    if allowed is not None and fold(topic) not in allowed and \
            (topic or fold(row.get("topic", "")) not in allowed):
        problems.append(topics_sentence(topics, topic))
    if added and latest.email_problem:
        problems.append(f"{latest.email_problem} rồi sửa ô {labels['email']} trên dòng này.")
    # The later steps' sentences (reminders, reviews) are theirs: kept as they are.
    parts = problem_parts(row.get("problem", ""))
    parts[""] = " ".join(problems)
    cells["problem"] = cut(join_problem(parts))[0]
    return cells


# A request to confirm a row the job added: always the cell's first sentence.
_CONFIRM_KEPT = re.compile(r"^.*?Ban Tổ chức xác nhận.*?rồi xoá câu này\.")


def _vn(day: str) -> str:
    """`2024-10-20` -> `20/10/2024`."""
    try:
        return cell_date(dt.date.fromisoformat(day))
    except ValueError:
        return day
