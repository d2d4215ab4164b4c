"""sync-registrations' rules (SPEC 3.1, issue #4): the pure decisions of
workflows.registrations, then each rule on the seeded 2024 workshop with the
real clients and forms filled in as people would."""
from __future__ import annotations

import math
import time
import unicodedata
from collections import Counter
from typing import Any
from urllib.parse import unquote

from sandbox.api.forms_responses import submit_responses
from sandbox.seed_data import DELEGATIONS
from tests.conftest import open_ws, run_cli, run_job_as_cli
from workflows.registrations import (CONFIRMED, DUPLICATE, INVALID, VOID_MARKS, WAITLISTED,
                                     WITHDRAWN_NOTE, build_lookup, decide)
from workflows.sync_registrations import confirmations_to_queue
from workspace.config import DEFAULT_TABLES
from workspace.forms import Response
from workspace.table import KeyedTable, col_letter, quote_tab

NAMES = {code: name for code, name, _, _ in DELEGATIONS}
WRITES = {"sheets.spreadsheets.values.batchUpdate", "sheets.spreadsheets.values.append",
          "sheets.spreadsheets.values.update", "sheets.spreadsheets.batchUpdate",
          "sheets.spreadsheets.values.clear", "sheets.spreadsheets.values.batchClear"}
LABELS = DEFAULT_TABLES["registrations"][1]


# -- pure rules ------------------------------------------------------------------

def _lookup(quota: Any = 2) -> Any:
    return build_lookup(
        invitees=[{"key": "KM001", "email": "giamdoc@sgddt.example", "delegation": "BRVT",
                   "full_name": "Lê Văn Hoà"}],
        delegations=[{"key": "BRVT", "name": "Sở GDĐT Bà Rịa – Vũng Tàu", "quota": str(quota)},
                     {"key": "KHAC", "name": "Đại biểu khác", "quota": ""}],
        labels=LABELS)


def _response(n: int, created: int | None = None, **answers: str) -> Response:
    base = {"full_name": f"Người Số {n}", "honorific": "Ông", "position": "Giáo viên",
            "unit": "Trường THPT Vũng Tàu", "delegation": "Sở GDĐT Bà Rịa – Vũng Tàu",
            "email": f"nguoi{n}@thpt.example", "phone": f"0912{n:06d}", "consent": "Tôi đồng ý"}
    base.update(answers)
    stamp = lambda s: f"2024-10-01T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000001Z"  # noqa: E731
    return Response(f"R{n:03d}", stamp(n if created is None else created), stamp(n),
                    {k: [v] for k, v in base.items() if v != ""})


def _codes() -> Any:
    counter = iter(range(1000))
    return lambda: f"CODE{next(counter):04d}"


def test_decide_quota_confirms_earliest_and_waitlists_rest() -> None:
    out = decide([_response(i) for i in range(1, 5)], _lookup(2), {}, "Asia/Ho_Chi_Minh", _codes())
    assert [out.rows[f"R{i:03d}"]["status"] for i in range(1, 5)] == [
        CONFIRMED, CONFIRMED, WAITLISTED, WAITLISTED]
    assert out.counts["BRVT"] == {"registered": 4, "confirmed": 2, "waitlisted": 2}
    assert [out.rows[f"R{i:03d}"]["checkin_code"] for i in range(1, 5)] == ["CODE0000", "CODE0001", "", ""]


def test_decide_place_follows_first_submission_not_last_edit() -> None:
    # R001 was created first and edited last: it keeps its place.
    responses = [_response(2), _response(3), _response(9, created=1)]
    out = decide(responses, _lookup(2), {}, "UTC", _codes())
    assert out.rows["R009"]["status"] == CONFIRMED and out.rows["R003"]["status"] == WAITLISTED


def test_decide_given_confirmation_is_kept_when_an_earlier_person_is_fixed() -> None:
    # R001 was invalid (no consent) while R002 and R003 took both places; R001 fixes it.
    existing = {"R002": {"status": CONFIRMED, "checkin_code": "AAAA2222"},
                "R003": {"status": CONFIRMED, "checkin_code": "BBBB3333"},
                "R001": {"status": INVALID}}
    out = decide([_response(1), _response(2), _response(3)], _lookup(2), existing, "UTC", _codes())
    assert [out.rows[k]["status"] for k in ("R001", "R002", "R003")] == [WAITLISTED, CONFIRMED, CONFIRMED]
    assert out.rows["R003"]["checkin_code"] == "BBBB3333"


