"""The training rules as tables: certificate validity over a job window (30号令 特种作业操作证 6 years,
reviewed every 3), the expiry-warning schedule (60/30/7/0 days, weekends, the appliance off on the due day),
the training hours of 3号令 Art. 9/13, exam drawing and scoring, mastery."""
from __future__ import annotations

from datetime import date

import pytest

from appliance.training import rules as R

D = date.fromisoformat


def cert(kind="WELD-FUSION", issued="2022-01-10", expires="2028-01-09", review=None, revoked=False, id=1):
    return R.CertView(id, kind, f"T{id}", D(issued), D(expires), D(review) if review else None, revoked)


def test_the_kinds_table_is_sound():
    assert len(R.KINDS) == len(R.CERT_KINDS)                     # codes unique
    for k in R.CERT_KINDS:
        if k.group == R.SPECIAL_OPERATION:                       # 30号令: 6 years, review every 3
            assert (k.valid_years, k.review_years) == (6, 3), k
        assert k.category in R.CATEGORIES and k.zh and k.en
    for cats in R.WORK_TYPE_CERTS.values():
        assert all(c in R.CATEGORIES for c in cats)


@pytest.mark.parametrize("certs, required, start, end, codes", [
    pytest.param([cert()], ["WELD-FUSION"], "2025-03-01", "2025-03-02", [], id="valid-by-kind"),
    pytest.param([cert()], ["WELD"], "2025-03-01", "2025-03-02", [], id="valid-by-category"),
    pytest.param([cert()], ["ELEC"], "2025-03-01", "2025-03-02", ["missing"], id="other-category-missing"),
    pytest.param([cert()], ["WELD", "ELEC-LV"], "2025-03-01", "2025-03-01", ["missing"], id="one-of-two-missing"),
    # 30号令: valid through the whole of its last day, not a day more
    pytest.param([cert(expires="2025-03-02")], ["WELD"], "2025-03-01", "2025-03-02", [], id="last-day-included"),
    pytest.param([cert(expires="2025-03-01")], ["WELD"], "2025-03-01", "2025-03-02", ["expires_during"],
                 id="ends-inside-the-job-window"),
    pytest.param([cert(expires="2025-02-28")], ["WELD"], "2025-03-01", "2025-03-01", ["expired"], id="expired"),
    # 30号令: not reviewed by its review date (every 3 years) → invalid from the day after, whatever its expiry
    pytest.param([cert(review="2025-01-09")], ["WELD"], "2025-03-01", "2025-03-01", ["expired"], id="review-overdue"),
    pytest.param([cert(review="2025-03-05")], ["WELD"], "2025-03-01", "2025-03-10", ["expires_during"],
                 id="review-due-inside-window"),
    pytest.param([cert(issued="2025-03-02")], ["WELD"], "2025-03-01", "2025-03-03", ["not_yet_valid"], id="issued-after-start"),
    pytest.param([cert(revoked=True)], ["WELD"], "2025-03-01", "2025-03-01", ["revoked"], id="revoked"),
    # an expired and a renewed certificate of the same kind: the renewed one counts
    pytest.param([cert(expires="2024-01-01"), cert(id=2, issued="2024-01-02", expires="2030-01-01")], ["WELD"],
                 "2025-03-01", "2025-03-01", [], id="renewed"),
    pytest.param([cert(expires="2025-03-05"), cert(id=2, kind="WELD-BRAZE", expires="2025-04-01")], ["WELD"],
                 "2025-03-01", "2025-03-10", [], id="another-kind-in-the-category-covers"),
])
def test_certificate_covers_the_whole_job_window(certs, required, start, end, codes):
    got = R.problems(certs, required, D(start), D(end))
    assert [p.code for p in got] == codes
    assert all(p.zh and p.en for p in got)


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        R.problems([cert()], ["WELD"], D("2025-03-02"), D("2025-03-01"))


# The last valid day 2025-06-30 is a Monday; 2025-06-29 a Sunday. Warning days: 60 30 7 0 before, brought
# forward from a weekend to the Friday before.
@pytest.mark.parametrize("last, today, sent, want", [
    pytest.param("2025-06-30", "2025-04-30", [], [], id="day-before-the-60-day-warning"),
    pytest.param("2025-06-30", "2025-05-01", [], [(60, "2025-05-01", False, True)], id="60-days-on-a-thursday"),
    pytest.param("2025-06-30", "2025-05-01", [60], [], id="already-sent"),
    # 30 days before is Saturday 05-31: due on Friday 05-30
    pytest.param("2025-06-30", "2025-05-30", [60], [(30, "2025-05-30", False, True)], id="saturday-to-friday"),
    pytest.param("2025-06-30", "2025-05-29", [60], [], id="not-before-the-friday"),
    pytest.param("2025-06-30", "2025-06-23", [60, 30], [(7, "2025-06-23", False, True)], id="7-days-monday"),
    pytest.param("2025-06-30", "2025-06-30", [60, 30, 7], [(0, "2025-06-30", False, True)], id="expiry-day"),
    # a Sunday expiry: 7 days before is Sunday 06-22 → Friday 06-20; the day itself → Friday 06-27
    pytest.param("2025-06-29", "2025-06-20", [60, 30], [(7, "2025-06-20", False, True)], id="sunday-7-days-to-friday"),
    pytest.param("2025-06-29", "2025-06-27", [60, 30, 7], [(0, "2025-06-27", False, True)], id="sunday-expiry-on-friday"),
    # the appliance was off on the due day: sent late, not skipped
    pytest.param("2025-06-30", "2025-06-25", [60, 30], [(7, "2025-06-23", True, True)], id="off-on-the-due-day"),
    pytest.param("2025-06-30", "2025-06-10", [], [(60, "2025-05-01", True, True), (30, "2025-05-30", True, True)],
                 id="off-for-weeks-both-late"),
    pytest.param("2025-06-30", "2025-07-02", [60, 30, 7], [(0, "2025-06-30", True, False)],
                 id="off-through-expiry-late-after-it"),
    pytest.param("2025-06-30", "2025-07-02", [60, 30, 7, 0], [], id="all-sent"),
])
def test_warning_schedule(last, today, sent, want):
    got = R.due_warnings(D(last), D(today), sent)
    assert [(w.days, w.due_on.isoformat(), w.late, w.before_expiry) for w in got] == want


