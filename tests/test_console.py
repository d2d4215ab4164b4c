"""The rehearsal console (`python run.py sandbox console`): safe on a shared
machine, and a rehearsal in the browser takes the production paths: the grid
writes through the Sheets API, the jobs run as the command line runs them.

Browser tests drive Debian's chromium (tests/browser.py); what they check is
read back from the sandbox through the real clients, not from the page alone."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.browser import needs_chromium, screenshot
from tests.console_fixtures import sign_in
from tests.conftest import mailbox_counts

JOB_TIMEOUT_MS = 180_000


def _staff_sheet(server: Any) -> Any:
    from sandbox.staff import staff_credentials
    from workspace.clients import Workspace

    config = server.state.config
    ws = Workspace(staff_credentials(server.state.store, server.sandbox.url, config.event.contact.email),
                   server.sandbox.url)
    return ws, ws.spreadsheet(config.google.spreadsheet_id)


def _records(sheet: Any, tab: str) -> tuple[list[str], list[list[str]]]:
    values = sheet.values_get(f"'{tab}'").get("values", [])
    header = values[0]
    return header, [(r + [""] * len(header))[:len(header)] for r in values[1:]]


def _row_of(page: Any, key: str) -> Any:
    return page.locator("table.grid tbody tr").filter(has=page.locator("td", has_text=re.compile(
        rf"^{re.escape(key)}$")))


def _open_grid(server: Any, page: Any, wide: bool = False) -> Any:
    """Sign `page` in to the console `server` and open the Khách mời tab (1280 px wide if `wide`)."""
    if wide:
        page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, server, "/bang-tinh?trang=Khách mời")
    return server


def _column(page: Any, title: str) -> int:
    """The grid's column index of the header `title` (row 1)."""
    headers = page.locator("table.grid tbody tr[data-row='1'] td").all_inner_texts()
    return [h.strip() for h in headers].index(title)


def _run_job(page: Any, job: str, dry_run: bool = False) -> str:
    """Press the job's button on Chạy việc; wait for its end; its summary."""
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/chay-viec")
    form = page.locator(f"form[data-job='{job}']")
    if dry_run:
        form.get_by_label("Chạy thử").check()
    form.get_by_role("button").click()
    page.locator("section.run.ok, section.run.failed").wait_for(timeout=JOB_TIMEOUT_MS)
    output = page.locator("[data-testid=run-output]").inner_text()
    assert page.locator("section.run.ok").count() == 1, output
    return output


# -- the command ------------------------------------------------------------------
def test_demo_ends_with_the_console_command(demo_template: Path) -> None:
    out = " ".join((demo_template.parent / "demo-stdout.txt").read_text(encoding="utf-8").split())
    assert out.endswith(f"python run.py sandbox console --data {demo_template}")


def test_console_command_serves_until_interrupted(seeded: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT, child_env

    process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sandbox", "console", "--data",
                                str(seeded), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=child_env(), cwd=ROOT)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", "".join(lines))
        assert url, lines
        session = requests.Session()
        page = session.get(url.group(0), timeout=30)
        assert page.status_code == 200 and "Bản diễn tập (sandbox), không phải Google" in page.text
        assert "Khách mời" in page.text          # the grid's first tab
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Đã dừng bảng điều khiển diễn tập" in out
    # Nothing of a request (the token, what was looked at) is logged.
    assert "token=" not in err and "GET " not in err


