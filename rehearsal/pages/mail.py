"""Hộp thư: every message Gmail accepted in the sandbox, as its recipient sees
it (the HTML part in a sandboxed frame, the text part, the attachments),
newest first and searchable; beside it the outbox ledger, each message in the
state `Hộp thư đi` shows. A message Gmail has not accepted (waiting for
approval, queued, failed, cancelled) is read from the ledger itself, read-only,
at `/hop-thu/so-cai/<key>`.

Messages are parsed with the standard library's `email` package; a letter's
HTML is re-serialised with lxml.html to make it inert and its links safe: a
Google Form link goes to the console's own form page, any other link opens in
a new tab, an inline `cid:` image becomes a data: URL, and nothing in it can
fetch, navigate or submit by itself (no remote images, no <base>, no meta
refresh, no forms, no SVG references outside the letter)."""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import mimetypes
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import lxml.etree
import lxml.html
from flask import Blueprint, Response, abort, render_template, request, send_file, url_for
from markupsafe import Markup, escape

from sandbox.api.gmail import sent_messages
from workflows.mail_mirror import outbox_rows
from workspace import outbox

from ..state import console

bp = Blueprint("mail", __name__, url_prefix="/hop-thu")

# The letter's own page, served into an <iframe>: no script ever runs, nothing
# is fetched (its inline images are data: URLs already), no form is submitted,
# and a link leaves the frame only on a click. allow-same-origin (safe without
# allow-scripts: nothing in the letter can use it) keeps a click on the
# letter's form link a same-site navigation, which carries the console's
# SameSite=Strict cookie; that is also why nothing else may be fetched.
LETTER_CSP = ("sandbox allow-same-origin allow-popups allow-top-navigation-by-user-activation; "
              "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "form-action 'none'; base-uri 'none'")
FORMS_HOST = "docs.google.com"
FORM_PATH = re.compile(r"/forms/d/e/([A-Za-z0-9_-]+)/viewform")
# A web address in a text part (trailing punctuation is the sentence's, not the link's).
URL = re.compile(r"https?://[^\s<>\"]+")
TRAILING = ".,;:!?)]}'’”"
GMAIL_ID = re.compile(r"[0-9a-zA-Z_-]{1,64}")
# A ledger key (`thu-moi:KM001:1`) is at most this long.
KEY_MAX = 300
# How long a page waits for a job's write to the ledger before saying it is busy.
LEDGER_WAIT_MS = 1500
DATE_FORMAT = "%d/%m/%Y %H:%M"
# An inline (cid:) image up to this size goes into the letter's page itself.
INLINE_IMAGE_BYTES = 5 * 1024 * 1024
# State -> CSS class of its label (console.css colours sent, failed, unknown).
STATE_CLASS = {state: state.lower().replace("_", "-") for state in outbox.LABELS}
# The order states are counted in above the ledger.
STATE_ORDER = (outbox.SENT, outbox.QUEUED, outbox.AWAITING_APPROVAL, outbox.SENDING, outbox.UNKNOWN,
               outbox.FAILED, outbox.CANCELLED)


# -- reading messages ------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """What the list shows of a message, and what search looks through."""
    gmail_id: str
    sender: str
    recipients: str
    subject: str
    date: dt.datetime | None
    snippet: str
    files: tuple[tuple[str, bool], ...]   # each attachment's name, and whether it is a PDF
    haystack: str          # From, To, Cc, Subject and the text body, folded (see fold)


@dataclass
class Letter:
    """One message taken apart: its headers, body parts and attachments.
    `base` is where the console serves it: `/hop-thu/<gmail id>` for a message
    Gmail accepted, `/hop-thu/so-cai/<key>` for one read from the ledger."""
    gmail_id: str
    message: EmailMessage
    html: EmailMessage | None
    text: EmailMessage | None
    attachments: list[tuple[int, EmailMessage]]
    base: str = ""

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return "" if value is None else str(value)

    @property
    def subject(self) -> str:
        return self.header("Subject")

    def people(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) of each person a From/To/Cc header names."""
        header = self.message.get(name)
        addresses = getattr(header, "addresses", None)
        if addresses is None:
            return [(str(header), "")] if header else []
        return [(a.display_name, a.addr_spec) for a in addresses]

    def date(self, tz: str) -> dt.datetime | None:
        return _date(self.message, tz)

    def attachment(self, n: int) -> EmailMessage | None:
        return next((part for i, part in self.attachments if i == n), None)

    def filename(self, n: int) -> str:
        """The attachment's name as a download may carry it (see safe_filename)."""
        part = self.attachment(n)
        name = _own_filename(part) if part is not None else None
        guessed = mimetypes.guess_extension(part.get_content_type()) if part is not None else None
        return safe_filename(name or "", f"tep-{n}{guessed or ''}")

    def cid_urls(self) -> dict[str, str]:
        """Content-ID (without <>) -> the inline image itself as a data: URL, for
        each image part up to INLINE_IMAGE_BYTES. The letter's frame fetches
        nothing (LETTER_CSP allows data: images only), so a part that is not
        an image, or too big to inline, is not shown in the letter: the page
        lists it with the attachments instead (see shown_attachments)."""
        out = {}
        for _, part in self.attachments:
            cid = _cid(part)
            if not cid or part.get_content_maintype() != "image":
                continue
            data = part.get_payload(decode=True) or b""
            if len(data) <= INLINE_IMAGE_BYTES:
                out[cid] = f"data:{part.get_content_type()};base64,{base64.b64encode(data).decode('ascii')}"
        return out

    def shown_attachments(self) -> list[tuple[int, EmailMessage]]:
        """The parts the page lists as attachments: every one with a file name,
        and any other the letter does not show inline (as Gmail does, an image
        the HTML shows by its Content-ID is not listed)."""
        inline = self.cid_urls() if self.html is not None else {}
        return [(n, part) for n, part in self.attachments
                if _own_filename(part) or not _cid(part) or _cid(part) not in inline]

    def body_text(self) -> str:
        if self.text is not None:
            return _content(self.text)
        if self.html is not None:
            try:
                return lxml.html.document_fromstring(_content(self.html)).text_content()
            except (ValueError, lxml.etree.ParserError):
                return ""
        return ""


def _cid(part: EmailMessage) -> str:
    return (part.get("Content-ID") or "").strip().strip("<>")


def _own_filename(part: EmailMessage) -> str | None:
    """The file name the part carries, if any (one that cannot be decoded: none)."""
    try:
        return part.get_filename()
    except (LookupError, ValueError):
        return None


# The longest download name the page gives (its extension kept).
FILENAME_MAX = 150


def safe_filename(name: str, fallback: str) -> str:
    """`name` (an attachment's own name, as the sender wrote it) as a download
    may carry it: NFC; control and format characters (CR, LF, NUL, bidi
    overrides) as spaces, path separators as dashes; white space collapsed, no
    leading dots, at most FILENAME_MAX characters; `fallback` when nothing is left."""
    kept = []
    for c in unicodedata.normalize("NFC", name):
        if c in "/\\":
            kept.append("-")
        elif unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            kept.append(" ")
        else:
            kept.append(c)
    name = " ".join("".join(kept).split()).lstrip(". ")
    if len(name) > FILENAME_MAX:
        _, dot, ext = name.rpartition(".")
        ext = "." + ext if dot and 0 < len(ext) <= 10 else ""
        name = name[:FILENAME_MAX - len(ext)].rstrip() + ext
    return name or fallback


def parse(gmail_id: str, raw: bytes, base: str = "") -> Letter:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    bodies = {id(html), id(text)}
    leaves = [p for p in message.walk() if not p.is_multipart() and id(p) not in bodies]
    return Letter(gmail_id, message, html, text, list(enumerate(leaves, start=1)),
                  base or f"/hop-thu/{gmail_id}")


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):      # an unknown charset: show what can be read
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def _date(message: EmailMessage, tz: str) -> dt.datetime | None:
    header = message.get("Date")
    moment = getattr(header, "datetime", None)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    try:
        return moment.astimezone(ZoneInfo(tz))
    except (OverflowError, ValueError):     # a Date at the edge of the calendar (year 9999, -1200)
        return None


