"""The command contract of SPEC section 7, driven as a user would."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import ROOT, child_env, run_cli

COMMANDS = ["demo", "check", "sync-registrations", "send-invitations", "send-outbox",
            "chase-submissions", "generate-docs", "status", "schedule", "sandbox", "privacy"]
SANDBOX_COMMANDS = ["seed", "serve", "submit", "export", "reset"]
PRIVACY_COMMANDS = ["export"]


def test_every_command_has_help() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout, command
        assert run_cli(command, "--help").returncode == 0, command
    for command in SANDBOX_COMMANDS:
        assert run_cli("sandbox", command, "--help").returncode == 0, command
    for command in PRIVACY_COMMANDS:
        assert run_cli("privacy", command, "--help").returncode == 0, command


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS + [f"sandbox {c}" for c in SANDBOX_COMMANDS] + [
            f"privacy {c}" for c in PRIVACY_COMMANDS]:
        assert f"`{command}" in readme, f"README does not describe `{command}`"


def test_readme_has_exactly_the_two_setup_commands() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / ".ci" / "readme_commands.py"),
                          str(ROOT / "README.md")], capture_output=True, text=True, check=True)
    commands = out.stdout.splitlines()
    assert len(commands) == 2
    assert "pip install -r requirements.txt" in commands[0] and "run.py demo" in commands[0]
    assert commands[1] == "python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_commands.py README.md" in ci


def test_bad_usage_exits_2() -> None:
    assert run_cli("no-such-command").returncode == 2
    assert run_cli("send-outbox", "--limit", "zero").returncode == 2


def test_missing_config_is_one_line_exit_1(tmp_path: Path) -> None:
    out = run_cli("--config", str(tmp_path / "nope.yaml"), "sync-registrations")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Không thấy tệp cấu hình" in lines[0] and "Traceback" not in out.stderr


def test_check_reports_all_three_mistakes_with_their_keys(seeded: Path) -> None:
    text = (seeded / "config.yaml").read_text(encoding="utf-8")
    text = text.replace('daily_limit: 2000', 'daily_limit: -5')
    text = text.replace('starts_at: "2024-11-22T08:00:00+07:00"', 'starts_at: "2024-11-22T08:00:00"')
    text = text.replace("  invitees:\n    tab:", "  invitees:\n    colour: red\n    tab:")
    bad = seeded / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    out = run_cli("--config", str(bad), "check")
    assert out.returncode == 1
    report = out.stdout
    assert "mail.daily_limit" in report
    assert "event.starts_at" in report
    assert "sheets.invitees.colour" in report
    assert re.search(r"bad\.yaml dòng \d+: mail\.daily_limit", report)
    assert "3 lỗi" in out.stderr


def test_check_passes_on_the_seeded_sandbox(seeded: Path) -> None:
    out = run_cli("--config", str(seeded / "config.yaml"), "check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "✗" not in out.stdout


def test_check_finds_a_missing_header_and_a_loose_key(seeded: Path) -> None:
    key = seeded / "credentials" / "service-account.json"
    key.chmod(0o644)
    out = run_cli("--config", str(seeded / "config.yaml"), "check")
    assert out.returncode == 1
    assert "chmod 600" in out.stdout


def test_generate_docs_names_its_documents_and_refuses_others(seeded: Path) -> None:
    out = run_cli("--config", str(seeded / "config.yaml"), "generate-docs", "--only", "bai-phat-bieu")
    assert out.returncode == 2 and "phat-bieu-khai-mac" in out.stderr
    out = run_cli("--config", str(seeded / "config.yaml"), "generate-docs", "--dry-run", "--only",
                  "chuong-trinh")
    assert out.returncode == 0, out.stderr
    assert "CHƯƠNG TRÌNH" in out.stdout


def test_sandbox_submit_prints_one_id_a_line_and_is_fast(seeded: Path, tmp_path: Path) -> None:
    answers = [{"full_name": f"Đại Biểu {i}", "honorific": "Bà", "position": "Giáo viên",
                "unit": "Trường THPT Gia Định", "delegation": "Sở GDĐT Thành phố Hồ Chí Minh",
                "email": f"db{i}@thpt.example", "phone": "0912345678", "consent": "Tôi đồng ý"}
               for i in range(10_000)]
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    out = run_cli("sandbox", "submit", "--data", str(seeded), "registration", str(path), timeout=120)
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == 10_000 and len(set(ids)) == 10_000


def test_sandbox_submit_edit_keeps_the_id(seeded: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"full_name": "Lê Văn Tám", "honorific": "Ông", "position": "GV",
                               "unit": "THPT", "delegation": "Sở GDĐT Cần Thơ",
                               "email": "tam@x.example", "phone": "0912345678",
                               "consent": "Tôi đồng ý"}, ensure_ascii=False), encoding="utf-8")
    rid = run_cli("sandbox", "submit", "--data", str(seeded), "registration", str(one)).stdout.strip()
    again = run_cli("sandbox", "submit", "--data", str(seeded), "registration", str(one), "--edit", rid)
    assert again.returncode == 0 and again.stdout.strip() == rid


def test_sandbox_submit_unknown_field_is_exit_1(seeded: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fullname": "x"}), encoding="utf-8")
    out = run_cli("sandbox", "submit", "--data", str(seeded), "registration", str(bad))
    assert out.returncode == 1 and "fullname" in out.stderr


def test_demo_then_export_shows_registrations(tmp_path: Path) -> None:
    data = tmp_path / "sandbox-data"
    out = run_cli("demo", "--data", str(data))
    assert out.returncode == 0, out.stderr
    csv_path = data / "export" / "sheets" / "Đăng ký.csv"
    rows = csv_path.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("Mã phản hồi,")
    assert len(rows) > 20
    assert (data / "export" / "docs").is_dir()
    # The same folder again: nothing is seeded twice, the run is idempotent.
    again = run_cli("demo", "--data", str(data))
    assert again.returncode == 0, again.stderr
    assert len((data / "export" / "sheets" / "Đăng ký.csv").read_text(encoding="utf-8").splitlines()) == len(rows)
    # Nothing the demo wrote for people to read beyond the letters themselves
    # (its output, its log lines, Nhật ký) names a person, an address or a phone.
    import csv
    import re

    personal: set[str] = set()
    for tab, fields in (("Khách mời", ("Họ và tên", "Email", "Điện thoại")),
                        ("Đăng ký", ("Họ và tên", "Email", "Điện thoại")),
                        ("Tham luận", ("Tác giả", "Email")), ("Báo cáo các phòng", ("Người phụ trách", "Email"))):
        with open(data / "export" / "sheets" / f"{tab}.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                personal |= {row[f].strip() for f in fields if row.get(f, "").strip()}
    phones = {re.sub(r"\D", "", p)[-9:] for p in personal if re.fullmatch(r"[+\d\s.-]{9,}", p)}
    assert len(personal) > 100 and len(phones) > 20
    with open(data / "export" / "sheets" / "Nhật ký.csv", encoding="utf-8") as fh:
        run_log = fh.read()
    for where, text in (("stdout", out.stdout + again.stdout), ("stderr", out.stderr + again.stderr),
                        ("Nhật ký", run_log)):
        leaked = sorted(p for p in personal if p in text)
        numbers = {re.sub(r"\D", "", n)[-9:] for n in re.findall(r"\+?\d[\d .-]{7,}\d", text)}
        leaked += sorted(phones & numbers)
        assert not leaked, f"{where} names {leaked[:5]}"


def test_seed_refuses_a_folder_that_holds_a_sandbox(seeded: Path) -> None:
    out = run_cli("sandbox", "seed", "--data", str(seeded))
    assert out.returncode == 1 and "đã có sandbox" in out.stderr


def test_export_writes_csv_eml_docx(seeded: Path, tmp_path: Path) -> None:
    out = run_cli("sandbox", "export", "--data", str(seeded), "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    sheets = sorted(p.name for p in (tmp_path / "out" / "sheets").iterdir())
    assert "Khách mời.csv" in sheets and "Nhật ký.csv" in sheets and len(sheets) == 9   # with Báo cáo các phòng and Văn bản
    docs = list((tmp_path / "out" / "docs").glob("*.docx"))
    # The seed's five document templates and its invitation letter template.
    assert sorted(d.stem for d in docs) == sorted(
        ["Mẫu - Giấy mời", "Mẫu - Phát biểu khai mạc", "Mẫu - Báo cáo đề dẫn", "Mẫu - Kỷ yếu Hội thảo",
         "Mẫu - Chương trình Hội thảo", "Mẫu - Báo cáo kết quả Hội thảo"]), docs


def test_wrong_spreadsheet_id_is_one_plain_line(seeded: Path) -> None:
    env = child_env(HOITHAO_GOOGLE__SPREADSHEET_ID="khong-co-bang-nay")
    for command in (["sync-registrations"], ["status"]):
        out = run_cli("--config", str(seeded / "config.yaml"), *command, env=env)
        assert out.returncode == 1, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "spreadsheet" in lines[0] and "internal error" not in lines[0]


def test_missing_tab_points_at_check_not_at_retrying(seeded: Path) -> None:
    env = child_env(HOITHAO_SHEETS__REGISTRATIONS__TAB="Dang ky")
    out = run_cli("--config", str(seeded / "config.yaml"), "sync-registrations", env=env)
    assert out.returncode == 1
    assert "chạy `python run.py check`" in out.stderr and "đang bận" not in out.stderr


def test_unreachable_google_is_one_plain_line(seeded: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    env = child_env(HOITHAO_GOOGLE_URL=f"http://127.0.0.1:{port}")
    out = run_cli("--config", str(seeded / "config.yaml"), "status", env=env)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("hoithao: Không kết nối được tới Google")


def test_status_json_is_the_documented_shape_and_names_withdrawals(seeded: Path, seeded_server) -> None:
    import json

    from tests.conftest import open_ws, run_job_as_cli
    from workflows.jobs import load_config
    from workspace.table import KeyedTable, col_letter, quote_tab

    config = load_config(seeded / "config.yaml", environ={})
    run_job_as_cli(config, "sync-registrations")
    with open_ws(config) as ws:   # staff tick Rút đăng ký on one confirmed person
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        table = config.sheets.registrations
        snap = KeyedTable(sh, table, "registrations").read()
        row = next(r for r in snap.records if r["status"] == "Đã xác nhận")
        sh.values_update(f"{quote_tab(table.tab)}!{col_letter(snap.columns['withdrawn'])}{row.row}",
                         params={"valueInputOption": "USER_ENTERED"}, body={"values": [[True]]})
    run_job_as_cli(config, "sync-registrations")
    out = run_cli("--config", str(seeded / "config.yaml"), "status", "--json",
                  env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url))
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout)
    assert state["schema"] == 2
    assert state["registrations"]["by_status"]["Đã rút"] == 1 and "(trống)" not in state["registrations"]["by_status"]
    assert set(state["jobs"]) >= {"sync-registrations", "send-outbox", "generate-docs"}
    sync = state["jobs"]["sync-registrations"]
    assert sync["last_run"]["result"] == "Thành công" and sync["running"] is None
    assert sync["next_run"].endswith("+07:00")                       # the event's time, with its zone
    # An interval job goes on from its last run (the seeded timetable: every 10 minutes).
    import datetime as dt
    finished = dt.datetime.strptime(sync["last_run"]["finished"], "%Y-%m-%d %H:%M:%S")
    assert dt.datetime.fromisoformat(sync["next_run"]).replace(tzinfo=None) - finished == dt.timedelta(minutes=10)
    assert state["jobs"]["generate-docs"]["next_run"] is None         # not on the timetable
    assert state["outbox"]["needs_person"] == 0
    assert [d["code"] for d in state["documents"]] == ["giay-moi"]
    assert state["problem_count"] == len(state["problems"]) + sum(state["problem_rows"].values())
    table = run_cli("--config", str(seeded / "config.yaml"), "status",
                    env=child_env(HOITHAO_GOOGLE_URL=seeded_server.url, COLUMNS="200"))
    assert "Đã rút: 1" in table.stdout and "Lần chạy tới (theo lịch)" in table.stdout, table.stdout


def test_config_given_as_a_folder_says_which_file(seeded: Path) -> None:
    out = run_cli("--config", str(seeded), "status")
    assert out.returncode == 1
    assert "là một thư mục" in out.stderr and "config.yaml" in out.stderr


def test_export_twice_into_one_folder_is_a_fresh_snapshot(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        assert run_cli("sandbox", "export", "--data", str(seeded), "--out", str(out)).returncode == 0
    assert len(list((out / "docs").glob("*.docx"))) == 6
    assert len(list((out / "sheets").glob("*.csv"))) == 9