def test_decide_withdrawn_person_frees_the_place_for_the_first_waiting() -> None:
    existing = {"R001": {"status": CONFIRMED, "checkin_code": "AAAA1111"},
                "R002": {"status": CONFIRMED, "checkin_code": "AAAA2222"},
                "R003": {"status": WAITLISTED}, "R004": {"status": WAITLISTED}}
    out = decide([_response(i) for i in range(1, 5)], _lookup(2), existing, "UTC", _codes(),
                 withdrawn={"R001"})
    assert (out.rows["R001"]["status"], out.rows["R001"]["problem"]) == ("", WITHDRAWN_NOTE)
    # The code they were sent no longer admits them, but stays visible to staff.
    assert out.rows["R001"]["checkin_code"] == VOID_MARKS[0] + "AAAA1111"
    assert out.rows["R003"]["status"] == CONFIRMED and out.rows["R004"]["status"] == WAITLISTED
    assert out.counts["BRVT"] == {"registered": 3, "confirmed": 2, "waitlisted": 1}
    assert [c.row_key for c in out.confirmations if c.new] == ["R003"]


def test_decide_withdrawn_person_back_waits_first_then_gets_the_same_code() -> None:
    responses = [_response(i) for i in range(1, 5)]
    once = decide(responses, _lookup(2), {}, "UTC", _codes())
    gone = decide(responses, _lookup(2), once.rows, "UTC", _codes(), withdrawn={"R001"})
    back = decide(responses, _lookup(2), gone.rows, "UTC", _codes())        # box unticked
    # R003 was promoted and told so: R001 does not take the place back, but is
    # first in line, ahead of R004 who never had one.
    assert [back.rows[f"R00{i}"]["status"] for i in range(1, 5)] == [
        WAITLISTED, CONFIRMED, CONFIRMED, WAITLISTED]
    assert back.rows["R001"]["checkin_code"] == VOID_MARKS[0] + once.rows["R001"]["checkin_code"]
    more = decide(responses, _lookup(3), back.rows, "UTC", _codes())
    assert more.rows["R001"]["status"] == CONFIRMED and more.rows["R004"]["status"] == WAITLISTED
    assert more.rows["R001"]["checkin_code"] == once.rows["R001"]["checkin_code"]


def test_decide_confirmation_key_is_first_submission_when_the_first_is_edited_last() -> None:
    # R001 (created first) and R002 are one person (same email); R001 is then edited.
    first = _response(1)
    second = _response(2, email="nguoi1@thpt.example")
    edited = _response(9, created=1, position="Hiệu trưởng", email="nguoi1@thpt.example",
                       phone="0912000001")
    edited.response_id = "R001"
    before = decide([first, second], _lookup(2), {}, "UTC", _codes())
    after = decide([edited, second], _lookup(2), before.rows, "UTC", _codes())
    assert [c.key for c in before.confirmations] == [c.key for c in after.confirmations] == ["R001"]
    assert after.rows["R001"]["status"] == CONFIRMED and after.rows["R002"]["status"] == DUPLICATE
    assert after.rows["R001"]["checkin_code"] == before.rows["R002"]["checkin_code"]
    assert not any(c.new for c in after.confirmations)


def test_decide_invalid_resubmission_never_displaces_a_confirmed_person() -> None:
    # The reviewer's scenario, quota 2: R001, R002 confirmed, R003 waiting.
    run1 = decide([_response(i) for i in (1, 2, 3)], _lookup(2), {}, "UTC", _codes())
    code = run1.rows["R001"]["checkin_code"]
    # R001's person submits again with a typo in the phone number.
    typo = _response(4, full_name="Người Số 1", email="nguoi1@thpt.example", phone="09")
    run2 = decide([_response(1), _response(2), _response(3), typo], _lookup(2), run1.rows, "UTC", _codes())
    assert (run2.rows["R001"]["status"], run2.rows["R001"]["checkin_code"]) == (CONFIRMED, code)
    assert run2.rows["R004"]["status"] == INVALID
    assert "Số điện thoại không hợp lệ" in run2.rows["R004"]["problem"]
    assert "vẫn là phản hồi R001" in run2.rows["R004"]["problem"]
    assert run2.rows["R003"]["status"] == WAITLISTED
    assert not any(c.new for c in run2.confirmations)
    # Then a fixed submission: it becomes the registration and carries the code.
    fixed = _response(5, full_name="Người Số 1", email="nguoi1@thpt.example", phone="0912000001")
    run3 = decide([_response(1), _response(2), _response(3), typo, fixed], _lookup(2), run2.rows,
                  "UTC", _codes())
    assert [run3.rows[f"R00{i}"]["status"] for i in range(1, 6)] == [
        DUPLICATE, CONFIRMED, WAITLISTED, DUPLICATE, CONFIRMED]
    assert run3.rows["R005"]["checkin_code"] == code
    assert run3.rows["R001"]["checkin_code"] == run3.rows["R004"]["checkin_code"] == ""
    assert [c.key for c in run3.confirmations if c.row_key == "R005"] == ["R001"]
    assert not any(c.new for c in run3.confirmations)


