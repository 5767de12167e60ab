"""The cosine schedule fitted to a time budget from the steady speed (training/ppe/schedule.py, #17)."""
from __future__ import annotations

import pytest

from training.ppe.schedule import fitted_total, plan_total, steady_epoch_step_seconds, steady_step_seconds


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
