"""sync-registrations on the seeded 2024 workshop, with the real clients."""
from __future__ import annotations

import email
import email.policy
import time
import unicodedata
from urllib.parse import unquote

from sandbox.api.forms_responses import submit_responses
from sandbox.seed_data import DELEGATIONS
from tests.conftest import open_ws, registration_answers as _answers, run_job_as_cli
from workflows import confirmations
from workspace import outbox
from workspace.outbox import message_key, open_ledger
from workspace.table import KeyedTable, col_letter, quote_tab

DELEGATION_NAMES = {code: name for code, name, _, _ in DELEGATIONS}
WRITES = {"sheets.spreadsheets.values.batchUpdate", "sheets.spreadsheets.values.append",
          "sheets.spreadsheets.values.update", "sheets.spreadsheets.batchUpdate",
          "sheets.spreadsheets.values.clear", "sheets.spreadsheets.values.batchClear"}


def _sync(config):
    return run_job_as_cli(config, "sync-registrations")


def _registrations(config):
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return KeyedTable(sh, config.sheets.registrations, "registrations").read()


def test_sync_fills_registrations_from_form(seeded_server, seeded_config) -> None:
    result = _sync(seeded_config)
    snap = _registrations(seeded_config)
    assert result.figures["dòng mới"] == len(snap.records) == 29
    first = snap.records[0]
    assert first["full_name"] and first["email"] and first["submitted_at"]
    assert all(unicodedata.is_normalized("NFC", r["full_name"]) for r in snap.records)


def test_second_sync_writes_nothing_but_its_log_row(seeded_server, seeded_config) -> None:
    _sync(seeded_config)
    before = seeded_server.store.last_request_seq()
    result = _sync(seeded_config)
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert result.figures["dòng mới"] == 0 and result.figures["dòng cập nhật"] == 0
    # The only write of the second run is its own row in the run log.
    assert len(writes) == 1
    assert writes[0]["method_id"] == "sheets.spreadsheets.values.append"
    assert "Nhật ký" in unquote(writes[0]["path"])


def test_sync_request_count_does_not_grow_with_responses(seeded_server, seeded_config) -> None:
    _sync(seeded_config)
    form_id = seeded_config.google.forms.registration.id
    fields = seeded_config.google.forms.registration.fields
    people = [{fields["full_name"]: f"Người Thứ {i}", fields["honorific"]: "Ông",
               fields["position"]: "Giáo viên", fields["unit"]: "Trường THPT Lê Quý Đôn",
               fields["delegation"]: "Sở GDĐT Thành phố Hồ Chí Minh",
               fields["email"]: f"nguoi{i}@thpt.example", fields["phone"]: f"0912{i:06d}",
               fields["consent"]: "Tôi đồng ý"} for i in range(500)]
    submit_responses(seeded_server.store, form_id, people)
    before = seeded_server.store.last_request_seq()
    _sync(seeded_config)
    calls = [r for r in seeded_server.store.requests(before) if r["api"] in ("sheets", "forms")]
    # forms.get + 1 page, spreadsheet open, 1 batch read; Đăng ký re-read + update + verify +
    # append; Đoàn re-read + update + verify; Hộp thư đi mirror (2 reads + append) for the new
    # confirmations; run log header + append; after each append to a tab with tick boxes
    # (Đăng ký, Hộp thư đi), its sheet id and one setDataValidation: at most 20, whatever
    # the number of rows.
    assert len(calls) <= 20, "\n".join(r["method_id"] for r in calls)
    assert len(_registrations(seeded_config).records) == 529


