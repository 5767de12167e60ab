"""Where and when hazards will be found next week (隐患高发区域/时段预测): a small, explainable model and its
backtest against naive baselines, as pure functions over (area, reported_at) pairs.

The model (partial pooling, empirical Bayes). Each hazard falls in a cell: area × weekday × hour band (the
three shifts 00–08, 08–16, 16–24 in the plant's time zone). Per cell the weekly count is taken as Poisson with
rate λ. A cell alone holds a handful of hazards a year — too few to estimate its own rate (the stop-24 model,
which shrank each cell only towards its area's shift mean, lost to the all-time average). So each cell's rate
is shrunk towards a structured prior built from the richer levels above it:
    prior(area, weekday, band) = area's weekly rate × P(band | area) × P(weekday | plant)
where P(band | area) is the area's own shift profile shrunk towards the plant's (with the weight of
`band_prior` hazards), and P(weekday | plant) is the plant's weekday profile. Then
    λ = (weighted count of the cell + cell_prior × prior) / (total weight + cell_prior)
(a Poisson–gamma posterior mean: `cell_prior` weeks of pseudo-observations; infinite = the prior alone).
Every count is recency-weighted: a week's weight halves every `half_life` weeks (None: all weeks alike).
The three settings are chosen on the EARLIER folds of the rolling origin only (`tune`), never on the weeks
the backtest scores. The forecast ranks the cells by λ; P(at least one) = 1 − e^(−λ).

The backtest (rolling origin). For each of the last N weeks, fit on every week before it, predict it, and
score against what happened: the mean Poisson negative log-likelihood per cell (lower is better; rates are
floored at 0.01 so a baseline that predicts 0 where a hazard came is penalised, not infinite), the mean
absolute error per cell, and the top-10 capture (the share of that week's hazards that fell in the ten cells
ranked highest). The naive baselines: last week's count per cell, and the all-time average per cell. The
settings are tuned on the origins before those N weeks (at least `MIN_TUNE_FOLDS` of them; fewer: the
defaults, said so in the result).
No claim is made without the scores; the model is not assumed to win.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

BANDS = ((0, 8), (8, 16), (16, 24))       # 夜班 / 白班 / 中班 (hours, local time)
WEEKDAYS = 7
CELLS_PER_AREA = WEEKDAYS * len(BANDS)
RATE_FLOOR = 0.01
TOP_K = 10
MIN_TRAIN_WEEKS = 4
METHODS = ("model", "last_week", "mean")
MIN_TUNE_FOLDS = 4


@dataclass(frozen=True)
class Params:
    """The model's three settings (see the module note)."""

    half_life: float | None = 26.0     # weeks; None: no recency weighting
    cell_prior: float = math.inf       # weeks of weight the structured prior has against the cell's own counts
    band_prior: float = 20.0           # hazards of weight the plant's shift profile has against an area's own


DEFAULT = Params()
# the grid `tune` searches (small on purpose: a few settings, each with a meaning, chosen on earlier folds)
GRID = tuple(Params(h, c, b) for h in (8.0, 13.0, 26.0, 52.0, None) for c in (4.0, 16.0, math.inf)
             for b in (5.0, 20.0))


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


def _sums(history: Sequence[Sequence[int]], half_life: float | None) -> tuple[list[float], float]:
    """The recency-weighted count per cell and the total weight of the weeks."""
    if not history:
        raise ValueError("history")
    n = len(history)
    weights = [1.0 if half_life is None else 0.5 ** ((n - 1 - t) / half_life) for t in range(n)]
    sums = [0.0] * len(history[0])
    for w, week in zip(weights, history, strict=True):
        for c, x in enumerate(week):
            if x:
                sums[c] += w * x
    return sums, sum(weights)


def _pool(sums: Sequence[float], total_w: float, cell_prior: float, band_prior: float) -> list[float]:
    """λ per cell from the weighted counts: each cell shrunk towards area rate × the area's shift profile
    (itself shrunk towards the plant's) × the plant's weekday profile."""
    n_bands = len(BANDS)
    n_areas = len(sums) // CELLS_PER_AREA
    total = sum(sums)
    if total <= 0:
        return [0.0] * len(sums)
    slot = [sum(sums[a * CELLS_PER_AREA + s] for a in range(n_areas)) / total for s in range(CELLS_PER_AREA)]
    band = [sum(slot[wd * n_bands + b] for wd in range(WEEKDAYS)) for b in range(n_bands)]
    weekday = [sum(slot[wd * n_bands + b] for b in range(n_bands)) for wd in range(WEEKDAYS)]
    out = []
    for a in range(n_areas):
        cells = sums[a * CELLS_PER_AREA:(a + 1) * CELLS_PER_AREA]
        area = sum(cells)
        shift = [(sum(cells[wd * n_bands + b] for wd in range(WEEKDAYS)) + band_prior * band[b]) / (area + band_prior)
                 if area + band_prior > 0 else band[b] for b in range(n_bands)]
        for wd in range(WEEKDAYS):
            for b in range(n_bands):
                prior = area / total_w * shift[b] * weekday[wd]
                own = cells[wd * n_bands + b]
                out.append(prior if math.isinf(cell_prior) else (own + cell_prior * prior) / (total_w + cell_prior))
    return out