def _names(header: Any) -> str:
    """The people a From/To/Cc header names, as a person reads them (names, else addresses)."""
    addresses = getattr(header, "addresses", None)
    if not addresses:
        return "" if header is None else str(header)
    return ", ".join(a.display_name or a.addr_spec for a in addresses)


# Letters that carry no combining mark but are read as plain "d" by a person
# typing without diacritics (Vietnamese đ, and the look-alike Icelandic eth).
_PLAIN = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})


def fold(text: str) -> str:
    """Text as search compares it, as staff type without diacritics: case
    folded, decomposed (NFD) with every combining mark dropped, đ as d, runs of
    white space as one space ("Sở Giáo dục" -> "so giao duc")."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN).casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def summarise(letter: Letter, tz: str) -> Summary:
    message = letter.message
    body = letter.body_text()
    searched = [letter.header(h) for h in ("From", "To", "Cc", "Subject")] + [body]
    return Summary(gmail_id=letter.gmail_id, sender=_names(message.get("From")),
                   recipients=_names(message.get("To")), subject=letter.subject,
                   date=letter.date(tz), snippet=" ".join(body.split())[:160],
                   files=tuple((letter.filename(n), p.get_content_type() == "application/pdf")
                                 for n, p in letter.attachments if _own_filename(p)),
                   haystack=fold("\n".join(searched)))


class Mailbox:
    """The sandbox's sent mail, summaries kept in memory (a message Gmail
    accepted never changes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._summaries: dict[tuple[str, str], Summary] = {}

    def messages(self) -> list[tuple[str, bytes]]:
        """(gmail id, raw bytes), newest first."""
        return list(reversed(sent_messages(console().store)))

    def summaries(self, messages: Iterable[tuple[str, bytes]], tz: str) -> list[Summary]:
        where = str(console().data_dir)
        out = []
        for gmail_id, raw in messages:
            key = (where, gmail_id)
            with self._lock:
                found = self._summaries.get(key)
            if found is None:
                found = summarise(parse(gmail_id, raw), tz)
                with self._lock:
                    self._summaries[key] = found
            out.append(found)
        return out


