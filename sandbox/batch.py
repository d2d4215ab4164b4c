"""Google's HTTP batch endpoint: many API calls in one `multipart/mixed` request.

Reference: https://developers.google.com/drive/api/guides/performance#batch-requests
(the same text is published for Gmail and the other Google APIs):

- The batch goes to the `batchPath` of the API's discovery document
  (`batch/drive/v3`; Gmail, Sheets, Docs and Forms say `batch` on their own host).
- Each part has its own `Content-Type: application/http` header and an optional
  `Content-ID`; its body is a complete HTTP request: request line, headers, body.
- "The HTTP headers for the outer batch request, except for the Content- headers
  such as Content-Type, apply to every request in the batch. If you specify a
  given HTTP header in both the outer request and an individual call, then the
  individual call header's value overrides the outer batch request header's value."
- The answer is one `multipart/mixed` response, one `application/http` part per
  inner request in the same order, each a complete HTTP response; a part whose
  request had a `Content-ID` carries the same value preceded by `response-`.
- "All the inner requests must go to the same Google API."
- Drive: "You're limited to 100 calls in a single batch request" and "Currently,
  Google Drive doesn't support batch operations for media, either for upload or
  download." Gmail documents the same 100.
- "A set of n requests batched together counts toward your usage limit as n
  requests, not as one request."

This module parses the request and writes the answer; the server serves each
inner request as if it had come on its own (sandbox/server.py).
"""
from __future__ import annotations

import email.message
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from . import discovery
from .errors import GoogleError

# Calls per batch. Drive and Gmail document 100; Google's generic batch guide
# (Calendar, Directory, ...) says 1000, which is also the most
# googleapiclient.http.MAX_BATCH_LIMIT lets a client add.
MAX_CALLS = {"drive": 100, "gmail": 100}
DEFAULT_MAX_CALLS = 1000

# The methods an inner request may use.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

# Outer headers that describe the outer message or its connection, never an inner call.
_NOT_INHERITED = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "te",
                            "trailer", "upgrade", "expect", "proxy-connection"})


@dataclass
class InnerRequest:
    """One part of a batch: the HTTP request it holds."""
    content_id: str | None  # as sent, without the angle brackets
    method: str
    path: str               # still percent-encoded, as discovery.match takes it
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def max_calls(api: str | None) -> int:
    return MAX_CALLS.get(api or "", DEFAULT_MAX_CALLS)


def too_many(received: int, limit: int) -> GoogleError:
    """Google's answer to a batch over the limit: HTTP 400 for the whole batch,
    `{"error": {"code": 400, "message": "Inner request count exceeds the limit.
    Received: 100, Limit: 50", "status": "INVALID_ARGUMENT"}}` (quoted in
    GAM-team/got-your-back#256; reported with `Limit: 100` for Gmail since)."""
    return GoogleError(400, f"Inner request count exceeds the limit. Received: {received}, "
                            f"Limit: {limit}")


def no_parts() -> GoogleError:
    # Google's words for a multipart body in which it finds no part (its
    # multipart upload endpoint answers them, e.g. for a body whose boundary
    # does not match the Content-Type's).
    return GoogleError(400, "Invalid multipart request with 0 mime parts.")


def _malformed(index: int, detail: str) -> GoogleError:
    # The sandbox's words: Google's for these cases are not documented.
    return GoogleError(400, f"Invalid batch request: part {index + 1} {detail}.")


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _strip_break(data: bytes) -> bytes:
    """`data` without its last line break (which belongs to the next delimiter)."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith((b"\n", b"\r")):
        return data[:-1]
    return data


def _split_parts(raw: bytes, boundary: str) -> list[bytes]:
    """The bodies of the parts of a multipart message (RFC 2046 section 5.1.1):
    a delimiter is a line `--boundary` (the line break before it is part of
    it), the close delimiter `--boundary--`; a preamble and an epilogue are ignored."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    parts: list[bytes] = []
    current: list[bytes] | None = None
    for line in _lines(raw):
        text = line.rstrip(b"\r\n").rstrip(b" \t")  # transport padding is allowed
        if text in (delimiter, delimiter + b"--"):
            if current is not None:
                parts.append(_strip_break(b"".join(current)))
            if text != delimiter:
                return parts
            current = []
        elif current is not None:
            current.append(line)
    if current is not None:  # no close delimiter: take what came
        parts.append(b"".join(current))
    return parts