def test_staff_sort_and_notes_between_syncs_keep_rows_with_their_keys(seeded_server, seeded_config) -> None:
    config = seeded_config
    _sync(config)
    fields = config.google.forms.registration.fields
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        ws_tab = sh.worksheet(config.sheets.registrations.tab)
        snap = KeyedTable(sh, config.sheets.registrations, "registrations").read()
        notes_col = snap.columns["notes"] + 1
        # A member of staff types a note beside a few people, ticks one confirmed
        # person's withdrawal, then sorts the whole table (every column) by name, Z first.
        noted = {r.key: f"Gọi lại lúc {i + 8} giờ" for i, r in enumerate(snap.records[:5])}
        for r in snap.records[:5]:
            ws_tab.update_cell(r.row, notes_col, noted[r.key])
        gone = next(r for r in snap.records[5:] if r["status"] == "Đã xác nhận")
        ws_tab.update_cell(gone.row, snap.columns["withdrawn"] + 1, True)
        last = col_letter(len(snap.header) - 1)
        assert last == col_letter(max(snap.columns.values()))
        ws_tab.sort((snap.columns["full_name"] + 1, "des"), range=f"A2:{last}{len(snap.records) + 1}")
    _later()
    # Meanwhile someone corrects their answer and a new person registers.
    victim = snap.records[3]
    form_id = config.google.forms.registration.id
    submit_responses(seeded_server.store, form_id, [{
        fields["full_name"]: victim["full_name"], fields["honorific"]: victim["honorific"],
        fields["position"]: "Phó Hiệu trưởng", fields["unit"]: victim["unit"],
        # The sheet shows the delegation's code; the form's dropdown offers its name.
        fields["delegation"]: DELEGATION_NAMES[victim["delegation"]], fields["email"]: victim["email"],
        fields["phone"]: victim["phone"], fields["consent"]: "Tôi đồng ý"}],
        edit_response_id=victim.key)
    submit_responses(seeded_server.store, form_id, [{
        fields["full_name"]: "Trương Mỹ Lan Anh", fields["honorific"]: "Bà",
        fields["position"]: "Giáo viên", fields["unit"]: "Trường THCS Hoa Lư",
        fields["delegation"]: "Sở GDĐT Thành phố Hồ Chí Minh", fields["email"]: "lananh@thcs.example",
        fields["phone"]: "0903123456", fields["consent"]: "Tôi đồng ý"}])
    _sync(config)
    after = _registrations(config)
    assert len(after.records) == 30
    for key, note in noted.items():
        assert after.by_key[key]["notes"] == note
    assert after.by_key[gone.key]["withdrawn"] == "TRUE" and after.by_key[gone.key]["status"] == ""
    assert after.by_key[gone.key]["checkin_code"] == "Đã huỷ: " + gone["checkin_code"]
    assert sum(r["withdrawn"] == "TRUE" for r in after.records) == 1
    assert after.by_key[victim.key]["position"] == "Phó Hiệu trưởng"
    for r in snap.records:
        if r.key != victim.key:
            now = after.by_key[r.key]
            assert (now["full_name"], now["email"], now["position"], now["submitted_at"]) == (
                r["full_name"], r["email"], r["position"], r["submitted_at"])
            if r.key != gone.key and r["status"] == "Đã xác nhận":
                assert now["checkin_code"] == r["checkin_code"]