def test_decide_check_in_code_alone_keeps_the_place_when_status_was_rewritten() -> None:
    # Trạng thái no longer says so (a staff edit, an older version), the code does.
    existing = {"R003": {"status": "", "checkin_code": "KEEP3333"}}
    out = decide([_response(i) for i in (1, 2, 3)], _lookup(1), existing, "UTC", _codes())
    assert (out.rows["R003"]["status"], out.rows["R003"]["checkin_code"]) == (CONFIRMED, "KEEP3333")
    assert [out.rows[k]["status"] for k in ("R001", "R002")] == [WAITLISTED, WAITLISTED]


def test_decide_staff_correction_wins_until_the_person_edits() -> None:
    first = decide([_response(1, phone="09")], _lookup(2), {}, "UTC", _codes())
    assert first.rows["R001"]["status"] == INVALID
    assert "sửa ô Điện thoại trên dòng này" in first.rows["R001"]["problem"]
    sheet = {"R001": {**first.rows["R001"], "phone": "0912 000 111", "email": "Dung@THPT.example"}}
    fixed = decide([_response(1, phone="09")], _lookup(2), sheet, "UTC", _codes())
    row = fixed.rows["R001"]
    assert (row["phone"], row["email"], row["status"]) == ("+84912000111", "dung@thpt.example", CONFIRMED)
    again = decide([_response(1, phone="09")], _lookup(2), fixed.rows, "UTC", _codes())
    assert again.rows == fixed.rows                  # stable: nothing to write next time
    edited = _response(1, phone="0903 222 333")
    edited.submitted = edited.submitted.replace("00:00:01", "00:05:00")
    out = decide([edited], _lookup(2), fixed.rows, "UTC", _codes())
    assert (out.rows["R001"]["phone"], out.rows["R001"]["email"]) == ("+84903222333", "nguoi1@thpt.example")


def test_decide_empty_submission_is_invalid_with_a_sentence() -> None:
    empty = Response("R001", "2024-10-01T00:00:01Z", "2024-10-01T00:00:01Z", {})
    out = decide([empty], _lookup(2), {}, "UTC", _codes())
    row = out.rows["R001"]
    assert row["status"] == INVALID and row["checkin_code"] == ""
    assert row["problem"].startswith("Thiếu Họ và tên, Danh xưng, Chức vụ, Đơn vị, Đoàn, Email, "
                                     "Điện thoại") and "Nghị định 13/2023" in row["problem"]
    assert out.confirmations == []


def test_decide_resubmission_keeps_code_and_person_key() -> None:
    existing = {"R001": {"status": CONFIRMED, "checkin_code": "KEEPME22"}}
    again = _response(5, full_name="Người Số 1", email="NGUOI1@thpt.example", phone="0912000001")
    out = decide([_response(1), again], _lookup(2), existing, "UTC", _codes())
    assert out.rows["R001"]["status"] == DUPLICATE and "R005" in out.rows["R001"]["problem"]
    assert out.rows["R001"]["checkin_code"] == ""
    assert (out.rows["R005"]["status"], out.rows["R005"]["checkin_code"]) == (CONFIRMED, "KEEPME22")
    people = confirmations_to_queue(out)
    assert [(p["key"], p["checkin_code"]) for p in people] == [("R001", "KEEPME22")]
    assert not out.confirmations[0].new


def test_decide_duplicates_are_linked_through_a_third_response() -> None:
    a = _response(1, email="a@x.example", phone="0912000001")
    b = _response(2, email="b@x.example", phone="0912000001")     # same phone as a
    c = _response(3, email="b@x.example", phone="0912000003")     # same email as b
    out = decide([a, b, c], _lookup(5), {}, "UTC", _codes())
    assert [out.rows[k]["status"] for k in ("R001", "R002", "R003")] == [DUPLICATE, DUPLICATE, CONFIRMED]
    assert "cùng một người" in out.rows["R001"]["problem"]
    assert "cùng email" in out.rows["R002"]["problem"]


def test_decide_invalid_answers_are_explained_and_take_no_place() -> None:
    responses = [_response(1, consent="", position=""), _response(2, delegation="Sở GDĐT Hà Giang"),
                 _response(3, invitee_code="KM999"), _response(4)]
    out = decide(responses, _lookup(1), {}, "UTC", _codes())
    first, second, third = (out.rows[k] for k in ("R001", "R002", "R003"))
    assert {first["status"], second["status"], third["status"]} == {INVALID}
    assert first["problem"].startswith("Thiếu Chức vụ") and "Nghị định 13/2023" in first["problem"]
    assert "không có trong trang Đoàn" in second["problem"]
    assert second["delegation"] == "Sở GDĐT Hà Giang"     # what was chosen, for staff to see
    assert "không có trong trang Khách mời" in third["problem"]
    assert out.rows["R004"]["status"] == CONFIRMED    # the one valid person gets the only place
    assert out.counts["BRVT"]["registered"] == 3       # R002's delegation is unknown: not counted


