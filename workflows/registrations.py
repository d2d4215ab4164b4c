"""Who is registered, confirmed or waiting: the decision rules of
sync-registrations (SPEC 3.1). Pure: form responses and what the sheet holds
in, the rows and counts the sheet should hold out.

The rules, in the order they apply:
- Each response is cleaned (workflows.normalise) and checked; a response
  that cannot be used is `Không hợp lệ` with a Vietnamese `Vấn đề` sentence.
- Identity: the invitee code of the pre-filled link (it must exist in
  `Khách mời`), else the email matched against `Khách mời`. Responses sharing
  an email, a phone number or an invitee code are one person; names are never
  compared (`Hoà`/`Hòa`, two people may share a name). The person's latest
  submission is their registration; the earlier ones are `Trùng lặp`.
  An edited response keeps its id, so it updates its own row.
- Places: per delegation, people are ordered by the FIRST submission of the
  person (an edit or a resubmission keeps the place); the first `Chỉ tiêu`
  are `Đã xác nhận`, the rest `Danh sách chờ`. A confirmation already given
  is kept ahead of the order (a person fixing an earlier invalid answer does
  not push out someone already told they are confirmed); it is only lost if
  staff lower the quota below the confirmed count.
- Withdrawal: staff tick `Rút đăng ký` on the person's row; the row keeps an
  empty status with a `Vấn đề` note, the place goes to the first waiting.
- Check-in code: 8 characters from an alphabet without look-alikes, made
  once for a person when first confirmed and then kept (read back from the
  sheet each run; it moves with the person to their latest row).
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from .normalise import MAX_CELL_CHARS, clean_text, cut, normalise_email, normalise_phone

if TYPE_CHECKING:
    from workspace.forms import Response

CONFIRMED, WAITLISTED, DUPLICATE, INVALID = "Đã xác nhận", "Danh sách chờ", "Trùng lặp", "Không hợp lệ"
WITHDRAWN_NOTE = ("Đã rút đăng ký theo đánh dấu của Ban Tổ chức ở cột Rút đăng ký; "
                  "bỏ đánh dấu nếu người này tham dự trở lại.")
TEXT_FIELDS = ("full_name", "honorific", "position", "unit", "delegation", "email", "phone",
               "invitee_code")
REQUIRED = ("full_name", "honorific", "position", "unit", "delegation", "email", "phone")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 8
_TICKED = {"true", "x", "có", "co", "yes", "1", "✓", "✔"}
_SAME = {"email": "cùng email", "phone": "cùng số điện thoại", "code": "cùng mã khách mời"}


def random_code() -> str:
    """8 unguessable characters (40 bits), easy to read out and type."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def ticked(value: str) -> bool:
    """A staff tick box (TRUE) or what people type instead of one (x, có)."""
    return clean_text(value).casefold() in _TICKED


def instant(rfc3339: str) -> tuple[int, int]:
    """An RFC 3339 time as (whole seconds, nanoseconds), for ordering: Forms
    writes 0 to 9 fraction digits, so the strings do not sort as text."""
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", rfc3339 or "")
    if not m:
        return (0, 0)
    zone = (m.group(3) or "Z").replace("Z", "+00:00")
    moment = dt.datetime.fromisoformat(m.group(1) + zone)
    return int(moment.timestamp()), int((m.group(2) or "").ljust(9, "0")[:9])


