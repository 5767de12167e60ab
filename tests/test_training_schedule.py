"""The cosine schedule fitted to a time budget from the steady speed (training/ppe/schedule.py, #17)."""
from __future__ import annotations

import pytest

from training.ppe.schedule import fitted_total, steady_step_seconds


@pytest.mark.parametrize("budget, elapsed, done, per_step, per_epoch, total, expected", [
    # the GPU run of #17: 7 min, the first epoch 42.8 s (38 s of start-up), 5.5 s per later epoch of 77 steps
    (420, 42.8, 77, 5.5 / 77, 77, 77 * 200, 77 * 69),
    # the old rule (budget / first epoch) gave 9 epochs; the steady speed gives 69
    (420, 42.8, 77, 42.8 / 77, 77, 77 * 200, 77 * 9),
    (420, 500, 77, 0.07, 77, 77 * 200, 78),          # budget already spent: one more step, the loop stops
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
