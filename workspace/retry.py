"""One bounded retry policy for every Google call (except sending mail).

Retried: 429, 500, 502, 503, 504, and 403 whose reason is a rate limit;
waits `min(2**n + jitter, cap)` seconds, a bounded number of times. Never
retried: anything else, daily limits, and `messages.send` (a timeout after
Gmail accepted a message would become a second email; the outbox ledger
decides what to do with an unclear send).
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import gspread
import httplib2
import requests
from googleapiclient.errors import HttpError

if TYPE_CHECKING:
    from .errors import ApiError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


def error_reason(body: Any) -> str | None:
    """The `reason` of a Google error body (old `errors[]` or new `details[]` style)."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, TypeError):
            return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    for item in (error.get("errors") or []) + (error.get("details") or []):
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return None


def error_message(body: Any) -> str:
    """The first line of a Google error body's message (or of the raw body)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    parsed: Any = body
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        text = str(parsed["error"].get("message") or "")
    else:
        text = str(body or "")
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def is_transient(status: int, body: Any) -> bool:
    if status in RETRY_STATUS:
        return True
    return status == 403 and error_reason(body) in RATE_REASONS


@dataclass
class RetryPolicy:
    attempts: int = 5          # tries in all, the first included
    cap_s: float = 32.0        # no single wait longer than this
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return min(2 ** attempt + self.rng.random(), self.cap_s)

    def run(self, fn: Callable[[], T], what: str = "request") -> T:
        """Call `fn`, retrying transient Google errors; re-raise the last one."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except HttpError as exc:
                status, body = exc.resp.status, exc.content
                if not is_transient(status, body) or attempt == self.attempts - 1:
                    raise
            except gspread.exceptions.APIError as exc:
                status, body = exc.response.status_code, exc.response.content
                if not is_transient(status, body) or attempt == self.attempts - 1:
                    raise
            except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError):
                status = 0
                if attempt == self.attempts - 1:
                    raise
            wait = self.delay(attempt)
            log.info("%s: transient error %s, retrying in %.1f s", what, status, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")


DEFAULT_POLICY = RetryPolicy()


def explain(exc: BaseException) -> "ApiError | None":
    """A failure talking to Google (after any retries) as one plain sentence that
    says what to do, or None if `exc` is not such a failure."""
    from google.auth.exceptions import RefreshError, TransportError

    from .errors import ApiError

    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return ApiError("the spreadsheet in google.spreadsheet_id was not found: check the id (from "
                        "its URL) and share it with the tool's account; `python run.py check` says more",
                        code=404)
    if isinstance(exc, (HttpError, gspread.exceptions.APIError)):
        if isinstance(exc, HttpError):
            code, body = exc.resp.status, exc.content
        else:
            code, body = exc.response.status_code, exc.response.content
        message = error_message(body)
        if code == 400 and "Unable to parse range" in message:
            hint = "a tab named in config.yaml (sheets.*.tab) is missing: run `python run.py check`"
        elif code in (401, 403) and error_reason(body) not in RATE_REASONS:
            hint = "the account has no access: share the file with the tool's account"
        elif code == 404:
            hint = "an id in config.yaml is wrong: run `python run.py check`"
        elif is_transient(code, body):
            hint = "Google is busy or over quota: run the job again later (it is safe to re-run)"
        else:
            hint = "nothing more was written; run `python run.py check`, then the job again"
        return ApiError(f"Google answered {code} ({message}); {hint}", code=code,
                        reason=error_reason(body))
    if isinstance(exc, RefreshError):
        return ApiError(f"signing in to Google failed ({str(exc).splitlines()[0][:200]}): check the "
                        f"key or token file and its delegation; see credentials/README.md")
    if isinstance(exc, (TransportError, requests.ConnectionError, requests.Timeout, ConnectionError,
                        TimeoutError, httplib2.HttpLib2Error)):
        return ApiError("cannot reach Google (no network, a proxy, or the sandbox is not running): "
                        "check the connection and run the job again (it is safe to re-run)")
    return None


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's transport with our bounded policy (its own BackOffHTTPClient
    never gives up)."""

    policy: RetryPolicy = DEFAULT_POLICY

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        call = lambda: super(RetryingHTTPClient, self).request(method, endpoint, *args, **kwargs)  # noqa: E731
        if endpoint.endswith(":append"):
            # Appending again after a lost answer would add the rows twice: the
            # keyed table re-reads its keys and appends only what is missing.
            return call()
        return self.policy.run(call, what="sheets")
