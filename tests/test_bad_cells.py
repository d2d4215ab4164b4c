"""A cell is a problem, never a crash or a loss (issue #8, item 8).

Staff type into the coordinating sheet whatever they type: a quota in words,
a formula that errors, text that looks like console markup, a header twice,
a name of 1,500 characters, or they delete a tab. Each such cell must become
one located Vietnamese sentence (the row's `Vấn đề`, or one line of
`python run.py check` / of the job's output), the rest of the run goes on,
and a value that cannot be read never takes away what was already given
(a confirmed place, a check-in code).

Everything here goes through the real clients (gspread for the staff edits,
the product's own adapters for the jobs) against the sandbox; the commands
whose exit code and printed lines matter run as `python run.py …` children.
"""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.api.forms_responses import submit_responses
from sandbox.seed_data import DELEGATIONS
from tests.conftest import child_env, open_ws, registration_answers as _answers, run_cli, run_job_as_cli
from workflows import confirmations
from workspace.outbox import QUEUED, message_key, open_ledger
from workspace.table import KeyedTable, col_letter, is_error_value

NAMES = {code: name for code, name, _, _ in DELEGATIONS}
CONFIRMED, WAITLISTED = "Đã xác nhận", "Danh sách chờ"
INVITATION = "thu-moi"
RFC5322_MAX_LINE = 998


# -- helpers: staff at the sheet, the command line, the ledger ------------------------

# These tests are about cells, not the PDF letter (test_letter_pdf's): without
# it, an invitation is 0 Docs calls and --all is not paced under the Docs quota.
NO_LETTER_PDF = {"HOITHAO_MAIL__LETTER_TEMPLATE": ""}


def _cli(seeded: Path, server: Any, *args: str) -> Any:
    """`python run.py --config SEEDED/config.yaml ARGS` against the test's sandbox; a
    wide console, so a table cell is never wrapped in two (what is printed, not how)."""
    return run_cli("--config", str(seeded / "config.yaml"), *args,
                   env=child_env(HOITHAO_GOOGLE_URL=server.url, COLUMNS="400", **NO_LETTER_PDF))


def _worksheet(ws: Any, config: Any, tab: str) -> Any:
    return ws.spreadsheet(config.google.spreadsheet_id).worksheet(tab)


def _type(config: Any, tab: str, cells: dict[str, Any]) -> None:
    """A person types each value into its cell (USER_ENTERED: `=…` is a formula,
    `20.5` a number)."""
    with open_ws(config) as ws:
        sheet = _worksheet(ws, config, tab)
        for a1, value in cells.items():
            sheet.update([[value]], a1, raw=False)


def _shown(config: Any, tab: str, a1: str, option: str = "FORMATTED_VALUE") -> Any:
    """What the cell shows (or, with FORMULA, what was typed)."""
    with open_ws(config) as ws:
        values = _worksheet(ws, config, tab).get(a1, value_render_option=option)
    return values[0][0] if values and values[0] else ""


def _snap(config: Any, name: str) -> Any:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return KeyedTable(sh, getattr(config.sheets, name), name).read()


def _cell(snap: Any, key: str, field: str) -> str:
    """A1 address of `field` on the row of `key`."""
    return f"{col_letter(snap.columns[field])}{snap.by_key[key].row}"


def _all_values(config: Any, *tabs: str) -> dict[str, list[list[str]]]:
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        return {tab: sh.worksheet(tab).get_all_values() for tab in tabs}


def _places(config: Any) -> dict[str, tuple[str, str]]:
    """Every registration row's (Trạng thái, Mã check-in)."""
    return {r.key: (r["status"], r["checkin_code"]) for r in _snap(config, "registrations").records}


def _submit(server: Any, config: Any, people: list[dict[str, str]]) -> list[str]:
    """Form responses, as people fill the registration form."""
    form = config.google.forms.registration
    titled = [{form.fields[k]: v for k, v in p.items() if v != ""} for p in people]
    return submit_responses(server.store, form.id, titled)


def _ledger_keys(config: Any) -> set[str]:
    if not config.resolve(config.mail.ledger).exists():
        return set()
    with open_ledger(config, readonly=True) as ledger:
        return ledger.keys()


