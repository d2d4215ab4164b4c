"""The console's Hộp thư and Văn bản pages, in a real browser over the demo's
sandbox: every message Gmail accepted, as its recipient sees it, beside the
outbox ledger; every Google Doc as its pages, with Drive's two downloads.

What the page shows is compared with the sandbox itself (its sent mail, the
ledger file, Drive through the real client), never with the page alone."""
from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import http.server
import io
import re
import sqlite3
import subprocess
import sys
import threading
import unicodedata
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.browser import needs_chromium, screenshot
from tests.conftest import needs_fonts
from tests.console_fixtures import sign_in

# No script ever runs in a letter (no allow-scripts); same origin only so that a
# click on its form link stays a same-site navigation carrying the console's
# cookie; nothing fetched (its images are data: URLs), no form submitted.
LETTER_CSP = ("sandbox allow-same-origin allow-popups allow-top-navigation-by-user-activation; "
              "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "form-action 'none'; base-uri 'none'")
VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 800}
# A one-pixel PNG, an inline (cid:) image of a crafted letter.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                      "0000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082")
DOC = "application/vnd.google-apps.document"


def _sent(server: Any) -> list[tuple[str, EmailMessage]]:
    """Every message Gmail accepted in the console's sandbox, oldest first."""
    from sandbox.api.gmail import sent_messages

    return [(gmail_id, email.message_from_bytes(raw, policy=email.policy.default))
            for gmail_id, raw in sent_messages(server.state.store)]


def _invitation(sent: list[tuple[str, EmailMessage]]) -> tuple[str, EmailMessage, str]:
    """The newest invitation letter with its PDF giấy mời, and the invitee's code."""
    for gmail_id, message in reversed(sent):
        pdfs = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
        if str(message["Subject"]).startswith("Thư mời tham dự") and pdfs:
            text = message.get_body(preferencelist=("plain",)).get_content()
            code = re.search(r"docs\.google\.com/forms/d/e/[\w-]+/viewform\?\S*=(KM\w+)", text)
            assert code, text
            return gmail_id, message, code[1]
    raise AssertionError("the demo sent no invitation with a PDF")


def _send(server: Any, message: EmailMessage | bytes) -> str:
    """Hand a message to the sandbox's Gmail as the tool's account does
    (workspace.gmail, the service account's key); its Gmail id."""
    from sandbox.credentials import key_credentials
    from workspace.clients import Workspace
    from workspace.gmail import GmailAdapter

    raw = message if isinstance(message, bytes) else message.as_bytes(policy=email.policy.SMTP)
    with Workspace(key_credentials(server.state.data_dir, server.sandbox.url), server.sandbox.url) as ws:
        return GmailAdapter(ws).send(raw)


def _fold(text: str) -> str:
    """Text lower-cased with its diacritics taken off, as a person types it without them."""
    text = text.replace("đ", "d").replace("Đ", "d").casefold()
    return " ".join("".join(c for c in unicodedata.normalize("NFD", text)
                            if unicodedata.category(c) != "Mn").split())


def _searched_text(message: EmailMessage) -> str:
    """What the mailbox searches in a message: From, To, Cc, Subject and the text part."""
    body = message.get_body(preferencelist=("plain",))
    return "\n".join([str(message.get(h, "")) for h in ("From", "To", "Cc", "Subject")]
                     + [body.get_content() if body is not None else ""])


