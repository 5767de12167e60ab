"""Contractor rules as tables (appliance/contractors/rules.py), each row citing what it checks."""
from __future__ import annotations

from datetime import date

import pytest

from appliance.contractors import rules as R

TODAY = date(2025, 6, 15)
D = date.fromisoformat


# ---------------------------------------------------------------- documents and firm status

@pytest.mark.parametrize("expires, state", [
    (None, "valid"),                          # a long-term 营业执照 has no expiry
    ("2025-06-15", "expiring"),               # the printed date is the last valid day
    ("2025-06-14", "expired"),                # the day after: expired
    ("2025-07-15", "expiring"),               # 30 days left: expiring (EXPIRING_DAYS)
    ("2025-07-16", "valid"),                  # 31 days left
    ("2000-01-01", "expired"),
], ids=["long-term", "on-expiry-day", "day-after", "30-days", "31-days", "long-ago"])
def test_document_state(expires, state):
    assert R.document_state(D(expires) if expires else None, TODAY) == state


@pytest.mark.parametrize("left, step", [(61, None), (60, 60), (31, 60), (30, 30), (8, 30), (7, 7), (1, 7), (0, 0), (-5, 0)],
                         ids=lambda v: str(v))
def test_expiry_warning_steps_60_30_7_0(left, step):
    """RULES.md §B.6: warnings 60/30/7/0 days before expiry."""
    assert R.warning_due(date.fromordinal(TODAY.toordinal() + left), TODAY) == step


def docs(**kinds):
    """kind=expiry ('YYYY-MM-DD', None for long-term) approved; kind=('pending'|'rejected', expiry) not."""
    out = []
    for k, v in kinds.items():
        status, exp = v if isinstance(v, tuple) else ("approved", v)
        out.append(R.Doc(k, status, D(exp) if exp else None))
    return out


GOOD = dict(business_licence=None, safety_licence="2027-01-01", qualification="2026-12-31", insurance="2026-01-01")


@pytest.mark.parametrize("kinds, blacklisted, status, problem", [
    (GOOD, False, "ok", None),
    ({**GOOD, "safety_licence": "2025-06-01"}, False, "expired", "expired:safety_licence"),   # 条例 Art. 9
    ({**GOOD, "insurance": "2025-07-01"}, False, "expiring", "expiring:insurance"),
    ({k: v for k, v in GOOD.items() if k != "qualification"}, False, "expired", "missing:qualification"),  # Art. 49
    ({**GOOD, "qualification": ("pending", "2027-01-01")}, False, "expired", "missing:qualification"),   # unreviewed
    ({**GOOD, "qualification": ("rejected", "2027-01-01")}, False, "expired", "missing:qualification"),
    (GOOD, True, "blacklisted", "blacklisted"),
    ({**GOOD, "safety_licence": "2020-01-01"}, True, "blacklisted", "expired:safety_licence"),
], ids=["all-good", "licence-expired-art9", "insurance-expiring", "no-qualification-art49", "pending-does-not-count",
        "rejected-does-not-count", "blacklisted", "blacklist-overrides-expired"])
def test_firm_status(kinds, blacklisted, status, problem):
    st = R.firm_status(docs(**kinds), blacklisted, TODAY)
    assert st.status == status
    assert (problem in st.problems) if problem else st.problems == ()


def test_the_newest_approved_copy_of_a_document_counts():
    old_and_new = [*docs(**GOOD), R.Doc("safety_licence", "approved", D("2024-01-01"))]
    assert R.firm_status(old_and_new, False, TODAY).status == "ok"


@pytest.mark.parametrize("by, reviewer, decision, reason, refusal", [
    ("user:a", "user:b", "approve", "", None),
    ("user:a", "user:a", "approve", "", "self_review"),          # no self-approval
    ("user:a", "user:a", "reject", "模糊", "self_review"),
    ("user:a", "user:b", "reject", "", "reason_required"),        # a rejection says why
    ("user:a", "user:b", "reject", "扫描件模糊", None),
    ("user:a", "user:b", "maybe", "", "bad_decision"),
])
def test_document_review(by, reviewer, decision, reason, refusal):
    assert R.review_refusal(by, reviewer, decision, reason) == refusal


# ---------------------------------------------------------------- evaluation and the blacklist flag

@pytest.mark.parametrize("ppe, hz, breach, rating, score, grade", [
    (0, 0, 0, 5, 100, "excellent"),
    (0, 0, 0, 1, 70, "pass"),            # a clean job rated poorly by its supervisor
    (2, 0, 0, 4, 85, "good"),            # 100-10=90 → .7*90 + .3*75 = 85.5 → 85 (banker's rounding)
    (0, 0, 1, 5, 86, "pass"),            # GB 30871 permit breach: never better than "pass"
    (0, 3, 0, 3, 64, "pass"),
    (10, 5, 5, 1, 0, "fail"),            # deductions stop at 0
    (4, 2, 1, 2, 36, "fail"),
], ids=["perfect", "clean-rated-1", "two-ppe", "one-breach-caps-grade", "three-hazards", "floor-at-zero", "poor"])
def test_evaluation_score(ppe, hz, breach, rating, score, grade):
    assert R.evaluation_score(ppe, hz, breach, rating) == (score, grade)


