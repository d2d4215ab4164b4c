"""One registration response as the rules see it: cleaned, checked against
what the sheet holds (invitees, delegations, staff corrections), with every
problem as a Vietnamese sentence. Pure; workflows.registrations decides places
from these entries.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from workspace.table import is_error_value

from .normalise import (MAX_CELL_CHARS, clean_text, cut, normalise_email, normalise_phone,
                        sheet_time, vn_number)

if TYPE_CHECKING:
    from workspace.forms import Response

TEXT_FIELDS = ("full_name", "honorific", "position", "unit", "delegation", "email", "phone",
               "invitee_code")
REQUIRED = ("full_name", "honorific", "position", "unit", "delegation", "email", "phone")


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
    quota: int | None          # None: no limit (or, when `frozen`, unknown)
    frozen: bool = False       # the quota cannot be read: places given are kept, none added


MAX_QUOTA = 100_000
_WHOLE = re.compile(r"^\d+(?:[.,]0+)?$")


def parse_quota(value: Any) -> tuple[int | None, bool]:
    """A `Chỉ tiêu` cell as (quota, readable): empty is no limit (None, True);
    a whole number 0..100 000 is that quota; anything else, a formula's error
    value, text, a fraction, `1e400`, is (None, False)."""
    if isinstance(value, bool):
        return None, False
    if isinstance(value, (int, float)):
        if value != value or not 0 <= value <= MAX_QUOTA or int(value) != value:
            return None, False
        return int(value), True
    text = clean_text(value)
    if not text:
        return None, True
    if not _WHOLE.match(text):
        return None, False
    number = int(re.split(r"[.,]", text)[0])
    return (number, True) if number <= MAX_QUOTA else (None, False)


def quota_problem(code: str, text: str, tab: str, row: int | None, label: str = "Chỉ tiêu") -> str:
    """The located sentence for a quota that cannot be read."""
    where = f"Trang {tab}, dòng {row}" if row else f"Trang {tab}"
    limit = vn_number(MAX_QUOTA)
    return (f"{where} (Mã đoàn {code}): ô {label} «{text[:40]}» không phải một số nguyên từ 0 đến "
            f"{limit}: những người của đoàn đã được xác nhận vẫn giữ chỗ, người mới vào Danh sách "
            f"chờ cho đến khi sửa ô này.")


def quota_problems(records: Iterable[Any], table: Any) -> list[str]:
    """`check`: a sentence for every unreadable `Chỉ tiêu` of `Đoàn` (Records)."""
    return [quota_problem(r.key, clean_text(r.raw.get("quota", r["quota"])), table.tab, r.row,
                          table.columns["quota"])
            for r in records if not parse_quota(r.raw.get("quota", r["quota"]))[1]]


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
                 labels: Mapping[str, str], delegation_rows: Mapping[str, int] | None = None,
                 delegation_tab: str = "Đoàn") -> Lookup:
    """Index invitees by code and email and delegations by code and name. A
    `Chỉ tiêu` that cannot be read freezes the delegation (those confirmed keep
    their places, nobody new is confirmed) with a located note, rather than
    confirming without limit or taking places away. `delegation_rows` (code ->
    sheet row) locates the note."""
    out = Lookup(labels=dict(labels))
    for d in delegations:
        code = clean_text(d["key"])
        quota, readable = parse_quota(d.get("quota", ""))
        if not readable:
            out.notes.append(quota_problem(code, clean_text(d.get("quota", "")), delegation_tab,
                                           (delegation_rows or {}).get(code)))
        out.delegations[code] = Delegation(code, clean_text(d.get("name", "")), quota,
                                           frozen=not readable)
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
    # Cells of the row the job leaves as they are (a staff formula showing an
    # error), and the sentences saying so; the row stays valid on the answers.
    keep: tuple[str, ...] = ()
    remarks: list[str] = field(default_factory=list)


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
    # A cell showing a formula's error (#N/A, …) is no correction: the answer
    # is used, the cell is left for staff to mend, and Vấn đề says so.
    broken = tuple(f for f in TEXT_FIELDS if f in row and is_error_value(row.get(f)))
    corrected = {f: [row.get(f, "")] for f in TEXT_FIELDS if f in row and f not in broken
                 and clean_text(row.get(f, "")) != entry.record[f]
                 and not _worked_out(f, response.answers, entry.record)}
    if corrected:
        entry = _check(response, {**response.answers, **corrected}, lookup, tz)
    if broken:
        entry.keep = broken
        labels = ", ".join(_label(lookup, f) for f in broken)
        entry.remarks.append(f"Ô {labels} đang hiện lỗi của công thức ({row.get(broken[0])}), nên "
                             f"công cụ dùng câu trả lời trong biểu mẫu và không ghi vào ô đó: sửa "
                             f"công thức hoặc gõ thẳng giá trị.")
    return entry


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
        limit = vn_number(MAX_CELL_CHARS)
        problems.append(f"{', '.join(too_long)} dài quá {limit} ký tự nên đã bị cắt bớt: "
                        f"kiểm tra lại nội dung với người đăng ký.")
    return Entry(response.response_id, instant(response.created or response.submitted),
                 instant(response.submitted), rec, delegation, identities, problems)
