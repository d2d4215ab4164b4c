"""Hộp thư: every message Gmail accepted in the sandbox, as its recipient sees
it (the HTML part in a sandboxed frame, the text part, the attachments),
newest first and searchable; beside it the outbox ledger, each message in the
state `Hộp thư đi` shows.

Messages are parsed with the standard library's `email` package; a letter's
HTML is re-serialised with lxml.html only to point its links somewhere safe:
a Google Form link goes to the console's own form page, any other link opens
in a new tab, and an inline `cid:` image becomes a data: URL (the frame is
sandboxed: a request from it carries no console cookie)."""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import mimetypes
import re
import threading
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
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
# is fetched but our own images, and a link leaves the frame only on a click.
# allow-same-origin (safe without allow-scripts: nothing in the letter can use
# it) keeps a click on the letter's form link a same-site navigation, which
# carries the console's SameSite=Strict cookie.
LETTER_CSP = ("sandbox allow-same-origin allow-popups allow-top-navigation-by-user-activation; "
              "default-src 'none'; "
              "img-src 'self' data:; style-src 'unsafe-inline'")
FORMS_HOST = "docs.google.com"
FORM_PATH = re.compile(r"/forms/d/e/([A-Za-z0-9_-]+)/viewform")
# A web address in a text part (trailing punctuation is the sentence's, not the link's).
URL = re.compile(r"https?://[^\s<>\"]+")
TRAILING = ".,;:!?)]}'’”"
GMAIL_ID = re.compile(r"[0-9a-zA-Z_-]{1,64}")
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
    """One message taken apart: its headers, body parts and attachments."""
    gmail_id: str
    message: EmailMessage
    html: EmailMessage | None
    text: EmailMessage | None
    attachments: list[tuple[int, EmailMessage]]

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
        part = self.attachment(n)
        name = part.get_filename() if part is not None else None
        if name:
            return unicodedata.normalize("NFC", name)
        guessed = mimetypes.guess_extension(part.get_content_type()) if part is not None else None
        return f"tep-{n}{guessed or ''}"

    def cid_urls(self) -> dict[str, str]:
        """Content-ID (without <>) -> where the frame finds that inline image: the
        image itself as a data: URL. The letter's frame is sandboxed (an opaque
        origin), so a request from it carries no console cookie and the
        attachment's own URL would be refused; that URL serves a part too big
        to inline."""
        out = {}
        for n, part in self.attachments:
            cid = (part.get("Content-ID") or "").strip().strip("<>")
            if not cid:
                continue
            data = part.get_payload(decode=True) or b""
            if part.get_content_maintype() == "image" and len(data) <= INLINE_IMAGE_BYTES:
                out[cid] = f"data:{part.get_content_type()};base64,{base64.b64encode(data).decode('ascii')}"
            else:
                out[cid] = url_for("mail.attachment", gmail_id=self.gmail_id, n=n)
        return out

    def body_text(self) -> str:
        if self.text is not None:
            return _content(self.text)
        if self.html is not None:
            try:
                return lxml.html.document_fromstring(_content(self.html)).text_content()
            except (ValueError, lxml.etree.ParserError):
                return ""
        return ""


def parse(gmail_id: str, raw: bytes) -> Letter:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    bodies = {id(html), id(text)}
    leaves = [p for p in message.walk() if not p.is_multipart() and id(p) not in bodies]
    return Letter(gmail_id, message, html, text, list(enumerate(leaves, start=1)))


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
    return moment.astimezone(ZoneInfo(tz))


def _names(header: Any) -> str:
    """The people a From/To/Cc header names, as a person reads them (names, else addresses)."""
    addresses = getattr(header, "addresses", None)
    if not addresses:
        return "" if header is None else str(header)
    return ", ".join(a.display_name or a.addr_spec for a in addresses)


