"""The cosine schedule fitted to a time budget from the steady speed (training/ppe/schedule.py, #17)."""
from __future__ import annotations

import pytest

from training.ppe.schedule import (
    WARMUP_STEPS,
    fitted_total,
    plan_total,
    steady_epoch_step_seconds,
    steady_step_seconds,
)


@pytest.mark.parametrize("budget, elapsed, done, per_step, per_epoch, total, expected", [
    # the GPU run of #17: 7 min, the first epoch 42.8 s (38 s of start-up), 5.5 s per later epoch of 77 steps
    (420, 42.8, 77, 5.5 / 77, 77, 77 * 200, 77 * 69),
    # the old rule (budget / first epoch) gave 9 epochs; the steady speed gives 69
    (420, 42.8, 77, 42.8 / 77, 77, 77 * 200, 77 * 9),
    (420, 500, 77, 0.07, 77, 77 * 200, 77),          # budget already spent: stop at this epoch's end
    (3600, 10, 20, 0.5, 100, 500, 500),                # more budget than the schedule needs: keep it
    (60, 0, 0, 0, 10, 100, 100),                       # no speed measured: keep the schedule
])
def test_fitted_total(budget, elapsed, done, per_step, per_epoch, total, expected):
    assert fitted_total(budget, elapsed, done, per_step, per_epoch, total) == expected


@pytest.mark.parametrize("t_warm, t_now, s_warm, s_now, expected", [
    (None, 50.0, 0, 77, None),       # not warmed up yet
    (40.0, 45.5, 20, 21, None),      # too few timed steps
    (40.0, 45.5, 20, 77, 5.5 / 57),
])
def test_steady_step_seconds(t_warm, t_now, s_warm, s_now, expected):
    got = steady_step_seconds(t_warm, t_now, s_warm, s_now)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("epochs, expected", [
    ([], None),
    ([(77, 42.8)], None),                                  # the first epoch alone says nothing of the steady speed
    ([(77, 42.8), (77, 5.5)], 5.5 / 77),
    ([(77, 42.8), (77, 5.5), (77, 6.5)], 12.0 / 154),
    ([(10, 30.0), (10, 2.0), (5, 1.5)], 3.5 / 15),         # a short last epoch weighs by its steps
])
def test_steady_epoch_step_seconds(epochs, expected):
    got = steady_epoch_step_seconds(epochs)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("elapsed, done, warm_s, epochs, expected", [
    # nothing measured yet: keep the schedule
    (30.0, 10, None, [], (None, None)),
    # inside the first epoch only the steps after the warm-up are timed: 77 + (420 − 42.8) / 0.06 steps
    (42.8, 77, 0.06, [(77, 42.8)], (77 * 82, 0.06)),
    # once a steady epoch is done its time wins (it holds the epoch's turn and the checkpoint): 0.1 s/step
    (50.5, 154, 0.06, [(77, 42.8), (77, 7.7)], (77 * 49, 0.1)),
    # and the plan can grow again when later epochs are faster than the first steady one
    (56.0, 231, 0.06, [(77, 42.8), (77, 7.7), (77, 5.5)], (77 * 58, 13.2 / 154)),
])
def test_plan_total(elapsed, done, warm_s, epochs, expected):
    total, per_step = plan_total(420, elapsed, done, 77, 77 * 200, warm_s, epochs)
    assert total == expected[0]
    assert per_step == (pytest.approx(expected[1]) if expected[1] is not None else None)


def test_plan_total_keeps_the_epoch_cap():
    assert plan_total(3600, 60, 154, 77, 77 * 10, None, [(77, 50.0), (77, 5.0)]) == (770, pytest.approx(5.0 / 77))


def _simulate(budget, steps_per_epoch, first_epoch_s, step_s, epoch_turn_s, max_epochs=400):
    """train_full's loop on a simulated clock: the first epoch holds the start-up, later steps take step_s,
    every epoch's end costs epoch_turn_s (checkpoint); the plan is made after every epoch as train_full does."""
    t, step, total, warm_at, epochs = 0.0, 0, steps_per_epoch * max_epochs, None, []
    max_total = total
    while step < total:
        t_ep, n = t, 0
        while n < steps_per_epoch and step < total:
            t += first_epoch_s / steps_per_epoch if not epochs else step_s
            step, n = step + 1, n + 1
            if warm_at is None and step >= WARMUP_STEPS:
                warm_at = (t, step)
        t += epoch_turn_s
        epochs.append((n, t - t_ep))
        warm_s = steady_step_seconds(warm_at[0], t, warm_at[1], step) if warm_at else None
        fit, _ = plan_total(budget, t, step, steps_per_epoch, max_total, warm_s, epochs)
        total = fit if fit is not None else total
        if t > budget:
            break
    return t, step


@pytest.mark.parametrize("budget, per_epoch, first_s, step_s, turn_s", [
    (420, 77, 42.8, 5.3 / 77, 0.2),      # the GPU run of #17 (first epoch 42.8 s, later ones 5.5 s)
    (390, 77, 30.7, 5.0 / 77, 0.5),      # stage 1's log: 30.7 s, then ≈ 5.5 s
    (120, 6, 10.0, 0.4, 0.5),            # a tiny CPU run: 6 steps an epoch of 2.9 s
    (60, 6, 10.0, 1.0, 0.0),
])
def test_a_run_ends_within_one_steady_epoch_of_its_budget(budget, per_epoch, first_s, step_s, turn_s):
    t, steps = _simulate(budget, per_epoch, first_s, step_s, turn_s)
    epoch_s = per_epoch * step_s + turn_s
    assert budget - epoch_s <= t <= budget + 1e-9, (t, steps)   # the old first-epoch fit: 9 of 69 epochs
    assert steps % per_epoch == 0
