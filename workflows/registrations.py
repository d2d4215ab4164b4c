"""Who is registered, confirmed or waiting: the decision rules of
sync-registrations (SPEC 3.1). Pure: form responses and what the sheet holds
in, the rows and counts the sheet should hold out.

The rules, in the order they apply:
- Each response is cleaned (workflows.normalise) and checked; a response
  that cannot be used is `Không hợp lệ` with a Vietnamese `Vấn đề` sentence.
  A copied field (name, email, …) that staff corrected in the sheet is used
  instead of the answer until the person edits the response (its submission
  time then differs from `Thời gian gửi`): corrections are never overwritten.
  Only fields the person typed (or left empty) count: an invitee code found
  by email or a delegation taken from the invitee follows `Khách mời`.
- Identity: the invitee code of the pre-filled link (it must exist in
  `Khách mời`), else the email matched against `Khách mời`. Responses sharing
  an email or a phone number are one person; so are responses sharing an
  invitee code whose names match once folded (`name_key`: `Hoà`/`Hòa`/`Hoa`,
  typed without accents), a person correcting their email and phone. Same
  code, other name: a forwarded invitation link. The person matching the
  invitee's record (name or email; else the one confirmed already, else the
  first) keeps the code's place; the others are `Không hợp lệ` until staff
  fix their `Mã khách mời` (no place, no letter). The person's latest
  VALID submission is their registration (the latest one if none is valid);
  earlier ones are `Trùng lặp`, later invalid ones `Không hợp lệ` naming the
  kept one, so a re-submission with a typo never costs a place.
  An edited response keeps its id, so it updates its own row.
- Places: per delegation, people confirmed now come first (a place given is
  kept), then people confirmed before (withdrawn and back, or cut by a lower
  quota), then everyone else; each group by the person's FIRST submission (an
  edit or a resubmission keeps the place). The first `Chỉ tiêu` are
  `Đã xác nhận`, the rest `Danh sách chờ`. "Confirmed now" is read from the
  check-in code on the person's rows, a lasting sign even when `Trạng thái`
  was rewritten.
- Withdrawal: staff tick `Rút đăng ký` on any of the person's rows; the
  registration row keeps an empty status with a `Vấn đề` note, the place goes
  to the first waiting.
- Check-in code: 8 characters from an alphabet without look-alikes, made
  once for a person when first confirmed and then kept on their registration
  row. When they leave `Đã xác nhận` (withdrawn, quota cut, no valid answer
  left) it stays behind the mark `Đã huỷ: ` so the door cannot admit them,
  and comes back unchanged (the code they were sent) if they are confirmed again.
- The confirmation for the mail ledger is keyed by the person's FIRST
  submission (earliest createTime), which edits and re-submissions keep.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping

from .normalise import (MAX_CELL_CHARS, clean_text, cut, normalise_email, normalise_phone,
                        sheet_time)

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
# A code of someone no longer confirmed stays in the row behind this mark: it
# no longer matches what they were sent, yet comes back if they are confirmed again.
VOID_MARKS = ("Đã huỷ: ", "Đã hủy: ")
_SAME = {"email": "cùng email", "phone": "cùng số điện thoại", "code": "cùng mã khách mời"}


def random_code() -> str:
    """8 unguessable characters (40 bits), easy to read out and type."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


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
    return sheet_time(instant(rfc3339)[0], tz)


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
    invitee_names: dict[str, str] = field(default_factory=dict)      # CODE -> name_key(name)
    notes: list[str] = field(default_factory=list)                   # for the console


def _fold(text: str) -> str:
    return clean_text(text).casefold()


