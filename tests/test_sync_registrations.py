"""sync-registrations on the seeded 2024 workshop, with the real clients."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from sandbox.api.forms import submit_responses
from sandbox.seed_data import DELEGATIONS
from workflows import sync_registrations
from workflows.base import JobContext, run_job
from workspace.clients import Workspace
from workspace.table import KeyedTable

DELEGATION_NAMES = {code: name for code, name, _, _ in DELEGATIONS}
WRITES = {"sheets.spreadsheets.values.batchUpdate", "sheets.spreadsheets.values.append",
          "sheets.spreadsheets.values.update", "sheets.spreadsheets.batchUpdate",
          "sheets.spreadsheets.values.clear", "sheets.spreadsheets.values.batchClear"}


def _sync(config):
    with Workspace.open(config) as ws:
        return run_job("sync-registrations", sync_registrations.run, JobContext(config=config, ws=ws))


def _registrations(config):
    with Workspace.open(config) as ws:
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
    # forms.get + 1 page, spreadsheet open, 1 batch read, Đăng ký re-read + update + append,
    # Đoàn re-read + update, run log header + append: at most 11, whatever the number of rows.
    assert len(calls) <= 11, [r["method_id"] for r in calls]
    assert len(_registrations(seeded_config).records) == 529


def test_staff_sort_and_notes_between_syncs_keep_rows_with_their_keys(seeded_server, seeded_config) -> None:
    config = seeded_config
    _sync(config)
    fields = config.google.forms.registration.fields
    with Workspace.open(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        ws_tab = sh.worksheet(config.sheets.registrations.tab)
        snap = KeyedTable(sh, config.sheets.registrations, "registrations").read()
        notes_col = snap.columns["notes"] + 1
        # A member of staff types a note beside a few people, then sorts by name, Z first.
        noted = {r.key: f"Gọi lại lúc {i + 8} giờ" for i, r in enumerate(snap.records[:5])}
        for r in snap.records[:5]:
            ws_tab.update_cell(r.row, notes_col, noted[r.key])
        ws_tab.sort((snap.columns["full_name"] + 1, "des"), range=f"A2:N{len(snap.records) + 1}")
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
    assert after.by_key[victim.key]["position"] == "Phó Hiệu trưởng"
    for r in snap.records:
        if r.key != victim.key:
            now = after.by_key[r.key]
            assert (now["full_name"], now["email"], now["position"]) == (
                r["full_name"], r["email"], r["position"])


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
    with Workspace.open(seeded_config) as ws:
        result = run_job("sync-registrations", sync_registrations.run,
                         JobContext(config=seeded_config, ws=ws, dry_run=True))
    new_rows = [c for c in result.plan if c.action == "thêm dòng mới"]
    assert result.figures["dòng mới"] == 29 and len(new_rows) == 29
    writes = [r for r in seeded_server.store.requests(before) if r["method_id"] in WRITES]
    assert writes == []
