"""GB 30871-2022 special-work rules as tables (appliance/permits/rules.py); ids cite the clause."""
from __future__ import annotations

import pytest

from appliance.permits import rules as R
from appliance.permits.rules import MIN, H, Sample


@pytest.mark.parametrize("wt, grade, hours, ok", [
    pytest.param("hot_work", "special", 8, True, id="§5.4 特级动火 8 h allowed"),
    pytest.param("hot_work", "special", 8.01, False, id="§5.4 特级动火 over 8 h refused"),
    pytest.param("hot_work", "1", 8, True, id="§5.4 一级动火 8 h"),
    pytest.param("hot_work", "1", 9, False, id="§5.4 一级动火 9 h refused"),
    pytest.param("hot_work", "2", 72, True, id="§5.4 二级动火 72 h"),
    pytest.param("hot_work", "2", 73, False, id="§5.4 二级动火 73 h refused"),
    pytest.param("confined_space", "-", 24, True, id="§6 受限空间 24 h"),
    pytest.param("confined_space", "-", 25, False, id="§6 受限空间 25 h refused"),
])
def test_validity_per_grade(wt, grade, hours, ok):
    assert (R.check_validity(wt, grade, 0, int(hours * H)) is None) is ok


def test_validity_window_must_move_forward_and_grade_must_exist():
    assert R.check_validity("hot_work", "2", 10, 10)
    with pytest.raises(ValueError):
        R.grade_of("hot_work", "3")
    with pytest.raises(ValueError):
        R.grade_of("welding", "1")


@pytest.mark.parametrize("wt, grade, level", [
    pytest.param("hot_work", "special", "principal", id="特级动火 → 主要负责人"),
    pytest.param("hot_work", "1", "safety", id="一级动火 → 安全管理负责人"),
    pytest.param("hot_work", "2", "workshop", id="二级动火 → 车间负责人"),
    pytest.param("lifting", "1", "safety", id="§9 一级吊装 → 安全管理"),
])
def test_approver_level(wt, grade, level):
    assert R.grade_of(wt, grade).approver == level


@pytest.mark.parametrize("level, role, ok", [
    ("principal", "admin", True), ("principal", "safety_officer", False),
    ("safety", "safety_officer", True), ("safety", "supervisor", False),
    ("workshop", "supervisor", True), ("workshop", "worker", False),
])
def test_who_may_approve(level, role, ok):
    assert R.approver_may(level, role) is ok


@pytest.mark.parametrize("m, grade", [(2, "I"), (5, "I"), (5.01, "II"), (15, "II"), (30, "III"), (30.5, "IV")],
                         ids=lambda v: f"GB/T 3608 {v}")
def test_height_grades(m, grade):
    assert R.height_grade(m) == grade


def test_below_two_metres_is_not_height_work():
    with pytest.raises(ValueError):
        R.height_grade(1.99)


@pytest.mark.parametrize("t, grade", [(100.1, "1"), (100, "2"), (40, "2"), (39.9, "3")], ids=lambda v: f"§9 {v}")
def test_lifting_grades(t, grade):
    assert R.lifting_grade(t) == grade