def name_key(text: str) -> str:
    """A name folded for comparing two answers of one invitation: NFC, case,
    whitespace, tone and vowel marks and `đ` folded (`Lê Văn Hoà`, `Lê Văn Hòa`
    and `le van hoa` give the same key). Only ever compared within one invitee
    code: people are never merged by name alone."""
    text = unicodedata.normalize("NFD", clean_text(text).replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


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
        out.invitee_names[code] = name_key(inv.get("full_name", ""))
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


def check_response(response: "Response", lookup: Lookup, tz: str,
                   row: Mapping[str, str] | None = None) -> Entry:
    """Clean every answer, resolve invitee and delegation, list what is wrong.

    `row` is the response's row as the sheet holds it. While its `submitted_at`
    is the response's own time (the person has not edited since), a copied
    field that staff changed in the sheet wins over the answer: it is cleaned
    and checked in its place, so a correction is kept and can make the row
    valid. Once the person edits the response, the answers win again."""
    entry = _check(response, response.answers, lookup, tz)
    if row is None or row.get("submitted_at", "") != entry.record["submitted_at"]:
        return entry
    corrected = {f: [row.get(f, "")] for f in TEXT_FIELDS if f in row
                 and clean_text(row.get(f, "")) != entry.record[f]
                 and not _worked_out(f, response.answers, entry.record)}
    return _check(response, {**response.answers, **corrected}, lookup, tz) if corrected else entry


def _worked_out(name: str, answers: Mapping[str, list[str]], record: Mapping[str, str]) -> bool:
    """Whether the job, not the person, gave the field its value now: an invitee
    code found by email, a delegation taken from the invitee. The row then
    holds what the job wrote from `Khách mời` as it was, not a staff
    correction, and follows `Khách mời` when it changes (a staff change to such
    a cell is made in `Khách mời` instead)."""
    return (name in ("invitee_code", "delegation") and bool(record[name])
            and not clean_text(", ".join(answers.get(name, []))))


def _check(response: "Response", answers: Mapping[str, list[str]], lookup: Lookup, tz: str) -> Entry:
    rec: dict[str, str] = {"submitted_at": local_time(response.submitted, tz)}
    problems: list[str] = []
    too_long: list[str] = []
    for name in TEXT_FIELDS:
        value, was_cut = cut(clean_text(", ".join(answers.get(name, []))))
        rec[name] = value
        if was_cut:
            too_long.append(_label(lookup, name))
    identities: dict[str, str] = {}

    fix_here = " rồi sửa ô {} trên dòng này (hoặc nhờ người đăng ký sửa câu trả lời)."
    rec["email"], problem = normalise_email(rec["email"])
    if problem:
        problems.append(problem + fix_here.format(_label(lookup, "email")))
    elif rec["email"]:
        identities["email"] = rec["email"]
    rec["phone"], problem = normalise_phone(rec["phone"])
    if problem:
        problems.append(problem + fix_here.format(_label(lookup, "phone")))
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
        problems.append("Đoàn đã chọn không có trong trang Đoàn: thêm đoàn này (Mã đoàn, Tên đoàn) "
                        "vào trang Đoàn hoặc sửa câu trả lời; người này chưa được tính vào chỉ tiêu.")
    rec["delegation"] = delegation or answer

    missing = [_label(lookup, f) for f in REQUIRED if not rec[f]]
    if missing:
        problems.insert(0, f"Thiếu {', '.join(missing)}: điền vào ô trên dòng này, hoặc nhờ người "
                           f"đăng ký sửa câu trả lời trong biểu mẫu.")
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
    """Responses that share an email or phone, or an invitee code AND the
    folded name (`name_key`), directly or through another response, as one
    list per person, oldest submission first. A code alone does not link two
    responses: invitation links get forwarded, and a deputy using the
    director's link is another person (see `hold_shared_codes`)."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(entries):
        for ident in entry.identities.items():
            if ident[0] == "code":
                name = name_key(entry.record["full_name"])
                if not name:
                    continue
                ident = ("code", f"{ident[1]}\n{name}")
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


def shared_code_notes(kept_entries: list[Entry]) -> dict[str, str]:
    """A sentence for each registration whose invitee code another person used too."""
    by_code: dict[str, list[Entry]] = {}
    for e in kept_entries:
        if e.identities.get("code"):
            by_code.setdefault(e.identities["code"], []).append(e)
    notes: dict[str, str] = {}
    for code, users in by_code.items():
        if len(users) < 2:
            continue
        for e in users:
            others = ", ".join(o.key for o in users if o is not e)
            notes[e.key] = (f"Mã khách mời {code} cũng được một người khác dùng (phản hồi {others}, "
                            f"khác họ tên, email và số điện thoại): có thể đường dẫn mời đã được chuyển "
                            f"tiếp; Ban Tổ chức kiểm tra ai là khách mời và sửa ô Mã khách mời của "
                            f"người kia.")
    return notes


def hold_shared_codes(people: Iterable[tuple[list[Entry], Entry, Entry, int]], lookup: Lookup
                      ) -> dict[str, str]:
    """People (group, registration, first submission, standing) who would take
    a place and share an invitee code with another such person: one keeps the
    code's place, the others are held until staff decide. Returns held
    registration key -> the key of the one who keeps it. The keeper: first
    one confirmed already (a code that was sent is never voided by someone
    else's response), then one matching the invitee's record (folded name or
    email in `Khách mời`), then the first to submit."""
    by_code: dict[str, list[tuple[list[Entry], Entry, Entry, int]]] = {}
    for person in people:
        code = person[1].identities.get("code")
        if code:
            by_code.setdefault(code, []).append(person)
    held: dict[str, str] = {}
    for code, users in by_code.items():
        if len(users) < 2:
            continue
        invitee_name = lookup.invitee_names.get(code, "")

        def rank(person: tuple[list[Entry], Entry, Entry, int]) -> tuple:
            group, _, first, standing = person
            is_invitee = any((invitee_name and name_key(e.record["full_name"]) == invitee_name)
                             or lookup.invitee_emails.get(e.identities.get("email", "")) == code
                             for e in group)
            return (standing != 0, not is_invitee, first.created, first.key)

        users.sort(key=rank)
        for _, kept, _, _ in users[1:]:
            held[kept.key] = users[0][1].key
    return held


def _duplicate_note(entry: Entry, kept: Entry) -> str:
    shared = [_SAME[k] for k, v in entry.identities.items() if kept.identities.get(k) == v]
    why = ", ".join(shared) or "cùng một người qua các phản hồi khác"
    return (f"Trùng lặp với phản hồi {kept.key} ({why}), gửi sau nên được dùng làm đăng ký; "
            f"dòng này không cần xử lý.")


def _code_of(text: str) -> tuple[str, bool]:
    """The check-in code a cell holds, and whether it is still valid (not voided)."""
    text = clean_text(text)
    for mark in VOID_MARKS:
        if text.casefold().startswith(mark.casefold()):
            return text[len(mark):].strip(), False
    return text, True


def _person(group: list[Entry], existing: Mapping[str, Mapping[str, str]]
            ) -> tuple[Entry, Entry, int, str]:
    """The registration (latest VALID submission, else the latest), the first
    submission (its key names the person for the mail ledger), the person's
    standing (0 confirmed now, 1 confirmed before, 2 never) and their code."""
    valid = [e for e in group if not e.problems]
    kept = valid[-1] if valid else group[-1]
    first = min(group, key=lambda e: (e.created, e.key))
    standing, code = 2, ""
    for e in [kept, *reversed(group)]:
        row = existing.get(e.key, {})
        held, active = _code_of(row.get("checkin_code", ""))
        if held and not code:
            code = held
        if (held and active) or row.get("status") == CONFIRMED:
            standing = 0
        elif held:
            standing = min(standing, 1)
    return kept, first, standing, code


def decide(responses: Iterable["Response"], lookup: Lookup, existing: Mapping[str, Mapping[str, str]],
           tz: str, new_code: Callable[[], str] = random_code, withdrawn: Collection[str] = ()
           ) -> Outcome:
    """The job's columns for every response, the counts per delegation, and
    every confirmed person. `existing` is the tab as read (key -> field -> text):
    staff corrections, earlier confirmations and check-in codes; `withdrawn`
    holds the keys of rows whose `Rút đăng ký` box is ticked."""
    entries = [check_response(r, lookup, tz, existing.get(r.response_id)) for r in responses]
    people = [(group, *_person(group, existing)) for group in group_people(entries)]
    withdrawn = set(withdrawn)
    rows: dict[str, dict[str, str]] = {}
    notes = list(lookup.notes)
    taken = {_code_of(v.get("checkin_code", ""))[0] for v in existing.values()} - {""}

    # Who may take a place, per delegation: those confirmed now first (a place
    # given is kept), then those who had one (withdrawn, cut), then by first submission.
    candidates: dict[str, list[tuple[tuple, Entry]]] = {}
    state: dict[str, tuple[str, str]] = {}         # response key -> (status, problem)
    for group, kept, first, standing, _ in people:
        for e in group:
            if e is kept:
                continue
            if e.problems and e.submitted > kept.submitted:
                state[e.key] = (INVALID, " ".join(e.problems) + f" Đăng ký của người này vẫn là phản "
                                f"hồi {kept.key} (gửi trước, hợp lệ) cho đến khi phản hồi này được sửa.")
            else:
                state[e.key] = (DUPLICATE, _duplicate_note(e, kept))
        if any(e.key in withdrawn for e in group):
            state[kept.key] = ("", WITHDRAWN_NOTE)
        elif kept.problems:
            state[kept.key] = (INVALID, " ".join(kept.problems))
        else:
            order = (standing, first.created, first.key)
            candidates.setdefault(kept.delegation or "", []).append((order, kept))

    # One invitation, one place: a second person on the same invitee code (a
    # forwarded link) takes no place and gets no letter until staff decide.
    held = hold_shared_codes([(g, k, f, s) for g, k, f, s, _ in people if k.key not in state], lookup)
    for key, keeper in held.items():
        state[key] = (INVALID, f"Chưa xác nhận: mã khách mời của dòng này đã dùng cho đăng ký {keeper} "
                               f"nên dòng này chưa được giữ chỗ và chưa được gửi thư xác nhận.")
    for code in candidates:
        candidates[code] = [c for c in candidates[code] if c[1].key not in held]

    # Đã đăng ký: every person of the delegation not withdrawn, valid or not,
    # so staff see how many rows still need a call (registered - confirmed - waiting).
    counts = {code: {"registered": 0, "confirmed": 0, "waitlisted": 0} for code in lookup.delegations}
    for _, kept, *_ in people:
        if kept.delegation in counts and state.get(kept.key) != ("", WITHDRAWN_NOTE):
            counts[kept.delegation]["registered"] += 1

    for code, queue in candidates.items():
        queue.sort(key=lambda item: item[0])
        quota = lookup.delegations[code].quota if code in lookup.delegations else 0
        for place, (_, kept) in enumerate(queue):
            confirmed = quota is None or place < quota
            state[kept.key] = (CONFIRMED if confirmed else WAITLISTED, "")
            counts.setdefault(code, {"registered": 0, "confirmed": 0, "waitlisted": 0})
            counts[code]["confirmed" if confirmed else "waitlisted"] += 1

    for key, note in shared_code_notes([kept for _, kept, *_ in people]).items():
        status, problem = state[key]
        state[key] = (status, f"{problem} {note}".strip())

    confirmations: list[Confirmation] = []
    lost = 0
    for group, kept, first, standing, code in people:
        # The code belongs to the person and sits on their registration row;
        # anyone not confirmed keeps it only voided, so the door cannot admit them.
        status, _ = state[kept.key]
        if status == CONFIRMED and not code:
            code = new_code()
            while code in taken:
                code = new_code()
            taken.add(code)
        shown = code if status == CONFIRMED or not code else f"{VOID_MARKS[0]}{code}"
        for e in group:
            s, p = state[e.key]
            rows[e.key] = {**e.record, "status": s, "problem": p,
                           "checkin_code": shown if e is kept else ""}
        lost += standing == 0 and status == WAITLISTED
        if status == CONFIRMED:
            r = kept.record
            confirmations.append(Confirmation(first.key, kept.key, r["honorific"], r["full_name"],
                                              r["position"], r["unit"], r["email"], code,
                                              new=standing != 0))
    if lost:
        notes.append(f"{lost} người đã được xác nhận trước đây nay chuyển vào Danh sách chờ vì chỉ tiêu "
                     f"đã giảm (Mã check-in của họ đã được đánh dấu huỷ): kiểm tra cột Chỉ tiêu ở "
                     f"trang Đoàn và báo cho họ.")
    return Outcome(rows, counts, confirmations, notes)
