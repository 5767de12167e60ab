"""Rows of a register spreadsheet → the tree or row errors: a table of good and bad rows (pure, no database)."""
from __future__ import annotations

import pytest

from appliance.risk import rows as RW

GOOD = {"object_code": "OBJ-1", "object_name": "甲醇储罐区", "major_hazard": "是", "unit_name": "V-101",
        "department": "储运部", "liable_person": "张三", "area_code": "TANK", "event_name": "泄漏火灾", "method": "LEC",
        "l": 3, "e": 6, "c": 40, "measure": "高液位联锁", "classify1": 1, "classify2": "1-4", "check_cycle": 1,
        "check_cycle_unit": "天"}
AREAS = {"TANK", "WH"}


def run(*rows):
    return RW.validate([(i + 2, r) for i, r in enumerate(rows)], AREAS)


def test_a_good_row_builds_the_tree():
    tree, errors = run(GOOD, {**GOOD, "measure": "可燃气体报警", "classify1": "", "classify2": "4-1 应急设施",
                              "check_cycle": "", "check_cycle_unit": ""})
    assert errors == []
    (o,) = tree
    assert (o.code, o.major_hazard) == ("OBJ-1", True)
    e = o.units["V-101"].events["泄漏火灾"]
    assert (e.score, e.level, e.residual_level) == (720, 1, None)
    m1, m2 = e.measures.values()
    assert (m1.classify1, m1.classify2, m1.check_cycle, m1.check_cycle_unit) == (1, "1-4", 1, "day")
    assert (m2.classify1, m2.classify2, m2.data_src) == (4, "4-1", 2)  # classify1 taken from classify2


@pytest.mark.parametrize("change, column, en", [
    ({"object_code": ""}, "object_code", "must not be empty"),
    ({"object_code": "OBJ 1"}, "object_code", "letters, digits"),
    ({"object_name": "x" * 101}, "object_name", "longer than 100"),
    ({"major_hazard": "maybe"}, "major_hazard", "yes/no"),
    ({"area_code": "NOPE"}, "area_code", "does not exist"),
    ({"unit_name": None}, "unit_name", "must not be empty"),
    ({"method": "HAZOP"}, "method", "LEC or LS"),
    ({"profile": "Z"}, "profile", "no profile 'Z'"),
    ({"l": 4}, "l", "must be one of 0.1, 0.2, 0.5, 1, 3, 6, 10"),
    ({"e": 7}, "e", "must be one of"),
    ({"c": "很大"}, "c", "must be a number"),
    ({"c": ""}, "c", "LEC needs L, E and C"),
    ({"s": 3}, "s", "LEC needs"),
    ({"method": "LS", "e": "", "c": "", "s": 6}, "s", "integer 1–5"),
    ({"method": "LS", "s": 3}, "e", "LS needs L and S"),
    ({"method": "LS", "e": "", "c": "", "l": 2.5, "s": 3}, "l", "integer 1–5"),
    ({"res_l": 1}, "res_e", "LEC needs"),
    ({"measure": ""}, "measure", "must not be empty"),
    ({"classify1": 5}, "classify1", "must be 1–4"),
    ({"classify2": "9-9"}, "classify2", "must be one of"),
    ({"classify2": "2-1"}, "classify2", "not under classification 1"),
    ({"data_src": "3"}, "data_src", "Data source"),
    ({"check_cycle": 0}, "check_cycle", "integer 1–10000"),
    ({"check_cycle": 1.5}, "check_cycle", "integer 1–10000"),
    ({"check_cycle_unit": "fortnight"}, "check_cycle_unit", "hour/day/week/month/year"),
    ({"check_cycle": 10000, "check_cycle_unit": "小时"}, "check_cycle", "1–8784 hours"),   # no task could ever run
    ({"check_cycle_unit": ""}, "check_cycle_unit", "go together"),
])
def test_each_bad_cell_is_named_with_row_column_and_reason(change, column, en):
    tree_, errors = run(GOOD, {**GOOD, "measure": "另一条措施", **change})
    assert [(e.row, e.column) for e in errors][:1] == [(3, column)], errors
    assert en in errors[0].en and errors[0].zh and errors[0].zh != errors[0].en
    assert errors[0].as_dict()["column_zh"]  # the Chinese header, for the report