@pytest.mark.parametrize("samples, lel, ok", [
    # §5.3.2: LEL ≥ 4 % → < 0.5 % V/V. CH4 LEL 5 %: 9.9 %LEL = 0.495 %V/V passes, 10 %LEL = 0.5 fails
    pytest.param([Sample("CH4", "combustible", 9.9, "%LEL")], None, True, id="§5.3.2 CH4 0.495 %V/V passes"),
    pytest.param([Sample("CH4", "combustible", 10.0, "%LEL")], None, False, id="§5.3.2 CH4 0.5 %V/V fails (< not ≤)"),
    # H2 LEL exactly 4 % → the 0.5 % limit
    pytest.param([Sample("H2", "combustible", 12.0, "%LEL")], None, True, id="§5.3.2 H2 LEL=4 uses 0.5 (0.48 passes)"),
    # LEL < 4 % → < 0.2 % V/V. propane LEL 2.1: 9 %LEL = 0.189 passes, 10 %LEL = 0.21 fails
    pytest.param([Sample("C3H8", "combustible", 9.0, "%LEL")], None, True, id="§5.3.2 C3H8 0.189 %V/V passes"),
    pytest.param([Sample("C3H8", "combustible", 10.0, "%LEL")], None, False, id="§5.3.2 C3H8 0.21 %V/V fails"),
    pytest.param([Sample("EX", "combustible", 1.0, "%LEL")], None, False, id="§5.3.2 unknown LEL cannot pass"),
    pytest.param([Sample("EX", "combustible", 1.0, "%LEL")], 3.0, True, id="§5.3.2 unknown gas with medium LEL 3"),
    pytest.param([Sample("EX", "combustible", 0.19, "%VOL")], 3.0, True, id="§5.3.2 %V/V entered by hand"),
    pytest.param([], None, False, id="§5.3.2 hot work needs a combustible sample"),
    pytest.param([Sample("CH4", "combustible", 1, "%LEL"), Sample("H2S", "toxic", 10.1, "ppm", 10)], None, False,
                 id="toxic over OEL fails"),
])
def test_hot_work_analysis(samples, lel, ok):
    passed, reasons = R.judge_analysis("hot_work", samples, lel)
    assert passed is ok, reasons


@pytest.mark.parametrize("o2, rich, ok", [
    pytest.param(19.5, False, True, id="§6.4a O2 19.5 lower edge passes"),
    pytest.param(19.4, False, False, id="§6.4a O2 19.4 fails"),
    pytest.param(21.0, False, True, id="§6.4a O2 21 upper edge passes"),
    pytest.param(21.1, False, False, id="§6.4a O2 21.1 fails"),
    pytest.param(23.5, True, True, id="§6.4a oxygen-rich 23.5 passes"),
    pytest.param(23.6, True, False, id="§6.4a oxygen-rich 23.6 fails"),
])
def test_confined_space_oxygen(o2, rich, ok):
    samples = [Sample("O2", "oxygen", o2, "%VOL"), Sample("CH4", "combustible", 1, "%LEL"),
               Sample("CO", "toxic", 3, "ppm", 25.7)]
    assert R.judge_analysis("confined_space", samples, oxygen_rich=rich)[0] is ok


def test_confined_space_needs_oxygen():
    passed, reasons = R.judge_analysis("confined_space", [Sample("CH4", "combustible", 1, "%LEL")])
    assert not passed and "O2: no sample" in reasons


@pytest.mark.parametrize("wt, grade, now, last, kw, ok", [
    pytest.param("hot_work", "2", 30 * MIN, 0, {}, True, id="§5.3.1 30 min old passes"),
    pytest.param("hot_work", "2", 30 * MIN + 1, 0, {}, False, id="§5.3.1 over 30 min refused"),
    pytest.param("hot_work", "2", 0, None, {}, False, id="§5.3.1 no analysis refused"),
    pytest.param("height", "I", 0, None, {}, True, id="height work has no gas gate"),
    pytest.param("hot_work", "2", 10 * MIN, 5 * MIN, {"resuming_since": 6 * MIN}, False,
                 id="resume needs an analysis after the suspension"),
    pytest.param("hot_work", "2", 10 * MIN, 7 * MIN, {"resuming_since": 6 * MIN}, True, id="resume after new analysis"),
    pytest.param("confined_space", "-", 200 * MIN, 175 * MIN, {"last_work_at": 100 * MIN}, True,
                 id="§6.5 re-analysed after the interruption"),
    pytest.param("confined_space", "-", 200 * MIN, 90 * MIN + 100 * MIN - 100 * MIN, {"last_work_at": 100 * MIN},
                 False, id="§6.5 > 60 min interruption, old analysis"),
])
def test_analysis_gate(wt, grade, now, last, kw, ok):
    assert (R.analysis_gate(wt, grade, now, last, **kw) is None) is ok