# 端午 2025 (国务院办公厅 2025 放假安排): Saturday 05-31 to Monday 06-02 off. With the plant's holiday list a
# warning due on one of those days comes on Friday 05-30; one missed while the box was off is sent late.
DUANWU_2025 = [D("2025-05-31"), D("2025-06-01"), D("2025-06-02")]


@pytest.mark.parametrize("last, today, sent, holidays, want", [
    # the appliance off on the Friday a weekend warning was brought forward to: sent on Monday, late
    pytest.param("2025-06-30", "2025-06-02", [60], [], [(30, "2025-05-30", True, True)], id="off-on-the-forwarded-friday"),
    # off over a whole weekend that held the 0-day warning (a Sunday expiry): sent on Monday after it lapsed
    pytest.param("2025-06-29", "2025-06-30", [60, 30, 7], [], [(0, "2025-06-27", True, False)], id="off-friday-to-monday-past-expiry"),
    # the 0-day warning of a certificate lapsing on the holiday Monday: the Friday before, not the Monday
    pytest.param("2025-06-02", "2025-05-30", [60, 30, 7], DUANWU_2025, [(0, "2025-05-30", False, True)], id="holiday-monday-to-friday"),
    pytest.param("2025-06-02", "2025-05-29", [60, 30, 7], DUANWU_2025, [], id="holiday-not-before-the-friday"),
    # without the list the Monday holiday is a working day (the default: no holidays known)
    pytest.param("2025-06-02", "2025-05-30", [60, 30, 7], [], [], id="no-list-monday-is-a-working-day"),
    # off over the whole holiday: late, not skipped
    pytest.param("2025-06-02", "2025-06-03", [60, 30, 7], DUANWU_2025, [(0, "2025-05-30", True, False)], id="off-over-the-holiday"),
])
def test_warning_schedule_weekends_holidays_and_the_box_off(last, today, sent, holidays, want):
    got = R.due_warnings(D(last), D(today), sent, holidays=frozenset(holidays))
    assert [(w.days, w.due_on.isoformat(), w.late, w.before_expiry) for w in got] == want


def test_the_holiday_list_is_checked_at_start():
    from pydantic import ValidationError

    from appliance.training.config import TrainingConfig

    assert TrainingConfig(holidays=["2025-06-02"]).holiday_dates == {D("2025-06-02")}
    with pytest.raises(ValidationError, match="holidays"):
        TrainingConfig(holidays=["2025-06-31"])


def test_weekend_forwarding_can_be_switched_off_and_days_configured():
    got = R.due_warnings(D("2025-06-30"), D("2025-05-31"), [60], weekend_forward=False)
    assert [(w.days, w.due_on, w.late) for w in got] == [(30, D("2025-05-31"), False)]
    assert [w.days for w in R.due_warnings(D("2025-06-30"), D("2025-06-16"), [], warn_days=(90, 14))] == [90, 14]


@pytest.mark.parametrize("last, today, warned, revoked, state", [
    ("2025-06-30", "2025-04-30", False, False, "valid"),
    ("2025-06-30", "2025-05-01", True, False, "warned"),
    ("2025-06-30", "2025-05-01", False, False, "silent"),    # the one state the scan must never leave
    ("2025-06-30", "2025-06-30", True, False, "warned"),     # valid all its last day
    ("2025-06-30", "2025-07-01", True, False, "expired"),
    ("2025-06-30", "2025-07-01", False, False, "expired"),
    ("2025-06-30", "2025-04-01", False, True, "expired"),    # revoked
])
def test_every_certificate_is_valid_warned_or_expired(last, today, warned, revoked, state):
    assert R.cert_state(D(last), D(today), warned, revoked) == state


