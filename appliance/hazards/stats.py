"""Quarterly and annual hazard statistics (隐患排查治理统计分析), as pure functions.

《安全生产事故隐患排查治理暂行规定》 (SAWS order 16) Art. 14 (first paragraph): the enterprise analyses its
hazard investigation and treatment every quarter and every year, and files the written statistics table
(统计分析表), signed by its principal (主要负责人), before the 15th of the next quarter's first month
(下一季度15日前) and before 31 January of the next year (下一年1月31日前). Periods are calendar quarters and
years in the plant's time zone (a hazard reported at 00:30 on 1 April in Shanghai is in Q2, whatever UTC says).
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

GRADES = ("general", "major")


def period_bounds(year: int, quarter: int | None, tz: str) -> tuple[int, int]:
    """[since, until) in UTC milliseconds of calendar `quarter` (1–4) of `year`, or of the whole year when
    `quarter` is None, in the time zone `tz`."""
    if quarter is not None and quarter not in (1, 2, 3, 4):
        raise ValueError("quarter")
    zone = ZoneInfo(tz)
    first = 1 if quarter is None else 3 * quarter - 2
    start = dt.datetime(year, first, 1, tzinfo=zone)
    if quarter is None or quarter == 4:
        end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    else:
        end = dt.datetime(year, first + 3, 1, tzinfo=zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def period_of(ms: int, tz: str) -> tuple[int, int]:
    """(year, quarter) of the instant `ms` in the time zone `tz`."""
    d = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz))
    return d.year, (d.month - 1) // 3 + 1


def period_from_args(args, now: int, tz: str) -> tuple[int, int | None]:
    """(year, quarter or None) from query arguments: `year` and `quarter` (1–4; empty, 0 or "year": the
    whole year). Neither given: the current quarter; a year alone: that whole year. ValueError(key)."""
    year_now, quarter_now = period_of(now, tz)
    raw_year, raw_q = args.get("year"), args.get("quarter")
    try:
        year = year_now if raw_year in (None, "") else int(raw_year)
    except ValueError:
        raise ValueError("year") from None
    if not 2000 <= year <= 2100:
        raise ValueError("year")
    if raw_q is None:
        return year, (quarter_now if raw_year is None else None)
    if raw_q in ("", "0", "year"):
        return year, None
    if raw_q not in ("1", "2", "3", "4"):
        raise ValueError("quarter")
    return year, int(raw_q)


def report_due(year: int, quarter: int | None) -> dt.date:
    """Art. 14: the quarterly table is filed before the 15th of the next quarter, the annual one before
    31 January of the next year (the last day it may be filed)."""
    if quarter is None:
        return dt.date(year + 1, 1, 31)
    return dt.date(year + 1, 1, 15) if quarter == 4 else dt.date(year, 3 * quarter + 1, 15)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def statistics(hazards: list[dict[str, Any]], since: int, until: int, now: int) -> dict:
    """The statistics table of the period [since, until) over `hazards` (dicts with id, grade, state,
    reported_at, accepted_at (when it closed), deadline, cost and whatever the major-hazard list shows).

    Per grade and in total: found (reported in the period), rectified (closed in the period, whenever
    found), found_rectified (found in the period and closed by its end), open (reported before the end and
    not closed by it), overdue (open at the end and past its deadline then), the rectification rate
    (整改率 = found_rectified / found; None when nothing was found) and the cost of the rectifications closed
    in the period (元). `majors`: every major hazard found in, or open during, the period, with its state now.
    A period not yet over ends now."""
    end = min(until, now)

    def closed_by(h: dict, t: int) -> bool:
        return h["accepted_at"] is not None and h["accepted_at"] < t

    rows: dict[str, dict] = {}
    for g in (*GRADES, "total"):
        hs = [h for h in hazards if g == "total" or h["grade"] == g]
        found = [h for h in hs if since <= h["reported_at"] < until]
        found_rectified = sum(1 for h in found if closed_by(h, end))
        rectified = [h for h in hs if h["accepted_at"] is not None and since <= h["accepted_at"] < until]
        open_ = [h for h in hs if h["reported_at"] < end and not closed_by(h, end)]
        rows[g] = {"found": len(found), "rectified": len(rectified), "found_rectified": found_rectified,
                   "open": len(open_),
                   "overdue": sum(1 for h in open_ if h["deadline"] is not None and h["deadline"] < end),
                   "rectification_rate": _rate(found_rectified, len(found)),
                   "cost": round(sum(h["cost"] or 0 for h in rectified), 2)}
    majors = [h for h in hazards if h["grade"] == "major" and h["reported_at"] < until
              and (h["accepted_at"] is None or h["accepted_at"] >= since)]
    majors.sort(key=lambda h: h["reported_at"])
    return {"since": since, "until": until, "by_grade": {g: rows[g] for g in GRADES}, "total": rows["total"],
            "majors": majors}