class _Recorder(http.server.ThreadingHTTPServer):
    """A web server on this machine that only notes what is asked of it: where
    a letter would send the browser if it could fetch, refresh or submit."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(f"{self.command} {self.path}")
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *_args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def _ledger_held(path: Path, exclusive_mode: bool) -> Iterator[None]:
    """Another process holding a write transaction on the ledger (a job
    writing it): `BEGIN EXCLUSIVE`, and with `exclusive_mode` under SQLite's
    exclusive locking mode, which shuts readers out of a WAL database too."""
    from tests.conftest import child_env

    script = ("import sqlite3, sys\n"
              "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              + ("db.execute('PRAGMA locking_mode=EXCLUSIVE')\n" if exclusive_mode else "")
              + "db.execute('BEGIN EXCLUSIVE')\n"
              "db.execute('UPDATE messages SET version = version WHERE 0')\n"
              "print('held', flush=True)\n"
              "sys.stdin.readline()\n"
              "db.execute('ROLLBACK')\n"
              "db.close()\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0


def _queue_for_approval(data: Path, invitee: str) -> Any:
    """One invitation waiting for approval, made as staff make it: approval on
    in config.yaml (mail.approval_required), the invitee's `Gửi thư mời`
    ticked, send-invitations run as the command line runs it. Its ledger message."""
    from tests.conftest import open_ws, run_job_as_cli
    from workspace.config import load
    from workspace.outbox import AWAITING_APPROVAL, open_ledger

    path = data / "config.yaml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(r"(?m)^(\s*approval_required:)\s*false\b", r"\1 true", text)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    config = load(path, environ={})
    assert config.mail.approval_required
    invitees = config.sheets.invitees
    with open_ws(config) as ws:
        sheet = ws.spreadsheet(config.google.spreadsheet_id)
        rows = sheet.worksheet(invitees.tab).get_all_values()
        head = next(i for i, r in enumerate(rows) if invitees.columns["key"] in r)
        column = rows[head].index(invitees.columns["send_invitation"])
        row = next(i for i, r in enumerate(rows) if r[rows[head].index(invitees.columns["key"])] == invitee)
        from gspread.utils import rowcol_to_a1

        cell = rowcol_to_a1(row + 1, column + 1)
        sheet.values_batch_update({"valueInputOption": "USER_ENTERED", "data": [
            {"range": f"'{invitees.tab}'!{cell}", "values": [["TRUE"]]}]})
    run_job_as_cli(config, "send-invitations")
    with open_ledger(config, readonly=True) as ledger:
        waiting = ledger.in_state(AWAITING_APPROVAL)
    assert [m.source_key for m in waiting] == [invitee]
    return waiting[0]


def _signed_in_session(server: Any) -> requests.Session:
    session = requests.Session()
    assert session.get(server.url, timeout=10).status_code == 200
    return session


def _drive_docs(server: Any) -> list[dict[str, Any]]:
    """The Docs the tool's account sees, through the real Drive client."""
    from sandbox.credentials import key_credentials
    from workspace.clients import Workspace

    ws = Workspace(key_credentials(server.state.data_dir, server.sandbox.url), server.sandbox.url)
    try:
        files = ws.service("drive", "v3").files().list(
            q=f"mimeType = '{DOC}' and trashed = false", fields="files(id,name,modifiedTime)",
            pageSize=100).execute()["files"]
    finally:
        ws.close()
    return sorted(files, key=lambda f: f["modifiedTime"], reverse=True)


# -- pure pieces --------------------------------------------------------------------
def test_form_links_go_to_the_console_and_other_links_open_apart() -> None:
    from rehearsal.pages.mail import form_link, letter_html

    assert form_link("https://docs.google.com/forms/d/e/1FAIpQL-x_Y/viewform?usp=pp_url&entry.1=KM045") \
        == "/bieu-mau/e/1FAIpQL-x_Y/viewform?usp=pp_url&entry.1=KM045"
    assert form_link("https://docs.google.com/forms/d/e/ABC/viewform") == "/bieu-mau/e/ABC/viewform"
    for other in ("https://docs.google.com/document/d/ABC/edit", "https://evil.example/forms/d/e/ABC/viewform",
                  "https://docs.google.com.evil.example/forms/d/e/ABC/viewform", "mailto:a@b.example"):
        assert form_link(other) is None, other
    html = letter_html('<p><a href="https://docs.google.com/forms/d/e/F1/viewform?entry.2=KM7&amp;a=b">Đăng ký</a>'
                       '<a href="https://hoithao.example" rel="opener">web</a><img src="cid:logo"></p>',
                       {"logo": "data:image/png;base64,AA=="})
    assert 'href="/bieu-mau/e/F1/viewform?entry.2=KM7&amp;a=b" target="_top"' in html
    assert 'href="https://hoithao.example" rel="noopener" target="_blank"' in html
    assert 'src="data:image/png;base64,AA=="' in html


def test_search_ignores_case_and_unicode_form() -> None:
    from rehearsal.pages.mail import Summary, fold, search

    letters = [Summary(gmail_id=str(n), sender="", recipients=name, subject="", date=None, snippet="", files=(),
                       haystack=fold(f"{name}\nThư mời\ntham dự"))
               for n, name in enumerate(["Đinh Hữu Minh", "Trần Thị Mai"])]
    typed = unicodedata.normalize("NFD", "ĐINH hữu")          # decomposed, as some keyboards type it
    assert [s.gmail_id for s in search(letters, typed)] == ["0"]
    assert [s.gmail_id for s in search(letters, "thư  MỜI tham")] == ["0", "1"]
    assert search(letters, "Minh Trần") == []                 # the words as typed, together


