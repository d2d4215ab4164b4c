"""One bounded retry policy for every Google call (except sending mail).

What is retried depends on what Google's answer means (workspace.google_errors):
- refused (429, 403 with a rate-limit reason, a connection never made):
  Google certainly did not apply the call, so any call is tried again,
  appends and other non-idempotent writes included;
- ambiguous (500, 502, 503, 504, a timeout, a dropped connection): the call
  may have been applied, so only an idempotent call (a read, a values
  batchUpdate writing fixed cells) is tried again; the caller of a
  non-idempotent one decides (the keyed table re-reads its keys and appends
  only what is missing).
Waits `min(2**n + jitter, cap)` seconds, a bounded number of times. Never
retried: anything else, daily limits, and `messages.send` (the outbox ledger
decides what to do with an unclear send; workspace.gmail never uses this).
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import gspread
import requests

from .google_errors import describe

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int = 5          # tries in all, the first included
    cap_s: float = 32.0        # no single wait longer than this
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    # Told before each wait (what, seconds): the command line prints a line, so a
    # person waiting knows the run is not stuck.
    on_wait: Callable[[str, float], None] | None = None

    def delay(self, attempt: int) -> float:
        return min(2 ** attempt + self.rng.random(), self.cap_s)

    def run(self, fn: Callable[[], T], what: str = "request", idempotent: bool = True) -> T:
        """Call `fn`; try again after a refused failure, and after an ambiguous
        one when `idempotent`; re-raise the last failure (or any other error)."""
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                failure = describe(exc)
                again = failure is not None and (failure.refused or (idempotent and failure.ambiguous))
                if not again or attempt == self.attempts - 1:
                    raise
                status = failure.code  # type: ignore[union-attr]
            wait = failure.retry_after or self.delay(attempt)  # type: ignore[union-attr]
            wait = min(wait, self.cap_s)
            log.info("%s: transient error %s, retrying in %.1f s", what, status, wait)
            if self.on_wait is not None:
                self.on_wait(what, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")


DEFAULT_POLICY = RetryPolicy()


def idempotent_sheets_call(method: str, endpoint: str) -> bool:
    """Whether repeating this Sheets request after an unclear answer is harmless:
    reads, and writes of fixed values to fixed cells (values.batchUpdate,
    values.update, clears). Appends and spreadsheets.batchUpdate (insert rows,
    add tabs) are not: done twice, they are done twice."""
    method = method.upper()   # gspread passes "get", "post", …
    if method == "GET":
        return True
    path = endpoint.split("?", 1)[0]
    if path.endswith((":batchGetByDataFilter", "values:batchUpdate", ":batchClear", ":clear")):
        return True
    return method == "PUT" and "/values/" in path


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's transport under our bounded policy (its own BackOffHTTPClient
    never gives up)."""

    policy: RetryPolicy = DEFAULT_POLICY

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        call = lambda: super(RetryingHTTPClient, self).request(method, endpoint, *args, **kwargs)  # noqa: E731
        return self.policy.run(call, what="sheets", idempotent=idempotent_sheets_call(method, endpoint))
