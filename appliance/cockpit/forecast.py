"""Where and when hazards will be found next week (隐患高发区域/时段预测): a small, explainable model and its
backtest against naive baselines, as pure functions over (area, reported_at) pairs.

The model. Each hazard falls in a cell: area × weekday × hour band (the three shifts 00–08, 08–16, 16–24 in
the plant's time zone). Per cell the weekly count is taken as Poisson with rate λ. λ is the recency-weighted
mean of the cell's past weekly counts (weight halves every `half_life` weeks: the maximum-likelihood Poisson
rate when older weeks count less), shrunk towards the same area and shift's mean over the weekdays with the
weight of `prior_weeks` weeks (so one odd Tuesday does not make a hot spot). The forecast ranks the cells by
λ; P(at least one) = 1 − e^(−λ).

The backtest (rolling origin). For each of the last N weeks, fit on every week before it, predict it, and
score against what happened: the mean Poisson negative log-likelihood per cell (lower is better; rates are
floored at 0.01 so a baseline that predicts 0 where a hazard came is penalised, not infinite), the mean
absolute error per cell, and the top-10 capture (the share of that week's hazards that fell in the ten cells
ranked highest). The naive baselines: last week's count per cell, and the all-time average per cell.
No claim is made without the scores; the model is not assumed to win.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

BANDS = ((0, 8), (8, 16), (16, 24))       # 夜班 / 白班 / 中班 (hours, local time)
WEEKDAYS = 7
CELLS_PER_AREA = WEEKDAYS * len(BANDS)
HALF_LIFE_WEEKS = 8.0
PRIOR_WEEKS = 2.0
RATE_FLOOR = 0.01
TOP_K = 10
MIN_TRAIN_WEEKS = 4
METHODS = ("model", "last_week", "mean")


def band_of(hour: int) -> int:
    for i, (lo, hi) in enumerate(BANDS):
        if lo <= hour < hi:
            return i
    raise ValueError("hour")


def monday_of(ms: int, tz: str) -> dt.date:
    """The local date of the Monday that starts the week holding the instant `ms`."""
    d = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).date()
    return d - dt.timedelta(days=d.weekday())


def week_start_ms(monday: dt.date, tz: str) -> int:
    return int(dt.datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def weekly_counts(events: Iterable[tuple[str, int]], areas: Sequence[str], first_monday: dt.date, weeks: int,
                  tz: str) -> list[list[int]]:
    """Weeks × cells matrix of counts; cell index = area_index × 21 + weekday × 3 + band. Events outside the
    weeks or in an area not listed are ignored."""
    index = {a: i for i, a in enumerate(areas)}
    zone = ZoneInfo(tz)
    out = [[0] * (len(areas) * CELLS_PER_AREA) for _ in range(weeks)]
    for area, ms in events:
        a = index.get(area)
        if a is None:
            continue
        local = dt.datetime.fromtimestamp(ms / 1000, zone)
        w = (local.date() - first_monday).days // 7
        if 0 <= w < weeks:
            out[w][a * CELLS_PER_AREA + local.weekday() * len(BANDS) + band_of(local.hour)] += 1
    return out


def cell_label(c: int, areas: Sequence[str]) -> tuple[str, int, int]:
    """(area, weekday 0=Monday, band) of cell index `c`."""
    a, rest = divmod(c, CELLS_PER_AREA)
    wd, b = divmod(rest, len(BANDS))
    return areas[a], wd, b


def fit(history: Sequence[Sequence[int]], half_life: float = HALF_LIFE_WEEKS, prior_weeks: float = PRIOR_WEEKS) -> list[float]:
    """λ per cell from the weeks of `history` (oldest first): recency-weighted Poisson rate, shrunk to the
    area × band mean over weekdays."""
    if not history:
        raise ValueError("history")
    n_weeks, n_cells = len(history), len(history[0])
    weights = [0.5 ** ((n_weeks - 1 - t) / half_life) for t in range(n_weeks)]
    total_w = sum(weights)
    sums = [sum(weights[t] * history[t][c] for t in range(n_weeks)) for c in range(n_cells)]
    raw = [s / total_w for s in sums]
    out = []
    for c in range(n_cells):
        a, rest = divmod(c, CELLS_PER_AREA)
        band = rest % len(BANDS)
        same = [raw[a * CELLS_PER_AREA + wd * len(BANDS) + band] for wd in range(WEEKDAYS)]
        pooled = sum(same) / WEEKDAYS
        out.append((sums[c] + prior_weeks * pooled) / (total_w + prior_weeks))
    return out


def last_week(history: Sequence[Sequence[int]]) -> list[float]:
    """Naive baseline: next week repeats the last one."""
    return [float(x) for x in history[-1]]


def mean(history: Sequence[Sequence[int]]) -> list[float]:
    """Naive baseline: the all-time weekly average per cell."""
    n = len(history)
    return [sum(w[c] for w in history) / n for c in range(len(history[0]))]


PREDICTORS = {"model": fit, "last_week": last_week, "mean": mean}


def top_cells(rates: Sequence[float], k: int = TOP_K) -> list[int]:
    """The `k` cells with the highest rate (ties: the lower index first)."""
    return sorted(range(len(rates)), key=lambda c: (-rates[c], c))[:k]


def score(rates: Sequence[float], actual: Sequence[int], k: int = TOP_K) -> dict:
    """Poisson NLL per cell (rates floored), MAE per cell, and the top-k capture (None when nothing happened)."""
    if len(rates) != len(actual) or not rates:
        raise ValueError("cells")
    nll = 0.0
    mae = 0.0
    for lam, y in zip(rates, actual, strict=True):
        r = max(lam, RATE_FLOOR)
        nll += r - y * math.log(r) + math.lgamma(y + 1)
        mae += abs(lam - y)
    total = sum(actual)
    captured = sum(actual[c] for c in top_cells(rates, k))
    return {"nll": nll / len(rates), "mae": mae / len(rates), "top_capture": captured / total if total else None}


def backtest(history: Sequence[Sequence[int]], weeks: int = 12, min_train: int = MIN_TRAIN_WEEKS) -> dict:
    """Rolling origin over the last `weeks` weeks of `history`: each week predicted from all weeks before it
    by the model and the baselines. Returns the mean scores per method and the weeks actually scored."""
    if weeks < 1:
        raise ValueError("weeks")
    origins = [o for o in range(len(history) - weeks, len(history)) if o >= min_train]
    per: dict[str, list[dict]] = {m: [] for m in METHODS}
    for o in origins:
        train, test = history[:o], history[o]
        for m in METHODS:
            per[m].append(score(PREDICTORS[m](train), test))
    out: dict[str, dict] = {}
    for m, rows in per.items():
        caps = [r["top_capture"] for r in rows if r["top_capture"] is not None]
        out[m] = {"nll": round(sum(r["nll"] for r in rows) / len(rows), 4) if rows else None,
                  "mae": round(sum(r["mae"] for r in rows) / len(rows), 4) if rows else None,
                  "top_capture": round(sum(caps) / len(caps), 4) if caps else None}
    return {"weeks_scored": len(origins), "weeks_requested": weeks, "train_weeks_min": min_train,
            "hazards_scored": sum(sum(history[o]) for o in origins), "methods": out}


def ranked(rates: Sequence[float], areas: Sequence[str], k: int = TOP_K) -> dict:
    """The forecast for next week: the top cells, each area's expected count, and each weekday × band's."""
    top = [{"area": a, "weekday": wd, "band": b, "rate": round(rates[c], 3),
            "p_any": round(1 - math.exp(-rates[c]), 3)}
           for c in top_cells(rates, k) for a, wd, b in (cell_label(c, areas),)]
    by_area = {a: round(sum(rates[i * CELLS_PER_AREA:(i + 1) * CELLS_PER_AREA]), 2) for i, a in enumerate(areas)}
    by_slot = [{"weekday": wd, "band": b,
                "rate": round(sum(rates[i * CELLS_PER_AREA + wd * len(BANDS) + b] for i in range(len(areas))), 2)}
               for wd in range(WEEKDAYS) for b in range(len(BANDS))]
    by_slot.sort(key=lambda s: -s["rate"])
    return {"top": top, "areas": sorted(({"area": a, "rate": r} for a, r in by_area.items()), key=lambda x: -x["rate"]),
            "slots": by_slot}


def category_shares(rows: Iterable[tuple[str, str]], areas: Sequence[str]) -> dict[str, dict]:
    """Per area: hazards by category (area, category) with each category's share and the most frequent one
    (e.g. the electrical share, 电气占比)."""
    counts: dict[str, dict[str, int]] = {a: {} for a in areas}
    for area, cat in rows:
        if area in counts:
            counts[area][cat] = counts[area].get(cat, 0) + 1
    out = {}
    for a, cats in counts.items():
        n = sum(cats.values())
        shares = {c: round(v / n, 3) for c, v in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))} if n else {}
        out[a] = {"total": n, "shares": shares, "top": next(iter(shares), None)}
    return out