def test_decide_invitee_matched_by_code_or_email_and_delegation_by_code() -> None:
    by_code = _response(1, invitee_code="km001", delegation="")
    by_email = _response(2, email="GiamDoc@sgddt.example", delegation="khac", phone="0912000777")
    out = decide([by_code, by_email], _lookup(5), {}, "UTC", _codes())
    assert out.rows["R001"]["invitee_code"] == "KM001" and out.rows["R001"]["delegation"] == "BRVT"
    # Same invitee (by email) as R001: the later response is the registration.
    assert out.rows["R002"]["invitee_code"] == "KM001" and out.rows["R002"]["delegation"] == "KHAC"
    # Different name, email and phone: two people claim KM001 (a forwarded link).
    # R002 has the invitee's email: it keeps the place; R001 waits for staff, with
    # no place and no letter; both rows tell staff to check who the invitee is.
    assert (out.rows["R002"]["status"], out.rows["R001"]["status"]) == (CONFIRMED, INVALID)
    assert "đã dùng cho đăng ký R002" in out.rows["R001"]["problem"]
    assert [c.key for c in out.confirmations] == ["R002"]
    for key, other in (("R001", "R002"), ("R002", "R001")):
        assert "Mã khách mời KM001 cũng được một người khác dùng" in out.rows[key]["problem"]
        assert other in out.rows[key]["problem"]


def test_decide_forwarded_invitation_link_does_not_take_the_invitees_place() -> None:
    # The deputy submits first on the director's forwarded link; the director later.
    deputy = _response(1, invitee_code="KM001", email="pho.phong@sgddt.example", phone="0912000111",
                       full_name="Trần Thị Bích")
    director = _response(2, invitee_code="KM001", email="giamdoc@sgddt.example", phone="0912000222",
                         full_name="Lê Văn Hoà")
    out = decide([deputy, director], _lookup(5), {}, "UTC", _codes())
    assert out.rows["R002"]["status"] == CONFIRMED and out.rows["R002"]["checkin_code"]
    assert out.rows["R001"]["status"] == INVALID and out.rows["R001"]["checkin_code"] == ""
    assert "R002" in out.rows["R001"]["problem"] and "Mã khách mời KM001" in out.rows["R001"]["problem"]
    assert [c.key for c in out.confirmations] == ["R002"]          # one letter, to the invitee
    assert out.counts["BRVT"]["confirmed"] == 1
    # Matched by name alone (the director typed another email, no accents): same outcome.
    director = _response(2, invitee_code="KM001", email="hoa.lv@gmail.example", phone="0912000222",
                         full_name="le van  HOA")
    out = decide([deputy, director], _lookup(5), {}, "UTC", _codes())
    assert (out.rows["R002"]["status"], out.rows["R001"]["status"]) == (CONFIRMED, INVALID)
    # Staff clear the deputy's Mã khách mời: the deputy is a registrant of their own.
    sheet = {**out.rows, "R001": {**out.rows["R001"], "invitee_code": ""}}
    fixed = decide([deputy, director], _lookup(5), sheet, "UTC", _codes())
    assert fixed.rows["R001"]["status"] == fixed.rows["R002"]["status"] == CONFIRMED
    assert fixed.rows["R001"]["problem"] == ""


def test_decide_forwarded_link_after_a_confirmation_waits_for_staff() -> None:
    deputy = _response(1, invitee_code="KM001", email="pho.phong@sgddt.example", phone="0912000111")
    first = decide([deputy], _lookup(5), {}, "UTC", _codes())
    assert first.rows["R001"]["status"] == CONFIRMED
    director = _response(2, invitee_code="KM001", email="giamdoc@sgddt.example", phone="0912000222",
                         full_name="Lê Văn Hoà")
    out = decide([deputy, director], _lookup(5), first.rows, "UTC", _codes())
    # A code already sent is not voided by someone else's response: the later one waits.
    assert out.rows["R001"] == {**first.rows["R001"], "problem": out.rows["R001"]["problem"]}
    assert out.rows["R002"]["status"] == INVALID and "R001" in out.rows["R002"]["problem"]
    assert [c.key for c in out.confirmations] == ["R001"]


