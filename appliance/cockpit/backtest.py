"""`safety-appliance forecast backtest`: the forecast model's and the naive baselines' rolling-origin scores,
on the appliance's own hazards or on a generated synthetic history (CI, the demo)."""
from __future__ import annotations

from appliance.cockpit import forecast as FC
from appliance.cockpit import synthetic as SY
from appliance.core import events

LABELS = {"model": "model (pooled recency-weighted Poisson)", "last_week": "baseline: last week",
          "mean": "baseline: all-time average"}


def synthetic_history(history_weeks: int, seed: int, now: int, tz: str = "Asia/Shanghai") -> list[list[int]]:
    """The weeks × cells matrix of a generated history of `history_weeks` full weeks before this one."""
    import datetime as dt

    monday = FC.monday_of(now, tz)
    end = FC.week_start_ms(monday, tz)
    h = SY.generate(end, history_weeks, seed, tz)
    return FC.weekly_counts(((x["area"], x["reported_at"]) for x in h["hazards"]), list(SY.AREAS),
                            monday - dt.timedelta(weeks=history_weeks), history_weeks, tz)


def run(weeks: int, history_weeks: int, *, synthetic: bool, seed: int = 22, now: int | None = None) -> dict:
    """The backtest of the last `weeks` weeks over `history_weeks` weeks of history."""
    if not 1 <= weeks < history_weeks:
        raise ValueError("weeks")
    now = events.now_ms() if now is None else now
    if synthetic:
        matrix = synthetic_history(history_weeks, seed, now)
        source = f"synthetic history (seed {seed})"
    else:
        from appliance.cockpit.service import history
        from appliance.core.people import site_timezone

        _, _, matrix, _ = history(history_weeks, now, site_timezone())
        source = "hazards on record"
    return {"source": source, "history_weeks": history_weeks, "hazards": sum(map(sum, matrix)),
            **FC.backtest(matrix, weeks)}


def text(result: dict) -> str:
    """The scores as a table a person reads (lower NLL and MAE are better, higher capture is better)."""
    lines = [f"回测 / backtest: {result['source']}, {result['hazards']} hazards in {result['history_weeks']} weeks; "
             f"rolling origin over {result['weeks_scored']} weeks ({result['hazards_scored']} hazards scored)",
             f"{'method':<42}{'Poisson NLL':>12}{'MAE':>10}{'top-10 capture':>16}"]
    for m in FC.METHODS:
        s = result["methods"][m]
        cap = "—" if s["top_capture"] is None else f"{s['top_capture'] * 100:.1f}%"
        nll = "—" if s["nll"] is None else f"{s['nll']:.4f}"
        mae = "—" if s["mae"] is None else f"{s['mae']:.4f}"
        lines.append(f"{LABELS[m]:<42}{nll:>12}{mae:>10}{cap:>16}")
    p = result["params"]
    lines.append(f"settings: half-life {p['half_life'] or '∞'} weeks, cell prior {p['cell_prior']} weeks, "
                 f"shift prior {p['band_prior']} hazards — "
                 + (f"tuned on the {result['tuned_on_folds']} earlier folds only" if result["tuned_on_folds"]
                    else "defaults (too few earlier folds to tune on)"))
    lines.append({"beats_both": "verdict: the model beats both baselines on Poisson NLL (MAE and capture: read the columns)",
                  "does_not_beat": "verdict: the model does NOT beat both baselines on Poisson NLL — use the baselines",
                  None: "verdict: —"}[result["verdict"]])
    return "\n".join(lines)