def test_search_ignores_diacritics_as_staff_type_without_them() -> None:
    from rehearsal.pages.mail import Summary, fold, search

    assert fold("Sở Giáo dục và Đào tạo") == "so giao duc va dao tao"
    assert fold("NGUYỄN  Văn\tĐức") == fold(unicodedata.normalize("NFD", "nguyễn văn đức")) == "nguyen van duc"
    letters = [Summary(gmail_id=str(n), sender="", recipients=name, subject="", date=None, snippet="", files=(),
                       haystack=fold(f"{name}\nThư mời\nSở Giáo dục"))
               for n, name in enumerate(["Nguyễn Văn Đức", "Trần Thị Mai"])]
    assert [s.gmail_id for s in search(letters, "nguyen van")] == ["0"]
    assert [s.gmail_id for s in search(letters, "van duc")] == ["0"]
    assert [s.gmail_id for s in search(letters, "so giao duc")] == ["0", "1"]
    assert [s.gmail_id for s in search(letters, "Nguyễn Văn")] == ["0"]      # typed with them, as before
    assert search(letters, "nguyen mai") == []


def test_a_letter_fetches_navigates_and_submits_nothing_by_itself() -> None:
    from rehearsal.pages.mail import letter_html

    out = letter_html(
        '<html><head><meta http-equiv="Refresh" content="0;url=http://x.example/r">'
        '<meta http-equiv="content-type" content="text/html; charset=utf-8">'
        '<base href="http://x.example/"><link rel="dns-prefetch" href="//x.example">'
        '<script>alert(1)</script></head><body>'
        '<img src="http://x.example/i.png" srcset="http://x.example/2x.png 2x" alt="ngoài">'
        '<img src="data:image/png;base64,AA=="><img src="cid:logo">'
        '<table background="http://x.example/bg.png"><tr><td>ô</td></tr></table>'
        '<svg><image xlink:href="http://x.example/s.png" href="https://x.example/t.png"/>'
        '<use href="#dau"/><set attributeName="href" to="http://x.example/"/></svg>'
        '<form action="http://x.example/f" method="post"><input name="q">'
        '<button formaction="http://x.example/g">Gửi</button></form>'
        '<iframe src="http://x.example/"></iframe><a href="javascript:alert(1)">js</a>'
        '<a href="https://x.example/doc" ping="http://x.example/p">web</a></body></html>',
        {"logo": "data:image/png;base64,BB=="})
    assert "x.example/r" not in out and "refresh" not in out.lower()
    assert 'http-equiv="content-type"' in out
    for gone in ("<base", "<link", "<script", "<iframe", "<form", "<set", "javascript:", "ping=",
                 "formaction", "i.png", "2x.png", "bg.png", "s.png", "t.png", "x.example/f", "x.example/g"):
        assert gone not in out, gone
    assert 'src="data:image/png;base64,AA=="' in out and 'src="data:image/png;base64,BB=="' in out
    assert 'alt="ngoài"' in out and '<use href="#dau">' in out
    assert '<input name="q">' in out and "Gửi" in out              # what a form says is still read
    assert 'href="https://x.example/doc" target="_blank" rel="noopener"' in out


def test_an_attachment_name_keeps_no_control_character_nor_path() -> None:
    from rehearsal.pages.mail import safe_filename

    assert safe_filename("bad\r\nSet-Cookie: x/..\\y.bin", "tep-1") == "bad Set-Cookie: x-..-y.bin"
    assert safe_filename("../../etc/passwd", "tep-1") == "-..-etc-passwd"
    assert safe_filename("Giấy mời\u202egpj.pdf", "tep-1") == "Giấy mời gpj.pdf"
    assert safe_filename("\x00\r\n", "tep-2.pdf") == "tep-2.pdf"
    long = safe_filename("a" * 400 + ".pdf", "tep-1")
    assert len(long) == 150 and long.endswith(".pdf")