def test_decide_same_invitee_code_and_name_with_new_email_and_phone_is_one_person() -> None:
    # The reviewer's case: a typo in the email, then a fresh response on the same
    # link with the right email and another phone; the name typed once without accents.
    typo = _response(1, invitee_code="KM001", full_name="Lê Văn Hòa", email="giamdoc@sgddt.exmaple",
                     phone="0904315829")
    first = decide([typo], _lookup(5), {}, "UTC", _codes())
    assert first.rows["R001"]["status"] == CONFIRMED
    right = _response(2, invitee_code="KM001", full_name="Le Van Hoa", email="giamdoc@sgddt.example",
                      phone="0904315892")
    out = decide([typo, right], _lookup(5), first.rows, "UTC", _codes())
    assert out.rows["R001"]["status"] == DUPLICATE and "R002" in out.rows["R001"]["problem"]
    assert "cùng mã khách mời" in out.rows["R001"]["problem"]
    assert (out.rows["R002"]["status"], out.rows["R002"]["checkin_code"]) == (
        CONFIRMED, first.rows["R001"]["checkin_code"])                  # the code they were sent
    assert [(c.key, c.email) for c in out.confirmations] == [("R001", "giamdoc@sgddt.example")]
    assert out.counts["BRVT"] == {"registered": 1, "confirmed": 1, "waitlisted": 0}


def test_decide_quota_not_a_number_closes_the_delegation_with_a_note() -> None:
    out = decide([_response(1)], _lookup("hai mươi"), {}, "UTC", _codes())
    assert out.rows["R001"]["status"] == WAITLISTED
    assert any("BRVT" in n and "Chỉ tiêu" in n for n in out.notes)


def test_decide_lowered_quota_notes_people_who_lose_confirmation() -> None:
    existing = {f"R00{i}": {"status": CONFIRMED, "checkin_code": f"C{i}"} for i in (1, 2, 3)}
    out = decide([_response(i) for i in (1, 2, 3)], _lookup(1), existing, "UTC", _codes())
    assert [out.rows[f"R00{i}"]["status"] for i in (1, 2, 3)] == [CONFIRMED, WAITLISTED, WAITLISTED]
    assert any(n.startswith("2 người đã được xác nhận") for n in out.notes)


# -- on the sandbox ----------------------------------------------------------------

def _sync(config: Any, dry_run: bool = False) -> Any:
    return run_job_as_cli(config, "sync-registrations", dry_run=dry_run)


def _snap(config: Any, name: str = "registrations") -> Any:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return KeyedTable(sh, getattr(config.sheets, name), name).read()


def _answers(n: int, **over: str) -> dict[str, str]:
    """One respondent's answers by canonical field (HCM delegation unless told)."""
    base = {"full_name": f"Người Thứ {n}", "honorific": "Ông", "position": "Giáo viên",
            "unit": "Trường THPT Lê Quý Đôn", "delegation": NAMES["HCM"],
            "email": f"nguoi{n}@thpt.example", "phone": f"0912{n:06d}", "consent": "Tôi đồng ý"}
    base.update(over)
    return base


def _submit(server: Any, config: Any, people: list[dict[str, str]], edit: str | None = None) -> list[str]:
    form = config.google.forms.registration
    titled = [{form.fields[k]: v for k, v in p.items() if v != ""} for p in people]
    return submit_responses(server.store, form.id, titled, edit_response_id=edit)


def _writes(server: Any, before: int) -> list[dict[str, Any]]:
    return [r for r in server.store.requests(before) if r["method_id"] in WRITES]


def test_sync_nfd_and_nfc_name_same_email_are_one_person(seeded_server, seeded_config) -> None:
    name = "Nguyễn Thị Thủy Tiên"
    nfd = unicodedata.normalize("NFD", name)
    first, second = _submit(seeded_server, seeded_config, [
        _answers(1, full_name=nfd, email="Tien.NTT@thpt.example"),
        _answers(2, full_name=name, email="tien.ntt@thpt.example")])
    _sync(seeded_config)
    snap = _snap(seeded_config)
    assert snap.by_key[first]["full_name"] == snap.by_key[second]["full_name"] == name
    assert snap.by_key[first]["status"] == DUPLICATE and second in snap.by_key[first]["problem"]
    assert snap.by_key[second]["status"] == CONFIRMED


def test_sync_tone_mark_placement_never_merges_people_by_name(seeded_server, seeded_config) -> None:
    a, b, c = _submit(seeded_server, seeded_config, [
        _answers(1, full_name="Lê Văn Hoà"), _answers(2, full_name="Lê Văn Hòa"),
        _answers(3, full_name="Lê Văn Hòa", email="nguoi1@thpt.example", phone="0912000333")])
    _sync(seeded_config)
    snap = _snap(seeded_config)
    assert snap.by_key[a]["full_name"] == "Lê Văn Hoà" and snap.by_key[b]["full_name"] == "Lê Văn Hòa"
    assert snap.by_key[b]["status"] == CONFIRMED          # a different person (email, phone)
    assert snap.by_key[a]["status"] == DUPLICATE          # c is a by email, whatever the spelling
    assert c in snap.by_key[a]["problem"] and "cùng email" in snap.by_key[a]["problem"]