def _queued(config: Any) -> list[Any]:
    with open_ledger(config, readonly=True) as ledger:
        return ledger.in_state(QUEUED)


def _message_text(raw: bytes) -> str:
    """Every header (decoded) and every text part of a message, as a reader sees them."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [f"{name}: {value}" for name, value in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _long_header_lines(raw: bytes) -> list[int]:
    """Lengths of the header lines longer than RFC 5322 allows (998 characters)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [len(line) for line in head.split(b"\r\n") if len(line) > RFC5322_MAX_LINE]


def _last_run(config: Any, job: str) -> Any:
    runs = [r for r in _snap(config, "runs").records if r["job"] == job]
    return runs[-1]


def _lines(text: str, *words: str) -> list[str]:
    return [line for line in text.splitlines() if all(w in line for w in words)]


# -- 1. a quota that is not a whole number -------------------------------------------

BAD_QUOTAS = {"words": "hai mươi", "fraction": "20.5", "overflow": "1e400", "inf": "inf",
              "nan": "nan", "negative": "-3", "formula_error": "=1/0"}


def test_parse_quota_reads_only_whole_numbers_and_an_empty_cell() -> None:
    from workflows.registration_input import parse_quota

    for typed in [*BAD_QUOTAS.values(), "#N/A", "20 người", True, float("inf"), float("nan"),
                  -1, 20.5, 10**7]:
        assert parse_quota(typed) == (None, False), typed
    assert parse_quota("") == (None, True)                      # empty: no limit
    assert [parse_quota(v)[0] for v in ("20", " 20 ", "20,0", "20.0", 20, 20.0, 0)] == \
        [20, 20, 20, 20, 20, 20, 0]


# End to end, through the sheet, for a word, a number Sheets stores as infinity, a formula.
E2E_QUOTAS = {k: BAD_QUOTAS[k] for k in list(BAD_QUOTAS) if k in ("words", "overflow", "formula_error")}


