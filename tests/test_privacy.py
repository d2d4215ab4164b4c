"""`privacy export EMAIL` (Decree 13/2023/NĐ-CP: a person may see what is held
about them): every row naming the address, the letters to or copying it with
their text, the generated documents naming the person; nothing logged."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.conftest import child_env, mailbox_counts, open_ws, run_cli, run_job_as_cli
from workflows.jobs import load_config
from workspace.table import KeyedTable


def _export(seeded: Path, server, address: str):
    return run_cli("--config", str(seeded / "config.yaml"), "privacy", "export", address,
                   env=child_env(HOITHAO_GOOGLE_URL=server.url))


def test_export_finds_every_row_letter_and_document_of_a_person_and_nothing_of_others(
        seeded: Path, seeded_server) -> None:
    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    run_job_as_cli(config, "sync-registrations")                     # KM001 registered (seed)
    run_job_as_cli(config, "send-invitations", all_invitees=True)
    run_job_as_cli(config, "generate-docs", only="opening_speech")  # names the chairs
    with open_ws(config) as ws:
        invitee = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.invitees,
                             "invitees").read().by_key["KM001"]
    address = invitee["email"]
    out = _export(seeded, seeded_server, address.upper())             # as a person may type it
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""                                           # nothing of theirs logged
    found = json.loads(out.stdout)
    assert found["schema"] == 1 and found["email"] == address
    assert [r["Mã khách mời"] for r in found["sheets"]["Khách mời"]] == ["KM001"]
    assert [r["Email"] for r in found["sheets"]["Đăng ký"]] == [address]
    assert {r["Loại"] for r in found["sheets"]["Hộp thư đi"]} == {"Xác nhận đăng ký"}
    assert {m["kind"] for m in found["outbox"]} == {"xac-nhan"}
    assert all(invitee["full_name"] in m["text"] for m in found["outbox"])
    assert [d["code"] for d in found["documents"]] == ["phat-bieu-khai-mac"]
    assert found["documents"][0]["names"] == [invitee["full_name"]]

    nobody = json.loads(_export(seeded, seeded_server, "khong.ai@khach-moi.example").stdout)
    assert nobody["sheets"] == {} and nobody["outbox"] == [] and nobody["documents"] == []
    bad = _export(seeded, seeded_server, "không phải email")
    assert bad.returncode == 2 and "không phải một địa chỉ email" in bad.stderr


def test_a_reviewer_sees_their_own_entry_and_not_the_author_or_the_other_reviewer(
        seeded: Path, seeded_server) -> None:
    config = load_config(seeded / "config.yaml", environ={})
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        table = KeyedTable(sh, config.sheets.papers, "papers")
        table.write({"TL02": {"reviewer": "TS. Phan Bích Hương (huong.pb@khach-moi.example);\n"
                                           "mailto:vinh.lq@khach-moi.example."}}, owned=("reviewer",))
        author = table.read().by_key["TL02"]["email"]
    found = json.loads(_export(seeded, seeded_server, "HUONG.PB@khach-moi.example").stdout)
    (row,) = found["sheets"]["Tham luận"]
    assert row["Mã tham luận"] == "TL02" and row["Người phản biện"] == "TS. Phan Bích Hương <huong.pb@khach-moi.example>"
    assert author not in json.dumps(found) and "vinh.lq" not in json.dumps(found)
    other = json.loads(_export(seeded, seeded_server, "vinh.lq@khach-moi.example").stdout)
    assert [r["Mã tham luận"] for r in other["sheets"]["Tham luận"]] == ["TL02"]


# -- erase and purge --------------------------------------------------------------------

def _all_cells(config) -> str:
    """Every cell of every tab, as one text."""
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id)
        return "\n".join("\t".join(map(str, row)) for w in sheet.worksheets() for row in w.get_all_values())


def _ledger_bytes(config) -> bytes:
    path = config.resolve(config.mail.ledger)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _counts(config) -> dict[str, tuple[str, str, str]]:
    with open_ws(config) as ws:
        snap = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.delegations,
                          "delegations").read()
    return {r.key: (r["registered"], r["confirmed"], r["waitlisted"]) for r in snap.records}


def _sent_to(server, address: str) -> int:
    return mailbox_counts(server.store)[address]


def test_erase_leaves_nothing_to_export_keeps_the_counts_and_is_never_copied_again(
        seeded: Path, seeded_server) -> None:
    from workspace import outbox
    from workspace.outbox import open_ledger

    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    run_job_as_cli(config, "sync-registrations")
    run_job_as_cli(config, "send-invitations", all_invitees=True)
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        invitee = KeyedTable(sh, config.sheets.invitees, "invitees").read().by_key["KM001"]
        address, name = invitee["email"], invitee["full_name"]
        # The same person also reviews a paper, beside a colleague.
        KeyedTable(sh, config.sheets.papers, "papers").write(
            {"TL02": {"reviewer": f"{name} <{address}>;\nTS. Phan Bích Hương <huong.pb@khach-moi.example>"}},
            owned=("reviewer",))
        regs = KeyedTable(sh, config.sheets.registrations, "registrations").read()
    (reg,) = [r for r in regs.records if r["email"] == address]
    counts = _counts(config)
    with open_ledger(config, readonly=True) as ledger:
        keys = ledger.keys()
    sent_before = _sent_to(seeded_server, address)
    assert sent_before == 1 and address in _all_cells(config) and address.encode() in _ledger_bytes(config)

    out = run_cli("--config", str(seeded / "config.yaml"), "privacy", "erase", address.upper(),
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url, HOITHAO_MAIL__LETTER_TEMPLATE=""))
    assert out.returncode == 0, out.stderr
    assert address not in out.stdout + out.stderr and name not in out.stdout + out.stderr
    assert reg.key in out.stdout and "Forms API không cho xoá phản hồi" in out.stdout

    found = json.loads(_export(seeded, seeded_server, address).stdout)
    assert found["sheets"] == {} and found["outbox"] == [] and found["documents"] == []
    cells = _all_cells(config)
    assert address not in cells.lower() and name not in cells
    assert "huong.pb@khach-moi.example" in cells                      # the colleague stays
    ledger_bytes = _ledger_bytes(config)
    assert address.encode() not in ledger_bytes and name.encode() not in ledger_bytes
    with open_ledger(config, readonly=True) as ledger:
        assert ledger.keys() == keys                                  # exactly-once kept
        erased = [m for m in ledger.in_state(*outbox.LABELS) if m.email == outbox.ERASED]
    assert [m.kind for m in erased] == ["xac-nhan"]   # registered before any invitation

    # The next runs never copy the person back, count them as before, and write to nobody.
    run_job_as_cli(config, "sync-registrations")
    sent = run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    assert _counts(config) == counts
    with open_ws(config) as ws:
        row = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.registrations,
                         "registrations").read().by_key[reg.key]
    assert (row["full_name"], row["email"], row["phone"]) == (outbox.ERASED, "", "")
    assert row["status"] == reg["status"] and row["checkin_code"] == reg["checkin_code"]
    assert row["problem"].startswith("Đã xoá dữ liệu cá nhân theo yêu cầu")
    assert sent.figures["đã gửi"] == 0 and _sent_to(seeded_server, address) == sent_before
    cells = _all_cells(config)
    assert address not in cells.lower() and name not in cells
    with open_ledger(config, readonly=True) as ledger:
        assert ledger.keys() == keys
    runs = [line for line in cells.splitlines() if "privacy-erase" in line]
    assert len(runs) == 1 and "Thành công" in runs[0]


def test_an_erased_persons_unsent_letter_is_cancelled(seeded: Path, seeded_server) -> None:
    from workspace import outbox
    from workspace.outbox import open_ledger

    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    run_job_as_cli(config, "sync-registrations")                      # confirmations queued
    with open_ledger(config, readonly=True) as ledger:
        letter = next(m for m in ledger.in_state(outbox.QUEUED) if m.kind == "xac-nhan")
    out = run_cli("--config", str(seeded / "config.yaml"), "privacy", "erase", letter.email,
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 0, out.stderr
    with open_ledger(config, readonly=True) as ledger:
        after = ledger.get(letter.key)
    assert after.state == outbox.CANCELLED and after.email == outbox.ERASED
    assert after.error.startswith("Đã huỷ: dữ liệu người nhận đã xoá theo yêu cầu")
    assert run_job_as_cli(config, "send-outbox", sleep=lambda s: None).figures["đã gửi"] == 27
    assert _sent_to(seeded_server, letter.email) == 0
    assert run_cli("--config", str(seeded / "config.yaml"), "send-outbox", "--resend", letter.key,
                   env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url)).returncode != 0


def test_purge_erases_old_letters_and_no_letter_goes_again(seeded: Path, seeded_server) -> None:
    import time

    from workflows.base import JobContext, run_job
    from workflows.privacy import PURGE_JOB, PurgeOptions
    from workspace import outbox
    from workspace.outbox import open_ledger

    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    assert config.privacy.retention_days == 400
    run_job_as_cli(config, "sync-registrations")
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    with open_ledger(config, readonly=True) as ledger:
        before = {m.key: m for m in ledger.in_state(*outbox.LABELS)}

    def purge(days_later: float, until: dt.date, dry_run: bool = False):
        with open_ws(config) as ws:
            ctx = JobContext(config=config, ws=ws, dry_run=dry_run,
                             clock=lambda: time.time() + days_later * 86_400)
            return run_job(PURGE_JOB, ctx, PurgeOptions(config.privacy.retention_days, until))

    later = dt.date(2099, 12, 31)
    assert purge(399, later).figures["thư đã xoá nội dung"] == 0        # within the retention
    # The keeping time the consent text promised (retain_until, past) is over: all of it.
    assert config.privacy.retain_until == dt.date(2025, 12, 31)
    assert len(purge(0, config.privacy.retain_until, dry_run=True).plan) == 28
    assert purge(401, later).figures["thư đã xoá nội dung"] == len(before) == 28
    with open_ledger(config, readonly=True) as ledger:
        after = {m.key: m for m in ledger.in_state(*outbox.LABELS)}
    assert after.keys() == before.keys()
    assert all(m.email == outbox.ERASED and m.state == before[m.key].state for m in after.values())
    ledger_bytes = _ledger_bytes(config)
    assert not any(m.email.encode() in ledger_bytes for m in before.values())
    again = run_job_as_cli(config, "sync-registrations")
    assert again.figures["thư xác nhận xếp hàng"] == 0                 # nobody is written to twice
    assert run_job_as_cli(config, "send-outbox", sleep=lambda s: None).figures["đã gửi"] == 0


def test_an_erased_persons_place_is_kept_after_their_form_response_is_deleted_by_hand(
        seeded: Path, seeded_server) -> None:
    """The erase note asks staff to delete the response in Google Forms; then
    the row has no response, and still holds its place: nobody moves up, no
    count moves, no letter goes."""
    from sandbox.api.forms_responses import submit_responses
    from tests.conftest import registration_answers
    from workspace import outbox
    from workspace.outbox import open_ledger

    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": ""})
    run_job_as_cli(config, "sync-registrations")
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        delegations = KeyedTable(sh, config.sheets.delegations, "delegations")
        code = next(r.key for r in delegations.read().records if r["confirmed"] == "2")
        delegations.write({code: {"quota": 2}}, owned=("quota",))          # full: the next waits
    form = config.google.forms.registration
    submit_responses(seeded_server.store, form.id, [{form.fields[k]: v for k, v in registration_answers(
        901, delegation=code).items()}])
    run_job_as_cli(config, "sync-registrations")
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    counts = _counts(config)
    assert counts[code] == ("3", "2", "1")
    with open_ws(config) as ws:
        regs = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.registrations,
                          "registrations").read()
    names = {r["email"]: r for r in regs.records}
    (waiting,) = [r for r in regs.records if r["email"] == "nguoi901@thpt.example"]
    assert waiting["status"] == "Danh sách chờ"
    confirmed = next(r for r in regs.records if r["status"] == "Đã xác nhận" and r.key != waiting.key
                     and r["delegation"] == waiting["delegation"])
    assert names[confirmed["email"]] is confirmed
    out = run_cli("--config", str(seeded / "config.yaml"), "privacy", "erase", confirmed["email"],
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 0, out.stderr
    with seeded_server.store.transaction() as db:                     # a person, in Google Forms
        db.execute("DELETE FROM forms_responses WHERE response_id = ?", (confirmed.key,))
    with open_ledger(config, readonly=True) as ledger:
        keys = ledger.keys()
    synced = run_job_as_cli(config, "sync-registrations")
    assert _counts(config) == counts
    assert synced.figures["xác nhận mới"] == 0
    with open_ws(config) as ws:
        rows = KeyedTable(ws.spreadsheet(config.google.spreadsheet_id), config.sheets.registrations,
                          "registrations").read().by_key
    assert rows[waiting.key]["status"] == "Danh sách chờ"
    assert rows[confirmed.key]["full_name"] == outbox.ERASED and rows[confirmed.key]["status"] == "Đã xác nhận"
    with open_ledger(config, readonly=True) as ledger:
        assert ledger.keys() == keys
    assert run_job_as_cli(config, "send-outbox", sleep=lambda s: None).figures["đã gửi"] == 0


def test_an_erased_message_gmail_may_have_sent_is_never_handed_to_gmail_again(
        seeded: Path, seeded_server) -> None:
    import sqlite3

    from workspace import outbox
    from workspace.outbox import open_ledger

    config = load_config(seeded / "config.yaml", environ={"HOITHAO_MAIL__LETTER_TEMPLATE": "",
                                                          "HOITHAO_MAIL__LOOKUP_AFTER_S": "0"})
    run_job_as_cli(config, "sync-registrations")
    with open_ledger(config, readonly=True) as ledger:
        letter = next(m for m in ledger.in_state(outbox.QUEUED) if m.kind == "xac-nhan")
    db = sqlite3.connect(config.resolve(config.mail.ledger))   # as a run killed mid-send leaves it
    with db:
        db.execute("UPDATE messages SET state = ?, message_id = ?, attempts = 1 WHERE key = ?",
                   (outbox.UNKNOWN, "<khong-ro@hoithao.local>", letter.key))
    db.close()
    assert run_cli("--config", str(seeded / "config.yaml"), "privacy", "erase", letter.email,
                   env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url)).returncode == 0
    run_job_as_cli(config, "send-outbox", sleep=lambda s: None)
    with open_ledger(config, readonly=True) as ledger:
        after = ledger.get(letter.key)
    assert (after.state, after.attempts, after.email) == (outbox.CANCELLED, 1, outbox.ERASED)
    assert _sent_to(seeded_server, letter.email) == 0


def test_erase_replaces_whole_names_only_and_keeps_a_letter_to_others_readable() -> None:
    import email
    import email.policy

    from workflows.letters import POLICY, misread
    from workflows.privacy import _scrub, _scrubbed

    names = {"Nguyễn Văn An"}
    assert _scrub("Kính gửi Nguyễn Văn Anh và Nguyễn Văn An.", "an.nv@x.example", names) == \
        "Kính gửi Nguyễn Văn Anh và (đã xoá)."
    subject = ("Danh sách tham luận chưa nộp của Sở Giáo dục và Đào tạo tỉnh Bà Rịa - Vũng Tàu: "
               "Nguyễn Văn An, Trần Thị Bình")
    msg = email.message.EmailMessage(policy=POLICY)
    msg["To"] = "Trưởng phòng <truong.phong@x.example>"
    msg["Cc"] = "Nguyễn Văn An <an.nv@x.example>, Lê Hà <ha.le@x.example>"
    msg["Subject"] = subject
    msg.set_content("Các tác giả: Nguyễn Văn An; Trần Thị Bình.")
    msg.add_alternative("<p>Các tác giả: Nguyễn Văn An; Trần Thị Bình.</p>", subtype="html")
    new_subject, raw = _scrubbed(msg.as_bytes(policy=POLICY), "an.nv@x.example", names)
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert new_subject == subject.replace("Nguyễn Văn An", "(đã xoá)") == str(back["Subject"])
    assert [a.addr_spec for a in back["Cc"].addresses] == ["ha.le@x.example"]
    assert back.get_body(("plain",)).get_content().strip() == "Các tác giả: (đã xoá); Trần Thị Bình."
    assert "(đã xoá)" in back.get_body(("html",)).get_content()
    assert misread(raw, "Trưởng phòng", new_subject) is None
    assert b"an.nv@x.example" not in raw and "Nguyễn Văn An".encode() not in raw