def test_sync_five_phone_shapes_are_one_number(seeded_server, seeded_config) -> None:
    shapes = ["0912 345 678", "84912345678", "+84 912-345-678", "0912.345.678", "0912345678"]
    ids = _submit(seeded_server, seeded_config, [_answers(i, phone=s) for i, s in enumerate(shapes)])
    old = _submit(seeded_server, seeded_config, [_answers(9, phone="01689 123 456")])
    _sync(seeded_config)
    snap = _snap(seeded_config)
    assert {snap.by_key[k]["phone"] for k in ids} == {"+84912345678"}
    assert [snap.by_key[k]["status"] for k in ids] == [DUPLICATE] * 4 + [CONFIRMED]
    assert all("cùng số điện thoại" in snap.by_key[k]["problem"] for k in ids[:4])
    assert snap.by_key[old[0]]["phone"] == "+84389123456"


def test_sync_quota_twenty_then_withdrawal_moves_first_waiting_up(seeded_server, seeded_config) -> None:
    config = seeded_config
    ids = _submit(seeded_server, config, [_answers(100 + i, delegation=NAMES["BRVT"]) for i in range(23)])
    _sync(config)
    snap = _snap(config)
    brvt = sorted((r for r in snap.records if r["delegation"] == "BRVT"), key=lambda r: r["submitted_at"])
    assert len(brvt) == 25      # 2 seeded + 23 new
    confirmed = [r.key for r in brvt if r["status"] == CONFIRMED]
    waiting = [r.key for r in brvt if r["status"] == WAITLISTED]
    assert len(confirmed) == 20 and waiting == ids[-5:]     # the last five, in submission order
    assert all(snap.by_key[k]["checkin_code"] for k in confirmed)
    assert not any(snap.by_key[k]["checkin_code"] for k in waiting)
    counts = _snap(config, "delegations").by_key["BRVT"]
    assert (counts["registered"], counts["confirmed"], counts["waitlisted"]) == ("25", "20", "5")

    # Staff tick "Rút đăng ký" for one confirmed delegate (the sheet's own tick box).
    gone = confirmed[7]
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        column = col_letter(snap.columns["withdrawn"])
        cell = f"{quote_tab(config.sheets.registrations.tab)}!{column}{snap.by_key[gone].row}"
        sh.values_update(cell, params={"valueInputOption": "USER_ENTERED"}, body={"values": [[True]]})
    result = _sync(config)
    after = _snap(config)
    assert (after.by_key[gone]["status"], after.by_key[gone]["problem"]) == ("", WITHDRAWN_NOTE)
    assert after.by_key[waiting[0]]["status"] == CONFIRMED and after.by_key[waiting[0]]["checkin_code"]
    assert [after.by_key[k]["status"] for k in waiting[1:]] == [WAITLISTED] * 4
    assert all(after.by_key[k]["checkin_code"] == snap.by_key[k]["checkin_code"]
               for k in confirmed if k != gone)
    assert after.by_key[gone]["checkin_code"] == VOID_MARKS[0] + snap.by_key[gone]["checkin_code"]
    assert result.figures["xác nhận mới"] == 1
    counts = _snap(config, "delegations").by_key["BRVT"]
    assert (counts["registered"], counts["confirmed"], counts["waitlisted"]) == ("24", "20", "4")


def test_sync_edited_response_updates_its_own_row(seeded_server, seeded_config) -> None:
    config = seeded_config
    key, = _submit(seeded_server, config, [_answers(1)])
    _sync(config)
    code = _snap(config).by_key[key]["checkin_code"]
    time.sleep(1.05)       # `Thời gian gửi` shows whole seconds; people edit later than that
    _submit(seeded_server, config, [_answers(1, position="Phó Hiệu trưởng", phone="0903 111 222")], edit=key)
    result = _sync(config)
    snap = _snap(config)
    row = snap.by_key[key]
    assert (row["position"], row["phone"], row["status"], row["checkin_code"]) == (
        "Phó Hiệu trưởng", "+84903111222", CONFIRMED, code)
    assert result.figures["dòng mới"] == 0 and result.figures["dòng cập nhật"] == 1
    assert len(snap.records) == 30      # 29 seeded + 1


def test_sync_duplicate_across_email_case(seeded_server, seeded_config) -> None:
    first, second = _submit(seeded_server, seeded_config, [
        _answers(1, email="Lan.Nguyen@Truong.Example"), _answers(2, email="lan.nguyen@truong.example")])
    _sync(seeded_config)
    snap = _snap(seeded_config)
    assert snap.by_key[first]["email"] == snap.by_key[second]["email"] == "lan.nguyen@truong.example"
    assert snap.by_key[first]["status"] == DUPLICATE
    assert snap.by_key[first]["problem"].startswith(f"Trùng lặp với phản hồi {second} (cùng email)")