@pytest.mark.parametrize("wt, grade, ms", [("hot_work", "special", 30 * MIN), ("hot_work", "1", 30 * MIN),
                                           ("hot_work", "2", 60 * MIN), ("confined_space", "-", 60 * MIN)],
                         ids=["特级 30 min", "一级 30 min", "二级 60 min", "§6.5 受限空间 60 min"])
def test_interruption_limits(wt, grade, ms):
    assert R.interruption_ms(wt, grade) == ms


@pytest.mark.parametrize("state, action, to", [
    ("applied", "confirm", "measures_confirmed"), ("measures_confirmed", "approve", "approved"),
    ("approved", "brief", "briefed"), ("briefed", "start", "active"), ("active", "suspend", "suspended"),
    ("suspended", "resume", "active"), ("active", "close", "closed"), ("applied", "cancel", "cancelled"),
], ids=lambda v: str(v))
def test_state_machine(state, action, to):
    assert R.next_state(state, action) == to


@pytest.mark.parametrize("state, action", [("applied", "approve"), ("measures_confirmed", "start"),
                                           ("approved", "start"), ("closed", "resume"), ("active", "cancel")],
                         ids=["approve before measures", "start before approval", "start before 交底",
                              "closed stays closed", "cancel active"])
def test_state_machine_refuses_skips(state, action):
    with pytest.raises(ValueError):
        R.next_state(state, action)


@pytest.mark.parametrize("login, person, ok", [("a", None, False), ("b", 7, False), ("b", 9, True), ("b", None, True)],
                         ids=["applicant", "a worker on the job", "another person", "no person"])
def test_no_self_approval(login, person, ok):
    assert R.self_approval(login, person, "a", [7, 8]) is not ok


@pytest.mark.parametrize("wt, others, verdict", [
    pytest.param("hot_work", ["confined_space"], "refuse", id="hot work beside an open confined space"),
    pytest.param("confined_space", ["hot_work"], "refuse", id="confined space beside hot work"),
    pytest.param("hot_work", ["blinding"], "refuse", id="hot work beside a line break"),
    pytest.param("lifting", ["height"], "escalate", id="lifting over height work"),
    pytest.param("height", ["excavation"], None, id="no conflict"),
    pytest.param("lifting", ["height", "hot_work", "excavation"], "escalate", id="strongest wins"),
    pytest.param("hot_work", ["lifting", "confined_space"], "refuse", id="refuse beats escalate"),
])
def test_simops(wt, others, verdict):
    assert R.simops(wt, others) == verdict


def test_escalation_raises_the_approval_level():
    assert R.required_level("workshop", "escalate") == "safety"
    assert R.required_level("principal", "escalate") == "principal"
    assert R.required_level("workshop", None) == "workshop"


def test_guardian_watches_one_job():
    assert R.guardian_busy(3, [1, 3]) and not R.guardian_busy(3, [1, 2])


@pytest.mark.parametrize("wt, certs, gaps", [
    ("hot_work", [{"kind": "welding", "valid_from": 0, "valid_to": 100}], []),
    ("hot_work", [{"kind": "welding", "valid_from": 0, "valid_to": 50}], ["welding"]),
    ("hot_work", [{"kind": "electrician", "valid_from": 0, "valid_to": 100}], ["welding"]),
    ("temp_power", [], ["electrician"]),
    ("confined_space", [], []),
], ids=["welder valid", "expires mid-job", "wrong certificate", "electrician missing", "none needed"])
def test_certificates(wt, certs, gaps):
    assert R.certificate_gaps(wt, certs, 10, 90) == gaps


@pytest.mark.parametrize("etype, payload, suspends", [
    ("alarm.raised", {"point": "GT-101", "level": 1}, True),
    ("alarm.raised", {"point": "GT-101", "level": 2, "over_range": True}, True),
    ("point.fault", {"point": "GT-101", "reason": "comm"}, True),
    ("alarm.cleared", {"point": "GT-101", "level": 0}, False),
    ("alarm.acked", {"point": "GT-101"}, False),
], ids=["level 1", "over-range", "comm fault", "cleared", "acked"])
def test_interlock(etype, payload, suspends):
    assert (R.interlock_reason(etype, payload) is not None) is suspends


