"""The review step of chase-submissions: papers that have arrived go to the
reviewers staff name in `Người phản biện` (SPEC 3.4, issue 10). Pure: rows
in, what to share, what to queue and which cells to write out.

- `Người phản biện` holds one reviewer a line (or `;` between them), each
  `Họ tên <email>`, `Họ tên (email)`, `Họ tên - email` or the address alone.
  An entry without a readable address becomes a `Vấn đề` sentence for the row
  (prefix `Phản biện: `); the other reviewers still get the paper.
- For each paper with a file and no `Kết luận` yet, and each of its reviewers:
  the paper's file(s) are shared with the reviewer (Drive reader role, by the
  job) and a review request (`de-nghi-phan-bien`) is queued through the outbox,
  once per paper, reviewer and file version (a paper submitted again goes to
  its reviewers again). `Trạng thái` moves `Đã nộp` -> `Đang thẩm định`.
- Before the review council's deadline (`Mốc thời gian`, `Áp dụng cho` =
  `Hội đồng thẩm định`, its `Nhắc trước (ngày)`, e.g. 3 and 1 days), each
  reviewer who still has papers without a `Kết luận` gets one reminder
  (`nhac-phan-bien`) a day listing them all, at most once per step.
- The verdict is recorded by staff in `Kết luận` (the reviewers answer the
  Department as they always have); workflows.decisions takes it from there.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, quote, urlparse

from workspace.config import Config
from workspace.errors import TemplateError
from workspace.outbox import CANCELLED, Message, NewMessage, message_key

from .chase_input import PROBLEM_PREFIXES, WAITING, fold, read_milestones, with_problem
from .decisions import verdict
from .chase_policy import Obligation, Policy, from_config, plan
from .letters import base_context, build_message, recipient_address, render, vn_date
from .normalise import clean_text, normalise_email

REQUEST, REMINDER = "de-nghi-phan-bien", "nhac-phan-bien"
REVIEW = "Hội đồng thẩm định"        # `Áp dụng cho` of the review council's milestone
IN_REVIEW = "Đang thẩm định"
# `Vấn đề` sentences of this step start so; only those are replaced or cleared by it.
PROBLEM_PREFIX = PROBLEM_PREFIXES[1]   # "Phản biện: "
_ADDRESS = re.compile(r"[^\s<>()\[\],;]+@[^\s<>()\[\],;]+")
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{10,}$")


@dataclass(frozen=True)
class Reviewer:
    name: str
    email: str

    @property
    def rid(self) -> str:
        """The reviewer in a ledger key: a digest of the address, never the address."""
        return hashlib.sha256(self.email.encode("utf-8")).hexdigest()[:10]


def read_reviewers(cell: Any) -> tuple[list[Reviewer], list[str]]:
    """The reviewers a `Người phản biện` cell names, and the entries that name
    no readable address (as typed, shortened). Entries are split at line
    breaks and `;`, and at commas where a line names several addresses."""
    found: list[Reviewer] = []
    bad: list[str] = []
    entries: list[str] = []
    for line in re.split(r"[\n;]+", str(cell or "")):
        entries += line.split(",") if len(_ADDRESS.findall(line)) > 1 else [line]
    for entry in entries:
        entry = clean_text(entry)
        if not entry:
            continue
        match = _ADDRESS.search(entry)
        address, problem = normalise_email(match.group(0)) if match else ("", "no address")
        if not address or problem:
            bad.append(entry[:60])
            continue
        # The name as staff typed it, titles included; none typed: no name guessed.
        name = clean_text(_ADDRESS.sub("", entry).strip(" <>()[]-–—,:"))
        if address not in {r.email for r in found}:
            found.append(Reviewer(name, address))
    return found, bad


def file_ids(cell: Any) -> list[str]:
    """The Drive file ids of a `Tệp` cell's links (`open?id=…`, `/file/d/…/`);
    text that is no link is passed over."""
    out = []
    for link in re.findall(r"https?://\S+", str(cell or "")):
        try:
            url = urlparse(link)
        except ValueError:    # e.g. "https://[dán đường dẫn]": not a link at all
            continue
        ids = parse_qs(url.query).get("id", [])
        parts = url.path.split("/")
        if "d" in parts and parts.index("d") + 1 < len(parts):
            ids.append(parts[parts.index("d") + 1])
        out += [i for i in ids if _FILE_ID.match(i) and i not in out]
    return out


def version(ids: list[str]) -> str:
    """A paper's file version in a ledger key: the files it has now."""
    return hashlib.sha256(" ".join(sorted(ids)).encode("ascii")).hexdigest()[:8]


