"""When to try again: exponential back-off with full jitter, honouring Retry-After (pure functions).

Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): sleep a uniform random time in
[0, min(cap, base · 2^attempt)], so that a fleet of appliances coming back after an outage does not knock
on the receiver in step. A server's Retry-After is a floor: never come back earlier than it asked.
"""
from __future__ import annotations

import email.utils
import time


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The upper bound of the wait before retry number `attempt` (0 for the first retry)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    return min(cap, base * (2 ** min(attempt, 62)))


def delay(attempt: int, base: float, cap: float, rand: float, retry_after: float | None = None) -> float:
    """Seconds to wait: `rand` in [0, 1) picks a point under the ceiling; Retry-After is a floor."""
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    d = rand * ceiling(attempt, base, cap)
    if retry_after is not None:
        d = max(d, retry_after)
    return d


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