@pytest.mark.parametrize("view, ok", [
    ({"id": "G", "state": "normal", "value": 1.0, "level": 0}, True),
    ({"id": "G", "state": "alarm1", "value": 30, "level": 1}, False),
    ({"id": "G", "state": "fault", "value": None, "fault": "comm"}, False),
    ({"id": "G", "state": "alarm2", "value": 100, "level": 2, "over_range": True}, False),
], ids=["normal", "alarm", "fault", "over-range"])
def test_live_point_usable_for_analysis(view, ok):
    assert (R.point_blocks(view) is None) is ok


def test_presence_and_measures():
    assert R.presence_missing({"worker": [1, 2], "guardian": [3], "issuer": [4]}, [1, 3, 4]) == ["worker"]
    assert R.presence_missing({"worker": [1], "guardian": [3], "issuer": [4]}, [1, 3, 4]) == []
    codes = [c for c, *_ in R.MEASURES["hot_work"]]
    done = {c: {"applies": True, "by": "王芳"} for c in codes[:-1]}
    assert R.measures_missing("hot_work", done) == [codes[-1]]
    assert R.measures_missing("hot_work", {**done, codes[-1]: {"applies": False, "by": "王芳"}}) == []


# ---------------------------------------------------------------- time and video (appliance/permits/watch.py)

@pytest.mark.parametrize("state, now, gone", [
    pytest.param("active", 100, False, id="§4 the last instant of the window is still valid"),
    pytest.param("active", 101, True, id="§4 active past validity expires"),
    pytest.param("suspended", 101, True, id="§4 suspended past validity expires"),
    pytest.param("approved", 101, True, id="§4 approved, never started, expires"),
    pytest.param("closed", 10**9, False, id="closed stays closed"),
    pytest.param("cancelled", 10**9, False, id="cancelled stays cancelled"),
    pytest.param("expired", 10**9, False, id="expired once"),
])
def test_expiry(state, now, gone):
    assert R.expired(state, 100, now) is gone
    if gone:
        assert R.next_state(state, "expire") == "expired"


def test_an_expired_permit_is_closed_after_the_site_check_and_never_resumed():
    assert R.next_state("expired", "close") == "closed"
    for action in ("resume", "start", "suspend"):
        with pytest.raises(ValueError):
            R.next_state("expired", action)


@pytest.mark.parametrize("wt, state, last, now, overdue", [
    pytest.param("confined_space", "active", 0, 2 * H, False, id="§6.4 2 h after the analysis: due, not overdue"),
    pytest.param("confined_space", "active", 0, 2 * H + 1, True, id="§6.4 past 2 h: overdue, the entry stops"),
    pytest.param("confined_space", "suspended", 0, 5 * H, False, id="§6.4 already suspended"),
    pytest.param("confined_space", "briefed", 0, 5 * H, False, id="§6.4 not yet in the space"),
    pytest.param("hot_work", "active", 0, 5 * H, False, id="§5 hot work has no periodic re-analysis here"),
    pytest.param("confined_space", "active", None, 5 * H, False, id="no analysis: the start gate decided"),
])
def test_confined_space_periodic_reanalysis(wt, state, last, now, overdue):
    assert R.reanalysis_overdue(wt, state, last, now) is overdue


def test_confined_space_reanalysis_interval_is_two_hours():
    assert R.CONFINED_REANALYSIS_MS == 2 * H    # GB 30871-2022 §6.4 "2 h 记录 1 次"
    assert R.reanalysis_due("confined_space", 5) == 5 + 2 * H and R.reanalysis_due("height", 5) is None