def test_sync_formula_in_every_text_field_is_stored_as_text(seeded_server, seeded_config) -> None:
    config = seeded_config
    formulas = {"full_name": '=HYPERLINK("http://evil.example","Bấm vào")',
                "position": '=IMPORTXML("http://evil.example","//a")', "unit": "=1+1",
                "email": "=A1", "phone": "=2+2", "invitee_code": "=B2"}
    key, = _submit(seeded_server, config, [_answers(1, **formulas)])
    _sync(config)
    row = _snap(config).by_key[key]
    assert row["status"] == INVALID
    for phrase in ("Họ và tên phải bắt đầu bằng chữ cái", "Chức vụ bắt đầu bằng dấu «=»",
                   "Đơn vị bắt đầu bằng dấu «=»", "Email không đúng định dạng",
                   "Số điện thoại không hợp lệ", "Mã khách mời không có"):
        assert phrase in row["problem"]
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        tab = quote_tab(config.sheets.registrations.tab)
        for option in ("FORMULA", "UNFORMATTED_VALUE"):
            values = sh.values_get(f"{tab}!A{row.row}:J{row.row}",
                                   params={"valueRenderOption": option})["values"][0]
            # Text, exactly as typed: "=1+1" is not 2, and no formula came back.
            assert values[2] == formulas["full_name"] and values[5] == "=1+1"
            assert values[4] == formulas["position"] and values[8] == "=2+2"
            assert values[9] == "=B2"


def test_sync_line_breaks_and_zero_width_characters_removed_from_names(seeded_server, seeded_config) -> None:
    key, = _submit(seeded_server, seeded_config, [_answers(
        1, full_name="\u200bTrần\r\nThị\u200d\tLan\u202e\ufeff", unit="Trường\nTHCS  Hoa Lư")])
    _sync(seeded_config)
    row = _snap(seeded_config).by_key[key]
    assert (row["full_name"], row["unit"], row["status"]) == ("Trần Thị Lan", "Trường THCS Hoa Lư", CONFIRMED)


def test_sync_sixty_thousand_character_field_is_cut_and_flagged(seeded_server, seeded_config) -> None:
    key, = _submit(seeded_server, seeded_config, [_answers(1, unit="Trường " + "A" * 60_000)])
    result = _sync(seeded_config)
    row = _snap(seeded_config).by_key[key]
    assert len(row["unit"]) == 50_000 and row["status"] == INVALID
    assert "Đơn vị dài quá 50.000 ký tự" in row["problem"]
    assert result.figures[INVALID] == 1


def test_sync_empty_form_writes_only_its_log_row(seeded_server, seeded_config) -> None:
    config = seeded_config
    with open_ws(config) as ws:
        forms = ws.service("forms", "v1").forms()
        source = forms.get(formId=config.google.forms.registration.id).execute()
        empty = forms.create(body={"info": {"title": "Đăng ký (trống)"}}).execute()["formId"]
        items = [{"title": i["title"], "questionItem": {"question": {
            k: v for k, v in i["questionItem"]["question"].items() if k != "questionId"}}}
            for i in source["items"]]
        forms.batchUpdate(formId=empty, body={"requests": [
            {"createItem": {"item": item, "location": {"index": n}}} for n, item in enumerate(items)]}).execute()
    config.google.forms.registration.id = empty
    before = seeded_server.store.last_request_seq()
    result = _sync(config)
    writes = _writes(seeded_server, before)
    assert result.figures["phản hồi"] == 0 and result.plan == []
    assert len(writes) == 1 and "Nhật ký" in unquote(writes[0]["path"])
    assert _snap(config).records == []


def test_sync_call_count_same_for_5000_responses_as_for_50(seeded_server, seeded_config) -> None:
    config = seeded_config
    _sync(config)

    def calls_for(new: list[dict[str, str]]) -> tuple[Counter, int]:
        _submit(seeded_server, config, new)
        before = seeded_server.store.last_request_seq()
        _sync(config)
        calls = [r["method_id"] for r in seeded_server.store.requests(before)
                 if r["api"] in ("sheets", "forms")]
        pages = calls.count("forms.forms.responses.list")
        return Counter(c for c in calls if c != "forms.forms.responses.list"), pages

    small, small_pages = calls_for([_answers(i) for i in range(50)])
    large, large_pages = calls_for([_answers(i) for i in range(50, 5_000)])
    assert small == large, (small, large)
    total = 29 + 5_000
    assert small_pages == 1 and large_pages == math.ceil(total / 5_000)
    snap = _snap(config)
    assert len(snap.records) == total
    counts = _snap(config, "delegations").by_key["HCM"]
    assert (counts["confirmed"], counts["waitlisted"]) == ("100", str(5 + 5_000 - 100))