@pytest.mark.parametrize("args", [(-1, 0, 0, 3), (0, 0, 0, 0), (0, 0, 0, 6)], ids=["negative", "rating-0", "rating-6"])
def test_evaluation_refuses_impossible_input(args):
    with pytest.raises(ValueError):
        R.evaluation_score(*args)


@pytest.mark.parametrize("scores, flag", [
    ([], None),
    ([95, 90, 88], None),
    ([59], "review"),                    # one 不合格 job: the safety office reviews the firm
    ([59, 80], "review"),
    ([59, 40, 90], "blacklist"),         # two 不合格 in a row: blacklisting proposed
    ([70, 72, 74], "review"),            # the last three average below 75
    ([70, 72], None),                    # too few jobs for an average
    ([80, 70, 75], None),                # average exactly 75 is not below
])
def test_review_flag(scores, flag):
    assert R.review_flag(scores) == flag


# ---------------------------------------------------------------- people

@pytest.mark.parametrize("trained, state", [
    (None, "none"), ("2025-06-16", "none"),       # no training; a future date does not count
    ("2025-06-15", "valid"), ("2024-06-15", "valid"),   # 365 days later is still valid
    ("2024-06-14", "expired"),
], ids=["never", "future-date", "today", "exactly-365-days", "366-days"])
def test_entry_training(trained, state):
    assert R.training_state(D(trained) if trained else None, TODAY) == state


def cert(t, expires, review=None):
    return R.Cert(t, "T1", D(expires), D(review) if review else None)


@pytest.mark.parametrize("required, certs, problems", [
    ((), [], ()),
    (("welding",), [], ("missing:welding",)),
    (("welding",), [cert("welding", "2028-01-01")], ()),
    (("welding",), [cert("welding", "2025-06-14")], ("expired:welding",)),                       # 30号令 Art. 21
    (("welding",), [cert("welding", "2025-06-15")], ()),                                          # last day
    (("welding",), [cert("welding", "2028-01-01", "2025-06-01")], ("review_overdue:welding",)),   # 复审 missed
    (("welding",), [cert("welding", "2025-01-01"), cert("welding", "2030-01-01")], ()),           # renewed
    (("welding", "height"), [cert("height", "2030-01-01")], ("missing:welding",)),
], ids=["none-needed", "missing", "valid", "expired-art21", "expiry-day", "review-overdue-art21", "renewed",
        "one-of-two"])
def test_certificate_problems(required, certs, problems):
    assert R.certificate_problems(required, certs, TODAY) == problems


# ---------------------------------------------------------------- the entry decision (the gate)

OK_FIRM = R.FirmState("ok", ())
JOB = R.Job(7, "approved", D("2025-06-01"), D("2025-06-30"), ("welding",))
WELDER = (cert("welding", "2028-01-01"),)


def facts(**kw):
    base = dict(known=True, contractor=True, firm=OK_FIRM, trained_on=D("2025-03-01"), jobs=(JOB,), certs=WELDER)
    return R.EntryFacts(**{**base, **kw})


@pytest.mark.parametrize("f, allowed, reason", [
    (facts(), True, "ok"),
    (facts(known=False), False, "unknown_badge"),
    (facts(contractor=False, firm=None, jobs=()), True, "employee"),            # the gate checks contractors
    (facts(firm=R.FirmState("blacklisted", ("blacklisted",))), False, "blacklisted"),
    (facts(firm=R.FirmState("expired", ("expired:safety_licence",))), False, "firm_unqualified"),  # Art. 49
    (facts(firm=R.FirmState("expiring", ("expiring:insurance",))), True, "ok"),  # warned, not refused
    (facts(trained_on=None), False, "no_training"),                             # 3号令 Art. 13
    (facts(trained_on=D("2024-01-01")), False, "training_expired"),
    (facts(jobs=()), False, "no_active_job"),
    (facts(jobs=(R.Job(7, "planned", D("2025-06-01"), D("2025-06-30")),)), False, "no_active_job"),   # unapproved
    (facts(jobs=(R.Job(7, "approved", D("2025-06-16"), D("2025-06-30")),)), False, "no_active_job"),  # not yet
    (facts(jobs=(R.Job(7, "started", D("2025-06-01"), D("2025-06-14")),)), False, "no_active_job"),   # over
    (facts(jobs=(R.Job(7, "finished", D("2025-06-01"), D("2025-06-30")),)), False, "no_active_job"),
    (facts(jobs=(R.Job(7, "started", D("2025-06-15"), D("2025-06-15")),), certs=()), True, "ok"),     # 1-day job
    (facts(certs=()), False, "certificate"),                                     # 30号令: welder without 操作证
    (facts(certs=(cert("welding", "2025-06-01"),)), False, "certificate"),
    (facts(firm=R.FirmState("blacklisted", ()), trained_on=None, jobs=()), False, "blacklisted"),  # worst first
], ids=["all-good", "unknown-card", "employee", "blacklisted", "firm-unqualified-art49", "firm-expiring",
        "no-training-3hao", "training-expired", "no-job", "job-unapproved", "job-not-yet", "job-over", "job-finished",
        "one-day-job", "cert-missing-30hao", "cert-expired", "worst-reason-first"])