def test_console_refuses_a_folder_that_is_not_a_sandbox(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("sandbox", "console", "--data", str(tmp_path), "--port", "0")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "Không có sandbox trong" in result.stderr


# -- safe on a shared machine ---------------------------------------------------------
def test_console_refuses_requests_without_the_token(seeded: Path, open_console: Any) -> None:
    server = open_console(seeded)
    for path in ("/", "/bang-tinh", "/hop-thu", "/chay-viec"):
        answer = requests.get(server.base_url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 403, path
        assert "Cần mã truy cập" in answer.text
    wrong = requests.get(server.base_url + "/?token=not-the-token", allow_redirects=False, timeout=10)
    assert wrong.status_code == 403 and "set-cookie" not in {k.lower() for k in wrong.headers}
    # A job cannot be started without it either: nothing ran.
    started = requests.post(server.base_url + "/chay-viec/send-outbox", data={"csrf_token": "x"},
                            allow_redirects=False, timeout=10)
    assert started.status_code == 403 and server.state.runs.runs() == []
    # The token opens it once and leaves a cookie; the address bar loses the token.
    session = requests.Session()
    first = session.get(server.url, allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "token" not in first.headers["Location"]
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert session.get(server.base_url + "/chay-viec", timeout=10).status_code == 200
    # Another host name (a DNS-rebinding page) is refused even with the cookie.
    rebound = requests.get(server.base_url + "/chay-viec", timeout=10, headers={
        "Host": f"evil.example:{server.port}", "Cookie": f"hoithao_console={server.state.token}"})
    assert rebound.status_code == 400


def test_console_refuses_a_change_without_its_csrf_token(seeded: Path, open_console: Any) -> None:
    server = open_console(seeded)
    session = requests.Session()
    session.get(server.url, timeout=10)
    answer = session.post(server.base_url + "/chay-viec/send-outbox", data={}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 400 and "mã chống giả mạo" in answer.text
    assert server.state.runs.runs() == []


class _Attacker(BaseHTTPRequestHandler):
    """Another site on this machine whose page posts a form to the console."""
    target = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = (f"<!doctype html><form id=f method=post action='{self.target}'>"
                f"<input name=dry_run value=0></form><p>trang khác</p>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@needs_chromium
def test_console_refuses_a_cross_site_form_post(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    sign_in(browser_page, server)          # the person is signed in in this browser
    _Attacker.target = server.base_url + "/chay-viec/send-outbox"
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        browser_page.goto(f"http://localhost:{other.server_address[1]}/")
        with browser_page.expect_navigation():
            browser_page.evaluate("document.getElementById('f').submit()")
        assert "Cần mã truy cập" in browser_page.content() or "mã chống giả mạo" in browser_page.content()
    finally:
        other.shutdown()
        other.server_close()
    assert server.state.runs.runs() == []


# -- Bảng tính ------------------------------------------------------------------------
@needs_chromium
def test_grid_edits_go_through_the_sheets_api(seeded: Path, open_console: Any, browser_page: Any) -> None:
    page = browser_page
    server = _open_grid(open_console(seeded), page, wide=True)
    notes = _column(page, "Ghi chú")
    row = _row_of(page, "KM003")
    row.locator(f"td[data-col='{notes}']").click()
    editor = row.locator("td.editing")
    editor.locator("textarea[name=v]").fill("Đón tại sân bay lúc 07:00")
    editor.locator("textarea[name=note]").fill("Hỏi lại chuyến bay")
    editor.get_by_role("button", name="Lưu").click()
    cell = row.locator(f"td[data-col='{notes}']")
    cell.filter(has_text="Đón tại sân bay").wait_for()
    assert "has-note" in (cell.get_attribute("class") or "")
    ws, sheet = _staff_sheet(server)
    with ws:
        header, rows = _records(sheet, "Khách mời")
        km003 = next(r for r in rows if r[0] == "KM003")
        assert km003[header.index("Ghi chú")] == "Đón tại sân bay lúc 07:00"
        meta = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": "'Khách mời'!A1:Z40",
                                                  "fields": "sheets(data(rowData(values(note))))"})
        notes_found = [v.get("note") for r in meta["sheets"][0]["data"][0]["rowData"]
                       for v in r.get("values", []) if v.get("note")]
        assert notes_found == ["Hỏi lại chuyến bay"]

    # A filter hides rows on this page only.
    page.get_by_label("Lọc: có chứa").fill("KM01")
    with page.expect_navigation():
        page.get_by_role("button", name="Lọc", exact=True).click()
    shown = page.locator("table.grid tbody tr").count()
    assert shown == 1 + 10          # the header and KM010 … KM019
    assert "Đang ẩn" in page.content()

    # Sort Z → A by the key, then insert and delete a row: as Sheets does them.
    page.goto(server.base_url + "/bang-tinh?trang=Khách mời")
    page.get_by_label("Cột để sắp xếp").select_option("0")
    page.get_by_label("Thứ tự").select_option("za")
    page.get_by_role("button", name="Sắp xếp").click()
    page.locator(".flash").filter(has_text="Đã sắp xếp").wait_for()
    with ws:
        header, rows = _records(sheet, "Khách mời")
        keys = [r[0] for r in rows if r[0]]
        assert keys == sorted(keys, reverse=True)
        assert next(r for r in rows if r[0] == "KM003")[header.index("Ghi chú")] == "Đón tại sân bay lúc 07:00"
        count = len(keys)
    _row_of(page, "KM003").get_by_label(re.compile("Chèn dòng phía trên")).click()
    page.locator(".flash").filter(has_text="Đã chèn").wait_for()
    _row_of(page, "KM005").get_by_label(re.compile("Xoá dòng")).click()
    page.locator(".flash").filter(has_text="Đã xoá").wait_for()
    with ws:
        header, rows = _records(sheet, "Khách mời")
        keys = [r[0] for r in rows]
        assert "KM005" not in keys and len([k for k in keys if k]) == count - 1
        assert keys[keys.index("KM003") - 1] == ""        # the blank row inserted above KM003


@needs_chromium
def test_an_edit_on_a_row_moved_since_the_page_was_opened_lands_on_that_row(
        seeded: Path, open_console: Any, browser_page: Any) -> None:
    page = browser_page
    server = _open_grid(open_console(seeded), page)
    notes = _column(page, "Ghi chú")
    row = _row_of(page, "KM002")
    row.locator(f"td[data-col='{notes}']").click()
    # Meanwhile someone (a job, a colleague) sorts the tab Z → A.
    ws, sheet = _staff_sheet(server)
    with ws:
        sheet_id = sheet.worksheet("Khách mời").id
        sheet.batch_update({"requests": [{"sortRange": {"range": {"sheetId": sheet_id, "startRowIndex": 1},
                                                        "sortSpecs": [{"dimensionIndex": 0,
                                                                       "sortOrder": "DESCENDING"}]}}]})
    row.locator("td.editing textarea[name=v]").fill("Ghi chú của KM002")
    with page.expect_response(lambda r: r.url.endswith("/bang-tinh/o") and r.request.method == "POST"):
        row.locator("td.editing").get_by_role("button", name="Lưu").click()
    page.locator("table.grid").wait_for()
    with ws:
        header, rows = _records(sheet, "Khách mời")
        by_key = {r[0]: r[header.index("Ghi chú")] for r in rows if r[0]}
    assert by_key["KM002"] == "Ghi chú của KM002"
    assert [k for k, v in by_key.items() if v == "Ghi chú của KM002"] == ["KM002"]


# -- Chạy việc, with the grid ---------------------------------------------------------
@needs_chromium
def test_tick_one_invitee_then_run_the_jobs_sends_exactly_one_letter(
        seeded: Path, open_console: Any, browser_page: Any, tmp_path: Path) -> None:
    server = open_console(seeded)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    before = mailbox_counts(server.state.store)
    sign_in(page, server, "/bang-tinh?trang=Khách mời")
    tick = _column(page, "Gửi thư mời")
    box = _row_of(page, "KM004").locator(f"td[data-col='{tick}'] input[type=checkbox]")
    with page.expect_response(lambda r: r.url.endswith("/bang-tinh/o") and r.request.method == "POST"):
        box.check()
    ws, sheet = _staff_sheet(server)
    with ws:
        header, rows = _records(sheet, "Khách mời")
        ticked = [r[0] for r in rows if r[header.index("Gửi thư mời")] == "TRUE"]
        email = next(r for r in rows if r[0] == "KM004")[header.index("Email")]
    assert ticked == ["KM004"]
    page.set_viewport_size({"width": 1760, "height": 800})    # every column, the tick boxes too
    screenshot(page, tmp_path, "console-bang-tinh.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    summary = _run_job(page, "send-invitations")
    assert "send-invitations" in summary
    screenshot(page, tmp_path, "console-chay-viec.png")
    _run_job(page, "send-outbox")
    sent = mailbox_counts(server.state.store) - before
    assert sent == {email: 1}, sent
    # Nhật ký, beside the run: both runs, from the console (a manual run).
    log = page.locator("[data-testid=nhat-ky]").inner_text()
    assert "send-outbox" in log
    # Running both again sends nothing more: the tick was cleared, the letter is done.
    _run_job(page, "send-invitations")
    _run_job(page, "send-outbox")
    assert mailbox_counts(server.state.store) - before == {email: 1}


@needs_chromium
def test_a_dry_run_from_the_console_writes_and_sends_nothing(seeded: Path, open_console: Any,
                                                            browser_page: Any) -> None:
    server = open_console(seeded)
    sign_in(browser_page, server)
    ws, sheet = _staff_sheet(server)
    with ws:
        _, before = _records(sheet, "Đăng ký")
    output = _run_job(browser_page, "sync-registrations", dry_run=True)
    assert "chạy thử" in output.lower()
    with ws:
        _, after = _records(sheet, "Đăng ký")
    assert after == before


@needs_chromium
def test_sorting_registrations_in_the_grid_between_two_syncs_keeps_rows_beside_their_keys(
        seeded: Path, open_console: Any, browser_page: Any) -> None:
    from sandbox.api.forms_responses import submit_responses
    from tests.conftest import registration_answers

    server = open_console(seeded)
    page = browser_page
    sign_in(page, server)
    _run_job(page, "sync-registrations")
    config = server.state.config
    ws, sheet = _staff_sheet(server)
    with ws:
        header, first = _records(sheet, "Đăng ký")
    key, name, status = (header.index(c) for c in ("Mã phản hồi", "Họ và tên", "Trạng thái"))
    assert len(first) > 20
    # Staff sort Đăng ký by name, Z → A, in the grid; and type a note on one row.
    page.goto(server.base_url + "/bang-tinh?trang=Đăng ký")
    page.get_by_label("Cột để sắp xếp").select_option(str(name))
    page.get_by_label("Thứ tự").select_option("za")
    page.get_by_role("button", name="Sắp xếp").click()
    page.locator(".flash").filter(has_text="Đã sắp xếp").wait_for()
    with ws:
        _, sorted_rows = _records(sheet, "Đăng ký")
    assert [r[key] for r in sorted_rows] != [r[key] for r in first]
    noted = first[5][key]
    notes = _column(page, "Ghi chú")
    _row_of(page, noted).locator(f"td[data-col='{notes}']").click()
    page.locator("td.editing textarea[name=v]").fill("Cần xe đón")
    page.locator("td.editing").get_by_role("button", name="Lưu").click()
    page.locator("td", has_text="Cần xe đón").wait_for()
    # New registrations arrive, then the second sync.
    form = config.google.forms.registration
    submit_responses(server.state.store, form.id, [
        {form.fields.get(k, k): v for k, v in registration_answers(n, "HCM").items()} for n in (901, 902)])
    _run_job(page, "sync-registrations")
    with ws:
        header2, second = _records(sheet, "Đăng ký")
    assert header2 == header
    rows_then = {r[key]: r for r in first}
    by_key = {r[key]: r for r in second}
    assert len(by_key) == len(second) == len(first) + 2
    for k, row in rows_then.items():            # every earlier row still beside its own key
        assert by_key[k][name] == row[name] and by_key[k][status] == row[status], k
    assert by_key[noted][header.index("Ghi chú")] == "Cần xe đón"


# -- the whole path, as a member of staff rehearses it ---------------------------------
@needs_chromium
def test_invitation_to_registration_to_confirmation_in_the_browser(
        demo_data: Path, open_console: Any, browser_page: Any, tmp_path: Path) -> None:
    """Open an invitation in Hộp thư, follow its registration link, send the
    pre-filled form, press sync, see the row `Đã xác nhận` in Bảng tính, send
    the outbox, see the confirmation letter in Hộp thư."""
    server = open_console(demo_data)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    fields = server.state.config.google.forms.registration.fields
    ws, sheet = _staff_sheet(server)
    with ws:
        header, invitees = _records(sheet, "Khách mời")
        reg_header, registered = _records(sheet, "Đăng ký")
    taken = {r[reg_header.index("Mã khách mời")] for r in registered}
    invitee = next(r for r in invitees if r[0] and r[0] not in taken and r[header.index("Đoàn")] == "KHAC")
    code, email = invitee[0], invitee[header.index("Email")]
    name = invitee[header.index("Họ và tên")]

    sign_in(page, server, "/hop-thu")
    page.get_by_role("searchbox").fill(email)
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"q="))
    page.locator(".mail-list a", has_text="Thư mời tham dự").first.click()
    page.wait_for_url(re.compile(r"/hop-thu/[\w-]+"))
    letter = page.frame_locator("iframe.letter-html")
    with page.expect_navigation():
        letter.locator("a[href*='/bieu-mau/e/']").first.click()
    assert re.search(rf"/bieu-mau/e/[\w-]+/viewform\?\S*={code}", page.url)
    assert page.get_by_label(fields["invitee_code"]).input_value() == code

    page.get_by_label(fields["full_name"]).fill(name)
    page.get_by_role("radio", name=invitee[header.index("Danh xưng")]).check()
    page.get_by_label(fields["position"]).fill(invitee[header.index("Chức vụ")])
    page.get_by_label(fields["unit"]).fill(invitee[header.index("Đơn vị")])
    page.get_by_label(fields["delegation"]).select_option("Đại biểu các cơ quan, đơn vị khác")
    page.get_by_label(fields["email"]).last.fill(email)
    page.get_by_label(fields["phone"]).fill(invitee[header.index("Điện thoại")])
    page.get_by_role("checkbox", name=re.compile("đồng ý", re.I)).check()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, tmp_path, "console-bieu-mau.png")
    with page.expect_navigation():
        page.get_by_role("button", name="Gửi").click()
    assert "Câu trả lời của bạn đã được ghi lại" in page.content()

    _run_job(page, "sync-registrations")
    page.goto(server.base_url + "/bang-tinh?trang=Đăng ký")
    status = _column(page, "Trạng thái")
    code_col = _column(page, "Mã khách mời")
    row = page.locator("table.grid tbody tr").filter(
        has=page.locator(f"td[data-col='{code_col}']", has_text=re.compile(rf"^{code}$")))
    assert row.count() == 1
    assert row.locator(f"td[data-col='{status}']").inner_text().strip() == "Đã xác nhận"

    before = mailbox_counts(server.state.store)[email]
    _run_job(page, "send-outbox")
    assert mailbox_counts(server.state.store)[email] == before + 1
    page.goto(server.base_url + "/hop-thu")
    page.get_by_role("searchbox").fill(email)
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"q="))
    newest = page.locator(".mail-list a").first
    assert "Xác nhận" in newest.inner_text() or "xác nhận" in newest.inner_text()
    newest.click()
    page.wait_for_url(re.compile(r"/hop-thu/[\w-]+"))
    assert name in page.frame_locator("iframe.letter-html").locator("body").inner_text()
    screenshot(page, tmp_path, "console-hop-thu-xac-nhan.png")


