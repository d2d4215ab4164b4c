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

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping

from .normalise import clean_text
# The response checks live in registration_input; these names are part of this
# module's interface too (the job and the tests import them from here).
from .registration_input import Entry, Lookup, build_lookup, check_response, instant, name_key

__all__ = ["CONFIRMED", "WAITLISTED", "DUPLICATE", "INVALID", "WITHDRAWN_NOTE", "VOID_MARKS",
           "Confirmation", "Outcome", "build_lookup", "decide", "group_people", "instant"]

if TYPE_CHECKING:
    from workspace.forms import Response

CONFIRMED, WAITLISTED, DUPLICATE, INVALID = "Đã xác nhận", "Danh sách chờ", "Trùng lặp", "Không hợp lệ"
WITHDRAWN_NOTE = ("Đã rút đăng ký theo đánh dấu của Ban Tổ chức ở cột Rút đăng ký; "
                  "bỏ đánh dấu nếu người này tham dự trở lại.")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I/L look-alikes
CODE_LENGTH = 8
# A code of someone no longer confirmed stays in the row behind this mark: it
# no longer matches what they were sent, yet comes back if they are confirmed again.
VOID_MARKS = ("Đã huỷ: ", "Đã hủy: ")
_SAME = {"email": "cùng email", "phone": "cùng số điện thoại", "code": "cùng mã khách mời"}


def random_code() -> str:
    """8 unguessable characters (40 bits), easy to read out and type."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


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
class Addressee:
    """A registered person, as a letter to them needs them. `key` is the
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


@dataclass
class Confirmation(Addressee):
    """A confirmed person, as the confirmation letter needs them."""
    checkin_code: str
    new: bool                 # confirmed by this run (not before)


@dataclass
class Waiting(Addressee):
    """A person on a delegation's waiting list, as the waiting-list letter needs
    them; `place` 1 for the first in line."""
    delegation: str           # the delegation's name, as `Đoàn` writes it
    place: int
    had_place: bool = False   # confirmed before (a quota cut): their check-in code is void now


@dataclass
class Outcome:
    rows: dict[str, dict[str, str]]               # Mã phản hồi -> the job's columns
    counts: dict[str, dict[str, int]]             # Mã đoàn -> registered/confirmed/waitlisted
    confirmations: list[Confirmation]
    notes: list[str]
    waiting: list[Waiting] = field(default_factory=list)
    # Keys (first response ids) of people waiting where no place can be told
    # (the delegation's quota cannot be read): their letters are left as they are.
    waiting_held: list[str] = field(default_factory=list)


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

    in_line: dict[str, tuple[int, str]] = {}     # kept key -> (place in line, delegation name)
    for code, queue in candidates.items():
        queue.sort(key=lambda item: item[0])
        known = lookup.delegations.get(code)
        quota = known.quota if known is not None else 0
        if known is not None and known.frozen:
            # The quota cannot be read: the places given so far are kept, no new one.
            quota = sum(1 for order, _ in queue if order[0] == 0)
        for place, (_, kept) in enumerate(queue):
            confirmed = quota is None or place < quota
            state[kept.key] = (CONFIRMED if confirmed else WAITLISTED, "")
            # A quota that cannot be read says nothing of a place in line: no letter until it can.
            if not confirmed and known is not None and not known.frozen:
                in_line[kept.key] = (place - (quota or 0) + 1, known.name)
            counts.setdefault(code, {"registered": 0, "confirmed": 0, "waitlisted": 0})
            counts[code]["confirmed" if confirmed else "waitlisted"] += 1

    for key, note in shared_code_notes([kept for _, kept, *_ in people]).items():
        status, problem = state[key]
        state[key] = (status, f"{problem} {note}".strip())

    confirmations: list[Confirmation] = []
    waiting: list[Waiting] = []
    waiting_held: list[str] = []
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
            p = " ".join([p, *e.remarks]).strip()
            cells = {f: v for f, v in e.record.items() if f not in e.keep}
            rows[e.key] = {**cells, "status": s, "problem": p,
                           "checkin_code": shown if e is kept else ""}
        lost += standing == 0 and status == WAITLISTED
        if status == CONFIRMED:
            r = kept.record
            confirmations.append(Confirmation(first.key, kept.key, r["honorific"], r["full_name"],
                                              r["position"], r["unit"], r["email"], code,
                                              new=standing != 0))
        elif status == WAITLISTED and kept.key in in_line:
            r = kept.record
            place, delegation = in_line[kept.key]
            waiting.append(Waiting(first.key, kept.key, r["honorific"], r["full_name"], r["position"],
                                   r["unit"], r["email"], delegation, place, had_place=standing == 0))
        elif status == WAITLISTED:
            waiting_held.append(first.key)
    if lost:
        notes.append(f"{lost} người đã được xác nhận trước đây nay chuyển vào Danh sách chờ vì chỉ tiêu "
                     f"đã giảm (Mã check-in của họ đã được đánh dấu huỷ): kiểm tra cột Chỉ tiêu ở "
                     f"trang Đoàn và báo cho họ.")
    return Outcome(rows, counts, confirmations, notes, waiting, waiting_held)
