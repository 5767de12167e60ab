"""Major hazard installations graded per GB 18218-2018 (appliance/risk/major_rules.py): identification
(§4.2, 式 1), β (表 3 / 表 4), α (表 5), levels (表 6), at the boundaries the standard draws."""
from __future__ import annotations

import pytest

from appliance.risk.major_rules import ALPHA_BANDS, Substance, alpha, assess, beta, level_of

S = Substance


@pytest.mark.parametrize("people, a", [
    (0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0), (10_000, 2.0),
], ids=lambda v: f"{v}")
def test_alpha_bands_of_table_5(people, a):
    assert alpha(people) == a


@pytest.mark.parametrize("people", [-1, 1.5, True, "10"])
def test_alpha_refuses_what_is_not_a_head_count(people):
    with pytest.raises(ValueError, match="people_500m"):
        alpha(people)


@pytest.mark.parametrize("sub, b, source", [
    (S("一氧化碳", 1, 10, cas="630-08-0"), 2, "表3"), (S("氨", 1, 10, cas="7664-41-7"), 2, "表3"),
    (S("氯", 1, 5, cas="7782-50-5"), 4, "表3"), (S("硫化氢", 1, 5, cas="7783-06-4"), 5, "表3"),
    (S("氰化氢", 1, 1, cas="74-90-8"), 10, "表3"), (S("光气", 1, 0.3, cas="75-44-5"), 20, "表3"),
    (S("液氨", 1, 10), 2, "表3"),                                  # by name when there is no CAS number
    (S("液氯", 1, 5, category="other"), 4, "表3"),                 # 表 3 wins over a category
    (S("TNT", 1, 5, category="W1.2"), 2, "表4"),                    # explosives
    (S("液化石油气", 1, 50, category="W2"), 1.5, "表4"),            # flammable gases
    (S("甲醇", 1, 500, category="W5.4"), 1, "表4"),
    (S("某剧毒气体", 1, 5, category="J1"), 4, "表4"),
    (S("甲醇", 1, 500), 1, "表4"),                                  # others: 1
])
def test_beta_from_tables_3_and_4(sub, b, source):
    assert beta(sub) == (b, source)


def test_beta_refuses_an_unknown_category():
    with pytest.raises(ValueError, match="表4"):
        beta(S("x", 1, 1, category="W99"))


@pytest.mark.parametrize("r, level", [
    (1000, 1), (100, 1), (99.999, 2), (50, 2), (49.99, 3), (10, 3), (9.999, 4), (0.5, 4),
], ids=lambda v: f"{v}")
def test_levels_of_table_6(r, level):
    assert level_of(r) == level


@pytest.mark.parametrize("subs, people, ratio, major, r, level", [
    ([], 100, 0, False, None, None),                                                      # nothing stored
    ([S("甲醇", 0, 500)], 100, 0, False, None, None),                                     # q = 0
    ([S("甲醇", 499.999, 500)], 100, 0.999998, False, None, None),                        # just below
    ([S("甲醇", 500, 500)], 0, 1, True, 0.5, 4),                                          # q = Q exactly: major
    ([S("甲醇", 250, 500), S("乙醇", 250, 500)], 1, 1, True, 1, 4),                       # Σq/Q = 1 exactly
    ([S("a", 0.1, 0.3), S("b", 0.2, 0.3)], 1, 1, True, 1, 4),                             # float sums still reach 1
    ([S("甲醇", 400, 500), S("乙醇", 100, 500)], 1, 1, True, 1, 4),
    ([S("氯", 50, 5, cas="7782-50-5")], 100, 10, True, 80, 2),                            # 2.0 × 4 × 10
    ([S("氯", 62.5, 5, cas="7782-50-5")], 100, 12.5, True, 100, 1),                       # R = 100 exactly: 一级
    ([S("氨", 250, 10, cas="7664-41-7")], 0, 25, True, 25, 3),                            # 0.5 × 2 × 25
    ([S("液化石油气", 500, 50, category="W2")], 50, 10, True, 22.5, 3),                  # 1.5 × 1.5 × 10
    ([S("甲醇", 5000, 500)], 1, 10, True, 10, 3),                                         # R = 10 exactly: 三级
    ([S("甲醇", 4999.5, 500)], 1, 9.999, True, 9.999, 4),
    ([S("甲醇", 25000, 500)], 1, 50, True, 50, 2),                                        # R = 50 exactly: 二级
    ([S("甲醇", 50, 500), S("光气", 0.3, 0.3, cas="75-44-5")], 30, 1.1, True, 24.12, 3), # 1.2 × (0.1 + 20)
])
def test_identification_and_grading(subs, people, ratio, major, r, level):
    g = assess(subs, people)
    assert (g.ratio_sum, g.is_major, g.r, g.level) == (pytest.approx(ratio), major, pytest.approx(r) if r else r, level)


@pytest.mark.parametrize("sub, msg", [
    (S("甲醇", 10, 0), "critical quantity Q"), (S("甲醇", 10, -5), "critical quantity Q"),
    (S("甲醇", 10, float("nan")), "critical quantity Q"), (S("甲醇", -1, 500), "quantity q"),
    (S("甲醇", float("inf"), 500), "quantity q"),
])
def test_bad_quantities_are_refused_naming_the_substance(sub, msg):
    with pytest.raises(ValueError, match=msg) as exc:
        assess([sub], 10)
    assert "甲醇" in str(exc.value)


def test_alpha_bands_are_ordered_from_the_most_people_down():
    lows = [low for low, _ in ALPHA_BANDS]
    assert lows == sorted(lows, reverse=True) and lows[-1] == 0