# -- Hộp thư ------------------------------------------------------------------------
@needs_chromium
def test_mailbox_lists_every_message_newest_first_and_search_narrows_it(
        demo_data: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(demo_data)
    sent = _sent(server)
    page = browser_page
    sign_in(page, server, "/hop-thu")
    items = page.locator("[data-testid=mail-list] li a")
    shown = items.evaluate_all("links => links.map(a => a.dataset.gmailId)")
    assert shown == [gmail_id for gmail_id, _ in reversed(sent)] and len(shown) >= 90
    newest = sent[-1][1]
    assert newest["To"].addresses[0].display_name in items.first.inner_text()
    assert str(newest["Subject"]) in items.first.inner_text()
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", items.first.locator(".when").inner_text())

    # A person's name typed in capitals and decomposed finds their letters, and only letters naming them.
    invitation_id, invitation, _ = _invitation(sent)
    name = invitation["To"].addresses[0].display_name
    page.get_by_role("searchbox").fill(unicodedata.normalize("NFD", name.upper()))
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"/hop-thu\?q="))
    found = items.evaluate_all("links => links.map(a => a.dataset.gmailId)")
    assert 0 < len(found) < len(sent)
    by_id = dict(sent)
    for gmail_id in found:
        message = by_id[gmail_id]
        named = " ".join(str(message.get(h, "")) for h in ("From", "To", "Cc", "Subject"))
        text = " ".join(message.get_body(preferencelist=("plain",)).get_content().split())
        assert name in named or name in text
    assert invitation_id in found

    page.get_by_role("searchbox").fill("xyzzy-không-có-thư-nào")
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"q=xyzzy"))
    assert items.count() == 0
    assert "Không tìm thấy thư nào" in page.locator(".mail-side").inner_text()


@needs_chromium
def test_an_invitation_reads_as_its_recipient_sees_it(
        demo_data: Path, open_console: Any, browser_page: Any, tmp_path: Path) -> None:
    server = open_console(demo_data)
    sent = _sent(server)
    gmail_id, invitation, code = _invitation(sent)
    page = browser_page
    page.set_viewport_size(VIEWPORT)
    sign_in(page, server, "/hop-thu")
    with page.expect_response(lambda r: r.url.endswith(f"/hop-thu/{gmail_id}/html")) as framed:
        page.locator(f"[data-testid=mail-list] a[data-gmail-id='{gmail_id}']").click()
    page.wait_for_url(re.compile(rf"/hop-thu/{gmail_id}$"))
    assert framed.value.status == 200
    assert framed.value.headers["content-security-policy"] == LETTER_CSP

    # The list stays beside the letter, the letter marked.
    assert page.locator("[data-testid=mail-list] li a").count() == len(sent)
    assert page.locator("[data-testid=mail-list] a[aria-current=true]").get_attribute("data-gmail-id") == gmail_id
    labels = [t.strip() for t in page.locator(".letter .headers dt").all_inner_texts()]
    assert labels == ["Từ", "Tới", "Tiêu đề", "Ngày"]       # no Cc on this letter
    values = page.locator(".letter .headers dd").all_inner_texts()
    assert invitation["To"].addresses[0].display_name in values[1]
    assert invitation["To"].addresses[0].addr_spec in values[1]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", values[3].strip())
    assert "Đã gửi" in page.locator(".ledger-note").inner_text()

    # The HTML part, inside its frame: the registration link goes to the console's form page.
    letter = page.frame_locator("iframe.letter-html")
    assert letter.get_by_text("GIẤY MỜI").is_visible()
    screenshot(page, tmp_path, "console-hop-thu.png")
    register = letter.locator("a[href*='/bieu-mau/']")
    href = register.get_attribute("href")
    assert re.fullmatch(r"/bieu-mau/e/[\w-]+/viewform\?\S+", href), href
    assert f"={code}" in href
    assert register.get_attribute("target") == "_top"
    assert letter.locator("a[href*='docs.google.com']").count() == 0
    outside = letter.locator("a[href^='https://']").first
    assert outside.get_attribute("target") == "_blank" and outside.get_attribute("rel") == "noopener"

    # The text part: the same link, rewritten.
    page.locator("details.plain summary").click()
    text = page.locator("details.plain pre")
    assert "docs.google.com/forms" not in text.inner_text()
    assert f"={code}" in text.locator("a[href^='/bieu-mau/e/']").get_attribute("href")

    # The giấy mời: opened in the browser, downloaded with the letter's own bytes.
    pdf = next(p for p in invitation.walk() if p.get_content_type() == "application/pdf")
    chip = page.locator(".attachment").filter(has_text=pdf.get_filename())
    with page.expect_download() as download:
        chip.get_by_role("link", name="Tải về").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF") and data == pdf.get_payload(decode=True)
    assert download.value.suggested_filename == f"Giay-moi-{code}.pdf"
    opened = page.request.get(server.base_url + chip.locator("a.name").get_attribute("href"))
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"].startswith("inline")


