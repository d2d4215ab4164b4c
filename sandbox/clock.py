"""Timestamps as Google writes them."""
from __future__ import annotations

import datetime as dt


def rfc3339(ts: float, digits: int = 3) -> str:
    """`2024-10-01T08:00:00.123Z` (Drive uses milliseconds, Forms microseconds)."""
    moment = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
    frac = f"{moment.microsecond:06d}"[:digits]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + "Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch from an RFC 3339 timestamp; ValueError if malformed."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    if "." in value:  # Python accepts at most 6 fraction digits
        head, rest = value.split(".", 1)
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        tail = rest[len(digits):]
        value = f"{head}.{(digits + '000000')[:6]}{tail}"
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text}")
    return moment.timestamp()