@pytest.mark.parametrize("change, en", [
    ({"object_name": "别的名字"}, "disagrees with row 2 about the same risk object"),
    ({"major_hazard": "否"}, "disagrees with row 2 about the same risk object"),
    ({"department": "生产部"}, "disagrees with row 2 about the same risk unit"),
    ({"area_code": "WH"}, "disagrees with row 2 about the same risk unit"),
    ({"c": 15}, "disagrees with row 2 about the same risk event"),
    ({}, "repeats the control measure of row 2"),
])
def test_rows_sharing_a_path_must_agree(change, en):
    _, errors = run(GOOD, {**GOOD, **change})
    assert len(errors) == 1 and errors[0].row == 3 and en in errors[0].en, errors


def test_every_bad_row_is_reported_not_just_the_first():
    _, errors = run({**GOOD, "l": 4}, GOOD, {**GOOD, "measure": "m2", "classify2": "x"}, {}, {**GOOD, "measure": "m3", "method": ""})
    assert [e.row for e in errors] == [2, 4, 6]  # row 5 is blank: skipped


def test_blank_sheet_and_headers():
    assert run()[1][0].en == "the sheet has no data rows"
    colmap, errors = RW.map_header(["风险分析对象编码", "Risk object", " 风险 分析单元 ", "junk", "L", "风险事件", "评价方法",
                                    "管控措施", "Classification 2", "L"])
    assert colmap[0] == "object_code" and colmap[1] == "object_name" and colmap[2] == "unit_name" and 3 not in colmap
    assert [(e.row, e.column) for e in errors] == [(1, "l")]  # L twice; nothing required missing
    _, errors = RW.map_header(["风险事件"])
    assert {e.column for e in errors} == {"object_code", "object_name", "unit_name", "method", "l", "measure", "classify2"}
    assert all(e.row == 1 and "required column" in e.en and "缺少" in e.zh for e in errors)


@pytest.mark.parametrize("cell, text", [(None, ""), (3.0, "3"), (0.5, "0.5"), (True, "1"), ("  a ", "a"), (40, "40")])
def test_cells_read_as_text(cell, text):
    assert RW.text(cell) == text


@pytest.mark.parametrize("rows, index", [
    ([(1, ["风险分级管控清单"]), (2, [c for _, c, _, _ in RW.COLUMNS])], 1),
    ([(1, [c for _, c, _, _ in RW.COLUMNS]), (2, ["OBJ-1", "L"])], 0),
    ([(1, ["标题"]), (2, ["备注", None]), (3, ["风险事件", "L", "管控措施"]), (4, ["x"])], 2),
    ([(1, ["a"]), (2, ["b"])], 0),   # no headers anywhere: row 1, whose errors then name every column
    ([], 0),
])
def test_the_header_row_is_found_below_titles(rows, index):
    assert RW.find_header(rows) == index


@pytest.mark.parametrize("cycle, unit, stored", [
    (1, "周", (7, "day")),          # weekly: kept in the regulators' units, run on calendar weeks
    (2, "week", (14, "day")),
    (36, "小时", (36, "hour")),     # a 36 h cycle stays 36 h (a rolling period), never 24 h
    (8, "小时", (8, "hour")),
])
def test_cycle_units_including_weeks(cycle, unit, stored):
    tree_, errors = run({**GOOD, "check_cycle": cycle, "check_cycle_unit": unit})
    assert errors == []
    m = next(iter(next(iter(next(iter(tree_[0].units.values())).events.values())).measures.values()))
    assert (m.check_cycle, m.check_cycle_unit) == stored