@pytest.mark.parametrize("industry, category, initial, hours", [
    pytest.param(R.HAZCHEM, "principal", True, 48, id="3号令-art9-hazchem-principal-initial"),
    pytest.param(R.HAZCHEM, "safety_manager", False, 16, id="3号令-art9-hazchem-manager-yearly"),
    pytest.param(R.HAZCHEM, "worker", True, 72, id="3号令-art13-hazchem-new-worker"),
    pytest.param(R.HAZCHEM, "worker", False, 20, id="3号令-art13-hazchem-worker-yearly"),
    pytest.param(R.OTHER, "principal", True, 32, id="3号令-art9-other-principal-initial"),
    pytest.param(R.OTHER, "safety_manager", False, 12, id="3号令-art9-other-manager-yearly"),
    pytest.param(R.OTHER, "worker", True, 24, id="3号令-art13-other-new-worker"),
    pytest.param(R.OTHER, "worker", False, None, id="3号令-art13-other-no-yearly-minimum"),
])
def test_statutory_training_hours(industry, category, initial, hours):
    assert R.required_hours(industry, category, initial) == hours


@pytest.mark.parametrize("done, required, short, met", [(0, 72, 72, False), (71.5, 72, 0.5, False), (72, 72, 0, True),
                                                       (80, 16, 0, True), (0, None, 0, True)])
def test_hours_status(done, required, short, met):
    s = R.hours_status(done, required)
    assert (s["short"], s["met"]) == (short, met)


@pytest.mark.parametrize("kind, options, answer, problem", [
    ("single", ["a", "b", "c", "d"], [2], None),
    ("single", ["a", "b", "c", "d"], [0, 1], "answer"),
    ("single", ["a", "b", "c", "d"], [4], "answer"),
    ("multiple", ["a", "b", "c", "d"], [0, 2], None),
    ("multiple", ["a", "b", "c", "d"], [1], "answer"),
    ("multiple", ["a", "b", "c", "d"], [1, 1], "answer"),
    ("judge", ["正确", "错误"], [1], None),
    ("judge", ["a", "b", "c"], [0], "options"),
    ("single", ["a"], [0], "options"),
    ("essay", ["a", "b"], [0], "kind"),
    ("single", ["a", "b"], [], "answer"),
])
def test_question_answers_fit_their_kind(kind, options, answer, problem):
    assert R.check_answer(kind, options, answer) == problem


@pytest.mark.parametrize("answer, given, ok", [
    ([1], [1], True), ([1], [2], False), ([1], None, False), ([1], [], False),
    ([0, 2], [2, 0], True), ([0, 2], [0], False),            # 少选不得分
    ([0, 2], [0, 1, 2], False),                              # 多选不得分
])
def test_all_or_nothing_scoring(answer, given, ok):
    assert R.is_correct(answer, given) is ok


def test_paper_score_and_pass_mark():
    assert R.score([[0], [1], [0, 1], [1]], [[0], [0], [0, 1], None]) == (2, 4, 50.0)
    assert R.score([[0], [1], [2]], [[0], [1], [0]]) == (2, 3, 66.7)
    assert R.passed(60.0, 60) and not R.passed(59.9, 60)
    assert R.score([], []) == (0, 0, 0.0)


POOL = {i: (("防火" if i < 20 else "用电"), 1 + i % 3, ("judge", "single", "multiple")[i % 3]) for i in range(40)}


@pytest.mark.parametrize("picks, n", [
    ([R.Pick("防火", None, 10)], 10),
    ([R.Pick("防火", 1, 7), R.Pick("用电", 2, 3)], 10),
    ([R.Pick("防火", None, 20), R.Pick(None, None, 20)], 40),     # overlapping picks never repeat a question
])
def test_draw_follows_the_rules(picks, n):
    ids = R.draw(POOL, picks, seed="exam1:person7:1")
    assert len(ids) == len(set(ids)) == n
    for p in picks:
        hits = [q for q in ids if (p.topic is None or POOL[q][0] == p.topic) and (p.difficulty is None or POOL[q][1] == p.difficulty)]
        assert len(hits) >= p.count
    kinds = [R.KIND_ORDER[POOL[q][2]] for q in ids]
    assert kinds == sorted(kinds)                              # 判断, 单选, 多选


def test_draw_is_random_per_person_and_repeatable():
    picks = [R.Pick(None, None, 10)]
    a = R.draw(POOL, picks, "e1:p1:1")
    assert a == R.draw(POOL, picks, "e1:p1:1")
    assert any(R.draw(POOL, picks, f"e1:p{i}:1") != a for i in range(2, 6))


def test_draw_says_which_pick_lacks_questions():
    with pytest.raises(R.NotEnoughQuestions) as e:
        R.draw(POOL, [R.Pick("防火", None, 5), R.Pick("用电", 3, 8)], 1)
    assert (e.value.index, e.value.wanted, e.value.available) == (1, 8, 7)


def test_mastery_and_weakest_topics():
    rows = [("防火", True)] * 8 + [("防火", False)] * 2 + [("用电", True)] * 2 + [("用电", False)] * 3 + [("急救", False)]
    m = R.mastery(rows)
    assert m["防火"] == {"answered": 10, "correct": 8, "rate": 80.0} and m["用电"]["rate"] == 40.0
    assert R.weakest(m) == ["用电", "防火"]                       # 急救 answered once: too few to judge