def fit(history: Sequence[Sequence[int]], params: Params = DEFAULT) -> list[float]:
    """λ per cell from the weeks of `history` (oldest first): the partially pooled, recency-weighted rate."""
    sums, total_w = _sums(history, params.half_life)
    return _pool(sums, total_w, params.cell_prior, params.band_prior)


def last_week(history: Sequence[Sequence[int]]) -> list[float]:
    """Naive baseline: next week repeats the last one."""
    return [float(x) for x in history[-1]]


def mean(history: Sequence[Sequence[int]]) -> list[float]:
    """Naive baseline: the all-time weekly average per cell."""
    n = len(history)
    return [sum(w[c] for w in history) / n for c in range(len(history[0]))]


PREDICTORS = {"last_week": last_week, "mean": mean}


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


def tune(history: Sequence[Sequence[int]], origins: Sequence[int], grid: Sequence[Params] = GRID) -> Params:
    """The settings of `grid` with the lowest mean Poisson NLL over the rolling `origins` (each week
    predicted from the weeks before it); ties: the earlier in the grid."""
    if not origins:
        raise ValueError("origins")
    totals = [0.0] * len(grid)
    for o in origins:
        by_half: dict[float | None, tuple[list[float], float]] = {}
        for i, p in enumerate(grid):
            if p.half_life not in by_half:
                by_half[p.half_life] = _sums(history[:o], p.half_life)
            sums, total_w = by_half[p.half_life]
            totals[i] += score(_pool(sums, total_w, p.cell_prior, p.band_prior), history[o])["nll"]
    return grid[min(range(len(grid)), key=lambda i: (totals[i], i))]


def backtest(history: Sequence[Sequence[int]], weeks: int = 12, min_train: int = MIN_TRAIN_WEEKS) -> dict:
    """Rolling origin over the last `weeks` weeks of `history`: each week predicted from all weeks before it
    by the model and the baselines. The model's settings are tuned on the origins before those weeks only
    (defaults where fewer than MIN_TUNE_FOLDS). Returns the mean scores per method, the settings, and
    whether the model beat both baselines on NLL (`verdict`)."""
    return _backtest(tuple(map(tuple, history)), weeks, min_train)


@lru_cache(maxsize=16)
def _backtest(history: tuple[tuple[int, ...], ...], weeks: int, min_train: int) -> dict:
    if weeks < 1:
        raise ValueError("weeks")
    first = max(len(history) - weeks, min_train)
    origins = list(range(first, len(history)))
    tune_origins = list(range(min_train, first))
    tuned = len(tune_origins) >= MIN_TUNE_FOLDS
    params = tune(history, tune_origins) if tuned else DEFAULT
    per: dict[str, list[dict]] = {m: [] for m in METHODS}
    for o in origins:
        train, test = history[:o], history[o]
        per["model"].append(score(fit(train, params), test))
        for m, predict in PREDICTORS.items():
            per[m].append(score(predict(train), test))
    out: dict[str, dict] = {}
    for m, rows in per.items():
        caps = [r["top_capture"] for r in rows if r["top_capture"] is not None]
        out[m] = {"nll": round(sum(r["nll"] for r in rows) / len(rows), 4) if rows else None,
                  "mae": round(sum(r["mae"] for r in rows) / len(rows), 4) if rows else None,
                  "top_capture": round(sum(caps) / len(caps), 4) if caps else None}
    return {"weeks_scored": len(origins), "weeks_requested": weeks, "train_weeks_min": min_train,
            "hazards_scored": sum(sum(history[o]) for o in origins), "methods": out,
            "params": params_dict(params), "tuned_on_folds": len(tune_origins) if tuned else 0,
            "verdict": verdict({m: out[m]["nll"] for m in METHODS})}


def verdict(nll: dict) -> str | None:
    """"beats_both" where the model's NLL is lower than both baselines' (a tie is not a win), else
    "does_not_beat"; None where a score is missing."""
    if None in nll.values():
        return None
    return "beats_both" if nll["model"] < min(nll["last_week"], nll["mean"]) else "does_not_beat"


def params_dict(p: Params) -> dict:
    """The settings as JSON (an infinite cell prior is "inf": the structured prior alone)."""
    d = asdict(p)
    d["cell_prior"] = "inf" if math.isinf(p.cell_prior) else p.cell_prior
    return d


def params_from(d: dict) -> Params:
    """`params_dict` read back."""
    cell = d["cell_prior"]
    return Params(d["half_life"], math.inf if cell == "inf" else float(cell), float(d["band_prior"]))


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
