"""Gmail: push a message's bytes once, and find a sent message by its Message-ID.

Nothing else lives here: no templating, no logging of recipients, no retries.
`messages.send` is executed exactly once per call, with no HTTP-level retry
anywhere below it (googleapiclient's `num_retries` stays 0, `ws.execute` is
not used, and httplib2's silent replay of a request whose connection dropped
is switched off), because a retried send after Gmail accepted the message is
a second letter to a Ministry leader. What to do after a failure is the
outbox's decision, told apart here into "certainly not sent" and "unclear".
"""
from __future__ import annotations

import base64
import http.client
import socket
import types
from typing import Any

import httplib2
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from .clients import Workspace
from .retry import RATE_REASONS, error_message, error_reason
from .transport import new_http

DAILY_REASONS = frozenset({"dailyLimitExceeded", "dailyLimitExceededUnreg"})


class SendRefused(Exception):
    """Gmail answered and did not take the message: it was certainly not sent."""

    def __init__(self, message: str, code: int = 0, reason: str | None = None,
                 rate: bool = False, daily: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.reason, self.rate, self.daily = code, reason, rate, daily
        self.retry_after = retry_after


class SendUnclear(Exception):
    """No clear answer (timeout, dropped connection, 5xx): Gmail may have sent it."""


class LookupNotAllowed(Exception):
    """The credentials cannot search the mailbox (no gmail.readonly scope)."""


def _single_attempt(self: httplib2.Http, conn: Any, request_uri: str, method: str, body: Any,
                    headers: Any) -> tuple[httplib2.Response, bytes]:
    """httplib2's `_conn_request` without its replays: it re-sends a request
    (POST included) when the connection drops before the answer arrives."""
    if conn.sock is None:
        conn.connect()
    try:
        conn.request(method, request_uri, body, headers)
        response = conn.getresponse()
        content = response.read()
    except BaseException:
        conn.close()
        raise
    wrapped = httplib2.Response(response)
    if method != "HEAD":
        content = httplib2._decompressContent(wrapped, content, self.limit_kwargs)
    return wrapped, content


def one_shot_http(base_url: str | None, timeout: float = 60) -> httplib2.Http:
    """A transport that sends each request exactly once, on a fresh connection."""
    http = new_http(base_url, timeout=timeout)
    http._conn_request = types.MethodType(_single_attempt, http)  # type: ignore[method-assign]
    # A connection kept alive may be closed by the server while idle; never reuse one.
    original = http.request

    def request(*args: Any, **kwargs: Any) -> Any:
        for conn in list(http.connections.values()):
            conn.close()
        http.connections.clear()
        return original(*args, **kwargs)

    http.request = request  # type: ignore[method-assign]
    return http


class GmailAdapter:
    """The sending mailbox (`me` = the account the sender credentials act as)."""

    def __init__(self, ws: Workspace, timeout: float = 60):
        self.ws = ws
        http = AuthorizedHttp(ws.sender_credentials, http=one_shot_http(ws.base_url, timeout))
        self._send_api = build("gmail", "v1", http=http, static_discovery=True,
                               cache_discovery=False).users().messages()

    def send(self, raw: bytes) -> str:
        """Hand `raw` (RFC 5322 bytes) to Gmail once; return Gmail's id.
        Raises SendRefused (not sent) or SendUnclear (maybe sent)."""
        body = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        try:
            return self._send_api.send(userId="me", body=body).execute(num_retries=0)["id"]
        except HttpError as exc:
            code, content = exc.resp.status, exc.content
            reason = error_reason(content)
            message = error_message(content)
            if code >= 500:
                raise SendUnclear(f"Gmail trả lời {code}: {message}") from None
            daily = reason in DAILY_REASONS or "(Mail sending)" in message
            rate = code == 429 or reason in RATE_REASONS or daily
            retry_after = exc.resp.get("retry-after")
            raise SendRefused(f"Gmail từ chối ({code}): {message}", code=code, reason=reason,
                              rate=rate, daily=daily,
                              retry_after=float(retry_after) if retry_after and
                              str(retry_after).isdigit() else None) from None
        except ConnectionRefusedError as exc:  # nothing reached Gmail
            raise SendRefused(f"không kết nối được tới Gmail ({exc})") from None
        except (socket.timeout, TimeoutError, ConnectionError, OSError, http.client.HTTPException,
                httplib2.HttpLib2Error) as exc:
            raise SendUnclear(f"không nhận được trả lời của Gmail ({type(exc).__name__})") from None

    def find_by_message_id(self, message_id: str) -> str | None:
        """Gmail's id of the sent message with this Message-ID, or None (needs gmail.readonly)."""
        api = self.ws.service("gmail", "v1").users().messages()
        query = f"rfc822msgid:{message_id.strip().strip('<>')}"
        try:
            found = self.ws.execute(api.list(userId="me", q=query, maxResults=5),
                                    what="gmail.messages.list")
        except HttpError as exc:
            if exc.resp.status in (401, 403):
                raise LookupNotAllowed(error_message(exc.content)) from None
            raise
        messages = found.get("messages") or []
        return messages[0]["id"] if messages else None