def test_entry_decision(f, allowed, reason):
    d = R.entry_decision(f, TODAY)
    assert (d.allowed, d.reason) == (allowed, reason)
    assert d.allowed == (not d.reasons or d.reason in ("ok", "employee"))


def test_every_reason_is_listed_and_the_certificate_detail_given():
    d = R.entry_decision(facts(trained_on=None, certs=(cert("welding", "2025-01-01"),)), TODAY)
    assert d.reasons == ("no_training", "certificate", "expired:welding") and d.job_id == 7


def test_without_a_certificate_source_the_check_is_named_as_not_made():
    d = R.entry_decision(facts(certs=None), TODAY)
    assert d.allowed and d.unchecked == ("certificates",) and d.job_id == 7


def test_any_active_job_with_good_certificates_admits():
    other = R.Job(8, "started", D("2025-06-01"), D("2025-06-30"), ("height",))
    d = R.entry_decision(facts(jobs=(other, JOB)), TODAY)
    assert d.allowed and d.job_id == 7


@pytest.mark.parametrize("job_certs, permit_certs, certs, reasons", [
    ((), ("welding",), WELDER, ()),                                                  # the permit's certificate held
    ((), ("welding",), (), ("certificate", "missing:welding")),                     # 30号令: today's hot-work permit
    ((), ("welding",), (cert("welding", "2025-06-14"),), ("certificate", "expired:welding")),
    (("welding",), ("electrician",), WELDER, ("certificate", "missing:electrician")),  # the job's and the permit's
    (("welding",), ("welding",), WELDER, ()),                                       # one certificate for both
], ids=["permit-cert-held", "permit-cert-missing", "permit-cert-expired", "job-and-permit", "same-type-once"])
def test_the_gate_checks_the_certificates_of_todays_permits(job_certs, permit_certs, certs, reasons):
    job = R.Job(7, "started", D("2025-06-01"), D("2025-06-30"), job_certs)
    d = R.entry_decision(facts(jobs=(job,), certs=certs, permit_certs=permit_certs), TODAY)
    assert d.reasons == reasons and d.allowed == (not reasons)


EMPLOYEE = R.Decision(True, "employee")
ADMITTED = R.Decision(True, "ok", (), 7)


@pytest.mark.parametrize("decision, briefed, refusals", [
    (EMPLOYEE, False, ()),                                                   # the plant's own people: not checked here
    (ADMITTED, True, ()),                                                    # admitted and briefed: may work
    (ADMITTED, False, ("briefing_missing",)),                                # GB 30871-2022 §4 作业前安全交底
    (R.Decision(False, "blacklisted", ("blacklisted",)), True, ("blacklisted",)),            # 安全生产法 Art. 49
    (R.Decision(False, "training_expired", ("training_expired",)), False,
     ("training_expired", "briefing_missing")),                                              # 3号令 Art. 13
    (R.Decision(False, "certificate", ("certificate", "expired:welding"), 7), True,
     ("certificate", "expired:welding")),                                                    # 30号令 Art. 21
    (R.Decision(False, "unknown_badge", ("unknown_badge",)), False, ("unknown_badge",)),
], ids=["employee", "admitted-briefed", "not-briefed", "blacklisted-art49", "training-3hao", "cert-30hao",
        "unknown"])
def test_a_contractors_worker_on_a_permit(decision, briefed, refusals):
    assert R.permit_worker_refusals(decision, briefed) == refusals


# ---------------------------------------------------------------- jobs, briefings, personal data

@pytest.mark.parametrize("status, workers, confirmed, refusal", [
    ("approved", [1, 2], [1, 2], None),
    ("approved", [1, 2], [1], "briefing_missing"),      # GB 30871 §4: every worker briefed
    ("approved", [1], [1, 2], None),                    # an extra attendee is fine
    ("approved", [], [], "no_workers"),
    ("planned", [1], [1], "not_approved"),
    ("started", [1], [1], "not_approved"),
])
def test_job_start_needs_the_briefing(status, workers, confirmed, refusal):
    assert R.start_refusal(status, workers, confirmed) == refusal