@dataclass
class Assignment:
    code: str
    reviewer: Reviewer
    files: list[str]

    @property
    def key(self) -> str:
        return message_key(REQUEST, f"{quote(self.code, safe='')}/{self.reviewer.rid}/{version(self.files)}")


@dataclass
class ReviewOutcome:
    assignments: list[Assignment] = field(default_factory=list)   # not yet requested
    requested: list[Assignment] = field(default_factory=list)     # already in the ledger
    problems: dict[str, str] = field(default_factory=dict)        # code -> this step's sentence


def _decided(row: Mapping[str, Any]) -> bool:
    """A verdict the decisions step can read is in `Kết luận` (an unreadable
    one stops nothing: that step says what is wrong with it)."""
    try:
        return verdict(row.get("decision")) is not None
    except ValueError:
        return False


def assign(rows: Iterable[Mapping[str, Any]], known: set[str], live: set[str] | None = None
           ) -> ReviewOutcome:
    """Who reviews what (pure), for papers that have arrived (a file, and a
    status past `Chờ nộp`) and have no verdict yet. `known`: every review
    request key in the ledger (any state: a request staff cancelled is not made
    again); `live`: those not cancelled or failed, whose reviewers are reminded
    (None: all known)."""
    out = ReviewOutcome()
    for row in rows:
        code = str(row["key"])
        reviewers, bad = read_reviewers(row.get("reviewer"))
        files = file_ids(row.get("file"))
        if bad:
            out.problems[code] = (f"không đọc được địa chỉ email của người phản biện trong "
                                  f"«{'; '.join(bad)}»: ghi mỗi người một dòng, dạng Họ tên <email>.")
        elif reviewers and str(row.get("file") or "").strip() and not files:
            out.problems[code] = ("không đọc được đường dẫn Drive trong ô Tệp nên chưa gửi được cho "
                                  "người phản biện.")
        if not reviewers or not files or _decided(row) or fold(row.get("status")) in WAITING:
            continue
        for reviewer in reviewers:
            assignment = Assignment(code, reviewer, files)
            if assignment.key not in known:
                out.assignments.append(assignment)
            elif live is None or assignment.key in live:
                out.requested.append(assignment)
    return out


def row_cells(rows: Iterable[Mapping[str, Any]], problems: Mapping[str, str], in_review: set[str]
              ) -> dict[str, dict[str, Any]]:
    """The cells this step writes (pure): `Vấn đề` (its own sentence only) on
    every row, `Trạng thái` `Đã nộp` -> `Đang thẩm định` on the rows in `in_review`."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = str(row["key"])
        current = str(row.get("problem") or "")
        wanted = with_problem(current, PROBLEM_PREFIX, problems.get(code))
        if wanted != current:
            out.setdefault(code, {})["problem"] = wanted
        if code in in_review and fold(row.get("status")) == fold("Đã nộp"):
            out.setdefault(code, {})["status"] = IN_REVIEW
    return out


def _paper(row: Mapping[str, Any], files: list[str]) -> dict[str, Any]:
    return {"code": str(row["key"]), "title": str(row.get("title") or ""),
            "topic": str(row.get("topic") or ""),
            "links": [f"https://drive.google.com/file/d/{f}/view" for f in files]}


def _reviewer_context(config: Config, reviewer: Reviewer, today: dt.date) -> tuple[str, dict[str, Any]]:
    address, problem = recipient_address(reviewer.email)
    if problem:
        raise TemplateError(problem)
    context = base_context(config, {"full_name": reviewer.name or "Quý chuyên gia", "email": address},
                           today)
    return address, context


def request_message(config: Config, assignment: Assignment, row: Mapping[str, Any], review_due: dt.date,
                    today: dt.date) -> NewMessage:
    """One review request (pure); TemplateError when it cannot be made."""
    address, context = _reviewer_context(config, assignment.reviewer, today)
    context["paper"] = _paper(row, assignment.files)
    context["review_by"] = vn_date(review_due)
    rendered = render(REQUEST, context)
    name = assignment.reviewer.name or address
    return NewMessage(key=assignment.key, kind=REQUEST, email=address, subject=rendered.subject,
                      raw=build_message(config, name, address, rendered), recipient=name,
                      source="papers", source_key=assignment.code)


def review_milestone(config: Config, milestones: Iterable[Mapping[str, Any]]
                     ) -> tuple[str, dt.date, tuple[int, ...] | None]:
    """The review council's milestone key, deadline and reminder days."""
    found, _ = read_milestones(milestones, config.sheets.milestones.tab)
    milestone = found.get(fold(REVIEW))
    if milestone is None:
        return REVIEW, config.deadlines.review, None
    return milestone.key, milestone.due or config.deadlines.review, milestone.remind_before