MAILBOX = Mailbox()


def search(summaries: list[Summary], q: str) -> list[Summary]:
    """Messages whose From, To, Cc, Subject or text holds `q` (any case, any
    Unicode form, with or without diacritics: see fold)."""
    needle = fold(q)
    return [s for s in summaries if needle in s.haystack]


# -- links in a letter ------------------------------------------------------------
def form_link(url: str) -> str | None:
    """A Google Form's address -> the console's own form page (same query), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or parts.hostname != FORMS_HOST:
        return None
    match = FORM_PATH.fullmatch(parts.path)
    if match is None:
        return None
    return f"/bieu-mau/e/{match[1]}/viewform" + (f"?{parts.query}" if parts.query else "")


# Elements dropped with what they hold: each would fetch, frame, run or
# redirect something, and none is part of what a letter says.
DROPPED = ("script", "iframe", "frame", "frameset", "object", "embed", "applet", "portal", "link", "base")
# Attributes that would make the browser fetch, ping or submit to an address.
FETCHING = ("src", "srcset", "imagesrcset", "background", "poster", "lowsrc", "dynsrc", "longdesc",
            "manifest", "ping", "action", "formaction", "formtarget")
# Where a link in a letter may lead (anything else, javascript: and data: among them, is dropped).
LINK_SCHEMES = ("http", "https", "mailto", "tel")
# A <meta http-equiv> the browser may act on; any other (refresh, set-cookie, ...) is dropped.
KEPT_HTTP_EQUIV = ("content-type", "content-language")


def _inline_only(value: str) -> bool:
    """Whether an address in a letter stays inside it: a data: URL or a #fragment."""
    value = value.strip().lower()
    return value.startswith(("data:", "#"))