def local_time(rfc3339: str, tz: str) -> str:
    """`2024-10-01T01:02:03.456Z` -> `2024-10-01 08:02:03` in the event's time zone."""
    if not rfc3339:
        return ""
    seconds, _ = instant(rfc3339)
    return dt.datetime.fromtimestamp(seconds, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


# -- what the sheet already holds --------------------------------------------

@dataclass(frozen=True)
class Delegation:
    code: str
    name: str
    quota: int | None          # None: no limit


@dataclass
class Lookup:
    """`Khách mời` and `Đoàn`, indexed for matching responses."""
    invitee_codes: dict[str, str] = field(default_factory=dict)      # CODE -> Mã đoàn
    invitee_emails: dict[str, str] = field(default_factory=dict)     # email -> CODE
    delegations: dict[str, Delegation] = field(default_factory=dict)  # Mã đoàn -> …
    aliases: dict[str, str] = field(default_factory=dict)            # name or code -> Mã đoàn
    labels: dict[str, str] = field(default_factory=dict)             # field -> header label
    notes: list[str] = field(default_factory=list)                   # for the console


def _fold(text: str) -> str:
    return clean_text(text).casefold()


def build_lookup(invitees: Iterable[Mapping[str, str]], delegations: Iterable[Mapping[str, str]],
                 labels: Mapping[str, str]) -> Lookup:
    """Index invitees by code and email and delegations by code and name. A
    `Chỉ tiêu` that is not a whole number closes the delegation (everyone waits)
    with a note, rather than confirming without limit."""
    out = Lookup(labels=dict(labels))
    for d in delegations:
        code = clean_text(d["key"])
        text = clean_text(d.get("quota", ""))
        quota: int | None = None
        if text:
            try:
                quota = int(float(text.replace(",", ".")))
                if quota < 0 or float(text.replace(",", ".")) != quota:
                    raise ValueError
            except ValueError:
                quota = 0
                out.notes.append(f"Chỉ tiêu của đoàn {code} không phải số nguyên không âm: mọi người "
                                 f"của đoàn đang ở Danh sách chờ cho đến khi sửa ô Chỉ tiêu.")
        out.delegations[code] = Delegation(code, clean_text(d.get("name", "")), quota)
        out.aliases[_fold(code)] = code
    for d in out.delegations.values():
        if d.name:
            out.aliases.setdefault(_fold(d.name), d.code)
    for inv in invitees:
        code = clean_text(inv["key"]).upper()
        out.invitee_codes[code] = clean_text(inv.get("delegation", ""))
        email, problem = normalise_email(inv.get("email", ""))
        if email and not problem:
            out.invitee_emails.setdefault(email, code)
    return out


# -- one response --------------------------------------------------------------

@dataclass
class Entry:
    """One response, cleaned and checked."""
    key: str
    created: tuple[int, int]
    submitted: tuple[int, int]
    record: dict[str, str]                 # the row's copied fields, as written
    delegation: str | None                 # Mã đoàn when known
    identities: dict[str, str]             # kind (email/phone/code) -> value
    problems: list[str] = field(default_factory=list)


def _label(lookup: Lookup, name: str) -> str:
    return lookup.labels.get(name, name)


def check_response(response: "Response", lookup: Lookup, tz: str) -> Entry:
    """Clean every answer, resolve invitee and delegation, list what is wrong."""
    answers = response.answers
    rec: dict[str, str] = {"submitted_at": local_time(response.submitted, tz)}
    problems: list[str] = []
    too_long: list[str] = []
    for name in TEXT_FIELDS:
        value, was_cut = cut(clean_text(", ".join(answers.get(name, []))))
        rec[name] = value
        if was_cut:
            too_long.append(_label(lookup, name))
    identities: dict[str, str] = {}

    rec["email"], problem = normalise_email(rec["email"])
    if problem:
        problems.append(problem + ".")
    elif rec["email"]:
        identities["email"] = rec["email"]
    rec["phone"], problem = normalise_phone(rec["phone"])
    if problem:
        problems.append(problem + ".")
    elif rec["phone"]:
        identities["phone"] = rec["phone"]

    code = rec["invitee_code"].upper()
    if code and code not in lookup.invitee_codes:
        problems.append(f"{_label(lookup, 'invitee_code')} không có trong trang Khách mời: kiểm tra "
                        f"đường dẫn đăng ký đã gửi cho khách, hoặc xoá mã này khỏi câu trả lời.")
    elif not code and "email" in identities:
        code = lookup.invitee_emails.get(identities["email"], "")
    if code in lookup.invitee_codes:
        identities["code"] = code
    rec["invitee_code"] = code

    answer = rec["delegation"]
    delegation = lookup.aliases.get(answer.casefold()) if answer else None
    if not answer and code in lookup.invitee_codes:
        delegation = lookup.aliases.get(_fold(lookup.invitee_codes[code]))
    if answer and delegation is None:
        problems.append(f"Đoàn đã chọn không có trong trang Đoàn: thêm đoàn này (Mã đoàn, Tên đoàn) "
                        f"vào trang Đoàn hoặc sửa câu trả lời; người này chưa được tính vào chỉ tiêu.")
    rec["delegation"] = delegation or answer

    missing = [_label(lookup, f) for f in REQUIRED if not rec[f]]
    if missing:
        problems.insert(0, f"Thiếu {', '.join(missing)}: nhờ người đăng ký sửa câu trả lời trong "
                           f"biểu mẫu.")
    if not clean_text(", ".join(answers.get("consent", []))):
        problems.append("Chưa đồng ý cho xử lý dữ liệu cá nhân (Nghị định 13/2023/NĐ-CP): chỉ xác nhận "
                        "được khi người đăng ký đánh dấu đồng ý trong biểu mẫu.")
    name = rec["full_name"]
    if name and not unicodedata.category(name[0]).startswith("L"):
        problems.append(f"{_label(lookup, 'full_name')} phải bắt đầu bằng chữ cái (đang bắt đầu bằng "
                        f"ký tự «{name[0]}», có thể là một công thức, được lưu nguyên văn): "
                        f"kiểm tra lại họ tên với người đăng ký.")
    for f in ("position", "unit"):
        if rec[f].startswith("="):
            problems.append(f"{_label(lookup, f)} bắt đầu bằng dấu «=» như một công thức bảng tính "
                            f"(được lưu nguyên văn, không chạy): kiểm tra lại với người đăng ký.")
    if too_long:
        limit = f"{MAX_CELL_CHARS:,}".replace(",", ".")   # Vietnamese thousands separator
        problems.append(f"{', '.join(too_long)} dài quá {limit} ký tự nên đã bị cắt bớt: "
                        f"kiểm tra lại nội dung với người đăng ký.")
    return Entry(response.response_id, instant(response.created or response.submitted),
                 instant(response.submitted), rec, delegation, identities, problems)


# -- people and places -----------------------------------------------------------

def group_people(entries: list[Entry]) -> list[list[Entry]]:
    """Responses that share an email, phone or invitee code (directly or through
    another response) as one list per person, oldest submission first."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        for ident in entry.identities.items():
            j = owner.setdefault(ident, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[Entry]] = {}
    for i, entry in enumerate(entries):
        groups.setdefault(root(i), []).append(entry)
    return [sorted(g, key=lambda e: (e.submitted, e.key)) for g in groups.values()]


@dataclass
class Confirmation:
    """A confirmed person, as the confirmation letter needs them. `key` is the
    response id of the person's FIRST submission: it stays the same when they
    edit or submit again, so a ledger keyed by it sends one letter per person;
    `row_key` is the row that is their registration now."""
    key: str
    row_key: str
    honorific: str
    full_name: str
    position: str
    unit: str
    email: str
    checkin_code: str
    new: bool                 # confirmed by this run (not before)


@dataclass
class Outcome:
    rows: dict[str, dict[str, str]]               # Mã phản hồi -> the job's columns
    counts: dict[str, dict[str, int]]             # Mã đoàn -> registered/confirmed/waitlisted
    confirmations: list[Confirmation]
    notes: list[str]


def _duplicate_note(entry: Entry, kept: Entry) -> str:
    shared = [_SAME[k] for k, v in entry.identities.items() if kept.identities.get(k) == v]
    why = ", ".join(shared) or "cùng một người qua các phản hồi khác"
    return (f"Trùng lặp với phản hồi {kept.key} ({why}), gửi sau nên được dùng làm đăng ký; "
            f"dòng này không cần xử lý.")


def decide(responses: Iterable["Response"], lookup: Lookup, existing: Mapping[str, Mapping[str, str]],
           tz: str, new_code: Callable[[], str] = random_code) -> Outcome:
    """The job's columns for every response, the counts per delegation, and
    every confirmed person. `existing` is the tab as read (key -> field -> text):
    it supplies staff ticks in `withdrawn`, earlier confirmations and check-in codes."""
    entries = [check_response(r, lookup, tz) for r in responses]
    people = group_people(entries)
    rows: dict[str, dict[str, str]] = {}
    notes = list(lookup.notes)
    taken = {v["checkin_code"] for v in existing.values() if v.get("checkin_code")}

    # Who may take a place, per delegation.
    candidates: dict[str, list[tuple[tuple, list[Entry], bool]]] = {}
    state: dict[str, tuple[str, str]] = {}         # kept key -> (status, problem)
    for group in people:
        kept = group[-1]
        old = [existing.get(e.key, {}) for e in group]
        was_confirmed = any(o.get("status") == CONFIRMED for o in old)
        for e in group[:-1]:
            state[e.key] = (DUPLICATE, _duplicate_note(e, kept))
        if ticked(existing.get(kept.key, {}).get("withdrawn", "")):
            state[kept.key] = ("", WITHDRAWN_NOTE)
        elif kept.problems:
            state[kept.key] = (INVALID, " ".join(kept.problems))
        else:
            first = min(e.created for e in group)
            order = (not was_confirmed, first, kept.key)
            candidates.setdefault(kept.delegation or "", []).append((order, group, was_confirmed))

    # Đã đăng ký: every person of the delegation not withdrawn, valid or not,
    # so staff see how many rows still need a call (registered - confirmed - waiting).
    counts = {code: {"registered": 0, "confirmed": 0, "waitlisted": 0} for code in lookup.delegations}
    for group in people:
        kept = group[-1]
        if kept.delegation in counts and state.get(kept.key) != ("", WITHDRAWN_NOTE):
            counts[kept.delegation]["registered"] += 1

    confirmations: list[Confirmation] = []
    lost = 0
    for code, queue in candidates.items():
        queue.sort(key=lambda item: item[0])
        quota = lookup.delegations[code].quota if code in lookup.delegations else 0
        for place, (_, group, was_confirmed) in enumerate(queue):
            kept = group[-1]
            confirmed = quota is None or place < quota
            state[kept.key] = (CONFIRMED if confirmed else WAITLISTED, "")
            counts.setdefault(code, {"registered": 0, "confirmed": 0, "waitlisted": 0})
            counts[code]["confirmed" if confirmed else "waitlisted"] += 1
            lost += was_confirmed and not confirmed

    for group in people:
        kept = group[-1]
        # The code belongs to the person: the latest row's own, else one an earlier row holds.
        codes = [existing.get(e.key, {}).get("checkin_code", "") for e in reversed(group)]
        code = next((c for c in codes if c), "")
        status, problem = state[kept.key]
        if status == CONFIRMED and not code:
            code = new_code()
            while code in taken:
                code = new_code()
            taken.add(code)
        for e in group:
            s, p = state[e.key]
            rows[e.key] = {**e.record, "status": s, "problem": p,
                           "checkin_code": code if e is kept else ""}
        if status == CONFIRMED:
            was = any(existing.get(e.key, {}).get("status") == CONFIRMED for e in group)
            r = kept.record
            confirmations.append(Confirmation(group[0].key, kept.key, r["honorific"], r["full_name"],
                                              r["position"], r["unit"], r["email"], code, new=not was))
    if lost:
        notes.append(f"{lost} người đã được xác nhận trước đây nay chuyển vào Danh sách chờ vì chỉ tiêu "
                     f"đã giảm: kiểm tra cột Chỉ tiêu ở trang Đoàn và báo cho họ.")
    return Outcome(rows, counts, confirmations, notes)