@needs_chromium
def test_the_registration_link_leaves_the_letter_for_the_console_form(
        demo_data: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(demo_data)
    gmail_id, _, code = _invitation(_sent(server))
    page = browser_page
    sign_in(page, server, f"/hop-thu/{gmail_id}")
    register = page.frame_locator("iframe.letter-html").locator("a[href*='/bieu-mau/']")
    with page.expect_navigation() as followed:
        register.click()
    assert re.search(rf"/bieu-mau/e/[\w-]+/viewform\?\S*={code}", page.url)
    assert followed.value.status != 403, page.locator("main").inner_text()


@needs_chromium
def test_the_ledger_beside_the_mailbox_shows_each_state(
        demo_data: Path, open_console: Any, browser_page: Any) -> None:
    from workspace.outbox import LABELS, SENT, Ledger

    ledger_file = demo_data / "outbox.db"

    def ledger_files() -> tuple[str, list[str]]:
        return (hashlib.sha256(ledger_file.read_bytes()).hexdigest(),
                sorted(p.name for p in demo_data.glob("outbox.db*")))

    before = ledger_files()
    with Ledger(ledger_file, readonly=True) as ledger:
        messages = ledger.in_state(*LABELS)
    server = open_console(demo_data)
    page = browser_page
    sign_in(page, server, "/hop-thu")
    rows = page.locator("[data-testid=ledger] tbody tr")
    shown = dict(zip(rows.evaluate_all("trs => trs.map(tr => tr.dataset.key)"),
                     [t.strip() for t in rows.locator(".state").all_inner_texts()]))
    assert shown == {m.key: LABELS[m.state] for m in messages}
    assert "Đã gửi" in shown.values()
    # What else the demo leaves depends on the hour it ran (reminders wait for their
    # sending hours): the filter is shown with the rarest state there is.
    rarest = min(set(shown.values()), key=lambda label: (list(shown.values()).count(label), label))

    # A sent message's row opens it in the mailbox.
    sent = next(m for m in messages if m.state == SENT)
    page.locator(f"[data-testid=ledger] tr[data-key='{sent.key}']").get_by_role("link", name="Xem thư").click()
    page.wait_for_url(re.compile(rf"/hop-thu/{sent.gmail_id}$"))
    assert sent.key in page.locator(".ledger-note").inner_text()

    # The states filter the ledger.
    page.locator(".back").click()
    page.locator(".state-filter a").filter(has_text=rarest).click()
    page.wait_for_url(re.compile(r"trang_thai="))
    filtered = [t.strip() for t in rows.locator(".state").all_inner_texts()]
    assert filtered == [rarest] * sum(1 for v in shown.values() if v == rarest)
    # Read, never written.
    assert ledger_files() == before


@needs_chromium
def test_an_empty_mailbox_says_which_job_sends(seeded: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(seeded)
    page = browser_page
    sign_in(page, server, "/hop-thu")
    side = page.locator(".mail-side .mail-empty").inner_text()
    assert "Chưa có thư nào được gửi" in side and "send-outbox" in side and "Chạy việc" in side
    assert page.locator(".mail-side .mail-empty a").get_attribute("href") == "/chay-viec"
    assert "Chưa có sổ gửi thư" in page.locator(".mail-view").inner_text()
    assert not (seeded / "outbox.db").exists()


def test_unknown_ids_are_refused(demo_data: Path, open_console: Any) -> None:
    server = open_console(demo_data)
    session = _signed_in_session(server)
    gmail_id = _sent(server)[0][0]
    doc_id = _drive_docs(server)[0]["id"]
    for path in ("/hop-thu/khong-co", "/hop-thu/..%5C..", f"/hop-thu/{gmail_id}/tep/99",
                 "/van-ban/khong-co-van-ban", f"/van-ban/{doc_id}/trang/999.png"):
        answer = session.get(server.base_url + path, timeout=30)
        assert answer.status_code == 404, path
        assert "Không tìm thấy" in answer.text, path


@needs_chromium
def test_a_crafted_letter_shows_nothing_active(demo_data: Path, open_console: Any, browser_page: Any) -> None:
    server = open_console(demo_data)
    recorder = _Recorder()
    try:
        there = recorder.url
        message = EmailMessage()
        message["From"] = "Ai đó <ai@ngoai.example>"
        message["To"] = "Ban Tổ chức <hoithao@hcm.edu.vn>"
        message["Subject"] = "Thư soạn sẵn để thử khung thư"
        message.set_content("Thư thử.")
        message.add_alternative(
            f'<html><head><meta http-equiv="refresh" content="0;url={there}/refresh">'
            f'<base href="{there}/base/"><link rel="stylesheet" href="{there}/css"></head><body>'
            f'<p>Nội dung thư thử</p><img src="{there}/anh.png" alt="ảnh ngoài"><img src="cid:dau" alt="dấu">'
            f'<img src="/bang-tinh" alt="trang bảng tính">'
            f'<svg width="20" height="20"><image xlink:href="{there}/svg1" href="{there}/svg2" '
            f'width="20" height="20"/></svg>'
            f'<form action="{there}/form" method="post"><input name="q" value="x">'
            f'<button type="submit">Gửi đi</button></form>'
            f'<p><a href="tuong-doi">một liên kết tương đối</a></p></body></html>', subtype="html")
        message.get_payload()[1].add_related(PIXEL, "image", "png", cid="<dau>")
        gmail_id = _send(server, message)

        page = browser_page
        page.set_viewport_size(VIEWPORT)
        sign_in(page, server, "/hop-thu")
        with page.expect_response(lambda r: r.url.endswith(f"/hop-thu/{gmail_id}/html")) as framed:
            page.goto(f"{server.base_url}/hop-thu/{gmail_id}")
        assert framed.value.status == 200
        assert framed.value.headers["content-security-policy"] == LETTER_CSP
        letter = page.frame_locator("iframe.letter-html")
        assert letter.get_by_text("Nội dung thư thử").is_visible()
        page.wait_for_timeout(1500)                 # a refresh after 0 s would have happened by now
        assert page.url == f"{server.base_url}/hop-thu/{gmail_id}"

        # None of it is there to act: no refresh, no base, no form, no remote address.
        assert letter.locator("meta[http-equiv], base, link, form").count() == 0
        images = letter.locator("img")
        sources = [images.nth(i).get_attribute("src") for i in range(images.count())]
        assert sources[1].startswith("data:image/png;base64,")         # the inline image, drawn
        assert all(src is None or src.startswith("data:") for src in sources), sources
        svg = letter.locator("svg image")
        assert svg.get_attribute("href") is None and svg.get_attribute("xlink:href") is None
        # Its button does nothing: there is no form to send.
        letter.get_by_role("button", name="Gửi đi").click()
        page.wait_for_timeout(500)
        assert page.url == f"{server.base_url}/hop-thu/{gmail_id}"
        assert recorder.hits == []
    finally:
        recorder.close()


def test_a_locked_ledger_still_shows_the_letters(demo_data: Path, open_console: Any) -> None:
    server = open_console(demo_data)
    session = _signed_in_session(server)
    ledger = demo_data / "outbox.db"
    gmail_id = _sent(server)[-1][0]
    with contextlib.closing(sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)) as db:
        key = db.execute("SELECT key FROM messages LIMIT 1").fetchone()[0]

    # A job writing in WAL mode leaves readers be: the ledger reads as always.
    with _ledger_held(ledger, exclusive_mode=False):
        page = session.get(f"{server.base_url}/hop-thu", timeout=60)
        assert page.status_code == 200 and 'data-testid="ledger"' in page.text

    # A writer that shuts readers out: the letters are still there, the ledger said busy.
    with _ledger_held(ledger, exclusive_mode=True):
        page = session.get(f"{server.base_url}/hop-thu", timeout=60)
        assert page.status_code == 200, page.text
        assert f'data-gmail-id="{gmail_id}"' in page.text
        assert 'data-testid="ledger"' not in page.text
        assert "Sổ gửi thư (outbox.db) đang bận" in page.text and "tải lại trang sau ít phút" in page.text
        letter = session.get(f"{server.base_url}/hop-thu/{gmail_id}", timeout=60)
        assert letter.status_code == 200 and "đang bận" in letter.text
        stored = session.get(f"{server.base_url}/hop-thu/so-cai/{key}", timeout=60)
        assert stored.status_code == 503 and "Sổ gửi thư đang bận" in stored.text

    page = session.get(f"{server.base_url}/hop-thu", timeout=60)
    assert 'data-testid="ledger"' in page.text and "đang bận" not in page.text


def test_an_attachment_named_with_a_line_break_downloads_under_a_clean_name(
        demo_data: Path, open_console: Any) -> None:
    server = open_console(demo_data)
    raw = (b"From: Ai do <ai@ngoai.example>\r\nTo: hoithao@hcm.edu.vn\r\nSubject: Tep dinh kem la\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXem tep.\r\n"
           b"--B\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Disposition: attachment; filename*=utf-8''bao-cao%0D%0ASet-Cookie%3A%20x%3D1%2F..%5Cy.bin\r\n"
           b"\r\nDATA\r\n--B--\r\n")
    gmail_id = _send(server, raw)
    session = _signed_in_session(server)
    page = session.get(f"{server.base_url}/hop-thu/{gmail_id}", timeout=30)
    assert page.status_code == 200 and "bao-cao Set-Cookie: x=1-..-y.bin" in page.text
    answer = session.get(f"{server.base_url}/hop-thu/{gmail_id}/tep/1", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.content == b"DATA"
    disposition = answer.headers["content-disposition"]
    assert disposition == 'attachment; filename="bao-cao Set-Cookie: x=1-..-y.bin"'
    assert "set-cookie" not in {name.lower() for name in answer.headers}


@needs_chromium
def test_search_without_diacritics_finds_the_letters(demo_data: Path, open_console: Any,
                                                    browser_page: Any) -> None:
    server = open_console(demo_data)
    sent = _sent(server)
    page = browser_page
    sign_in(page, server, "/hop-thu")
    items = page.locator("[data-testid=mail-list] li a")
    for typed, written in (("nguyen van", "Nguyễn Văn"), ("so giao duc", "Sở Giáo dục")):
        page.get_by_role("searchbox").fill(typed)
        page.get_by_role("searchbox").press("Enter")
        page.wait_for_url(re.compile(r"/hop-thu\?q="))
        found = set(items.evaluate_all("links => links.map(a => a.dataset.gmailId)"))
        written_in = {gmail_id for gmail_id, m in sent if written in _searched_text(m)}
        assert written_in and written_in <= found, typed
        assert all(typed in _fold(_searched_text(m)) for gmail_id, m in sent if gmail_id in found), typed
        assert len(found) < len(sent) or typed == "so giao duc"


@needs_chromium
def test_a_letter_waiting_for_approval_reads_from_the_ledger(
        seeded: Path, open_console: Any, browser_page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOITHAO_GOOGLE_URL", raising=False)
    waiting = _queue_for_approval(seeded, "KM004")
    stored = email.message_from_bytes(waiting.raw, policy=email.policy.default)
    server = open_console(seeded)
    assert _sent(server) == []                  # Gmail has accepted nothing
    page = browser_page
    page.set_viewport_size(VIEWPORT)
    sign_in(page, server, "/hop-thu")
    row = page.locator(f"[data-testid=ledger] tr[data-key='{waiting.key}']")
    assert row.locator(".state").inner_text().strip() == "Chờ duyệt"
    with page.expect_response(lambda r: r.url.endswith("/html")) as framed:
        row.get_by_role("link", name="Xem thư").click()
    page.wait_for_url(re.compile(r"/hop-thu/so-cai/"))
    assert framed.value.status == 200
    assert framed.value.headers["content-security-policy"] == LETTER_CSP

    note = page.get_by_test_id("unsent-note").inner_text()
    assert note.startswith("Chưa gửi — đang chờ duyệt ở trang “Hộp thư đi” (tích Duyệt).")
    assert waiting.key in page.locator(".ledger-note").inner_text()
    assert page.locator(".letter-subject").inner_text() == str(stored["Subject"])
    labels = [t.strip() for t in page.locator(".letter .headers dt").all_inner_texts()]
    assert labels == ["Từ", "Tới", "Tiêu đề", "Xếp hàng"]
    assert stored["To"].addresses[0].addr_spec in page.locator(".letter .headers dd").nth(1).inner_text()
    assert page.frame_locator("iframe.letter-html").get_by_text("GIẤY MỜI").is_visible()
    assert page.locator("[data-testid=mail-list] a[aria-current=true]").count() == 0

    # Its attachments, the ledger's own bytes.
    for part in (p for p in stored.walk() if p.get_filename()):
        chip = page.locator(".attachment").filter(has_text=part.get_filename())
        with page.expect_download() as download:
            chip.get_by_role("link", name="Tải về").click()
        assert Path(download.value.path()).read_bytes() == part.get_payload(decode=True)
        assert download.value.suggested_filename == part.get_filename()

    # Only the ledger's keys are read; any other address is the missing page.
    session = _signed_in_session(server)
    for path in ("/hop-thu/so-cai/thu-moi:KM999:1", "/hop-thu/so-cai/thu-moi:KM004:1%00",
                 "/hop-thu/so-cai/" + "x" * 400, f"/hop-thu/so-cai/{waiting.key}/tep/9",
                 "/hop-thu/so-cai/..%2F..%2Foutbox.db"):
        answer = session.get(server.base_url + path, timeout=30)
        assert answer.status_code == 404, path
        assert "Không tìm thấy thư" in answer.text, path


@needs_chromium
def test_the_mailbox_reads_on_a_phone(demo_data: Path, open_console: Any, browser_page: Any,
                                      tmp_path: Path) -> None:
    server = open_console(demo_data)
    gmail_id, _, _ = _invitation(_sent(server))
    page = browser_page
    page.set_viewport_size(PHONE)
    sign_in(page, server, "/hop-thu")
    wide = "() => document.documentElement.scrollWidth"
    assert page.evaluate(wide) <= PHONE["width"]
    page.goto(f"{server.base_url}/hop-thu/{gmail_id}")
    frame = page.locator("iframe.letter-html")
    frame.wait_for()
    assert page.frame_locator("iframe.letter-html").get_by_text("GIẤY MỜI").is_visible()
    assert page.evaluate(wide) <= PHONE["width"]
    box = frame.bounding_box()
    assert box is not None and box["width"] >= 330 and box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    # The open letter comes first, the list below it.
    letter_top = page.locator(".letter-subject").bounding_box()["y"]
    assert letter_top < page.locator("[data-testid=mail-list]").bounding_box()["y"]
    screenshot(page, tmp_path, "console-hop-thu-375.png")


def test_odd_letters_and_addresses_never_break_the_mailbox(demo_data: Path, open_console: Any) -> None:
    server = open_console(demo_data)
    # A Date at the calendar's edge: in Hồ Chí Minh City's time it would be past year 9999.
    odd = _send(server, b"From: ai@ngoai.example\r\nTo: hoithao@hcm.edu.vn\r\nSubject: Ngay la\r\n"
                        b"Date: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\nThu co ngay la.\r\n")
    session = _signed_in_session(server)
    for path in ("/hop-thu", f"/hop-thu/{odd}", "/hop-thu?q=Ngay%20la", "/hop-thu?q=ngay+la&q=b&trang_thai=KHONG-CO"):
        answer = session.get(server.base_url + path, timeout=30)
        assert answer.status_code == 200, path
        assert f'data-gmail-id="{odd}"' in answer.text, path
    answer = session.get(f"{server.base_url}/hop-thu?q=%00%ff&trang_thai=%00", timeout=30)
    assert answer.status_code == 200 and "Không tìm thấy thư nào" in answer.text
    for path in ("/hop-thu/so-cai", "/hop-thu/%00/html", f"/hop-thu/{odd}/html"):
        answer = session.get(server.base_url + path, timeout=30)
        assert answer.status_code == 404, path
        assert "Không tìm thấy" in answer.text, path


# -- Văn bản ------------------------------------------------------------------------
@needs_chromium
@needs_fonts
def test_a_doc_reads_as_pages_and_downloads_as_docx_and_pdf(
        demo_data: Path, open_console: Any, browser_page: Any, tmp_path: Path) -> None:
    server = open_console(demo_data)
    docs = _drive_docs(server)
    page = browser_page
    page.set_viewport_size(VIEWPORT)
    sign_in(page, server, "/van-ban")
    names = [n.strip() for n in page.locator("[data-testid=docs] .doc-name").all_inner_texts()]
    assert names == [d["name"] for d in docs] and len(names) >= 11

    title = "Phát biểu khai mạc Hội thảo"
    page.locator("[data-testid=docs] .doc-name").filter(has_text=re.compile(rf"^{title}$")).click()
    page.wait_for_function("() => { const i = document.querySelector('.doc-pages img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    images = page.locator(".doc-pages img")
    assert images.count() >= 1
    assert images.first.evaluate("i => i.naturalWidth") >= 700      # an A4 page at 96 dpi is 794 wide
    assert page.locator(".doc-text").count() == 0

    with page.expect_download() as docx:
        page.get_by_role("link", name="Tải xuống .docx").click()
    assert docx.value.suggested_filename == f"{title}.docx"
    with zipfile.ZipFile(io.BytesIO(Path(docx.value.path()).read_bytes())) as archive:
        assert "word/document.xml" in archive.namelist()
    with page.expect_download() as pdf:
        page.get_by_role("link", name="Tải xuống .pdf").click()
    assert pdf.value.suggested_filename == f"{title}.pdf"
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    screenshot(page, tmp_path, "console-van-ban.png")


def test_a_doc_without_pdftoppm_reads_as_text_with_what_to_install(
        demo_data: Path, open_console: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = open_console(demo_data)
    doc = next(d for d in _drive_docs(server) if d["name"] == "Phát biểu khai mạc Hội thảo")
    session = _signed_in_session(server)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))          # a machine without poppler-utils
    answer = session.get(f"{server.base_url}/van-ban/{doc['id']}", timeout=30)
    assert answer.status_code == 200
    assert 'class="doc-text"' in answer.text and "PHÁT BIỂU KHAI MẠC" in answer.text
    assert "apt-get install" in answer.text
    assert "<img" not in answer.text.split('class="doc-pages"', 1)[1]