@pytest.mark.parametrize("s, problem", [
    ("11010519491231002X", None),          # GB 11643-1999's own example
    ("110105194912310021", "check"),
    ("11010519491231002x", "characters"),  # the check character is an upper-case X
    ("1101051949123100", "length"),
    ("110105194902300026", "birth_date"),  # 30 February
])
def test_id_number_gb11643(s, problem):
    assert R.id_number_problem(s) == problem


@pytest.mark.parametrize("s, masked", [("11010519491231002X", "1101**********002X"), ("AB12", "****"),
                                       ("E1234567", "********")])
def test_id_number_is_masked_in_lists(s, masked):
    assert R.mask_id_number(s) == masked


# ---------------------------------------------------------------- evaluation findings from the records

@pytest.mark.parametrize("name, aliases", [
    ("江东建设工程有限公司", ("江东建设工程有限公司", "江东建设工程")),
    ("滨海焊接股份有限公司", ("滨海焊接股份有限公司", "滨海焊接")),
    ("临江安装", ("临江安装",)),
    ("甲公司", ("甲公司",)),                         # "甲" alone is too short to be a name
], ids=["ltd", "joint-stock", "no-suffix", "too-short"])
def test_firm_aliases(name, aliases):
    assert R.firm_aliases(name) == aliases


@pytest.mark.parametrize("text, names, hit", [
    ("江东建设工程施工人员未设围挡", ("江东建设工程有限公司", "江东建设工程"), True),
    ("焊工吴刚未戴面罩", ("江东建设工程", "吴刚"), True),
    ("储罐区地面油污", ("江东建设工程", "吴刚"), False),
    ("王某未戴安全帽", ("王",), False),                  # a one-character name matches nothing
], ids=["firm-named", "worker-named", "not-named", "short-name"])
def test_a_hazard_is_attributed_when_its_text_names_the_firm_or_its_people(text, names, hit):
    assert R.attributed(text, names) is hit


FOUND = {"ppe_violations": 3, "hazards_caused": 1, "permit_breaches": 2}


@pytest.mark.parametrize("given, counts, overridden", [
    ({}, FOUND, ()),                                                             # the records' counts
    ({"ppe_violations": None}, FOUND, ()),
    ({"ppe_violations": 3}, FOUND, ()),                                          # the same: not an override
    ({"ppe_violations": 1, "permit_breaches": 0}, {**FOUND, "ppe_violations": 1, "permit_breaches": 0},
     ("ppe_violations", "permit_breaches")),                                    # the supervisor knows better
    ({"hazards_caused": 4}, {**FOUND, "hazards_caused": 4}, ("hazards_caused",)),
], ids=["records", "none-given", "same", "override", "more"])
def test_the_supervisors_counts_override_the_records(given, counts, overridden):
    assert R.prefill(FOUND, given) == (counts, overridden)


# ---------------------------------------------------------------- the optional face check at the gate

@pytest.mark.parametrize("distance, px, verdict", [
    (0.21, 108, "match"),        # the same worker mirrored and rescaled (test_contractor_face: 0.14–0.26)
    (0.60, 108, "match"),        # dlib's threshold for this descriptor: ≤ 0.6 is the same person [dlib]
    (0.61, 108, "mismatch"),     # beyond it: someone else — a guard checks
    (0.92, 109, "mismatch"),     # two different workers in the public-domain photos
    (0.30, 79, "unseen"),        # a face under 80 px is not trusted (two strangers came within 0.56 at 44–63 px)
    (None, 0, "unseen"),         # no face in the camera's frame
])
def test_face_verdict(distance, px, verdict):
    assert R.face_verdict(distance, px) == verdict


OK = R.Decision(True, "ok", (), 7)
REFUSED = R.Decision(False, "no_training", ("no_training",), None)


@pytest.mark.parametrize("decision, verdict, allowed, reason", [
    (OK, None, True, "ok"),                          # no check made (off, no camera, no consent): the badge decides
    (OK, "match", True, "ok"),
    (OK, "mismatch", False, "face_mismatch"),        # the badge would let them in: a guard looks at the person
    (OK, "unseen", False, "face_unseen"),
    (REFUSED, "mismatch", False, "no_training"),     # a refusal keeps its own reason first
    (REFUSED, "match", False, "no_training"),
])
def test_the_face_check_can_only_hold_back_an_entry_the_badge_allows(decision, verdict, allowed, reason):
    d = R.with_face(decision, verdict)
    assert (d.allowed, d.reason) == (allowed, reason)