def test_second_sync_of_messy_input_writes_nothing_but_its_log_row(seeded_server, seeded_config) -> None:
    config = seeded_config
    _submit(seeded_server, config, [_answers(i, delegation=NAMES["BPC"]) for i in range(22)]
            + [_answers(50, email="sai-dinh-dang"), _answers(51, email="NGUOI1@thpt.example")])
    first = _sync(config)
    assert first.figures[WAITLISTED] == 3 and first.figures[INVALID] == 1
    before = seeded_server.store.last_request_seq()
    second = _sync(config)
    writes = _writes(seeded_server, before)
    assert second.figures["dòng mới"] == second.figures["dòng cập nhật"] == 0
    assert second.figures["đoàn cập nhật số liệu"] == 0 and second.figures["xác nhận mới"] == 0
    assert len(writes) == 1 and "Nhật ký" in unquote(writes[0]["path"])


def test_staff_sort_notes_and_ticks_between_syncs_stay_with_their_people(seeded_server, seeded_config) -> None:
    config = seeded_config
    _submit(seeded_server, config, [_answers(200 + i, delegation=NAMES["CTO"]) for i in range(20)])
    _sync(config)
    snap = _snap(config)
    cto = [r for r in snap.records if r["delegation"] == "CTO"]
    waiting = [r.key for r in cto if r["status"] == WAITLISTED]
    confirmed = [r for r in cto if r["status"] == CONFIRMED]
    assert len(waiting) == 2
    gone = confirmed[3].key
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        tab = sh.worksheet(config.sheets.registrations.tab)
        notes_col, withdrawn_col = snap.columns["notes"] + 1, snap.columns["withdrawn"] + 1
        noted = {r.key: f"Đã gọi điện lần {i + 1}" for i, r in enumerate(confirmed[:6])}
        for r in confirmed[:6]:
            tab.update_cell(r.row, notes_col, noted[r.key])
        tab.update_cell(snap.by_key[gone].row, withdrawn_col, True)
        # Sort every column by name, Z first: every row moves.
        last = col_letter(len(snap.header) - 1)      # the whole row, the last column included
        tab.sort((snap.columns["full_name"] + 1, "des"), range=f"A2:{last}{len(snap.records) + 1}")
    codes = {r.key: r["checkin_code"] for r in snap.records}
    _submit(seeded_server, config, [_answers(300, delegation=NAMES["CTO"])])
    _sync(config)
    after = _snap(config)
    assert all(after.by_key[k]["notes"] == note for k, note in noted.items())
    assert after.by_key[gone]["withdrawn"] == "TRUE" and after.by_key[gone]["status"] == ""
    assert after.by_key[gone]["checkin_code"] == VOID_MARKS[0] + codes[gone]
    assert [after.by_key[k]["status"] for k in waiting] == [CONFIRMED, WAITLISTED]
    assert all(after.by_key[k]["checkin_code"] == c for k, c in codes.items() if c and k != gone)
    for r in snap.records:
        assert after.by_key[r.key]["full_name"] == r["full_name"]
        assert after.by_key[r.key]["email"] == r["email"]


def test_dry_run_prints_the_plan_without_personal_data_and_writes_nothing(seeded, seeded_server,
                                                                         seeded_config) -> None:
    before = seeded_server.store.last_request_seq()
    proc = run_cli("--config", str(seeded / "config.yaml"), "sync-registrations", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "kế hoạch" in proc.stdout and "thêm dòng mới" in proc.stdout
    assert "Trạng thái: Đã xác nhận" in proc.stdout and "Trạng thái: Trùng lặp" in proc.stdout
    assert "cập nhật số liệu đoàn" in proc.stdout
    assert "@" not in proc.stdout and "+84" not in proc.stdout
    assert _writes(seeded_server, before) == []
    assert _snap(seeded_config).records == []


def test_decide_values_the_job_worked_out_follow_khach_moi_not_taken_as_corrections() -> None:
    answer = _response(1, email="giamdoc@sgddt.example", delegation="")   # no code typed
    first = decide([answer], _lookup(5), {}, "UTC", _codes())
    assert (first.rows["R001"]["invitee_code"], first.rows["R001"]["delegation"]) == ("KM001", "BRVT")
    moved = build_lookup(   # staff move the invitee to KHAC in Khách mời
        invitees=[{"key": "KM001", "email": "giamdoc@sgddt.example", "delegation": "KHAC"}],
        delegations=[{"key": "BRVT", "name": "Sở GDĐT Bà Rịa – Vũng Tàu", "quota": "5"},
                     {"key": "KHAC", "name": "Đại biểu khác", "quota": ""}], labels=LABELS)
    out = decide([answer], moved, first.rows, "UTC", _codes())
    assert out.rows["R001"]["delegation"] == "KHAC" and out.counts["BRVT"]["registered"] == 0
    # A field the person typed, corrected by staff, is still kept.
    typed = _response(2, delegation="Sở GDĐT Bà Rịa – Vũng Tàu")
    base = decide([typed], moved, {}, "UTC", _codes())
    sheet = {"R002": {**base.rows["R002"], "delegation": "KHAC"}}
    assert decide([typed], moved, sheet, "UTC", _codes()).rows["R002"]["delegation"] == "KHAC"