def _head(data: bytes) -> tuple[list[str], bytes]:
    """The header lines up to the first empty line (folded lines unfolded), and
    what follows that line."""
    lines: list[str] = []
    pos = 0
    for line in _lines(data):
        pos += len(line)
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if not text:
            return lines, data[pos:]
        if text[0] in " \t" and lines:  # a folded line continues the previous field
            lines[-1] += " " + text.strip()
        else:
            lines.append(text)
    return lines, b""


def _fields(lines: list[str]) -> dict[str, str] | None:
    """Header fields by lower-case name; None if a line is not `Name: value`."""
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            return None
        out[name.strip().lower()] = value.strip()
    return out


def parse(content_type: str, raw: bytes) -> list[InnerRequest]:
    """The inner requests of a batch, in order; GoogleError 400 for a body
    that is not a batch."""
    header = email.message.Message()
    header["Content-Type"] = content_type or "text/plain"
    boundary = header.get_boundary()
    if header.get_content_type() != "multipart/mixed" or not boundary:
        raise no_parts()
    parts = _split_parts(raw, boundary)
    if not parts:
        raise no_parts()
    return [_inner(i, part) for i, part in enumerate(parts)]


def _inner(index: int, part: bytes) -> InnerRequest:
    lines, http_message = _head(part)
    part_fields = _fields(lines)
    if part_fields is None:
        raise _malformed(index, "has a malformed header")
    if part_fields.get("content-type", "").split(";")[0].strip().lower() != "application/http":
        raise _malformed(index, "is not of type application/http")
    content_id = part_fields.get("content-id")
    if content_id is not None and content_id.startswith("<") and content_id.endswith(">"):
        content_id = content_id[1:-1]

    # The request line: `METHOD URI HTTP/1.1` (googleapiclient sends the path
    # and query only; a full URL is taken by its path and query).
    message_lines = _lines(http_message)
    while message_lines and not message_lines[0].strip():
        message_lines.pop(0)
    if not message_lines:
        raise _malformed(index, "holds no HTTP request")
    request_line = message_lines[0].decode("utf-8", "replace").split()
    if len(request_line) not in (2, 3) or (len(request_line) == 3
                                           and not request_line[2].startswith("HTTP/")):
        raise _malformed(index, "does not start with an HTTP request line")
    method, uri = request_line[0].upper(), request_line[1]
    if method not in _METHODS:
        raise _malformed(index, f"uses the method {request_line[0]}")
    url = urlsplit(uri)
    if not url.path.startswith("/"):
        raise _malformed(index, f"requests {uri}, which is not a path")

    header_lines, body = _head(b"".join(message_lines[1:]))
    fields = _fields(header_lines)
    if fields is None:
        raise _malformed(index, "has a malformed request header")
    length = fields.get("content-length", "")
    if length.isdigit() and int(length) <= len(body):
        body = body[:int(length)]
    elif not body.strip():
        body = b""  # a line break or two after the headers of a request without a body
    return InnerRequest(content_id, method, url.path, url.query, fields, body)


def inner_headers(outer: dict[str, str], inner: dict[str, str]) -> dict[str, str]:
    """The headers an inner request is served with: the outer request's, but for
    its Content- headers (and those of its connection), overridden by its own."""
    merged = {k: v for k, v in outer.items()
              if not k.startswith("content-") and k not in _NOT_INHERITED}
    merged.update(inner)
    return merged


def infer_api(requests: list[InnerRequest]) -> str | None:
    """For a batch path that does not name its API (`/batch`, the path Gmail,
    Sheets, Docs and Forms use on their own hosts): the API of the first inner
    request that is one of the sandbox's."""
    for request in requests:
        api = discovery.api_for_path(request.path)
        if api is not None:
            return api
    return None


def render(answers: list[tuple[str | None, int, dict[str, str], bytes]]) -> tuple[str, bytes]:
    """The batch answer: (its Content-Type, its body) for (Content-ID, status,
    headers, body) of each inner request, in order. CRLF line breaks, as Google
    sends them (googleapiclient splits a part's head from its body at CRLF CRLF)."""
    boundary = "batch_" + secrets.token_urlsafe(18)
    out = bytearray()
    for content_id, status, headers, body in answers:
        out += f"--{boundary}\r\nContent-Type: application/http\r\n".encode()
        if content_id is not None:
            out += f"Content-ID: <response-{content_id}>\r\n".encode()
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        out += f"\r\nHTTP/1.1 {status} {reason}\r\n".encode()
        for name, value in headers.items():
            if name.lower() != "content-length":
                out += f"{name}: {value}\r\n".encode()
        out += f"Content-Length: {len(body)}\r\n\r\n".encode()
        out += body
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/mixed; boundary={boundary}", bytes(out)
