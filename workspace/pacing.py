"""Pacing under Google's per-minute quotas, beside the retry policy: a job that
makes one call per item (a mail, a letter's PDF) waits before it would go
over the quota, instead of being refused and retried."""
from __future__ import annotations

import collections
from typing import Callable


class Pacer:
    """At most `per_minute` calls in any 60 seconds (a sliding window).
    `wait()` before a call, `record()` after it."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.per_minute, self.clock, self.sleep = per_minute, clock, sleep
        self.sent: collections.deque[float] = collections.deque()

    def wait(self) -> None:
        now = self.clock()
        while self.sent and self.sent[0] <= now - 60:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            self.sleep(self.sent[0] + 60 - now)
            self.sent.popleft()

    def record(self) -> None:
        self.sent.append(self.clock())