def fold(text: str) -> str:
    """Text as search compares it: NFC, case folded, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def summarise(letter: Letter, tz: str) -> Summary:
    message = letter.message
    body = letter.body_text()
    searched = [letter.header(h) for h in ("From", "To", "Cc", "Subject")] + [body]
    return Summary(gmail_id=letter.gmail_id, sender=_names(message.get("From")),
                   recipients=_names(message.get("To")), subject=letter.subject,
                   date=letter.date(tz), snippet=" ".join(body.split())[:160],
                   files=tuple((letter.filename(n), p.get_content_type() == "application/pdf")
                                 for n, p in letter.attachments if p.get_filename()),
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
    """Messages whose From, To, Cc, Subject or text holds `q` (any case, any Unicode form)."""
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


def letter_html(html: str, cid_urls: dict[str, str]) -> str:
    """The HTML part as the frame shows it: form links to the console's form page
    (opening in the whole window), other links in a new tab, cid: images to
    their attachments."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return ""
    for link in doc.iter("a", "area"):
        href = link.get("href")
        if not href:
            continue
        local = form_link(href)
        if local is not None:
            link.set("href", local)
            link.set("target", "_top")
            link.attrib.pop("rel", None)
        else:
            link.set("target", "_blank")
            link.set("rel", "noopener")
    for image in doc.iter("img"):
        src = (image.get("src") or "").strip()
        if src.lower().startswith("cid:"):
            image.set("src", cid_urls.get(src[4:].strip("<>"), "data:,"))
    return lxml.html.tostring(doc, encoding="unicode", doctype="<!DOCTYPE html>")


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


def ledger_entries(tz: str) -> list[Entry] | None:
    """Every message of the outbox ledger, latest first; None when the file does
    not exist. The file is opened read-only and never changed."""
    config = console().config
    path = config.resolve(config.mail.ledger)
    if not path.exists():
        return None
    with outbox.Ledger(path, readonly=True) as ledger:
        messages = ledger.in_state(*outbox.LABELS)
    rows = outbox_rows(messages, tz)         # kind and state exactly as the sheet shows them
    messages.sort(key=lambda m: (m.sent_at or m.sending_at or m.queued_at, m.key), reverse=True)
    return [Entry(key=m.key, kind=rows[m.key]["kind"], recipient=m.recipient, email=m.email,
                  subject=m.subject, state=m.state, label=rows[m.key]["status"],
                  sent_at=_moment(m.sent_at, tz), gmail_id=m.gmail_id, error=m.error)
            for m in messages]


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


def _page(selected: Letter | None = None) -> str:
    tz = _tz()
    q = unicodedata.normalize("NFC", request.args.get("q", "")).strip()
    state = request.args.get("trang_thai", "")
    messages = MAILBOX.messages()
    summaries = MAILBOX.summaries(messages, tz)
    shown = search(summaries, q) if q else summaries
    entries = ledger_entries(tz)
    context: dict[str, Any] = dict(q=q, total=len(summaries), shown=shown, entries=entries,
                                   counts=state_counts(entries or []), state=state,
                                   date_format=DATE_FORMAT, query=urlencode({"q": q}) if q else "")
    if entries is None:
        context["ledger_name"] = console().config.mail.ledger.name
    if selected is None:
        if state in outbox.LABELS:
            context["entries"] = [e for e in entries or [] if e.state == state]
        return render_template("mail.html", **context)
    # An image the HTML shows inline (a Content-ID, no file name) is not listed, as in Gmail.
    attachments = [(n, selected.filename(n), part.get_content_type(),
                    _size(len(part.get_payload(decode=True) or b"")))
                   for n, part in selected.attachments
                   if part.get_filename() or not part.get("Content-ID")]
    entry = next((e for e in entries or [] if e.gmail_id and e.gmail_id == selected.gmail_id), None)
    text = letter_text(_content(selected.text), request.host_url) if selected.text is not None else None
    context.update(letter=selected, letter_date=selected.date(tz), attachments=attachments,
                   text=text, entry=entry)
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


@bp.get("")
def index() -> Any:
    return _page()


@bp.get("/<gmail_id>")
def view(gmail_id: str) -> Any:
    return _page(_letter(gmail_id))


@bp.get("/<gmail_id>/html")
def html(gmail_id: str) -> Any:
    letter = _letter(gmail_id)
    if letter.html is None:
        abort(404)
    body = letter_html(_content(letter.html), letter.cid_urls())
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = LETTER_CSP
    return response


@bp.get("/<gmail_id>/tep/<int:n>")
def attachment(gmail_id: str, n: int) -> Any:
    letter = _letter(gmail_id)
    part = letter.attachment(n)
    if part is None:
        abort(404)
    data = part.get_payload(decode=True) or b""
    mimetype = part.get_content_type()
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=mimetype != "application/pdf",
                     download_name=letter.filename(n), max_age=0)


@bp.errorhandler(404)
def missing(_exc: Exception) -> Any:
    return render_template("mail_missing.html"), 404
