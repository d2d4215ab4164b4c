"""`privacy export EMAIL` (Decree 13/2023/NĐ-CP: a person may see what is held
about them): every row naming the address, the letters to or copying it with
their text, the generated documents naming the person; nothing logged."""
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import child_env, open_ws, run_cli, run_job_as_cli
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
