"""Gmail: push a message's bytes once, and find a sent message by its Message-ID.

Nothing else lives here: no templating, no logging of recipients, no retries.
`messages.send` goes through a transport that sends each request exactly once
(transport.SingleShotHttp: no replay of a POST whose connection dropped) and
is executed with googleapiclient's `num_retries=0`, never under the retry
policy, because a retried send after Gmail accepted the message is a second
letter to a Ministry leader. What to do after a failure is the outbox's
decision, told apart here into "certainly not sent" and "unclear".
"""
from __future__ import annotations

import base64

from .clients import Workspace
from .errors import ApiError
from .google_errors import DAILY_REASONS, describe


class SendRefused(Exception):
    """Gmail did not take the message: it was certainly not sent. `kind` says
    why: "rate" (slow down), "daily" (the mailbox's daily limit), "account"
    (the sender cannot send: credentials, delegation, mailbox), "network"
    (no connection could be made), "message" (this message's own problem)."""

    def __init__(self, message: str, kind: str, code: int = 0, reason: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.kind, self.code, self.reason, self.retry_after = kind, code, reason, retry_after


class SendUnclear(Exception):
    """No clear answer (timeout, dropped connection, 5xx): Gmail may have sent it.
    `network`: no answer at all (the connection itself failed)."""

    def __init__(self, message: str, network: bool = False):
        super().__init__(message)
        self.network = network


class LookupNotAllowed(Exception):
    """The credentials cannot search the mailbox (no gmail.readonly scope)."""


class GmailAdapter:
    """The sending mailbox (`me` = the account the sender credentials act as)."""

    def __init__(self, ws: Workspace, timeout: float = 60):
        self.ws = ws
        self._send_api = ws.service("gmail", "v1", once=True, timeout=timeout).users().messages()

    def send(self, raw: bytes) -> str:
        """Hand `raw` (RFC 5322 bytes) to Gmail once; return Gmail's id.
        Raises SendRefused (not sent) or SendUnclear (maybe sent)."""
        body = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        try:
            return self._send_api.send(userId="me", body=body).execute(num_retries=0)["id"]
        except Exception as exc:
            failure = describe(exc)
            if failure is None:
                raise
        if failure.kind == "network":
            if failure.refused:  # the connection was never made: nothing reached Gmail
                raise SendRefused(f"không kết nối được tới Gmail ({failure.message})", "network") from None
            raise SendUnclear(f"không nhận được trả lời của Gmail ({failure.message})",
                              network=True) from None
        if failure.code >= 500 or failure.kind == "busy":
            raise SendUnclear(f"Gmail trả lời {failure.code}: {failure.message}") from None
        if failure.reason in DAILY_REASONS or "(Mail sending)" in failure.message:
            kind = "daily"
        elif failure.refused:
            kind = "rate"
        elif failure.code in (401, 403) or failure.kind == "auth":
            kind = "account"
        else:
            kind = "message"
        raise SendRefused(f"Gmail từ chối ({failure.code}): {failure.message}", kind,
                          code=failure.code, reason=failure.reason,
                          retry_after=failure.retry_after) from None

    def find_by_message_id(self, message_id: str) -> str | None:
        """Gmail's id of the sent message with this Message-ID, or None (needs gmail.readonly)."""
        api = self.ws.service("gmail", "v1").users().messages()
        query = f"rfc822msgid:{message_id.strip().strip('<>')}"
        try:
            found = self.ws.execute(api.list(userId="me", q=query, maxResults=5),
                                    what="gmail.messages.list")
        except ApiError as exc:
            if exc.code in (401, 403) and not exc.refused:
                raise LookupNotAllowed(str(exc)) from None
            raise
        messages = found.get("messages") or []
        return messages[0]["id"] if messages else None

