"""重大事故隐患 rules as tables: SAWS order 16 (安全生产事故隐患排查治理暂行规定) Art. 14, 15, 18; the 121号
checklist (安监总管三〔2017〕121号); the Art. 14 statistics periods; the [hazards] deadline settings."""
from __future__ import annotations

import datetime as dt

import pytest

from appliance.core.errors import ConfigError
from appliance.hazards import checklist as CL
from appliance.hazards import major as MJ
from appliance.hazards import stats as ST
from appliance.hazards.rules import TransitionRefused, deadline, next_state

PLAN = {f: "x" for f in ("target", "methods", "funding", "organisation", "schedule", "safety_measures")}
PASS = {"result": "pass"}


# ---------------------------------------------------------------- state machine by grade

@pytest.mark.parametrize("grade, state, action, expected", [
    # the general loop is unchanged
    ("general", "pending_acceptance", "accept", "closed"),
    ("general", "pending_acceptance", "sign_off", None),          # no sign-off for a general hazard
    ("general", "pending_acceptance", "evaluate", None),          # nor an evaluation
    # Art. 18: a major hazard is not accepted plainly; evaluation, then the principal's sign-off
    ("major", "reported", "dispatch", "rectifying"),
    ("major", "rectifying", "rectify", "pending_acceptance"),
    ("major", "pending_acceptance", "accept", None),
    ("major", "pending_acceptance", "evaluate", "pending_acceptance"),      # pass: awaits the sign-off
    ("major", "pending_acceptance", "evaluate_fail", "rectifying"),         # fail: treated again
    ("major", "pending_acceptance", "sign_off", "closed"),
    ("major", "pending_acceptance", "reject", "rectifying"),
    ("major", "rectifying", "evaluate", None),                              # nothing to evaluate yet
    ("major", "rectifying", "sign_off", None),
    ("major", "reported", "sign_off", None),
    ("major", "closed", "evaluate", None),
    ("major", "closed", "sign_off", None),
])
def test_transitions_by_grade(grade, state, action, expected):
    if expected is None:
        with pytest.raises(TransitionRefused):
            next_state(state, action, grade)
    else:
        assert next_state(state, action, grade) == expected


def test_plain_acceptance_of_a_major_hazard_names_article_18():
    with pytest.raises(TransitionRefused, match="Art. 18"):
        next_state("pending_acceptance", "accept", "major")


# ---------------------------------------------------------------- Art. 14 report, Art. 15 plan

@pytest.mark.parametrize("status_cause, harm, plan, missing", [
    ("现状及原因", "危害与难易", PLAN, []),                                   # Art. 14 (一)(二)(三) all there
    ("", "危害与难易", PLAN, ["status_cause"]),                               # (一) 现状及其产生原因
    ("现状", "  ", PLAN, ["harm_analysis"]),                                  # (二) blank is missing
    ("现状", "危害", None, [f"plan.{f}" for f in PLAN]),                      # (三) 治理方案 (Art. 15's six parts)
    ("现状", "危害", {**PLAN, "funding": ""}, ["plan.funding"]),              # Art. 15 (三) 经费和物资的落实
    (None, None, {**PLAN, "safety_measures": " "}, ["status_cause", "harm_analysis", "plan.safety_measures"]),  # 15 (六)
])
def test_art14_report_parts(status_cause, harm, plan, missing):
    assert MJ.missing_report(status_cause, harm, plan) == missing


# ---------------------------------------------------------------- re-grading (the reporter's grade is a proposal)

@pytest.mark.parametrize("role, state, old, new, reason, ticked, outcome", [
    ("safety_officer", "reported", "general", "major", "涉及液氯充装", [], "ok"),
    ("admin", "rectifying", "major", "general", "经复核为一般隐患", [], "ok"),
    ("safety_officer", "reported", "major", "general", "已有万向管道，误勾选", ["121-07"], "override"),  # 121号 forced grade lowered
    ("supervisor", "reported", "general", "major", "x理由", [], "who"),      # not the safety office
    ("worker", "reported", "major", "general", "我认为是一般", ["121-12"], "who"),   # the reporter cannot downgrade
    ("safety_officer", "pending_acceptance", "general", "major", "理由", [], "state"),  # judged as rectified
    ("safety_officer", "closed", "major", "general", "理由", [], "state"),
    ("safety_officer", "reported", "major", "major", "理由", [], "state"),    # nothing to change
])
def test_regrade(role, state, old, new, reason, ticked, outcome):
    if outcome in ("ok", "override"):
        rec = MJ.check_regrade(role, state, old, new, reason, ticked)
        assert rec == {"from": old, "to": new, "reason": reason, "checklist_overridden": outcome == "override"}
    else:
        with pytest.raises(TransitionRefused) as exc:
            MJ.check_regrade(role, state, old, new, reason, ticked)
        assert exc.value.who == (outcome == "who")