# -- the grid's edge cases ---------------------------------------------------------------
def _entered(sheet: Any, a1: str) -> dict[str, Any]:
    meta = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": a1,
                                              "fields": "sheets(data(rowData(values(userEnteredValue,note))))"})
    rows = meta["sheets"][0]["data"][0].get("rowData", [{}])
    return (rows[0].get("values") or [{}])[0]


@needs_chromium
def test_a_note_saved_alone_leaves_the_value_as_it_was(seeded: Path, open_console: Any, browser_page: Any) -> None:
    """A phone number typed as text keeps its leading zero when only the note
    changes; the editor shows it with the apostrophe that keeps it text."""
    page = browser_page
    server = _open_grid(open_console(seeded), page, wide=True)
    phone = _column(page, "Điện thoại")
    ws, sheet = _staff_sheet(server)
    with ws:
        header, rows = _records(sheet, "Khách mời")
        number = next(i for i, r in enumerate(rows, start=2) if r[0] == "KM004")
        a1 = f"'Khách mời'!{chr(ord('A') + phone)}{number}"
        before = _entered(sheet, a1)["userEnteredValue"]
    assert before["stringValue"].startswith("0")
    _row_of(page, "KM004").locator(f"td[data-col='{phone}']").click()
    editor = page.locator("td.editing")
    assert editor.locator("textarea[name=v]").input_value() == "'" + before["stringValue"]
    editor.locator("textarea[name=note]").fill("Gọi sau 17 giờ")
    editor.locator("textarea[name=note]").press("Enter")          # Enter saves, as in Sheets
    _row_of(page, "KM004").locator(f"td.has-note[data-col='{phone}']").wait_for()
    with ws:
        after = _entered(sheet, a1)
    assert after["userEnteredValue"] == before and after["note"] == "Gọi sau 17 giờ"


