"""The demo's 200-question bank (appliance/training/demo_bank.py): it imports as a plant's file would, with
every kind, topic and difficulty represented, one right answer per single choice, and no question twice."""
from __future__ import annotations

from collections import Counter

from appliance.training import bank, demo_bank


def parsed() -> list[bank.Row]:
    header = (1, [zh for _, zh, _, _ in bank.COLUMNS])
    rows, errors, _ = bank.parse_rows([header, *((i + 2, r) for i, r in enumerate(demo_bank.rows()))])
    assert errors == []
    return rows


def test_two_hundred_questions_that_import_without_errors():
    rows = parsed()
    assert len(rows) == 200
    assert len({r.code for r in rows}) == 200 and len({r.stem for r in rows}) == 200


def test_tagged_by_topic_work_type_and_difficulty():
    rows = parsed()
    topics = Counter(r.topic for r in rows)
    assert len(topics) == 10 and set(topics.values()) == {20}
    assert {"动火作业", "受限空间", "高处作业", "临时用电", "危险化学品", "个体防护", "应急处置", "隐患排查"} <= set(topics)
    assert Counter(r.kind for r in rows) == {"single": 90, "judge": 80, "multiple": 30}
    assert {r.difficulty for r in rows} == {1, 2, 3}
    assert {r.work_type for r in rows} >= {"焊工", "电工", "巡检员", ""}
    for t in topics:   # an exam drawn from one topic can mix the kinds
        assert {r.kind for r in rows if r.topic == t} == {"single", "judge", "multiple"}


def test_answers_fit_their_kind():
    for r in parsed():
        assert r.explanation, r.code
        if r.kind == "single":
            assert len(r.answer) == 1 and len(r.options) == 4 and len(set(r.options)) == 4, r.code
        elif r.kind == "multiple":
            assert 2 <= len(r.answer) < len(r.options), r.code
        else:
            assert r.options == ["正确", "错误"] and len(r.answer) == 1, r.code


def test_the_options_are_shuffled_the_same_way_every_time():
    first = demo_bank.rows()
    assert first == demo_bank.rows()
    singles = Counter(r[-5] for r in first if r[1] == "单选")
    assert len(singles) == 4 and min(singles.values()) >= 10   # the right answer is not always A
