"""The console's Hộp thư and Văn bản pages, in a real browser over the demo's
sandbox: every message Gmail accepted, as its recipient sees it, beside the
outbox ledger; every Google Doc as its pages, with Drive's two downloads.

What the page shows is compared with the sandbox itself (its sent mail, the
ledger file, Drive through the real client), never with the page alone."""
from __future__ import annotations

import email
import email.policy
import hashlib
import io
import re
import unicodedata
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser import needs_chromium, screenshot
from tests.conftest import needs_fonts
from tests.console_fixtures import sign_in

# No script ever runs in a letter (no allow-scripts); same origin only so that a
# click on its form link stays a same-site navigation carrying the console's cookie.
LETTER_CSP = ("sandbox allow-same-origin allow-popups allow-top-navigation-by-user-activation; "
              "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'")
VIEWPORT = {"width": 1280, "height": 800}
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
