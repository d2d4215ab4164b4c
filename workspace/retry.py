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
from typing import Any, Callable, TypeVar

import gspread
import requests
from googleapiclient.errors import HttpError

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


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's transport with our bounded policy (its own BackOffHTTPClient
    never gives up)."""

    policy: RetryPolicy = DEFAULT_POLICY

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self.policy.run(lambda: super(RetryingHTTPClient, self).request(*args, **kwargs),
                               what="sheets")