@pytest.mark.parametrize("wt, grade, now, last, since, interlock, ok", [
    pytest.param("hot_work", "2", 70 * MIN, 65 * MIN, 0, False, True,
                 id="§5.3.4 二级 70 min interruption, new analysis after it: resumes"),
    pytest.param("hot_work", "2", 61 * MIN, 0, 0, False, False,
                 id="§5.3.4 二级 61 min interruption, no new analysis: refused"),
    pytest.param("hot_work", "1", 31 * MIN, 0, 0, False, False, id="§5.3.4 一级 31 min: refused"),
    pytest.param("confined_space", "-", 61 * MIN, 60 * MIN, 0, False, True,
                 id="§6.5 受限空间 61 min, analysed after: resumes"),
    pytest.param("confined_space", "-", 10 * MIN, -1 * MIN, 0, False, False,
                 id="§4 any suspension of gas-tested work needs an analysis after it (house rule)"),
    pytest.param("height", "I", 200 * MIN, None, 0, False, True, id="height work resumes without analysis"),
    pytest.param("height", "I", 200 * MIN, None, 0, True, False, id="height work stopped by the gas interlock needs one"),
])
def test_resume_gate(wt, grade, now, last, since, interlock, ok):
    why = R.resume_gate(wt, grade, now, last, since, interlock)
    assert (why is None) is ok, why


def test_resume_after_a_long_interruption_names_it():
    why = R.resume_gate("hot_work", "2", 61 * MIN, 0, 0, False)
    assert why and "interrupted 61 min (> 60)" in why


@pytest.mark.parametrize("view, now, ok", [
    pytest.param({"id": "G", "state": "normal", "value": 1.0, "level": 0, "updated_at": 1000}, 61_000, True,
                 id="a reading 60 s old is recent"),
    pytest.param({"id": "G", "state": "normal", "value": 1.0, "level": 0, "updated_at": 1000}, 61_001, False,
                 id="a reading over 60 s old is not 'now'"),
    pytest.param({"id": "G", "state": "normal", "value": 1.0, "level": 0, "updated_at": None}, 1, False,
                 id="a reading without a time is refused"),
])
def test_live_analysis_needs_recent_readings(view, now, ok):
    assert (R.point_blocks(view, now) is None) is ok


@pytest.mark.parametrize("types, verdict", [
    (["hot_work", "lifting"], "escalate"), (["height", "excavation"], None), (["hot_work"], None),
    (["confined_space", "hot_work", "lifting"], "refuse"),
], ids=["lifting over hot work", "no conflict", "one job", "refuse wins"])
def test_area_conflict_for_the_risk_map(types, verdict):
    assert R.area_conflict(types) == verdict


@pytest.mark.parametrize("cams, camera, area, on", [
    (["cam-1"], "cam-1", "DOCK", True), ([], "cam-2", "TANK", True), ([], "cam-2", "DOCK", False),
    ([], "cam-2", None, False), (["cam-1"], "cam-2", "", False),
], ids=["its linked camera (any area)", "a camera in its area", "another area", "no area", "another camera"])
def test_violation_belongs_to_the_permit(cams, camera, area, on):
    assert R.violation_on_permit("TANK", cams, camera, area) is on


# ---------------------------------------------------------------- neighbouring areas (the issue: "in or near")

SQ = [[0, 0], [10, 0], [10, 10], [0, 10]]


@pytest.mark.parametrize("other, gap, near", [
    ([[10, 0], [20, 0], [20, 10], [10, 10]], 0, True),        # a shared edge
    ([[10, 10], [20, 10], [20, 20], [10, 20]], 0, True),      # a shared corner
    ([[5, 5], [15, 5], [15, 15], [5, 15]], 0, True),          # overlapping
    ([[2, 2], [4, 2], [4, 4]], 0, True),                      # inside
    ([[12, 0], [20, 0], [20, 10], [12, 10]], 0, False),       # a road 2 units wide between them
    ([[12, 0], [20, 0], [20, 10], [12, 10]], 2, True),        # ... within the site's gap
    ([[-5, 20], [15, 20], [5, 30]], 0, False),
    ([], 0, False),                                            # an area not drawn on the plan
], ids=["edge", "corner", "overlap", "inside", "road-apart", "within-gap", "far", "not-drawn"])
def test_floor_plan_neighbours(other, gap, near):
    assert R.polygons_near(SQ, other, gap) is near
    assert R.polygons_near(other, SQ, gap) is near