def reminders(config: Config, requested: list[Assignment], rows: Mapping[str, Mapping[str, Any]],
              milestones: Iterable[Mapping[str, Any]], done: set[str], today: dt.date
              ) -> tuple[list[NewMessage], dict[str, str]]:
    """Today's reminders to reviewers with papers still without a verdict
    (pure): before the council's deadline only, at its `Nhắc trước (ngày)`
    days (config's when empty), one letter per reviewer a day."""
    key, due, days = review_milestone(config, milestones)
    base, calendar = from_config(config.reminders)
    policy = Policy(before_days=days if days is not None else base.before_days, on_the_day=False,
                    overdue_every_days=1, overdue_limit=0)
    by_obligation: dict[str, Assignment] = {}
    obligations = []
    for a in requested:
        okey = f"{a.code}~{a.reviewer.rid}"
        by_obligation[okey] = a
        obligations.append(Obligation(okey, a.reviewer.email, key, due,
                                      submitted=_decided(rows.get(a.code, {}))))
    messages, skipped = [], {}
    for reminder in plan(obligations, policy, calendar, today, done).reminders:
        owed = [by_obligation[i.obligation.key] for i in reminder.items]
        try:
            address, context = _reviewer_context(config, owed[0].reviewer, today)
        except TemplateError as exc:
            skipped[owed[0].code] = str(exc)
            continue
        context["papers"] = [_paper(rows[a.code], a.files) for a in owed]
        context["review_by"] = vn_date(due)
        context["days_left"] = (due - today).days
        rendered = render(REMINDER, context)
        name = owed[0].reviewer.name or address
        messages.append(NewMessage(key=message_key(REMINDER, reminder.key), kind=REMINDER, email=address,
                                   subject=rendered.subject,
                                   raw=build_message(config, name, address, rendered), recipient=name,
                                   source="papers", source_key="+".join(a.code for a in owed)))
    return messages, skipped


DECIDED = "Huỷ tự động: đã có Kết luận cho tham luận được nhắc trước khi thư được gửi."


def done_steps(messages: Iterable[Message]) -> set[str]:
    """The reviewer reminders' steps already queued, from their ledger keys; a
    reminder cancelled because a verdict came does not count, so the papers
    it listed that still have none are planned again."""
    return {item for m in messages if m.kind == REMINDER and not (m.state == CANCELLED and m.error == DECIDED)
            for item in m.key.partition(":")[2].rpartition(":")[0].split("+")}


def decided(messages: Iterable[Message], rows: Mapping[str, Mapping[str, Any]]) -> list[Message]:
    """Reviewer reminders waiting to be sent that list a paper which has a
    `Kết luận` now (pure): they would ask for what has come."""
    return [m for m in messages if m.kind == REMINDER and any(
        _decided(rows.get(code, {})) for code in m.source_key.split("+"))]