def test_logs_carry_no_personal_data(seeded_server, seeded_config, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    _sync(seeded_config)
    snap = _registrations(seeded_config)
    text = caplog.text
    for r in snap.records:
        assert r["email"] not in text and r["full_name"] not in text
        assert r["phone"] not in text


def test_dry_run_writes_nothing(seeded_server, seeded_config) -> None:
    before = seeded_server.store.last_request_seq()
    result = run_job_as_cli(seeded_config, "sync-registrations", dry_run=True)
    new_rows = [c for c in result.plan if c.action == "thêm dòng mới"]
    assert result.figures["dòng mới"] == 29 and len(new_rows) == 29
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert writes == []
    assert result.figures["thư xác nhận xếp hàng"] == result.figures["Đã xác nhận"] > 0
    assert not seeded_config.resolve(seeded_config.mail.ledger).exists()   # no outbox made


# -- confirmations, corrections, re-submissions, the sheet's shape (review of issue #4) ----

def _submit(server, config, people, edit=None):
    form = config.google.forms.registration
    titled = [{form.fields[k]: v for k, v in p.items() if v != ""} for p in people]
    return submit_responses(server.store, form.id, titled, edit_response_id=edit)


def _later() -> None:
    """`Thời gian gửi` shows whole seconds: an edit made in the same second as
    the submission it edits would look unedited. People take longer than that."""
    time.sleep(1.05)


def _confirmation_keys(config) -> set[str]:
    with open_ledger(config) as ledger:
        return ledger.keys(confirmations.CONFIRMATION)


def _set_cell(config, tab_name: str, key: str, field: str, value) -> None:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        table = getattr(config.sheets, tab_name)
        snap = KeyedTable(sh, table, tab_name).read()
        cell = f"{quote_tab(table.tab)}!{col_letter(snap.columns[field])}{snap.by_key[key].row}"
        sh.values_update(cell, params={"valueInputOption": "USER_ENTERED"}, body={"values": [[value]]})


def test_edit_of_a_first_response_queues_no_second_confirmation(seeded_server, seeded_config) -> None:
    config = seeded_config
    r1, r2 = _submit(seeded_server, config, [_answers(1), _answers(2, email="nguoi1@thpt.example")])
    _sync(config)
    before = _confirmation_keys(config)
    assert message_key(confirmations.CONFIRMATION, r1) in before
    _later()
    _submit(seeded_server, config, [_answers(1, position="Tổ trưởng chuyên môn")], edit=r1)
    result = _sync(config)
    snap = _registrations(config)
    assert (snap.by_key[r1]["status"], snap.by_key[r1]["position"]) == ("Đã xác nhận", "Tổ trưởng chuyên môn")
    assert snap.by_key[r2]["status"] == "Trùng lặp" and not snap.by_key[r2]["checkin_code"]
    assert _confirmation_keys(config) == before          # still one letter for this person
    assert message_key(confirmations.CONFIRMATION, r2) not in before
    assert result.figures["xác nhận mới"] == 0


def test_bad_resubmission_keeps_the_place_and_emails_nobody_new(seeded_server, seeded_config) -> None:
    config = seeded_config
    _sync(config)
    seeded = sum(r["delegation"] == "BPC" for r in _registrations(config).records)
    _set_cell(config, "delegations", "BPC", "quota", seeded + 2)
    a, b, c = _submit(seeded_server, config, [_answers(i, "BPC") for i in (1, 2, 3)])
    _sync(config)
    code = _registrations(config).by_key[a]["checkin_code"]
    letters = _confirmation_keys(config)
    assert message_key(confirmations.CONFIRMATION, c) not in letters

    typo, = _submit(seeded_server, config, [_answers(1, "BPC", phone="09")])
    _sync(config)
    snap = _registrations(config)
    assert (snap.by_key[a]["status"], snap.by_key[a]["checkin_code"]) == ("Đã xác nhận", code)
    assert snap.by_key[typo]["status"] == "Không hợp lệ" and a in snap.by_key[typo]["problem"]
    assert snap.by_key[c]["status"] == "Danh sách chờ"
    assert _confirmation_keys(config) == letters

    fixed, = _submit(seeded_server, config, [_answers(1, "BPC", phone="0913 999 001")])
    _sync(config)
    snap = _registrations(config)
    assert (snap.by_key[fixed]["status"], snap.by_key[fixed]["checkin_code"]) == ("Đã xác nhận", code)
    assert snap.by_key[a]["status"] == snap.by_key[typo]["status"] == "Trùng lặp"
    assert snap.by_key[c]["status"] == "Danh sách chờ" and not snap.by_key[c]["checkin_code"]
    assert _confirmation_keys(config) == letters


def test_staff_correction_kept_until_the_person_edits(seeded_server, seeded_config) -> None:
    config = seeded_config
    key, = _submit(seeded_server, config, [_answers(1, email="nguoi1@thpt.exmaple")])
    _sync(config)
    _set_cell(config, "registrations", key, "email", "nguoi1@thpt.example")   # staff fix a typo
    _set_cell(config, "registrations", key, "full_name", "Nguyễn Thị Thứ Nhất")
    _sync(config)
    row = _registrations(config).by_key[key]
    assert (row["email"], row["full_name"]) == ("nguoi1@thpt.example", "Nguyễn Thị Thứ Nhất")
    before = seeded_server.store.last_request_seq()
    _sync(config)
    assert len([r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]) == 1
    _later()
    _submit(seeded_server, config, [_answers(1, email="moi@thpt.example")], edit=key)
    _sync(config)
    row = _registrations(config).by_key[key]
    assert (row["email"], row["full_name"]) == ("moi@thpt.example", "Người Thứ 1")


def test_sync_works_on_a_sheet_without_the_withdrawal_column(seeded_server, seeded_config) -> None:
    config = seeded_config
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        tab = sh.worksheet(config.sheets.registrations.tab)
        column = tab.row_values(1).index(config.sheets.registrations.columns["withdrawn"])
        sh.batch_update({"requests": [{"deleteDimension": {"range": {
            "sheetId": tab.id, "dimension": "COLUMNS", "startIndex": column, "endIndex": column + 1}}}]})
        assert "Rút đăng ký" not in tab.row_values(1)
    result = _sync(config)
    snap = _registrations(config)
    assert "withdrawn" not in snap.columns and len(snap.records) == 29
    assert result.figures["Đã xác nhận"] > 0
    assert any("Rút đăng ký" in n for n in result.notes)
    before = seeded_server.store.last_request_seq()
    second = _sync(config)
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert second.figures["dòng cập nhật"] == 0 and len(writes) == 1


def test_sync_reports_rows_with_a_repeated_or_missing_key(seeded_server, seeded_config) -> None:
    config = seeded_config
    _sync(config)
    snap = _registrations(config)
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        tab = quote_tab(config.sheets.registrations.tab)
        width = len(snap.header)
        # Staff copy a row (its key too) and type a note on a row without a key.
        line = [""] * width
        for f, i in snap.columns.items():
            line[i] = snap.records[0][f]
        blank = [""] * width
        blank[snap.columns["notes"]] = "Khách gọi điện đăng ký"
        sh.values_append(f"{tab}!A1", params={"valueInputOption": "RAW"}, body={"values": [line, blank]})
    result = _sync(config)
    assert result.figures["dòng trùng mã bị bỏ qua"] == 1 and result.figures["dòng thiếu mã bị bỏ qua"] == 1
    assert any(snap.records[0].key in n and "Mã phản hồi" in n for n in result.notes)
    assert any(f"dòng {len(snap.records) + 3}" in n for n in result.notes)
    assert all("@" not in n for n in result.notes)


def test_sync_empty_submission_is_invalid_with_a_sentence(seeded_server, seeded_config) -> None:
    config = seeded_config
    form_id = config.google.forms.registration.id
    with open_ws(config) as ws:
        forms = ws.service("forms", "v1").forms()
        items = forms.get(formId=form_id).execute()["items"]
        # A form whose author left every question optional.
        forms.batchUpdate(formId=form_id, body={"requests": [{"updateItem": {
            "item": {"questionItem": {"question": {"required": False}}}, "location": {"index": n},
            "updateMask": "questionItem.question.required"}} for n in range(len(items))]}).execute()
    key, = submit_responses(seeded_server.store, form_id, [{}])
    result = _sync(config)
    row = _registrations(config).by_key[key]
    assert row["status"] == "Không hợp lệ" and not row["checkin_code"]
    assert row["problem"].startswith("Thiếu Họ và tên") and "Nghị định 13/2023" in row["problem"]
    assert result.figures["Không hợp lệ"] == 1


def test_withdrawal_cancels_the_unsent_confirmation_and_voids_the_code(seeded_server, seeded_config) -> None:
    config = seeded_config
    key, = _submit(seeded_server, config, [_answers(1)])
    _sync(config)
    letter = message_key(confirmations.CONFIRMATION, key)
    with open_ledger(config) as ledger:
        assert ledger.get(letter).state in outbox.CANCELLABLE
    code = _registrations(config).by_key[key]["checkin_code"]
    _set_cell(config, "registrations", key, "withdrawn", True)
    result = _sync(config)
    row = _registrations(config).by_key[key]
    assert row["status"] == "" and row["checkin_code"] == f"Đã huỷ: {code}"
    assert result.figures["thư xác nhận huỷ"] == 1
    with open_ledger(config) as ledger:
        assert ledger.get(letter).state == outbox.CANCELLED


def _invitee(config, code: str) -> dict[str, str]:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return dict(KeyedTable(sh, config.sheets.invitees, "invitees").read().by_key[code].values)


def _invitee_answers(inv: dict[str, str], **over: str) -> dict[str, str]:
    return {"full_name": inv["full_name"], "honorific": inv["honorific"], "position": inv["position"],
            "unit": inv["unit"], "delegation": DELEGATION_NAMES[inv["delegation"]],
            "email": inv["email"], "invitee_code": "KM021", "consent": "Tôi đồng ý", **over}


def _delegation_counts(config, code: str) -> tuple[str, str]:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        row = KeyedTable(sh, config.sheets.delegations, "delegations").read().by_key[code]
    return row["registered"], row["confirmed"]


def test_resubmission_on_the_invitation_link_with_new_email_and_phone_is_one_place(
        seeded_server, seeded_config) -> None:
    # The reviewer's case: KM021 with a typo in the email, then again with the
    # right email and another phone; the second time typed without accents.
    config = seeded_config
    inv = _invitee(config, "KM021")
    typo, = _submit(seeded_server, config, [_invitee_answers(
        inv, email=inv["email"].replace(".example", ".exmaple"), phone="0904315829")])
    _sync(config)
    counts = _delegation_counts(config, inv["delegation"])
    code = _registrations(config).by_key[typo]["checkin_code"]
    assert code and _registrations(config).by_key[typo]["status"] == "Đã xác nhận"
    _later()
    plain = unicodedata.normalize("NFD", inv["full_name"].replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    right, = _submit(seeded_server, config, [_invitee_answers(inv, full_name=plain,
                                                               phone="0904315892")])
    result = _sync(config)
    snap = _registrations(config)
    assert snap.by_key[typo]["status"] == "Trùng lặp" and right in snap.by_key[typo]["problem"]
    assert (snap.by_key[right]["status"], snap.by_key[right]["checkin_code"]) == ("Đã xác nhận", code)
    assert _delegation_counts(config, inv["delegation"]) == counts      # charged once
    assert result.figures["xác nhận mới"] == 0
    with open_ledger(config) as ledger:
        letters = [k for k in ledger.keys(confirmations.CONFIRMATION) if f":{right}:" in k]
        letter = ledger.get(message_key(confirmations.CONFIRMATION, typo))
    assert letters == []                                             # no second letter
    assert (letter.email, letter.state) == (inv["email"], outbox.QUEUED)   # the waiting one, fixed


def test_forwarded_invitation_link_waits_for_staff_with_no_place_and_no_letter(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    inv = _invitee(config, "KM021")
    director, deputy = _submit(seeded_server, config, [
        _invitee_answers(inv, phone="0904315829"),
        _invitee_answers(inv, full_name="Phạm Minh Khôi", email="khoi.pm@thpt.example",
                         phone="0904000111", position="Phó trưởng phòng")])
    _sync(config)
    snap = _registrations(config)
    assert snap.by_key[director]["status"] == "Đã xác nhận"
    assert snap.by_key[deputy]["status"] == "Không hợp lệ" and not snap.by_key[deputy]["checkin_code"]
    assert director in snap.by_key[deputy]["problem"] and "Mã khách mời" in snap.by_key[deputy]["problem"]
    assert message_key(confirmations.CONFIRMATION, deputy) not in _confirmation_keys(config)
    _set_cell(config, "registrations", deputy, "invitee_code", "")   # staff: not the invitee
    _sync(config)
    snap = _registrations(config)
    assert snap.by_key[deputy]["status"] == "Đã xác nhận" and snap.by_key[deputy]["checkin_code"]
    assert message_key(confirmations.CONFIRMATION, deputy) in _confirmation_keys(config)


def test_edited_email_reaches_the_waiting_confirmation(seeded_server, seeded_config) -> None:
    config = seeded_config
    key, = _submit(seeded_server, config, [_answers(1, email="ha.nt@gmial.com")])
    _sync(config)
    letter = message_key(confirmations.CONFIRMATION, key)
    with open_ledger(config) as ledger:
        assert ledger.get(letter).email == "ha.nt@gmial.com"
    _later()
    _submit(seeded_server, config, [_answers(1, email="ha.nt@gmail.com")], edit=key)
    result = _sync(config)
    assert _registrations(config).by_key[key]["email"] == "ha.nt@gmail.com"
    assert result.figures["thư xác nhận làm lại"] == 1
    with open_ledger(config) as ledger:
        assert (ledger.get(letter).email, ledger.get(letter).state) == ("ha.nt@gmail.com", outbox.QUEUED)
        assert ledger.keys(confirmations.CONFIRMATION) >= {letter}
        assert ledger.get(message_key(confirmations.CONFIRMATION, key, 2)) is None


# -- the waiting list (issue 12) -----------------------------------------------------------

def _subjects(config, kind: str) -> dict[str, tuple[str, str]]:
    """Each `kind` message by its person's key: (state, subject)."""
    with open_ledger(config, readonly=True) as ledger:
        return {m.source_key: (m.state, m.subject)
                for m in ledger.in_state(*outbox.LABELS) if m.kind == kind}


def _texts(config, kind: str) -> dict[str, tuple[str, str]]:
    """Each `kind` message by its person's key: (address, plain text on one line)."""
    with open_ledger(config, readonly=True) as ledger:
        return {m.source_key: (m.email, " ".join(email.message_from_bytes(
                    m.raw, policy=email.policy.default).get_body(("plain",)).get_content().split()))
                for m in ledger.in_state(*outbox.LABELS) if m.kind == kind}


def test_the_waiting_list_is_told_once_and_the_one_moved_up_is_told_a_place_opened(
        seeded_server, seeded_config) -> None:
    from workflows import waitlist

    config = seeded_config
    _sync(config)
    _, confirmed = _delegation_counts(config, "TNI")
    _set_cell(config, "delegations", "TNI", "quota", int(confirmed))   # the delegation is now full
    first, second = _submit(seeded_server, config, [_answers(1, "TNI"), _answers(2, "TNI")])
    result = _sync(config)
    assert result.figures["thư danh sách chờ xếp hàng"] == 2
    letters = _texts(config, waitlist.WAITLIST)
    assert "Bà hiện ở vị trí thứ nhất trong danh sách chờ của đoàn" in letters[first][1], letters
    assert "Bà hiện ở vị trí thứ hai trong danh sách chờ của đoàn" in letters[second][1], letters
    assert _subjects(config, waitlist.WAITLIST)[first][1].startswith("Thông báo danh sách chờ tham dự")
    # Before it goes, the second corrects her email: her waiting letter follows.
    _later()
    _submit(seeded_server, config, [_answers(2, "TNI", email="dung.moi@thpt.example")], edit=second)
    assert _sync(config).figures["thư danh sách chờ làm lại"] == 1
    assert _texts(config, waitlist.WAITLIST)[second][0] == "dung.moi@thpt.example"
    # They go; a second sync writes to nobody again.
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    assert _sync(config).figures["thư danh sách chờ xếp hàng"] == 0

    # A confirmed person of the delegation withdraws: the first in line moves up,
    # and is told a place opened; the second, now first, is not written again.
    gone = next(r.key for r in _registrations(config).records
                if r["delegation"] == "TNI" and r["status"] == "Đã xác nhận")
    _set_cell(config, "registrations", gone, "withdrawn", True)
    result = _sync(config)
    rows = _registrations(config).by_key
    assert rows[first]["status"] == "Đã xác nhận" and rows[second]["status"] == "Danh sách chờ"
    assert result.figures["thư danh sách chờ xếp hàng"] == 0
    state, subject = _subjects(config, confirmations.CONFIRMATION)[first]
    assert subject.startswith("Thông báo có chỗ tham dự - xác nhận đăng ký") and state in outbox.CANCELLABLE
    assert "đã được chuyển từ danh sách chờ sang danh sách đại biểu tham dự" in \
        _texts(config, confirmations.CONFIRMATION)[first][1]

    # Someone joins the line and a place opens before their letter went: it is
    # cancelled, never sent, and their confirmation is the plain one.
    third, = _submit(seeded_server, config, [_answers(3, "TNI")])
    _sync(config)
    assert _subjects(config, waitlist.WAITLIST)[third][0] in outbox.CANCELLABLE
    # A quota that cannot be read for a while leaves the waiting letter as it is.
    _set_cell(config, "delegations", "TNI", "quota", "hai mươi?")
    _sync(config)
    assert _subjects(config, waitlist.WAITLIST)[third][0] in outbox.CANCELLABLE
    _set_cell(config, "delegations", "TNI", "quota", int(confirmed) + 2)
    result = _sync(config)
    assert result.figures["thư danh sách chờ huỷ"] == 1
    assert _subjects(config, waitlist.WAITLIST)[third][0] == outbox.CANCELLED
    assert _subjects(config, confirmations.CONFIRMATION)[third][1].startswith("Xác nhận đăng ký")


def test_each_registration_records_the_consent_and_the_version_of_the_text_shown(
        seeded_server, seeded_config) -> None:
    config = seeded_config
    first, = _submit(seeded_server, config, [_answers(1)])
    _sync(config)
    assert _registrations(config).by_key[first]["consent"] == "Tôi đồng ý (điều khoản 2024-09)"
    # The text changes (a new version); the row already recorded keeps what its person saw.
    config = config.model_copy(update={"privacy": config.privacy.model_copy(
        update={"consent_version": "2024-10"})})
    second, = _submit(seeded_server, config, [_answers(2)])
    _sync(config)
    rows = _registrations(config).by_key
    assert rows[first]["consent"] == "Tôi đồng ý (điều khoản 2024-09)"
    assert rows[second]["consent"] == "Tôi đồng ý (điều khoản 2024-10)"
    # The person edits their answers: they were shown the new text.
    _later()
    _submit(seeded_server, config, [_answers(1, position="Hiệu trưởng")], edit=first)
    _sync(config)
    assert _registrations(config).by_key[first]["consent"] == "Tôi đồng ý (điều khoản 2024-10)"


def test_check_fails_a_registration_form_that_does_not_show_the_consent_text(seeded_server,
                                                                              seeded) -> None:
    from tests.conftest import child_env, run_cli

    ok = run_cli("--config", str(seeded / "config.yaml"), "check",
                 env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert "✓ biểu mẫu 'registration': hiển thị điều khoản đồng ý phiên bản 2024-09" in ok.stdout
    changed = run_cli("--config", str(seeded / "config.yaml"), "check",
                      env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url,
                                    HOITHAO_PRIVACY__CONSENT_TEXT="Tôi đồng ý với mọi điều khoản mới."))
    assert changed.returncode == 1
    assert "biểu mẫu đăng ký không hiển thị nguyên văn điều khoản đồng ý" in changed.stdout


def test_one_cut_by_a_lower_quota_is_told_the_code_is_void_and_told_again_when_restored(
        seeded_server, seeded_config) -> None:
    from workflows import waitlist

    config = seeded_config
    _sync(config)
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)        # confirmations went
    _, confirmed = _delegation_counts(config, "TNI")
    _set_cell(config, "delegations", "TNI", "quota", int(confirmed) - 1)
    _sync(config)
    (cut, (_, text)), = _texts(config, waitlist.WAITLIST).items()
    assert "mã check-in đã cấp cho" in text and "tạm thời không còn hiệu lực" in text
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)        # the waiting letter went
    _set_cell(config, "delegations", "TNI", "quota", int(confirmed))
    result = _sync(config)
    assert result.figures["thư xác nhận xếp hàng"] == 1
    with open_ledger(config, readonly=True) as ledger:
        again = ledger.get(message_key(confirmations.CONFIRMATION, cut, 2))   # the next step
    state, subject = again.state, again.subject
    assert subject.startswith("Thông báo có chỗ tham dự - xác nhận") and state in outbox.CANCELLABLE
    code = _registrations(config).by_key
    assert any(r["checkin_code"] and r["checkin_code"] in subject for r in code.values())
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    assert _sync(config).figures["thư xác nhận xếp hàng"] == 0      # told once