@needs_chromium
def test_a_new_row_typed_cell_by_cell_stays_one_row(seeded: Path, open_console: Any, browser_page: Any) -> None:
    """The key typed first names the row; the next cell typed lands beside it."""
    page = browser_page
    server = _open_grid(open_console(seeded), page, wide=True)
    name = _column(page, "Họ và tên")
    spare = page.locator("table.grid tbody tr").last
    number = spare.get_attribute("data-row")
    spare.locator("td[data-col='0']").click()
    page.locator("td.editing textarea[name=v]").fill("KM999")
    page.locator("td.editing").get_by_role("button", name="Lưu").click()
    row = page.locator(f"table.grid tbody tr[data-row='{number}']")
    row.locator("td[data-col='0']", has_text="KM999").wait_for()
    row.locator(f"td[data-col='{name}']").click()
    page.locator("td.editing textarea[name=v]").fill("Nguyễn Thị Thử")
    page.locator("td.editing").get_by_role("button", name="Lưu").click()
    row.locator(f"td[data-col='{name}']", has_text="Nguyễn Thị Thử").wait_for()
    assert page.locator(".flash.error:visible").count() == 0
    ws, sheet = _staff_sheet(server)
    with ws:
        header, rows = _records(sheet, "Khách mời")
    added = [r for r in rows if r[0] == "KM999" or r[header.index("Họ và tên")] == "Nguyễn Thị Thử"]
    assert len(added) == 1 and added[0][0] == "KM999"