def _link_allowed(href: str) -> bool:
    try:
        scheme = urlsplit(href.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in LINK_SCHEMES or not scheme      # a relative link stays in the console


def letter_html(html: str, cid_urls: dict[str, str]) -> str:
    """The HTML part as the frame shows it, inert: form links to the console's
    form page (opening in the whole window), other links in a new tab, cid:
    images as the data: URLs of `cid_urls` (one not there: blank); and nothing
    that fetches, navigates or submits by itself: no remote image or other
    fetched address, no <base>, no <meta http-equiv=refresh>, no script,
    frame or object, a <form> kept only as its fields (no address to submit
    to), no SVG reference (href, xlink:href, or an animation setting one)
    leading out of the letter. A <style> is kept as written: a url() in it is
    stopped by the frame's LETTER_CSP (img-src data:, default-src 'none'),
    the guard this cleaning stands in front of."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return ""
    for element in list(doc.iter(*DROPPED)):
        element.drop_tree()
    for meta in list(doc.iter("meta")):
        equiv = meta.get("http-equiv")
        if equiv is not None and equiv.strip().lower() not in KEPT_HTTP_EQUIV:
            meta.drop_tree()
    for animation in list(doc.iter("set", "animate")):
        # SVG animation may set a reference after the page is drawn.
        if (animation.get("attributename") or "").strip().lower() in ("href", "xlink:href"):
            animation.drop_tree()
    for form in doc.iter("form"):
        form.tag = "div"
        for name in ("action", "method", "target", "enctype"):
            form.attrib.pop(name, None)
    for image in doc.iter("img"):
        src = (image.get("src") or "").strip()
        if src.lower().startswith("cid:"):
            image.set("src", cid_urls.get(src[4:].strip("<>"), "data:,"))
    for element in doc.iter(lxml.etree.Element):
        is_link = element.tag in ("a", "area")
        for name in list(element.attrib):
            lower = name.lower()
            value = element.get(name) or ""
            # A srcset lists several addresses: it goes whole (its src stays).
            if lower in FETCHING and not (lower in ("src", "background", "poster")
                                          and value.strip().lower().startswith("data:")):
                del element.attrib[name]
            elif lower in ("href", "xlink:href") and not is_link and not _inline_only(value):
                del element.attrib[name]
        if is_link:
            _point_link(element)
    return lxml.html.tostring(doc, encoding="unicode", doctype="<!DOCTYPE html>")


def _point_link(link: Any) -> None:
    """A link of the letter: a form's to the console's form page (the whole
    window), any other web address in a new tab, anything else dropped."""
    for name in ("href", "xlink:href"):
        href = link.get(name)
        if not href:
            continue
        local = form_link(href)
        if local is not None:
            link.set(name, local)
            link.set("target", "_top")
            link.attrib.pop("rel", None)
        elif _link_allowed(href):
            link.set("target", "_blank")
            link.set("rel", "noopener")
        else:
            del link.attrib[name]


def letter_text(text: str, here: str) -> Markup:
    """The text part, escaped, its addresses made links (a form's to the console's
    own form page, shown as the full address a reader would see)."""
    pieces: list[str | Markup] = []
    last = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        start, end = match.start(), match.start() + len(url)
        pieces.append(escape(text[last:start]))
        local = form_link(url)
        if local is not None:
            shown = here.rstrip("/") + local
            pieces.append(Markup('<a href="{}" target="_top">{}</a>').format(local, shown))
        else:
            pieces.append(Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, url))
        last = end
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


# -- the ledger ------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """A ledger row as `Hộp thư đi` shows it."""
    key: str
    kind: str
    recipient: str
    email: str
    subject: str
    state: str
    label: str
    sent_at: str
    gmail_id: str
    error: str

    @property
    def css(self) -> str:
        return STATE_CLASS.get(self.state, "")


class LedgerUnreadable(Exception):
    """The ledger could not be read now: `busy` when a job holds it (it is
    writing), else the file itself could not be read."""

    def __init__(self, busy: bool):
        super().__init__("busy" if busy else "unreadable")
        self.busy = busy


def _ledger_path() -> Path:
    config = console().config
    return config.resolve(config.mail.ledger)


def _read_ledger(path: Path, read: Any) -> Any:
    """read(ledger) over the ledger opened read-only (never changed); a job
    writing it for longer than LEDGER_WAIT_MS raises LedgerUnreadable."""
    try:
        with outbox.Ledger(path, readonly=True) as ledger:
            ledger.db.execute(f"PRAGMA busy_timeout = {LEDGER_WAIT_MS}")
            return read(ledger)
    except sqlite3.OperationalError as exc:
        # "database is locked" / "… busy": a writer holds it. Anything else
        # ("no such table": not a ledger) will not pass by waiting.
        text = str(exc).lower()
        raise LedgerUnreadable(busy="locked" in text or "busy" in text) from exc
    except sqlite3.DatabaseError as exc:
        raise LedgerUnreadable(busy=False) from exc


def ledger_entries(tz: str) -> list[Entry] | None:
    """Every message of the outbox ledger, latest first; None when the file does
    not exist. The file is opened read-only and never changed."""
    path = _ledger_path()
    if not path.exists():
        return None
    messages = _read_ledger(path, lambda ledger: ledger.in_state(*outbox.LABELS))
    rows = outbox_rows(messages, tz)         # kind and state exactly as the sheet shows them
    messages.sort(key=lambda m: (m.sent_at or m.sending_at or m.queued_at, m.key), reverse=True)
    return [Entry(key=m.key, kind=rows[m.key]["kind"], recipient=m.recipient, email=m.email,
                  subject=m.subject, state=m.state, label=rows[m.key]["status"],
                  sent_at=_moment(m.sent_at, tz), gmail_id=m.gmail_id, error=m.error)
            for m in messages]


def ledger_message(key: str) -> outbox.Message:
    """The ledger's message `key` (404 for a key it does not hold, or no ledger)."""
    if not key or len(key) > KEY_MAX or any(unicodedata.category(c)[0] == "C" for c in key):
        abort(404)
    path = _ledger_path()
    if not path.exists():
        abort(404)
    message = _read_ledger(path, lambda ledger: ledger.get(key))
    if message is None:
        abort(404)
    return message


def unsent_note(message: outbox.Message) -> str:
    """What the page says above a letter read from the ledger: where it stands
    and what staff do for it to go (the tab and tick boxes of `Hộp thư đi`)."""
    sheets = console().config.sheets
    tab, columns = sheets.outbox.tab, sheets.outbox.columns
    approve, resend = columns.get("approve", "Duyệt"), columns.get("resend", "Gửi lại")
    notes = {
        outbox.AWAITING_APPROVAL: f"Chưa gửi — đang chờ duyệt ở trang “{tab}” (tích {approve}). Sau khi "
                                  f"duyệt, việc send-outbox gửi thư này đúng như dưới đây.",
        outbox.QUEUED: "Chưa gửi — đã xếp hàng, việc send-outbox sẽ gửi thư này ở lượt chạy tới "
                       "(trong giới hạn gửi của Gmail).",
        outbox.SENDING: "Đang gửi — công cụ đang chuyển thư này cho Gmail. Xin tải lại trang sau ít phút.",
        outbox.UNKNOWN: f"Không rõ đã gửi hay chưa — lượt gửi thư này bị ngắt giữa chừng. Chỉ tích "
                        f"{resend} ở trang “{tab}” khi chắc chắn người nhận chưa nhận được thư.",
        outbox.FAILED: f"Chưa gửi — Gmail không nhận thư này. Sửa lỗi rồi tích {resend} ở trang “{tab}” "
                       f"để gửi lại.",
        outbox.CANCELLED: "Đã huỷ — thư này sẽ không được gửi.",
        outbox.SENT: "Đã gửi — đây là bản trong sổ gửi thư.",
    }
    return notes.get(message.state, outbox.LABELS.get(message.state, message.state))


def _moment(seconds: float | None, tz: str) -> str:
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(seconds, ZoneInfo(tz)).strftime(DATE_FORMAT)


def state_counts(entries: list[Entry]) -> list[tuple[str, str, str, int]]:
    """(state, label, css class, count) of each state present, in a fixed order."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.state] = counts.get(e.state, 0) + 1
    return [(s, outbox.LABELS[s], STATE_CLASS[s], counts[s]) for s in STATE_ORDER if counts.get(s)]


# -- pages -----------------------------------------------------------------------
def _tz() -> str:
    return console().config.timezone


def _page(selected: Letter | None = None, stored: outbox.Message | None = None) -> str:
    """The mailbox with the ledger, or with `selected` (a message Gmail
    accepted, or one read from the ledger: `stored`)."""
    tz = _tz()
    q = unicodedata.normalize("NFC", request.args.get("q", "")).strip()
    state = request.args.get("trang_thai", "")
    messages = MAILBOX.messages()
    summaries = MAILBOX.summaries(messages, tz)
    shown = search(summaries, q) if q else summaries
    ledger_problem = None
    try:
        entries = ledger_entries(tz)
    except LedgerUnreadable as exc:
        entries, ledger_problem = None, "busy" if exc.busy else "unreadable"
    context: dict[str, Any] = dict(q=q, total=len(summaries), shown=shown, entries=entries,
                                   counts=state_counts(entries or []), state=state,
                                   ledger_problem=ledger_problem, ledger_name=console().config.mail.ledger.name,
                                   date_format=DATE_FORMAT, query=urlencode({"q": q}) if q else "")
    if selected is None:
        if state in outbox.LABELS:
            context["entries"] = [e for e in entries or [] if e.state == state]
        return render_template("mail.html", **context)
    attachments = [(n, selected.filename(n), part.get_content_type(),
                    _size(len(part.get_payload(decode=True) or b"")))
                   for n, part in selected.shown_attachments()]
    if stored is not None:
        entry = next((e for e in entries or [] if e.key == stored.key), None)
    else:
        entry = next((e for e in entries or [] if e.gmail_id and e.gmail_id == selected.gmail_id), None)
    text = letter_text(_content(selected.text), request.host_url) if selected.text is not None else None
    context.update(letter=selected, letter_date=selected.date(tz), attachments=attachments,
                   text=text, entry=entry, stored=stored)
    if stored is not None:
        context.update(unsent_note=unsent_note(stored), stored_css=STATE_CLASS.get(stored.state, ""),
                       stored_label=outbox.LABELS.get(stored.state, stored.state),
                       queued_at=_moment(stored.queued_at, tz), stored_sent_at=_moment(stored.sent_at, tz),
                       sent_link=stored.gmail_id if stored.state == outbox.SENT and GMAIL_ID.fullmatch(
                           stored.gmail_id or "") else "")
    return render_template("mail_view.html", **context)


def _size(length: int) -> str:
    """A file's size as Gmail shows it under an attachment."""
    if length < 1024:
        return f"{length} byte"
    if length < 1024 * 1024:
        return f"{round(length / 1024)} KB"
    return f"{length / 1024 / 1024:.1f} MB".replace(".", ",")


def _letter(gmail_id: str) -> Letter:
    if not GMAIL_ID.fullmatch(gmail_id):
        abort(404)
    raw = next((r for i, r in sent_messages(console().store) if i == gmail_id), None)
    if raw is None:
        abort(404)
    return parse(gmail_id, raw)


def _stored_letter(key: str) -> tuple[Letter, outbox.Message]:
    message = ledger_message(key)
    return parse("", message.raw, url_for("mail.stored_view", key=key)), message


def _frame(letter: Letter) -> Response:
    """The letter's HTML part, inert, for its <iframe>."""
    if letter.html is None:
        abort(404)
    body = letter_html(_content(letter.html), letter.cid_urls())
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = LETTER_CSP
    response.headers["X-DNS-Prefetch-Control"] = "off"
    return response


def _download(letter: Letter, n: int) -> Response:
    part = letter.attachment(n)
    if part is None:
        abort(404)
    data = part.get_payload(decode=True) or b""
    mimetype = part.get_content_type()
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=mimetype != "application/pdf",
                     download_name=letter.filename(n), max_age=0)


