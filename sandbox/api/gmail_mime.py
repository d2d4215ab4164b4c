"""Message handling for the Gmail stand-in: addresses, added headers, the
`MessagePart` rendering and the search operators of `messages.list`."""
from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import html
import json
import re
import sqlite3
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Callable

from ..errors import GoogleError

_ADDR = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def _addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) of every address in header `name`; Gmail's
    "Invalid To header" (or Cc, Bcc) when one is not an address."""
    out: list[tuple[str, str]] = []
    for value in msg.get_all(name) or []:
        try:
            groups = value.addresses
        except AttributeError:  # an unparseable header value
            groups = ()
        text = str(value).strip()
        if text and not groups:
            raise GoogleError(400, f"Invalid {name} header", reason="invalidArgument")
        for addr in groups:
            spec = addr.addr_spec
            if not _ADDR.match(spec or ""):
                raise GoogleError(400, f"Invalid {name} header", reason="invalidArgument")
            out.append((addr.display_name, spec))
    return out


def recipients(msg: EmailMessage) -> list[list[str]]:
    """Every recipient as [header, display name, address] (To, Cc, then Bcc)."""
    return [[name.lower(), display, spec] for name in ("To", "Cc", "Bcc")
            for display, spec in _addresses(msg, name)]


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Header block, the blank-line separator and the body, as sent."""
    m = re.search(rb"\r?\n\r?\n", raw)
    if not m:
        return raw, b"", b""
    return raw[:m.start()], raw[m.start():m.end()], raw[m.end():]


def _drop_header(head: bytes, name: str) -> bytes:
    lines = re.split(rb"(?<=\n)", head)
    out, skipping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue  # a folded continuation of the dropped header
        skipping = line.lower().startswith(name.lower().encode() + b":")
        if not skipping:
            out.append(line)
    return b"".join(out)


def add_missing_headers(raw: bytes, msg: EmailMessage, mailbox: str, now: float,
                        make_id: Callable[[], str]) -> tuple[bytes, EmailMessage]:
    """What Gmail does to an outgoing message: a Message-ID and a Date when
    missing, and a From that is the sending mailbox (keeping the display name).
    Everything else stays byte for byte as the client sent it."""
    eol = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    head, sep, body = _split_head(raw)
    added: list[str] = []
    if msg.get("Message-ID") is None:
        added.append(f"Message-ID: {make_id()}")
    if msg.get("Date") is None:
        added.append(f"Date: {email.utils.formatdate(now)}")
    sender = msg.get("From")
    sender_addr = email.utils.parseaddr(str(sender or ""))[1]
    if sender is None or sender_addr.lower() != mailbox.lower():
        display = email.utils.parseaddr(str(sender or ""))[0]
        user, _, domain = mailbox.partition("@")
        added.append("From: " + str(Address(display_name=display, username=user, domain=domain)))
        head = _drop_header(head, "From")
    if not added:
        return raw, msg
    # The email package folds and encodes the new header lines safely.
    block = eol.join(line.encode("utf-8") if line.isascii() else _encode_header(line)
                     for line in added) + eol
    if not sep:
        sep = eol + eol if head else b""
    raw = block + head + sep + body
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def _encode_header(line: str) -> bytes:
    name, _, value = line.partition(": ")
    holder = EmailMessage(policy=email.policy.SMTP)
    holder[name] = value
    return holder.as_bytes().rstrip(b"\r\n")


# -- rendering ----------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def payload(msg: EmailMessage, part_id: str, bodies: bool = True) -> dict[str, Any]:
    """A `MessagePart`: headers decoded to text, leaf bodies base64url-encoded
    after undoing their transfer encoding, as Gmail renders them."""
    out: dict[str, Any] = {
        "partId": part_id, "mimeType": msg.get_content_type(),
        "filename": msg.get_filename() or "",
        "headers": [{"name": k, "value": str(v)} for k, v in msg.items()],
    }
    if not bodies:
        return out
    if msg.is_multipart():
        out["body"] = {"size": 0}
        out["parts"] = [payload(p, f"{part_id}.{i}" if part_id else str(i))
                        for i, p in enumerate(msg.iter_parts())]
    else:
        data = msg.get_payload(decode=True) or b""
        out["body"] = {"size": len(data), "data": _b64(data)} if data else {"size": 0}
    return out


def snippet(msg: EmailMessage) -> str:
    """The first words of the plain-text body, HTML-escaped like Gmail's snippet."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):
        return ""
    if part.get_content_type() == "text/html":
        text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return html.escape(text[:200])


# -- search -----------------------------------------------------------------
_TERM = re.compile(r'\s*(-?)(?:([A-Za-z0-9_]+):)?("[^"]*"|\([^)]*\)|\S+)')


def parse_query(q: str) -> list[tuple[bool, str, str]]:
    """Terms of a Gmail search as (negated, operator or "", value); all ANDed."""
    terms = []
    pos = 0
    while pos < len(q):
        if not q[pos:].strip():
            break
        m = _TERM.match(q, pos)
        if not m:
            break
        pos = m.end()
        value = m.group(3)
        if value[:1] in '"(' and value[-1:] in '")':
            value = value[1:-1]
        terms.append((m.group(1) == "-", (m.group(2) or "").lower(), value))
    return terms


def _addr_matches(value: str, candidates: list[tuple[str, str]]) -> bool:
    needle = value.strip().strip("<>").lower()
    if "@" in needle:
        return any(addr.lower() == needle for _, addr in candidates)
    return any(needle in addr.lower() or needle in name.lower() for name, addr in candidates)


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def matches(row: sqlite3.Row, labels: list[str], key: str, value: str) -> bool:
    """Whether stored message `row` satisfies one search term."""
    found = json.loads(row["recipients"])
    if key == "rfc822msgid":
        return row["rfc822_id"].lower() == value.strip().strip("<>").lower()
    if key in ("to", "cc", "bcc"):
        wanted = ("to", "cc", "bcc") if key == "to" else (key,)
        return _addr_matches(value, [(n, a) for h, n, a in found if h in wanted])
    if key == "from":
        return _addr_matches(value, [("", row["from_addr"])])
    if key == "subject":
        return f" {_words(value)} " in f" {_words(row['subject'])} "
    if key in ("in", "label"):
        return value.upper() in labels or (value.lower() == "anywhere")
    if key == "":
        msg = email.message_from_bytes(bytes(row["raw"]), policy=email.policy.default)
        text = row["subject"] + " " + snippet(msg)
        return _words(value) in _words(text)
    return False  # an operator the sandbox does not know finds nothing
