"""Alarm-load figures in the manner of EEMUA 191 (Alarm systems: a guide to design, management and
procurement), as pure functions over alarm timestamps.

EEMUA 191's benchmark for an operator in normal running is at most 1 alarm per 10 minutes on average; a
"chattering" alarm is one that raises again and again in a short time (here ≥ 3 raises within 60 s, the
ISA-18.2 rule of thumb); "standing" alarms are those active now.
"""
from __future__ import annotations

from collections import defaultdict

TEN_MIN_MS = 600_000
TARGET_PER_10_MIN = 1.0
CHATTER_RAISES = 3
CHATTER_WINDOW_MS = 60_000


def per_10_min(raised_at: list[int], now: int, window_ms: int = 86_400_000) -> tuple[float, int]:
    """(average alarms per 10 minutes over the window, the busiest 10-minute bucket's count)."""
    since = now - window_ms
    buckets: dict[int, int] = defaultdict(int)
    n = 0
    for t in raised_at:
        if since <= t <= now:
            buckets[(t - since) // TEN_MIN_MS] += 1
            n += 1
    return round(n / (window_ms / TEN_MIN_MS), 3), max(buckets.values(), default=0)


def chattering(raises: list[tuple[str, int]]) -> list[str]:
    """Points with ≥ CHATTER_RAISES raises inside any CHATTER_WINDOW_MS window, sorted."""
    by_point: dict[str, list[int]] = defaultdict(list)
    for point, t in raises:
        by_point[point].append(t)
    out = []
    for point, ts in by_point.items():
        ts.sort()
        for i in range(len(ts) - CHATTER_RAISES + 1):
            if ts[i + CHATTER_RAISES - 1] - ts[i] <= CHATTER_WINDOW_MS:
                out.append(point)
                break
    return sorted(out)
