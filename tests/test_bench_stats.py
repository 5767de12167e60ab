"""The benches' one rule for percentiles (bench/_common.py, issue 14): a tail percentile (p99, p95) is told only
from ≥ 200 samples; with fewer, the figure held against a target is the max, labelled "max of N"."""
from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("bench_common", Path(__file__).resolve().parent.parent / "bench" / "_common.py")
assert _spec and _spec.loader
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


@pytest.mark.parametrize(("n", "tail_label", "tail", "has_p99"), [
    (0, "max of 0", None, False),
    (1, "max of 1", 1.0, False),
    (40, "max of 40", 40.0, False),
    (199, "max of 199", 199.0, False),
    (200, "p99", 198.0, True),      # nearest rank: ceil(0.99 * 200) = the 198th of 1..200
    (1000, "p99", 990.0, True),
])
def test_a_p99_only_from_200_samples_else_the_max_of_n(n, tail_label, tail, has_p99):
    values = [float(v) for v in range(n, 0, -1)]         # 1..n, given in descending order
    s = common.stats(values)
    assert s["n"] == n
    assert s["tail_label"] == tail_label
    assert ("p99" in s) is has_p99
    if tail is None:
        assert math.isnan(s["tail"]) and math.isnan(s["max"])
    else:
        assert s["tail"] == tail
        assert s["max"] == float(n)
    text = common.describe(s)
    assert bool(re.search(r"p99 +[0-9]", text)) is has_p99    # a p99 figure printed, not just the word
    if not has_p99:
        assert f"max of {n}" in text


def test_p95_and_p99_together_share_the_rule():
    assert "p95" not in common.stats([1.0] * 199, tails=(95, 99))
    s = common.stats([float(v) for v in range(1, 201)], tails=(95, 99))
    assert (s["p95"], s["p99"], s["tail"], s["tail_label"]) == (190.0, 198.0, 198.0, "p99")


def test_the_median_is_told_from_few_samples_but_a_tail_percentile_is_refused():
    assert common.percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError, match="199 samples"):
        common.percentile([1.0] * 199, 99)
    assert common.percentile([1.0] * 200, 99) == 1.0
