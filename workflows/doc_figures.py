"""The live figures the documents print, counted from the sheets when
generate-docs runs (pure): never typed into a template.

- delegations: each row of `Đoàn` with its quota, the invitees of that
  delegation in `Khách mời` (invited), and the counts sync-registrations
  keeps (`Đã đăng ký`, `Đã xác nhận`, `Danh sách chờ`); attended, once
  staff tick anyone in the optional column `Có mặt` of `Đăng ký`;
- chairs and guests: invitees of the groups `Chủ trì` and `Khách mời` whose
  registration is confirmed (not withdrawn), with honorific, position and
  unit exactly as in the data;
- papers: received (a file and a status past `Chờ nộp`) and accepted
  (`Được chọn`), per topic of `event.topics`, with titles, authors, units;
  the divisions' reports received;
- milestones: each row of `Mốc thời gian` with its deadline and, for the
  papers' and reports' milestones, how many came in time, late, or not yet;
- the programme: accepted papers by their `Phiên trình bày`, in order.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping, Sequence

from .chase_input import PAPERS, REPORTS, fold, parse_date
from .normalise import clean_text
from .registrations import CONFIRMED

CHAIRS, GUESTS = "Chủ trì", "Khách mời"
UNSCHEDULED = "Chưa xếp phiên"
ACCEPTED = "Được chọn"
_TICKED = {"true", "x", "có", "1", "đã đến", "có mặt"}


def _text(value: Any) -> str:
    return clean_text(str(value if value is not None else ""))


def _int(value: Any) -> int:
    try:
        return int(float(str(value).replace(",", ".")))
    except (ValueError, OverflowError):
        return 0


def ticked(value: Any) -> bool:
    return value is True or fold(value) in _TICKED


def _day(value: Any) -> dt.date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _submitted(row: Mapping[str, Any]) -> bool:
    status = fold(row.get("status"))
    return bool(_text(row.get("file"))) and status not in ("", fold("Chờ nộp"))


def delegations(delegation_rows: Iterable[Mapping[str, Any]], invitees: Iterable[Mapping[str, Any]],
                registrations: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    names = {}
    rows = list(delegation_rows)
    for d in rows:
        names[fold(d.get("name"))] = str(d["key"])
        names[fold(d["key"])] = str(d["key"])
    # An invitee's `Đoàn` as sync-registrations reads it: the code in any case, or the name.
    invited: dict[str, int] = {}
    for inv in invitees:
        code = names.get(fold(inv.get("delegation")), _text(inv.get("delegation")))
        invited[code] = invited.get(code, 0) + 1
    attended: dict[str, int] = {}
    has_attendance = False
    for r in registrations:
        if ticked(r.get("attended")):
            has_attendance = True   # before the day, nobody is ticked: no "0 present"
        if fold(r.get("status")) == fold(CONFIRMED) and ticked(r.get("attended")):
            code = names.get(fold(r.get("delegation")), "")
            attended[code] = attended.get(code, 0) + 1
    out = []
    for d in rows:
        code = str(d["key"])
        out.append({"code": code, "name": _text(d.get("name")), "quota": _text(d.get("quota")),
                    "invited": invited.get(code, 0), "registered": _int(d.get("registered")),
                    "confirmed": _int(d.get("confirmed")), "waitlisted": _int(d.get("waitlisted")),
                    "attended": attended.get(code, 0)})
    totals = {k: sum(d[k] for d in out) for k in ("invited", "registered", "confirmed", "waitlisted",
                                                   "attended")}
    totals["has_attendance"] = has_attendance
    return out, totals


def attending(invitees: Iterable[Mapping[str, Any]], registrations: Iterable[Mapping[str, Any]],
              group: str) -> list[dict[str, str]]:
    """The invitees of `group` whose registration is confirmed, in the tab's order."""
    confirmed = {_text(r.get("invitee_code")) for r in registrations
                 if fold(r.get("status")) == fold(CONFIRMED) and not ticked(r.get("withdrawn"))}
    return [{"honorific": _text(i.get("honorific")), "full_name": _text(i.get("full_name")),
             "position": _text(i.get("position")), "unit": _text(i.get("unit"))}
            for i in invitees if fold(i.get("group")) == fold(group) and str(i["key"]) in confirmed]


def papers(rows: Iterable[Mapping[str, Any]], topics: Sequence[str]) -> dict[str, Any]:
    by_topic = {fold(t): {"topic": t, "received": 0, "accepted": 0, "papers": []} for t in topics}
    other = {"topic": "Chủ đề khác", "received": 0, "accepted": 0, "papers": []}
    total = {"listed": 0, "received": 0, "accepted": 0, "rejected": 0, "in_review": 0}
    for row in rows:
        total["listed"] += 1
        if not _submitted(row):
            continue
        entry = by_topic.get(fold(row.get("topic")), other)
        accepted = fold(row.get("status")) == fold(ACCEPTED)
        entry["received"] += 1
        entry["accepted"] += accepted
        total["received"] += 1
        total["accepted"] += accepted
        total["rejected"] += fold(row.get("status")) == fold("Không được chọn")
        total["in_review"] += fold(row.get("status")) == fold("Đang thẩm định")
        entry["papers"].append({"code": str(row["key"]), "title": _text(row.get("title")),
                                "author": _text(row.get("author")), "unit": _text(row.get("unit")),
                                "accepted": accepted, "slot": _text(row.get("slot"))})
    topics_out = list(by_topic.values()) + ([other] if other["received"] else [])
    return {"topics": topics_out, "total": total}


def programme(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Accepted papers grouped by `Phiên trình bày`, sessions and papers in the
    order of the tab (staff order the programme by ordering the rows)."""
    sessions: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if fold(row.get("status")) != fold(ACCEPTED) or not _submitted(row):
            continue
        slot = _text(row.get("slot")) or UNSCHEDULED
        sessions.setdefault(slot, []).append({"code": str(row["key"]), "title": _text(row.get("title")),
                                              "author": _text(row.get("author")),
                                              "unit": _text(row.get("unit"))})
    # Sessions in the order the tab first names them; papers in the tab's order.
    # An accepted paper with no session yet is not in the published programme.
    return [{"name": name, "papers": items} for name, items in sessions.items() if name != UNSCHEDULED]


def milestones(rows: Iterable[Mapping[str, Any]], papers_rows: Sequence[Mapping[str, Any]],
               report_rows: Sequence[Mapping[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    out = []
    for m in rows:
        due = _day(m.get("due"))
        applies = fold(m.get("applies_to"))
        entry = {"code": str(m["key"]), "content": _text(m.get("content")),
                 "due": due.strftime("%d/%m/%Y") if due else "", "passed": bool(due and due < today),
                 "counted": False}
        owed = papers_rows if applies == fold(PAPERS) else report_rows if applies == fold(REPORTS) else None
        if owed is not None and due:
            in_time = late = 0
            for row in owed:
                if not _submitted(row):
                    continue
                came = _day(row.get("submitted_at"))
                if came and came > (_day(row.get("due")) or due):
                    late += 1
                else:
                    in_time += 1
            entry.update(counted=True, total=len(owed), in_time=in_time, late=late,
                         missing=len(owed) - in_time - late)
        out.append(entry)
    return out
