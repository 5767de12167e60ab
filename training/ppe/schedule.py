"""Fitting the cosine schedule to a time budget, from the steady speed of training (no torch here).

The first steps of a run are slow for reasons that do not repeat — data-loader workers starting, cuDNN
autotuning (on the GPU machine: 42.8 s for the first epoch, 5.5 s for later ones). Fitting the schedule to the
first epoch's time made a 7-minute budget train 9 epochs instead of ~70. So the speed is measured on the
steps after a warm-up, and the time already spent (warm-up included) comes off the budget.

Then the fit is made again after every later epoch from the whole epochs after the first (`plan_total`):
their time holds what the steps inside one epoch do not (the turn of the epoch, the checkpoint written at
its end), so the plan converges on the budget instead of trusting one measurement.
"""
from __future__ import annotations

WARMUP_STEPS = 20   # steps not timed for the speed (start-up, autotuning)


def fitted_total(budget_s: float, elapsed_s: float, steps_done: int, steady_step_s: float,
                 steps_per_epoch: int, total: int) -> int:
    """The schedule's total steps so training ends within `budget_s`: the steps done plus as many as the
    rest of the budget holds at the steady speed, rounded down to whole epochs (never fewer than the steps
    done: a budget already spent ends the run at the end of this epoch; never more than `total`)."""
    if steady_step_s <= 0:
        return total
    more = int(max(0.0, budget_s - elapsed_s) / steady_step_s)
    fit = (steps_done + more) // steps_per_epoch * steps_per_epoch
    return max(steps_done, min(total, fit))


def steady_step_seconds(t_at_warm: float | None, t_now: float, steps_at_warm: int, steps_now: int) -> float | None:
    """Seconds per step measured after the warm-up, or None when too few steps were timed to say."""
    if t_at_warm is None or steps_now - steps_at_warm < 5:
        return None
    return (t_now - t_at_warm) / (steps_now - steps_at_warm)


def steady_epoch_step_seconds(epochs: list[tuple[int, float]], skip: int = 1) -> float | None:
    """Seconds per step over the whole epochs after the first `skip` ((steps, seconds) per epoch, in order),
    weighted by their steps; None until such an epoch is done."""
    steady = [(n, s) for n, s in epochs[skip:] if n > 0]
    steps = sum(n for n, _ in steady)
    return sum(s for _, s in steady) / steps if steps else None


def plan_total(budget_s: float, elapsed_s: float, steps_done: int, steps_per_epoch: int, max_total: int,
               warm_step_s: float | None, epochs: list[tuple[int, float]]) -> tuple[int | None, float | None]:
    """(total steps of the schedule, the seconds per step it assumed), fitted to the budget from the best
    speed known: whole steady epochs once there is one, else the steps timed after the warm-up inside the
    first epoch; (None, None) when neither is known yet (keep the schedule as it is)."""
    per_step = steady_epoch_step_seconds(epochs)
    if per_step is None:
        per_step = warm_step_s
    if per_step is None:
        return None, None
    return fitted_total(budget_s, elapsed_s, steps_done, per_step, steps_per_epoch, max_total), per_step