def test_odd_addresses_get_a_vietnamese_answer_never_a_crash(seeded: Path, open_console: Any) -> None:
    server = open_console(seeded)
    ws, sheet = _staff_sheet(server)
    with ws:
        seen = sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": "'Khách mời'"})
    session = requests.Session()
    session.get(server.url, timeout=10)
    page = session.get(server.base_url + "/bang-tinh?trang=Khách mời", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    for path in ("/bang-tinh?trang=Khách mời&loc=a&cot=²", "/bang-tinh?trang=Khách mời&loc=a&cot=-3",
                 "/bang-tinh?trang=Không có"):
        answer = session.get(server.base_url + path, timeout=10)
        assert answer.status_code in (200, 404), path
    bad_cells = [{"trang": "Khách mời", "r": "-1", "c": "2"}, {"trang": "Khách mời", "r": "3", "c": "-5"},
                 {"trang": "Không có", "r": "3", "c": "2"}, {"trang": "Khách mời", "r": "3", "c": "99999"},
                 {"trang": "Khách mời", "r": "x", "c": "2"}, {"trang": "Khách mời", "r": "3"}]
    for where in bad_cells:
        for method, url in (("get", "/bang-tinh/o"), ("get", "/bang-tinh/o/xem")):
            answer = session.get(server.base_url + url, params=where, timeout=10)
            assert answer.status_code < 500, (url, where)
        answer = session.post(server.base_url + "/bang-tinh/o", data={**where, "v": "x", "csrf_token": csrf},
                              timeout=10)
        assert answer.status_code < 500 and "chưa ghi gì" in answer.text.lower(), where
    for form in ({"trang": "Khách mời", "c": "x"}, {"trang": "Khách mời", "c": "40"}, {"trang": "?", "c": "0"}):
        answer = session.post(server.base_url + "/bang-tinh/sap-xep", data={**form, "csrf_token": csrf}, timeout=10)
        assert answer.status_code < 500 and "chưa ghi gì" in answer.text.lower(), form
    for form in ({"trang": "Khách mời", "r": "1", "lam": "xoa"}, {"trang": "Khách mời", "r": "2", "lam": "?"},
                 {"trang": "Khách mời", "r": "0", "lam": "chen"}):
        answer = session.post(server.base_url + "/bang-tinh/dong", data={**form, "csrf_token": csrf}, timeout=10)
        assert answer.status_code < 500 and "chưa ghi gì" in answer.text.lower(), form
    wrong = session.put(server.base_url + "/bang-tinh/o", timeout=10)
    assert wrong.status_code == 405 and "Thao tác không hợp lệ" in wrong.text
    # Nothing was written: every cell, note and rule of the tab as before.
    with ws:
        assert sheet.fetch_sheet_metadata(params={"includeGridData": "true", "ranges": "'Khách mời'"}) == seen


def test_pages_sign_the_person_in_once(seeded: Path, open_console: Any) -> None:
    """Pages use one sign-in of the person, not a new one per page."""
    server = open_console(seeded)
    session = requests.Session()
    session.get(server.url, timeout=10)

    def tokens() -> int:
        with server.state.store.transaction() as db:
            return db.execute("SELECT COUNT(*) FROM oauth_refresh_tokens").fetchone()[0]

    session.get(server.base_url + "/bang-tinh", timeout=10)
    before = tokens()
    for tab in ("Khách mời", "Đăng ký", "Đoàn", "Hộp thư đi"):
        assert session.get(server.base_url + "/bang-tinh", params={"trang": tab}, timeout=10).status_code == 200
    assert tokens() == before


@needs_chromium
def test_a_click_after_the_console_forgot_the_person_shows_why(
        seeded: Path, open_console: Any, browser_page: Any) -> None:
    """After a restart (a new token), a click in an open page reloads it into the
    refusal page rather than doing nothing."""
    page = browser_page
    _open_grid(open_console(seeded), page)
    page.context.clear_cookies()
    with page.expect_navigation():
        _row_of(page, "KM003").locator("td[data-col='2']").click()
    page.get_by_role("heading", name="Cần mã truy cập").wait_for()


@needs_chromium
def test_rows_a_job_adds_have_their_tick_boxes(demo_data: Path, open_console: Any, browser_page: Any) -> None:
    """Registrations synced and letters queued by the demo have the tick boxes
    staff use (Rút đăng ký, Có mặt; Duyệt, Gửi lại); a row inserted above one keeps them."""
    server = open_console(demo_data)
    page = browser_page
    sign_in(page, server, "/bang-tinh?trang=Đăng ký")
    rows = page.locator("table.grid tbody tr[data-row]").count()
    for title in ("Rút đăng ký", "Có mặt"):
        col = _column(page, title)
        assert page.locator(f"td.check[data-col='{col}'] input[type=checkbox]").count() >= rows - 1, title
    page.goto(server.base_url + "/bang-tinh?trang=Hộp thư đi")
    letters = page.locator("table.grid tbody tr[data-row]").count() - 1 - 3      # no header, no spare rows
    assert letters > 10
    for title in ("Duyệt", "Gửi lại"):
        col = _column(page, title)
        assert page.locator(f"td.check[data-col='{col}'] input[type=checkbox]").count() >= letters + 3, title
    page.goto(server.base_url + "/bang-tinh?trang=Đăng ký")
    withdrawn = _column(page, "Rút đăng ký")
    page.locator("tr[data-row='3']").get_by_label(re.compile("Chèn dòng phía trên")).click()
    page.locator(".flash").filter(has_text="Đã chèn").wait_for()
    assert page.locator(f"tr[data-row='3'] td.check[data-col='{withdrawn}'] input").count() == 1


def test_stopping_the_console_stops_its_job_as_the_server_would(seeded: Path, open_console: Any) -> None:
    """A job still running when the console stops is asked to stop as SIGTERM
    asks the server's (it finishes its step and says so), even when the
    console was started with SIGINT ignored, as a shell's background job is."""
    import signal
    import time

    server = open_console(seeded)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)       # inherited by the job
    try:
        run = server.state.runs.start("schedule")
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while "SIGTERM để dừng" not in run.output and run.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.running, run.output
    server.state.runs.stop(timeout=60)
    assert not run.running and run.exit_code == 0, run.output
    assert "Đã dừng chạy theo lịch." in run.output


@needs_chromium
def test_a_click_on_a_row_moved_meanwhile_reloads_the_page(seeded: Path, open_console: Any, browser_page: Any) -> None:
    """A job sorts the tab after the page was drawn: the click opens no editor
    on the wrong place, the page is drawn anew and says why."""
    page = browser_page
    server = _open_grid(open_console(seeded), page)
    notes = _column(page, "Ghi chú")
    ws, sheet = _staff_sheet(server)
    with ws:
        sheet_id = sheet.worksheet("Khách mời").id
        sheet.batch_update({"requests": [{"sortRange": {"range": {"sheetId": sheet_id, "startRowIndex": 1},
                                                        "sortSpecs": [{"dimensionIndex": 0,
                                                                       "sortOrder": "DESCENDING"}]}}]})
    with page.expect_navigation():
        _row_of(page, "KM002").locator(f"td[data-col='{notes}']").click()
    page.locator(".flash", has_text="Bảng tính vừa thay đổi").wait_for()
    assert page.locator("td.editing").count() == 0
    first = page.locator("table.grid tbody tr[data-row='2'] td[data-col='0']").inner_text()
    assert first.strip() != "KM001"          # the page shows the sorted tab
