"""Fitting the cosine schedule to a time budget, from the steady speed of training (no torch here).

The first steps of a run are slow for reasons that do not repeat — data-loader workers starting, cuDNN
autotuning (on the GPU machine: 42.8 s for the first epoch, 5.5 s for later ones). Fitting the schedule to the
first epoch's time made a 7-minute budget train 9 epochs instead of ~70. So the speed is measured on the
steps after a warm-up, and the time already spent (warm-up included) comes off the budget.
"""
from __future__ import annotations

WARMUP_STEPS = 20   # steps not timed for the speed (start-up, autotuning)


def fitted_total(budget_s: float, elapsed_s: float, steps_done: int, steady_step_s: float,
                 steps_per_epoch: int, total: int) -> int:
    """The schedule's total steps so training ends within `budget_s`: the steps done plus as many as the
    rest of the budget holds at the steady speed, rounded down to whole epochs (at least one more step,
    never more than `total`)."""
    if steady_step_s <= 0:
        return total
    more = int(max(0.0, budget_s - elapsed_s) / steady_step_s)
    fit = (steps_done + more) // steps_per_epoch * steps_per_epoch
    return max(steps_done + 1, min(total, fit))


def steady_step_seconds(t_at_warm: float | None, t_now: float, steps_at_warm: int, steps_now: int) -> float | None:
    """Seconds per step measured after the warm-up, or None when too few steps were timed to say."""
    if t_at_warm is None or steps_now - steps_at_warm < 5:
        return None
    return (t_now - t_at_warm) / (steps_now - steps_at_warm)