# ---------------------------------------------------------------- Art. 18 evaluation and sign-off

@pytest.mark.parametrize("kind, assessor, result, document, photo, missing", [
    ("agency", "某安全评价有限公司", "pass", "评价报告 AP-2025-017", None, []),
    ("internal_experts", "张工、李工", "fail", "", "a" * 64, []),            # a photo of the signed report will do
    ("agency", "某公司", "pass", "", None, ["document"]),                     # no report at all
    (None, "某公司", "pass", "AP-1", None, ["assessor_kind"]),
    ("neighbour", " ", "maybe", "AP-1", None, ["assessor_kind", "assessor", "result"]),
])
def test_evaluation_contents(kind, assessor, result, document, photo, missing):
    assert MJ.evaluation_problems(kind, assessor, result, document, photo) == missing


@pytest.mark.parametrize("role, login, rectifier, ok", [
    ("safety_officer", "user:zw", "user:ly", True),
    ("admin", "user:admin", "user:ly", True),
    ("supervisor", "user:wf", "user:ly", False),     # the safety office records it
    ("safety_officer", "user:zw", "user:zw", False),  # not on one's own rectification
])
def test_who_records_the_evaluation(role, login, rectifier, ok):
    if ok:
        MJ.check_evaluate(role, login, rectifier)
    else:
        with pytest.raises(TransitionRefused):
            MJ.check_evaluate(role, login, rectifier)


@pytest.mark.parametrize("login, principals, rectifier, evaluation, refused", [
    ("user:zheng", ["zheng"], "user:ly", PASS, None),
    ("user:zheng", ["zheng"], "user:ly", None, "evaluation"),                  # Art. 18: evaluation first
    ("user:zheng", ["zheng"], "user:ly", {"result": "fail"}, "does not meet"),
    ("user:zw", ["zheng"], "user:ly", PASS, "principal"),                      # the safety officer is not the principal
    ("user:zheng", [], "user:ly", PASS, "hazards.principal_logins"),           # none configured: the key is named
    ("user:zheng", ["zheng"], "user:zheng", PASS, "own rectification"),
])
def test_sign_off(login, principals, rectifier, evaluation, refused):
    if refused is None:
        MJ.check_sign_off(login, principals, rectifier, evaluation)
    else:
        with pytest.raises(TransitionRefused, match=refused):
            MJ.check_sign_off(login, principals, rectifier, evaluation)


@pytest.mark.parametrize("grade, state, evaluation, expected", [
    ("major", "pending_acceptance", None, "awaiting_evaluation"),
    ("major", "pending_acceptance", PASS, "awaiting_sign_off"),
    ("major", "pending_acceptance", {"result": "fail"}, "awaiting_evaluation"),
    ("major", "rectifying", PASS, None),
    ("general", "pending_acceptance", None, None),
])
def test_stage(grade, state, evaluation, expected):
    assert MJ.stage(grade, state, evaluation) == expected


# ---------------------------------------------------------------- the 121号 checklist

def test_the_121_checklist_has_its_twenty_items():
    assert len(CL.CHECKLIST_121) == 20 and CL.CODES == tuple(f"121-{n:02d}" for n in range(1, 21))
    assert all(i.zh and i.en for i in CL.CHECKLIST_121)
    assert "检测报警装置" in CL.BY_CODE["121-12"].zh       # 十二: gas detection in leak areas (RULES.md §B.5)
    assert "动火" in CL.BY_CODE["121-18"].zh and "受限空间" in CL.BY_CODE["121-18"].zh  # 十八: special work