def test_the_plan_and_the_walk_graph_give_a_symmetric_relation():
    plan = R.plan_neighbours({"A": SQ, "B": [[10, 0], [20, 0], [20, 10], [10, 10]], "C": [[50, 50], [60, 50], [60, 60]]})
    assert plan == {"A": {"B"}, "B": {"A"}}
    assert R.neighbour_map([("TANK", "REACT"), ("REACT", "DOCK"), ("X", "X")]) == {
        "TANK": {"REACT"}, "REACT": {"TANK", "DOCK"}, "DOCK": {"REACT"}}


@pytest.mark.parametrize("permit_area, event_area, scope", [
    ("TANK", "TANK", "here"), ("TANK", "REACT", "near"), ("TANK", "DOCK", None), ("REACT", "TANK", "near")])
def test_a_gas_event_reaches_permits_in_or_near_its_area(permit_area, event_area, scope):
    relation = R.neighbour_map([("TANK", "REACT"), ("REACT", "WH")])
    assert R.interlock_scope(permit_area, event_area, relation.get(event_area, set())) == scope


@pytest.mark.parametrize("work_type, here, near, verdict", [
    ("hot_work", ["confined_space"], [], "refuse"),              # same area: the rule's own level
    ("hot_work", [], ["confined_space"], "escalate"),            # next door: escalated, not refused
    ("hot_work", [], ["blinding"], "escalate"),
    ("lifting", [], ["height"], "escalate"),                     # an escalate stays an escalate
    ("hot_work", [], ["height"], None),                          # no conflict at all
    ("hot_work", ["lifting"], ["confined_space"], "escalate"),
    ("hot_work", ["blinding"], ["confined_space"], "refuse"),    # the strongest wins
], ids=["here-refuse", "near-escalates", "near-blinding", "near-escalate", "no-conflict", "mixed", "strongest"])
def test_simops_counts_the_neighbouring_areas(work_type, here, near, verdict):
    assert R.simops(work_type, here, near) == verdict
    assert R.required_level("workshop", verdict) == ("safety" if verdict == "escalate" else "workshop")


# ---------------------------------------------------------------- 盲板抽堵 graded by medium (GB 30871-2022 §7)

@pytest.mark.parametrize("medium, temp, mpa, grade", [
    ("H2S", None, None, "1"),          # toxic: respiratory protection (GB 39800.1)
    ("Cl2", 20, 0.2, "1"),
    ("CH4", 20, 0.4, "1"),             # flammable: anti-static clothing, non-sparking tools
    ("gasoline", None, None, "1"),
    ("resin_x", 20, 0.1, "1"),         # not in the table: unknown counts as hazardous
    (None, None, None, "1"),           # no medium given: the same
    ("N2", 20, 0.5, "2"),              # neither toxic nor flammable, mild
    ("water", 59.9, 1.59, "2"),        # just below the hot and the pressure lines
    ("steam", 60, 0.5, "1"),           # hot: against scalds ([U] BLINDING_HOT_C)
    ("N2", -10, 0.5, "1"),             # cold ([U] BLINDING_COLD_C)
    ("air", 20, 1.6, "1"),             # medium pressure (GB/T 20801) ([U] BLINDING_PRESSURE_MPA)
], ids=["toxic", "toxic-mild", "flammable", "flammable-liquid", "unknown", "none", "inert", "just-below",
        "hot", "cold", "pressure"])
def test_blinding_grade_by_medium(medium, temp, mpa, grade):
    g = R.blinding_grade(medium, temp, mpa)
    assert g == grade
    assert R.grade_of("blinding", g).approver == ("safety" if grade == "1" else "workshop")


@pytest.mark.parametrize("here, near, verdict", [
    (["hot_work"], ["confined_space"], "escalate"),     # the risk map marks a conflict one door away
    (["hot_work", "confined_space"], [], "refuse"),
    (["height"], ["hot_work"], None),
], ids=["near", "here", "none"])
def test_area_conflict_counts_the_neighbours(here, near, verdict):
    assert R.area_conflict(here, near) == verdict