@bp.get("")
def index() -> Any:
    return _page()


@bp.get("/<gmail_id>")
def view(gmail_id: str) -> Any:
    return _page(_letter(gmail_id))


@bp.get("/<gmail_id>/html")
def html(gmail_id: str) -> Any:
    return _frame(_letter(gmail_id))


@bp.get("/<gmail_id>/tep/<int:n>")
def attachment(gmail_id: str, n: int) -> Any:
    return _download(_letter(gmail_id), n)


# A message of the ledger, by its key (`thu-moi:KM001:1`; a key may hold "/").
@bp.get("/so-cai/<path:key>")
def stored_view(key: str) -> Any:
    return _page(*_stored_letter(key))


@bp.get("/so-cai/<path:key>/html")
def stored_html(key: str) -> Any:
    return _frame(_stored_letter(key)[0])


@bp.get("/so-cai/<path:key>/tep/<int:n>")
def stored_attachment(key: str, n: int) -> Any:
    return _download(_stored_letter(key)[0], n)


@bp.errorhandler(404)
def missing(_exc: Exception) -> Any:
    return render_template("mail_missing.html"), 404


@bp.errorhandler(LedgerUnreadable)
def ledger_unreadable(exc: LedgerUnreadable) -> Any:
    return render_template("mail_busy.html", busy=exc.busy,
                           ledger_name=console().config.mail.ledger.name), 503