@pytest.mark.parametrize("ticked, major, unknown", [
    ([], False, []),
    (["121-01"], True, []),        # 一: principal not certified
    (["121-20"], True, []),        # 二十: the last item counts too
    (["121-12", "121-18"], True, []),
    (["121-21"], False, ["121-21"]),   # not an item: refused by the service, never a silent "yes"
])
def test_any_yes_forces_major(ticked, major, unknown):
    assert CL.forces_major(ticked) is major and CL.unknown(ticked) == unknown


# ---------------------------------------------------------------- Art. 14 statistics periods

def _ms(y, mo, d, h=0, mi=0, tz="Asia/Shanghai"):
    from zoneinfo import ZoneInfo

    return int(dt.datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


@pytest.mark.parametrize("year, quarter, tz, since, until", [
    (2025, 1, "Asia/Shanghai", _ms(2025, 1, 1), _ms(2025, 4, 1)),
    (2025, 2, "Asia/Shanghai", _ms(2025, 4, 1), _ms(2025, 7, 1)),
    (2025, 4, "Asia/Shanghai", _ms(2025, 10, 1), _ms(2026, 1, 1)),
    (2025, None, "Asia/Shanghai", _ms(2025, 1, 1), _ms(2026, 1, 1)),
    (2025, 2, "Europe/Berlin", _ms(2025, 4, 1, tz="Europe/Berlin"), _ms(2025, 7, 1, tz="Europe/Berlin")),  # DST-shifted
])
def test_period_bounds_in_the_plant_time_zone(year, quarter, tz, since, until):
    assert ST.period_bounds(year, quarter, tz) == (since, until)


@pytest.mark.parametrize("ms, expected", [
    (_ms(2025, 3, 31, 23, 59), (2025, 1)),
    (_ms(2025, 4, 1, 0, 30), (2025, 2)),          # 16:30 UTC on 31 March: Q2 in the plant
    (_ms(2025, 12, 31, 23, 59), (2025, 4)),
    (_ms(2026, 1, 1, 0, 0), (2026, 1)),
])
def test_period_of(ms, expected):
    assert ST.period_of(ms, "Asia/Shanghai") == expected


@pytest.mark.parametrize("year, quarter, due", [
    (2025, 1, dt.date(2025, 4, 15)),   # Art. 14: 下一季度15日前
    (2025, 3, dt.date(2025, 10, 15)),
    (2025, 4, dt.date(2026, 1, 15)),
    (2025, None, dt.date(2026, 1, 31)),  # 下一年1月31日前
])
def test_report_due(year, quarter, due):
    assert ST.report_due(year, quarter) == due


def _h(i, grade, reported, accepted=None, deadline=None, cost=None):
    return {"id": i, "grade": grade, "state": "closed" if accepted else "rectifying", "reported_at": reported,
            "accepted_at": accepted, "deadline": deadline, "cost": cost}


Q2 = ST.period_bounds(2025, 2, "Asia/Shanghai")
NOW = _ms(2025, 8, 1)


@pytest.mark.parametrize("hazards, grade, expected", [
    # reported 00:30 on 1 April plant time (16:30 UTC 31 March) is found in Q2
    ([_h(1, "general", _ms(2025, 4, 1, 0, 30))], "general",
     {"found": 1, "rectified": 0, "found_rectified": 0, "open": 1, "overdue": 0, "rectification_rate": 0.0, "cost": 0}),
    # reported 23:59 on 31 March is Q1's: carried into Q2 as open, closed in Q2 (rectified, with its cost)
    ([_h(1, "general", _ms(2025, 3, 31, 23, 59), accepted=_ms(2025, 4, 3), cost=1200.5)], "general",
     {"found": 0, "rectified": 1, "found_rectified": 0, "open": 0, "overdue": 0, "rectification_rate": None, "cost": 1200.5}),
    # found in Q2, closed in Q3: not rectified in Q2, open at its end, and overdue then
    ([_h(1, "major", _ms(2025, 5, 1), accepted=_ms(2025, 7, 2), deadline=_ms(2025, 6, 1), cost=9e4)], "major",
     {"found": 1, "rectified": 0, "found_rectified": 0, "open": 1, "overdue": 1, "rectification_rate": 0.0, "cost": 0}),
    # closed at the last minute of Q2 counts in Q2; two found, one rectified: 50 %
    ([_h(1, "major", _ms(2025, 5, 1), accepted=_ms(2025, 6, 30, 23, 59), cost=3000), _h(2, "major", _ms(2025, 6, 2))],
     "major", {"found": 2, "rectified": 1, "found_rectified": 1, "open": 1, "overdue": 0, "rectification_rate": 0.5,
               "cost": 3000}),
])
def test_quarter_statistics(hazards, grade, expected):
    out = ST.statistics(hazards, *Q2, NOW)
    assert out["by_grade"][grade] == expected
    other = "general" if grade == "major" else "major"
    assert out["by_grade"][other]["found"] == 0 and out["total"]["found"] == expected["found"]


def test_majors_listed_when_found_in_or_open_during_the_period():
    hs = [_h(1, "major", _ms(2025, 1, 5)),                                   # Q1, still open: listed
          _h(2, "major", _ms(2025, 1, 5), accepted=_ms(2025, 3, 1)),         # closed in Q1: not listed
          _h(3, "major", _ms(2025, 7, 5)),                                   # found after Q2: not listed
          _h(4, "general", _ms(2025, 5, 5))]
    assert [m["id"] for m in ST.statistics(hs, *Q2, NOW)["majors"]] == [1]


def test_a_period_not_over_ends_now():
    hs = [_h(1, "general", _ms(2025, 5, 1), deadline=_ms(2025, 5, 8))]
    now = _ms(2025, 5, 5)     # the deadline is still ahead now: not overdue yet
    assert ST.statistics(hs, *Q2, now)["total"]["overdue"] == 0


# ---------------------------------------------------------------- [hazards] settings

def test_deadline_defaults_are_the_old_values():
    from appliance.hazards.config import HazardsConfig

    c = HazardsConfig()
    days = {"general": c.general_deadline_days, "major": c.major_deadline_days}
    assert days == {"general": 7, "major": 30} and c.remind_before_hours == 24
    assert deadline("major", 0, days) == 30 * 86_400_000


@pytest.mark.parametrize("toml, key", [
    ("general_deadline_days = 0", "hazards.general_deadline_days"),        # positive
    ("general_deadline_days = 91", "hazards.general_deadline_days"),       # bounded
    ("major_deadline_days = -3", "hazards.major_deadline_days"),
    ("major_deadline_days = 366", "hazards.major_deadline_days"),
    ("major_deadline_days = 7.5", "hazards.major_deadline_days"),         # whole days
    ("general_deadline_days = 2\nremind_before_hours = 48", "hazards.remind_before_hours"),  # reminder before dispatch
    ("remind_before_hours = 0", "hazards.remind_before_hours"),
    ("principal_logins = [\"郑 浩\"]", "hazards.principal_logins"),
    ("deadline_days = 7", "hazards.deadline_days"),                      # unknown key (a typo?)
])
def test_bad_settings_name_the_key(toml, key):
    from appliance.config import parse_config

    with pytest.raises(ConfigError) as exc:
        parse_config(f"[hazards]\n{toml}\n")
    keys = [d["key"] for d in exc.value.details]
    assert key in keys, keys
    assert key in exc.value.en and key in exc.value.zh


def test_good_settings():
    from appliance.config import parse_config

    cfg = parse_config('[hazards]\ngeneral_deadline_days = 3\nmajor_deadline_days = 60\nremind_before_hours = 12\n'
                       'principal_logins = ["zhenghao"]\n')
    assert (cfg.hazards.general_deadline_days, cfg.hazards.major_deadline_days, cfg.hazards.principal_logins) == \
        (3, 60, ["zhenghao"])


@pytest.mark.parametrize("args, expected", [
    ({}, (2025, 2)),                                   # nothing: the current quarter in the plant
    ({"year": "2024"}, (2024, None)),                  # a year alone: that whole year
    ({"year": "2024", "quarter": "4"}, (2024, 4)),
    ({"year": "2024", "quarter": "year"}, (2024, None)),
    ({"quarter": "5"}, "quarter"),
    ({"year": "1999"}, "year"),
    ({"year": "二〇二五"}, "year"),
])
def test_period_from_query_arguments(args, expected):
    now = _ms(2025, 4, 1, 0, 30)      # still 31 March in UTC: Q2 in the plant
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            ST.period_from_args(args, now, "Asia/Shanghai")
    else:
        assert ST.period_from_args(args, now, "Asia/Shanghai") == expected