@pytest.mark.parametrize("typed", list(E2E_QUOTAS.values()), ids=list(E2E_QUOTAS))
def test_quota_not_a_whole_number_keeps_places_and_codes(seeded, seeded_server, seeded_config,
                                                         typed) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")     # confirms people, gives check-in codes
    before = _places(config)
    regs = _snap(config, "registrations")
    confirmed = {r.key for r in regs.records if r["status"] == CONFIRMED}
    code = next(c for c, *_ in DELEGATIONS
                if any(r["delegation"] == c and r.key in confirmed for r in regs.records))
    theirs = {r.key for r in regs.records if r["delegation"] == code and r.key in confirmed}
    letters_before = _ledger_keys(config)

    delegations = _snap(config, "delegations")
    row = delegations.by_key[code].row
    tab = config.sheets.delegations.tab
    _type(config, tab, {_cell(delegations, code, "quota"): typed})
    if typed.startswith("="):
        # What the sandbox shows for a formula it does not compute: an error value.
        assert is_error_value(_shown(config, tab, _cell(delegations, code, "quota")))
        assert _shown(config, tab, _cell(delegations, code, "quota"), "FORMULA") == typed
    newcomer, = _submit(seeded_server, config, [_answers(1, code)])

    sync = _cli(seeded, seeded_server, "sync-registrations")
    assert sync.returncode == 0, sync.stderr
    located = _lines(sync.stdout, f"Mã đoàn {code}")
    assert len(located) == 1 and f"Trang {tab}" in located[0] and "Chỉ tiêu" in located[0], sync.stdout

    after = _places(config)
    for key in theirs:
        assert after[key] == before[key]                      # same status, same code
    assert {k: v[1] for k, v in after.items() if k in before} == {k: v[1] for k, v in before.items()}
    assert after[newcomer] == (WAITLISTED, "")
    assert message_key(confirmations.CONFIRMATION, newcomer) not in _ledger_keys(config)
    assert _ledger_keys(config) == letters_before
    assert _last_run(config, "sync-registrations")["result"] == "Thành công"

    status = _cli(seeded, seeded_server, "status")
    assert status.returncode == 0, status.stderr
    assert any(f"dòng {row}" in line for line in _lines(status.stdout, f"Mã đoàn {code}", tab))

    as_json = _cli(seeded, seeded_server, "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    state = json.loads(as_json.stdout)
    mine = next(d for d in state["delegations"] if d["code"] == code)
    assert mine["quota_readable"] is False
    assert any(f"Mã đoàn {code}" in p and f"dòng {row}" in p for p in state["problems"])

    check = _cli(seeded, seeded_server, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert any(f"Trang {tab}" in line and f"dòng {row}" in line
               for line in _lines(check.stdout, "✗", f"Mã đoàn {code}")), check.stdout
    assert len(check.stderr.strip().splitlines()) == 1
    # The job's own line names the row too, as `check` and `status` do.
    assert f"dòng {row}" in located[0], located[0]


# -- 2. text a console library would read as markup ----------------------------------

def test_markup_like_text_prints_literally(seeded, seeded_server, seeded_config) -> None:
    config = seeded_config
    # Two delegations staff add by hand, one with a quota typed as nonsense.
    delegations = _snap(config, "delegations")
    first_free = max(r.row for r in delegations.records) + 1
    with open_ws(config) as ws:
        sheet = _worksheet(ws, config, config.sheets.delegations.tab)
        sheet.update([["[b]MK[/b]", "[/bold]", "3"], ["MK2", "[red]Đoàn[/]", ":smile: [bold]"]],
                     f"A{first_free}:{col_letter(2)}{first_free + 1}", raw=False)
    # Two invitees' names as staff typed them.
    invitees = _snap(config, "invitees")
    first, second = invitees.records[0].key, invitees.records[1].key
    names = {first: "[red]Nguyễn Văn An[/]", second: "[/bold]Trần Thị Bình :smile:"}
    _type(config, config.sheets.invitees.tab,
          {_cell(invitees, key, "full_name"): name for key, name in names.items()})
    # People who registered with such names.
    bracket, styled = _submit(seeded_server, config, [
        _answers(1, full_name="[bold]"), _answers(2, full_name="Lê [bold]Thu[/bold] Hà :smile:")])

    preview = _cli(seeded, seeded_server, "send-invitations", "--preview", "2")
    assert preview.returncode == 0, preview.stderr
    for name in names.values():
        assert name in preview.stdout, preview.stdout

    dry = _cli(seeded, seeded_server, "sync-registrations", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "[b]MK[/b]" in dry.stdout and ":smile: [bold]" in dry.stdout, dry.stdout

    sync = _cli(seeded, seeded_server, "sync-registrations")
    assert sync.returncode == 0, sync.stderr
    assert _lines(sync.stdout, "Mã đoàn MK2", "«:smile: [bold]»"), sync.stdout
    assert _last_run(config, "sync-registrations")["result"] == "Thành công"
    regs = _snap(config, "registrations")
    assert regs.by_key[bracket]["full_name"] == "[bold]"
    assert regs.by_key[styled]["full_name"] == "Lê [bold]Thu[/bold] Hà :smile:"
    assert regs.by_key[styled]["status"] == CONFIRMED and regs.by_key[styled]["checkin_code"]
    assert regs.by_key[bracket]["status"] == "Không hợp lệ" and regs.by_key[bracket]["problem"]

    status = _cli(seeded, seeded_server, "status")
    assert status.returncode == 0, status.stderr
    for text in ("[b]MK[/b]", "[/bold]", "[red]Đoàn[/]", "«:smile: [bold]»"):
        assert text in status.stdout, (text, status.stdout)


# -- 3. a header typed twice ----------------------------------------------------------

WATCHED = ("Khách mời", "Đoàn", "Đăng ký", "Tham luận", "Hộp thư đi", "Mốc thời gian")


def _add_column(config: Any, tab: str, title: str) -> str:
    """Staff add a column titled `title` after the last one; its letter."""
    with open_ws(config) as ws:
        sheet = _worksheet(ws, config, tab)
        letter = col_letter(len(sheet.row_values(1)))
        sheet.update([[title]], f"{letter}1", raw=False)
    return letter


def _assert_duplicate_header_stops(seeded, server, config, tab: str, first: str, second: str) -> None:
    sheet_before = _all_values(config, *WATCHED)
    letters_before = _ledger_keys(config)
    runs_before = len(_snap(config, "runs").records)

    check = _cli(seeded, server, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    line = _lines(check.stdout, "✗", tab, "Email")
    assert line and first in line[0] and second in line[0], check.stdout

    for args in (("send-invitations", "--all"), ("sync-registrations",)):
        proc = _cli(seeded, server, *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        said = proc.stderr.strip().splitlines()
        assert len(said) == 1 and tab in said[0] and "'Email'" in said[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert _all_values(config, *WATCHED) == sheet_before
    assert _ledger_keys(config) == letters_before
    runs = _snap(config, "runs").records
    assert len(runs) == runs_before + 2 and {r["result"] for r in runs[runs_before:]} == {"Lỗi"}


def test_duplicated_email_header_in_khach_moi_stops_before_writing(seeded, seeded_server,
                                                                   seeded_config) -> None:
    config = seeded_config
    tab = config.sheets.invitees.tab
    first = col_letter(_snap(config, "invitees").columns["email"])
    second = _add_column(config, tab, "Email")
    _assert_duplicate_header_stops(seeded, seeded_server, config, tab, first, second)
    assert _ledger_keys(config) == set()


def test_duplicated_email_header_in_dang_ky_stops_before_writing(seeded, seeded_server,
                                                                 seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    tab = config.sheets.registrations.tab
    first = col_letter(_snap(config, "registrations").columns["email"])
    second = _add_column(config, tab, "Email")
    _submit(seeded_server, config, [_answers(1)])          # work waiting for the next run
    _assert_duplicate_header_stops(seeded, seeded_server, config, tab, first, second)


# -- 4. a staff formula that errors ---------------------------------------------------

def test_formula_error_in_invitee_name_gets_no_letter(seeded, seeded_server, seeded_config) -> None:
    config = seeded_config
    tab = config.sheets.invitees.tab
    invitees = _snap(config, "invitees")
    vlookup, div0 = invitees.records[2].key, invitees.records[3].key
    typed = {vlookup: '=VLOOKUP("x";A:A;2;0)', div0: "=1/0"}
    _type(config, tab, {_cell(invitees, key, "full_name"): text for key, text in typed.items()})
    for key in typed:
        assert is_error_value(_shown(config, tab, _cell(invitees, key, "full_name")))

    proc = _cli(seeded, seeded_server, "send-invitations", "--all")
    assert proc.returncode == 0, proc.stderr
    after = _snap(config, "invitees")
    for key, text in typed.items():
        row = after.by_key[key]
        assert message_key(INVITATION, key) not in _ledger_keys(config)
        assert row["invitation_status"] != "Đã xếp hàng"
        assert "Họ và tên" in row["problem"] and "lỗi của công thức" in row["problem"], row["problem"]
        assert _shown(config, tab, _cell(after, key, "full_name"), "FORMULA") == text   # left as typed
    queued = _queued(config)
    assert len(queued) == len(invitees.records) - 2
    for message in queued:
        assert "#N/A" not in _message_text(message.raw), message.key


def test_formula_error_in_registration_position_keeps_place_and_code(seeded, seeded_server,
                                                                     seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    before = _places(config)
    regs = _snap(config, "registrations")
    person = next(r for r in regs.records if r["status"] == CONFIRMED)
    tab = config.sheets.registrations.tab
    where = _cell(regs, person.key, "position")
    _type(config, tab, {where: "=1/0"})
    assert is_error_value(_shown(config, tab, where))

    proc = _cli(seeded, seeded_server, "sync-registrations")
    assert proc.returncode == 0, proc.stderr
    run_job_as_cli(config, "sync-registrations")             # and again: still left alone
    after = _snap(config, "registrations")
    row = after.by_key[person.key]
    assert (row["status"], row["checkin_code"]) == before[person.key]
    assert _places(config) == before
    assert "Chức vụ" in row["problem"] and "lỗi của công thức" in row["problem"], row["problem"]
    assert _shown(config, tab, _cell(after, person.key, "position"), "FORMULA") == "=1/0"
    for message in _queued(config):
        assert "#N/A" not in _message_text(message.raw), message.key


# -- 5. a name too long for a letter -------------------------------------------------

LONG_NAME = ("Nguyễn Thị Minh Khai Trần Hưng Đạo Lê Thánh Tông " * 40)[:1500].strip()


def _recipient_name(message: Any) -> str:
    """The display name of the letter's To header, as a mail program reads it."""
    msg = email.message_from_bytes(message.raw, policy=email.policy.default)
    return msg["To"].addresses[0].display_name


def test_very_long_invitee_name_is_a_row_problem_not_a_broken_letter(seeded, seeded_server,
                                                                     seeded_config) -> None:
    config = seeded_config
    assert len(LONG_NAME) >= 1490
    tab = config.sheets.invitees.tab
    invitees = _snap(config, "invitees")
    key = invitees.records[4].key
    _type(config, tab, {_cell(invitees, key, "full_name"): LONG_NAME})

    proc = _cli(seeded, seeded_server, "send-invitations", "--all")
    assert proc.returncode == 0, proc.stderr
    others = {message_key(INVITATION, r.key) for r in invitees.records if r.key != key}
    assert others <= _ledger_keys(config)                   # the rest of the run went on
    queued = _queued(config)
    for message in queued:
        assert _long_header_lines(message.raw) == [], message.key
        assert _long_header_lines(message.wire_bytes()) == [], message.key
    row = _snap(config, "invitees").by_key[key]
    assert message_key(INVITATION, key) not in _ledger_keys(config), row["problem"]
    assert "quá dài" in row["problem"] and "tên" in row["problem"].lower(), row["problem"]
    assert row["invitation_status"] != "Đã xếp hàng"
    assert len(queued) == len(invitees.records) - 1
    for message in queued:                                  # every letter names its addressee right
        assert _recipient_name(message) == message.recipient, message.key


def test_very_long_registration_name_queues_no_confirmation_and_says_why(seeded, seeded_server,
                                                                         seeded_config) -> None:
    config = seeded_config
    run_job_as_cli(config, "sync-registrations")
    before = _places(config)
    letters_before = _ledger_keys(config)
    long_one, plain = _submit(seeded_server, config, [_answers(1, full_name=LONG_NAME), _answers(2)])

    proc = _cli(seeded, seeded_server, "sync-registrations")
    assert proc.returncode == 0, proc.stderr
    after = _places(config)
    assert {k: after[k] for k in before} == before          # nothing else is affected
    assert after[plain][0] == CONFIRMED and after[plain][1]
    assert _last_run(config, "sync-registrations")["result"] == "Thành công"
    letters = _ledger_keys(config)
    assert letters >= letters_before | {message_key(confirmations.CONFIRMATION, plain)}
    for message in _queued(config):
        assert _long_header_lines(message.raw) == [], message.key
    assert message_key(confirmations.CONFIRMATION, long_one) not in letters
    said = _lines(proc.stdout, long_one)
    assert said and any("quá dài" in line for line in said), proc.stdout
    assert letters == letters_before | {message_key(confirmations.CONFIRMATION, plain)}
    for message in _queued(config):
        assert _recipient_name(message) == message.recipient, message.key


# -- 6. the run log tab deleted -------------------------------------------------------

def test_deleted_run_log_tab_sync_still_does_its_work(seeded, seeded_server, seeded_config) -> None:
    config = seeded_config
    tab = config.sheets.runs.tab
    with open_ws(config) as ws:
        sh = ws.spreadsheet(config.google.spreadsheet_id)
        sh.del_worksheet(sh.worksheet(tab))

    proc = _cli(seeded, seeded_server, "sync-registrations")
    assert proc.returncode == 0, proc.stderr
    said = _lines(proc.stdout, tab)
    assert len(said) == 1 and "Không ghi được" in said[0], proc.stdout
    regs = _snap(config, "registrations")
    assert len(regs.records) == 29
    confirmed = [r for r in regs.records if r["status"] == CONFIRMED]
    assert confirmed and all(r["checkin_code"] for r in confirmed)
    # One confirmation per confirmed person (keyed by their first response).
    assert len({k for k in _ledger_keys(config) if k.startswith(confirmations.CONFIRMATION)}) \
        == len(confirmed)

    check = _cli(seeded, seeded_server, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert _lines(check.stdout, "✗", f"'{tab}'"), check.stdout
